//! SOPS: decrypt (and encrypt) trees as sops 3.3–3.11 write them.
//!
//! Spec: getsops/sops (`sops.go`, `aes/cipher.go`, `stores/`), summarised with its traps in
//! `../shared/docs/SOPS-FORMAT.md`. The pipeline: a store loads branches and the `sops`
//! block → the keyring opens the data key → every encrypted leaf is decrypted in parallel
//! → the MAC over all plaintext in document order is checked → nothing is returned unless
//! every step passed.

pub mod metadata;
pub mod shamir;
pub mod stores;
pub mod value;
pub mod walk;

use crate::keys::{DataKeyError, Keyring};
use crate::tree::Item;
use metadata::{Metadata, MetadataError};
use stores::{Format, StoreError};
use value::{DataCipher, ValueError};

/// Everything that can stop a decryption. Names fields, never values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SopsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    DataKey(#[from] DataKeyError),
    #[error("field {path}: {error}")]
    Value { path: String, error: ValueError },
    #[error("MAC mismatch: the file was modified after it was encrypted (or a clear value was edited)")]
    MacMismatch,
    #[error("the file has no MAC (sops refuses such files too)")]
    MacMissing,
    #[error("the MAC cannot be decrypted: {0}")]
    MacUndecryptable(ValueError),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DecryptOptions {
    /// `--ignore-mac`: skip the MAC check (as sops' flag of the same name).
    pub ignore_mac: bool,
}

/// A decrypted file: plaintext branches and the metadata they came with.
pub struct Decrypted {
    pub branches: Vec<Vec<Item>>,
    pub metadata: Metadata,
    /// Comments that looked encrypted but did not decrypt and were kept as they are.
    pub kept_comments: usize,
}

/// Loads and decrypts a whole file.
pub fn decrypt_bytes(bytes: &[u8], format: Format, keyring: &Keyring, opts: DecryptOptions) -> Result<Decrypted, SopsError> {
    let loaded = stores::load(format, bytes)?;
    let md = Metadata::from_json(loaded.metadata.ok_or(MetadataError::Missing)?)?;
    decrypt_branches(loaded.branches, md, keyring, opts)
}

/// Decrypts branches whose metadata is already read (the KRM modes take the `sops` block
/// from each item themselves).
pub fn decrypt_branches(mut branches: Vec<Vec<Item>>, md: Metadata, keyring: &Keyring, opts: DecryptOptions) -> Result<Decrypted, SopsError> {
    let key = keyring.data_key(&md)?;
    let cipher = DataCipher::new(key);
    for b in branches.iter_mut() {
        walk::normalise_comments(b);
    }
    let result = (|| -> Result<usize, SopsError> {
        let mut leaves = walk::leaves(&mut branches, &md.rules);
        let kept = walk::decrypt_leaves(&mut leaves, &cipher).map_err(|e| SopsError::Value { path: e.path, error: e.error })?;
        if !opts.ignore_mac {
            verify_mac(&leaves, &md, &cipher)?;
        }
        Ok(kept)
    })();
    for b in branches.iter_mut() {
        walk::restore_comments(b);
    }
    let kept_comments = result?;
    Ok(Decrypted { branches, metadata: md, kept_comments })
}

fn verify_mac(leaves: &[walk::Leaf<'_>], md: &Metadata, cipher: &DataCipher) -> Result<(), SopsError> {
    if md.mac.is_empty() {
        return Err(SopsError::MacMissing);
    }
    let stored = match cipher.decrypt(&md.mac, &md.lastmodified_aad).map_err(SopsError::MacUndecryptable)? {
        crate::tree::Value::Str(s) => s,
        _ => return Err(SopsError::MacUndecryptable(ValueError::BadPlaintext("str"))),
    };
    let computed = walk::compute_mac(leaves, md.mac_only_encrypted);
    // Both strings are public digests; length and bytes compared whole.
    if stored.len() != computed.len() || stored.bytes().zip(computed.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) != 0 {
        return Err(SopsError::MacMismatch);
    }
    Ok(())
}

/// Encrypts branches in place with `cipher` under `rules`, as `Tree.Encrypt` does, and
/// returns the MAC (computed over the plaintext first).
pub fn encrypt_branches(branches: &mut [Vec<Item>], md: &Metadata, cipher: &DataCipher) -> Result<String, SopsError> {
    for b in branches.iter_mut() {
        walk::normalise_comments(b);
    }
    let result = (|| -> Result<String, SopsError> {
        let mut leaves = walk::leaves(branches, &md.rules);
        let mac = walk::compute_mac(&leaves, md.mac_only_encrypted);
        for leaf in leaves.iter_mut().filter(|l| l.encrypted) {
            let enc = cipher
                .encrypt(leaf.value, &leaf.aad)
                .map_err(|error| SopsError::Value { path: leaf.display_path(), error })?;
            *leaf.value = match &*leaf.value {
                crate::tree::Value::Comment(_) => crate::tree::Value::Comment(enc),
                _ => crate::tree::Value::Str(enc),
            };
        }
        Ok(mac)
    })();
    for b in branches.iter_mut() {
        walk::restore_comments(b);
    }
    result
}
