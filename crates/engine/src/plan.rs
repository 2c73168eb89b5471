//! The plan: which migrations a run processes, in which order and direction.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::history::{records_by_id, AppliedRecord, Direction, MigrationState};
use crate::manifest::{ManifestEntry, StepInfo};
use crate::policy::js_number_string;
use crate::EngineError;

/// What the person asked to run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlanRequest {
    /// Up or down.
    pub direction: Direction,
    /// At most this many migrations (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub steps: Option<i64>,
    /// Up: stop after this id. Down: roll back everything after this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub to: Option<String>,
}

/// One migration the run will process.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlanItem {
    /// The migration id.
    pub id: String,
    /// The step to execute.
    pub direction: Direction,
    /// The table that step rewrites.
    pub table: String,
    /// That step's own batch size, when it declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub batch_size: Option<u32>,
    /// True when an earlier run left this migration part-way, so the
    /// component continues from its saved cursor.
    pub resume: bool,
    /// True when the shipped migration has a down step: in an up plan, it
    /// can be rolled back later; in a down plan previewed by a dry run, false
    /// marks a migration that would refuse the rollback.
    pub has_down: bool,
}

/// Chooses the migrations a run processes.
///
/// `manifest` is expected to come from [`crate::manifest::build_manifest`]
/// (unique ids in ascending order).
///
/// **Up** takes every manifest entry that is not `completed`, oldest first.
/// `steps` keeps only the first N; `to` (a manifest id, else
/// `UnknownMigration`) stops after that id; given both, both limits apply.
/// A `running`, `failed` or `canceled` record whose last step was up (or
/// unrecorded) resumes from its cursor. One whose last step was down is a
/// rollback that stopped midway: up applies it again from the start
/// (`resume: false`), since its cursor belongs to the down step.
///
/// **Down** needs exactly one of `steps` and `to` (`StepsAndTo` when both,
/// `NoDownTarget` when neither; checked before `steps` itself). It takes the
/// records applied for rollback, newest first: `completed` ones, and rollbacks
/// that stopped midway (see [`AppliedRecord::is_part_way_rollback`]), which
/// resume from their cursor. Of these it keeps the first `steps`, or all with
/// an id after `to` (an id in the manifest or the history, else
/// `UnknownMigration`). If any selected migration has no down step or has left
/// the manifest, the plan fails with `NoDownStep` for the first such id in
/// plan order, so nothing is rolled back half-way.
///
/// `steps` below 1 is `InvalidSteps` in both directions.
pub fn plan(
    manifest: &[ManifestEntry],
    records: &[AppliedRecord],
    req: &PlanRequest,
) -> Result<Vec<PlanItem>, EngineError> {
    let items = preview(manifest, records, req)?;
    require_down_steps(&items)?;
    Ok(items)
}

/// The plan of [`plan`] before the down-step check: a down plan lists every
/// selected migration, with `has_down: false` for one that has no down step
/// or has left the manifest, so a dry run can show all of them at once.
pub fn preview(
    manifest: &[ManifestEntry],
    records: &[AppliedRecord],
    req: &PlanRequest,
) -> Result<Vec<PlanItem>, EngineError> {
    let stored = records_by_id(records);
    match req.direction {
        Direction::Up => {
            let limit = req.steps.map(step_limit).transpose()?;
            plan_up(manifest, &stored, limit, req.to.as_deref())
        }
        Direction::Down => plan_down(manifest, &stored, down_target(req)?),
    }
}

/// How far a rollback reaches.
enum DownTarget<'a> {
    /// The newest N migrations applied for rollback.
    Steps(usize),
    /// Every migration applied for rollback after this id.
    To(&'a str),
}

fn down_target(req: &PlanRequest) -> Result<DownTarget<'_>, EngineError> {
    match (req.steps, req.to.as_deref()) {
        (Some(_), Some(_)) => Err(EngineError::StepsAndTo),
        (None, None) => Err(EngineError::NoDownTarget),
        (Some(steps), None) => Ok(DownTarget::Steps(step_limit(steps)?)),
        (None, Some(to)) => Ok(DownTarget::To(to)),
    }
}

