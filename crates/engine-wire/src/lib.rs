//! The engine's boundary codec.
//!
//! [`Wire`] turns an engine type into a [`WireValue`] and back. The batch-path
//! Wasm module implements [`WireValue`] for JS values; the engine's tests
//! implement it for `serde_json::Value` (feature `json`) and check, for
//! generated values of every boundary type, that the result is exactly what
//! serde gives. `#[derive(Wire)]` reads the `#[serde(...)]` attributes already
//! on a type, so the two encodings are written down once.
//!
//! Numbers cross as `f64` and are never formatted; an integer decodes only
//! from a whole, non-negative number in its type's range (and for `u64`, in
//! the range a JS number holds exactly), as serde-wasm-bindgen decodes it.

use std::fmt;

pub use wire_derive::Wire;

#[cfg(feature = "json")]
mod json;

/// A JSON-like value the codec reads and builds: objects, arrays, strings,
/// numbers, booleans and null.
pub trait WireValue: Sized {
    fn null() -> Self;
    fn bool(value: bool) -> Self;
    fn f64(value: f64) -> Self;
    /// An integer; the same number as `f64` unless the value kind tells
    /// integers apart (JSON does).
    fn uint(value: u64) -> Self {
        Self::f64(value as f64)
    }
    fn string(value: &str) -> Self;
    fn array(items: Vec<Self>) -> Self;
    fn object() -> Self;
    /// Sets `key` on an object made by [`WireValue::object`].
    fn set(&mut self, key: &str, value: Self);

    /// The value at `key` of an object; `None` when it is absent (or, for
    /// JS, `undefined`).
    fn get(&self, key: &str) -> Option<Self>;
    /// Whether this is an object that is neither null nor an array.
    fn is_object(&self) -> bool;
    /// Whether this is null (or, for JS, `undefined`).
    fn is_null(&self) -> bool;
    fn as_bool(&self) -> Option<bool>;
    fn as_f64(&self) -> Option<f64>;
    fn as_string(&self) -> Option<String>;
    fn as_array(&self) -> Option<Vec<Self>>;

    /// What kind of value this is, for an error: "a string", "null"...
    fn kind(&self) -> &'static str {
        if self.is_null() {
            "null"
        } else if self.as_bool().is_some() {
            "a boolean"
        } else if self.as_f64().is_some() {
            "a number"
        } else if self.as_string().is_some() {
            "a string"
        } else if self.as_array().is_some() {
            "an array"
        } else {
            "an object"
        }
    }
}

/// Why a value did not decode, with where in the input it sits
/// (`event.nowMs`, `workers[2].state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    message: String,
    path: String,
}

impl WireError {
    #[cold]
    #[inline(never)]
    pub fn new(message: impl Into<String>) -> Self {
        WireError {
            message: message.into(),
            path: String::new(),
        }
    }

    /// `invalid type: a string, expected a boolean`, in serde's words.
    #[cold]
    #[inline(never)]
    pub fn invalid_type<V: WireValue>(got: &V, expected: &str) -> Self {
        let mut message = String::from("invalid type: ");
        message.push_str(got.kind());
        message.push_str(", expected ");
        message.push_str(expected);
        WireError::new(message)
    }

