//! Checking documents against validators, explaining every violation.
//!
//! Two functions walk the same rules: `accepts_found` answers yes or no and
//! stops early (unions try each member with it), `check` explains. They agree:
//! `check` reports at least one violation exactly when `accepts_found` says
//! no, which the property tests pin.
//!
//! Both take the deployment's answers about ids ([`IdTables`]): a string
//! passes `v.id(table)` only when the deployment said it is an id of `table`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use super::describe::{describe_found, quote};
use super::ids::IdTables;
use super::value::{classify, Found};
use super::{Field, Literal, Validator};
use std::collections::BTreeMap;

/// One way a document departs from its validator.
///
/// `path` points into the document: `priority`, `tags[2]`, `address.city`,
/// `meta["key"]`; the empty string is the document itself. Field names that
/// are not plain identifiers use the bracket form, `["a.b"]`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Violation {
    /// Where in the document, e.g. `address.city`.
    pub path: String,
    /// What the validator wants there, e.g. `"high" | "low"` or `string`.
    pub expected: String,
    /// What the document holds there, e.g. `string "urgent"` or `missing`.
    pub found: String,
}

/// Check a value against a validator, explaining every violation.
///
/// This is the plain check for any value; a stored table document also
/// carries system fields, so use [`check_table_document`] for those.
/// `ids` holds what the deployment said about strings under `v.id(...)`.
pub fn check_document(validator: &Validator, doc: &Value, ids: &IdTables) -> Vec<Violation> {
    let mut out = Vec::new();
    check(validator, &classify(doc), "", false, ids, &mut out);
    out
}

