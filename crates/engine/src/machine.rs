//! The worker state machine: what happens around each batch.
//!
//! A migration over one table runs as one or more workers, one per disjoint
//! key range. Each worker is a chain of batches, one transaction each, that
//! schedules its own next hop. Around every batch the component loads the
//! worker's row, calls [`step`] once with what just happened, stores the
//! returned state and carries out the returned [`Action`]. All decisions —
//! resume or skip, retry or fail, grow or shrink — are made here.
//!
//! The `generation` counter is what keeps a worker single-writer: every
//! start, cancel and halt bumps it, every scheduled hop carries the
//! generation it was scheduled under, and a hop whose generation is no
//! longer current does nothing. A stale batch can therefore never process
//! documents a second time.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::estimate::{advance, KeyPosition, PagePosition};
use crate::failure::classify;
use crate::policy::{
    after_commit, after_limit_failure, js_number_string, nested_limits, validate_batch_size,
    BatchReport, Limits, Sizing, Usage, DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_SIZE,
    MAX_OCC_RETRIES,
};
use crate::ranges::KeyRange;
use crate::EngineError;

/// Where a worker stands. The Convex validator of the worker row lists
/// exactly these names (checked against the generated type).
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum WorkerStatus {
    /// A batch is running or scheduled.
    InProgress,
    /// Every document in the range was visited.
    Success,
    /// Stopped by an error; resumable from the cursor.
    Failed,
    /// Stopped by a person; resumable from the cursor.
    Canceled,
    /// Stopped without error (one batch only, or a sibling failed);
    /// resumable from the cursor.
    Paused,
}

impl WorkerStatus {
    /// The serialized name, as stored in the worker row.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::InProgress => "inProgress",
            WorkerStatus::Success => "success",
            WorkerStatus::Failed => "failed",
            WorkerStatus::Canceled => "canceled",
            WorkerStatus::Paused => "paused",
        }
    }
}

pub use crate::failure::FailureKind;

/// The error that stopped a worker, with what a person needs to act on it.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Failure {
    /// What kind of failure stopped the worker.
    pub kind: FailureKind,
    /// A sentence for people: what failed, on which document, and the
    /// original error text.
    pub message: String,
    /// The document the batch failed on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub document_id: Option<String>,
    /// The last committed cursor: the failing batch started right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Size of the batch that failed, in documents.
    pub batch_size: u32,
    /// When the failure was recorded (ms since the epoch).
    pub at_ms: f64,
}

/// The stored state of one worker (one row in the component).
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct WorkerState {
    /// Where the worker stands.
    pub status: WorkerStatus,
    /// The last committed pagination cursor; absent before the first batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Documents the next batch may take.
    pub batch_size: u32,
    /// Ceiling for adaptive growth, in documents.
    pub max_batch_size: u32,
    /// Whether the batch size grows and shrinks with measured cost.
    pub adaptive: bool,
    /// Documents visited so far.
    #[ts(type = "number")]
    pub processed: u64,
    /// Documents changed so far.
    #[ts(type = "number")]
    pub updated: u64,
    /// Batches committed so far.
    #[ts(type = "number")]
    pub batches: u64,
    /// Consecutive cheap, full batches (see the policy).
    pub cheap_streak: u32,
    /// Write-conflict retries of the current batch.
    pub occ_retries: u32,
    /// Why the worker failed; cleared when it resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<Failure>,
    /// When the current pass started (ms since the epoch); kept on resume.
    pub started_ms: f64,
    /// When the worker last stopped; cleared when it resumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ended_ms: Option<f64>,
    /// When the last batch committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_batch_ms: Option<f64>,
    /// Bumped by every start, cancel and halt; a scheduled hop from an
    /// older generation is stale and does nothing.
    #[ts(type = "number")]
    pub generation: u64,
    /// Stop (pause) after the next committed batch.
    pub one_batch_only: bool,
    /// The `_creationTime` span this worker covers; the whole table when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub range: Option<KeyRange>,
    /// Where the walk stands in `_creationTime` (or, for a `customRange`, in
    /// its index's numeric key), for the progress estimate; absent until a
    /// batch reports it, and for a walk whose key is not a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub position: Option<KeyPosition>,
    /// Set when the worker's last hop died as a whole, until a batch of it
    /// ends either way. Its next batch then runs in a scheduled hop of its
    /// own, never inside a start's transaction: a document too large for any
    /// transaction fails that hop (which the next start records) rather
    /// than the caller's start, which would record nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_hop_died: Option<bool>,
    /// The generation of the scheduled hop this worker waits for; absent
    /// when no hop is due (stopped, driven by its caller, or a row stored
    /// before hops were looked up by it). A hop finds its worker by this
    /// value, so a stale hop finds nothing and does nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub next_hop: Option<u64>,
    /// Documents the last committed batch visited: with the time the hop
    /// after it waited, what one document costs in execution time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub last_batch_processed: Option<u64>,
    /// How many workers the migration is to run with once this worker's
    /// batch size stops growing: set on the one whole-table worker of a
    /// start with `workers` above 1, cleared when the job machine decides
    /// (it fans out, or the table is too small to). Absent on every worker
    /// of a migration that fanned out and on rows of earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fan_out: Option<u32>,
    /// Set once a limit failure made the engine send its own size to a
    /// function that otherwise picks its own (a hand-written peer-protocol
    /// mutation started without a size); from then on the size is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub size_sent: Option<bool>,
}

/// Something that happened to a worker.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export, rename = "WorkerEvent")]
pub enum Event {
    /// Someone asked the migration to run.
    Start {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// Requested batch size; a number as JavaScript holds it so that
        /// `0` or `2.5` get a clear error instead of a decoding failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        batch_size: Option<f64>,
        /// The migration's own batch size (its definition's): used by a
        /// worker that starts fresh, never over the size a resumed worker
        /// learned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        default_batch_size: Option<f64>,
        /// Requested ceiling for adaptive growth.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        max_batch_size: Option<f64>,
        /// Whether the size adapts to measured cost (default true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        adaptive: Option<bool>,
        /// Start from this cursor instead of the stored one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        cursor: Option<String>,
        /// Forget all progress and start over.
        #[serde(default)]
        reset: bool,
        /// Pause after one batch.
        #[serde(default)]
        one_batch_only: bool,
        /// The key range this worker covers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        range: Option<KeyRange>,
        /// The caller found no live scheduled hop for this running worker
        /// (it failed or was lost): resume it instead of calling it running.
        #[serde(default)]
        #[ts(optional, as = "Option<bool>")]
        stalled: bool,
        /// Workers a fresh (or reset) worker fans out to once its batch size
        /// stops growing; 1 or absent: it stays alone. On a resume it
        /// replaces the count a worker has yet to fan out to; absent keeps it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        fan_out: Option<u32>,
    },
    /// A scheduled hop arrived.
    Tick {
        /// The generation the hop was scheduled under.
        #[ts(type = "number")]
        generation: u64,
    },
    /// The batch's nested transaction committed.
    BatchCommitted {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// Documents the batch visited.
        #[ts(type = "number")]
        processed: u64,
        /// Documents the batch changed.
        #[ts(type = "number")]
        updated: u64,
        /// The cursor after the batch.
        cursor: String,
        /// Whether the range is exhausted.
        is_done: bool,
        /// How long the batch runs, in milliseconds, as projected from the
        /// previous hop's scheduled records; absent when unknown (the clock
        /// stands still inside a transaction, so the batch cannot time itself).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        hop_ms: Option<f64>,
        /// What the batch used, when metrics are available.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        usage: Option<Usage>,
        /// The limits the batch ran under (see
        /// [`crate::policy::nested_limits_within`]); the nominal batch
        /// limits when absent. Growth is judged against these.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        budget: Option<Limits>,
        /// Where the page left the walk (its `_creationTime`, or its index
        /// key on a `customRange` walk).
        // Boxed: index keys would make every event large.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        position: Option<Box<PagePosition>>,
    },
    /// The worker's last scheduled hop died as a whole (a limit hit by the
    /// component's own work, a time-out): nothing was recorded by it, and
    /// its `_scheduled_functions` record keeps the error. Judged like a
    /// failed batch of the size it was running.
    HopDied {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// The error the hop died with, when the runtime kept it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        message: Option<String>,
    },
    /// The component could not start this migration at all: its function is
    /// gone or no longer answers as a migration (a series' later entry
    /// changed after the series started).
    StartRefused {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// Why, as the refusal said it.
        message: String,
    },
    /// The batch's nested transaction threw and rolled back. The engine
    /// judges the kind of failure from the error as it was thrown.
    BatchFailed {
        /// Current time (ms since the epoch).
        now_ms: f64,
        /// The error's own text.
        message: String,
        /// The `kind` of a coded error the batch threw, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code: Option<String>,
        /// The document being migrated when it threw, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        document_id: Option<String>,
    },
    /// Someone asked the migration to stop.
    CancelRequested {
        /// Current time (ms since the epoch).
        now_ms: f64,
    },
    /// A sibling worker of the same migration failed; stop without error.
    Halt {
        /// Current time (ms since the epoch).
        now_ms: f64,
    },
}

