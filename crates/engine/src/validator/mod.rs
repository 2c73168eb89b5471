//! Convex validators, read from the JSON that `defineSchema(...).export()`
//! produces, and checked against documents in Convex's JSON encoding.
//!
//! The component calls [`check_page`] once per page of documents (one Wasm
//! call per page, never per document). Checks explain every violation they
//! find, each with a path into the document, what the validator expected and
//! what the document holds, so a person can write the migration that fixes
//! the data.
//!
//! Choices a newcomer might question:
//! - `v.id("users")` accepts a string only when the deployment says it is an
//!   id of `users`. A Convex id encodes the table's internal number, not its
//!   name, so the engine cannot tell by itself: [`page_id_questions`] lists
//!   the strings to look up and the query answers them with `normalizeId`
//!   (see the `ids` module).
//! - The system fields `_id` (a string) and `_creationTime` (a number) are
//!   accepted on every table document and may be absent, because the exported
//!   document type omits them and callers may strip them.
//! - A table missing from the schema is not validated by Convex ("documents in
//!   tables the schema doesn't list are never validated"), so [`check_page`]
//!   reports it once as a [`TableNote`] rather than flagging each document.

mod check;
mod decode;
mod describe;
mod ids;
mod page;
mod value;

pub(crate) use check::field_path;
pub use check::{check_document, check_table_document, Violation};
pub use decode::parse_validator;
pub use ids::{
    page_id_questions, IdAnswer, IdQuestion, IdTable, IdTables, PageIdQuestions, SYSTEM_TABLES,
};
pub use page::{
    check_page, parse_schema, DocumentViolations, IndexDef, PageCheckRequest, PageCheckResult,
    SchemaModel, SearchIndexDef, TableNote, TableSchema, VectorIndexDef, MAX_VIOLATIONS_PER_SAMPLE,
};

use std::collections::BTreeMap;

/// One Convex validator, as `v.*` builds it.
///
/// Optionality is not a validator of its own: Convex records it on the
/// object field that holds the value (see [`Field`]), and so does this model.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// `v.string()`.
    String,
    /// `v.number()` / `v.float64()`; exported as `{"type": "number"}`.
    Number,
    /// `v.int64()`; exported as `{"type": "bigint"}`.
    Int64,
    /// `v.commitTs()`: an int64 the database fills in at commit time.
    CommitTs,
    /// `v.boolean()`.
    Boolean,
    /// `v.null()`.
    Null,
    /// `v.bytes()`: an `ArrayBuffer`, `{"$bytes": base64}` in JSON.
    Bytes,
    /// `v.any()`.
    Any,
    /// `v.id(table)`. A string passes when the deployment says it is an id of
    /// `table` (see the module docs).
    Id {
        /// The table the id should point into.
        table: String,
    },
    /// `v.literal(value)`.
    Literal(Literal),
    /// `v.array(element)`.
    Array(Box<Validator>),
    /// `v.object({...})`. Convex objects are strict: extra fields are rejected.
    Object(BTreeMap<String, Field>),
    /// `v.record(keys, values)`.
    Record {
        /// Validator every key must pass (a string, id or union of them).
        keys: Box<Validator>,
        /// Validator every value must pass.
        values: Box<Validator>,
    },
    /// `v.union(...members)`: a value passes when any member accepts it.
    Union(Vec<Validator>),
}

/// One field of an object validator.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's validator.
    pub validator: Validator,
    /// `true` for `v.optional(...)`: the field may be absent (never `null`).
    pub optional: bool,
}

/// The value of a `v.literal(...)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string literal.
    String(String),
    /// A number literal (a float64).
    Number(f64),
    /// A bigint literal, `{"$integer": base64}` in JSON.
    Int64(i64),
    /// `true` or `false`.
    Boolean(bool),
}

impl Literal {
    /// Literal equality as the database sees it: floats compare by their bits
    /// (so `-0` differs from `0`), and every NaN equals every other NaN.
    pub fn same_as(&self, other: &Literal) -> bool {
        match (self, other) {
            (Literal::Number(a), Literal::Number(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            _ => self == other,
        }
    }
}

impl Validator {
    /// A short human form such as `"high" | "low"`, `id("users")` or
    /// `array of string`, used in violations and diff details.
    pub fn describe(&self) -> String {
        describe::describe_validator(self)
    }
}
