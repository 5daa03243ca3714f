//! A fast path for the block YAML that sops and kubectl write: block mappings and lists,
//! one-line plain and quoted scalars, literal blocks, comments, `---` separators. It reads
//! line by line and slices strings instead of scanning character by character. Anything
//! else (anchors, tags, flow collections, folded or multi-line scalars, tabs, CRLF, …)
//! returns `None` and the general parser (saphyr) handles the text. Both paths build the
//! same trees, comments included; `tests` below check that over random documents.

use super::parse::{resolve_plain, Document, Limits};
use crate::tree::{Item, Value};

struct Line<'s> {
    start: usize,
    indent: usize,
    /// After the indentation, trailing spaces removed.
    text: &'s str,
    /// The whole line without its newline.
    raw: &'s str,
}

impl Line<'_> {
    fn is_blank(&self) -> bool {
        self.text.is_empty()
    }
    fn is_comment(&self) -> bool {
        self.text.starts_with('#')
    }
    fn is_sep(&self) -> bool {
        self.indent == 0 && (self.text == "---" || self.text == "...")
    }
    fn is_dash(&self) -> bool {
        self.text == "-" || self.text.starts_with("- ")
    }
}

/// Comments handed to an enclosing container: (text after '#', column).
type Trailing = Vec<(String, usize)>;

struct P<'s> {
    lines: Vec<Line<'s>>,
    i: usize,
    end: usize,
    depth: usize,
    limits: Limits,
    nodes: usize,
}

const INDICATORS: &[u8] = b",[]{}#&*!|>'\"%@`";

pub fn try_parse(src: &str, limits: Limits) -> Option<Vec<Document>> {
    if !src.ends_with('\n') || src.contains(['\r', '\t', '\u{feff}']) {
        return None;
    }
    let mut lines = Vec::new();
    let mut start = 0;
    for raw in src[..src.len() - 1].split('\n') {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let text = raw[indent..].trim_end_matches(' ');
        lines.push(Line { start, indent, text, raw });
        start += raw.len() + 1;
    }
    let mut p = P { lines, i: 0, end: 0, depth: 0, limits, nodes: 0 };
    p.documents(src.len())
}

fn unquote_double(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[1 + i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let hex = |chars: &mut std::str::CharIndices, n: usize| -> Option<char> {
                    let mut v = 0u32;
                    for _ in 0..n {
                        v = v * 16 + chars.next()?.1.to_digit(16)?;
                    }
                    char::from_u32(v)
                };
                out.push(match e {
                    '0' => '\0',
                    'a' => '\x07',
                    'b' => '\x08',
                    't' => '\t',
                    'n' => '\n',
                    'v' => '\x0b',
                    'f' => '\x0c',
                    'r' => '\r',
                    'e' => '\x1b',
                    ' ' => ' ',
                    '"' => '"',
                    '/' => '/',
                    '\\' => '\\',
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'L' => '\u{2028}',
                    'P' => '\u{2029}',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    'U' => hex(&mut chars, 8)?,
                    _ => return None,
                });
            }
            c => out.push(c),
        }
    }
    None
}

fn unquote_single(s: &str) -> Option<(String, &str)> {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 1;
    let mut from = 1;
    while i < b.len() {
        if b[i] == b'\'' {
            out.push_str(&s[from..i]);
            if b.get(i + 1) == Some(&b'\'') {
                out.push('\'');
                i += 2;
                from = i;
                continue;
            }
            return Some((out, &s[i + 1..]));
        }
        i += 1;
    }
    None
}

/// What follows a quoted scalar on its line: nothing, or a comment.
fn after_quoted(rest: &str) -> Option<Option<String>> {
    let t = rest.trim_start_matches(' ');
    if t.is_empty() {
        Some(None)
    } else if t.starts_with('#') && t.len() < rest.len() {
        Some(Some(t[1..].to_string()))
    } else {
        None
    }
}

