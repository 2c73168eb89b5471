//! The schema model written back in the shape `defineSchema(...).export()`
//! gives (the shape `parse_schema` reads), so a computed schema can be
//! diffed, checked against documents and turned into a schema module.
//!
//! `parse_schema(&export_schema(m)) == m` for every model; staged validators
//! and staged indexes are not modelled and export as empty.

use serde_json::{json, Map, Value};

use crate::validator::{Literal, SchemaModel, TableSchema, Validator};

/// A schema as `defineSchema(...).export()` would give it, parsed.
pub fn export_schema(model: &SchemaModel) -> Value {
    json!({
        "tables": model.tables.iter().map(export_table).collect::<Vec<_>>(),
        "schemaValidation": model.schema_validation,
    })
}

fn export_table(table: &TableSchema) -> Value {
    let indexes: Vec<Value> = table
        .indexes
        .iter()
        .map(|i| json!({"indexDescriptor": i.name, "fields": i.fields}))
        .collect();
    let search: Vec<Value> = table
        .search_indexes
        .iter()
        .map(|i| {
            json!({"indexDescriptor": i.name, "searchField": i.search_field,
                "filterFields": i.filter_fields})
        })
        .collect();
    let vector: Vec<Value> = table
        .vector_indexes
        .iter()
        .map(|i| {
            json!({"indexDescriptor": i.name, "vectorField": i.vector_field,
                "dimensions": i.dimensions, "filterFields": i.filter_fields})
        })
        .collect();
    json!({
        "tableName": table.table,
        "indexes": indexes,
        "stagedDbIndexes": [],
        "searchIndexes": search,
        "stagedSearchIndexes": [],
        "vectorIndexes": vector,
        "stagedVectorIndexes": [],
        "documentType": table
            .document_type
            .as_ref()
            .map_or_else(|| json!({"type": "any"}), export_validator),
    })
}

/// One validator in Convex's exported JSON (`Validator.json`).
pub fn export_validator(v: &Validator) -> Value {
    match v {
        Validator::String => json!({"type": "string"}),
        Validator::Number => json!({"type": "number"}),
        Validator::Int64 => json!({"type": "bigint"}),
        Validator::CommitTs => json!({"type": "commitTs"}),
        Validator::Boolean => json!({"type": "boolean"}),
        Validator::Null => json!({"type": "null"}),
        Validator::Bytes => json!({"type": "bytes"}),
        Validator::Any => json!({"type": "any"}),
        Validator::Id { table } => json!({"type": "id", "tableName": table}),
        Validator::Literal(l) => json!({"type": "literal", "value": export_literal(l)}),
        Validator::Array(e) => json!({"type": "array", "value": export_validator(e)}),
        Validator::Object(fields) => {
            let value: Map<String, Value> = fields
                .iter()
                .map(|(name, f)| {
                    let field = json!({"fieldType": export_validator(&f.validator),
                        "optional": f.optional});
                    (name.clone(), field)
                })
                .collect();
            json!({"type": "object", "value": value})
        }
        Validator::Record { keys, values } => json!({
            "type": "record",
            "keys": export_validator(keys),
            "values": {"fieldType": export_validator(values), "optional": false},
        }),
        Validator::Union(members) => json!({
            "type": "union",
            "value": members.iter().map(export_validator).collect::<Vec<_>>(),
        }),
    }
}

/// A literal in `convexToJson` form: finite floats other than `-0` as plain
/// numbers, the rest as `$float`, bigints as `$integer` (8 bytes, LE).
fn export_literal(l: &Literal) -> Value {
    match l {
        Literal::String(s) => json!(s),
        Literal::Boolean(b) => json!(b),
        Literal::Int64(i) => json!({"$integer": base64(&i.to_le_bytes())}),
        Literal::Number(f) => match serde_json::Number::from_f64(*f) {
            Some(n) if !(*f == 0.0 && f.is_sign_negative()) => Value::Number(n),
            _ => json!({"$float": base64(&f.to_le_bytes())}),
        },
    }
}

/// Standard padded base64, the form Convex writes. The engine decodes it in
/// `validator::value`; eight bytes are all it ever encodes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let sextet = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[sextet as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::parse_schema;

    #[test]
    fn export_round_trips_the_fixture_with_every_kind() {
        let exported: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/schema_all_kinds.json"))
                .unwrap();
        let model = parse_schema(&exported).unwrap();
        assert_eq!(parse_schema(&export_schema(&model)).unwrap(), model);
    }

    #[test]
    fn export_writes_special_literals_as_convex_does() {
        assert_eq!(
            export_literal(&Literal::Int64(7)),
            json!({"$integer": "BwAAAAAAAAA="})
        );
        assert_eq!(export_literal(&Literal::Number(3.0)), json!(3.0));
        assert_eq!(
            export_literal(&Literal::Number(-0.0)),
            json!({"$float": "AAAAAAAAAIA="})
        );
        assert!(export_literal(&Literal::Number(f64::NAN))["$float"].is_string());
    }
}
