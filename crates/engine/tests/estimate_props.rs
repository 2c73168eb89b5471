//! Property tests of the progress estimate, over workers driven through the
//! real state machine:
//!
//! - while the walks move forward over the bounds read at their start, the
//!   fraction never goes down;
//! - it is exactly 1 when, and only when, every worker is done, and never
//!   above [`MAX_UNFINISHED_FRACTION`] before, even when documents inserted
//!   during the run lie past the last bound;
//! - a walk that reports no position has no estimate;
//! - a `customRange` walk over an index is estimated along the first field
//!   where its range's ends differ, the same way, when that field is a
//!   number: monotone in the cursor's key, 1 exactly when done, never
//!   above [`MAX_UNFINISHED_FRACTION`] before, even with inserts past the
//!   last key or the fields before the key moving on; a key that is not a
//!   number, or a range whose ends share their key, has none;
//! - time left is never negative.
//!
//! Then worked examples of the same rules, with the figures a user sees.

use engine::estimate::{
    Estimate, EstimateBasis, KeyBounds, KeyValue, PagePosition, MAX_UNFINISHED_FRACTION,
};
use engine::machine::{step, Event, WorkerState, WorkerStatus};
use engine::policy::Limits;
use engine::progress::estimate;
use proptest::prelude::*;

fn start(now_ms: f64) -> WorkerState {
    step(None, &Event::start_at(now_ms), &Limits::convex())
        .unwrap()
        .state
}

fn commit(
    state: &WorkerState,
    now_ms: f64,
    position: Option<PagePosition>,
    is_done: bool,
) -> WorkerState {
    let event = Event::BatchCommitted {
        now_ms,
        processed: 10,
        updated: 10,
        cursor: format!("c{now_ms}"),
        is_done,
        hop_ms: None,
        usage: None,
        budget: None,
        position: position.map(Box::new),
    };
    step(Some(state), &event, &Limits::convex()).unwrap().state
}

fn page(at: f64, bounds: Option<(f64, f64)>) -> Option<PagePosition> {
    Some(PagePosition::creation_time(
        at,
        bounds.map(|(lo, hi)| KeyBounds { lo, hi }),
    ))
}

/// One worker's walk: its bounds, then the keys its pages end on (sorted,
/// some past `hi`, as documents inserted during the run would be).
fn walk() -> impl Strategy<Value = (f64, f64, Vec<f64>)> {
    (0.0f64..1e6, 1.0f64..1e6).prop_flat_map(|(lo, width)| {
        let hi = lo + width;
        let keys = prop::collection::vec(lo..hi + width, 1..12).prop_map(|mut keys| {
            keys.sort_by(f64::total_cmp);
            keys
        });
        (Just(lo), Just(hi), keys)
    })
}

/// An index key: the fields fixed by the range (texts), the walked field,
/// then a `_creationTime`.
fn key(prefix: &[String], field: KeyValue, creation_time: f64) -> Vec<KeyValue> {
    let mut key: Vec<KeyValue> = prefix.iter().cloned().map(KeyValue::Other).collect();
    key.push(field);
    key.push(KeyValue::Number(creation_time));
    key
}

fn index_page(
    at: Vec<KeyValue>,
    bounds: Option<(Vec<KeyValue>, Vec<KeyValue>)>,
) -> Option<PagePosition> {
    Some(PagePosition::index_key(at, bounds))
}

/// The fields an equality fixes before the walked one: none to two.
fn prefix() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-c]{1,3}", 0..3)
}

/// A page's last key on a numeric walk: along the field (some past `hi`,
/// as inserts are), or, rarely, past the range with the fixed fields moved
/// on and the walked field anywhere.
#[derive(Debug, Clone)]
enum Step {
    Along(f64),
    MovedOn(f64),
}

