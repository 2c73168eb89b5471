//! The Wasm boundary of the engine: each export decodes its argument, makes
//! exactly one call into `engine::api` and encodes the result. No rule lives
//! here; a reader looking for behaviour goes to the engine crate.

use engine::{api, EngineError};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::prelude::*;

/// Decode `input`, run `f`, encode its result as plain JSON-compatible JS
/// values (valid Convex values: no Map, no BigInt, no undefined in arrays).
fn call<P, R>(
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

#[wasm_bindgen(js_name = engineInfo)]
pub fn engine_info(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::engine_info)
}

#[wasm_bindgen(js_name = checksum)]
pub fn checksum(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::checksum)
}

#[wasm_bindgen(js_name = buildManifest)]
pub fn build_manifest(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::build_manifest)
}

#[wasm_bindgen(js_name = decideStart)]
pub fn decide_start(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::decide_start)
}

#[wasm_bindgen(js_name = decideRepair)]
pub fn decide_repair(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::decide_repair)
}

#[wasm_bindgen(js_name = statusReport)]
pub fn status_report(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::status_report)
}

#[wasm_bindgen(js_name = workerStep)]
pub fn worker_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::worker_step)
}

#[wasm_bindgen(js_name = newRun)]
pub fn new_run(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::new_run)
}

#[wasm_bindgen(js_name = runStep)]
pub fn run_step(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::run_step)
}

#[wasm_bindgen(js_name = summarize)]
pub fn summarize(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::summarize)
}

#[wasm_bindgen(js_name = splitRange)]
pub fn split_range(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::split_range)
}

#[wasm_bindgen(js_name = batchLimits)]
pub fn batch_limits(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::batch_limits)
}

#[wasm_bindgen(js_name = checkPage)]
pub fn check_page(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::check_page)
}

#[wasm_bindgen(js_name = pageIdQuestions)]
pub fn page_id_questions(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::page_id_questions)
}

#[wasm_bindgen(js_name = runEstimate)]
pub fn run_estimate(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::run_estimate)
}

#[wasm_bindgen(js_name = diffSchemas)]
pub fn diff_schemas(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::diff_schemas)
}

#[wasm_bindgen(js_name = classifyFailure)]
pub fn classify_failure(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::classify_failure)
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

#[wasm_bindgen(js_name = planBridge)]
pub fn plan_bridge(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::plan_bridge)
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
