//! Property tests of the plan and drift rules against a simple model: a
//! history is a list of migrations in id order, each with an optional stored
//! state and the direction of the step that last ran.

use std::collections::BTreeSet;

use engine::checksum::{MigrationDef, StepDef};
use engine::drift::{verify, DriftKind};
use engine::history::{AppliedRecord, Direction, MigrationState};
use engine::manifest::{build_manifest, ManifestEntry};
use engine::plan::{plan, PlanItem, PlanRequest};
use proptest::prelude::*;

const CASES: u32 = 512;

/// Every state a stored record can be in.
const STATES: [MigrationState; 7] = [
    MigrationState::Pending,
    MigrationState::Running,
    MigrationState::Completed,
    MigrationState::Failed,
    MigrationState::Canceled,
    MigrationState::RolledBack,
    MigrationState::Removed,
];

/// What the deployment stored for one id: its state and the direction of
/// the step that last ran (`None` for records older than that field).
type Stored = (MigrationState, Option<Direction>);

/// 1 to 24 distinct valid ids in ascending order; some share a timestamp and
/// differ only by slug.
fn sorted_ids() -> impl Strategy<Value = Vec<String>> {
    let moment = (
        1u32..=28,
        0u32..24,
        0u32..60,
        prop::sample::select(vec!["a", "b", "c"]),
    );
    prop::collection::btree_set(moment, 1..24).prop_map(|moments| {
        moments
            .into_iter()
            .map(|(day, hour, minute, slug)| {
                format!("202611{day:02}_{hour:02}{minute:02}00_{slug}")
            })
            .collect()
    })
}

/// Ids with, per id, what is stored (`None` = no record).
fn history() -> impl Strategy<Value = (Vec<String>, Vec<Option<Stored>>)> {
    sorted_ids().prop_flat_map(|ids| {
        let stored = (
            prop::sample::select(STATES.to_vec()),
            prop::option::of(prop::sample::select(vec![Direction::Up, Direction::Down])),
        );
        let states = prop::collection::vec(prop::option::of(stored), ids.len());
        (Just(ids), states)
    })
}

fn state(stored: Option<Stored>) -> Option<MigrationState> {
    stored.map(|(state, _)| state)
}

/// The model of a rollback that stopped midway.
fn is_part_way_rollback(stored: Option<Stored>) -> bool {
    matches!(
        stored,
        Some((
            MigrationState::Running | MigrationState::Failed | MigrationState::Canceled,
            Some(Direction::Down)
        ))
    )
}

/// The model of what `down` may select.
fn is_applied_for_rollback(stored: Option<Stored>) -> bool {
    state(stored) == Some(MigrationState::Completed) || is_part_way_rollback(stored)
}

/// The model of what `up` resumes rather than starts.
fn up_resumes(stored: Option<Stored>) -> bool {
    matches!(
        stored,
        Some((
            MigrationState::Running | MigrationState::Failed | MigrationState::Canceled,
            None | Some(Direction::Up)
        ))
    )
}

/// Ids with a per-id flag, e.g. "edited" or "removed".
fn ids_with_flags() -> impl Strategy<Value = (Vec<String>, Vec<bool>)> {
    sorted_ids().prop_flat_map(|ids| {
        let flags = prop::collection::vec(any::<bool>(), ids.len());
        (Just(ids), flags)
    })
}

fn def(id: &str, edited: bool) -> MigrationDef {
    let value = if edited { "\"high\"" } else { "\"medium\"" };
    let step = |source: String| StepDef {
        table: "todos".to_string(),
        batch_size: None,
        source,
        custom_range: None,
        write_mode: Default::default(),
    };
    MigrationDef {
        id: id.to_string(),
        description: format!("migration {id}"),
        up: step(format!("async (ctx, doc) => ({{ priority: {value} }})")),
        down: Some(step(
            "async (ctx, doc) => ({ priority: undefined })".to_string(),
        )),
    }
}

