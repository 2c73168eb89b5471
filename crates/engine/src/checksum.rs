//! The checksum of a versioned migration: a contract between every
//! deployment that ever applied a migration and the code that ships later.
//!
//! A stored checksum is compared with a freshly computed one on every run, so
//! the exact bytes hashed must never change by accident. They are written
//! down in `crates/engine/CHECKSUM.md`, one canonical form per version, and
//! pinned by the golden vectors in `tests/checksum_vectors.rs`. Every value is
//! `sha256:<hex>` whatever its form; the form version is stored beside it,
//! and [`checksum_in_form`] recomputes a definition in the form a record was
//! stored with, so a new form never reads as drift.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

/// The form new checksums are computed in ([`checksum`]).
pub const CHECKSUM_FORM_VERSION: u32 = 2;

/// The form of a stored checksum that names none: records written before
/// the form was stored beside the value were all computed in form v1.
pub const LEGACY_CHECKSUM_FORM: u32 = 1;

/// The prefix of every checksum value, in every form. The value does not
/// name its form; the form travels beside it as a number.
pub const CHECKSUM_PREFIX: &str = "sha256:";

/// The first line of the v1 canonical form. Hashing the form's name means two
/// forms can never produce the same digest for the same migration.
pub const CANONICAL_HEADER: &str = "convex-migrate checksum form v1";

/// The first line of the v2 canonical form.
pub const CANONICAL_HEADER_V2: &str = "convex-migrate checksum form v2";

/// How a step writes: through the app's `internalMutation` builder (its
/// triggers run) or around it. It decides what else happens on each write,
/// so it is part of the v2 checksum.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum WriteMode {
    /// Writes go through the constructor's `internalMutation` (the default).
    #[default]
    Triggers,
    /// Writes skip the custom builder.
    Raw,
}

impl WriteMode {
    /// The name hashed in the canonical form, fixed here so a serde
    /// attribute cannot change it.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMode::Triggers => "triggers",
            WriteMode::Raw => "raw",
        }
    }
}

/// One direction of a migration as the app defines it.
///
/// The checksum covers the code that rewrites documents, so `source` carries
/// the step's `migrateOne` text exactly as JavaScript's `fn.toString()`
/// returns it, and `custom_range` the `customRange` text, which decides
/// which documents the step visits; `normalize_source` removes what
/// formatting tools change.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StepDef {
    /// The table the step rewrites.
    pub table: String,
    /// Documents per batch when the step asks for its own size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub batch_size: Option<u32>,
    /// The `migrateOne` source text.
    pub source: String,
    /// The `customRange` source text, when the step has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub custom_range: Option<String>,
    /// `triggers` unless the step declares `writeMode: "raw"`.
    #[serde(default)]
    #[ts(as = "Option<WriteMode>", optional)]
    pub write_mode: WriteMode,
}

/// A versioned migration as written in the app's migrations folder, reduced to
/// the facts the engine reasons about.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MigrationDef {
    /// `YYYYMMDD_HHMMSS_slug`; orders the set and keys the stored history.
    pub id: String,
    /// What the migration does, for people reading `status`.
    pub description: String,
    /// The forward step.
    pub up: StepDef,
    /// The rollback step; without it the migration cannot be rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub down: Option<StepDef>,
}

