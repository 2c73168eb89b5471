//! The batch-size policy: how many documents the next batch may take.
//!
//! A batch is one Convex transaction, so its size is bounded by the
//! per-transaction limits. Three rules keep a migration inside them and as
//! few transactions as they allow:
//!
//! - **Shrink on failure.** A batch that hit a limit rolled back entirely;
//!   halve the size and run the same cursor again, down to one document. A
//!   single document that still fails is reported by id.
//! - **Grow from the measured cost** (adaptive mode only). A committed
//!   batch says what its documents cost in every dimension Convex limits
//!   (documents read and written, bytes read and written, index ranges).
//!   The next size is the one projected to use [`TARGET_FRACTION`] of the
//!   most binding of them, at most [`MAX_GROWTH_FACTOR`] times the size that
//!   was measured, never above the configured ceiling.
//! - **Hold on the plateau.** A batch that used between
//!   [`GROW_BELOW_FRACTION`] and [`SHRINK_ABOVE_FRACTION`] of its binding
//!   limit keeps its size, so documents that vary a little do not make the
//!   size wander; one over the band shrinks back to the target before the
//!   next batch can reach the hard limit.
//!
//! Everything here is arithmetic on numbers the caller measured; nothing
//! reads a clock. Time measured inside the transaction is no input:
//! `Date.now()` does not move inside a Convex mutation. A hop's run time
//! taken from the scheduled records (outside the transaction) is: it counts
//! as one more limit, aimed at [`TIME_TARGET_FRACTION`] (see [`time_load`]).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

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
/// The largest size there is. The measured cost bounds growth before this
/// does: a batch that writes every document it visits plateaus at
/// [`TARGET_FRACTION`] of the nested write budget (about 13,500 documents),
/// one that only reads at the same share of its read budgets. A lower fixed
/// ceiling would only add transactions (at 8,000, 100,000 tiny documents
/// take 15 batches instead of 10). The 1 s execution limit is not a document count;
/// it is judged from the hops' recorded run times ([`time_load`]); a hop
/// that dies of it anyway fails the migration, and the next start resumes
/// at half the size with a lowered ceiling.
pub const DEFAULT_MAX_BATCH_SIZE: u32 = MAX_BATCH_SIZE;

/// Share of the most binding limit a grown or shrunk batch aims to use
/// (unitless, 0..1). The rest is headroom for documents costlier than the
/// ones measured, for up to 1/0.85 - 1 = 17% more per document than the
/// batch the size was projected from.
pub const TARGET_FRACTION: f64 = 0.85;

/// Lower edge of the plateau (unitless, 0..1): a full batch under this share
/// of its binding limit grows toward [`TARGET_FRACTION`].
pub const GROW_BELOW_FRACTION: f64 = 0.8;

/// Upper edge of the plateau (unitless, 0..1): a batch over this share of
/// its binding limit shrinks to the size projected to land on
/// [`TARGET_FRACTION`].
pub const SHRINK_ABOVE_FRACTION: f64 = 0.9;

/// A batch is "cheap" when it used under this share of its binding limit
/// (unitless, 0..1). A cheap full batch grows at once; one between this and
/// [`GROW_BELOW_FRACTION`] is close to the plateau, where growth waits for
/// [`GROW_AFTER_CHEAP_BATCHES`] such batches in a row.
pub const CHEAP_FRACTION: f64 = 0.5;

/// Consecutive full batches under [`GROW_BELOW_FRACTION`] needed before a
/// batch close to the plateau grows (batches). Near the plateau growth
/// gains at most 1.7 times, while a size grown from one batch of
/// cheaper-than-usual documents would overshoot and shrink back: two in a
/// row is a trend. Far below it (under [`CHEAP_FRACTION`]) every step saves
/// transactions, so one batch is enough.
pub const GROW_AFTER_CHEAP_BATCHES: u32 = 2;

/// Most a batch may grow in one step (times the measured size). The
/// projection from a small batch is the least certain one (a few documents
/// may not be like the table's); the cap makes a 100-document sample size
/// a batch of 800, whose own measure then sizes the next. From the default
/// 100, three steps reach the plateau of tiny documents.
pub const MAX_GROWTH_FACTOR: u32 = 8;

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

