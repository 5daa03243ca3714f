//! Post-quantum age identities (`AGE-SECRET-KEY-PQ-1…`, recipients `age1pq1…`): the hybrid
//! ML-KEM-768 + X25519 recipient type `mlkem768x25519` of age v1.3 (c2sp.org/age), which
//! sops ≥ 3.11 reads and writes. The age crate (0.12) has no such identity yet, so this file
//! is one, on the crate's public [`age::Identity`] trait:
//!
//! - the identity is a 32-byte X-Wing (MLKEM768-X25519, HPKE KEM 0x647a) decapsulation seed,
//!   Bech32 with the `AGE-SECRET-KEY-PQ-` prefix;
//! - a stanza is `-> mlkem768x25519 <base64 of the 1120-byte encapsulated key>` with the
//!   wrapped 16-byte file key (and its tag) as body: HPKE base mode, HKDF-SHA256,
//!   ChaCha20-Poly1305, info `age-encryption.org/mlkem768x25519`, empty associated data.
//!
//! Nothing here is new cryptography, only the composition the specs fix, over crates the
//! age crate already brings (so the lock holds one ML-KEM): ML-KEM-768 (`ml-kem` 0.2,
//! FIPS 203), X25519 (`x25519-dalek`), SHAKE256/SHA3-256 (`sha3`), HKDF-SHA256 (`hkdf`) and
//! ChaCha20-Poly1305 — X-Wing as in draft-connolly-cfrg-xwing-kem, HPKE's key schedule as in
//! RFC 9180 §5.1 (base mode; the KEM's shared secret is used as is, per draft-ietf-hpke-pq).
//! (The `hpke` crate's own X-Wing needs `kem` 0.3, which cannot share a lock with the
//! `ml-kem` 0.2 that age depends on.) Proven against the real sops 3.11 both ways and the
//! fixture from fluxcd (`../shared/fixtures/age-pq`).

use age::DecryptError;
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use ml_kem::kem::Decapsulate;
use ml_kem::{EncodedSizeUser, KemCore, MlKem768};
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::Digest;
use zeroize::Zeroizing;

const TAG: &str = "mlkem768x25519";
const INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
const HRP: &str = "age-secret-key-pq-";
pub const PREFIX: &str = "AGE-SECRET-KEY-PQ-1";

/// X-Wing's domain separator, `\.//^\`.
const XWING_LABEL: &[u8] = b"\\.//^\\";
/// HPKE suite: KEM X-Wing (0x647a), KDF HKDF-SHA256 (1), AEAD ChaCha20-Poly1305 (3).
const SUITE_ID: &[u8] = b"HPKE\x64\x7a\x00\x01\x00\x03";
const CT_MLKEM: usize = 1088;
const CT_LEN: usize = CT_MLKEM + 32;

/// An expanded X-Wing decapsulation key.
struct XWingKey {
    dk: <MlKem768 as KemCore>::DecapsulationKey,
    ek: <MlKem768 as KemCore>::EncapsulationKey,
    sk_x: x25519_dalek::StaticSecret,
    pk_x: x25519_dalek::PublicKey,
}

impl XWingKey {
    /// draft-connolly-cfrg-xwing-kem: SHAKE256(seed, 96) = d ‖ z ‖ X25519 secret.
    fn expand(seed: &[u8; 32]) -> XWingKey {
        let mut x = sha3::Shake256::default();
        x.update(seed);
        let mut out = Zeroizing::new([0u8; 96]);
        x.finalize_xof().read(&mut out[..]);
        let d = ml_kem::B32::try_from(&out[0..32]).expect("32 bytes");
        let z = ml_kem::B32::try_from(&out[32..64]).expect("32 bytes");
        let (dk, ek) = MlKem768::generate_deterministic(&d, &z);
        let sk: [u8; 32] = out[64..96].try_into().expect("32 bytes");
        let sk_x = x25519_dalek::StaticSecret::from(sk);
        let pk_x = x25519_dalek::PublicKey::from(&sk_x);
        XWingKey { dk, ek, sk_x, pk_x }
    }

    /// The 1216-byte encapsulation key: ML-KEM's ‖ X25519's.
    fn public(&self) -> Vec<u8> {
        let mut pk = self.ek.as_bytes().to_vec();
        pk.extend_from_slice(self.pk_x.as_bytes());
        pk
    }