/// Reduces `migrateOne` source to the tokens that carry meaning, so that a
/// formatter, an editor's line-ending setting or a Git `autocrlf` checkout does
/// not look like an edit to an applied migration.
///
/// Every run of the whitespace characters U+0020 space, U+0009 tab, U+000A
/// line feed, U+000B vertical tab, U+000C form feed and U+000D carriage return
/// becomes one space, and the result is trimmed. Carriage returns are in that
/// set, so CRLF and lone CR line endings normalise exactly like LF. Other
/// characters, including non-ASCII spaces, are kept as they are.
///
/// The price of this rule: a change that only alters whitespace inside a
/// string literal is not detected. Any change to a token is.
pub fn normalize_source(src: &str) -> String {
    src.split(is_source_whitespace)
        .filter(|token| !token.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The whitespace set of [`normalize_source`]; fixed here rather than taken
/// from Unicode tables so the contract cannot move with a toolchain update.
fn is_source_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// The exact text that [`checksum_v1`] hashes (form v1). Kept computable
/// for records stored under it; new checksums use [`canonical_form`].
///
/// The header line [`CANONICAL_HEADER`], then one `key=value` line per field,
/// every line ending in `\n` (the last one too):
///
/// ```text
/// convex-migrate checksum form v1
/// id="<id>"
/// description="<description>"
/// up.table="<table>"
/// up.batch_size="<n or default>"
/// up.source="<normalised source>"
/// down.table=... down.batch_size=... down.source=...   (three lines)
/// down="none"                                          (or this one line)
/// ```
///
/// Every value is written as a JSON string (escapes listed in CHECKSUM.md), so no value
/// can contain a line break or a quote that would forge another field.
pub fn canonical_form_v1(def: &MigrationDef) -> String {
    let mut form = String::new();
    push_line(&mut form, CANONICAL_HEADER);
    push_field(&mut form, "id", &def.id);
    push_field(&mut form, "description", &def.description);
    push_step(&mut form, "up", &def.up);
    match &def.down {
        Some(down) => push_step(&mut form, "down", down),
        None => push_field(&mut form, "down", "none"),
    }
    form
}

/// The v1 checksum: `sha256:` followed by 64 lowercase hex digits of the
/// SHA-256 of the UTF-8 bytes of [`canonical_form_v1`].
pub fn checksum_v1(def: &MigrationDef) -> String {
    format!("{CHECKSUM_PREFIX}{}", sha256_hex(&canonical_form_v1(def)))
}

/// The exact text that [`checksum`] hashes (form v2): what changes the data
/// and nothing else.
///
/// ```text
/// convex-migrate checksum form v2
/// id="<id>"
/// up.table="<table>"
/// up.write_mode="<triggers or raw>"
/// up.source="<normalised migrateOne source>"
/// up.custom_range="<normalised customRange source>"    (or up.custom_range=null)
/// down.table=... down.write_mode=... down.source=... down.custom_range=...
/// down=null                                             (or this one line)
/// ```
///
/// Strings are written as in v1; an absent value is the bare word `null`,
/// which no string value can produce. Not hashed: the description, the
/// batch size and `workers`, which change how a step runs, not what it
/// writes.
pub fn canonical_form(def: &MigrationDef) -> String {
    let mut form = String::new();
    push_line(&mut form, CANONICAL_HEADER_V2);
    push_field(&mut form, "id", &def.id);
    push_step_v2(&mut form, "up", &def.up);
    match &def.down {
        Some(down) => push_step_v2(&mut form, "down", down),
        None => push_line(&mut form, "down=null"),
    }
    form
}

/// The checksum stored from now on with every migration that touches data,
/// in form [`CHECKSUM_FORM_VERSION`]: `sha256:` followed by 64 lowercase hex
/// digits of the SHA-256 of the UTF-8 bytes of [`canonical_form`].
pub fn checksum(def: &MigrationDef) -> String {
    format!("{CHECKSUM_PREFIX}{}", sha256_hex(&canonical_form(def)))
}

/// The checksum of `def` in `form`, so it can be compared with a value
/// stored in that form; `None` for a form this engine does not know (one a
/// later release introduced), which nothing here can reproduce.
pub fn checksum_in_form(def: &MigrationDef, form: u32) -> Option<String> {
    match form {
        1 => Some(checksum_v1(def)),
        2 => Some(checksum(def)),
        _ => None,
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn push_step_v2(form: &mut String, direction: &str, step: &StepDef) {
    push_field(form, &format!("{direction}.table"), &step.table);
    push_field(
        form,
        &format!("{direction}.write_mode"),
        step.write_mode.as_str(),
    );
    push_field(
        form,
        &format!("{direction}.source"),
        &normalize_source(&step.source),
    );
    match &step.custom_range {
        Some(range) => push_field(
            form,
            &format!("{direction}.custom_range"),
            &normalize_source(range),
        ),
        None => push_line(form, &format!("{direction}.custom_range=null")),
    }
}

fn push_step(form: &mut String, direction: &str, step: &StepDef) {
    let batch_size = step
        .batch_size
        .map_or_else(|| "default".to_string(), |size| size.to_string());
    push_field(form, &format!("{direction}.table"), &step.table);
    push_field(form, &format!("{direction}.batch_size"), &batch_size);
    push_field(
        form,
        &format!("{direction}.source"),
        &normalize_source(&step.source),
    );
}

fn push_field(form: &mut String, key: &str, value: &str) {
    push_line(form, &format!("{key}={}", json_string(value)));
}

fn push_line(form: &mut String, line: &str) {
    form.push_str(line);
    form.push('\n');
}

/// Encodes `value` as a JSON string literal with a fixed, documented choice
/// of escapes (the same bytes `serde_json` writes today, pinned here so a
/// dependency update cannot change stored checksums):
///
/// - `"` and `\` become `\"` and `\\`;
/// - U+0008, U+0009, U+000A, U+000C, U+000D become `\b`, `\t`, `\n`, `\f`, `\r`;
/// - every other character below U+0020 becomes `\u00` and two lowercase hex
///   digits;
/// - everything else, including `/`, U+007F and all non-ASCII characters, is
///   written as its UTF-8 bytes.
fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len().saturating_add(2));
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < '\u{20}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn step(table: &str, batch_size: Option<u32>, source: &str) -> StepDef {
        StepDef {
            table: table.into(),
            batch_size,
            source: source.into(),
            custom_range: None,
            write_mode: WriteMode::Triggers,
        }
    }

    fn def(source: &str) -> MigrationDef {
        MigrationDef {
            id: "20260101_000000_first".into(),
            description: "first".into(),
            up: step("todos", None, source),
            down: None,
        }
    }

    #[test]
    fn normalize_source_turns_crlf_and_lone_cr_into_one_space() {
        assert_eq!(normalize_source("a\r\nb\rc\nd"), "a b c d");
    }

    #[test]
    fn normalize_source_collapses_whitespace_runs_and_trims() {
        assert_eq!(normalize_source(" \t a \n\n\t b\u{0B}\u{0C}c  "), "a b c");
    }

    #[test]
    fn normalize_source_keeps_non_ascii_spaces() {
        assert_eq!(normalize_source("a\u{A0}b"), "a\u{A0}b");
    }

    #[test]
    fn normalize_source_of_blank_text_is_empty() {
        assert_eq!(normalize_source(" \r\n\t "), "");
    }

    #[test]
    fn canonical_form_v1_lists_every_field_in_order() {
        let mut with_down = def("async (ctx, doc) => {}");
        with_down.up.batch_size = Some(50);
        with_down.down = Some(step("todos", None, "x"));
        assert_eq!(
            canonical_form_v1(&with_down),
            "convex-migrate checksum form v1\n\
             id=\"20260101_000000_first\"\n\
             description=\"first\"\n\
             up.table=\"todos\"\n\
             up.batch_size=\"50\"\n\
             up.source=\"async (ctx, doc) => {}\"\n\
             down.table=\"todos\"\n\
             down.batch_size=\"default\"\n\
             down.source=\"x\"\n"
        );
    }

    #[test]
    fn canonical_form_v1_marks_a_missing_down_step_explicitly() {
        assert!(canonical_form_v1(&def("x")).ends_with("up.source=\"x\"\ndown=\"none\"\n"));
    }

    #[test]
    fn canonical_form_escapes_values_so_no_field_can_be_forged() {
        let mut forged = def("x");
        forged.description = "d\"\nup.table=\"other".into();
        let form = canonical_form_v1(&forged);
        assert_eq!(form.lines().count(), 7);
        assert!(form.contains("description=\"d\\\"\\nup.table=\\\"other\"\n"));
        assert_ne!(checksum_v1(&forged), checksum_v1(&def("x")));
    }

    #[test]
    fn checksum_is_sha256_and_lowercase_hex_in_every_form() {
        for value in [checksum_v1(&def("x")), checksum(&def("x"))] {
            let hex = value.strip_prefix(CHECKSUM_PREFIX).unwrap();
            assert_eq!(hex.len(), 64);
            assert!(hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        }
        assert_ne!(checksum_v1(&def("x")), checksum(&def("x")));
    }

    #[test]
    fn checksum_in_form_recomputes_in_the_form_asked_for() {
        let d = def("x");
        assert_eq!(checksum_in_form(&d, 1), Some(checksum_v1(&d)));
        assert_eq!(
            checksum_in_form(&d, CHECKSUM_FORM_VERSION),
            Some(checksum(&d))
        );
        assert_eq!(checksum_in_form(&d, 0), None);
        assert_eq!(checksum_in_form(&d, 3), None);
    }

    #[test]
    fn canonical_form_v2_lists_what_changes_the_data_in_order() {
        let mut full = def("async (ctx, doc) => {}");
        full.up.batch_size = Some(50);
        full.up.custom_range = Some("(q) =>\r\n  q.withIndex(\"by_n\")".into());
        full.down = Some(StepDef {
            write_mode: WriteMode::Raw,
            ..step("todos", None, "x")
        });
        assert_eq!(
            canonical_form(&full),
            "convex-migrate checksum form v2\n\
             id=\"20260101_000000_first\"\n\
             up.table=\"todos\"\n\
             up.write_mode=\"triggers\"\n\
             up.source=\"async (ctx, doc) => {}\"\n\
             up.custom_range=\"(q) => q.withIndex(\\\"by_n\\\")\"\n\
             down.table=\"todos\"\n\
             down.write_mode=\"raw\"\n\
             down.source=\"x\"\n\
             down.custom_range=null\n"
        );
        assert!(canonical_form(&def("x")).ends_with("up.custom_range=null\ndown=null\n"));
    }

    #[test]
    fn checksum_v2_ignores_description_batch_size_and_formatting() {
        let base = def("async (ctx, doc) => {\n  return 1;\n}");
        let mut edited = base.clone();
        edited.description = "a clearer description".into();
        edited.up.batch_size = Some(500);
        edited.up.source = "async (ctx, doc) => {\r\n\treturn 1;\r\n}\r\n".into();
        assert_eq!(checksum(&edited), checksum(&base));
        assert_ne!(checksum_v1(&edited), checksum_v1(&base));
    }

    #[test]
    fn checksum_v2_changes_with_custom_range_write_mode_table_and_down() {
        let base = def("x");
        let mut ranged = base.clone();
        ranged.up.custom_range = Some("(q) => q".into());
        let mut narrowed = ranged.clone();
        narrowed.up.custom_range = Some("(q) => q.withIndex(\"by_n\")".into());
        let mut raw = base.clone();
        raw.up.write_mode = WriteMode::Raw;
        let mut other_table = base.clone();
        other_table.up.table = "users".into();
        let mut with_down = base.clone();
        with_down.down = Some(step("todos", None, "x"));
        let all = [&base, &ranged, &narrowed, &raw, &other_table, &with_down].map(checksum);
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn canonical_form_v2_escapes_a_custom_range_that_tries_to_forge_a_line() {
        let mut forged = def("x");
        forged.up.custom_range = Some("null\ndown=null".into());
        let form = canonical_form(&forged);
        assert_eq!(form.lines().count(), 7);
        assert!(form.contains("up.custom_range=\"null down=null\"\n"));
        assert_ne!(checksum(&forged), checksum(&def("x")));
    }

    #[test]
    fn step_def_reads_write_mode_and_custom_range_and_defaults_them() {
        let json = r#"{"table":"t","source":"s","customRange":"r","writeMode":"raw"}"#;
        let step: StepDef = serde_json::from_str(json).unwrap();
        assert_eq!(step.write_mode, WriteMode::Raw);
        assert_eq!(step.custom_range.as_deref(), Some("r"));
        let plain: StepDef = serde_json::from_str(r#"{"table":"t","source":"s"}"#).unwrap();
        assert_eq!(plain.write_mode, WriteMode::Triggers);
        assert_eq!(plain.custom_range, None);
    }

    #[test]
    fn checksum_v1_changes_with_batch_size_table_and_down_step() {
        let base = def("x");
        let mut sized = base.clone();
        sized.up.batch_size = Some(10);
        let mut other_table = base.clone();
        other_table.up.table = "users".into();
        let mut with_down = base.clone();
        with_down.down = Some(step("todos", None, "x"));
        let all = [&base, &sized, &other_table, &with_down].map(checksum_v1);
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn json_string_escapes_control_characters_in_lowercase_hex() {
        assert_eq!(
            json_string("\u{01}\u{1F}\u{7F}/é"),
            "\"\\u0001\\u001f\u{7F}/é\""
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn json_string_matches_serde_json(value in any::<String>()) {
            prop_assert_eq!(json_string(&value), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn normalize_source_is_idempotent_and_ignores_line_endings(src in "[a-z{}() \t\r\n]{0,64}") {
            let once = normalize_source(&src);
            prop_assert_eq!(normalize_source(&once), once.clone());
            prop_assert_eq!(normalize_source(&src.replace("\r\n", "\n")), once.clone());
            prop_assert_eq!(normalize_source(&src.replace('\n', "\r\n")), once);
        }
    }
}
