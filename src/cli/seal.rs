//! `kunseal seal --cert CERT`: Secrets → SealedSecrets as `kubeseal --cert` writes them
//! (JSON by default, `-o yaml`), `--raw`, `--merge-into`. Offline: the certificate is a file.

use anyhow::{bail, Context};
use clap::Args;

use crate::sealed::hybrid::Scope;
use crate::sealed::seal::{parse_scope, seal_raw, seal_secret, Cert, SealOptions};
use crate::tree::{map_get, Item, Value};
use crate::yaml::{parse_documents, Limits};

#[derive(Args, Debug)]
pub struct SealArgs {
    /// Secret manifest(s); `-` or nothing for stdin (with --raw: the value, unless --from-file).
    pub file: Option<String>,
    /// The controller's sealing certificate (PEM).
    #[arg(long, value_name = "CERT")]
    pub cert: String,
    /// strict (default), namespace-wide or cluster-wide; else the Secret's annotations decide.
    #[arg(long, value_parser = ["strict", "namespace-wide", "cluster-wide"])]
    pub scope: Option<String>,
    /// Seal one value and print it base64-encoded (no newline).
    #[arg(long)]
    pub raw: bool,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// With --raw: read the value from this file (`[key=]path`).
    #[arg(long, value_name = "[KEY=]PATH")]
    pub from_file: Option<String>,
    /// Merge the sealed items into this existing SealedSecret file (rewritten in place).
    #[arg(long, value_name = "FILE")]
    pub merge_into: Option<String>,
    #[arg(short = 'o', long = "format", value_name = "FORMAT", default_value = "json", value_parser = ["json", "yaml"])]
    pub format: String,
    /// Seal with an expired certificate (kubeseal refuses them).
    #[arg(long)]
    pub allow_expired: bool,
    #[arg(long)]
    pub allow_empty_data: bool,
}

fn emit(items: &[Item], format: &str) -> anyhow::Result<String> {
    Ok(if format == "yaml" {
        format!("---\n{}", crate::io::emit_manifest(items))
    } else {
        crate::sops::stores::json::emit_value_indented(&Value::Map(items.to_vec()), "  ")?
    })
}

pub fn run(a: SealArgs) -> anyhow::Result<()> {
    let cert_text = std::fs::read_to_string(&a.cert).with_context(|| format!("cannot read certificate {}", a.cert))?;
    let cert = Cert::from_pem(&cert_text).map_err(|e| anyhow::anyhow!("{}: {e}", a.cert))?;
    if cert.expired() && !a.allow_expired {
        bail!("{}: the certificate has expired (use --allow-expired to seal anyway)", a.cert);
    }
    let scope = a.scope.as_deref().and_then(parse_scope);
    if a.raw {
        let value = match &a.from_file {
            Some(spec) => {
                let path = spec.split_once('=').map_or(spec.as_str(), |(_, p)| p);
                std::fs::read(path).with_context(|| format!("cannot read {path}"))?
            }
            None => super::decrypt::read_input(a.file.as_deref().unwrap_or("-"))?,
        };
        let out = seal_raw(&value, &cert, scope.unwrap_or(Scope::Strict), a.namespace.as_deref().unwrap_or(""), a.name.as_deref().unwrap_or(""))
            .map_err(|e| anyhow::anyhow!(e))?;
        return super::write_stdout(out.as_bytes());
    }
    let file = a.file.clone().unwrap_or_else(|| "-".into());
    let text = String::from_utf8(super::decrypt::read_input(&file)?).context("input is not UTF-8")?;
    let docs = parse_documents(&text, Limits::default()).map_err(|e| anyhow::anyhow!("{file}: invalid YAML/JSON: {e}"))?;

    if let Some(target) = &a.merge_into {
        let orig_text = std::fs::read_to_string(target).with_context(|| format!("cannot read {target}"))?;
        let is_json = orig_text.trim_start().starts_with('{');
        let mut orig = match parse_documents(&orig_text, Limits::default()).map_err(|e| anyhow::anyhow!("{target}: {e}"))?.into_iter().next().map(|d| d.root) {
            Some(Value::Map(m)) if crate::sealed::unseal::is_sealed_secret(&m) => m,
            _ => bail!("{target}: not a SealedSecret"),
        };
        let md = map_get(&orig, "metadata");
        let name = md.and_then(|m| m.get("name")).and_then(Value::scalar_text);
        let ns = md.and_then(|m| m.get("namespace")).and_then(Value::scalar_text);
        let opts = SealOptions { scope, namespace: ns.as_deref(), name: name.as_deref(), allow_empty_data: a.allow_empty_data };
        for d in docs {
            let Value::Map(secret) = d.root else { continue };
            let mut secret = secret;
            // The file's name and namespace win.
            if let Some(Item::Entry(_, Value::Map(m))) = secret.iter_mut().find(|i| matches!(i, Item::Entry(k, _) if k == "metadata")) {
                m.retain(|i| !matches!(i, Item::Entry(k, _) if k == "namespace"));
            }
            let sealed = seal_secret(&secret, &cert, &opts).map_err(|e| anyhow::anyhow!(e))?;
            let new_items = match map_get(&sealed, "spec").and_then(|s| s.get("encryptedData")) {
                Some(Value::Map(m)) => m.clone(),
                _ => Vec::new(),
            };
            for i in orig.iter_mut() {
                if let Item::Entry(k, Value::Map(spec)) = i {
                    if k == "spec" {
                        let enc = spec.iter_mut().find_map(|i| match i {
                            Item::Entry(k, Value::Map(m)) if k == "encryptedData" => Some(m),
                            _ => None,
                        });
                        match enc {
                            Some(m) => {
                                for it in &new_items {
                                    if let Item::Entry(key, v) = it {
                                        if let Some(Item::Entry(_, old)) = m.iter_mut().find(|x| matches!(x, Item::Entry(k2, _) if k2 == key)) {
                                            *old = v.clone();
                                        } else {
                                            m.push(it.clone());
                                        }
                                    }
                                }
                            }
                            None => spec.push(Item::Entry("encryptedData".into(), Value::Map(new_items.clone()))),
                        }
                    }
                }
            }
        }
        let out = emit(&orig, if is_json { "json" } else { "yaml" })?;
        return std::fs::write(target, out).with_context(|| format!("cannot write {target}"));
    }

    let opts = SealOptions { scope, namespace: a.namespace.as_deref(), name: a.name.as_deref(), allow_empty_data: a.allow_empty_data };
    let mut out = String::new();
    for d in docs {
        let Value::Map(secret) = d.root else { continue };
        let sealed = seal_secret(&secret, &cert, &opts).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        out.push_str(&emit(&sealed, &a.format)?);
    }
    if out.is_empty() {
        bail!("{file}: no Secret to seal");
    }
    super::write_stdout(out.as_bytes())
}

