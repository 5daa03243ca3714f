//! The ksops-compatible generator (`apiVersion: viaduct.ai/v1|v2`, `kind: ksops`):
//! `files:` (SOPS-encrypted manifests, any store) and `secretFrom:` (`files`, `binaryFiles`
//! as `[key=]path`, `envs`), as viaduct-ai/kustomize-sops builds them, so a ksops user swaps
//! the binary and changes nothing. Paths are relative to the working directory and may not
//! leave it unless `KUNSEAL_ALLOW_OUTSIDE_PATHS=1`. All files decrypt in parallel; the
//! output order is the config's.

use std::path::{Path, PathBuf};

use base64::Engine;
use rayon::prelude::*;

use crate::keys::Keyring;
use crate::render::{RenderError, RenderOptions, ResourceRef};
use crate::sops::stores::{self, Format};
use crate::sops::metadata::{Metadata, MetadataError};
use crate::sops::{decrypt_branches, DecryptOptions};
use crate::tree::{map_get, Item, Value};

/// Whether a manifest is a ksops generator config.
pub fn is_config(items: &[Item]) -> bool {
    let s = |k: &str| match map_get(items, k) {
        Some(Value::Str(s)) => s.as_str(),
        _ => "",
    };
    s("kind") == "ksops" && s("apiVersion").starts_with("viaduct.ai/")
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>, RenderError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Seq(items)) => items
            .iter()
            .filter(|v| !matches!(v, Value::Comment(_)))
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(RenderError::new(format!("{what} must be a list of paths"))),
            })
            .collect(),
        Some(_) => Err(RenderError::new(format!("{what} must be a list of paths"))),
    }
}

struct SecretFrom {
    metadata: Value,
    ty: Option<String>,
    files: Vec<String>,
    binary_files: Vec<String>,
    envs: Vec<String>,
}

/// Resolves a config path against `cwd`, refusing one that leaves it.
fn resolve(cwd: &Path, path: &str, opts: RenderOptions) -> Result<PathBuf, RenderError> {
    let p = cwd.join(path);
    if !opts.allow_outside_paths {
        let root = cwd.canonicalize().map_err(|e| RenderError::new(format!("working directory: {}", e.kind())))?;
        let real = p.canonicalize().map_err(|e| RenderError::new(format!("cannot read {path}: {}", e.kind())).in_file(path))?;
        if !real.starts_with(&root) {
            return Err(RenderError::new(format!("{path} leaves the working directory (set KUNSEAL_ALLOW_OUTSIDE_PATHS=1 to allow)")).in_file(path));
        }
    }
    Ok(p)
}

/// A file of a generator config, read and parsed but not yet decrypted (so that the data
/// keys of all files can be opened together first: [`Keyring::prefetch`]).
struct LoadedFile {
    fmt: Format,
    branches: Vec<Vec<Item>>,
    metadata: Option<Result<Metadata, MetadataError>>,
    resource: Option<ResourceRef>,
}

fn load_file(cwd: &Path, path: &str, opts: RenderOptions) -> Result<LoadedFile, RenderError> {
    let full = resolve(cwd, path, opts)?;
    let bytes = std::fs::read(&full).map_err(|e| RenderError::new(format!("cannot read {path}: {}", e.kind())).in_file(path))?;
    let fmt = Format::from_path(path);
    let loaded = stores::load(fmt, &bytes).map_err(|e| file_error(path, None, e.into()))?;
    let resource = loaded.branches.first().map(|b| ResourceRef::of(b));
    Ok(LoadedFile { fmt, branches: loaded.branches, metadata: loaded.metadata.map(Metadata::from_json), resource })
}

fn file_error(path: &str, resource: Option<ResourceRef>, e: crate::sops::SopsError) -> RenderError {
    let (field, message) = match e {
        crate::sops::SopsError::Value { path, error } => (Some(path), error.to_string()),
        other => (None, other.to_string()),
    };
    RenderError { file: Some(path.to_string()), resource, field, message }
}