    /// X-Wing decapsulation: SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ label).
    fn decapsulate(&self, ct: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let (ct_m, ct_x) = ct.split_at(CT_MLKEM);
        let ct_m = ml_kem::Ciphertext::<MlKem768>::try_from(ct_m).ok()?;
        let ss_m: Zeroizing<[u8; 32]> = Zeroizing::new(self.dk.decapsulate(&ct_m).ok()?.into());
        let ct_x: [u8; 32] = ct_x.try_into().ok()?;
        let ss_x = self.sk_x.diffie_hellman(&x25519_dalek::PublicKey::from(ct_x));
        let mut h = sha3::Sha3_256::new();
        Digest::update(&mut h, &ss_m[..]);
        Digest::update(&mut h, ss_x.as_bytes());
        Digest::update(&mut h, ct_x);
        Digest::update(&mut h, self.pk_x.as_bytes());
        Digest::update(&mut h, XWING_LABEL);
        Some(Zeroizing::new(h.finalize().into()))
    }
}

fn labeled_extract(salt: &[u8], label: &[u8], ikm: &[u8]) -> hkdf::Hkdf<sha2::Sha256> {
    let ikm: Vec<u8> = [b"HPKE-v1".as_slice(), SUITE_ID, label, ikm].concat();
    hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), &ikm)
}

fn labeled_extract_bytes(salt: &[u8], label: &[u8], ikm: &[u8]) -> Vec<u8> {
    let ikm: Vec<u8> = [b"HPKE-v1".as_slice(), SUITE_ID, label, ikm].concat();
    hkdf::Hkdf::<sha2::Sha256>::extract(Some(salt), &ikm).0.to_vec()
}

fn labeled_expand(prk: &hkdf::Hkdf<sha2::Sha256>, label: &[u8], context: &[u8], out: &mut [u8]) {
    let len = (out.len() as u16).to_be_bytes();
    let info: Vec<u8> = [len.as_slice(), b"HPKE-v1", SUITE_ID, label, context].concat();
    prk.expand(&info, out).expect("short output");
}

/// RFC 9180 base mode, single-shot open of the first message.
fn hpke_open(shared_secret: &[u8; 32], info: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let psk_id_hash = labeled_extract_bytes(b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract_bytes(b"", b"info_hash", info);
    let context: Vec<u8> = [&[0u8][..], &psk_id_hash, &info_hash].concat();
    let secret = labeled_extract(shared_secret, b"secret", b"");
    let mut key = Zeroizing::new([0u8; 32]);
    let mut nonce = [0u8; 12];
    labeled_expand(&secret, b"key", &context, &mut key[..]);
    labeled_expand(&secret, b"base_nonce", &context, &mut nonce);
    let aead = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key[..]));
    aead.decrypt(chacha20poly1305::Nonce::from_slice(&nonce), Payload { msg: ciphertext, aad: b"" }).ok().map(Zeroizing::new)
}

/// Bech32 (BIP 173) without its 90/1023-character limit, as the age spec asks.
enum Bech32Unbounded {}

impl bech32::Checksum for Bech32Unbounded {
    type MidstateRepr = <bech32::Bech32 as bech32::Checksum>::MidstateRepr;
    const CODE_LENGTH: usize = usize::MAX / 8;
    const CHECKSUM_LENGTH: usize = <bech32::Bech32 as bech32::Checksum>::CHECKSUM_LENGTH;
    const GENERATOR_SH: [Self::MidstateRepr; 5] = <bech32::Bech32 as bech32::Checksum>::GENERATOR_SH;
    const TARGET_RESIDUE: Self::MidstateRepr = <bech32::Bech32 as bech32::Checksum>::TARGET_RESIDUE;
}

/// One post-quantum identity; the seed is wiped when it is dropped.
pub struct PqIdentity {
    seed: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for PqIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PqIdentity(..)")
    }
}

