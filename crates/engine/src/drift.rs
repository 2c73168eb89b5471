//! Drift: where the deployment's history and the shipped manifest disagree.
//!
//! [`verify`] is the one place these rules live. It compares what the
//! component stored for each migration with the manifest the app ships now
//! and says, per finding, whether a run must stop.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::history::{records_by_id, AppliedRecord, MigrationState};
use crate::manifest::ManifestEntry;

/// The ways history and manifest can disagree.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DriftKind {
    /// An applied migration was edited after it ran.
    ChecksumMismatch,
    /// An applied migration was deleted from the manifest.
    MissingFromManifest,
    /// A pending migration sorts before one already completed.
    OutOfOrder,
}

/// One disagreement, with the facts a person needs to resolve it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DriftFinding {
    /// Which rule found it.
    pub kind: DriftKind,
    /// The migration it is about.
    pub id: String,
    /// The checksum in the deployment's history, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stored_checksum: Option<String>,
    /// The form of the stored checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub stored_form: Option<u32>,
    /// The checksum of the shipped definition, when there is one, in the
    /// stored record's form when the engine knows that form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current_checksum: Option<String>,
    /// The form of the current checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub current_form: Option<u32>,
    /// True when a run must stop unless drift is explicitly allowed.
    pub blocking: bool,
    /// One sentence naming the migration and what to do.
    pub message: String,
}

/// Compares the deployment's records with the manifest.
///
/// - A record that counts as applied (see [`MigrationState::counts_as_applied`])
///   and is absent from the manifest is `missing_from_manifest`, blocking.
/// - An applied record whose checksum differs from the manifest's is
///   `checksum_mismatch`, with both checksums and their forms. The shipped
///   checksum is computed in the form stored with the record (a record
///   without a form is v1 and is compared with form v1 of the shipped code),
///   so a new checksum form is never drift. A record in a form this engine
///   does not know cannot be verified and is a blocking mismatch. Otherwise
///   it blocks, except for a
///   `failed` record: changing the code of a migration that failed is how the
///   failure gets fixed, and the next run resumes it with the new code.
/// - A pending manifest entry (no record, or a `pending` or `rolled_back`
///   record) whose id sorts before the greatest `completed` id is
///   `out_of_order`; it blocks only when `strict`, since running an older
///   migration late is often intended.
///
/// Findings are sorted by id, then kind. When several records share an id the
/// last one wins, as it would in a map keyed by id.
pub fn verify(
    records: &[AppliedRecord],
    manifest: &[ManifestEntry],
    strict: bool,
) -> Vec<DriftFinding> {
    let stored = records_by_id(records);
    let entries: BTreeMap<&str, &ManifestEntry> = manifest
        .iter()
        .map(|entry| (entry.id.as_str(), entry))
        .collect();
    let mut findings: Vec<DriftFinding> = stored
        .values()
        .filter(|record| record.state.counts_as_applied())
        .filter_map(|record| {
            applied_record_finding(record, entries.get(record.id.as_str()).copied())
        })
        .collect();
    if let Some(latest) = latest_completed_id(&stored) {
        findings.extend(
            manifest
                .iter()
                .filter(|entry| {
                    entry.id.as_str() < latest && is_pending(stored.get(entry.id.as_str()).copied())
                })
                .map(|entry| out_of_order(entry, latest, strict)),
        );
    }
    findings.sort_by(|a, b| (&a.id, a.kind).cmp(&(&b.id, b.kind)));
    findings
}

/// True when the migration has not run up to completion and is not part-way:
/// it has no record, or its record is `pending` or `rolled_back`.
fn is_pending(record: Option<&AppliedRecord>) -> bool {
    record.is_none_or(|record| !record.state.counts_as_applied())
}

fn latest_completed_id<'a>(records: &BTreeMap<&'a str, &AppliedRecord>) -> Option<&'a str> {
    records
        .iter()
        .rev()
        .find(|(_, record)| record.state == MigrationState::Completed)
        .map(|(id, _)| *id)
}

