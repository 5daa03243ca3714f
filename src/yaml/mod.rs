//! The one module that touches the YAML crate.
//!
//! `parse` turns a (multi-document) YAML text into [`Value`] trees the way sops' YAML store
//! sees it through go-yaml v3 (`stores/yaml/store.go` in getsops/sops, `resolve.go` in
//! go-yaml): comments become items of the mapping or list around them, anchors are expanded,
//! plain scalars get go-yaml's types. `emit` writes trees back as go-yaml v3 would.
//! Limits guard against alias bombs, deep nesting and duplicate keys.

mod emit;
mod fast;
mod parse;

pub use emit::{emit_documents, emit_value, EmitOptions};
pub use parse::{parse_documents, Document, Limits};

/// A YAML syntax or limit error. Messages carry positions, never document contents.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {col}: {msg}")]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}