fn index_walk() -> impl Strategy<Value = (Vec<String>, f64, f64, Vec<Step>)> {
    (prefix(), -1e6f64..1e6, 1.0f64..1e6).prop_flat_map(|(prefix, lo, width)| {
        let hi = lo + width;
        let along = prop::collection::vec(lo..hi + width, 1..12).prop_map(|mut keys| {
            keys.sort_by(f64::total_cmp);
            keys
        });
        let moved = prop::collection::vec(lo - width..hi + width, 0..3);
        (Just(prefix), Just(lo), Just(hi), along, moved).prop_map(
            |(prefix, lo, hi, along, moved)| {
                let fixed = !prefix.is_empty();
                let mut steps: Vec<Step> = along.into_iter().map(Step::Along).collect();
                // Moving on needs a fixed field to move.
                if fixed {
                    steps.extend(moved.into_iter().map(Step::MovedOn));
                }
                (prefix, lo, hi, steps)
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_numeric_index_walk_rises_to_exactly_one_only_when_done((prefix, lo, hi, steps) in index_walk()) {
        let mut w = start(0.0);
        let mut last = 0.0f64;
        let moved_on: Vec<String> = prefix.iter().map(|p| format!("{p}~")).collect();
        for (i, s) in steps.iter().enumerate() {
            let at = match s {
                Step::Along(at) => key(&prefix, KeyValue::Number(*at), 1.0),
                Step::MovedOn(at) => key(&moved_on, KeyValue::Number(*at), 1.0),
            };
            let bounds = (i == 0).then(|| (key(&prefix, KeyValue::Number(lo), 0.0), key(&prefix, KeyValue::Number(hi), 9.0)));
            let done = i + 1 == steps.len();
            w = commit(&w, (i as f64 + 1.0) * 100.0, index_page(at, bounds), done);
            let e = estimate(std::slice::from_ref(&w), (i as f64 + 1.0) * 100.0);
            let fraction = e.fraction_done.expect("a numeric key with distinct ends has a fraction");
            prop_assert!(fraction >= last, "went down from {last} to {fraction} at {s:?}");
            prop_assert_eq!(fraction == 1.0, done, "fraction {} with done {}", fraction, done);
            if !done {
                prop_assert!(fraction <= MAX_UNFINISHED_FRACTION);
                prop_assert_eq!(e.basis, EstimateBasis::IndexKey);
            }
            last = fraction;
        }
    }

    #[test]
    fn an_index_walk_over_a_key_that_is_not_a_number_has_no_estimate_until_done(
        prefix in prefix(),
        keys in prop::collection::vec("[a-z]{1,6}", 2..10),
        numeric_end in any::<bool>(),
    ) {
        let mut sorted = keys.clone();
        sorted.sort();
        prop_assume!(sorted.first() != sorted.last());
        let text = |t: &String| KeyValue::Other(format!("{t:?}"));
        // A range of texts, or one that starts on a number and ends on a text
        // (Convex orders numbers before strings): neither is a numeric span.
        let lo = if numeric_end { KeyValue::Number(1.0) } else { text(&sorted[0]) };
        let hi = text(sorted.last().unwrap());
        let mut w = start(0.0);
        for (i, k) in sorted.iter().enumerate() {
            let bounds = (i == 0).then(|| (key(&prefix, lo.clone(), 0.0), key(&prefix, hi.clone(), 9.0)));
            w = commit(&w, (i as f64 + 1.0) * 10.0, index_page(key(&prefix, text(k), 1.0), bounds), false);
            let e = estimate(std::slice::from_ref(&w), 1e4);
            prop_assert_eq!((e.fraction_done, e.eta_ms, e.basis), (None, None, EstimateBasis::None));
        }
        w = commit(&w, 1e4, None, true);
        prop_assert_eq!(estimate(&[w], 1e4), Estimate::DONE);
    }

    #[test]
    fn an_index_walk_whose_ends_share_their_key_has_no_estimate(
        prefix in prefix(),
        value in -1e6f64..1e6,
        pages in 1usize..6,
    ) {
        // One document, or every document on the same key and creation time.
        let only = key(&prefix, KeyValue::Number(value), 5.0);
        let mut w = start(0.0);
        for i in 0..pages {
            let bounds = (i == 0).then(|| (only.clone(), only.clone()));
            w = commit(&w, (i as f64 + 1.0) * 10.0, index_page(only.clone(), bounds), false);
            prop_assert_eq!(estimate(std::slice::from_ref(&w), 1e3), Estimate::UNKNOWN);
        }
    }

    #[test]
    fn the_fraction_rises_to_exactly_one_only_when_every_worker_is_done(
        walks in prop::collection::vec(walk(), 1..4),
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..64),
    ) {
        let mut workers: Vec<WorkerState> = walks.iter().map(|_| start(0.0)).collect();
        let mut next_page = vec![0usize; walks.len()];
        let mut now = 0.0;
        let mut last = 0.0f64;
        // Pages in a random interleaving, then every remaining page in turn.
        let mut schedule: Vec<usize> = order.iter().map(|i| i.index(walks.len())).collect();
        for (w, (_, _, keys)) in walks.iter().enumerate() {
            schedule.extend(std::iter::repeat_n(w, keys.len()));
        }
        for w in schedule {
            let (lo, hi, keys) = &walks[w];
            let page = next_page[w];
            if page >= keys.len() {
                continue;
            }
            next_page[w] += 1;
            now += 100.0;
            let position = PagePosition::creation_time(
                keys[page],
                (page == 0).then_some(KeyBounds { lo: *lo, hi: *hi }),
            );
            workers[w] = commit(&workers[w], now, Some(position), page + 1 == keys.len());
            let e = estimate(&workers, now);
            let all_done = workers.iter().all(|w| w.status == WorkerStatus::Success);
            let started_all = next_page.iter().all(|&p| p > 0);
            if !started_all {
                continue;
            }
            let fraction = e.fraction_done.expect("every walk has reported its bounds");
            prop_assert!(fraction >= last, "went down from {last} to {fraction}");
            prop_assert_eq!(fraction == 1.0, all_done, "fraction {} with all_done {}", fraction, all_done);
            if !all_done {
                prop_assert!(fraction <= MAX_UNFINISHED_FRACTION);
                prop_assert_eq!(e.basis, EstimateBasis::CreationTime);
            }
            if let Some(eta) = e.eta_ms {
                prop_assert!(eta >= 0.0 && eta.is_finite());
            }
            last = fraction;
        }
        prop_assert_eq!(last, 1.0);
    }

    #[test]
    fn a_walk_without_positions_has_no_estimate_until_done(pages in 1usize..10) {
        let mut w = start(0.0);
        for page in 0..pages {
            w = commit(&w, (page as f64 + 1.0) * 10.0, None, false);
            let e = estimate(std::slice::from_ref(&w), 1e4);
            prop_assert_eq!((e.fraction_done, e.eta_ms, e.basis), (None, None, EstimateBasis::None));
        }
        w = commit(&w, 1e4, None, true);
        prop_assert_eq!(estimate(&[w], 1e4).fraction_done, Some(1.0));
    }

    #[test]
    fn time_left_shrinks_as_the_clock_runs_between_batches(
        (lo, hi, keys) in walk(),
        waits in prop::collection::vec(0.0f64..5_000.0, 2..6),
    ) {
        let at = keys[0].min(hi);
        prop_assume!(at > lo);
        let w = commit(&start(0.0), 1_000.0, Some(PagePosition::creation_time(at, Some(KeyBounds { lo, hi }))), false);
        let mut nows: Vec<f64> = waits.iter().map(|d| 1_000.0 + d).collect();
        nows.sort_by(f64::total_cmp);
        let etas: Vec<f64> = nows.iter().filter_map(|&n| estimate(std::slice::from_ref(&w), n).eta_ms).collect();
        prop_assert_eq!(etas.len(), nows.len());
        prop_assert!(etas.windows(2).all(|p| p[1] <= p[0]), "{:?}", etas);
    }
}

#[test]
fn estimate_is_the_creation_time_position_with_time_left_from_the_pace() {
    let w = start(0.0);
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
    let w = start(0.0);
    let w = commit(&w, 10.0, page(5.0, Some((0.0, 10.0))), false);
    let w = commit(&w, 20.0, page(50.0, None), false);
    assert_eq!(
        estimate(&[w], 20.0).fraction_done,
        Some(MAX_UNFINISHED_FRACTION)
    );
}

#[test]
fn estimate_is_unknown_without_bounds_or_span() {
    let w = start(0.0);
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
    let a = commit(&start(0.0), 10.0, page(50.0, Some((0.0, 100.0))), false);
    let b = commit(&start(0.0), 10.0, page(300.0, Some((100.0, 400.0))), false);
    // 0.5 of 100 and 2/3 of 300: 250 of 400.
    assert_eq!(estimate(&[a.clone(), b], 10.0).fraction_done, Some(0.625));
    let empty_done = commit(&start(0.0), 10.0, None, true);
    assert_eq!(estimate(&[a, empty_done], 10.0).fraction_done, Some(0.5));
}

#[test]
fn a_custom_range_over_a_timestamp_is_its_position_between_the_range_ends() {
    let updated_at =
        |t: f64, creation_time: f64| vec![KeyValue::Number(t), KeyValue::Number(creation_time)];
    let w = commit(
        &start(0.0),
        1_000.0,
        index_page(
            updated_at(1_500.0, 7.0),
            Some((updated_at(1_000.0, 9.0), updated_at(3_000.0, 1.0))),
        ),
        false,
    );
    let e = estimate(std::slice::from_ref(&w), 1_000.0);
    assert_eq!(
        (e.fraction_done, e.eta_ms, e.basis),
        (Some(0.25), Some(3_000.0), EstimateBasis::IndexKey)
    );
    let w = commit(
        &w,
        2_000.0,
        index_page(updated_at(2_000.0, 3.0), None),
        false,
    );
    assert_eq!(
        estimate(std::slice::from_ref(&w), 2_000.0).fraction_done,
        Some(0.5)
    );
    // A document the app touched during the run sorts past the last key.
    let w = commit(
        &w,
        3_000.0,
        index_page(updated_at(9_999.0, 2.0), None),
        false,
    );
    assert_eq!(
        estimate(std::slice::from_ref(&w), 3_000.0).fraction_done,
        Some(MAX_UNFINISHED_FRACTION)
    );
    let w = commit(&w, 4_000.0, None, true);
    assert_eq!(estimate(&[w], 4_000.0), Estimate::DONE);
}

#[test]
fn a_custom_range_under_an_equality_walks_creation_time_within_it() {
    // q.withIndex("by_status", (q) => q.eq("status", "open")): the key after
    // the fixed status is _creationTime.
    let open = |t: f64| vec![KeyValue::Other("\"open\"".into()), KeyValue::Number(t)];
    let w = commit(
        &start(0.0),
        10.0,
        index_page(open(30.0), Some((open(10.0), open(50.0)))),
        false,
    );
    let e = estimate(&[w], 10.0);
    assert_eq!(
        (e.fraction_done, e.basis),
        (Some(0.5), EstimateBasis::IndexKey)
    );
}

#[test]
fn a_custom_range_over_a_string_key_has_no_estimate() {
    let name = |n: &str| vec![KeyValue::Other(format!("{n:?}")), KeyValue::Number(1.0)];
    let w = commit(
        &start(0.0),
        10.0,
        index_page(name("m"), Some((name("a"), name("z")))),
        false,
    );
    assert_eq!(estimate(std::slice::from_ref(&w), 10.0), Estimate::UNKNOWN);
    let w = commit(&w, 20.0, index_page(name("q"), None), false);
    assert_eq!(estimate(&[w], 20.0), Estimate::UNKNOWN);
}

#[test]
fn a_stopped_job_keeps_its_fraction_but_has_no_time_left() {
    let mut w = commit(&start(0.0), 10.0, page(5.0, Some((0.0, 10.0))), false);
    w.status = WorkerStatus::Paused;
    let e = estimate(&[w], 100.0);
    assert_eq!((e.fraction_done, e.eta_ms), (Some(0.5), None));
}
