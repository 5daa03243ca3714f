//! age identities (X25519, post-quantum ML-KEM-768 + X25519 — see `age_pq.rs` — and SSH
//! ed25519/RSA), found where sops looks for them
//! (`age/keysource.go`): `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD`,
//! `SOPS_AGE_SSH_PRIVATE_KEY_FILE` (else `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`) and
//! `$XDG_CONFIG_HOME/sops/age/keys.txt`. The stanza is an armored age file whose payload is
//! the raw data key.

use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::{KeyBackend, KeyError};
use crate::sops::metadata::MasterKey;

type Identity = Box<dyn age::Identity + Send + Sync>;

pub struct AgeBackend {
    sources: Sources,
    loaded: OnceLock<(Vec<Identity>, Vec<String>)>,
}

/// Where identities come from; read once, on first use.
#[derive(Default, Clone)]
pub struct Sources {
    pub inline: Option<String>,
    pub key_file: Option<PathBuf>,
    pub key_cmd: Option<String>,
    pub ssh_key_file: Option<PathBuf>,
    pub default_ssh: Vec<PathBuf>,
    pub default_keys_txt: Option<PathBuf>,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

impl Sources {
    pub fn from_env() -> Sources {
        let var = crate::env_nonempty;
        let config_dir = var("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home().map(|h| h.join(".config")));
        let ssh_key_file = var("SOPS_AGE_SSH_PRIVATE_KEY_FILE").map(PathBuf::from);
        let default_ssh = if ssh_key_file.is_none() {
            home().map(|h| vec![h.join(".ssh/id_ed25519"), h.join(".ssh/id_rsa")]).unwrap_or_default()
        } else {
            Vec::new()
        };
        Sources {
            inline: var("SOPS_AGE_KEY"),
            key_file: var("SOPS_AGE_KEY_FILE").map(PathBuf::from),
            key_cmd: var("SOPS_AGE_KEY_CMD"),
            ssh_key_file,
            default_ssh,
            default_keys_txt: config_dir.map(|d| d.join("sops/age/keys.txt")),
        }
    }
}

/// Splits a command line as a POSIX shell would for simple quoting (`'…'`, `"…"`, `\`).
pub fn split_command(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => cur.push(x),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        x => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

fn parse_identity_text(text: &str, origin: &str, ids: &mut Vec<Identity>, problems: &mut Vec<String>) {
    // Post-quantum identities first: the age crate's parser does not know them yet.
    let (pq, rest) = super::age_pq::split_identities(text);
    let rest = Zeroizing::new(rest);
    for id in pq {
        match id {
            Ok(id) => ids.push(Box::new(id)),
            Err(e) => problems.push(format!("{origin}: {e}")),
        }
    }
    if rest.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return;
    }
    match age::IdentityFile::from_buffer(rest.as_bytes()).and_then(|f| f.into_identities().map_err(std::io::Error::other)) {
        Ok(list) => ids.extend(list),
        Err(_) => problems.push(format!("{origin}: not a valid age identity list")),
    }
}

fn parse_ssh(bytes: &[u8], origin: &str, ids: &mut Vec<Identity>, problems: &mut Vec<String>) {
    match age::ssh::Identity::from_buffer(bytes, Some(origin.to_string())) {
        Ok(age::ssh::Identity::Unencrypted(k)) => ids.push(Box::new(age::ssh::Identity::Unencrypted(k))),
        Ok(age::ssh::Identity::Encrypted(_)) => problems.push(format!("{origin}: passphrase-protected SSH keys are not supported")),
        Ok(_) => problems.push(format!("{origin}: unsupported SSH key type")),
        Err(_) => problems.push(format!("{origin}: not an SSH private key")),
    }
}

impl AgeBackend {
    pub fn from_env() -> AgeBackend {
        AgeBackend::new(Sources::from_env())
    }

    pub fn new(sources: Sources) -> AgeBackend {
        AgeBackend { sources, loaded: OnceLock::new() }
    }

