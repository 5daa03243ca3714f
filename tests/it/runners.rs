//! The example through the real runners on this machine: kubectl's kustomize with kunseal
//! as the legacy ksops exec plugin, and kpt running kunseal as a KRM exec function. Both
//! outputs are compared with the committed expectations in examples/kustomization/expected/.

use std::path::PathBuf;
use std::process::Command;

use crate::util::*;

fn example() -> PathBuf {
    repo().join("examples/kustomization")
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--help").output().is_ok();
    if !ok {
        assert!(std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() != Ok("1"), "{tool} is required");
        eprintln!("skipping: {tool} not installed");
    }
    ok
}

fn compare(name: &str, got: &[u8]) {
    let path = example().join("expected").join(name);
    if std::env::var("KUNSEAL_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read(&path).unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(&want), "{name}");
}

#[test]
fn kubectl_kustomize_runs_kunseal_as_the_legacy_ksops_plugin() {
    if !have("kubectl") {
        return;
    }
    let plugins = tempdir();
    let dir = plugins.path().join("kustomize/plugin/viaduct.ai/v1/ksops");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kunseal"), dir.join("ksops")).unwrap();
    let out = Command::new("kubectl")
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(example().join("legacy"))
        .env("XDG_CONFIG_HOME", plugins.path())
        .env("SOPS_AGE_KEY_FILE", example().join("age-key.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DB_PASSWORD: correct-horse-battery-staple") && text.contains("name: shop-env-"), "{text}");
    compare("kubectl-legacy.yaml", &out.stdout);
}

/// `kpt fn eval . --exec kunseal` in the example package (as with ksops, generator paths are
/// relative to the working directory), with one key variable set.
fn kpt_eval(key_var: &str, key: String) -> std::process::Output {
    Command::new("kpt")
        .current_dir(example().join("krm"))
        .args(["fn", "eval", ".", "--exec", env!("CARGO_BIN_EXE_kunseal"), "-o", "stdout"])
        .env_remove("SOPS_AGE_KEY_FILE")
        .env(key_var, key)
        .output()
        .unwrap()
}

#[test]
fn kpt_runs_kunseal_as_a_krm_function() {
    if !have("kpt") {
        return;
    }
    let out = kpt_eval("SOPS_AGE_KEY_FILE", example().join("age-key.txt").display().to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DB_PASSWORD: correct-horse-battery-staple") && text.contains("SESSION_SECRET: s3ss10n-s3cr3t"), "{text}");
    assert!(!text.contains("kind: ksops") && !text.contains("ENC["), "{text}");
    compare("kpt.yaml", &out.stdout);
}

#[test]
fn kpt_reports_a_failure_and_writes_no_plaintext() {
    if !have("kpt") {
        return;
    }
    let out = kpt_eval("SOPS_AGE_KEY", age_key().0);
    assert!(!out.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("correct-horse") && !all.contains("s3ss10n"), "{all}");
    assert!(all.contains("no key could decrypt"), "{all}");
}
