//! The table-level API: read an exported schema, check a page of documents.
//!
//! Exported schema shape (convex 1.48, `SchemaDefinition.export()`, which
//! returns this as a JSON *string*; both the string and the parsed object are
//! accepted here):
//!
//! ```json
//! {"tables": [{"tableName": "todos",
//!              "indexes": [{"indexDescriptor": "by_text", "fields": ["text"]}],
//!              "searchIndexes": [{"indexDescriptor": "s", "searchField": "text", "filterFields": []}],
//!              "vectorIndexes": [{"indexDescriptor": "v", "vectorField": "e", "dimensions": 8, "filterFields": []}],
//!              "stagedDbIndexes": [], "stagedSearchIndexes": [], "stagedVectorIndexes": [],
//!              "documentType": {"type": "object", "value": {...}},
//!              "stagedDocumentType": {...}}],
//!  "schemaValidation": true}
//! ```
//!
//! Staged validators and staged indexes are not enforced by Convex yet, so
//! they are read past and ignored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use super::check::{check_table_document, Violation};
use super::decode::{as_object, invalid, join, kind_of, parse_validator, require, require_str};
use super::ids::{collect_page, IdAnswer, IdTables};
use super::Validator;
use crate::EngineError;

/// Violations listed per sampled document; the rest are only counted, so one
/// broken document with a huge array cannot swell the page result.
pub const MAX_VIOLATIONS_PER_SAMPLE: usize = 50;

/// A whole exported schema, decoded. Stays on the Rust side: callers pass the
/// exported JSON and get checks or diffs back.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaModel {
    /// Tables in the order the schema lists them.
    pub tables: Vec<TableSchema>,
    /// `defineSchema(..., { schemaValidation })`; `true` unless turned off.
    pub schema_validation: bool,
}

impl SchemaModel {
    /// The table called `name`, if the schema lists it.
    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.iter().find(|t| t.table == name)
    }
}

/// One table of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The table's name.
    pub table: String,
    /// `None` when documents are unconstrained (no validator, or `v.any()`).
    pub document_type: Option<Validator>,
    /// Database indexes (`.index(name, fields)`).
    pub indexes: Vec<IndexDef>,
    /// Full-text search indexes.
    pub search_indexes: Vec<SearchIndexDef>,
    /// Vector indexes.
    pub vector_indexes: Vec<VectorIndexDef>,
}

/// `.index(name, fields)`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    /// The index name (`indexDescriptor`).
    pub name: String,
    /// Indexed field paths, in order.
    pub fields: Vec<String>,
}

/// `.searchIndex(name, { searchField, filterFields })`.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchIndexDef {
    /// The index name (`indexDescriptor`).
    pub name: String,
    /// The full-text field.
    pub search_field: String,
    /// Fields usable as equality filters.
    pub filter_fields: Vec<String>,
}

/// `.vectorIndex(name, { vectorField, dimensions, filterFields })`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorIndexDef {
    /// The index name (`indexDescriptor`).
    pub name: String,
    /// The field holding the vector.
    pub vector_field: String,
    /// Vector length.
    pub dimensions: u32,
    /// Fields usable as equality filters.
    pub filter_fields: Vec<String>,
}

/// Read the output of `defineSchema(...).export()`: the JSON string itself or
/// the object it encodes.
pub fn parse_schema(exported: &Value) -> Result<SchemaModel, EngineError> {
    let parsed;
    let root = match exported {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text)
                .map_err(|e| invalid("", format!("the schema string is not JSON: {e}")))?;
            &parsed
        }
        other => other,
    };
    let map = as_object(root, "")?;
    let schema_validation = match map.get("schemaValidation") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                "schemaValidation",
                format!("expected a boolean, found {}", kind_of(other)),
            ))
        }
    };
    let tables_json = require(map, "tables", "")?
        .as_array()
        .ok_or_else(|| invalid("tables", "expected an array of tables"))?;
    let mut tables: Vec<TableSchema> = Vec::with_capacity(tables_json.len());
    for (i, table_json) in tables_json.iter().enumerate() {
        let path = format!("tables[{i}]");
        let table = parse_table(table_json, &path)?;
        if tables.iter().any(|t| t.table == table.table) {
            return Err(invalid(
                &join(&path, "tableName"),
                format!("table \"{}\" is listed twice", table.table),
            ));
        }
        tables.push(table);
    }
    Ok(SchemaModel {
        tables,
        schema_validation,
    })
}

