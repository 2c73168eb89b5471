//! One test per schema change kind, on real `defineSchema(...).export()`
//! output (tests/fixtures/schema_diff_pairs.json; see fixtures/README.md).

use engine::schema_diff::{diff_schemas, ChangeKind, Safety, SchemaChange, SchemaDiff};
use serde_json::Value;

fn pair(case: &str) -> (Value, Value) {
    let all: Value = serde_json::from_str(include_str!("fixtures/schema_diff_pairs.json")).unwrap();
    let entry = &all[case];
    assert!(entry.is_object(), "no fixture case {case}");
    (entry["old"].clone(), entry["new"].clone())
}

fn diff(case: &str) -> SchemaDiff {
    let (old, new) = pair(case);
    diff_schemas(&old, &new).unwrap()
}

/// The single change a case makes, with its table.
fn only_change(case: &str) -> (String, SchemaChange) {
    let d = diff(case);
    assert!(
        d.changes.is_empty(),
        "{case}: unexpected schema-level changes {:?}",
        d.changes
    );
    assert_eq!(d.tables.len(), 1, "{case}: {d:?}");
    let table = &d.tables[0];
    assert_eq!(table.changes.len(), 1, "{case}: {:?}", table.changes);
    let change = table.changes[0].clone();
    assert_eq!(
        d.safety, change.safety,
        "{case}: overall safety follows the change"
    );
    (table.table.clone(), change)
}

fn assert_change(
    case: &str,
    table: &str,
    kind: ChangeKind,
    path: &str,
    safety: Safety,
) -> SchemaChange {
    let (t, c) = only_change(case);
    assert_eq!(
        (t.as_str(), c.kind, c.path.as_str(), c.safety),
        (table, kind, path, safety),
        "{case}: {c:?}"
    );
    assert!(!c.detail.is_empty());
    c
}

#[test]
fn unchanged_schema_has_no_changes() {
    let d = diff("unchanged");
    assert!(d.tables.is_empty() && d.changes.is_empty());
    assert_eq!(d.safety, Safety::Safe);
}

#[test]
fn table_added_is_safe() {
    assert_change(
        "table_added",
        "users",
        ChangeKind::TableAdded,
        "",
        Safety::Safe,
    );
}

#[test]
fn table_removed_needs_migration() {
    assert_change(
        "table_removed",
        "users",
        ChangeKind::TableRemoved,
        "",
        Safety::NeedsMigration,
    );
}

#[test]
fn field_added_optional_is_safe() {
    let c = assert_change(
        "field_added_optional",
        "todos",
        ChangeKind::FieldAddedOptional,
        "note",
        Safety::Safe,
    );
    assert!(c.detail.contains("string"), "{}", c.detail);
}

#[test]
fn field_added_required_needs_migration() {
    assert_change(
        "field_added_required",
        "todos",
        ChangeKind::FieldAddedRequired,
        "note",
        Safety::NeedsMigration,
    );
}

#[test]
fn field_removed_needs_migration() {
    assert_change(
        "field_removed",
        "todos",
        ChangeKind::FieldRemoved,
        "owner",
        Safety::NeedsMigration,
    );
}

#[test]
fn optional_to_required_needs_migration() {
    assert_change(
        "optional_to_required",
        "todos",
        ChangeKind::OptionalToRequired,
        "priority",
        Safety::NeedsMigration,
    );
}

#[test]
fn required_to_optional_is_safe() {
    assert_change(
        "required_to_optional",
        "todos",
        ChangeKind::RequiredToOptional,
        "done",
        Safety::Safe,
    );
}

#[test]
fn type_widened_by_adding_a_union_member_is_safe() {
    let c = assert_change(
        "type_widened_union_member_added",
        "todos",
        ChangeKind::TypeWidened,
        "priority",
        Safety::Safe,
    );
    assert_eq!(
        c.detail,
        r#""high" | "low" → "high" | "low" | "medium": every stored value still passes"#
    );
}

#[test]
fn type_widened_from_literal_to_its_base_type_is_safe() {
    assert_change(
        "type_widened_literal_to_base",
        "todos",
        ChangeKind::TypeWidened,
        "priority",
        Safety::Safe,
    );
}

#[test]
fn type_widened_to_a_union_containing_the_old_type_is_safe() {
    assert_change(
        "type_widened_to_union",
        "todos",
        ChangeKind::TypeWidened,
        "text",
        Safety::Safe,
    );
}

