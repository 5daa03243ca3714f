//! The `sops` block: key groups, MAC, lastmodified and the encryption-selection rules.
//!
//! Spec: `stores/stores.go` (serialisation structs, `ToInternal`) in getsops/sops;
//! `../shared/docs/SOPS-FORMAT.md` §4. Accepts what sops 3.3 through 3.11 wrote (empty
//! `kms: []` lists, flat keys or `key_groups`, numbers or strings from dotenv/INI).

use regex::Regex;
use serde::Deserialize;

use crate::gofmt;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetadataError {
    #[error("no sops metadata found (is this file encrypted with sops?)")]
    Missing,
    #[error("invalid sops metadata: {0}")]
    Invalid(String),
    #[error("sops metadata: lastmodified is not an RFC 3339 time")]
    LastModified,
    #[error("sops metadata sets more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, unencrypted_comment_regex")]
    TooManyRules,
    #[error("sops metadata: {0} is not a valid regular expression")]
    Regex(&'static str),
    #[error("sops metadata has no keys")]
    NoKeys,
}

/// One wrapped copy of the data key (or of a Shamir part).
#[derive(Debug, Clone, PartialEq)]
pub enum MasterKey {
    Age { recipient: String, enc: String },
    Pgp { fp: String, enc: String },
    Kms { arn: String, role: String, context: Vec<(String, String)>, aws_profile: String, enc: String },
    GcpKms { resource_id: String, enc: String },
    AzureKv { vault_url: String, name: String, version: String, enc: String },
    HcVault { address: String, engine_path: String, key_name: String, enc: String },
}

impl MasterKey {
    /// The backend name, as in `SOPS_DECRYPTION_ORDER` (`age`, `pgp`, `kms`, `gcp_kms`,
    /// `azure_kv`, `hc_vault`).
    pub fn kind(&self) -> &'static str {
        match self {
            MasterKey::Age { .. } => "age",
            MasterKey::Pgp { .. } => "pgp",
            MasterKey::Kms { .. } => "kms",
            MasterKey::GcpKms { .. } => "gcp_kms",
            MasterKey::AzureKv { .. } => "azure_kv",
            MasterKey::HcVault { .. } => "hc_vault",
        }
    }

    /// The public identifier of the key, for messages (recipient, fingerprint, ARN, …).
    pub fn id(&self) -> String {
        match self {
            MasterKey::Age { recipient, .. } => recipient.clone(),
            MasterKey::Pgp { fp, .. } => fp.clone(),
            MasterKey::Kms { arn, .. } => arn.clone(),
            MasterKey::GcpKms { resource_id, .. } => resource_id.clone(),
            MasterKey::AzureKv { vault_url, name, version, .. } => format!("{vault_url}/keys/{name}/{version}"),
            MasterKey::HcVault { address, engine_path, key_name, .. } => format!("{address}/v1/{engine_path}/keys/{key_name}"),
        }
    }

    pub fn enc(&self) -> &str {
        match self {
            MasterKey::Age { enc, .. }
            | MasterKey::Pgp { enc, .. }
            | MasterKey::Kms { enc, .. }
            | MasterKey::GcpKms { enc, .. }
            | MasterKey::AzureKv { enc, .. }
            | MasterKey::HcVault { enc, .. } => enc,
        }
    }
}

/// Which values of a tree are encrypted (`shouldBeEncrypted` in sops.go).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<Regex>,
    pub encrypted_regex: Option<Regex>,
    pub unencrypted_comment_regex: Option<Regex>,
    pub encrypted_comment_regex: Option<Regex>,
}

