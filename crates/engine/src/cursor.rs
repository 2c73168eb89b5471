//! What a pagination cursor says about where it points.
//!
//! Convex's own cursors are opaque, and Convex refuses one that belongs to
//! another query. The positional cursors of convex-test and of
//! convex-helpers' paginator (which `@convex-dev/migrations` 0.3.5+ stores)
//! are a JSON array of the index key of the last document read, ending with
//! its `_id`; they parse under any query of any table, so a cursor from
//! another table would silently start at an arbitrary place. Reading the id
//! out of such a cursor lets the caller check its table.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

use crate::json_text::{self, Item};
use crate::EngineError;

/// The cursor to read.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CursorRequest {
    pub cursor: String,
    /// The fields of the index the walk uses, without the `_creationTime`
    /// and `_id` every index ends with: empty for a walk in creation order,
    /// absent when the caller cannot tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub index_fields: Option<Vec<String>>,
}

/// Where a cursor points, as far as its text tells.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CursorPosition {
    /// The `_id` of the document the cursor stopped at, for a positional
    /// cursor; absent for an opaque one, which only the runtime can judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub document_id: Option<String>,
    /// Whether a positional cursor has one key per field of the walked
    /// index (its fields, then `_creationTime` and `_id`); absent when
    /// either is unknown. A cursor of another index of the same table does
    /// not fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub fits_index: Option<bool>,
}

/// Reads the document id out of a positional cursor. Each key is either the
/// value itself or, in convex-test's form, the value's JSON text; the last
/// key is the `_id`, a string.
pub fn cursor_position(req: &CursorRequest) -> Result<CursorPosition, EngineError> {
    let Some(keys) = json_text::array_items(&req.cursor) else {
        return Ok(CursorPosition {
            document_id: None,
            fits_index: None,
        });
    };
    let document_id = match keys.last() {
        Some(Item::Str(last)) => Some(json_text::string(last).unwrap_or_else(|| last.clone())),
        _ => None,
    };
    let fits_index = match (&document_id, &req.index_fields) {
        (Some(_), Some(fields)) => Some(keys.len() == fields.len().saturating_add(2)),
        _ => None,
    };
    Ok(CursorPosition {
        document_id,
        fits_index,
    })
}

/// A batch's walk over an index and the fields its patches changed.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct IndexWalkRequest {
    pub table: String,
    /// The index `customRange` walks, e.g. `by_n`.
    pub index: String,
    /// Its fields, as the schema declares them (dotted paths).
    pub index_fields: Vec<String>,
    /// Top-level fields some patch of the batch set to a different value.
    pub changed_fields: Vec<String>,
}

/// Refuses a batch whose patches moved documents within the index being
/// walked: the walk would meet them again further on (a migration that keeps
/// moving its documents never ends). A changed field `a` moves the index
/// fields `a` and `a.b`.
pub fn check_index_walk(req: &IndexWalkRequest) -> Result<(), EngineError> {
    let moved: Vec<&str> = req
        .index_fields
        .iter()
        .filter(|field| {
            req.changed_fields.iter().any(|changed| {
                field.as_str() == changed
                    || field
                        .strip_prefix(changed.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        })
        .map(String::as_str)
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    Err(EngineError::PatchMovesWalkedIndex {
        table: req.table.clone(),
        index: req.index.clone(),
        fields: moved.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(index_fields: &[&str], changed: &[&str]) -> Result<(), EngineError> {
        check_index_walk(&IndexWalkRequest {
            table: "items".into(),
            index: "by_n".into(),
            index_fields: index_fields.iter().map(|f| f.to_string()).collect(),
            changed_fields: changed.iter().map(|f| f.to_string()).collect(),
        })
    }

    #[test]
    fn check_index_walk_refuses_a_patch_of_a_walked_field_naming_it() {
        let err = walk(&["n", "_creationTime"], &["label", "n"]).unwrap_err();
        assert_eq!(
            err,
            EngineError::PatchMovesWalkedIndex {
                table: "items".into(),
                index: "by_n".into(),
                fields: "n".into()
            }
        );
        assert!(err.to_string().contains("would be visited again"));
        assert!(err.hint().contains("without customRange"));
    }

    #[test]
    fn check_index_walk_sees_a_nested_field_moved_by_its_parent() {
        assert!(walk(&["meta.rank"], &["meta"]).is_err());
        assert!(walk(&["metadata"], &["meta"]).is_ok());
    }

    #[test]
    fn check_index_walk_allows_patches_of_other_fields() {
        assert_eq!(walk(&["done"], &["priority", "counter"]), Ok(()));
        assert_eq!(walk(&["done"], &[]), Ok(()));
    }

    fn id_of(cursor: &str) -> Option<String> {
        cursor_position(&CursorRequest {
            cursor: cursor.into(),
            index_fields: None,
        })
        .unwrap()
        .document_id
    }

    fn fits(cursor: &str, fields: Option<&[&str]>) -> Option<bool> {
        cursor_position(&CursorRequest {
            cursor: cursor.into(),
            index_fields: fields.map(|f| f.iter().map(|s| s.to_string()).collect()),
        })
        .unwrap()
        .fits_index
    }

    #[test]
    fn cursor_position_tells_whether_a_cursor_fits_the_walked_index() {
        let by_creation = r#"["1764600000000.5","\"10001;todos\""]"#;
        let by_done = r#"["false","1764600000000.5","\"10001;todos\""]"#;
        assert_eq!(fits(by_creation, Some(&[])), Some(true));
        assert_eq!(fits(by_done, Some(&["done"])), Some(true));
        assert_eq!(fits(by_done, Some(&[])), Some(false));
        assert_eq!(fits(by_creation, Some(&["done"])), Some(false));
        assert_eq!(fits(by_done, None), None);
        assert_eq!(fits("opaque", Some(&[])), None);
    }

    #[test]
    fn cursor_position_reads_the_id_of_a_convex_test_cursor() {
        assert_eq!(
            id_of(r#"["1764600000000.5","\"10001;todos\""]"#).as_deref(),
            Some("10001;todos")
        );
    }

    #[test]
    fn cursor_position_reads_the_id_of_a_paginator_cursor() {
        assert_eq!(
            id_of(r#"[false,1764600000000.5,"k57abc"]"#).as_deref(),
            Some("k57abc")
        );
    }

    #[test]
    fn cursor_position_knows_nothing_of_an_opaque_cursor() {
        for cursor in [
            "",
            "not-a-cursor",
            "_end_cursor",
            "{}",
            "[]",
            "[1,2]",
            "[\"a\",3]",
        ] {
            assert_eq!(id_of(cursor), None, "{cursor}");
        }
    }
}
