//! `kunseal unseal [FILE|-]`: SealedSecrets → Secrets with local keys, like
//! `kubeseal --recovery-unseal` (owner reference to the SealedSecret included), for one or
//! many documents (YAML stream, JSON, or a `List`). The render modes add no owner reference.

use anyhow::{bail, Context};
use clap::Args;

use crate::tree::Value;
use crate::yaml::{parse_documents, Limits};

#[derive(Args, Debug)]
pub struct UnsealArgs {
    /// SealedSecret manifest(s); `-` or nothing for stdin.
    pub file: Option<String>,
    /// Private keys (PEM, key Secret or List, or a directory; comma-separated). Default:
    /// KUNSEAL_SEALED_KEYS.
    #[arg(long = "key", value_name = "PATHS")]
    pub keys: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "yaml", value_parser = ["yaml", "json"])]
    pub format: String,
}

pub fn run(args: UnsealArgs) -> anyhow::Result<()> {
    let file = args.file.unwrap_or_else(|| "-".into());
    let name = if file == "-" { "<stdin>".to_string() } else { file.clone() };
    let text = String::from_utf8(super::decrypt::read_input(&file)?).with_context(|| format!("{name} is not UTF-8 text"))?;
    let keyring = super::sealed_keyring(args.keys.as_deref())?;
    let keys = keyring.sealed_keys().expect("checked").map_err(|e| anyhow::anyhow!(e))?;
    let docs = parse_documents(&text, Limits::default()).map_err(|e| anyhow::anyhow!("{name}: invalid YAML/JSON: {e}"))?;
    let mut secrets = Vec::new();
    for d in docs {
        let Value::Map(items) = d.root else { continue };
        let list: Vec<Vec<crate::tree::Item>> = match crate::tree::map_get(&items, "items") {
            Some(Value::Seq(s)) if crate::tree::map_get(&items, "kind").and_then(Value::scalar_text).as_deref() == Some("List") => {
                s.iter().filter_map(|v| if let Value::Map(m) = v { Some(m.clone()) } else { None }).collect()
            }
            _ => vec![items],
        };
        for m in list {
            if !crate::sealed::unseal::is_sealed_secret(&m) {
                bail!("{name}: {} is not a SealedSecret (apiVersion bitnami.com/v1alpha1)", crate::render::ResourceRef::of(&m));
            }
            let mut secret = crate::sealed::unseal::unseal(&m, keys).map_err(|e| anyhow::anyhow!("{}", e.in_file(&name)))?;
            add_owner_reference(&mut secret, &m);
            secrets.push(secret);
        }
    }
    if secrets.is_empty() {
        bail!("{name}: no SealedSecret found");
    }
    let mut out = String::new();
    for s in &secrets {
        if args.format == "json" {
            out.push_str(&crate::sops::stores::json::emit_value(&Value::Map(s.clone()))?);
        } else {
            out.push_str("---\n");
            out.push_str(&crate::io::emit_manifest(s));
        }
    }
    super::write_stdout(out.as_bytes())
}

/// As `kubeseal --recovery-unseal` prints it: the Secret owned by its SealedSecret, unless the
/// template asks for no owner references.
fn add_owner_reference(secret: &mut [crate::tree::Item], sealed: &[crate::tree::Item]) {
    use crate::tree::{map_get, Item};
    let skip = map_get(sealed, "spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("sealedsecrets.bitnami.com/skip-set-owner-references"))
        == Some(&Value::Str("true".into()));
    if skip {
        return;
    }
    let md = map_get(sealed, "metadata");
    let s = |k: &str| Value::Str(md.and_then(|m| m.get(k)).and_then(Value::scalar_text).unwrap_or_default());
    let owner = Value::Map(vec![
        Item::Entry("apiVersion".into(), Value::Str("bitnami.com/v1alpha1".into())),
        Item::Entry("kind".into(), Value::Str("SealedSecret".into())),
        Item::Entry("name".into(), s("name")),
        Item::Entry("uid".into(), s("uid")),
        Item::Entry("controller".into(), Value::Bool(true)),
    ]);
    for i in secret.iter_mut() {
        if let Item::Entry(k, Value::Map(m)) = i {
            if k == "metadata" {
                m.retain(|i| !matches!(i, Item::Entry(k, _) if k == "ownerReferences"));
                m.push(Item::Entry("ownerReferences".into(), Value::Seq(vec![owner.clone()])));
            }
        }
    }
}
