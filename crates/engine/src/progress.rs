//! Progress figures for one migration job, summed over its workers.
//!
//! A job is one migration over one table, run by one worker or, when
//! parallelized, one per key range. Status pages, the CLI's progress line and
//! `getStatus` all read the same summary, so the figures agree everywhere.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::estimate::{Estimate, EstimateBasis, MAX_UNFINISHED_FRACTION};
use crate::machine::{Failure, WorkerState, WorkerStatus};

/// How far a job has got.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Progress {
    /// Documents visited by all workers.
    #[ts(type = "number")]
    pub processed: u64,
    /// Documents changed by all workers.
    #[ts(type = "number")]
    pub updated: u64,
    /// Batches committed by all workers.
    #[ts(type = "number")]
    pub batches: u64,
    /// Documents visited per second of elapsed time; 0 before any time has
    /// passed.
    pub rate_per_sec: f64,
    /// From the earliest worker's start to the last worker's end, or to now
    /// while any worker has not ended (milliseconds).
    pub elapsed_ms: f64,
    /// Documents per batch across running workers; the last size used when
    /// none runs.
    pub batch_size: u32,
    /// The function picks its own size and no limit failure has made the
    /// engine send one: `batch_size` is not what it runs, so status shows none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub own_size: Option<bool>,
    /// Workers in the job.
    pub workers: u32,
    /// Workers that finished their range.
    pub workers_done: u32,
}

/// One job's status, progress, first error and (single-worker) cursor.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct JobSummary {
    /// The job's status, aggregated from its workers (see [`summarize`]).
    pub status: WorkerStatus,
    /// The same status in the words of the drop-in status row (see
    /// [`DropInState::of`]).
    pub drop_in_state: DropInState,
    /// Summed figures.
    pub progress: Progress,
    /// The earliest failure among the workers: usually the cause, later
    /// ones tend to be its consequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<Failure>,
    /// The worker's cursor when the job has exactly one worker; with several
    /// there is no single cursor to resume from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cursor: Option<String>,
    /// Fraction done and time left (see [`estimate`]).
    pub estimate: Estimate,
}

/// A migration's state as the drop-in status row names it: the peer's
/// vocabulary, which has no word for paused.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum DropInState {
    InProgress,
    Success,
    Failed,
    Canceled,
    /// No worker has been stored yet, or the job is paused (halted without
    /// an outcome): the peer reports neither.
    Unknown,
}

impl DropInState {
    /// The drop-in word for a job's aggregate status over `workers` workers.
    pub fn of(status: WorkerStatus, workers: usize) -> DropInState {
        match status {
            _ if workers == 0 => DropInState::Unknown,
            WorkerStatus::InProgress => DropInState::InProgress,
            WorkerStatus::Success => DropInState::Success,
            WorkerStatus::Failed => DropInState::Failed,
            WorkerStatus::Canceled => DropInState::Canceled,
            WorkerStatus::Paused => DropInState::Unknown,
        }
    }
}

impl JobSummary {
    /// The summary of a migration whose function picks its own batch size
    /// unless one is sent (`own_size`): its size is unknown until a limit
    /// failure made the engine send one to every worker.
    pub fn sized_by(mut self, own_size: bool, workers: &[WorkerState]) -> JobSummary {
        if own_size && workers.iter().any(|w| w.size_sent != Some(true)) {
            self.progress.own_size = Some(true);
        }
        self
    }
}

