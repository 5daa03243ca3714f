//! `kunseal render [DIR]`: what Argo CD's Config Management Plugin `generate` runs. A
//! kustomization is built by kustomize (or kubectl's kustomize) with kunseal as the ksops
//! plugin, a Helm chart by `helm template`, a plain directory by reading its manifests; the
//! result then goes through the stream mode so every SOPS document left is decrypted.
//! Only manifests reach stdout; an empty render is an error (Argo CD would prune the app).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::io::stream;
use crate::keys::Keyring;
use crate::render::{RenderError, RenderOptions};
use crate::tree::{Item, Value};
use crate::yaml::{parse_documents, Limits};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    Kustomize,
    Helm,
    Plain,
}

pub fn detect(dir: &Path) -> AppKind {
    if ["kustomization.yaml", "kustomization.yml", "Kustomization"].iter().any(|f| dir.join(f).is_file()) {
        AppKind::Kustomize
    } else if dir.join("Chart.yaml").is_file() {
        AppKind::Helm
    } else {
        AppKind::Plain
    }
}

/// Argo CD's view of the application, from the environment the CMP server sets.
#[derive(Debug, Clone, Default)]
pub struct AppEnv {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    /// `ARGOCD_APP_PARAMETERS` (JSON) and `ARGOCD_ENV_*`: values files and `--set` pairs.
    pub values_files: Vec<String>,
    pub set: Vec<(String, String)>,
    pub release_name: Option<String>,
}

impl AppEnv {
    pub fn from_env() -> AppEnv {
        let var = crate::env_nonempty;
        let mut env = AppEnv {
            name: var("ARGOCD_APP_NAME"),
            namespace: var("ARGOCD_APP_NAMESPACE"),
            kube_version: var("KUBE_VERSION"),
            api_versions: var("KUBE_API_VERSIONS").map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default(),
            release_name: var("ARGOCD_ENV_RELEASE_NAME"),
            ..AppEnv::default()
        };
        if let Some(files) = var("ARGOCD_ENV_HELM_VALUES") {
            env.values_files.extend(files.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
        }
        // [{"name": "values-files", "array": [...]}, {"name": "set", "map": {...}}, {"name": "release-name", "string": "..."}]
        if let Some(params) = var("ARGOCD_APP_PARAMETERS").and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok()) {
            for p in params.as_array().into_iter().flatten() {
                match p.get("name").and_then(|n| n.as_str()) {
                    Some("values-files") => env.values_files.extend(p.get("array").and_then(|a| a.as_array()).into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string))),
                    Some("set") => env.set.extend(p.get("map").and_then(|m| m.as_object()).into_iter().flatten().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))),
                    Some("release-name") => env.release_name = p.get("string").and_then(|s| s.as_str()).map(str::to_string),
                    _ => {}
                }
            }
        }
        env
    }
}

fn tool(env_var: &str, default: &str) -> String {
    crate::env_nonempty(env_var).unwrap_or_else(|| default.to_string())
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

fn run_tool(mut cmd: Command, what: &str) -> Result<String, RenderError> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| RenderError::new(format!("cannot run {what}: {}", e.kind())))?;
    if !out.status.success() {
        return Err(RenderError::new(format!("{what} failed ({})", out.status)));
    }
    String::from_utf8(out.stdout).map_err(|_| RenderError::new(format!("{what} wrote non-UTF-8 output")))
}

/// A private directory holding kunseal as kustomize's legacy ksops plugin.
struct PluginHome(PathBuf);

impl PluginHome {
    fn new() -> Result<PluginHome, RenderError> {
        let exe = std::env::current_exe().map_err(|e| RenderError::new(format!("cannot find kunseal's own path: {}", e.kind())))?;
        let base = std::env::temp_dir().join(format!("kunseal-plugins-{}", std::process::id()));
        let dir = base.join("kustomize/plugin/viaduct.ai/v1/ksops");
        std::fs::create_dir_all(&dir).map_err(|e| RenderError::new(format!("plugin directory: {}", e.kind())))?;
        let link = dir.join("ksops");
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&exe, &link).map_err(|e| RenderError::new(format!("plugin link: {}", e.kind())))?;
        Ok(PluginHome(base))
    }
}

impl Drop for PluginHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kustomize(dir: &Path) -> Result<String, RenderError> {
    let home = PluginHome::new()?;
    let kustomize = tool("KUNSEAL_KUSTOMIZE", "kustomize");
    let mut cmd = if std::env::var("KUNSEAL_KUSTOMIZE").is_ok() || on_path("kustomize") {
        let mut c = Command::new(&kustomize);
        c.args(["build", "--enable-alpha-plugins", "--enable-exec"]).arg(dir);
        c
    } else {
        let mut c = Command::new(tool("KUNSEAL_KUBECTL", "kubectl"));
        c.args(["kustomize", "--enable-alpha-plugins"]).arg(dir);
        c
    };
    cmd.env("XDG_CONFIG_HOME", &home.0);
    run_tool(cmd, "kustomize")
}

