//! The bridge schema: one schema that accepts every document valid under
//! either of two schemas, so new code can be pushed over data that is still
//! in the old shape while its migrations run.
//!
//! `deploy --bridge` pushes the new code with `bridge(deployed, target)`,
//! migrates, checks the data against the target and pushes the target. The
//! rules, per table and field:
//!
//! - A field is kept with the union of both validators; it is optional when
//!   either side lacks it or has it optional.
//! - Object fields are merged, arrays and records bridge their elements, and
//!   anything else becomes a union of both sides (flattened, members that
//!   another member covers dropped), so literal sets become their union.
//! - A table only one side lists takes any document: the other side does not
//!   validate it at all. It keeps its indexes.
//! - Indexes of both sides are kept; where a name is on both sides with other
//!   fields, the target's definition wins (the new code queries it), which
//!   touches no document.
//! - Validation is on only when both sides have it on.
//!
//! `bridge(a, a) == a`, and every document either side accepts passes the
//! bridge (the property tests in `tests/bridge_props.rs` check both against
//! the validator checker).

mod export;

pub use export::{export_schema, export_validator};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::schema_diff::{accepts_all_of, diff_schemas, Safety, SchemaDiff};
use crate::validator::{parse_schema, Field, SchemaModel, TableSchema, Validator};
use crate::EngineError;

/// How a deploy from the deployed schema to the target must go.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum BridgeMode {
    /// Every change is safe for the stored data: push the target directly,
    /// then migrate.
    Direct,
    /// Some change needs data work: push the bridge, migrate, check, push
    /// the target.
    Bridge,
}

/// The plan for rolling a deployment forward from `deployed` to `target`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BridgePlan {
    /// `direct` when no change needs data work.
    pub mode: BridgeMode,
    /// The changes from the deployed schema to the target.
    pub changes: SchemaDiff,
    /// The bridge schema, in the shape `defineSchema(...).export()` gives
    /// (parsed). Equal to the target in `direct` mode.
    #[ts(type = "unknown")]
    pub bridge: Value,
    /// What the first push changes: deployed schema → bridge. Always safe.
    pub from_deployed: SchemaDiff,
    /// What the second push changes: bridge → target. Needs the migrations.
    pub to_target: SchemaDiff,
}

/// Plan a deploy from the deployed schema to the target (both outputs of
/// `defineSchema(...).export()`, strings or objects).
pub fn plan_bridge(deployed: &Value, target: &Value) -> Result<BridgePlan, EngineError> {
    let deployed_model = parse_schema(deployed)?;
    let target_model = parse_schema(target)?;
    let changes = diff_schemas(deployed, target)?;
    let (mode, bridge) = match changes.safety {
        Safety::Safe => (BridgeMode::Direct, export_schema(&target_model)),
        Safety::NeedsMigration => (
            BridgeMode::Bridge,
            export_schema(&bridge_schema(&deployed_model, &target_model)),
        ),
    };
    Ok(BridgePlan {
        mode,
        from_deployed: diff_schemas(deployed, &bridge)?,
        to_target: diff_schemas(&bridge, target)?,
        changes,
        bridge,
    })
}

/// The schema that accepts every document either schema accepts.
pub fn bridge_schema(deployed: &SchemaModel, target: &SchemaModel) -> SchemaModel {
    let mut tables: Vec<TableSchema> = target
        .tables
        .iter()
        .map(|t| match deployed.table(&t.table) {
            Some(d) => bridge_table(d, t),
            None => unvalidated(t),
        })
        .collect();
    tables.extend(
        deployed
            .tables
            .iter()
            .filter(|d| target.table(&d.table).is_none())
            .map(unvalidated),
    );
    SchemaModel {
        tables,
        schema_validation: deployed.schema_validation && target.schema_validation,
    }
}

fn bridge_table(d: &TableSchema, t: &TableSchema) -> TableSchema {
    TableSchema {
        table: t.table.clone(),
        document_type: match (&d.document_type, &t.document_type) {
            (Some(a), Some(b)) => Some(bridge_validator(a, b)),
            // No validator on either side: any document passes there.
            _ => None,
        },
        indexes: merge_named(&t.indexes, &d.indexes, |i| &i.name),
        search_indexes: merge_named(&t.search_indexes, &d.search_indexes, |i| &i.name),
        vector_indexes: merge_named(&t.vector_indexes, &d.vector_indexes, |i| &i.name),
    }
}

