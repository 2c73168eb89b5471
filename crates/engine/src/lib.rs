//! The pure core of convex-migrate.
//!
//! Every rule about migrations lives here: the checksum's canonical form, the
//! manifest rules, the plan, drift, the run state machine with its batch-size
//! policy, progress figures and validator checks. Nothing in this crate reads
//! a clock, draws randomness or touches I/O: time comes in as `now_ms`, state
//! comes in as a value and goes out as a new value. The Wasm crate next door
//! only translates arguments and results.

pub mod api;
pub mod bridge;
pub mod checksum;
pub mod cursor;
pub mod drift;
pub mod error;
pub mod estimate;
pub mod failure;
pub mod history;
pub mod job;
mod jsnum;
mod json_text;
pub mod machine;
pub mod manifest;
pub mod peer;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod ranges;
pub mod repair;
pub mod run;
pub mod schema_diff;
pub mod validator;
pub mod versioned;

pub use error::EngineError;
