//! Events from saphyr-parser → ordered typed trees, with comments recovered from the source
//! text between events (saphyr reports no comments; sops encrypts them, so they matter).
//!
//! Comment placement follows go-yaml v3 + sops' store closely enough for decryption: a
//! comment's AAD is the path of the mapping or list that holds it, which depends only on
//! which container it lands in, decided here by indentation.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::YamlError;
use crate::gofmt;
use crate::tree::{Item, Value};

/// Bounds on what a document may make us build.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of mappings and lists.
    pub max_depth: usize,
    /// Nodes in all documents after alias expansion (alias bombs).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 200, max_nodes: 20_000_000 }
    }
}

/// One document of a stream, with the byte range of its text for pass-through.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Value,
    /// Byte offset where the document's content starts and ends in the source.
    pub start: usize,
    pub end: usize,
}

enum Kind {
    Map { items: Vec<Item>, key: Option<String> },
    Seq { items: Vec<Value> },
}

struct Frame {
    kind: Kind,
    indent: usize,
    flow: bool,
    anchor: usize,
    /// Comments that follow the value being built for this frame's pending entry.
    post: Vec<String>,
    line: usize,
    col: usize,
}

/// Fast path for the regular shape of sops files: long `ENC[AES256_GCM,…]` block values are
/// swapped for short references before the scanner sees them (the scanner reads plain
/// scalars a character at a time), and every scalar and comment text is restored after.
struct Shortened {
    text: String,
    values: Vec<String>,
    /// References seen once already (an alias or a second mention must clone).
    taken: Vec<bool>,
    /// (end of a reference in `text`, bytes removed up to there): maps offsets back.
    shifts: Vec<(usize, usize)>,
}

const REF: &str = "ENC[kunseal:";

fn shorten(src: &str) -> Option<Shortened> {
    const PREFIX: &str = "ENC[AES256_GCM,data:";
    if src.contains(REF) || !src.contains(PREFIX) {
        return None;
    }
    let b = src.as_bytes();
    let mut text = String::with_capacity(src.len() / 4);
    let mut values = Vec::new();
    let mut shifts = Vec::new();
    let mut removed = 0usize;
    let mut copied = 0usize;
    let finder = memchr::memmem::Finder::new(PREFIX);
    for p in finder.find_iter(b) {
        if p < copied || p < 2 || b[p - 1] != b' ' || !matches!(b[p - 2], b':' | b'-') {
            continue;
        }
        let Some(close_rel) = memchr::memchr(b']', &b[p..]) else { break };
        let end = p + close_rel + 1;
        if !matches!(b.get(end), None | Some(b'\n') | Some(b'\r')) {
            continue;
        }
        if !src[p..end].bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'[' | b']' | b',' | b':' | b'=' | b'+' | b'/' | b'_')) {
            continue;
        }
        text.push_str(&src[copied..p]);
        let reference = format!("{REF}{}]", values.len());
        text.push_str(&reference);
        values.push(src[p..end].to_string());
        removed += (end - p) - reference.len();
        shifts.push((text.len(), removed));
        copied = end;
    }
    if values.is_empty() {
        return None;
    }
    text.push_str(&src[copied..]);
    let taken = vec![false; values.len()];
    Some(Shortened { text, values, taken, shifts })
}

impl Shortened {
    /// A whole scalar that is one reference: its value, moved out the first time.
    fn take(&mut self, s: &str) -> Option<String> {
        let n = s.strip_prefix(REF)?.strip_suffix(']')?.parse::<usize>().ok()?;
        if n >= self.values.len() {
            return None;
        }
        // Each reference stands once in the text, so each value is taken once.
        debug_assert!(!self.taken[n]);
        self.taken[n] = true;
        Some(std::mem::take(&mut self.values[n]))
    }

