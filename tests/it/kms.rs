//! Cloud key services (#7), against real parts where they run here and stand-ins where none
//! can:
//! - AWS KMS: `moto_server` on 127.0.0.1; the real sops 3.11 encrypts through it (with and
//!   without an encryption context, with a role, with a profile) and kunseal decrypts.
//! - Vault transit: `tests/data/kms/standin.py` (real AES-GCM, token checks); the real sops
//!   encrypts through it (`--hc-vault-transit`) and kunseal decrypts.
//! - GCP KMS, Azure Key Vault: the same stand-in speaking their REST shapes (Azure's
//!   RSA-OAEP-256 done for real); the files are real sops files whose age key entry is
//!   replaced by a `gcp_kms` / `azure_kv` entry in sops' exact layout, the data key wrapped by
//!   the stand-in.
//!
//! Both servers come from `scripts/setup-tools.sh` (.tools/kms-venv).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::util::{self, assert_failed_clean, kunseal, ok, run, sops_cmd};

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ntype: Opaque\nstringData:\n  password: hunter2-kms\n  user: admin\n";
const PLAIN_VALUE: &str = "hunter2-kms";

/// The Python of .tools/kms-venv (moto, boto3, cryptography).
fn kms_python() -> Option<PathBuf> {
    util::tool("moto and the key-service stand-in (.tools/kms-venv)", [Some(util::repo().join(".tools/kms-venv/bin/python"))])
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stats(&self) -> Value {
        http(self.port, "GET", "/_stats", &[], "").1
    }

    pub fn reset(&self) {
        http(self.port, "POST", "/_reset", &[], "");
    }

    pub fn config(&self, cfg: Value) {
        http(self.port, "POST", "/_config", &[], &cfg.to_string());
    }
}

