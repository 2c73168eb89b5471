//! The manifest: the app's versioned migrations, validated and checksummed.
//!
//! Every later rule (plan, drift, status) trusts what this module checks:
//! ids are well formed and unique, every step names a table and any batch
//! size it declares can run inside one Convex transaction; and what it
//! returns is in id order, however the app listed the migrations.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::checksum::{checksum, checksum_v1, MigrationDef, StepDef, CHECKSUM_FORM_VERSION};
use crate::history::AppliedRecord;
use crate::policy::MAX_BATCH_SIZE;
use crate::EngineError;

/// What the component needs to know about one step, without its source.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StepInfo {
    /// The table the step rewrites.
    pub table: String,
    /// The step's own batch size; the run's default applies when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub batch_size: Option<u32>,
}

/// One validated migration with the checksum the history is compared with.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ManifestEntry {
    /// `YYYYMMDD_HHMMSS_slug`.
    pub id: String,
    /// What the migration does, for people reading `status`.
    pub description: String,
    /// The definition's checksum in the current form (`sha256:<hex>`),
    /// stored the next time the migration touches data.
    pub checksum: String,
    /// The form of `checksum`: [`CHECKSUM_FORM_VERSION`], stored beside it.
    pub checksum_form: u32,
    /// The same definition in form v1 (`sha256:<hex>`), to verify records
    /// stored before v2 existed without reporting the form change as drift.
    pub checksum_v1: String,
    /// The forward step.
    pub up: StepInfo,
    /// The rollback step, when the migration has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub down: Option<StepInfo>,
    /// The validated definition, kept to recompute form v1 with a record's
    /// stored description; never crosses the boundary.
    #[serde(skip)]
    #[ts(skip)]
    definition: Option<MigrationDef>,
}

impl From<&StepDef> for StepInfo {
    fn from(step: &StepDef) -> Self {
        StepInfo {
            table: step.table.clone(),
            batch_size: step.batch_size,
        }
    }
}

/// Validates the migration set, computes each checksum and returns the set
/// in id order.
///
/// The order given does not matter: a manifest merged by hand from two
/// branches is rarely sorted, and ids carry the order (their timestamps).
/// Definitions are checked in the order given and the first broken rule is
/// reported. For each definition the rules run in this order: id format
/// ([`validate_id`]), uniqueness (`DuplicateId`), a non-blank table for `up`
/// then `down` (`EmptyTable`), and a batch size from 1 to
/// [`MAX_BATCH_SIZE`] where one is given (`InvalidBatchSize`).
pub fn build_manifest(defs: &[MigrationDef]) -> Result<Vec<ManifestEntry>, EngineError> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(defs.len());
    let mut entries = Vec::with_capacity(defs.len());
    for def in defs {
        validate_id(&def.id)?;
        if !seen.insert(def.id.as_str()) {
            return Err(EngineError::DuplicateId { id: def.id.clone() });
        }
        validate_step(&def.id, "up", &def.up)?;
        if let Some(down) = &def.down {
            validate_step(&def.id, "down", down)?;
        }
        entries.push(manifest_entry(def));
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(entries)
}

impl ManifestEntry {
    /// The shipped definition's checksum in the form stored with `record`
    /// (v1 when the record stores none), so a record is always compared
    /// with its own form; `None` for a form this engine does not know. A v1
    /// record is computed with the description it stored, since v1 hashed
    /// descriptions and editing one changes no data.
    pub fn checksum_like(&self, record: &AppliedRecord) -> Option<String> {
        match record.form() {
            1 => Some(match (&self.definition, &record.description) {
                (Some(def), Some(description)) if *description != def.description => {
                    checksum_v1(&MigrationDef {
                        description: description.clone(),
                        ..def.clone()
                    })
                }
                _ => self.checksum_v1.clone(),
            }),
            CHECKSUM_FORM_VERSION => Some(self.checksum.clone()),
            _ => None,
        }
    }

    /// True when the shipped definition has `record`'s checksum, compared
    /// in the record's own form.
    pub fn matches(&self, record: &AppliedRecord) -> bool {
        self.checksum_like(record).as_deref() == Some(record.checksum.as_str())
    }
}

