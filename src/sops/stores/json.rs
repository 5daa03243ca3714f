//! JSON store: one object, keys in file order, every number a float64 as sops 3.11's
//! `encoding/json` token reader makes it (`stores/json/store.go`). Output: Go's
//! `json.Marshal` for scalars, re-indented with tabs.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{take_sops, Loaded, StoreError};
use crate::gofmt;
use crate::tree::{to_json, Item, Value};

struct JsonTree(Value);

impl<'de> Deserialize<'de> for JsonTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor).map(JsonTree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Float(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Float(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(JsonTree(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            let JsonTree(v) = map.next_value()?;
            items.push(Item::Entry(k, v));
        }
        Ok(Value::Map(items))
    }
}

/// Parses a JSON document into a tree (numbers as floats, as sops 3.11 reads them).
pub fn parse(src: &str) -> Result<Value, StoreError> {
    serde_json::from_str::<JsonTree>(src)
        .map(|t| t.0)
        .map_err(|e| StoreError::Json(format!("line {}, column {}: {}", e.line(), e.column(), json_error_kind(&e))))
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected data (duplicate key or wrong type)",
        Category::Eof => "unexpected end of input",
    }
}

pub fn load(src: &str) -> Result<Loaded, StoreError> {
    let mut items = match parse(src)? {
        Value::Map(items) => items,
        _ => return Err(StoreError::Shape("JSON document is not an object; sops files are objects".into())),
    };
    let metadata = take_sops(&mut items).map(|v| to_json(&v));
    Ok(Loaded { branches: vec![items], metadata })
}

/// Go's `json.Marshal` string: HTML-safe escapes, `\u2028`/`\u2029`.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn value(v: &Value, depth: usize, out: &mut String, unit: &str) -> Result<(), StoreError> {
    let indent = |out: &mut String, n: usize| {
        out.push('\n');
        for _ in 0..n {
            out.push_str(unit);
        }
    };
    match v {
        Value::Map(items) => {
            let entries: Vec<(&String, &Value)> =
                items.iter().filter_map(|i| if let Item::Entry(k, v) = i { Some((k, v)) } else { None }).collect();
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                quote(k, out);
                out.push_str(": ");
                value(v, depth + 1, out, unit)?;
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Seq(items) => {
            let vals: Vec<&Value> = items.iter().filter(|v| !matches!(v, Value::Comment(_))).collect();
            if vals.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                value(v, depth + 1, out, unit)?;
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Str(s) | Value::Comment(s) | Value::Time(s) => quote(s, out),
        Value::Bytes(b) => {
            use base64::Engine;
            quote(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&gofmt::format_json_float(*f).ok_or_else(|| StoreError::Emit {
            what: "a NaN or infinite number".into(),
            format: "JSON",
            why: "JSON has no such numbers".into(),
        })?),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
    Ok(())
}

/// Writes one value as sops' JSON store does (tab indent, trailing newline).
pub fn emit_value(v: &Value) -> Result<String, StoreError> {
    emit_value_indented(v, "\t")
}

/// Like [`emit_value`] with another indentation unit (kubeseal writes two spaces).
pub fn emit_value_indented(v: &Value, unit: &str) -> Result<String, StoreError> {
    let mut out = String::new();
    value(v, 0, &mut out, unit)?;
    out.push('\n');
    Ok(out)
}

pub fn emit(branch: &[Item]) -> Result<String, StoreError> {
    emit_value(&Value::Map(branch.to_vec()))
}
