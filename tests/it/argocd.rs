//! Argo CD and Helm integration without Argo CD or Helm (neither can be installed here):
//! argocd-cmp/plugin.yaml is loaded and its discover/generate commands run the way the CMP
//! server runs them (cwd = the app, ARGOCD_* environment, kunseal on PATH); the sidecar
//! patch and the Helm 4 plugin.yaml are checked field by field; `helm template` is a
//! stand-in script that prints a fixed, Helm-shaped render and records its arguments.

use std::path::{Path, PathBuf};
use std::process::Command;

use kunseal::tree::Value;
use kunseal::yaml::{parse_documents, Limits};

use crate::util::*;

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    parse_documents(&text, Limits::default()).unwrap().remove(0).root
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| v.get(k).unwrap_or_else(|| panic!("missing {k} in {path:?}")))
}

fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::Seq(s) => s.iter().filter_map(|x| x.scalar_text()).collect(),
        _ => panic!("not a list"),
    }
}

/// A PATH directory with `kunseal` (and optionally a stand-in `helm`).
fn bin_dir() -> tempfile::TempDir {
    let d = tempdir();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kunseal"), d.path().join("kunseal")).unwrap();
    d
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// Runs a CMP command (`command` + `args`) as the CMP server would.
fn run_cmp(spec: &Value, app: &Path, bin: &Path, extra_env: &[(&str, String)]) -> std::process::Output {
    let mut argv = strs(spec.get("command").unwrap());
    if let Some(a) = spec.get("args") {
        argv.extend(strs(a));
    }
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..])
        .current_dir(app)
        .env("PATH", path_with(bin))
        .env("ARGOCD_APP_NAME", "shop")
        .env("ARGOCD_APP_NAMESPACE", "shop-prod")
        .env("KUBE_VERSION", "1.32")
        .env("KUBE_API_VERSIONS", "v1,apps/v1")
        .env_remove("SOPS_AGE_KEY")
        .env("HOME", "/nonexistent");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn data() -> PathBuf {
    repo().join("tests/data/argocd")
}

#[test]
fn cmp_plugin_yaml_has_the_expected_shape() {
    let p = load(&repo().join("argocd-cmp/plugin.yaml"));
    assert_eq!(get(&p, &["kind"]), &Value::Str("ConfigManagementPlugin".into()));
    assert_eq!(get(&p, &["metadata", "name"]), &Value::Str("kunseal".into()));
    assert_eq!(strs(get(&p, &["spec", "generate", "command"])), ["kunseal", "render", "."]);
    get(&p, &["spec", "discover", "find", "command"]);
    get(&p, &["spec", "init", "command"]);
}

#[test]
fn sidecar_patch_has_the_expected_shape() {
    let p = load(&repo().join("argocd-cmp/sidecar-patch.yaml"));
    assert_eq!(get(&p, &["metadata", "name"]), &Value::Str("argocd-repo-server".into()));
    let Value::Seq(containers) = get(&p, &["spec", "template", "spec", "containers"]) else { panic!() };
    let c = &containers[0];
    assert_eq!(strs(get(c, &["command"])), ["/var/run/argocd/argocd-cmp-server"]);
    assert_eq!(get(c, &["securityContext", "runAsUser"]), &Value::Int(999));
    let Value::Seq(mounts) = get(c, &["volumeMounts"]) else { panic!() };
    let mount = |name: &str| mounts.iter().find(|m| m.get("name") == Some(&Value::Str(name.into()))).unwrap_or_else(|| panic!("mount {name}"));
    assert_eq!(get(mount("var-files"), &["mountPath"]), &Value::Str("/var/run/argocd".into()));
    assert_eq!(get(mount("plugins"), &["mountPath"]), &Value::Str("/home/argocd/cmp-server/plugins".into()));
    assert_eq!(get(mount("kunseal-cmp-plugin"), &["mountPath"]), &Value::Str("/home/argocd/cmp-server/config/plugin.yaml".into()));
    assert_eq!(get(mount("kunseal-tmp"), &["mountPath"]), &Value::Str("/tmp".into()));
    let Value::Seq(env) = get(c, &["env"]) else { panic!() };
    let names: Vec<String> = env.iter().filter_map(|e| e.get("name").and_then(Value::scalar_text)).collect();
    assert!(names.contains(&"SOPS_AGE_KEY_FILE".into()) && names.contains(&"KUNSEAL_SEALED_KEYS".into()));
    let Value::Seq(vols) = get(&p, &["spec", "template", "spec", "volumes"]) else { panic!() };
    assert!(vols.iter().any(|v| v.get("name") == Some(&Value::Str("kunseal-tmp".into())) && v.get("emptyDir").is_some()));
    let docker = std::fs::read_to_string(repo().join("argocd-cmp/Dockerfile")).unwrap();
    assert!(docker.contains("USER 999") && docker.matches("FROM ").count() >= 2 && docker.contains("musl"));
}

