//! The modes without a subcommand: `kunseal` with a ResourceList or a manifest stream on
//! stdin, and `kunseal CONFIG` as kustomize's legacy exec plugin.

use std::io::Read;

use anyhow::{bail, Context};

use crate::io::{emit_manifest, krm, stream};
use crate::keys::Keyring;
use crate::render::RenderOptions;
use crate::tree::Value;
use crate::yaml::{parse_documents, Limits};

/// Exit status of a mode that wrote its own output (KRM writes results even on failure).
pub enum Outcome {
    Ok,
    FailedWithOutput,
}

pub fn stdin_mode() -> anyhow::Result<Outcome> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        bail!("no input: pipe a ResourceList or a manifest stream to kunseal, give a generator config, or see `kunseal --help`");
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading stdin (is it UTF-8 text?)")?;
    let keyring = Keyring::from_env();
    let opts = RenderOptions::from_env();
    let cwd = std::env::current_dir().context("working directory")?;
    // A ResourceList is one document whose kind says so; anything else is a stream.
    let looks_like_list = text.contains("ResourceList") || text.contains("kind: List") || text.contains("\"List\"");
    if looks_like_list {
        if let Ok(docs) = parse_documents(&text, Limits::default()) {
            if let [doc] = docs.as_slice() {
                if krm::is_resource_list(&doc.root) {
                    let Value::Map(list) = &doc.root else { unreachable!() };
                    let (out, errors) = krm::process(list, &cwd, &keyring, opts);
                    super::write_stdout(emit_manifest(&out).as_bytes())?;
                    if !errors.is_empty() {
                        for e in errors {
                            eprintln!("kunseal: {e}");
                        }
                        return Ok(Outcome::FailedWithOutput);
                    }
                    return Ok(Outcome::Ok);
                }
            }
        }
    }
    let out = stream::render(&text, &keyring, opts)?;
    super::write_stdout(out.as_bytes())?;
    Ok(Outcome::Ok)
}

/// `kunseal CONFIG`: kustomize's legacy exec plugin; prints the generated manifests.
pub fn legacy(config: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config).with_context(|| format!("cannot read generator config {config}"))?;
    let docs = parse_documents(&text, Limits::default()).map_err(|e| anyhow::anyhow!("generator config {config}: invalid YAML: {e}"))?;
    let keyring = Keyring::from_env();
    let opts = RenderOptions::from_env();
    let cwd = std::env::current_dir().context("working directory")?;
    let mut out = String::new();
    for d in &docs {
        let Value::Map(cfg) = &d.root else { bail!("generator config {config}: not a mapping") };
        if !crate::generator::is_config(cfg) {
            bail!("generator config {config}: expected apiVersion viaduct.ai/v1 (or v2) and kind ksops");
        }
        let generated = crate::generator::generate(cfg, &cwd, &keyring, opts).map_err(|e| anyhow::anyhow!("{}", e.in_file(config)))?;
        for m in generated {
            if !out.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&emit_manifest(&m));
        }
    }
    super::write_stdout(out.as_bytes())
}