/// Splits `key: rest` (rest without the separator); None if the line is not a mapping entry.
fn split_key(text: &str) -> Option<Option<(String, &str)>> {
    let first = *text.as_bytes().first()?;
    if first == b'"' || first == b'\'' {
        let (k, rest) = if first == b'"' { unquote_double(text)? } else { unquote_single(text)? };
        return Some(match rest.strip_prefix(':') {
            Some(r) if r.is_empty() || r.starts_with(' ') => Some((k, r)),
            _ => None,
        });
    }
    let b = text.as_bytes();
    let mut pos = None;
    for (i, &c) in b.iter().enumerate() {
        if c == b':' && (i + 1 == b.len() || b[i + 1] == b' ') {
            pos = Some(i);
            break;
        }
        if c == b'#' && i > 0 && b[i - 1] == b' ' {
            break;
        }
    }
    let Some(pos) = pos else { return Some(None) };
    if INDICATORS.contains(&first) || (matches!(first, b'-' | b'?' | b':') && (b.len() == 1 || b[1] == b' ')) {
        return None;
    }
    let key = text[..pos].trim_end_matches(' ');
    if key.is_empty() || key.contains(" #") {
        return None;
    }
    Some(Some((key.to_string(), &text[pos + 1..])))
}

/// A one-line scalar after `key:` or `- `: value and inline comment.
fn scalar(rest: &str) -> Option<(Value, Option<String>)> {
    let t = rest.trim_start_matches(' ');
    let first = *t.as_bytes().first()?;
    match first {
        b'"' => {
            let (s, after) = unquote_double(t)?;
            Some((Value::Str(s), after_quoted(after)?))
        }
        b'\'' => {
            let (s, after) = unquote_single(t)?;
            Some((Value::Str(s), after_quoted(after)?))
        }
        b'{' | b'[' => {
            let (v, c) = plain_and_comment(t);
            match v {
                "{}" => Some((Value::Map(Vec::new()), c)),
                "[]" => Some((Value::Seq(Vec::new()), c)),
                _ => None,
            }
        }
        b'#' | b'|' | b'>' | b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b',' | b']' | b'}' => None,
        b'-' | b'?' | b':' if t.len() == 1 || t.as_bytes()[1] == b' ' => None,
        _ => {
            let (v, c) = plain_and_comment(t);
            if has_mapping_indicator(v) {
                return None;
            }
            Some((resolve_plain(v), c))
        }
    }
}

fn plain_and_comment(t: &str) -> (&str, Option<String>) {
    let b = t.as_bytes();
    for i in memchr::memchr_iter(b'#', b) {
        if i > 0 && b[i - 1] == b' ' {
            return (t[..i - 1].trim_end_matches(' '), Some(t[i + 1..].to_string()));
        }
    }
    (t, None)
}

/// `": "` inside a plain value, or a trailing ':' (both end a plain scalar in block context).
fn has_mapping_indicator(v: &str) -> bool {
    let b = v.as_bytes();
    memchr::memchr_iter(b':', b).any(|i| i + 1 == b.len() || b[i + 1] == b' ')
}

impl<'s> P<'s> {
    fn documents(&mut self, len: usize) -> Option<Vec<Document>> {
        let mut docs = Vec::new();
        let mut head: Vec<String> = Vec::new();
        let mut segment = 0;
        while self.i < self.lines.len() || segment == 0 {
            let mut end = self.i;
            while end < self.lines.len() && !self.lines[end].is_sep() {
                end += 1;
            }
            if end < self.lines.len() && self.lines[end].text == "..." {
                return None;
            }
            self.end = end;
            let has_content = self.lines[self.i..end].iter().any(|l| !l.is_blank() && !l.is_comment());
            if !has_content {
                // Only a file's leading segment before its first `---` may be empty or
                // hold only comments (they head the first document).
                if segment != 0 || end == self.lines.len() {
                    return None;
                }
                head.extend(self.lines[self.i..end].iter().filter(|l| l.is_comment()).map(|l| l.text[1..].to_string()));
            } else {
                let first = self.lines[self.i..end].iter().find(|l| !l.is_blank() && !l.is_comment())?;
                if first.indent != 0 || first.is_dash() {
                    return None;
                }
                let start = first.start;
                let (mut items, trailing) = self.map(0)?;
                if self.i != end {
                    return None;
                }
                let mut all: Vec<Item> = head.drain(..).map(Item::Comment).collect();
                all.append(&mut items);
                all.extend(trailing.into_iter().map(|(t, _)| Item::Comment(t)));
                let doc_end = if end < self.lines.len() { self.lines[end].start } else { len };
                docs.push(Document { root: Value::Map(all), start, end: doc_end });
            }
            segment += 1;
            self.i = end;
            if self.i < self.lines.len() {
                self.i += 1;
                if self.i == self.lines.len() {
                    // A trailing `---` with nothing after it.
                    return None;
                }
            }
        }
        if !head.is_empty() || docs.is_empty() {
            return None;
        }
        Some(docs)
    }

