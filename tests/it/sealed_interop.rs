//! SealedSecrets against an independent implementation: kubesealpy (PyPI) seals with keys
//! and certificates made at test time (2048- and 4096-bit, PKCS#1 and PKCS#8, a rotated-key
//! `v1 List` backup in YAML and JSON); kunseal unseals them in every mode, and refuses a
//! renamed strict one. Installed by scripts/setup-tools.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

fn python() -> Option<PathBuf> {
    let p = repo().join(".tools/bin/kubeseal-python");
    if p.exists() {
        return Some(p);
    }
    assert!(std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() != Ok("1"), "kubesealpy is required; run scripts/setup-tools.sh");
    eprintln!("skipping: kubesealpy not installed");
    None
}

fn fixtures() -> Option<(tempfile::TempDir, serde_json::Value)> {
    let py = python()?;
    let dir = tempdir();
    let out = Command::new(py).arg(repo().join("tests/data/sealed/kubeseal_fixtures.py")).arg("make").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = serde_json::from_str(&std::fs::read_to_string(dir.path().join("expected.json")).unwrap()).unwrap();
    Some((dir, expected))
}

fn unseal(dir: &Path, keys: &str, file: &str) -> std::process::Output {
    let mut k = kunseal();
    k.current_dir(dir).args(["unseal", "--key", keys, "-o", "json", file]);
    run(k, None)
}

fn data_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["data"].clone()
}

#[test]
fn kubesealpy_sealed_secrets_unseal_with_every_key_source() {
    let Some((dir, expected)) = fixtures() else { return };
    for keys in ["backup.yaml", "backup.json", "old-pkcs1.pem,new-pkcs8.pem", "."] {
        for case in ["strict", "namespace-wide", "cluster-wide"] {
            let got = data_of(&unseal(dir.path(), keys, &format!("{case}.yaml")));
            assert_eq!(got, expected[case], "{case} with {keys}");
        }
    }
}