/// Check a stored document of a table whose document type is
/// `document_type` (`None` when the table has no validator).
///
/// The system fields `_id` (a string) and `_creationTime` (a number) are
/// accepted on top of the document type, and may be absent.
pub fn check_table_document(
    document_type: Option<&Validator>,
    doc: &Value,
    ids: &IdTables,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let Value::Object(map) = doc else {
        out.push(Violation {
            path: String::new(),
            expected: "a document (an object)".into(),
            found: describe_found(&classify(doc)),
        });
        return out;
    };
    for (name, ok) in [
        ("_id", is_string as fn(&Found<'_>) -> bool),
        ("_creationTime", is_number),
    ] {
        if let Some(value) = map.get(name) {
            let found = classify(value);
            if !ok(&found) {
                let expected = if name == "_id" {
                    "string (the document id)"
                } else {
                    "number (ms since epoch)"
                };
                out.push(Violation {
                    path: name.into(),
                    expected: expected.into(),
                    found: describe_found(&found),
                });
            }
        }
    }
    if let Some(validator) = document_type {
        check(validator, &Found::Object(map), "", true, ids, &mut out);
    }
    out
}

fn is_string(found: &Found<'_>) -> bool {
    matches!(found, Found::String(_))
}

fn is_number(found: &Found<'_>) -> bool {
    matches!(found, Found::Number(_))
}

/// `_id` and `_creationTime`, which the exported document type leaves out.
fn is_system_field(name: &str) -> bool {
    name == "_id" || name == "_creationTime"
}

/// Whether `v` accepts `found`. `skip_system` is true at the top of a table
/// document, where the system fields are not the validator's business.
pub(crate) fn accepts_found(
    v: &Validator,
    found: &Found<'_>,
    skip_system: bool,
    ids: &IdTables,
) -> bool {
    match v {
        Validator::Any => true,
        Validator::String => matches!(found, Found::String(_)),
        Validator::Id { table } => matches!(found, Found::String(s) if ids.is_id_of(s, table)),
        Validator::Number => matches!(found, Found::Number(_)),
        Validator::Int64 | Validator::CommitTs => matches!(found, Found::Int64(_)),
        Validator::Boolean => matches!(found, Found::Boolean(_)),
        Validator::Null => matches!(found, Found::Null),
        Validator::Bytes => matches!(found, Found::Bytes(_)),
        Validator::Literal(literal) => literal_matches(literal, found),
        Validator::Array(element) => match found {
            Found::Array(items) => items
                .iter()
                .all(|item| accepts_found(element, &classify(item), false, ids)),
            _ => false,
        },
        Validator::Object(fields) => match found {
            Found::Object(map) => object_accepts(fields, map, skip_system, ids),
            _ => false,
        },
        Validator::Record { keys, values } => match found {
            Found::Object(map) => map
                .iter()
                .filter(|(k, _)| !(skip_system && is_system_field(k)))
                .all(|(k, value)| {
                    accepts_found(keys, &Found::String(k), false, ids)
                        && accepts_found(values, &classify(value), false, ids)
                }),
            _ => false,
        },
        Validator::Union(members) => members
            .iter()
            .any(|m| accepts_found(m, found, skip_system, ids)),
    }
}

fn object_accepts(
    fields: &BTreeMap<String, Field>,
    map: &Map<String, Value>,
    skip_system: bool,
    ids: &IdTables,
) -> bool {
    let fields_ok = fields.iter().all(|(name, field)| match map.get(name) {
        Some(value) => accepts_found(&field.validator, &classify(value), false, ids),
        None => field.optional,
    });
    fields_ok
        && map
            .keys()
            .all(|key| fields.contains_key(key) || (skip_system && is_system_field(key)))
}

pub(crate) fn literal_matches(literal: &Literal, found: &Found<'_>) -> bool {
    match (literal, found) {
        (Literal::String(a), Found::String(b)) => a == b,
        (Literal::Number(_), Found::Number(b)) => literal.same_as(&Literal::Number(*b)),
        (Literal::Int64(a), Found::Int64(b)) => a == b,
        (Literal::Boolean(a), Found::Boolean(b)) => a == b,
        _ => false,
    }
}

fn check(
    v: &Validator,
    found: &Found<'_>,
    path: &str,
    skip_system: bool,
    ids: &IdTables,
    out: &mut Vec<Violation>,
) {
    match (v, found) {
        (Validator::Any, _) => {}
        (Validator::Array(element), Found::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(
                    element,
                    &classify(item),
                    &index_path(path, i),
                    false,
                    ids,
                    out,
                );
            }
        }
        (Validator::Object(fields), Found::Object(map)) => {
            check_object(fields, map, path, skip_system, ids, out)
        }
        (Validator::Record { keys, values }, Found::Object(map)) => {
            for (key, value) in map.iter() {
                if skip_system && is_system_field(key) {
                    continue;
                }
                let key_place = key_path(path, key);
                if !accepts_found(keys, &Found::String(key), false, ids) {
                    out.push(Violation {
                        path: key_place.clone(),
                        expected: format!("key of type {}", keys.describe()),
                        found: if expects_id(keys) {
                            describe_key(key, ids)
                        } else {
                            format!("key {}", quote(key))
                        },
                    });
                }
                check(values, &classify(value), &key_place, false, ids, out);
            }
        }
        (Validator::Union(members), _) => {
            explain_union(v, members, found, path, skip_system, ids, out)
        }
        _ => {
            if !accepts_found(v, found, skip_system, ids) {
                out.push(mismatch(v, found, path, ids));
            }
        }
    }
}

fn check_object(
    fields: &BTreeMap<String, Field>,
    map: &Map<String, Value>,
    path: &str,
    skip_system: bool,
    ids: &IdTables,
    out: &mut Vec<Violation>,
) {
    for (name, field) in fields {
        match map.get(name) {
            Some(value) => check(
                &field.validator,
                &classify(value),
                &field_path(path, name),
                false,
                ids,
                out,
            ),
            None if !field.optional => out.push(Violation {
                path: field_path(path, name),
                expected: field.validator.describe(),
                found: "missing".into(),
            }),
            None => {}
        }
    }
    for (key, value) in map.iter() {
        if fields.contains_key(key) || (skip_system && is_system_field(key)) {
            continue;
        }
        out.push(Violation {
            path: field_path(path, key),
            expected: "absent (field not in the validator)".into(),
            found: describe_found(&classify(value)),
        });
    }
}

/// Explain a value no member of a union accepts.
///
/// When exactly one member could have been meant (the only object member, or
/// the one whose literal fields — the discriminator — match), its own
/// violations are more useful than "expected A | B", so they are reported
/// instead, at their deeper paths. Otherwise the union as a whole is reported.
fn explain_union(
    union: &Validator,
    members: &[Validator],
    found: &Found<'_>,
    path: &str,
    skip_system: bool,
    ids: &IdTables,
    out: &mut Vec<Violation>,
) {
    if members
        .iter()
        .any(|m| accepts_found(m, found, skip_system, ids))
    {
        return;
    }
    let mut leaves = Vec::new();
    flatten_union(members, &mut leaves);
    let mut candidates: Vec<&Validator> = leaves
        .into_iter()
        .filter(|m| same_container(m, found))
        .collect();
    if let Found::Object(map) = found {
        let discriminated: Vec<&Validator> = candidates
            .iter()
            .copied()
            .filter(|m| discriminated_by(m, map))
            .collect();
        if !discriminated.is_empty() {
            candidates = discriminated;
        }
    }
    match candidates.as_slice() {
        [only] => check(only, found, path, skip_system, ids, out),
        _ => out.push(mismatch(union, found, path, ids)),
    }
}

fn flatten_union<'a>(members: &'a [Validator], out: &mut Vec<&'a Validator>) {
    for member in members {
        match member {
            Validator::Union(inner) => flatten_union(inner, out),
            other => out.push(other),
        }
    }
}

