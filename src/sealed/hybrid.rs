//! The sealed-secrets hybrid layout (`pkg/crypto/crypto.go` in bitnami-labs/sealed-secrets):
//! `u16 BE len(rsa) ‖ RSA-OAEP(SHA-256, MGF1 SHA-256, label)(session key) ‖ AES-256-GCM(zero
//! 12-byte nonce, no AAD)(plaintext) ‖ tag`. No key id: every key is tried.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes256Gcm;
use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HybridError {
    #[error("SealedSecret data is too short")]
    TooShort,
    #[error("no key could decrypt secret")]
    NoKey,
    #[error("encryption failed")]
    Encrypt,
}

/// The scope label: strict `namespace/name`, namespace-wide `namespace`, cluster-wide empty.
pub fn label(scope: Scope, namespace: &str, name: &str) -> Vec<u8> {
    match scope {
        Scope::Strict => format!("{namespace}/{name}").into_bytes(),
        Scope::NamespaceWide => namespace.as_bytes().to_vec(),
        Scope::ClusterWide => Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Strict,
    NamespaceWide,
    ClusterWide,
}

/// A private key ready for OAEP.
pub struct PrivateKey {
    key: OaepPrivateDecryptingKey,
    /// Public half (SPKI DER), for re-sealing and de-duplication.
    pub public_spki: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    pub fn from_pkcs8(der: &[u8]) -> Option<PrivateKey> {
        use aws_lc_rs::encoding::AsDer;
        let k = PrivateDecryptingKey::from_pkcs8(der).ok()?;
        let public_spki = k.public_key().as_der().ok()?.as_ref().to_vec();
        Some(PrivateKey { key: OaepPrivateDecryptingKey::new(k).ok()?, public_spki })
    }
}

fn split(blob: &[u8]) -> Result<(&[u8], &[u8]), HybridError> {
    if blob.len() < 2 {
        return Err(HybridError::TooShort);
    }
    let n = u16::from_be_bytes([blob[0], blob[1]]) as usize;
    if blob.len() < n + 2 {
        return Err(HybridError::TooShort);
    }
    Ok((&blob[2..2 + n], &blob[2 + n..]))
}

/// Opens one sealed value with the first key that works.
pub fn decrypt(blob: &[u8], label: &[u8], keys: &[PrivateKey]) -> Result<Zeroizing<Vec<u8>>, HybridError> {
    let (rsa, aes) = split(blob)?;
    for k in keys {
        let mut buf = Zeroizing::new(vec![0u8; k.key.min_output_size()]);
        let Ok(session) = k.key.decrypt(&OAEP_SHA256_MGF1SHA256, rsa, &mut buf, Some(label)) else { continue };
        if session.len() != 32 {
            continue;
        }
        let Ok(gcm) = Aes256Gcm::new_from_slice(session) else { continue };
        if let Ok(plain) = gcm.decrypt(&[0u8; 12].into(), aes) {
            return Ok(Zeroizing::new(plain));
        }
    }
    Err(HybridError::NoKey)
}

/// Seals one value to a public key (SPKI DER).
pub fn encrypt(plaintext: &[u8], label: &[u8], spki: &[u8]) -> Result<Vec<u8>, HybridError> {
    use aes_gcm::aead::rand_core::RngCore;
    let pk = PublicEncryptingKey::from_der(spki).map_err(|_| HybridError::Encrypt)?;
    let oaep = OaepPublicEncryptingKey::new(pk).map_err(|_| HybridError::Encrypt)?;
    let mut session = Zeroizing::new([0u8; 32]);
    aes_gcm::aead::OsRng.fill_bytes(&mut session[..]);
    let mut rsa = vec![0u8; oaep.ciphertext_size()];
    let rsa = oaep.encrypt(&OAEP_SHA256_MGF1SHA256, &session[..], &mut rsa, Some(label)).map_err(|_| HybridError::Encrypt)?;
    let gcm = Aes256Gcm::new_from_slice(&session[..]).map_err(|_| HybridError::Encrypt)?;
    let aes = gcm.encrypt(&[0u8; 12].into(), plaintext).map_err(|_| HybridError::Encrypt)?;
    let mut out = Vec::with_capacity(2 + rsa.len() + aes.len());
    out.extend_from_slice(&(rsa.len() as u16).to_be_bytes());
    out.extend_from_slice(rsa);
    out.extend_from_slice(&aes);
    Ok(out)
}
