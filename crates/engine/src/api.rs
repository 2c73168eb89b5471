//! The engine's entry points as the outside world sees them: one request
//! struct in, one result out, one call per request or per batch. The Wasm
//! crate maps each function here to one export; TypeScript gets the request
//! and result types generated from these structs.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::bridge::{self, BridgePlan};
use crate::checksum::{self, MigrationDef, CHECKSUM_FORM_VERSION};
use crate::cursor::{self, CursorPosition, CursorRequest, IndexWalkRequest};
use crate::estimate::{self, Estimate, RunItemProgress};
use crate::history::{AppliedRecord, Direction};
use crate::job::{self, JobRequest, JobTransition, JobView, JobWorker};
use crate::machine::{self, Event, Transition, WorkerState};
use crate::manifest::{self, ManifestEntry};
use crate::peer::{self, PeerAdoption, PeerRow};
use crate::policy::{self, Limits};
use crate::progress::{self, JobSummary};
use crate::repair::{self, RepairDecision, RepairRequest};
use crate::run::{self, RunEvent, RunState, RunTransition};
use crate::schema_diff::{self, SchemaDiff};
use crate::validator::{self, PageCheckRequest, PageCheckResult, PageIdQuestions};
use crate::versioned::{self, StartDecision, StartRequest, StatusReport};
use crate::EngineError;

/// The answer of a check that returns nothing but may refuse.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, Default, TS)]
#[ts(export)]
pub struct Empty {}

/// A migration's checksum together with the exact text that was hashed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ChecksumResult {
    /// `sha256:<hex>`, in every form.
    pub checksum: String,
    /// The form the checksum was computed in, stored beside it.
    pub checksum_form: u32,
    pub canonical_form: String,
}

pub fn checksum(def: MigrationDef) -> Result<ChecksumResult, EngineError> {
    Ok(ChecksumResult {
        checksum: checksum::checksum(&def),
        checksum_form: CHECKSUM_FORM_VERSION,
        canonical_form: checksum::canonical_form(&def),
    })
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BuildManifestRequest {
    pub migrations: Vec<MigrationDef>,
}

pub fn build_manifest(req: BuildManifestRequest) -> Result<Vec<ManifestEntry>, EngineError> {
    manifest::build_manifest(&req.migrations)
}

pub fn decide_start(req: StartRequest) -> Result<StartDecision, EngineError> {
    versioned::decide_start(&req)
}

pub fn decide_repair(req: RepairRequest) -> Result<RepairDecision, EngineError> {
    repair::decide_repair(&req)
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StatusReportRequest {
    pub manifest: Vec<MigrationDef>,
    pub records: Vec<AppliedRecord>,
}

pub fn status_report(req: StatusReportRequest) -> Result<StatusReport, EngineError> {
    versioned::status_report(&req.manifest, &req.records)
}

/// One event for one worker. `limits` defaults to Convex's own.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct WorkerStepRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub state: Option<WorkerState>,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limits: Option<Limits>,
}

pub fn worker_step(req: WorkerStepRequest) -> Result<Transition, EngineError> {
    let limits = req.limits.unwrap_or_else(Limits::convex);
    machine::step(req.state.as_ref(), &req.event, &limits)
}

/// One planned migration of a run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunItemSpec {
    pub id: String,
    pub direction: Direction,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct NewRunRequest {
    pub items: Vec<RunItemSpec>,
    pub now_ms: f64,
}

pub fn new_run(req: NewRunRequest) -> Result<RunState, EngineError> {
    let items = req.items.into_iter().map(|i| (i.id, i.direction)).collect();
    Ok(run::new_run(items, req.now_ms))
}

#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunStepRequest {
    pub state: RunState,
    pub event: RunEvent,
    /// The migration reporting the event about itself (see [`run::report`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub item: Option<String>,
}

pub fn run_step(req: RunStepRequest) -> Result<RunTransition, EngineError> {
    match &req.item {
        Some(item) => run::report(&req.state, item, &req.event),
        None => run::run_step(&req.state, &req.event),
    }
}

#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SummarizeRequest {
    pub workers: Vec<WorkerState>,
    pub now_ms: f64,
    /// The function picks its own batch size unless one is sent (see
    /// [`crate::job::JobRequest::own_size`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub own_size: Option<bool>,
}

pub fn summarize(req: SummarizeRequest) -> Result<JobSummary, EngineError> {
    Ok(progress::summarize(&req.workers, req.now_ms)
        .sized_by(req.own_size == Some(true), &req.workers))
}

pub fn check_page(req: PageCheckRequest) -> Result<PageCheckResult, EngineError> {
    validator::check_page(&req)
}