#[test]
fn scope_template_and_failures() {
    let Some((dir, _)) = fixtures() else { return };
    let out = unseal(dir.path(), "backup.yaml", "strict-renamed.yaml");
    assert_failed_clean(&out, &["hunter2", "admin"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key could decrypt secret (password, user)"));
    // Only the old key: the 4096-bit sealed ones do not open.
    let out = unseal(dir.path(), "old-pkcs1.pem", "namespace-wide.yaml");
    assert_failed_clean(&out, &["t0k3n"]);
    let data = data_of(&unseal(dir.path(), "backup.yaml", "templated.yaml"));
    use base64::Engine;
    let dec = |k: &str| String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data[k].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(dec("dsn"), "postgres://admin:hunter2@db/shop");
    assert_eq!(dec("json"), "\"hunter2\"");
}

#[test]
fn stream_and_krm_modes_unseal_only_when_keys_are_configured() {
    let Some((dir, _)) = fixtures() else { return };
    let stream = format!("{}---\n{}", std::fs::read_to_string(dir.path().join("strict.yaml")).unwrap(), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
    let mut k = kunseal();
    k.env("KUNSEAL_SEALED_KEYS", dir.path().join("backup.yaml"));
    let out = run(k, Some(stream.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kind: Secret") && text.contains("password: aHVudGVyMg==") && text.ends_with("name: c\n"), "{text}");
    // No keys: SealedSecrets pass through byte for byte.
    let out = run(kunseal(), Some(stream.as_bytes()));
    assert_eq!(String::from_utf8_lossy(&out.stdout), stream);
    // Keys that open nothing: an error, nothing written.
    let mut k = kunseal();
    k.env("KUNSEAL_SEALED_KEYS", dir.path().join("new-pkcs8.pem"));
    assert_failed_clean(&run(k, Some(stream.as_bytes())), &["hunter2"]);
}

fn open_with_kubesealpy(dir: &Path, file: &str) -> serde_json::Value {
    let out = Command::new(python().unwrap()).arg(repo().join("tests/data/sealed/kubeseal_fixtures.py")).arg("open").arg(dir).arg(dir.join(file)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn kunseal_seals_what_kubesealpy_opens_in_every_scope() {
    let Some((dir, _)) = fixtures() else { return };
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\n  namespace: prod\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{}'\n    keep: me\n  ownerReferences:\n    - name: x\ntype: Opaque\ndata:\n  a: aGk=\nstringData:\n  b: there\n";
    std::fs::write(dir.path().join("secret.yaml"), secret).unwrap();
    for (scope, format) in [("strict", "json"), ("namespace-wide", "yaml"), ("cluster-wide", "yaml")] {
        let mut k = kunseal();
        k.current_dir(dir.path()).args(["seal", "--cert", "new-cert.pem", "--scope", scope, "-o", format, "secret.yaml"]);
        let sealed = ok(k);
        let text = String::from_utf8_lossy(&sealed).to_string();
        assert!(!text.contains("last-applied") && !text.contains("ownerReferences") && text.contains("keep"), "{text}");
        let f = format!("sealed-{scope}.{format}");
        std::fs::write(dir.path().join(&f), &sealed).unwrap();
        if format == "yaml" {
            let opened = open_with_kubesealpy(dir.path(), &f);
            assert_eq!(opened["web"], serde_json::json!({"a": "aGk=", "b": "dGhlcmU="}), "{scope}");
        }
        let data = data_of(&unseal(dir.path(), "backup.yaml", &f));
        assert_eq!(data, serde_json::json!({"a": "aGk=", "b": "dGhlcmU="}), "{scope}");
    }
    // The upstream controller certificate (a KeyUsage strict parsers reject) is readable.
    let mut k = kunseal();
    k.current_dir(dir.path()).arg("seal").arg("--cert").arg(repo().join("../shared/fixtures/sealed-upstream/kubeseal_test-testCert.pem")).arg("secret.yaml");
    if repo().join("../shared/fixtures").exists() {
        let _ = ok(k);
    }
    // Expired certificates are refused unless asked.
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["seal", "--cert", "expired-cert.pem", "secret.yaml"]);
    assert!(String::from_utf8_lossy(&run(k, None).stderr).contains("expired"));
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["seal", "--cert", "expired-cert.pem", "--allow-expired", "secret.yaml"]);
    let _ = ok(k);
    // --raw: one value, no newline, opens with the same label.
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["seal", "--raw", "--cert", "new-cert.pem", "--namespace", "prod", "--name", "web"]);
    let raw = run(k, Some(b"raw-value"));
    assert!(raw.status.success() && !raw.stdout.ends_with(b"\n"));
    let doc = format!("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  encryptedData:\n    v: {}\n", String::from_utf8_lossy(&raw.stdout));
    std::fs::write(dir.path().join("raw.yaml"), doc).unwrap();
    assert_eq!(data_of(&unseal(dir.path(), "backup.yaml", "raw.yaml")), serde_json::json!({"v": "cmF3LXZhbHVl"}));
}

#[test]
fn reseal_moves_secrets_to_a_new_key_offline() {
    let Some((dir, expected)) = fixtures() else { return };
    // strict.yaml is sealed to the old 2048-bit key; reseal it to the new certificate.
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["reseal", "--cert", "new-cert.pem", "--key", "backup.yaml", "strict.yaml"]);
    let out = ok(k);
    std::fs::write(dir.path().join("resealed.yaml"), &out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("app: db") && text.contains("team: shop"), "template metadata kept: {text}");
    assert_eq!(data_of(&unseal(dir.path(), "new-pkcs8.pem", "resealed.yaml")), expected["strict"]);
    assert_eq!(open_with_kubesealpy(dir.path(), "resealed.yaml")["db"], expected["strict"]);
    assert!(!unseal(dir.path(), "old-pkcs1.pem", "resealed.yaml").status.success());
}

fn aesgcm(args: &[&std::ffi::OsStr]) -> Option<Vec<u8>> {
    let p = repo().join(".tools/bin/aesgcm-python");
    if !p.exists() {
        assert!(std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() != Ok("1"), "aes-gcm-rsa-oaep is required; run scripts/setup-tools.sh");
        return None;
    }
    let out = Command::new(p).arg(repo().join("tests/data/sealed/aesgcm_fixtures.py")).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(out.stdout)
}

#[test]
fn second_implementation_legacy_data_and_merge_into() {
    let Some((dir, _)) = fixtures() else { return };
    let d = dir.path().as_os_str();
    // Legacy spec.data (the whole v1 Secret sealed as one blob), made by aes-gcm-rsa-oaep.
    if aesgcm(&["legacy".as_ref(), d]).is_none() {
        return;
    }
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["unseal", "--key", "backup.yaml", "legacy.yaml"]);
    let text = String::from_utf8(ok(k)).unwrap();
    assert!(text.contains("name: legacy") && text.contains("era: v1") && text.contains("k: bGVnYWN5LXZhbHVl"), "{text}");
    assert!(text.contains("ownerReferences:") && text.contains("kind: SealedSecret") && text.contains("controller: true"), "{text}");
    // kunseal's sealing opened by the second implementation, after --merge-into.
    std::fs::write(dir.path().join("a.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\n  namespace: prod\nstringData:\n  first: one\n").unwrap();
    std::fs::write(dir.path().join("b.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\nstringData:\n  second: two\n").unwrap();
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["seal", "--cert", "new-cert.pem", "-o", "yaml", "a.yaml"]);
    std::fs::write(dir.path().join("merged.yaml"), ok(k)).unwrap();
    let mut k = kunseal();
    k.current_dir(dir.path()).args(["seal", "--cert", "new-cert.pem", "--merge-into", "merged.yaml", "b.yaml"]);
    let _ = ok(k);
    let opened: serde_json::Value = serde_json::from_slice(&aesgcm(&["open".as_ref(), d, dir.path().join("merged.yaml").as_os_str()]).unwrap()).unwrap();
    assert_eq!(opened["web"], serde_json::json!({"first": "b25l", "second": "dHdv"}));
}
