//! The decisions behind the component's versioned `start` and `status`: one
//! engine call per request, combining manifest, drift and plan.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::checksum::MigrationDef;
use crate::drift::{verify, DriftFinding};
use crate::history::{records_by_id, AppliedRecord, Direction, MigrationState};
use crate::manifest::{build_manifest, ManifestEntry};
use crate::plan::{plan_sync, preview, require_down_steps, whole_steps, PlanItem, PlanRequest};
use crate::EngineError;

/// Everything `start` needs to decide, read by the component in one query.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StartRequest {
    /// The app's migration set as shipped now.
    pub manifest: Vec<MigrationDef>,
    /// The deployment's stored record of each migration id.
    pub records: Vec<AppliedRecord>,
    /// Up or down.
    pub direction: Direction,
    /// At most this many migrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub steps: Option<f64>,
    /// Up: stop after this id. Down: roll back everything after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub to: Option<String>,
    /// Run one batch of the first migration and roll it back.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub dry_run: bool,
    /// Run even though blocking drift was found; the run records that it did.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub allow_drift: bool,
    /// Treat out-of-order pending migrations as blocking drift.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub strict: bool,
    /// Start part-way migrations over instead of resuming them: every plan
    /// item gets `resume: false`, for when the saved cursor is no longer
    /// wanted (e.g. the fix changed which documents need rewriting).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub restart: bool,
    /// Down only, instead of `steps` or `to`: the migration ids the branch
    /// about to be deployed knows. Every applied migration not listed is
    /// rolled back, newest first (see [`plan_sync`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub keep: Option<Vec<String>>,
    /// The deployment's active run, if one exists; there is never a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub active_run_id: Option<String>,
}

/// What `start` does with the request.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StartStatus {
    /// Start a run of the plan.
    Running,
    /// Nothing to run.
    Noop,
    /// Run one batch of the plan's first migration and roll it back.
    DryRun,
    /// Blocking drift and no `allowDrift`: nothing runs.
    DriftBlocked,
    /// Another run is active; the component returns that run instead.
    AlreadyRunning,
}

/// What `start` answers its caller: a second start while a run is active is
/// told `running` (with that run), the rest as decided.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StartReply {
    Running,
    Noop,
    DryRun,
    DriftBlocked,
}

impl StartStatus {
    /// The status `start` reports for this decision.
    pub fn reply(self) -> StartReply {
        match self {
            StartStatus::Running | StartStatus::AlreadyRunning => StartReply::Running,
            StartStatus::Noop => StartReply::Noop,
            StartStatus::DryRun => StartReply::DryRun,
            StartStatus::DriftBlocked => StartReply::DriftBlocked,
        }
    }
}

/// The engine's answer to `start`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StartDecision {
    /// What to do.
    pub status: StartStatus,
    /// What `start` reports (see [`StartStatus::reply`]).
    pub reply: StartReply,
    /// The migrations the run processes (or would, when blocked by drift).
    pub plan: Vec<PlanItem>,
    /// Every drift finding, blocking or not.
    pub drift: Vec<DriftFinding>,
    /// The validated manifest with checksums, for the component to store.
    pub manifest: Vec<ManifestEntry>,
    /// True when blocking drift existed and `allowDrift` let the run go on;
    /// the run's release record keeps this.
    pub drift_allowed: bool,
}