impl Event {
    /// A plain first start at `now_ms`: the migration's own sizes, no
    /// cursor, no reset, the whole table.
    pub fn start_at(now_ms: f64) -> Event {
        Event::Start {
            now_ms,
            batch_size: None,
            default_batch_size: None,
            max_batch_size: None,
            adaptive: None,
            cursor: None,
            reset: false,
            one_batch_only: false,
            range: None,
            stalled: false,
            fan_out: None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::Tick { .. } => "tick",
            Event::BatchCommitted { .. } => "batchCommitted",
            Event::BatchFailed { .. } => "batchFailed",
            Event::HopDied { .. } => "hopDied",
            Event::StartRefused { .. } => "startRefused",
            Event::CancelRequested { .. } => "cancelRequested",
            Event::Halt { .. } => "halt",
        }
    }

    /// The kind of failure an outcome reports: a batch that threw, judged
    /// from its error as thrown; a hop that died whole, from the error its
    /// record kept, and without one taken for a limit (the component records
    /// every error it can catch, so what kills a hop whole is the runtime
    /// enforcing a limit of the whole transaction). `None` for any other event.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            Event::BatchFailed { message, code, .. } => Some(classify(message, code.as_deref())),
            Event::HopDied { message, .. } => Some(
                message
                    .as_deref()
                    .map_or(FailureKind::Limit, |m| classify(m, None)),
            ),
            _ => None,
        }
    }
}

/// What the component must do after storing the new state.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export, rename = "WorkerAction")]
pub enum Action {
    /// Run (or schedule) a batch from `cursor` of `batch_size` documents,
    /// tagged with `generation`.
    RunBatch {
        /// Where the batch starts; the beginning of the range when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        cursor: Option<String>,
        /// Documents the batch may take.
        batch_size: u32,
        /// Generation to pass back in the next `Tick`.
        #[ts(type = "number")]
        generation: u64,
        /// Where the batch may run: inside the current transaction or in a
        /// scheduled hop of its own.
        inline: Inline,
    },
    /// The worker finished its range.
    Finish,
    /// The worker failed; record and report the failure.
    Fail {
        /// What stopped it.
        failure: Failure,
    },
    /// The worker stopped (canceled or paused); schedule nothing.
    Stop,
    /// The whole migration must stop as canceled, every worker of it, and
    /// report why; nothing of it may run again until a start decides.
    CancelJob {
        /// Why, for the record.
        reason: String,
    },
    /// Nothing changed and nothing is to be done.
    Nothing {
        /// Why, for logs.
        reason: String,
    },
}

/// A step's result: the state to store and the action to carry out.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export, rename = "WorkerTransition")]
pub struct Transition {
    /// The worker's new state (the input state, unchanged, with `Nothing`).
    pub state: WorkerState,
    /// What to do next.
    pub action: Action,
}

/// Advances a worker by one event.
///
/// `state` is the stored row, `None` before the worker's first start;
/// `limits` are the whole transaction's limits ([`Limits::convex`] in a
/// deployment), from which the batch's own are derived. Events other than
/// `Start` need a stored state.
pub fn step(
    state: Option<&WorkerState>,
    event: &Event,
    limits: &Limits,
) -> Result<Transition, EngineError> {
    let Some(current) = state else {
        return match event {
            Event::Start { .. } => start(None, event),
            Event::StartRefused { now_ms, message } => start_refused(None, *now_ms, message),
            _ => Err(EngineError::InvalidTransition {
                state: "none".into(),
                event: event.name().into(),
            }),
        };
    };
    match event {
        Event::Start { .. } => start(Some(current), event),
        Event::Tick { generation } => Ok(tick(current, *generation)),
        Event::BatchCommitted {
            now_ms,
            processed,
            updated,
            cursor,
            is_done,
            hop_ms,
            usage,
            budget,
            position,
        } => {
            require_in_progress(current, event)?;
            if *processed == 0 && !*is_done && current.cursor.as_deref() == Some(cursor.as_str()) {
                return Ok(no_progress(current, *now_ms));
            }
            let mut next = current.clone();
            next.position = advance(current.position.as_ref(), position.as_deref());
            next.last_hop_died = None;
            next.processed = next.processed.saturating_add(*processed);
            next.updated = next.updated.saturating_add(*updated);
            next.batches = next.batches.saturating_add(1);
            next.last_batch_processed = Some(*processed);
            next.cursor = Some(cursor.clone());
            next.occ_retries = 0;
            next.last_batch_ms = Some(*now_ms);
            if *is_done {
                next.status = WorkerStatus::Success;
                next.ended_ms = Some(*now_ms);
                return Ok(Transition {
                    state: next,
                    action: Action::Finish,
                });
            }
            let sizing = after_commit(
                Sizing {
                    batch_size: current.batch_size,
                    cheap_streak: current.cheap_streak,
                },
                &BatchReport {
                    processed: *processed,
                    usage: usage.as_ref(),
                    hop_ms: *hop_ms,
                },
                &budget.clone().unwrap_or_else(|| nested_limits(limits)),
                current.max_batch_size,
                current.adaptive,
            );
            next.batch_size = sizing.batch_size;
            next.cheap_streak = sizing.cheap_streak;
            if next.one_batch_only {
                next.status = WorkerStatus::Paused;
                next.ended_ms = Some(*now_ms);
                return Ok(Transition {
                    state: next,
                    action: Action::Stop,
                });
            }
            Ok(run_batch(next))
        }
        Event::BatchFailed {
            now_ms,
            message,
            document_id,
            ..
        } => {
            require_in_progress(current, event)?;
            let kind = event.failure_kind().unwrap_or(FailureKind::User);
            Ok(batch_failed(
                current,
                *now_ms,
                kind,
                message,
                document_id.as_deref(),
            ))
        }
        Event::StartRefused { now_ms, message } => start_refused(Some(current), *now_ms, message),
        // Paused too: a sibling's dead hop, recorded first, halted this one.
        Event::HopDied { now_ms, message } => match current.status {
            WorkerStatus::InProgress | WorkerStatus::Paused => {
                let kind = event.failure_kind().unwrap_or(FailureKind::Limit);
                Ok(hop_died(current, *now_ms, kind, message.as_deref()))
            }
            _ => Err(EngineError::InvalidTransition {
                state: current.status.as_str().into(),
                event: event.name().into(),
            }),
        },
        Event::CancelRequested { now_ms } => match current.status {
            WorkerStatus::InProgress | WorkerStatus::Paused => {
                let mut next = current.clone();
                next.status = WorkerStatus::Canceled;
                next.generation = next.generation.saturating_add(1);
                next.ended_ms = Some(next.ended_ms.unwrap_or(*now_ms));
                Ok(Transition {
                    state: next,
                    action: Action::Stop,
                })
            }
            status => Ok(nothing(
                current,
                format!("worker is already {}", status.as_str()),
            )),
        },
        Event::Halt { now_ms } => match current.status {
            WorkerStatus::InProgress => {
                let mut next = current.clone();
                next.status = WorkerStatus::Paused;
                next.generation = next.generation.saturating_add(1);
                next.ended_ms = Some(*now_ms);
                Ok(Transition {
                    state: next,
                    action: Action::Stop,
                })
            }
            status => Ok(nothing(
                current,
                format!("worker is {}, not running", status.as_str()),
            )),
        },
    }
}

