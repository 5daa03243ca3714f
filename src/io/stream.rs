//! A multi-document manifest stream (Helm post-renderer, Argo CD CMP, pipes): every
//! document with a top-level `sops` block is decrypted, every SealedSecret unsealed when keys
//! are configured; every other document is written back byte for byte, comments (Helm's `# Source:`) and separators included.

use rayon::prelude::*;

use crate::keys::Keyring;
use crate::render::{decrypt_manifest, RenderError, RenderOptions};
use crate::tree::{Item, Value};
use crate::yaml::{parse_documents, Limits};

/// One document: the separator line before it (if any) and its text.
pub struct Chunk<'s> {
    pub sep: &'s str,
    pub body: &'s str,
}

fn is_separator(line: &str) -> bool {
    let l = line.trim_end_matches(['\n', '\r']);
    l == "---" || (l.starts_with("--- ") || l.starts_with("---\t")) || l == "..."
}

/// Splits a stream at `---` lines (a line of a block scalar is always indented, so a
/// separator at column 0 is always one).
pub fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut sep = "";
    let mut body_start = 0;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if is_separator(line) {
            chunks.push(Chunk { sep, body: &text[body_start..pos] });
            sep = &text[pos..pos + line.len()];
            body_start = pos + line.len();
        }
        pos += line.len();
    }
    chunks.push(Chunk { sep, body: &text[body_start..] });
    chunks
}

fn carries_sops(body: &str) -> bool {
    body.starts_with("sops:") || body.contains("\nsops:")
}

fn maybe_sealed(body: &str) -> bool {
    body.contains("SealedSecret")
}

/// Decrypts the SOPS documents of a stream; the output is the whole stream, or an error
/// and nothing.
pub fn render(text: &str, keyring: &Keyring, opts: RenderOptions) -> Result<String, RenderError> {
    let chunks = split(text);
    let unseal = keyring.sealed_keys().is_some();
    // Parse the documents that may need work, open the data keys of all of them together
    // (key-service round trips overlap), then decrypt or unseal.
    enum Doc {
        Untouched,
        Manifest(Vec<Item>),
    }
    let parsed: Vec<Result<Doc, RenderError>> = chunks
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            if !(carries_sops(c.body) || (unseal && maybe_sealed(c.body))) {
                return Ok(Doc::Untouched);
            }
            let name = format!("document {} of the stream", i + 1);
            let docs = parse_documents(c.body, Limits::default()).map_err(|e| RenderError::new(format!("invalid YAML: {e}")).in_file(&name))?;
            let Ok([doc]) = <[_; 1]>::try_from(docs) else { return Err(RenderError::new("expected one document").in_file(&name)) };
            Ok(match doc.root {
                Value::Map(items) => Doc::Manifest(items),
                _ => Doc::Untouched,
            })
        })
        .collect();
    crate::render::prefetch_manifests(
        parsed.iter().filter_map(|p| match p {
            Ok(Doc::Manifest(items)) => Some(items.as_slice()),
            _ => None,
        }),
        keyring,
    );
    let rendered: Vec<Result<Option<String>, RenderError>> = parsed
        .into_par_iter()
        .enumerate()
        .map(|(i, p)| {
            let Doc::Manifest(items) = p? else { return Ok(None) };
            let name = format!("document {} of the stream", i + 1);
            if !crate::render::has_sops(&items) {
                return match crate::render::unseal_if_configured(&items, keyring).map_err(|e| e.in_file(&name))? {
                    Some(secret) => Ok(Some(super::emit_manifest(&secret))),
                    None => Ok(None),
                };
            }
            let out = decrypt_manifest(items, keyring, opts).map_err(|e| e.in_file(&name))?;
            Ok(Some(super::emit_manifest(&out)))
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    for (c, r) in chunks.iter().zip(rendered) {
        out.push_str(c.sep);
        match r? {
            Some(s) => out.push_str(&s),
            None => out.push_str(c.body),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_rejoins_exactly() {
        for text in ["", "a: 1\n", "---\na: 1\n---\n# Source: x\nb: 2\n", "a: |\n  ---\n  x\n---\nb: 1", "a: 1\n...\n"] {
            let rejoined: String = split(text).iter().map(|c| format!("{}{}", c.sep, c.body)).collect();
            assert_eq!(rejoined, text);
        }
        assert_eq!(split("---\na: 1\n---\nb: 2\n").len(), 3);
    }
}
