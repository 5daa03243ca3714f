//! Sealing as `kubeseal --cert` does (`pkg/kubeseal/kubeseal.go`, `NewSealedSecret`): one
//! SealedSecret per input Secret, `data` and then `stringData` items sealed with the scope
//! label, the input's metadata copied into the template without last-applied annotations,
//! owner references or server-set fields, and the scope annotation on both metadata blocks.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::der;
use super::hybrid::{self, label, Scope};
use crate::tree::{map_get, set_entry, Item, Value};

const ANN_CLUSTER: &str = "sealedsecrets.bitnami.com/cluster-wide";
const ANN_NAMESPACE: &str = "sealedsecrets.bitnami.com/namespace-wide";
const STRIPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration", "kubecfg.ksonnet.io/last-applied-configuration"];
const SERVER_FIELDS: &[&str] = &["uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "ownerReferences"];

/// A sealing certificate: its public key and expiry.
pub struct Cert {
    pub spki: Vec<u8>,
    pub not_after: i64,
}

impl Cert {
    /// Reads the first certificate of a PEM file; only the key and notAfter are used.
    pub fn from_pem(text: &str) -> Result<Cert, String> {
        let (_, der) = der::pem_blocks(text).into_iter().find(|(l, _)| l == "CERTIFICATE").ok_or("no CERTIFICATE block in the PEM")?;
        let info = der::cert_info(&der).ok_or("the certificate cannot be read")?;
        Ok(Cert { spki: info.spki, not_after: info.not_after })
    }

    pub fn expired(&self) -> bool {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        now > self.not_after
    }
}

pub fn parse_scope(s: &str) -> Option<Scope> {
    Some(match s {
        "strict" => Scope::Strict,
        "namespace-wide" => Scope::NamespaceWide,
        "cluster-wide" => Scope::ClusterWide,
        _ => return None,
    })
}

fn get_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::scalar_text)
}

fn remove(items: &mut Vec<Item>, key: &str) {
    items.retain(|i| !matches!(i, Item::Entry(k, _) if k == key));
}


fn annotations_mut(md: &mut Vec<Item>) -> &mut Vec<Item> {
    if !md.iter().any(|i| matches!(i, Item::Entry(k, Value::Map(_)) if k == "annotations")) {
        remove(md, "annotations");
        md.push(Item::Entry("annotations".into(), Value::Map(Vec::new())));
    }
    md.iter_mut()
        .find_map(|i| match i {
            Item::Entry(k, Value::Map(m)) if k == "annotations" => Some(m),
            _ => None,
        })
        .expect("just ensured")
}

/// Options of one sealing.
pub struct SealOptions<'a> {
    pub scope: Option<Scope>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    pub allow_empty_data: bool,
}

