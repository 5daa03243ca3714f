//! Benchmark (issue 5): unseal 1,000 values sealed to a 4096-bit key with the kunseal binary,
//! against the raw RSA-OAEP decryption of the same 1,000 session keys with the same library
//! (aws-lc-rs), in the same run. Prints ratios; asserts nothing.
//!
//!     cargo run --release --example bench_unseal -- target/release/kunseal

use std::time::Instant;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use kunseal::sealed::hybrid;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let bin = std::env::args().nth(1).unwrap_or_else(|| "target/release/kunseal".into());
    let n = 1000;
    let key = PrivateDecryptingKey::generate(KeySize::Rsa4096).expect("keygen");
    let spki = key.public_key().as_der().unwrap().as_ref().to_vec();
    let pkcs8 = key.as_der().unwrap().as_ref().to_vec();
    let label = hybrid::label(hybrid::Scope::Strict, "bench", "big");
    let blobs: Vec<Vec<u8>> = (0..n).map(|i| hybrid::encrypt(format!("value-{i}").as_bytes(), &label, &spki).unwrap()).collect();

    // Raw cost: one OAEP decryption per value, one core.
    let oaep = OaepPrivateDecryptingKey::new(key).unwrap();
    let mut buf = vec![0u8; oaep.min_output_size()];
    let raw = median(
        (0..3)
            .map(|_| {
                let t = Instant::now();
                for b in &blobs {
                    let len = u16::from_be_bytes([b[0], b[1]]) as usize;
                    oaep.decrypt(&OAEP_SHA256_MGF1SHA256, &b[2..2 + len], &mut buf, Some(&label)).unwrap();
                }
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );

    let dir = std::env::temp_dir().join(format!("kunseal-bench-unseal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", B64.encode(&pkcs8));
    std::fs::write(dir.join("key.pem"), pem).unwrap();
    let mut doc = String::from("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: big\n  namespace: bench\nspec:\n  encryptedData:\n");
    for (i, b) in blobs.iter().enumerate() {
        doc.push_str(&format!("    k{i:04}: {}\n", B64.encode(b)));
    }
    std::fs::write(dir.join("sealed.yaml"), doc).unwrap();
    let run = |threads: Option<&str>| {
        median(
            (0..3)
                .map(|_| {
                    let mut c = std::process::Command::new(&bin);
                    c.args(["unseal", "--key"]).arg(dir.join("key.pem")).arg(dir.join("sealed.yaml")).stdout(std::process::Stdio::null());
                    if let Some(t) = threads {
                        c.env("RAYON_NUM_THREADS", t);
                    }
                    let t = Instant::now();
                    assert!(c.status().unwrap().success(), "kunseal unseal failed");
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let one = run(Some("1"));
    let all = run(None);
    let _ = std::fs::remove_dir_all(&dir);
    println!("unseal {n} values sealed to a 4096-bit key (median of 3)");
    println!("  raw RSA-OAEP decrypt, aws-lc-rs, 1 core: {:8.1} ms", raw * 1000.0);
    println!("  kunseal unseal, 1 core:                  {:8.1} ms   ratio {:.2}x of raw   target <= 1.5x", one * 1000.0, one / raw);
    println!("  kunseal unseal, all cores:               {:8.1} ms   ratio {:.2}x of raw   target < 1x", all * 1000.0, all / raw);
}
