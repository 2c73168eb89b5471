//! The full engine's entry points beyond the batch path (see the crate's
//! docs): built only with the `full` feature, so the batch-path module
//! carries none of their code.

use engine::{api, EngineError};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::prelude::*;

use crate::to_js_error;

/// Decode `input`, run `f`, encode its result as plain JSON-compatible JS
/// values through serde: these entry points are off the batch path, so the
/// module's size does not weigh on them and they keep serde-wasm-bindgen.
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

/// One worker's machine on its own. No hop calls it (the job machine,
/// `jobStep`, drives every worker), so it lives off the batch path; its
/// types cross through the batch path's codec, which they already derive.
#[wasm_bindgen(js_name = workerStep)]
pub fn worker_step(input: JsValue) -> Result<JsValue, JsValue> {
    crate::call(input, api::worker_step)
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

#[wasm_bindgen(js_name = newRun)]
pub fn new_run(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::new_run)
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

#[wasm_bindgen(js_name = planBridge)]
pub fn plan_bridge(input: JsValue) -> Result<JsValue, JsValue> {
    call(input, api::plan_bridge)
}
