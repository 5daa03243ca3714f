//! What the cloud key services share: one tokio runtime and one HTTP client, both started
//! on first use (a render with only age keys never starts them), a bound on requests in
//! flight, a timeout per request, and bounded retries with backoff on throttling, 5xx and
//! connection failures.
//!
//! Settings (environment):
//! - `KUNSEAL_KMS_CONCURRENCY`: requests in flight at most (default 16);
//! - `KUNSEAL_KMS_TIMEOUT`: seconds per request (default 20);
//! - `KUNSEAL_KMS_RETRIES`: retries after the first attempt (default 3; backoff 100 ms,
//!   doubling, with jitter).
//!
//! Errors name the service and the HTTP status with the service's own short message (the
//! keyring adds the key id); tokens and key material never appear in them.

use std::sync::OnceLock;
use std::time::Duration;

use super::KeyError;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub concurrency: usize,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
}

impl Settings {
    pub fn from_env() -> Settings {
        let num = |name: &str, default: u64| crate::env_nonempty(name).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(default);
        Settings {
            concurrency: super::concurrency_from_env(),
            timeout: Duration::from_secs(num("KUNSEAL_KMS_TIMEOUT", 20).max(1)),
            retries: num("KUNSEAL_KMS_RETRIES", 3).min(20) as u32,
            backoff: Duration::from_millis(100),
        }
    }

    /// The pause before retry `n` (1-based): the backoff doubled each time, plus up to half
    /// of it again at random so that many clients do not retry in step.
    pub fn pause(&self, n: u32) -> Duration {
        let base = self.backoff.saturating_mul(1 << (n.saturating_sub(1)).min(10));
        let mut r = [0u8; 2];
        let _ = aws_lc_rs::rand::fill(&mut r);
        let jitter = base.mul_f64(f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 2.0);
        base + jitter
    }
}

/// The shared runtime (and HTTP client), started once per process.
pub struct Remote {
    rt: tokio::runtime::Runtime,
    permits: tokio::sync::Semaphore,
    pub settings: Settings,
    #[cfg(feature = "http")]
    http: OnceLock<Result<reqwest::Client, String>>,
}

static SHARED: OnceLock<Result<Remote, String>> = OnceLock::new();

/// The process's runtime for key services.
pub fn shared() -> Result<&'static Remote, KeyError> {
    SHARED
        .get_or_init(|| {
            let settings = Settings::from_env();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("kunseal-kms")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the key-service runtime: {e}"))?;
            Ok(Remote {
                rt,
                permits: tokio::sync::Semaphore::new(settings.concurrency),
                settings,
                #[cfg(feature = "http")]
                http: OnceLock::new(),
            })
        })
        .as_ref()
        .map_err(|e| KeyError::Failed(e.clone()))
}

impl Remote {
    /// Runs `fut` to completion from a plain (non-async) thread, holding one of the
    /// in-flight permits while it runs.
    pub fn run<T>(&self, fut: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(async {
            let _permit = self.permits.acquire().await.expect("semaphore never closed");
            fut.await
        })
    }

    /// Runs `fut` without taking a permit (credential exchanges made inside a request).
    pub fn block_on<T>(&self, fut: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(fut)
    }

    /// The HTTP client that Vault, GCP KMS and Azure Key Vault share.
    #[cfg(feature = "http")]
    pub fn http(&self) -> Result<&reqwest::Client, KeyError> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5).min(self.settings.timeout))
                    .timeout(self.settings.timeout)
                    .user_agent(concat!("kunseal/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| KeyError::Failed(e.clone()))
    }
}