pub fn standin(args: &[&str]) -> Option<Server> {
    let py = kms_python()?;
    let mut child = Command::new(py)
        .arg(util::repo().join("tests/data/kms/standin.py"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the stand-in");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = serde_json::from_str::<Value>(&line).expect("stand-in port")["port"].as_u64().unwrap() as u16;
    Some(Server { child, port })
}

fn moto() -> Option<Server> {
    let py = kms_python()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(py.with_file_name("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let server = Server { child, port };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("moto_server did not start");
}

/// One HTTP/1.1 request with `Connection: close`: (status, JSON body or Null).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn aws_env(c: &mut Command, moto: &Server) {
    c.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing").env("AWS_ENDPOINT_URL", moto.url());
}

fn aws_key(moto: &Server) -> String {
    let py = kms_python().unwrap();
    let script = format!(
        "import boto3; c = boto3.client('kms', region_name='eu-west-1', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing'); print(c.create_key()['KeyMetadata']['Arn'])",
        moto.url()
    );
    let mut c = Command::new(py);
    c.args(["-c", &script]);
    String::from_utf8(ok(c)).unwrap().trim().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn decrypt(file: &Path, env: &[(&str, String)]) -> std::process::Output {
    let mut c = kunseal();
    c.arg("decrypt").arg(file);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c, None)
}

fn assert_decrypts(file: &Path, env: &[(&str, String)], expected: &[u8]) {
    let out = decrypt(file, env);
    assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(expected));
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn aws_kms_through_moto_with_context_role_and_profile() {
    let (Some(sops), Some(moto)) = (util::sops(), moto()) else { return };
    let dir = util::tempdir();
    let plain = write(dir.path(), "secret.yaml", SECRET);
    let arn = aws_key(&moto);
    let encrypt = |name: &str, args: &[&str], extra_env: &[(&str, &str)]| -> PathBuf {
        let mut c = sops_cmd(&sops, dir.path());
        aws_env(&mut c, &moto);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.args(["encrypt", "--encrypted-regex", "^(data|stringData)$"]).args(args).arg(&plain);
        write(dir.path(), name, std::str::from_utf8(&ok(c)).unwrap())
    };
    let aws = vec![
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_ENDPOINT_URL", moto.url()),
    ];
    let reference = |file: &Path| {
        let mut c = sops_cmd(&sops, dir.path());
        aws_env(&mut c, &moto);
        c.env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("credentials")).env("AWS_CONFIG_FILE", dir.path().join("config"));
        c.arg("decrypt").arg(file);
        ok(c)
    };

    // Without and with an encryption context: byte-identical to `sops decrypt`.
    let plain_ctx = encrypt("none.yaml", &["--kms", &arn], &[]);
    let with_ctx = encrypt("ctx.yaml", &["--kms", &arn, "--encryption-context", "app:web,env:prod"], &[]);
    assert!(std::fs::read_to_string(&with_ctx).unwrap().contains("env: prod"));
    for f in [&plain_ctx, &with_ctx] {
        assert_decrypts(f, &aws, &reference(f));
    }
    // The service-specific endpoint variable alone.
    let kms_only = [
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_ENDPOINT_URL_KMS", moto.url()),
    ];
    assert_decrypts(&with_ctx, &kms_only, &reference(&with_ctx));

    // A wrong context fails closed, naming the service, the key and the status.
    let wrong = write(dir.path(), "wrong.yaml", &std::fs::read_to_string(&with_ctx).unwrap().replace("env: prod", "env: dev"));
    let out = decrypt(&wrong, &aws);
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    let err = stderr(&out);
    assert!(err.contains("wrong.yaml") && err.contains("Secret prod/db") && err.contains(&arn), "{err}");
    assert!(err.contains("AWS KMS: HTTP 400: InvalidCiphertextException"), "{err}");

    // The key's role is assumed through STS (moto's): with STS unreachable it fails.
    let role = "arn:aws:iam::123456789012:role/sops-decrypt";
    let with_role = encrypt("role.yaml", &["--kms", &format!("{arn}+{role}")], &[]);
    assert!(std::fs::read_to_string(&with_role).unwrap().contains(role));
    assert_decrypts(&with_role, &aws, &reference(&with_role));
    let mut no_sts = aws.clone();
    no_sts.push(("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9".to_string()));
    let out = decrypt(&with_role, &no_sts);
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));

    // aws_profile: credentials from the named profile of the shared files only.
    let creds = write(dir.path(), "credentials", "[kunseal-test]\naws_access_key_id = testing\naws_secret_access_key = testing\n");
    let config = write(dir.path(), "config", "[profile kunseal-test]\nregion = eu-west-1\n");
    let files = [("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()), ("AWS_CONFIG_FILE", config.display().to_string())];
    let with_profile = encrypt(
        "profile.yaml",
        &["--kms", &arn, "--aws-profile", "kunseal-test"],
        &[("AWS_SHARED_CREDENTIALS_FILE", &files[0].1), ("AWS_CONFIG_FILE", &files[1].1)],
    );
    assert!(std::fs::read_to_string(&with_profile).unwrap().contains("aws_profile: kunseal-test"));
    let mut env: Vec<(&str, String)> = vec![("AWS_ENDPOINT_URL", moto.url())];
    env.extend(files.iter().cloned());
    assert_decrypts(&with_profile, &env, &reference(&with_profile));
    let renamed = write(
        dir.path(),
        "other-profile.yaml",
        &std::fs::read_to_string(&with_profile).unwrap().replace("aws_profile: kunseal-test", "aws_profile: nobody"),
    );
    assert_failed_clean(&decrypt(&renamed, &env), &[PLAIN_VALUE, "testing"]);

    // In a KRM ResourceList, as kustomize and kpt call kunseal.
    let mut list = String::from("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n");
    for f in [&plain_ctx, &with_ctx] {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            list.push_str(if list.ends_with("items:\n") || list.ends_with("---\n") { "- " } else { "  " });
            list.push_str(line);
            list.push('\n');
        }
        list.push_str("---\n");
    }
    let list = list.replace("---\n", "");
    let mut c = kunseal();
    for (k, v) in &aws {
        c.env(k, v);
    }
    let out = run(c, Some(list.as_bytes()));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("password: hunter2-kms").count(), 2, "{text}");
    assert!(!text.contains("sops:"));
}