fn parse_table(json: &Value, path: &str) -> Result<TableSchema, EngineError> {
    let map = as_object(json, path)?;
    let table = require_str(map, "tableName", path)?.to_string();
    if table.is_empty() {
        return Err(invalid(
            &join(path, "tableName"),
            "a table name cannot be empty",
        ));
    }
    let type_path = join(path, "documentType");
    let document_type = match map.get("documentType") {
        None | Some(Value::Null) => None,
        Some(json) => match parse_validator(json, &type_path)? {
            Validator::Any => None,
            v @ (Validator::Object(_) | Validator::Union(_) | Validator::Record { .. }) => Some(v),
            other => {
                return Err(invalid(
                    &type_path,
                    format!(
                        "a table's documents must be objects or a union of objects, not {}",
                        other.describe()
                    ),
                ))
            }
        },
    };
    let indexes = parse_list(map, "indexes", path, |m, p| {
        Ok(IndexDef {
            name: require_str(m, "indexDescriptor", p)?.into(),
            fields: strings(m, "fields", p, true)?,
        })
    })?;
    let search_indexes = parse_list(map, "searchIndexes", path, |m, p| {
        Ok(SearchIndexDef {
            name: require_str(m, "indexDescriptor", p)?.into(),
            search_field: require_str(m, "searchField", p)?.into(),
            filter_fields: strings(m, "filterFields", p, false)?,
        })
    })?;
    let vector_indexes = parse_list(map, "vectorIndexes", path, |m, p| {
        let dimensions = require(m, "dimensions", p)?
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| {
                invalid(
                    &join(p, "dimensions"),
                    "expected a whole number of dimensions",
                )
            })?;
        Ok(VectorIndexDef {
            name: require_str(m, "indexDescriptor", p)?.into(),
            vector_field: require_str(m, "vectorField", p)?.into(),
            dimensions,
            filter_fields: strings(m, "filterFields", p, false)?,
        })
    })?;
    Ok(TableSchema {
        table,
        document_type,
        indexes,
        search_indexes,
        vector_indexes,
    })
}

/// Decode an optional array of index entries with `each`.
fn parse_list<T>(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    each: impl Fn(&Map<String, Value>, &str) -> Result<T, EngineError>,
) -> Result<Vec<T>, EngineError> {
    let list_path = join(path, key);
    let items = match map.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(
                &list_path,
                format!("expected an array, found {}", kind_of(other)),
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{list_path}[{i}]");
        out.push(each(as_object(item, &item_path)?, &item_path)?);
    }
    Ok(out)
}

/// An array of strings under `key`; absent means empty unless `required`.
fn strings(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    required: bool,
) -> Result<Vec<String>, EngineError> {
    let list_path = join(path, key);
    let items = match map.get(key) {
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        None | Some(Value::Null) => return Err(invalid(path, format!("missing \"{key}\""))),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(
                &list_path,
                format!("expected an array, found {}", kind_of(other)),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(&format!("{list_path}[{i}]"), "expected a string"))
        })
        .collect()
}

/// One page of a table to check; the component sends one per Wasm call.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PageCheckRequest {
    /// The output of `defineSchema(...).export()` (the string or its object).
    #[ts(type = "unknown")]
    pub schema: Value,
    /// The table the documents come from.
    pub table: String,
    /// Documents in Convex's JSON encoding (`convexToJson`).
    #[ts(type = "Array<unknown>")]
    pub documents: Vec<Value>,
    /// Most violating documents to describe; all are counted.
    pub max_samples: u32,
    /// The deployment's answer for every string `pageIdQuestions` asked
    /// about in these documents.
    #[serde(default)]
    pub ids: Vec<IdAnswer>,
}

/// What one page check found.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PageCheckResult {
    /// Documents in the page.
    #[ts(type = "number")]
    pub scanned: u64,
    /// Documents with at least one violation.
    #[ts(type = "number")]
    pub violating: u64,
    /// The first `maxSamples` violating documents, explained.
    pub samples: Vec<DocumentViolations>,
    /// Facts about the table as a whole, e.g. that the schema does not list it.
    pub notes: Vec<TableNote>,
}

/// The violations of one document.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DocumentViolations {
    /// The document's `_id`, or `#<position in the page>` when it has none.
    pub id: String,
    /// Every violation, up to [`MAX_VIOLATIONS_PER_SAMPLE`].
    pub violations: Vec<Violation>,
    /// Violations found beyond those listed.
    #[ts(type = "number")]
    pub omitted: u64,
}

