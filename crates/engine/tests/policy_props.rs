//! Property tests of the batch-size policy against a simple model of a
//! table: every document costs the same in each dimension Convex limits,
//! plus a fixed cost per batch (the page's own read, one index range). A
//! batch whose cost passes any dimension of the nested budget hits a limit
//! and rolls back, as Convex would make it; otherwise it commits and the
//! policy sizes the next one. The model does what the worker machine does:
//! halve after a limit, resize after a commit.

use engine::policy::{
    after_commit, after_limit_failure, load, nested_limits, BatchReport, Limits, Sizing, Usage,
    DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_SIZE, GROW_AFTER_CHEAP_BATCHES, GROW_BELOW_FRACTION,
    MAX_BATCH_SIZE, MAX_GROWTH_FACTOR, SHRINK_ABOVE_FRACTION, TARGET_FRACTION,
};
use proptest::prelude::*;

/// What documents of one table cost: per document and per batch.
#[derive(Debug, Clone)]
struct Cost {
    per_doc: Usage,
    per_batch: Usage,
}

impl Cost {
    fn at(&self, n: u32) -> Usage {
        let n = u64::from(n);
        let (d, b) = (&self.per_doc, &self.per_batch);
        Usage {
            documents_read: b.documents_read + n * d.documents_read,
            bytes_read: b.bytes_read + n * d.bytes_read,
            documents_written: b.documents_written + n * d.documents_written,
            bytes_written: b.bytes_written + n * d.bytes_written,
            database_queries: b.database_queries + n * d.database_queries,
        }
    }

    /// The same documents, `k` times as costly in every per-document figure.
    fn times(&self, k: u64) -> Cost {
        let d = &self.per_doc;
        Cost {
            per_doc: Usage {
                documents_read: d.documents_read * k,
                bytes_read: d.bytes_read * k,
                documents_written: d.documents_written * k,
                bytes_written: d.bytes_written * k,
                database_queries: d.database_queries * k,
            },
            per_batch: self.per_batch.clone(),
        }
    }
}

fn fits(u: &Usage, budget: &Limits) -> bool {
    u.documents_read <= budget.documents_read
        && u.bytes_read <= budget.bytes_read
        && u.documents_written <= budget.documents_written
        && u.bytes_written <= budget.bytes_written
        && u.database_queries <= budget.database_queries
}

fn budget() -> Limits {
    nested_limits(&Limits::convex())
}

/// One batch of the model: committed (and resized) or rolled back by a
/// limit (and halved). `None` when a single document cannot fit.
fn run_batch(s: Sizing, cost: &Cost, max: u32) -> Option<(Sizing, bool)> {
    let budget = budget();
    let used = cost.at(s.batch_size);
    if !fits(&used, &budget) {
        let half = after_limit_failure(s.batch_size)?;
        return Some((
            Sizing {
                batch_size: half,
                cheap_streak: 0,
            },
            true,
        ));
    }
    let report = BatchReport {
        processed: u64::from(s.batch_size),
        usage: Some(&used),
        hop_ms: None,
    };
    Some((after_commit(s, &report, &budget, max, true), false))
}

/// The plateau for one cost: it uses the plateau's share of the binding
/// budget, or it sits at the ceiling, or the size projected from it is no
/// larger (documents too large for finer steps; the projection counts the
/// per-batch cost as if every document paid its share, which only errs
/// toward smaller batches).
fn on_plateau(size: u32, cost: &Cost, max: u32) -> bool {
    let budget = budget();
    let used = load(&cost.at(size), &budget);
    (GROW_BELOW_FRACTION..=SHRINK_ABOVE_FRACTION).contains(&used)
        || size == max
        || (TARGET_FRACTION * f64::from(size) / used).floor() <= f64::from(size)
}

/// Documents from tiny to 400 KB: reads, writes (none, every document, or
/// a fan-out), bytes, an index range per document now and then.
fn arb_cost() -> impl Strategy<Value = Cost> {
    (
        1u64..=3,
        40u64..=400_000,
        0u64..=3,
        0u64..=100,
        prop_oneof![3 => Just(0u64), 1 => Just(1u64)],
        0u64..=2,
        1u64..=3,
        0u64..=20_000,
    )
        .prop_map(
            |(
                reads,
                bytes,
                writes,
                written_share,
                queries,
                fixed_reads,
                fixed_queries,
                fixed_bytes,
            )| {
                Cost {
                    per_doc: Usage {
                        documents_read: reads,
                        bytes_read: bytes * reads,
                        documents_written: writes,
                        bytes_written: bytes * writes * written_share / 100,
                        database_queries: queries,
                    },
                    per_batch: Usage {
                        documents_read: fixed_reads,
                        bytes_read: fixed_bytes,
                        documents_written: 0,
                        bytes_written: 0,
                        database_queries: fixed_queries,
                    },
                }
            },
        )
}

