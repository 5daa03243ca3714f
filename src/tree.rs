//! The ordered, typed document tree every store loads into and emits from.
//!
//! It mirrors sops' `TreeBranch` (`sops.go` in getsops/sops): mappings keep their key order,
//! comments are items of the mapping or list that holds them, and scalars carry the Go type
//! sops would give them (see `../shared/docs/SOPS-FORMAT.md` §1), because the type decides
//! both the plaintext bytes under AES-GCM and the bytes fed to the MAC.

use crate::gofmt;

/// One node of a document.
#[derive(Clone, PartialEq)]
pub enum Value {
    Map(Vec<Item>),
    /// A list; `Value::Comment` entries are comments between its items.
    Seq(Vec<Value>),
    Str(String),
    /// Non-UTF-8 strings and sops' `bytes` type.
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A timestamp, held as Go's RFC 3339 (nano) text: what `time.Time.MarshalText` writes.
    Time(String),
    Null,
    Comment(String),
}

/// One entry of a mapping: a key and its value, or a comment line.
#[derive(Clone, PartialEq)]
pub enum Item {
    Entry(String, Value),
    Comment(String),
}

// Values may be secrets: Debug never prints scalar contents.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Map(items) => f.debug_list().entries(items).finish(),
            Value::Seq(items) => f.debug_list().entries(items).finish(),
            other => write!(f, "<{}>", other.type_name()),
        }
    }
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Entry(k, v) => write!(f, "{k:?}: {v:?}"),
            Item::Comment(_) => write!(f, "#<comment>"),
        }
    }
}

impl Value {
    /// The sops type tag of a scalar (`str`, `int`, `float`, `bool`, `time`, `bytes`, `comment`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Map(_) => "map",
            Value::Seq(_) => "list",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time",
            Value::Null => "null",
            Value::Comment(_) => "comment",
        }
    }

    /// sops' `ToBytes`: the plaintext serialisation used both under AES-GCM and for the MAC.
    /// `None` for containers and null, which are never encrypted nor hashed.
    pub fn to_sops_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            Value::Str(s) | Value::Comment(s) | Value::Time(s) => s.as_bytes().to_vec(),
            Value::Bytes(b) => b.clone(),
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Float(f) => gofmt::format_f(*f).into_bytes(),
            Value::Bool(true) => b"True".to_vec(),
            Value::Bool(false) => b"False".to_vec(),
            Value::Map(_) | Value::Seq(_) | Value::Null => return None,
        })
    }

    pub fn as_map(&self) -> Option<&Vec<Item>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks up a key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| map_get(m, key))
    }

    /// Scalar as text, for metadata fields (`str` as is, numbers and bools as Go prints them).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) | Value::Time(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(gofmt::format_f(*f)),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

pub fn map_get<'a>(items: &'a [Item], key: &str) -> Option<&'a Value> {
    items.iter().find_map(|i| match i {
        Item::Entry(k, v) if k == key => Some(v),
        _ => None,
    })
}

/// Sets `key` in a mapping, in place if present, else appended.
pub fn set_entry(items: &mut Vec<Item>, key: &str, v: Value) {
    for i in items.iter_mut() {
        if let Item::Entry(k, old) = i {
            if k == key {
                *old = v;
                return;
            }
        }
    }
    items.push(Item::Entry(key.into(), v));
}

/// Converts a tree (comments dropped) into JSON, for typed views such as the sops metadata.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Map(items) => J::Object(
            items
                .iter()
                .filter_map(|i| match i {
                    Item::Entry(k, v) => Some((k.clone(), to_json(v))),
                    Item::Comment(_) => None,
                })
                .collect(),
        ),
        Value::Seq(items) => J::Array(
            items.iter().filter(|v| !matches!(v, Value::Comment(_))).map(to_json).collect(),
        ),
        Value::Str(s) | Value::Time(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Value::Bool(b) => J::Bool(*b),
        Value::Null | Value::Comment(_) => J::Null,
    }
}
