//! Reading and writing what runners hand kunseal: KRM ResourceLists (`krm`) and plain
//! multi-document manifest streams (`stream`).

pub mod krm;
pub mod stream;

use crate::tree::Value;
use crate::yaml::{emit_value, EmitOptions};

/// Kubernetes-style YAML (two-space indent) for one manifest.
pub fn emit_manifest(items: &[crate::tree::Item]) -> String {
    emit_value(&Value::Map(items.to_vec()), EmitOptions { indent: 2 })
}
