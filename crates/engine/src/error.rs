//! The one error type of the engine. Every variant carries the facts a person
//! needs to act (ids, both checksums, the cursor) and `hint()` says what to do.

use serde::Serialize;
use ts_rs::TS;
use wire::Wire;

/// Every way an engine call can refuse its input.
///
/// Serialized with a stable `code` tag so JavaScript can branch on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Wire, TS)]
#[serde(
    tag = "code",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
#[ts(export)]
pub enum EngineError {
    /// The arguments could not be decoded (wrong shape or type).
    #[error("invalid input: {message}")]
    InvalidInput { message: String },

    /// A migration id does not match `YYYYMMDD_HHMMSS_slug`.
    #[error("migration id {id:?} is malformed: {reason}")]
    InvalidId { id: String, reason: String },

    /// Two migrations in one set share an id.
    #[error("migration id {id:?} appears more than once in the manifest")]
    DuplicateId { id: String },

    /// A step names no table.
    #[error("migration {id:?} has a {direction} step with an empty table name")]
    EmptyTable { id: String, direction: String },

    /// A plan names an id the manifest or the history does not know.
    #[error("no migration has id {id:?} in the manifest or the history")]
    UnknownMigration { id: String },

    /// `down` was given both `steps` and `to`.
    #[error("down takes either steps or to, not both")]
    StepsAndTo,

    /// `down` was given neither `steps` nor `to`.
    #[error("down needs steps or to")]
    NoDownTarget,

    /// `steps` is below 1 or not a whole number (`1.5`, `NaN`), shown as
    /// JavaScript prints it.
    #[error("steps must be a whole number of at least 1, got {steps}")]
    InvalidSteps { steps: String },

    /// A migration selected for rollback has no down step. `id` is the first
    /// in plan order; `without_down` lists every selected one that has none.
    #[error(
        "migration {id:?} has no down step, so it cannot be rolled back{}",
        others(id, without_down)
    )]
    NoDownStep {
        id: String,
        without_down: Vec<String>,
    },

    /// A batch size that is not a whole number from 1 up.
    #[error("batch size must be a whole number from 1 to {max}, got {value}")]
    InvalidBatchSize { value: String, max: u32 },

    /// A cursor that cannot belong to this migration.
    #[error("cursor {cursor:?} is not valid for migration {name:?}: {reason}")]
    InvalidCursor {
        name: String,
        cursor: String,
        reason: String,
    },

    /// An event that the run's current state does not accept.
    #[error("event {event} is not accepted in state {state}")]
    InvalidTransition { state: String, event: String },

    /// A `workers` value that is not a whole number from 1 to max.
    #[error("workers must be a whole number from 1 to {max}, got {value}")]
    InvalidParallelism { value: String, max: u32 },

    /// A schema or validator document that cannot be read.
    #[error("schema is malformed at {path}: {reason}")]
    InvalidSchema { path: String, reason: String },
    /// `migrateOne` changed a field of the index its `customRange` walks: the
    /// patched document moves within the walk and would be visited again.
    #[error("migrateOne changed {fields} of index {index} on {table}, which customRange walks: a patched document moves ahead in the walk and would be visited again")]
    PatchMovesWalkedIndex {
        table: String,
        index: String,
        fields: String,
    },
    /// `keep` (the ids a branch knows, for `sync`) was combined with an
    /// `up` direction, `steps` or `to`.
    #[error("invalid keep: {reason}")]
    InvalidKeep { reason: String },

    /// `repair` was asked while a run is active.
    #[error("run {run_id} is active, so nothing can be repaired now")]
    RunActive { run_id: String },

    /// `repair` was asked to accept a migration that has nothing to accept.
    #[error("migration {id:?} cannot be repaired: {reason}")]
    NotRepairable { id: String, reason: String },
}

/// The ids besides `id` that also lack a down step, for the error message.
fn others(id: &str, without_down: &[String]) -> String {
    let rest: Vec<&str> = without_down
        .iter()
        .map(String::as_str)
        .filter(|other| *other != id)
        .collect();
    if rest.is_empty() {
        String::new()
    } else {
        format!(" (nor can {})", rest.join(", "))
    }
}