/// Turns a requested step count into a count of items; a count larger than
/// this platform can hold means "all of them".
fn step_limit(steps: i64) -> Result<usize, EngineError> {
    if steps < 1 {
        return Err(EngineError::InvalidSteps {
            steps: steps.to_string(),
        });
    }
    Ok(usize::try_from(steps).unwrap_or(usize::MAX))
}

/// A step count as JavaScript holds it. `1.5`, `NaN` and `Infinity` are
/// refused naming `steps` and the accepted range, rather than failing to
/// decode; a whole number too large for `i64` means "all of them".
pub fn whole_steps(value: f64) -> Result<i64, EngineError> {
    if value.is_finite() && value.fract() == 0.0 {
        // Whole and finite: the conversion saturates, which `step_limit`
        // reads as "all of them".
        return Ok(value as i64);
    }
    Err(EngineError::InvalidSteps {
        steps: js_number_string(value),
    })
}

fn plan_up(
    manifest: &[ManifestEntry],
    stored: &BTreeMap<&str, &AppliedRecord>,
    limit: Option<usize>,
    to: Option<&str>,
) -> Result<Vec<PlanItem>, EngineError> {
    if let Some(to) = to.filter(|to| !manifest.iter().any(|entry| entry.id == *to)) {
        return Err(unknown_migration(to));
    }
    let record_of = |entry: &ManifestEntry| stored.get(entry.id.as_str()).copied();
    Ok(manifest
        .iter()
        .filter(|entry| to.is_none_or(|to| entry.id.as_str() <= to))
        .filter(|entry| {
            record_of(entry).is_none_or(|record| record.state != MigrationState::Completed)
        })
        .take(limit.unwrap_or(usize::MAX))
        .map(|entry| {
            let resume = record_of(entry).is_some_and(|record| {
                record.state.is_resumable() && !record.is_part_way_rollback()
            });
            plan_item(
                &entry.id,
                Direction::Up,
                &entry.up,
                resume,
                entry.down.is_some(),
            )
        })
        .collect())
}

fn plan_down(
    manifest: &[ManifestEntry],
    stored: &BTreeMap<&str, &AppliedRecord>,
    target: DownTarget<'_>,
) -> Result<Vec<PlanItem>, EngineError> {
    let applied_newest_first: Vec<&AppliedRecord> = stored
        .values()
        .rev()
        .copied()
        .filter(|record| is_applied_for_rollback(record))
        .collect();
    let selected: Vec<&AppliedRecord> = match target {
        DownTarget::Steps(limit) => applied_newest_first.into_iter().take(limit).collect(),
        DownTarget::To(to) => {
            let known = stored.contains_key(to) || manifest.iter().any(|entry| entry.id == to);
            if !known {
                return Err(unknown_migration(to));
            }
            applied_newest_first
                .into_iter()
                .filter(|record| record.id.as_str() > to)
                .collect()
        }
    };
    Ok(selected
        .into_iter()
        .map(|record| down_item(manifest, &record.id, record.is_part_way_rollback()))
        .collect())
}

/// Refuses a down plan in which any migration lacks a down step
/// (`NoDownStep`, naming the first in plan order and listing all), so
/// nothing is rolled back half-way.
pub fn require_down_steps(items: &[PlanItem]) -> Result<(), EngineError> {
    let without_down: Vec<String> = items
        .iter()
        .filter(|item| item.direction == Direction::Down && !item.has_down)
        .map(|item| item.id.clone())
        .collect();
    match without_down.first() {
        Some(first) => Err(EngineError::NoDownStep {
            id: first.clone(),
            without_down,
        }),
        None => Ok(()),
    }
}

