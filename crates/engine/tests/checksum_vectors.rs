//! Golden vectors of the checksum's canonical forms v1 and v2.
//!
//! These values are stored in deployments. If a test here fails, the change
//! broke the contract: revert it, or introduce a new form with a new form
//! number and header as CHECKSUM.md describes. Never update an expected value
//! in place.

use engine::checksum::{
    canonical_form as canonical_form_v2, canonical_form_v1 as canonical_form,
    checksum as checksum_v2, checksum_in_form, checksum_v1 as checksum, MigrationDef,
    CANONICAL_HEADER, CANONICAL_HEADER_V2, CHECKSUM_FORM_VERSION, CHECKSUM_PREFIX,
    LEGACY_CHECKSUM_FORM,
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
fn form_v1_names_itself_in_its_header_and_is_the_form_of_a_record_without_one() {
    assert_eq!(CANONICAL_HEADER, "convex-migrate checksum form v1");
    assert_eq!(CHECKSUM_PREFIX, "sha256:");
    assert_eq!(LEGACY_CHECKSUM_FORM, 1);
    assert_eq!(
        checksum_in_form(&def("minimal"), 1).as_deref(),
        Some(VECTORS[0].checksum)
    );
}

#[test]
fn checksum_md_documents_every_golden_vector() {
    let doc = include_str!("../CHECKSUM.md");
    for vector in VECTORS.iter().chain(VECTORS_V2) {
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

// Form v2: what changes the data, nothing else.

const V2_LF: &str = "sha256:3f8c5fd487555323ce5c2691cd5e0b4a6a95b3c4c649d584559ad13f99a0e330";

const VECTORS_V2: &[Vector] = &[
    Vector {
        name: "v2_minimal",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => ({ priority: \"medium\" })"}}"#,
        checksum: "sha256:19cbe06a01fbf27bc0d0428e1ac041d0f75d9dd86b4be1ff32c9ecf5e3d2a690",
    },
    Vector {
        name: "v2_with_down",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","batchSize":50,"source":"async (ctx, doc) => ({ priority: \"medium\" })"},"down":{"table":"todos","writeMode":"raw","source":"async (ctx, doc) => ({ priority: undefined })"}}"#,
        checksum: "sha256:e0791314cab9f60844a9d983701f75938f424ecdf2df8130da707f20f9313ef2",
    },
    Vector {
        name: "v2_lf",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}"}}"#,
        checksum: V2_LF,
    },
    Vector {
        name: "v2_crlf",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\r\n  if (doc.priority === undefined) {\r\n    return { priority: \"medium\" };\r\n  }\r\n}"}}"#,
        checksum: V2_LF,
    },
    Vector {
        name: "v2_reformatted",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n\tif (doc.priority === undefined) {\n\t\treturn { priority: \"medium\" };\n\t}\n}\n"}}"#,
        checksum: V2_LF,
    },
    Vector {
        name: "v2_description_only",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"give every todo a priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}"}}"#,
        checksum: V2_LF,
    },
    Vector {
        name: "v2_batch_size_only",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","batchSize":500,"source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}"}}"#,
        checksum: V2_LF,
    },
    Vector {
        name: "v2_custom_range_added",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}","customRange":"(q) =>\n  q.withIndex(\"by_done\", (i) => i.eq(\"done\", false))"}}"#,
        checksum: "sha256:a33acf76def1241dff58af54ae0df322daa4a8684f9d358fc502bedd50d599ef",
    },
    Vector {
        name: "v2_custom_range_crlf",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}","customRange":"(q) =>\r\n\tq.withIndex(\"by_done\", (i) => i.eq(\"done\", false))\r\n"}}"#,
        checksum: "sha256:a33acf76def1241dff58af54ae0df322daa4a8684f9d358fc502bedd50d599ef",
    },
    Vector {
        name: "v2_custom_range_edited",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}","customRange":"(q) =>\n  q.withIndex(\"by_done\", (i) => i.eq(\"done\", true))"}}"#,
        checksum: "sha256:7d9c947b506b76011ad5ff46aa56e7e8ae1de63ca9656da12b40b19713e5b14d",
    },
    Vector {
        name: "v2_raw",
        input: r#"{"id":"20261122_101500_backfill_priority","description":"backfill todo priority","up":{"table":"todos","writeMode":"raw","source":"async (ctx, doc) => {\n  if (doc.priority === undefined) {\n    return { priority: \"medium\" };\n  }\n}"}}"#,
        checksum: "sha256:39146bd0698a5af1335c0612841e97cc78c8e433ea1138601080224c3dd96835",
    },
];