#[derive(Debug, Clone)]
pub struct Metadata {
    pub key_groups: Vec<Vec<MasterKey>>,
    pub shamir_threshold: usize,
    /// As written in the file.
    pub lastmodified: String,
    /// `Format(time.RFC3339)` of lastmodified: the AAD of the MAC.
    pub lastmodified_aad: String,
    pub mac: String,
    pub rules: Rules,
    pub mac_only_encrypted: bool,
    pub version: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGroup {
    #[serde(deserialize_with = "list")]
    pgp: Vec<RawKey>,
    #[serde(deserialize_with = "list")]
    kms: Vec<RawKey>,
    #[serde(deserialize_with = "list")]
    gcp_kms: Vec<RawKey>,
    #[serde(deserialize_with = "list")]
    azure_kv: Vec<RawKey>,
    #[serde(deserialize_with = "list")]
    hc_vault: Vec<RawKey>,
    #[serde(deserialize_with = "list")]
    age: Vec<RawKey>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawKey {
    #[serde(deserialize_with = "text")]
    recipient: String,
    #[serde(deserialize_with = "text")]
    enc: String,
    #[serde(deserialize_with = "text")]
    fp: String,
    #[serde(deserialize_with = "text")]
    arn: String,
    #[serde(deserialize_with = "text")]
    role: String,
    context: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(deserialize_with = "text")]
    aws_profile: String,
    #[serde(deserialize_with = "text")]
    resource_id: String,
    #[serde(deserialize_with = "text")]
    vault_url: String,
    #[serde(deserialize_with = "text")]
    name: String,
    #[serde(deserialize_with = "text")]
    version: String,
    #[serde(deserialize_with = "text")]
    vault_address: String,
    #[serde(deserialize_with = "text")]
    engine_path: String,
    #[serde(deserialize_with = "text")]
    key_name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMetadata {
    #[serde(deserialize_with = "number")]
    shamir_threshold: usize,
    #[serde(deserialize_with = "list")]
    key_groups: Vec<RawGroup>,
    #[serde(flatten)]
    flat: RawGroup,
    #[serde(deserialize_with = "text")]
    lastmodified: String,
    #[serde(deserialize_with = "text")]
    mac: String,
    #[serde(deserialize_with = "text")]
    unencrypted_suffix: String,
    #[serde(deserialize_with = "text")]
    encrypted_suffix: String,
    #[serde(deserialize_with = "text")]
    unencrypted_regex: String,
    #[serde(deserialize_with = "text")]
    encrypted_regex: String,
    #[serde(deserialize_with = "text")]
    unencrypted_comment_regex: String,
    #[serde(deserialize_with = "text")]
    encrypted_comment_regex: String,
    #[serde(deserialize_with = "boolean")]
    mac_only_encrypted: bool,
    #[serde(deserialize_with = "text")]
    version: String,
}

fn list<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return Err(serde::de::Error::custom("expected a string")),
    })
}

fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let f = match &v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse::<f64>().ok(),
        serde_json::Value::Null => Some(0.0),
        _ => None,
    };
    match f {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 256.0 => Ok(f as usize),
        _ => Err(serde::de::Error::custom("shamir_threshold must be a small whole number")),
    }
}

fn boolean<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::String(s) if s == "true" || s == "True" => Ok(true),
        serde_json::Value::String(s) if s == "false" || s == "False" || s.is_empty() => Ok(false),
        serde_json::Value::Null => Ok(false),
        _ => Err(serde::de::Error::custom("expected a boolean")),
    }
}

fn group(raw: RawGroup) -> Vec<MasterKey> {
    let mut keys = Vec::new();
    keys.extend(raw.age.into_iter().map(|k| MasterKey::Age { recipient: k.recipient, enc: k.enc }));
    keys.extend(raw.pgp.into_iter().map(|k| MasterKey::Pgp { fp: k.fp, enc: k.enc }));
    keys.extend(raw.kms.into_iter().map(|k| MasterKey::Kms {
        arn: k.arn,
        role: k.role,
        context: k
            .context
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect(),
        aws_profile: k.aws_profile,
        enc: k.enc,
    }));
    keys.extend(raw.gcp_kms.into_iter().map(|k| MasterKey::GcpKms { resource_id: k.resource_id, enc: k.enc }));
    keys.extend(raw.azure_kv.into_iter().map(|k| MasterKey::AzureKv { vault_url: k.vault_url, name: k.name, version: k.version, enc: k.enc }));
    keys.extend(raw.hc_vault.into_iter().map(|k| MasterKey::HcVault {
        address: k.vault_address,
        engine_path: k.engine_path,
        key_name: k.key_name,
        enc: k.enc,
    }));
    keys
}

fn regex(s: String, name: &'static str) -> Result<Option<Regex>, MetadataError> {
    if s.is_empty() {
        return Ok(None);
    }
    Regex::new(&s).map(Some).map_err(|_| MetadataError::Regex(name))
}

