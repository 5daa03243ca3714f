//! Walking a tree as sops does (`walkBranch`/`walkSlice`/`shouldBeEncrypted` in sops.go):
//! every leaf in document order with its path (mapping keys only — list items add nothing),
//! its AAD, whether the rules say it is encrypted, and the comments stack for the comment
//! rules. Decryption then runs over the leaves in parallel; the MAC runs over them in order.

use rayon::prelude::*;
use sha2::{Digest, Sha512};

use super::metadata::Rules;
use super::value::{DataCipher, ValueError};
use crate::tree::{Item, Value};

/// 32 constant bytes sops hashes first when `mac_only_encrypted` is set (sops.go).
pub const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b, 0x3b,
    0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// One leaf: a scalar or comment and what sops' walk knows about it.
pub struct Leaf<'a> {
    pub value: &'a mut Value,
    /// Path joined with ':' plus ':' — the AAD. Also names the field in errors.
    pub aad: String,
    pub encrypted: bool,
}

impl Leaf<'_> {
    /// The field path as `a.b.c` for messages (`(top level)` for top-level comments).
    pub fn display_path(&self) -> String {
        display_path(&self.aad)
    }
}

pub fn display_path(aad: &str) -> String {
    let p = aad.strip_suffix(':').unwrap_or(aad);
    if p.is_empty() {
        "(top level)".into()
    } else {
        p.replace(':', ".")
    }
}

struct Walker<'r> {
    rules: &'r Rules,
    needs_comments: bool,
}

/// Path-rule state carried down the tree: whether any component so far matched.
#[derive(Clone, Copy, Default)]
struct PathState {
    unenc_suffix: bool,
    enc_suffix: bool,
    unenc_regex: bool,
    enc_regex: bool,
}

impl Walker<'_> {
    fn push_component(&self, st: PathState, key: &str) -> PathState {
        let r = self.rules;
        PathState {
            unenc_suffix: st.unenc_suffix || r.unencrypted_suffix.as_deref().is_some_and(|s| key.ends_with(s)),
            enc_suffix: st.enc_suffix || r.encrypted_suffix.as_deref().is_some_and(|s| key.ends_with(s)),
            unenc_regex: st.unenc_regex || r.unencrypted_regex.as_ref().is_some_and(|re| re.is_match(key)),
            enc_regex: st.enc_regex || r.encrypted_regex.as_ref().is_some_and(|re| re.is_match(key)),
        }
    }

    fn should_encrypt(&self, st: PathState, stack: &[Vec<String>], is_comment: bool) -> bool {
        let r = self.rules;
        let mut encrypted = true;
        if r.unencrypted_suffix.is_some() && st.unenc_suffix {
            encrypted = false;
        }
        if r.encrypted_suffix.is_some() {
            encrypted = st.enc_suffix;
        }
        if r.unencrypted_regex.is_some() && st.unenc_regex {
            encrypted = false;
        }
        if r.encrypted_regex.is_some() {
            encrypted = st.enc_regex;
        }
        if let Some(re) = &r.unencrypted_comment_regex {
            if stack.iter().flatten().any(|c| re.is_match(c)) {
                encrypted = false;
            }
        }
        if let Some(re) = &r.encrypted_comment_regex {
            encrypted = false;
            let last = stack.len().saturating_sub(1);
            let last_len = stack.last().map_or(0, Vec::len);
            'outer: for (i, cs) in stack.iter().enumerate() {
                for (j, c) in cs.iter().enumerate() {
                    if is_comment && i == last && j + 1 == last_len {
                        continue;
                    }
                    if re.is_match(c) {
                        encrypted = true;
                        break 'outer;
                    }
                }
            }
        }
        encrypted
    }

}

/// Turns mapping comments into entries the walk can hold as values: `Item::Comment(c)`
/// becomes `Item::Entry("\0#", Value::Comment(c))` for the walk, and back afterwards.
pub fn normalise_comments(items: &mut [Item]) {
    for item in items.iter_mut() {
        match item {
            Item::Comment(c) => *item = Item::Entry(COMMENT_KEY.into(), Value::Comment(std::mem::take(c))),
            Item::Entry(_, v) => normalise_value(v),
        }
    }
}

fn normalise_value(v: &mut Value) {
    match v {
        Value::Map(items) => normalise_comments(items),
        Value::Seq(items) => items.iter_mut().for_each(normalise_value),
        _ => {}
    }
}

pub fn restore_comments(items: &mut [Item]) {
    for item in items.iter_mut() {
        match item {
            Item::Entry(k, Value::Comment(c)) if k == COMMENT_KEY => *item = Item::Comment(std::mem::take(c)),
            Item::Entry(k, Value::Str(c)) if k == COMMENT_KEY => *item = Item::Comment(std::mem::take(c)),
            Item::Entry(_, v) => restore_value(v),
            Item::Comment(_) => {}
        }
    }
}

fn restore_value(v: &mut Value) {
    match v {
        Value::Map(items) => restore_comments(items),
        Value::Seq(items) => items.iter_mut().for_each(restore_value),
        _ => {}
    }
}

/// A key no YAML, JSON, dotenv or INI document can produce from its text.
const COMMENT_KEY: &str = "\u{0}#comment";

/// Collects the leaves of all branches in document order. Call [`normalise_comments`] on
/// every branch first and [`restore_comments`] after.
pub fn leaves<'a>(branches: &'a mut [Vec<Item>], rules: &Rules) -> Vec<Leaf<'a>> {
    let needs_comments = rules.unencrypted_comment_regex.is_some() || rules.encrypted_comment_regex.is_some();
    let w = Walker { rules, needs_comments };
    let mut out = Vec::new();
    for b in branches.iter_mut() {
        let mut stack = Vec::new();
        w.walk_entries(b, "", PathState::default(), &mut stack, &mut out);
    }
    out
}