fn def_v2(name: &str) -> MigrationDef {
    let vector = VECTORS_V2.iter().find(|v| v.name == name).unwrap();
    serde_json::from_str(vector.input).unwrap()
}

#[test]
fn golden_vectors_v2_give_their_pinned_checksums() {
    for vector in VECTORS_V2 {
        let def: MigrationDef = serde_json::from_str(vector.input).unwrap();
        assert_eq!(checksum_v2(&def), vector.checksum, "vector {}", vector.name);
    }
}

#[test]
fn checksum_v2_is_the_sha256_of_the_canonical_form_v2() {
    for vector in VECTORS_V2 {
        let def: MigrationDef = serde_json::from_str(vector.input).unwrap();
        let digest = Sha256::digest(canonical_form_v2(&def).as_bytes());
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
fn canonical_form_v2_of_a_migration_without_down_is_byte_exact() {
    assert_eq!(
        canonical_form_v2(&def_v2("v2_minimal")),
        concat!(
            "convex-migrate checksum form v2\n",
            "id=\"20261122_101500_backfill_priority\"\n",
            "up.table=\"todos\"\n",
            "up.write_mode=\"triggers\"\n",
            "up.source=\"async (ctx, doc) => ({ priority: \\\"medium\\\" })\"\n",
            "up.custom_range=null\n",
            "down=null\n",
        )
    );
}

#[test]
fn canonical_form_v2_of_a_migration_with_down_is_byte_exact() {
    assert_eq!(
        canonical_form_v2(&def_v2("v2_with_down")),
        concat!(
            "convex-migrate checksum form v2\n",
            "id=\"20261122_101500_backfill_priority\"\n",
            "up.table=\"todos\"\n",
            "up.write_mode=\"triggers\"\n",
            "up.source=\"async (ctx, doc) => ({ priority: \\\"medium\\\" })\"\n",
            "up.custom_range=null\n",
            "down.table=\"todos\"\n",
            "down.write_mode=\"raw\"\n",
            "down.source=\"async (ctx, doc) => ({ priority: undefined })\"\n",
            "down.custom_range=null\n",
        )
    );
}

#[test]
fn v2_crlf_reformatted_description_and_batch_size_edits_share_a_checksum() {
    for name in [
        "v2_crlf",
        "v2_reformatted",
        "v2_description_only",
        "v2_batch_size_only",
    ] {
        assert_eq!(checksum_v2(&def_v2(name)), V2_LF, "{name}");
    }
    // Under v1 the description and batch size edits are drift; that is why v2 exists.
    assert_ne!(
        checksum(&def_v2("v2_description_only")),
        checksum(&def_v2("v2_lf"))
    );
    assert_ne!(
        checksum(&def_v2("v2_batch_size_only")),
        checksum(&def_v2("v2_lf"))
    );
}

#[test]
fn v2_custom_range_added_removed_and_edited_change_the_checksum() {
    let added = checksum_v2(&def_v2("v2_custom_range_added"));
    assert_ne!(added, V2_LF, "added (and so removed: back to v2_lf)");
    assert_eq!(checksum_v2(&def_v2("v2_custom_range_crlf")), added);
    assert_ne!(checksum_v2(&def_v2("v2_custom_range_edited")), added);
    // v1 never saw the range: the blind spot v2 closes.
    assert_eq!(
        checksum(&def_v2("v2_custom_range_added")),
        checksum(&def_v2("v2_lf"))
    );
}

#[test]
fn v2_write_mode_changes_the_checksum() {
    assert_ne!(checksum_v2(&def_v2("v2_raw")), V2_LF);
}

#[test]
fn form_v2_names_itself_in_its_header_and_its_values_are_plain_sha256() {
    assert_eq!(CHECKSUM_FORM_VERSION, 2);
    assert_eq!(CANONICAL_HEADER_V2, "convex-migrate checksum form v2");
    assert_eq!(
        checksum_in_form(&def_v2("v2_lf"), 2).as_deref(),
        Some(V2_LF)
    );
    for vector in VECTORS.iter().chain(VECTORS_V2) {
        let hex = vector.checksum.strip_prefix("sha256:").unwrap();
        assert!(
            hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "vector {} is not sha256:<64 lowercase hex>",
            vector.name
        );
    }
}