fn nothing(state: &WorkerState, reason: String) -> Transition {
    Transition {
        state: state.clone(),
        action: Action::Nothing { reason },
    }
}

/// Where a worker's next batch may run.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum Inline {
    /// Driven one batch at a time by its caller (`oneBatchOnly`,
    /// `runToCompletion`): always inside the caller's transaction.
    Always,
    /// Inside a start's own transaction, as the peer runs its first batch;
    /// after a batch's outcome, in a scheduled hop.
    Allowed,
    /// Only in a scheduled hop: the last hop died whole, and running the
    /// batch inside a start would take the start down with it.
    Never,
}

fn run_batch(state: WorkerState) -> Transition {
    let inline = if state.one_batch_only {
        Inline::Always
    } else if state.last_hop_died == Some(true) {
        Inline::Never
    } else {
        Inline::Allowed
    };
    let action = Action::RunBatch {
        cursor: state.cursor.clone(),
        batch_size: state.batch_size,
        generation: state.generation,
        inline,
    };
    Transition { state, action }
}

/// A batch that visited nothing, is not done and handed back the cursor it
/// was given would be run again forever: the worker fails instead, saying
/// what the batch function must return.
fn no_progress(state: &WorkerState, now_ms: f64) -> Transition {
    let next = state.clone();
    let failure = Failure {
        kind: FailureKind::User,
        message: "the batch function returned the cursor it was given, with nothing processed and \
                  isDone false, so the next batch would do the same forever. Return the page's \
                  continueCursor, or isDone: true at the end of the table"
            .to_string(),
        document_id: None,
        cursor: state.cursor.clone(),
        batch_size: state.batch_size,
        at_ms: now_ms,
    };
    failed(next, failure)
}

/// The worker stopped by `failure`, which it keeps and reports.
fn failed(mut next: WorkerState, failure: Failure) -> Transition {
    next.status = WorkerStatus::Failed;
    next.ended_ms = Some(failure.at_ms);
    next.error = Some(failure.clone());
    Transition {
        state: next,
        action: Action::Fail { failure },
    }
}

fn require_in_progress(state: &WorkerState, event: &Event) -> Result<(), EngineError> {
    if state.status == WorkerStatus::InProgress {
        Ok(())
    } else {
        Err(EngineError::InvalidTransition {
            state: state.status.as_str().into(),
            event: event.name().into(),
        })
    }
}

fn tick(state: &WorkerState, generation: u64) -> Transition {
    if state.status != WorkerStatus::InProgress {
        return nothing(
            state,
            format!("stale hop: worker is {}", state.status.as_str()),
        );
    }
    if generation != state.generation {
        return nothing(
            state,
            format!(
                "stale hop: generation {generation}, current is {}",
                state.generation
            ),
        );
    }
    run_batch(state.clone())
}

/// Checks a requested batch size and growth ceiling, as JavaScript holds
/// them: each a whole number from 1 to the maximum, the ceiling not below
/// the size. Every path that takes a batch size (a start, a dry run, a
/// versioned run) refuses bad ones with this one rule.
pub fn validate_sizes(
    batch_size: Option<f64>,
    max_batch_size: Option<f64>,
) -> Result<(Option<u32>, Option<u32>), EngineError> {
    let batch_size = batch_size.map(validate_batch_size).transpose()?;
    let max_batch_size = max_batch_size.map(validate_batch_size).transpose()?;
    if let (Some(size), Some(max)) = (batch_size, max_batch_size) {
        if max < size {
            return Err(EngineError::InvalidBatchSize {
                value: js_number_string(f64::from(size)),
                max,
            });
        }
    }
    Ok((batch_size, max_batch_size))
}

fn start(state: Option<&WorkerState>, event: &Event) -> Result<Transition, EngineError> {
    let Event::Start {
        now_ms,
        batch_size,
        default_batch_size,
        max_batch_size,
        adaptive,
        cursor,
        reset,
        one_batch_only,
        range,
        stalled,
        fan_out,
    } = event
    else {
        return Err(EngineError::InvalidInput {
            message: "start called with a non-start event".into(),
        });
    };
    // Bad input is refused whatever the state, so a typo never looks like
    // "already running".
    let (batch_size, max_batch_size) = validate_sizes(*batch_size, *max_batch_size)?;
    let (default_batch_size, _) = validate_sizes(*default_batch_size, None)?;

    let fresh = |generation: u64, cursor: Option<String>| {
        // The migration's own size yields to a lower ceiling given now.
        let default = default_batch_size.map(|d| max_batch_size.map_or(d, |m| d.min(m)));
        let size = batch_size
            .or(default)
            .unwrap_or(DEFAULT_BATCH_SIZE.min(max_batch_size.unwrap_or(DEFAULT_BATCH_SIZE)));
        WorkerState {
            status: WorkerStatus::InProgress,
            cursor,
            batch_size: size,
            max_batch_size: max_batch_size.unwrap_or(DEFAULT_MAX_BATCH_SIZE.max(size)),
            adaptive: adaptive.unwrap_or(true),
            processed: 0,
            updated: 0,
            batches: 0,
            cheap_streak: 0,
            occ_retries: 0,
            error: None,
            started_ms: *now_ms,
            ended_ms: None,
            last_batch_ms: None,
            generation,
            one_batch_only: *one_batch_only,
            range: range.clone(),
            position: None,
            last_hop_died: None,
            next_hop: None,
            last_batch_processed: None,
            fan_out: fan_out.filter(|n| *n > 1),
            size_sent: None,
        }
    };

    let Some(previous) = state else {
        return Ok(run_batch(fresh(1, cursor.clone())));
    };
    let generation = previous.generation.saturating_add(1);
    match previous.status {
        // A running chain keeps its single writer (a reset waits for it to
        // stop), unless the caller takes over: an inline one-batch run
        // (runToCompletion) or a chain found dead. The bumped generation
        // makes the old chain's pending hop stale, so no batch is ever
        // processed twice.
        WorkerStatus::InProgress if !*one_batch_only && !*stalled => {
            return Ok(nothing(previous, "already running".into()));
        }
        WorkerStatus::Success if !*reset && cursor.is_none() => {
            return Ok(nothing(
                previous,
                "already completed; pass reset: true to run it again".into(),
            ));
        }
        _ => {}
    }
    if *reset {
        // Start over: nothing of the previous pass carries over but the
        // generation, which must keep rising.
        return Ok(run_batch(fresh(generation, cursor.clone())));
    }

    let mut next = previous.clone();
    next.status = WorkerStatus::InProgress;
    next.generation = generation;
    // The last size used, unless a new one is given; a lowered ceiling
    // lowers it too.
    let last = match max_batch_size {
        Some(max) => previous.batch_size.min(max),
        None => previous.batch_size,
    };
    next.batch_size = batch_size.unwrap_or(last).max(1);
    next.max_batch_size = max_batch_size.unwrap_or(previous.max_batch_size.max(next.batch_size));
    next.adaptive = adaptive.unwrap_or(previous.adaptive);
    next.cheap_streak = 0;
    next.occ_retries = 0;
    next.error = None;
    next.ended_ms = None;
    next.one_batch_only = *one_batch_only;
    if range.is_some() {
        next.range = range.clone();
    }
    // A worker count given again replaces the one a lone worker has yet to
    // fan out to (1 keeps it alone); a start that names none (a stalled
    // chain resumed by a check) keeps it.
    if let Some(n) = fan_out {
        next.fan_out = (*n > 1).then_some(*n);
    }
    if let Some(explicit) = cursor {
        // A new starting point: the old counters describe another pass.
        next.cursor = Some(explicit.clone());
        next.processed = 0;
        next.updated = 0;
        next.batches = 0;
        next.started_ms = *now_ms;
        next.last_batch_ms = None;
    }
    Ok(run_batch(next))
}

