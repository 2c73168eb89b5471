//! Helpers shared by the property tests: values in `convexToJson` form and
//! the test deployment's answers to "which table is this string an id of".

use std::collections::BTreeMap;

use engine::bridge::export_literal;
use engine::validator::{Field, IdAnswer, Literal, Validator};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Standard padded base64, the form Convex writes `$integer`, `$float` and
/// `$bytes` in.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

/// A bigint as Convex writes it.
pub fn int64(i: i64) -> Value {
    json!({"$integer": base64(&i.to_le_bytes())})
}

/// A float as Convex writes it: plain when finite and not `-0`.
pub fn float(f: f64) -> Value {
    if f.is_finite() && !(f == 0.0 && f.is_sign_negative()) {
        json!(f)
    } else {
        json!({"$float": base64(&f.to_le_bytes())})
    }
}

/// A literal's value, as the engine exports it.
pub fn literal_json(l: &Literal) -> Value {
    export_literal(l)
}

/// What the deployment answers for every string in `values` (object keys
/// included): the table `table_of` names, or none.
pub fn deployment_answers<'a>(
    values: impl IntoIterator<Item = &'a Value>,
    table_of: impl Fn(&str) -> Option<String>,
) -> Vec<IdAnswer> {
    fn walk(v: &Value, table_of: &dyn Fn(&str) -> Option<String>, out: &mut Vec<IdAnswer>) {
        match v {
            Value::String(s) => out.push(IdAnswer {
                value: s.clone(),
                table: table_of(s),
            }),
            Value::Array(items) => items.iter().for_each(|i| walk(i, table_of, out)),
            Value::Object(map) => {
                for (k, v) in map {
                    out.push(IdAnswer {
                        value: k.clone(),
                        table: table_of(k),
                    });
                    walk(v, table_of, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    values
        .into_iter()
        .for_each(|v| walk(v, &table_of, &mut out));
    out
}

/// Object validators with up to three fields named from `names`, each of a
/// validator from `inner`, required or optional.
pub fn object_validator(
    names: &'static [&'static str],
    inner: BoxedStrategy<Validator>,
) -> impl Strategy<Value = Validator> {
    prop::collection::btree_map(
        prop::sample::select(names.to_vec()).prop_map(String::from),
        (inner, any::<bool>()).prop_map(|(validator, optional)| Field {
            validator,
            optional,
        }),
        0..4,
    )
    .prop_map(Validator::Object)
}

/// Objects that `fields` accept: every required field, each optional one
/// present or not, each value drawn by `value_of`.
pub fn object_value(
    fields: &BTreeMap<String, Field>,
    value_of: fn(&Validator) -> BoxedStrategy<Value>,
) -> BoxedStrategy<Value> {
    let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .iter()
        .map(|(n, f)| {
            let n = n.clone();
            let present = value_of(&f.validator).prop_map(move |x| Some((n.clone(), x)));
            if f.optional {
                prop_oneof![Just(None), present].boxed()
            } else {
                present.boxed()
            }
        })
        .collect();
    parts
        .prop_map(|ps| Value::Object(ps.into_iter().flatten().collect()))
        .boxed()
}

/// Values of one of `members`, each member as likely, drawn by `value_of`.
pub fn union_value(
    members: &[Validator],
    value_of: fn(&Validator) -> BoxedStrategy<Value>,
) -> BoxedStrategy<Value> {
    let options: Vec<BoxedStrategy<Value>> = members.iter().map(value_of).collect();
    (0..options.len())
        .prop_flat_map(move |i| options[i].clone())
        .boxed()
}

/// Validators built from `leaf` up to `depth` levels deep (about `size`
/// nodes): arrays, objects with fields named from `names`, records keyed by
/// strings or ids of `users`, and unions of up to three members.
pub fn validator_of(
    leaf: BoxedStrategy<Validator>,
    names: &'static [&'static str],
    depth: u32,
    size: u32,
) -> BoxedStrategy<Validator> {
    leaf.prop_recursive(depth, size, 4, move |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Validator::Array(Box::new(e))),
            object_validator(names, inner.clone()),
            (
                prop_oneof![
                    Just(Validator::String),
                    Just(Validator::Id {
                        table: "users".into()
                    })
                ],
                inner.clone()
            )
                .prop_map(|(k, v)| Validator::Record {
                    keys: Box::new(k),
                    values: Box::new(v)
                }),
            prop::collection::vec(inner, 1..4).prop_map(Validator::Union),
        ]
    })
    .boxed()
}
