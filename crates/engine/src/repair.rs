//! `repair`: accepting, on the record, that an applied migration was edited
//! or deleted on purpose.
//!
//! Drift blocks every run until it is resolved. `--allow-drift` lets one run
//! through and leaves the history as it was; repair changes the history
//! instead: an edited migration's record takes the deployed code's checksum,
//! a deleted one is marked `removed`. No data is touched. The component
//! stores what [`decide_repair`] returns and keeps it in a run of kind
//! `repair`, so the release history says who accepted what, and when.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::checksum::MigrationDef;
use crate::drift::{verify, DriftFinding, DriftKind};
use crate::history::{records_by_id, AppliedRecord, MigrationState};
use crate::manifest::build_manifest;
use crate::run::{new_run, run_step, RunEvent, RunState};
use crate::EngineError;

/// Everything `repair` needs to decide, read by the component in one query.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RepairRequest {
    /// The app's migration set as shipped now.
    pub manifest: Vec<MigrationDef>,
    /// The deployment's stored record of each migration id.
    pub records: Vec<AppliedRecord>,
    /// Only these migrations; every repairable one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub ids: Option<Vec<String>>,
    /// The deployment's active run, if one exists: repair is refused then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub active_run_id: Option<String>,
    /// When the repair happens, for its run record.
    pub now_ms: f64,
}

/// One accepted finding and what the record becomes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Repair {
    /// The migration id.
    pub id: String,
    /// The drift accepted: `checksum_mismatch` or `missing_from_manifest`.
    pub kind: DriftKind,
    /// The checksum the record held.
    pub old_checksum: String,
    /// The form of the old checksum (1 for a record that stored none).
    pub old_form: u32,
    /// The checksum the record holds now: the deployed code's, in the current
    /// form. Absent for a removal, whose record keeps its old checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub new_checksum: Option<String>,
    /// The form of the new checksum, stored beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub new_form: Option<u32>,
    /// The record's state after the repair (unchanged for an edit,
    /// `removed` for a deletion).
    pub state: MigrationState,
}

/// What `repair` reports: whether any record was rewritten.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RepairReply {
    /// At least one record was accepted and rewritten; a repair run is recorded.
    Repaired,
    /// Nothing was repairable (or selected): no record and no run is written.
    Noop,
}

/// The engine's answer to `repair`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RepairDecision {
    /// What to write, in id order; empty when there is nothing to repair.
    pub repairs: Vec<Repair>,
    /// The drift before the repair, as a non-strict `up` would see it.
    pub drift: Vec<DriftFinding>,
    /// The run record of the repair (already ended), when anything is
    /// repaired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub run: Option<RunState>,
    /// What `repair` reports.
    pub reply: RepairReply,
}

/// Decides what `repair` accepts. In this order:
///
/// 1. The manifest must be valid, else its error.
/// 2. An active run refuses the repair (`RunActive`): its batches check the
///    checksum they planned with, and the history must not change under them.
/// 3. Drift is computed as a non-strict `up` sees it. Repairable are
///    `checksum_mismatch` findings (blocking or not: a failed migration whose
///    fix is accepted resumes under the accepted checksum) and
///    `missing_from_manifest` findings. `out_of_order` is not repairable:
///    nothing about the history is wrong, the pending migration runs.
/// 4. With `ids`, each must name a repairable finding, else `NotRepairable`
///    says why (unknown id, never ran, code unchanged, out of order); the
///    whole request is refused, so nothing is half-accepted. Without `ids`,
///    every repairable finding is accepted.
/// 5. An edit takes the shipped checksum in the current form; a deletion
///    becomes `removed`. With anything repaired, the run record is a run
///    over no items that began and succeeded at `now_ms`.
pub fn decide_repair(req: &RepairRequest) -> Result<RepairDecision, EngineError> {
    let manifest = build_manifest(&req.manifest)?;
    if let Some(run_id) = &req.active_run_id {
        return Err(EngineError::RunActive {
            run_id: run_id.clone(),
        });
    }
    let drift = verify(&req.records, &manifest, false);
    let repairable: Vec<&DriftFinding> = drift
        .iter()
        .filter(|finding| finding.kind != DriftKind::OutOfOrder)
        .collect();
    let selected: Vec<&DriftFinding> = match &req.ids {
        None => repairable,
        Some(ids) => {
            let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            for id in &wanted {
                if !repairable.iter().any(|finding| finding.id == *id) {
                    return Err(not_repairable(id, req, &manifest, &drift));
                }
            }
            repairable
                .into_iter()
                .filter(|finding| wanted.contains(finding.id.as_str()))
                .collect()
        }
    };
    let stored = records_by_id(&req.records);
    let repairs: Vec<Repair> = selected
        .into_iter()
        .filter_map(|finding| {
            let record = stored.get(finding.id.as_str())?;
            let entry = manifest.iter().find(|entry| entry.id == finding.id);
            Some(Repair {
                id: finding.id.clone(),
                kind: finding.kind,
                old_checksum: record.checksum.clone(),
                old_form: record.form(),
                new_checksum: entry.map(|entry| entry.checksum.clone()),
                new_form: entry.map(|entry| entry.checksum_form),
                state: if entry.is_some() {
                    record.state
                } else {
                    MigrationState::Removed
                },
            })
        })
        .collect();
    let (run, reply) = if repairs.is_empty() {
        (None, RepairReply::Noop)
    } else {
        let begun = run_step(
            &new_run(Vec::new(), req.now_ms),
            &RunEvent::Begin { now_ms: req.now_ms },
        )?;
        (Some(begun.state), RepairReply::Repaired)
    };
    Ok(RepairDecision {
        repairs,
        drift,
        run,
        reply,
    })
}

