//! KRM function mode (the KRM Functions Specification, as kustomize and kpt run exec
//! functions): a `ResourceList` (or `List`) on stdin, `items` decrypted in place, ksops
//! generator configs (as `functionConfig` or as items) run and dropped, their Secrets
//! appended, every other item and all runner annotations kept. Failures become `results`
//! and a non-zero exit; no item is written when anything failed.

use std::path::Path;

use rayon::prelude::*;

use crate::generator;
use crate::keys::Keyring;
use crate::render::{decrypt_manifest, has_sops, RenderError, RenderOptions, ResourceRef};
use crate::tree::{map_get, Item, Value};

/// Whether a parsed stdin document is a ResourceList (kind `ResourceList` or `List` with
/// `items`).
pub fn is_resource_list(root: &Value) -> bool {
    let Value::Map(items) = root else { return false };
    matches!(map_get(items, "kind"), Some(Value::Str(k)) if k == "ResourceList" || k == "List")
        && matches!(map_get(items, "items"), Some(Value::Seq(_)) | Some(Value::Null) | None)
        && map_get(items, "apiVersion").is_some()
}

fn annotation<'a>(items: &'a [Item], key: &str) -> Option<&'a str> {
    match map_get(items, "metadata")?.get("annotations")?.get(key)? {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

/// The file a runner says an item came from.
fn item_path(item: &[Item]) -> Option<&str> {
    annotation(item, "internal.config.kubernetes.io/path").or_else(|| annotation(item, "config.kubernetes.io/path"))
}

/// The error as a message names it: with the item's file when the error has none.
fn located(e: &RenderError, item: Option<&[Item]>) -> RenderError {
    match (e.file.is_none(), item.and_then(item_path)) {
        (true, Some(p)) => e.clone().in_file(p),
        _ => e.clone(),
    }
}

fn result_entry(e: &RenderError, item: Option<&[Item]>) -> Value {
    let s = |v: &str| Value::Str(v.to_string());
    let mut m = vec![Item::Entry("message".into(), s(&e.message)), Item::Entry("severity".into(), s("error"))];
    if let Some(r) = e.resource.as_ref().filter(|r| !r.is_empty()) {
        let mut rr = Vec::new();
        for (k, v) in [("apiVersion", &r.api_version), ("kind", &r.kind), ("name", &r.name), ("namespace", &r.namespace)] {
            if let Some(v) = v {
                rr.push(Item::Entry(k.into(), s(v)));
            }
        }
        m.push(Item::Entry("resourceRef".into(), Value::Map(rr)));
    }
    if let Some(f) = &e.field {
        m.push(Item::Entry("field".into(), Value::Map(vec![Item::Entry("path".into(), s(f))])));
    }
    let item_file = item.and_then(item_path);
    if let Some(path) = e.file.as_deref().or(item_file) {
        let mut file = vec![Item::Entry("path".into(), s(path))];
        if e.file.is_none() {
            if let Some(idx) = item.and_then(|i| annotation(i, "internal.config.kubernetes.io/index").or_else(|| annotation(i, "config.kubernetes.io/index"))) {
                if let Ok(n) = idx.parse::<i64>() {
                    file.push(Item::Entry("index".into(), Value::Int(n)));
                }
            }
        }
        m.push(Item::Entry("file".into(), Value::Map(file)));
    }
    Value::Map(m)
}

/// Processes a ResourceList; returns the output list and the failures (none: success).
pub fn process(list: &[Item], cwd: &Path, keyring: &Keyring, opts: RenderOptions) -> (Vec<Item>, Vec<RenderError>) {
    let items: Vec<Vec<Item>> = match map_get(list, "items") {
        Some(Value::Seq(v)) => v
            .iter()
            .filter_map(|v| match v {
                Value::Map(m) => Some(m.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let function_config = match map_get(list, "functionConfig") {
        Some(Value::Map(m)) if generator::is_config(m) => Some(m.clone()),
        _ => None,
    };
    let any_config_item = items.iter().any(|i| generator::is_config(i));
    // Encrypted files that are items already (kpt) are decrypted in place, not generated twice.
    let present: Vec<String> = items
        .iter()
        .filter(|i| has_sops(i))
        .filter_map(|i| item_path(i))
        .map(generator::normalise)
        .collect();

    crate::render::prefetch_manifests(items.iter().filter(|i| has_sops(i)).map(|i| i.as_slice()), keyring);
    enum Done {
        Keep(Vec<Item>),
        Generated(Vec<Vec<Item>>),
    }
    /// What became of one item: kept (decrypted, unsealed or as it was), generated, or the
    /// error with the item it concerns.
    type Outcome = Result<Done, (RenderError, Option<Vec<Item>>)>;
    let done: Vec<Outcome> = items
        .into_par_iter()
        .map(|item| {
            if generator::is_config(&item) {
                generator::generate_except(&item, cwd, keyring, opts, &present).map(Done::Generated).map_err(|e| (e, Some(item)))
            } else if has_sops(&item) {
                let keep = item.clone();
                decrypt_manifest(item, keyring, opts).map(Done::Keep).map_err(|e| (e, Some(keep)))
            } else {
                match crate::render::unseal_if_configured(&item, keyring) {
                    Ok(Some(secret)) => Ok(Done::Keep(secret)),
                    Ok(None) => Ok(Done::Keep(item)),
                    Err(e) => Err((e, Some(item))),
                }
            }
        })
        .collect();
    let mut out_items = Vec::new();
    let mut generated = Vec::new();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for d in done {
        match d {
            Ok(Done::Keep(i)) => out_items.push(Value::Map(i)),
            Ok(Done::Generated(g)) => generated.extend(g.into_iter().map(Value::Map)),
            Err((e, item)) => {
                results.push(result_entry(&e, item.as_deref()));
                errors.push(located(&e, item.as_deref()));
            }
        }
    }
    if let (Some(fc), false) = (&function_config, any_config_item) {
        match generator::generate_except(fc, cwd, keyring, opts, &present) {
            Ok(g) => generated.extend(g.into_iter().map(Value::Map)),
            Err(e) => {
                let e = if e.resource.is_none() { RenderError { resource: Some(ResourceRef::of(fc)), ..e } } else { e };
                results.push(result_entry(&e, Some(fc)));
                errors.push(located(&e, Some(fc)));
            }
        }
    }
    // Generated Secrets come after the items the runner gave.
    out_items.append(&mut generated);
    let ok = results.is_empty();
    let mut out = vec![
        Item::Entry("apiVersion".into(), map_get(list, "apiVersion").cloned().unwrap_or(Value::Str("config.kubernetes.io/v1".into()))),
        Item::Entry("kind".into(), map_get(list, "kind").cloned().unwrap_or(Value::Str("ResourceList".into()))),
        // Nothing partial: on failure the list carries the results only.
        Item::Entry("items".into(), Value::Seq(if ok { out_items } else { Vec::new() })),
    ];
    if !ok {
        out.push(Item::Entry("results".into(), Value::Seq(results)));
    }
    (out, errors)
}
