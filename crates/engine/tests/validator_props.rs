//! Property tests of the validator checks and of `accepts_all_of`, against a
//! simple model written here independently of the engine.
//!
//! - Documents generated from a validator pass it.
//! - A document mutated off its validator (a value of another type, a
//!   dropped required field, an extra field, a broken literal) fails, with a
//!   violation at the mutated place; inside a union, at the union or within
//!   the member it took the value for.
//! - The engine and the model agree on every value.
//! - `accepts_all_of(new, old)` is sound: values generated from `old` pass
//!   `new` whenever it says yes; and the schema diff calls a change safe
//!   exactly when `accepts_all_of` holds.

use engine::schema_diff::{accepts_all_of, diff_schemas, Safety};
use engine::validator::{
    check_document, parse_schema, parse_validator, Field, IdTables, Literal, Validator,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Value};

const CASES: u32 = 1024;

// ---------- encoding helpers (convexToJson) ----------

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn int64(i: i64) -> Value {
    json!({"$integer": base64(&i.to_le_bytes())})
}

fn float(f: f64) -> Value {
    if f.is_finite() && !(f == 0.0 && f.is_sign_negative()) {
        json!(f)
    } else {
        json!({"$float": base64(&f.to_le_bytes())})
    }
}

fn literal_json(l: &Literal) -> Value {
    match l {
        Literal::String(s) => json!(s),
        Literal::Number(f) => float(*f),
        Literal::Int64(i) => int64(*i),
        Literal::Boolean(b) => json!(b),
    }
}

/// The validator as Convex exports it, for the round trip and the diff.
fn validator_json(v: &Validator) -> Value {
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
        Validator::Literal(l) => json!({"type": "literal", "value": literal_json(l)}),
        Validator::Array(e) => json!({"type": "array", "value": validator_json(e)}),
        Validator::Object(fields) => {
            let value: Map<String, Value> = fields
                .iter()
                .map(|(n, f)| {
                    (
                        n.clone(),
                        json!({"fieldType": validator_json(&f.validator), "optional": f.optional}),
                    )
                })
                .collect();
            json!({"type": "object", "value": value})
        }
        Validator::Record { keys, values } => {
            json!({"type": "record", "keys": validator_json(keys),
            "values": {"fieldType": validator_json(values), "optional": false}})
        }
        Validator::Union(ms) => {
            json!({"type": "union", "value": ms.iter().map(validator_json).collect::<Vec<_>>()})
        }
    }
}

// ---------- the model ----------

#[derive(Debug)]
enum Kind<'a> {
    Null,
    Number(f64),
    Int64(i64),
    Boolean(bool),
    String(&'a str),
    Bytes,
    Array(&'a Vec<Value>),
    Object(&'a Map<String, Value>),
}

fn decode64(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0u32;
    let mut out = vec![];
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        n = (n << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits) as u8);
            n &= (1 << bits) - 1;
        }
    }
    out
}

fn kind(v: &Value) -> Kind<'_> {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(b) => Kind::Boolean(*b),
        Value::Number(n) => Kind::Number(n.as_f64().unwrap()),
        Value::String(s) => Kind::String(s),
        Value::Array(a) => Kind::Array(a),
        Value::Object(m) => {
            if m.len() == 1 {
                if let Some(Value::String(s)) = m.get("$integer") {
                    return Kind::Int64(i64::from_le_bytes(decode64(s).try_into().unwrap()));
                }
                if let Some(Value::String(s)) = m.get("$float") {
                    return Kind::Number(f64::from_le_bytes(decode64(s).try_into().unwrap()));
                }
                if m.contains_key("$bytes") {
                    return Kind::Bytes;
                }
            }
            Kind::Object(m)
        }
    }
}

fn model_literal(l: &Literal, value: &Value) -> bool {
    match (l, kind(value)) {
        (Literal::String(a), Kind::String(b)) => a == b,
        (Literal::Number(a), Kind::Number(b)) => {
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
        }
        (Literal::Int64(a), Kind::Int64(b)) => *a == b,
        (Literal::Boolean(a), Kind::Boolean(b)) => *a == b,
        _ => false,
    }
}

