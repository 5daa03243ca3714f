//! SealedSecret → Secret, as the controller's `Unseal` builds it (`sealedsecret_expansion.go`):
//! the template's metadata with name and namespace forced from the SealedSecret, `type`,
//! `immutable`, every `encryptedData` item opened with the scope label the SealedSecret's own
//! annotations give, then `template.data` rendered over them. Any item that no key opens
//! fails the whole resource; messages name items, never values.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rayon::prelude::*;

use super::hybrid::{self, label, PrivateKey, Scope};
use super::template;
use crate::render::{RenderError, ResourceRef};
use crate::tree::{map_get, set_entry, Item, Value};

const ANN_CLUSTER: &str = "sealedsecrets.bitnami.com/cluster-wide";
const ANN_NAMESPACE: &str = "sealedsecrets.bitnami.com/namespace-wide";

pub fn is_sealed_secret(items: &[Item]) -> bool {
    let s = |k: &str| map_get(items, k).and_then(Value::scalar_text).unwrap_or_default();
    s("kind") == "SealedSecret" && s("apiVersion").starts_with("bitnami.com/")
}

fn str_at(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The scope a SealedSecret's own annotations give (exact `"true"`; cluster-wide wins).
pub fn scope_of(metadata: Option<&Value>) -> Scope {
    let ann = metadata.and_then(|m| m.get("annotations"));
    let is_true = |k: &str| ann.and_then(|a| a.get(k)) == Some(&Value::Str("true".into()));
    if is_true(ANN_CLUSTER) {
        Scope::ClusterWide
    } else if is_true(ANN_NAMESPACE) {
        Scope::NamespaceWide
    } else {
        Scope::Strict
    }
}


fn string_map(v: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Map(m)) => m
            .iter()
            .filter_map(|i| match i {
                Item::Entry(k, v) => Some(v.scalar_text().map(|s| (k.clone(), s)).ok_or_else(|| format!("{k} is not a string"))),
                Item::Comment(_) => None,
            })
            .collect(),
        Some(_) => Err("expected a mapping of strings".into()),
    }
}

/// Opens every `encryptedData` item with the scope label; on failure names every item that
/// did not open (never a value).
fn open_items(enc: &[(String, String)], lbl: &[u8], scope: Scope, keys: &[PrivateKey]) -> Result<BTreeMap<String, Vec<u8>>, (String, String)> {
    let opened: Vec<(String, Result<Vec<u8>, String>)> = enc
        .par_iter()
        .map(|(k, v)| {
            let r = B64
                .decode(v.trim())
                .map_err(|_| "invalid base64".to_string())
                .and_then(|raw| hybrid::decrypt(&raw, lbl, keys).map(|p| p.to_vec()).map_err(|e| e.to_string()));
            (k.clone(), r)
        })
        .collect();
    let failed: Vec<&str> = opened.iter().filter(|(_, r)| r.is_err()).map(|(k, _)| k.as_str()).collect();
    if !failed.is_empty() {
        let first_err = opened.iter().find_map(|(_, r)| r.as_ref().err()).cloned().unwrap_or_default();
        let hint = if scope == Scope::Strict { " (strict scope: renamed or moved SealedSecrets cannot be opened)" } else { "" };
        return Err((format!("spec.encryptedData.{}", failed.join(",")), format!("{first_err} ({}){hint}", failed.join(", "))));
    }
    Ok(opened.into_iter().map(|(k, r)| (k, r.unwrap_or_default())).collect())
}

/// What locates a SealedSecret's crypto: its name, namespace, scope, label and spec.
struct Sealed<'a> {
    name: String,
    namespace: String,
    scope: Scope,
    label: Vec<u8>,
    spec: &'a Value,
}

fn identify(items: &[Item]) -> Result<Sealed<'_>, (String, String)> {
    let md = map_get(items, "metadata");
    let name = str_at(md.and_then(|m| m.get("name"))).ok_or(("metadata.name".to_string(), "missing name".to_string()))?;
    let namespace = str_at(md.and_then(|m| m.get("namespace"))).unwrap_or_default();
    let scope = scope_of(md);
    let label = label(scope, &namespace, &name);
    let spec = map_get(items, "spec").ok_or(("spec".to_string(), "missing spec".to_string()))?;
    Ok(Sealed { name, namespace, scope, label, spec })
}