    fn restore<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if !s.as_bytes().contains(&b'[') || !s.contains(REF) {
            return std::borrow::Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len() + 256);
        let mut rest = s;
        while let Some(i) = rest.find(REF) {
            out.push_str(&rest[..i]);
            let after = &rest[i + REF.len()..];
            match after.find(']').and_then(|e| after[..e].parse::<usize>().ok().map(|n| (n, e))) {
                Some((n, e)) if n < self.values.len() => {
                    out.push_str(&self.values[n]);
                    rest = &after[e + 1..];
                }
                _ => {
                    out.push_str(REF);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        std::borrow::Cow::Owned(out)
    }

    fn original_offset(&self, pos: usize) -> usize {
        let i = self.shifts.partition_point(|(end, _)| *end <= pos);
        pos + if i == 0 { 0 } else { self.shifts[i - 1].1 }
    }
}

struct Builder<'s> {
    src: &'s str,
    short: Option<&'s mut Shortened>,
    /// char index → byte offset, only for non-ASCII input.
    offsets: Option<Vec<usize>>,
    limits: Limits,
    nodes: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    docs: Vec<Document>,
    doc_head: Vec<String>,
    doc_start: usize,
    prev_end: usize,
    /// Whether the last event completed a scalar/alias/flow value (for inline comments).
    prev_was_value: bool,
    /// Own-line comments waiting for the next block container to open.
    for_new: Vec<String>,
}

fn err(span: &Span, msg: impl Into<String>) -> YamlError {
    YamlError { line: span.start.line(), col: span.start.col() + 1, msg: msg.into() }
}

/// Parses every document of `src`.
pub fn parse_documents(original: &str, limits: Limits) -> Result<Vec<Document>, YamlError> {
    if let Some(docs) = super::fast::try_parse(original, limits) {
        return Ok(docs);
    }
    parse_general(original, limits)
}

/// The general path: every YAML the parser accepts (used when the fast path declines).
pub fn parse_general(original: &str, limits: Limits) -> Result<Vec<Document>, YamlError> {
    let mut short = shorten(original);
    let text = short.as_mut().map(|s| std::mem::take(&mut s.text));
    let src: &str = text.as_deref().unwrap_or(original);
    let offsets = if src.is_ascii() {
        None
    } else {
        let mut v: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
        v.push(src.len());
        Some(v)
    };
    let mut b = Builder {
        src,
        short: short.as_mut(),
        offsets,
        limits,
        nodes: 0,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        doc_head: Vec::new(),
        doc_start: 0,
        prev_end: 0,
        prev_was_value: false,
        for_new: Vec::new(),
    };
    let mut parser = Parser::new_from_str(src);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            msg: e.info().to_string(),
        })?;
        let done = matches!(ev, Event::StreamEnd);
        b.event(ev, span)?;
        if done {
            break;
        }
    }
    let mut docs = b.docs;
    if let Some(sh) = &short {
        for d in docs.iter_mut() {
            d.start = sh.original_offset(d.start);
            d.end = sh.original_offset(d.end);
        }
    }
    Ok(docs)
}

fn is_core_tag(tag: &saphyr_parser::Tag) -> Option<&str> {
    if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
        Some(tag.suffix.as_str())
    } else {
        None
    }
}

/// go-yaml v3's resolution of an untagged plain scalar (`resolve.go`).
pub fn resolve_plain(s: &str) -> Value {
    let first = match s.as_bytes().first() {
        None => return Value::Null,
        Some(c) => *c,
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            match s {
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                "~" | "null" | "Null" | "NULL" => Value::Null,
                _ => Value::Str(s.to_string()),
            }
        }
        b'.' => match s {
            ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
            ".inf" | ".Inf" | ".INF" => Value::Float(f64::INFINITY),
            _ => match go_parse_float(s) {
                Some(f) => Value::Float(f),
                None => Value::Str(s.to_string()),
            },
        },
        b'+' | b'-' | b'0'..=b'9' => {
            match s {
                "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
                "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
                _ => {}
            }
            if let Some(ts) = gofmt::parse_yaml_timestamp(s) {
                return Value::Time(gofmt::format_rfc3339_nano(&ts));
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return i;
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = go_parse_float(&plain) {
                    return Value::Float(f);
                }
            }
            for (prefix, radix, neg) in [("0b", 2, false), ("-0b", 2, true), ("0o", 8, false), ("-0o", 8, true)] {
                if let Some(digits) = plain.strip_prefix(prefix) {
                    if let Ok(v) = u64::from_str_radix(digits, radix) {
                        return int_value(v as i128 * if neg { -1 } else { 1 }, s);
                    }
                }
            }
            Value::Str(s.to_string())
        }
        _ => Value::Str(s.to_string()),
    }
}