fn vault_encrypt(sops: &Path, dir: &Path, vault: &Server, token: &str, key: &str, name: &str, text: &str) -> PathBuf {
    let plain = write(dir, &format!("{name}.plain.yaml"), text);
    let mut c = sops_cmd(sops, dir);
    c.env("VAULT_ADDR", vault.url()).env("VAULT_TOKEN", token).args([
        "encrypt",
        "--encrypted-regex",
        "^(data|stringData)$",
        "--hc-vault-transit",
        &format!("{}/v1/sops/keys/{key}", vault.url()),
    ]);
    c.arg(&plain);
    let out = ok(c);
    std::fs::remove_file(plain).unwrap();
    write(dir, name, std::str::from_utf8(&out).unwrap())
}

#[test]
fn vault_transit_through_the_stand_in_with_real_sops() {
    let (Some(sops), Some(vault)) = (util::sops(), standin(&["--vault-token", "s.root-token"])) else { return };
    let dir = util::tempdir();
    let file = vault_encrypt(&sops, dir.path(), &vault, "s.root-token", "firstkey", "secret.yaml", SECRET);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("hc_vault:") && text.contains("enc: vault:v1:"), "{text}");
    let reference = {
        let mut c = sops_cmd(&sops, dir.path());
        c.env("VAULT_TOKEN", "s.root-token").arg("decrypt").arg(&file);
        ok(c)
    };
    assert_decrypts(&file, &[("VAULT_TOKEN", "s.root-token".into())], &reference);

    // The token from ~/.vault-token, as the Vault client reads it.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".vault-token"), "s.root-token\n").unwrap();
    assert_decrypts(&file, &[("HOME", home.display().to_string())], &reference);

    // A wrong token: the service, the key and the status; never the token.
    let out = decrypt(&file, &[("VAULT_TOKEN", "s.wrong-token".into())]);
    assert_failed_clean(&out, &[PLAIN_VALUE, "s.wrong-token"]);
    let err = stderr(&out);
    assert!(err.contains("hc_vault") && err.contains("/v1/sops/keys/firstkey") && err.contains("Vault transit: HTTP 403: permission denied"), "{err}");

    // No token at all.
    let out = decrypt(&file, &[]);
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    assert!(stderr(&out).contains("no token"), "{}", stderr(&out));

    // Throttling and 5xx are retried with backoff; a bounded number of times.
    vault.config(json!({"fail_first": 2}));
    assert_decrypts(&file, &[("VAULT_TOKEN", "s.root-token".into())], &reference);
    vault.reset();
    vault.config(json!({"fail_first": 5}));
    let out = decrypt(&file, &[("VAULT_TOKEN", "s.root-token".into()), ("KUNSEAL_KMS_RETRIES", "1".into())]);
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    assert!(stderr(&out).contains("HTTP 503") && stderr(&out).contains("after 2 attempts"), "{}", stderr(&out));
    assert_eq!(vault.stats()["ops"]["vault.decrypt"], 2);
    vault.config(json!({"fail_first": 0}));
}