fn helm(dir: &Path, env: &AppEnv) -> Result<String, RenderError> {
    let mut cmd = Command::new(tool("KUNSEAL_HELM", "helm"));
    let release = env.release_name.clone().or_else(|| env.name.clone()).unwrap_or_else(|| "release".into());
    cmd.current_dir(dir).args(["template", &release, "."]);
    if let Some(ns) = &env.namespace {
        cmd.args(["--namespace", ns]);
    }
    if let Some(v) = &env.kube_version {
        cmd.args(["--kube-version", v]);
    }
    for a in &env.api_versions {
        cmd.args(["--api-versions", a]);
    }
    for f in &env.values_files {
        cmd.args(["--values", f]);
    }
    for (k, v) in &env.set {
        cmd.args(["--set", &format!("{k}={v}")]);
    }
    run_tool(cmd, "helm template")
}

fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            manifest_files(&path, out)?;
        } else if ft.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Opens the data keys of every encrypted manifest of a plain directory together (files
/// are rendered one by one, but their key-service round trips need not be).
fn prefetch_files(texts: &[(String, String)], keyring: &Keyring) {
    use rayon::prelude::*;
    let manifests: Vec<Vec<Item>> = texts
        .par_iter()
        .filter(|(_, t)| t.contains("sops") && crate::render::may_name_key_service(t))
        .flat_map_iter(|(rel, text)| {
            let docs: Vec<Value> = if rel.ends_with(".json") {
                crate::sops::stores::json::parse(text).into_iter().collect()
            } else {
                parse_documents(text, Limits::default()).map(|d| d.into_iter().map(|d| d.root).collect()).unwrap_or_default()
            };
            docs.into_iter().filter_map(|v| match v {
                Value::Map(items) if crate::render::has_sops(&items) => Some(items),
                _ => None,
            })
        })
        .collect();
    crate::render::prefetch_manifests(manifests.iter().map(|m| m.as_slice()), keyring);
}

/// A plain directory: every manifest file in name order; ksops generator configs run (with
/// the app directory as working directory) and are replaced by what they generate.
fn plain(dir: &Path, keyring: &Keyring, opts: RenderOptions) -> Result<String, RenderError> {
    let mut files = Vec::new();
    manifest_files(dir, &mut files).map_err(|e| RenderError::new(format!("cannot list {}: {}", dir.display(), e.kind())))?;
    let mut texts = Vec::with_capacity(files.len());
    for f in &files {
        let rel = f.strip_prefix(dir).unwrap_or(f).display().to_string();
        let text = std::fs::read_to_string(f).map_err(|e| RenderError::new(format!("cannot read: {}", e.kind())).in_file(&rel))?;
        texts.push((rel, text));
    }
    prefetch_files(&texts, keyring);
    let mut out = String::new();
    for (rel, text) in texts {
        let rendered = if rel.ends_with(".json") {
            let tree = crate::sops::stores::json::parse(&text).map_err(|e| RenderError::new(e.to_string()).in_file(&rel))?;
            match tree {
                Value::Map(items) if crate::render::has_sops(&items) => {
                    crate::io::emit_manifest(&crate::render::decrypt_manifest(items, keyring, opts).map_err(|e| e.in_file(&rel))?)
                }
                _ => text,
            }
        } else if text.contains("kind: ksops") {
            let docs = parse_documents(&text, Limits::default()).map_err(|e| RenderError::new(format!("invalid YAML: {e}")).in_file(&rel))?;
            let mut s = String::new();
            for d in docs {
                let Value::Map(items) = d.root else { continue };
                let produced: Vec<Vec<Item>> = if crate::generator::is_config(&items) {
                    crate::generator::generate(&items, dir, keyring, opts).map_err(|e| e.in_file(&rel))?
                } else if crate::render::has_sops(&items) {
                    vec![crate::render::decrypt_manifest(items, keyring, opts).map_err(|e| e.in_file(&rel))?]
                } else {
                    vec![crate::render::unseal_if_configured(&items, keyring).map_err(|e| e.in_file(&rel))?.unwrap_or(items)]
                };
                for m in produced {
                    if !s.is_empty() {
                        s.push_str("---\n");
                    }
                    s.push_str(&crate::io::emit_manifest(&m));
                }
            }
            s
        } else {
            stream::render(&text, keyring, opts).map_err(|e| e.in_file(&rel))?
        };
        if rendered.trim().is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&rendered);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Renders an application directory to a manifest stream with every secret decrypted.
pub fn render(dir: &Path, keyring: &Keyring, opts: RenderOptions, env: &AppEnv) -> Result<String, RenderError> {
    let out = match detect(dir) {
        AppKind::Kustomize => stream::render(&kustomize(dir)?, keyring, opts)?,
        AppKind::Helm => stream::render(&helm(dir, env)?, keyring, opts)?,
        AppKind::Plain => plain(dir, keyring, opts)?,
    };
    let has_manifest = stream::split(&out).iter().any(|c| c.body.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    if !has_manifest {
        return Err(RenderError::new(format!(
            "rendering {} produced no manifests; refusing to print an empty success (Argo CD would prune the application)",
            dir.display()
        )));
    }
    Ok(out)
}
