//! Binary store: the whole file is the `data` value of a JSON object (`BinaryStore` in
//! `stores/json/store.go`); decryption writes that value's bytes back out.

use super::StoreError;
use crate::tree::{map_get, Item, Value};

pub fn emit(branch: &[Item]) -> Result<Vec<u8>, StoreError> {
    match map_get(branch, "data") {
        Some(Value::Str(s)) => Ok(s.clone().into_bytes()),
        Some(Value::Bytes(b)) => Ok(b.clone()),
        Some(_) => Err(StoreError::Shape("binary file: 'data' is not a string".into())),
        None => Err(StoreError::Shape("binary file: no 'data' key".into())),
    }
}
