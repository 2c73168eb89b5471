//! Decoding the validator JSON that Convex exports (`Validator.json`).
//!
//! Shapes, as convex 1.48 writes them (`values/validators.js`):
//! `{"type": "string" | "number" | "bigint" | "boolean" | "null" | "bytes" |
//! "any" | "commitTs"}`, `{"type": "id", "tableName"}`, `{"type": "literal",
//! "value": <convexToJson value>}`, `{"type": "array", "value": V}`,
//! `{"type": "object", "value": {name: {"fieldType": V, "optional": bool}}}`,
//! `{"type": "record", "keys": V, "values": {"fieldType": V, "optional":
//! false}}` and `{"type": "union", "value": [V, ...]}`. The aliases `float64`
//! and `int64` are accepted too. Every refusal names the place in the JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::value::decode_eight;
use super::{Field, Literal, Validator};
use crate::EngineError;

/// Deepest validator nesting accepted; deeper input is refused, not recursed
/// into, so hostile input cannot exhaust the stack.
pub(crate) const MAX_VALIDATOR_DEPTH: usize = 64;

/// Decode one exported validator, e.g. a table's `documentType`.
///
/// `path` names where `json` sits in the larger document and prefixes every
/// error (pass `""` for a standalone validator).
pub fn parse_validator(json: &Value, path: &str) -> Result<Validator, EngineError> {
    decode(json, path, 0)
}

pub(crate) fn invalid(path: &str, reason: impl Into<String>) -> EngineError {
    EngineError::InvalidSchema {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.to_string()
        },
        reason: reason.into(),
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(crate) fn as_object<'a>(
    json: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, EngineError> {
    json.as_object()
        .ok_or_else(|| invalid(path, format!("expected an object, found {}", kind_of(json))))
}

pub(crate) fn require<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Value, EngineError> {
    map.get(key)
        .ok_or_else(|| invalid(path, format!("missing \"{key}\"")))
}

pub(crate) fn require_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, EngineError> {
    let value = require(map, key, path)?;
    value.as_str().ok_or_else(|| {
        invalid(
            &join(path, key),
            format!("expected a string, found {}", kind_of(value)),
        )
    })
}

/// The JSON kind of a value, for error messages.
pub(crate) fn kind_of(json: &Value) -> &'static str {
    match json {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn decode(json: &Value, path: &str, depth: usize) -> Result<Validator, EngineError> {
    if depth > MAX_VALIDATOR_DEPTH {
        return Err(invalid(
            path,
            format!("validators nest deeper than {MAX_VALIDATOR_DEPTH} levels"),
        ));
    }
    let map = as_object(json, path)?;
    let kind = require_str(map, "type", path)?;
    let next = depth.saturating_add(1);
    Ok(match kind {
        "string" => Validator::String,
        "number" | "float64" => Validator::Number,
        "bigint" | "int64" => Validator::Int64,
        "commitTs" => Validator::CommitTs,
        "boolean" => Validator::Boolean,
        "null" => Validator::Null,
        "bytes" => Validator::Bytes,
        "any" => Validator::Any,
        "id" => Validator::Id {
            table: require_str(map, "tableName", path)?.to_string(),
        },
        "literal" => Validator::Literal(decode_literal(
            require(map, "value", path)?,
            &join(path, "value"),
        )?),
        "array" => {
            let element = decode(require(map, "value", path)?, &join(path, "value"), next)?;
            Validator::Array(Box::new(element))
        }
        "object" => {
            let value_path = join(path, "value");
            let entries = as_object(require(map, "value", path)?, &value_path)?;
            let mut fields = BTreeMap::new();
            for (name, entry) in entries {
                let field_path = join(&value_path, name);
                fields.insert(name.clone(), decode_field(entry, &field_path, next)?);
            }
            Validator::Object(fields)
        }
        "record" => {
            let keys = decode(require(map, "keys", path)?, &join(path, "keys"), next)?;
            // Record values always export `optional: false`; a present value
            // must pass either way, so the flag is read and not used.
            let values = decode_field(require(map, "values", path)?, &join(path, "values"), next)?;
            Validator::Record {
                keys: Box::new(keys),
                values: Box::new(values.validator),
            }
        }
        "union" => {
            let members_path = join(path, "value");
            let members = require(map, "value", path)?
                .as_array()
                .ok_or_else(|| invalid(&members_path, "expected an array of validators"))?;
            let mut out = Vec::with_capacity(members.len());
            for (i, member) in members.iter().enumerate() {
                out.push(decode(member, &format!("{members_path}[{i}]"), next)?);
            }
            Validator::Union(out)
        }
        "set" | "map" => {
            return Err(invalid(
                path,
                format!("{kind} validators are no longer supported by Convex"),
            ));
        }
        other => return Err(invalid(path, format!("unknown validator type \"{other}\""))),
    })
}

fn decode_field(json: &Value, path: &str, depth: usize) -> Result<Field, EngineError> {
    let map = as_object(json, path)?;
    let validator = decode(
        require(map, "fieldType", path)?,
        &join(path, "fieldType"),
        depth,
    )?;
    let optional = match map.get("optional") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                &join(path, "optional"),
                format!("expected a boolean, found {}", kind_of(other)),
            ))
        }
    };
    Ok(Field {
        validator,
        optional,
    })
}

