//! Property tests of the worker state machine over random event sequences,
//! checked against a small model of the rules that matter most: counters
//! add up, finished workers stay finished, generations only rise, and a
//! stale hop never runs a batch.

use engine::machine::{step, Action, Event, FailureKind, WorkerState, WorkerStatus};
use engine::policy::{Limits, Usage};
use engine::ranges::KeyRange;
use proptest::prelude::*;

/// An event before the generation of a `Tick` is resolved: a tick either
/// carries the worker's current generation or an arbitrary one.
#[derive(Debug, Clone)]
enum Gen {
    Event(Event),
    CurrentTick,
}

fn arb_batch_size() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        3 => Just(None),
        3 => (1u32..=2_000).prop_map(|n| Some(f64::from(n))),
        1 => prop_oneof![Just(0.0), Just(-5.0), Just(2.5), Just(1e9), Just(f64::NAN)].prop_map(Some),
    ]
}

fn arb_usage() -> impl Strategy<Value = Option<Usage>> {
    proptest::option::of((0u64..40_000, 0u64..20_000).prop_map(|(r, w)| Usage {
        documents_read: r,
        bytes_read: r * 100,
        documents_written: w,
        bytes_written: w * 100,
        database_queries: 2,
    }))
}

fn arb_kind() -> impl Strategy<Value = FailureKind> {
    prop_oneof![
        Just(FailureKind::Limit),
        Just(FailureKind::Occ),
        Just(FailureKind::User)
    ]
}

fn arb_event() -> impl Strategy<Value = Gen> {
    let start = (
        arb_batch_size(),
        arb_batch_size(),
        proptest::option::of(any::<bool>()),
        proptest::option::of("[a-z]{1,3}"),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        proptest::option::of((0.0f64..100.0, 100.0f64..200.0)),
    )
        .prop_map(
            |(batch_size, max_batch_size, adaptive, cursor, reset, one_batch_only, range)| {
                Gen::Event(Event::Start {
                    now_ms: 0.0,
                    batch_size,
                    default_batch_size: None,
                    max_batch_size,
                    adaptive,
                    cursor,
                    reset,
                    one_batch_only,
                    range: range.map(|(lo, hi)| KeyRange {
                        lo: Some(lo),
                        hi: Some(hi),
                    }),
                    stalled: false,
                    fan_out: None,
                })
            },
        );
    let commit = (
        0u64..3_000,
        any::<bool>(),
        prop::bool::weighted(0.1),
        proptest::option::of(0.0f64..2_000.0),
        arb_usage(),
    )
        .prop_map(|(processed, half, is_done, hop_ms, usage)| {
            Gen::Event(Event::BatchCommitted {
                now_ms: 0.0,
                processed,
                updated: if half { processed / 2 } else { processed },
                cursor: format!("c{processed}"),
                is_done,
                hop_ms,
                usage,
                budget: None,
                position: None,
            })
        });
    let fail = (arb_kind(), proptest::option::of("[a-z]{2}")).prop_map(|(kind, document_id)| {
        // The engine judges the kind from the error as thrown.
        let (message, code) = match kind {
            FailureKind::Limit => ("too many documents read", None),
            FailureKind::Occ => ("changed while this mutation was being run", None),
            FailureKind::User => ("boom", None),
            FailureKind::CodeChanged => ("boom", Some("CODE_CHANGED".to_string())),
        };
        Gen::Event(Event::BatchFailed {
            now_ms: 0.0,
            message: message.into(),
            code,
            document_id,
        })
    });
    prop_oneof![
        2 => start,
        3 => Just(Gen::CurrentTick),
        1 => (0u64..6).prop_map(|generation| Gen::Event(Event::Tick { generation })),
        5 => commit,
        2 => fail,
        1 => Just(Gen::Event(Event::CancelRequested { now_ms: 0.0 })),
        1 => Just(Gen::Event(Event::Halt { now_ms: 0.0 })),
    ]
}

/// Stamps increasing times on the events so elapsed figures stay sane.
fn with_time(event: Event, now: f64) -> Event {
    match event {
        Event::Start {
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
            ..
        } => Event::Start {
            now_ms: now,
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
        },
        Event::BatchCommitted {
            processed,
            updated,
            cursor,
            is_done,
            hop_ms,
            usage,
            budget,
            position,
            ..
        } => Event::BatchCommitted {
            now_ms: now,
            processed,
            updated,
            cursor,
            is_done,
            hop_ms,
            usage,
            budget,
            position,
        },
        Event::BatchFailed {
            message,
            code,
            document_id,
            ..
        } => Event::BatchFailed {
            now_ms: now,
            message,
            code,
            document_id,
        },
        Event::HopDied { message, .. } => Event::HopDied {
            now_ms: now,
            message,
        },
        Event::StartRefused { message, .. } => Event::StartRefused {
            now_ms: now,
            message,
        },
        Event::CancelRequested { .. } => Event::CancelRequested { now_ms: now },
        Event::Halt { .. } => Event::Halt { now_ms: now },
        tick @ Event::Tick { .. } => tick,
    }
}

