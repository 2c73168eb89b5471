//! Key ranges for parallel workers.
//!
//! A migration with several workers gives each a disjoint `_creationTime`
//! range. Disjointness is what makes parallel workers safe: no document can
//! be visited by two workers, so none is migrated twice and no two workers
//! write the same document. The ranges are cut when the first worker's
//! batch size settles, from how far it has walked ([`fan_out_ranges`]).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::estimate::KeyPosition;

/// Most workers one migration may run at once (workers). Each worker is a
/// chain of scheduled transactions; beyond a few dozen they mostly contend
/// for the same deployment and stop adding speed.
pub const MAX_PARALLELISM: u32 = 64;

/// A half-open span of `_creationTime`: `lo` inclusive, `hi` exclusive,
/// `None` meaning unbounded on that side.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct KeyRange {
    /// Smallest `_creationTime` in the range; unbounded below when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub lo: Option<f64>,
    /// First `_creationTime` past the range; unbounded above when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub hi: Option<f64>,
}

impl KeyRange {
    /// The range that holds every document.
    pub fn all() -> Self {
        KeyRange { lo: None, hi: None }
    }

    /// Whether a document created at `time` belongs to this range.
    pub fn contains(&self, time: f64) -> bool {
        self.lo.is_none_or(|lo| time >= lo) && self.hi.is_none_or(|hi| time < hi)
    }
}

/// Whole batches (at the learned size) of estimated remainder that each
/// worker of a fan-out must get: with less than two such batches left
/// the first worker finishes alone, since a worker created for a part of
/// one batch costs a row and a chain of its own and saves at most one hop.
pub const FAN_OUT_MIN_BATCHES_PER_WORKER: f64 = 1.0;