/// Checks that `id` reads `YYYYMMDD_HHMMSS_slug`: a real calendar date and
/// clock time (the moment the migration was created, so ids sort in creation
/// order) and a slug of lowercase ASCII letters, digits and `_` that starts
/// with a letter or digit. The error's `reason` names the part that is wrong.
pub fn validate_id(id: &str) -> Result<(), EngineError> {
    check_id(id).map_err(|reason| EngineError::InvalidId {
        id: id.to_string(),
        reason,
    })
}

fn check_id(id: &str) -> Result<(), String> {
    let (date, rest) =
        split_number(id, 8).ok_or("it must start with 8 digits for the date (YYYYMMDD)")?;
    let rest = rest
        .strip_prefix('_')
        .ok_or("the date YYYYMMDD must be followed by `_`")?;
    let (time, rest) = split_number(rest, 6)
        .ok_or("the date must be followed by `_` and 6 digits for the time (HHMMSS)")?;
    let slug = rest
        .strip_prefix('_')
        .ok_or("the time HHMMSS must be followed by `_` and a slug")?;
    check_date(date)?;
    check_time(time)?;
    check_slug(slug)
}

/// Splits `width` leading ASCII digits off `text` and reads them as a number.
fn split_number(text: &str, width: usize) -> Option<(u32, &str)> {
    let (digits, rest) = text.split_at_checked(width)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, rest))
}

fn check_date(yyyymmdd: u32) -> Result<(), String> {
    let (year, month, day) = (yyyymmdd / 10_000, yyyymmdd / 100 % 100, yyyymmdd % 100);
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} is not between 01 and 12"));
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return Err(format!(
            "day {day:02} does not exist in {year:04}-{month:02}"
        ));
    }
    Ok(())
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// `u32::is_multiple_of` needs Rust 1.87; the workspace declares 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn is_leap_year(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn check_time(hhmmss: u32) -> Result<(), String> {
    let (hour, minute, second) = (hhmmss / 10_000, hhmmss / 100 % 100, hhmmss % 100);
    if hour > 23 {
        return Err(format!("hour {hour:02} is not between 00 and 23"));
    }
    if minute > 59 {
        return Err(format!("minute {minute:02} is not between 00 and 59"));
    }
    if second > 59 {
        return Err(format!("second {second:02} is not between 00 and 59"));
    }
    Ok(())
}

fn check_slug(slug: &str) -> Result<(), String> {
    let first = slug
        .chars()
        .next()
        .ok_or("the slug after HHMMSS_ is empty")?;
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(format!(
            "the slug must start with a lowercase letter or a digit, not {first:?}"
        ));
    }
    match slug.chars().find(|&c| !is_slug_char(c)) {
        Some(bad) => Err(format!(
            "the slug may contain only lowercase letters, digits and `_`, but contains {bad:?}"
        )),
        None => Ok(()),
    }
}

fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

fn validate_step(id: &str, direction: &str, step: &StepDef) -> Result<(), EngineError> {
    if step.table.trim().is_empty() {
        return Err(EngineError::EmptyTable {
            id: id.to_string(),
            direction: direction.to_string(),
        });
    }
    match step.batch_size {
        Some(size) if !(1..=MAX_BATCH_SIZE).contains(&size) => Err(EngineError::InvalidBatchSize {
            value: size.to_string(),
            max: MAX_BATCH_SIZE,
        }),
        _ => Ok(()),
    }
}

fn manifest_entry(def: &MigrationDef) -> ManifestEntry {
    ManifestEntry {
        id: def.id.clone(),
        description: def.description.clone(),
        checksum: checksum(def),
        checksum_form: CHECKSUM_FORM_VERSION,
        checksum_v1: checksum_v1(def),
        up: StepInfo::from(&def.up),
        down: def.down.as_ref().map(StepInfo::from),
        definition: Some(def.clone()),
    }
}