fn decrypt_file(file: LoadedFile, path: &str, keyring: &Keyring, opts: RenderOptions) -> Result<(Format, Vec<Vec<Item>>), RenderError> {
    let LoadedFile { fmt, branches, metadata, resource } = file;
    let Some(md) = metadata else {
        // A manifest with no sops block passes through, a SealedSecret unsealed when keys
        // are configured.
        if !matches!(fmt, Format::Yaml | Format::Json) {
            return Err(file_error(path, resource, MetadataError::Missing.into()));
        }
        let mut out = Vec::new();
        for b in branches {
            out.push(crate::render::unseal_if_configured(&b, keyring).map_err(|e| e.in_file(path))?.unwrap_or(b));
        }
        return Ok((fmt, out));
    };
    let md = md.map_err(|e| file_error(path, resource.clone(), e.into()))?;
    decrypt_branches(branches, md, keyring, DecryptOptions { ignore_mac: opts.values_only })
        .map(|d| (fmt, d.branches))
        .map_err(|e| file_error(path, resource, e))
}

/// `[key=]path` → (key, path); the key defaults to the file name.
fn key_path(spec: &str) -> Result<(String, String), RenderError> {
    let parts: Vec<&str> = spec.split('=').collect();
    match parts.as_slice() {
        [path] => Ok((Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned()), path.to_string())),
        [key, path] => Ok((key.to_string(), path.to_string())),
        _ => Err(RenderError::new(format!("invalid file entry {spec:?}: expected [key=]path"))),
    }
}

/// Parses decrypted dotenv text as godotenv does for the common forms.
fn parse_env(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim();
        let v = if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\''))) {
            let inner = &v[1..v.len() - 1];
            if v.starts_with('"') {
                inner.replace("\\n", "\n").replace("\\\"", "\"")
            } else {
                inner.to_string()
            }
        } else {
            v.to_string()
        };
        out.push((k.trim().to_string(), v));
    }
    out
}

/// Runs a generator config: the manifests of `files`, then one Secret per `secretFrom`.
pub fn generate(config: &[Item], cwd: &Path, keyring: &Keyring, opts: RenderOptions) -> Result<Vec<Vec<Item>>, RenderError> {
    generate_except(config, cwd, keyring, opts, &[])
}

/// `./a/b.yaml` and `a/b.yaml` name the same file.
pub fn normalise(path: &str) -> String {
    let mut p = path.trim();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.to_string()
}