fn int_value(v: i128, _src: &str) -> Value {
    if v >= i64::MIN as i128 && v <= i64::MAX as i128 {
        Value::Int(v as i64)
    } else {
        // go-yaml gives a uint64 here, which sops cannot walk; keep the text.
        Value::Float(v as f64)
    }
}

/// `strconv.ParseInt(s, 0, 64)` then `ParseUint`: sign, `0x`/`0o`/`0b`/leading-0 octal.
fn go_parse_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()? as i128;
    let v = if neg { -v } else { v };
    if v < i64::MIN as i128 {
        return None;
    }
    Some(int_value(v, s))
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == fs {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return false;
        }
    }
    i == b.len()
}

fn go_parse_float(s: &str) -> Option<f64> {
    // Go's ParseFloat accepts what Rust's does for decimal forms; reject Rust-only spellings.
    if s.bytes().any(|c| c.is_ascii_alphabetic() && c != b'e' && c != b'E') {
        return None;
    }
    s.parse().ok()
}

fn check_duplicates(items: &[Item]) -> Result<(), String> {
    let mut keys: Vec<&str> = items.iter().filter_map(|i| if let Item::Entry(k, _) = i { Some(k.as_str()) } else { None }).collect();
    keys.sort_unstable();
    match keys.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(w[0].to_string()),
        None => Ok(()),
    }
}