/// A fact about the whole table rather than one document.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TableNote {
    /// The schema does not list the table. Convex never validates such
    /// tables, so no document is reported.
    NotInSchema,
    /// The table's document type is `v.any()` or absent: any object passes.
    NoDocumentValidator,
    /// `schemaValidation: false`: Convex would not enforce these findings
    /// today, but would refuse to turn validation on until they are fixed.
    SchemaValidationOff,
}

/// Check one page of a table's documents against the schema.
///
/// Each document is checked in full (every violation explained); the result
/// counts all violating documents and describes the first `max_samples`.
/// Strings under `v.id(...)` are judged by `req.ids`, which must answer every
/// question `pageIdQuestions` asks for the same page.
pub fn check_page(req: &PageCheckRequest) -> Result<PageCheckResult, EngineError> {
    if req.table.is_empty() {
        return Err(EngineError::InvalidInput {
            message: "table must name a table".into(),
        });
    }
    let model = parse_schema(&req.schema)?;
    let mut result = PageCheckResult {
        scanned: to_u64(req.documents.len()),
        violating: 0,
        samples: Vec::new(),
        notes: Vec::new(),
    };
    if !model.schema_validation {
        result.notes.push(TableNote::SchemaValidationOff);
    }
    let Some(table) = model.table(&req.table) else {
        result.notes.push(TableNote::NotInSchema);
        return Ok(result);
    };
    if table.document_type.is_none() {
        result.notes.push(TableNote::NoDocumentValidator);
    }
    let ids = IdTables::new(&req.ids);
    if let Some(document_type) = &table.document_type {
        let asked = collect_page(document_type, &req.documents);
        if let Some(value) = asked.keys().find(|value| ids.answer(value).is_none()) {
            return Err(EngineError::InvalidInput {
                message: format!(
                    "ids holds no answer for {value:?}, which stands where an id is expected: \
                     call pageIdQuestions on the same page and answer every question with ctx.db.normalizeId"
                ),
            });
        }
    }
    let max_samples = usize::try_from(req.max_samples).unwrap_or(usize::MAX);
    for (position, doc) in req.documents.iter().enumerate() {
        let mut violations = check_table_document(table.document_type.as_ref(), doc, &ids);
        if violations.is_empty() {
            continue;
        }
        result.violating = result.violating.saturating_add(1);
        if result.samples.len() < max_samples {
            let omitted = to_u64(violations.len().saturating_sub(MAX_VIOLATIONS_PER_SAMPLE));
            violations.truncate(MAX_VIOLATIONS_PER_SAMPLE);
            let id = match doc.get("_id") {
                Some(Value::String(id)) => id.clone(),
                _ => format!("#{position}"),
            };
            result.samples.push(DocumentViolations {
                id,
                violations,
                omitted,
            });
        }
    }
    Ok(result)
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"tables": [
            {"tableName": "todos", "indexes": [{"indexDescriptor": "by_text", "fields": ["text"]}],
             "documentType": {"type": "object", "value": {"text": {"fieldType": {"type": "string"}, "optional": false}}}},
            {"tableName": "blobs", "documentType": {"type": "any"}}
        ], "schemaValidation": true})
    }

    fn request(table: &str, documents: Vec<Value>, max_samples: u32) -> PageCheckRequest {
        PageCheckRequest {
            schema: schema(),
            table: table.into(),
            documents,
            max_samples,
            ids: Vec::new(),
        }
    }

    #[test]
    fn parse_schema_accepts_the_exported_string_and_its_object() {
        let object = parse_schema(&schema()).unwrap();
        let string = parse_schema(&Value::String(schema().to_string())).unwrap();
        assert_eq!(object, string);
        assert_eq!(object.tables.len(), 2);
        assert_eq!(
            object.tables[0].indexes,
            vec![IndexDef {
                name: "by_text".into(),
                fields: vec!["text".into()]
            }]
        );
        assert_eq!(object.tables[1].document_type, None);
        assert!(object.schema_validation);
    }

    #[test]
    fn parse_schema_refuses_duplicate_tables_and_scalar_documents() {
        let dup = json!({"tables": [{"tableName": "a"}, {"tableName": "a"}]});
        assert!(
            matches!(parse_schema(&dup), Err(EngineError::InvalidSchema { path, .. }) if path == "tables[1].tableName")
        );
        let scalar = json!({"tables": [{"tableName": "a", "documentType": {"type": "string"}}]});
        assert!(
            matches!(parse_schema(&scalar), Err(EngineError::InvalidSchema { path, .. }) if path == "tables[0].documentType")
        );
        assert!(matches!(
            parse_schema(&json!("{not json")),
            Err(EngineError::InvalidSchema { .. })
        ));
        assert!(matches!(
            parse_schema(&json!([])),
            Err(EngineError::InvalidSchema { .. })
        ));
    }

    #[test]
    fn check_page_counts_all_and_samples_up_to_the_cap() {
        let docs = vec![
            json!({"_id": "a", "_creationTime": 1.0, "text": "ok"}),
            json!({"_id": "b", "_creationTime": 1.0, "text": 1}),
            json!({"_id": "c", "_creationTime": 1.0}),
            json!({"text": "x", "more": 1}),
        ];
        let result = check_page(&request("todos", docs, 2)).unwrap();
        assert_eq!(result.scanned, 4);
        assert_eq!(result.violating, 3);
        let ids: Vec<&str> = result.samples.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        assert!(result.notes.is_empty());
        let result =
            check_page(&request("todos", vec![json!({"text": "x", "more": 1})], 5)).unwrap();
        assert_eq!(result.samples[0].id, "#0");
    }

    #[test]
    fn check_page_notes_a_table_missing_from_the_schema() {
        let result = check_page(&request("ghosts", vec![json!({"anything": 1})], 5)).unwrap();
        assert_eq!(result.violating, 0);
        assert_eq!(result.notes, vec![TableNote::NotInSchema]);
    }

    #[test]
    fn check_page_notes_an_any_table_and_validation_off() {
        let mut req = request("blobs", vec![json!({"x": 1})], 5);
        req.schema["schemaValidation"] = json!(false);
        let result = check_page(&req).unwrap();
        assert_eq!(result.violating, 0);
        assert_eq!(
            result.notes,
            vec![
                TableNote::SchemaValidationOff,
                TableNote::NoDocumentValidator
            ]
        );
    }

    #[test]
    fn check_page_caps_violations_per_sample() {
        let mut doc = serde_json::Map::new();
        doc.insert("text".into(), json!("ok"));
        for i in 0..(MAX_VIOLATIONS_PER_SAMPLE + 7) {
            doc.insert(format!("extra{i}"), json!(i));
        }
        let result = check_page(&request("todos", vec![Value::Object(doc)], 1)).unwrap();
        assert_eq!(
            result.samples[0].violations.len(),
            MAX_VIOLATIONS_PER_SAMPLE
        );
        assert_eq!(result.samples[0].omitted, 7);
    }

    #[test]
    fn check_page_refuses_an_empty_table_name() {
        assert!(matches!(
            check_page(&request("", vec![], 1)),
            Err(EngineError::InvalidInput { .. })
        ));
    }

    #[test]
    fn check_page_judges_ids_by_the_deployment_answers() {
        let schema = json!({"tables": [
            {"tableName": "docs"},
            {"tableName": "t", "documentType": {"type": "object", "value": {
                "refs": {"fieldType": {"type": "array", "value": {"type": "id", "tableName": "t"}}, "optional": false}}}}
        ]});
        let documents = vec![
            json!({"_id": "right", "refs": ["t1", "t-deleted"]}),
            json!({"_id": "other", "refs": ["d1"]}),
            json!({"_id": "junk", "refs": ["a"]}),
        ];
        let answer = |value: &str, table: Option<&str>| IdAnswer {
            value: value.into(),
            table: table.map(str::to_string),
        };
        let mut req = PageCheckRequest {
            schema,
            table: "t".into(),
            documents,
            max_samples: 5,
            ids: vec![
                answer("t1", Some("t")),
                answer("t-deleted", Some("t")),
                answer("d1", Some("docs")),
            ],
        };
        // An unanswered string is an error naming it, not a verdict.
        let err = check_page(&req).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        req.ids.push(answer("a", None));
        let result = check_page(&req).unwrap();
        assert_eq!(result.violating, 2);
        let found: Vec<(&str, &str, &str)> = result
            .samples
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.violations[0].path.as_str(),
                    s.violations[0].found.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("other", "refs[0]", "an id of \"docs\": \"d1\""),
                ("junk", "refs[0]", "a string that is not an id: \"a\""),
            ]
        );
    }
}