/// Like [`generate`], leaving out `files` entries already present as items of the same
/// render (kpt hands kunseal the encrypted files of a package as items, decrypted in place).
pub fn generate_except(config: &[Item], cwd: &Path, keyring: &Keyring, opts: RenderOptions, present: &[String]) -> Result<Vec<Vec<Item>>, RenderError> {
    let cfg_ref = ResourceRef::of(config);
    let in_cfg = |e: RenderError| if e.resource.is_none() { RenderError { resource: Some(cfg_ref.clone()), ..e } } else { e };
    let listed = strings(map_get(config, "files"), "files").map_err(in_cfg)?;
    let files: Vec<String> = listed.iter().filter(|f| !present.contains(&normalise(f))).cloned().collect();
    let mut secret_from = Vec::new();
    match map_get(config, "secretFrom") {
        None | Some(Value::Null) => {}
        Some(Value::Seq(list)) => {
            for sf in list.iter().filter(|v| !matches!(v, Value::Comment(_))) {
                let Value::Map(m) = sf else { return Err(in_cfg(RenderError::new("secretFrom entries must be mappings"))) };
                secret_from.push(SecretFrom {
                    metadata: map_get(m, "metadata").cloned().unwrap_or(Value::Map(Vec::new())),
                    ty: match map_get(m, "type") {
                        Some(Value::Str(s)) => Some(s.clone()),
                        _ => None,
                    },
                    files: strings(map_get(m, "files"), "secretFrom.files").map_err(in_cfg)?,
                    binary_files: strings(map_get(m, "binaryFiles"), "secretFrom.binaryFiles").map_err(in_cfg)?,
                    envs: strings(map_get(m, "envs"), "secretFrom.envs").map_err(in_cfg)?,
                });
            }
        }
        Some(_) => return Err(in_cfg(RenderError::new("secretFrom must be a list"))),
    }
    if listed.is_empty() && secret_from.is_empty() && map_get(config, "files").is_none() {
        return Err(in_cfg(RenderError::new("missing the required 'files' or 'secretFrom' key in the ksops config")));
    }

    // Every file of the config, decrypted in parallel.
    enum Job<'a> {
        Manifest(&'a str),
        Text(usize, String, String),
        Binary(usize, String, String),
        Env(usize, &'a str),
    }
    impl Job<'_> {
        fn path(&self) -> &str {
            match self {
                Job::Manifest(p) | Job::Env(_, p) => p,
                Job::Text(_, _, p) | Job::Binary(_, _, p) => p,
            }
        }
    }
    let mut jobs: Vec<Job> = files.iter().map(|f| Job::Manifest(f)).collect();
    for (i, sf) in secret_from.iter().enumerate() {
        for f in &sf.files {
            let (k, p) = key_path(f).map_err(in_cfg)?;
            jobs.push(Job::Text(i, k, p));
        }
        for f in &sf.binary_files {
            let (k, p) = key_path(f).map_err(in_cfg)?;
            jobs.push(Job::Binary(i, k, p));
        }
        for f in &sf.envs {
            jobs.push(Job::Env(i, f));
        }
    }
    enum Out {
        Manifests(Vec<Vec<Item>>),
        Text(usize, String, Vec<u8>),
        Binary(usize, String, Vec<u8>),
        Env(usize, Vec<(String, String)>),
    }
    // Read and parse every file first, open all their data keys together (key-service round
    // trips overlap), then decrypt.
    let loaded: Vec<Result<LoadedFile, RenderError>> = jobs.par_iter().map(|job| load_file(cwd, job.path(), opts)).collect();
    let mds: Vec<&Metadata> = loaded.iter().filter_map(|l| l.as_ref().ok()?.metadata.as_ref()?.as_ref().ok()).collect();
    keyring.prefetch(&mds);
    let plain = |file: LoadedFile, path: &str| -> Result<Vec<u8>, RenderError> {
        let (fmt, branches) = decrypt_file(file, path, keyring, opts)?;
        stores::emit(fmt, &branches).map_err(|e| RenderError::new(e.to_string()).in_file(path))
    };
    let results: Vec<Result<Out, RenderError>> = jobs
        .par_iter()
        .zip(loaded.into_par_iter())
        .map(|(job, file)| match job {
            Job::Manifest(path) => {
                let (fmt, branches) = decrypt_file(file?, path, keyring, opts)?;
                if !matches!(fmt, Format::Yaml | Format::Json) {
                    return Err(RenderError::new("files: entries must be YAML or JSON manifests").in_file(path));
                }
                Ok(Out::Manifests(branches.into_iter().filter(|b| !b.is_empty()).collect()))
            }
            Job::Text(i, k, p) => Ok(Out::Text(*i, k.clone(), plain(file?, p)?)),
            Job::Binary(i, k, p) => Ok(Out::Binary(*i, k.clone(), plain(file?, p)?)),
            Job::Env(i, p) => {
                let text = plain(file?, p)?;
                Ok(Out::Env(*i, parse_env(&String::from_utf8_lossy(&text))))
            }
        })
        .collect();
    let mut manifests = Vec::new();
    let mut string_data: Vec<std::collections::BTreeMap<String, String>> = vec![Default::default(); secret_from.len()];
    let mut data: Vec<std::collections::BTreeMap<String, String>> = vec![Default::default(); secret_from.len()];
    for r in results {
        match r.map_err(in_cfg)? {
            Out::Manifests(m) => manifests.extend(m),
            Out::Text(i, k, bytes) => match String::from_utf8(bytes) {
                Ok(s) => {
                    string_data[i].insert(k, s);
                }
                Err(e) => {
                    data[i].insert(k, base64::engine::general_purpose::STANDARD.encode(e.into_bytes()));
                }
            },
            Out::Binary(i, k, bytes) => {
                data[i].insert(k, base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            Out::Env(i, pairs) => string_data[i].extend(pairs),
        }
    }
    for (i, sf) in secret_from.into_iter().enumerate() {
        let mut s = vec![
            Item::Entry("apiVersion".into(), Value::Str("v1".into())),
            Item::Entry("kind".into(), Value::Str("Secret".into())),
            Item::Entry("metadata".into(), sf.metadata),
        ];
        if let Some(t) = sf.ty {
            s.push(Item::Entry("type".into(), Value::Str(t)));
        }
        let to_map = |m: std::collections::BTreeMap<String, String>| Value::Map(m.into_iter().map(|(k, v)| Item::Entry(k, Value::Str(v))).collect());
        if !string_data[i].is_empty() {
            s.push(Item::Entry("stringData".into(), to_map(std::mem::take(&mut string_data[i]))));
        }
        if !data[i].is_empty() {
            s.push(Item::Entry("data".into(), to_map(std::mem::take(&mut data[i]))));
        }
        manifests.push(s);
    }
    Ok(manifests)
}
