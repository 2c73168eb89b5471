//! The boundary as JavaScript sees it, run under Node by wasm-bindgen-test:
//! results are plain JS values, and refusals are real `Error` objects with a
//! stable `code`.
#![cfg(target_arch = "wasm32")]

use convex_migrate_engine_wasm::{checksum, job_step, job_view, worker_step};
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

#[wasm_bindgen_test]
fn results_are_plain_objects_without_absent_fields() {
    let request = parse(r#"{"event":{"type":"start","nowMs":5,"batchSize":3}}"#);
    let result = worker_step(request).expect("a start answers");
    let state = get(&result, "state");
    let action = get(&result, "action");
    assert_eq!(
        get(&action, "type").as_string().as_deref(),
        Some("runBatch")
    );
    assert_eq!(get(&action, "batchSize").as_f64(), Some(3.0));
    assert_eq!(
        get(&state, "status").as_string().as_deref(),
        Some("inProgress")
    );
    assert_eq!(get(&state, "startedMs").as_f64(), Some(5.0));
    // An absent optional field is left out, never set to undefined or null.
    assert!(!Reflect::has(&state, &"cursor".into()).unwrap());
    assert!(!Reflect::has(&action, &"cursor".into()).unwrap());
    assert_eq!(
        Object::get_prototype_of(&state),
        Object::get_prototype_of(&Object::new())
    );

    let view = job_view(parse(r#"{"workers":[]}"#)).expect("a view answers");
    assert_eq!(get(&view, "status").as_string().as_deref(), Some("new"));
    assert_eq!(get(&view, "stalled").as_bool(), Some(false));
}

#[wasm_bindgen_test]
fn a_refusal_carries_its_facts_in_details_and_a_decode_error_says_where() {
    let thrown = job_step(parse(
        r#"{"workers":[],"event":{"type":"start","nowMs":0,"batchSize":2.5}}"#,
    ))
    .expect_err("batch size 2.5 is refused");
    let details = get(&thrown, "details");
    assert_eq!(
        get(&details, "code").as_string().as_deref(),
        Some("INVALID_BATCH_SIZE")
    );
    assert_eq!(get(&details, "value").as_string().as_deref(), Some("2.5"));

    let thrown = job_step(parse(
        r#"{"workers":[],"event":{"type":"tick","index":0,"generation":"7"}}"#,
    ))
    .expect_err("a string generation is refused");
    let error: Error = thrown.dyn_into().expect("an Error object");
    let message = String::from(error.message());
    assert!(
        message.contains("invalid type: a string, expected a whole number")
            && message.contains("at event.generation"),
        "{message}"
    );
}
