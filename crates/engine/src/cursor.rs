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

use crate::EngineError;

/// The cursor to read.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CursorRequest {
    pub cursor: String,
}

/// Where a cursor points, as far as its text tells.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CursorPosition {
    /// The `_id` of the document the cursor stopped at, for a positional
    /// cursor; absent for an opaque one, which only the runtime can judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub document_id: Option<String>,
}

/// Reads the document id out of a positional cursor. Each key is either the
/// value itself or, in convex-test's form, the value's JSON text; the last
/// key is the `_id`, a string.
pub fn cursor_position(req: &CursorRequest) -> Result<CursorPosition, EngineError> {
    let Ok(serde_json::Value::Array(keys)) = serde_json::from_str(&req.cursor) else {
        return Ok(CursorPosition { document_id: None });
    };
    let document_id = match keys.last() {
        Some(serde_json::Value::String(last)) => match serde_json::from_str(last) {
            Ok(serde_json::Value::String(inner)) => Some(inner),
            _ => Some(last.clone()),
        },
        _ => None,
    };
    Ok(CursorPosition { document_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(cursor: &str) -> Option<String> {
        cursor_position(&CursorRequest {
            cursor: cursor.into(),
        })
        .unwrap()
        .document_id
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
