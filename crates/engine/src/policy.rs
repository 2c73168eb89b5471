//! The batch-size policy: how many documents the next batch may take.
//!
//! A batch is one Convex transaction, so its size is bounded by the
//! per-transaction limits. Two rules keep a migration inside them:
//!
//! - **Shrink on failure.** A batch that hit a limit rolled back entirely;
//!   halve the size and run the same cursor again, down to one document. A
//!   single document that still fails is reported by id.
//! - **Grow while cheap** (adaptive mode only). After a few batches that used
//!   little of every limit, grow toward a target fraction of the most binding
//!   limit, projected from what one document cost, never above the
//!   configured maximum. A batch that used more than the target shrinks back
//!   toward it before it ever reaches the hard limit.
//!
//! Everything here is arithmetic on numbers the caller measured; nothing
//! reads a clock.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::EngineError;

/// Batch size used when the caller names none, in documents. The same
/// default as `@convex-dev/migrations`, so switching changes nothing.
pub const DEFAULT_BATCH_SIZE: u32 = 100;

/// Largest batch anyone may ask for, in documents: a batch that writes every
/// document it reads cannot write more than Convex's 16,000 documents per
/// transaction.
pub const MAX_BATCH_SIZE: u32 = 16_000;

/// Ceiling for adaptive growth when the caller sets none, in documents.
///
/// Half the write limit: a batch that patches every document stays at
/// [`TARGET_FRACTION`] of the 16,000-document write limit even when the
/// metrics that would stop growth earlier are unavailable, and 8,000
/// documents fit the 1 s execution limit at up to ~100 µs of user code each.
pub const DEFAULT_MAX_BATCH_SIZE: u32 = 8_000;

/// Share of the most binding limit a batch aims to use (unitless, 0..1).
/// The other half is headroom for documents larger or costlier than the
/// ones measured so far.
pub const TARGET_FRACTION: f64 = 0.5;

/// A batch is "cheap" when every measured dimension stayed under this share
/// of its limit (unitless, 0..1).
pub const CHEAP_FRACTION: f64 = 0.25;

/// Consecutive cheap, full batches needed before the size grows (batches).
/// One cheap batch can be luck (small documents at the start of a table);
/// two in a row is a trend.
pub const GROW_AFTER_CHEAP_BATCHES: u32 = 2;

/// Times a batch is retried at the same size after a write conflict before
/// the worker fails (retries).
pub const MAX_OCC_RETRIES: u32 = 3;

/// Documents kept back from the nested batch's read and write limits for the
/// component's own work in the same transaction (documents).
pub const NESTED_RESERVE_DOCUMENTS: u64 = 64;

/// Bytes kept back from the nested batch's read and write limits (bytes,
/// 1 MiB): the component's state rows are small, but a scheduled call's
/// arguments and the status row's error text also count.
pub const NESTED_RESERVE_BYTES: u64 = 1 << 20;

/// Index ranges kept back from the nested batch (database queries).
pub const NESTED_RESERVE_QUERIES: u64 = 64;

/// Share of the execution time the nested batch may use (unitless, 0..1).
pub const NESTED_TIME_FRACTION: f64 = 0.9;

/// Convex's per-transaction limits, or tighter ones for tests.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Limits {
    /// Documents scanned per transaction.
    #[ts(type = "number")]
    pub documents_read: u64,
    /// Bytes read per transaction.
    #[ts(type = "number")]
    pub bytes_read: u64,
    /// Documents written per transaction.
    #[ts(type = "number")]
    pub documents_written: u64,
    /// Bytes written per transaction.
    #[ts(type = "number")]
    pub bytes_written: u64,
    /// Index ranges (database queries) per transaction.
    #[ts(type = "number")]
    pub database_queries: u64,
    /// Execution time per transaction, in milliseconds.
    pub time_ms: f64,
}

impl Limits {
    /// The limits of a Convex deployment's mutations.
    pub fn convex() -> Self {
        Limits {
            documents_read: 32_000,
            bytes_read: 16 << 20,
            documents_written: 16_000,
            bytes_written: 16 << 20,
            database_queries: 4_096,
            time_ms: 1_000.0,
        }
    }
}