#[test]
fn type_widened_to_any_is_safe() {
    assert_change(
        "type_widened_to_any",
        "todos",
        ChangeKind::TypeWidened,
        "owner",
        Safety::Safe,
    );
}

#[test]
fn type_narrowed_by_removing_a_union_member_needs_migration() {
    assert_change(
        "type_narrowed_union_member_removed",
        "todos",
        ChangeKind::TypeNarrowed,
        "priority",
        Safety::NeedsMigration,
    );
}

#[test]
fn type_narrowed_from_string_to_id_needs_migration() {
    assert_change(
        "type_narrowed_string_to_id",
        "todos",
        ChangeKind::TypeNarrowed,
        "owner",
        Safety::NeedsMigration,
    );
}

#[test]
fn type_narrowed_inside_a_nested_object_names_the_nested_path() {
    assert_change(
        "type_narrowed_nested",
        "todos",
        ChangeKind::TypeNarrowed,
        "address.city",
        Safety::NeedsMigration,
    );
}

#[test]
fn type_changed_needs_migration() {
    let c = assert_change(
        "type_changed",
        "todos",
        ChangeKind::TypeChanged,
        "done",
        Safety::NeedsMigration,
    );
    assert!(c.detail.starts_with("boolean → number"), "{}", c.detail);
}

#[test]
fn index_added_is_safe() {
    assert_change(
        "index_added",
        "todos",
        ChangeKind::IndexAdded,
        "by_owner",
        Safety::Safe,
    );
}

#[test]
fn index_removed_is_safe() {
    assert_change(
        "index_removed",
        "todos",
        ChangeKind::IndexRemoved,
        "by_done",
        Safety::Safe,
    );
}

#[test]
fn index_changed_is_safe() {
    let c = assert_change(
        "index_changed",
        "todos",
        ChangeKind::IndexChanged,
        "by_done",
        Safety::Safe,
    );
    assert!(c.detail.contains("(done, owner)"), "{}", c.detail);
}

#[test]
fn search_index_added_is_safe() {
    assert_change(
        "search_index_added",
        "todos",
        ChangeKind::SearchIndexAdded,
        "search_owner",
        Safety::Safe,
    );
}

#[test]
fn search_index_removed_is_safe() {
    assert_change(
        "search_index_removed",
        "todos",
        ChangeKind::SearchIndexRemoved,
        "search_text",
        Safety::Safe,
    );
}

#[test]
fn search_index_changed_is_safe() {
    assert_change(
        "search_index_changed",
        "todos",
        ChangeKind::SearchIndexChanged,
        "search_text",
        Safety::Safe,
    );
}

#[test]
fn vector_index_added_is_safe() {
    assert_change(
        "vector_index_added",
        "todos",
        ChangeKind::VectorIndexAdded,
        "by_owner_vec",
        Safety::Safe,
    );
}

#[test]
fn vector_index_removed_is_safe() {
    assert_change(
        "vector_index_removed",
        "todos",
        ChangeKind::VectorIndexRemoved,
        "by_embedding",
        Safety::Safe,
    );
}

#[test]
fn vector_index_changed_is_safe() {
    let c = assert_change(
        "vector_index_changed",
        "todos",
        ChangeKind::VectorIndexChanged,
        "by_embedding",
        Safety::Safe,
    );
    assert!(c.detail.contains("8 dimensions"), "{}", c.detail);
}

#[test]
fn schema_validation_enabled_needs_migration() {
    let d = diff("schema_validation_enabled");
    assert!(d.tables.is_empty());
    assert_eq!(d.changes.len(), 1);
    assert_eq!(
        (d.changes[0].kind, d.changes[0].safety),
        (ChangeKind::SchemaValidationEnabled, Safety::NeedsMigration)
    );
    assert_eq!(d.safety, Safety::NeedsMigration);
}

#[test]
fn schema_validation_disabled_is_safe() {
    let d = diff("schema_validation_disabled");
    assert_eq!(d.changes.len(), 1);
    assert_eq!(
        (d.changes[0].kind, d.changes[0].safety),
        (ChangeKind::SchemaValidationDisabled, Safety::Safe)
    );
    assert_eq!(d.safety, Safety::Safe);
}

#[test]
fn diff_serializes_kinds_and_safety_in_snake_case() {
    let (_, c) = only_change("field_added_required");
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["kind"], "field_added_required");
    assert_eq!(json["safety"], "needs_migration");
    assert_eq!(json["path"], "note");
}
