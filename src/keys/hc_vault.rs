//! HashiCorp Vault transit (`hc_vault` keys): `POST {vault_address}/v1/{engine_path}/decrypt/{key_name}`
//! with the `vault:v1:…` ciphertext sops stored; the answer's `data.plaintext` is the base64
//! of the data key (sops' `hcvault/keysource.go`).
//!
//! As the Vault client sops uses: the address from the key (else `VAULT_ADDR`), the token from
//! `VAULT_TOKEN` else `~/.vault-token`, `VAULT_NAMESPACE`, and TLS from `VAULT_CACERT`,
//! `VAULT_CLIENT_CERT` + `VAULT_CLIENT_KEY` and `VAULT_SKIP_VERIFY`. With none of the TLS
//! settings the shared client serves; with them, Vault gets a client of its own (so that a
//! skipped verification never reaches the other services).

use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::remote::{self, take_secret};
use super::{KeyBackend, KeyError};
use crate::sops::metadata::MasterKey;

pub struct VaultBackend {
    token: Option<Zeroizing<String>>,
    namespace: Option<String>,
    default_addr: Option<String>,
    tls: Tls,
    own_client: OnceLock<Result<reqwest::Client, String>>,
}

#[derive(Default)]
struct Tls {
    ca_cert: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
    skip_verify: bool,
}

impl Tls {
    fn is_default(&self) -> bool {
        self.ca_cert.is_none() && self.client_cert.is_none() && !self.skip_verify
    }
}

impl VaultBackend {
    pub fn from_env() -> VaultBackend {
        let token = crate::env_nonempty("VAULT_TOKEN").or_else(|| {
            let home = std::env::var_os("HOME")?;
            std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token")).ok()
        });
        let truthy = |v: String| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "t" | "yes");
        VaultBackend {
            token: token.map(|t| Zeroizing::new(t.trim().to_string())).filter(|t| !t.is_empty()),
            namespace: crate::env_nonempty("VAULT_NAMESPACE"),
            default_addr: crate::env_nonempty("VAULT_ADDR"),
            tls: Tls {
                ca_cert: crate::env_nonempty("VAULT_CACERT"),
                client_cert: crate::env_nonempty("VAULT_CLIENT_CERT"),
                client_key: crate::env_nonempty("VAULT_CLIENT_KEY"),
                skip_verify: crate::env_nonempty("VAULT_SKIP_VERIFY").is_some_and(truthy),
            },
            own_client: OnceLock::new(),
        }
    }

    fn client<'a>(&'a self, shared: &'a remote::Remote) -> Result<&'a reqwest::Client, KeyError> {
        if self.tls.is_default() {
            return shared.http();
        }
        self.own_client
            .get_or_init(|| {
                let mut b = reqwest::Client::builder().timeout(shared.settings.timeout).danger_accept_invalid_certs(self.tls.skip_verify);
                if let Some(ca) = &self.tls.ca_cert {
                    let pem = std::fs::read(ca).map_err(|e| format!("VAULT_CACERT {ca}: {}", e.kind()))?;
                    for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| format!("VAULT_CACERT {ca}: not PEM certificates"))? {
                        b = b.add_root_certificate(cert);
                    }
                }
                match (&self.tls.client_cert, &self.tls.client_key) {
                    (Some(c), Some(k)) => {
                        let mut pem = Zeroizing::new(std::fs::read(c).map_err(|e| format!("VAULT_CLIENT_CERT {c}: {}", e.kind()))?);
                        pem.push(b'\n');
                        pem.extend_from_slice(&Zeroizing::new(std::fs::read(k).map_err(|e| format!("VAULT_CLIENT_KEY {k}: {}", e.kind()))?));
                        b = b.identity(reqwest::Identity::from_pem(&pem).map_err(|_| "VAULT_CLIENT_CERT/VAULT_CLIENT_KEY: not a PEM certificate and key".to_string())?);
                    }
                    (None, None) => {}
                    _ => return Err("VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together".to_string()),
                }
                b.build().map_err(|e| format!("cannot build the Vault HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| KeyError::Failed(e.clone()))
    }
}

impl KeyBackend for VaultBackend {
    fn kind(&self) -> &'static str {
        "hc_vault"
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let MasterKey::HcVault { address, engine_path, key_name, enc } = key else { return Err(KeyError::Unsupported("non-hc_vault")) };
        let token = self.token.as_ref().ok_or_else(|| KeyError::Failed("Vault transit: no token (VAULT_TOKEN or ~/.vault-token)".into()))?;
        let addr = if address.is_empty() { self.default_addr.clone().unwrap_or_default() } else { address.clone() };
        if addr.is_empty() {
            return Err(KeyError::Failed("Vault transit: no address (the key names none and VAULT_ADDR is unset)".into()));
        }
        let url = format!("{}/v1/{}/decrypt/{}", addr.trim_end_matches('/'), engine_path.trim_matches('/'), key_name);
        let shared = remote::shared()?;
        let client = self.client(shared)?;
        let body = serde_json::json!({ "ciphertext": enc });
        let mut answer = shared.run(remote::send_json(&shared.settings, "Vault transit", || {
            let mut r = client.post(&url).header("X-Vault-Token", token.as_str()).json(&body);
            if let Some(ns) = &self.namespace {
                r = r.header("X-Vault-Namespace", ns);
            }
            r
        }))?;
        take_secret(&mut answer, "/data/plaintext").ok_or_else(|| KeyError::Failed("Vault transit: the answer has no base64 data.plaintext".into()))
    }
}