/// Whether the model expects this start to begin a new pass with zeroed
/// counters (rather than keep them or do nothing).
fn start_zeroes_counters(
    previous: Option<&WorkerState>,
    reset: bool,
    cursor: bool,
    takes_over: bool,
) -> bool {
    match previous {
        None => true,
        // A running worker ignores a start unless the start takes it over.
        Some(s) if s.status == WorkerStatus::InProgress => takes_over && (reset || cursor),
        Some(s) if s.status == WorkerStatus::Success => reset || cursor,
        Some(_) => reset || cursor,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_event_sequences_keep_the_invariants(events in proptest::collection::vec(arb_event(), 1..60)) {
        let limits = Limits::convex();
        let mut state: Option<WorkerState> = None;
        let mut model_processed: u64 = 0;
        let mut model_updated: u64 = 0;

        for (i, generated) in events.into_iter().enumerate() {
            let now = 1_000.0 + i as f64 * 10.0;
            let event = match generated {
                Gen::CurrentTick => Event::Tick { generation: state.as_ref().map_or(0, |s| s.generation) },
                Gen::Event(e) => with_time(e, now),
            };
            let before = state.clone();
            let result = step(before.as_ref(), &event, &limits);
            let Ok(t) = result else {
                // A refused event changes nothing: the caller keeps its row.
                continue;
            };

            // Batch size stays within 1..=max.
            prop_assert!(t.state.batch_size >= 1);
            prop_assert!(t.state.batch_size <= t.state.max_batch_size);

            // Nothing means nothing changed.
            if let (Action::Nothing { .. }, Some(b)) = (&t.action, &before) {
                prop_assert_eq!(&t.state, b);
            }

            // A run action always carries the state's generation and cursor.
            if let Action::RunBatch { cursor, batch_size, generation, .. } = &t.action {
                prop_assert_eq!(*generation, t.state.generation);
                prop_assert_eq!(cursor, &t.state.cursor);
                prop_assert_eq!(*batch_size, t.state.batch_size);
                prop_assert_eq!(t.state.status, WorkerStatus::InProgress);
            }

            if let Some(b) = &before {
                // Generations never go down.
                prop_assert!(t.state.generation >= b.generation);

                // A tick that is not for the current generation never runs a batch.
                if let Event::Tick { generation } = &event {
                    if *generation != b.generation || b.status != WorkerStatus::InProgress {
                        let did_nothing = matches!(t.action, Action::Nothing { .. });
                        prop_assert!(did_nothing, "stale tick ran: {:?}", t.action);
                    }
                }

                // After success only a start with reset or an explicit cursor changes the state.
                if b.status == WorkerStatus::Success {
                    let restarts = matches!(&event, Event::Start { reset, cursor, .. } if *reset || cursor.is_some());
                    if !restarts {
                        prop_assert_eq!(&t.state, b);
                    }
                }
            }

            // Counters follow the model.
            match &event {
                Event::Start { reset, cursor, one_batch_only, stalled, .. }
                    if start_zeroes_counters(
                        before.as_ref(),
                        *reset,
                        cursor.is_some(),
                        *one_batch_only || *stalled,
                    ) =>
                {
                    model_processed = 0;
                    model_updated = 0;
                }
                Event::BatchCommitted { processed, updated, .. } => {
                    model_processed += processed;
                    model_updated += updated;
                }
                _ => {}
            }
            prop_assert_eq!(t.state.processed, model_processed);
            prop_assert_eq!(t.state.updated, model_updated);

            state = Some(t.state);
        }
    }

    #[test]
    fn stale_scheduled_hops_never_run_after_cancel_and_restart(restarts in 1usize..5) {
        let limits = Limits::convex();
        let start = Event::start_at(0.0);
        let mut state = step(None, &start, &limits).unwrap().state;
        let mut old_generations = Vec::new();
        for _ in 0..restarts {
            old_generations.push(state.generation);
            state = step(Some(&state), &Event::CancelRequested { now_ms: 1.0 }, &limits).unwrap().state;
            state = step(Some(&state), &start, &limits).unwrap().state;
        }
        for generation in old_generations {
            let t = step(Some(&state), &Event::Tick { generation }, &limits).unwrap();
            let did_nothing = matches!(t.action, Action::Nothing { .. });
            prop_assert!(did_nothing, "stale tick ran: {:?}", t.action);
        }
        let current = state.generation;
        let t = step(Some(&state), &Event::Tick { generation: current }, &limits).unwrap();
        prop_assert!(
            matches!(t.action, Action::RunBatch { .. }),
            "the current generation's hop runs"
        );
    }
}
