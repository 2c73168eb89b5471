//! The Wasm boundary of the engine: each export decodes its argument, makes
//! exactly one call into `engine::api` and encodes the result. No rule lives
//! here; a reader looking for behaviour goes to the engine crate.
//!
//! The crate builds two modules. Without features it is the batch-path
//! module: the exports in this file, which a hop, a batch or a status read
//! calls, and which every Convex request on that path loads. With the
//! default `full` feature it is the full engine: the exports in `full.rs`
//! (manifest, checksums, plan and drift, schema diff, validators) as well.
//! An entry point a hop needs goes in this file; any other goes in `full.rs`.

#[cfg(feature = "full")]
mod full;
#[cfg(feature = "full")]
pub use full::*;

use engine::{api, EngineError};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::prelude::*;

/// Decode `input`, run `f`, encode its result as plain JSON-compatible JS
/// values (valid Convex values: no Map, no BigInt, no undefined in arrays).
pub(crate) fn call<P, R>(
    input: JsValue,
    f: impl FnOnce(P) -> Result<R, EngineError>,
) -> Result<JsValue, JsValue>
where
    P: DeserializeOwned,
    R: Serialize,
{
    let params: P = serde_wasm_bindgen::from_value(input).map_err(|e| {
        to_js_error(&EngineError::InvalidInput {
            message: e.to_string(),
        })
    })?;
    let result = f(params).map_err(|e| to_js_error(&e))?;
    result
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            to_js_error(&EngineError::InvalidInput {
                message: format!("could not encode the result: {e}"),
            })
        })
}

/// A real `Error` whose `code` is stable, whose `hint` says what to do and
/// whose `details` carries the variant's facts (ids, checksums, cursor).
fn to_js_error(err: &EngineError) -> JsValue {
    let error = js_sys::Error::new(&format!("{err}. {}", err.hint()));
    let object: &JsValue = error.as_ref();
    let details = err
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL);
    // Reflect::set only fails on frozen objects; a fresh Error is not frozen.
    let _ = js_sys::Reflect::set(object, &"code".into(), &err.code().into());
    let _ = js_sys::Reflect::set(object, &"hint".into(), &err.hint().into());
    let _ = js_sys::Reflect::set(object, &"details".into(), &details);
    error.into()
}

#[wasm_bindgen(js_name = workerStep)]
pub fn worker_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::worker_step)
}

#[wasm_bindgen(js_name = runStep)]
pub fn run_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::run_step)
}

#[wasm_bindgen(js_name = summarize)]
pub fn summarize(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::summarize)
}

#[wasm_bindgen(js_name = checkBatchSize)]
pub fn check_batch_size(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::check_batch_size)
}

#[wasm_bindgen(js_name = cursorPosition)]
pub fn cursor_position(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::cursor_position)
}

#[wasm_bindgen(js_name = checkIndexWalk)]
pub fn check_index_walk(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::check_index_walk)
}

#[wasm_bindgen(js_name = adoptPeer)]
pub fn adopt_peer(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::adopt_peer)
}

#[wasm_bindgen(js_name = jobStep)]
pub fn job_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::job_step)
}

#[wasm_bindgen(js_name = jobView)]
pub fn job_view(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::job_view)
}

#[wasm_bindgen(js_name = skipsStart)]
pub fn skips_start(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::skips_start)
}

#[wasm_bindgen(js_name = dryRunVerdict)]
pub fn dry_run_verdict(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::dry_run_verdict)
}
