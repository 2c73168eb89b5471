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
//! A `customRange` walks an index instead. Its pages report index keys (the
//! index's fields, `_creationTime` last), and the walk's key is the first
//! field where the range's first and last key differ: every field before it
//! is the same all along the range, so the walk moves along that field
//! alone. When that field holds a number at both ends and at the cursor (a
//! timestamp such as `updatedAt`, a score, `_creationTime` under an
//! equality), the position along it is the fraction, as for `_creationTime`.
//! A string, a boolean or any other value says nothing about how much is
//! left, so such a walk has no fraction.
//!
//! The rules the estimate keeps, which the property tests pin:
//! - it never goes down while the walk moves forward over fixed bounds;
//! - it is exactly 1 when, and only when, every worker is done;
//! - documents inserted after the bounds were read sit past the last bound,
//!   so the estimate stops just short of 1 ([`MAX_UNFINISHED_FRACTION`])
//!   instead of passing it;
//! - a walk whose key is not a number (a `customRange` over a string or
//!   boolean index), whose ends share their key, or that has not read its
//!   bounds yet, has no estimate rather than a wrong one.
//!
//! This module holds the vocabulary (bounds, positions, the estimate) and
//! the run-level estimate; a job's estimate from its workers' states is
//! [`crate::progress::estimate`], beside the other figures summed over
//! workers, so the worker machine can use the positions without a cycle.
//!
//! Time left comes from timestamps taken across hops (the start of the pass
//! and each committed batch), never from time inside one transaction, where
//! Convex freezes the clock.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::run::ItemStatus;

/// The highest fraction shown while any document may be left: 99.9%.
pub const MAX_UNFINISHED_FRACTION: f64 = 0.999;

/// The first and last key of a worker's walk, read when the walk began.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyBounds {
    /// `_creationTime` of the first document in the worker's range.
    pub lo: f64,
    /// `_creationTime` of the last document in the worker's range.
    pub hi: f64,
}

/// Where one committed page left the walk: its `_creationTime` (and the
/// range's, on the first page) on a walk in `_creationTime` order, its index
/// keys on a `customRange` walk.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PagePosition {
    /// `_creationTime` of the page's last document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub at: Option<f64>,
    /// The range's first and last `_creationTime`, sent with the first page
    /// of a walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub bounds: Option<KeyBounds>,
    /// On a walk over an index (a `customRange`): the index keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub index_key: Option<IndexKeyPage>,
}

impl PagePosition {
    /// A page of a walk in `_creationTime` order.
    pub fn creation_time(at: f64, bounds: Option<KeyBounds>) -> Self {
        PagePosition {
            at: Some(at),
            bounds,
            index_key: None,
        }
    }

    /// A page of a walk over an index.
    pub fn index_key(at: Vec<KeyValue>, bounds: Option<(Vec<KeyValue>, Vec<KeyValue>)>) -> Self {
        PagePosition {
            at: None,
            bounds: None,
            index_key: Some(IndexKeyPage {
                at,
                bounds: bounds.map(|(lo, hi)| IndexKeyBounds { lo, hi }),
            }),
        }
    }
}

/// One field of an index key as the batch reports it: a number as it is,
/// any other value as an opaque text that only compares equal to itself.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(untagged)]
#[ts(export)]
pub enum KeyValue {
    /// A number (`v.number()`, e.g. a timestamp).
    Number(f64),
    /// Any other value, written as text (a string, a boolean, an id, a
    /// missing field...).
    Other(String),
}

impl KeyValue {
    fn number(&self) -> Option<f64> {
        match self {
            KeyValue::Number(n) if n.is_finite() => Some(*n),
            _ => None,
        }
    }

    /// Equal as the index orders them: numbers by value.
    fn same(&self, other: &KeyValue) -> bool {
        match (self, other) {
            (KeyValue::Number(a), KeyValue::Number(b)) => a == b,
            (KeyValue::Other(a), KeyValue::Other(b)) => a == b,
            _ => false,
        }
    }
}

/// Index keys of a page of a `customRange` walk: each the walked index's
/// fields in order, then `_creationTime`.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IndexKeyPage {
    /// The key of the page's last document.
    pub at: Vec<KeyValue>,
    /// The keys of the range's first and last document, sent with the first
    /// page of a walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub bounds: Option<IndexKeyBounds>,
}

/// The first and last index key of a `customRange` walk's range.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IndexKeyBounds {
    /// The key of the range's first document.
    pub lo: Vec<KeyValue>,
    /// The key of the range's last document.
    pub hi: Vec<KeyValue>,
}

