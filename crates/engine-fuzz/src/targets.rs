//! The fuzz targets. Each takes arbitrary bytes and panics only when a
//! property fails:
//!
//! 1. the engine returns (it never panics: the Wasm build aborts on a panic,
//!    which kills the Convex function that called it), and
//! 2. it is deterministic: the same input twice gives the same output
//!    (Convex queries and mutations must be).
//!
//! Outputs are compared through their `Debug` text, so `NaN` in a result
//! compares equal to itself.

use std::fmt::{Debug, Write};

use engine::api;
use engine::machine::{self, Event, WorkerState};
use engine::policy::Limits;
use engine::run::{self, RunEvent, RunState};
use engine::versioned::{self, StartRequest};
use engine::EngineError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::gen;
use super::source::Source;
use super::val::Val;

/// The boundary's exports, in the order the selector byte picks them.
pub const API: &[&str] = &[
    "checksum",
    "buildManifest",
    "decideStart",
    "statusReport",
    "workerStep",
    "newRun",
    "runStep",
    "summarize",
    "checkPage",
    "diffSchemas",
    "planBridge",
    "pageIdQuestions",
    "runEstimate",
    "decideRepair",
    "checkBatchSize",
    "cursorPosition",
    "checkIndexWalk",
    "adoptPeer",
    "jobStep",
    "jobView",
    "skipsStart",
    "dryRunVerdict",
];

/// A fuzz target: arbitrary bytes in, a panic only when a property fails.
pub type Target = fn(&[u8]);

/// Every target by name; the names are the cargo-fuzz binaries' names.
pub const TARGETS: &[(&str, Target)] = &[
    ("api_json", api_json),
    ("api_values", api_values),
    ("decide_start", decide_start),
    ("worker_machine", worker_machine),
    ("run_machine", run_machine),
    ("check_page", check_page),
    ("diff_schemas", diff_schemas),
];

/// Most events one sequence applies.
const MAX_EVENTS: usize = 48;

/// Where a request comes from: JSON text or a JavaScript-like value.
trait Input {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, String>;
}

struct JsonText<'a>(&'a [u8]);

impl Input for JsonText<'_> {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(self.0).map_err(|e| e.to_string())
    }
}

impl Input for Val {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        Val::decode(self).map_err(|e| e.to_string())
    }
}

/// Decodes and calls, returning a transcript of what happened. A result
/// must also encode, since the boundary sends it back to JavaScript.
fn call<T, R>(input: &impl Input, f: fn(T) -> Result<R, EngineError>) -> String
where
    T: DeserializeOwned,
    R: Serialize + Debug,
{
    match input.decode::<T>() {
        Err(e) => format!("decode error: {e}"),
        Ok(request) => {
            let result = f(request);
            if let Ok(value) = &result {
                if let Err(e) = serde_json::to_string(value) {
                    panic!("result does not encode: {e}: {value:?}");
                }
            }
            format!("{result:?}")
        }
    }
}

/// Calls export `which` (modulo the number of exports) on `input`.
fn call_api(which: usize, input: &impl Input) -> String {
    match which % API.len() {
        0 => call(input, api::checksum),
        1 => call(input, api::build_manifest),
        2 => call(input, api::decide_start),
        3 => call(input, api::status_report),
        4 => call(input, api::worker_step),
        5 => call(input, api::new_run),
        6 => call(input, api::run_step),
        7 => call(input, api::summarize),
        8 => call(input, api::check_page),
        9 => call(input, api::diff_schemas),
        10 => call(input, api::plan_bridge),
        11 => call(input, api::page_id_questions),
        12 => call(input, api::run_estimate),
        13 => call(input, api::decide_repair),
        14 => call(input, api::check_batch_size),
        15 => call(input, api::cursor_position),
        16 => call(input, api::check_index_walk),
        17 => call(input, api::adopt_peer),
        18 => call(input, api::job_step),
        19 => call(input, api::job_view),
        20 => call(input, api::skips_start),
        _ => call(input, api::dry_run_verdict),
    }
}

/// Whether a generated request for export `which` gets past decoding.
pub fn decodes(which: usize, value: &Val) -> bool {
    !call_api(which, value).starts_with("decode error")
}

