//! The engine's fuzz targets under proptest, so `cargo test` runs them on
//! stable Rust without libFuzzer.
//!
//! The targets and their input generators live in this crate's `src/`; each panics only when the engine panics or
//! answers the same input twice in two different ways. Three kinds of test:
//!
//! - `fuzz_<target>`: a modest number of random inputs, part of `cargo test`.
//! - `fuzz_<target>_long`: `#[ignore]`d, many more inputs
//!   (`FUZZ_CASES`, default 100,000); `scripts/fuzz.sh --proptest` runs them
//!   when cargo-fuzz is not available.
//! - `fuzz_corpus_replays_cleanly`: every committed libFuzzer corpus input,
//!   replayed, so what the fuzzer learned keeps guarding the engine.

use engine_fuzz::source::noise;
use std::path::Path;

use engine_fuzz::source::Source;
use engine_fuzz::targets::{self, API, TARGETS};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Cases per target in the everyday run.
const QUICK_CASES: u32 = 256;
/// Cases per target in the long run, unless `FUZZ_CASES` says otherwise.
const LONG_CASES: u32 = 100_000;
/// Longest input; every generator finishes well within it.
const MAX_INPUT_BYTES: usize = 2_048;

fn long_cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(LONG_CASES)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking bytes rarely helps these targets; a failure prints the
        // input, which replays with the same target.
        max_shrink_iters: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..MAX_INPUT_BYTES)
}

/// One quick and one long proptest per target.
macro_rules! fuzz_tests {
    ($($target:ident => $quick:ident, $long:ident;)*) => {
        proptest! {
            #![proptest_config(config(QUICK_CASES))]
            $(
                #[test]
                fn $quick(data in bytes()) {
                    targets::$target(&data);
                }
            )*
        }
        proptest! {
            #![proptest_config(config(long_cases()))]
            $(
                #[test]
                #[ignore = "long fuzz run; scripts/fuzz.sh --proptest"]
                fn $long(data in bytes()) {
                    targets::$target(&data);
                }
            )*
        }
    };
}

fuzz_tests! {
    api_json => fuzz_api_json, fuzz_api_json_long;
    api_values => fuzz_api_values, fuzz_api_values_long;
    decide_start => fuzz_decide_start, fuzz_decide_start_long;
    worker_machine => fuzz_worker_machine, fuzz_worker_machine_long;
    run_machine => fuzz_run_machine, fuzz_run_machine_long;
    check_page => fuzz_check_page, fuzz_check_page_long;
    diff_schemas => fuzz_diff_schemas, fuzz_diff_schemas_long;
}

/// The committed corpus of each cargo-fuzz target, replayed.
#[test]
fn fuzz_corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "corpus input {} fails", path.display());
        }
    }
}

/// A new export of the Wasm crate must get a fuzz target: the list the
/// targets dispatch over is the list of `js_name`s in the boundary.
#[test]
fn fuzz_targets_cover_every_wasm_export() {
    // The batch path's exports (lib.rs) and the full engine's (full.rs).
    let boundary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine-wasm/src");
    let source = ["lib.rs", "full.rs"]
        .map(|file| std::fs::read_to_string(boundary.join(file)).unwrap())
        .concat();
    let mut exports: Vec<&str> = source
        .split("js_name = ")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    let mut fuzzed: Vec<&str> = API.to_vec();
    exports.sort_unstable();
    fuzzed.sort_unstable();
    assert_eq!(exports, fuzzed, "update API and call_api in src/targets.rs");
}

/// The generators build requests as untyped values so they survive changes
/// to the engine's structs; this canary fails when a rename leaves them
/// producing requests that no longer decode, which would quietly turn the
/// fuzz targets into decoder-only tests.
#[test]
fn fuzz_generators_mostly_produce_decodable_requests() {
    const SAMPLES: u64 = 400;
    for (which, name) in API.iter().enumerate() {
        let mut decoded = 0u64;
        for seed in 0..SAMPLES {
            let data = noise(seed * 31 + which as u64, MAX_INPUT_BYTES);
            let mut s = Source::new(&data);
            let value = targets::request(&mut s, which);
            if targets::decodes(which, &value) {
                decoded += 1;
            }
        }
        assert!(
            decoded * 5 >= SAMPLES,
            "only {decoded} of {SAMPLES} generated {name} requests decode"
        );
    }
}
