//! A JavaScript value as the Wasm boundary hands it to serde.
//!
//! `serde_json` can only produce finite numbers, but a Convex function can
//! pass `NaN`, `Infinity` or `-0` to the engine. [`Val`] holds any of them and
//! decodes the way `serde_wasm_bindgen::from_value` does: null means unit or
//! `None`, a safe integer is visited as `i64`, any other number as `f64`, a
//! string names a unit enum variant.

use serde::de::value::{Error, MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// Largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JSON-like tree whose numbers are any `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `null` or `undefined`.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any JavaScript number, `NaN` and the infinities included.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Val>),
    /// A plain object, keys in insertion order (duplicates allowed, as in
    /// hostile JSON).
    Obj(Vec<(String, Val)>),
}

impl Val {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Val {
        Val::Str(s.into())
    }

    /// An object from `(key, value)` pairs.
    pub fn obj(fields: Vec<(&str, Val)>) -> Val {
        Val::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// Decodes the value as the boundary would.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(self.clone())
    }

    /// The value converted from `serde_json`.
    pub fn from_json(json: &serde_json::Value) -> Val {
        match json {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Val::Str(s.clone()),
            serde_json::Value::Array(items) => Val::Arr(items.iter().map(Val::from_json).collect()),
            serde_json::Value::Object(map) => Val::Obj(
                map.iter()
                    .map(|(k, v)| (k.clone(), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// JSON text for the value. JSON has no `NaN` or infinities: `NaN`
    /// becomes `null` and the infinities overflow (`1e999`), which a JSON
    /// decoder must refuse cleanly.
    pub fn to_json_text(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Val::Null => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Num(n) if n.is_nan() => out.push_str("null"),
            Val::Num(n) if n.is_infinite() => {
                out.push_str(if *n > 0.0 { "1e999" } else { "-1e999" })
            }
            // Whole numbers print as JSON.stringify prints them ("33", not
            // "33.0"), so integer fields decode from this text.
            Val::Num(n) if *n == 0.0 => out.push('0'),
            Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e21 => out.push_str(&format!("{n:.0}")),
            Val::Num(n) => out.push_str(
                &serde_json::Number::from_f64(*n)
                    .map_or_else(|| "null".to_string(), |number| number.to_string()),
            ),
            Val::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            Val::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Val::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

fn visit_number<'de, V: Visitor<'de>>(n: f64, visitor: V) -> Result<V::Value, Error> {
    // Number.isSafeInteger: a whole number of at most 2^53 - 1 in size
    // (so -0 counts, and is visited as 0, exactly as serde_wasm_bindgen does).
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        visitor.visit_i64(n as i64)
    } else {
        visitor.visit_f64(n)
    }
}

impl<'de> de::Deserializer<'de> for Val {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Val::Null => visitor.visit_unit(),
            Val::Bool(b) => visitor.visit_bool(b),
            Val::Num(n) => visit_number(n, visitor),
            Val::Str(s) => visitor.visit_string(s),
            Val::Arr(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Val::Obj(fields) => {
                let mut map = MapDeserializer::new(fields.into_iter());
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Val::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Val::Str(s) => visitor.visit_enum(s.into_deserializer()),
            Val::Obj(fields) => visitor.visit_enum(MapAccessDeserializer::new(
                MapDeserializer::new(fields.into_iter()),
            )),
            other => Err(de::Error::custom(format!(
                "expected a string or an object for an enum, found {other:?}"
            ))),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for Val {
    type Deserializer = Val;

    fn into_deserializer(self) -> Val {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_the_boundary() {
        let v = Val::obj(vec![("lo", Val::Num(f64::NAN)), ("hi", Val::Null)]);
        let range: engine::ranges::KeyRange = v.decode().unwrap();
        assert!(range.lo.unwrap().is_nan());
        assert_eq!(range.hi, None);
        let status: engine::machine::WorkerStatus = Val::str("inProgress").decode().unwrap();
        assert_eq!(status, engine::machine::WorkerStatus::InProgress);
        assert!(Val::Num(2.5).decode::<u32>().is_err());
        assert_eq!(Val::Num(-0.0).decode::<u32>().unwrap(), 0);
    }
}
