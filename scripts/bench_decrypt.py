#!/usr/bin/env python3
"""Decrypt a 20,000-value Kubernetes Secret (about 3.5 MB encrypted, encrypted_regex
^(data|stringData)$, one age key) with kunseal and with the real sops in the same run.
Prints the median wall time of each, the speed ratio, and both peak memories (max RSS from
wait4). Both outputs must be identical, byte for byte."""
import argparse, base64, os, random, statistics, string, subprocess, sys, tempfile, time


def measure(argv, env):
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        p = subprocess.Popen(argv, env=env, stdout=devnull, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed: {p.stderr.read().decode(errors='replace')}")
    return wall, ru.ru_maxrss / 1024.0  # MiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kunseal", required=True)
    ap.add_argument("--sops", required=True)
    ap.add_argument("--values", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=200)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kunseal-bench-")
    key = os.path.join(work, "key.txt")
    subprocess.run(["age-keygen", "-o", key], check=True, capture_output=True)
    recipient = [l.split()[-1] for l in open(key) if l.startswith("# public key:")][0]
    rnd = random.Random(20261123)
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", "  name: big", "  namespace: bench", "type: Opaque", "data:"]
    for i in range(a.values):
        raw = "".join(rnd.choices(string.ascii_letters + string.digits, k=rnd.randint(20, 60)))
        lines.append(f"  key{i:05d}: {base64.b64encode(raw.encode()).decode()}")
    plain = os.path.join(work, "big.yaml")
    with open(plain, "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, SOPS_AGE_KEY_FILE=key, SOPS_DISABLE_VERSION_CHECK="1")
    enc = os.path.join(work, "big.enc.yaml")
    with open(enc, "wb") as f:
        subprocess.run([a.sops, "encrypt", "--age", recipient, "--encrypted-regex", "^(data|stringData)$", plain], env=env, stdout=f, check=True)
    size = os.path.getsize(enc) / 1e6
    out_s = subprocess.run([a.sops, "decrypt", enc], env=env, capture_output=True, check=True).stdout
    out_k = subprocess.run([a.kunseal, "decrypt", enc], env=env, capture_output=True, check=True).stdout
    if out_s != out_k:
        sys.exit("outputs differ: kunseal's plaintext is not sops' plaintext")
    # Interleaved, so that drift in the machine's speed hits both tools alike.
    k, s = [], []
    for _ in range(a.runs):
        k.append(measure([a.kunseal, "decrypt", enc], env))
        s.append(measure([a.sops, "decrypt", enc], env))
    kt, st = statistics.median(x[0] for x in k), statistics.median(x[0] for x in s)
    km, sm = max(x[1] for x in k), max(x[1] for x in s)
    print(f"decrypt {a.values} values ({size:.1f} MB encrypted), median of {a.runs} runs, outputs identical")
    print(f"  sops 3.11: {st*1000:8.1f} ms (min {min(x[0] for x in s)*1000:.1f})   peak {sm:6.1f} MiB")
    print(f"  kunseal:   {kt*1000:8.1f} ms (min {min(x[0] for x in k)*1000:.1f})   peak {km:6.1f} MiB")
    print(f"  speed ratio (sops/kunseal): {st/kt:.1f}x   target >= 25x")
    print(f"  memory ratio (kunseal/sops): {km/sm:.2f}   target <= 0.33")

    # Issue 4: a ResourceList of many encrypted files in one call vs sops once per file.
    n = a.files
    if n == 0:
        return
    items = []
    files = []
    for i in range(n):
        p = os.path.join(work, f"s{i:03d}.yaml")
        with open(p, "w") as f:
            f.write(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{i}\n  namespace: bench\nstringData:\n  password: pw-{i}-{rnd.randint(0, 10**9)}\n  user: u{i}\n")
        enc_i = p.replace(".yaml", ".enc.yaml")
        with open(enc_i, "wb") as f:
            subprocess.run([a.sops, "encrypt", "--age", recipient, "--encrypted-regex", "^(data|stringData)$", p], env=env, stdout=f, check=True)
        files.append(enc_i)
        body = open(enc_i).read().rstrip("\n").split("\n")
        items.append("- " + body[0] + "\n" + "\n".join("  " + l for l in body[1:]))
    rl = os.path.join(work, "resourcelist.yaml")
    with open(rl, "w") as f:
        f.write("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + "\n".join(items) + "\n")

    def krm_once():
        t0 = time.perf_counter()
        with open(rl, "rb") as stdin:
            out = subprocess.run([a.kunseal], env=env, stdin=stdin, capture_output=True)
        if out.returncode != 0 or out.stdout.count(b"kind: Secret") != n or b"ENC[" in out.stdout:
            sys.exit(f"kunseal KRM run failed: {out.stderr.decode(errors='replace')}")
        return time.perf_counter() - t0

    def sops_each():
        t0 = time.perf_counter()
        for p in files:
            subprocess.run([a.sops, "decrypt", p], env=env, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t0

    kt = statistics.median(krm_once() for _ in range(a.runs))
    st = statistics.median(sops_each() for _ in range(max(1, a.runs // 2)))
    print(f"ResourceList of {n} encrypted Secrets")
    print(f"  sops 3.11, one process per file: {st*1000:8.1f} ms")
    print(f"  kunseal, one call:               {kt*1000:8.1f} ms")
    print(f"  speed ratio: {st/kt:.1f}x   target >= 50x")


if __name__ == "__main__":
    main()
