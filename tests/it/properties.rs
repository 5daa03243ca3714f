//! Properties over random trees (no external tools): encrypt∘decrypt is the identity, the
//! MAC is stable under re-encryption, and no input — random bytes, truncations or mutations
//! of real encrypted files — makes kunseal panic.

use kunseal::keys::{age::AgeBackend, age::Sources, Keyring};
use kunseal::sops::metadata::Metadata;
use kunseal::sops::stores::{self, Format};
use kunseal::sops::value::DataCipher;
use kunseal::sops::{decrypt_branches, decrypt_bytes, encrypt_branches, DecryptOptions};
use kunseal::testgen::{tree, Rng};
use kunseal::tree::{Item, Value};
use proptest::prelude::*;
use zeroize::Zeroizing;

fn keyring(identity: &str) -> Keyring {
    let sources = Sources { inline: Some(identity.to_string()), ..Sources::default() };
    Keyring::new(vec![Box::new(AgeBackend::new(sources))], vec!["age".into()])
}

/// Encrypts `branches` to a fresh age key as sops would and returns the file's metadata.
fn encrypt(branches: &mut [Vec<Item>], rules_json: serde_json::Value, mac_only: bool) -> (Metadata, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let data_key = [42u8; 32];
    let enc = kunseal::keys::age::encrypt_armored(&id.to_public().to_string(), &data_key).unwrap();
    let mut md_json = serde_json::json!({
        "age": [{"recipient": id.to_public().to_string(), "enc": enc}],
        "lastmodified": "2026-11-23T10:00:00Z",
        "mac": "",
        "mac_only_encrypted": mac_only,
        "version": "3.11.0",
    });
    for (k, v) in rules_json.as_object().unwrap() {
        md_json[k] = v.clone();
    }
    let mut md = Metadata::from_json(md_json).unwrap();
    let cipher = DataCipher::new(Zeroizing::new(data_key));
    let mac = encrypt_branches(branches, &md, &cipher).unwrap();
    md.mac = cipher.encrypt(&Value::Str(mac), &md.lastmodified_aad).unwrap();
    (md, id.to_string().expose_secret().to_string())
}

fn branches_of(t: Value) -> Vec<Vec<Item>> {
    match t {
        Value::Map(items) => vec![items],
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn encrypt_then_decrypt_is_identity(seed in any::<u64>(), rule in 0usize..5, mac_only in any::<bool>()) {
        let mut r = Rng(seed | 1);
        let plain = branches_of(tree(&mut r, 0));
        let rules = [
            serde_json::json!({}),
            serde_json::json!({"encrypted_regex": "^(data|password)"}),
            serde_json::json!({"unencrypted_regex": "^name"}),
            serde_json::json!({"encrypted_suffix": "_enc"}),
            serde_json::json!({"encrypted_comment_regex": "sops:enc"}),
        ];
        let mut enc = plain.clone();
        let (md, identity) = encrypt(&mut enc, rules[rule].clone(), mac_only);
        let out = decrypt_branches(enc.clone(), md.clone(), &keyring(&identity), DecryptOptions::default()).unwrap();
        prop_assert_eq!(&out.branches, &plain);
        // Re-encrypting gives new IVs but the same MAC.
        let mut again = plain.clone();
        let cipher = DataCipher::new(Zeroizing::new([42u8; 32]));
        let mac1 = encrypt_branches(&mut again, &md, &cipher).unwrap();
        let mac2 = encrypt_branches(&mut plain.clone(), &md, &cipher).unwrap();
        prop_assert_eq!(mac1, mac2);
    }

    #[test]
    fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), fmt in 0usize..5) {
        let fmt = [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini, Format::Binary][fmt];
        let _ = decrypt_bytes(&bytes, fmt, &keyring("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQSQUQ8X"), DecryptOptions::default());
    }
}

#[test]
fn truncations_and_mutations_of_a_real_file_fail_cleanly() {
    let mut r = Rng(7);
    let mut plain = branches_of(tree(&mut r, 0));
    plain[0].push(Item::Entry("password".into(), Value::Str("mutation-secret".into())));
    let mut enc = plain.clone();
    let (md, identity) = encrypt(&mut enc, serde_json::json!({}), false);
    let mut doc = enc[0].clone();
    doc.push(Item::Entry("sops".into(), kunseal::yaml::parse_documents(&metadata_yaml(&md), Default::default()).unwrap().remove(0).root));
    let text = stores::emit(Format::Yaml, &[doc]).unwrap();
    let kr = keyring(&identity);
    assert!(decrypt_bytes(&text, Format::Yaml, &kr, DecryptOptions::default()).is_ok());
    for cut in (0..text.len()).step_by(7) {
        let _ = decrypt_bytes(&text[..cut], Format::Yaml, &kr, DecryptOptions::default());
    }
    for i in (0..text.len()).step_by(3) {
        let mut m = text.clone();
        m[i] = m[i].wrapping_add(1 + (i % 5) as u8);
        if let Ok(out) = decrypt_bytes(&m, Format::Yaml, &kr, DecryptOptions::default()) {
            // A mutation that still decrypts may only touch comments, whitespace or metadata.
            let _ = out;
        }
    }
}

fn metadata_yaml(md: &Metadata) -> String {
    let kunseal::sops::metadata::MasterKey::Age { recipient, enc } = &md.key_groups[0][0] else { unreachable!() };
    format!(
        "age:\n    - recipient: {recipient}\n      enc: |\n{}\nlastmodified: \"{}\"\nmac: {}\nunencrypted_suffix: _unencrypted\nversion: 3.11.0\n",
        enc.lines().map(|l| format!("        {l}")).collect::<Vec<_>>().join("\n"),
        md.lastmodified,
        md.mac
    )
}
