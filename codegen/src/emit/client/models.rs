//! The models and the `fields` enums (`src/gen/models.rs`, `src/gen/fields.rs`): one struct
//! per schema, with its docs, defaults, constructor and redacted `Debug`.

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::emit::client::catalogs::open_enum;
use crate::emit::client::names::{field_ident, schema_ident, type_ident};
use crate::emit::client::tokens::doc;
use crate::model::{Field, Model, Schema, Type};

/// The Rust type of a field type, before `Option` wrapping.
pub(super) fn rust_type(ty: &Type) -> TokenStream {
    match ty {
        Type::String => quote!(::std::string::String),
        Type::Bool => quote!(bool),
        Type::I32 => quote!(i32),
        Type::I64 => quote!(i64),
        Type::List(inner) => {
            let inner = rust_type(inner);
            quote!(::std::vec::Vec<#inner>)
        }
        Type::Enum(name) | Type::Schema(name) => {
            let ident = schema_ident(name);
            quote!(#ident)
        }
    }
}

/// Whether a value of this type has a `Default`.
fn has_default(model: &Model, ty: &Type) -> bool {
    match ty {
        Type::String | Type::Bool | Type::I32 | Type::I64 | Type::List(_) => true,
        Type::Enum(_) => false,
        Type::Schema(name) => model
            .schema(name)
            .is_some_and(|schema| schema_has_default(model, schema)),
    }
}

fn schema_has_default(model: &Model, schema: &Schema) -> bool {
    schema
        .fields
        .iter()
        .all(|field| !field.required || has_default(model, &field.ty))
}

/// The schemas only TikTok sends: reached from an answer's data or a webhook's content,
/// never from a request body. They are `#[non_exhaustive]`, so a field TikTok adds is not
/// a breaking change for code that reads them; an app never builds one.
pub(super) fn received_only(model: &Model) -> BTreeSet<&str> {
    let sent = reached(
        model,
        model
            .endpoints
            .iter()
            .filter_map(|endpoint| endpoint.request.as_ref().map(|(body, _)| body.as_str())),
    );
    let received = reached(
        model,
        model
            .endpoints
            .iter()
            .map(|endpoint| endpoint.response.as_str())
            .chain(
                model
                    .webhooks
                    .iter()
                    .map(|webhook| webhook.content.as_str()),
            ),
    );
    received.difference(&sent).copied().collect()
}

/// The schemas `roots` name and every schema their fields reach.
fn reached<'a>(model: &'a Model, roots: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<&str> = roots.collect();
    while let Some(name) = pending.pop() {
        let Some(schema) = model.schema(name) else {
            continue;
        };
        if !seen.insert(schema.name.as_str()) {
            continue;
        }
        for field in &schema.fields {
            let mut ty = &field.ty;
            while let Type::List(inner) = ty {
                ty = inner;
            }
            if let Type::Schema(inner) = ty {
                pending.push(inner);
            }
        }
    }
    seen
}

fn field_doc(field: &Field) -> String {
    let mut text = field.description.clone();
    let mut notes = Vec::new();
    if let Some(scope) = &field.scope {
        notes.push(format!("needs `{scope}`"));
    }
    if let Some(max) = field.max_length {
        notes.push(format!("at most {max} characters"));
    }
    if let Some(min) = field.min_items {
        notes.push(format!("at least {min} items"));
    }
    if let Some(max) = field.max_items {
        notes.push(format!("at most {max} items"));
    }
    if let Some(min) = field.minimum {
        notes.push(format!("minimum {min}"));
    }
    if let Some(max) = field.maximum {
        notes.push(format!("maximum {max}"));
    }
    if !notes.is_empty() {
        text.push_str(&format!(" ({})", notes.join("; ")));
    }
    text
}

/// `Debug` that prints `[redacted]` for the schema's secret fields.
fn redacted_debug(schema: &Schema) -> TokenStream {
    let name = schema_ident(&schema.name);
    let wire_name = &schema.name;
    let fields: Vec<TokenStream> = schema
        .fields
        .iter()
        .map(|field| {
            let ident = field_ident(&field.name);
            let label = &field.name;
            match (field.secret, field.required) {
                (false, _) => quote!(.field(#label, &self.#ident)),
                (true, true) => quote!(.field(#label, &"[redacted]")),
                (true, false) => {
                    quote!(.field(#label, &self.#ident.as_ref().map(|_| "[redacted]")))
                }
            }
        })
        .collect();
    quote! {
        impl ::std::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#wire_name) #(#fields)* .finish()
            }
        }
    }
}

/// `new` taking the required fields, the optional ones left out: for schemas with both,
/// and for every `#[non_exhaustive]` one with a required field (the only way to build one
/// outside this crate, as the mock builds webhook contents).
fn constructor(schema: &Schema, non_exhaustive: bool) -> TokenStream {
    let required: Vec<&Field> = schema
        .fields
        .iter()
        .filter(|field| field.required)
        .collect();
    if required.is_empty() || (required.len() == schema.fields.len() && !non_exhaustive) {
        return quote!();
    }
    let name = schema_ident(&schema.name);
    let params: Vec<TokenStream> = required
        .iter()
        .map(|field| {
            let ident = field_ident(&field.name);
            match field.ty {
                Type::String => quote!(#ident: impl ::std::convert::Into<::std::string::String>),
                _ => {
                    let ty = rust_type(&field.ty);
                    quote!(#ident: #ty)
                }
            }
        })
        .collect();
    let values: Vec<TokenStream> = schema
        .fields
        .iter()
        .map(|field| {
            let ident = field_ident(&field.name);
            match (field.required, &field.ty) {
                (true, Type::String) => quote!(#ident: #ident.into()),
                (true, _) => quote!(#ident),
                (false, _) => quote!(#ident: ::std::option::Option::None),
            }
        })
        .collect();
    let names: Vec<String> = required
        .iter()
        .map(|field| format!("`{}`", field.name))
        .collect();
    let text = format!(
        " A `{}` with {} set and every optional field left out.",
        schema.name,
        names.join(", ")
    );
    // A model with many required fields (creator info) takes them all; that is its shape.
    let allow = if params.len() > 7 {
        quote!(#[allow(clippy::too_many_arguments)])
    } else {
        quote!()
    };
    quote! {
        impl #name {
            #[doc = #text]
            #allow
            pub fn new(#(#params),*) -> Self {
                #name { #(#values,)* }
            }
        }
    }
}

pub(super) fn emit_models(model: &Model) -> TokenStream {
    let received = received_only(model);
    let enums: Vec<TokenStream> = model
        .enums
        .iter()
        .map(|enumeration| {
            let values: Vec<(String, String)> = enumeration
                .values
                .iter()
                .map(|value| (value.clone(), format!("a value of {}.", enumeration.name)))
                .collect();
            open_enum(
                &schema_ident(&enumeration.name),
                &enumeration.description,
                &values,
                quote!(),
            )
        })
        .collect();
    let structs: Vec<TokenStream> = model
        .schemas
        .iter()
        .map(|schema| {
            let name = schema_ident(&schema.name);
            let docs = doc(&format!("{}\n\nSpec schema `{}`.", schema.description, schema.name));
            let fields: Vec<TokenStream> = schema
                .fields
                .iter()
                .map(|field| {
                    let ident = field_ident(&field.name);
                    let wire = &field.name;
                    let ty = rust_type(&field.ty);
                    let docs = doc(&field_doc(field));
                    if field.required {
                        quote!(#docs #[serde(rename = #wire)] pub #ident: #ty)
                    } else {
                        quote! {
                            #docs
                            #[serde(rename = #wire, default, skip_serializing_if = "::std::option::Option::is_none")]
                            pub #ident: ::std::option::Option<#ty>
                        }
                    }
                })
                .collect();
            let default = if schema_has_default(model, schema) { quote!(Default,) } else { quote!() };
            let has_secret = schema.fields.iter().any(|field| field.secret);
            let derive_debug = if has_secret { quote!() } else { quote!(Debug,) };
            let debug = if has_secret { redacted_debug(schema) } else { quote!() };
            let received = received.contains(schema.name.as_str());
            let constructor = constructor(schema, received);
            let non_exhaustive = if received {
                quote!(#[non_exhaustive])
            } else {
                quote!()
            };
            quote! {
                #docs
                #[derive(#derive_debug Clone, PartialEq, #default ::serde::Serialize, ::serde::Deserialize)]
                #non_exhaustive
                pub struct #name {
                    #(#fields,)*
                }
                #debug
                #constructor
            }
        })
        .collect();
    quote! {
        //! Serde models of every request, response and webhook content, and the closed value sets.
        #(#enums)*
        #(#structs)*
    }
}

/// The schemas an endpoint's `fields` parameter selects from, in spec order, without repeats.
fn field_schemas(model: &Model) -> Vec<&Schema> {
    let mut names: Vec<&str> = Vec::new();
    for endpoint in &model.endpoints {
        if let Some(fields) = &endpoint.fields
            && !names.contains(&fields.schema.as_str())
        {
            names.push(&fields.schema);
        }
    }
    names.iter().filter_map(|name| model.schema(name)).collect()
}

pub(super) fn field_enum_ident(schema: &str) -> Ident {
    format_ident!("{}Field", schema)
}

pub(super) fn emit_fields(model: &Model) -> TokenStream {
    let enums: Vec<TokenStream> = field_schemas(model)
        .into_iter()
        .map(|schema| {
            let name = field_enum_ident(&schema.name);
            let schema_name = &schema.name;
            let docs = doc(&format!("A field of `{schema_name}` to ask for in the `fields` query parameter; each knows the scope it needs."));
            let variants: Vec<TokenStream> = schema
                .fields
                .iter()
                .map(|field| {
                    let variant = type_ident(&field.name);
                    let docs = doc(&format!("`{}`: {}", field.name, field_doc(field)));
                    quote!(#docs #variant)
                })
                .collect();
            let idents: Vec<Ident> = schema.fields.iter().map(|field| type_ident(&field.name)).collect();
            let wires: Vec<&str> = schema.fields.iter().map(|field| field.name.as_str()).collect();
            let scopes: Vec<TokenStream> = schema
                .fields
                .iter()
                .map(|field| match &field.scope {
                    Some(scope) => {
                        let scope = type_ident(scope);
                        quote!(Some(crate::Scope::#scope))
                    }
                    None => quote!(None),
                })
                .collect();
            quote! {
                #docs
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
                pub enum #name {
                    #(#variants,)*
                }

                impl #name {
                    /// Every field, in spec order.
                    pub const ALL: &'static [#name] = &[#(#name::#idents),*];

                    /// The field's JSON name.
                    pub const fn as_str(self) -> &'static str {
                        match self {
                            #(#name::#idents => #wires,)*
                        }
                    }

                    /// Parses a JSON name; `None` for a field the spec does not know.
                    pub fn parse(value: &str) -> Option<Self> {
                        match value {
                            #(#wires => Some(#name::#idents),)*
                            _ => None,
                        }
                    }

                    /// The scope a token needs to ask for this field, beyond the endpoint's own.
                    pub const fn scope(self) -> Option<crate::Scope> {
                        match self {
                            #(#name::#idents => #scopes,)*
                        }
                    }
                }

                impl ::std::fmt::Display for #name {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(self.as_str())
                    }
                }
            }
        })
        .collect();
    quote! {
        //! Field enums for the `fields` query parameter.
        #(#enums)*
    }
}