/// Re-encrypts a SealedSecret's items to a new public key (SPKI) with the same scope,
/// keeping every other field, template metadata included: an offline `kubeseal --re-encrypt`.
pub fn reseal(items: &[Item], keys: &[PrivateKey], spki: &[u8]) -> Result<Vec<Item>, RenderError> {
    let resource = ResourceRef::of(items);
    let fail = |field: Option<String>, message: String| RenderError { file: None, resource: Some(resource.clone()), field, message };
    let Sealed { scope, label: lbl, spec, .. } = identify(items).map_err(|(f, m)| fail(Some(f), m))?;
    if spec.get("data").is_some_and(|d| !matches!(d, Value::Null)) {
        return Err(fail(Some("spec.data".into()), "legacy spec.data cannot be resealed; unseal and seal it instead".into()));
    }
    let enc = string_map(spec.get("encryptedData")).map_err(|e| fail(Some("spec.encryptedData".into()), e))?;
    let opened = open_items(&enc, &lbl, scope, keys).map_err(|(field, msg)| fail(Some(field), msg))?;
    let mut sealed = Vec::new();
    for (k, _) in &enc {
        let blob = hybrid::encrypt(&opened[k], &lbl, spki).map_err(|e| fail(Some(format!("spec.encryptedData.{k}")), e.to_string()))?;
        sealed.push(Item::Entry(k.clone(), Value::Str(B64.encode(blob))));
    }
    let mut out = items.to_vec();
    for i in out.iter_mut() {
        if let Item::Entry(k, Value::Map(spec)) = i {
            if k == "spec" {
                set_entry(spec, "encryptedData", Value::Map(sealed.clone()));
            }
        }
    }
    Ok(out)
}

/// Unseals one SealedSecret manifest into a v1 Secret.
pub fn unseal(items: &[Item], keys: &[PrivateKey]) -> Result<Vec<Item>, RenderError> {
    let resource = ResourceRef::of(items);
    let fail = |field: Option<String>, message: String| RenderError { file: None, resource: Some(resource.clone()), field, message };
    let Sealed { name, namespace, scope, label: lbl, spec } = identify(items).map_err(|(f, m)| fail(Some(f), m))?;
    let template_v = spec.get("template");
    let enc = string_map(spec.get("encryptedData")).map_err(|e| fail(Some("spec.encryptedData".into()), e))?;
    let legacy = str_at(spec.get("data"));
    if legacy.is_some() && !enc.is_empty() {
        return Err(fail(Some("spec".into()), "both spec.data and spec.encryptedData are set".into()));
    }

    // Output metadata: the template's, with name and namespace forced.
    let mut metadata = match template_v.and_then(|t| t.get("metadata")) {
        Some(Value::Map(m)) => m.clone(),
        _ => Vec::new(),
    };
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut ty = template_v.and_then(|t| t.get("type")).cloned();
    let mut immutable = template_v.and_then(|t| t.get("immutable")).cloned();

    if let Some(blob) = legacy {
        // Legacy v1: the whole Secret JSON sealed as one blob.
        let raw = B64.decode(blob.trim()).map_err(|_| fail(Some("spec.data".into()), "invalid base64".into()))?;
        let plain = hybrid::decrypt(&raw, &lbl, keys).map_err(|e| fail(Some("spec.data".into()), e.to_string()))?;
        let secret = crate::sops::stores::json::parse(&String::from_utf8_lossy(&plain))
            .map_err(|_| fail(Some("spec.data".into()), "the sealed v1 Secret is not valid JSON".into()))?;
        if let Some(Value::Map(m)) = secret.get("metadata") {
            metadata = m.clone();
        }
        for (k, v) in string_map(secret.get("data")).map_err(|e| fail(Some("spec.data".into()), e))? {
            data.insert(k, B64.decode(v).map_err(|_| fail(Some("spec.data".into()), "the sealed Secret's data is not base64".into()))?);
        }
        ty = secret.get("type").cloned().or(ty);
        immutable = secret.get("immutable").cloned().or(immutable);
    } else {
        data = open_items(&enc, &lbl, scope, keys).map_err(|(field, msg)| fail(Some(field), msg))?;
    }

    // template.data: Go templates over every item as a string; results override items.
    if let Some(tdata) = template_v.and_then(|t| t.get("data")) {
        let strings: BTreeMap<String, String> = data.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect();
        for (k, tpl) in string_map(Some(tdata)).map_err(|e| fail(Some("spec.template.data".into()), e))? {
            let out = template::render(&tpl, &strings).map_err(|e| fail(Some(format!("spec.template.data.{k}")), e))?;
            data.insert(k, out.into_bytes());
        }
    }

    set_entry(&mut metadata, "name", Value::Str(name));
    if !namespace.is_empty() {
        set_entry(&mut metadata, "namespace", Value::Str(namespace));
    }
    let mut out = vec![
        Item::Entry("apiVersion".into(), Value::Str("v1".into())),
        Item::Entry("kind".into(), Value::Str("Secret".into())),
        Item::Entry("metadata".into(), Value::Map(metadata)),
    ];
    if let Some(i @ Value::Bool(_)) = immutable {
        out.push(Item::Entry("immutable".into(), i));
    }
    out.push(Item::Entry("type".into(), ty.filter(|t| matches!(t, Value::Str(s) if !s.is_empty())).unwrap_or(Value::Str("Opaque".into()))));
    if !data.is_empty() {
        out.push(Item::Entry("data".into(), Value::Map(data.into_iter().map(|(k, v)| Item::Entry(k, Value::Str(B64.encode(v)))).collect())));
    }
    Ok(out)
}