/// What one batch's nested transaction used, from `getTransactionMetrics()`
/// deltas. Absent when the runtime does not report metrics.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Usage {
    /// Documents scanned.
    #[ts(type = "number")]
    pub documents_read: u64,
    /// Bytes read.
    #[ts(type = "number")]
    pub bytes_read: u64,
    /// Documents written.
    #[ts(type = "number")]
    pub documents_written: u64,
    /// Bytes written.
    #[ts(type = "number")]
    pub bytes_written: u64,
    /// Index ranges read.
    #[ts(type = "number")]
    pub database_queries: u64,
}

/// The two numbers the policy carries from one batch to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// Documents the next batch may take.
    pub batch_size: u32,
    /// Consecutive cheap, full batches seen so far.
    pub cheap_streak: u32,
}

/// What a committed batch reports to the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport<'a> {
    /// Documents the batch visited.
    pub processed: u64,
    /// Metrics of the nested transaction, when the runtime has them.
    pub usage: Option<&'a Usage>,
    /// Wall time of the nested batch, in milliseconds.
    pub elapsed_ms: f64,
}

/// Checks a batch size given by a person or a config file.
///
/// Takes the number as JavaScript holds it so that `0`, `-5`, `2.5`, `NaN`
/// and `1e9` are refused with the value shown, instead of failing to decode.
pub fn validate_batch_size(value: f64) -> Result<u32, EngineError> {
    let whole = value.is_finite() && value.fract() == 0.0;
    if whole && (1.0..=f64::from(MAX_BATCH_SIZE)).contains(&value) {
        // In range and whole, so the conversion is exact.
        return Ok(value as u32);
    }
    Err(EngineError::InvalidBatchSize {
        value: js_number_string(value),
        max: MAX_BATCH_SIZE,
    })
}

/// Formats a number the way JavaScript's `String(n)` does, so an error shows
/// the value the person passed rather than Rust's spelling of it.
pub(crate) fn js_number_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs();
    if (1e-6..1e21).contains(&magnitude) {
        return format!("{value}");
    }
    // JavaScript switches to exponent form outside that range and always
    // signs the exponent.
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    }
}

/// The limits the app's nested batch runs under.
///
/// The batch shares its transaction with the component, which reads and
/// writes its worker row and schedules the next hop after the batch returns.
/// If the batch were allowed the whole budget, a batch that used nearly all
/// of it would push the component's own few writes over the limit and the
/// whole transaction, batch included, would fail without the policy ever
/// hearing why. A fixed reserve suffices because the component's work does
/// not grow with the batch. The reserve never takes more than half of a
/// limit, so deliberately tight test limits still leave the batch room.
pub fn nested_limits(limits: &Limits) -> Limits {
    fn keep(limit: u64, reserve: u64) -> u64 {
        limit.saturating_sub(reserve.min(limit / 2))
    }
    Limits {
        documents_read: keep(limits.documents_read, NESTED_RESERVE_DOCUMENTS),
        bytes_read: keep(limits.bytes_read, NESTED_RESERVE_BYTES),
        documents_written: keep(limits.documents_written, NESTED_RESERVE_DOCUMENTS),
        bytes_written: keep(limits.bytes_written, NESTED_RESERVE_BYTES),
        database_queries: keep(limits.database_queries, NESTED_RESERVE_QUERIES),
        time_ms: if limits.time_ms.is_finite() && limits.time_ms > 0.0 {
            limits.time_ms * NESTED_TIME_FRACTION
        } else {
            0.0
        },
    }
}

/// The largest document Convex stores (bytes, 1 MiB). A read that crosses
/// the nested batch's limit has already counted the whole document, so the
/// driving transaction must have this much left beyond the batch's budget.
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 20;

