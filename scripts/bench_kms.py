#!/usr/bin/env python3
"""Issue #7's benchmark: 100 files whose data keys sit behind a key service that answers
after 20 ms (the Vault transit stand-in, tests/data/kms/standin.py, adds the delay).

The files are made by the real sops through the stand-in. Then, in the same run:
- kunseal renders all of them in one call (a manifest stream, as Helm or Argo CD pipe it);
- kunseal decrypts them one after another (`kunseal decrypt FILE`, 100 calls);
- sops decrypts them one after another (`sops decrypt FILE`, 100 calls).
Prints the times, the ratios, and the requests the one-call render made against the number
of distinct wrapped keys. Timing is reported, never asserted.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call(port, method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=json.dumps(body or {}).encode() if method == "POST" else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kunseal", default=os.path.join(ROOT, "target/release/kunseal"))
    ap.add_argument("--sops", default=os.path.join(ROOT, ".tools/bin/sops"))
    ap.add_argument("--python", default=os.path.join(ROOT, ".tools/kms-venv/bin/python"))
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--delay-ms", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()

    token = "bench-token"
    server = subprocess.Popen([a.python, os.path.join(ROOT, "tests/data/kms/standin.py"), "--vault-token", token],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(server.stdout.readline())["port"]
        url = "http://127.0.0.1:%d" % port
        env = dict(os.environ, VAULT_ADDR=url, VAULT_TOKEN=token, SOPS_DISABLE_VERSION_CHECK="1")
        with tempfile.TemporaryDirectory(prefix="kunseal-bench-kms") as d:
            def make(i):
                plain = os.path.join(d, "p%03d.yaml" % i)
                with open(plain, "w") as f:
                    f.write("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-%d\n  namespace: prod\ntype: Opaque\nstringData:\n" % i)
                    for k in range(5):
                        f.write("  key%d: value-%d-%d\n" % (k, i, k))
                out = subprocess.run([a.sops, "encrypt", "--encrypted-regex", "^(data|stringData)$", "--hc-vault-transit",
                                      url + "/v1/sops/keys/bench", plain], env=env, check=True, capture_output=True).stdout
                os.remove(plain)
                path = os.path.join(d, "s%03d.yaml" % i)
                with open(path, "wb") as f:
                    f.write(out)
                return path
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                files = list(ex.map(make, range(a.files)))
            stream = b"".join(b"---\n" + open(p, "rb").read() for p in files)

            call(port, "POST", "/_config", {"delay_ms": a.delay_ms})
            # One call, best of --runs (each run is a fresh process: nothing cached between).
            one, requests = [], []
            for _ in range(a.runs):
                call(port, "POST", "/_reset")
                t = time.perf_counter()
                r = subprocess.run([a.kunseal], input=stream, env=env, capture_output=True)
                one.append(time.perf_counter() - t)
                if r.returncode != 0:
                    sys.exit("kunseal failed: " + r.stderr.decode())
                stats = call(port, "GET", "/_stats")
                requests.append(stats["ops"].get("vault.decrypt", 0))
                max_inflight = stats["max_inflight"]
            rendered = r.stdout.decode().count("key0: value-")
            assert rendered == a.files, rendered

            def sequential(argv_of):
                t = time.perf_counter()
                for p in files:
                    subprocess.run(argv_of(p), env=env, check=True, capture_output=True)
                return time.perf_counter() - t
            seq_kunseal = sequential(lambda p: [a.kunseal, "decrypt", p])
            seq_sops = sequential(lambda p: [a.sops, "decrypt", p])
    finally:
        server.kill()
        server.wait()

    best = min(one)
    print("#7 key service: %d files behind a %d ms Vault transit endpoint (stand-in), %d values each"
          % (a.files, a.delay_ms, 5))
    print("  kunseal, one call (stream)  : %7.3f s  (best of %d; runs %s)" % (best, a.runs, " ".join("%.3f" % x for x in one)))
    print("  kunseal decrypt, one by one : %7.3f s" % seq_kunseal)
    print("  sops decrypt, one by one    : %7.3f s" % seq_sops)
    print("  ratio vs sequential kunseal : %6.1fx   (target >= 8x)" % (seq_kunseal / best))
    print("  ratio vs sequential sops    : %6.1fx" % (seq_sops / best))
    print("  requests per one-call render: %s for %d distinct wrapped keys; at most %d in flight"
          % ("/".join(str(x) for x in sorted(set(requests))), a.files, max_inflight))
    if max(requests) > a.files:
        sys.exit("more requests than distinct keys")


if __name__ == "__main__":
    main()