/// Why `id` has nothing to repair, in words a person can act on.
fn not_repairable(
    id: &str,
    req: &RepairRequest,
    manifest: &[crate::manifest::ManifestEntry],
    drift: &[DriftFinding],
) -> EngineError {
    let record = records_by_id(&req.records).get(id).copied();
    let shipped = manifest.iter().any(|entry| entry.id == id);
    let reason = if drift
        .iter()
        .any(|finding| finding.id == id && finding.kind == DriftKind::OutOfOrder)
    {
        "it is pending and only out of order; repair accepts edits and removals, `up` runs it"
    } else {
        match record {
            None if !shipped => "no migration has this id in the manifest or the history",
            Some(record) if !record.state.counts_as_applied() => {
                "it has not written data in this deployment, so there is nothing to accept"
            }
            None => "it has not run in this deployment, so there is nothing to accept",
            Some(_) => "its deployed code matches the checksum on record",
        }
    };
    EngineError::NotRepairable {
        id: id.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::checksum_v1;
    use crate::manifest::fixtures::{all_completed, def, manifest, manifest_of, record};
    use crate::run::RunStatus;

    const A: &str = "20260101_000000_a";
    const B: &str = "20260102_000000_b";
    const C: &str = "20260103_000000_c";

    fn request(defs: Vec<MigrationDef>, records: Vec<AppliedRecord>) -> RepairRequest {
        RepairRequest {
            manifest: defs,
            records,
            ids: None,
            active_run_id: None,
            now_ms: 7_000.0,
        }
    }

    fn edited(id: &str) -> MigrationDef {
        let mut def = def(id);
        def.up.source = "async (ctx, doc) => ({ hotfix: true })".into();
        def
    }

    /// A, B and C completed; B has since been edited and C deleted.
    fn drifted() -> RepairRequest {
        let records = all_completed(&manifest(&[A, B, C]));
        request(vec![def(A), edited(B)], records)
    }

    fn ids(decision: &RepairDecision) -> Vec<(&str, DriftKind, MigrationState)> {
        decision
            .repairs
            .iter()
            .map(|r| (r.id.as_str(), r.kind, r.state))
            .collect()
    }

    #[test]
    fn repair_accepts_every_edit_and_removal_by_default() {
        let req = drifted();
        let decision = decide_repair(&req).unwrap();
        assert_eq!(
            ids(&decision),
            vec![
                (B, DriftKind::ChecksumMismatch, MigrationState::Completed),
                (C, DriftKind::MissingFromManifest, MigrationState::Removed),
            ]
        );
        let shipped = manifest_of(&[def(A), edited(B)]);
        let edit = &decision.repairs[0];
        assert_eq!(edit.old_checksum, req.records[1].checksum);
        assert_eq!(
            edit.new_checksum.as_deref(),
            Some(shipped[1].checksum.as_str())
        );
        let removal = &decision.repairs[1];
        assert_eq!(removal.old_checksum, req.records[2].checksum);
        assert_eq!(removal.new_checksum, None);
        assert_eq!(decision.drift.len(), 2);
    }

    #[test]
    fn repair_leaves_no_drift_once_stored() {
        let req = drifted();
        let decision = decide_repair(&req).unwrap();
        let repaired: Vec<AppliedRecord> = req
            .records
            .iter()
            .map(|r| match decision.repairs.iter().find(|x| x.id == r.id) {
                Some(x) => AppliedRecord {
                    checksum: x.new_checksum.clone().unwrap_or(r.checksum.clone()),
                    checksum_form: x.new_form.or(r.checksum_form),
                    state: x.state,
                    ..r.clone()
                },
                None => r.clone(),
            })
            .collect();
        let after = manifest_of(&req.manifest);
        assert_eq!(verify(&repaired, &after, true), vec![]);
    }

    #[test]
    fn repair_records_an_ended_run() {
        let decision = decide_repair(&drifted()).unwrap();
        assert_eq!(decision.reply, RepairReply::Repaired);
        let run = decision.run.unwrap();
        assert_eq!(run.status, RunStatus::Succeeded);
        assert!(run.items.is_empty());
        assert_eq!(run.started_ms, 7_000.0);
        assert_eq!(run.ended_ms, Some(7_000.0));
    }

    #[test]
    fn repair_with_nothing_to_accept_writes_nothing() {
        let defs = vec![def(A), def(B)];
        let records = all_completed(&manifest_of(&defs));
        let decision = decide_repair(&request(defs, records)).unwrap();
        assert!(decision.repairs.is_empty());
        assert_eq!(decision.run, None);
        assert_eq!(decision.reply, RepairReply::Noop);
    }

    #[test]
    fn repair_takes_only_the_ids_asked_for() {
        let req = RepairRequest {
            ids: Some(vec![C.into()]),
            ..drifted()
        };
        let decision = decide_repair(&req).unwrap();
        assert_eq!(
            ids(&decision),
            vec![(C, DriftKind::MissingFromManifest, MigrationState::Removed)]
        );
    }

    #[test]
    fn repair_is_refused_while_a_run_is_active() {
        let req = RepairRequest {
            active_run_id: Some("run1".into()),
            ..drifted()
        };
        assert_eq!(
            decide_repair(&req),
            Err(EngineError::RunActive {
                run_id: "run1".into()
            })
        );
    }

    fn reason(req: &RepairRequest, id: &str) -> String {
        let req = RepairRequest {
            ids: Some(vec![B.into(), id.into()]),
            ..req.clone()
        };
        match decide_repair(&req) {
            Err(EngineError::NotRepairable { id: named, reason }) => {
                assert_eq!(named, id);
                reason
            }
            other => panic!("expected NotRepairable for {id}, got {other:?}"),
        }
    }

    #[test]
    fn repair_refuses_an_id_with_nothing_to_accept_and_says_why() {
        let req = drifted();
        assert!(reason(&req, A).contains("matches the checksum on record"));
        assert!(reason(&req, "20260109_000000_nope").contains("no migration has this id"));
        let mut with_new = req.clone();
        with_new.manifest.push(def("20260110_000000_new"));
        assert!(reason(&with_new, "20260110_000000_new").contains("has not run"));
    }

    #[test]
    fn repair_refuses_an_out_of_order_migration() {
        let defs = vec![def(A), edited(B)];
        let shipped = manifest_of(&[def(A), def(B)]);
        let records = vec![record(&shipped[1], MigrationState::Completed)];
        assert!(reason(&request(defs, records), A).contains("out of order"));
    }

    #[test]
    fn repair_accepts_a_v1_record_by_storing_the_current_form() {
        let mut record = record(&manifest(&[A])[0], MigrationState::Completed);
        record.checksum = checksum_v1(&def(A));
        record.checksum_form = None;
        let decision = decide_repair(&request(vec![edited(A)], vec![record.clone()])).unwrap();
        let repair = &decision.repairs[0];
        assert_eq!(repair.old_checksum, checksum_v1(&def(A)));
        assert_eq!(repair.old_form, 1);
        assert_eq!(
            repair.new_checksum.as_deref(),
            Some(manifest_of(&[edited(A)])[0].checksum.as_str())
        );
        assert!(repair
            .new_checksum
            .as_deref()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(repair.new_form, Some(2));
        // Stored as the component stores it (value and form), nothing drifts.
        let stored = AppliedRecord {
            checksum: repair.new_checksum.clone().unwrap(),
            checksum_form: repair.new_form,
            ..record
        };
        assert_eq!(verify(&[stored], &manifest_of(&[edited(A)]), true), vec![]);
    }

    #[test]
    fn repair_rejects_an_invalid_manifest() {
        assert!(matches!(
            decide_repair(&request(vec![def("nope")], vec![])),
            Err(EngineError::InvalidId { .. })
        ));
    }
}
