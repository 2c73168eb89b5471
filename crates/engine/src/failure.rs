//! Which kind of failure a batch met, judged from the error's message: a
//! Convex transaction limit (retry smaller), a lost write race (retry the
//! same batch), or an error in the migration's own code (stop and report).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use wire::Wire;

/// Why a batch did not commit; decides between retrying and failing.
#[derive(Serialize, Wire, Deserialize, Debug, Clone, Copy, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum FailureKind {
    /// The batch exceeded a transaction limit: a smaller batch may fit.
    Limit,
    /// The batch conflicted with concurrent writes: the same batch may
    /// succeed when retried.
    Occ,
    /// The user's `migrateOne` threw: retrying would throw again.
    User,
    /// The deployed code is not the code the run was planned with (a
    /// redeploy mid-run): going on would mix two versions over one table.
    CodeChanged,
}

impl FailureKind {
    /// The serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Limit => "limit",
            FailureKind::Occ => "occ",
            FailureKind::User => "user",
            FailureKind::CodeChanged => "codeChanged",
        }
    }
}

/// Phrases Convex uses when a function exceeds a per-transaction limit
/// (documents or bytes read or written, index ranges, execution time).
const LIMIT_PHRASES: &[&str] = &[
    "in a single function execution",
    "this is a convex limit",
    "transaction limit",
    "function execution timed out",
    "execution time limit",
    "too many documents read",
    "too many reads",
    "too many writes",
    "too many bytes",
    "too many index ranges",
    "read too much data",
    "wrote too much data",
];

/// Phrases of an optimistic-concurrency conflict: another transaction wrote
/// what this one read; running the same batch again is the fix.
const OCC_PHRASES: &[&str] = &[
    "optimisticconcurrencycontrolfailure",
    "changed while this mutation was being run",
    "occ conflict",
];

/// The code a batch throws with when the deployed migration is not the code
/// its run was planned with.
pub const CODE_CHANGED: &str = "CODE_CHANGED";

/// Classify a failed batch from its error's code (when it threw a coded
/// error) and message. Unknown messages are the migration's own errors:
/// retrying them would fail the same way.
pub fn classify(message: &str, code: Option<&str>) -> FailureKind {
    if code == Some(CODE_CHANGED) {
        return FailureKind::CodeChanged;
    }
    // ASCII case folding: the phrases are ASCII, and full Unicode folding
    // would put its case tables (about 11 KB) into the batch-path module.
    let lower = message.to_ascii_lowercase();
    if LIMIT_PHRASES.iter().any(|p| has_phrase(&lower, p)) {
        FailureKind::Limit
    } else if OCC_PHRASES.iter().any(|p| has_phrase(&lower, p)) {
        FailureKind::Occ
    } else {
        FailureKind::User
    }
}

/// Whether `phrase` occurs in `text`. A plain scan: messages are short, and
/// `str::contains`'s two-way searcher costs the batch-path module 3 KB.
fn has_phrase(text: &str, phrase: &str) -> bool {
    phrase.is_empty()
        || text
            .as_bytes()
            .windows(phrase.len())
            .any(|window| window == phrase.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_recognises_each_convex_limit_message() {
        for m in [
            "Scanned too many documents in a single function execution (limit: 32000). This is a Convex limit: https://docs.convex.dev/production/state/limits",
            "Read too much data in a single function execution (limit: 16777216 bytes).",
            "Wrote too many documents in a single function execution (limit: 16000).",
            "Wrote too much data in a single function execution (limit: 16777216 bytes).",
            "Too many index ranges read in a single function execution (limit: 4096).",
            "Function execution timed out (maximum duration: 1s)",
        ] {
            assert_eq!(classify(m, None), FailureKind::Limit, "{m}");
        }
    }

    #[test]
    fn classify_recognises_write_conflicts() {
        assert_eq!(
            classify("Documents read from or written to the \"todos\" table changed while this mutation was being run and on every subsequent retry.", None),
            FailureKind::Occ
        );
    }

    #[test]
    fn classify_treats_anything_else_as_the_migrations_own_error() {
        assert_eq!(
            classify(
                "Cannot read properties of undefined (reading 'title')",
                None
            ),
            FailureKind::User
        );
        assert_eq!(classify("", None), FailureKind::User);
        assert_eq!(classify("x", Some("OTHER")), FailureKind::User);
    }

    #[test]
    fn classify_recognises_a_redeploy_by_its_code() {
        assert_eq!(
            classify("code changed", Some(CODE_CHANGED)),
            FailureKind::CodeChanged
        );
    }
}
