//! File formats: each store loads an encrypted file into branches + the metadata's JSON view,
//! and emits plaintext branches. Spec: `stores/*` in getsops/sops;
//! `../shared/docs/SOPS-FORMAT.md` §5.

pub mod binary;
pub mod dotenv;
pub mod ini;
pub mod json;
pub mod yaml;

use crate::tree::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    Binary,
}

impl Format {
    /// Format from a file name, as sops' `formats.FormatForPath`: anything unknown is binary.
    pub fn from_path(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".env") {
            Format::Dotenv
        } else if lower.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "yaml" | "yml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" | "env" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            _ => return None,
        })
    }
}

/// What a store finds in an encrypted file.
pub struct Loaded {
    pub branches: Vec<Vec<Item>>,
    /// The `sops` block as JSON, `None` when the file has none.
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("invalid YAML")]
    Yaml(#[from] crate::yaml::YamlError),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid dotenv: line {0} has no '='")]
    Dotenv(usize),
    #[error("invalid INI: {0}")]
    Ini(String),
    #[error("{0}")]
    Shape(String),
    #[error("cannot write {what} as {format}: {why}")]
    Emit { what: String, format: &'static str, why: String },
}

pub fn load(format: Format, bytes: &[u8]) -> Result<Loaded, StoreError> {
    match format {
        Format::Yaml => yaml::load(text(bytes)?),
        Format::Json | Format::Binary => json::load(text(bytes)?),
        Format::Dotenv => dotenv::load(bytes),
        Format::Ini => ini::load(text(bytes)?),
    }
}

pub fn emit(format: Format, branches: &[Vec<Item>]) -> Result<Vec<u8>, StoreError> {
    match format {
        Format::Yaml => Ok(yaml::emit(branches).into_bytes()),
        Format::Json => json::emit(branches.first().map_or(&[][..], |b| &b[..])).map(String::into_bytes),
        Format::Dotenv => dotenv::emit(branches.first().map_or(&[][..], |b| &b[..])),
        Format::Ini => ini::emit(branches.first().map_or(&[][..], |b| &b[..])).map(String::into_bytes),
        Format::Binary => binary::emit(branches.first().map_or(&[][..], |b| &b[..])),
    }
}

fn text(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| StoreError::Shape(format!("file is not valid UTF-8 (byte {})", e.valid_up_to())))
}

/// Removes every top-level `sops` entry and returns the first one.
pub fn take_sops(items: &mut Vec<Item>) -> Option<crate::tree::Value> {
    let mut found = None;
    items.retain_mut(|i| match i {
        Item::Entry(k, v) if k == "sops" => {
            if found.is_none() {
                found = Some(std::mem::replace(v, crate::tree::Value::Null));
            }
            false
        }
        _ => true,
    });
    found
}

/// sops' `ValToString` for dotenv/INI output of non-string scalars.
pub(crate) fn val_to_string(v: &crate::tree::Value) -> Option<Vec<u8>> {
    use crate::tree::Value;
    Some(match v {
        Value::Str(s) | Value::Comment(s) => s.clone().into_bytes(),
        Value::Bytes(b) => b.clone(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Time(t) => {
            let ts = crate::gofmt::parse_yaml_timestamp(t)?;
            crate::gofmt::format_rfc3339_nano(&crate::gofmt::Timestamp { nanos: 0, ..ts }).into_bytes()
        }
        Value::Float(f) => {
            let g = crate::gofmt::format_yaml_float(*f).replace('e', "E");
            if !g.contains('.') && !g.contains('E') && f.is_finite() {
                format!("{f:.1}").into_bytes()
            } else {
                g.into_bytes()
            }
        }
        Value::Null => b"<nil>".to_vec(),
        Value::Map(_) | Value::Seq(_) => return None,
    })
}