    /// Skips blank lines and collects comment lines until the next content line.
    fn comments(&mut self) -> Trailing {
        let mut out = Vec::new();
        while self.i < self.end {
            let l = &self.lines[self.i];
            if l.is_comment() {
                out.push((l.text[1..].to_string(), l.indent));
            } else if !l.is_blank() {
                break;
            }
            self.i += 1;
        }
        out
    }

    /// Comments for an outer container end this one: they must precede a dedent (the
    /// general parser would otherwise place them after this container's next entries).
    fn end_for_outer(&mut self, indent: usize) -> Option<()> {
        if self.peek().is_some_and(|l| l.indent >= indent) {
            return None;
        }
        self.depth -= 1;
        Some(())
    }

    fn peek(&self) -> Option<&Line<'s>> {
        self.lines[..self.end].get(self.i)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.nodes += 1;
        (self.depth < self.limits.max_depth && self.nodes < self.limits.max_nodes).then_some(())
    }

    /// A block mapping whose keys sit at `indent`. The first key may be the rest of a
    /// `- ` line (`self.i` then points at that line with `first` set).
    fn map(&mut self, indent: usize) -> Option<(Vec<Item>, Trailing)> {
        self.map_from(indent, None)
    }

    fn map_from(&mut self, indent: usize, mut first: Option<&'s str>) -> Option<(Vec<Item>, Trailing)> {
        self.enter()?;
        let mut items: Vec<Item> = Vec::new();
        loop {
            let pending = if first.is_some() { Vec::new() } else { self.comments() };
            let text = match first.take() {
                Some(t) => t,
                None => match self.peek() {
                    Some(l) if l.indent == indent && !l.is_dash() => l.text,
                    Some(l) if l.indent > indent => return None,
                    Some(l) if l.indent == indent && l.is_dash() => return None,
                    _ => {
                        let (own, up) = partition(pending, indent);
                        items.extend(own.into_iter().map(Item::Comment));
                        self.depth -= 1;
                        return Some((dedup(items)?, up));
                    }
                },
            };
            items.extend(pending.into_iter().map(|(t, _)| Item::Comment(t)));
            let (key, rest) = split_key(text)??;
            self.i += 1;
            self.nodes += 1;
            let (value, inline, trailing) = self.value_after(rest, indent, true)?;
            // sops places a line comment before its entry.
            items.extend(inline.map(Item::Comment));
            items.push(Item::Entry(key, value));
            let (own, up) = partition(trailing, indent);
            items.extend(own.into_iter().map(Item::Comment));
            if !up.is_empty() {
                self.end_for_outer(indent)?;
                return Some((dedup(items)?, up));
            }
        }
    }

    /// A block list whose dashes sit at `indent`; `first` is the rest of a `- - …` line.
    fn seq_from(&mut self, indent: usize, mut first: Option<&'s str>) -> Option<(Vec<Value>, Trailing)> {
        self.enter()?;
        let mut items: Vec<Value> = Vec::new();
        loop {
            let pending = if first.is_some() { Vec::new() } else { self.comments() };
            let text = match first.take() {
                Some(t) => t,
                None => match self.peek() {
                    Some(l) if l.indent == indent && l.is_dash() => l.text,
                    Some(l) if l.indent > indent => return None,
                    _ => {
                        let (own, up) = partition(pending, indent);
                        items.extend(own.into_iter().map(Value::Comment));
                        self.depth -= 1;
                        return Some((items, up));
                    }
                },
            };
            items.extend(pending.into_iter().map(|(t, _)| Value::Comment(t)));
            let rest = text.strip_prefix('-')?;
            if rest.is_empty() {
                return None;
            }
            let inner = rest.strip_prefix(' ')?;
            let content = inner.trim_start_matches(' ');
            let col = indent + 1 + (rest.len() - content.len());
            let (value, inline, trailing) = if content.starts_with('#') {
                return None;
            } else if content == "-" || content.starts_with("- ") {
                let (s, t) = self.seq_from(col, Some(content))?;
                (Value::Seq(s), None, t)
            } else if let Some(Some(_)) = split_key(content) {
                let (m, t) = self.map_from(col, Some(content))?;
                (Value::Map(m), None, t)
            } else {
                self.i += 1;
                self.nodes += 1;
                self.value_after(content, indent, false)?
            };
            items.extend(inline.map(Value::Comment));
            items.push(value);
            let (own, up) = partition(trailing, indent);
            items.extend(own.into_iter().map(Value::Comment));
            if !up.is_empty() {
                self.end_for_outer(indent)?;
                return Some((items, up));
            }
        }
    }

    /// The value after `key:` (or after `- ` when `in_map` is false): a one-line scalar, a
    /// literal block, or a nested block on the following lines.
    fn value_after(&mut self, rest: &'s str, indent: usize, in_map: bool) -> Option<(Value, Option<String>, Trailing)> {
        let t = rest.trim_start_matches(' ');
        if t.is_empty() || (in_map && t.starts_with('#') && t.len() < rest.len()) {
            let inline = (!t.is_empty()).then(|| t[1..].to_string());
            if !in_map {
                return None;
            }
            // A nested block, or nothing (null).
            let save = self.i;
            let between = self.comments();
            let next = self.peek();
            let nested = match next {
                Some(l) if l.indent > indent => Some((l.indent, l.is_dash())),
                Some(l) if l.indent == indent && l.is_dash() => Some((l.indent, true)),
                _ => None,
            };
            let Some((col, dash)) = nested else {
                if !between.is_empty() {
                    return None;
                }
                self.i = save;
                return Some((Value::Null, inline, Vec::new()));
            };
            // Comments before the block at its column or deeper open it; others precede the entry.
            if between.iter().any(|(_, c)| *c < col) {
                return None;
            }
            let head = between;
            let (v, trailing) = if dash {
                let (mut s, t) = self.seq_from(col, None)?;
                let mut h: Vec<Value> = head.into_iter().map(|(t, _)| Value::Comment(t)).collect();
                h.append(&mut s);
                (Value::Seq(h), t)
            } else {
                let (mut m, t) = self.map(col)?;
                let mut h: Vec<Item> = head.into_iter().map(|(t, _)| Item::Comment(t)).collect();
                h.append(&mut m);
                (Value::Map(h), t)
            };
            return Some((v, inline, trailing));
        }
        if let Some(header) = t.strip_prefix('|') {
            return self.literal(header, indent).map(|v| (v, None, Vec::new()));
        }
        let (v, comment) = scalar(t)?;
        // A deeper line after a one-line scalar would continue it (multi-line plain): not ours.
        if let Some(l) = self.lines[..self.end].get(self.i) {
            if !l.is_blank() && !l.is_comment() && l.indent > indent {
                return None;
            }
        }
        Some((v, comment, Vec::new()))
    }

    /// `|`, `|-`, `|+` literal blocks (no indentation indicator) after a key or dash at
    /// `parent` indentation. `self.i` is at the line after the header.
    fn literal(&mut self, header: &str, parent: usize) -> Option<Value> {
        let chomp = match header {
            "" => 'c',
            "-" => 's',
            "+" => 'k',
            _ => return None,
        };
        let mut block_indent: Option<usize> = None;
        let mut body = String::new();
        let mut empty = 0usize;
        while self.i < self.end {
            let l = &self.lines[self.i];
            if l.is_blank() {
                // Spaces beyond the block's indentation would be content: leave those to saphyr.
                if block_indent.is_none_or(|b| l.raw.len() > b) {
                    return None;
                }
                empty += 1;
                self.i += 1;
                continue;
            }
            if l.indent <= parent {
                break;
            }
            let b = *block_indent.get_or_insert(l.indent);
            if l.indent < b {
                return None;
            }
            for _ in 0..empty {
                body.push('\n');
            }
            empty = 0;
            body.push_str(&l.raw[b..]);
            body.push('\n');
            self.i += 1;
        }
        block_indent?;
        match chomp {
            'c' => {}
            's' => {
                body.pop();
            }
            _ => {
                for _ in 0..empty {
                    body.push('\n');
                }
            }
        }
        Some(Value::Str(body))
    }
}

