//! Helpers: the kunseal binary, the reference sops, temporary key material.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn kunseal() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kunseal"));
    // Never pick up the developer's own keys.
    for k in ["SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "GNUPGHOME", "SOPS_DECRYPTION_ORDER"] {
        c.env_remove(k);
    }
    // Nor the developer's cloud credentials or endpoints.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if ["AWS_", "VAULT_", "GOOGLE_", "AZURE_", "SOPS_GCP_", "IDENTITY_", "KUNSEAL_KMS_"].iter().any(|p| k.starts_with(p)) || k == "GCE_METADATA_HOST" {
            c.env_remove(&*k);
        }
    }
    // Off the cloud, the SDKs' metadata probes must fail fast, not wait.
    c.env("AWS_EC2_METADATA_DISABLED", "true").env("GCE_METADATA_HOST", "127.0.0.1:9");
    c.env("HOME", "/nonexistent-kunseal-home").env("XDG_CONFIG_HOME", "/nonexistent-kunseal-config");
    c
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first candidate path that exists, or None: then the test is skipped, unless the
/// tools are required (`KUNSEAL_REQUIRE_TOOLS=1`, as in CI), when it fails.
pub fn tool(what: &str, candidates: impl IntoIterator<Item = Option<PathBuf>>) -> Option<PathBuf> {
    if let Some(found) = candidates.into_iter().flatten().find(|c| c.exists()) {
        return Some(found);
    }
    if std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{what} is required (KUNSEAL_REQUIRE_TOOLS=1) but was not found; run scripts/setup-tools.sh");
    }
    eprintln!("skipping: {what} not found (run scripts/setup-tools.sh)");
    None
}

/// The real sops binary.
pub fn sops() -> Option<PathBuf> {
    tool("sops", [std::env::var_os("KUNSEAL_SOPS").map(PathBuf::from), Some(repo().join(".tools/bin/sops"))])
}

pub fn sops_cmd(sops: &Path, dir: &Path) -> Command {
    let mut c = Command::new(sops);
    c.current_dir(dir).env("SOPS_DISABLE_VERSION_CHECK", "1").env("HOME", dir).env_remove("SOPS_AGE_KEY").env_remove("SOPS_AGE_KEY_FILE");
    c
}

pub fn run(mut c: Command, stdin: Option<&[u8]>) -> Output {
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        s.write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn ok(c: Command) -> Vec<u8> {
    let dbg = format!("{c:?}");
    let out = run(c, None);
    assert!(out.status.success(), "{dbg} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A fresh age identity: (secret key line, recipient).
pub fn age_key() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    (id.to_string().expose_secret().to_string(), id.to_public().to_string())
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("kunseal-it").tempdir().unwrap()
}

/// Asserts that stdout is empty and stderr names no secret.
pub fn assert_failed_clean(out: &Output, secrets: &[&str]) {
    assert!(!out.status.success(), "expected failure");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout must be empty on failure");
    let err = String::from_utf8_lossy(&out.stderr);
    for s in secrets {
        assert!(!err.contains(s), "stderr leaks a secret: {err}");
    }
}