/// A migration that could not start is recorded as failed, so its status
/// says why instead of the series stopping silently. A running worker is
/// left alone (a live chain keeps its single writer).
fn start_refused(
    state: Option<&WorkerState>,
    now_ms: f64,
    message: &str,
) -> Result<Transition, EngineError> {
    let next = match state {
        Some(s) if s.status == WorkerStatus::InProgress => {
            return Ok(nothing(s, "already running".into()));
        }
        Some(s) => {
            let mut n = s.clone();
            n.generation = n.generation.saturating_add(1);
            n
        }
        None => start(None, &Event::start_at(now_ms))?.state,
    };
    let failure = Failure {
        kind: FailureKind::User,
        message: format!("it could not start: {message}"),
        document_id: None,
        cursor: next.cursor.clone(),
        batch_size: next.batch_size,
        at_ms: now_ms,
    };
    Ok(failed(next, failure))
}

/// A hop that died whole is recorded as a failure, never retried in place:
/// whatever killed it (a document larger than what one transaction may read,
/// a time-out) would most likely kill the retry too, and a chain that keeps
/// dying never ends. A limit or a time-out halves the size the next start
/// resumes with. `kind` is [`Event::failure_kind`] of the event.
fn hop_died(
    state: &WorkerState,
    now_ms: f64,
    kind: FailureKind,
    message: Option<&str>,
) -> Transition {
    let message = message.unwrap_or(
        "the runtime kept no error text (most likely a transaction limit or a time-out)",
    );
    let at = match &state.cursor {
        Some(c) => format!("after cursor {c}"),
        None => "at the start of the range".to_string(),
    };
    let failure = Failure {
        kind,
        message: format!(
            "the batch of {} {at} died as a whole transaction before anything could be recorded: {message}",
            state.batch_size
        ),
        document_id: None,
        cursor: state.cursor.clone(),
        batch_size: state.batch_size,
        at_ms: now_ms,
    };
    let mut next = state.clone();
    if kind == FailureKind::Limit {
        next.batch_size = after_limit_failure(state.batch_size).unwrap_or(1);
        next.cheap_streak = 0;
        // Growth never brings the chain back to the size that died (a
        // time-out would kill it again): the ceiling drops with the size.
        next.max_batch_size = next.max_batch_size.min(next.batch_size);
    }
    next.last_hop_died = Some(true);
    failed(next, failure)
}

