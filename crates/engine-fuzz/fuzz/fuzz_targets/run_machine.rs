//! cargo-fuzz entry point; the target itself lives in `engine_fuzz::targets`
//! so the proptest fuzz tests run the very same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| engine_fuzz::targets::run_machine(data));
