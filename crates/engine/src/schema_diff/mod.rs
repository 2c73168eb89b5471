//! What changed between two exported schemas, and whether stored data needs a
//! migration before the new schema can be pushed.
//!
//! A change is `safe` when every document valid under the old schema is
//! still valid under the new one; that question is answered on the validator
//! model by [`accepts_all_of`], recursing into object fields (and array
//! elements) so each finding names its field path. When the answer is
//! uncertain the change is classed `needs_migration`. Index changes never
//! touch documents (Convex backfills indexes itself), so they are all safe.

mod accepts;

pub use accepts::accepts_all_of;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::validator::{
    parse_schema, Field, IndexDef, SearchIndexDef, TableSchema, Validator, VectorIndexDef,
};
use crate::EngineError;

/// Whether stored documents can stay as they are.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Safety {
    /// Every document valid before is valid after.
    Safe,
    /// Some stored documents may fail the new schema: migrate them first (or
    /// stage the change) before pushing.
    NeedsMigration,
}

/// The kind of one schema change.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ChangeKind {
    /// A table the old schema did not list.
    TableAdded,
    /// A table the new schema no longer lists.
    TableRemoved,
    /// A new `v.optional(...)` field.
    FieldAddedOptional,
    /// A new required field: existing documents lack it.
    FieldAddedRequired,
    /// A field dropped from a (strict) object.
    FieldRemoved,
    /// `v.optional(T)` became `T`.
    OptionalToRequired,
    /// `T` became `v.optional(T)`.
    RequiredToOptional,
    /// The new type accepts every old value and more.
    TypeWidened,
    /// The new type accepts only some old values.
    TypeNarrowed,
    /// The old and new types are unrelated.
    TypeChanged,
    /// A new database index.
    IndexAdded,
    /// A database index dropped.
    IndexRemoved,
    /// A database index kept its name but not its fields.
    IndexChanged,
    /// A new search index.
    SearchIndexAdded,
    /// A search index dropped.
    SearchIndexRemoved,
    /// A search index kept its name but not its fields.
    SearchIndexChanged,
    /// A new vector index.
    VectorIndexAdded,
    /// A vector index dropped.
    VectorIndexRemoved,
    /// A vector index kept its name but not its field, dimensions or filters.
    VectorIndexChanged,
    /// `schemaValidation` went from `false` to `true`.
    SchemaValidationEnabled,
    /// `schemaValidation` went from `true` to `false`.
    SchemaValidationDisabled,
}

/// One change, located and classified.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SchemaChange {
    /// What changed.
    pub kind: ChangeKind,
    /// Field path in the document (`address.city`, `items[].name`), the
    /// index name for index changes, or `""` for the table as a whole.
    pub path: String,
    /// Whether stored documents need a migration.
    pub safety: Safety,
    /// One line for people, with the old and new types where they matter.
    pub detail: String,
}

/// The changes to one table.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TableDiff {
    /// The table's name.
    pub table: String,
    /// Document changes in field order, then index changes.
    pub changes: Vec<SchemaChange>,
}

/// Everything that differs between two schemas.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SchemaDiff {
    /// Tables with at least one change, sorted by name.
    pub tables: Vec<TableDiff>,
    /// Changes to the schema as a whole (`schemaValidation`).
    pub changes: Vec<SchemaChange>,
    /// `needs_migration` when any change needs one.
    pub safety: Safety,
}

/// Compare two outputs of `defineSchema(...).export()` (strings or objects).
pub fn diff_schemas(old: &Value, new: &Value) -> Result<SchemaDiff, EngineError> {
    let old = parse_schema(old)?;
    let new = parse_schema(new)?;
    let mut changes = Vec::new();
    match (old.schema_validation, new.schema_validation) {
        (false, true) => changes.push(change(
            ChangeKind::SchemaValidationEnabled,
            "",
            Safety::NeedsMigration,
            "schema validation turns on: every existing document must match its table's validator"
                .into(),
        )),
        (true, false) => changes.push(change(
            ChangeKind::SchemaValidationDisabled,
            "",
            Safety::Safe,
            "schema validation turns off: documents are no longer checked".into(),
        )),
        _ => {}
    }
    let old_tables: BTreeMap<&str, &TableSchema> =
        old.tables.iter().map(|t| (t.table.as_str(), t)).collect();
    let new_tables: BTreeMap<&str, &TableSchema> =
        new.tables.iter().map(|t| (t.table.as_str(), t)).collect();
    let names: BTreeSet<&str> = old_tables
        .keys()
        .chain(new_tables.keys())
        .copied()
        .collect();
    let mut tables = Vec::new();
    for name in names {
        let table_changes = match (old_tables.get(name), new_tables.get(name)) {
            (None, Some(_)) => vec![change(ChangeKind::TableAdded, "", Safety::Safe, format!("new table {name}"))],
            (Some(_), None) => vec![change(
                ChangeKind::TableRemoved,
                "",
                Safety::NeedsMigration,
                format!("table {name} leaves the schema; its documents stay, unvalidated: delete or move them first"),
            )],
            (Some(o), Some(n)) => diff_table(o, n),
            (None, None) => Vec::new(),
        };
        if !table_changes.is_empty() {
            tables.push(TableDiff {
                table: name.to_string(),
                changes: table_changes,
            });
        }
    }
    let all = tables
        .iter()
        .flat_map(|t| t.changes.iter())
        .chain(changes.iter());
    let safety = if all.into_iter().any(|c| c.safety == Safety::NeedsMigration) {
        Safety::NeedsMigration
    } else {
        Safety::Safe
    };
    Ok(SchemaDiff {
        tables,
        changes,
        safety,
    })
}