/// Shares the rest of a worker's range among up to `workers` workers, when
/// its walk in `_creationTime` order has reached `walked.at` after visiting
/// `processed` documents from `walked.lo`, and its batches hold
/// `batch_size` documents.
///
/// The documents left are estimated from the density walked so far
/// (`processed` over `at - lo`) times the span left (`hi - at`, `hi` being
/// the range's last document when the walk began). They are cut into whole
/// batches, `ceil(left / batch_size)`, dealt out evenly (the first workers
/// take one more where they do not divide), and each worker's span is its
/// share of the batches: so every batch of the estimate holds the same
/// number of documents, at most `batch_size`, and the slack between the two
/// absorbs a density that is not quite even.
///
/// The first range returned is the walking worker's own, cut just past its
/// position (it keeps everything up to `at` and its cursor stays valid);
/// the last keeps the range's upper end, so documents inserted since the
/// walk began still belong to exactly one worker. `None` when no fan-out is
/// due: fewer than two workers' worth of batches left (see
/// [`FAN_OUT_MIN_BATCHES_PER_WORKER`]), nothing walked or nothing left to
/// walk, a walk over another index, or a span that floating point cannot
/// cut.
pub fn fan_out_ranges(
    range: &KeyRange,
    walked: &KeyPosition,
    processed: u64,
    batch_size: u32,
    workers: u32,
) -> Option<Vec<KeyRange>> {
    if walked.key_field.is_some() || processed == 0 || batch_size == 0 {
        return None;
    }
    let (lo, at, hi) = (walked.lo, walked.at, walked.hi);
    let walked_span = at - lo;
    let left_span = hi - at;
    if !(walked_span > 0.0 && walked_span.is_finite() && left_span > 0.0 && left_span.is_finite()) {
        return None;
    }
    let per_batch = f64::from(batch_size);
    let left = processed as f64 * left_span / walked_span;
    // At most 2^53 batches, which f64 and u64 both count exactly.
    let batches = (left / per_batch).ceil().min(9_007_199_254_740_992.0);
    let fit = (left / (per_batch * FAN_OUT_MIN_BATCHES_PER_WORKER)).floor();
    let count = f64::from(workers.min(MAX_PARALLELISM)).min(fit);
    if !(count >= 2.0 && batches.is_finite()) {
        return None;
    }
    let count = count as u64;
    let batches = (batches as u64).max(count);
    let (each, extra) = (batches / count, batches % count);
    let mut cuts = Vec::new();
    let mut dealt = 0u64;
    for worker in 0..count - 1 {
        dealt += each + u64::from(worker < extra);
        let cut = at + left_span * (dealt as f64 / batches as f64);
        let previous = cuts.last().copied().unwrap_or(at);
        let inside = range.lo.is_none_or(|l| cut > l) && range.hi.is_none_or(|h| cut < h);
        if !(cut > previous && cut < hi && inside) {
            return None;
        }
        cuts.push(cut);
    }
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut from = range.lo;
    for cut in cuts {
        ranges.push(KeyRange {
            lo: from,
            hi: Some(cut),
        });
        from = Some(cut);
    }
    ranges.push(KeyRange {
        lo: from,
        hi: range.hi,
    });
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn contains_is_lo_inclusive_hi_exclusive() {
        let r = KeyRange {
            lo: Some(1.0),
            hi: Some(2.0),
        };
        assert!(r.contains(1.0));
        assert!(r.contains(1.5));
        assert!(!r.contains(2.0));
        assert!(!r.contains(0.5));
        assert!(KeyRange::all().contains(-1e300));
    }

    #[test]
    fn key_range_serializes_open_ends_as_absent_fields() {
        let json = serde_json::to_string(&KeyRange {
            lo: Some(3.0),
            hi: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"lo":3.0}"#);
        let back: KeyRange = serde_json::from_str("{}").unwrap();
        assert_eq!(back, KeyRange::all());
    }

    fn walked(lo: f64, at: f64, hi: f64) -> KeyPosition {
        KeyPosition {
            lo,
            hi,
            at,
            key_field: None,
        }
    }

    #[test]
    fn fan_out_deals_whole_batches_by_the_density_walked() {
        // 20,800 documents over the first 20.8 ms of 100 ms: 79,200 left,
        // six batches of 13,545, dealt 2, 2, 1, 1.
        let r = fan_out_ranges(
            &KeyRange::all(),
            &walked(0.0, 20.8, 100.0),
            20_800,
            13_545,
            4,
        )
        .unwrap();
        assert_eq!(r.len(), 4);
        let cut = |i: usize| r[i].hi.unwrap();
        let left = 100.0 - 20.8;
        assert!((cut(0) - (20.8 + left * 2.0 / 6.0)).abs() < 1e-9);
        assert!((cut(1) - (20.8 + left * 4.0 / 6.0)).abs() < 1e-9);
        assert!((cut(2) - (20.8 + left * 5.0 / 6.0)).abs() < 1e-9);
        assert_eq!(r[0].lo, None);
        assert_eq!(r[3].hi, None);
        // Each share, at the density walked, fits its whole batches.
        let density = 20_800.0 / 20.8;
        for (range, batches) in r.iter().zip([2.0, 2.0, 1.0, 1.0]) {
            let span = range.hi.unwrap_or(100.0) - range.lo.unwrap_or(20.8);
            assert!(span * density <= batches * 13_545.0 + 1e-6);
        }
    }

    #[test]
    fn fan_out_keeps_a_small_remainder_with_the_first_worker() {
        // 1.5 batches left: no second worker gets a whole batch.
        assert_eq!(
            fan_out_ranges(&KeyRange::all(), &walked(0.0, 40.0, 100.0), 4_000, 4_000, 4),
            None
        );
        // Three batches left: three workers, not four.
        let r = fan_out_ranges(&KeyRange::all(), &walked(0.0, 25.0, 100.0), 1_000, 1_000, 4);
        assert_eq!(r.map(|r| r.len()), Some(3));
    }

    #[test]
    fn fan_out_needs_a_walk_with_something_walked_and_something_left() {
        let all = KeyRange::all();
        assert_eq!(
            fan_out_ranges(&all, &walked(0.0, 0.0, 100.0), 100, 10, 4),
            None
        );
        assert_eq!(
            fan_out_ranges(&all, &walked(0.0, 100.0, 100.0), 100, 10, 4),
            None
        );
        // Inserts moved the walk past the last bound read.
        assert_eq!(
            fan_out_ranges(&all, &walked(0.0, 120.0, 100.0), 100, 10, 4),
            None
        );
        assert_eq!(
            fan_out_ranges(&all, &walked(0.0, 10.0, 100.0), 0, 10, 4),
            None
        );
        assert_eq!(
            fan_out_ranges(&all, &walked(0.0, 10.0, 100.0), 100, 0, 4),
            None
        );
        assert_eq!(
            fan_out_ranges(&all, &walked(0.0, 10.0, 100.0), 100, 10, 1),
            None
        );
        let mut on_index = walked(0.0, 10.0, 100.0);
        on_index.key_field = Some(0);
        assert_eq!(fan_out_ranges(&all, &on_index, 100, 10, 4), None);
        assert_eq!(
            fan_out_ranges(&all, &walked(f64::NAN, 10.0, 100.0), 100, 10, 4),
            None
        );
    }

    #[test]
    fn fan_out_of_a_span_too_narrow_to_cut_stays_alone() {
        let lo: f64 = 1.0;
        let at = f64::from_bits(lo.to_bits() + 1);
        let hi = f64::from_bits(at.to_bits() + 1);
        assert_eq!(
            fan_out_ranges(&KeyRange::all(), &walked(lo, at, hi), 1_000_000, 1, 8),
            None
        );
    }

    proptest! {
        #[test]
        fn fan_out_ranges_cover_the_rest_of_the_range_exactly_once(
            lo in -1e12f64..1e12,
            walked_span in 1e-3f64..1e9,
            left_span in 1e-3f64..1e9,
            processed in 1u64..10_000_000,
            batch_size in 1u32..=16_000,
            workers in 2u32..=64,
            bounded in any::<(bool, bool)>(),
            probes in proptest::collection::vec(0.0f64..=1.0, 1..40),
        ) {
            let at = lo + walked_span;
            let hi = at + left_span;
            let range = KeyRange {
                lo: bounded.0.then_some(lo - 1.0),
                hi: bounded.1.then_some(hi + 1.0),
            };
            let Some(ranges) = fan_out_ranges(&range, &walked(lo, at, hi), processed, batch_size, workers) else {
                return Ok(());
            };
            prop_assert!(ranges.len() >= 2 && ranges.len() <= workers as usize);
            prop_assert_eq!(ranges[0].lo, range.lo);
            prop_assert_eq!(ranges.last().unwrap().hi, range.hi);
            // The walker keeps what it walked: the first cut is past its position.
            prop_assert!(ranges[0].hi.unwrap() > at);
            for pair in ranges.windows(2) {
                prop_assert_eq!(pair[0].hi, pair[1].lo);
            }
            let mut times: Vec<f64> = probes.iter().map(|p| lo + (hi - lo) * p).collect();
            times.extend([lo, at, hi, hi + 0.5]);
            times.extend(ranges.iter().filter_map(|r| r.lo));
            for t in times.into_iter().filter(|t| range.contains(*t)) {
                let holders = ranges.iter().filter(|r| r.contains(t)).count();
                prop_assert_eq!(holders, 1, "time {} held by {} ranges", t, holders);
                if t <= at {
                    prop_assert!(ranges[0].contains(t));
                }
            }
        }
    }
}