/// Where a worker's walk stands: its bounds and the last key it visited,
/// in `_creationTime` or, on a `customRange` walk, in one numeric field of
/// the walked index's key.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyPosition {
    /// The key of the first document when the walk began.
    pub lo: f64,
    /// The key of the last document when the walk began.
    pub hi: f64,
    /// The key of the last document visited.
    pub at: f64,
    /// Which field of the walked index's key the position reads (0 for its
    /// first); absent on a walk in `_creationTime` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub key_field: Option<u32>,
}

/// What an estimate rests on.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum EstimateBasis {
    /// The walk's `_creationTime` position between the table's bounds.
    CreationTime,
    /// A `customRange` walk's position along its index's numeric key
    /// between the range's bounds.
    IndexKey,
    /// Every part is done.
    Done,
    /// Nothing to go on (a `customRange` over a key that is not a number,
    /// no batch yet, or an empty span): no fraction is given.
    None,
}

/// Fraction done and time left.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, TS)]
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
    /// No figure to give: nothing read yet, or a walk without positions.
    pub const UNKNOWN: Estimate = Estimate {
        fraction_done: None,
        eta_ms: None,
        basis: EstimateBasis::None,
    };
    /// Every worker finished.
    pub const DONE: Estimate = Estimate {
        fraction_done: Some(1.0),
        eta_ms: Some(0.0),
        basis: EstimateBasis::Done,
    };
}

/// The worker's position after a committed page: new bounds when the page
/// brought them (the start of a walk), else the ones kept; a page without a
/// position (empty, or a walk whose keys cannot be read) keeps the last one.
pub fn advance(previous: Option<&KeyPosition>, page: Option<&PagePosition>) -> Option<KeyPosition> {
    let Some(page) = page else {
        return previous.copied();
    };
    if let Some(keys) = &page.index_key {
        return advance_on_index(previous, keys);
    }
    let Some(at) = page.at else {
        return previous.copied();
    };
    let (lo, hi) = match (page.bounds, previous) {
        (Some(b), _) => (b.lo, b.hi),
        (None, Some(p)) if p.key_field.is_none() => (p.lo, p.hi),
        (None, _) => return None,
    };
    Some(KeyPosition {
        lo,
        hi,
        at,
        key_field: None,
    })
}

/// [`advance`] for a walk over an index. The walk's first page picks the
/// key field (the first where the range's ends differ) and keeps it only
/// when it is a number at both ends and at the cursor; later pages read
/// that field. The walk never moves back, so a later key read lower (the
/// fields before the key moved on, past the range's last document at its
/// start) keeps the furthest one.
fn advance_on_index(previous: Option<&KeyPosition>, page: &IndexKeyPage) -> Option<KeyPosition> {
    if let Some(bounds) = &page.bounds {
        let field = bounds
            .lo
            .iter()
            .zip(&bounds.hi)
            .position(|(lo, hi)| !lo.same(hi))?;
        let number = |key: &[KeyValue]| key.get(field).and_then(KeyValue::number);
        return Some(KeyPosition {
            lo: number(&bounds.lo)?,
            hi: number(&bounds.hi)?,
            at: number(&page.at)?,
            key_field: Some(u32::try_from(field).ok()?),
        });
    }
    let kept = previous.filter(|p| p.key_field.is_some())?;
    let field = usize::try_from(kept.key_field?).ok()?;
    let at = page.at.get(field).and_then(KeyValue::number);
    Some(KeyPosition {
        at: at.map_or(kept.at, |at| at.max(kept.at)),
        ..*kept
    })
}

/// One planned migration of a versioned run, for [`run_estimate`].
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
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
    let mut basis = EstimateBasis::CreationTime;
    for item in items {
        match item.status {
            ItemStatus::Completed => done += 1.0,
            ItemStatus::Running => {
                let Some(e) = item.estimate.filter(|e| e.fraction_done.is_some()) else {
                    return Estimate::UNKNOWN;
                };
                done += e.fraction_done.unwrap_or(0.0);
                eta_ms = e.eta_ms;
                if e.basis == EstimateBasis::IndexKey {
                    basis = EstimateBasis::IndexKey;
                }
            }
            ItemStatus::Pending | ItemStatus::Failed | ItemStatus::Canceled => {}
        }
    }
    let pending = items.iter().any(|i| i.status == ItemStatus::Pending);
    let count = items.len() as f64;
    Estimate {
        fraction_done: Some((done / count).clamp(0.0, MAX_UNFINISHED_FRACTION)),
        eta_ms: if pending { None } else { eta_ms },
        basis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn run_estimate_rests_on_what_the_running_migration_rests_on() {
        let on_index = RunItemProgress {
            status: ItemStatus::Running,
            estimate: Some(Estimate {
                fraction_done: Some(0.5),
                eta_ms: Some(5.0),
                basis: EstimateBasis::IndexKey,
            }),
        };
        let e = run_estimate(&[on_index]);
        assert_eq!(
            (e.fraction_done, e.basis),
            (Some(0.5), EstimateBasis::IndexKey)
        );
    }
}