/// Which comments stay with a container whose entries sit at `indent`, and which go up to
/// an enclosing one (as the general parser places them, by column).
fn partition(comments: Trailing, indent: usize) -> (Vec<String>, Trailing) {
    let (own, up): (Trailing, Trailing) = comments.into_iter().partition(|(_, col)| *col >= indent);
    (own.into_iter().map(|(t, _)| t).collect(), up)
}

fn dedup(items: Vec<Item>) -> Option<Vec<Item>> {
    let mut keys: Vec<&str> = items.iter().filter_map(|i| if let Item::Entry(k, _) = i { Some(k.as_str()) } else { None }).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{tree, Rng};
    use crate::yaml::parse::parse_general;
    use crate::yaml::{emit_value, EmitOptions};

    #[test]
    fn fast_and_general_paths_build_the_same_trees() {
        let mut r = Rng(0xC0FFEE);
        let mut fast_hits = 0;
        let total = 400;
        for n in 0..total {
            let t = tree(&mut r, 0);
            let indent = if n % 2 == 0 { 2 } else { 4 };
            let mut src = emit_value(&t, EmitOptions { indent });
            if n % 5 == 0 {
                let second = emit_value(&tree(&mut r, 0), EmitOptions { indent });
                src = format!("{src}---\n{second}");
            }
            let slow = parse_general(&src, Limits::default()).expect("general parser accepts emitter output");
            if let Some(fast) = try_parse(&src, Limits::default()) {
                fast_hits += 1;
                assert_eq!(fast.len(), slow.len(), "{src}");
                for (f, s) in fast.iter().zip(&slow) {
                    assert_eq!(f.root, s.root, "document differs:\n{src}");
                }
            }
        }
        eprintln!("fast path took {fast_hits}/{total}");
        assert!(fast_hits * 10 >= total * 7, "fast path declined too often: {fast_hits}/{total}");
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        for src in ["a: &x 1\nb: *x\n", "a: [1, 2]\n", "a: >\n  folded\n", "a: b\n  continued\n", "a:\tb\n", "a: 1\r\n", "- a\n", "a: !!str 1\n", "a: 1"] {
            assert!(try_parse(src, Limits::default()).is_none(), "{src:?}");
        }
        assert!(try_parse("a: 1\na: 2\n", Limits::default()).is_none());
    }

    #[test]
    fn handles_sops_shapes() {
        let src = "# head\napiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  labels:\n    app: y # inline\ndata:\n  k: v\nlist:\n- a\n- b: 1\n  c: 2\nsops:\n    age:\n        - recipient: age1x\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            abc\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2024-01-01T00:00:00Z\"\n    version: 3.11.0\n";
        let fast = try_parse(src, Limits::default()).expect("fast path");
        let slow = parse_general(src, Limits::default()).unwrap();
        assert_eq!(fast[0].root, slow[0].root);
    }
}
