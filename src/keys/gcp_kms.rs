//! GCP Cloud KMS (`gcp_kms` keys): `POST {endpoint}/v1/{resource_id}:decrypt` with the
//! base64 ciphertext sops stored (its `enc`); the answer's `plaintext` is the data key
//! (sops' `gcpkms/keysource.go`, the REST shape of `CryptoKeys.Decrypt`).
//!
//! Endpoint: `SOPS_GCP_KMS_ENDPOINT` (the variable later sops releases read), else
//! `https://cloudkms.{SOPS_GCP_KMS_UNIVERSE_DOMAIN}`, else `https://cloudkms.googleapis.com`.
//! Credentials, in the order sops and Google's libraries use them:
//! 1. `GOOGLE_OAUTH_ACCESS_TOKEN` (a bare access token);
//! 2. `GOOGLE_CREDENTIALS` (a credentials JSON, or a path to one — sops' own variable);
//! 3. `GOOGLE_APPLICATION_CREDENTIALS` (a path), then gcloud's
//!    `application_default_credentials.json` (`CLOUDSDK_CONFIG`, else `~/.config/gcloud`);
//!    `service_account` files sign a JWT (RS256) for the token endpoint, `authorized_user`
//!    files use their refresh token;
//! 4. the metadata server (`GCE_METADATA_HOST`, else `metadata.google.internal`).
//!
//! Not supported: `external_account` (workload identity federation) credential files — they
//! are refused with a message saying so.

use zeroize::Zeroizing;

use super::remote::{self, take_secret, Remote};
use super::token::{self, Token, TokenCache};
use super::{KeyBackend, KeyError};
use crate::sops::metadata::MasterKey;

const SCOPE: &str = "https://www.googleapis.com/auth/cloudkms";
const SERVICE: &str = "GCP KMS";

pub struct GcpKmsBackend {
    endpoint: String,
    tokens: TokenCache,
}

impl GcpKmsBackend {
    pub fn from_env() -> GcpKmsBackend {
        let endpoint = match (crate::env_nonempty("SOPS_GCP_KMS_ENDPOINT"), crate::env_nonempty("SOPS_GCP_KMS_UNIVERSE_DOMAIN")) {
            (Some(e), _) if e.contains("://") => e,
            (Some(e), _) => format!("https://{e}"),
            (None, Some(ud)) => format!("https://cloudkms.{ud}"),
            (None, None) => "https://cloudkms.googleapis.com".to_string(),
        };
        GcpKmsBackend { endpoint: endpoint.trim_end_matches('/').to_string(), tokens: TokenCache::default() }
    }

    fn token(&self, remote: &Remote) -> Token {
        self.tokens.get(SCOPE, || fetch_token(remote))
    }
}

fn fetch_token(remote: &Remote) -> Token {
    if let Some(t) = crate::env_nonempty("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return Ok(Zeroizing::new(t.trim().to_string()));
    }
    if let Some(c) = crate::env_nonempty("GOOGLE_CREDENTIALS") {
        let json = if c.trim_start().starts_with('{') {
            Zeroizing::new(c)
        } else {
            Zeroizing::new(std::fs::read_to_string(&c).map_err(|e| KeyError::Failed(format!("GOOGLE_CREDENTIALS {c}: {}", e.kind())))?)
        };
        return from_credentials(remote, &json, "GOOGLE_CREDENTIALS");
    }
    let adc = crate::env_nonempty("GOOGLE_APPLICATION_CREDENTIALS").map(|p| (p, true)).or_else(|| {
        let dir = crate::env_nonempty("CLOUDSDK_CONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".config/gcloud")))?;
        Some((dir.join("application_default_credentials.json").to_string_lossy().into_owned(), false))
    });
    if let Some((path, explicit)) = adc {
        match std::fs::read_to_string(&path) {
            Ok(json) => return from_credentials(remote, &Zeroizing::new(json), &path),
            Err(e) if explicit => return Err(KeyError::Failed(format!("GOOGLE_APPLICATION_CREDENTIALS {path}: {}", e.kind()))),
            Err(_) => {}
        }
    }
    let host = crate::env_nonempty("GCE_METADATA_HOST").unwrap_or_else(|| "metadata.google.internal".to_string());
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={SCOPE}");
    token::from_get(remote, "GCP metadata server", &host, &url, &[("Metadata-Flavor", "Google")], "/access_token", std::time::Duration::from_secs(2))
        .map_err(|e| KeyError::Failed(format!("no GCP credentials (GOOGLE_OAUTH_ACCESS_TOKEN, GOOGLE_CREDENTIALS, GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC) and {e}")))
}

/// A token from a credentials JSON file's contents; `origin` names it in errors.
fn from_credentials(remote: &Remote, json: &str, origin: &str) -> Token {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|_| KeyError::Failed(format!("{origin}: not a credentials JSON")))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    match field("type") {
        "service_account" => {
            let email = field("client_email");
            let token_uri = if field("token_uri").is_empty() { "https://oauth2.googleapis.com/token" } else { field("token_uri") };
            let now = token::now();
            let claims = serde_json::json!({"iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600});
            let kid = Some(field("private_key_id")).filter(|k| !k.is_empty());
            let jwt = token::jwt_rs256(&claims, field("private_key"), kid).map_err(|e| KeyError::Failed(format!("{origin}: {e}")))?;
            token::from_form(
                remote,
                "GCP service account",
                email,
                token_uri,
                &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &jwt)],
            )
        }
        "authorized_user" => {
            let token_uri = if field("token_uri").is_empty() { "https://oauth2.googleapis.com/token" } else { field("token_uri") };
            token::from_form(
                remote,
                "GCP user credentials",
                field("client_id"),
                token_uri,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", field("client_id")),
                    ("client_secret", field("client_secret")),
                    ("refresh_token", field("refresh_token")),
                ],
            )
        }
        other => Err(KeyError::Failed(format!("{origin}: credentials of type {other:?} are not supported (service_account, authorized_user)"))),
    }
}

impl KeyBackend for GcpKmsBackend {
    fn kind(&self) -> &'static str {
        "gcp_kms"
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let MasterKey::GcpKms { resource_id, enc } = key else { return Err(KeyError::Unsupported("non-gcp_kms")) };
        // sops stores the ciphertext as standard base64, which is what the REST API takes.
        if remote::b64_any(enc).is_none() {
            return Err(KeyError::Failed(format!("{SERVICE}: enc is not base64")));
        }
        let shared = remote::shared()?;
        let token = self.token(shared)?;
        let client = shared.http()?;
        let url = format!("{}/v1/{}:decrypt", self.endpoint, resource_id.trim_matches('/'));
        let body = serde_json::json!({ "ciphertext": enc.trim() });
        let mut answer = shared.run(remote::send_json(&shared.settings, SERVICE, || client.post(&url).bearer_auth(token.as_str()).json(&body)))?;
        take_secret(&mut answer, "/plaintext").ok_or_else(|| KeyError::Failed(format!("{SERVICE}: the answer has no base64 plaintext")))
    }
}