    fn load(&self) -> &(Vec<Identity>, Vec<String>) {
        self.loaded.get_or_init(|| {
            let s = &self.sources;
            let mut ids: Vec<Identity> = Vec::new();
            let mut problems = Vec::new();
            if let Some(inline) = &s.inline {
                parse_identity_text(inline, "SOPS_AGE_KEY", &mut ids, &mut problems);
            }
            if let Some(path) = &s.key_file {
                match std::fs::read_to_string(path) {
                    Ok(t) => parse_identity_text(&t, "SOPS_AGE_KEY_FILE", &mut ids, &mut problems),
                    Err(e) => problems.push(format!("SOPS_AGE_KEY_FILE {}: {}", path.display(), e.kind())),
                }
            }
            if let Some(cmd) = &s.key_cmd {
                match split_command(cmd).filter(|v| !v.is_empty()) {
                    None => problems.push("SOPS_AGE_KEY_CMD: cannot split the command".into()),
                    Some(argv) => match std::process::Command::new(&argv[0]).args(&argv[1..]).stderr(std::process::Stdio::inherit()).output() {
                        Ok(out) if out.status.success() => {
                            let text = Zeroizing::new(String::from_utf8_lossy(&out.stdout).into_owned());
                            parse_identity_text(&text, "SOPS_AGE_KEY_CMD", &mut ids, &mut problems);
                        }
                        Ok(out) => problems.push(format!("SOPS_AGE_KEY_CMD exited with {}", out.status)),
                        Err(e) => problems.push(format!("SOPS_AGE_KEY_CMD: {}", e.kind())),
                    },
                }
            }
            let ssh_files: Vec<&PathBuf> = s.ssh_key_file.iter().chain(s.default_ssh.iter()).collect();
            for path in ssh_files {
                match std::fs::read(path) {
                    Ok(b) => {
                        let b = Zeroizing::new(b);
                        parse_ssh(&b, &path.display().to_string(), &mut ids, &mut problems);
                    }
                    Err(e) if s.ssh_key_file.as_ref() == Some(path) => {
                        problems.push(format!("SOPS_AGE_SSH_PRIVATE_KEY_FILE {}: {}", path.display(), e.kind()))
                    }
                    Err(_) => {}
                }
            }
            if let Some(path) = &s.default_keys_txt {
                if let Ok(t) = std::fs::read_to_string(path) {
                    let t = Zeroizing::new(t);
                    parse_identity_text(&t, &path.display().to_string(), &mut ids, &mut problems);
                }
            }
            (ids, problems)
        })
    }
}

/// Opens an armored age file with the given identities.
pub fn decrypt_armored(enc: &str, ids: &[Identity]) -> Result<Zeroizing<Vec<u8>>, String> {
    let reader = age::armor::ArmoredReader::new(enc.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|_| "the age stanza is malformed".to_string())?;
    let mut r = decryptor
        .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => "no identity matches this recipient".to_string(),
            _ => "decryption failed".to_string(),
        })?;
    let mut out = Zeroizing::new(Vec::new());
    r.read_to_end(&mut out).map_err(|_| "the age payload is corrupt".to_string())?;
    Ok(out)
}

impl KeyBackend for AgeBackend {
    fn kind(&self) -> &'static str {
        "age"
    }

    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let MasterKey::Age { enc, .. } = key else { return Err(KeyError::Unsupported("non-age")) };
        let (ids, problems) = self.load();
        if ids.is_empty() {
            return Err(if problems.is_empty() {
                KeyError::NoIdentity("age")
            } else {
                KeyError::Failed(format!("no usable age identity ({})", problems.join("; ")))
            });
        }
        decrypt_armored(enc, ids).map_err(KeyError::Failed)
    }
}

/// Wraps `payload` for an age recipient as sops does (armored), for encryption and tests.
pub fn encrypt_armored(recipient: &str, payload: &[u8]) -> Result<String, String> {
    use std::io::Write;
    let r: Box<dyn age::Recipient + Send> = if recipient.starts_with("age1") {
        Box::new(recipient.parse::<age::x25519::Recipient>().map_err(|_| "invalid age recipient".to_string())?)
    } else {
        Box::new(recipient.parse::<age::ssh::Recipient>().map_err(|_| "invalid SSH recipient".to_string())?)
    };
    let enc = age::Encryptor::with_recipients(std::iter::once(r.as_ref() as &dyn age::Recipient)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).map_err(|e| e.to_string())?;
    let mut w = enc.wrap_output(armor).map_err(|e| e.to_string())?;
    w.write_all(payload).map_err(|e| e.to_string())?;
    w.finish().and_then(|a| a.finish()).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commands() {
        assert_eq!(split_command("cat '/a b/k.txt' \"x y\" z\\ w").unwrap(), vec!["cat", "/a b/k.txt", "x y", "z w"]);
    }

    #[test]
    fn x25519_round_trip() {
        let id = age::x25519::Identity::generate();
        let enc = encrypt_armored(&id.to_public().to_string(), &[9u8; 32]).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        let ids: Vec<Identity> = vec![Box::new(id)];
        assert_eq!(&decrypt_armored(&enc, &ids).unwrap()[..], &[9u8; 32]);
        let other: Vec<Identity> = vec![Box::new(age::x25519::Identity::generate())];
        assert!(decrypt_armored(&enc, &other).is_err());
    }
}
