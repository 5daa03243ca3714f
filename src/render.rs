//! Decrypting manifests inside a render (KRM, stream and generator modes): one SOPS
//! document at a time, with the annotations KRM runners and Helm add *after* sops computed
//! the MAC set aside for verification and put back after. Errors carry the file, the
//! resource and the field, for messages and KRM results.

use crate::keys::Keyring;
use crate::sops::metadata::{Metadata, MetadataError};
use crate::sops::{decrypt_branches, DecryptOptions, SopsError};
use crate::tree::{map_get, to_json, Item, Value};

/// Annotation prefixes that runners add to items after encryption (kpt, kustomize, Helm 4).
pub const INJECTED_PREFIXES: &[&str] = &[
    "config.kubernetes.io/",
    "internal.config.kubernetes.io/",
    "config.k8s.io/",
    "kustomize.config.k8s.io/",
    "postrenderer.helm.sh/",
];

/// Where a resource is and which it is: what messages and KRM results name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceRef {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl ResourceRef {
    /// Reads the clear (unencrypted) identifying fields of a manifest.
    pub fn of(items: &[Item]) -> ResourceRef {
        let clear = |v: Option<&Value>| match v {
            Some(Value::Str(s)) if !s.starts_with("ENC[") => Some(s.clone()),
            _ => None,
        };
        let md = map_get(items, "metadata");
        ResourceRef {
            api_version: clear(map_get(items, "apiVersion")),
            kind: clear(map_get(items, "kind")),
            name: clear(md.and_then(|m| m.get("name"))),
            namespace: clear(md.and_then(|m| m.get("namespace"))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.name.is_none()
    }
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind.as_deref().unwrap_or("?"))?;
        match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => write!(f, " {ns}/{n}"),
            (None, Some(n)) => write!(f, " {n}"),
            _ => Ok(()),
        }
    }
}

/// A failure in a render, naming where it happened. Never carries a value.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderError {
    pub file: Option<String>,
    pub resource: Option<ResourceRef>,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(format!("file {file}"));
        }
        if let Some(r) = self.resource.as_ref().filter(|r| !r.is_empty()) {
            parts.push(format!("resource {r}"));
        }
        if let Some(field) = &self.field {
            parts.push(format!("field {field}"));
        }
        if parts.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", parts.join(", "), self.message)
        }
    }
}

impl std::error::Error for RenderError {}

impl RenderError {
    pub fn new(message: impl Into<String>) -> RenderError {
        RenderError { file: None, resource: None, field: None, message: message.into() }
    }
    pub fn in_file(mut self, file: &str) -> RenderError {
        self.file.get_or_insert_with(|| file.to_string());
        self
    }
}

/// Options of a render that the user chooses.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// `KUNSEAL_MAC=values-only`: skip the MAC; every encrypted value is still
    /// authenticated by AES-GCM with its path. For pipelines whose transformers rewrote
    /// clear metadata before kunseal runs.
    pub values_only: bool,
    /// `KUNSEAL_ALLOW_OUTSIDE_PATHS=1`: generator files may lie outside the working directory.
    pub allow_outside_paths: bool,
}

impl RenderOptions {
    pub fn from_env() -> RenderOptions {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        RenderOptions {
            values_only: var("KUNSEAL_MAC") == "values-only",
            allow_outside_paths: matches!(var("KUNSEAL_ALLOW_OUTSIDE_PATHS").as_str(), "1" | "true"),
        }
    }
}

pub fn has_sops(items: &[Item]) -> bool {
    matches!(map_get(items, "sops"), Some(Value::Map(_)))
}

/// Removes runner-injected annotations; returns how to put them back.
struct SetAside {
    /// (index in annotations, entry), in original order.
    entries: Vec<(usize, Item)>,
    /// The whole `annotations` entry was removed, at this index of metadata.
    removed_map_at: Option<usize>,
}

fn metadata_mut(items: &mut [Item]) -> Option<&mut Vec<Item>> {
    items.iter_mut().find_map(|i| match i {
        Item::Entry(k, Value::Map(m)) if k == "metadata" => Some(m),
        _ => None,
    })
}

