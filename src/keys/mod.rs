//! Key backends: each unwraps the data key (or a Shamir part) from one kind of `sops`
//! master key. Adding a backend is one file implementing [`KeyBackend`] and one line in
//! [`Keyring::from_env`]. Spec: `../shared/docs/SOPS-FORMAT.md` §4 and §6.

pub mod age;
pub mod pgp;

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::sops::metadata::{MasterKey, Metadata};
use crate::sops::shamir;

/// Why one master key did not open. Never carries key material.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("no {0} identity available")]
    NoIdentity(&'static str),
    #[error("{0}")]
    Failed(String),
    #[error("no backend for {0} keys in this build")]
    Unsupported(&'static str),
}

/// One kind of master key.
pub trait KeyBackend: Send + Sync {
    /// The `MasterKey::kind()` this backend opens.
    fn kind(&self) -> &'static str;
    /// Unwraps the bytes `key` protects: the 32-byte data key, or a 33-byte Shamir part.
    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError>;
}

/// Why no data key could be had, with every key tried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataKeyError {
    #[error("no key could decrypt the data key; tried: {}", tried.join("; "))]
    NoKey { tried: Vec<String> },
    #[error("only {have} of {need} key groups could be opened; tried: {}", tried.join("; "))]
    NotEnoughGroups { have: usize, need: usize, tried: Vec<String> },
    #[error("{0}")]
    Shamir(#[from] shamir::ShamirError),
    #[error("the unwrapped data key has {0} bytes, expected 32")]
    KeyLength(usize),
}

/// All backends, the decryption order, and a cache so that a wrapped key shared by many
/// files is unwrapped once per run.
pub struct Keyring {
    backends: Vec<Box<dyn KeyBackend>>,
    order: Vec<String>,
    cache: Mutex<HashMap<String, Zeroizing<Vec<u8>>>>,
    /// `KUNSEAL_SEALED_KEYS`, loaded on first use.
    sealed_spec: Option<String>,
    sealed: std::sync::OnceLock<Result<Vec<crate::sealed::hybrid::PrivateKey>, String>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("backends", &self.backends.iter().map(|b| b.kind()).collect::<Vec<_>>()).finish()
    }
}

impl Keyring {
    /// The backends configured from the environment, as sops reads it.
    pub fn from_env() -> Keyring {
        let order = crate::env_nonempty("SOPS_DECRYPTION_ORDER")
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.split(',').map(|p| p.trim().to_string()).collect())
            .unwrap_or_else(|| vec!["age".to_string(), "pgp".to_string()]);
        let mut k = Keyring::new(vec![Box::new(age::AgeBackend::from_env()), Box::new(pgp::PgpBackend::from_env())], order);
        k.sealed_spec = crate::env_nonempty("KUNSEAL_SEALED_KEYS").filter(|s| !s.trim().is_empty());
        k
    }

    /// SealedSecret keys: `None` when none are configured (SealedSecrets then pass through
    /// for the in-cluster controller), else the keys or why they could not be loaded.
    pub fn sealed_keys(&self) -> Option<Result<&[crate::sealed::hybrid::PrivateKey], String>> {
        let spec = self.sealed_spec.as_ref()?;
        Some(self.sealed.get_or_init(|| crate::sealed::keys::load(spec)).as_deref().map_err(|e| format!("KUNSEAL_SEALED_KEYS: {e}")))
    }

    /// Uses these SealedSecret keys (tests, `kunseal unseal --key`).
    pub fn with_sealed_keys(mut self, spec: &str) -> Keyring {
        self.sealed_spec = Some(spec.to_string());
        self.sealed = std::sync::OnceLock::new();
        self
    }

    pub fn new(backends: Vec<Box<dyn KeyBackend>>, order: Vec<String>) -> Keyring {
        Keyring { backends, order, cache: Mutex::new(HashMap::new()), sealed_spec: None, sealed: std::sync::OnceLock::new() }
    }

    fn rank(&self, kind: &str) -> usize {
        self.order.iter().position(|o| o == kind).unwrap_or(self.order.len())
    }

    fn unwrap_one(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if let Some(hit) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(key.enc()) {
            return Ok(hit.clone());
        }
        let backend = self.backends.iter().find(|b| b.kind() == key.kind()).ok_or(KeyError::Unsupported(key.kind()))?;
        let out = backend.unwrap_key(key)?;
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key.enc().to_string(), out.clone());
        Ok(out)
    }

    /// Opens the data key of a file: one key per needed group, in decryption order.
    pub fn data_key(&self, md: &Metadata) -> Result<Zeroizing<[u8; 32]>, DataKeyError> {
        let mut tried = Vec::new();
        let mut parts = Vec::new();
        let need = md.threshold();
        for group in &md.key_groups {
            let mut keys: Vec<&MasterKey> = group.iter().collect();
            keys.sort_by_key(|k| self.rank(k.kind()));
            for key in keys {
                match self.unwrap_one(key) {
                    Ok(part) => {
                        parts.push(part);
                        break;
                    }
                    Err(e) => tried.push(format!("{} {}: {e}", key.kind(), key.id())),
                }
            }
            if md.key_groups.len() > 1 && parts.len() >= need {
                break;
            }
        }
        let raw = if md.key_groups.len() <= 1 {
            parts.pop().ok_or(DataKeyError::NoKey { tried })?
        } else {
            if parts.len() < need {
                return Err(DataKeyError::NotEnoughGroups { have: parts.len(), need, tried });
            }
            shamir::combine(&parts, need)?
        };
        let key: [u8; 32] = raw[..].try_into().map_err(|_| DataKeyError::KeyLength(raw.len()))?;
        Ok(Zeroizing::new(key))
    }
}
