//! The batch-path module's boundary codec (`wire`, derived from the serde
//! attributes) against serde itself, on the fuzz generators' requests: both
//! accept the same requests and decode them to the same value, and every
//! request, result and refusal encodes to exactly what `serde_json` writes.
//! A new serde attribute the derive misreads, or a hand edit to one side,
//! fails here.

use engine::api::{self, *};
use engine::cursor::{CursorRequest, IndexWalkRequest};
use engine::job::JobRequest;
use engine::machine::Failure;
use engine::peer::PeerRow;
use engine::ranges::KeyRange;
use engine::EngineError;
use engine_fuzz::gen;
use engine_fuzz::source::noise;
use engine_fuzz::source::Source;
use engine_fuzz::val::Val;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Debug;
use wire::{Wire, WireError, WireValue};

/// [`Val`] as the boundary codec reads it: a JS value. Only `decode` runs
/// on it; encoding is checked on `serde_json::Value`.
#[derive(Clone)]
struct Js(Val);

impl WireValue for Js {
    fn null() -> Self {
        Js(Val::Null)
    }
    fn bool(value: bool) -> Self {
        Js(Val::Bool(value))
    }
    fn f64(value: f64) -> Self {
        Js(Val::Num(value))
    }
    fn string(value: &str) -> Self {
        Js(Val::str(value))
    }
    fn array(items: Vec<Self>) -> Self {
        Js(Val::Arr(items.into_iter().map(|i| i.0).collect()))
    }
    fn object() -> Self {
        Js(Val::Obj(Vec::new()))
    }
    fn set(&mut self, key: &str, value: Self) {
        if let Val::Obj(fields) = &mut self.0 {
            fields.push((key.to_owned(), value.0));
        }
    }
    fn get(&self, key: &str) -> Option<Self> {
        match &self.0 {
            Val::Obj(fields) => fields
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Js(v.clone())),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self.0, Val::Obj(_))
    }
    fn is_null(&self) -> bool {
        matches!(self.0, Val::Null)
    }
    fn as_bool(&self) -> Option<bool> {
        match self.0 {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self.0 {
            Val::Num(n) => Some(n),
            _ => None,
        }
    }
    fn as_string(&self) -> Option<String> {
        match &self.0 {
            Val::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<Vec<Self>> {
        match &self.0 {
            Val::Arr(items) => Some(items.iter().cloned().map(Js).collect()),
            _ => None,
        }
    }
}

/// The value as a JS object holds it: a repeated key keeps its last value
/// (serde's map decoding would refuse the duplicate, which JS cannot send).
fn as_js(value: &Val) -> Val {
    match value {
        Val::Arr(items) => Val::Arr(items.iter().map(as_js).collect()),
        Val::Obj(fields) => {
            let mut out: Vec<(String, Val)> = Vec::new();
            for (k, v) in fields {
                let v = as_js(v);
                match out.iter_mut().find(|(key, _)| key == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k.clone(), v)),
                }
            }
            Val::Obj(out)
        }
        // -0 crosses as 0 where serde went through its buffered content
        // (fields of tagged variants); the codec keeps -0, which every rule
        // treats as 0.
        Val::Num(n) if *n == 0.0 => Val::Num(0.0),
        other => other.clone(),
    }
}

/// `value` encoded by the codec equals serde's encoding; a request also
/// decodes back to itself from serde's encoding. (A result may hold a count
/// beyond 2^53 that no request can carry.)
fn same_encoding<T: Wire + Serialize + DeserializeOwned + PartialEq + Debug>(
    value: &T,
    request: bool,
) {
    let by_serde = serde_json::to_value(value).expect("serde encodes");
    let by_wire: Value = value.encode();
    assert_eq!(by_wire, by_serde, "encodings differ for {value:?}");
    if request && !by_serde.to_string().contains("null") {
        // (serde_json writes NaN as null, which reads back as no number.)
        let back = T::decode(&by_serde).expect("decodes serde's encoding");
        assert_eq!(format!("{back:?}"), format!("{value:?}"));
    }
}

/// The request `value` decodes the same through both; when it decodes, the
/// call's result or refusal encodes the same through both.
fn same_call<P, R>(value: &Val, f: fn(P) -> Result<R, EngineError>) -> bool
where
    P: Wire + DeserializeOwned + Serialize + PartialEq + Debug + Clone,
    R: Wire + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let value = as_js(value);
    let by_serde = value.decode::<P>();
    let by_wire = P::decode(&Js(value.clone()));
    match (by_serde, by_wire) {
        (Ok(a), Ok(b)) => {
            // Compared as Debug text, where NaN equals NaN.
            let (da, db) = (format!("{a:?}"), format!("{b:?}"));
            if da != db {
                let at = da
                    .bytes()
                    .zip(db.bytes())
                    .take_while(|(x, y)| x == y)
                    .count();
                let from = at.saturating_sub(200);
                panic!(
                    "decoded differently: serde ...{}\n codec ...{}",
                    &da[from..(at + 100).min(da.len())],
                    &db[from..(at + 100).min(db.len())]
                );
            }
            same_encoding(&a, true);
            match f(a) {
                Ok(result) => same_encoding(&result, false),
                Err(err) => {
                    let by_wire: Value = err.encode();
                    assert_eq!(by_wire, serde_json::to_value(&err).unwrap());
                }
            }
            true
        }
        (Err(_), Err(_)) => false,
        // The one deliberate difference: serde reads a struct out of an
        // array (by position, or as an object with no fields); the codec
        // refuses it, naming the struct it wanted.
        (Ok(_), Err(e))
            if e.message()
                .starts_with("invalid type: an array, expected struct") =>
        {
            false
        }
        (Ok(a), Err(e)) => panic!("only serde decodes {value:?} (to {a:?}); the codec says {e}"),
        (Err(e), Ok(b)) => panic!("only the codec decodes {value:?} (to {b:?}); serde says {e}"),
    }
}