/// A well-shaped request for export `which` (bent out of shape as often
/// as the source's noise level says).
pub fn request(s: &mut Source, which: usize) -> Val {
    s.choose_noise();
    match which % API.len() {
        0 => gen::migration_def(s),
        1 => gen::build_manifest_request(s),
        2 => gen::start_request(s),
        3 => gen::status_report_request(s),
        4 => gen::worker_step_request(s),
        5 => gen::new_run_request(s),
        6 => gen::run_step_request(s),
        7 => gen::summarize_request(s),
        8 => gen::page_check_request(s),
        9 => gen::diff_schemas_request(s),
        10 => gen::plan_bridge_request(s),
        11 => gen::page_check_request(s),
        12 => gen::run_estimate_request(s),
        13 => gen::repair_request(s),
        14 => gen::check_batch_size_request(s),
        15 => gen::cursor_request(s),
        16 => gen::index_walk_request(s),
        17 => gen::peer_row(s),
        18 => gen::job_request(s),
        19 => gen::job_view_request(s),
        20 => gen::skip_start_request(s),
        _ => gen::dry_run_request(s),
    }
}

fn assert_deterministic(label: &str, first: &str, second: &str) {
    assert!(
        first == second,
        "{label} is not deterministic:\nfirst:  {first}\nsecond: {second}"
    );
}

/// Small edits to JSON text: replace, delete or insert bytes, biased to the
/// characters that change JSON's structure.
fn mutate_text(s: &mut Source, text: &mut Vec<u8>) {
    const STRUCTURE: &[u8] = b"{}[]\":,-.0123456789eE \\nulltrue";
    let edits = s.byte() % 4;
    for _ in 0..edits {
        let at = s.below(text.len() + 1);
        let byte = if s.flag() {
            s.pick(STRUCTURE).unwrap_or(b'0')
        } else {
            s.byte()
        };
        match s.byte() % 3 {
            0 => {
                if let Some(b) = text.get_mut(at) {
                    *b = byte;
                }
            }
            1 => {
                let end = (at + 1 + s.below(8)).min(text.len());
                if at < end {
                    text.drain(at..end);
                }
            }
            _ => text.insert(at, byte),
        }
    }
}

/// Every export fed JSON text, as `serde_json::from_str` would decode it.
///
/// Byte 0 picks the export. If byte 1 is below 128 the rest of the input is
/// the JSON text itself; otherwise a well-shaped request is generated from
/// the rest, printed as JSON and lightly corrupted.
pub fn api_json(data: &[u8]) {
    let mut s = Source::new(data);
    let which = usize::from(s.byte());
    let text = if s.byte() < 128 {
        s.rest().to_vec()
    } else {
        let mut text = request(&mut s, which).to_json_text().into_bytes();
        mutate_text(&mut s, &mut text);
        text
    };
    let first = call_api(which, &JsonText(&text));
    let second = call_api(which, &JsonText(&text));
    assert_deterministic(API[which % API.len()], &first, &second);
}

/// Every export fed a JavaScript-like value: `NaN`, the infinities and
/// `-0` included, decoded the way `serde_wasm_bindgen` decodes.
pub fn api_values(data: &[u8]) {
    let mut s = Source::new(data);
    let which = usize::from(s.byte());
    let value = request(&mut s, which);
    let first = call_api(which, &value);
    let second = call_api(which, &value);
    assert_deterministic(API[which % API.len()], &first, &second);
}

/// The versioned planner: `decide_start` and `status_report` on arbitrary
/// manifests, stored records and requests.
pub fn decide_start(data: &[u8]) {
    let mut s = Source::new(data);
    s.choose_noise();
    let Ok(request) = gen::start_request(&mut s).decode::<StartRequest>() else {
        return;
    };
    let once = || {
        format!(
            "{:?}\n{:?}",
            versioned::decide_start(&request),
            versioned::status_report(&request.manifest, &request.records)
        )
    };
    assert_deterministic("decide_start", &once(), &once());
    if let Ok(repair) = gen::repair_request(&mut s).decode::<engine::repair::RepairRequest>() {
        let once = || format!("{:?}", engine::repair::decide_repair(&repair));
        assert_deterministic("decide_repair", &once(), &once());
    }
}

