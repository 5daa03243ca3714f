//! AWS KMS (`kms` keys) with the AWS SDK: `Decrypt` of the base64 `CiphertextBlob` sops
//! stored, with the key's encryption `context` (sops' `kms/keysource.go`).
//!
//! As sops does: the region comes from the key's ARN, `aws_profile` picks a shared-config
//! profile, `role` is assumed through STS (session `kunseal@<host>`). Everything else is the
//! SDK's standard chain — environment, profiles, SSO, web identity (IRSA), EKS Pod Identity,
//! container and instance metadata — and its endpoint settings (`AWS_ENDPOINT_URL_KMS`,
//! `AWS_ENDPOINT_URL`). Retries (standard mode: throttling, 5xx, timeouts, with backoff) and
//! the per-attempt timeout follow `KUNSEAL_KMS_RETRIES` and `KUNSEAL_KMS_TIMEOUT`. One SDK
//! client per (region, profile, role), built once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use zeroize::Zeroizing;

use super::remote::{self, Remote};
use super::{KeyBackend, KeyError};
use crate::sops::metadata::MasterKey;

const SERVICE: &str = "AWS KMS";

type ClientKey = (String, String, String);

#[derive(Default)]
pub struct AwsKmsBackend {
    clients: Mutex<HashMap<ClientKey, Arc<tokio::sync::OnceCell<aws_sdk_kms::Client>>>>,
}

impl AwsKmsBackend {
    pub fn new() -> AwsKmsBackend {
        AwsKmsBackend::default()
    }

    async fn client(&self, remote: &Remote, region: &str, profile: &str, role: &str) -> aws_sdk_kms::Client {
        let cell = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((region.to_string(), profile.to_string(), role.to_string()))
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let s = remote.settings;
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.to_string()))
                .retry_config(RetryConfig::standard().with_max_attempts(s.retries + 1).with_initial_backoff(s.backoff))
                .timeout_config(TimeoutConfig::builder().connect_timeout(s.timeout.min(std::time::Duration::from_secs(5))).operation_attempt_timeout(s.timeout).build());
            if !profile.is_empty() {
                loader = loader.profile_name(profile);
            }
            let conf = loader.load().await;
            let mut kms = aws_sdk_kms::config::Builder::from(&conf);
            if !role.is_empty() {
                let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                    .session_name(session_name())
                    .region(Region::new(region.to_string()))
                    .configure(&conf)
                    .build()
                    .await;
                kms = kms.credentials_provider(provider);
            }
            aws_sdk_kms::Client::from_conf(kms.build())
        })
        .await
        .clone()
    }
}

/// `kunseal@<hostname>`, cut to what STS accepts (`[\w+=,.@-]{2,64}`), as sops names its
/// sessions `sops@<hostname>`.
fn session_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| crate::env_nonempty("HOSTNAME"))
        .unwrap_or_default();
    let clean: String = host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c)).collect();
    let mut name = format!("kunseal@{clean}");
    name.truncate(64);
    name
}

/// The region of `arn:aws:kms:REGION:ACCOUNT:key/ID` (or `alias/NAME`).
pub fn region_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    parts.next()?; // partition: aws, aws-cn, aws-us-gov
    (parts.next()? == "kms").then_some(())?;
    parts.next().filter(|r| !r.is_empty())
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(err: SdkError<E, aws_sdk_kms::config::http::HttpResponse>) -> KeyError {
    let what = match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let e = se.err();
            let code = e.code().unwrap_or("error");
            let msg: String = e.message().unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect();
            if msg.is_empty() {
                format!("HTTP {status}: {code}")
            } else {
                format!("HTTP {status}: {code}: {msg}")
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        other => {
            // Dispatch and construction failures (no credentials, endpoint unreachable): the
            // messages of the error chain, which name providers and hosts, not secrets.
            let mut parts: Vec<String> = Vec::new();
            let mut cur: Option<&dyn std::error::Error> = Some(other);
            while let Some(e) = cur {
                let m = e.to_string();
                if !m.is_empty() && !parts.iter().any(|p| p.contains(&m)) {
                    parts.push(m);
                }
                cur = e.source();
            }
            let mut text = parts.join(": ");
            if text.len() > 400 {
                let cut = (0..=400).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                text.truncate(cut);
            }
            text
        }
    };
    KeyError::Failed(format!("{SERVICE}: {what}"))
}

impl KeyBackend for AwsKmsBackend {
    fn kind(&self) -> &'static str {
        "kms"
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn unwrap_key(&self, key: &MasterKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let MasterKey::Kms { arn, role, context, aws_profile, enc } = key else { return Err(KeyError::Unsupported("non-kms")) };
        let region = region_of(arn).ok_or_else(|| KeyError::Failed(format!("{SERVICE}: not a KMS key ARN (no region in it)")))?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(enc.trim())
            .map_err(|_| KeyError::Failed(format!("{SERVICE}: enc is not base64")))?;
        let shared = remote::shared()?;
        let ctx: HashMap<String, String> = context.iter().cloned().collect();
        shared.run(async {
            let client = self.client(shared, region, aws_profile, role).await;
            let mut req = client.decrypt().ciphertext_blob(Blob::new(blob)).key_id(arn.as_str());
            if !ctx.is_empty() {
                req = req.set_encryption_context(Some(ctx));
            }
            let out = req.send().await.map_err(describe)?;
            let plain = out.plaintext.ok_or_else(|| KeyError::Failed(format!("{SERVICE}: the answer has no plaintext")))?;
            Ok(Zeroizing::new(plain.into_inner()))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn region_comes_from_the_arn() {
        assert_eq!(super::region_of("arn:aws:kms:eu-west-1:123456789012:key/abc"), Some("eu-west-1"));
        assert_eq!(super::region_of("arn:aws-cn:kms:cn-north-1:1:alias/x"), Some("cn-north-1"));
        assert_eq!(super::region_of("arn:aws:s3:::bucket"), None);
        assert_eq!(super::region_of("key/abc"), None);
    }

    #[test]
    fn session_names_fit_sts() {
        let n = super::session_name();
        assert!(n.starts_with("kunseal@") && n.len() <= 64);
    }
}
