//! dotenv store (`stores/dotenv/store.go`): `KEY=VALUE` lines split at the first '=',
//! `#comment` lines, `\n` in values written as a literal backslash-n; metadata as sorted
//! `sops_<flattened key>=value` lines.

use super::{val_to_string, Loaded, StoreError};
use crate::sops::metadata::unflatten;
use crate::tree::{Item, Value};

pub fn load(bytes: &[u8]) -> Result<Loaded, StoreError> {
    let mut items = Vec::new();
    let mut meta = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if line[0] == b'#' {
            items.push(Item::Comment(String::from_utf8_lossy(&line[1..]).into_owned()));
            continue;
        }
        let pos = line.iter().position(|b| *b == b'=').ok_or(StoreError::Dotenv(n + 1))?;
        let key = String::from_utf8_lossy(&line[..pos]).into_owned();
        let raw = &line[pos + 1..];
        if let Some(k) = key.strip_prefix("sops_") {
            meta.push((k.to_string(), String::from_utf8_lossy(raw).into_owned()));
            continue;
        }
        let value = match String::from_utf8(raw.to_vec()) {
            Ok(s) => Value::Str(s.replace("\\n", "\n")),
            Err(e) => Value::Bytes(e.into_bytes()),
        };
        items.push(Item::Entry(key, value));
    }
    let metadata = if meta.is_empty() { None } else { Some(unflatten(&meta)) };
    Ok(Loaded { branches: vec![items], metadata })
}

pub fn emit(branch: &[Item]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for item in branch {
        match item {
            Item::Comment(c) => {
                out.push(b'#');
                out.extend_from_slice(c.as_bytes());
            }
            Item::Entry(k, v) => {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                match v {
                    Value::Str(s) => out.extend_from_slice(s.replace('\n', "\\n").as_bytes()),
                    other => out.extend(val_to_string(other).ok_or_else(|| StoreError::Emit {
                        what: format!("key {k:?}"),
                        format: "dotenv",
                        why: "it holds a mapping or a list".into(),
                    })?),
                }
            }
        }
        out.push(b'\n');
    }
    Ok(out)
}
