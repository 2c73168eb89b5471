//! The migration (job) machine: one migration over one table, run by one
//! worker or by one per key range.
//!
//! The worker machine ([`crate::machine`]) decides what happens to one chain
//! of batches; this machine decides what a migration does with all of them:
//! which batch runs where (inside the caller's transaction or in a scheduled
//! hop), that a failing worker halts its siblings, that the migration
//! succeeds when every worker did, what a start does to a chain whose hop
//! died or was lost, and what the migration reports when it settles (the
//! drop-in series' next migration, or a versioned run and its version
//! record). The component calls [`step`] once per event with every worker of
//! the migration and performs the returned actions in order; it decides
//! nothing itself.
//!
//! A batch's outcome is one call: it carries the raw failure (message, code,
//! document) and the hop's timing, and the answer holds the next batch with
//! the limits it runs under.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::estimate::{KeyPosition, PagePosition};
use crate::failure::FailureKind;
use crate::history::Direction;
use crate::history::MigrationState;
use crate::machine::{self, Action, Event, Inline, WorkerState, WorkerStatus};
use crate::policy::{nested_limits_within, Limits, Usage};
use crate::progress;
use crate::ranges::{fan_out_ranges, KeyRange, MAX_PARALLELISM};
use crate::run::RunEvent;
use crate::EngineError;

/// Where a migration stands, from its workers' states.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum JobStatus {
    /// No worker was ever started.
    New,
    /// A worker is running (a batch is running, scheduled or due from its caller).
    Running,
    /// Every worker finished its range.
    Succeeded,
    /// A worker failed; the others were halted.
    Failed,
    /// Stopped by a person, or by code redeployed mid-run.
    Canceled,
    /// Stopped without error after one batch; a start goes on.
    Paused,
}

impl JobStatus {
    /// The status of a migration with these workers: the aggregate the
    /// progress summary reports, and `New` without workers.
    pub fn of<'a>(workers: impl IntoIterator<Item = &'a WorkerState>) -> JobStatus {
        let states: Vec<WorkerState> = workers.into_iter().cloned().collect();
        if states.is_empty() {
            return JobStatus::New;
        }
        match progress::aggregate_status(&states) {
            WorkerStatus::InProgress => JobStatus::Running,
            WorkerStatus::Success => JobStatus::Succeeded,
            WorkerStatus::Failed => JobStatus::Failed,
            WorkerStatus::Canceled => JobStatus::Canceled,
            WorkerStatus::Paused => JobStatus::Paused,
        }
    }
}

/// The state of a scheduled function, as its `_scheduled_functions` record
/// says: a worker's last hop, or the hop a peer row's `workerId` points at.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum HopState {
    Pending,
    InProgress,
    Success,
    Failed,
    Canceled,
}

/// One worker of the migration, with what the component knows of its hop.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobWorker {
    pub index: u32,
    pub state: WorkerState,
    /// Its last scheduled hop's state; absent when it has none (or the
    /// record is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub hop: Option<HopState>,
    /// The error a failed hop's record kept, if the runtime kept one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub hop_error: Option<String>,
}

/// What a batch's nested transaction did.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum BatchOutcome {
    /// It committed.
    Committed {
        #[ts(type = "number")]
        processed: u64,
        #[ts(type = "number")]
        updated: u64,
        cursor: String,
        is_done: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        usage: Option<Usage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        position: Option<PagePosition>,
    },
    /// It threw and rolled back: the error as thrown.
    Threw {
        message: String,
        /// The `kind` of a coded error, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code: Option<String>,
        /// The document being migrated when it threw, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        document_id: Option<String>,
    },
}

/// Something that happened to a migration.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum JobEvent {
    /// Someone asked the migration to run (start, resume, reset).
    Start {
        now_ms: f64,
        /// A size given with this start: it overrides what workers learned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        batch_size: Option<f64>,
        /// The migration's own size, for workers that start fresh.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        default_batch_size: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        max_batch_size: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        adaptive: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        cursor: Option<String>,
        #[serde(default)]
        reset: bool,
        #[serde(default)]
        one_batch_only: bool,
        /// This start's transaction may carry the first worker's batch.
        #[serde(default)]
        inline: bool,
        /// How many workers the migration runs with (its `workers`), as
        /// JavaScript holds it so that `0` or `2.5` get a clear error. A
        /// migration without workers, or a reset of one whose only worker
        /// covers the whole table, starts one worker that fans out to this
        /// many once its batch size stops growing (see [`fan_out`]). A
        /// resume of that lone worker takes the count given now; once it
        /// has fanned out, the number of workers stays as it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        workers: Option<f64>,
    },
    /// Someone looked at a running migration (a versioned start finding its
    /// run active): record a hop that died, take over a chain whose hop is
    /// gone, change nothing else.
    Check { now_ms: f64 },
    /// A hop scheduled before hops were looked up by `nextHop` arrived.
    Tick {
        index: u32,
        #[ts(type = "number")]
        generation: u64,
    },
    /// A batch of worker `index` ended.
    BatchDone {
        index: u32,
        now_ms: f64,
        outcome: BatchOutcome,
        /// The limits the batch ran under.
        budget: Limits,
        /// How long the hop before this one ran, from the
        /// `_scheduled_functions` records: this hop was scheduled at that
        /// hop's start (its clock stands still), and that hop's record says
        /// when it completed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        previous_hop_ms: Option<f64>,
    },
    /// Someone asked the migration to stop.
    Cancel { now_ms: f64 },
    /// The migration could not start at all (its function is gone or no
    /// longer a migration).
    StartRefused { now_ms: f64, message: String },
}

/// One batch to run: where, how many, under which generation and limits.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BatchPlan {
    /// Send no batch size: the function takes its own (see
    /// [`JobRequest::own_size`]). `batch_size` is then only the engine's
    /// fallback, sent once a limit failure makes it halve what ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub own_size: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    pub batch_size: u32,
    #[ts(type = "number")]
    pub generation: u64,
    /// The limits to run the app's nested batch under.
    pub limits: Limits,
    /// Check that the cursor fits the migration's table and index: the
    /// first batch after a start, whose cursor a person may have passed or
    /// a redeploy may have made foreign; a cursor the previous batch of the
    /// same chain returned is the query's own.
    pub check_cursor: bool,
}

/// How a migration settled.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum JobOutcome {
    Success,
    Failed,
    Canceled,
}

/// What the component must do, in order.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum JobAction {
    /// Store worker `index` (insert it when new). With `hop`, first
    /// schedule a hop that runs that batch, and store its id with the row.
    Put {
        index: u32,
        state: Box<WorkerState>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        hop: Option<BatchPlan>,
        /// The worker whose hop (as it was before this step) is the one
        /// before `hop`, whose record times it: a worker created by a
        /// fan-out is timed by the hop that created it. Worker `index`
        /// itself when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        previous_hop_of: Option<u32>,
    },
    /// Cancel worker `index`'s pending hop.
    CancelHop { index: u32 },
    /// Run this batch of worker `index` now, inside this transaction, and
    /// send its outcome back as `batchDone`.
    RunInline { index: u32, batch: BatchPlan },
    /// The migration runs again: it is not done, has no end, and (when set)
    /// a new pass started at `latestStart`.
    Began {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        latest_start: Option<f64>,
    },
    /// The migration settled; `isDone` and `latestEnd` as given.
    Settled {
        outcome: JobOutcome,
        is_done: bool,
        latest_end: f64,
    },
    /// Start the next migration of the drop-in series.
    StartNext,
    /// Store this state in the versioned migration's record.
    RecordVersion {
        state: MigrationState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        applied_at: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        rolled_back_at: Option<f64>,
    },
    /// Feed this event to the versioned run the migration belongs to.
    ReportToRun { event: RunEvent },
    /// Say this in the deployment's log.
    Warn { message: String },
    /// Refuse the whole call (its writes roll back): a function on trial
    /// failed, so it is no migration.
    Refuse { message: String },
    /// Read every worker of the migration and send the same event again:
    /// the outcome changes the migration, not only its worker.
    ReadSiblings,
}

/// One event for one migration with all its workers.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobRequest {
    pub workers: Vec<JobWorker>,
    pub event: JobEvent,
    /// The deployment's transaction limits; Convex's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limits: Option<Limits>,
    /// What this transaction has left (`getTransactionMetrics()`), read
    /// once; a batch run inside it is budgeted from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub remaining: Option<Usage>,
    /// What this transaction has used, read with `remaining`: together they
    /// are the runtime's real limits, from which a scheduled hop's batch is
    /// budgeted (they may be tighter than `limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub used: Option<Usage>,
    /// The direction, when the migration is an item of a versioned run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub versioned: Option<Direction>,
    /// A drop-in series goes on after this migration.
    #[serde(default)]
    pub has_next: bool,
    /// The function is on trial (a hand-written mutation not yet seen to
    /// speak the batch protocol): a failure in this step refuses the whole
    /// start, so nothing of it is kept.
    #[serde(default)]
    pub on_trial: bool,
    /// Only the event's own worker was read (a hop's batch outcome, read
    /// without its siblings so that parallel workers' hops do not conflict
    /// on each other's rows). When the event needs the siblings, the
    /// answer is [`JobAction::ReadSiblings`] and nothing else.
    #[serde(default)]
    pub siblings_unread: bool,
    /// The function picks its own batch size when none is sent (a
    /// hand-written mutation speaking the peer's protocol, started without
    /// a size). The engine sends none until a batch hits a limit, then the
    /// half of what that function last ran, and sends a size from then on.
    #[serde(default)]
    pub own_size: bool,
}

/// The migration's status after the event and what to do.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobTransition {
    pub status: JobStatus,
    pub actions: Vec<JobAction>,
}

/// Whether a running worker's chain is broken: it is running, and no hop
/// of it will run (none pending or running). The one definition, used by a
/// start (which then takes the chain over) and by status.
pub fn is_stalled(worker: &JobWorker) -> bool {
    worker.state.status == WorkerStatus::InProgress
        && !matches!(worker.hop, Some(HopState::Pending | HopState::InProgress))
}