fn applied_record_finding(
    record: &AppliedRecord,
    entry: Option<&ManifestEntry>,
) -> Option<DriftFinding> {
    match entry {
        None => Some(missing_from_manifest(record)),
        Some(entry) if !entry.matches(record) => Some(checksum_mismatch(record, entry)),
        Some(_) => None,
    }
}

fn missing_from_manifest(record: &AppliedRecord) -> DriftFinding {
    DriftFinding {
        kind: DriftKind::MissingFromManifest,
        id: record.id.clone(),
        stored_checksum: Some(record.checksum.clone()),
        stored_form: Some(record.form()),
        current_checksum: None,
        current_form: None,
        blocking: true,
        message: format!(
            "Migration {} has run in this deployment but is no longer in the manifest; restore its file, or record the removal with `convex-migrate repair --id {}`.",
            record.id, record.id
        ),
    }
}

fn checksum_mismatch(record: &AppliedRecord, entry: &ManifestEntry) -> DriftFinding {
    let fixing_a_failure = record.state == MigrationState::Failed;
    let stored_form = record.form();
    let known = entry.checksum_like(record);
    let (current, current_form) = match &known {
        Some(current) => (current.clone(), stored_form),
        None => (entry.checksum.clone(), entry.checksum_form),
    };
    let compared = format!(
        "stored {} (form v{stored_form}), now {current} (form v{current_form})",
        record.checksum
    );
    let message = if known.is_none() {
        format!(
            "Migration {}'s checksum is stored in form v{stored_form}, which this release of convex-migrate does not know ({compared}); upgrade convex-migrate to the release that wrote it, or accept the deployed code with `convex-migrate repair --id {}`.",
            record.id, record.id
        )
    } else if fixing_a_failure {
        format!(
            "Migration {} failed and its code has changed since ({compared}); the next run resumes it with the new code.",
            record.id
        )
    } else {
        format!(
            "Migration {} was edited after it ran ({compared}); restore the original and put the change in a new migration, or accept the edit with `convex-migrate repair --id {}`.",
            record.id, record.id
        )
    };
    DriftFinding {
        kind: DriftKind::ChecksumMismatch,
        id: record.id.clone(),
        stored_checksum: Some(record.checksum.clone()),
        stored_form: Some(stored_form),
        current_checksum: Some(current),
        current_form: Some(current_form),
        // A record this release cannot verify blocks even when it failed:
        // nothing says whether its code changed.
        blocking: known.is_none() || !fixing_a_failure,
        message,
    }
}

