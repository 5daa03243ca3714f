//! Controller private keys from `KUNSEAL_SEALED_KEYS`: comma-separated paths, each a PEM key
//! (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`), a YAML/JSON Secret or `v1 List` of
//! them (`tls.key`, as `kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o
//! yaml` writes), or a directory of such files.

use std::path::Path;

use base64::Engine;
use zeroize::Zeroizing;

use super::der::{pem_blocks, pkcs1_to_pkcs8};
use super::hybrid::PrivateKey;
use crate::tree::{map_get, Item, Value};
use crate::yaml::{parse_documents, Limits};

fn keys_from_pem(text: &str) -> Vec<PrivateKey> {
    pem_blocks(text)
        .into_iter()
        .filter_map(|(label, der)| {
            let der = Zeroizing::new(der);
            match label.as_str() {
                "RSA PRIVATE KEY" => PrivateKey::from_pkcs8(&Zeroizing::new(pkcs1_to_pkcs8(&der))),
                "PRIVATE KEY" => PrivateKey::from_pkcs8(&der),
                _ => None,
            }
        })
        .collect()
}

fn secret_tls_key(items: &[Item], out: &mut Vec<PrivateKey>) -> Result<(), String> {
    let kind = map_get(items, "kind").and_then(Value::scalar_text).unwrap_or_default();
    match kind.as_str() {
        "List" | "SecretList" => {
            if let Some(Value::Seq(list)) = map_get(items, "items") {
                for i in list {
                    if let Value::Map(m) = i {
                        secret_tls_key(m, out)?;
                    }
                }
            }
            Ok(())
        }
        "Secret" => {
            let b64 = map_get(items, "data").and_then(|d| d.get("tls.key")).and_then(Value::scalar_text).ok_or("Secret has no data[\"tls.key\"]")?;
            let pem = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| "tls.key is not base64")?);
            let found = keys_from_pem(&String::from_utf8_lossy(&pem));
            if found.is_empty() {
                return Err("tls.key holds no RSA private key".into());
            }
            out.extend(found);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn load_file(path: &Path, out: &mut Vec<PrivateKey>) -> Result<(), String> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), e.kind()))?);
    let before = out.len();
    if text.contains("-----BEGIN") && !text.contains("tls.key") {
        out.extend(keys_from_pem(&text));
    } else {
        let docs = parse_documents(&text, Limits::default()).map_err(|e| format!("{}: invalid YAML/JSON: {e}", path.display()))?;
        for d in docs {
            if let Value::Map(items) = d.root {
                secret_tls_key(&items, out).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    if out.len() == before {
        return Err(format!("{}: no RSA private key found", path.display()));
    }
    Ok(())
}

/// Loads every key named by `spec` (the value of `KUNSEAL_SEALED_KEYS`).
pub fn load(spec: &str) -> Result<Vec<PrivateKey>, String> {
    let mut out = Vec::new();
    for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let path = Path::new(p);
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path).map_err(|e| format!("{p}: {}", e.kind()))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            let mut any = false;
            for f in files.iter().filter(|f| f.is_file() && !f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))) {
                if load_file(f, &mut out).is_ok() {
                    any = true;
                }
            }
            if !any {
                return Err(format!("{p}: no RSA private key found in the directory"));
            }
        } else {
            load_file(path, &mut out)?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|k| seen.insert(k.public_spki.clone()));
    Ok(out)
}