fn change(kind: ChangeKind, path: &str, safety: Safety, detail: String) -> SchemaChange {
    SchemaChange {
        kind,
        path: path.to_string(),
        safety,
        detail,
    }
}

fn diff_table(old: &TableSchema, new: &TableSchema) -> Vec<SchemaChange> {
    let mut out = Vec::new();
    match (&old.document_type, &new.document_type) {
        (None, None) => {}
        (Some(old_type), None) => out.push(change(
            ChangeKind::TypeWidened,
            "",
            Safety::Safe,
            format!("documents were {}, now any object", old_type.describe()),
        )),
        (None, Some(new_type)) => out.push(change(
            ChangeKind::TypeNarrowed,
            "",
            Safety::NeedsMigration,
            format!(
                "documents were unconstrained, now must be {}",
                new_type.describe()
            ),
        )),
        (Some(o), Some(n)) => diff_validators(o, n, "", &mut out),
    }
    diff_named(
        &old.indexes,
        &new.indexes,
        |i: &IndexDef| &i.name,
        [
            ChangeKind::IndexAdded,
            ChangeKind::IndexRemoved,
            ChangeKind::IndexChanged,
        ],
        |i| format!("on ({})", i.fields.join(", ")),
        &mut out,
    );
    diff_named(
        &old.search_indexes,
        &new.search_indexes,
        |i: &SearchIndexDef| &i.name,
        [
            ChangeKind::SearchIndexAdded,
            ChangeKind::SearchIndexRemoved,
            ChangeKind::SearchIndexChanged,
        ],
        |i| {
            format!(
                "searching {} filtered by ({})",
                i.search_field,
                i.filter_fields.join(", ")
            )
        },
        &mut out,
    );
    diff_named(
        &old.vector_indexes,
        &new.vector_indexes,
        |i: &VectorIndexDef| &i.name,
        [
            ChangeKind::VectorIndexAdded,
            ChangeKind::VectorIndexRemoved,
            ChangeKind::VectorIndexChanged,
        ],
        |i| {
            format!(
                "on {} ({} dimensions) filtered by ({})",
                i.vector_field,
                i.dimensions,
                i.filter_fields.join(", ")
            )
        },
        &mut out,
    );
    out
}

/// Added, removed and changed entries of two named lists, all safe: Convex
/// builds and drops indexes itself, documents are untouched.
fn diff_named<T: PartialEq>(
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
    [added, removed, changed]: [ChangeKind; 3],
    show: impl Fn(&T) -> String,
    out: &mut Vec<SchemaChange>,
) {
    let old_by: BTreeMap<&String, &T> = old.iter().map(|i| (name(i), i)).collect();
    let new_by: BTreeMap<&String, &T> = new.iter().map(|i| (name(i), i)).collect();
    let names: BTreeSet<&String> = old_by.keys().chain(new_by.keys()).copied().collect();
    for n in names {
        match (old_by.get(n), new_by.get(n)) {
            (None, Some(i)) => out.push(change(
                added,
                n,
                Safety::Safe,
                format!("new index {n} {}", show(i)),
            )),
            (Some(i), None) => out.push(change(
                removed,
                n,
                Safety::Safe,
                format!("index {n} {} dropped", show(i)),
            )),
            (Some(o), Some(i)) if o != i => out.push(change(
                changed,
                n,
                Safety::Safe,
                format!(
                    "index {n} was {}, now {}; Convex rebuilds it",
                    show(o),
                    show(i)
                ),
            )),
            _ => {}
        }
    }
}

/// Compare two validators at `path`, going into object fields and array
/// elements so that changes are reported where they happen.
fn diff_validators(old: &Validator, new: &Validator, path: &str, out: &mut Vec<SchemaChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Validator::Object(old_fields), Validator::Object(new_fields)) => {
            diff_fields(old_fields, new_fields, path, out)
        }
        (Validator::Array(old_element), Validator::Array(new_element)) => {
            diff_validators(old_element, new_element, &format!("{path}[]"), out)
        }
        _ => {
            let widens = accepts_all_of(new, old);
            let narrows = accepts_all_of(old, new);
            let (kind, safety, verdict) = match (widens, narrows) {
                // Same set of values written differently (e.g. union order).
                (true, true) => return,
                (true, false) => (
                    ChangeKind::TypeWidened,
                    Safety::Safe,
                    "every stored value still passes",
                ),
                (false, true) => (
                    ChangeKind::TypeNarrowed,
                    Safety::NeedsMigration,
                    "stored values outside the new type fail",
                ),
                (false, false) => (
                    ChangeKind::TypeChanged,
                    Safety::NeedsMigration,
                    "stored values of the old type fail",
                ),
            };
            out.push(change(
                kind,
                path,
                safety,
                format!("{} → {}: {verdict}", old.describe(), new.describe()),
            ));
        }
    }
}

