//! PGP through the user's own `gpg` (`SOPS_GPG_EXEC`, `GNUPGHOME`), as sops falls back to
//! (`pgp/keysource.go`), so agents, smartcards and pinentry work as they do for sops.
//! The armored message goes in on stdin; the data key comes back on stdout, never on disk.

use std::io::Write;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::{KeyBackend, KeyError};
use crate::sops::metadata::MasterKey;

pub struct PgpBackend {
    gpg: String,
}

impl PgpBackend {
    pub fn from_env() -> PgpBackend {
        let gpg = crate::env_nonempty("SOPS_GPG_EXEC").unwrap_or_else(|| "gpg".into());
        PgpBackend { gpg }
    }
}

impl KeyBackend for PgpBackend {
    fn kind(&self) -> &'static str {
        "pgp"
    }

    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let MasterKey::Pgp { enc, .. } = key else { return Err(KeyError::Unsupported("non-pgp")) };
        let mut child = Command::new(&self.gpg)
            .args(["--batch", "--quiet", "--no-tty", "--decrypt"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| KeyError::Failed(format!("cannot run {}: {}", self.gpg, e.kind())))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let message = enc.clone();
        let writer = std::thread::spawn(move || stdin.write_all(message.as_bytes()));
        let out = child.wait_with_output().map_err(|e| KeyError::Failed(format!("gpg: {}", e.kind())))?;
        let _ = writer.join();
        let stdout = Zeroizing::new(out.stdout);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            return Err(KeyError::Failed(format!("gpg could not decrypt ({})", if last.is_empty() { out.status.to_string() } else { last })));
        }
        Ok(Zeroizing::new(stdout.to_vec()))
    }
}