/// Share of the batch's execution time a hop aims to use (unitless, 0..1).
/// Lower than [`TARGET_FRACTION`]: a hop that runs out of time dies whole,
/// records nothing and costs a hop to notice, where a hop that runs out of
/// reads or writes rolls back only its batch.
pub const TIME_TARGET_FRACTION: f64 = 0.5;

/// Convex's per-transaction limits, or tighter ones for tests.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
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
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, Default, TS)]
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
    /// How long the batch ran, in milliseconds, when something outside the
    /// transaction could time it (the previous hop's scheduled records).
    pub hop_ms: Option<f64>,
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

pub(crate) use crate::jsnum::js_number_string;

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
/// the limit): the binding limit's share. Dimensions whose limit is zero
/// are left out: they carry no information.
pub fn load(usage: &Usage, limits: &Limits) -> f64 {
    fn share(used: u64, limit: u64) -> f64 {
        if limit == 0 {
            0.0
        } else {
            used as f64 / limit as f64
        }
    }
    [
        share(usage.documents_read, limits.documents_read),
        share(usage.bytes_read, limits.bytes_read),
        share(usage.documents_written, limits.documents_written),
        share(usage.bytes_written, limits.bytes_written),
        share(usage.database_queries, limits.database_queries),
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

/// The share of the time limit a batch used, scaled so that
/// [`TIME_TARGET_FRACTION`] of `limits.time_ms` reads as [`TARGET_FRACTION`]:
/// time then binds like any other limit, at its own lower target. 0 when
/// the batch's time is unknown.
pub fn time_load(hop_ms: Option<f64>, limits: &Limits) -> f64 {
    match hop_ms {
        Some(ms) if ms.is_finite() && ms > 0.0 && limits.time_ms > 0.0 => {
            ms / limits.time_ms * (TARGET_FRACTION / TIME_TARGET_FRACTION)
        }
        _ => 0.0,
    }
}

/// The batch size after a batch committed.
///
/// `limits` are the limits the batch ran under (see [`nested_limits_within`]).
/// With `load` the binding limit's share the batch used and `projected` the
/// size that would use [`TARGET_FRACTION`] of it at the per-document cost
/// just measured:
///
/// - Fixed mode (`adaptive == false`): the size stays as it is.
/// - A batch that visited no document, or ran where the runtime reports no
///   metrics, says nothing about cost: unchanged, except that a batch known
///   (from `hop_ms`) to be over the time target shrinks.
/// - Time counts as one more limit ([`time_load`]), aimed at
///   [`TIME_TARGET_FRACTION`] of the time limit.
/// - Over [`SHRINK_ABOVE_FRACTION`]: shrink to `projected`, never below 1,
///   streak reset.
/// - On the plateau (from [`GROW_BELOW_FRACTION`] to
///   [`SHRINK_ABOVE_FRACTION`]): keep the size, streak reset.
/// - Under the plateau but short (fewer documents than the size, e.g. the
///   end of a range or a page cut short): unchanged. Its fixed per-batch
///   costs spread over few documents make it a poor sample.
/// - Under the plateau and full: the streak grows. The size grows to the
///   least of `projected`, [`MAX_GROWTH_FACTOR`] times the size and `max`
///   when the batch was cheap (under [`CHEAP_FRACTION`]) or the streak
///   reached [`GROW_AFTER_CHEAP_BATCHES`]; then the streak restarts.
///
/// For documents of uniform cost the size reaches the plateau at
/// [`TARGET_FRACTION`] of the binding limit and stays there. The result is
/// always within `1..=max` (`max` itself floored at 1).
pub fn after_commit(
    current: Sizing,
    report: &BatchReport<'_>,
    limits: &Limits,
    max: u32,
    adaptive: bool,
) -> Sizing {
    let max = max.max(1);
    let size = current.batch_size.clamp(1, max);
    let sized = |batch_size: u32, cheap_streak: u32| Sizing {
        batch_size,
        cheap_streak,
    };
    if !adaptive || report.processed == 0 {
        return sized(size, current.cheap_streak);
    }
    let time = time_load(report.hop_ms, limits);
    let used = match report.usage {
        Some(usage) => load(usage, limits).max(time),
        // Without metrics only time speaks, and only against growing: a
        // slow hop shrinks the next batch, a quick one proves nothing about
        // the reads and writes it did not report.
        None if time > SHRINK_ABOVE_FRACTION => time,
        None => return sized(size, current.cheap_streak),
    };
    // Documents that would use TARGET_FRACTION of the binding limit at the
    // per-document cost just measured. An idle batch projects no bound.
    let projected = if used > 0.0 {
        (TARGET_FRACTION * report.processed as f64 / used).floor()
    } else {
        f64::INFINITY
    };
    if used > SHRINK_ABOVE_FRACTION {
        // `size` is at least 1 (clamped above); `max`/`min` rather than
        // `clamp`, whose check of its bounds would format floats into the
        // Wasm module. `projected` is never NaN: `used` is above zero here.
        return sized(projected.max(1.0).min(f64::from(size)) as u32, 0);
    }
    if used >= GROW_BELOW_FRACTION {
        return sized(size, 0);
    }
    if report.processed < u64::from(size) {
        return sized(size, current.cheap_streak);
    }
    let streak = current.cheap_streak.saturating_add(1);
    if used >= CHEAP_FRACTION && streak < GROW_AFTER_CHEAP_BATCHES {
        return sized(size, streak);
    }
    let grown = projected
        .min(f64::from(size) * f64::from(MAX_GROWTH_FACTOR))
        .min(f64::from(max))
        .max(f64::from(size));
    sized(grown as u32, 0)
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

    fn commit(size: u32, streak: u32, processed: u64, usage: Option<&Usage>) -> Sizing {
        after_commit(
            Sizing {
                batch_size: size,
                cheap_streak: streak,
            },
            &BatchReport {
                processed,
                usage,
                hop_ms: None,
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
                        hop_ms: None,
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
    fn cheap_batch_grows_at_once_by_at_most_eight_times() {
        // 100 writes of 16,000: the projection says 13,600, the cap 800.
        let u = usage_docs(100, 100);
        let s = commit(100, 0, 100, Some(&u));
        assert_eq!(
            s,
            Sizing {
                batch_size: 800,
                cheap_streak: 0
            }
        );
    }

    #[test]
    fn growth_lands_on_the_target_of_the_binding_limit() {
        // 100 documents that fan out to 3,900 writes use 0.24375 of the
        // write limit; at 348 they write 13,572, just under 85% of it.
        let u = usage_docs(100, 3_900);
        let s = commit(100, 0, 100, Some(&u));
        assert_eq!(s.batch_size, 348);
        let at_new_size = usage_docs(348, 348 * 39);
        assert!(load(&at_new_size, &Limits::convex()) <= TARGET_FRACTION);
        assert!(load(&at_new_size, &Limits::convex()) > GROW_BELOW_FRACTION);
    }

    #[test]
    fn the_binding_limit_is_whichever_dimension_is_most_used() {
        // Bytes read bind: 4 MiB of 16 MiB against 1,000 of 16,000 writes.
        let u = Usage {
            documents_read: 1_000,
            bytes_read: 4 << 20,
            documents_written: 1_000,
            bytes_written: 1 << 20,
            database_queries: 1,
        };
        assert_eq!(load(&u, &Limits::convex()), 0.25);
        let s = commit(1_000, 0, 1_000, Some(&u));
        assert_eq!(s.batch_size, 3_400);
    }

    #[test]
    fn close_to_the_plateau_growth_waits_for_a_second_batch() {
        // 10,000 writes of 16,000 (0.625): under the plateau, not cheap.
        let u = usage_docs(1_000, 10_000);
        let first = commit(1_000, 0, 1_000, Some(&u));
        assert_eq!(
            first,
            Sizing {
                batch_size: 1_000,
                cheap_streak: 1
            }
        );
        let second = commit(first.batch_size, first.cheap_streak, 1_000, Some(&u));
        assert_eq!(
            second,
            Sizing {
                batch_size: 1_360,
                cheap_streak: 0
            }
        );
    }

    #[test]
    fn growth_never_exceeds_configured_max() {
        let u = usage_docs(6_000, 1_000);
        assert_eq!(
            commit(6_000, 0, 6_000, Some(&u)).batch_size,
            DEFAULT_MAX_BATCH_SIZE
        );
        let s = after_commit(
            Sizing {
                batch_size: 6_000,
                cheap_streak: 0,
            },
            &BatchReport {
                processed: 6_000,
                usage: Some(&u),
                hop_ms: None,
            },
            &Limits::convex(),
            7_000,
            true,
        );
        assert_eq!(s.batch_size, 7_000);
    }

    #[test]
    fn without_metrics_the_size_holds() {
        // No measurement, no evidence: neither growth nor shrinking.
        assert_eq!(
            commit(100, 1, 100, None),
            Sizing {
                batch_size: 100,
                cheap_streak: 1
            }
        );
        assert_eq!(commit(6_000, 0, 6_000, None).batch_size, 6_000);
    }

    #[test]
    fn batch_on_the_plateau_keeps_size_and_resets_streak() {
        for written in [12_800, 13_600, 14_400] {
            let u = usage_docs(1_000, written);
            assert_eq!(
                commit(1_000, 1, 1_000, Some(&u)),
                Sizing {
                    batch_size: 1_000,
                    cheap_streak: 0
                },
                "{written} writes"
            );
        }
    }

    #[test]
    fn batch_over_the_plateau_shrinks_to_the_target() {
        let u = usage_docs(1_000, 15_000); // 0.9375 of writes
        let s = commit(1_000, 1, 1_000, Some(&u));
        assert_eq!(
            s,
            Sizing {
                batch_size: 906,
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
                hop_ms: None,
            },
            &limits,
            100,
            true,
        );
        assert_eq!(s.batch_size, 1);
    }

    #[test]
    fn short_cheap_batch_does_not_grow() {
        let u = usage_docs(3, 3);
        let s = commit(100, 1, 3, Some(&u));
        assert_eq!(
            s,
            Sizing {
                batch_size: 100,
                cheap_streak: 1
            }
        );
    }

    #[test]
    fn short_batch_over_the_plateau_still_shrinks() {
        let u = usage_docs(50, 15_000);
        assert_eq!(commit(100, 0, 50, Some(&u)).batch_size, 45);
    }

    #[test]
    fn empty_batch_changes_nothing() {
        let u = usage_docs(1, 0);
        let s = commit(100, 1, 0, Some(&u));
        assert_eq!(
            s,
            Sizing {
                batch_size: 100,
                cheap_streak: 1
            }
        );
    }

    #[test]
    fn idle_batch_grows_by_the_step_cap_only() {
        let s = commit(100, 0, 100, Some(&Usage::default()));
        assert_eq!(s.batch_size, 800);
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
            max in 0u32..=MAX_BATCH_SIZE,
            adaptive in any::<bool>(),
        ) {
            let s = after_commit(
                Sizing { batch_size: size, cheap_streak: streak },
                &BatchReport { processed, usage: usage.as_ref(), hop_ms: None  },
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
                &BatchReport { processed: u64::from(size), usage: Some(&u), hop_ms: None  },
                &Limits::convex(),
                max,
                true,
            );
            prop_assert!(s.batch_size <= max);
        }
    }

    proptest! {
        /// A hop timed from the scheduled records keeps the next batch at
        /// or under the time target, however light its reads and writes,
        /// and with or without metrics.
        #[test]
        fn a_slow_hop_keeps_the_next_batch_under_the_time_target(
            size in 2u32..16_000,
            ms_per_doc in 0.01f64..5.0,
            with_metrics in any::<bool>(),
        ) {
            let limits = nested_limits(&Limits::convex());
            let light = usage_docs(u64::from(size), 0);
            let hop_ms = ms_per_doc * f64::from(size);
            let next = after_commit(
                Sizing { batch_size: size, cheap_streak: 0 },
                &BatchReport {
                    processed: u64::from(size),
                    usage: with_metrics.then_some(&light),
                    hop_ms: Some(hop_ms),
                },
                &limits,
                MAX_BATCH_SIZE,
                true,
            );
            let target_ms = TIME_TARGET_FRACTION * limits.time_ms;
            if hop_ms > target_ms / TARGET_FRACTION * SHRINK_ABOVE_FRACTION {
                prop_assert!(next.batch_size < size);
            }
            // Never projected past the time target (a one-document batch
            // cannot shrink further).
            prop_assert!(
                f64::from(next.batch_size) * ms_per_doc <= target_ms.max(hop_ms.min(ms_per_doc)) + 1e-6
                    || next.batch_size == 1
                    || next.batch_size == size && hop_ms <= target_ms / TARGET_FRACTION * SHRINK_ABOVE_FRACTION,
                "size {size} → {} at {ms_per_doc} ms/doc", next.batch_size
            );
        }
    }
}
