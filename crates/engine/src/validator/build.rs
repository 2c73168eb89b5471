//! Short constructors for validators in unit tests.

use super::{Field, Literal, Validator};

/// `v.literal(s)`.
pub(crate) fn lit(s: &str) -> Validator {
    Validator::Literal(Literal::String(s.into()))
}

/// `v.object({...})` from `(name, validator, optional)` triples.
pub(crate) fn obj(fields: &[(&str, Validator, bool)]) -> Validator {
    Validator::Object(
        fields
            .iter()
            .map(|(n, v, o)| {
                (
                    n.to_string(),
                    Field {
                        validator: v.clone(),
                        optional: *o,
                    },
                )
            })
            .collect(),
    )
}
