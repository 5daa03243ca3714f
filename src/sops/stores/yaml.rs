//! YAML store: every document is a branch; the metadata is read from the first document and
//! the `sops` key is removed from all of them (`stores/yaml/store.go`).

use super::{take_sops, Loaded, StoreError};
use crate::tree::{to_json, Item, Value};
use crate::yaml::{self, EmitOptions, Limits};

pub fn load(src: &str) -> Result<Loaded, StoreError> {
    let docs = yaml::parse_documents(src, Limits::default())?;
    let mut branches = Vec::with_capacity(docs.len());
    let mut metadata = None;
    for (i, d) in docs.into_iter().enumerate() {
        let mut items = match d.root {
            Value::Map(items) => items,
            Value::Null => Vec::new(),
            Value::Seq(_) => return Err(StoreError::Shape(format!("YAML document {} is a list; sops files are mappings", i + 1))),
            _ => return Err(StoreError::Shape(format!("YAML document {} is a single value; sops files are mappings", i + 1))),
        };
        let sops = take_sops(&mut items);
        if i == 0 {
            metadata = sops.map(|v| to_json(&v));
        }
        branches.push(items);
    }
    Ok(Loaded { branches, metadata })
}

pub fn emit(branches: &[Vec<Item>]) -> String {
    let docs: Vec<Value> = branches.iter().map(|b| Value::Map(b.clone())).collect();
    let refs: Vec<&Value> = docs.iter().collect();
    yaml::emit_documents(&refs, EmitOptions { indent: 4 })
}
