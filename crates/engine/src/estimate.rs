//! How far along a migration is, and when it will end, without counting the
//! table.
//!
//! Convex has no cheap row count, but a walk in `_creationTime` order knows
//! where it is: the `_creationTime` of the last document it visited, between
//! the first and last document's `_creationTime` read when the walk began
//! (two indexed reads). That position is the fraction done, assuming
//! documents are spread over time evenly enough; range workers each know
//! theirs, and the job's fraction weighs each range by its span.
//!
//! The rules the estimate keeps, which the property tests pin:
//! - it never goes down while the walk moves forward over fixed bounds;
//! - it is exactly 1 when, and only when, every worker is done;
//! - documents inserted after the bounds were read sit past the last bound,
//!   so the estimate stops just short of 1 ([`MAX_UNFINISHED_FRACTION`])
//!   instead of passing it;
//! - a walk whose key is not `_creationTime` (a `customRange`), or that has
//!   not read its bounds yet, has no estimate rather than a wrong one.
//!
//! Time left comes from timestamps taken across hops (the start of the pass
//! and each committed batch), never from time inside one transaction, where
//! Convex freezes the clock.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::machine::{WorkerState, WorkerStatus};
use crate::run::ItemStatus;

/// The highest fraction shown while any document may be left: 99.9%.
pub const MAX_UNFINISHED_FRACTION: f64 = 0.999;

/// The first and last key of a worker's walk, read when the walk began.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyBounds {
    /// `_creationTime` of the first document in the worker's range.
    pub lo: f64,
    /// `_creationTime` of the last document in the worker's range.
    pub hi: f64,
}

/// Where one committed page left the walk.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PagePosition {
    /// `_creationTime` of the page's last document.
    pub at: f64,
    /// The range's first and last `_creationTime`, sent with the first page
    /// of a walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub bounds: Option<KeyBounds>,
}

/// Where a worker's walk stands: its bounds and the last key it visited.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyPosition {
    /// `_creationTime` of the first document when the walk began.
    pub lo: f64,
    /// `_creationTime` of the last document when the walk began.
    pub hi: f64,
    /// `_creationTime` of the last document visited.
    pub at: f64,
}

/// What an estimate rests on.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum EstimateBasis {
    /// The walk's `_creationTime` position between the table's bounds.
    CreationTime,
    /// Every part is done.
    Done,
    /// Nothing to go on (a `customRange`, no batch yet, or an empty span):
    /// no fraction is given.
    None,
}

/// Fraction done and time left.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Estimate {
    /// From 0 to 1; 1 only when done; `null` when it cannot be known.
    pub fraction_done: Option<f64>,
    /// Milliseconds left at the pace so far; `null` when unknown or when
    /// nothing runs.
    pub eta_ms: Option<f64>,
    /// What the figures rest on.
    pub basis: EstimateBasis,
}

impl Estimate {
    const UNKNOWN: Estimate = Estimate {
        fraction_done: None,
        eta_ms: None,
        basis: EstimateBasis::None,
    };
    const DONE: Estimate = Estimate {
        fraction_done: Some(1.0),
        eta_ms: Some(0.0),
        basis: EstimateBasis::Done,
    };
}

