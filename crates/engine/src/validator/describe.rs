//! Short human forms of validators and values, for violations and diffs.
//!
//! They follow the TypeScript a Convex developer wrote: `"high" | "low"`,
//! `id("users")`, `7n`, `array of string`. Long forms are cut so that one
//! violation stays one line.

use super::value::Found;
use super::{Literal, Validator};

/// Longest description kept before it is cut with `…`.
const MAX_DESCRIPTION_CHARS: usize = 160;
/// Longest string value quoted in full in a `found` description.
const MAX_QUOTED_CHARS: usize = 40;
/// Object fields listed in a description before `…`.
const MAX_LISTED_FIELDS: usize = 6;

pub(crate) fn describe_validator(validator: &Validator) -> String {
    cut(&describe_inner(validator, false), MAX_DESCRIPTION_CHARS)
}

/// `nested` is true inside `array of …` and `record<…>`, where a union needs
/// parentheses to read right.
fn describe_inner(validator: &Validator, nested: bool) -> String {
    match validator {
        Validator::String => "string".into(),
        Validator::Number => "number".into(),
        Validator::Int64 => "int64".into(),
        Validator::CommitTs => "commitTs".into(),
        Validator::Boolean => "boolean".into(),
        Validator::Null => "null".into(),
        Validator::Bytes => "bytes".into(),
        Validator::Any => "any".into(),
        Validator::Id { table } => format!("id({})", quote(table)),
        Validator::Literal(literal) => describe_literal(literal),
        Validator::Array(element) => format!("array of {}", describe_inner(element, true)),
        Validator::Object(fields) => {
            let mut names: Vec<String> = fields
                .iter()
                .take(MAX_LISTED_FIELDS)
                .map(|(name, field)| {
                    if field.optional {
                        format!("{name}?")
                    } else {
                        name.clone()
                    }
                })
                .collect();
            if fields.len() > MAX_LISTED_FIELDS {
                names.push("…".into());
            }
            if names.is_empty() {
                "object {}".into()
            } else {
                format!("object {{{}}}", names.join(", "))
            }
        }
        Validator::Record { keys, values } => {
            format!(
                "record<{}, {}>",
                describe_inner(keys, true),
                describe_inner(values, true)
            )
        }
        Validator::Union(members) => {
            if members.is_empty() {
                return "never (empty union)".into();
            }
            let joined = members
                .iter()
                .map(|m| describe_inner(m, true))
                .collect::<Vec<_>>()
                .join(" | ");
            if nested && members.len() > 1 {
                format!("({joined})")
            } else {
                joined
            }
        }
    }
}

pub(crate) fn describe_literal(literal: &Literal) -> String {
    match literal {
        Literal::String(s) => quote(s),
        Literal::Number(f) => describe_number(*f),
        Literal::Int64(i) => format!("{i}n"),
        Literal::Boolean(b) => b.to_string(),
    }
}

/// What a document holds at a place, e.g. `string "urgent"` or `int64 7`.
pub(crate) fn describe_found(found: &Found<'_>) -> String {
    match found {
        Found::Null => "null".into(),
        Found::Number(f) => format!("number {}", describe_number(*f)),
        Found::Int64(i) => format!("int64 {i}"),
        Found::Boolean(b) => format!("boolean {b}"),
        Found::String(s) => format!("string {}", quote(&cut(s, MAX_QUOTED_CHARS))),
        Found::Bytes(n) => format!("bytes ({n} bytes)"),
        Found::Array(items) => match items.len() {
            1 => "array (1 item)".into(),
            n => format!("array ({n} items)"),
        },
        Found::Object(map) => {
            let mut names: Vec<&str> = map
                .keys()
                .take(MAX_LISTED_FIELDS)
                .map(String::as_str)
                .collect();
            if map.len() > MAX_LISTED_FIELDS {
                names.push("…");
            }
            format!("object {{{}}}", names.join(", "))
        }
        Found::Malformed(what) => format!("malformed {what}"),
    }
}

fn describe_number(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f == 0.0 && f.is_sign_negative() {
        "-0".into()
    } else {
        // Rust prints integral floats without a fraction (`3`), like JS.
        format!("{f}")
    }
}

/// A string as a JSON literal, quotes and escapes included.
pub(crate) fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// Cut `text` to at most `max` characters, marking the cut with `…`.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::Field;
    use std::collections::BTreeMap;

    #[test]
    fn describe_union_of_literals_reads_like_typescript() {
        let v = Validator::Union(vec![
            Validator::Literal(Literal::String("high".into())),
            Validator::Literal(Literal::String("low".into())),
        ]);
        assert_eq!(v.describe(), r#""high" | "low""#);
        assert_eq!(
            Validator::Array(Box::new(v)).describe(),
            r#"array of ("high" | "low")"#
        );
    }

    #[test]
    fn describe_names_ids_records_and_objects() {
        assert_eq!(
            Validator::Id {
                table: "users".into()
            }
            .describe(),
            r#"id("users")"#
        );
        let rec = Validator::Record {
            keys: Box::new(Validator::String),
            values: Box::new(Validator::Number),
        };
        assert_eq!(rec.describe(), "record<string, number>");
        let mut fields = BTreeMap::new();
        fields.insert(
            "city".to_string(),
            Field {
                validator: Validator::String,
                optional: false,
            },
        );
        fields.insert(
            "zip".to_string(),
            Field {
                validator: Validator::String,
                optional: true,
            },
        );
        assert_eq!(Validator::Object(fields).describe(), "object {city, zip?}");
        assert_eq!(Validator::Literal(Literal::Int64(7)).describe(), "7n");
        assert_eq!(Validator::Literal(Literal::Number(3.0)).describe(), "3");
    }

    #[test]
    fn describe_found_quotes_and_cuts_long_strings() {
        let long = "x".repeat(100);
        let d = describe_found(&Found::String(&long));
        assert!(d.starts_with("string \"xxx"));
        assert!(d.chars().count() < 60);
        assert_eq!(describe_found(&Found::Number(2.5)), "number 2.5");
        assert_eq!(
            describe_found(&Found::Number(f64::NEG_INFINITY)),
            "number -Infinity"
        );
    }
}
