//! [`WireValue`] for `serde_json::Value`, so tests can compare the codec's
//! output with serde's.

use serde_json::{Map, Number, Value};

use crate::WireValue;

impl WireValue for Value {
    fn null() -> Self {
        Value::Null
    }
    fn bool(value: bool) -> Self {
        Value::Bool(value)
    }
    fn f64(value: f64) -> Self {
        // As serde_json serializes a float: NaN and the infinities become null.
        Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
    fn uint(value: u64) -> Self {
        Value::Number(value.into())
    }
    fn string(value: &str) -> Self {
        Value::String(value.to_owned())
    }
    fn array(items: Vec<Self>) -> Self {
        Value::Array(items)
    }
    fn object() -> Self {
        Value::Object(Map::new())
    }
    fn set(&mut self, key: &str, value: Self) {
        if let Value::Object(map) = self {
            map.insert(key.to_owned(), value);
        }
    }
    fn get(&self, key: &str) -> Option<Self> {
        self.as_object().and_then(|map| map.get(key)).cloned()
    }
    fn is_object(&self) -> bool {
        Value::is_object(self)
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }
    fn as_f64(&self) -> Option<f64> {
        Value::as_f64(self)
    }
    fn as_string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }
    fn as_array(&self) -> Option<Vec<Self>> {
        Value::as_array(self).cloned()
    }
}
