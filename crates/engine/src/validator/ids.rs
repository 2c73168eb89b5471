//! Which table a string under `v.id(table)` belongs to.
//!
//! A Convex id encodes its table's internal number, not its name, so the
//! engine cannot read an id's table from the string. The deployment can:
//! `ctx.db.normalizeId(table, value)` returns the id when `value` is an id of
//! `table` (a deleted document's id still is) and `null` otherwise. So a page
//! check is two engine calls around one database step:
//!
//! 1. [`page_id_questions`] lists every distinct string the page holds where a
//!    validator expects an id, with the tables to try, in order: the tables
//!    the validators name first, then the schema's other tables, then the
//!    system tables.
//! 2. The query asks `normalizeId` for each table until one accepts the
//!    string, and passes the answers ([`IdAnswer`]) to the page check.
//!
//! The walk that finds the questions visits every union member, so a string a
//! union could take as an id is asked about even if another member accepts it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use ts_rs::TS;

use super::page::{parse_schema, PageCheckRequest};
use super::value::{classify, Found};
use super::Validator;
use crate::EngineError;

/// The system tables an id may point into; read with `ctx.db.system`.
pub const SYSTEM_TABLES: &[&str] = &["_storage", "_scheduled_functions"];

/// One string found where an id is expected, and where to look it up.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IdQuestion {
    /// The string as the document holds it.
    pub value: String,
    /// Tables to try with `normalizeId`, in order; stop at the first that
    /// accepts the string.
    pub tables: Vec<IdTable>,
}

/// A table to try an id against.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IdTable {
    /// The table's name.
    pub table: String,
    /// A system table (`_storage`, `_scheduled_functions`): look it up with
    /// `ctx.db.system.normalizeId`.
    pub system: bool,
}

/// What [`page_id_questions`] returns for one page.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PageIdQuestions {
    /// Each distinct string once, in sorted order.
    pub questions: Vec<IdQuestion>,
}

/// The deployment's answer for one [`IdQuestion`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IdAnswer {
    /// The string asked about.
    pub value: String,
    /// The table it is an id of, or `null` when none of the tables tried
    /// accepted it.
    pub table: Option<String>,
}

/// The answers, by string: the table each is an id of, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdTables {
    by_value: BTreeMap<String, Option<String>>,
}

impl IdTables {
    /// Index the deployment's answers. A string answered twice keeps its
    /// first answer.
    pub fn new(answers: &[IdAnswer]) -> Self {
        let mut by_value = BTreeMap::new();
        for answer in answers {
            by_value
                .entry(answer.value.clone())
                .or_insert_with(|| answer.table.clone());
        }
        IdTables { by_value }
    }

    /// Record that `value` is an id of `table` (`None`: of no table).
    pub fn insert(&mut self, value: impl Into<String>, table: Option<String>) {
        self.by_value.insert(value.into(), table);
    }

    /// Whether `value` is known to be an id of `table`. A string nobody
    /// answered for is not known to be an id of anything.
    pub(crate) fn is_id_of(&self, value: &str, table: &str) -> bool {
        matches!(self.by_value.get(value), Some(Some(t)) if t == table)
    }

    /// The answer for `value`: `Some(Some(table))`, `Some(None)` for a string
    /// that is not an id, `None` when nobody answered.
    pub(crate) fn answer(&self, value: &str) -> Option<Option<&str>> {
        self.by_value.get(value).map(Option::as_deref)
    }
}

/// Every string under an id validator in `found`, with the tables named.
/// `skip_system` as in the checks: the top of a table document, whose system
/// fields the validator does not describe.
pub(crate) fn collect(
    v: &Validator,
    found: &Found<'_>,
    skip_system: bool,
    out: &mut BTreeMap<String, BTreeSet<String>>,
) {
    match (v, found) {
        (Validator::Id { table }, Found::String(s)) => {
            out.entry((*s).to_string())
                .or_default()
                .insert(table.clone());
        }
        (Validator::Array(element), Found::Array(items)) => {
            for item in items.iter() {
                collect(element, &classify(item), false, out);
            }
        }
        (Validator::Object(fields), Found::Object(map)) => {
            for (name, field) in fields {
                if let Some(value) = map.get(name) {
                    collect(&field.validator, &classify(value), false, out);
                }
            }
        }
        (Validator::Record { keys, values }, Found::Object(map)) => {
            for (key, value) in map.iter() {
                if skip_system && (key == "_id" || key == "_creationTime") {
                    continue;
                }
                collect(keys, &Found::String(key), false, out);
                collect(values, &classify(value), false, out);
            }
        }
        (Validator::Union(members), _) => {
            for member in members {
                collect(member, found, skip_system, out);
            }
        }
        _ => {}
    }
}