/// Whether `v` is a container of the same shape as `found`, so that
/// explaining inside it makes sense.
fn same_container(v: &Validator, found: &Found<'_>) -> bool {
    matches!(
        (v, found),
        (
            Validator::Object(_) | Validator::Record { .. },
            Found::Object(_)
        ) | (Validator::Array(_), Found::Array(_))
    )
}

/// Whether the value carries an object member's discriminator: at least one
/// of its literal fields is present and equal, and none differs. A member
/// without literal fields is never picked this way, since nothing in the
/// value points to it.
fn discriminated_by(v: &Validator, map: &Map<String, Value>) -> bool {
    let Validator::Object(fields) = v else {
        return false;
    };
    let mut matched = false;
    for (name, field) in fields {
        if let Validator::Literal(literal) = &field.validator {
            match map.get(name) {
                Some(value) if literal_matches(literal, &classify(value)) => matched = true,
                None if field.optional => {}
                _ => return false,
            }
        }
    }
    matched
}

fn mismatch(v: &Validator, found: &Found<'_>, path: &str, ids: &IdTables) -> Violation {
    let found = match found {
        Found::String(s) if expects_id(v) => describe_string(s, ids),
        other => describe_found(other),
    };
    Violation {
        path: path.to_string(),
        expected: v.describe(),
        found,
    }
}

/// Whether a string in this place could be an id: `v.id(...)` or a union with
/// one. Elsewhere a string is described as a string, whatever else the page
/// holds.
fn expects_id(v: &Validator) -> bool {
    match v {
        Validator::Id { .. } => true,
        Validator::Union(members) => members.iter().any(expects_id),
        _ => false,
    }
}

/// A string, with what the deployment said about it when it stands where an
/// id is expected: `an id of "docs": "j57…"`, or
/// `a string that is not an id: "a"`.
fn describe_string(s: &str, ids: &IdTables) -> String {
    let plain = describe_found(&Found::String(s));
    match ids.answer(s) {
        Some(Some(table)) => format!("an id of {}: {}", quote(table), quoted_part(&plain)),
        Some(None) => format!("a string that is not an id: {}", quoted_part(&plain)),
        None => plain,
    }
}

/// A record key, described like [`describe_string`] but as a key.
fn describe_key(key: &str, ids: &IdTables) -> String {
    match ids.answer(key) {
        Some(Some(table)) => format!("key {} (an id of {})", quote(key), quote(table)),
        Some(None) => format!("key {} (not an id)", quote(key)),
        None => format!("key {}", quote(key)),
    }
}