/// Decides what `start` does. The checks run in this order, and the first
/// that applies decides:
///
/// 1. The manifest must be valid, else its error is returned.
/// 2. Drift is computed (with `strict`) so every answer can show it.
/// 3. An active run → `already_running` with an empty plan: a second writer
///    is never started, whatever else the request says.
/// 4. Blocking drift without `allow_drift` → `drift_blocked`. The plan is
///    still computed so the caller can show what would run; if planning
///    fails, the plan is empty and the drift is still what is reported.
/// 5. The plan is computed (by [`plan_sync`] when `keep` is given); its
///    errors (e.g. `NoDownStep`, `InvalidKeep`) are returned. A dry run of
///    `down` with `steps` or `to` is the exception: it returns the whole
///    plan with `hasDown: false` on each migration that would refuse the
///    rollback, so every such migration shows before anything runs.
///    With `restart`, no item resumes (this applies to the plan shown in 4 too).
/// 6. An empty plan → `noop`, even for a dry run.
/// 7. `dry_run` → `dry_run`.
/// 8. Otherwise → `running`.
pub fn decide_start(req: &StartRequest) -> Result<StartDecision, EngineError> {
    let manifest = build_manifest(&req.manifest)?;
    let drift = verify(&req.records, &manifest, req.strict);
    if req.active_run_id.is_some() {
        return Ok(StartDecision {
            status: StartStatus::AlreadyRunning,
            reply: StartStatus::AlreadyRunning.reply(),
            plan: Vec::new(),
            drift,
            manifest,
            drift_allowed: false,
        });
    }
    let plan_request = PlanRequest {
        direction: req.direction,
        steps: req.steps.map(whole_steps).transpose()?,
        to: req.to.clone(),
    };
    let blocking_drift = drift.iter().any(|finding| finding.blocking);
    if blocking_drift && !req.allow_drift {
        return Ok(StartDecision {
            status: StartStatus::DriftBlocked,
            reply: StartStatus::DriftBlocked.reply(),
            plan: plan_for(&manifest, req, &plan_request).unwrap_or_default(),
            drift,
            manifest,
            drift_allowed: false,
        });
    }
    let plan = plan_for(&manifest, req, &plan_request)?;
    let status = match (plan.is_empty(), req.dry_run) {
        (true, _) => StartStatus::Noop,
        (false, true) => StartStatus::DryRun,
        (false, false) => StartStatus::Running,
    };
    Ok(StartDecision {
        status,
        reply: status.reply(),
        plan,
        drift,
        manifest,
        drift_allowed: blocking_drift && status != StartStatus::Noop,
    })
}

/// The plan of `req` (a sync plan when it carries `keep`), with resuming
/// turned off when it asks to restart.
fn plan_for(
    manifest: &[ManifestEntry],
    req: &StartRequest,
    plan_request: &PlanRequest,
) -> Result<Vec<PlanItem>, EngineError> {
    let mut items = match &req.keep {
        Some(keep) => plan_sync(manifest, &req.records, plan_request, keep)?,
        None => {
            let items = preview(manifest, &req.records, plan_request)?;
            if !req.dry_run {
                require_down_steps(&items)?;
            }
            items
        }
    };
    if req.restart {
        for item in &mut items {
            item.resume = false;
        }
    }
    Ok(items)
}

/// The versioned half of the component's `status` query.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StatusReport {
    /// Manifest migrations in id order, then stored ones no longer shipped.
    pub migrations: Vec<MigrationStatusRow>,
    /// Manifest ids not yet completed, in id order (what `up` would run).
    pub pending: Vec<String>,
    /// Drift as a non-strict `up` would see it.
    pub drift: Vec<DriftFinding>,
}

/// One migration as `convex-migrate status` shows it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MigrationStatusRow {
    /// The migration id.
    pub id: String,
    /// The manifest's description; empty for a migration no longer shipped.
    pub description: String,
    /// Its stored state; `pending` when the deployment has no record.
    pub state: MigrationState,
    /// The shipped checksum, or the stored one for a migration no longer shipped.
    pub checksum: String,
    /// The form of `checksum`.
    pub checksum_form: u32,
    /// The checksum stored with the deployment's record, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stored_checksum: Option<String>,
    /// False for a stored migration the manifest no longer contains.
    pub in_manifest: bool,
    /// The form of the stored checksum, when the deployment has a record:
    /// the form stored with it, or 1 for a record that stores none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stored_form: Option<u32>,
    /// For a shipped migration with a record: true when the shipped code
    /// has the stored checksum (computed in the stored form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub code_unchanged: Option<bool>,
    /// True when the shipped migration has a down step.
    pub has_down: bool,
}

