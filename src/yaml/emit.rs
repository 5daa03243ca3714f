//! Writes trees as go-yaml v3 does with sops' node conversion (`stores/yaml/store.go`):
//! block style, the configured indent (sops: 4), comments as `#text` lines before the entry
//! that follows them, strings quoted only where go-yaml would quote them.

use crate::gofmt;
use crate::tree::{Item, Value};

use super::parse::resolve_plain;

#[derive(Debug, Clone, Copy)]
pub struct EmitOptions {
    pub indent: usize,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions { indent: 4 }
    }
}

/// Writes documents separated by `---`, as go-yaml's Encoder does.
pub fn emit_documents(docs: &[&Value], opts: EmitOptions) -> String {
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&emit_value(d, opts));
    }
    out
}

/// One document: a mapping, a list or a scalar.
pub fn emit_value(v: &Value, opts: EmitOptions) -> String {
    let mut e = Emitter { out: String::with_capacity(4096), ind: opts.indent.max(1) };
    match v {
        Value::Map(items) if has_entries_map(items) => e.map(items, 0, 0),
        Value::Seq(items) if has_entries_seq(items) => e.seq(items, 0),
        Value::Map(items) => {
            e.comments_only_map(items, 0);
            e.out.push_str("{}\n");
        }
        Value::Seq(_) => e.out.push_str("[]\n"),
        other => {
            e.scalar(other, 0);
            e.out.push('\n');
        }
    }
    e.out
}

fn has_entries_map(items: &[Item]) -> bool {
    items.iter().any(|i| matches!(i, Item::Entry(..)))
}

fn has_entries_seq(items: &[Value]) -> bool {
    items.iter().any(|i| !matches!(i, Value::Comment(_)))
}

struct Emitter {
    out: String,
    ind: usize,
}

