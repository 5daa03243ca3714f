//! SealedSecrets (bitnami-labs/sealed-secrets): the hybrid RSA-OAEP + AES-GCM layout, the
//! controller's private keys, unsealing into the Secret the controller would make, and the
//! templates of `template.data`. Spec: `../shared/docs/SEALED-SECRETS-FORMAT.md`.

pub mod der;
pub mod hybrid;
pub mod keys;
pub mod seal;
pub mod template;
pub mod unseal;