/// The worker machine over a sequence of events, starting from nothing or
/// from an arbitrary stored row, each step's state carried to the next;
/// then the progress summary of every state it went through.
pub fn worker_machine(data: &[u8]) {
    let replay = || {
        let mut s = Source::new(data);
        s.choose_noise();
        let limits = if s.chance(48) {
            gen::limits(&mut s)
                .decode()
                .unwrap_or_else(|_| Limits::convex())
        } else {
            Limits::convex()
        };
        let mut state: Option<WorkerState> = if s.flag() {
            gen::worker_state(&mut s).decode().ok()
        } else {
            None
        };
        let mut seen: Vec<WorkerState> = state.iter().cloned().collect();
        let mut log = String::new();
        for _ in 0..MAX_EVENTS {
            if s.is_empty() {
                break;
            }
            let generation = state.as_ref().map(|st| st.generation);
            let Ok(event) = gen::worker_event(&mut s, generation).decode::<Event>() else {
                continue;
            };
            let result = machine::step(state.as_ref(), &event, &limits);
            let _ = writeln!(log, "{event:?} -> {result:?}");
            if let Ok(transition) = result {
                if let Err(e) = serde_json::to_string(&transition) {
                    panic!("transition does not encode: {e}: {transition:?}");
                }
                seen.push(transition.state.clone());
                state = Some(transition.state);
            }
        }
        let now = gen::time(&mut s);
        let _ = writeln!(log, "{:?}", engine::progress::summarize(&seen, now));
        log
    };
    assert_deterministic("machine::step", &replay(), &replay());
}

/// The run machine over a sequence of events, from a fresh run or an
/// arbitrary stored one.
pub fn run_machine(data: &[u8]) {
    let replay = || {
        let mut s = Source::new(data);
        s.choose_noise();
        let initial = if s.flag() {
            gen::run_state(&mut s).decode::<RunState>().ok()
        } else {
            gen::new_run_request(&mut s)
                .decode::<api::NewRunRequest>()
                .ok()
                .and_then(|req| api::new_run(req).ok())
        };
        let Some(mut state) = initial else {
            return String::from("no state");
        };
        let mut log = String::new();
        for _ in 0..MAX_EVENTS {
            if s.is_empty() {
                break;
            }
            let Ok(event) = gen::run_event(&mut s).decode::<RunEvent>() else {
                continue;
            };
            let result = run::run_step(&state, &event);
            let _ = writeln!(log, "{event:?} -> {result:?}");
            if let Ok(transition) = result {
                state = transition.state;
            }
        }
        log
    };
    assert_deterministic("run::run_step", &replay(), &replay());
}

/// Validator checks on arbitrary schemas and documents.
pub fn check_page(data: &[u8]) {
    let mut s = Source::new(data);
    s.choose_noise();
    let Ok(request) =
        gen::page_check_request(&mut s).decode::<engine::validator::PageCheckRequest>()
    else {
        return;
    };
    let once = || format!("{:?}", engine::validator::check_page(&request));
    assert_deterministic("validator::check_page", &once(), &once());
    let asked = || format!("{:?}", engine::validator::page_id_questions(&request));
    assert_deterministic("validator::page_id_questions", &asked(), &asked());
}

/// Schema diffs between arbitrary schemas, and of a schema with itself,
/// which must find nothing that needs a migration.
pub fn diff_schemas(data: &[u8]) {
    let mut s = Source::new(data);
    s.choose_noise();
    let Ok(request) = gen::diff_schemas_request(&mut s).decode::<api::DiffSchemasRequest>() else {
        return;
    };
    let once = || {
        format!(
            "{:?}",
            engine::schema_diff::diff_schemas(&request.old, &request.new)
        )
    };
    assert_deterministic("schema_diff::diff_schemas", &once(), &once());
    if let Ok(same) = engine::schema_diff::diff_schemas(&request.old, &request.old) {
        assert!(
            same.tables.is_empty() && same.changes.is_empty(),
            "a schema differs from itself: {same:?}"
        );
    }
}