/// Plans a branch switch (`convex-migrate sync`): rolls back, newest first,
/// every migration this deployment has applied whose id is not in `keep`,
/// the ids the branch about to be deployed knows. The deployed code still
/// holds those migrations' down steps; the next branch's code will not.
///
/// `req` must ask for `down` with neither `steps` nor `to` (`InvalidKeep`
/// otherwise): `keep` is the whole target. Selected are records that wrote
/// data under their checksum ([`MigrationState::counts_as_applied`]), not
/// only completed ones, because the next branch can neither finish nor undo
/// a migration it does not know. A rollback that stopped midway resumes from
/// its cursor; an `up` that stopped midway is rolled back from the start, so
/// down steps must leave untouched documents alone (as they do when they
/// test the field they undo). If any selected migration has no down step or
/// has left the manifest, the plan fails with `NoDownStep` for the first such
/// id in plan order, so nothing is rolled back half-way. Ids in `keep` that
/// this deployment has never seen are the next branch's own and are ignored.
pub fn plan_sync(
    manifest: &[ManifestEntry],
    records: &[AppliedRecord],
    req: &PlanRequest,
    keep: &[String],
) -> Result<Vec<PlanItem>, EngineError> {
    if req.direction != Direction::Down {
        return Err(invalid_keep("keep rolls back, so it needs direction down"));
    }
    if req.steps.is_some() || req.to.is_some() {
        return Err(invalid_keep(
            "keep is the whole rollback target; leave out steps and to",
        ));
    }
    let known: BTreeSet<&str> = keep.iter().map(String::as_str).collect();
    let items: Vec<PlanItem> = records_by_id(records)
        .values()
        .rev()
        .filter(|record| record.state.counts_as_applied() && !known.contains(record.id.as_str()))
        .map(|record| down_item(manifest, &record.id, record.is_part_way_rollback()))
        .collect();
    require_down_steps(&items)?;
    Ok(items)
}

fn invalid_keep(reason: &str) -> EngineError {
    EngineError::InvalidKeep {
        reason: reason.to_string(),
    }
}

/// True when `down` may select this record: its up step completed, or a
/// rollback of it stopped midway and selecting it again continues that.
fn is_applied_for_rollback(record: &AppliedRecord) -> bool {
    record.state == MigrationState::Completed || record.is_part_way_rollback()
}

/// The down item of `id`; without a down step (or a shipped migration) it
/// names the up step's table (or none) and has `has_down: false`.
fn down_item(manifest: &[ManifestEntry], id: &str, resume: bool) -> PlanItem {
    let entry = manifest.iter().find(|entry| entry.id == id);
    match entry.and_then(|entry| entry.down.as_ref()) {
        Some(down) => plan_item(id, Direction::Down, down, resume, true),
        None => PlanItem {
            id: id.to_string(),
            direction: Direction::Down,
            table: entry
                .map(|entry| entry.up.table.clone())
                .unwrap_or_default(),
            batch_size: None,
            resume,
            has_down: false,
        },
    }
}

fn plan_item(
    id: &str,
    direction: Direction,
    step: &StepInfo,
    resume: bool,
    has_down: bool,
) -> PlanItem {
    PlanItem {
        id: id.to_string(),
        direction,
        table: step.table.clone(),
        batch_size: step.batch_size,
        resume,
        has_down,
    }
}