/// The worker's position after a committed page: new bounds when the page
/// brought them (the start of a walk), else the ones kept; a page without a
/// position (empty, or not in `_creationTime` order) keeps the last one.
pub fn advance(previous: Option<&KeyPosition>, page: Option<&PagePosition>) -> Option<KeyPosition> {
    let Some(page) = page else {
        return previous.copied();
    };
    let (lo, hi) = match (page.bounds, previous) {
        (Some(b), _) => (b.lo, b.hi),
        (None, Some(p)) => (p.lo, p.hi),
        (None, None) => return None,
    };
    Some(KeyPosition {
        lo,
        hi,
        at: page.at,
    })
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

/// The job's estimate from its workers' states at `now_ms`.
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
    Estimate {
        fraction_done: Some(fraction),
        eta_ms: if running {
            time_left(workers, fraction, now_ms)
        } else {
            None
        },
        basis: EstimateBasis::CreationTime,
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

/// One planned migration of a versioned run, for [`run_estimate`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RunItemProgress {
    /// Where the item stands in the run.
    pub status: ItemStatus,
    /// The running item's own estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub estimate: Option<Estimate>,
}

/// A versioned run's estimate across its planned migrations: each counts
/// as one equal part, done when completed. Time left is known only once the
/// last migration runs, since pending ones have no pace yet.
pub fn run_estimate(items: &[RunItemProgress]) -> Estimate {
    if items.is_empty() {
        return Estimate::UNKNOWN;
    }
    if items.iter().all(|i| i.status == ItemStatus::Completed) {
        return Estimate::DONE;
    }
    let mut done = 0.0;
    let mut eta_ms = None;
    for item in items {
        match item.status {
            ItemStatus::Completed => done += 1.0,
            ItemStatus::Running => {
                let Some(e) = item.estimate.filter(|e| e.fraction_done.is_some()) else {
                    return Estimate::UNKNOWN;
                };
                done += e.fraction_done.unwrap_or(0.0);
                eta_ms = e.eta_ms;
            }
            ItemStatus::Pending | ItemStatus::Failed | ItemStatus::Canceled => {}
        }
    }
    let pending = items.iter().any(|i| i.status == ItemStatus::Pending);
    let count = items.len() as f64;
    Estimate {
        fraction_done: Some((done / count).clamp(0.0, MAX_UNFINISHED_FRACTION)),
        eta_ms: if pending { None } else { eta_ms },
        basis: EstimateBasis::CreationTime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{step, Event};
    use crate::policy::Limits;

    fn started(now_ms: f64) -> WorkerState {
        let start = Event::Start {
            now_ms,
            batch_size: None,
            max_batch_size: None,
            adaptive: None,
            cursor: None,
            reset: false,
            one_batch_only: false,
            range: None,
            stalled: false,
        };
        step(None, &start, &Limits::convex()).unwrap().state
    }

    fn commit(
        state: &WorkerState,
        now_ms: f64,
        position: Option<PagePosition>,
        is_done: bool,
    ) -> WorkerState {
        let event = Event::BatchCommitted {
            now_ms,
            processed: 100,
            updated: 0,
            cursor: format!("c{now_ms}"),
            is_done,
            elapsed_ms: 1.0,
            usage: None,
            budget: None,
            position,
        };
        step(Some(state), &event, &Limits::convex()).unwrap().state
    }

    fn page(at: f64, bounds: Option<(f64, f64)>) -> Option<PagePosition> {
        Some(PagePosition {
            at,
            bounds: bounds.map(|(lo, hi)| KeyBounds { lo, hi }),
        })
    }

    #[test]
    fn estimate_is_the_creation_time_position_with_time_left_from_the_pace() {
        let w = started(0.0);
        let w = commit(&w, 1_000.0, page(1_250.0, Some((1_000.0, 2_000.0))), false);
        let e = estimate(std::slice::from_ref(&w), 1_000.0);
        assert_eq!(e.basis, EstimateBasis::CreationTime);
        assert_eq!(e.fraction_done, Some(0.25));
        // A quarter took a second: three more, less the time since.
        assert_eq!(e.eta_ms, Some(3_000.0));
        assert_eq!(
            estimate(std::slice::from_ref(&w), 2_500.0).eta_ms,
            Some(1_500.0)
        );
        let w = commit(&w, 2_000.0, page(1_500.0, None), false);
        let e = estimate(std::slice::from_ref(&w), 2_000.0);
        assert_eq!((e.fraction_done, e.eta_ms), (Some(0.5), Some(2_000.0)));
        let w = commit(&w, 3_000.0, None, true);
        assert_eq!(estimate(&[w], 3_000.0), Estimate::DONE);
    }

    #[test]
    fn estimate_stops_short_of_done_when_inserts_pass_the_last_bound() {
        let w = started(0.0);
        let w = commit(&w, 10.0, page(5.0, Some((0.0, 10.0))), false);
        let w = commit(&w, 20.0, page(50.0, None), false);
        assert_eq!(
            estimate(&[w], 20.0).fraction_done,
            Some(MAX_UNFINISHED_FRACTION)
        );
    }

    #[test]
    fn estimate_is_unknown_without_bounds_or_span() {
        let w = started(0.0);
        assert_eq!(estimate(std::slice::from_ref(&w), 0.0), Estimate::UNKNOWN);
        // A customRange walk reports no position.
        let custom = commit(&w, 10.0, None, false);
        assert_eq!(estimate(&[custom], 10.0), Estimate::UNKNOWN);
        let flat = commit(&w, 10.0, page(5.0, Some((5.0, 5.0))), false);
        assert_eq!(estimate(&[flat], 10.0), Estimate::UNKNOWN);
        assert_eq!(estimate(&[], 10.0), Estimate::UNKNOWN);
    }

    #[test]
    fn estimate_weighs_range_workers_by_their_span() {
        let a = commit(&started(0.0), 10.0, page(50.0, Some((0.0, 100.0))), false);
        let b = commit(
            &started(0.0),
            10.0,
            page(300.0, Some((100.0, 400.0))),
            false,
        );
        // 0.5 of 100 and 2/3 of 300: 250 of 400.
        assert_eq!(estimate(&[a.clone(), b], 10.0).fraction_done, Some(0.625));
        let empty_done = commit(&started(0.0), 10.0, None, true);
        assert_eq!(estimate(&[a, empty_done], 10.0).fraction_done, Some(0.5));
    }

    #[test]
    fn a_stopped_job_keeps_its_fraction_but_has_no_time_left() {
        let mut w = commit(&started(0.0), 10.0, page(5.0, Some((0.0, 10.0))), false);
        w.status = WorkerStatus::Paused;
        let e = estimate(&[w], 100.0);
        assert_eq!((e.fraction_done, e.eta_ms), (Some(0.5), None));
    }

    #[test]
    fn run_estimate_counts_each_planned_migration_as_one_part() {
        let item = |status, fraction: Option<f64>| RunItemProgress {
            status,
            estimate: fraction.map(|f| Estimate {
                fraction_done: Some(f),
                eta_ms: Some(5.0),
                basis: EstimateBasis::CreationTime,
            }),
        };
        let e = run_estimate(&[
            item(ItemStatus::Completed, None),
            item(ItemStatus::Running, Some(0.5)),
            item(ItemStatus::Pending, None),
            item(ItemStatus::Pending, None),
        ]);
        assert_eq!((e.fraction_done, e.eta_ms), (Some(0.375), None));
        let last = run_estimate(&[
            item(ItemStatus::Completed, None),
            item(ItemStatus::Running, Some(0.5)),
        ]);
        assert_eq!((last.fraction_done, last.eta_ms), (Some(0.75), Some(5.0)));
        assert_eq!(
            run_estimate(&[item(ItemStatus::Running, None)]),
            Estimate::UNKNOWN
        );
        assert_eq!(
            run_estimate(&[item(ItemStatus::Completed, None)]),
            Estimate::DONE
        );
    }
}