#[test]
fn vault_namespace_is_sent() {
    let (Some(sops), Some(vault)) = (util::sops(), standin(&["--vault-token", "tok", "--vault-namespace", "team-a"])) else { return };
    let dir = util::tempdir();
    let plain = write(dir.path(), "p.yaml", SECRET);
    let mut c = sops_cmd(&sops, dir.path());
    c.env("VAULT_ADDR", vault.url()).env("VAULT_TOKEN", "tok").env("VAULT_NAMESPACE", "team-a");
    c.args(["encrypt", "--hc-vault-transit", &format!("{}/v1/sops/keys/k", vault.url())]).arg(&plain);
    let file = write(dir.path(), "ns.yaml", std::str::from_utf8(&ok(c)).unwrap());
    let out = decrypt(&file, &[("VAULT_TOKEN", "tok".into()), ("VAULT_NAMESPACE", "team-a".into())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(PLAIN_VALUE));
    assert_failed_clean(&decrypt(&file, &[("VAULT_TOKEN", "tok".into())]), &[PLAIN_VALUE]);
}

#[test]
fn vault_over_tls_with_a_ca_a_client_certificate_or_no_verification() {
    let Some(sops) = util::sops() else { return };
    let dir = util::tempdir();
    let tls = dir.path().join("tls");
    let Some(vault) = standin(&["--vault-token", "vt", "--tls-dir", tls.to_str().unwrap(), "--tls-client-auth"]) else { return };
    let url = format!("https://127.0.0.1:{}", vault.port);
    let pem = |n: &str| tls.join(n).display().to_string();
    let env = [
        ("VAULT_TOKEN", "vt".to_string()),
        ("VAULT_CACERT", pem("ca.pem")),
        ("VAULT_CLIENT_CERT", pem("client.pem")),
        ("VAULT_CLIENT_KEY", pem("client-key.pem")),
    ];
    let plain = write(dir.path(), "p.yaml", SECRET);
    let mut c = sops_cmd(&sops, dir.path());
    c.env("VAULT_ADDR", &url).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    c.args(["encrypt", "--hc-vault-transit", &format!("{url}/v1/sops/keys/tls")]).arg(&plain);
    let file = write(dir.path(), "tls.yaml", std::str::from_utf8(&ok(c)).unwrap());
    let reference = {
        let mut c = sops_cmd(&sops, dir.path());
        c.envs(env.iter().map(|(k, v)| (*k, v.as_str()))).arg("decrypt").arg(&file);
        ok(c)
    };
    assert_decrypts(&file, &env, &reference);
    // Without the CA the server is not trusted; without the client certificate it refuses.
    let out = decrypt(&file, &[env[0].clone(), env[2].clone(), env[3].clone()]);
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    assert!(stderr(&out).contains("Vault transit"), "{}", stderr(&out));
    assert_failed_clean(&decrypt(&file, &env[..2]), &[PLAIN_VALUE]);
    // VAULT_SKIP_VERIFY trusts any server certificate (the client certificate still goes).
    assert_decrypts(&file, &[env[0].clone(), env[2].clone(), env[3].clone(), ("VAULT_SKIP_VERIFY", "true".into())], &reference);
}

/// A real sops file (age), with its age entry replaced by `keys_yaml` (sops' metadata
/// layout, indented as sops writes it); returns the new file and the data key.
fn rekeyed(sops: &Path, dir: &Path, name: &str, wrap: impl Fn(&[u8]) -> String) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let (secret, recipient) = util::age_key();
    let plain = write(dir, &format!("{name}.plain.yaml"), SECRET);
    let mut c = sops_cmd(sops, dir);
    c.args(["encrypt", "--encrypted-regex", "^(data|stringData)$", "--age", &recipient]).arg(&plain);
    let text = String::from_utf8(ok(c)).unwrap();
    let reference = {
        let f = write(dir, &format!("{name}.age.yaml"), &text);
        let mut c = sops_cmd(sops, dir);
        c.env("SOPS_AGE_KEY", &secret).arg("decrypt").arg(&f);
        ok(c)
    };
    // The data key, as sops would unwrap it from the age entry.
    let loaded = kunseal::sops::stores::load(kunseal::sops::stores::Format::Yaml, text.as_bytes()).unwrap();
    let md = kunseal::sops::metadata::Metadata::from_json(loaded.metadata.unwrap()).unwrap();
    let enc = md.key_groups[0]
        .iter()
        .find_map(|k| match k {
            kunseal::sops::metadata::MasterKey::Age { enc, .. } => Some(enc.clone()),
            _ => None,
        })
        .unwrap();
    let id: age::x25519::Identity = secret.parse().unwrap();
    let d = age::Decryptor::new(age::armor::ArmoredReader::new(enc.as_bytes())).unwrap();
    let mut key = Vec::new();
    d.decrypt(std::iter::once(&id as &dyn age::Identity)).unwrap().read_to_end(&mut key).unwrap();
    assert_eq!(key.len(), 32);
    // Replace the `age:` list of the sops block with the new entries.
    let (head, block) = text.split_at(text.find("\nsops:\n").unwrap() + 1);
    let mut out = String::from(head);
    let mut skipping = false;
    for line in block.lines() {
        if line == "    age:" {
            skipping = true;
            out.push_str(&wrap(&key));
            continue;
        }
        if skipping && line.starts_with("        ") {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
    }
    assert!(!out.contains("age1"), "{out}");
    (write(dir, name, &out), key, reference)
}

fn gcp_wrap(gcp: &Server, resource: &str, key: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (status, v) = http(
        gcp.port,
        "POST",
        &format!("/v1/{resource}:encrypt"),
        &[("Authorization", "Bearer static-gcp-token")],
        &json!({"plaintext": b64.encode(key)}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    v["ciphertext"].as_str().unwrap().to_string()
}

fn azure_wrap(az: &Server, name: &str, version: &str, key: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (status, v) = http(
        az.port,
        "POST",
        &format!("/keys/{name}/{version}/wrapkey?api-version=7.4"),
        &[("Authorization", "Bearer static-gcp-token")],
        &json!({"alg": "RSA-OAEP-256", "value": b64.encode(key)}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    v["value"].as_str().unwrap().to_string()
}

const RESOURCE: &str = "projects/kunseal/locations/global/keyRings/sops/cryptoKeys/render";

#[test]
fn gcp_kms_rest_stand_in_with_every_credential_source() {
    let Some(sops) = util::sops() else { return };
    let dir = util::tempdir();
    let sa = dir.path().join("sa.json");
    let Some(gcp) = standin(&["--static-token", "static-gcp-token", "--refresh-token", "1//refresh", "--write-gcp-sa", sa.to_str().unwrap()]) else {
        return;
    };
    let (file, _, reference) = rekeyed(&sops, dir.path(), "gcp.yaml", |key| {
        format!("    gcp_kms:\n        - resource_id: {RESOURCE}\n          created_at: \"2026-11-23T10:00:00Z\"\n          enc: {}\n", gcp_wrap(&gcp, RESOURCE, key))
    });
    let endpoint = ("SOPS_GCP_KMS_ENDPOINT", gcp.url());
    // A bare access token.
    assert_decrypts(&file, &[endpoint.clone(), ("GOOGLE_OAUTH_ACCESS_TOKEN", "static-gcp-token".into())], &reference);
    // A service account: a signed JWT exchanged at the account's token_uri.
    gcp.reset();
    assert_decrypts(&file, &[endpoint.clone(), ("GOOGLE_APPLICATION_CREDENTIALS", sa.display().to_string())], &reference);
    assert_eq!(gcp.stats()["tokens"], 1);
    // sops' GOOGLE_CREDENTIALS, as JSON text and as a path.
    let sa_text = std::fs::read_to_string(&sa).unwrap();
    assert_decrypts(&file, &[endpoint.clone(), ("GOOGLE_CREDENTIALS", sa_text.clone())], &reference);
    assert_decrypts(&file, &[endpoint.clone(), ("GOOGLE_CREDENTIALS", sa.display().to_string())], &reference);
    // gcloud's application-default user credentials (refresh token).
    let user = json!({"type": "authorized_user", "client_id": "cid", "client_secret": "csecret", "refresh_token": "1//refresh", "token_uri": format!("{}/token", gcp.url())});
    let adc = write(dir.path(), "adc.json", &user.to_string());
    assert_decrypts(&file, &[endpoint.clone(), ("GOOGLE_APPLICATION_CREDENTIALS", adc.display().to_string())], &reference);

    // Wrong token: service, key, status; not the token.
    let out = decrypt(&file, &[endpoint.clone(), ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.wrong".into())]);
    assert_failed_clean(&out, &[PLAIN_VALUE, "ya29.wrong"]);
    let err = stderr(&out);
    assert!(err.contains(RESOURCE) && err.contains("GCP KMS: HTTP 401"), "{err}");
    // A service account whose key the token endpoint does not know.
    let mut forged: Value = serde_json::from_str(&sa_text).unwrap();
    forged["private_key"] = Value::String(other_pkcs8_pem());
    let out = decrypt(&file, &[endpoint.clone(), ("GOOGLE_CREDENTIALS", forged.to_string())]);
    assert_failed_clean(&out, &[PLAIN_VALUE, "PRIVATE KEY"]);
    assert!(stderr(&out).contains("GCP service account kunseal-test@stand-in.iam.gserviceaccount.com: HTTP 400: Invalid JWT Signature"), "{}", stderr(&out));
    // The metadata server, as on GCE and GKE.
    assert_decrypts(&file, &[endpoint.clone(), ("GCE_METADATA_HOST", format!("127.0.0.1:{}", gcp.port))], &reference);
    // No credentials anywhere (the metadata server does not answer here).
    let out = decrypt(&file, &[endpoint]);
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    assert!(stderr(&out).contains("no GCP credentials"), "{}", stderr(&out));
}

fn other_pkcs8_pem() -> String {
    use base64::Engine;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let _ = &rng;
    let der = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    use aws_lc_rs::encoding::AsDer;
    let pkcs8 = der.as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
}

#[test]
fn azure_key_vault_stand_in_with_every_credential_source() {
    let Some(sops) = util::sops() else { return };
    let dir = util::tempdir();
    let federated = "eyJhbGciOiJSUzI1NiJ9.federated.sig";
    let Some(az) = standin(&[
        "--static-token",
        "static-gcp-token",
        "--azure-tenant",
        "t-1",
        "--azure-client-id",
        "c-1",
        "--azure-client-secret",
        "az-secret-value",
        "--azure-federated-token",
        federated,
        "--identity-header",
        "id-header-value",
    ]) else {
        return;
    };
    let (file, _, reference) = rekeyed(&sops, dir.path(), "azure.yaml", |key| {
        format!(
            "    azure_kv:\n        - vault_url: {}\n          name: sops-key\n          version: 0123456789abcdef\n          created_at: \"2026-11-23T10:00:00Z\"\n          enc: {}\n",
            az.url(),
            azure_wrap(&az, "sops-key", "0123456789abcdef", key)
        )
    });
    let base = [("AZURE_AUTHORITY_HOST", format!("{}/", az.url())), ("AZURE_TENANT_ID", "t-1".to_string()), ("AZURE_CLIENT_ID", "c-1".to_string())];
    let with = |extra: &[(&'static str, String)]| -> Vec<(&'static str, String)> { base.iter().cloned().chain(extra.iter().cloned()).collect() };
    // Client secret.
    assert_decrypts(&file, &with(&[("AZURE_CLIENT_SECRET", "az-secret-value".into())]), &reference);
    // Workload identity: the federated token file.
    let token_file = write(dir.path(), "azure-token", federated);
    assert_decrypts(&file, &with(&[("AZURE_FEDERATED_TOKEN_FILE", token_file.display().to_string())]), &reference);
    // Managed identity through IDENTITY_ENDPOINT (App Service, Container Apps).
    assert_decrypts(
        &file,
        &[("IDENTITY_ENDPOINT", format!("{}/msi/token", az.url())), ("IDENTITY_HEADER", "id-header-value".into())],
        &reference,
    );
    // A wrong secret: the credential, the status and Azure's message; not the secret.
    let out = decrypt(&file, &with(&[("AZURE_CLIENT_SECRET", "not-the-secret".into())]));
    assert_failed_clean(&out, &[PLAIN_VALUE, "not-the-secret"]);
    let err = stderr(&out);
    assert!(err.contains("sops-key/0123456789abcdef") && err.contains("Azure client secret c-1: HTTP 401: AADSTS7000215"), "{err}");
    // A wrong key version: Key Vault's 404.
    let moved = write(dir.path(), "moved.yaml", &std::fs::read_to_string(&file).unwrap().replace("version: 0123456789abcdef", "version: ffff"));
    let out = decrypt(&moved, &with(&[("AZURE_CLIENT_SECRET", "az-secret-value".into())]));
    assert_failed_clean(&out, &[PLAIN_VALUE]);
    assert!(stderr(&out).contains("Azure Key Vault: HTTP 404: A key with (name/id) sops-key was not found"), "{}", stderr(&out));
}

#[test]
fn keys_are_tried_in_order_and_a_file_opens_at_the_first_that_works() {
    let Some(sops) = util::sops() else { return };
    let Some(srv) = standin(&["--static-token", "static-gcp-token", "--vault-token", "vt"]) else { return };
    let dir = util::tempdir();
    // One group: a GCP key that works, then an Azure key that would too.
    let (first_works, _, reference) = rekeyed(&sops, dir.path(), "first.yaml", |key| {
        format!(
            "    gcp_kms:\n        - resource_id: {RESOURCE}\n          created_at: \"2026-11-23T10:00:00Z\"\n          enc: {}\n    azure_kv:\n        - vault_url: {}\n          name: k\n          version: v1\n          created_at: \"2026-11-23T10:00:00Z\"\n          enc: {}\n",
            gcp_wrap(&srv, RESOURCE, key),
            srv.url(),
            azure_wrap(&srv, "k", "v1", key)
        )
    });
    let env = [("SOPS_GCP_KMS_ENDPOINT", srv.url()), ("GOOGLE_OAUTH_ACCESS_TOKEN", "static-gcp-token".into())];
    srv.reset();
    assert_decrypts(&first_works, &env, &reference);
    let stats = srv.stats();
    assert_eq!(stats["ops"]["gcp.decrypt"], 1, "{stats}");
    assert!(stats["ops"].get("azure.unwrapkey").is_none(), "{stats}");

    // A GCP key that fails (a key ring that does not exist), then a Vault key that works.
    let (second_works, _, reference) = rekeyed(&sops, dir.path(), "second.yaml", |key| {
        use base64::Engine;
        let (status, v) = http(
            srv.port,
            "POST",
            "/v1/transit/encrypt/k",
            &[("X-Vault-Token", "vt")],
            &json!({"plaintext": base64::engine::general_purpose::STANDARD.encode(key)}).to_string(),
        );
        assert_eq!(status, 200);
        format!(
            "    gcp_kms:\n        - resource_id: projects/kunseal/locations/global/keyRings/gone/cryptoKeys/k\n          created_at: \"2026-11-23T10:00:00Z\"\n          enc: AAAA\n    hc_vault:\n        - vault_address: {}\n          engine_path: transit\n          key_name: k\n          created_at: \"2026-11-23T10:00:00Z\"\n          enc: {}\n",
            srv.url(),
            v["data"]["ciphertext"].as_str().unwrap()
        )
    });
    srv.reset();
    let mut env2 = env.to_vec();
    env2.push(("VAULT_TOKEN", "vt".into()));
    assert_decrypts(&second_works, &env2, &reference);
    let stats = srv.stats();
    assert_eq!((stats["ops"]["gcp.decrypt"].as_u64(), stats["ops"]["vault.decrypt"].as_u64()), (Some(1), Some(1)), "{stats}");

    // SOPS_DECRYPTION_ORDER puts Vault first: GCP is never asked.
    srv.reset();
    env2.push(("SOPS_DECRYPTION_ORDER", "hc_vault,gcp_kms".into()));
    assert_decrypts(&second_works, &env2, &reference);
    let stats = srv.stats();
    assert!(stats["ops"].get("gcp.decrypt").is_none(), "{stats}");
}

#[test]
fn a_render_unwraps_concurrently_once_per_distinct_key_and_within_the_bound() {
    let (Some(sops), Some(vault)) = (util::sops(), standin(&["--vault-token", "vt"])) else { return };
    let dir = util::tempdir();
    let n = 24;
    let mut stream = String::new();
    let mut expected = String::new();
    for i in 0..n {
        let text = SECRET.replace("name: db", &format!("name: db-{i}"));
        let f = vault_encrypt(&sops, dir.path(), &vault, "vt", "render", &format!("s{i}.yaml"), &text);
        let enc = std::fs::read_to_string(&f).unwrap();
        // The first file twice: its wrapped key is asked for once.
        for _ in 0..(if i == 0 { 2 } else { 1 }) {
            stream.push_str("---\n");
            stream.push_str(&enc);
            let mut one = kunseal();
            one.env("VAULT_TOKEN", "vt");
            let out = run(one, Some(enc.as_bytes()));
            assert!(out.status.success());
            expected.push_str(&String::from_utf8(out.stdout).unwrap());
        }
    }
    vault.config(json!({"delay_ms": 100}));
    for (bound, expect_overlap) in [(4usize, true), (1, false)] {
        vault.reset();
        let mut c = kunseal();
        c.env("VAULT_TOKEN", "vt").env("KUNSEAL_KMS_CONCURRENCY", bound.to_string());
        let out = run(c, Some(stream.as_bytes()));
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.matches("password: hunter2-kms").count(), n + 1);
        assert_eq!(text.replace("---\n", ""), expected.replace("---\n", ""));
        let stats = vault.stats();
        assert_eq!(stats["ops"]["vault.decrypt"].as_u64(), Some(n as u64), "one request per distinct key: {stats}");
        let max = stats["max_inflight"].as_u64().unwrap() as usize;
        assert!(max <= bound, "at most {bound} in flight: {stats}");
        if expect_overlap {
            assert!(max > 1, "requests overlapped: {stats}");
        }
    }
    vault.config(json!({"delay_ms": 0}));
}

#[test]
fn a_ksops_generator_opens_its_files_keys_together() {
    let (Some(sops), Some(vault)) = (util::sops(), standin(&["--vault-token", "vt"])) else { return };
    let dir = util::tempdir();
    let n = 8;
    let mut files = String::new();
    for i in 0..n {
        vault_encrypt(&sops, dir.path(), &vault, "vt", "gen", &format!("s{i}.yaml"), &SECRET.replace("name: db", &format!("name: db-{i}")));
        files.push_str(&format!("  - ./s{i}.yaml\n"));
    }
    // A dotenv file for secretFrom, also through Vault.
    let env_plain = write(dir.path(), "app.plain.env", "API_TOKEN=tok-from-vault\n");
    let mut c = sops_cmd(&sops, dir.path());
    c.env("VAULT_ADDR", vault.url()).env("VAULT_TOKEN", "vt");
    c.args(["encrypt", "--hc-vault-transit", &format!("{}/v1/sops/keys/gen", vault.url())]).arg(&env_plain);
    write(dir.path(), "app.enc.env", std::str::from_utf8(&ok(c)).unwrap());
    let config = write(
        dir.path(),
        "generator.yaml",
        &format!(
            "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: gen\nfiles:\n{files}secretFrom:\n  - metadata:\n      name: app-env\n    envs:\n      - ./app.enc.env\n"
        ),
    );
    vault.config(json!({"delay_ms": 100}));
    vault.reset();
    let mut c = kunseal();
    c.current_dir(dir.path()).env("VAULT_TOKEN", "vt").arg(&config);
    let out = run(c, None);
    vault.config(json!({"delay_ms": 0}));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("password: hunter2-kms").count(), n, "{text}");
    assert!(text.contains("API_TOKEN: tok-from-vault"), "{text}");
    let stats = vault.stats();
    assert_eq!(stats["ops"]["vault.decrypt"].as_u64(), Some(n as u64 + 1), "{stats}");
    assert!(stats["max_inflight"].as_u64().unwrap() > 1, "the generator's files were opened together: {stats}");
}