fn batch_failed(
    state: &WorkerState,
    now_ms: f64,
    kind: FailureKind,
    message: &str,
    document_id: Option<&str>,
) -> Transition {
    let mut next = state.clone();
    next.last_hop_died = None;
    match kind {
        FailureKind::Limit => {
            if let Some(smaller) = after_limit_failure(state.batch_size) {
                next.batch_size = smaller;
                next.cheap_streak = 0;
                return run_batch(next);
            }
        }
        FailureKind::Occ => {
            if state.occ_retries < MAX_OCC_RETRIES {
                next.occ_retries = state.occ_retries.saturating_add(1);
                return run_batch(next);
            }
        }
        FailureKind::User => {}
        FailureKind::CodeChanged => {
            // Not a failure to fix in place: a failed migration may resume
            // with edited code, which here would mix versions. Cancel, so the
            // next start sees the edit as drift and decides.
            next.status = WorkerStatus::Canceled;
            next.ended_ms = Some(now_ms);
            next.generation = next.generation.saturating_add(1);
            return Transition {
                state: next,
                action: Action::CancelJob {
                    reason: message.to_string(),
                },
            };
        }
    }
    let after = match &state.cursor {
        Some(c) => format!("after cursor {c}"),
        None => "at the start of the range".to_string(),
    };
    let sentence = match (kind, document_id) {
        (FailureKind::Limit, Some(id)) => {
            format!("document {id} exceeds a transaction limit even in a batch of one: {message}")
        }
        (FailureKind::Limit, None) => {
            format!("the document {after} exceeds a transaction limit even in a batch of one: {message}")
        }
        (FailureKind::Occ, _) => format!(
            "the batch {after} kept conflicting with concurrent writes ({} attempts): {message}",
            MAX_OCC_RETRIES.saturating_add(1)
        ),
        (FailureKind::User, Some(id)) => format!("migrateOne failed on document {id}: {message}"),
        // Without a document the error came from around the documents (the
        // page read, the cursor, the range), not from migrateOne.
        (FailureKind::User, None) => format!("the batch {after} failed: {message}"),
        (FailureKind::CodeChanged, _) => message.to_string(),
    };
    let failure = Failure {
        kind,
        message: sentence,
        document_id: document_id.map(str::to_string),
        cursor: state.cursor.clone(),
        batch_size: state.batch_size,
        at_ms: now_ms,
    };
    failed(next, failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MAX_BATCH_SIZE;

    const T0: f64 = 1_000_000.0;

    fn limits() -> Limits {
        Limits::convex()
    }

    fn start_event() -> Event {
        Event::start_at(T0)
    }

    fn start_with(f: impl FnOnce(&mut Event)) -> Event {
        let mut e = start_event();
        f(&mut e);
        e
    }

    fn committed(processed: u64, cursor: &str, is_done: bool) -> Event {
        Event::BatchCommitted {
            now_ms: T0 + 10.0,
            processed,
            updated: processed / 2,
            cursor: cursor.into(),
            is_done,
            hop_ms: None,
            usage: None,
            budget: None,
            position: None,
        }
    }

    /// A failed batch whose error the engine judges to be of `kind`.
    fn failed(kind: FailureKind, document_id: Option<&str>) -> Event {
        let (message, code) = match kind {
            FailureKind::Limit => ("boom: too many documents read", None),
            FailureKind::Occ => ("boom: changed while this mutation was being run", None),
            FailureKind::User => ("boom", None),
            FailureKind::CodeChanged => ("boom", Some(crate::failure::CODE_CHANGED.to_string())),
        };
        Event::BatchFailed {
            now_ms: T0 + 20.0,
            message: message.into(),
            code,
            document_id: document_id.map(str::to_string),
        }
    }

    fn running() -> WorkerState {
        step(None, &start_event(), &limits()).unwrap().state
    }

    fn apply(state: &WorkerState, event: &Event) -> Transition {
        step(Some(state), event, &limits()).unwrap()
    }

    fn with_status(status: WorkerStatus) -> WorkerState {
        let mut s = apply(&running(), &committed(100, "c1", false)).state;
        s.status = status;
        if status != WorkerStatus::InProgress {
            s.ended_ms = Some(T0 + 30.0);
        }
        s
    }

    #[test]
    fn start_from_nothing_runs_first_batch_with_defaults() {
        let t = step(None, &start_event(), &limits()).unwrap();
        assert_eq!(t.state.status, WorkerStatus::InProgress);
        assert_eq!(t.state.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(t.state.max_batch_size, DEFAULT_MAX_BATCH_SIZE);
        assert!(t.state.adaptive);
        assert_eq!(t.state.generation, 1);
        assert_eq!(t.state.started_ms, T0);
        assert_eq!(
            t.action,
            Action::RunBatch {
                cursor: None,
                batch_size: 100,
                generation: 1,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn start_with_large_batch_keeps_the_default_max() {
        let e = start_with(|e| {
            if let Event::Start { batch_size, .. } = e {
                *batch_size = Some(12_000.0);
            }
        });
        let t = step(None, &e, &limits()).unwrap();
        assert_eq!(t.state.batch_size, 12_000);
        assert_eq!(t.state.max_batch_size, DEFAULT_MAX_BATCH_SIZE);
    }

    #[test]
    fn start_with_small_max_lowers_default_batch_size() {
        let e = start_with(|e| {
            if let Event::Start { max_batch_size, .. } = e {
                *max_batch_size = Some(10.0);
            }
        });
        let t = step(None, &e, &limits()).unwrap();
        assert_eq!(t.state.batch_size, 10);
        assert_eq!(t.state.max_batch_size, 10);
    }

    #[test]
    fn start_refuses_invalid_batch_size() {
        for bad in [0.0, -5.0, 2.5, 1e9, f64::NAN] {
            let e = start_with(|e| {
                if let Event::Start { batch_size, .. } = e {
                    *batch_size = Some(bad);
                }
            });
            assert!(matches!(
                step(None, &e, &limits()),
                Err(EngineError::InvalidBatchSize {
                    max: MAX_BATCH_SIZE,
                    ..
                })
            ));
        }
    }

    #[test]
    fn start_refuses_max_below_batch_size() {
        let e = start_with(|e| {
            if let Event::Start {
                batch_size,
                max_batch_size,
                ..
            } = e
            {
                *batch_size = Some(500.0);
                *max_batch_size = Some(200.0);
            }
        });
        assert_eq!(
            step(None, &e, &limits()),
            Err(EngineError::InvalidBatchSize {
                value: "500".into(),
                max: 200
            })
        );
    }

    #[test]
    fn start_refuses_invalid_batch_size_even_when_running() {
        let e = start_with(|e| {
            if let Event::Start { batch_size, .. } = e {
                *batch_size = Some(0.0);
            }
        });
        assert!(step(Some(&running()), &e, &limits()).is_err());
    }

    #[test]
    fn start_with_explicit_cursor_begins_there() {
        let e = start_with(|e| {
            if let Event::Start { cursor, .. } = e {
                *cursor = Some("c9".into());
            }
        });
        let t = step(None, &e, &limits()).unwrap();
        assert_eq!(t.state.cursor.as_deref(), Some("c9"));
    }

    #[test]
    fn start_skips_completed_migration() {
        let done = apply(&running(), &committed(10, "end", true)).state;
        let t = apply(&done, &start_event());
        assert_eq!(t.state, done);
        assert!(matches!(t.action, Action::Nothing { .. }));
    }

    #[test]
    fn start_with_reset_reruns_completed_migration_from_scratch() {
        let done = apply(&running(), &committed(10, "end", true)).state;
        let e = start_with(|e| {
            if let Event::Start { reset, now_ms, .. } = e {
                *reset = true;
                *now_ms = T0 + 500.0;
            }
        });
        let t = apply(&done, &e);
        assert_eq!(t.state.status, WorkerStatus::InProgress);
        assert_eq!(t.state.processed, 0);
        assert_eq!(t.state.batches, 0);
        assert_eq!(t.state.cursor, None);
        assert_eq!(t.state.started_ms, T0 + 500.0);
        assert_eq!(t.state.ended_ms, None);
        assert_eq!(t.state.generation, done.generation + 1);
        assert_eq!(
            t.action,
            Action::RunBatch {
                cursor: None,
                batch_size: 100,
                generation: done.generation + 1,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn start_with_cursor_reruns_completed_migration_from_that_cursor() {
        let done = apply(&running(), &committed(10, "end", true)).state;
        let e = start_with(|e| {
            if let Event::Start { cursor, .. } = e {
                *cursor = Some("mid".into());
            }
        });
        let t = apply(&done, &e);
        assert_eq!(t.state.status, WorkerStatus::InProgress);
        assert_eq!(t.state.processed, 0);
        assert_eq!(t.state.cursor.as_deref(), Some("mid"));
    }

    #[test]
    fn start_one_batch_only_takes_over_a_running_chain() {
        let s = running();
        let t = apply(
            &s,
            &start_with(|e| {
                if let Event::Start { one_batch_only, .. } = e {
                    *one_batch_only = true;
                }
            }),
        );
        assert!(matches!(t.action, Action::RunBatch { .. }));
        assert!(t.state.generation > s.generation);
        // The old chain's pending hop is now stale.
        let stale = apply(
            &t.state,
            &Event::Tick {
                generation: s.generation,
            },
        );
        assert!(matches!(stale.action, Action::Nothing { .. }));
    }

    #[test]
    fn start_resumes_a_stalled_chain_from_its_cursor() {
        let s = apply(&running(), &committed(100, "c1", false)).state;
        let t = apply(
            &s,
            &start_with(|e| {
                if let Event::Start { stalled, .. } = e {
                    *stalled = true;
                }
            }),
        );
        match t.action {
            Action::RunBatch {
                cursor, generation, ..
            } => {
                assert_eq!(cursor.as_deref(), Some("c1"));
                assert!(generation > s.generation);
            }
            other => panic!("expected RunBatch, got {other:?}"),
        }
        assert_eq!(t.state.processed, 100);
    }

    #[test]
    fn code_changed_mid_run_cancels_the_job_instead_of_failing() {
        let s = apply(&running(), &committed(100, "c1", false)).state;
        let t = apply(&s, &failed(FailureKind::CodeChanged, None));
        assert_eq!(t.state.status, WorkerStatus::Canceled);
        assert_eq!(t.state.cursor.as_deref(), Some("c1"));
        assert!(t.state.error.is_none());
        assert!(t.state.generation > s.generation);
        assert!(matches!(t.action, Action::CancelJob { .. }));
    }

    #[test]
    fn start_while_running_does_nothing() {
        let s = running();
        for e in [
            start_event(),
            start_with(|e| {
                if let Event::Start { reset, .. } = e {
                    *reset = true;
                }
            }),
        ] {
            let t = apply(&s, &e);
            assert_eq!(t.state, s);
            assert!(matches!(t.action, Action::Nothing { .. }));
        }
    }

    #[test]
    fn start_resumes_failed_worker_from_stored_cursor() {
        let s = apply(
            &with_status(WorkerStatus::InProgress),
            &failed(FailureKind::User, Some("d1")),
        )
        .state;
        assert_eq!(s.status, WorkerStatus::Failed);
        let t = apply(&s, &start_event());
        assert_eq!(t.state.status, WorkerStatus::InProgress);
        assert_eq!(t.state.error, None);
        assert_eq!(t.state.ended_ms, None);
        assert_eq!(t.state.processed, 100);
        assert_eq!(t.state.started_ms, s.started_ms);
        assert_eq!(t.state.generation, s.generation + 1);
        assert_eq!(
            t.action,
            Action::RunBatch {
                cursor: Some("c1".into()),
                batch_size: s.batch_size,
                generation: s.generation + 1,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn start_resumes_canceled_and_paused_workers() {
        for status in [WorkerStatus::Canceled, WorkerStatus::Paused] {
            let s = with_status(status);
            let t = apply(&s, &start_event());
            assert_eq!(t.state.status, WorkerStatus::InProgress);
            assert_eq!(t.state.cursor.as_deref(), Some("c1"));
            assert_eq!(t.state.processed, 100);
        }
    }

    #[test]
    fn resume_uses_given_batch_size_else_last_used() {
        let mut s = with_status(WorkerStatus::Failed);
        s.batch_size = 25;
        assert_eq!(apply(&s, &start_event()).state.batch_size, 25);
        let e = start_with(|e| {
            if let Event::Start { batch_size, .. } = e {
                *batch_size = Some(10_000.0);
            }
        });
        let t = apply(&s, &e);
        assert_eq!(t.state.batch_size, 10_000);
        assert_eq!(t.state.max_batch_size, DEFAULT_MAX_BATCH_SIZE);
    }

    #[test]
    fn resume_with_lower_max_lowers_last_size() {
        let mut s = with_status(WorkerStatus::Paused);
        s.batch_size = 400;
        let e = start_with(|e| {
            if let Event::Start { max_batch_size, .. } = e {
                *max_batch_size = Some(150.0);
            }
        });
        let t = apply(&s, &e);
        assert_eq!(t.state.batch_size, 150);
        assert_eq!(t.state.max_batch_size, 150);
    }

    #[test]
    fn resume_with_explicit_cursor_resets_counters() {
        let s = with_status(WorkerStatus::Failed);
        let e = start_with(|e| {
            if let Event::Start { cursor, .. } = e {
                *cursor = Some("c5".into());
            }
        });
        let t = apply(&s, &e);
        assert_eq!(t.state.cursor.as_deref(), Some("c5"));
        assert_eq!(t.state.processed, 0);
        assert_eq!(t.state.batches, 0);
    }

    #[test]
    fn resume_with_reset_starts_from_the_beginning() {
        let s = with_status(WorkerStatus::Canceled);
        let e = start_with(|e| {
            if let Event::Start { reset, .. } = e {
                *reset = true;
            }
        });
        let t = apply(&s, &e);
        assert_eq!(t.state.cursor, None);
        assert_eq!(t.state.processed, 0);
    }

    #[test]
    fn tick_with_current_generation_runs_batch() {
        let s = running();
        let t = apply(&s, &Event::Tick { generation: 1 });
        assert_eq!(t.state, s);
        assert_eq!(
            t.action,
            Action::RunBatch {
                cursor: None,
                batch_size: 100,
                generation: 1,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn tick_with_stale_generation_does_nothing() {
        let s = running();
        let t = apply(&s, &Event::Tick { generation: 0 });
        assert_eq!(t.state, s);
        assert!(matches!(&t.action, Action::Nothing { reason } if reason.contains("stale")));
    }

    #[test]
    fn tick_after_cancel_does_nothing() {
        let s = apply(&running(), &Event::CancelRequested { now_ms: T0 }).state;
        for generation in [1, s.generation] {
            let t = apply(&s, &Event::Tick { generation });
            assert!(matches!(&t.action, Action::Nothing { reason } if reason.contains("stale")));
        }
    }

    #[test]
    fn tick_from_old_run_after_restart_does_nothing() {
        let s = apply(&running(), &Event::CancelRequested { now_ms: T0 }).state;
        let restarted = apply(&s, &start_event()).state;
        let t = apply(&restarted, &Event::Tick { generation: 1 });
        assert!(matches!(t.action, Action::Nothing { .. }));
    }

    #[test]
    fn events_without_state_other_than_start_are_refused() {
        for e in [
            Event::Tick { generation: 1 },
            committed(1, "c", false),
            failed(FailureKind::User, None),
            Event::CancelRequested { now_ms: T0 },
            Event::Halt { now_ms: T0 },
        ] {
            assert!(matches!(
                step(None, &e, &limits()),
                Err(EngineError::InvalidTransition { .. })
            ));
        }
    }

    #[test]
    fn commit_adds_counters_and_runs_next_batch_from_new_cursor() {
        let t = apply(&running(), &committed(100, "c1", false));
        assert_eq!(t.state.processed, 100);
        assert_eq!(t.state.updated, 50);
        assert_eq!(t.state.batches, 1);
        assert_eq!(t.state.cursor.as_deref(), Some("c1"));
        assert_eq!(t.state.last_batch_ms, Some(T0 + 10.0));
        assert_eq!(
            t.action,
            Action::RunBatch {
                cursor: Some("c1".into()),
                batch_size: 100,
                generation: 1,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn commit_of_last_page_finishes() {
        let t = apply(&running(), &committed(7, "end", true));
        assert_eq!(t.state.status, WorkerStatus::Success);
        assert_eq!(t.state.ended_ms, Some(T0 + 10.0));
        assert_eq!(t.action, Action::Finish);
    }

    #[test]
    fn commit_with_one_batch_only_pauses() {
        let e = start_with(|e| {
            if let Event::Start { one_batch_only, .. } = e {
                *one_batch_only = true;
            }
        });
        let s = step(None, &e, &limits()).unwrap().state;
        let t = apply(&s, &committed(100, "c1", false));
        assert_eq!(t.state.status, WorkerStatus::Paused);
        assert_eq!(t.action, Action::Stop);
        let resumed = apply(&t.state, &start_event());
        assert_eq!(
            resumed.action,
            Action::RunBatch {
                cursor: Some("c1".into()),
                batch_size: 100,
                generation: 2,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn commit_resets_occ_retries() {
        let s = apply(&running(), &failed(FailureKind::Occ, None)).state;
        assert_eq!(s.occ_retries, 1);
        assert_eq!(apply(&s, &committed(1, "c", false)).state.occ_retries, 0);
    }

    #[test]
    fn commit_grows_after_cheap_batches_when_adaptive() {
        let mut s = running();
        let mut sizes = Vec::new();
        for i in 0..2 {
            let mut e = committed(s.batch_size.into(), &format!("c{i}"), false);
            if let Event::BatchCommitted { usage, .. } = &mut e {
                *usage = Some(Usage {
                    documents_read: s.batch_size.into(),
                    documents_written: s.batch_size.into(),
                    ..Usage::default()
                });
            }
            s = apply(&s, &e).state;
            sizes.push(s.batch_size);
        }
        assert_eq!(sizes, [800, 6_400]);
    }

    #[test]
    fn commit_keeps_size_when_not_adaptive() {
        let e = start_with(|e| {
            if let Event::Start { adaptive, .. } = e {
                *adaptive = Some(false);
            }
        });
        let mut s = step(None, &e, &limits()).unwrap().state;
        for i in 0..5 {
            s = apply(&s, &committed(100, &format!("c{i}"), false)).state;
        }
        assert_eq!(s.batch_size, 100);
    }

    #[test]
    fn commit_outside_in_progress_is_refused() {
        for status in [
            WorkerStatus::Success,
            WorkerStatus::Failed,
            WorkerStatus::Canceled,
            WorkerStatus::Paused,
        ] {
            let s = with_status(status);
            assert_eq!(
                step(Some(&s), &committed(1, "c", false), &limits()),
                Err(EngineError::InvalidTransition {
                    state: status.as_str().into(),
                    event: "batchCommitted".into()
                })
            );
            assert!(step(Some(&s), &failed(FailureKind::Occ, None), &limits()).is_err());
        }
    }

    #[test]
    fn limit_failure_halves_batch_and_retries_same_cursor() {
        let s = with_status(WorkerStatus::InProgress);
        let t = apply(&s, &failed(FailureKind::Limit, Some("d1")));
        assert_eq!(t.state.status, WorkerStatus::InProgress);
        assert_eq!(t.state.batch_size, 50);
        assert_eq!(t.state.cursor.as_deref(), Some("c1"));
        assert_eq!(
            t.action,
            Action::RunBatch {
                cursor: Some("c1".into()),
                batch_size: 50,
                generation: s.generation,
                inline: Inline::Allowed,
            }
        );
    }

    #[test]
    fn a_batch_that_hands_back_its_cursor_with_nothing_done_fails_instead_of_looping() {
        let limits = Limits::convex();
        let s = step(None, &Event::start_at(1.0), &limits).unwrap().state;
        let commit = |cursor: &str, processed: u64| Event::BatchCommitted {
            now_ms: 2.0,
            processed,
            updated: 0,
            cursor: cursor.into(),
            is_done: false,
            hop_ms: None,
            usage: None,
            budget: None,
            position: None,
        };
        let s = step(Some(&s), &commit("c1", 10), &limits).unwrap().state;
        // An empty page that moves the cursor on is progress.
        let s = step(Some(&s), &commit("c2", 0), &limits).unwrap().state;
        assert_eq!(s.status, WorkerStatus::InProgress);
        let t = step(Some(&s), &commit("c2", 0), &limits).unwrap();
        assert_eq!(t.state.status, WorkerStatus::Failed);
        let Action::Fail { failure } = t.action else {
            panic!("expected a failure, got {:?}", t.action);
        };
        assert!(failure.message.contains("continueCursor"));
        assert_eq!(failure.cursor.as_deref(), Some("c2"));
    }

    #[test]
    fn limit_failure_at_size_one_fails_naming_document() {
        let mut s = with_status(WorkerStatus::InProgress);
        s.batch_size = 1;
        let t = apply(&s, &failed(FailureKind::Limit, Some("doc123")));
        assert_eq!(t.state.status, WorkerStatus::Failed);
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail, got {:?}", t.action);
        };
        assert_eq!(failure.kind, FailureKind::Limit);
        assert_eq!(failure.document_id.as_deref(), Some("doc123"));
        assert!(failure.message.contains("doc123"));
        assert!(failure.message.contains("boom"));
        assert_eq!(failure.batch_size, 1);
        assert_eq!(failure.cursor.as_deref(), Some("c1"));
        assert_eq!(t.state.error.as_ref(), Some(failure));
        assert_eq!(t.state.ended_ms, Some(T0 + 20.0));
    }

    #[test]
    fn user_failure_without_a_document_blames_the_batch_not_migrate_one() {
        let s = with_status(WorkerStatus::InProgress);
        let t = apply(&s, &failed(FailureKind::User, None));
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail");
        };
        assert!(failure
            .message
            .starts_with("the batch after cursor c1 failed: "));
        assert!(!failure.message.contains("migrateOne"));
    }

    #[test]
    fn limit_failure_at_size_one_without_id_names_the_cursor() {
        let mut s = with_status(WorkerStatus::InProgress);
        s.batch_size = 1;
        let t = apply(&s, &failed(FailureKind::Limit, None));
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail");
        };
        assert!(failure.message.contains("after cursor c1"));
    }

    fn hop_died(message: &str) -> Event {
        Event::HopDied {
            now_ms: T0 + 40.0,
            message: Some(message.into()),
        }
    }

    const READ_LIMIT: &str =
        "Read too much data in a single function execution (limit: 300000 bytes).";

    #[test]
    fn hop_died_fails_naming_the_cursor_and_the_error_and_resumes_with_half_the_batch() {
        let s = with_status(WorkerStatus::InProgress);
        let t = apply(&s, &hop_died(READ_LIMIT));
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail, got {:?}", t.action);
        };
        assert_eq!(t.state.status, WorkerStatus::Failed);
        assert_eq!(failure.kind, FailureKind::Limit);
        assert_eq!(failure.batch_size, s.batch_size);
        assert!(
            failure.message.contains("after cursor c1"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("died as a whole transaction"),
            "{}",
            failure.message
        );
        assert!(failure.message.contains(READ_LIMIT), "{}", failure.message);
        assert_eq!(t.state.error.as_ref(), Some(failure));
        // The next start resumes from the same cursor with half the batch,
        // in a hop of its own rather than inside the start.
        let resumed = apply(&t.state, &start_event());
        assert_eq!(
            resumed.action,
            Action::RunBatch {
                cursor: Some("c1".into()),
                batch_size: s.batch_size / 2,
                generation: s.generation + 1,
                inline: Inline::Never,
            }
        );
        // Growth never takes it back to the size that died.
        assert_eq!(resumed.state.max_batch_size, s.batch_size / 2);
        let mut grown = resumed.state.clone();
        for i in 0..6 {
            grown = apply(
                &grown,
                &committed(grown.batch_size.into(), &format!("g{i}"), false),
            )
            .state;
        }
        assert!(grown.batch_size < s.batch_size, "{}", grown.batch_size);
    }

    #[test]
    fn hop_died_next_batch_is_scheduled_until_a_batch_ends() {
        let s = with_status(WorkerStatus::InProgress);
        let died = apply(&s, &hop_died(READ_LIMIT));
        assert_eq!(died.state.last_hop_died, Some(true));
        // The resume keeps the mark, so its first batch is not run inline.
        let resumed = apply(&died.state, &start_event());
        assert_eq!(resumed.state.last_hop_died, Some(true));
        // A batch that commits (or fails inside its own transaction) clears it.
        let committed = apply(&resumed.state, &committed(1, "c2", false));
        assert_eq!(committed.state.last_hop_died, None);
        let failed = apply(
            &resumed.state,
            &Event::BatchFailed {
                now_ms: T0 + 50.0,
                message: "boom".into(),
                code: None,
                document_id: None,
            },
        );
        assert_eq!(failed.state.last_hop_died, None);
        // A reset starts clean.
        let reset = apply(
            &died.state,
            &start_with(|e| {
                if let Event::Start { reset, .. } = e {
                    *reset = true;
                }
            }),
        );
        assert_eq!(reset.state.last_hop_died, None);
    }

    #[test]
    fn hop_died_at_size_one_fails_again_rather_than_looping() {
        let mut s = with_status(WorkerStatus::InProgress);
        s.batch_size = 1;
        let t = apply(&s, &hop_died(READ_LIMIT));
        assert!(matches!(t.action, Action::Fail { .. }));
        assert_eq!(t.state.batch_size, 1);
    }

    #[test]
    fn hop_died_for_any_other_reason_fails_with_its_error_and_keeps_the_size() {
        let s = with_status(WorkerStatus::InProgress);
        let t = apply(&s, &hop_died("Uncaught Error: something broke"));
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail, got {:?}", t.action);
        };
        assert_eq!(failure.kind, FailureKind::User);
        assert!(failure.message.contains("something broke"));
        assert_eq!(t.state.batch_size, s.batch_size);
    }

    #[test]
    fn hop_died_without_error_text_is_taken_for_a_limit() {
        let s = with_status(WorkerStatus::InProgress);
        let t = apply(
            &s,
            &Event::HopDied {
                now_ms: T0,
                message: None,
            },
        );
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail, got {:?}", t.action);
        };
        assert_eq!(failure.kind, FailureKind::Limit);
        assert!(failure.message.contains("kept no error text"));
        assert_eq!(t.state.batch_size, s.batch_size / 2);
    }

    fn start_refused() -> Event {
        Event::StartRefused {
            now_ms: T0,
            message: "m:plain is not a migration".into(),
        }
    }

    #[test]
    fn start_refused_records_a_failed_worker_saying_why() {
        let t = step(None, &start_refused(), &limits()).unwrap();
        assert_eq!(t.state.status, WorkerStatus::Failed);
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail, got {:?}", t.action);
        };
        assert_eq!(
            failure.message,
            "it could not start: m:plain is not a migration"
        );
        assert_eq!(t.state.error.as_ref(), Some(failure));
        // A later start resumes it, as any failed worker.
        assert!(matches!(
            apply(&t.state, &start_event()).action,
            Action::RunBatch { .. }
        ));
    }

    #[test]
    fn start_refused_leaves_a_running_worker_alone() {
        let s = running();
        let t = apply(&s, &start_refused());
        assert!(matches!(t.action, Action::Nothing { .. }));
        assert_eq!(t.state, s);
    }

    #[test]
    fn start_refused_on_a_finished_worker_fails_it_and_bumps_the_generation() {
        let s = with_status(WorkerStatus::Success);
        let t = apply(&s, &start_refused());
        assert_eq!(t.state.status, WorkerStatus::Failed);
        assert_eq!(t.state.generation, s.generation + 1);
    }

    #[test]
    fn hop_died_on_a_stopped_worker_is_refused() {
        let s = with_status(WorkerStatus::Canceled);
        assert!(matches!(
            step(Some(&s), &hop_died(READ_LIMIT), &limits()),
            Err(EngineError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn commit_judges_growth_against_the_budget_the_batch_ran_under() {
        // 100 documents that read 60,000 bytes: cheap against Convex's
        // limits, over the plateau against a 64,000-byte budget.
        let mut s = running();
        s.cheap_streak = 1;
        let usage = Usage {
            bytes_read: 60_000,
            documents_read: 100,
            ..Usage::default()
        };
        let commit = |budget: Option<Limits>| Event::BatchCommitted {
            now_ms: T0 + 10.0,
            processed: 100,
            updated: 100,
            cursor: "c1".into(),
            is_done: false,
            hop_ms: None,
            usage: Some(usage.clone()),
            budget,
            position: None,
        };
        assert_eq!(apply(&s, &commit(None)).state.batch_size, 800);
        let tight = Limits {
            bytes_read: 64_000,
            ..Limits::convex()
        };
        assert_eq!(apply(&s, &commit(Some(tight))).state.batch_size, 90);
    }

    #[test]
    fn limit_failures_repeat_down_to_one_then_fail() {
        let mut s = running();
        let mut retries = 0;
        loop {
            let t = apply(&s, &failed(FailureKind::Limit, Some("big")));
            s = t.state;
            if matches!(t.action, Action::Fail { .. }) {
                break;
            }
            retries += 1;
        }
        // 100 -> 50 -> 25 -> 12 -> 6 -> 3 -> 1, then fail.
        assert_eq!(retries, 6);
        assert_eq!(s.status, WorkerStatus::Failed);
    }

    #[test]
    fn occ_failure_retries_same_size_then_fails() {
        let mut s = with_status(WorkerStatus::InProgress);
        for attempt in 1..=MAX_OCC_RETRIES {
            let t = apply(&s, &failed(FailureKind::Occ, None));
            assert_eq!(t.state.occ_retries, attempt);
            assert_eq!(
                t.action,
                Action::RunBatch {
                    cursor: Some("c1".into()),
                    batch_size: 100,
                    generation: s.generation,
                    inline: Inline::Allowed,
                }
            );
            s = t.state;
        }
        let t = apply(&s, &failed(FailureKind::Occ, None));
        assert_eq!(t.state.status, WorkerStatus::Failed);
        assert!(matches!(&t.action, Action::Fail { failure } if failure.kind == FailureKind::Occ));
    }

    #[test]
    fn user_failure_fails_at_once_naming_document() {
        let t = apply(
            &with_status(WorkerStatus::InProgress),
            &failed(FailureKind::User, Some("d7")),
        );
        assert_eq!(t.state.status, WorkerStatus::Failed);
        let Action::Fail { failure } = &t.action else {
            panic!("expected Fail");
        };
        assert_eq!(failure.kind, FailureKind::User);
        assert_eq!(failure.document_id.as_deref(), Some("d7"));
        assert_eq!(failure.message, "migrateOne failed on document d7: boom");
    }

    #[test]
    fn cancel_stops_running_worker_and_bumps_generation() {
        let s = running();
        let t = apply(&s, &Event::CancelRequested { now_ms: T0 + 5.0 });
        assert_eq!(t.state.status, WorkerStatus::Canceled);
        assert_eq!(t.state.generation, s.generation + 1);
        assert_eq!(t.state.ended_ms, Some(T0 + 5.0));
        assert_eq!(t.action, Action::Stop);
    }

    #[test]
    fn cancel_stops_paused_worker() {
        let s = with_status(WorkerStatus::Paused);
        let t = apply(&s, &Event::CancelRequested { now_ms: T0 + 99.0 });
        assert_eq!(t.state.status, WorkerStatus::Canceled);
        assert_eq!(t.state.ended_ms, s.ended_ms);
        assert_eq!(t.action, Action::Stop);
    }

    #[test]
    fn cancel_after_finish_changes_nothing() {
        for status in [
            WorkerStatus::Success,
            WorkerStatus::Failed,
            WorkerStatus::Canceled,
        ] {
            let s = with_status(status);
            let t = apply(&s, &Event::CancelRequested { now_ms: T0 + 99.0 });
            assert_eq!(t.state, s);
            assert!(matches!(t.action, Action::Nothing { .. }));
        }
    }

    #[test]
    fn cancel_twice_changes_nothing_the_second_time() {
        let once = apply(&running(), &Event::CancelRequested { now_ms: T0 }).state;
        let twice = apply(&once, &Event::CancelRequested { now_ms: T0 + 1.0 });
        assert_eq!(twice.state, once);
    }

    #[test]
    fn halt_pauses_running_worker() {
        let s = running();
        let t = apply(&s, &Event::Halt { now_ms: T0 + 3.0 });
        assert_eq!(t.state.status, WorkerStatus::Paused);
        assert_eq!(t.state.generation, s.generation + 1);
        assert_eq!(t.state.error, None);
        assert_eq!(t.action, Action::Stop);
    }

    #[test]
    fn halt_of_stopped_worker_does_nothing() {
        for status in [
            WorkerStatus::Success,
            WorkerStatus::Failed,
            WorkerStatus::Canceled,
            WorkerStatus::Paused,
        ] {
            let s = with_status(status);
            let t = apply(&s, &Event::Halt { now_ms: T0 });
            assert_eq!(t.state, s);
            assert!(matches!(t.action, Action::Nothing { .. }));
        }
    }

    #[test]
    fn failure_kind_names_match_serialization() {
        for kind in [FailureKind::Limit, FailureKind::Occ, FailureKind::User] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }

    #[test]
    fn events_and_actions_use_camel_case_type_tags() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "type": "batchFailed", "nowMs": 1.0, "message": "m", "code": "X", "documentId": "d"
        }))
        .unwrap();
        assert_eq!(
            e,
            Event::BatchFailed {
                now_ms: 1.0,
                message: "m".into(),
                code: Some("X".into()),
                document_id: Some("d".into())
            }
        );
        let start: Event =
            serde_json::from_value(serde_json::json!({ "type": "start", "nowMs": 1.0 })).unwrap();
        assert!(matches!(
            start,
            Event::Start {
                reset: false,
                one_batch_only: false,
                ..
            }
        ));
        let a = Action::RunBatch {
            cursor: None,
            batch_size: 3,
            generation: 2,
            inline: Inline::Allowed,
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({ "type": "runBatch", "batchSize": 3, "generation": 2, "inline": "allowed" })
        );
    }

    #[test]
    fn worker_state_round_trips_through_json() {
        let s = apply(
            &with_status(WorkerStatus::InProgress),
            &failed(FailureKind::User, Some("d")),
        )
        .state;
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("endedMs").is_some());
        assert!(json.get("range").is_none());
        let back: WorkerState = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