/// A table only one side lists: the other side never validates it, so the
/// bridge takes any document there. Its indexes stay.
fn unvalidated(only: &TableSchema) -> TableSchema {
    TableSchema {
        document_type: None,
        ..only.clone()
    }
}

/// `first`'s entries, then those of `second` whose name `first` lacks.
fn merge_named<T: Clone>(first: &[T], second: &[T], name: impl Fn(&T) -> &String) -> Vec<T> {
    let taken: BTreeSet<&String> = first.iter().map(&name).collect();
    first
        .iter()
        .chain(second.iter().filter(|i| !taken.contains(name(i))))
        .cloned()
        .collect()
}

/// A validator accepting every value `a` or `b` accepts.
pub fn bridge_validator(a: &Validator, b: &Validator) -> Validator {
    if a == b {
        return a.clone();
    }
    match (a, b) {
        (Validator::Any, _) | (_, Validator::Any) => Validator::Any,
        _ if accepts_all_of(a, b) => a.clone(),
        _ if accepts_all_of(b, a) => b.clone(),
        (Validator::Object(fa), Validator::Object(fb)) => Validator::Object(merge_fields(fa, fb)),
        (Validator::Array(ea), Validator::Array(eb)) => {
            Validator::Array(Box::new(bridge_validator(ea, eb)))
        }
        (
            Validator::Record {
                keys: ka,
                values: va,
            },
            Validator::Record {
                keys: kb,
                values: vb,
            },
        ) => Validator::Record {
            keys: Box::new(bridge_validator(ka, kb)),
            values: Box::new(bridge_validator(va, vb)),
        },
        _ => union_of(a, b),
    }
}

/// Fields of both objects; optional where either side lacks the field or has
/// it optional.
fn merge_fields(
    a: &BTreeMap<String, Field>,
    b: &BTreeMap<String, Field>,
) -> BTreeMap<String, Field> {
    let mut out: BTreeMap<String, Field> = a
        .iter()
        .map(|(name, fa)| {
            let field = match b.get(name) {
                Some(fb) => Field {
                    validator: bridge_validator(&fa.validator, &fb.validator),
                    optional: fa.optional || fb.optional,
                },
                None => Field {
                    validator: fa.validator.clone(),
                    optional: true,
                },
            };
            (name.clone(), field)
        })
        .collect();
    for (name, fb) in b {
        out.entry(name.clone()).or_insert_with(|| Field {
            validator: fb.validator.clone(),
            optional: true,
        });
    }
    out
}

/// The members of both sides in one flat union, `a`'s first, without members
/// another member already covers.
fn union_of(a: &Validator, b: &Validator) -> Validator {
    let mut members: Vec<Validator> = Vec::new();
    for candidate in flatten(a).into_iter().chain(flatten(b)) {
        if members.iter().any(|m| accepts_all_of(m, &candidate)) {
            continue;
        }
        members.retain(|m| !accepts_all_of(&candidate, m));
        members.push(candidate);
    }
    match <[Validator; 1]>::try_from(members) {
        Ok([only]) => only,
        Err(members) => Validator::Union(members),
    }
}

