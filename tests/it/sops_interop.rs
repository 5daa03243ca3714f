//! The real sops 3.11 encrypts, kunseal decrypts, and the outputs must be identical to
//! `sops decrypt`'s — YAML byte for byte, and the JSON view of the same data. Random trees
//! cover every type, nesting, lists of maps and lists, comments and `_unencrypted` keys,
//! under each selector; PGP, SSH-key age, Shamir key groups and every store are covered.

use std::path::Path;
use std::process::Command;

use kunseal::testgen::{tree, Rng};
use kunseal::yaml::{emit_value, EmitOptions};

use crate::util::*;

struct Env {
    dir: tempfile::TempDir,
    sops: std::path::PathBuf,
    key: String,
    recipient: String,
}

fn env() -> Option<Env> {
    let sops = sops()?;
    let (key, recipient) = age_key();
    Some(Env { dir: tempdir(), sops, key, recipient })
}

impl Env {
    fn encrypt(&self, name: &str, plain: &[u8], extra: &[&str]) -> std::path::PathBuf {
        // The comment regexes exist only as .sops.yaml creation-rule settings.
        let (dir, extra) = match extra {
            ["cfg", rule, rest @ ..] => {
                let d = self.dir.path().join(format!("cfg-{name}"));
                std::fs::create_dir_all(&d).unwrap();
                std::fs::write(d.join(".sops.yaml"), format!("creation_rules:\n  - age: {}\n    {rule}\n", self.recipient)).unwrap();
                (d, rest)
            }
            _ => (self.dir.path().to_path_buf(), extra),
        };
        let p = dir.join(name);
        std::fs::write(&p, plain).unwrap();
        let mut c = sops_cmd(&self.sops, &dir);
        if dir == self.dir.path() {
            c.arg("encrypt").arg("--age").arg(&self.recipient);
        } else {
            c.arg("encrypt");
        }
        c.args(extra).arg(&p);
        let out = run(c, None);
        assert!(out.status.success(), "sops encrypt {name} {extra:?}: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(plain));
        let enc = self.dir.path().join(format!("enc.{name}"));
        std::fs::write(&enc, out.stdout).unwrap();
        enc
    }

    fn both(&self, file: &Path, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let mut s = sops_cmd(&self.sops, self.dir.path());
        s.env("SOPS_AGE_KEY", &self.key).arg("decrypt").args(args).arg(file);
        let want = ok(s);
        let mut k = kunseal();
        k.env("SOPS_AGE_KEY", &self.key).arg("decrypt").args(args).arg(file);
        let got = ok(k);
        (want, got)
    }

    fn assert_same(&self, file: &Path, args: &[&str], plain: &str) {
        let (want, got) = self.both(file, args);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "kunseal and sops differ for {args:?}; plaintext was:\n{plain}"
        );
    }
}

const SELECTORS: &[&[&str]] = &[
    &[],
    &["--encrypted-regex", "^(data|stringData|password.*)$"],
    &["--unencrypted-regex", "^(name|user)"],
    &["--encrypted-suffix", "_enc"],
    &["--unencrypted-suffix", "_unencrypted"],
    &["cfg", "encrypted_comment_regex: 'sops:enc'"],
    &["cfg", "unencrypted_comment_regex: 'keep clear'"],
    &["cfg", "mac_only_encrypted: true"],
    &["cfg", "mac_only_encrypted: true\n    encrypted_regex: '^data'"],
];

#[test]
fn random_yaml_trees_match_sops_under_every_selector() {
    let Some(env) = env() else { return };
    let mut r = Rng(0x9E3779B97F4A7C15);
    for (i, sel) in SELECTORS.iter().enumerate() {
        for round in 0..4 {
            let t = tree(&mut r, 0);
            let indent = if round % 2 == 0 { 2 } else { 4 };
            let plain = emit_value(&t, EmitOptions { indent });
            let enc = env.encrypt(&format!("t{i}-{round}.yaml"), plain.as_bytes(), sel);
            env.assert_same(&enc, &[], &plain);
            env.assert_same(&enc, &["--output-type", "json"], &plain);
        }
    }
}

