//! The Wasm boundary of the engine: each export decodes its argument, makes
//! exactly one call into `engine::api` and encodes the result. No rule lives
//! here; a reader looking for behaviour goes to the engine crate.
//!
//! The crate builds four modules, one per kind of Convex request, so a
//! request compiles only the code it calls (scripts/build-wasm.sh):
//! - `hop`: `jobStep`, the one call a per-batch hop makes;
//! - `app`: `cursorPosition` and `checkIndexWalk`, what the app's batch
//!   function calls in the app's own bundle;
//! - `hop` + `control`: starting, stopping, reporting to a run and reading
//!   status (the exports gated on `control` below);
//! - `full` (the default): all of the above and the exports in `full.rs`
//!   (manifest, checksums, plan and drift, schema diff, validators).
//!
//! An entry point goes under the feature of the requests that call it; one
//! off every per-request path goes in `full.rs`.

#[cfg(feature = "full")]
mod full;
#[cfg(feature = "full")]
pub use full::*;

use engine::{api, EngineError};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wire::{Wire, WireValue};

/// A JS value as the boundary codec reads and builds it: plain objects,
/// arrays, strings, numbers (always `f64`, never formatted), booleans and
/// null, so every result is a valid Convex value (no Map, no BigInt, no
/// undefined in arrays).
pub(crate) struct Js(pub(crate) JsValue);

impl WireValue for Js {
    #[inline(never)]
    fn null() -> Self {
        Js(JsValue::NULL)
    }
    #[inline(never)]
    fn bool(value: bool) -> Self {
        Js(JsValue::from_bool(value))
    }
    #[inline(never)]
    fn f64(value: f64) -> Self {
        Js(JsValue::from_f64(value))
    }
    #[inline(never)]
    fn string(value: &str) -> Self {
        Js(JsValue::from_str(value))
    }
    #[inline(never)]
    fn array(items: Vec<Self>) -> Self {
        let array = Array::new_with_length(items.len() as u32);
        for (i, item) in items.into_iter().enumerate() {
            array.set(i as u32, item.0);
        }
        Js(array.into())
    }
    #[inline(never)]
    fn object() -> Self {
        Js(Object::new().into())
    }
    #[inline(never)]
    fn set(&mut self, key: &str, value: Self) {
        // Reflect::set only fails on frozen objects; this one is fresh.
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value.0);
    }
    #[inline(never)]
    fn get(&self, key: &str) -> Option<Self> {
        let value = Reflect::get(&self.0, &JsValue::from_str(key)).ok()?;
        (!value.is_undefined()).then_some(Js(value))
    }
    #[inline(never)]
    fn is_object(&self) -> bool {
        self.0.is_object() && !Array::is_array(&self.0)
    }
    #[inline(never)]
    fn is_null(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }
    #[inline(never)]
    fn as_bool(&self) -> Option<bool> {
        self.0.as_bool()
    }
    #[inline(never)]
    fn as_f64(&self) -> Option<f64> {
        self.0.as_f64()
    }
    #[inline(never)]
    fn as_string(&self) -> Option<String> {
        self.0.as_string()
    }
    #[inline(never)]
    fn as_array(&self) -> Option<Vec<Self>> {
        if !Array::is_array(&self.0) {
            return None;
        }
        let array: &Array = self.0.unchecked_ref();
        Some(array.iter().map(Js).collect())
    }
}

/// Decode `input`, run `f`, encode its result with the boundary codec.
pub(crate) fn call<P: Wire, R: Wire>(
    input: JsValue,
    f: impl FnOnce(P) -> Result<R, EngineError>,
) -> Result<JsValue, JsValue> {
    let params = P::decode(&Js(input)).map_err(|e| {
        to_js_error(&EngineError::InvalidInput {
            message: e.to_string(),
        })
    })?;
    let result = f(params).map_err(|e| to_js_error(&e))?;
    Ok(result.encode::<Js>().0)
}

/// A real `Error` whose `code` is stable, whose `hint` says what to do and
/// whose `details` carries the variant's facts (ids, checksums, cursor).
pub(crate) fn to_js_error(err: &EngineError) -> JsValue {
    let error = js_sys::Error::new(&format!("{err}. {}", err.hint()));
    let object: &JsValue = error.as_ref();
    let details = err.encode::<Js>().0;
    // Reflect::set only fails on frozen objects; a fresh Error is not frozen.
    let _ = Reflect::set(object, &"code".into(), &err.code().into());
    let _ = Reflect::set(object, &"hint".into(), &err.hint().into());
    let _ = Reflect::set(object, &"details".into(), &details);
    error.into()
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = runStep)]
pub fn run_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::run_step)
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = summarize)]
pub fn summarize(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::summarize)
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = checkBatchSize)]
pub fn check_batch_size(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::check_batch_size)
}

#[cfg(feature = "app")]
#[wasm_bindgen(js_name = cursorPosition)]
pub fn cursor_position(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::cursor_position)
}

#[cfg(feature = "app")]
#[wasm_bindgen(js_name = checkIndexWalk)]
pub fn check_index_walk(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::check_index_walk)
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = adoptPeer)]
pub fn adopt_peer(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::adopt_peer)
}

#[cfg(feature = "hop")]
#[wasm_bindgen(js_name = jobStep)]
pub fn job_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::job_step)
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = jobView)]
pub fn job_view(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::job_view)
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = skipsStart)]
pub fn skips_start(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::skips_start)
}

#[cfg(feature = "control")]
#[wasm_bindgen(js_name = dryRunVerdict)]
pub fn dry_run_verdict(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::dry_run_verdict)
}
