//! Azure Key Vault (`azure_kv` keys): `POST {vault_url}/keys/{name}/{version}/unwrapkey`
//! with `alg: RSA-OAEP-256` and the unpadded base64url `enc` sops stored; the answer's
//! `value` is the data key (sops' `azkv/keysource.go`, Key Vault REST API 7.4).
//!
//! Credentials, in the order of the Azure SDK's default chain that sops uses:
//! 1. client secret: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`;
//! 2. workload identity: `AZURE_FEDERATED_TOKEN_FILE` with `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`;
//! 3. managed identity: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service, Functions,
//!    Container Apps), else the instance metadata service (`AZURE_CLIENT_ID` picks a
//!    user-assigned identity);
//! 4. the Azure CLI (`az account get-access-token`).
//!
//! Tokens come from `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com/`)
//! for the vault's cloud (`https://vault.azure.net`, or the suffix of a sovereign cloud's
//! vault host). Not supported: client certificates (`AZURE_CLIENT_CERTIFICATE_PATH`).

use zeroize::Zeroizing;

use super::remote::{self, take_secret, Remote};
use super::token::{self, Token, TokenCache};
use super::{KeyBackend, KeyError};
use crate::sops::metadata::MasterKey;

const SERVICE: &str = "Azure Key Vault";
const API_VERSION: &str = "7.4";

pub struct AzureKvBackend {
    tokens: TokenCache,
}

impl AzureKvBackend {
    pub fn from_env() -> AzureKvBackend {
        AzureKvBackend { tokens: TokenCache::default() }
    }
}

/// The token audience for a vault: `https://vault.azure.net` for `x.vault.azure.net`, the
/// same shape for sovereign clouds (`x.vault.azure.cn` → `https://vault.azure.cn`).
pub fn resource_for(vault_url: &str) -> String {
    let host = vault_url.split("://").nth(1).unwrap_or(vault_url).split(['/', ':']).next().unwrap_or("");
    match host.split_once('.') {
        Some((_, rest)) if rest.starts_with("vault.") => format!("https://{rest}"),
        _ => "https://vault.azure.net".to_string(),
    }
}

fn fetch_token(remote: &Remote, resource: &str) -> Token {
    let authority = crate::env_nonempty("AZURE_AUTHORITY_HOST").unwrap_or_else(|| "https://login.microsoftonline.com/".to_string());
    let scope = format!("{resource}/.default");
    let tenant = crate::env_nonempty("AZURE_TENANT_ID");
    let client = crate::env_nonempty("AZURE_CLIENT_ID");
    let token_url = |t: &str| format!("{}/{t}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    if let (Some(t), Some(c), Some(secret)) = (&tenant, &client, crate::env_nonempty("AZURE_CLIENT_SECRET").map(Zeroizing::new)) {
        return token::from_form(
            remote,
            "Azure client secret",
            c,
            &token_url(t),
            &[("grant_type", "client_credentials"), ("client_id", c), ("client_secret", &secret), ("scope", &scope)],
        );
    }
    if let (Some(t), Some(c), Some(file)) = (&tenant, &client, crate::env_nonempty("AZURE_FEDERATED_TOKEN_FILE")) {
        let assertion = Zeroizing::new(
            std::fs::read_to_string(&file).map_err(|e| KeyError::Failed(format!("AZURE_FEDERATED_TOKEN_FILE {file}: {}", e.kind())))?,
        );
        return token::from_form(
            remote,
            "Azure workload identity",
            c,
            &token_url(t),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", c),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion.trim()),
                ("scope", &scope),
            ],
        );
    }
    if let (Some(endpoint), Some(header)) = (crate::env_nonempty("IDENTITY_ENDPOINT"), crate::env_nonempty("IDENTITY_HEADER").map(Zeroizing::new)) {
        let mut url = format!("{endpoint}?api-version=2019-08-01&resource={resource}");
        if let Some(c) = &client {
            url.push_str(&format!("&client_id={c}"));
        }
        return token::from_get(remote, "Azure managed identity", &endpoint, &url, &[("X-IDENTITY-HEADER", &header)], "/access_token", remote.settings.timeout);
    }
    let mut url = format!("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}");
    if let Some(c) = &client {
        url.push_str(&format!("&client_id={c}"));
    }
    let imds = token::from_get(remote, "Azure managed identity", "IMDS", &url, &[("Metadata", "true")], "/access_token", std::time::Duration::from_secs(1));
    if imds.is_ok() {
        return imds;
    }
    azure_cli(resource).map_err(|cli| {
        KeyError::Failed(format!(
            "no Azure credentials: no client secret or federated token (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET / AZURE_FEDERATED_TOKEN_FILE), no managed identity, and {cli}"
        ))
    })
}

fn azure_cli(resource: &str) -> Token {
    let out = std::process::Command::new("az")
        .args(["account", "get-access-token", "--resource", resource, "-o", "json"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|_| KeyError::Failed("the Azure CLI (az) is not available".into()))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(KeyError::Failed("the Azure CLI (az) gave no token (az login?)".into()));
    }
    let mut v: serde_json::Value = serde_json::from_slice(&stdout).map_err(|_| KeyError::Failed("the Azure CLI's answer is not JSON".into()))?;
    match v.get_mut("accessToken").map(serde_json::Value::take) {
        Some(serde_json::Value::String(t)) => Ok(Zeroizing::new(t)),
        _ => Err(KeyError::Failed("the Azure CLI's answer has no accessToken".into())),
    }
}

impl KeyBackend for AzureKvBackend {
    fn kind(&self) -> &'static str {
        "azure_kv"
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let MasterKey::AzureKv { vault_url, name, version, enc } = key else { return Err(KeyError::Unsupported("non-azure_kv")) };
        let shared = remote::shared()?;
        let resource = resource_for(vault_url);
        let token = self.tokens.get(&resource, || fetch_token(shared, &resource))?;
        let client = shared.http()?;
        let url = format!("{}/keys/{}/{}/unwrapkey?api-version={API_VERSION}", vault_url.trim_end_matches('/'), name, version);
        let body = serde_json::json!({ "alg": "RSA-OAEP-256", "value": enc.trim() });
        let mut answer = shared.run(remote::send_json(&shared.settings, SERVICE, || client.post(&url).bearer_auth(token.as_str()).json(&body)))?;
        take_secret(&mut answer, "/value").ok_or_else(|| KeyError::Failed(format!("{SERVICE}: the answer has no base64url value")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_audience_follows_the_vault_cloud() {
        assert_eq!(super::resource_for("https://my.vault.azure.net"), "https://vault.azure.net");
        assert_eq!(super::resource_for("https://my.vault.azure.cn/"), "https://vault.azure.cn");
        assert_eq!(super::resource_for("http://127.0.0.1:8200"), "https://vault.azure.net");
    }
}