fn diff_fields(
    old: &BTreeMap<String, Field>,
    new: &BTreeMap<String, Field>,
    path: &str,
    out: &mut Vec<SchemaChange>,
) {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        let here = crate::validator::field_path(path, name);
        match (old.get(name), new.get(name)) {
            (None, Some(n)) if n.optional => out.push(change(
                ChangeKind::FieldAddedOptional,
                &here,
                Safety::Safe,
                format!("new optional field of type {}", n.validator.describe()),
            )),
            (None, Some(n)) => out.push(change(
                ChangeKind::FieldAddedRequired,
                &here,
                Safety::NeedsMigration,
                format!(
                    "new required field of type {}: backfill it first, or add it as optional",
                    n.validator.describe()
                ),
            )),
            (Some(o), None) => out.push(change(
                ChangeKind::FieldRemoved,
                &here,
                Safety::NeedsMigration,
                format!(
                    "field of type {} removed: documents that still have it fail (objects are strict); unset it first",
                    o.validator.describe()
                ),
            )),
            (Some(o), Some(n)) => {
                if o.optional && !n.optional {
                    out.push(change(
                        ChangeKind::OptionalToRequired,
                        &here,
                        Safety::NeedsMigration,
                        "optional field becomes required: documents without it fail; backfill it first".into(),
                    ));
                } else if !o.optional && n.optional {
                    out.push(change(
                        ChangeKind::RequiredToOptional,
                        &here,
                        Safety::Safe,
                        "required field becomes optional".into(),
                    ));
                }
                diff_validators(&o.validator, &n.validator, &here, out);
            }
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(fields: Value) -> Value {
        json!({"tables": [{"tableName": "t", "indexes": [],
            "documentType": {"type": "object", "value": fields}}], "schemaValidation": true})
    }

    fn field(ty: Value, optional: bool) -> Value {
        json!({"fieldType": ty, "optional": optional})
    }

    #[test]
    fn diff_of_identical_schemas_is_empty_and_safe() {
        let s = schema(json!({"a": field(json!({"type": "string"}), false)}));
        let d = diff_schemas(&s, &s).unwrap();
        assert!(d.tables.is_empty() && d.changes.is_empty());
        assert_eq!(d.safety, Safety::Safe);
    }

    #[test]
    fn diff_ignores_reordered_union_members() {
        let ab = json!({"type": "union", "value": [{"type": "string"}, {"type": "null"}]});
        let ba = json!({"type": "union", "value": [{"type": "null"}, {"type": "string"}]});
        let d = diff_schemas(
            &schema(json!({"a": field(ab, false)})),
            &schema(json!({"a": field(ba, false)})),
        )
        .unwrap();
        assert!(d.tables.is_empty());
    }

    #[test]
    fn diff_reports_array_element_fields_by_path() {
        let item = |extra: bool| {
            let mut fields = json!({"name": field(json!({"type": "string"}), false)});
            if extra {
                fields["qty"] = field(json!({"type": "number"}), false);
            }
            field(
                json!({"type": "array", "value": {"type": "object", "value": fields}}),
                false,
            )
        };
        let d = diff_schemas(
            &schema(json!({"items": item(false)})),
            &schema(json!({"items": item(true)})),
        )
        .unwrap();
        let c = &d.tables[0].changes[0];
        assert_eq!(
            (c.kind, c.path.as_str(), c.safety),
            (
                ChangeKind::FieldAddedRequired,
                "items[].qty",
                Safety::NeedsMigration
            )
        );
    }

    #[test]
    fn diff_reports_both_optionality_and_type_of_one_field() {
        let old = schema(json!({"a": field(json!({"type": "literal", "value": "x"}), false)}));
        let new = schema(json!({"a": field(json!({"type": "string"}), true)}));
        let kinds: Vec<ChangeKind> = diff_schemas(&old, &new).unwrap().tables[0]
            .changes
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![ChangeKind::RequiredToOptional, ChangeKind::TypeWidened]
        );
    }

    #[test]
    fn diff_propagates_malformed_schemas_as_errors() {
        let bad = json!({"tables": [{"tableName": "t", "documentType": {"type": "nope"}}]});
        let ok = schema(json!({}));
        assert!(matches!(
            diff_schemas(&ok, &bad),
            Err(EngineError::InvalidSchema { .. })
        ));
    }
}