// ---------- ids ----------

/// The deployment, as far as these tests need one: a string starting with
/// `u` is an id of `users`, with `d` an id of `docs`, anything else no id.
fn id_table_of(s: &str) -> Option<&'static str> {
    match s.chars().next() {
        Some('u') => Some("users"),
        Some('d') => Some("docs"),
        _ => None,
    }
}

/// The deployment's answer for every string in `value`, keys included.
fn ids_for(value: &Value) -> IdTables {
    fn walk(value: &Value, ids: &mut IdTables) {
        match value {
            Value::String(s) => ids.insert(s.clone(), id_table_of(s).map(String::from)),
            Value::Array(items) => items.iter().for_each(|i| walk(i, ids)),
            Value::Object(map) => {
                for (k, v) in map {
                    ids.insert(k.clone(), id_table_of(k).map(String::from));
                    walk(v, ids);
                }
            }
            _ => {}
        }
    }
    let mut ids = IdTables::default();
    walk(value, &mut ids);
    ids
}

fn check(v: &Validator, value: &Value) -> Vec<engine::validator::Violation> {
    check_document(v, value, &ids_for(value))
}

fn model_accepts(v: &Validator, value: &Value) -> bool {
    match (v, kind(value)) {
        (Validator::Any, _) => true,
        (Validator::String, Kind::String(_)) => true,
        (Validator::Id { table }, Kind::String(s)) => id_table_of(s) == Some(table.as_str()),
        (Validator::Number, Kind::Number(_)) => true,
        (Validator::Int64 | Validator::CommitTs, Kind::Int64(_)) => true,
        (Validator::Boolean, Kind::Boolean(_)) => true,
        (Validator::Null, Kind::Null) => true,
        (Validator::Bytes, Kind::Bytes) => true,
        (Validator::Literal(l), _) => model_literal(l, value),
        (Validator::Array(e), Kind::Array(items)) => items.iter().all(|i| model_accepts(e, i)),
        (Validator::Object(fields), Kind::Object(m)) => {
            m.keys().all(|k| fields.contains_key(k))
                && fields.iter().all(|(n, f)| {
                    m.get(n)
                        .map_or(f.optional, |x| model_accepts(&f.validator, x))
                })
        }
        (Validator::Record { keys, values }, Kind::Object(m)) => m
            .iter()
            .all(|(k, x)| model_accepts(keys, &json!(k)) && model_accepts(values, x)),
        (Validator::Union(ms), _) => ms.iter().any(|m| model_accepts(m, value)),
        _ => false,
    }
}

// ---------- generators ----------

const FIELD_NAMES: &[&str] = &["a", "b", "name", "x_1", "a b", "kind"];
const RECORD_KEYS: &[&str] = &["k", "key 2", "_x", "a.b"];

fn literal_strategy() -> impl Strategy<Value = Literal> {
    prop_oneof![
        prop::sample::select(vec!["high", "low", "", "a\"q"])
            .prop_map(|s| Literal::String(s.into())),
        prop::sample::select(vec![0.0, 3.0, -1.5, 1e300]).prop_map(Literal::Number),
        prop::sample::select(vec![0i64, 7, -1, i64::MAX, i64::MIN]).prop_map(Literal::Int64),
        any::<bool>().prop_map(Literal::Boolean),
    ]
}

fn leaf_strategy() -> impl Strategy<Value = Validator> {
    prop_oneof![
        Just(Validator::String),
        Just(Validator::Number),
        Just(Validator::Int64),
        Just(Validator::CommitTs),
        Just(Validator::Boolean),
        Just(Validator::Null),
        Just(Validator::Bytes),
        Just(Validator::Any),
        Just(Validator::Id {
            table: "users".into()
        }),
        Just(Validator::Id {
            table: "docs".into()
        }),
        literal_strategy().prop_map(Validator::Literal),
        literal_strategy().prop_map(Validator::Literal),
    ]
}