/// Whether a running worker's last hop died as a whole: it recorded
/// nothing, so the worker still says it is running.
pub fn hop_died(worker: &JobWorker) -> bool {
    worker.state.status == WorkerStatus::InProgress && worker.hop == Some(HopState::Failed)
}

/// What status pages show of a migration beyond its summary.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobView {
    pub status: JobStatus,
    /// A running worker's chain is broken; a start resumes it.
    pub stalled: bool,
    /// Why a running worker's last hop died, until a start records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub dead_hop: Option<String>,
}

/// The view of a migration's workers with their hops.
pub fn view(workers: &[JobWorker]) -> JobView {
    let dead_hop = workers.iter().find(|w| hop_died(w)).map(|w| {
        let why = w
            .hop_error
            .as_deref()
            .unwrap_or("its scheduled function failed, with no error text kept");
        format!("its last batch died and recorded nothing: {why}. Start it again to record the failure.")
    });
    JobView {
        status: JobStatus::of(workers.iter().map(|w| &w.state)),
        stalled: workers.iter().any(is_stalled),
        dead_hop,
    }
}

/// Where a batch the worker machine asked for runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In this transaction (a start's first batch, a caller-driven batch).
    Here,
    /// In a scheduled hop of its own.
    Hop,
    /// Nowhere yet: the caller drives the worker batch by batch and calls
    /// again (a one-batch worker whose batch must be retried).
    Caller,
}

struct Work {
    limits: Limits,
    remaining: Option<Usage>,
    workers: Vec<JobWorker>,
    /// Puts and hop cancels, in order.
    actions: Vec<JobAction>,
    inline: Option<JobAction>,
    warnings: Vec<JobAction>,
    /// The function picks its own batch size (see [`JobRequest::own_size`]).
    own_size: bool,
}

impl Work {
    fn position(&self, index: u32) -> Option<usize> {
        self.workers.iter().position(|w| w.index == index)
    }

    /// Feed one worker event and carry its action into job actions.
    fn feed(
        &mut self,
        index: u32,
        event: &Event,
        may_run_here: bool,
        after_batch: bool,
    ) -> Result<(), EngineError> {
        let at = self.position(index);
        let mut previous = at.map(|i| self.workers[i].state.clone());
        if let (true, Some(state)) = (self.own_size, previous.as_mut()) {
            told_what_it_ran(state, event);
        }
        let t = machine::step(previous.as_ref(), event, &self.limits)?;
        self.carry(index, at, t, may_run_here, after_batch, event)
    }

    #[allow(clippy::too_many_arguments)]
    fn carry(
        &mut self,
        index: u32,
        at: Option<usize>,
        t: machine::Transition,
        may_run_here: bool,
        after_batch: bool,
        event: &Event,
    ) -> Result<(), EngineError> {
        let mut state = t.state;
        let now_ms = event_time(event);
        match t.action {
            Action::Nothing { .. } => return Ok(()),
            Action::RunBatch { inline, .. } => {
                let place = match (inline, may_run_here, after_batch) {
                    // A batch after an outcome never runs in the same
                    // transaction: a rolled-back batch's reads still count
                    // against it.
                    (Inline::Always, _, true) => Place::Caller,
                    (Inline::Always, _, false) => Place::Here,
                    (Inline::Allowed, true, _) => Place::Here,
                    _ => Place::Hop,
                };
                let own_size = self.own_size;
                let plan = |limits: Limits, s: &WorkerState| BatchPlan {
                    own_size: sends_no_size(own_size, s).then_some(true),
                    cursor: s.cursor.clone(),
                    batch_size: s.batch_size,
                    generation: s.generation,
                    limits,
                    check_cursor: !after_batch,
                };
                match place {
                    Place::Here => {
                        state.next_hop = None;
                        let limits = nested_limits_within(&self.limits, self.remaining.as_ref());
                        self.inline = Some(JobAction::RunInline {
                            index,
                            batch: plan(limits, &state),
                        });
                        self.put(index, at, state, None);
                    }
                    Place::Hop => {
                        state.next_hop = Some(state.generation);
                        // A hop is a fresh transaction: budget from all of it.
                        let whole = whole_transaction(&self.limits);
                        let limits = nested_limits_within(&self.limits, Some(&whole));
                        let hop = plan(limits, &state);
                        self.put(index, at, state, Some(hop));
                    }
                    Place::Caller => {
                        state.next_hop = None;
                        self.put(index, at, state, None);
                    }
                }
            }
            Action::Finish | Action::Stop => {
                state.next_hop = None;
                // A worker waiting for a hop has one pending (or running,
                // which its bumped generation leaves to find nothing).
                let pending = at.is_some_and(|i| {
                    self.workers[i].hop == Some(HopState::Pending)
                        || self.workers[i].state.next_hop.is_some()
                });
                self.put(index, at, state, None);
                if pending && !after_batch {
                    self.actions.push(JobAction::CancelHop { index });
                }
            }
            Action::Fail { .. } => {
                state.next_hop = None;
                self.put(index, at, state, None);
                self.stop_siblings(index, |now_ms| Event::Halt { now_ms }, now_ms)?;
            }
            Action::CancelJob { reason } => {
                state.next_hop = None;
                self.put(index, at, state, None);
                self.warnings.push(JobAction::Warn {
                    message: format!("stopped as canceled: {reason}"),
                });
                self.stop_siblings(index, |now_ms| Event::CancelRequested { now_ms }, now_ms)?;
            }
        }
        Ok(())
    }

    fn put(&mut self, index: u32, at: Option<usize>, state: WorkerState, hop: Option<BatchPlan>) {
        match at {
            Some(i) => self.workers[i].state = state.clone(),
            None => self.workers.push(JobWorker {
                index,
                state: state.clone(),
                hop: None,
                hop_error: None,
            }),
        }
        // One row write per worker per step: a later put replaces an earlier one.
        self.actions
            .retain(|a| !matches!(a, JobAction::Put { index: i, .. } if *i == index));
        self.actions.push(JobAction::Put {
            index,
            state: Box::new(state),
            hop,
            previous_hop_of: None,
        });
    }

    fn stop_siblings(
        &mut self,
        origin: u32,
        event: impl Fn(f64) -> Event,
        now_ms: f64,
    ) -> Result<(), EngineError> {
        let others: Vec<u32> = self
            .workers
            .iter()
            .filter(|w| w.index != origin)
            .map(|w| w.index)
            .collect();
        for index in others {
            self.feed(index, &event(now_ms), false, false)?;
        }
        Ok(())
    }
}

fn event_time(event: &Event) -> f64 {
    match event {
        Event::Start { now_ms, .. }
        | Event::BatchCommitted { now_ms, .. }
        | Event::BatchFailed { now_ms, .. }
        | Event::HopDied { now_ms, .. }
        | Event::StartRefused { now_ms, .. }
        | Event::CancelRequested { now_ms }
        | Event::Halt { now_ms } => *now_ms,
        Event::Tick { .. } => 0.0,
    }
}

/// The limits a transaction really has: the configured ones, lowered to
/// what the runtime reports (used plus remaining) where it says less.
fn runtime_limits(configured: &Limits, used: Option<&Usage>, remaining: Option<&Usage>) -> Limits {
    let (Some(u), Some(r)) = (used, remaining) else {
        return configured.clone();
    };
    let real = |limit: u64, used: u64, left: u64| limit.min(used.saturating_add(left));
    Limits {
        documents_read: real(
            configured.documents_read,
            u.documents_read,
            r.documents_read,
        ),
        bytes_read: real(configured.bytes_read, u.bytes_read, r.bytes_read),
        documents_written: real(
            configured.documents_written,
            u.documents_written,
            r.documents_written,
        ),
        bytes_written: real(configured.bytes_written, u.bytes_written, r.bytes_written),
        database_queries: real(
            configured.database_queries,
            u.database_queries,
            r.database_queries,
        ),
        time_ms: configured.time_ms,
    }
}

/// A whole transaction's limits as what it has left, for a hop that has
/// not started yet.
fn whole_transaction(limits: &Limits) -> Usage {
    Usage {
        documents_read: limits.documents_read,
        bytes_read: limits.bytes_read,
        documents_written: limits.documents_written,
        bytes_written: limits.bytes_written,
        database_queries: limits.database_queries,
    }
}

/// How long a batch of `processed` documents runs, projected from the hop
/// before it (its documents and its run time from the scheduled records).
/// `None` when that hop's time or size is unknown: the clock inside this
/// transaction stands still, so nothing else can time the batch.
fn projected_hop_ms(
    previous_hop_ms: Option<f64>,
    previous_docs: Option<u64>,
    processed: u64,
) -> Option<f64> {
    match (previous_hop_ms, previous_docs) {
        (Some(ms), Some(docs)) if ms.is_finite() && ms > 0.0 && docs > 0 => {
            Some(ms / docs as f64 * processed as f64)
        }
        _ => None,
    }
}

/// Whether a batch of this worker goes out without a size: its function
/// picks its own, and no limit failure has made the engine pick one yet.
fn sends_no_size(own_size: bool, state: &WorkerState) -> bool {
    own_size && state.size_sent != Some(true)
}

/// A function that picks its own size hit a limit: before the worker
/// machine judges it, tell it the size the function really ran (the
/// documents its last committed batch visited; the fallback before any
/// batch committed), never the fallback it was not sent. The machine then
/// halves that size as any other, or fails the batch by id at one, and
/// sizes are sent from now on.
fn told_what_it_ran(state: &mut WorkerState, event: &Event) {
    if state.size_sent == Some(true) || event.failure_kind() != Some(FailureKind::Limit) {
        return;
    }
    let ran = state
        .last_batch_processed
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(state.batch_size);
    state.batch_size = ran;
    state.max_batch_size = state.max_batch_size.max(ran);
    state.size_sent = Some(true);
}

