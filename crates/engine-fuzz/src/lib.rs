//! Fuzzing the engine: byte-driven generators of engine inputs and the
//! targets that check them.
//!
//! The same code runs two ways: under libFuzzer (`cargo +nightly fuzz run
//! <target>`, see `scripts/fuzz.sh` and `fuzz/`) and under proptest in
//! `tests/fuzz_engine.rs`, so `cargo test` exercises every target without a
//! nightly toolchain.

pub mod gen;
pub mod source;
pub mod targets;
pub mod val;