/// One JSON request to a key service (`service` names it, and the credential or endpoint
/// when that helps), with retries. `make` builds the request afresh for
/// each attempt. Returns the JSON body of a 2xx answer.
#[cfg(feature = "http")]
pub async fn send_json(
    settings: &Settings,
    service: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<serde_json::Value, KeyError> {
    let mut attempt = 0u32;
    loop {
        let outcome = match make().send().await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.bytes().await;
                match body {
                    Ok(body) if status.is_success() => {
                        return serde_json::from_slice(&body)
                            .map_err(|_| KeyError::Failed(format!("{service}: HTTP {}: the answer is not JSON", status.as_u16())));
                    }
                    Ok(body) => {
                        let retry = status.as_u16() == 429 || status.is_server_error();
                        (retry, format!("HTTP {}{}", status.as_u16(), service_message(&body).map(|m| format!(": {m}")).unwrap_or_default()))
                    }
                    Err(e) => (true, format!("HTTP {}: reading the answer failed: {}", status.as_u16(), short(&e))),
                }
            }
            Err(e) => (e.is_timeout() || e.is_connect() || e.is_request(), short(&e)),
        };
        let (retry, what) = outcome;
        if !retry || attempt >= settings.retries {
            let tries = if attempt > 0 { format!(" (after {} attempts)", attempt + 1) } else { String::new() };
            return Err(KeyError::Failed(format!("{service}: {what}{tries}")));
        }
        attempt += 1;
        tokio::time::sleep(settings.pause(attempt)).await;
    }
}

/// A transport error without the URL's query (where a token could sit) or the body.
#[cfg(feature = "http")]
fn short(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_decode() {
        "bad answer"
    } else {
        "request failed"
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = src {
        last = Some(s.to_string());
        src = s.source();
    }
    match last {
        Some(l) => format!("{kind} ({l})"),
        None => kind.to_string(),
    }
}

/// The short message services put in their error bodies: Vault `errors[]`, Google and
/// Azure `error.message`, OAuth `error_description` / `error`. Cut to 200 characters.
pub fn service_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let m = v
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; "))
        .or_else(|| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_string))
        .or_else(|| v.get("error_description").and_then(|m| m.as_str()).map(str::to_string))
        .or_else(|| v.get("error").and_then(|m| m.as_str()).map(str::to_string))
        .or_else(|| v.get("message").and_then(|m| m.as_str()).map(str::to_string))?;
    let m: String = m.chars().filter(|c| !c.is_control()).take(200).collect();
    (!m.is_empty()).then_some(m)
}

/// Takes the base64 secret at `pointer` out of a service's answer, decodes it and wipes the
/// text it came in.
pub fn take_secret(answer: &mut serde_json::Value, pointer: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let serde_json::Value::String(s) = answer.pointer_mut(pointer)?.take() else { return None };
    let s = zeroize::Zeroizing::new(s);
    b64_any(&s).map(zeroize::Zeroizing::new)
}

/// Base64 as the services write it: standard or URL-safe, padded or not.
pub fn b64_any(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let t = s.trim().trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let s = Settings { concurrency: 1, timeout: Duration::from_secs(1), retries: 3, backoff: Duration::from_millis(100) };
        for n in 1..5u32 {
            let base = Duration::from_millis(100 * (1 << (n - 1)));
            let p = s.pause(n);
            assert!(p >= base && p <= base + base / 2, "{n}: {p:?}");
        }
    }

    #[test]
    fn service_messages_are_short_and_found() {
        assert_eq!(service_message(br#"{"errors":["permission denied"]}"#).as_deref(), Some("permission denied"));
        assert_eq!(service_message(br#"{"error":{"code":403,"message":"no"}}"#).as_deref(), Some("no"));
        assert_eq!(service_message(br#"{"error":"invalid_client","error_description":"bad secret"}"#).as_deref(), Some("bad secret"));
        assert_eq!(service_message(b"<html>").as_deref(), None);
        assert_eq!(service_message(format!(r#"{{"message":"{}"}}"#, "x".repeat(500)).as_bytes()).map(|m| m.len()), Some(200));
    }

    #[test]
    fn base64_in_every_spelling() {
        assert_eq!(b64_any("AAEC/w==").unwrap(), vec![0, 1, 2, 255]);
        assert_eq!(b64_any("AAEC_w").unwrap(), vec![0, 1, 2, 255]);
        assert!(b64_any("!!").is_none());
    }
}
