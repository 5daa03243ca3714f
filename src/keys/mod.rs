//! Key backends: each unwraps the data key (or a Shamir part) from one kind of `sops`
//! master key. Adding a backend is one file implementing [`KeyBackend`] and one line in
//! [`Keyring::from_env`]. Spec: `../shared/docs/SOPS-FORMAT.md` §4 and §6.
//!
//! Cloud key services (AWS KMS, GCP KMS, Azure Key Vault, Vault transit) are each behind a
//! default-on cargo feature; [`remote`] is what they share. A render first calls
//! [`Keyring::prefetch`] with the metadata of all its files, so that their data keys are
//! unwrapped concurrently; each distinct wrapped key is unwrapped once per run.

pub mod age;
pub mod age_pq;
#[cfg(feature = "aws-kms")]
pub mod aws_kms;
#[cfg(feature = "azure-kv")]
pub mod azure_kv;
#[cfg(feature = "gcp-kms")]
pub mod gcp_kms;
#[cfg(feature = "hc-vault")]
pub mod hc_vault;
pub mod pgp;
#[cfg(feature = "remote")]
pub mod remote;
#[cfg(feature = "http")]
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

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
    /// A network service: worth unwrapping concurrently ([`Keyring::prefetch`]).
    fn is_remote(&self) -> bool {
        false
    }
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

type Unwrapped = Result<Zeroizing<Vec<u8>>, KeyError>;

/// `KUNSEAL_KMS_CONCURRENCY`: key-service requests in flight at most (default 16, 1–1024);
/// the keyring's prefetch and the services' shared runtime both keep to it.
pub fn concurrency_from_env() -> usize {
    crate::env_nonempty("KUNSEAL_KMS_CONCURRENCY").and_then(|v| v.trim().parse().ok()).unwrap_or(16usize).clamp(1, 1024)
}

/// All backends, the decryption order, and a cache so that a wrapped key shared by many
/// files is unwrapped once per run (also when two threads ask for it at the same time).
pub struct Keyring {
    backends: Vec<Box<dyn KeyBackend>>,
    order: Vec<String>,
    cache: Mutex<HashMap<String, Arc<OnceLock<Unwrapped>>>>,
    /// Files whose data keys [`Keyring::prefetch`] opens at the same time.
    concurrency: usize,
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
        #[allow(unused_mut)]
        let mut backends: Vec<Box<dyn KeyBackend>> = vec![Box::new(age::AgeBackend::from_env()), Box::new(pgp::PgpBackend::from_env())];
        #[cfg(feature = "aws-kms")]
        backends.push(Box::new(aws_kms::AwsKmsBackend::new()));
        #[cfg(feature = "gcp-kms")]
        backends.push(Box::new(gcp_kms::GcpKmsBackend::from_env()));
        #[cfg(feature = "azure-kv")]
        backends.push(Box::new(azure_kv::AzureKvBackend::from_env()));
        #[cfg(feature = "hc-vault")]
        backends.push(Box::new(hc_vault::VaultBackend::from_env()));
        let mut k = Keyring::new(backends, order);
        k.concurrency = concurrency_from_env();
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
        Keyring { backends, order, cache: Mutex::new(HashMap::new()), concurrency: 16, sealed_spec: None, sealed: std::sync::OnceLock::new() }
    }

    fn rank(&self, kind: &str) -> usize {
        self.order.iter().position(|o| o == kind).unwrap_or(self.order.len())
    }

    /// Unwraps one master key, once per distinct wrapped key: a second caller (another
    /// file, another thread) waits for the first one's answer, success or failure.
    fn unwrap_one(&self, key: &MasterKey) -> Unwrapped {
        let backend = self.backends.iter().find(|b| b.kind() == key.kind()).ok_or(KeyError::Unsupported(key.kind()))?;
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            // The kind is part of the cache key: the same text under another kind of key is
            // another question.
            cache.entry(format!("{}\0{}", key.kind(), key.enc())).or_default().clone()
        };
        cell.get_or_init(|| backend.unwrap_key(key)).clone()
    }

    fn is_remote(&self, key: &MasterKey) -> bool {
        self.backends.iter().any(|b| b.kind() == key.kind() && b.is_remote())
    }

    /// Opens the data keys of many files at once, so that their round trips to key services
    /// overlap: up to `KUNSEAL_KMS_CONCURRENCY` files at a time (default 16), each trying its
    /// keys in decryption order exactly as [`Keyring::data_key`] will. The answers stay in
    /// the cache, where the render's own `data_key` calls find them. Files that name no key
    /// service are left to the render.
    pub fn prefetch(&self, mds: &[&Metadata]) {
        let todo: Vec<&Metadata> = mds.iter().copied().filter(|md| md.key_groups.iter().flatten().any(|k| self.is_remote(k))).collect();
        if todo.len() < 2 {
            return;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = self.concurrency.min(todo.len());
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(md) = todo.get(i) else { break };
                    let _ = self.data_key(md);
                });
            }
        });
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