fn flatten(v: &Validator) -> Vec<Validator> {
    match v {
        Validator::Union(members) => members.iter().flat_map(flatten).collect(),
        other => vec![other.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::Literal;
    use serde_json::json;

    fn lit(s: &str) -> Validator {
        Validator::Literal(Literal::String(s.into()))
    }

    fn obj(fields: &[(&str, Validator, bool)]) -> Validator {
        Validator::Object(
            fields
                .iter()
                .map(|(n, v, o)| {
                    (
                        n.to_string(),
                        Field {
                            validator: v.clone(),
                            optional: *o,
                        },
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn bridge_unions_literal_sets() {
        let deployed = Validator::Union(vec![lit("low"), lit("medium"), lit("high")]);
        let target = Validator::Union(vec![lit("low"), lit("high"), lit("urgent")]);
        assert_eq!(
            bridge_validator(&deployed, &target),
            Validator::Union(vec![lit("low"), lit("medium"), lit("high"), lit("urgent")])
        );
        // A narrowing: the wider side is the bridge.
        let narrow = Validator::Union(vec![lit("low"), lit("high")]);
        assert_eq!(bridge_validator(&deployed, &narrow), deployed);
    }

    #[test]
    fn bridge_makes_one_sided_fields_optional_and_merges_the_rest() {
        let deployed = obj(&[
            ("text", Validator::String, false),
            ("done", Validator::Boolean, true),
            ("legacy", Validator::Number, false),
        ]);
        let target = obj(&[
            ("text", Validator::String, false),
            ("done", Validator::Boolean, false),
            ("priority", lit("high"), false),
        ]);
        assert_eq!(
            bridge_validator(&deployed, &target),
            obj(&[
                ("done", Validator::Boolean, true),
                ("legacy", Validator::Number, true),
                ("priority", lit("high"), true),
                ("text", Validator::String, false),
            ])
        );
    }

    #[test]
    fn bridge_of_unrelated_types_is_their_union() {
        assert_eq!(
            bridge_validator(&Validator::String, &Validator::Number),
            Validator::Union(vec![Validator::String, Validator::Number])
        );
        assert_eq!(
            bridge_validator(&Validator::String, &Validator::Any),
            Validator::Any
        );
        assert_eq!(
            bridge_validator(
                &Validator::Array(Box::new(Validator::String)),
                &Validator::Array(Box::new(Validator::Null))
            ),
            Validator::Array(Box::new(Validator::Union(vec![
                Validator::String,
                Validator::Null
            ])))
        );
    }

    fn table(name: &str, fields: Value, indexes: Value) -> Value {
        json!({"tableName": name, "indexes": indexes,
            "documentType": {"type": "object", "value": fields}})
    }

    #[test]
    fn plan_is_direct_when_every_change_is_safe() {
        let s = |optional: bool| {
            json!({"tables": [table("t", json!({"a": {"fieldType": {"type": "string"}, "optional": optional}}), json!([]))],
                "schemaValidation": true})
        };
        let plan = plan_bridge(&s(false), &s(true)).unwrap();
        assert_eq!(plan.mode, BridgeMode::Direct);
        assert!(plan.to_target.tables.is_empty());
    }

    #[test]
    fn plan_keeps_tables_and_indexes_of_both_sides() {
        let deployed = json!({"tables": [
            table("todos", json!({"text": {"fieldType": {"type": "string"}, "optional": false}}),
                json!([{"indexDescriptor": "by_text", "fields": ["text"]}])),
            table("legacy", json!({}), json!([{"indexDescriptor": "by_x", "fields": ["x"]}]))
        ]});
        let target = json!({"tables": [
            table("todos", json!({"title": {"fieldType": {"type": "string"}, "optional": false}}),
                json!([{"indexDescriptor": "by_title", "fields": ["title"]}]))
        ]});
        let plan = plan_bridge(&deployed, &target).unwrap();
        assert_eq!(plan.mode, BridgeMode::Bridge);
        let model = parse_schema(&plan.bridge).unwrap();
        let names: Vec<&str> = model.tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, vec!["todos", "legacy"]);
        let todos = model.table("todos").unwrap();
        let index_names: Vec<&str> = todos.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(index_names, vec!["by_title", "by_text"]);
        assert_eq!(
            todos.document_type,
            Some(obj(&[
                ("text", Validator::String, true),
                ("title", Validator::String, true)
            ]))
        );
        // The removed table takes any document, and keeps its index.
        let legacy = model.table("legacy").unwrap();
        assert_eq!(
            (legacy.document_type.clone(), legacy.indexes.len()),
            (None, 1)
        );
        assert_eq!(plan.from_deployed.safety, Safety::Safe);
        assert_eq!(plan.to_target.safety, Safety::NeedsMigration);
    }

    #[test]
    fn plan_refuses_a_malformed_schema_naming_the_place() {
        let ok = json!({"tables": []});
        let bad = json!({"tables": [{"tableName": "t", "documentType": {"type": "strng"}}]});
        match plan_bridge(&ok, &bad) {
            Err(EngineError::InvalidSchema { path, .. }) => {
                assert_eq!(path, "tables[0].documentType")
            }
            other => panic!("expected InvalidSchema, got {other:?}"),
        }
    }
}
