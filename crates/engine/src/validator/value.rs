//! Reading document values in Convex's JSON encoding (`convexToJson`).
//!
//! Plain JSON covers strings, booleans, null, arrays, objects and finite
//! numbers. Three single-key objects carry the rest: `{"$integer": b64}` is an
//! int64 (8 bytes, little-endian), `{"$float": b64}` a special float (NaN,
//! ±Infinity, -0; 8 bytes, little-endian) and `{"$bytes": b64}` an
//! `ArrayBuffer`. Base64 follows Convex's decoder: length a multiple of four,
//! `=` padding, and the URL-safe `-` and `_` accepted beside `+` and `/`.

use serde_json::{Map, Value};

/// What a document value is, once the `$`-encodings are unpacked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found<'a> {
    Null,
    Number(f64),
    Int64(i64),
    Boolean(bool),
    String(&'a str),
    Bytes(usize),
    Array(&'a [Value]),
    Object(&'a Map<String, Value>),
    /// A `$`-encoded object whose payload cannot be decoded.
    Malformed(&'static str),
}

/// Unpack one value. Never fails: a broken encoding becomes [`Found::Malformed`],
/// which no validator but `v.any()` accepts.
pub(crate) fn classify(value: &Value) -> Found<'_> {
    match value {
        Value::Null => Found::Null,
        Value::Bool(b) => Found::Boolean(*b),
        Value::Number(n) => match n.as_f64() {
            Some(f) => Found::Number(f),
            None => Found::Malformed("number that is not a float64"),
        },
        Value::String(s) => Found::String(s),
        Value::Array(items) => Found::Array(items),
        Value::Object(map) => classify_object(map),
    }
}

fn classify_object(map: &Map<String, Value>) -> Found<'_> {
    if map.len() != 1 {
        return Found::Object(map);
    }
    let Some((key, payload)) = map.iter().next() else {
        return Found::Object(map);
    };
    match key.as_str() {
        "$integer" => match payload.as_str().and_then(decode_eight) {
            Some(bytes) => Found::Int64(i64::from_le_bytes(bytes)),
            None => Found::Malformed("$integer that is not 8 bytes of base64"),
        },
        "$float" => match payload.as_str().and_then(decode_eight) {
            Some(bytes) => Found::Number(f64::from_le_bytes(bytes)),
            None => Found::Malformed("$float that is not 8 bytes of base64"),
        },
        "$bytes" => match payload.as_str().and_then(decode_base64) {
            Some(bytes) => Found::Bytes(bytes.len()),
            None => Found::Malformed("$bytes that is not base64"),
        },
        _ => Found::Object(map),
    }
}

/// Decode base64 that must hold exactly eight bytes.
pub(crate) fn decode_eight(text: &str) -> Option<[u8; 8]> {
    let bytes = decode_base64(text)?;
    <[u8; 8]>::try_from(bytes.as_slice()).ok()
}

/// Decode base64 the way Convex's `toByteArray` does, but refusing input it
/// would silently mangle (stray characters, padding in the middle).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let input = text.as_bytes();
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let body = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &c in body {
        acc = (acc << 6) | u32::from(sextet(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn int64_decodes_little_endian_eight_bytes() {
        // 7n as convexToJson writes it.
        assert_eq!(
            classify(&json!({"$integer": "BwAAAAAAAAA="})),
            Found::Int64(7)
        );
        // -1n is all ones.
        assert_eq!(
            classify(&json!({"$integer": "//////////8="})),
            Found::Int64(-1)
        );
        assert_eq!(
            classify(&json!({"$integer": "__________8="})),
            Found::Int64(-1)
        );
    }

    #[test]
    fn int64_with_wrong_length_is_malformed() {
        assert!(matches!(
            classify(&json!({"$integer": "BwAA"})),
            Found::Malformed(_)
        ));
        assert!(matches!(
            classify(&json!({"$integer": 7})),
            Found::Malformed(_)
        ));
        assert!(matches!(
            classify(&json!({"$integer": "BwAAAAAAAAA"})),
            Found::Malformed(_)
        ));
    }

    #[test]
    fn special_floats_decode_to_numbers() {
        // NaN as convexToJson writes it: 0x7ff8000000000000 little-endian.
        match classify(&json!({"$float": "AAAAAAAA+H8="})) {
            Found::Number(f) => assert!(f.is_nan()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify(&json!({"$float": "AAAAAAAA8H8="})),
            Found::Number(f64::INFINITY)
        );
    }

    #[test]
    fn bytes_count_their_length() {
        assert_eq!(classify(&json!({"$bytes": "AQID"})), Found::Bytes(3));
        assert_eq!(classify(&json!({"$bytes": "AQ=="})), Found::Bytes(1));
        assert_eq!(classify(&json!({"$bytes": ""})), Found::Bytes(0));
        assert!(matches!(
            classify(&json!({"$bytes": "A=QI"})),
            Found::Malformed(_)
        ));
    }

    #[test]
    fn other_objects_stay_objects() {
        assert!(matches!(classify(&json!({"a": 1})), Found::Object(_)));
        assert!(matches!(
            classify(&json!({"$integer": "x", "b": 1})),
            Found::Object(_)
        ));
    }
}