fn count_nodes(v: &Value) -> usize {
    match v {
        Value::Map(items) => {
            1 + items.iter().map(|i| if let Item::Entry(_, v) = i { count_nodes(v) } else { 1 }).sum::<usize>()
        }
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

impl<'s> Builder<'s> {
    fn byte(&self, char_index: usize) -> usize {
        match &self.offsets {
            None => char_index,
            Some(v) => v[char_index.min(v.len() - 1)],
        }
    }

    /// Comments in `src[from..to]`: (text after '#', column, inline).
    fn comments_in(&self, from: usize, to: usize) -> Vec<(String, usize, bool)> {
        let mut out = Vec::new();
        if from >= to {
            return out;
        }
        let bytes = self.src.as_bytes();
        let mut i = from;
        let mut seen_newline = false;
        while i < to {
            let c = bytes[i];
            if c == b'\n' {
                seen_newline = true;
            } else if c == b'#' && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r')) {
                let end = self.src[i..].find('\n').map_or(self.src.len(), |n| i + n);
                let line_start = self.src[..i].rfind('\n').map_or(0, |n| n + 1);
                let own_line = self.src[line_start..i].trim_matches([' ', '\t']).is_empty();
                let col = self.src[line_start..i].chars().count();
                let raw = self.src[i + 1..end].trim_end_matches('\r');
                let text = match self.short.as_deref() {
                    Some(sh) => sh.restore(raw).into_owned(),
                    None => raw.to_string(),
                };
                out.push((text, col, !seen_newline && !own_line));
                i = end;
                continue;
            }
            i += 1;
        }
        out
    }

    fn push_comment_to_top(&mut self, text: String) {
        match self.stack.last_mut() {
            Some(Frame { kind: Kind::Map { items, .. }, .. }) => items.push(Item::Comment(text)),
            Some(Frame { kind: Kind::Seq { items }, .. }) => items.push(Value::Comment(text)),
            None => self.doc_level_comment(text),
        }
    }

    fn doc_level_comment(&mut self, text: String) {
        match self.docs.last_mut() {
            Some(Document { root: Value::Map(items), .. }) => items.push(Item::Comment(text)),
            _ => self.doc_head.push(text),
        }
    }

    fn insert_before_last(&mut self, text: String) {
        match self.stack.last_mut() {
            Some(Frame { kind: Kind::Map { items, key, .. }, .. }) => {
                if key.is_some() || items.is_empty() {
                    items.push(Item::Comment(text));
                } else {
                    let at = items.len() - 1;
                    items.insert(at, Item::Comment(text));
                }
            }
            Some(Frame { kind: Kind::Seq { items }, .. }) => {
                let at = items.len().saturating_sub(1);
                items.insert(at, Value::Comment(text));
            }
            None => {
                if let Some(Document { root: Value::Map(items), .. }) = self.docs.last_mut() {
                    let at = items.len().saturating_sub(1);
                    items.insert(at, Item::Comment(text));
                } else {
                    self.doc_head.push(text);
                }
            }
        }
    }

    fn handle_gap(&mut self, ev: &Event, span: &Span) {
        let start = self.byte(span.start.index());
        let comments = self.comments_in(self.prev_end, start);
        if comments.is_empty() {
            return;
        }
        let opens_block = matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..))
            && !self.is_flow_start(start);
        let closes = matches!(ev, Event::MappingEnd | Event::SequenceEnd);
        for (text, col, inline) in comments {
            if inline && self.prev_was_value {
                self.insert_before_last(text);
            } else if inline {
                self.push_comment_to_top(text);
            } else if opens_block && col >= span.start.col() {
                self.for_new.push(text);
            } else if closes && !self.stack.iter().any(|f| f.flow) {
                // The innermost open container whose indentation the comment reaches.
                let n = self.stack.len();
                let target = (0..n).rev().find(|&i| self.stack[i].indent <= col).unwrap_or(0);
                if target + 1 == n {
                    self.push_comment_to_top(text);
                } else {
                    self.stack[target].post.push(text);
                }
            } else {
                self.push_comment_to_top(text);
            }
        }
    }

    fn is_flow_start(&self, byte: usize) -> bool {
        matches!(self.src.as_bytes().get(byte), Some(b'{') | Some(b'['))
    }

    fn add_nodes(&mut self, n: usize, span: &Span) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            return Err(err(span, format!("document too large: more than {} nodes (alias expansion?)", self.limits.max_nodes)));
        }
        Ok(())
    }

    /// A finished value goes to its parent: the pending key of a mapping, the end of a list,
    /// or the document root.
    fn complete(&mut self, v: Value, anchor: usize, span: &Span) -> Result<(), YamlError> {
        if anchor > 0 {
            let n = count_nodes(&v);
            self.anchors.insert(anchor, (v.clone(), n));
        }
        match self.stack.last_mut() {
            None => {
                let mut root = v;
                if let Value::Map(items) = &mut root {
                    if !self.doc_head.is_empty() {
                        let mut head: Vec<Item> = self.doc_head.drain(..).map(Item::Comment).collect();
                        head.append(items);
                        *items = head;
                    }
                }
                self.docs.push(Document { root, start: self.doc_start, end: self.byte(span.end.index()) });
            }
            Some(frame) => {
                match &mut frame.kind {
                    Kind::Map { items, key } => match key.take() {
                        Some(k) => items.push(Item::Entry(k, v)),
                        None => {
                            // This value is a key.
                            let k = match v {
                                Value::Str(s) => s,
                                Value::Map(_) | Value::Seq(_) => {
                                    return Err(err(span, "complex mapping keys are not supported"))
                                }
                                other => other.scalar_text().unwrap_or_default(),
                            };
                            *key = Some(k);
                            return Ok(());
                        }
                    },
                    Kind::Seq { items } => items.push(v),
                }
                let post = std::mem::take(&mut frame.post);
                for text in post {
                    match &mut frame.kind {
                        Kind::Map { items, .. } => items.push(Item::Comment(text)),
                        Kind::Seq { items } => items.push(Value::Comment(text)),
                    }
                }
            }
        }
        Ok(())
    }

    fn scalar(&self, text: &str, style: ScalarStyle, tag: Option<&saphyr_parser::Tag>, is_key: bool) -> Result<Value, String> {
        let core = tag.and_then(is_core_tag);
        if let Some(t) = tag {
            if core.is_none() && !t.handle.is_empty() && t.handle != "!" {
                return Ok(Value::Str(text.to_string()));
            }
        }
        if is_key {
            return Ok(Value::Str(text.to_string()));
        }
        match core {
            Some("str") => return Ok(Value::Str(text.to_string())),
            Some("binary") => {
                use base64::Engine;
                let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .map_err(|_| "invalid !!binary value".to_string())?;
                return Ok(match String::from_utf8(bytes) {
                    Ok(s) => Value::Str(s),
                    Err(e) => Value::Bytes(e.into_bytes()),
                });
            }
            Some(t @ ("int" | "float" | "bool" | "null" | "timestamp")) => {
                let v = resolve_plain(text);
                return match (t, v) {
                    ("int", v @ Value::Int(_)) => Ok(v),
                    ("float", Value::Int(i)) => Ok(Value::Float(i as f64)),
                    ("float", v @ Value::Float(_)) => Ok(v),
                    ("bool", v @ Value::Bool(_)) => Ok(v),
                    ("null", v @ Value::Null) => Ok(v),
                    ("timestamp", v @ Value::Time(_)) => Ok(v),
                    _ => Err(format!("cannot decode value as !!{t}")),
                };
            }
            _ => {}
        }
        if tag.is_none() && style == ScalarStyle::Plain {
            Ok(resolve_plain(text))
        } else {
            Ok(Value::Str(text.to_string()))
        }
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { kind: Kind::Map { key: None, .. }, .. }))
    }

    fn push_frame(&mut self, kind: Kind, anchor: usize, span: &Span, flow: bool) -> Result<(), YamlError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(err(span, format!("nesting deeper than {} levels", self.limits.max_depth)));
        }
        if self.expects_key() {
            return Err(err(span, "complex mapping keys are not supported"));
        }
        self.add_nodes(1, span)?;
        let mut frame = Frame { kind, indent: span.start.col(), flow, anchor, post: Vec::new(), line: span.start.line(), col: span.start.col() };
        let head = std::mem::take(&mut self.for_new);
        for text in head {
            match &mut frame.kind {
                Kind::Map { items, .. } => items.push(Item::Comment(text)),
                Kind::Seq { items } => items.push(Value::Comment(text)),
            }
        }
        self.stack.push(frame);
        Ok(())
    }

    fn event(&mut self, ev: Event, span: Span) -> Result<(), YamlError> {
        self.handle_gap(&ev, &span);
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index());
        let mut was_value = false;
        if self.stack.is_empty() && matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..) | Event::Scalar(..) | Event::Alias(..)) {
            self.doc_start = start;
        }
        match ev {
            Event::StreamStart | Event::Nothing | Event::StreamEnd => {}
            Event::DocumentStart(_) => {
                self.doc_start = start;
                if !self.for_new.is_empty() {
                    let pending = std::mem::take(&mut self.for_new);
                    self.doc_head.extend(pending);
                }
            }
            Event::DocumentEnd => {
                if let Some(last) = self.docs.last_mut() {
                    if last.start == self.doc_start && last.end < end {
                        last.end = last.end.max(start);
                    }
                }
                // A document with no content (only comments, or `---` alone) is an empty map.
                if self.docs.last().is_none_or(|d| d.start != self.doc_start) {
                    let head: Vec<Item> = self.doc_head.drain(..).map(Item::Comment).collect();
                    self.docs.push(Document { root: if head.is_empty() { Value::Null } else { Value::Map(head) }, start: self.doc_start, end: start });
                }
            }
            Event::Alias(id) => {
                let (v, n) = self.anchors.get(&id).cloned().ok_or_else(|| err(&span, "unknown alias"))?;
                self.add_nodes(n, &span)?;
                self.complete(v, 0, &span)?;
                was_value = true;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.add_nodes(1, &span)?;
                let is_key = self.expects_key();
                let text = match self.short.as_deref_mut() {
                    Some(sh) => match sh.take(&text) {
                        Some(v) => std::borrow::Cow::Owned(v),
                        None => sh.restore(&text),
                    },
                    None => std::borrow::Cow::Borrowed(&*text),
                };
                let v = self.scalar(&text, style, tag.as_deref(), is_key).map_err(|m| err(&span, m))?;
                if !is_key && !self.for_new.is_empty() {
                    let pending = std::mem::take(&mut self.for_new);
                    for t in pending {
                        self.push_comment_to_top(t);
                    }
                }
                self.complete(v, anchor, &span)?;
                was_value = !is_key;
            }
            Event::SequenceStart(anchor, _) => {
                let flow = self.is_flow_start(start);
                self.push_frame(Kind::Seq { items: Vec::new() }, anchor, &span, flow)?;
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.is_flow_start(start);
                self.push_frame(Kind::Map { items: Vec::new(), key: None }, anchor, &span, flow)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().ok_or_else(|| err(&span, "unbalanced collection end"))?;
                let v = match frame.kind {
                    Kind::Seq { items } => Value::Seq(items),
                    Kind::Map { items, key: Some(_), .. } => {
                        let _ = items;
                        return Err(YamlError { line: frame.line, col: frame.col + 1, msg: "mapping key without a value".into() });
                    }
                    Kind::Map { items, .. } => {
                        check_duplicates(&items).map_err(|k| YamlError { line: frame.line, col: frame.col + 1, msg: format!("duplicate key {k:?} in this mapping") })?;
                        Value::Map(items)
                    }
                };
                let flow = frame.flow;
                let mut post = frame.post;
                self.complete(v, frame.anchor, &span)?;
                for text in post.drain(..) {
                    self.push_comment_to_top(text);
                }
                was_value = flow;
            }
        }
        self.prev_end = self.prev_end.max(end);
        self.prev_was_value = was_value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Value {
        let mut d = parse_documents(src, Limits::default()).unwrap();
        assert_eq!(d.len(), 1, "{src}");
        d.remove(0).root
    }

    #[test]
    fn types_resolve_like_go_yaml() {
        let v = one("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 2024-01-01\ng: 0x10\nh: yes\ni: 1e3\nj: .5\nk: 012\n");
        let get = |k: &str| v.get(k).unwrap().clone();
        assert_eq!(get("a"), Value::Int(1));
        assert_eq!(get("b"), Value::Float(1.5));
        assert_eq!(get("c"), Value::Bool(true));
        assert_eq!(get("d"), Value::Null);
        assert_eq!(get("e"), Value::Str("1".into()));
        assert_eq!(get("f"), Value::Time("2024-01-01T00:00:00Z".into()));
        assert_eq!(get("g"), Value::Int(16));
        assert_eq!(get("h"), Value::Str("yes".into()));
        assert_eq!(get("i"), Value::Float(1000.0));
        assert_eq!(get("j"), Value::Float(0.5));
        assert_eq!(get("k"), Value::Int(10));
    }

    #[test]
    fn comments_land_in_their_container() {
        let v = one("# top\na:\n    b: 1 # inline\n    # foot of a\nc:\n    - x\n    # in list\n    - y\n# end\n");
        let Value::Map(items) = &v else { panic!() };
        assert_eq!(items[0], Item::Comment(" top".into()));
        let a = v.get("a").unwrap().as_map().unwrap();
        assert_eq!(a[0], Item::Comment(" inline".into()));
        assert_eq!(a[2], Item::Comment(" foot of a".into()));
        let Value::Seq(c) = v.get("c").unwrap() else { panic!() };
        assert_eq!(c[1], Value::Comment(" in list".into()));
        assert_eq!(items.last().unwrap(), &Item::Comment(" end".into()));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_documents("a: 1\na: 2\n", Limits::default()).is_err());
        let deep = "[".repeat(500);
        assert!(parse_documents(&deep, Limits::default()).is_err());
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
        assert!(parse_documents(bomb, Limits::default()).is_err());
        assert!(parse_documents("a: [1, 2\n", Limits::default()).is_err());
    }

    #[test]
    fn shortened_values_come_back_everywhere() {
        let enc = "ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]";
        let src = format!("a: {enc}\nb:\n    - {enc}\nc: |\n    x: {enc}\n# note: {enc}\n");
        let v = one(&src);
        assert_eq!(v.get("a"), Some(&Value::Str(enc.into())));
        assert_eq!(v.get("b"), Some(&Value::Seq(vec![Value::Str(enc.into())])));
        assert_eq!(v.get("c"), Some(&Value::Str(format!("x: {enc}\n"))));
        let Value::Map(items) = &v else { panic!() };
        assert_eq!(items.last(), Some(&Item::Comment(format!(" note: {enc}"))));
        let d = parse_documents(&format!("{src}---\nz: 1\n"), Limits::default()).unwrap();
        assert_eq!(&format!("{src}---\nz: 1\n")[d[1].start..d[1].end], "z: 1\n");
    }

    #[test]
    fn multi_document_ranges() {
        let src = "a: 1\n---\nb: 2\n";
        let d = parse_documents(src, Limits::default()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].root.get("b"), Some(&Value::Int(2)));
    }
}
