//! sops' own encrypted files (sops 3.3–3.10, PGP) from ../shared/fixtures/sops-upstream:
//! each decrypts to its `.decrypted` twin, byte for byte; the no-MAC file is refused.

use std::path::PathBuf;
use std::process::Command;

use crate::util::*;

fn fixtures() -> PathBuf {
    repo().join("../shared/fixtures/sops-upstream")
}

/// A throw-away GNUPGHOME holding the sops functional-test keys; None without gpg.
fn gnupg_home() -> Option<tempfile::TempDir> {
    if Command::new("gpg").arg("--version").output().is_err() {
        if std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("gpg is required");
        }
        return None;
    }
    let dir = tempdir();
    let out = Command::new("gpg")
        .env("GNUPGHOME", dir.path())
        .args(["--batch", "--import"])
        .arg(fixtures().join("pgp_sops_functional_tests_key.asc"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(dir)
}

fn kill_agent(home: &std::path::Path) {
    let _ = Command::new("gpgconf").env("GNUPGHOME", home).args(["--kill", "gpg-agent"]).output();
}

#[test]
fn upstream_fixtures_decrypt_byte_for_byte() {
    if !fixtures().exists() {
        eprintln!("skipping: ../shared/fixtures not present");
        return;
    }
    let Some(home) = gnupg_home() else { return };
    let cases: &[(&str, &[&str])] = &[
        ("example.yaml", &[]),
        ("example.json", &[]),
        ("example.ini", &["--input-type", "ini", "--output-type", "ini"]),
        ("example.txt", &["--input-type", "binary", "--output-type", "binary"]),
        ("functional-tests_res_comments.enc.yaml", &[]),
        ("functional-tests_res_multiple_keys.yaml", &[]),
        ("examples_all_in_one_config_secret.enc.json", &[]),
        ("examples_per_file_config.enc_static_github.json", &[]),
    ];
    for (file, args) in cases {
        let mut c = kunseal();
        c.env("GNUPGHOME", home.path()).arg("decrypt").args(*args).arg(fixtures().join(file));
        let got = ok(c);
        let want = std::fs::read(fixtures().join(format!("{file}.decrypted"))).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{file}");
    }
    let mut c = kunseal();
    c.env("GNUPGHOME", home.path()).arg("decrypt").arg(fixtures().join("functional-tests_res_no_mac.yaml"));
    let out = run(c, None);
    assert_failed_clean(&out, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MAC"));
    kill_agent(home.path());
}

#[test]
fn without_the_key_nothing_is_written() {
    if !fixtures().exists() {
        return;
    }
    let mut c = kunseal();
    c.env("GNUPGHOME", "/nonexistent-gnupg").arg("decrypt").arg(fixtures().join("example.yaml"));
    let out = run(c, None);
    assert_failed_clean(&out, &["t00m4nys3cr3tzupdated", "c4r1b0u"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("example.yaml") && err.contains("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"), "{err}");
}