    /// The error, found inside the field `key` of the value it is about.
    #[cold]
    #[inline(never)]
    pub fn in_field(mut self, key: &str) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, key);
        self
    }

    /// The error, found inside the item `index` of an array.
    #[cold]
    #[inline(never)]
    pub fn in_item(mut self, index: usize) -> Self {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, &format!("[{index}]"));
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the error is, `""` for the value itself.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.path.is_empty() {
            f.write_str(" at ")?;
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for WireError {}

/// A type that crosses the boundary: encodes to a [`WireValue`] and decodes
/// from one.
pub trait Wire: Sized {
    fn encode<V: WireValue>(&self) -> V;
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError>;
    /// The value of an absent field without `default`: `None` for an
    /// `Option` (as serde has it), otherwise the field is missing.
    fn absent() -> Option<Self> {
        None
    }
}

/// Refuses a value that is not an object, for a struct or a tagged enum
/// (`what` is "struct WorkerState").
pub fn expect_object<V: WireValue>(value: &V, what: &str) -> Result<(), WireError> {
    if value.is_object() {
        Ok(())
    } else {
        Err(WireError::invalid_type(value, what))
    }
}

/// The field `key` of the object `value` (of type `owner`): absent only for
/// an `Option`.
pub fn field<V: WireValue, T: Wire>(value: &V, key: &str, owner: &str) -> Result<T, WireError> {
    match value.get(key) {
        Some(item) => T::decode(&item).map_err(|e| e.in_field(key)),
        None => T::absent().ok_or_else(|| missing_field(key, owner)),
    }
}

/// The field `key` of the object `value`, its type's default when absent.
pub fn field_or_default<V: WireValue, T: Wire + Default>(
    value: &V,
    key: &str,
) -> Result<T, WireError> {
    match value.get(key) {
        Some(item) => T::decode(&item).map_err(|e| e.in_field(key)),
        None => Ok(T::default()),
    }
}

/// serde's "missing field `x`", with the type the field belongs to.
#[cold]
#[inline(never)]
pub fn missing_field(key: &str, owner: &str) -> WireError {
    WireError::new(format!("missing field `{key}` of {owner}"))
}

/// The tag of an internally tagged enum: the string at `key`.
pub fn tag<V: WireValue>(value: &V, key: &str, owner: &str) -> Result<String, WireError> {
    expect_object(value, owner)?;
    match value.get(key) {
        Some(tag) => tag
            .as_string()
            .ok_or_else(|| WireError::invalid_type(&tag, "a string").in_field(key)),
        None => Err(missing_field(key, owner)),
    }
}

/// serde's "unknown variant `x`, expected one of `a`, `b`".
#[cold]
#[inline(never)]
pub fn unknown_variant(got: &str, expected: &[&str]) -> WireError {
    let mut message = format!("unknown variant `{got}`, expected one of ");
    for (i, name) in expected.iter().enumerate() {
        if i > 0 {
            message.push_str(", ");
        }
        message.push('`');
        message.push_str(name);
        message.push('`');
    }
    WireError::new(message)
}

/// The variant name of a unit-only enum, which crosses as a string.
pub fn variant_name<V: WireValue>(value: &V, expected: &[&str]) -> Result<String, WireError> {
    value.as_string().ok_or_else(|| {
        let mut what = String::from("one of ");
        for (i, name) in expected.iter().enumerate() {
            if i > 0 {
                what.push_str(", ");
            }
            what.push('`');
            what.push_str(name);
            what.push('`');
        }
        WireError::invalid_type(value, &what)
    })
}

impl Wire for bool {
    fn encode<V: WireValue>(&self) -> V {
        V::bool(*self)
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        value
            .as_bool()
            .ok_or_else(|| WireError::invalid_type(value, "a boolean"))
    }
}

impl Wire for f64 {
    fn encode<V: WireValue>(&self) -> V {
        V::f64(*self)
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        value
            .as_f64()
            .ok_or_else(|| WireError::invalid_type(value, "a number"))
    }
}

/// The whole number in `0..=max` that `value` holds.
fn whole_number<V: WireValue>(value: &V, max: f64, expected: &str) -> Result<u64, WireError> {
    match value.as_f64() {
        Some(n) if n >= 0.0 && n <= max && (n as u64) as f64 == n => Ok(n as u64),
        Some(_) => Err(WireError::new(format!(
            "invalid value: a number that is not {expected}"
        ))),
        None => Err(WireError::invalid_type(value, expected)),
    }
}

/// The largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

impl Wire for u32 {
    fn encode<V: WireValue>(&self) -> V {
        V::uint(u64::from(*self))
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        let n = whole_number(
            value,
            f64::from(u32::MAX),
            "a whole number from 0 to 4294967295",
        )?;
        Ok(n as u32)
    }
}

impl Wire for u64 {
    fn encode<V: WireValue>(&self) -> V {
        V::uint(*self)
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        whole_number(
            value,
            MAX_SAFE_INTEGER,
            "a whole number from 0 to 9007199254740991",
        )
    }
}

impl Wire for String {
    fn encode<V: WireValue>(&self) -> V {
        V::string(self)
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        value
            .as_string()
            .ok_or_else(|| WireError::invalid_type(value, "a string"))
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode<V: WireValue>(&self) -> V {
        match self {
            Some(inner) => inner.encode(),
            None => V::null(),
        }
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        if value.is_null() {
            Ok(None)
        } else {
            T::decode(value).map(Some)
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: Wire> Wire for Box<T> {
    fn encode<V: WireValue>(&self) -> V {
        (**self).encode()
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        T::decode(value).map(Box::new)
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn encode<V: WireValue>(&self) -> V {
        V::array(self.iter().map(Wire::encode).collect())
    }
    fn decode<V: WireValue>(value: &V) -> Result<Self, WireError> {
        let items = value
            .as_array()
            .ok_or_else(|| WireError::invalid_type(value, "an array"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::decode(item).map_err(|e| e.in_item(i)))
            .collect()
    }
}