/// The limits the app's nested batch runs under, from what the driving
/// transaction has **left** (`getTransactionMetrics()`'s `remaining`).
///
/// A nested batch that throws rolls back its writes, but its reads still
/// count against the driving transaction. Budgeting from the nominal limits
/// lets a rolled-back batch leave the component no room to record why it
/// failed: the component's next read pushes the whole transaction over, the
/// hop dies, and nothing is recorded. So every dimension gets the least of
/// [`nested_limits`] and what is left minus a reserve; reads keep back one
/// more document's worth, since the read that crosses the limit is counted
/// whole. The reserve never takes more than half of what is left, so tight
/// limits still leave the batch room. Without `remaining` (a runtime that
/// does not report metrics) this is [`nested_limits`].
pub fn nested_limits_within(limits: &Limits, remaining: Option<&Usage>) -> Limits {
    let nominal = nested_limits(limits);
    let Some(left) = remaining else {
        return nominal;
    };
    fn within(nominal: u64, left: u64, reserve: u64) -> u64 {
        nominal.min(left.saturating_sub(reserve.min(left / 2)))
    }
    Limits {
        documents_read: within(
            nominal.documents_read,
            left.documents_read,
            NESTED_RESERVE_DOCUMENTS + 1,
        ),
        bytes_read: within(
            nominal.bytes_read,
            left.bytes_read,
            NESTED_RESERVE_BYTES + MAX_DOCUMENT_BYTES,
        ),
        documents_written: within(
            nominal.documents_written,
            left.documents_written,
            NESTED_RESERVE_DOCUMENTS,
        ),
        bytes_written: within(
            nominal.bytes_written,
            left.bytes_written,
            NESTED_RESERVE_BYTES,
        ),
        database_queries: within(
            nominal.database_queries,
            left.database_queries,
            NESTED_RESERVE_QUERIES,
        ),
        time_ms: nominal.time_ms,
    }
}

/// The share of its limit the most loaded dimension used (0 = idle, 1 = at
/// the limit). Dimensions whose limit is zero or whose measure is not a
/// number are left out: they carry no information.
pub fn load(usage: Option<&Usage>, elapsed_ms: f64, limits: &Limits) -> f64 {
    fn share(used: u64, limit: u64) -> f64 {
        if limit == 0 {
            0.0
        } else {
            used as f64 / limit as f64
        }
    }
    let mut most: f64 = 0.0;
    if let Some(u) = usage {
        for fraction in [
            share(u.documents_read, limits.documents_read),
            share(u.bytes_read, limits.bytes_read),
            share(u.documents_written, limits.documents_written),
            share(u.bytes_written, limits.bytes_written),
            share(u.database_queries, limits.database_queries),
        ] {
            most = most.max(fraction);
        }
    }
    if elapsed_ms.is_finite()
        && elapsed_ms > 0.0
        && limits.time_ms.is_finite()
        && limits.time_ms > 0.0
    {
        most = most.max(elapsed_ms / limits.time_ms);
    }
    most
}

