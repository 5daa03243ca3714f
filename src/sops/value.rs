//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` values: parse, decrypt, encrypt.
//!
//! Spec: `aes/cipher.go` in getsops/sops, summarised in `../shared/docs/SOPS-FORMAT.md` §1.
//! AES-256-GCM with the IV length the value carries (sops writes 32 bytes), AAD = the
//! value's path joined with ':' plus a trailing ':'.

use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit, OsRng};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use zeroize::Zeroizing;

use crate::gofmt;
use crate::tree::Value;

/// What can go wrong with one value. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("value does not match sops' ENC[AES256_GCM,...] format")]
    Format,
    #[error("invalid base64 in the {0} field of the ENC value")]
    Base64(&'static str),
    #[error("unsupported IV length {0} (sops writes 32 bytes)")]
    IvLength(usize),
    #[error("authentication failed (wrong data key, or the value was moved or tampered with)")]
    Auth,
    #[error("unknown datatype {0:?}")]
    UnknownType(String),
    #[error("decrypted {0} value does not parse as its type")]
    BadPlaintext(&'static str),
}

/// A parsed, still encrypted value.
pub struct EncValue {
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: [u8; 16],
    pub ty: String,
}

/// sops' regex is `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` (not anchored
/// at the end); base64 holds no ',' so splitting on the field names is equivalent.
pub fn parse(s: &str) -> Result<EncValue, ValueError> {
    let rest = s.strip_prefix("ENC[AES256_GCM,data:").ok_or(ValueError::Format)?;
    let mut fields = rest.splitn(4, ',');
    let data = fields.next().ok_or(ValueError::Format)?;
    let iv = fields.next().and_then(|f| f.strip_prefix("iv:")).ok_or(ValueError::Format)?;
    let tag = fields.next().and_then(|f| f.strip_prefix("tag:")).ok_or(ValueError::Format)?;
    let rest = fields.next().and_then(|f| f.strip_prefix("type:")).ok_or(ValueError::Format)?;
    let close = rest.rfind(']').ok_or(ValueError::Format)?;
    let ty = &rest[..close];
    if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() || ty.contains('\n') {
        return Err(ValueError::Format);
    }
    let data = B64.decode(data).map_err(|_| ValueError::Base64("data"))?;
    let iv = B64.decode(iv).map_err(|_| ValueError::Base64("iv"))?;
    let tag: [u8; 16] = B64
        .decode(tag)
        .map_err(|_| ValueError::Base64("tag"))?
        .try_into()
        .map_err(|_| ValueError::Auth)?;
    Ok(EncValue { data, iv, tag, ty: ty.to_string() })
}

/// The data key, ready for many values. Cheap to share across threads.
pub struct DataCipher {
    key: Zeroizing<[u8; 32]>,
    gcm32: AesGcm<Aes256, U32>,
}

impl DataCipher {
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        let gcm32 = AesGcm::<Aes256, U32>::new(GenericArray::from_slice(&key[..]));
        DataCipher { key, gcm32 }
    }

    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    fn open(&self, v: &mut EncValue, aad: &[u8]) -> Result<(), ValueError> {
        let tag = GenericArray::from_slice(&v.tag);
        let r = match v.iv.len() {
            32 => self.gcm32.decrypt_in_place_detached(GenericArray::from_slice(&v.iv), aad, &mut v.data, tag),
            12 => AesGcm::<Aes256, U12>::new(GenericArray::from_slice(&self.key[..]))
                .decrypt_in_place_detached(GenericArray::from_slice(&v.iv), aad, &mut v.data, tag),
            16 => AesGcm::<Aes256, U16>::new(GenericArray::from_slice(&self.key[..]))
                .decrypt_in_place_detached(GenericArray::from_slice(&v.iv), aad, &mut v.data, tag),
            n => return Err(ValueError::IvLength(n)),
        };
        r.map_err(|_| ValueError::Auth)
    }

    /// Decrypts one value into its typed plaintext. An empty string is sops' encryption of
    /// an empty value and decrypts to itself.
    pub fn decrypt(&self, s: &str, aad: &str) -> Result<Value, ValueError> {
        if s.is_empty() {
            return Ok(Value::Str(String::new()));
        }
        let mut v = parse(s)?;
        self.open(&mut v, aad.as_bytes())?;
        let bytes = std::mem::take(&mut v.data);
        typed(&v.ty, bytes)
    }

    /// Encrypts a scalar as sops does, with a fresh 32-byte IV. Empty strings stay empty.
    pub fn encrypt(&self, v: &Value, aad: &str) -> Result<String, ValueError> {
        let ty = match v {
            Value::Bytes(_) => "str",
            other => other.type_name(),
        };
        let mut data = v.to_sops_bytes().ok_or(ValueError::Format)?;
        if data.is_empty() && matches!(v, Value::Str(_) | Value::Bytes(_) | Value::Comment(_)) {
            return Ok(String::new());
        }
        let iv: GenericArray<u8, U32> = {
            use aes_gcm::aead::AeadCore;
            AesGcm::<Aes256, U32>::generate_nonce(&mut OsRng)
        };
        let tag = self.gcm32.encrypt_in_place_detached(&iv, aad.as_bytes(), &mut data).map_err(|_| ValueError::Auth)?;
        Ok(format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            B64.encode(&data),
            B64.encode(iv),
            B64.encode(tag),
            ty
        ))
    }
}