/// Strings in a page of documents that the deployment must look up as ids.
///
/// Reads the same request as the page check (`ids` and `maxSamples` are not
/// used). A table the schema does not list, or lists without a validator,
/// has nothing to ask.
pub fn page_id_questions(req: &PageCheckRequest) -> Result<PageIdQuestions, EngineError> {
    let model = parse_schema(&req.schema)?;
    let Some(document_type) = model
        .table(&req.table)
        .and_then(|t| t.document_type.as_ref())
    else {
        return Ok(PageIdQuestions {
            questions: Vec::new(),
        });
    };
    let asked = collect_page(document_type, &req.documents);
    let schema_tables: Vec<&str> = model.tables.iter().map(|t| t.table.as_str()).collect();
    let questions = asked
        .into_iter()
        .map(|(value, named)| {
            let mut order: Vec<&str> = named.iter().map(String::as_str).collect();
            for table in schema_tables.iter().chain(SYSTEM_TABLES) {
                if !order.contains(table) {
                    order.push(table);
                }
            }
            IdQuestion {
                value,
                tables: order
                    .into_iter()
                    .map(|table| IdTable {
                        table: table.to_string(),
                        system: table.starts_with('_'),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(PageIdQuestions { questions })
}

/// The id strings of every object document in the page.
pub(crate) fn collect_page(
    document_type: &Validator,
    documents: &[Value],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut asked = BTreeMap::new();
    for doc in documents {
        if let Value::Object(map) = doc {
            collect(document_type, &Found::Object(map), true, &mut asked);
        }
    }
    asked
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(documents: Vec<Value>) -> PageCheckRequest {
        PageCheckRequest {
            schema: json!({"tables": [
                {"tableName": "docs"},
                {"tableName": "t", "documentType": {"type": "object", "value": {
                    "owner": {"fieldType": {"type": "id", "tableName": "t"}, "optional": true},
                    "files": {"fieldType": {"type": "array", "value": {"type": "id", "tableName": "_storage"}}, "optional": true},
                    "byDoc": {"fieldType": {"type": "record", "keys": {"type": "id", "tableName": "docs"},
                              "values": {"fieldType": {"type": "id", "tableName": "t"}, "optional": false}}, "optional": true},
                    "either": {"fieldType": {"type": "union", "value": [
                        {"type": "literal", "value": "none"},
                        {"type": "object", "value": {"ref": {"fieldType": {"type": "id", "tableName": "docs"}, "optional": false}}}]},
                        "optional": true}
                }}}
            ]}),
            table: "t".into(),
            documents,
            max_samples: 3,
            ids: Vec::new(),
        }
    }

    #[test]
    fn page_id_questions_finds_ids_at_every_depth() {
        let docs = vec![
            json!({"_id": "self", "owner": "o1", "files": ["f1", "f2"], "byDoc": {"k1": "v1"}}),
            json!({"owner": "o1", "either": {"ref": "r1"}, "text": "not asked"}),
            json!({"either": "none"}),
        ];
        let got = page_id_questions(&request(docs)).unwrap();
        let values: Vec<&str> = got.questions.iter().map(|q| q.value.as_str()).collect();
        assert_eq!(values, vec!["f1", "f2", "k1", "o1", "r1", "v1"]);
        let tables = |value: &str| -> Vec<String> {
            let q = got.questions.iter().find(|q| q.value == value).unwrap();
            q.tables.iter().map(|t| t.table.clone()).collect()
        };
        assert_eq!(
            tables("o1"),
            vec!["t", "docs", "_storage", "_scheduled_functions"]
        );
        assert_eq!(
            tables("f1"),
            vec!["_storage", "docs", "t", "_scheduled_functions"]
        );
        assert_eq!(tables("k1")[0], "docs");
        assert!(got.questions[0].tables[0].system);
        assert!(!got.questions[0].tables[1].system);
    }

    #[test]
    fn page_id_questions_asks_nothing_for_tables_without_validators() {
        let mut req = request(vec![json!({"owner": "o1"})]);
        req.table = "docs".into();
        assert!(page_id_questions(&req).unwrap().questions.is_empty());
        req.table = "ghosts".into();
        assert!(page_id_questions(&req).unwrap().questions.is_empty());
    }

    #[test]
    fn id_tables_keep_the_first_answer() {
        let ids = IdTables::new(&[
            IdAnswer {
                value: "a".into(),
                table: Some("t".into()),
            },
            IdAnswer {
                value: "a".into(),
                table: None,
            },
        ]);
        assert!(ids.is_id_of("a", "t"));
        assert!(!ids.is_id_of("a", "docs"));
        assert!(!ids.is_id_of("b", "t"));
        assert_eq!(ids.answer("b"), None);
    }
}