fn out_of_order(entry: &ManifestEntry, latest: &str, strict: bool) -> DriftFinding {
    let remedy = if strict {
        "recreate it with `convex-migrate create` so it sorts last, or run without --strict to apply it anyway"
    } else {
        "it will run anyway; recreate it with `convex-migrate create` if it depends on later migrations"
    };
    DriftFinding {
        kind: DriftKind::OutOfOrder,
        id: entry.id.clone(),
        stored_checksum: None,
        stored_form: None,
        current_checksum: Some(entry.checksum.clone()),
        current_form: Some(entry.checksum_form),
        blocking: strict,
        message: format!(
            "Migration {} is pending but sorts before {latest}, which has already completed; {remedy}.",
            entry.id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Direction;
    use crate::manifest::fixtures::{
        all_completed, def, manifest, manifest_of, record, record_after,
    };

    const A: &str = "20260101_000000_a";
    const B: &str = "20260102_000000_b";
    const C: &str = "20260103_000000_c";

    fn kinds(findings: &[DriftFinding]) -> Vec<(DriftKind, &str, bool)> {
        findings
            .iter()
            .map(|f| (f.kind, f.id.as_str(), f.blocking))
            .collect()
    }

    #[test]
    fn verify_is_clean_for_consistent_history() {
        let manifest = manifest(&[A, B, C]);
        let mut records = all_completed(&manifest[..2]);
        records.push(record(&manifest[2], MigrationState::Running));
        assert_eq!(verify(&records, &manifest, true), vec![]);
    }

    #[test]
    fn verify_is_clean_for_an_empty_history() {
        assert_eq!(verify(&[], &manifest(&[A, B]), true), vec![]);
    }

    #[test]
    fn verify_fails_on_edited_applied_migration() {
        let before = manifest(&[A, B]);
        let records = all_completed(&before);
        let mut edited = def(B);
        edited.up.source = "async (ctx, doc) => ({ priority: \"high\" })".into();
        let after = manifest_of(&[def(A), edited]);

        let findings = verify(&records, &after, false);

        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, B, true)]
        );
        let finding = &findings[0];
        assert_eq!(
            finding.stored_checksum.as_deref(),
            Some(before[1].checksum.as_str())
        );
        assert_eq!(
            finding.current_checksum.as_deref(),
            Some(after[1].checksum.as_str())
        );
        assert!(finding.message.contains(B));
        assert!(finding.message.contains(&before[1].checksum));
        assert!(finding.message.contains(&after[1].checksum));
    }

    #[test]
    fn verify_fails_on_deleted_applied_migration() {
        let before = manifest(&[A, B]);
        let records = all_completed(&before);

        let findings = verify(&records, &manifest(&[A]), false);

        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::MissingFromManifest, B, true)]
        );
        assert_eq!(
            findings[0].stored_checksum.as_deref(),
            Some(before[1].checksum.as_str())
        );
        assert_eq!(findings[0].current_checksum, None);
        assert!(findings[0].message.contains(B));
    }

    #[test]
    fn verify_treats_part_way_records_as_applied() {
        let before = manifest(&[A, B, C]);
        let records = vec![
            record(&before[0], MigrationState::Running),
            record(&before[1], MigrationState::Failed),
            record(&before[2], MigrationState::Canceled),
        ];
        let mut edited_a = def(A);
        edited_a.up.source = "async (ctx, doc) => ({ changed: true })".into();
        let after = manifest_of(&[edited_a, def(B)]);

        assert_eq!(
            kinds(&verify(&records, &after, false)),
            vec![
                (DriftKind::ChecksumMismatch, A, true),
                (DriftKind::MissingFromManifest, C, true),
            ]
        );
    }

    #[test]
    fn verify_allows_fixing_a_failed_migration() {
        let before = manifest(&[A, B]);
        let records = vec![
            record(&before[0], MigrationState::Completed),
            record(&before[1], MigrationState::Failed),
        ];
        let mut fixed = def(B);
        fixed.up.source = "async (ctx, doc) => ({ priority: doc.priority ?? \"low\" })".into();
        let after = manifest_of(&[def(A), fixed]);

        let findings = verify(&records, &after, true);

        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, B, false)]
        );
        let finding = &findings[0];
        assert_eq!(
            finding.stored_checksum.as_deref(),
            Some(before[1].checksum.as_str())
        );
        assert_eq!(
            finding.current_checksum.as_deref(),
            Some(after[1].checksum.as_str())
        );
        assert!(finding.message.contains(B));
        assert!(finding.message.contains("failed"));
        assert!(finding.message.contains("resumes it with the new code"));
    }

    #[test]
    fn verify_allows_fixing_a_failed_rollback() {
        let before = manifest(&[A]);
        let records = vec![record_after(
            &before[0],
            MigrationState::Failed,
            Direction::Down,
        )];
        let mut fixed = def(A);
        fixed.down = Some(crate::manifest::fixtures::step("async () => undefined"));
        let findings = verify(&records, &manifest_of(&[fixed]), true);
        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, A, false)]
        );
    }

    #[test]
    fn verify_blocks_edits_to_running_canceled_and_completed_migrations() {
        let before = manifest(&[A]);
        let mut edited = def(A);
        edited.up.source = "async (ctx, doc) => ({ changed: true })".into();
        let after = manifest_of(&[edited]);
        for state in [
            MigrationState::Running,
            MigrationState::Canceled,
            MigrationState::Completed,
        ] {
            let findings = verify(&[record(&before[0], state)], &after, false);
            assert_eq!(
                kinds(&findings),
                vec![(DriftKind::ChecksumMismatch, A, true)],
                "{state:?}"
            );
            assert!(findings[0].message.contains("edited after it ran"));
        }
    }

    #[test]
    fn verify_ignores_description_and_batch_size_edits() {
        let before = manifest(&[A]);
        let mut edited = def(A);
        edited.description = "a clearer description".into();
        edited.up.batch_size = Some(500);
        let records = all_completed(&before);
        assert_eq!(verify(&records, &manifest_of(&[edited]), true), vec![]);
    }

    #[test]
    fn verify_fails_on_a_custom_range_added_to_an_applied_migration() {
        let before = manifest(&[A]);
        let mut narrowed = def(A);
        narrowed.up.custom_range = Some("(q) => q.withIndex(\"by_done\")".into());
        let findings = verify(&all_completed(&before), &manifest_of(&[narrowed]), false);
        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, A, true)]
        );
        assert!(findings[0].message.contains("convex-migrate repair --id"));
    }

    #[test]
    fn verify_checks_a_v1_record_in_form_v1() {
        let applied = def(A);
        let v1 = AppliedRecord {
            id: A.into(),
            checksum: crate::checksum::checksum_v1(&applied),
            checksum_form: None,
            state: MigrationState::Completed,
            last_direction: None,
            description: None,
        };
        assert_eq!(
            verify(std::slice::from_ref(&v1), &manifest_of(&[applied]), true),
            vec![]
        );
        let mut edited = def(A);
        edited.up.source = "async () => ({ edited: true })".into();
        let findings = verify(
            std::slice::from_ref(&v1),
            &manifest_of(std::slice::from_ref(&edited)),
            true,
        );
        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, A, true)]
        );
        assert_eq!(
            findings[0].current_checksum,
            Some(crate::checksum::checksum_v1(&edited))
        );
        assert_eq!(findings[0].stored_form, Some(1));
        assert_eq!(findings[0].current_form, Some(1));
        assert!(findings[0].message.contains("(form v1), now sha256:"));
    }

    #[test]
    fn verify_selects_the_form_from_the_record_field_never_from_the_value() {
        let shipped = manifest(&[A]);
        // The current checksum under no form field reads as v1, so it is
        // compared with form v1 of the code, which it is not.
        let unlabelled = AppliedRecord {
            checksum_form: None,
            ..record(&shipped[0], MigrationState::Completed)
        };
        let findings = verify(std::slice::from_ref(&unlabelled), &shipped, false);
        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, A, true)]
        );
        assert_eq!(
            findings[0].current_checksum,
            Some(shipped[0].checksum_v1.clone())
        );
        let labelled = record(&shipped[0], MigrationState::Completed);
        assert_eq!(labelled.checksum_form, Some(2));
        assert_eq!(verify(&[labelled], &shipped, false), vec![]);
    }

    #[test]
    fn verify_reports_a_record_in_an_unknown_form_as_a_mismatch_naming_the_form() {
        let shipped = manifest(&[A]);
        let later = AppliedRecord {
            checksum_form: Some(3),
            ..record(&shipped[0], MigrationState::Completed)
        };
        let findings = verify(&[later], &shipped, false);
        assert_eq!(
            kinds(&findings),
            vec![(DriftKind::ChecksumMismatch, A, true)]
        );
        assert_eq!(findings[0].stored_form, Some(3));
        assert_eq!(findings[0].current_form, Some(2));
        assert_eq!(
            findings[0].current_checksum,
            Some(shipped[0].checksum.clone())
        );
        assert!(findings[0].message.contains("form v3, which this release"));
        assert!(findings[0].message.contains("upgrade convex-migrate"));
        let failed_later = AppliedRecord {
            checksum_form: Some(3),
            ..record(&shipped[0], MigrationState::Failed)
        };
        assert!(verify(&[failed_later], &shipped, false)[0].blocking);
    }

    #[test]
    fn verify_ignores_a_removed_record() {
        let mut removed = record(&manifest(&[A])[0], MigrationState::Completed);
        removed.state = MigrationState::Removed;
        assert_eq!(verify(&[removed], &[], true), vec![]);
    }

    #[test]
    fn verify_reports_out_of_order_as_warning_without_strict() {
        let manifest = manifest(&[A, B, C]);
        let records = vec![
            record(&manifest[0], MigrationState::Completed),
            record(&manifest[2], MigrationState::Completed),
        ];

        let findings = verify(&records, &manifest, false);

        assert_eq!(kinds(&findings), vec![(DriftKind::OutOfOrder, B, false)]);
        assert_eq!(
            findings[0].current_checksum.as_deref(),
            Some(manifest[1].checksum.as_str())
        );
        assert!(findings[0].message.contains(B) && findings[0].message.contains(C));
    }

    #[test]
    fn verify_blocks_out_of_order_under_strict() {
        let manifest = manifest(&[A, B]);
        let records = vec![record(&manifest[1], MigrationState::Completed)];
        assert_eq!(
            kinds(&verify(&records, &manifest, true)),
            vec![(DriftKind::OutOfOrder, A, true)]
        );
    }

    #[test]
    fn verify_measures_out_of_order_against_completed_records_only() {
        let manifest = manifest(&[A, B]);
        for state in [
            MigrationState::Running,
            MigrationState::Failed,
            MigrationState::Canceled,
        ] {
            let records = vec![record(&manifest[1], state)];
            assert_eq!(verify(&records, &manifest, true), vec![], "{state:?}");
        }
    }

    #[test]
    fn verify_counts_a_rolled_back_migration_as_pending_for_out_of_order() {
        let manifest = manifest(&[A, B]);
        let records = vec![
            record(&manifest[0], MigrationState::RolledBack),
            record(&manifest[1], MigrationState::Completed),
        ];
        assert_eq!(
            kinds(&verify(&records, &manifest, true)),
            vec![(DriftKind::OutOfOrder, A, true)]
        );
    }

    #[test]
    fn verify_ignores_rolled_back_records() {
        let before = manifest(&[A, B]);
        let records = vec![
            record(&before[0], MigrationState::RolledBack),
            record(&before[1], MigrationState::RolledBack),
        ];
        let mut edited_a = def(A);
        edited_a.up.table = "users".into();
        assert_eq!(verify(&records, &manifest_of(&[edited_a]), true), vec![]);
    }

    #[test]
    fn verify_ignores_pending_records() {
        let records = vec![AppliedRecord {
            id: B.into(),
            checksum: "sha256:old".into(),
            checksum_form: None,
            state: MigrationState::Pending,
            last_direction: None,
            description: None,
        }];
        assert_eq!(verify(&records, &manifest(&[A]), true), vec![]);
    }

    #[test]
    fn verify_sorts_findings_by_id_then_kind() {
        let before = manifest(&[A, B, C]);
        let records = vec![
            record(&before[2], MigrationState::Completed),
            record(&before[1], MigrationState::Completed),
        ];
        let mut edited_c = def(C);
        edited_c.up.source = "async (ctx, doc) => ({ changed: true })".into();
        let after = manifest_of(&[def(A), edited_c]);
        assert_eq!(
            kinds(&verify(&records, &after, false)),
            vec![
                (DriftKind::OutOfOrder, A, false),
                (DriftKind::MissingFromManifest, B, true),
                (DriftKind::ChecksumMismatch, C, true),
            ]
        );
    }

    #[test]
    fn verify_lets_the_last_record_of_an_id_win() {
        let manifest = manifest(&[A]);
        let stale = AppliedRecord {
            id: A.into(),
            checksum: "sha256:stale".into(),
            checksum_form: None,
            state: MigrationState::RolledBack,
            last_direction: None,
            description: None,
        };
        let records = vec![stale, record(&manifest[0], MigrationState::Completed)];
        assert_eq!(verify(&records, &manifest, true), vec![]);
    }

    #[test]
    fn migration_state_serializes_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&MigrationState::RolledBack).unwrap(),
            "\"rolled_back\""
        );
        assert_eq!(
            serde_json::to_string(&DriftKind::MissingFromManifest).unwrap(),
            "\"missing_from_manifest\""
        );
    }

    #[test]
    fn drift_finding_omits_absent_checksums() {
        let finding = &verify(&all_completed(&manifest(&[A])), &[], false)[0];
        let json = serde_json::to_value(finding).unwrap();
        assert_eq!(json["kind"], "missing_from_manifest");
        assert!(json.get("currentChecksum").is_none());
        assert!(json.get("currentForm").is_none());
        assert!(json.get("storedChecksum").is_some());
        assert_eq!(json["storedForm"], 2);
    }
}