fn utf8(bytes: Vec<u8>, ty: &'static str) -> Result<String, ValueError> {
    String::from_utf8(bytes).map_err(|_| ValueError::BadPlaintext(ty))
}

/// Plaintext bytes + type tag → typed value, as `Cipher.Decrypt` converts them.
pub fn typed(ty: &str, bytes: Vec<u8>) -> Result<Value, ValueError> {
    Ok(match ty {
        "str" => match String::from_utf8(bytes) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
        "bytes" => Value::Bytes(bytes),
        "comment" => Value::Comment(String::from_utf8_lossy(&bytes).into_owned()),
        "int" => Value::Int(utf8(bytes, "int")?.parse().map_err(|_| ValueError::BadPlaintext("int"))?),
        "float" => {
            let s = utf8(bytes, "float")?;
            Value::Float(parse_go_float(&s).ok_or(ValueError::BadPlaintext("float"))?)
        }
        "bool" => Value::Bool(match utf8(bytes, "bool")?.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(ValueError::BadPlaintext("bool")),
        }),
        "time" => {
            let s = utf8(bytes, "time")?;
            let t = gofmt::parse_yaml_timestamp(&s)
                .filter(|_| s.contains(['T', 't']))
                .ok_or(ValueError::BadPlaintext("time"))?;
            Value::Time(gofmt::format_rfc3339_nano(&t))
        }
        other => return Err(ValueError::UnknownType(other.chars().take(32).collect())),
    })
}

/// `strconv.ParseFloat(s, 64)` for the spellings sops itself writes and Go accepts.
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" | "inf" | "+inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ if s.bytes().any(|c| c.is_ascii_alphabetic() && c != b'e' && c != b'E') => None,
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> DataCipher {
        DataCipher::new(Zeroizing::new([7u8; 32]))
    }

    #[test]
    fn round_trip_every_type() {
        let c = cipher();
        for v in [
            Value::Str("hello".into()),
            Value::Int(-42),
            Value::Float(0.5),
            Value::Float(3.0),
            Value::Bool(true),
            Value::Bool(false),
            Value::Time("2024-01-01T00:00:00Z".into()),
            Value::Comment(" a comment".into()),
        ] {
            let enc = c.encrypt(&v, "a:b:").unwrap();
            assert!(enc.starts_with("ENC[AES256_GCM,data:"));
            assert_eq!(c.decrypt(&enc, "a:b:").unwrap(), v);
            assert_eq!(c.decrypt(&enc, "a:c:"), Err(ValueError::Auth));
        }
        assert_eq!(c.encrypt(&Value::Str(String::new()), "a:").unwrap(), "");
        assert_eq!(c.decrypt("", "a:").unwrap(), Value::Str(String::new()));
    }

    #[test]
    fn malformed_values_are_errors() {
        let c = cipher();
        for s in ["plain", "ENC[AES256_GCM,data:,iv:,tag:,type:str]", "ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]", "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str"] {
            assert!(c.decrypt(s, "x:").is_err(), "{s}");
        }
        let enc = c.encrypt(&Value::Str("x".into()), "k:").unwrap().replace("type:str", "type:weird");
        assert!(matches!(c.decrypt(&enc, "k:"), Err(ValueError::UnknownType(_))));
    }
}