/// The batch size after a batch committed.
///
/// `limits` are the limits the batch ran under (see [`nested_limits`]).
///
/// - Fixed mode (`adaptive == false`): the size stays as it is.
/// - A batch that visited no document says nothing about cost: unchanged.
/// - Over [`TARGET_FRACTION`] of the most binding limit: shrink to the size
///   projected to land on the target, never below 1, streak reset.
/// - Between cheap and target: keep the size, streak reset.
/// - Cheap and full (visited as many documents as the size): the streak
///   grows; at [`GROW_AFTER_CHEAP_BATCHES`] the size grows to the least of
///   `max`, twice the size, and the size projected to land on the target.
/// - Cheap but short (fewer documents than the size, e.g. a page cut short):
///   streak unchanged. Its fixed per-batch costs spread over few documents
///   make it a poor sample, and growing on it would size the next batch from
///   the documents that happened to be on a short page.
///
/// With the default fractions (cheap = half the target) doubling a cheap
/// batch already stays under the target; the projection is the bound that
/// keeps growth safe should the two fractions be tuned apart.
///
/// The result is always within `1..=max` (`max` itself floored at 1).
pub fn after_commit(
    current: Sizing,
    report: &BatchReport<'_>,
    limits: &Limits,
    max: u32,
    adaptive: bool,
) -> Sizing {
    let max = max.max(1);
    let size = current.batch_size.clamp(1, max);
    if !adaptive || report.processed == 0 {
        return Sizing {
            batch_size: size,
            cheap_streak: current.cheap_streak,
        };
    }
    let used = load(report.usage, report.elapsed_ms, limits);
    let processed = report.processed as f64;
    // Documents that would use TARGET_FRACTION of the most binding limit at
    // the per-document cost just measured. An idle batch projects no bound.
    let projected = if used > 0.0 {
        (TARGET_FRACTION * processed / used).floor()
    } else {
        f64::INFINITY
    };
    if used > TARGET_FRACTION {
        let shrunk = projected.clamp(1.0, f64::from(size)) as u32;
        return Sizing {
            batch_size: shrunk,
            cheap_streak: 0,
        };
    }
    if used >= CHEAP_FRACTION {
        return Sizing {
            batch_size: size,
            cheap_streak: 0,
        };
    }
    if report.processed < u64::from(size) {
        return Sizing {
            batch_size: size,
            cheap_streak: current.cheap_streak,
        };
    }
    let streak = current.cheap_streak.saturating_add(1);
    if streak < GROW_AFTER_CHEAP_BATCHES {
        return Sizing {
            batch_size: size,
            cheap_streak: streak,
        };
    }
    let doubled = f64::from(size) * 2.0;
    let grown = projected
        .min(doubled)
        .min(f64::from(max))
        .max(f64::from(size));
    Sizing {
        batch_size: grown as u32,
        cheap_streak: 0,
    }
}

