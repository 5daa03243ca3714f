//! INI store (`stores/ini/store.go` over gopkg.in/ini.v1): each section is a branch item
//! whose value maps keys to strings; a comment before a section is that section's first
//! item, a comment before a key follows the key; metadata is the `[sops]` section.

use super::{val_to_string, Loaded, StoreError};
use crate::sops::metadata::unflatten;
use crate::tree::{Item, Value};

fn strip_comment_char(c: &str) -> String {
    if c.starts_with(';') {
        c.trim_start_matches([';', ' ']).to_string()
    } else if c.starts_with('#') {
        c.trim_start_matches(['#', ' ']).to_string()
    } else {
        c.to_string()
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ["\"\"\"", "`", "\"", "'"] {
        if v.len() >= 2 * q.len() && v.starts_with(q) && v.ends_with(q) {
            return v[q.len()..v.len() - q.len()].to_string();
        }
    }
    match v.find(['#', ';']) {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

pub fn load(src: &str) -> Result<Loaded, StoreError> {
    let mut sections: Vec<(String, Vec<Item>)> = vec![("DEFAULT".into(), Vec::new())];
    let mut pending: Vec<String> = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(';') || line.starts_with('#') {
            pending.push(line.to_string());
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or_else(|| StoreError::Ini(format!("line {}: unclosed section header", n + 1)))?;
            let mut items = Vec::new();
            if !pending.is_empty() {
                items.push(Item::Comment(strip_comment_char(&pending.join("\n"))));
                pending.clear();
            }
            sections.push((name.trim().to_string(), items));
            continue;
        }
        let pos = line.find(['=', ':']).ok_or_else(|| StoreError::Ini(format!("line {}: expected key = value", n + 1)))?;
        let key = line[..pos].trim().to_string();
        let value = unquote(&line[pos + 1..]);
        let items = &mut sections.last_mut().unwrap().1;
        items.push(Item::Entry(key, Value::Str(value)));
        if !pending.is_empty() {
            items.push(Item::Comment(strip_comment_char(&pending.join("\n"))));
            pending.clear();
        }
    }
    let mut metadata = None;
    let mut branch = Vec::new();
    for (name, items) in sections {
        if name == "sops" {
            let pairs: Vec<(String, String)> = items
                .into_iter()
                .filter_map(|i| match i {
                    Item::Entry(k, Value::Str(v)) => Some((k, v)),
                    _ => None,
                })
                .collect();
            metadata = Some(unflatten(&pairs));
        } else {
            branch.push(Item::Entry(name, Value::Map(items)));
        }
    }
    Ok(Loaded { branches: vec![branch], metadata })
}

fn quote_value(v: &str) -> String {
    if v.contains(['\n', '`']) {
        format!("\"\"\"{v}\"\"\"")
    } else if v.contains(['#', ';']) {
        format!("`{v}`")
    } else if v.trim() != v {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

fn comment_line(c: &str, out: &mut String) {
    for line in c.split('\n') {
        if !(line.starts_with(';') || line.starts_with('#')) {
            out.push_str("; ");
        }
        out.push_str(line);
        out.push('\n');
    }
}

pub fn emit(branch: &[Item]) -> Result<String, StoreError> {
    let mut blocks = Vec::new();
    for item in branch {
        let Item::Entry(name, v) = item else { continue };
        let Value::Map(items) = v else {
            return Err(StoreError::Emit { what: format!("section {name:?}"), format: "INI", why: "section values must be mappings".into() });
        };
        let mut block = String::new();
        let mut rest = &items[..];
        if let Some(Item::Comment(c)) = rest.first() {
            comment_line(c, &mut block);
            rest = &rest[1..];
        }
        // Keys with the comment that follows each (ini.v1 writes it before the key).
        let mut keys: Vec<(String, String, Option<String>)> = Vec::new();
        for it in rest {
            match it {
                Item::Comment(c) => {
                    if let Some(last) = keys.last_mut() {
                        last.2 = Some(c.clone());
                    }
                }
                Item::Entry(k, v) => {
                    let s = val_to_string(v).ok_or_else(|| StoreError::Emit {
                        what: format!("key {k:?}"),
                        format: "INI",
                        why: "it holds a mapping or a list".into(),
                    })?;
                    keys.push((k.clone(), String::from_utf8_lossy(&s).into_owned(), None));
                }
            }
        }
        if name == "DEFAULT" && keys.is_empty() {
            continue;
        }
        if name != "DEFAULT" {
            block.push('[');
            block.push_str(name);
            block.push_str("]\n");
        }
        let width = keys.iter().map(|(k, _, _)| k.chars().count()).max().unwrap_or(0);
        for (k, v, c) in keys {
            if let Some(c) = c {
                comment_line(&c, &mut block);
            }
            block.push_str(&k);
            for _ in k.chars().count()..width {
                block.push(' ');
            }
            block.push_str(" = ");
            block.push_str(&quote_value(&v));
            block.push('\n');
        }
        blocks.push(block);
    }
    Ok(blocks.join("\n"))
}