/// One generated request of every batch-path export, checked both ways;
/// returns how many decoded.
fn check_all(data: &[u8]) -> usize {
    let mut s = Source::new(data);
    let mut decoded = 0;
    let mut tally = |ok: bool| decoded += usize::from(ok);
    s.choose_noise();
    tally(same_call(
        &gen::worker_step_request(&mut s),
        api::worker_step,
    ));
    tally(same_call(&gen::run_step_request(&mut s), api::run_step));
    tally(same_call(&gen::summarize_request(&mut s), api::summarize));
    tally(same_call(
        &gen::check_batch_size_request(&mut s),
        api::check_batch_size,
    ));
    tally(same_call::<CursorRequest, _>(
        &gen::cursor_request(&mut s),
        api::cursor_position,
    ));
    tally(same_call::<IndexWalkRequest, _>(
        &gen::index_walk_request(&mut s),
        api::check_index_walk,
    ));
    tally(same_call::<PeerRow, _>(
        &gen::peer_row(&mut s),
        api::adopt_peer,
    ));
    tally(same_call::<JobRequest, _>(
        &gen::job_request(&mut s),
        api::job_step,
    ));
    tally(same_call(&gen::job_view_request(&mut s), api::job_view));
    tally(same_call(
        &gen::skip_start_request(&mut s),
        api::skips_start,
    ));
    tally(same_call(
        &gen::dry_run_request(&mut s),
        api::dry_run_verdict,
    ));
    decoded
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn the_codec_and_serde_agree_on_generated_requests(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        check_all(&data);
    }
}

/// Guards the test above against comparing refusals only.
#[test]
fn most_generated_requests_decode_so_results_are_compared_too() {
    let decoded: usize = (0..300).map(|seed| check_all(&noise(seed, 4096))).sum();
    assert!(
        decoded * 3 >= 300 * 12,
        "only {decoded} of {} decoded",
        300 * 12
    );
}

fn decode_error<T: Wire + Debug>(value: Value) -> WireError {
    T::decode(&value).expect_err("refused")
}

#[test]
fn a_missing_field_is_named_with_its_type() {
    let e = decode_error::<IndexWalkRequest>(
        json!({ "table": "t", "index": "by_n", "indexFields": [] }),
    );
    assert_eq!(
        e.to_string(),
        "missing field `changedFields` of IndexWalkRequest"
    );
    let e = decode_error::<WorkerStepRequest>(
        json!({ "event": { "type": "batchFailed", "nowMs": 1 } }),
    );
    assert_eq!(
        e.to_string(),
        "missing field `message` of Event::BatchFailed at event"
    );
}

#[test]
fn a_value_of_the_wrong_type_says_what_was_expected_and_where() {
    let e = decode_error::<KeyRange>(json!({ "lo": "0", "hi": 1 }));
    assert_eq!(
        e.to_string(),
        "invalid type: a string, expected a number at lo"
    );
    let e = decode_error::<SummarizeRequest>(json!({ "workers": [null], "nowMs": 1 }));
    assert_eq!(
        e.to_string(),
        "invalid type: null, expected struct WorkerState at workers[0]"
    );
    let e = decode_error::<SkipStartRequest>(json!({ "isDone": 1 }));
    assert_eq!(
        e.to_string(),
        "invalid type: a number, expected a boolean at isDone"
    );
}

#[test]
fn an_integer_must_be_whole_and_in_range() {
    let failure =
        |size: Value| json!({ "kind": "limit", "message": "m", "batchSize": size, "atMs": 1 });
    for size in [json!(1.5), json!(-1), json!(4294967296.0_f64)] {
        let e = decode_error::<Failure>(failure(size));
        assert_eq!(
            e.to_string(),
            "invalid value: a number that is not a whole number from 0 to 4294967295 at batchSize"
        );
    }
    let ok = Failure::decode(&failure(json!(4294967295.0_f64)));
    assert_eq!(ok.map(|f| f.batch_size), Ok(u32::MAX));
}

#[test]
fn an_unknown_tag_names_it_and_the_known_ones() {
    let e =
        decode_error::<WorkerStepRequest>(json!({ "event": { "type": "explode", "nowMs": 1 } }));
    assert_eq!(
        e.to_string(),
        "unknown variant `explode`, expected one of `start`, `tick`, `batchCommitted`, `hopDied`, `startRefused`, `batchFailed`, `cancelRequested`, `halt` at event.type"
    );
    let e = decode_error::<WorkerStepRequest>(json!({ "event": { "nowMs": 1 } }));
    assert_eq!(e.to_string(), "missing field `type` of Event at event");
    let e = decode_error::<DryRunRequest>(json!({ "end": "exploded" }));
    assert!(
        e.to_string()
            .starts_with("unknown variant `exploded`, expected one of `rolledBack`"),
        "{e}"
    );
}