/// Sums a job's workers into one status and one set of figures.
///
/// Status: any failed worker makes the job failed; else any running worker
/// makes it in progress; else it succeeded when every worker (at least one)
/// did; else it is canceled when any worker was; else paused.
pub fn summarize(workers: &[WorkerState], now_ms: f64) -> JobSummary {
    let status = aggregate_status(workers);

    let processed = workers
        .iter()
        .fold(0u64, |acc, w| acc.saturating_add(w.processed));
    let updated = workers
        .iter()
        .fold(0u64, |acc, w| acc.saturating_add(w.updated));
    let batches = workers
        .iter()
        .fold(0u64, |acc, w| acc.saturating_add(w.batches));

    let elapsed_ms = elapsed(workers, now_ms);
    let rate_per_sec = if elapsed_ms > 0.0 {
        processed as f64 / (elapsed_ms / 1_000.0)
    } else {
        0.0
    };

    let running: Vec<&WorkerState> = workers
        .iter()
        .filter(|w| w.status == WorkerStatus::InProgress)
        .collect();
    let batch_size = if running.is_empty() {
        // The worker that committed last used this size; a worker that never
        // committed counts as oldest.
        workers
            .iter()
            .max_by(|a, b| {
                let at = |w: &WorkerState| w.last_batch_ms.unwrap_or(f64::NEG_INFINITY);
                at(a).total_cmp(&at(b))
            })
            .map_or(0, |w| w.batch_size)
    } else {
        running
            .iter()
            .fold(0u32, |acc, w| acc.saturating_add(w.batch_size))
    };

    let error = workers
        .iter()
        .filter_map(|w| w.error.as_ref())
        .min_by(|a, b| a.at_ms.total_cmp(&b.at_ms))
        .cloned();

    let cursor = match workers {
        [only] => only.cursor.clone(),
        _ => None,
    };

    JobSummary {
        status,
        drop_in_state: DropInState::of(status, workers.len()),
        progress: Progress {
            processed,
            updated,
            batches,
            rate_per_sec: if rate_per_sec.is_finite() {
                rate_per_sec
            } else {
                0.0
            },
            elapsed_ms,
            batch_size,
            own_size: None,
            workers: u32::try_from(workers.len()).unwrap_or(u32::MAX),
            workers_done: u32::try_from(
                workers
                    .iter()
                    .filter(|w| w.status == WorkerStatus::Success)
                    .count(),
            )
            .unwrap_or(u32::MAX),
        },
        error,
        cursor,
        estimate: estimate(workers, now_ms),
    }
}

/// The status of a job with these workers: any failed worker makes it
/// failed; else any running worker makes it in progress; else it succeeded
/// when every worker (at least one) did; else it is canceled when any
/// worker was; else paused. The job machine ([`crate::job`]) reads the same.
pub fn aggregate_status(workers: &[WorkerState]) -> WorkerStatus {
    let any = |status: WorkerStatus| workers.iter().any(|w| w.status == status);
    if any(WorkerStatus::Failed) {
        WorkerStatus::Failed
    } else if any(WorkerStatus::InProgress) {
        WorkerStatus::InProgress
    } else if !workers.is_empty() && workers.iter().all(|w| w.status == WorkerStatus::Success) {
        WorkerStatus::Success
    } else if any(WorkerStatus::Canceled) {
        WorkerStatus::Canceled
    } else {
        WorkerStatus::Paused
    }
}

/// Milliseconds from the earliest start to the latest end, or to `now_ms`
/// while some worker has not ended. Never negative, never NaN.
fn elapsed(workers: &[WorkerState], now_ms: f64) -> f64 {
    let Some(start) = workers
        .iter()
        .map(|w| w.started_ms)
        .filter(|t| t.is_finite())
        .reduce(f64::min)
    else {
        return 0.0;
    };
    let all_ended = workers.iter().all(|w| w.ended_ms.is_some());
    let end = if all_ended {
        workers
            .iter()
            .filter_map(|w| w.ended_ms)
            .fold(f64::NEG_INFINITY, f64::max)
    } else {
        now_ms
    };
    let span = end - start;
    if span.is_finite() && span > 0.0 {
        span
    } else {
        0.0
    }
}

/// One worker's fraction of its range and the range's weight, or `None`
/// when it cannot be known.
fn worker_part(w: &WorkerState) -> Option<(f64, f64)> {
    let weight = w.position.map_or(0.0, |p| p.hi - p.lo);
    if w.status == WorkerStatus::Success {
        return Some((
            1.0,
            if weight.is_finite() {
                weight.max(0.0)
            } else {
                0.0
            },
        ));
    }
    let p = w.position?;
    let span = p.hi.max(p.at) - p.lo;
    if !(span > 0.0 && span.is_finite() && weight > 0.0) {
        return None;
    }
    let fraction = ((p.at - p.lo) / span).clamp(0.0, 1.0);
    Some((fraction.min(MAX_UNFINISHED_FRACTION), weight))
}

/// The job's estimate from its workers' states at `now_ms` (the rules are
/// in [`crate::estimate`]'s documentation).
pub fn estimate(workers: &[WorkerState], now_ms: f64) -> Estimate {
    if workers.is_empty() {
        return Estimate::UNKNOWN;
    }
    if workers.iter().all(|w| w.status == WorkerStatus::Success) {
        return Estimate::DONE;
    }
    let mut weighted = 0.0;
    let mut total = 0.0;
    for w in workers {
        let Some((fraction, weight)) = worker_part(w) else {
            return Estimate::UNKNOWN;
        };
        weighted += fraction * weight;
        total += weight;
    }
    if !(total > 0.0 && total.is_finite()) {
        return Estimate::UNKNOWN;
    }
    let fraction = (weighted / total).clamp(0.0, MAX_UNFINISHED_FRACTION);
    let running = workers.iter().any(|w| w.status == WorkerStatus::InProgress);
    let on_index = workers
        .iter()
        .any(|w| w.position.is_some_and(|p| p.key_field.is_some()));
    Estimate {
        fraction_done: Some(fraction),
        eta_ms: if running {
            time_left(workers, fraction, now_ms)
        } else {
            None
        },
        basis: if on_index {
            EstimateBasis::IndexKey
        } else {
            EstimateBasis::CreationTime
        },
    }
}