impl Walker<'_> {
    /// Like `walk_map`, over normalised items where comments are `COMMENT_KEY` entries.
    fn walk_entries<'a>(&self, items: &'a mut [Item], aad: &str, st: PathState, stack: &mut Vec<Vec<String>>, out: &mut Vec<Leaf<'a>>) {
        stack.push(Vec::new());
        for item in items.iter_mut() {
            let Item::Entry(k, v) = item else { continue };
            if k == COMMENT_KEY {
                if let Value::Comment(c) = &*v {
                    if self.needs_comments {
                        stack.last_mut().unwrap().push(c.clone());
                    }
                }
                let encrypted = self.should_encrypt(st, stack, true);
                out.push(Leaf { value: v, aad: if aad.is_empty() { ":".into() } else { aad.to_string() }, encrypted });
                continue;
            }
            let child_st = self.push_component(st, k);
            let mut child_aad = String::with_capacity(aad.len() + k.len() + 1);
            child_aad.push_str(aad);
            child_aad.push_str(k);
            child_aad.push(':');
            match v {
                Value::Map(m) => self.walk_entries(m, &child_aad, child_st, stack, out),
                other => self.walk_value_norm(other, child_aad, child_st, stack, out),
            }
            if self.needs_comments {
                stack.last_mut().unwrap().clear();
            }
        }
        stack.pop();
    }

    fn walk_value_norm<'a>(&self, v: &'a mut Value, aad: String, st: PathState, stack: &mut Vec<Vec<String>>, out: &mut Vec<Leaf<'a>>) {
        match v {
            Value::Map(items) => self.walk_entries(items, &aad, st, stack, out),
            Value::Seq(items) => {
                stack.push(Vec::new());
                for item in items.iter_mut() {
                    let is_comment = matches!(item, Value::Comment(_));
                    if let (true, Value::Comment(c)) = (self.needs_comments, &*item) {
                        stack.last_mut().unwrap().push(c.clone());
                    }
                    match item {
                        Value::Map(_) | Value::Seq(_) => self.walk_value_norm(item, aad.clone(), st, stack, out),
                        Value::Null => {}
                        leaf => {
                            let encrypted = self.should_encrypt(st, stack, is_comment);
                            out.push(Leaf { value: leaf, aad: aad.clone(), encrypted });
                        }
                    }
                    if !is_comment && self.needs_comments {
                        stack.last_mut().unwrap().clear();
                    }
                }
                stack.pop();
            }
            Value::Null => {}
            leaf => {
                let encrypted = self.should_encrypt(st, stack, false);
                out.push(Leaf { value: leaf, aad, encrypted });
            }
        }
    }
}

/// A failure on one leaf: the field path and what went wrong, never the value.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafError {
    pub path: String,
    pub error: ValueError,
}

/// Decrypts every encrypted leaf in place, in parallel. Comments that fail to decrypt are
/// kept as they are (sops: "possibly unencrypted comment"); any other failure is an error,
/// the first one in document order, and the caller drops the tree.
/// Returns how many comments were kept undecrypted.
pub fn decrypt_leaves(leaves: &mut [Leaf<'_>], cipher: &DataCipher) -> Result<usize, LeafError> {
    let work = |leaf: &Leaf<'_>| -> Result<Option<Value>, LeafError> {
        if !leaf.encrypted {
            return Ok(None);
        }
        match &*leaf.value {
            Value::Comment(c) => Ok(match cipher.decrypt(c, &leaf.aad) {
                Ok(v @ Value::Comment(_)) => Some(v),
                Ok(Value::Str(s)) => Some(Value::Comment(s)),
                _ => None,
            }),
            Value::Str(s) => cipher
                .decrypt(s, &leaf.aad)
                .map(Some)
                .map_err(|error| LeafError { path: display_path(&leaf.aad), error }),
            _ => Err(LeafError { path: display_path(&leaf.aad), error: ValueError::Format }),
        }
    };
    // Small trees are not worth the thread hand-off.
    let results: Vec<Result<Option<Value>, LeafError>> = if leaves.len() < 512 {
        leaves.iter().map(work).collect()
    } else {
        leaves.par_iter().with_min_len(256).map(work).collect()
    };
    let mut kept = 0;
    for (leaf, r) in leaves.iter_mut().zip(results) {
        match r? {
            Some(v) => *leaf.value = v,
            None if leaf.encrypted => kept += 1,
            None => {}
        }
    }
    Ok(kept)
}

/// sops' MAC over the (decrypted) leaves: SHA-512 of every non-comment leaf's plaintext in
/// document order (only encrypted ones with `mac_only_encrypted`), as uppercase hex.
pub fn compute_mac(leaves: &[Leaf<'_>], mac_only_encrypted: bool) -> String {
    let mut h = Sha512::new();
    if mac_only_encrypted {
        h.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for leaf in leaves {
        if mac_only_encrypted && !leaf.encrypted {
            continue;
        }
        if matches!(&*leaf.value, Value::Comment(_)) {
            continue;
        }
        if let Some(b) = leaf.value.to_sops_bytes() {
            h.update(&b);
        }
    }
    let digest = h.finalize();
    let mut s = String::with_capacity(128);
    for b in digest {
        s.push_str(&format!("{b:02X}"));
    }
    s
}