/// A versioned run's planned migrations, for its overall estimate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunEstimateRequest {
    pub items: Vec<RunItemProgress>,
}

/// Fraction done and time left across a versioned run's migrations.
pub fn run_estimate(req: RunEstimateRequest) -> Result<Estimate, EngineError> {
    Ok(estimate::run_estimate(&req.items))
}

/// The strings in a page that the query must look up as ids before
/// [`check_page`] can judge them.
pub fn page_id_questions(req: PageCheckRequest) -> Result<PageIdQuestions, EngineError> {
    validator::page_id_questions(&req)
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DiffSchemasRequest {
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

pub fn diff_schemas(req: DiffSchemasRequest) -> Result<SchemaDiff, EngineError> {
    schema_diff::diff_schemas(&req.old, &req.new)
}

/// A batch size and growth ceiling given to the drop-in API or a versioned
/// start, checked before anything runs.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CheckBatchSizeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub batch_size: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_batch_size: Option<f64>,
}

/// Refuses a bad batch size or ceiling (see [`machine::validate_sizes`]):
/// the one rule every path applies, the worker's start included, and the
/// only check for the paths that run a batch without a worker (a dry run, a
/// skipped completed migration, a versioned run's option).
pub fn check_batch_size(req: CheckBatchSizeRequest) -> Result<Empty, EngineError> {
    machine::validate_sizes(req.batch_size, req.max_batch_size)?;
    Ok(Empty {})
}

/// Where a positional cursor points (see [`cursor::cursor_position`]).
pub fn cursor_position(req: CursorRequest) -> Result<CursorPosition, EngineError> {
    cursor::cursor_position(&req)
}

/// Refuses a batch that moved documents within the index it walks (see
/// [`cursor::check_index_walk`]).
pub fn check_index_walk(req: IndexWalkRequest) -> Result<Empty, EngineError> {
    cursor::check_index_walk(&req)?;
    Ok(Empty {})
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlanBridgeRequest {
    /// The deployed schema (`deployedSchema`), as `defineSchema(...).export()` gives it.
    pub deployed: serde_json::Value,
    /// The local schema to roll forward to, in the same form.
    pub target: serde_json::Value,
}

pub fn plan_bridge(req: PlanBridgeRequest) -> Result<BridgePlan, EngineError> {
    bridge::plan_bridge(&req.deployed, &req.target)
}

pub fn adopt_peer(row: PeerRow) -> Result<PeerAdoption, EngineError> {
    peer::adopt(&row)
}

/// One event for one migration with all its workers (see [`job::step`]).
pub fn job_step(req: JobRequest) -> Result<JobTransition, EngineError> {
    job::step(&req)
}

/// A migration's workers with their hops, for status pages.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobViewRequest {
    pub workers: Vec<JobWorker>,
}

/// What status shows of a migration beyond its summary (see [`job::view`]).
pub fn job_view(req: JobViewRequest) -> Result<JobView, EngineError> {
    Ok(job::view(&req.workers))
}

/// Whether a start skips a migration: completed, and no reset or cursor
/// asks for another pass (see [`job::skips_start`]).
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SkipStartRequest {
    pub is_done: bool,
    #[serde(default)]
    pub reset: bool,
    #[serde(default)]
    pub cursor_given: bool,
    #[serde(default)]
    pub dry_run: bool,
}

pub fn skips_start(req: SkipStartRequest) -> Result<bool, EngineError> {
    Ok(job::skips_start(
        req.is_done,
        req.reset,
        req.cursor_given,
        req.dry_run,
    ))
}

/// A dry run's end, whether its function speaks the peer's protocol, and
/// whether it is still on trial (see [`job::dry_run_verdict`]).
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DryRunRequest {
    pub end: job::DryRunEnd,
    #[serde(default)]
    pub peer_protocol: bool,
    #[serde(default)]
    pub on_trial: bool,
}

pub fn dry_run_verdict(req: DryRunRequest) -> Result<job::DryRunVerdict, EngineError> {
    Ok(job::dry_run_verdict(
        req.end,
        req.peer_protocol,
        req.on_trial,
    ))
}

/// The TypeScript module holding the engine's constants that callers show
/// or pass on, written by `cargo test` beside the generated types (ts-rs
/// writes types only) and checked for staleness the same way.
pub fn typescript_constants() -> String {
    format!(
        "// Written by the engine's tests from crates/engine/src/policy.rs. Do not edit this file by hand.\n\n\
         /** Documents per batch when nothing says otherwise (the @convex-dev/migrations default too). */\n\
         export const DEFAULT_BATCH_SIZE = {};\n",
        policy::DEFAULT_BATCH_SIZE
    )
}