/// Orders the workers by index, equal indexes kept as they came. There are at
/// most 64, so an insertion sort: in the hop's Wasm module a few hundred bytes
/// against the standard library's stable sort's 3 KB.
fn in_index_order(workers: &mut [JobWorker]) {
    for i in 1..workers.len() {
        let mut j = i;
        while j > 0 && workers[j - 1].index > workers[j].index {
            workers.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Advances a migration by one event.
pub fn step(req: &JobRequest) -> Result<JobTransition, EngineError> {
    let mut workers = req.workers.clone();
    in_index_order(&mut workers);
    let before = JobStatus::of(workers.iter().map(|w| &w.state));
    let configured = req.limits.clone().unwrap_or_else(Limits::convex);
    let mut work = Work {
        limits: runtime_limits(&configured, req.used.as_ref(), req.remaining.as_ref()),
        remaining: req.remaining.clone(),
        workers,
        actions: Vec::new(),
        inline: None,
        warnings: Vec::new(),
        own_size: req.own_size,
    };
    let now_ms = match &req.event {
        JobEvent::Start { now_ms, .. }
        | JobEvent::Check { now_ms }
        | JobEvent::BatchDone { now_ms, .. }
        | JobEvent::Cancel { now_ms }
        | JobEvent::StartRefused { now_ms, .. } => *now_ms,
        JobEvent::Tick { .. } => 0.0,
    };
    match &req.event {
        JobEvent::Start {
            now_ms,
            batch_size,
            default_batch_size,
            max_batch_size,
            adaptive,
            cursor,
            reset,
            one_batch_only,
            inline,
            workers,
        } => {
            let workers = workers.map(validate_workers).transpose()?;
            let start =
                |range: Option<KeyRange>, stalled: bool, fan_out: Option<u32>| Event::Start {
                    now_ms: *now_ms,
                    batch_size: *batch_size,
                    default_batch_size: *default_batch_size,
                    max_batch_size: *max_batch_size,
                    adaptive: *adaptive,
                    cursor: cursor.clone(),
                    reset: *reset,
                    one_batch_only: *one_batch_only,
                    range,
                    stalled,
                    fan_out,
                };
            if work.workers.is_empty() {
                // One worker ramps alone over the whole table and fans out.
                work.feed(0, &start(None, false, workers), *inline, false)?;
            } else if !record_dead_hop(&mut work, *now_ms)? {
                let first = work.workers.first().map(|w| w.index);
                let snapshot = work.workers.clone();
                // A reset of a lone whole-table worker ramps and fans out
                // again, as a first start does; a reset of several keeps
                // their ranges.
                let alone = snapshot.len() == 1
                    && snapshot[0]
                        .state
                        .range
                        .as_ref()
                        .is_none_or(|r| *r == KeyRange::all());
                let fan_out = if alone { workers } else { None };
                for w in snapshot {
                    // A reset keeps each worker's range: it covers the same table.
                    let range = if *reset { w.state.range.clone() } else { None };
                    work.feed(
                        w.index,
                        &start(range, is_stalled(&w), fan_out),
                        *inline && Some(w.index) == first,
                        false,
                    )?;
                }
            }
        }
        JobEvent::Check { now_ms } => {
            if !record_dead_hop(&mut work, *now_ms)? {
                let snapshot = work.workers.clone();
                for w in snapshot.into_iter().filter(is_stalled) {
                    let mut resume = Event::start_at(*now_ms);
                    if let Event::Start { stalled, .. } = &mut resume {
                        *stalled = true;
                    }
                    work.feed(w.index, &resume, false, false)?;
                }
            }
        }
        JobEvent::Tick { index, generation } => {
            work.feed(
                *index,
                &Event::Tick {
                    generation: *generation,
                },
                true,
                false,
            )?;
        }
        JobEvent::BatchDone {
            index,
            now_ms,
            outcome,
            budget,
            previous_hop_ms,
        } => {
            let Some(at) = work.position(*index) else {
                return Err(EngineError::InvalidInput {
                    message: format!(
                        "batchDone names worker {index}, which the migration does not have"
                    ),
                });
            };
            let ran = work.workers[at].state.batch_size;
            let event = match outcome {
                BatchOutcome::Committed {
                    processed,
                    updated,
                    cursor,
                    is_done,
                    usage,
                    position,
                } => Event::BatchCommitted {
                    now_ms: *now_ms,
                    processed: *processed,
                    updated: *updated,
                    cursor: cursor.clone(),
                    is_done: *is_done,
                    hop_ms: projected_hop_ms(
                        *previous_hop_ms,
                        work.workers[at].state.last_batch_processed,
                        *processed,
                    ),
                    usage: usage.clone(),
                    budget: Some(budget.clone()),
                    position: position.clone().map(Box::new),
                },
                BatchOutcome::Threw {
                    message,
                    code,
                    document_id,
                } => Event::BatchFailed {
                    now_ms: *now_ms,
                    message: message.clone(),
                    code: code.clone(),
                    document_id: document_id.clone(),
                },
            };
            work.feed(*index, &event, false, true)?;
            if matches!(outcome, BatchOutcome::Committed { .. }) {
                fan_out(&mut work, *index, ran, *now_ms);
            }
            if req.siblings_unread && !stays_a_plain_hop(&work, *index) {
                return Ok(JobTransition {
                    status: before,
                    actions: vec![JobAction::ReadSiblings],
                });
            }
        }
        JobEvent::Cancel { now_ms } => {
            let indexes: Vec<u32> = work.workers.iter().map(|w| w.index).collect();
            for index in indexes {
                work.feed(
                    index,
                    &Event::CancelRequested { now_ms: *now_ms },
                    false,
                    false,
                )?;
            }
        }
        JobEvent::StartRefused { now_ms, message } => {
            let index = work.workers.first().map_or(0, |w| w.index);
            work.feed(
                index,
                &Event::StartRefused {
                    now_ms: *now_ms,
                    message: message.clone(),
                },
                false,
                false,
            )?;
        }
    }

    let after = JobStatus::of(work.workers.iter().map(|w| &w.state));
    let mut actions = std::mem::take(&mut work.actions);
    actions.append(&mut work.warnings);
    if after == JobStatus::Running && before != JobStatus::Running {
        // A worker that began a new pass (fresh, reset or an explicit
        // cursor) carries this moment as its start.
        let new_pass = work
            .workers
            .iter()
            .any(|w| w.state.started_ms == now_ms && w.state.batches == 0);
        actions.push(JobAction::Began {
            latest_start: new_pass.then_some(now_ms),
        });
        if req.versioned.is_some() {
            actions.push(JobAction::RecordVersion {
                state: MigrationState::Running,
                applied_at: None,
                rolled_back_at: None,
            });
        }
    }
    if req.on_trial && after == JobStatus::Failed && before != JobStatus::Failed {
        let states: Vec<WorkerState> = work.workers.iter().map(|w| w.state.clone()).collect();
        let message = progress::summarize(&states, now_ms)
            .error
            .map_or_else(|| "its first batch failed".to_string(), |e| e.message);
        return Ok(JobTransition {
            status: after,
            actions: vec![JobAction::Refuse { message }],
        });
    }
    if after != before {
        settle(&work.workers, after, now_ms, req, &mut actions);
    }
    if let Some(inline) = work.inline.take() {
        actions.push(inline);
    }
    Ok(JobTransition {
        status: after,
        actions,
    })
}

/// Checks a migration's `workers`: a whole number from 1 to
/// [`MAX_PARALLELISM`].
fn validate_workers(value: f64) -> Result<u32, EngineError> {
    if value.fract() == 0.0 && (1.0..=f64::from(MAX_PARALLELISM)).contains(&value) {
        return Ok(value as u32);
    }
    Err(EngineError::InvalidParallelism {
        value: crate::policy::js_number_string(value),
        max: MAX_PARALLELISM,
    })
}

/// Decides the fan-out of worker `index` after a committed batch of `ran`
/// documents: once a worker that is to fan out (`fan_out`) goes on in a
/// scheduled hop at a size no larger than the batch it ran (its policy
/// plateaued: growth stopped at the learned budget or the ceiling), the
/// rest of its range is shared ([`fan_out_ranges`]): its own range ends
/// just past its position, and new workers are put over the rest, each
/// starting at the learned size with a hop of its own, timed by the hop
/// that created it. The decision is taken once: a table too small to
/// share stays with this one worker. A worker driven by its caller one
/// batch at a time never fans out.
fn fan_out(work: &mut Work, index: u32, ran: u32, now_ms: f64) {
    let Some(at) = work.position(index) else {
        return;
    };
    let parent = work.workers[at].state.clone();
    let Some(workers) = parent.fan_out else {
        return;
    };
    let going_on = parent.status == WorkerStatus::InProgress && parent.next_hop.is_some();
    if !going_on || parent.one_batch_only || parent.batch_size > ran {
        return;
    }
    let Some(JobAction::Put {
        hop: Some(plan), ..
    }) = work
        .actions
        .iter()
        .find(|a| matches!(a, JobAction::Put { index: i, .. } if *i == index))
        .cloned()
    else {
        return;
    };
    let mut own = parent.clone();
    own.fan_out = None;
    let whole = parent.range.clone().unwrap_or_else(KeyRange::all);
    // An opaque cursor (an older `.paginate()` one) fits only its own query:
    // a changed range would make it invalid.
    let positional = parent
        .cursor
        .as_deref()
        .is_some_and(|c| crate::json_text::array_items(c).is_some());
    let shares = parent.position.filter(|_| positional).and_then(|p| {
        fan_out_ranges(&whole, &p, parent.processed, parent.batch_size, workers).map(|r| (p, r))
    });
    let Some((walked, ranges)) = shares else {
        work.put(index, Some(at), own, Some(plan));
        return;
    };
    own.range = ranges.first().cloned();
    if let (Some(p), Some(cut)) = (own.position.as_mut(), ranges.first().and_then(|r| r.hi)) {
        p.hi = cut;
    }
    work.put(index, Some(at), own, Some(plan.clone()));
    let first_new = work.workers.iter().map(|w| w.index).max().unwrap_or(index);
    for (i, range) in ranges.into_iter().enumerate().skip(1) {
        let new_index = first_new.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
        let lo = range.lo.unwrap_or(walked.at);
        let state = WorkerState {
            status: WorkerStatus::InProgress,
            cursor: None,
            processed: 0,
            updated: 0,
            batches: 0,
            cheap_streak: 0,
            occ_retries: 0,
            error: None,
            started_ms: now_ms,
            ended_ms: None,
            last_batch_ms: None,
            generation: 1,
            one_batch_only: false,
            position: Some(KeyPosition {
                lo,
                hi: range.hi.unwrap_or(walked.hi).max(lo),
                at: lo,
                key_field: None,
            }),
            range: Some(range),
            last_hop_died: None,
            next_hop: Some(1),
            fan_out: None,
            // What the first worker learned: its size, its ceiling, and the
            // documents of the batch the creating hop ran, which the time
            // guard weighs against that hop's record.
            ..parent.clone()
        };
        let hop = BatchPlan {
            own_size: None,
            cursor: None,
            batch_size: state.batch_size,
            generation: 1,
            limits: plan.limits.clone(),
            check_cursor: false,
        };
        work.workers.push(JobWorker {
            index: new_index,
            state: state.clone(),
            hop: None,
            hop_error: None,
        });
        work.actions.push(JobAction::Put {
            index: new_index,
            state: Box::new(state),
            hop: Some(hop),
            previous_hop_of: Some(index),
        });
    }
}

/// Whether worker `index`, after its batch, still runs and goes on in a
/// scheduled hop without touching any other worker: what a step that read
/// only that worker may decide alone. Its fan-out is such a step: a worker
/// that is to fan out is its migration's only one (`fan_out` is set only on
/// a lone whole-table worker and cleared when decided), so the workers it
/// creates touch no row that exists.
fn stays_a_plain_hop(work: &Work, index: u32) -> bool {
    let own = work.position(index).map(|at| &work.workers[at].state);
    own.is_some_and(|w| w.status == WorkerStatus::InProgress)
        && work.inline.is_none()
        && work.actions.iter().all(|a| match a {
            JobAction::Put {
                index: i,
                hop,
                previous_hop_of,
                ..
            } => hop.is_some() && (*i == index || *previous_hop_of == Some(index)),
            _ => false,
        })
}

/// A running worker whose last hop died whole is recorded first (the
/// engine fails it, halting its siblings); the start does nothing else, so
/// a hop that keeps dying never loops. True when one was found.
fn record_dead_hop(work: &mut Work, now_ms: f64) -> Result<bool, EngineError> {
    // Every worker whose hop died is recorded (and halved), not only the
    // first: the first one's failure halts the others, which would then
    // resume at the size that killed them.
    let dead: Vec<JobWorker> = work
        .workers
        .iter()
        .filter(|w| hop_died(w))
        .cloned()
        .collect();
    for w in &dead {
        work.feed(
            w.index,
            &Event::HopDied {
                now_ms,
                message: w.hop_error.clone(),
            },
            false,
            false,
        )?;
    }
    Ok(!dead.is_empty())
}

/// What a migration that just reached `after` reports.
fn settle(
    workers: &[JobWorker],
    after: JobStatus,
    now_ms: f64,
    req: &JobRequest,
    actions: &mut Vec<JobAction>,
) {
    let outcome = match after {
        JobStatus::Succeeded => JobOutcome::Success,
        JobStatus::Failed => JobOutcome::Failed,
        JobStatus::Canceled => JobOutcome::Canceled,
        JobStatus::New | JobStatus::Running | JobStatus::Paused => return,
    };
    actions.push(JobAction::Settled {
        outcome,
        is_done: outcome == JobOutcome::Success,
        latest_end: now_ms,
    });
    let states: Vec<WorkerState> = workers.iter().map(|w| w.state.clone()).collect();
    let summary = progress::summarize(&states, now_ms);
    match req.versioned {
        Some(direction) => {
            let (processed, updated) = (summary.progress.processed, summary.progress.updated);
            let (state, event) = match outcome {
                JobOutcome::Success => (
                    match direction {
                        Direction::Up => MigrationState::Completed,
                        Direction::Down => MigrationState::RolledBack,
                    },
                    RunEvent::ItemFinished {
                        now_ms,
                        processed,
                        updated,
                    },
                ),
                JobOutcome::Failed => (
                    MigrationState::Failed,
                    RunEvent::ItemFailed {
                        now_ms,
                        message: summary
                            .error
                            .map_or_else(|| "failed".to_string(), |e| e.message),
                        processed,
                        updated,
                    },
                ),
                JobOutcome::Canceled => (
                    MigrationState::Canceled,
                    RunEvent::CancelRequested {
                        now_ms,
                        processed,
                        updated,
                    },
                ),
            };
            let success = outcome == JobOutcome::Success;
            actions.push(JobAction::RecordVersion {
                state,
                applied_at: (success && direction == Direction::Up).then_some(now_ms),
                rolled_back_at: (success && direction == Direction::Down).then_some(now_ms),
            });
            actions.push(JobAction::ReportToRun { event });
        }
        None if outcome == JobOutcome::Success && req.has_next => {
            actions.push(JobAction::StartNext);
        }
        None => {}
    }
}

/// Whether a completed migration is skipped by a start: done, and neither
/// `reset` nor an explicit cursor asks for another pass. A dry run is
/// never skipped (it changes nothing).
pub fn skips_start(is_done: bool, reset: bool, cursor_given: bool, dry_run: bool) -> bool {
    is_done && !reset && !cursor_given && !dry_run
}

/// How the one batch of a dry run ended, as the component saw it.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum DryRunEnd {
    /// It threw the dry-run marker: its writes rolled back, its figures came back.
    RolledBack,
    /// It threw anything else.
    Threw,
    /// It returned a batch result normally, so its writes would stay.
    ReturnedBatch,
    /// It returned something that is not a batch result.
    ReturnedOther,
}

/// What the component makes of a dry run's end.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[ts(export)]
pub enum DryRunVerdict {
    /// Report the batch's figures; the status row keeps its state.
    Report,
    /// Report the batch's error; the status row shows `state`.
    Failed { state: progress::DropInState },
    /// A function still on trial (not yet proven to be a migration) failed
    /// its proof: refuse the start as not a migration.
    Refuse,
    /// The function kept its writes: refuse, so the transaction rolls them back.
    NotRolledBack,
}

/// Judges a dry run's one batch. A hand-written function speaking the
/// peer's protocol (`peer_protocol`) is on trial until a batch of it has
/// committed: a throw disproves it then, and an answer that is not a batch
/// result disproves it always. Any function that returns normally from a
/// dry run did not roll back.
pub fn dry_run_verdict(end: DryRunEnd, peer_protocol: bool, on_trial: bool) -> DryRunVerdict {
    match end {
        DryRunEnd::RolledBack => DryRunVerdict::Report,
        DryRunEnd::Threw if on_trial => DryRunVerdict::Refuse,
        DryRunEnd::Threw => DryRunVerdict::Failed {
            state: progress::DropInState::Failed,
        },
        DryRunEnd::ReturnedOther if peer_protocol => DryRunVerdict::Refuse,
        DryRunEnd::ReturnedBatch | DryRunEnd::ReturnedOther => DryRunVerdict::NotRolledBack,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::FailureKind;

    const T0: f64 = 1_000_000.0;

    #[test]
    fn dry_run_verdicts_refuse_a_disproved_peer_function_and_any_that_kept_its_writes() {
        use DryRunEnd::*;
        for (peer, on_trial) in [(false, false), (true, false), (true, true)] {
            assert_eq!(
                dry_run_verdict(RolledBack, peer, on_trial),
                DryRunVerdict::Report
            );
            assert_eq!(
                dry_run_verdict(ReturnedBatch, peer, on_trial),
                DryRunVerdict::NotRolledBack
            );
        }
        // A throw refuses only a function still on trial; a proven or
        // described one reports the failure.
        assert_eq!(dry_run_verdict(Threw, true, true), DryRunVerdict::Refuse);
        let failed = DryRunVerdict::Failed {
            state: progress::DropInState::Failed,
        };
        assert_eq!(dry_run_verdict(Threw, true, false), failed);
        assert_eq!(dry_run_verdict(Threw, false, false), failed);
        // A foreign answer: not a migration for a peer-protocol function,
        // kept writes for a described one.
        assert_eq!(
            dry_run_verdict(ReturnedOther, true, false),
            DryRunVerdict::Refuse
        );
        assert_eq!(
            dry_run_verdict(ReturnedOther, true, true),
            DryRunVerdict::Refuse
        );
        assert_eq!(
            dry_run_verdict(ReturnedOther, false, false),
            DryRunVerdict::NotRolledBack
        );
        assert_eq!(
            serde_json::to_value(failed).unwrap(),
            serde_json::json!({ "type": "failed", "state": "failed" })
        );
    }

    fn start(now_ms: f64) -> JobEvent {
        JobEvent::Start {
            now_ms,
            batch_size: None,
            default_batch_size: None,
            max_batch_size: None,
            adaptive: None,
            cursor: None,
            reset: false,
            one_batch_only: false,
            inline: false,
            workers: None,
        }
    }

    fn with(event: JobEvent, f: impl FnOnce(&mut JobEvent)) -> JobEvent {
        let mut e = event;
        f(&mut e);
        e
    }

    fn inline_start() -> JobEvent {
        with(start(T0), |e| {
            if let JobEvent::Start { inline, .. } = e {
                *inline = true;
            }
        })
    }

    fn reset_start(now_ms: f64) -> JobEvent {
        with(start(now_ms), |e| {
            if let JobEvent::Start { reset, .. } = e {
                *reset = true;
            }
        })
    }

    fn request(workers: Vec<JobWorker>, event: JobEvent) -> JobRequest {
        JobRequest {
            workers,
            event,
            limits: None,
            remaining: None,
            used: None,
            versioned: None,
            has_next: false,
            on_trial: false,
            siblings_unread: false,
            own_size: false,
        }
    }

    fn run(workers: Vec<JobWorker>, event: JobEvent) -> JobTransition {
        step(&request(workers, event)).unwrap()
    }

    /// The workers after a transition's puts, each with a pending hop when
    /// one was scheduled for it.
    fn apply(workers: &[JobWorker], t: &JobTransition) -> Vec<JobWorker> {
        let mut out = workers.to_vec();
        for a in &t.actions {
            if let JobAction::Put {
                index, state, hop, ..
            } = a
            {
                let w = JobWorker {
                    index: *index,
                    state: (**state).clone(),
                    hop: hop.as_ref().map(|_| HopState::Pending),
                    hop_error: None,
                };
                match out.iter_mut().find(|x| x.index == *index) {
                    Some(x) => *x = w,
                    None => out.push(w),
                }
            }
        }
        out
    }

    #[test]
    fn workers_read_in_any_order_are_judged_in_index_order() {
        let workers = running(4);
        let mut shuffled = workers.clone();
        shuffled.reverse();
        shuffled.swap(0, 2);
        assert_ne!(shuffled, workers);
        let in_order = run(workers.clone(), JobEvent::Cancel { now_ms: T0 });
        assert_eq!(run(shuffled, JobEvent::Cancel { now_ms: T0 }), in_order);
        let mut sorted = vec![
            workers[3].clone(),
            workers[1].clone(),
            workers[0].clone(),
            workers[2].clone(),
        ];
        in_index_order(&mut sorted);
        assert_eq!(sorted, workers);
    }

    /// A migration of `n` workers over adjacent ranges, each running with
    /// its hop pending, as a fan-out (or an earlier release's split) leaves it.
    fn running(n: usize) -> Vec<JobWorker> {
        let one = apply(&[], &run(vec![], start(T0))).remove(0);
        (0..n)
            .map(|i| {
                let mut w = one.clone();
                w.index = i as u32;
                w.state.fan_out = None;
                if n > 1 {
                    w.state.range = Some(KeyRange {
                        lo: Some(i as f64 * 10.0),
                        hi: Some(i as f64 * 10.0 + 10.0),
                    });
                }
                w
            })
            .collect()
    }

    fn committed(index: u32, processed: u64, is_done: bool) -> JobEvent {
        JobEvent::BatchDone {
            index,
            now_ms: T0 + 10.0,
            outcome: BatchOutcome::Committed {
                processed,
                updated: processed,
                cursor: format!("c{processed}"),
                is_done,
                usage: None,
                position: None,
            },
            budget: crate::policy::nested_limits(&Limits::convex()),
            previous_hop_ms: None,
        }
    }

    fn threw(index: u32, message: &str, code: Option<&str>) -> JobEvent {
        JobEvent::BatchDone {
            index,
            now_ms: T0 + 20.0,
            outcome: BatchOutcome::Threw {
                message: message.into(),
                code: code.map(str::to_string),
                document_id: Some("doc1".into()),
            },
            budget: crate::policy::nested_limits(&Limits::convex()),
            previous_hop_ms: None,
        }
    }

    fn puts(t: &JobTransition) -> Vec<(u32, WorkerState, Option<BatchPlan>)> {
        t.actions
            .iter()
            .filter_map(|a| match a {
                JobAction::Put {
                    index, state, hop, ..
                } => Some((*index, (**state).clone(), hop.clone())),
                _ => None,
            })
            .collect()
    }

    fn has(t: &JobTransition, f: impl Fn(&JobAction) -> bool) -> bool {
        t.actions.iter().any(f)
    }

    fn settled(t: &JobTransition) -> Option<JobOutcome> {
        t.actions.iter().find_map(|a| match a {
            JobAction::Settled { outcome, .. } => Some(*outcome),
            _ => None,
        })
    }

    fn with_status(mut workers: Vec<JobWorker>, status: WorkerStatus) -> Vec<JobWorker> {
        for w in &mut workers {
            w.state.status = status;
            w.state.cursor = Some("c1".into());
            w.state.next_hop = None;
            w.hop = Some(HopState::Success);
        }
        workers
    }

    // --- New ---

    #[test]
    fn new_start_inline_runs_the_first_batch_here_and_stores_the_worker_once() {
        let t = run(vec![], inline_start());
        assert_eq!(t.status, JobStatus::Running);
        let p = puts(&t);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].1.next_hop, None);
        assert!(p[0].2.is_none());
        assert!(matches!(
            t.actions.last(),
            Some(JobAction::RunInline { index: 0, batch }) if batch.batch_size == 100 && batch.generation == 1
        ));
        assert!(has(
            &t,
            |a| matches!(a, JobAction::Began { latest_start: Some(at) } if *at == T0)
        ));
    }

    #[test]
    fn new_start_not_inline_schedules_a_hop_the_worker_waits_for() {
        let t = run(vec![], start(T0));
        let p = puts(&t);
        assert_eq!(p[0].1.next_hop, Some(1));
        let hop = p[0].2.clone().unwrap();
        assert_eq!(hop.generation, 1);
        // A hop is a fresh transaction: its budget keeps the reserve and one
        // whole document of reads back.
        assert!(hop.limits.bytes_read < Limits::convex().bytes_read - (1 << 20));
        assert!(!has(&t, |a| matches!(a, JobAction::RunInline { .. })));
        assert!(hop.check_cursor);
    }

    #[test]
    fn new_start_with_a_default_size_uses_it_and_an_explicit_size_wins() {
        let e = with(start(T0), |e| {
            if let JobEvent::Start {
                default_batch_size, ..
            } = e
            {
                *default_batch_size = Some(250.0);
            }
        });
        assert_eq!(puts(&run(vec![], e.clone()))[0].1.batch_size, 250);
        let e = with(e, |e| {
            if let JobEvent::Start { batch_size, .. } = e {
                *batch_size = Some(40.0);
            }
        });
        assert_eq!(puts(&run(vec![], e))[0].1.batch_size, 40);
    }

    #[test]
    fn new_start_refused_fails_and_settles_failed() {
        let t = run(
            vec![],
            JobEvent::StartRefused {
                now_ms: T0,
                message: "gone".into(),
            },
        );
        assert_eq!(t.status, JobStatus::Failed);
        assert_eq!(settled(&t), Some(JobOutcome::Failed));
        assert_eq!(puts(&t)[0].1.status, WorkerStatus::Failed);
    }

    // --- Running ---

    #[test]
    fn running_start_leaves_a_live_chain_alone() {
        let workers = running(2);
        let t = run(workers.clone(), start(T0 + 5.0));
        assert!(t.actions.is_empty());
        assert_eq!(t.status, JobStatus::Running);
    }

    #[test]
    fn running_reset_waits_for_the_migration_to_stop_and_the_generation_keeps_rising() {
        let workers = running(1);
        let t = run(workers.clone(), reset_start(T0 + 5.0));
        assert!(t.actions.is_empty(), "{:?}", t.actions);
        // Once it stopped, the reset starts over at a higher generation.
        let stopped = apply(
            &workers,
            &run(workers.clone(), JobEvent::Cancel { now_ms: T0 + 6.0 }),
        );
        let t = run(stopped.clone(), reset_start(T0 + 7.0));
        let p = puts(&t);
        assert!(p[0].1.generation > stopped[0].state.generation);
        assert_eq!(p[0].1.cursor, None);
        assert_eq!(p[0].1.processed, 0);
    }

    #[test]
    fn running_start_takes_over_a_stalled_chain() {
        let mut workers = running(1);
        workers[0].hop = Some(HopState::Canceled);
        let t = run(
            workers.clone(),
            with(start(T0 + 5.0), |e| {
                if let JobEvent::Start { inline, .. } = e {
                    *inline = true;
                }
            }),
        );
        let p = puts(&t);
        assert_eq!(p[0].1.generation, workers[0].state.generation + 1);
        assert!(matches!(
            t.actions.last(),
            Some(JobAction::RunInline { .. })
        ));
        // Still running: nothing settles, nothing begins anew.
        assert!(!has(&t, |a| matches!(a, JobAction::Began { .. })));
    }

    #[test]
    fn running_start_records_every_dead_hop_so_none_resumes_at_the_size_that_died() {
        let mut workers = running(3);
        for w in [0, 2] {
            workers[w].hop = Some(HopState::Failed);
        }
        let t = run(workers, start(T0 + 5.0));
        assert_eq!(t.status, JobStatus::Failed);
        let p = puts(&t);
        let last = |i: u32| {
            p.iter()
                .rev()
                .find(|(at, _, _)| *at == i)
                .unwrap()
                .1
                .clone()
        };
        for dead in [0, 2] {
            assert_eq!(last(dead).status, WorkerStatus::Failed, "worker {dead}");
            assert_eq!(last(dead).batch_size, 50, "worker {dead}");
        }
        assert_eq!(last(1).status, WorkerStatus::Paused);
        assert_eq!(last(1).batch_size, 100);
        let settled = t
            .actions
            .iter()
            .filter(|a| matches!(a, JobAction::Settled { .. }))
            .count();
        assert_eq!(settled, 1);
    }

    #[test]
    fn running_start_records_a_dead_hop_first_and_halts_the_siblings() {
        let mut workers = running(2);
        workers[1].hop = Some(HopState::Failed);
        workers[1].hop_error = Some("Function execution timed out".into());
        let mut req = request(workers.clone(), start(T0 + 5.0));
        req.versioned = Some(Direction::Up);
        let t = step(&req).unwrap();
        assert_eq!(t.status, JobStatus::Failed);
        let p = puts(&t);
        let dead = p.iter().find(|(i, _, _)| *i == 1).unwrap();
        assert_eq!(dead.1.status, WorkerStatus::Failed);
        assert_eq!(dead.1.batch_size, 50);
        let sibling = p.iter().find(|(i, _, _)| *i == 0).unwrap();
        assert_eq!(sibling.1.status, WorkerStatus::Paused);
        assert!(has(&t, |a| matches!(a, JobAction::CancelHop { index: 0 })));
        assert!(has(&t, |a| matches!(
            a,
            JobAction::RecordVersion {
                state: MigrationState::Failed,
                ..
            }
        )));
        assert!(has(&t, |a| matches!(
            a,
            JobAction::ReportToRun {
                event: RunEvent::ItemFailed { .. }
            }
        )));
    }

    #[test]
    fn running_commit_schedules_the_next_hop_with_one_row_write() {
        let workers = running(1);
        let t = run(workers, committed(0, 100, false));
        let p = puts(&t);
        assert_eq!(p.len(), 1);
        assert_eq!(t.actions.len(), 1);
        let hop = p[0].2.clone().unwrap();
        assert_eq!(hop.cursor.as_deref(), Some("c100"));
        // The chain's own cursor needs no check.
        assert!(!hop.check_cursor);
        assert_eq!(p[0].1.next_hop, Some(hop.generation));
    }

    #[test]
    fn running_last_worker_done_succeeds_and_starts_the_next_of_the_series() {
        let mut workers = running(2);
        workers[0].state.status = WorkerStatus::Success;
        let mut req = request(workers.clone(), committed(1, 10, true));
        req.has_next = true;
        let t = step(&req).unwrap();
        assert_eq!(t.status, JobStatus::Succeeded);
        assert!(has(&t, |a| matches!(
            a,
            JobAction::Settled {
                outcome: JobOutcome::Success,
                is_done: true,
                ..
            }
        )));
        assert!(has(&t, |a| matches!(a, JobAction::StartNext)));
    }

    #[test]
    fn running_worker_done_while_a_sibling_runs_settles_nothing() {
        let t = run(running(2), committed(0, 10, true));
        assert_eq!(t.status, JobStatus::Running);
        assert_eq!(settled(&t), None);
    }

    #[test]
    fn running_user_failure_halts_the_siblings_and_settles_failed() {
        let t = run(
            running(3),
            threw(1, "Cannot read properties of undefined", None),
        );
        assert_eq!(t.status, JobStatus::Failed);
        let p = puts(&t);
        assert_eq!(
            p.iter()
                .filter(|(_, s, _)| s.status == WorkerStatus::Paused)
                .count(),
            2
        );
        assert_eq!(
            t.actions
                .iter()
                .filter(|a| matches!(a, JobAction::CancelHop { .. }))
                .count(),
            2
        );
        assert_eq!(settled(&t), Some(JobOutcome::Failed));
        let failed = p.iter().find(|(i, _, _)| *i == 1).unwrap();
        assert_eq!(failed.1.error.as_ref().unwrap().kind, FailureKind::User);
    }

    #[test]
    fn running_limit_failure_is_classified_here_and_retried_halved_in_a_hop() {
        let t = run(
            running(1),
            threw(
                0,
                "Too many documents read in a single function execution",
                None,
            ),
        );
        let p = puts(&t);
        assert_eq!(p[0].1.batch_size, 50);
        assert!(p[0].2.is_some());
        assert!(!has(&t, |a| matches!(a, JobAction::RunInline { .. })));
    }

    #[test]
    fn running_one_batch_only_retry_waits_for_its_caller_instead_of_recursing() {
        let e = with(inline_start(), |e| {
            if let JobEvent::Start { one_batch_only, .. } = e {
                *one_batch_only = true;
            }
        });
        let workers = apply(&[], &run(vec![], e));
        let t = run(workers, threw(0, "transaction limit", None));
        assert_eq!(t.status, JobStatus::Running);
        let p = puts(&t);
        assert_eq!(p[0].1.batch_size, 50);
        assert!(p[0].2.is_none());
        assert!(!has(&t, |a| matches!(a, JobAction::RunInline { .. })));
    }

    #[test]
    fn running_code_changed_cancels_every_worker_and_settles_canceled() {
        let t = run(
            running(2),
            threw(0, "changed", Some(crate::failure::CODE_CHANGED)),
        );
        assert_eq!(t.status, JobStatus::Canceled);
        assert!(puts(&t)
            .iter()
            .all(|(_, s, _)| s.status == WorkerStatus::Canceled));
        assert!(has(&t, |a| matches!(a, JobAction::Warn { .. })));
        assert_eq!(settled(&t), Some(JobOutcome::Canceled));
    }

    #[test]
    fn running_cancel_cancels_pending_hops_and_settles_canceled() {
        let t = run(running(2), JobEvent::Cancel { now_ms: T0 + 1.0 });
        assert_eq!(t.status, JobStatus::Canceled);
        assert_eq!(
            t.actions
                .iter()
                .filter(|a| matches!(a, JobAction::CancelHop { .. }))
                .count(),
            2
        );
        assert!(puts(&t).iter().all(|(_, s, _)| s.next_hop.is_none()));
    }

    #[test]
    fn running_check_takes_over_only_a_stalled_chain() {
        let mut workers = running(2);
        workers[1].hop = None;
        let t = run(workers.clone(), JobEvent::Check { now_ms: T0 + 1.0 });
        let p = puts(&t);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, 1);
        assert!(p[0].2.is_some());
        assert!(run(running(2), JobEvent::Check { now_ms: T0 })
            .actions
            .is_empty());
    }

    #[test]
    fn running_legacy_tick_runs_here_when_current_and_nothing_when_stale() {
        let workers = running(1);
        let g = workers[0].state.generation;
        let t = run(
            workers.clone(),
            JobEvent::Tick {
                index: 0,
                generation: g,
            },
        );
        assert!(matches!(
            t.actions.last(),
            Some(JobAction::RunInline { .. })
        ));
        let t = run(
            workers,
            JobEvent::Tick {
                index: 0,
                generation: g + 7,
            },
        );
        assert!(t.actions.is_empty());
    }

    #[test]
    fn running_batch_of_an_unknown_worker_is_refused() {
        assert!(step(&request(running(1), committed(3, 1, false))).is_err());
    }

    #[test]
    fn running_a_hop_read_alone_goes_on_alone_when_its_batch_changes_nothing_else() {
        let mut req = request(running(3), committed(1, 100, false));
        req.workers.retain(|w| w.index == 1);
        req.siblings_unread = true;
        let t = step(&req).unwrap();
        assert_eq!(t.status, JobStatus::Running);
        let p = puts(&t);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, 1);
        assert!(p[0].2.is_some(), "its next hop is scheduled");
        assert!(!t.actions.contains(&JobAction::ReadSiblings));
    }

    #[test]
    fn running_a_hop_read_alone_asks_for_its_siblings_when_it_ends_or_fails() {
        for event in [committed(1, 100, true), threw(1, "boom", None)] {
            let mut req = request(running(3), event);
            req.workers.retain(|w| w.index == 1);
            req.siblings_unread = true;
            let t = step(&req).unwrap();
            assert_eq!(t.actions, vec![JobAction::ReadSiblings]);
            // Read with them, the same event settles or halts the migration.
            let mut full = request(running(3), req.event.clone());
            full.siblings_unread = false;
            let t = step(&full).unwrap();
            assert!(!t.actions.contains(&JobAction::ReadSiblings));
            assert!(!t.actions.is_empty());
        }
    }

    #[test]
    fn running_a_shrinking_worker_does_not_take_a_siblings_larger_size() {
        let mut workers = running(2);
        workers[0].state.batch_size = 800;
        let t = run(workers, threw(1, "too many bytes", None));
        assert_eq!(puts(&t)[0].1.batch_size, 50);
    }

    #[test]
    fn running_a_slow_previous_hop_keeps_the_next_well_under_the_time_limit() {
        let mut workers = running(1);
        workers[0].state.batch_size = 1_000;
        workers[0].state.last_batch_processed = Some(1_000);
        // The hop before took 800 ms for 1,000 documents: 1,000 more would
        // be 0.8 ms each again, far over half of the time budget.
        let mut e = committed(0, 1_000, false);
        if let JobEvent::BatchDone {
            previous_hop_ms, ..
        } = &mut e
        {
            *previous_hop_ms = Some(800.0);
        }
        let next = puts(&run(workers.clone(), e))[0].1.batch_size;
        assert!(next < 1_000, "{next}");
        let ms_per_doc = 0.8;
        assert!(f64::from(next) * ms_per_doc <= 0.5 * 900.0 + 1.0, "{next}");
        // A quick hop says nothing against growing.
        let mut e = committed(0, 1_000, false);
        if let JobEvent::BatchDone {
            previous_hop_ms, ..
        } = &mut e
        {
            *previous_hop_ms = Some(5.0);
        }
        assert_eq!(puts(&run(workers, e))[0].1.batch_size, 1_000);
    }

    #[test]
    fn running_a_hop_is_budgeted_from_the_limits_the_runtime_reported() {
        let mut req = request(running(1), committed(0, 10, false));
        let tight = Usage {
            bytes_read: 300_000,
            ..whole_transaction(&Limits::convex())
        };
        req.used = Some(Usage {
            bytes_read: 100_000,
            ..Usage::default()
        });
        req.remaining = Some(Usage {
            bytes_read: 200_000,
            ..tight
        });
        let hop = puts(&step(&req).unwrap())[0].2.clone().unwrap();
        // Half of the 300 KB the runtime allows, the rest kept for the hop's own reads.
        assert_eq!(hop.limits.bytes_read, 150_000);
    }

    #[test]
    fn running_a_function_on_trial_that_fails_refuses_the_whole_call() {
        let mut req = request(running(1), threw(0, "not a batch", None));
        req.on_trial = true;
        let t = step(&req).unwrap();
        assert_eq!(t.actions.len(), 1);
        assert!(
            matches!(&t.actions[0], JobAction::Refuse { message } if message.contains("not a batch"))
        );
        // Once it proved itself, a failure is recorded like any other.
        req.on_trial = false;
        assert_eq!(settled(&step(&req).unwrap()), Some(JobOutcome::Failed));
    }

    // --- Fan-out ---

    fn with_workers(event: JobEvent, n: u32) -> JobEvent {
        with(event, |e| {
            if let JobEvent::Start { workers, .. } = e {
                *workers = Some(f64::from(n));
            }
        })
    }

    /// A migration of `workers` workers after its start: one worker over
    /// the whole table, its first batch of `size` (fixed unless `adaptive`)
    /// due in a hop.
    fn fanning(workers: u32, size: f64, adaptive: bool) -> Vec<JobWorker> {
        let e = with(start(T0), |e| {
            if let JobEvent::Start {
                workers: w,
                batch_size,
                adaptive: a,
                ..
            } = e
            {
                *w = Some(f64::from(workers));
                *batch_size = Some(size);
                *a = Some(adaptive);
            }
        });
        apply(&[], &run(vec![], e))
    }

    /// A committed page of a walk in `_creationTime` order that reached
    /// `at` (the table runs from 0 to 100), with a positional cursor.
    fn walked_to(index: u32, processed: u64, at: f64, usage: Option<Usage>) -> JobEvent {
        JobEvent::BatchDone {
            index,
            now_ms: T0 + at,
            outcome: BatchOutcome::Committed {
                processed,
                updated: processed,
                cursor: format!("[\"{at}\",\"doc{at}\"]"),
                is_done: false,
                usage,
                position: Some(PagePosition::creation_time(
                    at,
                    Some(crate::estimate::KeyBounds { lo: 0.0, hi: 100.0 }),
                )),
            },
            budget: crate::policy::nested_limits(&Limits::convex()),
            previous_hop_ms: None,
        }
    }

    fn previous_hop_of(t: &JobTransition, index: u32) -> Option<u32> {
        t.actions.iter().find_map(|a| match a {
            JobAction::Put {
                index: i,
                previous_hop_of,
                ..
            } if *i == index => *previous_hop_of,
            _ => None,
        })
    }

    #[test]
    fn fan_out_at_the_plateau_cuts_the_range_past_the_position_and_puts_the_rest() {
        let workers = fanning(4, 1_000.0, false);
        assert_eq!(workers.len(), 1);
        assert_eq!(workers[0].state.fan_out, Some(4));
        assert_eq!(workers[0].state.range, None);
        // 1,000 documents over the first tenth: 9,000 left, nine batches of
        // 1,000, dealt 3, 2, 2, 2.
        let t = run(workers, walked_to(0, 1_000, 10.0, None));
        assert_eq!(t.status, JobStatus::Running);
        let p = puts(&t);
        assert_eq!(
            p.iter().map(|(i, _, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        let own = &p[0].1;
        assert_eq!(own.fan_out, None);
        assert_eq!(
            own.range,
            Some(KeyRange {
                lo: None,
                hi: Some(40.0)
            })
        );
        assert_eq!(own.position.unwrap().hi, 40.0);
        assert_eq!(own.cursor.as_deref(), Some("[\"10\",\"doc10\"]"));
        assert!(p[0].2.is_some(), "the first worker goes on in its hop");
        let ranges: Vec<KeyRange> = p.iter().map(|(_, s, _)| s.range.clone().unwrap()).collect();
        assert_eq!(
            ranges[1],
            KeyRange {
                lo: Some(40.0),
                hi: Some(60.0)
            }
        );
        assert_eq!(
            ranges[2],
            KeyRange {
                lo: Some(60.0),
                hi: Some(80.0)
            }
        );
        assert_eq!(
            ranges[3],
            KeyRange {
                lo: Some(80.0),
                hi: None
            }
        );
        for (i, s, hop) in &p[1..] {
            assert_eq!(s.status, WorkerStatus::InProgress);
            assert_eq!(s.batch_size, 1_000, "starts at the learned size");
            assert!(!s.adaptive);
            assert_eq!(s.processed, 0);
            assert_eq!(s.cursor, None);
            assert_eq!(s.fan_out, None);
            assert_eq!(s.last_batch_processed, Some(1_000));
            let hop = hop.clone().unwrap();
            assert_eq!((hop.cursor.clone(), hop.batch_size), (None, 1_000));
            assert_eq!(s.next_hop, Some(hop.generation));
            assert_eq!(previous_hop_of(&t, *i), Some(0));
            let pos = s.position.unwrap();
            assert_eq!(
                (pos.at, pos.lo),
                (s.range.clone().unwrap().lo.unwrap(), pos.at)
            );
        }
        assert_eq!(previous_hop_of(&t, 0), None);
        // Progress counts the new workers, none of them done.
        let after = apply(&[], &t);
        let states: Vec<WorkerState> = after.iter().map(|w| w.state.clone()).collect();
        let summary = progress::summarize(&states, T0 + 20.0);
        assert_eq!(
            (summary.progress.processed, summary.progress.workers),
            (1_000, 4)
        );
        assert!(summary
            .estimate
            .fraction_done
            .is_some_and(|f| f > 0.0 && f < 0.5));
    }

    #[test]
    fn fan_out_waits_while_the_batch_size_still_grows() {
        let workers = fanning(4, 100.0, true);
        let cheap = Usage {
            documents_read: 100,
            documents_written: 100,
            ..Usage::default()
        };
        let t = run(workers, walked_to(0, 100, 1.0, Some(cheap)));
        let p = puts(&t);
        assert_eq!(p.len(), 1);
        assert!(p[0].1.batch_size > 100);
        assert_eq!(p[0].1.fan_out, Some(4), "still to decide");
    }

    #[test]
    fn fan_out_leaves_a_small_table_to_one_worker_and_decides_once() {
        // 1,000 of about 1,500: half a batch left.
        let workers = fanning(4, 1_000.0, false);
        let t = run(workers, walked_to(0, 1_000, 66.0, None));
        let p = puts(&t);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].1.fan_out, None);
        assert_eq!(p[0].1.range, None);
        // Decided: even a walk that now looks long stays alone.
        let later = run(apply(&[], &t), walked_to(0, 1_000, 67.0, None));
        assert_eq!(puts(&later).len(), 1);
    }

    #[test]
    fn fan_out_happens_once() {
        let t = run(fanning(4, 1_000.0, false), walked_to(0, 1_000, 10.0, None));
        let workers = apply(&[], &t);
        assert_eq!(workers.len(), 4);
        let again = run(workers, walked_to(0, 1_000, 20.0, None));
        let p = puts(&again);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].1.range,
            Some(KeyRange {
                lo: None,
                hi: Some(40.0)
            })
        );
    }

    #[test]
    fn fan_out_never_happens_with_one_worker_or_explicit_ranges() {
        let workers = fanning(1, 1_000.0, false);
        assert_eq!(workers[0].state.fan_out, None);
        assert_eq!(
            puts(&run(workers, walked_to(0, 1_000, 10.0, None))).len(),
            1
        );
        let given = running(2);
        assert!(given.iter().all(|w| w.state.fan_out.is_none()));
    }

    #[test]
    fn a_resume_before_the_fan_out_takes_the_worker_count_given_now() {
        let t = run(vec![], with_workers(start(T0), 4));
        let mut workers = apply(&[], &t);
        workers[0].state.status = WorkerStatus::Failed;
        workers[0].hop = None;
        let again = |workers: &[JobWorker], event: JobEvent| {
            let t = run(workers.to_vec(), event);
            apply(workers, &t)
        };
        let two = again(&workers, with_workers(start(T0 + 1.0), 2));
        assert_eq!(two[0].state.fan_out, Some(2));
        let mut stopped = two.clone();
        stopped[0].state.status = WorkerStatus::Failed;
        let one = again(&stopped, with_workers(start(T0 + 2.0), 1));
        assert_eq!(one[0].state.fan_out, None, "1 keeps it alone");
        // A start that names no count (a stalled chain taken over) keeps it.
        let mut stalled = two;
        stalled[0].hop = None;
        let kept = again(&stalled, JobEvent::Check { now_ms: T0 + 3.0 });
        assert_eq!(kept[0].state.fan_out, Some(2));
    }

    #[test]
    fn fan_out_of_a_hop_read_alone_needs_no_sibling_read() {
        let mut req = request(fanning(4, 1_000.0, false), walked_to(0, 1_000, 10.0, None));
        req.siblings_unread = true;
        let alone = step(&req).unwrap();
        assert!(!alone.actions.contains(&JobAction::ReadSiblings));
        assert_eq!(puts(&alone).len(), 4);
        req.siblings_unread = false;
        assert_eq!(step(&req).unwrap(), alone);
    }

    #[test]
    fn fan_out_keeps_an_opaque_cursor_alone() {
        let mut e = walked_to(0, 1_000, 10.0, None);
        if let JobEvent::BatchDone {
            outcome: BatchOutcome::Committed { cursor, .. },
            ..
        } = &mut e
        {
            *cursor = "opaque".into();
        }
        let p = puts(&run(fanning(4, 1_000.0, false), e));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].1.range, None);
    }

    #[test]
    fn start_refuses_a_worker_count_out_of_bounds() {
        for n in [0.0, 2.5, 65.0, f64::NAN, -1.0] {
            let e = with(start(T0), |e| {
                if let JobEvent::Start { workers, .. } = e {
                    *workers = Some(n);
                }
            });
            let err = step(&request(vec![], e)).unwrap_err();
            assert!(matches!(err, EngineError::InvalidParallelism { .. }));
            assert!(err
                .to_string()
                .contains("workers must be a whole number from 1 to 64"));
        }
    }

    #[test]
    fn fanned_out_workers_halt_together_and_a_dead_hop_of_one_is_recorded() {
        let t = run(fanning(4, 1_000.0, false), walked_to(0, 1_000, 10.0, None));
        let workers = apply(&[], &t);
        // A created worker's batch fails: all halt.
        let failed = run(workers.clone(), threw(2, "boom", None));
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(
            puts(&failed)
                .iter()
                .filter(|(_, s, _)| s.status == WorkerStatus::Paused)
                .count(),
            3
        );
        // A created worker's hop died: the next start records it.
        let mut dead = workers.clone();
        dead[3].hop = Some(HopState::Failed);
        let started = run(dead, start(T0 + 50.0));
        let p = puts(&started);
        let recorded = p.iter().find(|(i, _, _)| *i == 3).unwrap();
        assert_eq!(recorded.1.status, WorkerStatus::Failed);
        assert_eq!(recorded.1.batch_size, 500);
        // Cancel reaches every worker.
        let canceled = run(workers, JobEvent::Cancel { now_ms: T0 + 60.0 });
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(puts(&canceled).len(), 4);
    }

    #[test]
    fn reset_of_a_lone_whole_table_worker_fans_out_again() {
        let t = run(fanning(4, 1_000.0, false), walked_to(0, 1_000, 66.0, None));
        let done = with_status(apply(&[], &t), WorkerStatus::Success);
        let e = with(reset_start(T0 + 100.0), |e| {
            if let JobEvent::Start { workers, .. } = e {
                *workers = Some(4.0);
            }
        });
        let p = puts(&run(done, e));
        assert_eq!(p[0].1.fan_out, Some(4));
    }

    // --- Succeeded ---

    #[test]
    fn succeeded_start_without_reset_does_nothing() {
        let done = with_status(running(1), WorkerStatus::Success);
        let t = run(done, start(T0 + 50.0));
        assert!(t.actions.is_empty());
        assert_eq!(t.status, JobStatus::Succeeded);
    }

    #[test]
    fn succeeded_reset_begins_a_new_pass_keeping_each_range() {
        let done = with_status(running(2), WorkerStatus::Success);
        let t = run(done.clone(), reset_start(T0 + 50.0));
        assert_eq!(t.status, JobStatus::Running);
        assert!(has(
            &t,
            |a| matches!(a, JobAction::Began { latest_start: Some(at) } if *at == T0 + 50.0)
        ));
        for (i, s, _) in puts(&t) {
            let before = &done.iter().find(|w| w.index == i).unwrap().state;
            assert_eq!(s.range, before.range);
            assert!(s.generation > before.generation);
        }
    }

    #[test]
    fn skips_start_only_a_completed_migration_without_reset_cursor_or_dry_run() {
        assert!(skips_start(true, false, false, false));
        assert!(!skips_start(true, true, false, false));
        assert!(!skips_start(true, false, true, false));
        assert!(!skips_start(true, false, false, true));
        assert!(!skips_start(false, false, false, false));
    }

    // --- Failed, Canceled, Paused ---

    #[test]
    fn failed_start_resumes_from_the_cursor_keeping_the_pass() {
        let failed = with_status(running(1), WorkerStatus::Failed);
        let t = run(failed, start(T0 + 50.0));
        assert_eq!(t.status, JobStatus::Running);
        assert!(has(&t, |a| matches!(
            a,
            JobAction::Began { latest_start: None }
        )));
        let hop = puts(&t)[0].2.clone().unwrap();
        assert_eq!(hop.cursor.as_deref(), Some("c1"));
    }

    #[test]
    fn canceled_start_resumes_and_cancel_again_changes_nothing() {
        let canceled = with_status(running(1), WorkerStatus::Canceled);
        assert!(run(canceled.clone(), JobEvent::Cancel { now_ms: T0 })
            .actions
            .is_empty());
        assert_eq!(run(canceled, start(T0 + 50.0)).status, JobStatus::Running);
    }

    #[test]
    fn paused_start_resumes_and_cancel_settles_canceled() {
        let paused = with_status(running(1), WorkerStatus::Paused);
        assert_eq!(
            run(paused.clone(), start(T0 + 50.0)).status,
            JobStatus::Running
        );
        let t = run(paused, JobEvent::Cancel { now_ms: T0 });
        assert_eq!(settled(&t), Some(JobOutcome::Canceled));
    }

    // --- Versioned items ---

    #[test]
    fn versioned_start_records_running_and_success_records_completed_or_rolled_back() {
        let mut req = request(vec![], start(T0));
        req.versioned = Some(Direction::Up);
        let t = step(&req).unwrap();
        assert!(has(&t, |a| matches!(
            a,
            JobAction::RecordVersion {
                state: MigrationState::Running,
                ..
            }
        )));
        let workers = apply(&[], &t);
        for (direction, expected) in [
            (Direction::Up, MigrationState::Completed),
            (Direction::Down, MigrationState::RolledBack),
        ] {
            let mut req = request(workers.clone(), committed(0, 5, true));
            req.versioned = Some(direction);
            let t = step(&req).unwrap();
            assert!(has(
                &t,
                |a| matches!(a, JobAction::RecordVersion { state, .. } if *state == expected)
            ));
            assert!(has(&t, |a| matches!(
                a,
                JobAction::ReportToRun {
                    event: RunEvent::ItemFinished { processed: 5, .. }
                }
            )));
            assert!(!has(&t, |a| matches!(a, JobAction::StartNext)));
        }
    }

    #[test]
    fn view_names_a_stalled_chain_and_a_dead_hop() {
        let mut workers = running(2);
        assert!(!view(&workers).stalled);
        workers[0].hop = None;
        assert!(view(&workers).stalled);
        workers[1].hop = Some(HopState::Failed);
        let v = view(&workers);
        assert!(v.dead_hop.unwrap().contains("no error text"));
        assert_eq!(v.status, JobStatus::Running);
    }

    /// One step of a migration whose function picks its own batch size.
    fn run_own_size(workers: Vec<JobWorker>, event: JobEvent) -> JobTransition {
        step(&JobRequest {
            own_size: true,
            ..request(workers, event)
        })
        .unwrap()
    }

    #[test]
    fn a_function_that_picks_its_own_size_gets_none_until_a_limit_then_half_of_what_it_ran() {
        let not_adaptive = with(start(T0), |e| {
            if let JobEvent::Start { adaptive, .. } = e {
                *adaptive = Some(false);
            }
        });
        let t = run_own_size(vec![], not_adaptive);
        let (_, _, hop) = puts(&t).remove(0);
        assert_eq!(hop.unwrap().own_size, Some(true));
        let workers = apply(&[], &t);
        // Its own size is 4: the engine's fallback (100) is never what it ran.
        let t = run_own_size(workers.clone(), committed(0, 4, false));
        let workers = apply(&workers, &t);
        let (_, _, hop) = puts(&t).remove(0);
        assert_eq!(hop.unwrap().own_size, Some(true));
        let t = run_own_size(workers.clone(), threw(0, "transaction limit", None));
        let (_, state, hop) = puts(&t).remove(0);
        assert_eq!(state.batch_size, 2);
        assert_eq!(state.size_sent, Some(true));
        let hop = hop.unwrap();
        assert_eq!((hop.own_size, hop.batch_size), (None, 2));
        // From then on a size is sent, and halves as any other.
        let workers = apply(&workers, &t);
        let t = run_own_size(workers, threw(0, "transaction limit", None));
        let (_, state, hop) = puts(&t).remove(0);
        assert_eq!(state.batch_size, 1);
        assert_eq!(hop.unwrap().own_size, None);
    }

    #[test]
    fn a_function_that_picks_its_own_size_and_fails_its_first_batch_on_a_limit_gets_half_the_fallback(
    ) {
        let t = run_own_size(vec![], start(T0));
        let workers = apply(&[], &t);
        let t = run_own_size(workers, threw(0, "transaction limit", None));
        let (_, state, hop) = puts(&t).remove(0);
        assert_eq!(state.batch_size, 50);
        assert_eq!(hop.unwrap().own_size, None);
    }

    #[test]
    fn a_reset_of_a_function_that_picks_its_own_size_still_sends_none() {
        let t = run_own_size(vec![], start(T0));
        let mut workers = apply(&[], &t);
        // It finished after growing the engine's fallback well past a fresh one.
        workers[0].state.status = WorkerStatus::Success;
        workers[0].state.batch_size = 500;
        workers[0].state.last_batch_processed = Some(4);
        workers[0].hop = None;
        let t = run_own_size(workers, reset_start(T0 + 100.0));
        let (_, state, hop) = puts(&t).remove(0);
        assert_eq!(state.status, WorkerStatus::InProgress);
        assert_eq!(state.size_sent, None, "a reset is no limit failure");
        assert_eq!(hop.unwrap().own_size, Some(true));
    }

    #[test]
    fn a_function_that_picks_its_own_size_is_halved_from_what_it_ran_even_when_the_fallback_is_one()
    {
        // A row an earlier release wrote: the fallback already down to 1,
        // while the function itself ran batches of 8.
        let t = run_own_size(vec![], start(T0));
        let mut workers = apply(&[], &t);
        workers[0].state.batch_size = 1;
        workers[0].state.last_batch_processed = Some(8);
        let t = run_own_size(workers, threw(0, "transaction limit", None));
        let (_, state, hop) = puts(&t).remove(0);
        assert_eq!(
            state.status,
            WorkerStatus::InProgress,
            "retried, not failed"
        );
        assert_eq!((state.batch_size, state.size_sent), (4, Some(true)));
        assert_eq!(hop.unwrap().batch_size, 4);
    }

    #[test]
    fn a_dead_hop_of_a_function_that_picks_its_own_size_halves_what_it_ran() {
        let t = run_own_size(vec![], start(T0));
        let mut workers = apply(&[], &t);
        workers[0].state.last_batch_processed = Some(40);
        workers[0].hop = Some(HopState::Failed);
        let t = run_own_size(workers.clone(), start(T0 + 100.0));
        let (_, state, _) = puts(&t).remove(0);
        assert_eq!(state.status, WorkerStatus::Failed);
        assert_eq!((state.batch_size, state.size_sent), (20, Some(true)));
        assert!(state.error.unwrap().message.contains("batch of 40"));
        // A hop that died of a user error halves nothing.
        workers[0].hop_error = Some("Uncaught Error: bad row".into());
        let t = run_own_size(workers, start(T0 + 100.0));
        let (_, state, _) = puts(&t).remove(0);
        assert_eq!((state.batch_size, state.size_sent), (100, None));
    }

    #[test]
    fn a_size_is_always_sent_to_a_function_that_does_not_pick_its_own() {
        let t = run(vec![], start(T0));
        let (_, _, hop) = puts(&t).remove(0);
        assert_eq!(hop.unwrap().own_size, None);
        let workers = apply(&[], &t);
        let t = run(workers, threw(0, "transaction limit", None));
        let (_, state, hop) = puts(&t).remove(0);
        // The worker machine's own halving, untouched.
        assert_eq!((state.batch_size, state.size_sent), (50, None));
        assert_eq!(hop.unwrap().batch_size, 50);
    }
}
