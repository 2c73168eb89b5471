//! Property tests of the bridge schema against the engine's validator
//! checker:
//!
//! - Values valid under either of two random validators pass their bridge.
//! - Documents valid under either of two random schemas pass the bridge
//!   schema, checked page by page as `check` does, including tables one side
//!   does not list (which that side never validates).
//! - The bridge of a schema with itself is that schema, and its plan is a
//!   direct push.

use engine::bridge::{bridge_schema, bridge_validator, export_schema, plan_bridge, BridgeMode};
use engine::validator::{
    check_document, check_page, parse_schema, Field, IdAnswer, IdTables, IndexDef, Literal,
    PageCheckRequest, SchemaModel, SearchIndexDef, TableSchema, Validator, VectorIndexDef,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const CASES: u32 = 256;

/// What the deployment answers for every string in `values` (object keys
/// included): an id of the table named before its `|`, else of no table.
fn deployment_answers<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<IdAnswer> {
    fn answer(s: &str) -> IdAnswer {
        IdAnswer {
            value: s.to_string(),
            table: s.split_once('|').map(|(t, _)| t.to_string()),
        }
    }
    fn walk(v: &Value, out: &mut Vec<IdAnswer>) {
        match v {
            Value::String(s) => out.push(answer(s)),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => {
                for (k, v) in map {
                    out.push(answer(k));
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    values.into_iter().for_each(|v| walk(v, &mut out));
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

fn int64(i: i64) -> Value {
    json!({"$integer": base64(&i.to_le_bytes())})
}

fn float(f: f64) -> Value {
    if f.is_finite() && !(f == 0.0 && f.is_sign_negative()) {
        json!(f)
    } else {
        json!({"$float": base64(&f.to_le_bytes())})
    }
}

fn literal_json(l: &Literal) -> Value {
    match l {
        Literal::String(s) => json!(s),
        Literal::Number(f) => float(*f),
        Literal::Int64(i) => int64(*i),
        Literal::Boolean(b) => json!(b),
    }
}

// ---------- generators ----------

const FIELDS: &[&str] = &["a", "b", "kind", "text", "x y"];
const TABLES: &[&str] = &["todos", "users", "legacy", "events"];

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        prop::sample::select(vec!["low", "medium", "high", ""])
            .prop_map(|s| Literal::String(s.into())),
        prop::sample::select(vec![0.0, 1.0, -2.5]).prop_map(Literal::Number),
        prop::sample::select(vec![0i64, 7, i64::MIN]).prop_map(Literal::Int64),
        any::<bool>().prop_map(Literal::Boolean),
    ]
}

fn leaf() -> impl Strategy<Value = Validator> {
    prop_oneof![
        Just(Validator::String),
        Just(Validator::Number),
        Just(Validator::Int64),
        Just(Validator::Boolean),
        Just(Validator::Null),
        Just(Validator::Bytes),
        Just(Validator::Any),
        prop::sample::select(vec!["users", "todos"])
            .prop_map(|t| Validator::Id { table: t.into() }),
        literal().prop_map(Validator::Literal),
        literal().prop_map(Validator::Literal),
    ]
}

fn fields(inner: BoxedStrategy<Validator>) -> impl Strategy<Value = Validator> {
    prop::collection::btree_map(
        prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
        (inner, any::<bool>()).prop_map(|(validator, optional)| Field {
            validator,
            optional,
        }),
        0..4,
    )
    .prop_map(Validator::Object)
}

fn validator() -> BoxedStrategy<Validator> {
    leaf()
        .prop_recursive(3, 24, 4, |inner| {
            let inner = inner.boxed();
            prop_oneof![
                inner.clone().prop_map(|e| Validator::Array(Box::new(e))),
                fields(inner.clone()),
                (
                    prop_oneof![
                        Just(Validator::String),
                        Just(Validator::Id {
                            table: "users".into()
                        })
                    ],
                    inner.clone()
                )
                    .prop_map(|(k, v)| Validator::Record {
                        keys: Box::new(k),
                        values: Box::new(v)
                    }),
                prop::collection::vec(inner, 1..4).prop_map(Validator::Union),
            ]
        })
        .boxed()
}

/// A table's document type: an object, or a union of objects.
fn document_type() -> impl Strategy<Value = Option<Validator>> {
    prop_oneof![
        1 => Just(None),
        4 => fields(validator()).prop_map(Some),
        2 => prop::collection::vec(fields(validator()), 1..3).prop_map(|m| Some(Validator::Union(m))),
    ]
}

fn table(name: &'static str) -> impl Strategy<Value = TableSchema> {
    let names = prop::sample::select(vec!["by_a", "by_b", "by_kind"]);
    (
        document_type(),
        prop::collection::vec(
            (
                names.clone(),
                prop::collection::vec(prop::sample::select(FIELDS.to_vec()), 1..3),
            ),
            0..3,
        ),
        prop::option::of(prop::sample::select(FIELDS.to_vec())),
        prop::option::of(1u32..2048),
    )
        .prop_map(move |(document_type, idx, search, vector)| {
            let mut indexes: Vec<IndexDef> = Vec::new();
            for (n, f) in idx {
                if !indexes.iter().any(|i| i.name == n) {
                    indexes.push(IndexDef {
                        name: n.into(),
                        fields: f.into_iter().map(String::from).collect(),
                    });
                }
            }
            TableSchema {
                table: name.into(),
                document_type,
                indexes,
                search_indexes: search
                    .map(|f| SearchIndexDef {
                        name: "search".into(),
                        search_field: f.into(),
                        filter_fields: vec!["kind".into()],
                    })
                    .into_iter()
                    .collect(),
                vector_indexes: vector
                    .map(|d| VectorIndexDef {
                        name: "vec".into(),
                        vector_field: "b".into(),
                        dimensions: d,
                        filter_fields: vec![],
                    })
                    .into_iter()
                    .collect(),
            }
        })
}

fn schema() -> impl Strategy<Value = SchemaModel> {
    (
        prop::option::of(table("todos")),
        prop::option::of(table("users")),
        prop::option::of(table("legacy")),
        prop::option::of(table("events")),
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(a, b, c, d, schema_validation)| SchemaModel {
            tables: [a, b, c, d].into_iter().flatten().collect(),
            schema_validation,
        })
}

fn any_value() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5.0f64..5.0).prop_map(float),
        any::<i64>().prop_map(int64),
        "[a-z]{0,4}".prop_map(Value::String),
    ]
    .prop_recursive(2, 8, 3, |inner| {
        prop::collection::btree_map(
            prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
            inner,
            0..3,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    })
    .boxed()
}

/// Values `v` accepts.
fn value_of(v: &Validator) -> BoxedStrategy<Value> {
    match v {
        Validator::String => "[a-z]{0,4}".prop_map(Value::String).boxed(),
        // An id names its table before the `|`, so the test deployment can
        // answer which table each id string belongs to.
        Validator::Id { table } => {
            let table = table.clone();
            "[a-z0-9]{1,6}"
                .prop_map(move |r| Value::String(format!("{table}|{r}")))
                .boxed()
        }
        Validator::Number => {
            prop_oneof![(-1e3f64..1e3).prop_map(float), Just(float(f64::NAN))].boxed()
        }
        Validator::Int64 | Validator::CommitTs => any::<i64>().prop_map(int64).boxed(),
        Validator::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Validator::Null => Just(Value::Null).boxed(),
        Validator::Bytes => prop::collection::vec(any::<u8>(), 0..6)
            .prop_map(|b| json!({"$bytes": base64(&b)}))
            .boxed(),
        Validator::Any => any_value(),
        Validator::Literal(l) => Just(literal_json(l)).boxed(),
        Validator::Array(e) => prop::collection::vec(value_of(e), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        Validator::Object(fields) => {
            let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
                .iter()
                .map(|(n, f)| {
                    let n = n.clone();
                    let present = value_of(&f.validator).prop_map(move |x| Some((n.clone(), x)));
                    if f.optional {
                        prop_oneof![Just(None), present].boxed()
                    } else {
                        present.boxed()
                    }
                })
                .collect();
            parts
                .prop_map(|ps| Value::Object(ps.into_iter().flatten().collect()))
                .boxed()
        }
        Validator::Record { keys, values } => prop::collection::btree_map(
            match keys.as_ref() {
                Validator::Id { table } => {
                    let table = table.clone();
                    prop::sample::select(vec!["k", "key two", "x"])
                        .prop_map(move |k| format!("{table}|{k}"))
                        .boxed()
                }
                _ => prop::sample::select(vec!["k", "key two", "_x"])
                    .prop_map(String::from)
                    .boxed(),
            },
            value_of(values),
            0..3,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed(),
        Validator::Union(members) => {
            let options: Vec<BoxedStrategy<Value>> = members.iter().map(value_of).collect();
            (0..options.len())
                .prop_flat_map(move |i| options[i].clone())
                .boxed()
        }
    }
}

/// Documents of `table` valid under `schema`: any object where the schema
/// does not validate the table.
fn documents_of(schema: &SchemaModel, table: &str) -> BoxedStrategy<Vec<Value>> {
    let doc = match schema.table(table).and_then(|t| t.document_type.clone()) {
        Some(v) if schema.schema_validation => value_of(&v),
        _ => prop::collection::btree_map(
            prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
            any_value(),
            0..3,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed(),
    };
    prop::collection::vec(doc, 1..5).boxed()
}

/// Two schemas and, per table of either, documents valid under one of them.
fn schemas_and_documents(
) -> impl Strategy<Value = (SchemaModel, SchemaModel, Vec<(String, Vec<Value>)>)> {
    (schema(), schema(), any::<bool>()).prop_flat_map(|(a, b, from_a)| {
        let source = if from_a { a.clone() } else { b.clone() };
        let docs: Vec<BoxedStrategy<(String, Vec<Value>)>> = TABLES
            .iter()
            .map(|t| {
                documents_of(&source, t)
                    .prop_map(move |d| (t.to_string(), d))
                    .boxed()
            })
            .collect();
        (Just(a), Just(b), docs)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn bridge_validator_accepts_values_of_both_sides(
        (a, b, values) in (validator(), validator()).prop_flat_map(|(a, b)| {
            let values = prop::collection::vec(prop_oneof![value_of(&a), value_of(&b)], 1..6);
            (Just(a), Just(b), values)
        })
    ) {
        let bridge = bridge_validator(&a, &b);
        for value in &values {
            let violations = check_document(&bridge, value, &IdTables::new(&deployment_answers([value])));
            prop_assert!(violations.is_empty(), "{value} fails bridge {bridge:?} of {a:?} and {b:?}: {violations:?}");
        }
    }

    #[test]
    fn bridge_schema_accepts_documents_valid_under_either_schema((a, b, tables) in schemas_and_documents()) {
        let bridge = plan_bridge(&export_schema(&a), &export_schema(&b)).unwrap();
        // The bridge always builds; direct mode pushes the target, which accepts A's data by the diff.
        let exported = if bridge.mode == BridgeMode::Bridge { bridge.bridge.clone() } else { export_schema(&bridge_schema(&a, &b)) };
        for (table, documents) in tables {
            let result = check_page(&PageCheckRequest {
                schema: exported.clone(),
                table: table.clone(),
                documents: documents.clone(),
                max_samples: 3,
                ids: deployment_answers(&documents),
            })
            .unwrap();
            let rejects = result.violating > 0 && parse_schema(&exported).unwrap().schema_validation;
            prop_assert!(!rejects, "{table}: {:?} in {documents:?}", result.samples);
        }
    }

    #[test]
    fn bridge_of_a_schema_with_itself_is_that_schema(a in schema()) {
        prop_assert_eq!(&bridge_schema(&a, &a), &a);
        let plan = plan_bridge(&export_schema(&a), &export_schema(&a)).unwrap();
        prop_assert_eq!(plan.mode, BridgeMode::Direct);
        prop_assert_eq!(parse_schema(&plan.bridge).unwrap(), a);
        prop_assert!(plan.changes.tables.is_empty() && plan.to_target.tables.is_empty());
    }

    #[test]
    fn bridge_is_reached_from_the_deployed_schema_safely(a in schema(), b in schema()) {
        let plan = plan_bridge(&export_schema(&a), &export_schema(&b)).unwrap();
        if plan.mode == BridgeMode::Bridge {
            // The first push never needs data work (the diff is sound, so
            // "safe" is a guarantee; a cautious "needs migration" would
            // stop the pipeline, so none is allowed here).
            prop_assert_eq!(plan.from_deployed.safety, engine::schema_diff::Safety::Safe, "{:?}", plan.from_deployed);
        }
    }
}

#[test]
fn bridge_plan_for_a_required_field_an_enum_narrowing_a_rename_and_a_removed_table() {
    let deployed = json!({"tables": [
        {"tableName": "todos", "indexes": [{"indexDescriptor": "by_text", "fields": ["text"]}],
         "documentType": {"type": "object", "value": {
            "text": {"fieldType": {"type": "string"}, "optional": false},
            "priority": {"fieldType": {"type": "union", "value": [
                {"type": "literal", "value": "low"}, {"type": "literal", "value": "medium"},
                {"type": "literal", "value": "high"}]}, "optional": true}}}},
        {"tableName": "legacy", "indexes": [], "documentType": {"type": "object", "value": {}}}
    ], "schemaValidation": true});
    let target = json!({"tables": [
        {"tableName": "todos", "indexes": [{"indexDescriptor": "by_title", "fields": ["title"]}],
         "documentType": {"type": "object", "value": {
            "title": {"fieldType": {"type": "string"}, "optional": false},
            "priority": {"fieldType": {"type": "union", "value": [
                {"type": "literal", "value": "low"}, {"type": "literal", "value": "high"}]}, "optional": false}}}}
    ], "schemaValidation": true});
    let plan = plan_bridge(&deployed, &target).unwrap();
    assert_eq!(plan.mode, BridgeMode::Bridge);
    let old_doc = json!({"_id": "a1", "text": "x", "priority": "medium"});
    let new_doc = json!({"_id": "a2", "title": "x", "priority": "low"});
    let page = |table: &str, docs: Vec<Value>, schema: &Value| {
        check_page(&PageCheckRequest {
            schema: schema.clone(),
            table: table.into(),
            ids: deployment_answers(&docs),
            documents: docs,
            max_samples: 3,
        })
        .unwrap()
        .violating
    };
    assert_eq!(
        page(
            "todos",
            vec![old_doc.clone(), new_doc.clone()],
            &plan.bridge
        ),
        0
    );
    assert_eq!(
        page("legacy", vec![json!({"anything": 1})], &plan.bridge),
        0
    );
    // The target still rejects the old shape: the migrations must run first.
    assert_eq!(page("todos", vec![old_doc], &target), 1);
    let bridge = parse_schema(&plan.bridge).unwrap();
    let todos = bridge.table("todos").unwrap();
    assert_eq!(todos.indexes.len(), 2, "indexes of both sides");
}