impl Emitter {
    fn pad(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push(' ');
        }
    }

    fn comment(&mut self, text: &str, col: usize) {
        self.pad(col);
        self.out.push('#');
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// A comment among the items of a block collection. Before the first item the line is
    /// already indented (or follows "- "): write it there, then indent for the item.
    fn item_comment(&mut self, text: &str, col: usize, first: bool) {
        if first {
            self.out.push('#');
            self.out.push_str(text);
            self.out.push('\n');
            self.pad(col);
        } else {
            self.comment(text, col);
        }
    }

    fn comments_only_map(&mut self, items: &[Item], col: usize) {
        for i in items {
            if let Item::Comment(c) = i {
                self.comment(c, col);
            }
        }
    }

    /// A block mapping whose first key is written at the current position (already indented
    /// to `col`, or right after "- "); later keys are indented to `col`. Blocks nested under
    /// its keys are indented from `base` (go-yaml v3 counts a mapping inside a list item from
    /// the dash, not from its keys).
    fn map(&mut self, items: &[Item], col: usize, base: usize) {
        let mut first = true;
        for item in items {
            match item {
                Item::Comment(c) => self.item_comment(c, col, first),
                Item::Entry(k, v) => {
                    if !first && !self.out.ends_with(' ') {
                        self.pad(col);
                    }
                    first = false;
                    self.string(k, col, true);
                    self.out.push(':');
                    self.value_after_key(v, base);
                }
            }
        }
    }

    fn seq(&mut self, items: &[Value], col: usize) {
        let mut first = true;
        for item in items {
            match item {
                Value::Comment(c) => self.item_comment(c, col, first),
                v => {
                    if !first {
                        self.pad(col);
                    }
                    first = false;
                    self.out.push_str("- ");
                    let inner = col + 2;
                    match v {
                        Value::Map(m) if has_entries_map(m) => self.map(m, inner, if self.ind > 2 { col } else { inner }),
                        Value::Seq(s) if has_entries_seq(s) => self.seq(s, inner),
                        other => {
                            self.flow_or_scalar(other, inner);
                            self.out.push('\n');
                        }
                    }
                }
            }
        }
    }

    fn value_after_key(&mut self, v: &Value, col: usize) {
        match v {
            Value::Map(m) if has_entries_map(m) => {
                self.out.push('\n');
                self.pad(col + self.ind);
                self.map(m, col + self.ind, col + self.ind);
            }
            Value::Seq(s) if has_entries_seq(s) => {
                self.out.push('\n');
                self.pad(col + self.ind);
                self.seq(s, col + self.ind);
            }
            other => {
                self.out.push(' ');
                self.flow_or_scalar(other, col + self.ind);
                self.out.push('\n');
            }
        }
    }

    fn flow_or_scalar(&mut self, v: &Value, col: usize) {
        match v {
            Value::Map(_) => self.out.push_str("{}"),
            Value::Seq(_) => self.out.push_str("[]"),
            other => self.scalar(other, col),
        }
    }

    fn scalar(&mut self, v: &Value, col: usize) {
        match v {
            Value::Str(s) => self.string(s, col, false),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => self.string(s, col, false),
                Err(_) => {
                    use base64::Engine;
                    self.out.push_str("!!binary ");
                    self.out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
                }
            },
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => self.out.push_str(&gofmt::format_yaml_float(*f)),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Time(t) => self.out.push_str(t),
            Value::Null => self.out.push_str("null"),
            Value::Comment(c) => {
                self.out.push('#');
                self.out.push_str(c);
            }
            Value::Map(_) | Value::Seq(_) => self.flow_or_scalar(v, col),
        }
    }

    /// go-yaml's `stringv` + libyaml's scalar analysis: plain where it reads back as the same
    /// string, literal block for multi-line text, else single or double quotes.
    fn string(&mut self, s: &str, col: usize, is_key: bool) {
        if is_simple_plain(s) {
            self.out.push_str(s);
            return;
        }
        let a = analyze(s);
        let resolves_other = !matches!(resolve_plain(s), Value::Str(_)) || is_old_bool(s) || is_base60_float(s);
        if s.contains('\n') && !is_key {
            if a.block_ok {
                return self.literal(s, col);
            }
            return self.double_quoted(s);
        }
        if !resolves_other && a.plain_ok {
            self.out.push_str(s);
        } else if !resolves_other && a.single_ok {
            self.out.push('\'');
            self.out.push_str(&s.replace('\'', "''"));
            self.out.push('\'');
        } else {
            self.double_quoted(s);
        }
    }

    fn literal(&mut self, s: &str, col: usize) {
        self.out.push('|');
        if s.starts_with(' ') || s.starts_with('\n') {
            self.out.push_str(&self.ind.to_string());
        }
        let trailing = s.len() - s.trim_end_matches('\n').len();
        match trailing {
            0 => self.out.push('-'),
            1 => {}
            _ => self.out.push('+'),
        }
        self.out.push('\n');
        let body = if trailing == 1 { &s[..s.len() - 1] } else { s };
        let body = body.strip_suffix('\n').filter(|_| trailing > 1).unwrap_or(body);
        for line in body.split('\n') {
            if !line.is_empty() {
                self.pad(col);
                self.out.push_str(line);
            }
            self.out.push('\n');
        }
        // The caller ends the line; the literal already did.
        self.out.pop();
    }

    fn double_quoted(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\0' => self.out.push_str("\\0"),
                '\x07' => self.out.push_str("\\a"),
                '\x08' => self.out.push_str("\\b"),
                '\t' => self.out.push_str("\\t"),
                '\n' => self.out.push_str("\\n"),
                '\x0b' => self.out.push_str("\\v"),
                '\x0c' => self.out.push_str("\\f"),
                '\r' => self.out.push_str("\\r"),
                '\x1b' => self.out.push_str("\\e"),
                '\u{85}' => self.out.push_str("\\N"),
                '\u{a0}' => self.out.push_str("\\_"),
                '\u{2028}' => self.out.push_str("\\L"),
                '\u{2029}' => self.out.push_str("\\P"),
                c if !is_printable(c) => {
                    let n = c as u32;
                    if n <= 0xff {
                        self.out.push_str(&format!("\\x{n:02X}"));
                    } else if n <= 0xffff {
                        self.out.push_str(&format!("\\u{n:04X}"));
                    } else {
                        self.out.push_str(&format!("\\U{n:08X}"));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

/// Fast path: ASCII text that starts with a letter, holds no YAML indicator that could
/// matter, and does not resolve to another type — written plain, as go-yaml would.
fn is_simple_plain(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else { return false };
    if !first.is_ascii_alphabetic() || first == b'y' || first == b'Y' || first == b'n' || first == b'N' || first == b'o' || first == b'O'
        || first == b't' || first == b'T' || first == b'f' || first == b'F'
    {
        return false;
    }
    b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b'+' | b'=' | b'[' | b']' | b','))
        && !s.contains(":")
}

fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        && c != '\u{FEFF}'
}