/// Builders shared by the unit tests of the versioned-migration modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::history::{AppliedRecord, Direction, MigrationState};

    /// A valid definition of `id` with up and down steps on `todos`.
    pub(crate) fn def(id: &str) -> MigrationDef {
        MigrationDef {
            id: id.to_string(),
            description: format!("migration {id}"),
            up: step(&format!("async (ctx, doc) => ({{ up: {id:?} }})")),
            down: Some(step(&format!("async (ctx, doc) => ({{ down: {id:?} }})"))),
        }
    }

    /// A valid definition of `id` that cannot be rolled back.
    pub(crate) fn def_without_down(id: &str) -> MigrationDef {
        MigrationDef {
            down: None,
            ..def(id)
        }
    }

    /// A step on `todos` with the default batch size.
    pub(crate) fn step(source: &str) -> StepDef {
        StepDef {
            table: "todos".to_string(),
            batch_size: None,
            source: source.to_string(),
            custom_range: None,
            write_mode: crate::checksum::WriteMode::Triggers,
        }
    }

    /// The validated manifest of `defs`.
    pub(crate) fn manifest_of(defs: &[MigrationDef]) -> Vec<ManifestEntry> {
        build_manifest(defs).unwrap()
    }

    /// The validated manifest of [`def`] for each id.
    pub(crate) fn manifest(ids: &[&str]) -> Vec<ManifestEntry> {
        manifest_of(&ids.iter().map(|id| def(id)).collect::<Vec<_>>())
    }

    /// The stored record of `entry` in `state`, with a matching checksum.
    pub(crate) fn record(entry: &ManifestEntry, state: MigrationState) -> AppliedRecord {
        AppliedRecord {
            id: entry.id.clone(),
            checksum: entry.checksum.clone(),
            checksum_form: Some(entry.checksum_form),
            state,
            last_direction: None,
            description: None,
        }
    }

    /// Like [`record`], with the direction of the step that last ran.
    pub(crate) fn record_after(
        entry: &ManifestEntry,
        state: MigrationState,
        direction: Direction,
    ) -> AppliedRecord {
        AppliedRecord {
            last_direction: Some(direction),
            ..record(entry, state)
        }
    }

    /// Completed records for every entry of `manifest`.
    pub(crate) fn all_completed(manifest: &[ManifestEntry]) -> Vec<AppliedRecord> {
        manifest
            .iter()
            .map(|entry| record(entry, MigrationState::Completed))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{def, step};
    use super::*;
    use proptest::prelude::*;

    const A: &str = "20260101_000000_a";
    const B: &str = "20260102_000000_b";

    fn reason_for(id: &str) -> String {
        match validate_id(id) {
            Err(EngineError::InvalidId {
                id: reported,
                reason,
            }) => {
                assert_eq!(reported, id);
                reason
            }
            other => panic!("expected InvalidId for {id:?}, got {other:?}"),
        }
    }

    #[test]
    fn validate_id_accepts_well_formed_ids() {
        for id in [
            "20261122_101500_backfill_priority",
            "20240229_235959_leap_day",
            "20000229_000000_9lives",
            "19991231_120000_x",
        ] {
            assert_eq!(validate_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn validate_id_requires_eight_date_digits() {
        assert!(reason_for("2026112_101500_x").contains("8 digits"));
        assert!(reason_for("2026-11-22_101500_x").contains("8 digits"));
        assert!(reason_for("").contains("8 digits"));
    }

    #[test]
    fn validate_id_requires_separators_and_six_time_digits() {
        assert!(reason_for("20261122-101500_x").contains("date YYYYMMDD must be followed"));
        assert!(reason_for("20261122_1015_x").contains("6 digits"));
        assert!(reason_for("20261122_101500-x").contains("time HHMMSS must be followed"));
        assert!(reason_for("20261122_101500").contains("time HHMMSS must be followed"));
    }

    #[test]
    fn validate_id_rejects_impossible_months_and_days() {
        assert!(reason_for("20261322_101500_x").contains("month 13"));
        assert!(reason_for("20260022_101500_x").contains("month 00"));
        assert!(reason_for("20260100_101500_x").contains("day 00"));
        assert!(reason_for("20260431_101500_x").contains("day 31 does not exist in 2026-04"));
        assert!(reason_for("20270229_101500_x").contains("day 29 does not exist in 2027-02"));
        assert!(reason_for("21000229_101500_x").contains("day 29"));
    }

    #[test]
    fn validate_id_rejects_impossible_times() {
        assert!(reason_for("20261122_240000_x").contains("hour 24"));
        assert!(reason_for("20261122_106000_x").contains("minute 60"));
        assert!(reason_for("20261122_101560_x").contains("second 60"));
    }

    #[test]
    fn validate_id_requires_a_lowercase_slug() {
        assert!(reason_for("20261122_101500_").contains("slug after HHMMSS_ is empty"));
        assert!(reason_for("20261122_101500__x").contains("must start with"));
        assert!(reason_for("20261122_101500_Backfill").contains("must start with"));
        assert!(reason_for("20261122_101500_back-fill").contains("'-'"));
        assert!(reason_for("20261122_101500_caf\u{e9}").contains("only lowercase"));
        assert!(reason_for("20261122_101500_x ").contains("only lowercase"));
    }

    #[test]
    fn validate_id_does_not_panic_on_multibyte_text() {
        assert!(reason_for("2026112\u{e9}_101500_x").contains("8 digits"));
        assert!(reason_for("20261122_10150\u{e9}_x").contains("6 digits"));
    }

    #[test]
    fn build_manifest_checksums_each_definition_in_order() {
        let defs = [def(A), def(B)];
        let manifest = build_manifest(&defs).unwrap();
        assert_eq!(manifest.len(), 2);
        assert_eq!(manifest[0].id, A);
        assert_eq!(manifest[0].checksum, checksum(&defs[0]));
        assert_eq!(
            manifest[1].up,
            StepInfo {
                table: "todos".into(),
                batch_size: None
            }
        );
        assert!(manifest[1].down.is_some());
    }

    #[test]
    fn build_manifest_accepts_an_empty_set() {
        assert_eq!(build_manifest(&[]), Ok(vec![]));
    }

    #[test]
    fn build_manifest_rejects_a_malformed_id() {
        let err = build_manifest(&[def(A), def("2026_x")]).unwrap_err();
        assert!(matches!(err, EngineError::InvalidId { id, .. } if id == "2026_x"));
    }

    #[test]
    fn build_manifest_rejects_a_duplicate_id() {
        let err = build_manifest(&[def(A), def(B), def(A)]).unwrap_err();
        assert_eq!(err, EngineError::DuplicateId { id: A.into() });
    }

    #[test]
    fn build_manifest_sorts_an_unsorted_set_by_id() {
        const C: &str = "20260103_000000_c";
        let manifest = build_manifest(&[def(C), def(A), def(B)]).unwrap();
        let ids: Vec<&str> = manifest.iter().map(|entry| entry.id.as_str()).collect();
        assert_eq!(ids, vec![A, B, C]);
        assert_eq!(manifest, build_manifest(&[def(A), def(B), def(C)]).unwrap());
    }

    proptest! {
        #[test]
        fn build_manifest_gives_the_same_manifest_in_any_order(
            order in Just(vec![
                "20260101_000000_a",
                "20260102_000000_b",
                "20260103_000000_c",
                "20260103_000001_d",
                "20261231_235959_e",
            ])
            .prop_shuffle()
        ) {
            let shuffled: Vec<MigrationDef> = order.iter().map(|id| def(id)).collect();
            let mut sorted_ids = order.clone();
            sorted_ids.sort_unstable();
            let sorted: Vec<MigrationDef> = sorted_ids.iter().map(|id| def(id)).collect();
            prop_assert_eq!(build_manifest(&shuffled), build_manifest(&sorted));
        }
    }

    #[test]
    fn build_manifest_still_names_a_duplicate_in_an_unsorted_set() {
        let err = build_manifest(&[def(B), def(A), def(B)]).unwrap_err();
        assert_eq!(err, EngineError::DuplicateId { id: B.into() });
    }

    #[test]
    fn build_manifest_still_names_a_malformed_id_in_an_unsorted_set() {
        let err = build_manifest(&[def(B), def("2026_x"), def(A)]).unwrap_err();
        assert!(matches!(err, EngineError::InvalidId { id, .. } if id == "2026_x"));
    }

    #[test]
    fn manifest_entry_compares_each_stored_form_with_its_own_checksum() {
        let entry = &build_manifest(&[def(A)]).unwrap()[0];
        assert!(entry.checksum.starts_with("sha256:"));
        assert!(entry.checksum_v1.starts_with("sha256:"));
        assert_eq!(entry.checksum_form, 2);
        let stored = |form: Option<u32>, description: Option<&str>| AppliedRecord {
            id: A.into(),
            checksum: "sha256:00".into(),
            checksum_form: form,
            state: crate::history::MigrationState::Completed,
            last_direction: None,
            description: description.map(String::from),
        };
        // No form stored: a record of an older release, form v1.
        assert_eq!(
            entry.checksum_like(&stored(None, None)),
            Some(entry.checksum_v1.clone())
        );
        assert_eq!(
            entry.checksum_like(&stored(Some(1), None)),
            Some(entry.checksum_v1.clone())
        );
        assert_eq!(
            entry.checksum_like(&stored(Some(2), None)),
            Some(entry.checksum.clone())
        );
        assert_eq!(entry.checksum_like(&stored(Some(3), None)), None);
        let mut older = def(A);
        older.description = "as it ran".into();
        assert_eq!(
            entry.checksum_like(&stored(None, Some("as it ran"))),
            Some(checksum_v1(&older))
        );
        assert_eq!(
            entry.checksum_like(&stored(Some(2), Some("as it ran"))),
            Some(entry.checksum.clone())
        );
    }

    #[test]
    fn manifest_entry_matches_a_record_only_in_the_record_form() {
        let entry = &build_manifest(&[def(A)]).unwrap()[0];
        let stored = |checksum: &str, form: Option<u32>| AppliedRecord {
            id: A.into(),
            checksum: checksum.into(),
            checksum_form: form,
            state: crate::history::MigrationState::Completed,
            last_direction: None,
            description: None,
        };
        assert!(entry.matches(&stored(&entry.checksum_v1, None)));
        assert!(entry.matches(&stored(&entry.checksum, Some(2))));
        // The right value under the wrong form is not a match: the form
        // decides how the value is recomputed, never the value itself.
        assert!(!entry.matches(&stored(&entry.checksum, None)));
        assert!(!entry.matches(&stored(&entry.checksum_v1, Some(2))));
        assert!(!entry.matches(&stored(&entry.checksum, Some(3))));
    }

    #[test]
    fn build_manifest_rejects_a_blank_table_naming_the_direction() {
        let mut blank_up = def(A);
        blank_up.up.table = "  ".into();
        assert_eq!(
            build_manifest(&[blank_up]).unwrap_err(),
            EngineError::EmptyTable {
                id: A.into(),
                direction: "up".into()
            }
        );
        let mut blank_down = def(A);
        blank_down.down = Some(StepDef {
            table: String::new(),
            ..step("x")
        });
        assert_eq!(
            build_manifest(&[blank_down]).unwrap_err(),
            EngineError::EmptyTable {
                id: A.into(),
                direction: "down".into()
            }
        );
    }

    #[test]
    fn build_manifest_rejects_batch_sizes_outside_one_to_max() {
        for size in [0, MAX_BATCH_SIZE + 1] {
            let mut sized = def(A);
            sized.up.batch_size = Some(size);
            assert_eq!(
                build_manifest(&[sized]).unwrap_err(),
                EngineError::InvalidBatchSize {
                    value: size.to_string(),
                    max: MAX_BATCH_SIZE
                }
            );
        }
        let mut sized_down = def(A);
        sized_down.down = Some(StepDef {
            batch_size: Some(0),
            ..step("x")
        });
        assert!(matches!(
            build_manifest(&[sized_down]),
            Err(EngineError::InvalidBatchSize { .. })
        ));
    }

    #[test]
    fn build_manifest_accepts_batch_sizes_at_the_bounds() {
        let mut smallest = def(A);
        smallest.up.batch_size = Some(1);
        let mut largest = def(B);
        largest.up.batch_size = Some(MAX_BATCH_SIZE);
        assert!(build_manifest(&[smallest, largest]).is_ok());
    }

    #[test]
    fn build_manifest_reports_the_first_broken_definition() {
        let mut blank = def(A);
        blank.up.table = String::new();
        let err = build_manifest(&[blank, def("bad")]).unwrap_err();
        assert!(matches!(err, EngineError::EmptyTable { .. }));
    }
}