/// Describes every migration the manifest or the history knows, which are
/// pending, and the drift between the two (computed as without `strict`).
pub fn status_report(
    manifest: &[MigrationDef],
    records: &[AppliedRecord],
) -> Result<StatusReport, EngineError> {
    let entries = build_manifest(manifest)?;
    let stored = records_by_id(records);
    let shipped: BTreeSet<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
    let mut migrations: Vec<MigrationStatusRow> = entries
        .iter()
        .map(|entry| shipped_row(entry, stored.get(entry.id.as_str()).copied()))
        .collect();
    migrations.extend(
        stored
            .values()
            .filter(|record| !shipped.contains(record.id.as_str()))
            .map(|record| unshipped_row(record)),
    );
    let pending = migrations
        .iter()
        .filter(|row| row.in_manifest && row.state != MigrationState::Completed)
        .map(|row| row.id.clone())
        .collect();
    Ok(StatusReport {
        migrations,
        pending,
        drift: verify(records, &entries, false),
    })
}

fn shipped_row(entry: &ManifestEntry, record: Option<&AppliedRecord>) -> MigrationStatusRow {
    MigrationStatusRow {
        id: entry.id.clone(),
        description: entry.description.clone(),
        state: record.map_or(MigrationState::Pending, |record| record.state),
        checksum: entry.checksum.clone(),
        checksum_form: entry.checksum_form,
        stored_checksum: record.map(|record| record.checksum.clone()),
        in_manifest: true,
        stored_form: record.map(AppliedRecord::form),
        code_unchanged: record.map(|record| entry.matches(record)),
        has_down: entry.down.is_some(),
    }
}