impl PqIdentity {
    /// Parses `AGE-SECRET-KEY-PQ-1…`; the error says what is wrong, never the key.
    pub fn parse(line: &str) -> Result<PqIdentity, &'static str> {
        let (hrp, data) = bech32::decode(line.trim()).map_err(|_| "not a valid Bech32 post-quantum age identity")?;
        if !hrp.as_str().eq_ignore_ascii_case(HRP) {
            return Err("not a post-quantum age identity");
        }
        let data = Zeroizing::new(data);
        let seed: [u8; 32] = data[..].try_into().map_err(|_| "a post-quantum age identity holds 32 bytes")?;
        Ok(PqIdentity { seed: Zeroizing::new(seed) })
    }

    /// A fresh identity (tests, and a future `kunseal encrypt`).
    pub fn generate() -> PqIdentity {
        let mut seed = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut seed[..]).expect("system randomness");
        PqIdentity { seed }
    }

    /// `AGE-SECRET-KEY-PQ-1…`, as age writes it.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let hrp = bech32::Hrp::parse(HRP).expect("valid prefix");
        Zeroizing::new(bech32::encode_upper::<bech32::Bech32>(hrp, &self.seed[..]).expect("32 bytes fit"))
    }

    /// The recipient `age1pq1…`: Bech32 of the 1216-byte encapsulation key, without
    /// Bech32's length limit (as age encodes it).
    pub fn recipient(&self) -> Option<String> {
        let hrp = bech32::Hrp::parse("age1pq").expect("valid prefix");
        bech32::encode_lower::<Bech32Unbounded>(hrp, &XWingKey::expand(&self.seed).public()).ok()
    }
}

impl age::Identity for PqIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != TAG {
            return None;
        }
        let [arg] = stanza.args.as_slice() else { return Some(Err(DecryptError::InvalidHeader)) };
        let Ok(enc) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(arg) else { return Some(Err(DecryptError::InvalidHeader)) };
        if enc.len() != CT_LEN || stanza.body.len() != 32 {
            return Some(Err(DecryptError::InvalidHeader));
        }
        // A stanza that does not open with this key belongs to another recipient.
        let shared = XWingKey::expand(&self.seed).decapsulate(&enc)?;
        let plain = hpke_open(&shared, INFO, &stanza.body)?;
        let key: [u8; 16] = plain[..].try_into().ok()?;
        Some(Ok(FileKey::new(Box::new(key))))
    }
}

/// Splits an identity list into post-quantum identities and the remaining text (for the age
/// crate's parser, which does not know them).
pub fn split_identities(text: &str) -> (Vec<Result<PqIdentity, &'static str>>, String) {
    let mut pq = Vec::new();
    let mut rest = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim_start().starts_with(PREFIX) {
            pq.push(PqIdentity::parse(line));
        } else {
            rest.push_str(line);
            rest.push('\n');
        }
    }
    (pq, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_pq_identities() {
        assert!(PqIdentity::parse("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ2E0VUZ").is_err());
        assert!(PqIdentity::parse("AGE-SECRET-KEY-PQ-1NOTBECH32").is_err());
        let (pq, rest) = split_identities("# c\nAGE-SECRET-KEY-PQ-1XXXX\nAGE-SECRET-KEY-1ABC\n");
        assert_eq!(pq.len(), 1);
        assert_eq!(rest, "# c\nAGE-SECRET-KEY-1ABC\n");
    }

    #[test]
    fn other_stanzas_are_not_ours() {
        let id = PqIdentity { seed: Zeroizing::new([7u8; 32]) };
        let s = Stanza { tag: "X25519".into(), args: vec!["x".into()], body: vec![0; 32] };
        assert!(age::Identity::unwrap_stanza(&id, &s).is_none());
        let s = Stanza { tag: TAG.into(), args: vec![], body: vec![0; 32] };
        assert!(matches!(age::Identity::unwrap_stanza(&id, &s), Some(Err(DecryptError::InvalidHeader))));
        assert_eq!(format!("{id:?}"), "PqIdentity(..)");
    }

    #[test]
    fn identity_and_recipient_strings() {
        let id = PqIdentity::generate();
        let secret = id.to_secret_string();
        assert!(secret.starts_with(PREFIX));
        assert_eq!(PqIdentity::parse(&secret).unwrap().seed, id.seed);
        let r = id.recipient().unwrap();
        assert!(r.starts_with("age1pq1") && r.len() > 1900, "{}", r.len());
    }
}
