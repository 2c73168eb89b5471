//! The deployment's history of versioned migrations: what the component
//! stores for each migration id, and the direction a step runs in. The
//! drift checks, the plan and the status report all read it; none of them
//! owns it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::checksum::LEGACY_CHECKSUM_FORM;

/// Which step of each migration a run executes.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Direction {
    /// Apply pending migrations, oldest first.
    Up,
    /// Roll back completed migrations, newest first.
    Down,
}

impl std::fmt::Display for Direction {
    /// The serialized name, as messages show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// The life of one migration id in a deployment, as the component stores it.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MigrationState {
    /// Known to the manifest, never run (or never started).
    Pending,
    /// A run is processing it now.
    Running,
    /// Its up step finished.
    Completed,
    /// A batch threw; the cursor of the last committed batch is kept.
    Failed,
    /// Stopped by a person; the cursor of the last committed batch is kept.
    Canceled,
    /// Its down step finished, so it is pending again.
    RolledBack,
    /// Deleted from the manifest after it ran, and the deletion accepted by
    /// `repair`: no longer drift, kept for the history.
    Removed,
}

impl MigrationState {
    /// True when a step has written data under this record's checksum, so
    /// editing or deleting the migration now would hide what ran.
    pub fn counts_as_applied(self) -> bool {
        matches!(
            self,
            MigrationState::Completed
                | MigrationState::Running
                | MigrationState::Failed
                | MigrationState::Canceled
        )
    }

    /// True when a run left this migration part-way, so the next run of the
    /// same direction continues from the saved cursor instead of the start
    /// (which direction that was is [`AppliedRecord::last_direction`]).
    pub fn is_resumable(self) -> bool {
        matches!(
            self,
            MigrationState::Running | MigrationState::Failed | MigrationState::Canceled
        )
    }
}

/// The component's stored record of one migration id.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AppliedRecord {
    /// The migration id.
    pub id: String,
    /// The checksum of the definition that last ran, `sha256:<hex>`.
    pub checksum: String,
    /// The form `checksum` was computed in. Absent in records written before
    /// the form was stored beside the value: those are form v1
    /// ([`AppliedRecord::form`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub checksum_form: Option<u32>,
    /// Where the migration stands in this deployment.
    pub state: MigrationState,
    /// The direction of the step that last ran. It tells a part-way `up`
    /// from a rollback that stopped midway, which the two directions treat
    /// differently; absent in records written before it existed, which
    /// count as `up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_direction: Option<Direction>,
    /// The description stored with the record (the one it last ran with).
    /// Form v1 hashed the description, so a v1 record is verified with it:
    /// an edited description is not drift for a v1 record either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
}

impl AppliedRecord {
    /// The form the stored checksum was computed in: the stored field, or
    /// v1 for a record that has none.
    pub fn form(&self) -> u32 {
        self.checksum_form.unwrap_or(LEGACY_CHECKSUM_FORM)
    }

    /// True when a rollback of this migration started and did not finish:
    /// `down` resumes it, `up` applies the migration again from the start.
    pub fn is_part_way_rollback(&self) -> bool {
        self.state.is_resumable() && self.last_direction == Some(Direction::Down)
    }
}

/// Indexes records by id; a later record with the same id replaces an earlier.
pub(crate) fn records_by_id(records: &[AppliedRecord]) -> BTreeMap<&str, &AppliedRecord> {
    records
        .iter()
        .map(|record| (record.id.as_str(), record))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_record_reads_last_direction_and_defaults_it_to_absent() {
        let json = r#"{"id":"x","checksum":"c","state":"failed","lastDirection":"down"}"#;
        let record: AppliedRecord = serde_json::from_str(json).unwrap();
        assert_eq!(record.last_direction, Some(Direction::Down));
        assert!(record.is_part_way_rollback());

        let old: AppliedRecord =
            serde_json::from_str(r#"{"id":"x","checksum":"c","state":"failed"}"#).unwrap();
        assert_eq!(old.last_direction, None);
        assert!(!old.is_part_way_rollback());
        let json = serde_json::to_value(&old).unwrap();
        assert!(json.get("lastDirection").is_none());
    }

    #[test]
    fn applied_record_without_a_checksum_form_is_form_v1() {
        let old: AppliedRecord =
            serde_json::from_str(r#"{"id":"x","checksum":"sha256:00","state":"completed"}"#)
                .unwrap();
        assert_eq!(old.checksum_form, None);
        assert_eq!(old.form(), 1);
        assert!(serde_json::to_value(&old)
            .unwrap()
            .get("checksumForm")
            .is_none());
        let new: AppliedRecord = serde_json::from_str(
            r#"{"id":"x","checksum":"sha256:00","checksumForm":2,"state":"completed"}"#,
        )
        .unwrap();
        assert_eq!(new.form(), 2);
    }
}