#[derive(Args, Debug)]
pub struct ResealArgs {
    /// SealedSecret manifest(s); `-` or nothing for stdin.
    pub file: Option<String>,
    /// The new sealing certificate (PEM).
    #[arg(long, value_name = "CERT")]
    pub cert: String,
    /// Private keys that open the current SealedSecrets (default: KUNSEAL_SEALED_KEYS).
    #[arg(long = "key", value_name = "PATHS")]
    pub keys: Option<String>,
    #[arg(short = 'o', long = "format", value_name = "FORMAT", default_value = "yaml", value_parser = ["json", "yaml"])]
    pub format: String,
    #[arg(long)]
    pub allow_expired: bool,
}

/// `kunseal reseal --cert NEW`: offline `kubeseal --re-encrypt` with local keys.
pub fn reseal(a: ResealArgs) -> anyhow::Result<()> {
    let cert_text = std::fs::read_to_string(&a.cert).with_context(|| format!("cannot read certificate {}", a.cert))?;
    let cert = Cert::from_pem(&cert_text).map_err(|e| anyhow::anyhow!("{}: {e}", a.cert))?;
    if cert.expired() && !a.allow_expired {
        bail!("{}: the certificate has expired (use --allow-expired to seal anyway)", a.cert);
    }
    let keyring = super::sealed_keyring(a.keys.as_deref())?;
    let keys = keyring.sealed_keys().expect("checked").map_err(|e| anyhow::anyhow!(e))?;
    let file = a.file.clone().unwrap_or_else(|| "-".into());
    let text = String::from_utf8(super::decrypt::read_input(&file)?).context("input is not UTF-8")?;
    let docs = parse_documents(&text, Limits::default()).map_err(|e| anyhow::anyhow!("{file}: invalid YAML/JSON: {e}"))?;
    let mut out = String::new();
    for d in docs {
        let Value::Map(items) = d.root else { continue };
        if !crate::sealed::unseal::is_sealed_secret(&items) {
            bail!("{file}: {} is not a SealedSecret", crate::render::ResourceRef::of(&items));
        }
        let resealed = crate::sealed::unseal::reseal(&items, keys, &cert.spki).map_err(|e| anyhow::anyhow!("{}", e.in_file(&file)))?;
        out.push_str(&emit(&resealed, &a.format)?);
    }
    if out.is_empty() {
        bail!("{file}: no SealedSecret found");
    }
    super::write_stdout(out.as_bytes())
}
