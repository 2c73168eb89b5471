//! `#[derive(Wire)]`: the engine's boundary codec for a type, generated from
//! the `#[serde(...)]` attributes it already carries, so the codec's wire
//! format and serde's are written down once.
//!
//! Understood, as serde means them: on the container `rename_all`
//! (`camelCase`, `snake_case`, `SCREAMING_SNAKE_CASE`), `rename_all_fields`,
//! `tag` and `untagged`; on a field `rename`, `default`, `skip` and
//! `skip_serializing_if = "Option::is_none"`; on a variant `rename`. Any
//! other serde attribute, or a shape outside these (a tuple struct, a tagged
//! tuple variant, generics), is a compile error, so a new attribute cannot
//! silently change one encoding and not the other.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{
    parse_macro_input, spanned::Spanned, Attribute, Data, DeriveInput, Error, Fields, LitStr,
    Result,
};

#[proc_macro_derive(Wire)]
pub fn derive_wire(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Case {
    None,
    Camel,
    Snake,
    ScreamingSnake,
}

impl Case {
    fn parse(lit: &LitStr) -> Result<Case> {
        match lit.value().as_str() {
            "camelCase" => Ok(Case::Camel),
            "snake_case" => Ok(Case::Snake),
            "SCREAMING_SNAKE_CASE" => Ok(Case::ScreamingSnake),
            other => Err(Error::new(
                lit.span(),
                format!("Wire does not know the rename rule {other:?}"),
            )),
        }
    }

    /// A variant name (PascalCase), renamed as serde renames it.
    fn variant(self, name: &str) -> String {
        match self {
            Case::None => name.to_owned(),
            Case::Camel => {
                let mut chars = name.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
            Case::Snake | Case::ScreamingSnake => {
                let mut out = String::new();
                for (i, ch) in name.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        out.push('_');
                    }
                    out.push(ch.to_ascii_lowercase());
                }
                if self == Case::ScreamingSnake {
                    out.make_ascii_uppercase();
                }
                out
            }
        }
    }

    /// A field name (snake_case), renamed as serde renames it.
    fn field(self, name: &str) -> String {
        match self {
            Case::None | Case::Snake => name.to_owned(),
            Case::ScreamingSnake => name.to_ascii_uppercase(),
            Case::Camel => {
                let mut out = String::new();
                let mut upper = false;
                for ch in name.chars() {
                    if ch == '_' {
                        upper = true;
                    } else if upper {
                        out.push(ch.to_ascii_uppercase());
                        upper = false;
                    } else {
                        out.push(ch);
                    }
                }
                out
            }
        }
    }
}

#[derive(Default)]
struct Container {
    rename_all: Option<Case>,
    rename_all_fields: Option<Case>,
    tag: Option<String>,
    untagged: bool,
}

#[derive(Default)]
struct FieldAttrs {
    rename: Option<String>,
    default: bool,
    skip: bool,
    skip_if_none: bool,
}

fn serde_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("serde"))
}

fn unknown(meta: &syn::meta::ParseNestedMeta, place: &str) -> Error {
    let name = meta
        .path
        .get_ident()
        .map_or_else(|| "?".to_owned(), ToString::to_string);
    meta.error(format!(
        "Wire does not understand #[serde({name})] on a {place}; teach crates/engine-wire-derive what it means, or the codec would encode this type differently from serde"
    ))
}

fn container_attrs(attrs: &[Attribute]) -> Result<Container> {
    let mut c = Container::default();
    for attr in serde_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                c.rename_all = Some(Case::parse(&meta.value()?.parse()?)?);
            } else if meta.path.is_ident("rename_all_fields") {
                c.rename_all_fields = Some(Case::parse(&meta.value()?.parse()?)?);
            } else if meta.path.is_ident("tag") {
                let lit: LitStr = meta.value()?.parse()?;
                c.tag = Some(lit.value());
            } else if meta.path.is_ident("untagged") {
                c.untagged = true;
            } else {
                return Err(unknown(&meta, "type"));
            }
            Ok(())
        })?;
    }
    Ok(c)
}

fn field_attrs(attrs: &[Attribute]) -> Result<FieldAttrs> {
    let mut f = FieldAttrs::default();
    for attr in serde_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                f.rename = Some(lit.value());
            } else if meta.path.is_ident("default") {
                if meta.input.peek(syn::Token![=]) {
                    return Err(
                        meta.error("Wire understands #[serde(default)] only without a path")
                    );
                }
                f.default = true;
            } else if meta.path.is_ident("skip") {
                f.skip = true;
            } else if meta.path.is_ident("skip_serializing_if") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value() != "Option::is_none" {
                    return Err(Error::new(
                        lit.span(),
                        "Wire understands skip_serializing_if = \"Option::is_none\" only",
                    ));
                }
                f.skip_if_none = true;
            } else {
                return Err(unknown(&meta, "field"));
            }
            Ok(())
        })?;
    }
    Ok(f)
}