/// The quoted text of `string "…"`.
fn quoted_part(described: &str) -> &str {
    described.strip_prefix("string ").unwrap_or(described)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `parent.name`, or `parent["name"]` when the name is not an identifier.
pub(crate) fn field_path(parent: &str, name: &str) -> String {
    if !is_identifier(name) {
        format!("{parent}[{}]", quote(name))
    } else if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Record entries always use the bracket form: `meta["key"]`.
fn key_path(parent: &str, key: &str) -> String {
    format!("{parent}[{}]", quote(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::parse_validator;
    use serde_json::json;

    fn todo_validator() -> Validator {
        parse_validator(
            &json!({"type": "object", "value": {
                "text": {"fieldType": {"type": "string"}, "optional": false},
                "priority": {"fieldType": {"type": "union", "value": [
                    {"type": "literal", "value": "high"}, {"type": "literal", "value": "low"}]}, "optional": true},
                "tags": {"fieldType": {"type": "array", "value": {"type": "string"}}, "optional": false},
                "address": {"fieldType": {"type": "object", "value": {
                    "city": {"fieldType": {"type": "string"}, "optional": false}}}, "optional": true},
                "meta": {"fieldType": {"type": "record", "keys": {"type": "string"},
                    "values": {"fieldType": {"type": "number"}, "optional": false}}, "optional": true},
                "owner": {"fieldType": {"type": "id", "tableName": "users"}, "optional": true},
                "count": {"fieldType": {"type": "bigint"}, "optional": true}
            }}),
            "",
        )
        .unwrap()
    }

    fn v(path: &str, expected: &str, found: &str) -> Violation {
        Violation {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    #[test]
    fn check_accepts_a_valid_document() {
        let doc = json!({"text": "a", "priority": "high", "tags": ["x"], "address": {"city": "Oslo"},
                         "meta": {"k": 1.5}, "owner": "j57abc", "count": {"$integer": "BwAAAAAAAAA="}});
        assert_eq!(check_document(&todo_validator(), &doc, &ids()), vec![]);
    }

    #[test]
    fn check_explains_every_violation_with_its_path() {
        let doc = json!({"priority": "urgent", "tags": ["x", "y", 3], "address": {"city": 1},
                         "meta": {"key": "no"}, "extra": true});
        assert_eq!(
            check_document(&todo_validator(), &doc, &ids()),
            vec![
                v("address.city", "string", "number 1"),
                v("meta[\"key\"]", "number", "string \"no\""),
                v("priority", "\"high\" | \"low\"", "string \"urgent\""),
                v("tags[2]", "string", "number 3"),
                v("text", "string", "missing"),
                v(
                    "extra",
                    "absent (field not in the validator)",
                    "boolean true"
                ),
            ]
        );
    }

    /// What the deployment would answer: `j57abc` is a user, `k99doc` a
    /// document of `docs`, `a` no id at all.
    fn ids() -> IdTables {
        let mut ids = IdTables::default();
        ids.insert("j57abc", Some("users".into()));
        ids.insert("k99doc", Some("docs".into()));
        ids.insert("a", None);
        ids
    }

    #[test]
    fn check_accepts_an_id_of_the_named_table_only() {
        let doc = json!({"text": "a", "tags": [], "owner": "j57abc"});
        assert_eq!(check_document(&todo_validator(), &doc, &ids()), vec![]);
        let doc = json!({"text": "a", "tags": [], "owner": "k99doc"});
        assert_eq!(
            check_document(&todo_validator(), &doc, &ids()),
            vec![v("owner", "id(\"users\")", "an id of \"docs\": \"k99doc\"")]
        );
        let doc = json!({"text": "a", "tags": [], "owner": "a"});
        assert_eq!(
            check_document(&todo_validator(), &doc, &ids()),
            vec![v(
                "owner",
                "id(\"users\")",
                "a string that is not an id: \"a\""
            )]
        );
        let doc = json!({"text": "a", "tags": [], "owner": 5});
        assert_eq!(
            check_document(&todo_validator(), &doc, &ids()),
            vec![v("owner", "id(\"users\")", "number 5")]
        );
    }

    #[test]
    fn check_finds_wrong_ids_in_arrays_record_keys_values_and_unions() {
        let users = Validator::Id {
            table: "users".into(),
        };
        let list = Validator::Array(Box::new(users.clone()));
        assert_eq!(
            check_document(&list, &json!(["j57abc", "a", "k99doc"]), &ids()),
            vec![
                v("[1]", "id(\"users\")", "a string that is not an id: \"a\""),
                v("[2]", "id(\"users\")", "an id of \"docs\": \"k99doc\""),
            ]
        );
        let by_user = Validator::Record {
            keys: Box::new(users.clone()),
            values: Box::new(users.clone()),
        };
        assert_eq!(
            check_document(
                &by_user,
                &json!({"j57abc": "k99doc", "a": "j57abc"}),
                &ids()
            ),
            vec![
                v(
                    "[\"a\"]",
                    "key of type id(\"users\")",
                    "key \"a\" (not an id)"
                ),
                v(
                    "[\"j57abc\"]",
                    "id(\"users\")",
                    "an id of \"docs\": \"k99doc\""
                ),
            ]
        );
        let either = Validator::Union(vec![
            users,
            Validator::Literal(Literal::String("none".into())),
        ]);
        assert_eq!(check_document(&either, &json!("none"), &ids()), vec![]);
        assert_eq!(check_document(&either, &json!("j57abc"), &ids()), vec![]);
        assert_eq!(
            check_document(&either, &json!("k99doc"), &ids()),
            vec![v(
                "",
                "id(\"users\") | \"none\"",
                "an id of \"docs\": \"k99doc\""
            )]
        );
    }

    #[test]
    fn check_tells_int64_from_number() {
        let doc = json!({"text": "a", "tags": [], "count": 7});
        assert_eq!(
            check_document(&todo_validator(), &doc, &ids()),
            vec![v("count", "int64", "number 7")]
        );
    }

    #[test]
    fn check_explains_inside_the_union_member_the_discriminator_picks() {
        let events = parse_validator(
            &json!({"type": "union", "value": [
                {"type": "object", "value": {"kind": {"fieldType": {"type": "literal", "value": "click"}, "optional": false},
                                             "x": {"fieldType": {"type": "number"}, "optional": false}}},
                {"type": "object", "value": {"kind": {"fieldType": {"type": "literal", "value": "view"}, "optional": false},
                                             "page": {"fieldType": {"type": "string"}, "optional": false}}}]}),
            "",
        )
        .unwrap();
        assert_eq!(
            check_document(&events, &json!({"kind": "view", "page": 3}), &ids()),
            vec![v("page", "string", "number 3")]
        );
        let unknown = check_document(&events, &json!({"kind": "scroll"}), &ids());
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].path, "");
        assert_eq!(
            unknown[0].expected,
            "object {kind, x} | object {kind, page}"
        );
    }

    #[test]
    fn check_table_document_accepts_system_fields() {
        let doc = json!({"_id": "j57", "_creationTime": 1.7e12, "text": "a", "tags": []});
        assert_eq!(
            check_table_document(Some(&todo_validator()), &doc, &ids()),
            vec![]
        );
        // Without the table's context the system fields are extra fields.
        assert_eq!(check_document(&todo_validator(), &doc, &ids()).len(), 2);
        let bad = json!({"_id": 1, "_creationTime": "x", "text": "a", "tags": []});
        let found: Vec<String> = check_table_document(Some(&todo_validator()), &bad, &ids())
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(found, vec!["_id", "_creationTime"]);
    }

    #[test]
    fn check_table_document_accepts_system_fields_on_union_and_record_tables() {
        let events = parse_validator(
            &json!({"type": "union", "value": [
                {"type": "object", "value": {"kind": {"fieldType": {"type": "literal", "value": "a"}, "optional": false}}},
                {"type": "object", "value": {"kind": {"fieldType": {"type": "literal", "value": "b"}, "optional": false}}}]}),
            "",
        )
        .unwrap();
        let doc = json!({"_id": "x", "_creationTime": 1.0, "kind": "b"});
        assert_eq!(check_table_document(Some(&events), &doc, &ids()), vec![]);
        let bad = json!({"_id": "x", "_creationTime": 1.0, "kind": "b", "other": 1});
        assert_eq!(
            check_table_document(Some(&events), &bad, &ids()),
            vec![v(
                "other",
                "absent (field not in the validator)",
                "number 1"
            )]
        );
        let counters = Validator::Record {
            keys: Box::new(Validator::String),
            values: Box::new(Validator::Number),
        };
        let doc = json!({"_id": "x", "_creationTime": 1.0, "hits": 3});
        assert_eq!(check_table_document(Some(&counters), &doc, &ids()), vec![]);
        let int_time = json!({"_id": "x", "_creationTime": {"$integer": "BwAAAAAAAAA="}});
        assert_eq!(
            check_table_document(Some(&counters), &int_time, &ids()),
            vec![v("_creationTime", "number (ms since epoch)", "int64 7")]
        );
    }

    #[test]
    fn check_table_document_refuses_a_non_object() {
        let out = check_table_document(None, &json!([1]), &ids());
        assert_eq!(out, vec![v("", "a document (an object)", "array (1 item)")]);
    }

    #[test]
    fn check_quotes_field_names_that_are_not_identifiers() {
        assert_eq!(field_path("a", "b c"), "a[\"b c\"]");
        assert_eq!(field_path("", "ok_1"), "ok_1");
        assert_eq!(key_path("meta", "k"), "meta[\"k\"]");
    }

    #[test]
    fn check_literal_numbers_compare_by_value() {
        let three = Validator::Literal(Literal::Number(3.0));
        assert_eq!(check_document(&three, &json!(3), &ids()), vec![]);
        assert_eq!(check_document(&three, &json!(3.0), &ids()), vec![]);
        assert_eq!(check_document(&three, &json!(4), &ids()).len(), 1);
    }
}