fn manifest(ids: &[String]) -> Vec<ManifestEntry> {
    edited_manifest(ids, &vec![false; ids.len()])
}

fn edited_manifest(ids: &[String], edited: &[bool]) -> Vec<ManifestEntry> {
    let defs: Vec<MigrationDef> = ids
        .iter()
        .zip(edited)
        .map(|(id, edited)| def(id, *edited))
        .collect();
    build_manifest(&defs).unwrap()
}

fn record(entry: &ManifestEntry, state: MigrationState) -> AppliedRecord {
    AppliedRecord {
        id: entry.id.clone(),
        checksum: entry.checksum.clone(),
        checksum_form: Some(entry.checksum_form),
        state,
        last_direction: None,
        description: None,
    }
}

fn records_of(manifest: &[ManifestEntry], stored: &[Option<Stored>]) -> Vec<AppliedRecord> {
    manifest
        .iter()
        .zip(stored)
        .filter_map(|(entry, stored)| {
            stored.map(|(state, last_direction)| AppliedRecord {
                last_direction,
                ..record(entry, state)
            })
        })
        .collect()
}

fn planned_ids(items: &[PlanItem]) -> Vec<String> {
    items.iter().map(|item| item.id.clone()).collect()
}

fn down_steps(steps: i64) -> PlanRequest {
    PlanRequest {
        direction: Direction::Down,
        steps: Some(steps),
        to: None,
    }
}

fn up() -> PlanRequest {
    PlanRequest {
        direction: Direction::Up,
        steps: None,
        to: None,
    }
}

fn findings(
    records: &[AppliedRecord],
    manifest: &[ManifestEntry],
    strict: bool,
) -> BTreeSet<(String, DriftKind)> {
    verify(records, manifest, strict)
        .into_iter()
        .map(|finding| (finding.id, finding.kind))
        .collect()
}

