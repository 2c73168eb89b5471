//! Golden vectors of the checksum's canonical form v1.
//!
//! These values are stored in deployments. If a test here fails, the change
//! broke the contract: revert it, or introduce a new form with a new prefix as
//! CHECKSUM.md describes. Never update an expected value in place.

use engine::checksum::{
    canonical_form, checksum, MigrationDef, CANONICAL_HEADER, CHECKSUM_FORM_VERSION,
    CHECKSUM_PREFIX,
};
use sha2::{Digest, Sha256};

/// One pinned input (the JSON shape the component passes in) and its checksum.
struct Vector {
    name: &'static str,
    input: &'static str,
    checksum: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "minimal",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => ({ priority: \"medium\" })"}}"#,
        checksum: "sha256:76f4e46c7ba9c364890796bdefaa42cf0b228463262713e9f563480eb6055443",
    },
    Vector {
        name: "with_down",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","batchSize":50,"source":"async (ctx, doc) => ({ priority: \"medium\" })"},"down":{"table":"todos","batchSize":200,"source":"async (ctx, doc) => ({ priority: undefined })"}}"#,
        checksum: "sha256:a0aa918e5be12e7737ec6e74d19af7a3ea0738bc12d21b5b5d51c8066b8bc75c",
    },
    Vector {
        name: "escaped_description",
        input: r#"{"id":"20261123_080000_rename_owner","description":"say \"hi\"\\then\tcafé\u0001\nid=\"x\"","up":{"table":"projects","source":"(ctx, doc) => ({ owner: doc.ownerId })"}}"#,
        checksum: "sha256:7e5d604216373e14da8bb40cba3cd910ab116ced3a76ebd3daead6901ecdd7f0",
    },
    Vector {
        name: "lf",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}"}}"#,
        checksum: "sha256:117682b520896ec4badb4d8c99175240704d4fbe1f594006fef7807b04918086",
    },
    Vector {
        name: "crlf",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\r\n  if (doc.priority === undefined) {\r\n    return { priority: \"medium\" };\r\n  }\r\n}"}}"#,
        checksum: "sha256:117682b520896ec4badb4d8c99175240704d4fbe1f594006fef7807b04918086",
    },
    Vector {
        name: "reformatted",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n\tif (doc.priority === undefined) {\n\t\treturn { priority: \"medium\" };\n\t}\n}\n"}}"#,
        checksum: "sha256:117682b520896ec4badb4d8c99175240704d4fbe1f594006fef7807b04918086",
    },
    Vector {
        name: "one_line",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"  async (ctx, doc) => { if (doc.priority === undefined) { return { priority: \"medium\" }; } }"}}"#,
        checksum: "sha256:117682b520896ec4badb4d8c99175240704d4fbe1f594006fef7807b04918086",
    },
    Vector {
        name: "one_token_changed",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"high\" };\n  }\n}"}}"#,
        checksum: "sha256:4ac3fdd725af860cbf09bab6d0d80630aca806a4131f7c29755bbeec19ad6791",
    },
];

fn def(name: &str) -> MigrationDef {
    let vector = VECTORS.iter().find(|v| v.name == name).unwrap();
    serde_json::from_str(vector.input).unwrap()
}

#[test]
fn golden_vectors_give_their_pinned_checksums() {
    for vector in VECTORS {
        let def: MigrationDef = serde_json::from_str(vector.input).unwrap();
        assert_eq!(checksum(&def), vector.checksum, "vector {}", vector.name);
    }
}

#[test]
fn canonical_form_of_a_migration_without_down_is_byte_exact() {
    assert_eq!(
        canonical_form(&def("minimal")),
        concat!(
            "convex-migrate checksum form v1\n",
            "id=\"20261122_101500_backfill_priority\"\n",
            "description=\"backfill todo priority\"\n",
            "up.table=\"todos\"\n",
            "up.batch_size=\"default\"\n",
            "up.source=\"async (ctx, doc) => ({ priority: \\\"medium\\\" })\"\n",
            "down=\"none\"\n",
        )
    );
}

#[test]
fn canonical_form_of_a_migration_with_down_is_byte_exact() {
    assert_eq!(
        canonical_form(&def("with_down")),
        concat!(
            "convex-migrate checksum form v1\n",
            "id=\"20261122_101500_backfill_priority\"\n",
            "description=\"backfill todo priority\"\n",
            "up.table=\"todos\"\n",
            "up.batch_size=\"50\"\n",
            "up.source=\"async (ctx, doc) => ({ priority: \\\"medium\\\" })\"\n",
            "down.table=\"todos\"\n",
            "down.batch_size=\"200\"\n",
            "down.source=\"async (ctx, doc) => ({ priority: undefined })\"\n",
        )
    );
}

#[test]
fn canonical_form_escapes_a_description_that_tries_to_forge_a_line() {
    let form = canonical_form(&def("escaped_description"));
    assert_eq!(
        form.lines().nth(2),
        Some(r#"description="say \"hi\"\\then\tcafé\u0001\nid=\"x\"""#)
    );
    assert_eq!(form.lines().count(), 7);
}

#[test]
fn canonical_form_collapses_multiline_source_to_one_line() {
    assert_eq!(
        canonical_form(&def("lf")).lines().nth(5),
        Some(
            r#"up.source="async (ctx, doc) => { if (doc.priority === undefined) { return { priority: \"medium\" }; } }""#
        )
    );
}

#[test]
fn crlf_and_lf_sources_share_a_checksum() {
    assert_eq!(checksum(&def("crlf")), checksum(&def("lf")));
}

#[test]
fn reformatted_source_keeps_its_checksum() {
    let lf = checksum(&def("lf"));
    assert_eq!(checksum(&def("reformatted")), lf);
    assert_eq!(checksum(&def("one_line")), lf);
}

#[test]
fn one_token_change_alters_the_checksum() {
    assert_ne!(checksum(&def("one_token_changed")), checksum(&def("lf")));
}

#[test]
fn checksum_is_the_sha256_of_the_canonical_form() {
    for vector in VECTORS {
        let def: MigrationDef = serde_json::from_str(vector.input).unwrap();
        let digest = Sha256::digest(canonical_form(&def).as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            vector.checksum,
            format!("sha256:{hex}"),
            "vector {}",
            vector.name
        );
    }
}

#[test]
fn form_v1_names_itself_in_header_and_prefix() {
    assert_eq!(CHECKSUM_FORM_VERSION, 1);
    assert_eq!(CANONICAL_HEADER, "convex-migrate checksum form v1");
    assert_eq!(CHECKSUM_PREFIX, "sha256:");
}

#[test]
fn checksum_md_documents_every_golden_vector() {
    let doc = include_str!("../CHECKSUM.md");
    for vector in VECTORS {
        assert!(
            doc.contains(vector.input),
            "CHECKSUM.md lacks the input of {}",
            vector.name
        );
        assert!(
            doc.contains(&format!("{}  {}", vector.name, vector.checksum)),
            "CHECKSUM.md lacks the checksum of {}",
            vector.name
        );
    }
}