#[test]
fn multi_document_yaml_and_kubernetes_secret() {
    let Some(env) = env() else { return };
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ntype: Opaque\nstringData:\n  password: hunter2\n  port: \"5432\"\ndata:\n  token: c2VjcmV0\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  # a comment\n  mode: fast\n";
    let enc = env.encrypt("multi.yaml", plain.as_bytes(), &["--encrypted-regex", "^(data|stringData)$"]);
    env.assert_same(&enc, &[], plain);
    env.assert_same(&enc, &["--extract", "[\"stringData\"][\"password\"]"], plain);
    env.assert_same(&enc, &["--extract", "[\"metadata\"]"], plain);
}

#[test]
fn json_dotenv_ini_and_binary_stores() {
    let Some(env) = env() else { return };
    let json = r#"{"a": 1, "b": {"c": [1.5, "x", true, null, {"d": "<&>"}]}, "e": "", "big": 12345678901234567890, "f": 1e21, "g": []}"#;
    let enc = env.encrypt("doc.json", json.as_bytes(), &[]);
    env.assert_same(&enc, &[], json);
    env.assert_same(&enc, &["--output-type", "yaml"], json);

    let dotenv = "# comment\nUSER=admin\nPASSWORD=p@ss=word\nMULTI=line1\\nline2\nEMPTY=\nNUM=5\n";
    let enc = env.encrypt("app.env", dotenv.as_bytes(), &[]);
    env.assert_same(&enc, &[], dotenv);
    env.assert_same(&enc, &["--output-type", "json"], dotenv);

    let ini = "; top comment\n[db]\nuser = admin\npassword = secret\n\n[cache]\nttl = 30\n";
    let enc = env.encrypt("conf.ini", ini.as_bytes(), &[]);
    env.assert_same(&enc, &[], ini);

    let bin: Vec<u8> = (0..=255u8).chain(b"tail\n".iter().copied()).collect();
    let enc = env.encrypt("blob.bin", &bin, &[]);
    let (want, got) = env.both(&enc, &[]);
    assert_eq!(got, want);
    let text = b"plain text file\nsecond line\n";
    let enc = env.encrypt("notes.txt", text, &[]);
    let (want, got) = env.both(&enc, &[]);
    assert_eq!(got, want);
    assert_eq!(got, text);
}

#[test]
fn ssh_key_recipients() {
    let Some(env) = env() else { return };
    for (ty, extra) in [("ed25519", &[][..]), ("rsa", &["-b", "2048"][..])] {
        let key = env.dir.path().join(format!("id_{ty}"));
        let out = Command::new("ssh-keygen").args(["-q", "-t", ty, "-N", "", "-C", "kunseal-test", "-f"]).arg(&key).args(extra).output();
        let Ok(out) = out else {
            assert!(std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() != Ok("1"), "ssh-keygen is required");
            return;
        };
        assert!(out.status.success());
        let recipient = std::fs::read_to_string(key.with_extension("pub")).unwrap().trim().to_string();
        let plain = "secret: value\n";
        let p = env.dir.path().join(format!("ssh-{ty}.yaml"));
        std::fs::write(&p, plain).unwrap();
        let mut c = sops_cmd(&env.sops, env.dir.path());
        c.args(["encrypt", "--age", &recipient]).arg(&p);
        let enc = ok(c);
        let encp = env.dir.path().join(format!("enc-ssh-{ty}.yaml"));
        std::fs::write(&encp, enc).unwrap();
        let mut k = kunseal();
        k.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key).arg("decrypt").arg(&encp);
        assert_eq!(ok(k), plain.as_bytes(), "{ty}");
    }
}