fn arb_max() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => Just(DEFAULT_MAX_BATCH_SIZE),
        1 => 1u32..=MAX_BATCH_SIZE,
    ]
}

/// Batches (committed or rolled back) within which any start reaches the
/// plateau: at most 14 halvings from 16,000 down to one document, then at
/// most five growth steps of eight times from one document up to 16,000,
/// each waiting at most one extra batch near the plateau, and one shrink.
const BATCHES_TO_PLATEAU: usize = 14 + 5 * 2 + 1;

/// Start at `start`, run `batches` batches; the sizes seen and whether any
/// limit was hit after the first commit.
fn simulate(start: u32, cost: &Cost, max: u32, batches: usize) -> (Vec<u32>, Vec<bool>) {
    let mut s = Sizing {
        batch_size: start.clamp(1, max),
        cheap_streak: 0,
    };
    let mut sizes = vec![s.batch_size];
    let mut failed = Vec::new();
    for _ in 0..batches {
        let Some((next, limit)) = run_batch(s, cost, max) else {
            break;
        };
        failed.push(limit);
        s = next;
        sizes.push(s.batch_size);
    }
    (sizes, failed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a batch measured, a size the policy grows to is projected
    /// to use at most the target share of the budget at that cost, and grows
    /// at most eight times.
    #[test]
    fn growth_is_projected_to_stay_under_the_target(
        size in 1u32..=MAX_BATCH_SIZE,
        streak in 0u32..4,
        cost in arb_cost(),
        max in arb_max(),
    ) {
        let size = size.min(max);
        let budget = budget();
        let used = cost.per_doc.clone();
        let used = Cost { per_doc: used, per_batch: Usage::default() }.at(size);
        let s = after_commit(
            Sizing { batch_size: size, cheap_streak: streak },
            &BatchReport { processed: u64::from(size), usage: Some(&used), hop_ms: None  },
            &budget,
            max,
            true,
        );
        if s.batch_size > size {
            let per_doc = Cost { per_doc: cost.per_doc.clone(), per_batch: Usage::default() };
            prop_assert!(load(&per_doc.at(s.batch_size), &budget) <= TARGET_FRACTION + 1e-9);
            prop_assert!(s.batch_size <= size.saturating_mul(MAX_GROWTH_FACTOR));
            prop_assert!(s.batch_size <= max);
        }
    }

    /// Uniform documents never push a batch over the nested budget once the
    /// policy has measured one: limit errors happen only before the first
    /// commit (a start larger than what fits), never after.
    #[test]
    fn never_above_the_nested_budget(
        start in 1u32..=MAX_BATCH_SIZE,
        cost in arb_cost(),
        max in arb_max(),
    ) {
        let (sizes, failed) = simulate(start, &cost, max, 60);
        let first_commit = failed.iter().position(|f| !f);
        prop_assert!(first_commit.is_some(), "never committed: {:?}", sizes);
        let later = &failed[first_commit.unwrap_or(0)..];
        prop_assert!(later.iter().all(|f| !f), "limit hit after measuring: sizes {:?}", sizes);
    }

    /// From any start the size reaches the plateau within a bounded number
    /// of batches and then stays exactly there.
    #[test]
    fn converges_to_the_plateau_from_any_start(
        start in 1u32..=MAX_BATCH_SIZE,
        cost in arb_cost(),
        max in arb_max(),
    ) {
        let (sizes, _) = simulate(start, &cost, max, BATCHES_TO_PLATEAU + 20);
        let settled = sizes[BATCHES_TO_PLATEAU];
        prop_assert!(on_plateau(settled, &cost, max), "not a plateau at {}: {:?}", settled, sizes);
        prop_assert!(
            sizes[BATCHES_TO_PLATEAU..].iter().all(|&s| s == settled),
            "moved after settling: {:?}", sizes
        );
    }

    /// A batch that hits a limit runs again at exactly half its size, and
    /// keeps halving until it fits.
    #[test]
    fn halves_on_a_limit(
        cost in arb_cost(),
        heavier in 2u64..=16,
    ) {
        let (sizes, _) = simulate(DEFAULT_BATCH_SIZE, &cost, DEFAULT_MAX_BATCH_SIZE, BATCHES_TO_PLATEAU);
        let plateau = *sizes.last().unwrap_or(&1);
        // The documents ahead are `heavier` times as costly.
        let heavy = cost.times(heavier);
        let mut s = Sizing { batch_size: plateau, cheap_streak: 0 };
        while s.batch_size > 1 && !fits(&heavy.at(s.batch_size), &budget()) {
            let Some((next, limit)) = run_batch(s, &heavy, DEFAULT_MAX_BATCH_SIZE) else { break };
            prop_assert!(limit);
            prop_assert_eq!(next.batch_size, s.batch_size / 2);
            s = next;
        }
    }

    /// After a transient limit error (one batch rolled back, then documents
    /// as before) the size returns to the plateau within three batches (the
    /// halved one grows at once; a step that lands just under the plateau
    /// waits for a second batch), with no further limit error; after a stretch of heavier documents it
    /// settles on their plateau and returns to the first one after them.
    #[test]
    fn recovers_after_a_transient_limit_error(
        cost in arb_cost(),
        heavier in 2u64..=8,
        heavy_batches in 1usize..=30,
    ) {
        let max = DEFAULT_MAX_BATCH_SIZE;
        let (sizes, _) = simulate(DEFAULT_BATCH_SIZE, &cost, max, BATCHES_TO_PLATEAU);
        let plateau = *sizes.last().unwrap_or(&1);
        prop_assume!(plateau > 1);

        // One batch rolled back by a limit (a write burst, one odd page).
        let mut s = Sizing { batch_size: after_limit_failure(plateau).unwrap_or(1), cheap_streak: 0 };
        for _ in 0..1 + GROW_AFTER_CHEAP_BATCHES {
            let Some((next, limit)) = run_batch(s, &cost, max) else { break };
            prop_assert!(!limit);
            s = next;
        }
        prop_assert!(on_plateau(s.batch_size, &cost, max), "at {} after recovery, plateau {}", s.batch_size, plateau);

        // A stretch of heavier documents, then the same documents as before.
        let heavy = cost.times(heavier);
        for _ in 0..heavy_batches {
            let Some((next, _)) = run_batch(s, &heavy, max) else { break };
            s = next;
        }
        for _ in 0..BATCHES_TO_PLATEAU {
            let Some((next, limit)) = run_batch(s, &cost, max) else { break };
            prop_assert!(!limit, "limit hit on the lighter documents at {}", s.batch_size);
            s = next;
        }
        prop_assert!(on_plateau(s.batch_size, &cost, max), "at {} after the heavy stretch, plateau {}", s.batch_size, plateau);
    }
}

/// The figure the benchmark's 100,000-document scenario checks, here on the
/// model: tiny documents that are each read and written once reach the
/// plateau in three growth steps from the default, at 85% of the write
/// budget, and a 100,000-document table takes ten batches.
#[test]
fn tiny_documents_take_ten_batches_for_a_hundred_thousand() {
    let cost = Cost {
        per_doc: Usage {
            documents_read: 1,
            bytes_read: 60,
            documents_written: 1,
            bytes_written: 60,
            database_queries: 0,
        },
        per_batch: Usage {
            documents_read: 1,
            bytes_read: 0,
            documents_written: 0,
            bytes_written: 0,
            database_queries: 1,
        },
    };
    let mut s = Sizing {
        batch_size: DEFAULT_BATCH_SIZE,
        cheap_streak: 0,
    };
    let (mut left, mut batches, mut sizes) = (100_000u32, 0, Vec::new());
    while left > 0 {
        sizes.push(s.batch_size);
        let (next, limit) = run_batch(s, &cost, DEFAULT_MAX_BATCH_SIZE).expect("one document fits");
        assert!(!limit, "limit hit at {}", s.batch_size);
        left = left.saturating_sub(s.batch_size);
        batches += 1;
        s = next;
    }
    assert_eq!(&sizes[..4], &[100, 800, 6_400, 13_545]);
    assert_eq!(batches, 10, "sizes {sizes:?}");
    let at_plateau = load(&cost.at(13_545), &budget());
    assert!(
        (0.75..=TARGET_FRACTION).contains(&at_plateau),
        "{at_plateau}"
    );
}