/// Seals one Secret manifest.
pub fn seal_secret(secret: &[Item], cert: &Cert, opts: &SealOptions) -> Result<Vec<Item>, String> {
    let kind = get_str(map_get(secret, "kind")).unwrap_or_default();
    if kind != "Secret" {
        return Err(format!("expected a v1 Secret, got kind {kind:?}"));
    }
    let mut md = match map_get(secret, "metadata") {
        Some(Value::Map(m)) => m.clone(),
        _ => Vec::new(),
    };
    if let Some(n) = opts.name {
        set_entry(&mut md, "name", Value::Str(n.into()));
    }
    let name = get_str(crate::tree::map_get(&md, "name")).ok_or("the Secret has no metadata.name")?;
    match (get_str(crate::tree::map_get(&md, "namespace")), opts.namespace) {
        (Some(ns), Some(want)) if ns != want => return Err(format!("namespace mismatch: the Secret says {ns:?}, --namespace says {want:?}")),
        (None, Some(want)) => set_entry(&mut md, "namespace", Value::Str(want.into())),
        _ => {}
    }
    // Scope: --scope rewrites the annotations; otherwise they decide.
    if let Some(scope) = opts.scope {
        let ann = annotations_mut(&mut md);
        remove(ann, ANN_CLUSTER);
        remove(ann, ANN_NAMESPACE);
        match scope {
            Scope::ClusterWide => ann.push(Item::Entry(ANN_CLUSTER.into(), Value::Str("true".into()))),
            Scope::NamespaceWide => ann.push(Item::Entry(ANN_NAMESPACE.into(), Value::Str("true".into()))),
            Scope::Strict => {}
        }
    }
    let scope = super::unseal::scope_of(Some(&Value::Map(md.clone())));
    let namespace = get_str(crate::tree::map_get(&md, "namespace"));
    if namespace.is_none() && scope != Scope::ClusterWide {
        return Err(format!("Secret {name} has no namespace (give --namespace, or seal cluster-wide)"));
    }
    let namespace = namespace.unwrap_or_default();

    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(Value::Map(m)) = map_get(secret, "data") {
        for i in m {
            if let Item::Entry(k, v) = i {
                let s = v.scalar_text().ok_or_else(|| format!("data.{k} is not a string"))?;
                data.insert(k.clone(), B64.decode(s.trim()).map_err(|_| format!("data.{k} is not base64"))?);
            }
        }
    }
    if let Some(Value::Map(m)) = map_get(secret, "stringData") {
        for i in m {
            if let Item::Entry(k, v) = i {
                data.insert(k.clone(), v.scalar_text().ok_or_else(|| format!("stringData.{k} is not a string"))?.into_bytes());
            }
        }
    }
    if data.is_empty() && !opts.allow_empty_data {
        return Err(format!("Secret {name} has no data (use --allow-empty-data)"));
    }
    let lbl = label(scope, &namespace, &name);
    let mut encrypted = Vec::new();
    for (k, v) in &data {
        let blob = hybrid::encrypt(v, &lbl, &cert.spki).map_err(|e| e.to_string())?;
        encrypted.push(Item::Entry(k.clone(), Value::Str(B64.encode(blob))));
    }

    // Template metadata: the Secret's, cleaned as kubeseal cleans it.
    let mut tmd = md.clone();
    for f in SERVER_FIELDS {
        remove(&mut tmd, f);
    }
    if let Some(Item::Entry(_, Value::Map(ann))) = tmd.iter_mut().find(|i| matches!(i, Item::Entry(k, _) if k == "annotations")) {
        ann.retain(|i| !matches!(i, Item::Entry(k, _) if STRIPPED_ANNOTATIONS.contains(&k.as_str())));
    }
    tmd.push(Item::Entry("creationTimestamp".into(), Value::Null));
    let mut template = vec![Item::Entry("metadata".into(), Value::Map(tmd))];
    if let Some(t) = map_get(secret, "type") {
        template.push(Item::Entry("type".into(), t.clone()));
    }
    if let Some(i @ Value::Bool(_)) = map_get(secret, "immutable") {
        template.push(Item::Entry("immutable".into(), i.clone()));
    }
    let mut top = vec![Item::Entry("name".into(), Value::Str(name)), Item::Entry("namespace".into(), Value::Str(namespace.clone()))];
    if namespace.is_empty() {
        top.pop();
    }
    top.push(Item::Entry("creationTimestamp".into(), Value::Null));
    match scope {
        Scope::ClusterWide => top.push(Item::Entry("annotations".into(), Value::Map(vec![Item::Entry(ANN_CLUSTER.into(), Value::Str("true".into()))]))),
        Scope::NamespaceWide => top.push(Item::Entry("annotations".into(), Value::Map(vec![Item::Entry(ANN_NAMESPACE.into(), Value::Str("true".into()))]))),
        Scope::Strict => {}
    }
    Ok(vec![
        Item::Entry("kind".into(), Value::Str("SealedSecret".into())),
        Item::Entry("apiVersion".into(), Value::Str("bitnami.com/v1alpha1".into())),
        Item::Entry("metadata".into(), Value::Map(top)),
        Item::Entry(
            "spec".into(),
            Value::Map(vec![Item::Entry("template".into(), Value::Map(template)), Item::Entry("encryptedData".into(), Value::Map(encrypted))]),
        ),
    ])
}

/// `--raw`: one value sealed to base64.
pub fn seal_raw(value: &[u8], cert: &Cert, scope: Scope, namespace: &str, name: &str) -> Result<String, String> {
    match scope {
        Scope::Strict if namespace.is_empty() || name.is_empty() => return Err("--raw with strict scope needs --namespace and --name".into()),
        Scope::NamespaceWide if namespace.is_empty() => return Err("--raw with namespace-wide scope needs --namespace".into()),
        _ => {}
    }
    let blob = hybrid::encrypt(value, &label(scope, namespace, name), &cert.spki).map_err(|e| e.to_string())?;
    Ok(B64.encode(blob))
}
