//! Random documents for tests: every scalar type, tricky strings, nesting, lists of maps
//! and of lists, comments and `_unencrypted` keys. Deterministic per seed.

use crate::tree::{Item, Value};

/// xorshift64*: deterministic trees per seed.
pub struct Rng(pub u64);
impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const STRINGS: &[&str] = &[
    "hello", "with space", "a: colon", "hash # inside", "'quoted'", "\"double\"", "multi\nline\n", "no newline\nat end",
    "trailing\n\n", " lead", "tab\there", "ünïcödé ✓", "true", "123", "1.5", "null", "~", "yes", "-dash", "[x]", "{y}",
    "*star", "&amp", "!bang", "%pct", "@at", "`tick", "2024-01-01", "0x1F", "", "ENC[not really]", "a\\b", "<tag>&",
];

pub fn scalar(r: &mut Rng) -> Value {
    match r.below(9) {
        0..=3 => Value::Str(r.pick(STRINGS).to_string()),
        4 => Value::Int(r.pick(&[0i64, 1, -7, 42, 9_007_199_254_740_993, i64::MAX, i64::MIN]).to_owned()),
        5 => Value::Float(*r.pick(&[0.5, 1.25, -3.75, 1e21, 1234568000.0, 0.0001, 6.02e23, 2.5e-7])),
        6 => Value::Bool(r.below(2) == 0),
        7 => Value::Time(r.pick(&["2024-01-01T00:00:00Z", "2001-12-14T21:59:43.1-05:00", "2020-02-29T12:00:00Z"]).to_string()),
        _ => Value::Null,
    }
}

fn key(r: &mut Rng, i: usize) -> String {
    let base = r.pick(&["name", "password", "data", "stringData", "token", "user", "port", "nested", "list", "x"]);
    let suffix = match r.below(8) {
        0 => "_unencrypted",
        1 => "_enc",
        _ => "",
    };
    format!("{base}{i}{suffix}")
}

fn comment(r: &mut Rng) -> String {
    format!(" {}", r.pick(&["a comment", "sops:enc here", "keep clear", "note: x", "TODO"]))
}

pub fn tree(r: &mut Rng, depth: usize) -> Value {
    let n = 1 + r.below(5) as usize;
    let mut items = Vec::new();
    for i in 0..n {
        if r.below(5) == 0 {
            items.push(Item::Comment(comment(r)));
        }
        let v = if depth < 3 && r.below(3) == 0 {
            if r.below(2) == 0 {
                tree(r, depth + 1)
            } else {
                let mut list = Vec::new();
                for _ in 0..1 + r.below(4) {
                    list.push(match r.below(4) {
                        0 if depth < 3 => tree(r, depth + 1),
                        1 if depth < 3 => Value::Seq(vec![scalar(r), scalar(r)]),
                        _ => scalar(r),
                    });
                }
                Value::Seq(list)
            }
        } else {
            scalar(r)
        };
        items.push(Item::Entry(key(r, i), v));
    }
    if r.below(4) == 0 {
        items.push(Item::Comment(comment(r)));
    }
    Value::Map(items)
}