fn validator_strategy() -> impl Strategy<Value = Validator> {
    leaf_strategy().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Validator::Array(Box::new(e))),
            prop::collection::btree_map(
                prop::sample::select(FIELD_NAMES.to_vec()).prop_map(String::from),
                (inner.clone(), any::<bool>()).prop_map(|(validator, optional)| Field {
                    validator,
                    optional
                }),
                0..4,
            )
            .prop_map(Validator::Object),
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
}

fn any_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![0.0, 2.5, -7.0, f64::NAN, f64::INFINITY, -0.0]).prop_map(float),
        any::<i64>().prop_map(int64),
        "[a-z ]{0,6}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..5).prop_map(|b| json!({"$bytes": base64(&b)})),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(FIELD_NAMES.to_vec()).prop_map(String::from),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Values the validator accepts.
fn value_strategy(v: &Validator) -> BoxedStrategy<Value> {
    match v {
        Validator::String => "[a-z]{0,5}".prop_map(Value::String).boxed(),
        Validator::Id { table } => {
            let first = table.chars().next().unwrap_or('u');
            "[a-z0-9]{0,7}"
                .prop_map(move |rest| Value::String(format!("{first}{rest}")))
                .boxed()
        }
        Validator::Number => prop_oneof![
            4 => (-1e6f64..1e6f64).prop_map(float),
            1 => prop::sample::select(vec![f64::NAN, f64::NEG_INFINITY, -0.0]).prop_map(float),
        ]
        .boxed(),
        Validator::Int64 | Validator::CommitTs => any::<i64>().prop_map(int64).boxed(),
        Validator::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Validator::Null => Just(Value::Null).boxed(),
        Validator::Bytes => prop::collection::vec(any::<u8>(), 0..9)
            .prop_map(|b| json!({"$bytes": base64(&b)}))
            .boxed(),
        Validator::Any => any_value(),
        Validator::Literal(l) => Just(literal_json(l)).boxed(),
        Validator::Array(e) => prop::collection::vec(value_strategy(e), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        Validator::Object(fields) => {
            let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
                .iter()
                .map(|(n, f)| {
                    let n = n.clone();
                    let present =
                        value_strategy(&f.validator).prop_map(move |x| Some((n.clone(), x)));
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
        Validator::Record { keys, values } => prop::collection::btree_map(
            match keys.as_ref() {
                Validator::Id { .. } => value_strategy(keys)
                    .prop_map(|k| k.as_str().unwrap_or_default().to_string())
                    .boxed(),
                _ => prop::sample::select(RECORD_KEYS.to_vec())
                    .prop_map(String::from)
                    .boxed(),
            },
            value_strategy(values),
            0..3,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed(),
        Validator::Union(ms) => {
            let options: Vec<BoxedStrategy<Value>> = ms.iter().map(value_strategy).collect();
            prop::sample::select((0..options.len()).collect::<Vec<_>>())
                .prop_flat_map(move |i| options[i].clone())
                .boxed()
        }
    }
}

// ---------- paths and sites ----------

fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn field_path(parent: &str, name: &str) -> String {
    if !is_identifier(name) {
        format!("{parent}[{}]", serde_json::to_string(name).unwrap())
    } else if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// A place in a generated document: its route (JSON keys and indexes), its
/// path as the engine prints it, the validator that governs it, and the
/// paths of the unions enclosing it (itself included).
#[derive(Debug, Clone)]
struct Site {
    route: Vec<Step>,
    path: String,
    validator: Validator,
    unions: Vec<String>,
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn collect_sites(
    v: &Validator,
    value: &Value,
    route: Vec<Step>,
    path: String,
    unions: Vec<String>,
    out: &mut Vec<Site>,
) {
    // Resolve unions to the member that accepts the value.
    if let Validator::Union(ms) = v {
        let mut unions = unions;
        unions.push(path.clone());
        out.push(Site {
            route: route.clone(),
            path: path.clone(),
            validator: v.clone(),
            unions: unions.clone(),
        });
        if let Some(m) = ms.iter().find(|m| model_accepts(m, value)) {
            collect_children(m, value, &route, &path, &unions, out);
        }
        return;
    }
    out.push(Site {
        route: route.clone(),
        path: path.clone(),
        validator: v.clone(),
        unions: unions.clone(),
    });
    collect_children(v, value, &route, &path, &unions, out);
}

fn collect_children(
    v: &Validator,
    value: &Value,
    route: &[Step],
    path: &str,
    unions: &[String],
    out: &mut Vec<Site>,
) {
    let step = |s: Step| {
        let mut r = route.to_vec();
        r.push(s);
        r
    };
    match (v, value) {
        (Validator::Union(_), _) => collect_sites(
            v,
            value,
            route.to_vec(),
            path.to_string(),
            unions.to_vec(),
            out,
        ),
        (Validator::Array(e), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                collect_sites(
                    e,
                    item,
                    step(Step::Index(i)),
                    format!("{path}[{i}]"),
                    unions.to_vec(),
                    out,
                );
            }
        }
        (Validator::Object(fields), Value::Object(m)) => {
            for (n, f) in fields {
                if let Some(x) = m.get(n) {
                    collect_sites(
                        &f.validator,
                        x,
                        step(Step::Key(n.clone())),
                        field_path(path, n),
                        unions.to_vec(),
                        out,
                    );
                }
            }
        }
        (Validator::Record { values, .. }, Value::Object(m)) => {
            for (k, x) in m {
                let p = format!("{path}[{}]", serde_json::to_string(k).unwrap());
                collect_sites(
                    values,
                    x,
                    step(Step::Key(k.clone())),
                    p,
                    unions.to_vec(),
                    out,
                );
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(doc: &'a mut Value, route: &[Step]) -> &'a mut Value {
    let mut cur = doc;
    for s in route {
        cur = match s {
            Step::Key(k) => cur.get_mut(k.as_str()).unwrap(),
            Step::Index(i) => cur.get_mut(*i).unwrap(),
        };
    }
    cur
}

fn palette() -> Vec<Value> {
    vec![
        Value::Null,
        json!(1.5),
        int64(3),
        json!(true),
        json!("str"),
        json!({"$bytes": "AQID"}),
        json!([]),
        json!({}),
    ]
}

fn same_shape(v: &Validator, x: &Value) -> bool {
    match (v, x) {
        (Validator::Union(ms), _) => ms.iter().any(|m| same_shape(m, x)),
        (Validator::Object(_) | Validator::Record { .. }, Value::Object(_))
        | (Validator::Array(_), Value::Array(_)) => true,
        _ => false,
    }
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    ChangeType,
    DropRequired,
    AddExtra,
    BreakLiteral,
}

const MUTATIONS: [Mutation; 4] = [
    Mutation::ChangeType,
    Mutation::DropRequired,
    Mutation::AddExtra,
    Mutation::BreakLiteral,
];

/// Apply `mutation` at `site` if it applies there; returns the mutated
/// document and the path the violation should name (before union widening).
/// `outer` is the outermost validator at the site's place (a site inside a
/// union member shares its place with the union).
fn mutate(
    doc: &Value,
    site: &Site,
    outer: &Validator,
    mutation: Mutation,
    pick: usize,
) -> Option<(Value, String)> {
    let mut out = doc.clone();
    let here = at_mut(&mut out, &site.route);
    match (mutation, &site.validator) {
        (Mutation::ChangeType, v) => {
            // A value of another kind: `{}` at an object site would be a
            // different mutation (dropped fields), so containers of the
            // site's own shape are left out.
            let candidates: Vec<Value> = palette()
                .into_iter()
                .filter(|x| !model_accepts(v, x) && !same_shape(outer, x))
                .collect();
            if candidates.is_empty() {
                return None;
            }
            *here = candidates[pick % candidates.len()].clone();
            Some((out, site.path.clone()))
        }
        (Mutation::DropRequired, Validator::Object(fields)) => {
            let required: Vec<&String> = fields
                .iter()
                .filter(|(_, f)| !f.optional)
                .map(|(n, _)| n)
                .collect();
            if required.is_empty() {
                return None;
            }
            let name = required[pick % required.len()];
            here.as_object_mut()?.remove(name)?;
            Some((out, field_path(&site.path, name)))
        }
        (Mutation::AddExtra, Validator::Object(_)) => {
            here.as_object_mut()?.insert("zz_extra".into(), json!(1));
            Some((out, field_path(&site.path, "zz_extra")))
        }
        (Mutation::BreakLiteral, Validator::Literal(l)) => {
            *here = match l {
                Literal::String(s) => json!(format!("{s}~")),
                Literal::Number(f) => float(if *f == 0.0 { 1.0 } else { -f }),
                Literal::Int64(i) => int64(i.wrapping_add(1)),
                Literal::Boolean(b) => json!(!b),
            };
            Some((out, site.path.clone()))
        }
        _ => None,
    }
}

/// Whether `path` is `union` or lies inside it. A union that cannot tell
/// which member was meant reports at its own path, and one that can reports
/// inside the member it picked, which need not be the mutated one.
fn within(path: &str, union: &str) -> bool {
    union.is_empty()
        || path == union
        || path
            .strip_prefix(union)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

fn sites_of(v: &Validator, doc: &Value) -> Vec<Site> {
    let mut sites = Vec::new();
    collect_sites(v, doc, vec![], String::new(), vec![], &mut sites);
    sites
}

fn validator_and_doc() -> impl Strategy<Value = (Validator, Value)> {
    validator_strategy().prop_flat_map(|v| {
        let values = value_strategy(&v);
        (Just(v), values)
    })
}

// ---------- edits for accepts_all_of ----------

/// Edit `v` at a place chosen by `choices`: widen, narrow or replace.
fn edit(v: &Validator, choices: &[u8], replacement: &Validator) -> Validator {
    let (first, rest) = match choices.split_first() {
        Some((f, r)) => (*f, r),
        None => return v.clone(),
    };
    let descend = first % 2 == 0 && !rest.is_empty();
    match v {
        Validator::Array(e) if descend => Validator::Array(Box::new(edit(e, rest, replacement))),
        Validator::Object(fields) if descend && !fields.is_empty() => {
            let mut fields = fields.clone();
            let name = fields
                .keys()
                .nth(usize::from(rest[0]) % fields.len())
                .unwrap()
                .clone();
            let f = fields.get_mut(&name).unwrap();
            f.validator = edit(&f.validator, &rest[1..], replacement);
            Validator::Object(fields)
        }
        Validator::Union(ms) if descend => {
            let mut ms = ms.clone();
            let i = usize::from(rest[0]) % ms.len();
            ms[i] = edit(&ms[i], &rest[1..], replacement);
            Validator::Union(ms)
        }
        Validator::Record { keys, values } if descend => Validator::Record {
            keys: keys.clone(),
            values: Box::new(edit(values, rest, replacement)),
        },
        _ => match first % 9 {
            1 => Validator::Union(vec![v.clone(), replacement.clone()]),
            3 => Validator::Any,
            5 => match v {
                Validator::Object(fields) => {
                    let mut fields = fields.clone();
                    let name = FIELD_NAMES
                        [usize::from(rest.first().copied().unwrap_or(0)) % FIELD_NAMES.len()];
                    match fields.get_mut(name) {
                        Some(f) => f.optional = !f.optional,
                        None => {
                            fields.insert(
                                name.into(),
                                Field {
                                    validator: replacement.clone(),
                                    optional: first % 2 == 1,
                                },
                            );
                        }
                    }
                    Validator::Object(fields)
                }
                Validator::Union(ms) if ms.len() > 1 => Validator::Union(ms[1..].to_vec()),
                _ => replacement.clone(),
            },
            7 => match v {
                Validator::Object(fields) if !fields.is_empty() => {
                    let mut fields = fields.clone();
                    let name = fields.keys().next().unwrap().clone();
                    fields.remove(&name);
                    Validator::Object(fields)
                }
                _ => v.clone(),
            },
            _ => replacement.clone(),
        },
    }
}

fn schema_with(field: &Validator) -> Value {
    json!({"tables": [{"tableName": "t", "documentType": {"type": "object", "value": {
        "f": {"fieldType": validator_json(field), "optional": false}}}}], "schemaValidation": true})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn generated_documents_pass_their_validator((v, doc) in validator_and_doc()) {
        prop_assert!(model_accepts(&v, &doc), "generator broke the model: {doc}");
        let violations = check(&v, &doc);
        prop_assert!(violations.is_empty(), "{doc} against {v:?}: {violations:?}");
    }

    #[test]
    fn mutated_documents_fail_at_the_mutated_place(
        (v, doc) in validator_and_doc(),
        site_pick in any::<Index>(),
        first_mutation in 0usize..4,
        pick in any::<usize>(),
    ) {
        let sites = sites_of(&v, &doc);
        // The chosen mutation at the first site, from a random start, where it
        // applies; failing that, the next mutation kind.
        let start = site_pick.index(sites.len());
        let applied = (0..MUTATIONS.len()).find_map(|m| {
            let mutation = MUTATIONS[(first_mutation + m) % MUTATIONS.len()];
            (0..sites.len()).find_map(|i| {
                let site = &sites[(start + i) % sites.len()];
                let outer = &sites.iter().find(|s| s.path == site.path).unwrap_or(site).validator;
                mutate(&doc, site, outer, mutation, pick).map(|m| (mutation, site, m))
            })
        });
        // Only a document made of `v.any()` has nothing to break.
        let Some((mutation, site, (mutated, path))) = applied else { return Ok(()) };
        let violations = check(&v, &mutated);
        if model_accepts(&v, &mutated) {
            // The change landed on another union member's shape.
            prop_assert!(violations.is_empty(), "{violations:?}");
        } else {
            prop_assert!(
                violations.iter().any(|x| x.path == path || site.unions.iter().any(|u| within(&x.path, u))),
                "{mutation:?} at {path:?} (unions {:?}) in {mutated}: {violations:?}", site.unions
            );
        }
    }

    #[test]
    fn engine_agrees_with_the_model_on_any_value(v in validator_strategy(), value in any_value()) {
        let violations = check(&v, &value);
        prop_assert_eq!(violations.is_empty(), model_accepts(&v, &value), "{} against {:?}: {:?}", value, v, violations);
    }

    #[test]
    fn validators_round_trip_through_the_exported_json(v in validator_strategy()) {
        let back = parse_validator(&validator_json(&v), "").unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn accepts_all_of_is_reflexive(v in validator_strategy()) {
        prop_assert!(accepts_all_of(&v, &v));
    }

    #[test]
    fn accepts_all_of_is_sound_and_matches_the_diff(
        (old, values) in validator_strategy().prop_flat_map(|v| {
            let values = prop::collection::vec(value_strategy(&v), 1..6);
            (Just(v), values)
        }),
        choices in prop::collection::vec(any::<u8>(), 0..6),
        replacement in validator_strategy(),
    ) {
        let new = edit(&old, &choices, &replacement);
        let covers = accepts_all_of(&new, &old);
        if covers {
            for value in &values {
                let violations = check(&new, value);
                prop_assert!(violations.is_empty(), "accepts_all_of said yes, but {value} fails {new:?}: {violations:?}");
            }
        }
        let diff = diff_schemas(&schema_with(&old), &schema_with(&new)).unwrap();
        prop_assert_eq!(diff.safety == Safety::Safe, covers, "old {:?} new {:?}: {:?}", old, new, diff);
    }
}

#[test]
fn fixture_schema_with_every_kind_parses() {
    let exported: Value =
        serde_json::from_str(include_str!("fixtures/schema_all_kinds.json")).unwrap();
    assert!(exported.is_string(), "export() returns a JSON string");
    let model = parse_schema(&exported).unwrap();
    let names: Vec<&str> = model.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(names, vec!["users", "events", "blobs", "todos"]);
    assert!(model.schema_validation);
    let users = model.table("users").unwrap();
    let Some(Validator::Object(fields)) = &users.document_type else {
        panic!("users is an object")
    };
    assert_eq!(fields["balance"].validator, Validator::Int64);
    assert_eq!(
        fields["big"].validator,
        Validator::Literal(Literal::Int64(7))
    );
    assert_eq!(
        fields["manager"].validator,
        Validator::Id {
            table: "users".into()
        }
    );
    assert!(fields["email"].optional);
    assert_eq!(users.indexes.len(), 2);
    assert_eq!(users.search_indexes.len(), 1);
    assert_eq!(users.vector_indexes[0].dimensions, 8);
    assert!(matches!(
        model.table("events").unwrap().document_type,
        Some(Validator::Union(_))
    ));
    assert_eq!(model.table("blobs").unwrap().document_type, None);
}

#[test]
fn fixture_users_document_passes_and_a_broken_one_is_explained() {
    let exported: Value =
        serde_json::from_str(include_str!("fixtures/schema_all_kinds.json")).unwrap();
    let model = parse_schema(&exported).unwrap();
    let users = model.table("users").unwrap().document_type.clone().unwrap();
    let mut doc = json!({
        "name": "Ada", "age": 36, "score": {"$float": base64(&f64::NAN.to_le_bytes())},
        "balance": int64(-5), "active": true, "deletedAt": null, "avatar": {"$bytes": "AQID"},
        "manager": "u57abc", "role": "admin", "level": 3, "big": int64(7), "flag": true,
        "tags": ["x"], "address": {"city": "Oslo"}, "meta": {"k": 1}, "friends": {"u57": true},
        "extra": {"anything": [1, 2]}, "nothing": null, "stamp": int64(1)
    });
    assert_eq!(check(&users, &doc), vec![]);
    doc["role"] = json!("owner");
    doc["big"] = json!(7);
    doc["address"] = json!({});
    doc.as_object_mut().unwrap().remove("name");
    let got: Vec<(String, String, String)> = check(&users, &doc)
        .into_iter()
        .map(|v| (v.path, v.expected, v.found))
        .collect();
    let want = vec![
        ("address.city", "string", "missing"),
        ("big", "7n", "number 7"),
        ("name", "string", "missing"),
        ("role", "\"admin\" | \"member\"", "string \"owner\""),
    ];
    let want: Vec<(String, String, String)> = want
        .into_iter()
        .map(|(a, b, c)| (a.into(), b.into(), c.into()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn every_mutation_kind_applies_somewhere_in_a_plain_object() {
    // Guards the property test above against silently skipping a kind.
    let v = parse_validator(
        &json!({"type": "object", "value": {
            "kind": {"fieldType": {"type": "literal", "value": "a"}, "optional": false},
            "n": {"fieldType": {"type": "number"}, "optional": false}}}),
        "",
    )
    .unwrap();
    let doc = json!({"kind": "a", "n": 1});
    let sites = sites_of(&v, &doc);
    for mutation in [
        Mutation::ChangeType,
        Mutation::DropRequired,
        Mutation::AddExtra,
        Mutation::BreakLiteral,
    ] {
        let applied = sites
            .iter()
            .filter_map(|s| mutate(&doc, s, &s.validator, mutation, 0))
            .count();
        assert!(applied > 0, "{mutation:?} never applies");
    }
}