fn is_old_bool(s: &str) -> bool {
    matches!(s, "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF")
}

/// go-yaml's `base60float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut parts = b.split(':');
    let head = parts.next().unwrap_or("");
    if head.is_empty() || !head.as_bytes()[0].is_ascii_digit() || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return false;
    }
    for (i, p) in rest.iter().enumerate() {
        let (num, frac) = if i + 1 == rest.len() { p.split_once('.').map_or((*p, None), |(a, b)| (a, Some(b))) } else { (*p, None) };
        let ok = !num.is_empty()
            && num.len() <= 2
            && num.bytes().all(|c| c.is_ascii_digit())
            && (num.len() == 1 || num.as_bytes()[0] <= b'5');
        if !ok || frac.is_some_and(|f| !f.bytes().all(|c| c.is_ascii_digit() || c == b'_')) {
            return false;
        }
    }
    true
}

struct Analysis {
    plain_ok: bool,
    single_ok: bool,
    block_ok: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis { plain_ok: false, single_ok: true, block_ok: false };
    }
    let mut plain_ok = true;
    let mut single_ok = true;
    let mut block_ok = true;
    if s.starts_with("---") || s.starts_with("...") {
        plain_ok = false;
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut prev_space = false;
    let mut prev_break = false;
    let (mut space_break, mut break_space, mut special, mut tabs, mut line_breaks) = (false, false, false, false, false);
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_blank = next.is_none_or(|x| x == ' ' || x == '\t' || x == '\n' || x == '\r');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => plain_ok = false,
                '?' | ':' | '-' if followed_by_blank => plain_ok = false,
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => {}
                ':' if followed_by_blank => plain_ok = false,
                '#' if prev_space || prev_break => plain_ok = false,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        }
        if !is_printable(c) || (c as u32 > 0x7f && c == '\u{FEFF}') {
            special = true;
        }
        if c == '\n' {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 || i + 1 == n {
                plain_ok = false;
                if i + 1 == n {
                    block_ok = false;
                }
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if c == '\n' || c == '\r' {
            if i == 0 || i + 1 == n {
                plain_ok = false;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
    }
    if break_space {
        plain_ok = false;
        single_ok = false;
    }
    if space_break || tabs || special {
        plain_ok = false;
        single_ok = false;
    }
    if space_break || special {
        block_ok = false;
    }
    if line_breaks {
        plain_ok = false;
    }
    Analysis { plain_ok, single_ok, block_ok }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{parse_documents, Limits};

    fn roundtrip(src: &str) -> String {
        let d = parse_documents(src, Limits::default()).unwrap();
        emit_value(&d[0].root, EmitOptions::default())
    }

    #[test]
    fn emits_like_go_yaml() {
        let src = "a: 1\nb: \"1\"\nc: \"\"\nd:\n    - x\n    - k: v\n      l: w\n    - - \"n\"\ne: |\n    line1\n    line2\nf: 'yes'\ng: \"a: b\"\nh: {}\ni: []\nj: null\nk: 2024-01-01T00:00:00Z\nl: \" lead\"\n";
        assert_eq!(roundtrip(src), src.replace("'yes'", "\"yes\"").replace("\" lead\"", "' lead'").replace("\"a: b\"", "'a: b'"));
    }

    #[test]
    fn strings_survive_a_round_trip() {
        for s in ["true", "1.5", "~", "null", "- a", "a #b", "a: b", "x\ny", "x\n", "x\n\n", " x", "x ", "\ttab", "é", "#c", "12:30", "0x1F", "2001-01-01", "\u{1}"] {
            let mut e = Emitter { out: String::new(), ind: 4 };
            e.out.push_str("k: ");
            e.string(s, 4, false);
            e.out.push('\n');
            let d = parse_documents(&e.out, Limits::default()).unwrap();
            assert_eq!(d[0].root.get("k"), Some(&Value::Str(s.to_string())), "{s:?} → {}", e.out);
        }
    }
}