impl Metadata {
    /// Reads the metadata from its JSON view (YAML and JSON `sops` keys, or the unflattened
    /// dotenv/INI form).
    pub fn from_json(v: serde_json::Value) -> Result<Metadata, MetadataError> {
        if !v.is_object() {
            return Err(MetadataError::Missing);
        }
        let raw: RawMetadata = serde_json::from_value(v).map_err(|e| MetadataError::Invalid(e.to_string()))?;
        let lastmodified_aad = gofmt::canonical_rfc3339(&raw.lastmodified).ok_or(MetadataError::LastModified)?;
        let flat = group(raw.flat);
        let key_groups = if !flat.is_empty() {
            vec![flat]
        } else {
            raw.key_groups.into_iter().map(group).collect::<Vec<_>>()
        };
        if key_groups.iter().all(|g| g.is_empty()) {
            return Err(MetadataError::NoKeys);
        }
        let set = [
            &raw.unencrypted_suffix,
            &raw.encrypted_suffix,
            &raw.unencrypted_regex,
            &raw.encrypted_regex,
            &raw.unencrypted_comment_regex,
            &raw.encrypted_comment_regex,
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .count();
        if set > 1 {
            return Err(MetadataError::TooManyRules);
        }
        let mut rules = Rules {
            unencrypted_suffix: Some(raw.unencrypted_suffix).filter(|s| !s.is_empty()),
            encrypted_suffix: Some(raw.encrypted_suffix).filter(|s| !s.is_empty()),
            unencrypted_regex: regex(raw.unencrypted_regex, "unencrypted_regex")?,
            encrypted_regex: regex(raw.encrypted_regex, "encrypted_regex")?,
            unencrypted_comment_regex: regex(raw.unencrypted_comment_regex, "unencrypted_comment_regex")?,
            encrypted_comment_regex: regex(raw.encrypted_comment_regex, "encrypted_comment_regex")?,
        };
        if set == 0 {
            rules.unencrypted_suffix = Some("_unencrypted".into());
        }
        Ok(Metadata {
            key_groups,
            shamir_threshold: raw.shamir_threshold,
            lastmodified: raw.lastmodified,
            lastmodified_aad,
            mac: raw.mac,
            rules,
            mac_only_encrypted: raw.mac_only_encrypted,
            version: raw.version,
        })
    }

    /// Parts needed to rebuild the data key: `shamir_threshold`, or every group when unset.
    pub fn threshold(&self) -> usize {
        if self.shamir_threshold == 0 {
            self.key_groups.len()
        } else {
            self.shamir_threshold
        }
    }
}

/// Rebuilds the nested metadata object from dotenv/INI's flattened keys
/// (`stores/flatten.go`: `__map_<k>` and `__list_<i>` path segments).
pub fn unflatten(pairs: &[(String, String)]) -> serde_json::Value {
    use serde_json::Value as J;
    fn insert(node: &mut J, segs: &[Seg], value: String) {
        match segs.split_first() {
            None => *node = J::String(value),
            Some((Seg::Key(k), rest)) => {
                if !node.is_object() {
                    *node = J::Object(Default::default());
                }
                let child = node.as_object_mut().unwrap().entry(k.clone()).or_insert(J::Null);
                insert(child, rest, value);
            }
            Some((Seg::Index(i), rest)) => {
                if !node.is_array() {
                    *node = J::Array(Vec::new());
                }
                let arr = node.as_array_mut().unwrap();
                while arr.len() <= *i {
                    arr.push(J::Null);
                }
                insert(&mut arr[*i], rest, value);
            }
        }
    }
    enum Seg {
        Key(String),
        Index(usize),
    }
    let mut root = J::Object(Default::default());
    for (k, v) in pairs {
        let mut segs = Vec::new();
        let mut parts = k.split("__");
        if let Some(first) = parts.next() {
            segs.push(Seg::Key(first.to_string()));
        }
        for p in parts {
            if let Some(m) = p.strip_prefix("map_") {
                segs.push(Seg::Key(m.to_string()));
            } else if let Some(i) = p.strip_prefix("list_").and_then(|i| i.parse::<usize>().ok()) {
                if i > 4096 {
                    continue;
                }
                segs.push(Seg::Index(i));
            } else {
                segs.push(Seg::Key(p.to_string()));
            }
        }
        insert(&mut root, &segs, v.replace("\\n", "\n"));
    }
    root
}
