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
use crate::tree::{map_get, Item, Value};

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

fn set(items: &mut Vec<Item>, key: &str, v: Value) {
    for i in items.iter_mut() {
        if let Item::Entry(k, old) = i {
            if k == key {
                *old = v;
                return;
            }
        }
    }
    items.push(Item::Entry(key.into(), v));
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

/// Unseals one SealedSecret manifest into a v1 Secret.
pub fn unseal(items: &[Item], keys: &[PrivateKey]) -> Result<Vec<Item>, RenderError> {
    let resource = ResourceRef::of(items);
    let fail = |field: Option<String>, message: String| RenderError { file: None, resource: Some(resource.clone()), field, message };
    let md = map_get(items, "metadata");
    let name = str_at(md.and_then(|m| m.get("name"))).ok_or_else(|| fail(Some("metadata.name".into()), "missing name".into()))?;
    let namespace = str_at(md.and_then(|m| m.get("namespace"))).unwrap_or_default();
    let scope = scope_of(md);
    let lbl = label(scope, &namespace, &name);
    let spec = map_get(items, "spec").ok_or_else(|| fail(Some("spec".into()), "missing spec".into()))?;
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
        let opened: Vec<(String, Result<Vec<u8>, String>)> = enc
            .par_iter()
            .map(|(k, v)| {
                let r = B64
                    .decode(v.trim())
                    .map_err(|_| "invalid base64".to_string())
                    .and_then(|raw| hybrid::decrypt(&raw, &lbl, keys).map(|p| p.to_vec()).map_err(|e| e.to_string()));
                (k.clone(), r)
            })
            .collect();
        let failed: Vec<&String> = opened.iter().filter(|(_, r)| r.is_err()).map(|(k, _)| k).collect();
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|s| s.as_str()).collect();
            let first_err = opened.iter().find_map(|(_, r)| r.as_ref().err()).cloned().unwrap_or_default();
            let hint = if scope == Scope::Strict { " (strict scope: renamed or moved SealedSecrets cannot be opened)" } else { "" };
            return Err(fail(Some(format!("spec.encryptedData.{}", names.join(","))), format!("{first_err} ({}){hint}", names.join(", "))));
        }
        for (k, r) in opened {
            data.insert(k, r.unwrap_or_default());
        }
    }

    // template.data: Go templates over every item as a string; results override items.
    if let Some(tdata) = template_v.and_then(|t| t.get("data")) {
        let strings: BTreeMap<String, String> = data.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect();
        for (k, tpl) in string_map(Some(tdata)).map_err(|e| fail(Some("spec.template.data".into()), e))? {
            let out = template::render(&tpl, &strings).map_err(|e| fail(Some(format!("spec.template.data.{k}")), e))?;
            data.insert(k, out.into_bytes());
        }
    }

    set(&mut metadata, "name", Value::Str(name));
    if !namespace.is_empty() {
        set(&mut metadata, "namespace", Value::Str(namespace));
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