fn unshipped_row(record: &AppliedRecord) -> MigrationStatusRow {
    MigrationStatusRow {
        id: record.id.clone(),
        description: String::new(),
        state: record.state,
        checksum: record.checksum.clone(),
        checksum_form: record.form(),
        stored_checksum: Some(record.checksum.clone()),
        in_manifest: false,
        stored_form: Some(record.form()),
        code_unchanged: None,
        has_down: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::DriftKind;
    use crate::manifest::fixtures::{
        all_completed, def, def_without_down, manifest_of, record, record_after,
    };

    const A: &str = "20260101_000000_a";
    const B: &str = "20260102_000000_b";
    const C: &str = "20260103_000000_c";

    fn request(defs: Vec<MigrationDef>, records: Vec<AppliedRecord>) -> StartRequest {
        StartRequest {
            manifest: defs,
            records,
            direction: Direction::Up,
            steps: None,
            to: None,
            dry_run: false,
            allow_drift: false,
            strict: false,
            restart: false,
            keep: None,
            active_run_id: None,
        }
    }

    /// A and B completed; B has since been edited, which is blocking drift.
    fn edited_after_applying() -> StartRequest {
        let records = all_completed(&manifest_of(&[def(A), def(B)]));
        let mut edited_b = def(B);
        edited_b.up.source = "async (ctx, doc) => ({ edited: true })".into();
        request(vec![def(A), edited_b, def(C)], records)
    }

    fn plan_ids(decision: &StartDecision) -> Vec<&str> {
        decision.plan.iter().map(|item| item.id.as_str()).collect()
    }

    #[test]
    fn decide_start_runs_pending_migrations() {
        let decision = decide_start(&request(vec![def(A), def(B)], vec![])).unwrap();
        assert_eq!(decision.status, StartStatus::Running);
        assert_eq!(plan_ids(&decision), vec![A, B]);
        assert_eq!(decision.manifest.len(), 2);
        assert!(decision.drift.is_empty());
        assert!(!decision.drift_allowed);
    }

    #[test]
    fn decide_start_is_noop_when_nothing_is_pending() {
        let defs = vec![def(A)];
        let records = all_completed(&manifest_of(&defs));
        let decision = decide_start(&request(defs, records)).unwrap();
        assert_eq!(decision.status, StartStatus::Noop);
        assert!(decision.plan.is_empty());
    }

    #[test]
    fn decide_start_reports_a_dry_run() {
        let req = StartRequest {
            dry_run: true,
            ..request(vec![def(A)], vec![])
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::DryRun);
        assert_eq!(plan_ids(&decision), vec![A]);
    }

    #[test]
    fn decide_start_prefers_noop_over_dry_run_when_the_plan_is_empty() {
        let defs = vec![def(A)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            dry_run: true,
            ..request(defs, records)
        };
        assert_eq!(decide_start(&req).unwrap().status, StartStatus::Noop);
    }

    #[test]
    fn decide_start_blocks_on_drift_and_still_shows_the_plan() {
        let decision = decide_start(&edited_after_applying()).unwrap();
        assert_eq!(decision.status, StartStatus::DriftBlocked);
        assert_eq!(plan_ids(&decision), vec![C]);
        assert_eq!(decision.drift[0].kind, DriftKind::ChecksumMismatch);
        assert!(!decision.drift_allowed);
    }

    #[test]
    fn decide_start_prefers_drift_blocked_over_a_plan_error() {
        let req = StartRequest {
            direction: Direction::Down,
            ..edited_after_applying()
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::DriftBlocked);
        assert!(decision.plan.is_empty());
    }

    #[test]
    fn decide_start_runs_despite_drift_when_allowed_and_records_it() {
        let req = StartRequest {
            allow_drift: true,
            ..edited_after_applying()
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::Running);
        assert_eq!(plan_ids(&decision), vec![C]);
        assert!(decision.drift_allowed);
    }

    #[test]
    fn decide_start_records_allowed_drift_for_a_dry_run() {
        let req = StartRequest {
            allow_drift: true,
            dry_run: true,
            ..edited_after_applying()
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::DryRun);
        assert!(decision.drift_allowed);
    }

    #[test]
    fn decide_start_does_not_mark_drift_allowed_when_nothing_runs() {
        let mut req = StartRequest {
            allow_drift: true,
            ..edited_after_applying()
        };
        req.manifest.pop();
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::Noop);
        assert!(!decision.drift_allowed);
    }

    #[test]
    fn decide_start_runs_out_of_order_migrations_without_strict() {
        let defs = vec![def(A), def(B)];
        let records = vec![record(&manifest_of(&defs)[1], MigrationState::Completed)];
        let decision = decide_start(&request(defs, records)).unwrap();
        assert_eq!(decision.status, StartStatus::Running);
        assert_eq!(decision.drift[0].kind, DriftKind::OutOfOrder);
        assert!(!decision.drift_allowed);
    }

    #[test]
    fn decide_start_blocks_out_of_order_migrations_under_strict() {
        let defs = vec![def(A), def(B)];
        let records = vec![record(&manifest_of(&defs)[1], MigrationState::Completed)];
        let req = StartRequest {
            strict: true,
            ..request(defs, records)
        };
        assert_eq!(
            decide_start(&req).unwrap().status,
            StartStatus::DriftBlocked
        );
    }

    #[test]
    fn start_replies_running_to_a_second_start_and_the_decision_otherwise() {
        assert_eq!(StartStatus::AlreadyRunning.reply(), StartReply::Running);
        assert_eq!(StartStatus::Running.reply(), StartReply::Running);
        assert_eq!(StartStatus::Noop.reply(), StartReply::Noop);
        assert_eq!(StartStatus::DryRun.reply(), StartReply::DryRun);
        assert_eq!(StartStatus::DriftBlocked.reply(), StartReply::DriftBlocked);
        assert_eq!(
            serde_json::to_string(&StartReply::DriftBlocked).unwrap(),
            "\"drift_blocked\""
        );
    }

    #[test]
    fn decide_start_returns_already_running_before_drift_or_plan() {
        let req = StartRequest {
            active_run_id: Some("run_1".into()),
            direction: Direction::Down,
            ..edited_after_applying()
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::AlreadyRunning);
        assert!(decision.plan.is_empty());
        assert_eq!(decision.drift.len(), 1);
    }

    #[test]
    fn decide_start_rejects_an_invalid_manifest_before_anything_else() {
        let req = StartRequest {
            active_run_id: Some("run_1".into()),
            ..request(vec![def(B), def("nope")], vec![])
        };
        assert!(matches!(
            decide_start(&req),
            Err(EngineError::InvalidId { .. })
        ));
    }

    #[test]
    fn decide_start_passes_plan_errors_through() {
        let defs = vec![def(A), def_without_down(B)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            direction: Direction::Down,
            steps: Some(1.0),
            ..request(defs, records)
        };
        assert_eq!(
            decide_start(&req),
            Err(EngineError::NoDownStep {
                id: B.into(),
                without_down: vec![B.into()]
            })
        );
    }

    #[test]
    fn decide_start_plans_a_rollback() {
        let defs = vec![def(A), def(B)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            direction: Direction::Down,
            to: Some(A.into()),
            ..request(defs, records)
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::Running);
        assert_eq!(plan_ids(&decision), vec![B]);
        assert_eq!(decision.plan[0].direction, Direction::Down);
    }

    #[test]
    fn start_request_reads_camel_case_json_with_defaults() {
        let json = r#"{"manifest":[],"records":[],"direction":"down","steps":2,"activeRunId":"r"}"#;
        let req: StartRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.direction, Direction::Down);
        assert_eq!(req.steps, Some(2.0));
        assert_eq!(req.active_run_id.as_deref(), Some("r"));
        assert!(!req.dry_run && !req.allow_drift && !req.strict && !req.restart);
        let req: StartRequest =
            serde_json::from_str(r#"{"manifest":[],"records":[],"direction":"up","restart":true}"#)
                .unwrap();
        assert!(req.restart);
    }

    fn part_way_records() -> (Vec<MigrationDef>, Vec<AppliedRecord>) {
        let defs = vec![def(A), def(B), def(C)];
        let shipped = manifest_of(&defs);
        let records = vec![
            record_after(&shipped[0], MigrationState::Completed, Direction::Up),
            record_after(&shipped[1], MigrationState::Failed, Direction::Up),
            record_after(&shipped[2], MigrationState::Canceled, Direction::Down),
        ];
        (defs, records)
    }

    #[test]
    fn decide_start_resumes_part_way_migrations_by_default() {
        let (defs, records) = part_way_records();
        let decision = decide_start(&request(defs.clone(), records.clone())).unwrap();
        let resumed: Vec<(&str, bool)> = decision
            .plan
            .iter()
            .map(|item| (item.id.as_str(), item.resume))
            .collect();
        assert_eq!(resumed, vec![(B, true), (C, false)]);
        let down = StartRequest {
            direction: Direction::Down,
            steps: Some(1.0),
            ..request(defs, records)
        };
        let decision = decide_start(&down).unwrap();
        assert_eq!(plan_ids(&decision), vec![C]);
        assert!(decision.plan[0].resume);
    }

    #[test]
    fn decide_start_restarts_part_way_migrations_when_asked() {
        let (defs, records) = part_way_records();
        for direction in [Direction::Up, Direction::Down] {
            let req = StartRequest {
                direction,
                steps: Some(2.0),
                restart: true,
                ..request(defs.clone(), records.clone())
            };
            let decision = decide_start(&req).unwrap();
            assert_eq!(decision.status, StartStatus::Running);
            assert!(!decision.plan.is_empty());
            assert!(
                decision.plan.iter().all(|item| !item.resume),
                "{direction:?}"
            );
        }
    }

    #[test]
    fn decide_start_shows_a_restarted_plan_when_blocked_by_drift() {
        let mut req = StartRequest {
            restart: true,
            ..edited_after_applying()
        };
        req.records
            .push(record(&manifest_of(&[def(C)])[0], MigrationState::Canceled));
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::DriftBlocked);
        assert_eq!(plan_ids(&decision), vec![C]);
        assert!(!decision.plan[0].resume);
    }

    #[test]
    fn decide_start_plans_a_sync_from_keep() {
        let defs = vec![def(A), def(B), def(C)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            direction: Direction::Down,
            keep: Some(vec![B.into(), "20260301_000000_other_branch".into()]),
            ..request(defs, records)
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::Running);
        assert_eq!(plan_ids(&decision), vec![C, A]);
    }

    #[test]
    fn decide_start_sync_is_noop_when_every_applied_migration_is_kept() {
        let defs = vec![def(A), def(B)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            direction: Direction::Down,
            keep: Some(vec![A.into(), B.into()]),
            ..request(defs, records)
        };
        assert_eq!(decide_start(&req).unwrap().status, StartStatus::Noop);
    }

    #[test]
    fn decide_start_sync_refuses_a_migration_without_down_step() {
        let defs = vec![def(A), def_without_down(B), def(C)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            direction: Direction::Down,
            keep: Some(vec![A.into()]),
            ..request(defs, records)
        };
        assert_eq!(
            decide_start(&req),
            Err(EngineError::NoDownStep {
                id: B.into(),
                without_down: vec![B.into()]
            })
        );
    }

    #[test]
    fn decide_start_rejects_keep_with_up_or_steps() {
        let defs = vec![def(A)];
        let records = all_completed(&manifest_of(&defs));
        let up = StartRequest {
            keep: Some(vec![]),
            ..request(defs.clone(), records.clone())
        };
        assert!(matches!(
            decide_start(&up),
            Err(EngineError::InvalidKeep { .. })
        ));
        let with_steps = StartRequest {
            direction: Direction::Down,
            steps: Some(1.0),
            keep: Some(vec![]),
            ..request(defs, records)
        };
        assert!(matches!(
            decide_start(&with_steps),
            Err(EngineError::InvalidKeep { .. })
        ));
    }

    #[test]
    fn start_request_reads_keep_from_json() {
        let json = r#"{"manifest":[],"records":[],"direction":"down","keep":["a","b"]}"#;
        let req: StartRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.keep, Some(vec!["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn start_status_serializes_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&StartStatus::AlreadyRunning).unwrap(),
            "\"already_running\""
        );
        assert_eq!(
            serde_json::to_string(&StartStatus::DriftBlocked).unwrap(),
            "\"drift_blocked\""
        );
    }

    #[test]
    fn status_report_lists_manifest_then_unshipped_migrations() {
        let shipped = manifest_of(&[def(A), def(B), def(C)]);
        let records = vec![
            record(&shipped[0], MigrationState::Completed),
            record(&shipped[2], MigrationState::Failed),
        ];
        let report = status_report(&[def(A), def(B)], &records).unwrap();

        let rows: Vec<(&str, MigrationState, bool)> = report
            .migrations
            .iter()
            .map(|row| (row.id.as_str(), row.state, row.in_manifest))
            .collect();
        assert_eq!(
            rows,
            vec![
                (A, MigrationState::Completed, true),
                (B, MigrationState::Pending, true),
                (C, MigrationState::Failed, false),
            ]
        );
        assert_eq!(report.migrations[1].stored_checksum, None);
        assert_eq!(report.migrations[2].checksum, shipped[2].checksum);
        assert_eq!(report.migrations[2].description, "");
        assert_eq!(report.pending, vec![B.to_string()]);
        assert_eq!(report.drift.len(), 1);
        assert_eq!(report.drift[0].kind, DriftKind::MissingFromManifest);
    }

    #[test]
    fn status_report_counts_part_way_migrations_as_pending() {
        let defs = vec![def(A), def(B)];
        let shipped = manifest_of(&defs);
        let records = vec![
            record(&shipped[0], MigrationState::Running),
            record(&shipped[1], MigrationState::RolledBack),
        ];
        let report = status_report(&defs, &records).unwrap();
        assert_eq!(report.pending, vec![A.to_string(), B.to_string()]);
        assert_eq!(
            report.migrations[0].stored_checksum.as_deref(),
            Some(shipped[0].checksum.as_str())
        );
    }

    #[test]
    fn status_report_reports_out_of_order_as_a_warning() {
        let defs = vec![def(A), def(B)];
        let records = vec![record(&manifest_of(&defs)[1], MigrationState::Completed)];
        let report = status_report(&defs, &records).unwrap();
        assert_eq!(report.drift.len(), 1);
        assert!(!report.drift[0].blocking);
    }

    #[test]
    fn status_report_rejects_an_invalid_manifest() {
        assert!(matches!(
            status_report(&[def("nope")], &[]),
            Err(EngineError::InvalidId { .. })
        ));
    }
    #[test]
    fn decide_start_runs_an_unsorted_manifest_in_id_order() {
        let decision = decide_start(&request(vec![def(C), def(A), def(B)], vec![])).unwrap();
        assert_eq!(plan_ids(&decision), vec![A, B, C]);
    }

    #[test]
    fn decide_start_dry_run_of_down_shows_every_migration_without_down_step() {
        let defs = vec![def(A), def_without_down(B), def(C)];
        let records = all_completed(&manifest_of(&defs));
        let req = StartRequest {
            direction: Direction::Down,
            steps: Some(3.0),
            dry_run: true,
            ..request(defs, records)
        };
        let decision = decide_start(&req).unwrap();
        assert_eq!(decision.status, StartStatus::DryRun);
        let flags: Vec<(&str, bool)> = decision
            .plan
            .iter()
            .map(|item| (item.id.as_str(), item.has_down))
            .collect();
        assert_eq!(flags, vec![(C, true), (B, false), (A, true)]);
        let real = StartRequest {
            dry_run: false,
            ..req
        };
        assert!(matches!(
            decide_start(&real),
            Err(EngineError::NoDownStep { id, .. }) if id == B
        ));
    }

    /// A record as a deployment stored it before form v2: the v1 checksum
    /// and no form field.
    fn v1_record(def: &MigrationDef, state: MigrationState) -> AppliedRecord {
        AppliedRecord {
            id: def.id.clone(),
            checksum: crate::checksum::checksum_v1(def),
            checksum_form: None,
            state,
            last_direction: Some(Direction::Up),
            description: Some(def.description.clone()),
        }
    }

    #[test]
    fn v1_records_of_unchanged_code_are_not_drift() {
        let defs = vec![def(A), def(B)];
        let records: Vec<AppliedRecord> = defs
            .iter()
            .map(|d| v1_record(d, MigrationState::Completed))
            .collect();
        let decision = decide_start(&request(defs.clone(), records.clone())).unwrap();
        assert_eq!(decision.status, StartStatus::Noop);
        assert!(decision.drift.is_empty());
        let report = status_report(&defs, &records).unwrap();
        assert!(report.drift.is_empty());
        assert!(report
            .migrations
            .iter()
            .all(|row| row.stored_form == Some(1) && row.code_unchanged == Some(true)));
        assert!(report.migrations.iter().all(|row| row.checksum_form == 2));
    }

    #[test]
    fn a_v1_record_is_not_drift_when_only_the_description_changed() {
        let applied = def(A);
        let records = vec![v1_record(&applied, MigrationState::Completed)];
        let mut reworded = def(A);
        reworded.description = "a clearer description".into();
        let decision =
            decide_start(&request(vec![reworded.clone(), def(B)], records.clone())).unwrap();
        assert_eq!(decision.status, StartStatus::Running);
        assert!(decision.drift.is_empty());
        let report = status_report(&[reworded], &records).unwrap();
        assert_eq!(report.migrations[0].code_unchanged, Some(true));
    }

    #[test]
    fn a_v1_record_whose_code_changed_is_drift_in_its_own_form() {
        let applied = def(A);
        let mut edited = def(A);
        edited.up.source = "async () => ({ other: 1 })".into();
        let records = vec![v1_record(&applied, MigrationState::Completed)];
        let decision = decide_start(&request(vec![edited.clone()], records)).unwrap();
        assert_eq!(decision.status, StartStatus::DriftBlocked);
        let finding = &decision.drift[0];
        assert_eq!(
            finding.current_checksum,
            Some(crate::checksum::checksum_v1(&edited))
        );
    }

    #[test]
    fn description_and_batch_size_edits_are_not_drift_under_v2() {
        let applied = manifest_of(&[def(A)]);
        let mut edited = def(A);
        edited.description = "a clearer description".into();
        edited.up.batch_size = Some(250);
        let records = vec![record(&applied[0], MigrationState::Completed)];
        let report = status_report(&[edited], &records).unwrap();
        assert!(report.drift.is_empty());
        assert_eq!(report.migrations[0].stored_form, Some(2));
        assert_eq!(report.migrations[0].code_unchanged, Some(true));
    }

    #[test]
    fn status_report_says_whether_code_is_unchanged_and_a_down_step_exists() {
        let applied = manifest_of(&[def(A), def(B)]);
        let mut edited = def(B);
        edited.up.custom_range = Some("(q) => q.withIndex(\"by_done\")".into());
        let records = vec![
            record(&applied[0], MigrationState::Completed),
            record(&applied[1], MigrationState::Completed),
        ];
        let report = status_report(&[def(A), edited, def_without_down(C)], &records).unwrap();
        let rows: Vec<(Option<bool>, bool)> = report
            .migrations
            .iter()
            .map(|row| (row.code_unchanged, row.has_down))
            .collect();
        assert_eq!(
            rows,
            vec![(Some(true), true), (Some(false), true), (None, false)]
        );
        assert_eq!(report.migrations[2].stored_form, None);
    }
}