fn is_strictly_ascending(ids: &[String]) -> bool {
    ids.windows(2).all(|pair| pair[0] < pair[1])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn down_steps_rolls_back_the_newest_k_and_up_reapplies_them(ids in sorted_ids(), extra in 0usize..30) {
        let manifest = manifest(&ids);
        let k = extra % (ids.len() + 2) + 1;
        let mut records: Vec<AppliedRecord> = manifest.iter().map(|e| record(e, MigrationState::Completed)).collect();

        let down = plan(&manifest, &records, &down_steps(k as i64)).unwrap();
        let kept = ids.len().saturating_sub(k);
        let newest_first: Vec<String> = ids[kept..].iter().rev().cloned().collect();
        prop_assert_eq!(planned_ids(&down), newest_first);
        prop_assert!(down.iter().all(|item| item.direction == Direction::Down && !item.resume));

        for record in &mut records[kept..] {
            record.state = MigrationState::RolledBack;
        }
        prop_assert!(verify(&records, &manifest, true).is_empty());
        let again = plan(&manifest, &records, &up()).unwrap();
        prop_assert_eq!(planned_ids(&again), ids[kept..].to_vec());
    }

    #[test]
    fn down_to_keeps_exactly_the_ids_up_to_the_target(ids in sorted_ids(), pick in any::<prop::sample::Index>()) {
        let manifest = manifest(&ids);
        let records: Vec<AppliedRecord> = manifest.iter().map(|e| record(e, MigrationState::Completed)).collect();
        let target = pick.get(&ids).clone();

        let down = plan(&manifest, &records, &PlanRequest { direction: Direction::Down, steps: None, to: Some(target.clone()) }).unwrap();

        let expected: Vec<String> = ids.iter().rev().filter(|id| **id > target).cloned().collect();
        prop_assert_eq!(planned_ids(&down), expected);
    }

    #[test]
    fn verify_reports_checksum_mismatch_for_exactly_the_edited_applied_entries(
        (ids, edited) in ids_with_flags(),
        applied in 0usize..30,
    ) {
        let applied = applied % (ids.len() + 1);
        let original = manifest(&ids);
        let records: Vec<AppliedRecord> = original[..applied].iter().map(|e| record(e, MigrationState::Completed)).collect();
        let shipped = edited_manifest(&ids, &edited);

        let expected: BTreeSet<(String, DriftKind)> = ids[..applied]
            .iter()
            .zip(&edited)
            .filter(|(_, edited)| **edited)
            .map(|(id, _)| (id.clone(), DriftKind::ChecksumMismatch))
            .collect();
        prop_assert_eq!(findings(&records, &shipped, true), expected);
    }

    #[test]
    fn verify_reports_missing_from_manifest_exactly_for_removed_applied_ids(
        (ids, removed) in ids_with_flags(),
        applied in 0usize..30,
    ) {
        let applied = applied % (ids.len() + 1);
        let original = manifest(&ids);
        let records: Vec<AppliedRecord> = original[..applied].iter().map(|e| record(e, MigrationState::Completed)).collect();
        let kept: Vec<String> = ids.iter().zip(&removed).filter(|(_, r)| !**r).map(|(id, _)| id.clone()).collect();

        let expected: BTreeSet<(String, DriftKind)> = ids[..applied]
            .iter()
            .zip(&removed)
            .filter(|(_, removed)| **removed)
            .map(|(id, _)| (id.clone(), DriftKind::MissingFromManifest))
            .collect();
        prop_assert_eq!(findings(&records, &manifest(&kept), true), expected);
    }

    #[test]
    fn verify_matches_the_model_for_any_history((ids, states) in history(), edit_mask in any::<u32>(), strict in any::<bool>()) {
        let edited: Vec<bool> = (0..ids.len()).map(|i| edit_mask >> (i % 32) & 1 == 1).collect();
        let records = records_of(&manifest(&ids), &states);
        let shipped = edited_manifest(&ids, &edited);

        let latest_completed = ids.iter().zip(&states).filter(|(_, s)| state(**s) == Some(MigrationState::Completed)).map(|(id, _)| id).next_back();
        let mut expected = BTreeSet::new();
        for ((id, stored), edited) in ids.iter().zip(&states).zip(&edited) {
            match state(*stored) {
                Some(state) if state.counts_as_applied() => {
                    if *edited {
                        expected.insert((id.clone(), DriftKind::ChecksumMismatch));
                    }
                }
                _ => {
                    if latest_completed.is_some_and(|latest| id < latest) {
                        expected.insert((id.clone(), DriftKind::OutOfOrder));
                    }
                }
            }
        }
        let found = verify(&records, &shipped, strict);
        prop_assert_eq!(found.iter().map(|f| (f.id.clone(), f.kind)).collect::<BTreeSet<_>>(), expected);
        let state_of = |id: &String| ids.iter().position(|x| x == id).and_then(|i| state(states[i]));
        for finding in &found {
            let blocking = match finding.kind {
                DriftKind::OutOfOrder => strict,
                DriftKind::ChecksumMismatch => state_of(&finding.id) != Some(MigrationState::Failed),
                DriftKind::MissingFromManifest => true,
            };
            prop_assert_eq!(finding.blocking, blocking, "{:?}", finding);
        }
        prop_assert!(found.windows(2).all(|pair| (&pair[0].id, pair[0].kind) < (&pair[1].id, pair[1].kind)));
    }

    #[test]
    fn plan_never_repeats_an_item_and_orders_each_direction(
        (ids, states) in history(),
        down in any::<bool>(),
        steps in prop::option::of(-1i64..30),
        to in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let manifest = manifest(&ids);
        let records = records_of(&manifest, &states);
        let request = PlanRequest {
            direction: if down { Direction::Down } else { Direction::Up },
            steps,
            to: to.map(|index| index.get(&ids).clone()),
        };
        let Ok(items) = plan(&manifest, &records, &request) else {
            return Ok(());
        };
        let planned = planned_ids(&items);
        let stored_of = |id: &String| ids.iter().position(|x| x == id).and_then(|i| states[i]);
        if down {
            let mut ascending = planned.clone();
            ascending.reverse();
            prop_assert!(is_strictly_ascending(&ascending));
            for item in &items {
                let stored = stored_of(&item.id);
                prop_assert!(is_applied_for_rollback(stored));
                prop_assert_eq!(item.resume, is_part_way_rollback(stored));
            }
        } else {
            prop_assert!(is_strictly_ascending(&planned));
            for item in &items {
                let stored = stored_of(&item.id);
                prop_assert!(state(stored) != Some(MigrationState::Completed));
                prop_assert_eq!(item.resume, up_resumes(stored));
            }
        }
        if let Some(steps) = steps {
            prop_assert!(planned.len() as i64 <= steps);
        }
    }

    #[test]
    fn plan_up_without_limits_selects_every_entry_not_completed((ids, states) in history()) {
        let manifest = manifest(&ids);
        let records = records_of(&manifest, &states);
        let expected: Vec<String> = ids
            .iter()
            .zip(&states)
            .filter(|(_, stored)| state(**stored) != Some(MigrationState::Completed))
            .map(|(id, _)| id.clone())
            .collect();
        prop_assert_eq!(planned_ids(&plan(&manifest, &records, &up()).unwrap()), expected);
    }

    #[test]
    fn plan_down_without_limits_selects_every_record_applied_for_rollback((ids, states) in history()) {
        let manifest = manifest(&ids);
        let records = records_of(&manifest, &states);
        let expected: Vec<(String, bool)> = ids
            .iter()
            .zip(&states)
            .rev()
            .filter(|(_, stored)| is_applied_for_rollback(**stored))
            .map(|(id, stored)| (id.clone(), is_part_way_rollback(*stored)))
            .collect();
        let items = plan(&manifest, &records, &down_steps(i64::MAX)).unwrap();
        let got: Vec<(String, bool)> = items.into_iter().map(|item| (item.id, item.resume)).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn down_resumes_a_failed_rollback_and_up_then_reapplies_it(
        ids in sorted_ids(),
        stop in any::<prop::sample::Index>(),
        halted in prop::sample::select(vec![MigrationState::Failed, MigrationState::Canceled, MigrationState::Running]),
    ) {
        let manifest = manifest(&ids);
        let mut records: Vec<AppliedRecord> = manifest.iter().map(|e| record(e, MigrationState::Completed)).collect();
        // Roll back everything, newest first, until the rollback of `stop`
        // halts midway: the newer ones are rolled back, the older completed.
        let stop = stop.index(ids.len());
        for record in &mut records[stop + 1..] {
            record.state = MigrationState::RolledBack;
            record.last_direction = Some(Direction::Down);
        }
        records[stop].state = halted;
        records[stop].last_direction = Some(Direction::Down);

        let down = plan(&manifest, &records, &down_steps(1)).unwrap();
        prop_assert_eq!(planned_ids(&down), vec![ids[stop].clone()]);
        prop_assert!(down[0].resume && down[0].direction == Direction::Down);

        let all_down = plan(&manifest, &records, &down_steps(i64::MAX)).unwrap();
        let remaining: Vec<String> = ids[..=stop].iter().rev().cloned().collect();
        prop_assert_eq!(planned_ids(&all_down), remaining);
        prop_assert!(all_down.iter().skip(1).all(|item| !item.resume));

        let up = plan(&manifest, &records, &up()).unwrap();
        prop_assert_eq!(planned_ids(&up), ids[stop..].to_vec());
        prop_assert!(up.iter().all(|item| !item.resume));
        prop_assert!(verify(&records, &manifest, true).is_empty());
    }
}