#[test]
fn pgp_through_gpg() {
    let Some(env) = env() else { return };
    let home = tempdir();
    let gpg = |args: &[&str]| Command::new("gpg").env("GNUPGHOME", home.path()).args(["--batch", "--quiet"]).args(args).output();
    let Ok(out) = gpg(&["--passphrase", "", "--quick-gen-key", "kunseal test <test@example.invalid>", "default", "default", "never"]) else {
        assert!(std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() != Ok("1"), "gpg is required");
        return;
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = gpg(&["--list-keys", "--with-colons"]).unwrap();
    let fpr = String::from_utf8_lossy(&list.stdout).lines().find(|l| l.starts_with("fpr:")).unwrap().split(':').nth(9).unwrap().to_string();
    let plain = "db:\n    password: pgp-secret\n";
    let p = env.dir.path().join("pgp.yaml");
    std::fs::write(&p, plain).unwrap();
    let mut c = sops_cmd(&env.sops, env.dir.path());
    c.env("GNUPGHOME", home.path()).args(["encrypt", "--pgp", &fpr]).arg(&p);
    let encp = env.dir.path().join("enc-pgp.yaml");
    std::fs::write(&encp, ok(c)).unwrap();
    let mut k = kunseal();
    k.env("GNUPGHOME", home.path()).arg("decrypt").arg(&encp);
    assert_eq!(ok(k), plain.as_bytes());
    let mut k = kunseal();
    k.env("GNUPGHOME", env.dir.path().join("empty-gnupg")).arg("decrypt").arg(&encp);
    assert_failed_clean(&run(k, None), &["pgp-secret"]);
    let _ = Command::new("gpgconf").env("GNUPGHOME", home.path()).args(["--kill", "gpg-agent"]).output();
}

#[test]
fn shamir_three_groups_threshold_two() {
    let Some(env) = env() else { return };
    let keys: Vec<(String, String)> = (0..3).map(|_| age_key()).collect();
    let config = format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
        keys[0].1, keys[1].1, keys[2].1
    );
    std::fs::write(env.dir.path().join(".sops.yaml"), config).unwrap();
    let plain = "token: shamir-secret\nlist:\n  - 1\n  - two\n";
    let p = env.dir.path().join("shamir.yaml");
    std::fs::write(&p, plain).unwrap();
    let mut c = sops_cmd(&env.sops, env.dir.path());
    c.arg("encrypt").arg(&p);
    let encp = env.dir.path().join("enc-shamir.yaml");
    std::fs::write(&encp, ok(c)).unwrap();
    for pair in [[0, 1], [0, 2], [1, 2]] {
        let mut k = kunseal();
        k.env("SOPS_AGE_KEY", format!("{}\n{}\n", keys[pair[0]].0, keys[pair[1]].0)).arg("decrypt").arg(&encp);
        let mut s = sops_cmd(&env.sops, env.dir.path());
        s.env("SOPS_AGE_KEY", format!("{}\n{}\n", keys[pair[0]].0, keys[pair[1]].0)).arg("decrypt").arg(&encp);
        assert_eq!(ok(k), ok(s), "{pair:?}");
    }
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY", &keys[2].0).arg("decrypt").arg(&encp);
    let out = run(k, None);
    assert_failed_clean(&out, &["shamir-secret"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 key groups"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn key_sources_file_cmd_and_default_location() {
    let Some(env) = env() else { return };
    let plain = "a: b\n";
    let enc = env.encrypt("keys.yaml", plain.as_bytes(), &[]);
    let keyfile = env.dir.path().join("keys.txt");
    std::fs::write(&keyfile, format!("# created: test\n{}\n", env.key)).unwrap();
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY_FILE", &keyfile).arg("decrypt").arg(&enc);
    assert_eq!(ok(k), plain.as_bytes());
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY_CMD", format!("cat '{}'", keyfile.display())).arg("decrypt").arg(&enc);
    assert_eq!(ok(k), plain.as_bytes());
    let cfg = env.dir.path().join("xdg");
    std::fs::create_dir_all(cfg.join("sops/age")).unwrap();
    std::fs::copy(&keyfile, cfg.join("sops/age/keys.txt")).unwrap();
    let mut k = kunseal();
    k.env("XDG_CONFIG_HOME", &cfg).arg("decrypt").arg(&enc);
    assert_eq!(ok(k), plain.as_bytes());
}

#[test]
fn tampering_fails_closed() {
    let Some(env) = env() else { return };
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\nstringData:\n  password: tamper-secret\n  other: second-secret\n";
    let enc = env.encrypt("t.yaml", plain.as_bytes(), &["--encrypted-regex", "^stringData$"]);
    let text = std::fs::read_to_string(&enc).unwrap();
    let secrets = ["tamper-secret", "second-secret"];
    let check = |name: &str, body: &str, expect: &str| {
        let p = env.dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let mut k = kunseal();
        k.env("SOPS_AGE_KEY", &env.key).arg("decrypt").arg(&p);
        let out = run(k, None);
        assert_failed_clean(&out, &secrets);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
    };
    // A value moved to another key: its AAD no longer matches.
    let pw_line = text.lines().find(|l| l.trim_start().starts_with("password:")).unwrap();
    let other_line = text.lines().find(|l| l.trim_start().starts_with("other:")).unwrap();
    let swapped = text
        .replace(pw_line, "@@PW@@")
        .replace(other_line, &other_line.replace("other:", "password:"))
        .replace("@@PW@@", &pw_line.replace("password:", "other:"));
    check("swapped.yaml", &swapped, "stringData.other");
    // A clear value edited: the MAC no longer matches.
    check("edited.yaml", &text.replace("name: app", "name: app2"), "MAC mismatch");
    // The data key of someone else.
    let (_, other) = age_key();
    let wrong = env.encrypt("w.yaml", plain.as_bytes(), &[]);
    let _ = other;
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY", age_key().0).arg("decrypt").arg(&wrong);
    assert_failed_clean(&run(k, None), &secrets);
    // Truncated in the middle of the metadata.
    check("truncated.yaml", &text[..text.len() * 3 / 4], "");
    // Resource named in errors.
    check("named.yaml", &text.replace("name: app", "name: app2"), "Secret prod/app2");
}

#[test]
fn post_quantum_age_identities() {
    use kunseal::keys::age_pq::PqIdentity;
    let Some(sops) = sops() else { return };
    let dir = tempdir();
    // A fresh ML-KEM-768 + X25519 identity; the real sops encrypts to its recipient.
    let id = PqIdentity::generate();
    let secret = id.to_secret_string();
    let recipient = id.recipient().unwrap();
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pq\nstringData:\n  key: post-quantum-value\n";
    std::fs::write(dir.path().join("pq.yaml"), plain).unwrap();
    let mut c = sops_cmd(&sops, dir.path());
    c.args(["encrypt", "--encrypted-regex", "^stringData$", "--age", &recipient, "pq.yaml"]);
    let enc = String::from_utf8(ok(c)).unwrap();
    assert!(enc.contains("recipient: age1pq1"), "{enc}");
    let file = dir.path().join("pq.enc.yaml");
    std::fs::write(&file, &enc).unwrap();
    // Beside an X25519 key in the same key file, as people keep them.
    let (x25519, _) = age_key();
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, format!("# x25519\n{x25519}\n# post-quantum\n{}\n", secret.as_str())).unwrap();
    let mut s = sops_cmd(&sops, dir.path());
    s.env("SOPS_AGE_KEY_FILE", &keys).arg("decrypt").arg(&file);
    let want = ok(s);
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY_FILE", &keys).arg("decrypt").arg(&file);
    assert_eq!(String::from_utf8_lossy(&ok(k)), String::from_utf8_lossy(&want));
    assert!(String::from_utf8_lossy(&want).contains("post-quantum-value"));
    // Another post-quantum identity does not open it, and says so without the value.
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY", PqIdentity::generate().to_secret_string().as_str()).arg("decrypt").arg(&file);
    let out = run(k, None);
    assert_failed_clean(&out, &["post-quantum-value", secret.as_str()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no identity matches"), "{}", String::from_utf8_lossy(&out.stderr));
    // A damaged post-quantum identity is reported as such.
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY", "AGE-SECRET-KEY-PQ-1QQQQ").arg("decrypt").arg(&file);
    let out = run(k, None);
    assert_failed_clean(&out, &["post-quantum-value"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("post-quantum age identity"), "{}", String::from_utf8_lossy(&out.stderr));

    // The fixture sops 3.12.1 wrote (fluxcd's test data), when ../shared is present.
    let fx = repo().join("../shared/fixtures/age-pq");
    if !fx.exists() {
        eprintln!("skipping the age-pq fixture: ../shared/fixtures not present");
        return;
    }
    let idfile = fx.join("age-pq-identity.txt");
    let text = std::fs::read_to_string(&idfile).unwrap();
    let public = text.lines().find_map(|l| l.strip_prefix("# public key: ")).unwrap();
    let line = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1")).unwrap();
    assert_eq!(PqIdentity::parse(line).unwrap().recipient().unwrap(), public, "the recipient is derived as age derives it");
    let mut s = sops_cmd(&sops, dir.path());
    s.env("SOPS_AGE_KEY_FILE", &idfile).arg("decrypt").arg(fx.join("age-pq.enc.yaml"));
    let want = ok(s);
    let mut k = kunseal();
    k.env("SOPS_AGE_KEY_FILE", &idfile).arg("decrypt").arg(fx.join("age-pq.enc.yaml"));
    assert_eq!(String::from_utf8_lossy(&ok(k)), String::from_utf8_lossy(&want));
    assert!(String::from_utf8_lossy(&want).contains("key: value"));
}
