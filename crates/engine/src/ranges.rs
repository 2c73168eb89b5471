//! Key ranges for parallel workers.
//!
//! A parallelized migration splits its table by `_creationTime` into
//! disjoint ranges, one worker each. Disjointness is what makes parallel
//! workers safe: no document can be visited by two workers, so none is
//! migrated twice and no two workers write the same document.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::policy::js_number_string;
use crate::EngineError;

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

/// Splits a table whose `_creationTime` runs from `lo` to `hi` into at most
/// `parts` disjoint ranges covering everything.
///
/// The first range is open below and the last open above, so documents
/// inserted while the migration runs (newer than `hi`) still belong to
/// exactly one worker. Interior boundaries are evenly spaced between `lo` and
/// `hi`; boundaries that floating point cannot tell apart are merged, so a
/// narrow span can yield fewer ranges than asked (and `lo == hi` yields one).
pub fn split_range(lo: f64, hi: f64, parts: u32) -> Result<Vec<KeyRange>, EngineError> {
    if !(1..=MAX_PARALLELISM).contains(&parts) {
        return Err(EngineError::InvalidParallelism {
            value: parts,
            max: MAX_PARALLELISM,
        });
    }
    if !lo.is_finite() || !hi.is_finite() {
        return Err(EngineError::InvalidInput {
            message: format!(
                "key range bounds must be finite numbers, got lo {} and hi {}",
                js_number_string(lo),
                js_number_string(hi)
            ),
        });
    }
    if lo > hi {
        return Err(EngineError::InvalidInput {
            message: format!(
                "key range lo ({}) is greater than hi ({})",
                js_number_string(lo),
                js_number_string(hi)
            ),
        });
    }
    let mut boundaries: Vec<f64> = Vec::new();
    let span = hi - lo;
    for i in 1..parts {
        let t = f64::from(i) / f64::from(parts);
        // `hi - lo` overflows only for bounds near f64::MAX; interpolate
        // without the difference then.
        let b = if span.is_finite() {
            lo + span * t
        } else {
            lo * (1.0 - t) + hi * t
        };
        let previous = boundaries.last().copied().unwrap_or(lo);
        // Keep boundaries strictly increasing and strictly above `lo`, so
        // every range but possibly the last holds a non-empty span of [lo, hi].
        if b > previous && b <= hi {
            boundaries.push(b);
        }
    }
    let mut ranges = Vec::with_capacity(boundaries.len() + 1);
    let mut from: Option<f64> = None;
    for b in boundaries {
        ranges.push(KeyRange {
            lo: from,
            hi: Some(b),
        });
        from = Some(b);
    }
    ranges.push(KeyRange { lo: from, hi: None });
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_into_one_part_is_one_open_range() {
        assert_eq!(split_range(10.0, 20.0, 1).unwrap(), vec![KeyRange::all()]);
    }

    #[test]
    fn split_with_equal_bounds_is_one_open_range() {
        assert_eq!(split_range(5.0, 5.0, 8).unwrap(), vec![KeyRange::all()]);
    }

    #[test]
    fn split_spaces_interior_boundaries_evenly_with_open_ends() {
        let r = split_range(0.0, 100.0, 4).unwrap();
        assert_eq!(
            r,
            vec![
                KeyRange {
                    lo: None,
                    hi: Some(25.0)
                },
                KeyRange {
                    lo: Some(25.0),
                    hi: Some(50.0)
                },
                KeyRange {
                    lo: Some(50.0),
                    hi: Some(75.0)
                },
                KeyRange {
                    lo: Some(75.0),
                    hi: None
                },
            ]
        );
    }

    #[test]
    fn split_refuses_zero_and_too_many_parts() {
        assert_eq!(
            split_range(0.0, 1.0, 0),
            Err(EngineError::InvalidParallelism { value: 0, max: 64 })
        );
        assert_eq!(
            split_range(0.0, 1.0, 65),
            Err(EngineError::InvalidParallelism { value: 65, max: 64 })
        );
        assert_eq!(split_range(0.0, 1.0, 64).unwrap().len(), 64);
    }

    #[test]
    fn split_refuses_reversed_or_non_finite_bounds() {
        assert!(matches!(
            split_range(2.0, 1.0, 2),
            Err(EngineError::InvalidInput { .. })
        ));
        assert!(matches!(
            split_range(f64::NAN, 1.0, 2),
            Err(EngineError::InvalidInput { .. })
        ));
        assert!(matches!(
            split_range(0.0, f64::INFINITY, 2),
            Err(EngineError::InvalidInput { .. })
        ));
    }

    #[test]
    fn split_of_a_span_too_narrow_for_floats_merges_ranges() {
        let lo: f64 = 1.0;
        let hi = f64::from_bits(lo.to_bits() + 1);
        let r = split_range(lo, hi, 8).unwrap();
        assert!(r.len() <= 2);
        assert_eq!(r.first().unwrap().lo, None);
        assert_eq!(r.last().unwrap().hi, None);
    }

    #[test]
    fn split_survives_bounds_whose_difference_overflows() {
        let r = split_range(-f64::MAX, f64::MAX, 4).unwrap();
        assert_eq!(r.len(), 4);
    }

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

    proptest! {
        #[test]
        fn ranges_are_ordered_disjoint_and_cover_each_time_once(
            a in -1e15f64..1e15,
            b in -1e15f64..1e15,
            parts in 1u32..=64,
            probes in proptest::collection::vec(0.0f64..=1.0, 1..40),
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let ranges = split_range(lo, hi, parts).unwrap();
            prop_assert!(!ranges.is_empty());
            prop_assert!(ranges.len() <= parts as usize);
            prop_assert_eq!(ranges.first().unwrap().lo, None);
            prop_assert_eq!(ranges.last().unwrap().hi, None);
            for pair in ranges.windows(2) {
                // Adjacent: one ends exactly where the next begins.
                prop_assert_eq!(pair[0].hi, pair[1].lo);
                if let (Some(x), Some(y)) = (pair[0].lo, pair[1].lo) {
                    prop_assert!(x < y);
                }
            }
            let mut times: Vec<f64> = probes.iter().map(|p| lo + (hi - lo) * p).collect();
            times.extend([lo, hi, lo - 1.0, hi + 1.0]);
            times.extend(ranges.iter().filter_map(|r| r.lo));
            for t in times {
                let holders = ranges.iter().filter(|r| r.contains(t)).count();
                prop_assert_eq!(holders, 1, "time {} held by {} ranges", t, holders);
            }
        }
    }
}
