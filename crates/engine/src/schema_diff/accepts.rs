//! "Does the new validator accept every value the old one did?"
//!
//! This decides whether a schema change is safe for the data already stored.
//! It is a sound approximation: `true` only when sure; where a precise answer
//! would need set reasoning (say, an object split across union members) it
//! answers `false`, and the diff then asks for a migration.

use crate::validator::{Field, Literal, Validator};
use std::collections::BTreeMap;

/// `true` when every value `old` accepts is also accepted by `new`, so data
/// valid under `old` stays valid under `new` with no migration.
///
/// Sound, not complete: a `false` may be overly cautious, a `true` is never
/// wrong (the property tests generate values from `old` and check them
/// against `new`).
pub fn accepts_all_of(new: &Validator, old: &Validator) -> bool {
    match (new, old) {
        (Validator::Any, _) => true,
        // Every member of the old union must be covered.
        (_, Validator::Union(members)) => members.iter().all(|m| accepts_all_of(new, m)),
        // `true | false` covers `boolean` although no single member does.
        (Validator::Union(_), Validator::Boolean) => {
            accepts_all_of(new, &Validator::Literal(Literal::Boolean(true)))
                && accepts_all_of(new, &Validator::Literal(Literal::Boolean(false)))
        }
        (Validator::Union(members), _) => members.iter().any(|m| accepts_all_of(m, old)),
        // Only `v.any()` (handled above, possibly as a union member) covers `v.any()`.
        (_, Validator::Any) => false,
        (
            Validator::String,
            Validator::String | Validator::Id { .. } | Validator::Literal(Literal::String(_)),
        ) => true,
        (Validator::Number, Validator::Number | Validator::Literal(Literal::Number(_))) => true,
        (
            Validator::Int64 | Validator::CommitTs,
            Validator::Int64 | Validator::CommitTs | Validator::Literal(Literal::Int64(_)),
        ) => true,
        (Validator::Boolean, Validator::Boolean | Validator::Literal(Literal::Boolean(_))) => true,
        (Validator::Null, Validator::Null) | (Validator::Bytes, Validator::Bytes) => true,
        (Validator::Id { table: a }, Validator::Id { table: b }) => a == b,
        (Validator::Literal(a), Validator::Literal(b)) => a.same_as(b),
        (Validator::Array(a), Validator::Array(b)) => accepts_all_of(a, b),
        (Validator::Object(new_fields), Validator::Object(old_fields)) => {
            object_covers(new_fields, old_fields)
        }
        (
            Validator::Record {
                keys: nk,
                values: nv,
            },
            Validator::Record {
                keys: ok,
                values: ov,
            },
        ) => accepts_all_of(nk, ok) && accepts_all_of(nv, ov),
        (Validator::Record { keys, values }, Validator::Object(old_fields)) => {
            old_fields.iter().all(|(name, field)| {
                key_accepts_name(keys, name) && accepts_all_of(values, &field.validator)
            })
        }
        _ => false,
    }
}

/// Objects are strict, so the new object must keep every old field (as
/// optional if it was optional), accept its values, and add only optional
/// fields.
fn object_covers(
    new_fields: &BTreeMap<String, Field>,
    old_fields: &BTreeMap<String, Field>,
) -> bool {
    let old_covered = old_fields
        .iter()
        .all(|(name, old)| match new_fields.get(name) {
            Some(new) => {
                (new.optional || !old.optional) && accepts_all_of(&new.validator, &old.validator)
            }
            None => false,
        });
    old_covered
        && new_fields
            .iter()
            .all(|(name, new)| new.optional || old_fields.contains_key(name))
}

/// Whether a record key validator surely accepts the field name `name`.
/// An id key is never sure: a field name is not known to be an id.
fn key_accepts_name(keys: &Validator, name: &str) -> bool {
    match keys {
        Validator::Any | Validator::String => true,
        Validator::Literal(Literal::String(s)) => s == name,
        Validator::Union(members) => members.iter().any(|m| key_accepts_name(m, name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::build::{lit, obj};

    #[test]
    fn accepts_all_of_widens_literal_to_base_and_to_unions() {
        assert!(accepts_all_of(&Validator::String, &lit("a")));
        assert!(!accepts_all_of(&lit("a"), &Validator::String));
        let ab = Validator::Union(vec![lit("a"), lit("b")]);
        let abc = Validator::Union(vec![lit("a"), lit("b"), lit("c")]);
        assert!(accepts_all_of(&abc, &ab));
        assert!(!accepts_all_of(&ab, &abc));
        assert!(accepts_all_of(
            &Validator::Union(vec![Validator::String, Validator::Null]),
            &Validator::String
        ));
        assert!(accepts_all_of(&Validator::Any, &ab));
        assert!(!accepts_all_of(&ab, &Validator::Any));
    }

    #[test]
    fn accepts_all_of_covers_boolean_with_both_literals() {
        let both = Validator::Union(vec![
            Validator::Literal(Literal::Boolean(true)),
            Validator::Literal(Literal::Boolean(false)),
        ]);
        assert!(accepts_all_of(&both, &Validator::Boolean));
        assert!(accepts_all_of(&Validator::Boolean, &both));
    }

    #[test]
    fn accepts_all_of_respects_strict_objects() {
        let old = obj(&[("a", Validator::String, false)]);
        assert!(accepts_all_of(
            &obj(&[
                ("a", Validator::String, false),
                ("b", Validator::Null, true)
            ]),
            &old
        ));
        assert!(!accepts_all_of(
            &obj(&[
                ("a", Validator::String, false),
                ("b", Validator::Null, false)
            ]),
            &old
        ));
        assert!(!accepts_all_of(&obj(&[]), &old));
        assert!(accepts_all_of(
            &obj(&[("a", Validator::String, true)]),
            &old
        ));
        assert!(!accepts_all_of(
            &old,
            &obj(&[("a", Validator::String, true)])
        ));
    }

    #[test]
    fn accepts_all_of_keeps_ids_narrower_than_strings() {
        let id = Validator::Id {
            table: "users".into(),
        };
        assert!(accepts_all_of(&Validator::String, &id));
        assert!(!accepts_all_of(&id, &Validator::String));
        assert!(!accepts_all_of(
            &id,
            &Validator::Id {
                table: "teams".into()
            }
        ));
        assert!(accepts_all_of(&Validator::Int64, &Validator::CommitTs));
        assert!(!accepts_all_of(&Validator::Number, &Validator::Int64));
    }

    #[test]
    fn accepts_all_of_lets_a_record_cover_an_object() {
        let rec = Validator::Record {
            keys: Box::new(Validator::String),
            values: Box::new(Validator::Number),
        };
        assert!(accepts_all_of(
            &rec,
            &obj(&[("x", Validator::Number, false)])
        ));
        assert!(!accepts_all_of(
            &rec,
            &obj(&[("x", Validator::String, false)])
        ));
        assert!(!accepts_all_of(
            &obj(&[("x", Validator::Number, false)]),
            &rec
        ));
    }
}
