//! OAuth access tokens for GCP KMS and Azure Key Vault: fetched once per run and scope,
//! shared by every key (a second caller waits for the first one's answer), never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use zeroize::Zeroizing;

use super::remote::{self, Remote};
use super::KeyError;

pub type Token = Result<Zeroizing<String>, KeyError>;

/// One token per scope, fetched on first use.
#[derive(Default)]
pub struct TokenCache {
    cells: Mutex<HashMap<String, Arc<OnceLock<Token>>>>,
}

impl TokenCache {
    pub fn get(&self, scope: &str, fetch: impl FnOnce() -> Token) -> Token {
        let cell = self.cells.lock().unwrap_or_else(|e| e.into_inner()).entry(scope.to_string()).or_default().clone();
        cell.get_or_init(fetch).clone()
    }
}

/// A token from an OAuth token endpoint (`POST` of a form); `service` names the credential
/// in errors ("GCP service account", "Azure client secret", …).
pub fn from_form(remote: &Remote, service: &str, who: &str, url: &str, form: &[(&str, &str)]) -> Token {
    let client = remote.http()?;
    let form: Vec<(String, Zeroizing<String>)> = form.iter().map(|(k, v)| (k.to_string(), Zeroizing::new(v.to_string()))).collect();
    let mut answer = remote.block_on(remote::send_json(&remote.settings, &format!("{service} {who}"), || {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        client.post(url).form(&pairs)
    }))?;
    take_token(&mut answer, "/access_token").ok_or_else(|| KeyError::Failed(format!("{service} {who}: the token endpoint gave no access_token")))
}

/// A token from a metadata service (`GET` with the service's headers).
pub fn from_get(remote: &Remote, service: &str, who: &str, url: &str, headers: &[(&str, &str)], pointer: &str, connect: std::time::Duration) -> Token {
    // Its own short connect timeout: off the cloud, nothing answers the metadata address.
    let client = reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(remote.settings.timeout)
        .no_proxy()
        .build()
        .map_err(|e| KeyError::Failed(format!("{service}: cannot build the HTTP client: {e}")))?;
    let settings = remote::Settings { retries: 0, ..remote.settings };
    let mut answer = remote.block_on(remote::send_json(&settings, &format!("{service} {who}"), || {
        let mut r = client.get(url);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r
    }))?;
    take_token(&mut answer, pointer).ok_or_else(|| KeyError::Failed(format!("{service} {who}: the answer has no access token")))
}

fn take_token(answer: &mut serde_json::Value, pointer: &str) -> Option<Zeroizing<String>> {
    match answer.pointer_mut(pointer)?.take() {
        serde_json::Value::String(s) if !s.is_empty() => Some(Zeroizing::new(s)),
        _ => None,
    }
}

/// A compact JWT signed with RS256 by a PKCS#8 RSA key in PEM (a Google service account's
/// `private_key`).
pub fn jwt_rs256(claims: &serde_json::Value, pkcs8_pem: &str, kid: Option<&str>) -> Result<Zeroizing<String>, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body: String = pkcs8_pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|_| "the private key is not PEM")?);
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| "the private key is not a PKCS#8 RSA key")?;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = serde_json::Value::String(kid.to_string());
    }
    let signing_input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), signing_input.as_bytes(), &mut sig)
        .map_err(|_| "signing the token request failed")?;
    Ok(Zeroizing::new(format!("{signing_input}.{}", b64.encode(sig))))
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