fn variant_rename(attrs: &[Attribute]) -> Result<Option<String>> {
    let mut rename = None;
    for attr in serde_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                rename = Some(lit.value());
                Ok(())
            } else {
                Err(unknown(&meta, "variant"))
            }
        })?;
    }
    Ok(rename)
}

/// One named field: its Rust name, its name on the wire and how it is read.
struct Field {
    ident: syn::Ident,
    key: String,
    attrs: FieldAttrs,
}

fn named_fields(fields: &Fields, case: Case) -> Result<Vec<Field>> {
    let Fields::Named(named) = fields else {
        return Err(Error::new(
            fields.span(),
            "Wire supports named fields only here",
        ));
    };
    named
        .named
        .iter()
        .map(|f| {
            let attrs = field_attrs(&f.attrs)?;
            let ident = f.ident.clone().expect("named field");
            let key = attrs
                .rename
                .clone()
                .unwrap_or_else(|| case.field(&ident.to_string()));
            Ok(Field { ident, key, attrs })
        })
        .collect()
}

/// Statements that set each field of `fields` (bound to local references
/// named as the fields) on the object `out`.
fn encode_fields(fields: &[Field]) -> Tokens {
    let sets = fields.iter().filter(|f| !f.attrs.skip).map(|f| {
        let ident = &f.ident;
        let key = &f.key;
        let set =
            quote! { ::wire::WireValue::set(&mut out, #key, ::wire::Wire::encode::<V>(#ident)); };
        if f.attrs.skip_if_none {
            quote! { if ::core::option::Option::is_some(#ident) { #set } }
        } else {
            set
        }
    });
    quote! { #(#sets)* }
}

/// `name: expr` for each field of `fields`, read from the object `value`.
fn decode_fields(fields: &[Field], owner: &str) -> Tokens {
    let inits = fields.iter().map(|f| {
        let ident = &f.ident;
        let key = &f.key;
        if f.attrs.skip {
            quote! { #ident: ::core::default::Default::default() }
        } else if f.attrs.default {
            quote! { #ident: ::wire::field_or_default(value, #key)? }
        } else {
            quote! { #ident: ::wire::field(value, #key, #owner)? }
        }
    });
    quote! { #(#inits),* }
}

fn expand(input: &DeriveInput) -> Result<Tokens> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "Wire does not support generic types",
        ));
    }
    let name = &input.ident;
    let owner = name.to_string();
    let c = container_attrs(&input.attrs)?;
    let (encode, decode) = match &input.data {
        Data::Struct(data) => {
            if c.tag.is_some() || c.untagged || c.rename_all_fields.is_some() {
                return Err(Error::new(
                    Span::call_site(),
                    "Wire supports tag, untagged and rename_all_fields on enums only",
                ));
            }
            let fields = named_fields(&data.fields, c.rename_all.unwrap_or(Case::None))?;
            let idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
            let sets = encode_fields(&fields);
            let inits = decode_fields(&fields, &owner);
            let what = format!("struct {owner}");
            (
                quote! {
                    #[allow(unused_variables)]
                    let #name { #(#idents),* } = self;
                    let mut out = <V as ::wire::WireValue>::object();
                    #sets
                    out
                },
                quote! {
                    ::wire::expect_object(value, #what)?;
                    ::core::result::Result::Ok(#name { #inits })
                },
            )
        }
        Data::Enum(data) => expand_enum(name, &owner, &c, data)?,
        Data::Union(_) => {
            return Err(Error::new(
                Span::call_site(),
                "Wire does not support unions",
            ))
        }
    };
    Ok(quote! {
        impl ::wire::Wire for #name {
            fn encode<V: ::wire::WireValue>(&self) -> V {
                #encode
            }
            fn decode<V: ::wire::WireValue>(value: &V) -> ::core::result::Result<Self, ::wire::WireError> {
                #decode
            }
        }
    })
}

fn expand_enum(
    name: &syn::Ident,
    owner: &str,
    c: &Container,
    data: &syn::DataEnum,
) -> Result<(Tokens, Tokens)> {
    let variant_case = c.rename_all.unwrap_or(Case::None);
    let field_case = c.rename_all_fields.unwrap_or(Case::None);
    let mut names = Vec::new();
    for v in &data.variants {
        let rename = variant_rename(&v.attrs)?;
        names.push(rename.unwrap_or_else(|| variant_case.variant(&v.ident.to_string())));
    }

    if c.untagged {
        if c.tag.is_some() {
            return Err(Error::new(Span::call_site(), "untagged and tag together"));
        }
        // Newtype variants only: each is its content, tried in order.
        let mut encodes = Vec::new();
        let mut tries = Vec::new();
        for v in &data.variants {
            let ident = &v.ident;
            match &v.fields {
                Fields::Unnamed(f) if f.unnamed.len() == 1 => {}
                _ => {
                    return Err(Error::new(
                        v.span(),
                        "Wire supports untagged enums of one-field tuple variants only",
                    ))
                }
            }
            encodes.push(quote! { #name::#ident(inner) => ::wire::Wire::encode::<V>(inner) });
            tries.push(quote! {
                if let ::core::result::Result::Ok(inner) = ::wire::Wire::decode(value) {
                    return ::core::result::Result::Ok(#name::#ident(inner));
                }
            });
        }
        let message = format!("data did not match any variant of untagged enum {owner}");
        return Ok((
            quote! { match self { #(#encodes),* } },
            quote! {
                #(#tries)*
                ::core::result::Result::Err(::wire::WireError::new(#message))
            },
        ));
    }

    let Some(tag) = &c.tag else {
        // Unit variants only: each is its name as a string.
        let mut encodes = Vec::new();
        let mut decodes = Vec::new();
        for (v, key) in data.variants.iter().zip(&names) {
            if !matches!(v.fields, Fields::Unit) {
                return Err(Error::new(
                    v.span(),
                    "Wire supports enums with fields only with #[serde(tag = \"...\")] or untagged",
                ));
            }
            let ident = &v.ident;
            encodes.push(quote! { #name::#ident => #key });
            decodes.push(quote! { #key => ::core::result::Result::Ok(#name::#ident) });
        }
        return Ok((
            quote! { <V as ::wire::WireValue>::string(match self { #(#encodes),* }) },
            quote! {
                const NAMES: &[&str] = &[#(#names),*];
                let name = ::wire::variant_name(value, NAMES)?;
                match name.as_str() {
                    #(#decodes,)*
                    _ => ::core::result::Result::Err(::wire::unknown_variant(&name, NAMES)),
                }
            },
        ));
    };

    let mut encodes = Vec::new();
    let mut decodes = Vec::new();
    for (v, key) in data.variants.iter().zip(&names) {
        let ident = &v.ident;
        let variant_owner = format!("{owner}::{ident}");
        match &v.fields {
            Fields::Unit => {
                encodes.push(quote! {
                    #name::#ident => {
                        let mut out = <V as ::wire::WireValue>::object();
                        ::wire::WireValue::set(&mut out, #tag, <V as ::wire::WireValue>::string(#key));
                        out
                    }
                });
                decodes.push(quote! { #key => ::core::result::Result::Ok(#name::#ident) });
            }
            Fields::Named(_) => {
                let fields = named_fields(&v.fields, field_case)?;
                if fields.iter().any(|f| f.key == *tag) {
                    return Err(Error::new(v.span(), "a field has the name of the tag"));
                }
                let idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
                let sets = encode_fields(&fields);
                let inits = decode_fields(&fields, &variant_owner);
                encodes.push(quote! {
                    #[allow(unused_variables)]
                    #name::#ident { #(#idents),* } => {
                        let mut out = <V as ::wire::WireValue>::object();
                        ::wire::WireValue::set(&mut out, #tag, <V as ::wire::WireValue>::string(#key));
                        #sets
                        out
                    }
                });
                decodes
                    .push(quote! { #key => ::core::result::Result::Ok(#name::#ident { #inits }) });
            }
            Fields::Unnamed(_) => {
                return Err(Error::new(
                    v.span(),
                    "Wire does not support tuple variants in a tagged enum",
                ))
            }
        }
    }
    Ok((
        quote! { match self { #(#encodes),* } },
        quote! {
            const NAMES: &[&str] = &[#(#names),*];
            let tag = ::wire::tag(value, #tag, #owner)?;
            match tag.as_str() {
                #(#decodes,)*
                _ => ::core::result::Result::Err(::wire::unknown_variant(&tag, NAMES).in_field(#tag)),
            }
        },
    ))
}
