//! `kunseal decrypt [FILE|-]`: like `sops decrypt`, same output for the same file.

use std::io::Read;

use anyhow::{bail, Context};
use clap::Args;

use crate::keys::Keyring;
use crate::sops::metadata::Metadata;
use crate::sops::stores::{self, Format};
use crate::sops::{self as sopsmod, DecryptOptions};
use crate::tree::{Item, Value};

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// The encrypted file; `-` or nothing for stdin.
    pub file: Option<String>,
    /// Input format (default: from the file name).
    #[arg(long, value_name = "FORMAT", value_parser = FORMATS)]
    pub input_type: Option<String>,
    /// Output format (default: the input format).
    #[arg(long, value_name = "FORMAT", value_parser = FORMATS)]
    pub output_type: Option<String>,
    /// Print only this part of the tree, e.g. '["data"]["password"]'.
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Write the plaintext to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<String>,
    /// Do not verify the MAC (as sops' --ignore-mac).
    #[arg(long)]
    pub ignore_mac: bool,
}

const FORMATS: [&str; 5] = ["yaml", "json", "dotenv", "ini", "binary"];

fn format_arg(v: &Option<String>, flag: &str) -> anyhow::Result<Option<Format>> {
    match v {
        None => Ok(None),
        Some(s) => Format::parse(s).map(Some).with_context(|| format!("{flag}: unknown format {s:?} (yaml, json, dotenv, ini, binary)")),
    }
}

/// One step of `--extract`: a key or a list index.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Parses sops' `--extract` syntax: `["a"][0]["b"]`.
pub fn parse_extract(s: &str) -> anyhow::Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').context("--extract: expected '['")?;
        let close = if inner.starts_with('"') {
            let mut i = 1;
            let b = inner.as_bytes();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= b.len() {
                bail!("--extract: unterminated string");
            }
            let key: String = serde_json::from_str(&inner[..=i]).context("--extract: bad key string")?;
            steps.push(Step::Key(key));
            i + 1
        } else {
            let end = inner.find(']').context("--extract: expected ']'")?;
            steps.push(Step::Index(inner[..end].trim().parse().context("--extract: expected a quoted key or an index")?));
            end
        };
        rest = inner[close..].strip_prefix(']').context("--extract: expected ']'")?.trim_start();
    }
    Ok(steps)
}

fn extract<'a>(root: &'a [Item], steps: &[Step]) -> Option<&'a Value> {
    let mut cur: Option<&Value> = None;
    for (i, step) in steps.iter().enumerate() {
        cur = match (i, cur, step) {
            (0, _, Step::Key(k)) => crate::tree::map_get(root, k),
            (_, Some(Value::Map(m)), Step::Key(k)) => crate::tree::map_get(m, k),
            (_, Some(Value::Seq(s)), Step::Index(n)) => s.iter().filter(|v| !matches!(v, Value::Comment(_))).nth(*n),
            _ => None,
        };
        cur?;
    }
    cur
}

pub fn read_input(file: &str) -> anyhow::Result<Vec<u8>> {
    if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading stdin")?;
        Ok(buf)
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {file}"))
    }
}

pub fn run(args: DecryptArgs) -> anyhow::Result<()> {
    let file = args.file.clone().unwrap_or_else(|| "-".into());
    let input_type = format_arg(&args.input_type, "--input-type")?;
    let output_type = format_arg(&args.output_type, "--output-type")?;
    let steps = args.extract.as_deref().map(parse_extract).transpose()?;
    let in_fmt = input_type.unwrap_or_else(|| if file == "-" { Format::Yaml } else { Format::from_path(&file) });
    let out_fmt = output_type.unwrap_or(in_fmt);
    let name = if file == "-" { "<stdin>".to_string() } else { file.clone() };

    let bytes = read_input(&file)?;
    let keyring = Keyring::from_env();
    let plain = decrypt_to_bytes(&bytes, &name, in_fmt, out_fmt, steps.as_deref(), &keyring, DecryptOptions { ignore_mac: args.ignore_mac })?;
    match &args.output {
        Some(path) => write_private(path, &plain).with_context(|| format!("cannot write {path}")),
        None => super::write_stdout(&plain),
    }
}

/// Decrypts `bytes` and renders the plaintext; errors name the file, resource and field.
pub fn decrypt_to_bytes(
    bytes: &[u8],
    name: &str,
    in_fmt: Format,
    out_fmt: Format,
    steps: Option<&[Step]>,
    keyring: &Keyring,
    opts: DecryptOptions,
) -> anyhow::Result<Vec<u8>> {
    let ctx = |resource: Option<&String>| match resource {
        Some(r) => format!("cannot decrypt {name} ({r})"),
        None => format!("cannot decrypt {name}"),
    };
    let loaded = stores::load(in_fmt, bytes).with_context(|| ctx(None))?;
    let resource = loaded.branches.first().map(|b| crate::render::ResourceRef::of(b)).filter(|r| r.kind.is_some()).map(|r| r.to_string());
    let md = loaded
        .metadata
        .ok_or(crate::sops::metadata::MetadataError::Missing)
        .and_then(Metadata::from_json)
        .with_context(|| ctx(resource.as_ref()))?;
    let dec = sopsmod::decrypt_branches(loaded.branches, md, keyring, opts).with_context(|| ctx(resource.as_ref()))?;
    if dec.kept_comments > 0 {
        eprintln!("kunseal: warning: {name}: {} comment(s) did not decrypt and were kept as they are", dec.kept_comments);
    }
    let Some(steps) = steps else {
        return stores::emit(out_fmt, &dec.branches).with_context(|| format!("cannot write the plaintext of {name}"));
    };
    let first = dec.branches.first().map_or(&[][..], |b| &b[..]);
    let v = extract(first, steps).with_context(|| format!("{name}: --extract path not found"))?;
    Ok(match v {
        // sops replaces the first document with the extracted mapping and writes them all.
        Value::Map(m) => {
            let mut docs = vec![m.clone()];
            docs.extend(dec.branches.iter().skip(1).cloned());
            stores::emit(out_fmt, &docs)?
        }
        Value::Str(s) => s.clone().into_bytes(),
        Value::Bytes(b) => b.clone(),
        other => match out_fmt {
            Format::Json => stores::json::emit_value(other)?.into_bytes(),
            _ => crate::yaml::emit_value(other, crate::yaml::EmitOptions { indent: 4 }).into_bytes(),
        },
    })
}

fn write_private(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_syntax() {
        assert_eq!(parse_extract(r#"["a"][0]["b\"c"]"#).unwrap(), vec![Step::Key("a".into()), Step::Index(0), Step::Key("b\"c".into())]);
        assert!(parse_extract("[a]").is_err());
        assert!(parse_extract(r#"["a""#).is_err());
    }
}