/// The batch size after a batch hit a transaction limit: half, rounded down.
/// `None` when the batch was already one document, which then cannot be
/// made to fit and fails by id.
pub fn after_limit_failure(size: u32) -> Option<u32> {
    if size <= 1 {
        None
    } else {
        Some(size / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usage_docs(read: u64, written: u64) -> Usage {
        Usage {
            documents_read: read,
            documents_written: written,
            ..Usage::default()
        }
    }

    fn commit(
        size: u32,
        streak: u32,
        processed: u64,
        usage: Option<&Usage>,
        elapsed_ms: f64,
    ) -> Sizing {
        after_commit(
            Sizing {
                batch_size: size,
                cheap_streak: streak,
            },
            &BatchReport {
                processed,
                usage,
                elapsed_ms,
            },
            &Limits::convex(),
            DEFAULT_MAX_BATCH_SIZE,
            true,
        )
    }

    #[test]
    fn convex_limits_match_documented_values() {
        let l = Limits::convex();
        assert_eq!(l.documents_read, 32_000);
        assert_eq!(l.bytes_read, 16 * 1024 * 1024);
        assert_eq!(l.documents_written, 16_000);
        assert_eq!(l.bytes_written, 16 * 1024 * 1024);
        assert_eq!(l.database_queries, 4_096);
        assert_eq!(l.time_ms, 1_000.0);
    }

    #[test]
    fn validate_batch_size_accepts_whole_numbers_in_range() {
        assert_eq!(validate_batch_size(1.0), Ok(1));
        assert_eq!(validate_batch_size(100.0), Ok(100));
        assert_eq!(validate_batch_size(16_000.0), Ok(16_000));
    }

    #[test]
    fn validate_batch_size_refuses_with_value_as_javascript_shows_it() {
        for (value, shown) in [
            (0.0, "0"),
            (-0.0, "0"),
            (-5.0, "-5"),
            (2.5, "2.5"),
            (1e9, "1000000000"),
            (16_001.0, "16001"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(
                validate_batch_size(value),
                Err(EngineError::InvalidBatchSize {
                    value: shown.into(),
                    max: MAX_BATCH_SIZE
                }),
                "value {value}"
            );
        }
    }

    #[test]
    fn nested_limits_keep_a_fixed_reserve_and_ninety_percent_of_time() {
        let n = nested_limits(&Limits::convex());
        assert_eq!(n.documents_read, 32_000 - 64);
        assert_eq!(n.documents_written, 16_000 - 64);
        assert_eq!(n.bytes_read, (16 << 20) - (1 << 20));
        assert_eq!(n.bytes_written, (16 << 20) - (1 << 20));
        assert_eq!(n.database_queries, 4_096 - 64);
        assert!((n.time_ms - 900.0).abs() < 1e-9);
    }

    #[test]
    fn nested_limits_never_reserve_more_than_half_of_a_tight_limit() {
        let tight = Limits {
            documents_read: 10,
            bytes_read: 1_000,
            documents_written: 1,
            bytes_written: 0,
            database_queries: 100,
            time_ms: f64::NAN,
        };
        let n = nested_limits(&tight);
        assert_eq!(n.documents_read, 5);
        assert_eq!(n.bytes_read, 500);
        assert_eq!(n.documents_written, 1);
        assert_eq!(n.bytes_written, 0);
        assert_eq!(n.database_queries, 50);
        assert_eq!(n.time_ms, 0.0);
    }

    #[test]
    fn nested_limits_within_budget_from_what_the_transaction_has_left() {
        // 300,000 bytes read allowed, 12,000 already used by the component.
        let limits = Limits {
            bytes_read: 300_000,
            ..Limits::convex()
        };
        let left = Usage {
            documents_read: 32_000 - 5,
            bytes_read: 288_000,
            documents_written: 16_000,
            bytes_written: 16 << 20,
            database_queries: 4_096 - 5,
        };
        let n = nested_limits_within(&limits, Some(&left));
        // Half of what is left: the other half covers the read that crosses
        // the limit and the component's own rows.
        assert_eq!(n.bytes_read, 144_000);
        assert_eq!(n.documents_read, 32_000 - 5 - 65);
        assert_eq!(n.database_queries, 4_096 - 5 - 64);
        // Never more than the nominal budget.
        assert_eq!(n.bytes_written, (16 << 20) - (1 << 20));
        assert_eq!(n.documents_written, 16_000 - 64);
        assert!((n.time_ms - 900.0).abs() < 1e-9);
    }

    #[test]
    fn nested_limits_within_keep_a_whole_document_back_from_reads() {
        let left = Usage {
            documents_read: 32_000,
            bytes_read: 16 << 20,
            documents_written: 16_000,
            bytes_written: 16 << 20,
            database_queries: 4_096,
        };
        let n = nested_limits_within(&Limits::convex(), Some(&left));
        assert_eq!(n.bytes_read, (16 << 20) - (1 << 20) - MAX_DOCUMENT_BYTES);
    }

    #[test]
    fn nested_limits_within_without_metrics_is_the_nominal_budget() {
        assert_eq!(
            nested_limits_within(&Limits::convex(), None),
            nested_limits(&Limits::convex())
        );
    }

    #[test]
    fn nested_limits_within_nothing_left_gives_nothing() {
        let n = nested_limits_within(&Limits::convex(), Some(&Usage::default()));
        assert_eq!(n.bytes_read, 0);
        assert_eq!(n.documents_read, 0);
    }

    #[test]
    fn fixed_mode_never_changes_size_on_commit() {
        let cheap = usage_docs(1, 1);
        let heavy = usage_docs(31_000, 15_000);
        for usage in [&cheap, &heavy] {
            let mut s = Sizing {
                batch_size: 100,
                cheap_streak: 0,
            };
            for _ in 0..10 {
                s = after_commit(
                    s,
                    &BatchReport {
                        processed: 100,
                        usage: Some(usage),
                        elapsed_ms: 1.0,
                    },
                    &Limits::convex(),
                    DEFAULT_MAX_BATCH_SIZE,
                    false,
                );
                assert_eq!(s.batch_size, 100);
            }
        }
    }

    #[test]
    fn one_cheap_batch_does_not_grow_yet() {
        let u = usage_docs(100, 100);
        let s = commit(100, 0, 100, Some(&u), 10.0);
        assert_eq!(
            s,
            Sizing {
                batch_size: 100,
                cheap_streak: 1
            }
        );
    }

    #[test]
    fn cheap_streak_grows_by_at_most_double() {
        let u = usage_docs(100, 100);
        let s = commit(100, 1, 100, Some(&u), 10.0);
        assert_eq!(
            s,
            Sizing {
                batch_size: 200,
                cheap_streak: 0
            }
        );
    }

    #[test]
    fn growth_from_cheap_batch_stays_under_target() {
        // 100 documents that fan out to 3,900 writes use 0.24375 of the
        // write limit: cheap, so the size doubles, and at 200 the writes
        // (7,800) stay under half the limit.
        let u = usage_docs(100, 3_900);
        let s = commit(100, 1, 100, Some(&u), 10.0);
        assert_eq!(s.batch_size, 200);
        let at_new_size = usage_docs(200, 7_800);
        assert!(load(Some(&at_new_size), 20.0, &Limits::convex()) <= TARGET_FRACTION);
    }

    #[test]
    fn growth_never_exceeds_configured_max() {
        let u = usage_docs(6_000, 1_000);
        let s = commit(6_000, 1, 6_000, Some(&u), 10.0);
        assert_eq!(s.batch_size, DEFAULT_MAX_BATCH_SIZE);
    }

    #[test]
    fn growth_without_metrics_uses_elapsed_time() {
        // 100 docs in 100 ms: 0.1 of 1 s, cheap: doubles.
        let s = commit(100, 1, 100, None, 100.0);
        assert_eq!(s.batch_size, 200);
        // 100 docs in 300 ms: not cheap, keeps its size.
        let s = commit(100, 1, 100, None, 300.0);
        assert_eq!(s.batch_size, 100);
        // 100 docs in 800 ms: over the target, shrinks to 62.
        let s = commit(100, 1, 100, None, 800.0);
        assert_eq!(s.batch_size, 62);
    }

    #[test]
    fn batch_between_cheap_and_target_keeps_size_and_resets_streak() {
        let u = usage_docs(100, 5_000); // 0.3125 of writes
        let s = commit(100, 1, 100, Some(&u), 10.0);
        assert_eq!(
            s,
            Sizing {
                batch_size: 100,
                cheap_streak: 0
            }
        );
    }

    #[test]
    fn batch_over_target_shrinks_proportionally() {
        let u = usage_docs(1_000, 12_000); // 0.75 of writes
        let s = commit(1_000, 1, 1_000, Some(&u), 10.0);
        assert_eq!(
            s,
            Sizing {
                batch_size: 666,
                cheap_streak: 0
            }
        );
    }

    #[test]
    fn batch_far_over_target_shrinks_to_one_at_least() {
        let u = Usage {
            bytes_written: 15 << 20,
            ..Usage::default()
        };
        let limits = Limits {
            bytes_written: 15 << 20,
            ..Limits::convex()
        };
        let s = after_commit(
            Sizing {
                batch_size: 1,
                cheap_streak: 0,
            },
            &BatchReport {
                processed: 1,
                usage: Some(&u),
                elapsed_ms: 0.0,
            },
            &limits,
            100,
            true,
        );
        assert_eq!(s.batch_size, 1);
    }

    #[test]
    fn short_cheap_batch_does_not_count_toward_growth() {
        let u = usage_docs(3, 3);
        let s = commit(100, 1, 3, Some(&u), 1.0);
        assert_eq!(
            s,
            Sizing {
                batch_size: 100,
                cheap_streak: 1
            }
        );
    }

    #[test]
    fn empty_batch_changes_nothing() {
        let s = commit(100, 1, 0, None, 5.0);
        assert_eq!(
            s,
            Sizing {
                batch_size: 100,
                cheap_streak: 1
            }
        );
    }

    #[test]
    fn idle_batch_grows_by_double_only() {
        let s = commit(100, 1, 100, Some(&Usage::default()), 0.0);
        assert_eq!(s.batch_size, 200);
    }

    #[test]
    fn limit_failure_halves_rounding_down() {
        assert_eq!(after_limit_failure(100), Some(50));
        assert_eq!(after_limit_failure(3), Some(1));
        assert_eq!(after_limit_failure(2), Some(1));
    }

    #[test]
    fn limit_failure_at_one_gives_up() {
        assert_eq!(after_limit_failure(1), None);
        assert_eq!(after_limit_failure(0), None);
    }

    fn arb_usage() -> impl Strategy<Value = Option<Usage>> {
        proptest::option::of(
            (
                0u64..40_000,
                0u64..(20 << 20),
                0u64..20_000,
                0u64..(20 << 20),
                0u64..5_000,
            )
                .prop_map(|(a, b, c, d, e)| Usage {
                    documents_read: a,
                    bytes_read: b,
                    documents_written: c,
                    bytes_written: d,
                    database_queries: e,
                }),
        )
    }

    proptest! {
        #[test]
        fn size_always_within_one_and_max(
            size in 0u32..20_000,
            streak in 0u32..5,
            processed in 0u64..20_000,
            usage in arb_usage(),
            elapsed in prop_oneof![Just(f64::NAN), Just(-1.0), 0.0f64..5_000.0],
            max in 0u32..=MAX_BATCH_SIZE,
            adaptive in any::<bool>(),
        ) {
            let s = after_commit(
                Sizing { batch_size: size, cheap_streak: streak },
                &BatchReport { processed, usage: usage.as_ref(), elapsed_ms: elapsed },
                &nested_limits(&Limits::convex()),
                max,
                adaptive,
            );
            prop_assert!(s.batch_size >= 1);
            prop_assert!(s.batch_size <= max.max(1));
        }

        #[test]
        fn limit_failures_reach_one_within_log_steps(size in 1u32..=MAX_BATCH_SIZE) {
            let bound = (f64::from(size)).log2().ceil() as u32 + 1;
            let mut current = size;
            let mut steps = 0;
            while let Some(next) = after_limit_failure(current) {
                prop_assert!(next >= 1 && next < current);
                current = next;
                steps += 1;
                prop_assert!(steps <= bound);
            }
            prop_assert_eq!(current, 1);
        }

        #[test]
        fn growth_never_exceeds_max(
            size in 1u32..=MAX_BATCH_SIZE,
            max in 1u32..=MAX_BATCH_SIZE,
            per_doc in 0u64..3,
        ) {
            let size = size.min(max);
            let u = usage_docs(per_doc * u64::from(size), per_doc * u64::from(size));
            let s = after_commit(
                Sizing { batch_size: size, cheap_streak: GROW_AFTER_CHEAP_BATCHES },
                &BatchReport { processed: u64::from(size), usage: Some(&u), elapsed_ms: 0.0 },
                &Limits::convex(),
                max,
                true,
            );
            prop_assert!(s.batch_size <= max);
        }

        #[test]
        fn linear_usage_converges_under_target(
            start in 1u32..=200,
            max in 1u32..=MAX_BATCH_SIZE,
            read_per_doc in 0u64..8,
            write_per_doc in 0u64..4,
            bytes_per_doc in 0u64..20_000,
            ms_per_doc_micro in 0u64..2_000,
        ) {
            let limits = nested_limits(&Limits::convex());
            let at = |size: u32| {
                let n = u64::from(size);
                (
                    Usage {
                        documents_read: read_per_doc * n,
                        bytes_read: bytes_per_doc * n,
                        documents_written: write_per_doc * n,
                        bytes_written: bytes_per_doc * n,
                        database_queries: 0,
                    },
                    ms_per_doc_micro as f64 * f64::from(size) / 1_000.0,
                )
            };
            let start = start.min(max);
            let mut s = Sizing { batch_size: start, cheap_streak: 0 };
            for _ in 0..200 {
                let (u, ms) = at(s.batch_size);
                s = after_commit(
                    s,
                    &BatchReport { processed: u64::from(s.batch_size), usage: Some(&u), elapsed_ms: ms },
                    &limits,
                    max,
                    true,
                );
            }
            let (u, ms) = at(s.batch_size);
            let used = load(Some(&u), ms, &limits);
            prop_assert!(used <= TARGET_FRACTION + 1e-9, "load {} at size {}", used, s.batch_size);
            // Settled: growth stops only at the ceiling or past the cheap line.
            prop_assert!(s.batch_size == max || used >= CHEAP_FRACTION,
                "stuck at {} with load {}", s.batch_size, used);
        }
    }
}
