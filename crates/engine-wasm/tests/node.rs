//! The boundary as JavaScript sees it, run under Node by wasm-bindgen-test:
//! results are plain JS values, and refusals are real `Error` objects with a
//! stable `code`.
#![cfg(target_arch = "wasm32")]

use convex_migrate_engine_wasm::{checksum, worker_step};
use js_sys::{Array, Error, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn parse(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON parses")
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).expect("property readable")
}

#[wasm_bindgen_test]
fn checksum_is_sha256_hex_with_its_form_beside_it() {
    let def = parse(
        r#"{"id":"20261122_101500_backfill","description":"d","up":{"table":"todos","source":"() => ({})"}}"#,
    );
    let result = checksum(def).expect("checksum answers");
    let sum = get(&result, "checksum").as_string().expect("a string");
    let hex = sum.strip_prefix("sha256:").expect("sha256:<hex>");
    assert!(
        hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{sum}"
    );
    assert_eq!(get(&result, "checksumForm").as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
fn a_refused_input_is_a_real_error_with_a_stable_code() {
    let request = parse(
        r#"{"event":{"type":"start","nowMs":0,"batchSize":0,"reset":false,"oneBatchOnly":false}}"#,
    );
    let thrown = worker_step(request).expect_err("batch size 0 is refused");
    let error: Error = thrown.clone().dyn_into().expect("an Error object");
    assert_eq!(
        get(&thrown, "code").as_string().as_deref(),
        Some("INVALID_BATCH_SIZE")
    );
    assert!(String::from(error.message()).contains("batch size"));
    assert!(get(&thrown, "hint")
        .as_string()
        .is_some_and(|h| !h.is_empty()));
}

#[wasm_bindgen_test]
fn a_malformed_request_names_the_problem() {
    let thrown = worker_step(parse(r#"{"event":{"type":"jump"}}"#)).expect_err("unknown event");
    assert_eq!(
        get(&thrown, "code").as_string().as_deref(),
        Some("INVALID_INPUT")
    );
}