fn decode_literal(json: &Value, path: &str) -> Result<Literal, EngineError> {
    match json {
        Value::String(s) => Ok(Literal::String(s.clone())),
        Value::Bool(b) => Ok(Literal::Boolean(*b)),
        Value::Number(n) => n
            .as_f64()
            .map(Literal::Number)
            .ok_or_else(|| invalid(path, "number literal is not a float64")),
        Value::Object(map) if map.len() == 1 => {
            if let Some(encoded) = map.get("$integer") {
                let bytes = encoded.as_str().and_then(decode_eight);
                bytes
                    .map(|b| Literal::Int64(i64::from_le_bytes(b)))
                    .ok_or_else(|| invalid(path, "$integer must be 8 bytes of base64"))
            } else if let Some(encoded) = map.get("$float") {
                let bytes = encoded.as_str().and_then(decode_eight);
                bytes
                    .map(|b| Literal::Number(f64::from_le_bytes(b)))
                    .ok_or_else(|| invalid(path, "$float must be 8 bytes of base64"))
            } else {
                Err(invalid(
                    path,
                    "a literal must be a string, number, boolean or bigint",
                ))
            }
        }
        other => Err(invalid(
            path,
            format!(
                "a literal must be a string, number, boolean or bigint, found {}",
                kind_of(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err_of(json: Value) -> (String, String) {
        match parse_validator(&json, "documentType") {
            Err(EngineError::InvalidSchema { path, reason }) => (path, reason),
            other => panic!("expected InvalidSchema, got {other:?}"),
        }
    }

    #[test]
    fn decode_reads_every_kind() {
        let v = parse_validator(
            &json!({"type": "object", "value": {
                "a": {"fieldType": {"type": "union", "value": [
                    {"type": "literal", "value": {"$integer": "BwAAAAAAAAA="}},
                    {"type": "literal", "value": 3},
                    {"type": "literal", "value": true},
                    {"type": "null"}]}, "optional": true},
                "b": {"fieldType": {"type": "record", "keys": {"type": "id", "tableName": "t"},
                       "values": {"fieldType": {"type": "array", "value": {"type": "bytes"}}, "optional": false}},
                      "optional": false}
            }}),
            "",
        )
        .unwrap();
        let Validator::Object(fields) = v else {
            panic!()
        };
        assert!(fields["a"].optional);
        assert_eq!(
            fields["a"].validator,
            Validator::Union(vec![
                Validator::Literal(Literal::Int64(7)),
                Validator::Literal(Literal::Number(3.0)),
                Validator::Literal(Literal::Boolean(true)),
                Validator::Null,
            ])
        );
        assert_eq!(
            fields["b"].validator,
            Validator::Record {
                keys: Box::new(Validator::Id { table: "t".into() }),
                values: Box::new(Validator::Array(Box::new(Validator::Bytes))),
            }
        );
    }

    #[test]
    fn decode_names_the_place_of_a_malformed_field() {
        let (path, reason) =
            err_of(json!({"type": "object", "value": {"city": {"fieldType": {"type": "strng"}}}}));
        assert_eq!(path, "documentType.value.city.fieldType");
        assert!(reason.contains("strng"), "{reason}");
        let (path, _) = err_of(json!({"type": "union", "value": [{"type": "null"}, 3]}));
        assert_eq!(path, "documentType.value[1]");
        let (path, _) = err_of(json!({"type": "id"}));
        assert_eq!(path, "documentType");
        let (path, _) = err_of(json!({"type": "literal", "value": [1]}));
        assert_eq!(path, "documentType.value");
    }

    #[test]
    fn decode_refuses_nesting_past_the_limit() {
        let mut json = json!({"type": "string"});
        for _ in 0..(MAX_VALIDATOR_DEPTH + 5) {
            json = json!({"type": "array", "value": json});
        }
        let (_, reason) = err_of(json);
        assert!(reason.contains("deeper"), "{reason}");
    }

    #[test]
    fn decode_accepts_int64_and_float64_aliases() {
        assert_eq!(
            parse_validator(&json!({"type": "int64"}), "").unwrap(),
            Validator::Int64
        );
        assert_eq!(
            parse_validator(&json!({"type": "float64"}), "").unwrap(),
            Validator::Number
        );
    }
}