/// Time left at the pace from the start of the pass to the last committed
/// batch, less the time since that batch.
fn time_left(workers: &[WorkerState], fraction: f64, now_ms: f64) -> Option<f64> {
    let start = workers
        .iter()
        .map(|w| w.started_ms)
        .filter(|t| t.is_finite())
        .reduce(f64::min)?;
    let last = workers
        .iter()
        .filter_map(|w| w.last_batch_ms)
        .filter(|t| t.is_finite())
        .reduce(f64::max)?;
    let spent = last - start;
    if !(spent > 0.0 && fraction > 0.0) {
        return None;
    }
    let left = spent * (1.0 - fraction) / fraction - (now_ms - last).max(0.0);
    left.is_finite().then_some(left.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::FailureKind;

    fn worker(status: WorkerStatus) -> WorkerState {
        WorkerState {
            status,
            cursor: Some("c".into()),
            batch_size: 100,
            max_batch_size: 8_000,
            adaptive: true,
            processed: 1_000,
            updated: 400,
            batches: 10,
            cheap_streak: 0,
            occ_retries: 0,
            error: None,
            started_ms: 10_000.0,
            ended_ms: if status == WorkerStatus::InProgress {
                None
            } else {
                Some(12_000.0)
            },
            last_batch_ms: Some(11_000.0),
            generation: 1,
            one_batch_only: false,
            range: None,
            position: None,
            last_hop_died: None,
            next_hop: None,
            last_batch_processed: None,
            fan_out: None,
            size_sent: None,
        }
    }

    fn failure(at_ms: f64, document_id: &str) -> Failure {
        Failure {
            kind: FailureKind::User,
            message: "boom".into(),
            document_id: Some(document_id.into()),
            cursor: None,
            batch_size: 100,
            at_ms,
        }
    }

    #[test]
    fn drop_in_state_names_a_paused_or_empty_job_unknown_and_keeps_the_rest() {
        let state = |statuses: &[WorkerStatus]| {
            let workers: Vec<WorkerState> = statuses.iter().map(|s| worker(*s)).collect();
            summarize(&workers, 20_000.0).drop_in_state
        };
        assert_eq!(state(&[]), DropInState::Unknown);
        assert_eq!(state(&[WorkerStatus::Paused]), DropInState::Unknown);
        assert_eq!(
            state(&[WorkerStatus::Success, WorkerStatus::Paused]),
            DropInState::Unknown
        );
        assert_eq!(
            state(&[WorkerStatus::Success, WorkerStatus::InProgress]),
            DropInState::InProgress
        );
        assert_eq!(
            state(&[WorkerStatus::Success, WorkerStatus::Success]),
            DropInState::Success
        );
        assert_eq!(
            state(&[WorkerStatus::Canceled, WorkerStatus::Failed]),
            DropInState::Failed
        );
        assert_eq!(
            state(&[WorkerStatus::Canceled, WorkerStatus::Success]),
            DropInState::Canceled
        );
        assert_eq!(
            serde_json::to_value(DropInState::InProgress).unwrap(),
            serde_json::json!("inProgress")
        );
    }

    fn status_of(statuses: &[WorkerStatus]) -> WorkerStatus {
        let ws: Vec<WorkerState> = statuses.iter().map(|s| worker(*s)).collect();
        summarize(&ws, 20_000.0).status
    }

    use WorkerStatus::{Canceled, Failed, InProgress, Paused, Success};

    #[test]
    fn any_failed_worker_fails_the_job() {
        assert_eq!(status_of(&[Success, Failed, InProgress]), Failed);
        assert_eq!(status_of(&[Failed]), Failed);
    }

    #[test]
    fn any_running_worker_keeps_the_job_in_progress() {
        assert_eq!(status_of(&[Success, InProgress, Canceled]), InProgress);
    }

    #[test]
    fn all_workers_done_is_success() {
        assert_eq!(status_of(&[Success, Success]), Success);
    }

    #[test]
    fn no_workers_is_paused_not_success() {
        assert_eq!(status_of(&[]), Paused);
    }

    #[test]
    fn any_canceled_worker_among_stopped_ones_cancels_the_job() {
        assert_eq!(status_of(&[Success, Canceled, Paused]), Canceled);
    }

    #[test]
    fn stopped_without_error_or_cancel_is_paused() {
        assert_eq!(status_of(&[Success, Paused]), Paused);
    }

    #[test]
    fn figures_sum_over_workers() {
        let p = summarize(&[worker(Success), worker(Paused)], 20_000.0).progress;
        assert_eq!(p.processed, 2_000);
        assert_eq!(p.updated, 800);
        assert_eq!(p.batches, 20);
        assert_eq!(p.workers, 2);
        assert_eq!(p.workers_done, 1);
    }

    #[test]
    fn rate_runs_to_latest_end_when_all_ended() {
        let mut late = worker(Success);
        late.ended_ms = Some(14_000.0);
        let p = summarize(&[worker(Success), late], 99_000.0).progress;
        assert_eq!(p.elapsed_ms, 4_000.0);
        assert_eq!(p.rate_per_sec, 500.0);
    }

    #[test]
    fn rate_runs_to_now_while_any_worker_runs() {
        let p = summarize(&[worker(Success), worker(InProgress)], 14_000.0).progress;
        assert_eq!(p.elapsed_ms, 4_000.0);
        assert_eq!(p.rate_per_sec, 500.0);
    }

    #[test]
    fn rate_is_zero_when_no_time_has_passed() {
        let p = summarize(&[worker(InProgress)], 10_000.0).progress;
        assert_eq!(p.elapsed_ms, 0.0);
        assert_eq!(p.rate_per_sec, 0.0);
    }

    #[test]
    fn rate_is_zero_when_clock_is_behind_start() {
        let p = summarize(&[worker(InProgress)], 5_000.0).progress;
        assert_eq!(p.elapsed_ms, 0.0);
        assert_eq!(p.rate_per_sec, 0.0);
    }

    #[test]
    fn rate_is_zero_without_workers() {
        let p = summarize(&[], 5_000.0).progress;
        assert_eq!(p.elapsed_ms, 0.0);
        assert_eq!(p.rate_per_sec, 0.0);
        assert_eq!(p.batch_size, 0);
    }

    #[test]
    fn rate_ignores_non_finite_now() {
        let p = summarize(&[worker(InProgress)], f64::NAN).progress;
        assert_eq!(p.rate_per_sec, 0.0);
    }

    #[test]
    fn batch_size_sums_running_workers() {
        let mut a = worker(InProgress);
        a.batch_size = 300;
        let b = worker(InProgress);
        let mut c = worker(Success);
        c.batch_size = 5_000;
        assert_eq!(summarize(&[a, b, c], 20_000.0).progress.batch_size, 400);
    }

    #[test]
    fn a_function_that_picks_its_own_size_shows_none_until_the_engine_sends_one() {
        let mut w = worker(InProgress);
        let own = |w: &WorkerState, own_size: bool| {
            summarize(std::slice::from_ref(w), 20_000.0)
                .sized_by(own_size, std::slice::from_ref(w))
                .progress
                .own_size
        };
        assert_eq!(own(&w, true), Some(true));
        assert_eq!(own(&w, false), None);
        w.size_sent = Some(true);
        assert_eq!(own(&w, true), None);
    }

    #[test]
    fn batch_size_is_last_used_when_none_runs() {
        let mut a = worker(Success);
        a.batch_size = 300;
        a.last_batch_ms = Some(11_500.0);
        let b = worker(Paused);
        assert_eq!(summarize(&[b, a], 20_000.0).progress.batch_size, 300);
    }

    #[test]
    fn error_is_the_earliest_failure() {
        let mut a = worker(Failed);
        a.error = Some(failure(15_000.0, "late"));
        let mut b = worker(Failed);
        b.error = Some(failure(13_000.0, "early"));
        let s = summarize(&[a, b], 20_000.0);
        assert_eq!(s.error.unwrap().document_id.as_deref(), Some("early"));
    }

    #[test]
    fn cursor_only_for_a_single_worker() {
        assert_eq!(
            summarize(&[worker(Paused)], 0.0).cursor.as_deref(),
            Some("c")
        );
        assert_eq!(
            summarize(&[worker(Paused), worker(Paused)], 0.0).cursor,
            None
        );
    }
}