fn unknown_migration(id: &str) -> EngineError {
    EngineError::UnknownMigration { id: id.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_steps_refuses_fractions_and_non_numbers_naming_steps() {
        assert_eq!(whole_steps(2.0), Ok(2));
        assert_eq!(whole_steps(1e300), Ok(i64::MAX));
        for (value, shown) in [(1.5, "1.5"), (f64::NAN, "NaN"), (f64::INFINITY, "Infinity")] {
            let err = whole_steps(value).unwrap_err();
            assert_eq!(
                err,
                EngineError::InvalidSteps {
                    steps: shown.into()
                }
            );
            assert_eq!(
                err.to_string(),
                format!("steps must be a whole number of at least 1, got {shown}")
            );
        }
    }
    use crate::checksum::StepDef;
    use crate::manifest::fixtures::{
        all_completed, def, def_without_down, manifest, manifest_of, record, record_after, step,
    };

    const A: &str = "20260101_000000_a";
    const B: &str = "20260102_000000_b";
    const C: &str = "20260103_000000_c";
    const D: &str = "20260104_000000_d";

    fn up() -> PlanRequest {
        PlanRequest {
            direction: Direction::Up,
            steps: None,
            to: None,
        }
    }

    fn down_steps(steps: i64) -> PlanRequest {
        PlanRequest {
            direction: Direction::Down,
            steps: Some(steps),
            to: None,
        }
    }

    fn down_to(id: &str) -> PlanRequest {
        PlanRequest {
            direction: Direction::Down,
            steps: None,
            to: Some(id.into()),
        }
    }

    fn ids(items: &[PlanItem]) -> Vec<&str> {
        items.iter().map(|item| item.id.as_str()).collect()
    }

    #[test]
    fn plan_up_selects_every_migration_not_completed_in_id_order() {
        let manifest = manifest(&[A, B, C, D]);
        let records = vec![
            record(&manifest[0], MigrationState::Completed),
            record(&manifest[1], MigrationState::RolledBack),
            record(&manifest[3], MigrationState::Pending),
        ];
        let items = plan(&manifest, &records, &up()).unwrap();
        assert_eq!(ids(&items), vec![B, C, D]);
        assert!(items
            .iter()
            .all(|item| item.direction == Direction::Up && !item.resume));
    }

    #[test]
    fn plan_up_resumes_running_failed_and_canceled_migrations() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![
            record(&manifest[0], MigrationState::Running),
            record(&manifest[1], MigrationState::Failed),
            record(&manifest[2], MigrationState::Canceled),
        ];
        let items = plan(&manifest, &records, &up()).unwrap();
        assert_eq!(ids(&items), vec![A, B, C]);
        assert!(items.iter().all(|item| item.resume));
    }

    #[test]
    fn plan_up_resumes_part_way_records_whose_last_step_was_up() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![
            record_after(&manifest[0], MigrationState::Running, Direction::Up),
            record_after(&manifest[1], MigrationState::Failed, Direction::Up),
            record_after(&manifest[2], MigrationState::Canceled, Direction::Up),
        ];
        let items = plan(&manifest, &records, &up()).unwrap();
        assert_eq!(ids(&items), vec![A, B, C]);
        assert!(items.iter().all(|item| item.resume));
    }

    #[test]
    fn plan_up_reapplies_a_rollback_that_stopped_midway_from_the_start() {
        let manifest = manifest(&[A, B, C, D]);
        let records = vec![
            record_after(&manifest[0], MigrationState::Running, Direction::Down),
            record_after(&manifest[1], MigrationState::Failed, Direction::Down),
            record_after(&manifest[2], MigrationState::Canceled, Direction::Down),
            record_after(&manifest[3], MigrationState::Completed, Direction::Down),
        ];
        let items = plan(&manifest, &records, &up()).unwrap();
        assert_eq!(ids(&items), vec![A, B, C]);
        assert!(items
            .iter()
            .all(|item| item.direction == Direction::Up && !item.resume));
    }

    #[test]
    fn plan_up_uses_the_up_step() {
        let mut sized = def(A);
        sized.up = StepDef {
            table: "users".into(),
            batch_size: Some(25),
            ..step("x")
        };
        let items = plan(&manifest_of(&[sized]), &[], &up()).unwrap();
        assert_eq!(
            items,
            vec![PlanItem {
                id: A.into(),
                direction: Direction::Up,
                table: "users".into(),
                batch_size: Some(25),
                resume: false,
                has_down: true,
            }]
        );
    }

    #[test]
    fn plan_up_limits_to_the_first_steps() {
        let manifest = manifest(&[A, B, C]);
        let req = PlanRequest {
            steps: Some(2),
            ..up()
        };
        assert_eq!(ids(&plan(&manifest, &[], &req).unwrap()), vec![A, B]);
    }

    #[test]
    fn plan_up_stops_after_to_inclusive() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![record(&manifest[0], MigrationState::Completed)];
        let req = PlanRequest {
            to: Some(B.into()),
            ..up()
        };
        assert_eq!(ids(&plan(&manifest, &records, &req).unwrap()), vec![B]);
    }

    #[test]
    fn plan_up_applies_steps_and_to_together() {
        let manifest = manifest(&[A, B, C]);
        let to_c_one_step = PlanRequest {
            steps: Some(1),
            to: Some(C.into()),
            ..up()
        };
        assert_eq!(ids(&plan(&manifest, &[], &to_c_one_step).unwrap()), vec![A]);
        let to_a_many_steps = PlanRequest {
            steps: Some(5),
            to: Some(A.into()),
            ..up()
        };
        assert_eq!(
            ids(&plan(&manifest, &[], &to_a_many_steps).unwrap()),
            vec![A]
        );
    }

    #[test]
    fn plan_up_rejects_a_to_outside_the_manifest() {
        let req = PlanRequest {
            to: Some(D.into()),
            ..up()
        };
        assert_eq!(
            plan(&manifest(&[A]), &[], &req),
            Err(EngineError::UnknownMigration { id: D.into() })
        );
    }

    #[test]
    fn plan_up_is_empty_when_everything_completed() {
        let manifest = manifest(&[A, B]);
        assert_eq!(
            plan(&manifest, &all_completed(&manifest), &up()),
            Ok(vec![])
        );
    }

    #[test]
    fn plan_rejects_steps_below_one_in_both_directions() {
        let manifest = manifest(&[A]);
        for steps in [0, -1, i64::MIN] {
            assert_eq!(
                plan(
                    &manifest,
                    &[],
                    &PlanRequest {
                        steps: Some(steps),
                        ..up()
                    }
                ),
                Err(EngineError::InvalidSteps {
                    steps: steps.to_string()
                })
            );
            assert_eq!(
                plan(&manifest, &[], &down_steps(steps)),
                Err(EngineError::InvalidSteps {
                    steps: steps.to_string()
                })
            );
        }
    }

    #[test]
    fn plan_down_requires_steps_or_to() {
        let req = PlanRequest {
            direction: Direction::Down,
            steps: None,
            to: None,
        };
        assert_eq!(
            plan(&manifest(&[A]), &[], &req),
            Err(EngineError::NoDownTarget)
        );
    }

    #[test]
    fn plan_down_rejects_steps_and_to_together() {
        for steps in [1, 0] {
            let req = PlanRequest {
                steps: Some(steps),
                ..down_to(A)
            };
            assert_eq!(
                plan(&manifest(&[A]), &[], &req),
                Err(EngineError::StepsAndTo)
            );
        }
    }

    #[test]
    fn plan_down_steps_rolls_back_the_newest_completed_first() {
        let manifest = manifest(&[A, B, C, D]);
        let mut records = all_completed(&manifest[..3]);
        records.push(record(&manifest[3], MigrationState::Failed));
        let items = plan(&manifest, &records, &down_steps(2)).unwrap();
        assert_eq!(ids(&items), vec![C, B]);
        assert!(items
            .iter()
            .all(|item| item.direction == Direction::Down && !item.resume));
    }

    #[test]
    fn plan_down_steps_beyond_history_takes_all_completed() {
        let manifest = manifest(&[A, B]);
        let records = all_completed(&manifest);
        assert_eq!(
            ids(&plan(&manifest, &records, &down_steps(i64::MAX)).unwrap()),
            vec![B, A]
        );
    }

    #[test]
    fn plan_down_to_rolls_back_everything_after_the_id() {
        let manifest = manifest(&[A, B, C, D]);
        let records = all_completed(&manifest);
        assert_eq!(
            ids(&plan(&manifest, &records, &down_to(B)).unwrap()),
            vec![D, C]
        );
        assert_eq!(plan(&manifest, &records, &down_to(D)), Ok(vec![]));
    }

    #[test]
    fn plan_down_to_accepts_a_pending_manifest_id() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![
            record(&manifest[0], MigrationState::Completed),
            record(&manifest[2], MigrationState::Completed),
        ];
        assert_eq!(
            ids(&plan(&manifest, &records, &down_to(B)).unwrap()),
            vec![C]
        );
    }

    #[test]
    fn plan_down_to_accepts_a_completed_id_missing_from_the_manifest() {
        let manifest = manifest(&[A, B]);
        let records = all_completed(&manifest);
        let trimmed = &manifest[..1];
        assert_eq!(plan(trimmed, &records, &down_to(B)), Ok(vec![]));
    }

    #[test]
    fn plan_down_to_rejects_an_unknown_id() {
        let manifest = manifest(&[A]);
        assert_eq!(
            plan(&manifest, &all_completed(&manifest), &down_to(B)),
            Err(EngineError::UnknownMigration { id: B.into() })
        );
    }

    #[test]
    fn plan_down_uses_the_down_step() {
        let mut sized = def(A);
        sized.down = Some(StepDef {
            table: "archive".into(),
            batch_size: Some(7),
            ..step("x")
        });
        let manifest = manifest_of(&[sized]);
        let items = plan(&manifest, &all_completed(&manifest), &down_steps(1)).unwrap();
        assert_eq!(
            (items[0].table.as_str(), items[0].batch_size),
            ("archive", Some(7))
        );
    }

    #[test]
    fn plan_down_refuses_a_migration_without_down_step() {
        let manifest = manifest_of(&[def(A), def_without_down(B), def(C), def_without_down(D)]);
        let records = all_completed(&manifest);
        assert_eq!(
            plan(&manifest, &records, &down_steps(3)),
            Err(no_down(D, &[D, B]))
        );
        assert_eq!(
            plan(&manifest, &records[..3], &down_to(A)),
            Err(no_down(B, &[B]))
        );
    }

    fn no_down(id: &str, without_down: &[&str]) -> EngineError {
        EngineError::NoDownStep {
            id: id.into(),
            without_down: without_down.iter().map(|id| id.to_string()).collect(),
        }
    }

    #[test]
    fn preview_of_down_marks_every_migration_without_down_step() {
        let manifest = manifest_of(&[def(A), def_without_down(B), def(C), def_without_down(D)]);
        let records = all_completed(&manifest);
        let items = preview(&manifest, &records, &down_steps(4)).unwrap();
        let flags: Vec<(&str, bool)> = items.iter().map(|i| (i.id.as_str(), i.has_down)).collect();
        assert_eq!(flags, vec![(D, false), (C, true), (B, false), (A, true)]);
        assert_eq!(items[0].table, "todos");
        assert_eq!(
            plan(&manifest, &records, &down_steps(4)),
            Err(no_down(D, &[D, B]))
        );
        let message = no_down(D, &[D, B]).to_string();
        assert!(message.contains(&format!("{D:?} has no down step")));
        assert!(message.contains(&format!("nor can {B}")));
    }

    #[test]
    fn plan_up_says_which_migrations_can_be_rolled_back() {
        let manifest = manifest_of(&[def(A), def_without_down(B)]);
        let items = plan(&manifest, &[], &up()).unwrap();
        assert_eq!(
            items.iter().map(|i| i.has_down).collect::<Vec<_>>(),
            vec![true, false]
        );
    }

    #[test]
    fn plan_down_refuses_a_migration_missing_from_the_manifest() {
        let manifest = manifest(&[A, B]);
        let records = all_completed(&manifest);
        assert_eq!(
            plan(&manifest[..1], &records, &down_steps(1)),
            Err(no_down(B, &[B]))
        );
    }

    #[test]
    fn plan_down_ignores_records_not_applied_for_rollback() {
        let manifest = manifest(&[A, B, C, D]);
        let records = vec![
            record(&manifest[0], MigrationState::Completed),
            record(&manifest[1], MigrationState::RolledBack),
            record(&manifest[2], MigrationState::Running),
            record_after(&manifest[3], MigrationState::Failed, Direction::Up),
        ];
        assert_eq!(
            ids(&plan(&manifest, &records, &down_steps(4)).unwrap()),
            vec![A]
        );
        let pending_again = vec![
            record_after(&manifest[0], MigrationState::Pending, Direction::Down),
            record_after(&manifest[1], MigrationState::RolledBack, Direction::Down),
        ];
        assert_eq!(plan(&manifest, &pending_again, &down_steps(4)), Ok(vec![]));
    }

    #[test]
    fn plan_down_resumes_a_rollback_that_stopped_midway() {
        let manifest = manifest(&[A, B, C, D]);
        let records = vec![
            record(&manifest[0], MigrationState::Completed),
            record_after(&manifest[1], MigrationState::Failed, Direction::Down),
            record_after(&manifest[2], MigrationState::Canceled, Direction::Down),
            record_after(&manifest[3], MigrationState::Running, Direction::Down),
        ];
        let items = plan(&manifest, &records, &down_steps(4)).unwrap();
        assert_eq!(ids(&items), vec![D, C, B, A]);
        let resumed: Vec<bool> = items.iter().map(|item| item.resume).collect();
        assert_eq!(resumed, vec![true, true, true, false]);
        assert_eq!(
            ids(&plan(&manifest, &records, &down_to(B)).unwrap()),
            vec![D, C]
        );
    }

    #[test]
    fn plan_down_to_accepts_an_id_known_only_to_the_history() {
        let manifest = manifest(&[A, B]);
        let records = vec![
            record(&manifest[0], MigrationState::RolledBack),
            record(&manifest[1], MigrationState::Completed),
        ];
        assert_eq!(
            ids(&plan(&manifest[1..], &records, &down_to(A)).unwrap()),
            vec![B]
        );
    }

    fn sync() -> PlanRequest {
        PlanRequest {
            direction: Direction::Down,
            steps: None,
            to: None,
        }
    }

    fn keep(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn plan_sync_rolls_back_applied_migrations_not_kept_newest_first() {
        let manifest = manifest(&[A, B, C, D]);
        let records = all_completed(&manifest);
        let items = plan_sync(&manifest, &records, &sync(), &keep(&[A, C])).unwrap();
        assert_eq!(ids(&items), vec![D, B]);
        assert!(items
            .iter()
            .all(|item| item.direction == Direction::Down && !item.resume));
    }

    #[test]
    fn plan_sync_is_empty_when_the_branch_knows_every_applied_migration() {
        let manifest = manifest(&[A, B]);
        let records = all_completed(&manifest);
        let new_branch_only = "20260201_000000_new";
        assert_eq!(
            plan_sync(
                &manifest,
                &records,
                &sync(),
                &keep(&[A, B, new_branch_only])
            ),
            Ok(vec![])
        );
    }

    #[test]
    fn plan_sync_with_nothing_kept_rolls_back_everything_applied() {
        let manifest = manifest(&[A, B, C]);
        let records = all_completed(&manifest);
        assert_eq!(
            ids(&plan_sync(&manifest, &records, &sync(), &[]).unwrap()),
            vec![C, B, A]
        );
    }

    #[test]
    fn plan_sync_ignores_pending_and_rolled_back_migrations() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![
            record(&manifest[0], MigrationState::Completed),
            record(&manifest[1], MigrationState::RolledBack),
            record(&manifest[2], MigrationState::Pending),
        ];
        assert_eq!(
            ids(&plan_sync(&manifest, &records, &sync(), &[]).unwrap()),
            vec![A]
        );
    }

    #[test]
    fn plan_sync_rolls_back_part_way_migrations_the_branch_cannot_finish() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![
            record_after(&manifest[0], MigrationState::Failed, Direction::Up),
            record_after(&manifest[1], MigrationState::Canceled, Direction::Down),
            record_after(&manifest[2], MigrationState::Canceled, Direction::Up),
        ];
        let items = plan_sync(&manifest, &records, &sync(), &keep(&[C])).unwrap();
        let resumed: Vec<(&str, bool)> = items
            .iter()
            .map(|item| (item.id.as_str(), item.resume))
            .collect();
        assert_eq!(resumed, vec![(B, true), (A, false)]);
    }

    #[test]
    fn plan_sync_refuses_when_a_migration_to_roll_back_has_no_down_step() {
        let manifest = manifest_of(&[def(A), def_without_down(B), def(C)]);
        let records = all_completed(&manifest);
        assert_eq!(
            plan_sync(&manifest, &records, &sync(), &keep(&[A])),
            Err(no_down(B, &[B]))
        );
        // A kept migration without a down step is never touched.
        assert_eq!(
            ids(&plan_sync(&manifest, &records, &sync(), &keep(&[A, B])).unwrap()),
            vec![C]
        );
    }

    #[test]
    fn plan_sync_refuses_an_applied_migration_missing_from_the_manifest() {
        let manifest = manifest(&[A, B]);
        let records = all_completed(&manifest);
        assert_eq!(
            plan_sync(&manifest[..1], &records, &sync(), &keep(&[A])),
            Err(no_down(B, &[B]))
        );
    }

    #[test]
    fn plan_sync_needs_down_without_steps_or_to() {
        let manifest = manifest(&[A]);
        let records = all_completed(&manifest);
        for req in [up(), down_steps(1), down_to(A)] {
            assert!(matches!(
                plan_sync(&manifest, &records, &req, &[]),
                Err(EngineError::InvalidKeep { .. })
            ));
        }
    }

    #[test]
    fn direction_serializes_in_lowercase() {
        assert_eq!(serde_json::to_string(&Direction::Down).unwrap(), "\"down\"");
        let req: PlanRequest = serde_json::from_str(r#"{"direction":"up"}"#).unwrap();
        assert_eq!(req, up());
    }
}