fn is_injected(key: &str) -> bool {
    INJECTED_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn set_aside(items: &mut [Item]) -> Option<SetAside> {
    let md = metadata_mut(items)?;
    let (pos, ann) = md.iter_mut().enumerate().find_map(|(i, it)| match it {
        Item::Entry(k, Value::Map(a)) if k == "annotations" => Some((i, a)),
        _ => None,
    })?;
    let mut entries = Vec::new();
    let mut kept = Vec::new();
    for (i, it) in std::mem::take(ann).into_iter().enumerate() {
        match &it {
            Item::Entry(k, _) if is_injected(k) => entries.push((i, it)),
            _ => kept.push(it),
        }
    }
    if entries.is_empty() {
        *ann = kept;
        return None;
    }
    let removed_map_at = if kept.is_empty() {
        md.remove(pos);
        Some(pos)
    } else {
        *ann = kept;
        None
    };
    Some(SetAside { entries, removed_map_at })
}

fn put_back(items: &mut [Item], aside: SetAside) {
    let Some(md) = metadata_mut(items) else { return };
    if let Some(pos) = aside.removed_map_at {
        md.insert(pos.min(md.len()), Item::Entry("annotations".into(), Value::Map(Vec::new())));
    }
    let Some(ann) = md.iter_mut().find_map(|it| match it {
        Item::Entry(k, Value::Map(a)) if k == "annotations" => Some(a),
        _ => None,
    }) else {
        return;
    };
    for (i, entry) in aside.entries {
        ann.insert(i.min(ann.len()), entry);
    }
}

/// The `sops` fields under which key-service keys sit (key groups may hold them too).
const KEY_SERVICE_FIELDS: [&str; 5] = ["kms", "gcp_kms", "azure_kv", "hc_vault", "key_groups"];

/// Whether a file's text may hold a `sops` block naming a key service: a glance that spares
/// parsing files whose keys are all local.
pub fn may_name_key_service(text: &str) -> bool {
    KEY_SERVICE_FIELDS.iter().any(|f| text.contains(f))
}

/// Opens, all at once, the data keys of the manifests whose `sops` block names a key service
/// (see [`Keyring::prefetch`]); manifests with only local keys cost a glance.
pub fn prefetch_manifests<'a>(manifests: impl Iterator<Item = &'a [Item]>, keyring: &Keyring) {
    let mds: Vec<Metadata> = manifests
        .filter_map(|items| map_get(items, "sops"))
        .filter(|sops| match sops {
            Value::Map(entries) => {
                entries.iter().any(|i| matches!(i, Item::Entry(k, Value::Seq(v)) if !v.is_empty() && KEY_SERVICE_FIELDS.contains(&k.as_str())))
            }
            _ => false,
        })
        .filter_map(|sops| Metadata::from_json(to_json(sops)).ok())
        .collect();
    keyring.prefetch(&mds.iter().collect::<Vec<_>>());
}

/// Decrypts one manifest that carries a `sops` block, in place semantics: the result has
/// no `sops` key and keeps every runner annotation.
pub fn decrypt_manifest(mut items: Vec<Item>, keyring: &Keyring, opts: RenderOptions) -> Result<Vec<Item>, RenderError> {
    let resource = ResourceRef::of(&items);
    let fail = |e: SopsError| {
        let (field, message) = match &e {
            SopsError::Value { path, error } => (Some(path.clone()), error.to_string()),
            SopsError::MacMismatch => (
                None,
                format!("{e}; if a transformer (namespace, labels, …) rewrote this resource before kunseal, set KUNSEAL_MAC=values-only to authenticate only the encrypted values"),
            ),
            _ => (None, e.to_string()),
        };
        RenderError { file: None, resource: Some(resource.clone()), field, message }
    };
    let sops = crate::sops::stores::take_sops(&mut items).ok_or_else(|| fail(SopsError::Metadata(MetadataError::Missing)))?;
    let md = Metadata::from_json(to_json(&sops)).map_err(|e| fail(SopsError::Metadata(e)))?;
    let dopts = DecryptOptions { ignore_mac: opts.values_only };
    let original = items.clone();
    let aside = set_aside(&mut items);
    match decrypt_branches(vec![items], md.clone(), keyring, dopts) {
        Ok(mut d) => {
            let mut out = d.branches.remove(0);
            if let Some(a) = aside {
                put_back(&mut out, a);
            }
            Ok(out)
        }
        // The annotations may have been there when sops encrypted: try the item as it is.
        Err(SopsError::MacMismatch) if aside.is_some() => decrypt_branches(vec![original], md, keyring, dopts)
            .map(|mut d| d.branches.remove(0))
            .map_err(fail),
        Err(e) => Err(fail(e)),
    }
}

/// Unseals a SealedSecret when keys are configured; `Ok(None)` when none are (it then passes
/// through untouched for the in-cluster controller).
pub fn unseal_if_configured(items: &[Item], keyring: &Keyring) -> Result<Option<Vec<Item>>, RenderError> {
    if !crate::sealed::unseal::is_sealed_secret(items) {
        return Ok(None);
    }
    match keyring.sealed_keys() {
        None => Ok(None),
        Some(Err(e)) => Err(RenderError { resource: Some(ResourceRef::of(items)), ..RenderError::new(e) }),
        Some(Ok(keys)) => crate::sealed::unseal::unseal(items, keys).map(Some),
    }
}