impl EngineError {
    /// The stable machine-readable code, e.g. `"NO_DOWN_STEP"`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidInput { .. } => "INVALID_INPUT",
            EngineError::InvalidId { .. } => "INVALID_ID",
            EngineError::DuplicateId { .. } => "DUPLICATE_ID",
            EngineError::EmptyTable { .. } => "EMPTY_TABLE",
            EngineError::UnknownMigration { .. } => "UNKNOWN_MIGRATION",
            EngineError::StepsAndTo => "STEPS_AND_TO",
            EngineError::NoDownTarget => "NO_DOWN_TARGET",
            EngineError::InvalidSteps { .. } => "INVALID_STEPS",
            EngineError::NoDownStep { .. } => "NO_DOWN_STEP",
            EngineError::InvalidBatchSize { .. } => "INVALID_BATCH_SIZE",
            EngineError::InvalidCursor { .. } => "INVALID_CURSOR",
            EngineError::InvalidTransition { .. } => "INVALID_TRANSITION",
            EngineError::InvalidParallelism { .. } => "INVALID_PARALLELISM",
            EngineError::InvalidSchema { .. } => "INVALID_SCHEMA",
            EngineError::InvalidKeep { .. } => "INVALID_KEEP",
            EngineError::PatchMovesWalkedIndex { .. } => "PATCH_MOVES_WALKED_INDEX",
            EngineError::RunActive { .. } => "RUN_ACTIVE",
            EngineError::NotRepairable { .. } => "NOT_REPAIRABLE",
        }
    }

    /// What the person should do next, in one sentence.
    pub fn hint(&self) -> String {
        match self {
            EngineError::InvalidInput { .. } => {
                "Check the arguments against the documented shape.".into()
            }
            EngineError::InvalidId { .. } => {
                "Name the migration YYYYMMDD_HHMMSS_slug (UTC time, lowercase slug), as `convex-migrate create` does.".into()
            }
            EngineError::DuplicateId { .. } => {
                "Give each migration its own id; `convex-migrate create` makes a fresh one.".into()
            }
            EngineError::EmptyTable { .. } => "Set `table` to the name of the table the step rewrites.".into(),
            EngineError::UnknownMigration { .. } => {
                "Pass an id listed by `convex-migrate status`.".into()
            }
            EngineError::StepsAndTo | EngineError::NoDownTarget => {
                "Pass exactly one of --steps N or --to ID.".into()
            }
            EngineError::InvalidSteps { .. } => "Pass --steps 1 or more.".into(),
            EngineError::NoDownStep { .. } => {
                "Add a `down` step to the migration and deploy it, or roll back fewer migrations.".into()
            }
            EngineError::InvalidBatchSize { .. } => "Pass a whole number such as 100.".into(),
            EngineError::InvalidCursor { .. } => {
                "Pass `reset: true` to start the migration over from the beginning.".into()
            }
            EngineError::InvalidParallelism { max, .. } => {
                format!("Pass workers as a whole number from 1 to {max}; 1 runs one worker.")
            }
            EngineError::InvalidTransition { .. } => {
                "The run's state changed underneath this call; read the status and try again.".into()
            }
            EngineError::InvalidSchema { .. } => {
                "Pass the output of `defineSchema(...).export()` unchanged.".into()
            }
            EngineError::PatchMovesWalkedIndex { .. } => {
                "Walk the table without customRange and return nothing from migrateOne for documents outside the range, or use a customRange over an index whose fields the migration does not change.".into()
            }
            EngineError::InvalidKeep { .. } => {
                "Pass keep alone with direction down, as `convex-migrate sync` does; use --steps or --to without it.".into()
            }
            EngineError::RunActive { .. } => {
                "Wait for the run to end (`convex-migrate status --watch`) or cancel it (`convex-migrate cancel`), then repair.".into()
            }
            EngineError::NotRepairable { .. } => {
                "Repair only what `convex-migrate status` lists as checksum_mismatch or missing_from_manifest; leave out --id to repair all of them.".into()
            }
        }
    }
}