#[test]
fn helm4_plugin_yaml_has_the_expected_shape() {
    let p = load(&repo().join("plugin.yaml"));
    assert_eq!(get(&p, &["apiVersion"]), &Value::Str("v1".into()));
    assert_eq!(get(&p, &["type"]), &Value::Str("postrenderer/v1".into()));
    assert_eq!(get(&p, &["runtime"]), &Value::Str("subprocess".into()));
    let Value::Seq(cmds) = get(&p, &["runtimeConfig", "platformCommand"]) else { panic!() };
    for (os, arch) in [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")] {
        assert!(cmds.iter().any(|c| c.get("os") == Some(&Value::Str(os.into())) && c.get("arch") == Some(&Value::Str(arch.into()))), "{os}/{arch}");
    }
}

#[test]
fn discover_matches_only_apps_with_secrets() {
    let p = load(&repo().join("argocd-cmp/plugin.yaml"));
    let find = get(&p, &["spec", "discover", "find"]);
    let bin = bin_dir();
    for (app, expect) in [("plain-app", true), ("unrelated", false)] {
        let out = run_cmp(find, &data().join(app), bin.path(), &[]);
        assert!(out.status.success());
        assert_eq!(!out.stdout.is_empty(), expect, "{app}");
    }
    let out = run_cmp(find, &repo().join("examples/kustomization/legacy"), bin.path(), &[]);
    assert!(!out.stdout.is_empty());
}

#[test]
fn generate_renders_a_plain_manifest_app() {
    let p = load(&repo().join("argocd-cmp/plugin.yaml"));
    let bin = bin_dir();
    let key = repo().join("tests/golden/keys/age.txt");
    let out = run_cmp(get(&p, &["spec", "generate"]), &data().join("plain-app"), bin.path(), &[("SOPS_AGE_KEY_FILE", key.display().to_string())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name: plain-config") && text.contains("password: s3cr3t-golden") && text.contains("golden-json"), "{text}");
    assert!(!text.contains("ENC["), "{text}");
    // Without the key: a failure, and no output at all.
    let out = run_cmp(get(&p, &["spec", "generate"]), &data().join("plain-app"), bin.path(), &[]);
    assert!(!out.status.success() && out.stdout.is_empty());
}

#[test]
fn generate_renders_a_kustomize_app_through_kubectl() {
    if Command::new("kubectl").arg("--help").output().is_err() {
        assert!(std::env::var("KUNSEAL_REQUIRE_TOOLS").as_deref() != Ok("1"), "kubectl is required");
        return;
    }
    let p = load(&repo().join("argocd-cmp/plugin.yaml"));
    let bin = bin_dir();
    let key = repo().join("examples/kustomization/age-key.txt");
    let out = run_cmp(get(&p, &["spec", "generate"]), &repo().join("examples/kustomization/legacy"), bin.path(), &[("SOPS_AGE_KEY_FILE", key.display().to_string())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DB_PASSWORD: correct-horse-battery-staple") && text.contains("name: shop-env-") && text.contains("kind: Deployment"), "{text}");
}

#[test]
fn generate_renders_a_helm_chart_with_argocd_parameters() {
    let p = load(&repo().join("argocd-cmp/plugin.yaml"));
    let bin = bin_dir();
    let args_file = bin.path().join("helm-args");
    let helm = bin.path().join("helm");
    std::fs::write(
        &helm,
        format!("#!/bin/sh\n# stand-in for `helm template`: records its arguments, prints a fixed render\nprintf '%s\\n' \"$@\" > '{}'\ncat '{}'\n", args_file.display(), data().join("helm-template-output.yaml").display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = repo().join("tests/golden/keys/age.txt");
    let params = r#"[{"name":"values-files","array":["values-prod.yaml"]},{"name":"set","map":{"image.tag":"1.2.3"}}]"#.to_string();
    let out = run_cmp(
        get(&p, &["spec", "generate"]),
        &data().join("helm-app"),
        bin.path(),
        &[("SOPS_AGE_KEY_FILE", key.display().to_string()), ("ARGOCD_APP_PARAMETERS", params)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("---\n# Source: shop/templates/configmap.yaml\n") && text.contains("password: s3cr3t-golden"), "{text}");
    let args = std::fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args, ["template", "shop", ".", "--namespace", "shop-prod", "--kube-version", "1.32", "--api-versions", "v1", "--api-versions", "apps/v1", "--values", "values-prod.yaml", "--set", "image.tag=1.2.3"]);
}

#[test]
fn render_refuses_an_empty_success() {
    let empty = tempdir();
    let mut k = kunseal();
    k.args(["render"]).arg(empty.path());
    let out = run(k, None);
    assert_failed_clean(&out, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifests"));
}
