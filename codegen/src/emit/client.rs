//! The client crate's generated source (`generated/src/gen/*.rs` and its round-trip
//! test), built with syn and quote and formatted with prettyplease.
//!
//! Names are mapped by [`names`] only; the emitters here never change case themselves.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::Error;
use crate::emit::text::rate_limit_text;
use crate::model::{
    Access, Auth, ContentType, Endpoint, Envelope, Field, Model, PagingStyle, Schema, Type,
    WebhookFamily,
};

/// Maps spec names to Rust names. The one place where case changes.
pub mod names {
    use proc_macro2::{Ident, Span};

    /// `user.info.basic`, `PUBLIC_TO_EVERYONE`, `file_format_check_failed` -> `UserInfoBasic`, ...
    pub fn upper_camel(name: &str) -> String {
        name.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|part| !part.is_empty())
            .map(|part| {
                let lower = part.to_ascii_lowercase();
                let mut chars = lower.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect()
    }

    /// `VideoList`, `video_list` -> `VIDEO_LIST`.
    pub fn screaming(name: &str) -> String {
        let mut out = String::new();
        let mut previous_lower = false;
        for c in name.chars() {
            if !c.is_ascii_alphanumeric() {
                out.push('_');
                previous_lower = false;
                continue;
            }
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    /// A type or variant identifier.
    pub fn type_ident(name: &str) -> Ident {
        Ident::new(&upper_camel(name), Span::call_site())
    }

    /// A schema's type identifier (spec names are already UpperCamelCase).
    pub fn schema_ident(name: &str) -> Ident {
        Ident::new(name, Span::call_site())
    }

    /// A field or function identifier; keywords become raw identifiers.
    pub fn field_ident(name: &str) -> Ident {
        let snake: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if syn::parse_str::<syn::Ident>(&snake).is_ok() {
            Ident::new(&snake, Span::call_site())
        } else {
            Ident::new_raw(&snake, Span::call_site())
        }
    }

    /// A static's identifier.
    pub fn static_ident(name: &str) -> Ident {
        Ident::new(&screaming(name), Span::call_site())
    }
}

use names::{field_ident, schema_ident, static_ident, type_ident};

/// Emits every generated file of the client crate, as (path relative to `generated/`, contents).
pub fn emit_client(model: &Model) -> Result<Vec<(String, String)>, Error> {
    let files = [
        ("src/gen/mod.rs", emit_mod()),
        ("src/gen/scopes.rs", emit_scopes(model)),
        ("src/gen/errors.rs", emit_errors(model)),
        ("src/gen/models.rs", emit_models(model)),
        ("src/gen/fields.rs", emit_fields(model)),
        ("src/gen/schemas.rs", emit_schema_table(model)),
        ("src/gen/endpoints.rs", emit_endpoint_table(model)),
        ("src/gen/webhooks.rs", emit_webhooks(model)),
        ("src/gen/constants.rs", emit_constants(model)),
        ("src/gen/client.rs", emit_methods(model)),
        ("src/gen/user.rs", emit_user_methods(model)),
        ("tests/gen/roundtrip.rs", emit_roundtrip(model)),
    ];
    files
        .into_iter()
        .map(|(path, tokens)| Ok((path.to_string(), format_file(path, tokens)?)))
        .collect()
}

/// Parses tokens as a file and pretty-prints them under the `@generated` header.
fn format_file(path: &str, tokens: TokenStream) -> Result<String, Error> {
    let file = syn::parse2::<syn::File>(tokens).map_err(|error| Error::Emit {
        file: path.to_string(),
        message: error.to_string(),
    })?;
    Ok(format!(
        "// {}\n\n{}",
        super::HEADER,
        prettyplease::unparse(&file)
    ))
}

fn doc(text: &str) -> TokenStream {
    let lines: Vec<TokenStream> = text
        .lines()
        .map(|line| {
            let line = format!(" {line}");
            quote!(#[doc = #line])
        })
        .collect();
    quote!(#(#lines)*)
}

fn emit_mod() -> TokenStream {
    quote! {
        //! Code generated from the spec: models, scopes, errors, tables and client methods.
        pub mod constants;
        pub mod endpoints;
        pub mod errors;
        pub mod fields;
        pub mod models;
        pub mod schemas;
        pub mod scopes;
        pub mod webhooks;
        #[cfg(feature = "client")]
        pub mod client;
        #[cfg(feature = "client")]
        pub mod user;
    }
}

/// A closed set of strings as an enum that still accepts values added later.
fn open_enum(
    name: &Ident,
    description: &str,
    values: &[(String, String)],
    extra: TokenStream,
) -> TokenStream {
    let docs = doc(description);
    let variants: Vec<TokenStream> = values
        .iter()
        .map(|(wire, variant_doc)| {
            let variant = type_ident(wire);
            let variant_doc = doc(&format!("`{wire}`: {variant_doc}"));
            quote!(#variant_doc #variant)
        })
        .collect();
    let to_str: Vec<TokenStream> = values
        .iter()
        .map(|(wire, _)| {
            let variant = type_ident(wire);
            quote!(#name::#variant => #wire)
        })
        .collect();
    let from_str: Vec<TokenStream> = values
        .iter()
        .map(|(wire, _)| {
            let variant = type_ident(wire);
            quote!(#wire => #name::#variant)
        })
        .collect();
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #name {
            #(#variants,)*
            /// A value this version of the crate does not know (the server added it later).
            Unknown(::std::string::String),
        }

        impl #name {
            /// The value as on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#to_str,)*
                    #name::Unknown(other) => other.as_str(),
                }
            }

            /// Parses a wire value; unknown values become `Unknown`.
            pub fn parse(value: &str) -> Self {
                match value {
                    #(#from_str,)*
                    other => #name::Unknown(other.to_string()),
                }
            }

            /// Whether this is a value of the spec (not `Unknown`).
            pub fn is_known(&self) -> bool {
                !matches!(self, #name::Unknown(_))
            }

            #extra
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::parse(value))
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::parse(&value))
            }
        }
    }
}

fn emit_scopes(model: &Model) -> TokenStream {
    let variants: Vec<TokenStream> = model
        .scopes
        .iter()
        .map(|scope| {
            let variant = type_ident(&scope.name);
            let docs = doc(&format!("`{}`: {}", scope.name, scope.description));
            quote!(#docs #variant)
        })
        .collect();
    let idents: Vec<Ident> = model
        .scopes
        .iter()
        .map(|scope| type_ident(&scope.name))
        .collect();
    let wires: Vec<&str> = model
        .scopes
        .iter()
        .map(|scope| scope.name.as_str())
        .collect();
    let descriptions: Vec<&str> = model
        .scopes
        .iter()
        .map(|scope| scope.description.as_str())
        .collect();
    let reviews: Vec<bool> = model
        .scopes
        .iter()
        .map(|scope| scope.review_required)
        .collect();
    quote! {
        //! OAuth scopes.

        /// An OAuth scope. A token reaches only what its scopes allow.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scope {
            #(#variants,)*
        }

        impl Scope {
            /// Every scope of the spec.
            pub const ALL: &'static [Scope] = &[#(Scope::#idents),*];

            /// The scope as on the wire, e.g. `video.list`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Scope::#idents => #wires,)*
                }
            }

            /// Parses a wire name; `None` for a scope the spec does not know.
            pub fn parse(value: &str) -> Option<Scope> {
                match value {
                    #(#wires => Some(Scope::#idents),)*
                    _ => None,
                }
            }

            /// What the scope grants.
            pub const fn description(self) -> &'static str {
                match self {
                    #(Scope::#idents => #descriptions,)*
                }
            }

            /// Whether TikTok must review the app before the scope works.
            pub const fn review_required(self) -> bool {
                match self {
                    #(Scope::#idents => #reviews,)*
                }
            }
        }

        impl ::std::fmt::Display for Scope {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for Scope {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for Scope {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Scope::parse(&value).ok_or_else(|| <D::Error as ::serde::de::Error>::custom(format!("unknown scope {value:?}")))
            }
        }
    }
}

fn envelope_tokens(envelope: Envelope) -> TokenStream {
    match envelope {
        Envelope::V2 => quote!(crate::meta::Envelope::V2),
        Envelope::OAuth => quote!(crate::meta::Envelope::OAuth),
    }
}

fn emit_errors(model: &Model) -> TokenStream {
    let values: Vec<(String, String)> = model
        .errors
        .iter()
        .map(|error| {
            (
                error.code.clone(),
                format!("HTTP {}. {} {}", error.status, error.meaning, error.action),
            )
        })
        .collect();
    let aliases: Vec<TokenStream> = model
        .errors
        .iter()
        .flat_map(|error| {
            let variant = type_ident(&error.code);
            error
                .aliases
                .iter()
                .map(move |alias| quote!(#alias => ErrorCode::#variant))
        })
        .collect();
    let table: Vec<TokenStream> = model
        .errors
        .iter()
        .map(|error| {
            let variant = type_ident(&error.code);
            let status = error.status;
            let envelope = envelope_tokens(error.envelope);
            let meaning = &error.meaning;
            let action = &error.action;
            let transient = error.transient;
            quote! {
                crate::meta::ErrorMeta {
                    code: ErrorCode::#variant,
                    status: #status,
                    envelope: #envelope,
                    transient: #transient,
                    meaning: #meaning,
                    action: #action,
                }
            }
        })
        .collect();
    let extra = quote! {
        /// Parses a code, also accepting spellings TikTok uses in places (e.g. `invalid_param`).
        pub fn parse_lenient(value: &str) -> Self {
            match value {
                #(#aliases,)*
                other => Self::parse(other),
            }
        }

        /// The catalog entry for this code.
        pub fn meta(&self) -> Option<&'static crate::meta::ErrorMeta> {
            ERRORS.iter().find(|entry| &entry.code == self)
        }

        /// The catalog's HTTP status for this code (500 for an unknown code).
        pub fn status(&self) -> u16 {
            self.meta().map_or(500, |entry| entry.status)
        }

        /// Whether the catalog calls this failure transient: the same request may succeed
        /// later. An unknown code is not.
        pub fn is_transient(&self) -> bool {
            self.meta().is_some_and(|entry| entry.transient)
        }
    };
    let code_enum = open_enum(
        &format_ident!("ErrorCode"),
        "An error code of the catalog: `error.code` in the v2 envelope, `error` in the OAuth shape.",
        &values,
        extra,
    );
    let count = table.len();
    quote! {
        //! The error catalog.
        #code_enum

        /// Every error of the catalog, in spec order.
        pub static ERRORS: [crate::meta::ErrorMeta; #count] = [#(#table),*];
    }
}

/// The Rust type of a field type, before `Option` wrapping.
fn rust_type(ty: &Type) -> TokenStream {
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

/// `new` taking the required fields, the optional ones left out, for schemas with both.
fn constructor(schema: &Schema) -> TokenStream {
    let required: Vec<&Field> = schema
        .fields
        .iter()
        .filter(|field| field.required)
        .collect();
    if required.is_empty() || required.len() == schema.fields.len() {
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
    quote! {
        impl #name {
            #[doc = #text]
            pub fn new(#(#params),*) -> Self {
                #name { #(#values,)* }
            }
        }
    }
}

fn emit_models(model: &Model) -> TokenStream {
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
            let constructor = constructor(schema);
            quote! {
                #docs
                #[derive(#derive_debug Clone, PartialEq, #default ::serde::Serialize, ::serde::Deserialize)]
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

fn field_enum_ident(schema: &str) -> Ident {
    format_ident!("{}Field", schema)
}

fn emit_fields(model: &Model) -> TokenStream {
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

fn type_meta(ty: &Type) -> TokenStream {
    match ty {
        Type::String => quote!(crate::meta::TypeMeta::String),
        Type::Bool => quote!(crate::meta::TypeMeta::Bool),
        Type::I32 => quote!(crate::meta::TypeMeta::I32),
        Type::I64 => quote!(crate::meta::TypeMeta::I64),
        Type::List(inner) => {
            let inner = type_meta(inner);
            quote!(crate::meta::TypeMeta::List(&#inner))
        }
        Type::Enum(name) => {
            let ident = static_ident(name);
            quote!(crate::meta::TypeMeta::Enum(&#ident))
        }
        Type::Schema(name) => {
            let ident = static_ident(name);
            quote!(crate::meta::TypeMeta::Schema(&#ident))
        }
    }
}

fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    }
}

fn emit_schema_table(model: &Model) -> TokenStream {
    let enums: Vec<TokenStream> = model
        .enums
        .iter()
        .map(|enumeration| {
            let ident = static_ident(&enumeration.name);
            let name = &enumeration.name;
            let values = &enumeration.values;
            let docs = doc(&format!("The `{name}` value set."));
            quote! {
                #docs
                pub static #ident: crate::meta::EnumMeta = crate::meta::EnumMeta {
                    name: #name,
                    values: &[#(#values),*],
                };
            }
        })
        .collect();
    let schemas: Vec<TokenStream> = model
        .schemas
        .iter()
        .map(|schema| {
            let ident = static_ident(&schema.name);
            let name = &schema.name;
            let description = &schema.description;
            let fields: Vec<TokenStream> = schema
                .fields
                .iter()
                .map(|field| {
                    let wire = &field.name;
                    let ty = type_meta(&field.ty);
                    let required = field.required;
                    let scope = option(field.scope.as_ref().map(|scope| {
                        let scope = type_ident(scope);
                        quote!(crate::Scope::#scope)
                    }));
                    let max_length = option(field.max_length);
                    let min_items = option(field.min_items);
                    let max_items = option(field.max_items);
                    let minimum = option(field.minimum);
                    let maximum = option(field.maximum);
                    let example = option(field.example.as_ref().map(|example| example.to_string()));
                    let secret = field.secret;
                    quote! {
                        crate::meta::FieldMeta {
                            secret: #secret,
                            name: #wire,
                            ty: #ty,
                            required: #required,
                            scope: #scope,
                            max_length: #max_length,
                            min_items: #min_items,
                            max_items: #max_items,
                            minimum: #minimum,
                            maximum: #maximum,
                            example: #example,
                        }
                    }
                })
                .collect();
            let docs = doc(&format!("The `{name}` schema."));
            quote! {
                #docs
                pub static #ident: crate::meta::SchemaMeta = crate::meta::SchemaMeta {
                    name: #name,
                    description: #description,
                    fields: &[#(#fields),*],
                };
            }
        })
        .collect();
    let all: Vec<Ident> = model
        .schemas
        .iter()
        .map(|schema| static_ident(&schema.name))
        .collect();
    let all_enums: Vec<Ident> = model
        .enums
        .iter()
        .map(|enumeration| static_ident(&enumeration.name))
        .collect();
    quote! {
        //! The schema table: every object schema and value set, for validation and examples.
        #(#enums)*
        #(#schemas)*
        /// Every schema, in spec order.
        pub static SCHEMAS: &[&crate::meta::SchemaMeta] = &[#(&#all),*];
        /// Every value set, in spec order.
        pub static ENUMS: &[&crate::meta::EnumMeta] = &[#(&#all_enums),*];
    }
}

fn scope_list(scopes: &[String]) -> TokenStream {
    let idents: Vec<Ident> = scopes.iter().map(|scope| type_ident(scope)).collect();
    quote!(&[#(crate::Scope::#idents),*])
}

fn emit_endpoint_table(model: &Model) -> TokenStream {
    let statics: Vec<TokenStream> = model
        .endpoints
        .iter()
        .map(|endpoint| {
            let ident = static_ident(&endpoint.id);
            let id = &endpoint.id;
            let group = &endpoint.group;
            let method = match endpoint.method {
                crate::model::Method::Get => quote!(crate::meta::HttpMethod::Get),
                crate::model::Method::Post => quote!(crate::meta::HttpMethod::Post),
            };
            let path = &endpoint.path;
            let summary = &endpoint.summary;
            let description = &endpoint.description;
            let access = match endpoint.access {
                Access::Read => quote!(crate::meta::Access::Read),
                Access::Write => quote!(crate::meta::Access::Write),
            };
            let auth = match endpoint.auth {
                Auth::UserToken => quote!(crate::meta::Auth::UserToken),
                Auth::ClientToken => quote!(crate::meta::Auth::ClientToken),
                Auth::ClientCredentials => quote!(crate::meta::Auth::ClientCredentials),
            };
            let scopes = scope_list(&endpoint.scopes);
            let real_scopes = option(endpoint.real_scopes.as_ref().map(|(scopes, _)| scope_list(scopes)));
            let scope_by = option(endpoint.scope_by.as_ref().map(|scope_by| {
                let field = &scope_by.field;
                let pairs: Vec<TokenStream> = scope_by
                    .scopes
                    .iter()
                    .map(|(value, scope)| {
                        let scope = type_ident(scope);
                        quote!((#value, crate::Scope::#scope))
                    })
                    .collect();
                quote!(crate::meta::ScopeBy { field: #field, scopes: &[#(#pairs),*] })
            }));
            let fields = option(endpoint.fields.as_ref().map(|fields| {
                let schema = static_ident(&fields.schema);
                let required = fields.required;
                quote!(crate::meta::FieldsParam { schema: &crate::schemas::#schema, required: #required })
            }));
            let request = option(endpoint.request.as_ref().map(|(body, content_type)| {
                let schema = static_ident(body);
                let content_type = match content_type {
                    ContentType::Json => quote!(crate::meta::ContentType::Json),
                    ContentType::Form => quote!(crate::meta::ContentType::Form),
                };
                quote!((&crate::schemas::#schema, #content_type))
            }));
            let response = static_ident(&endpoint.response);
            let envelope = envelope_tokens(endpoint.envelope);
            let paging = option(endpoint.paging.as_ref().map(|paging| {
                let style = match paging.style {
                    PagingStyle::TimestampMs => quote!(crate::meta::PagingStyle::TimestampMs),
                    PagingStyle::Index => quote!(crate::meta::PagingStyle::Index),
                };
                let items = &paging.items;
                let default = paging.default_max_count;
                let max = paging.max_max_count;
                let reach = option(paging.max_reach);
                quote!(crate::meta::Paging { style: #style, items: #items, default_max_count: #default, max_max_count: #max, max_reach: #reach })
            }));
            let limits: Vec<TokenStream> = endpoint
                .limits
                .iter()
                .map(|limit| {
                    let name = &limit.name;
                    let value = limit.value;
                    let description = &limit.description;
                    quote!(crate::meta::Limit { name: #name, value: #value, description: #description })
                })
                .collect();
            let per_minute = endpoint.rate_limit.per_minute;
            let tier = option(endpoint.rate_limit.tier.as_ref());
            let webhooks = &endpoint.webhooks;
            let real_webhooks: Vec<&String> = endpoint.real_webhooks.iter().flat_map(|(events, _)| events).collect();
            let errors: Vec<TokenStream> = endpoint
                .errors
                .iter()
                .map(|error| {
                    let variant = type_ident(&error.code);
                    let status = error.status;
                    quote!(crate::meta::EndpointError { code: crate::ErrorCode::#variant, status: #status })
                })
                .collect();
            let version = &endpoint.version;
            let source = model.sources.get(&endpoint.source).map_or(endpoint.source.as_str(), |source| source.url.as_str());
            let docs = doc(&format!("`{} {}`: {}", endpoint.method.as_str(), endpoint.path, endpoint.summary));
            quote! {
                #docs
                pub static #ident: crate::meta::EndpointMeta = crate::meta::EndpointMeta {
                    id: #id,
                    group: #group,
                    method: #method,
                    path: #path,
                    summary: #summary,
                    description: #description,
                    access: #access,
                    auth: #auth,
                    scopes: #scopes,
                    real_scopes: #real_scopes,
                    scope_by: #scope_by,
                    fields: #fields,
                    request: #request,
                    response: &crate::schemas::#response,
                    envelope: #envelope,
                    paging: #paging,
                    limits: &[#(#limits),*],
                    rate_limit: crate::meta::RateLimit { per_minute: #per_minute, window_seconds: 60, tier: #tier },
                    webhooks: &[#(#webhooks),*],
                    real_webhooks: &[#(#real_webhooks),*],
                    errors: &[#(#errors),*],
                    version: #version,
                    source: #source,
                };
            }
        })
        .collect();
    let all: Vec<Ident> = model
        .endpoints
        .iter()
        .map(|endpoint| static_ident(&endpoint.id))
        .collect();
    let ids: Vec<&str> = model
        .endpoints
        .iter()
        .map(|endpoint| endpoint.id.as_str())
        .collect();
    quote! {
        //! The endpoint table: what the spec says about each endpoint. The mock server routes from it.
        #(#statics)*

        /// Every endpoint, in spec order.
        pub static ENDPOINTS: &[&crate::meta::EndpointMeta] = &[#(&#all),*];

        /// The endpoint with spec id `id`, e.g. `video_list`.
        pub fn endpoint(id: &str) -> Option<&'static crate::meta::EndpointMeta> {
            match id {
                #(#ids => Some(&#all),)*
                _ => None,
            }
        }
    }
}

fn emit_webhooks(model: &Model) -> TokenStream {
    let values: Vec<(String, String)> = model
        .webhooks
        .iter()
        .map(|webhook| (webhook.name.clone(), webhook.description.clone()))
        .collect();
    let extra = quote! {
        /// The table entry for this event.
        pub fn meta(&self) -> Option<&'static crate::meta::WebhookEventMeta> {
            WEBHOOK_EVENTS.iter().find(|event| event.name == self.as_str())
        }
    };
    let kind = open_enum(
        &format_ident!("WebhookEventKind"),
        "A webhook event name.",
        &values,
        extra,
    );
    let table: Vec<TokenStream> = model
        .webhooks
        .iter()
        .map(|webhook| {
            let name = &webhook.name;
            let family = match webhook.family {
                WebhookFamily::Seed => quote!(crate::meta::WebhookFamily::Seed),
                WebhookFamily::Real => quote!(crate::meta::WebhookFamily::Real),
            };
            let description = &webhook.description;
            let triggers = &webhook.triggered_by;
            let content = static_ident(&webhook.content);
            let reasons: Vec<TokenStream> = webhook
                .reason_codes
                .iter()
                .map(|(code, text)| {
                    let code = Literal::i64_unsuffixed(*code);
                    quote!((#code, #text))
                })
                .collect();
            quote! {
                crate::meta::WebhookEventMeta {
                    name: #name,
                    family: #family,
                    description: #description,
                    triggered_by: &[#(#triggers),*],
                    content: &crate::schemas::#content,
                    reason_codes: &[#(#reasons),*],
                }
            }
        })
        .collect();
    let count = table.len();
    let variants: Vec<TokenStream> = model
        .webhooks
        .iter()
        .map(|webhook| {
            let variant = type_ident(&webhook.name);
            let content = schema_ident(&webhook.content);
            let docs = doc(&format!("`{}`: {}", webhook.name, webhook.description));
            quote!(#docs #variant(crate::#content))
        })
        .collect();
    let arms: Vec<TokenStream> = model
        .webhooks
        .iter()
        .map(|webhook| {
            let variant = type_ident(&webhook.name);
            quote!(WebhookEventKind::#variant => WebhookContent::#variant(::serde_json::from_str(content)?))
        })
        .collect();
    quote! {
        //! Webhook events.
        #kind

        /// The parsed `content` of a webhook event (TikTok sends it as a JSON string inside the payload).
        #[derive(Debug, Clone, PartialEq)]
        pub enum WebhookContent {
            #(#variants,)*
            /// An event this version of the crate does not know, kept as JSON.
            Unknown(::serde_json::Value),
        }

        impl WebhookContent {
            /// Parses `content` as the schema of event `kind`.
            pub fn parse(kind: &WebhookEventKind, content: &str) -> ::std::result::Result<Self, ::serde_json::Error> {
                Ok(match kind {
                    #(#arms,)*
                    WebhookEventKind::Unknown(_) => WebhookContent::Unknown(::serde_json::from_str(content)?),
                })
            }
        }

        /// Every webhook event, in spec order.
        pub static WEBHOOK_EVENTS: [crate::meta::WebhookEventMeta; #count] = [#(#table),*];
    }
}

fn emit_constants(model: &Model) -> TokenStream {
    let api = &model.base_urls.api;
    let authorize = &model.base_urls.authorize;
    let upload = &model.base_urls.upload;
    let oauth = &model.oauth;
    let access = oauth.access_token_ttl_seconds.current;
    let access_previous = oauth.access_token_ttl_seconds.previous;
    let refresh = oauth.refresh_token_ttl_seconds.current;
    let refresh_previous = oauth.refresh_token_ttl_seconds.previous;
    let client = oauth.client_token_ttl_seconds.current;
    let code = oauth.code_ttl_seconds.current;
    let rotation = oauth.refresh_rotation.current == "always";
    let rotation_previous = oauth.refresh_rotation.previous == "always";
    let separator = &oauth.scope_separator;
    let encodings = &oauth.pkce_challenge_encodings;
    let verifier_min = oauth.code_verifier_min as usize;
    let verifier_max = oauth.code_verifier_max as usize;
    let uploads = &model.uploads;
    let upload_ttl = uploads.upload_url_ttl_seconds;
    let content_types = &uploads.content_types;
    let min_chunk = uploads.min_chunk_mb;
    let max_chunk = uploads.max_chunk_mb;
    let max_final = uploads.max_final_chunk_mb;
    let min_chunks = uploads.min_chunks;
    let max_chunks = uploads.max_chunks;
    let readings = &uploads.mb_readings;
    let chunk_doc = doc(&uploads.description);
    let rotation_doc = doc(oauth
        .refresh_rotation
        .description
        .as_deref()
        .unwrap_or("Refresh-token rotation."));
    quote! {
        //! Figures of the spec: hosts, token lifetimes, upload and chunk rules.

        /// The API host.
        pub const API_BASE_URL: &str = #api;
        /// The OAuth authorization page.
        pub const AUTHORIZE_URL: &str = #authorize;
        /// The upload host (upload URLs are returned by init calls, never built by clients).
        pub const UPLOAD_BASE_URL: &str = #upload;
        /// Access token lifetime in seconds, as TikTok documents it today.
        pub const ACCESS_TOKEN_TTL_SECONDS: u64 = #access;
        /// Access token lifetime in seconds before TikTok's change.
        pub const ACCESS_TOKEN_TTL_SECONDS_PREVIOUS: u64 = #access_previous;
        /// Refresh token lifetime in seconds, as TikTok documents it today.
        pub const REFRESH_TOKEN_TTL_SECONDS: u64 = #refresh;
        /// Refresh token lifetime in seconds before TikTok's change.
        pub const REFRESH_TOKEN_TTL_SECONDS_PREVIOUS: u64 = #refresh_previous;
        /// Client access token lifetime in seconds.
        pub const CLIENT_TOKEN_TTL_SECONDS: u64 = #client;
        /// Authorization code lifetime in seconds.
        pub const CODE_TTL_SECONDS: u64 = #code;
        #rotation_doc
        pub const REFRESH_ROTATION_ALWAYS: bool = #rotation;
        /// Whether refresh tokens were always rotated before TikTok's change.
        pub const REFRESH_ROTATION_ALWAYS_PREVIOUS: bool = #rotation_previous;
        /// How scopes are joined in `scope` parameters.
        pub const SCOPE_SEPARATOR: &str = #separator;
        /// PKCE code_challenge encodings accepted.
        pub const PKCE_CHALLENGE_ENCODINGS: &[&str] = &[#(#encodings),*];
        /// Shortest PKCE code_verifier.
        pub const CODE_VERIFIER_MIN_LEN: usize = #verifier_min;
        /// Longest PKCE code_verifier.
        pub const CODE_VERIFIER_MAX_LEN: usize = #verifier_max;
        /// How long an upload_url stays valid, in seconds.
        pub const UPLOAD_URL_TTL_SECONDS: u64 = #upload_ttl;
        /// Content types an upload may use.
        pub const UPLOAD_CONTENT_TYPES: &[&str] = &[#(#content_types),*];
        #chunk_doc
        pub const CHUNK_MIN_MB: u64 = #min_chunk;
        /// Largest chunk but the last, in MB.
        pub const CHUNK_MAX_MB: u64 = #max_chunk;
        /// Largest last chunk, in MB.
        pub const CHUNK_MAX_FINAL_MB: u64 = #max_final;
        /// Fewest chunks.
        pub const MIN_CHUNKS: u64 = #min_chunks;
        /// Most chunks.
        pub const MAX_CHUNKS: u64 = #max_chunks;
        /// The readings of "MB" in bytes that are accepted at each boundary.
        pub const MB_READINGS: &[u64] = &[#(#readings),*];
    }
}

/// The Rust type a client method returns for an endpoint.
fn emit_methods(model: &Model) -> TokenStream {
    let methods: Vec<TokenStream> = model
        .endpoints
        .iter()
        .map(|endpoint| {
            let name = field_ident(&endpoint.id);
            let meta = static_ident(&endpoint.id);
            let response = schema_ident(&endpoint.response);
            let mut params = Vec::new();
            let mut example_args = Vec::new();
            let token = match endpoint.auth {
                Auth::UserToken | Auth::ClientToken => {
                    params.push(quote!(access_token: &str));
                    let example = if endpoint.auth == Auth::ClientToken { "clt.example" } else { "act.example" };
                    example_args.push(format!("{example:?}"));
                    quote!(Some(access_token))
                }
                Auth::ClientCredentials => quote!(None),
            };
            let fields = match &endpoint.fields {
                Some(fields) => {
                    let field_enum = field_enum_ident(&fields.schema);
                    params.push(quote!(fields: &[crate::#field_enum]));
                    example_args.push(format!("&tiktok_api::{field_enum}::ALL"));
                    quote!(Some(fields.iter().map(|field| field.as_str()).collect::<::std::vec::Vec<_>>().join(",")))
                }
                None => quote!(None),
            };
            let body = match &endpoint.request {
                Some((schema, _)) => {
                    let schema = schema_ident(schema);
                    params.push(quote!(body: &crate::#schema));
                    example_args.push("&body".to_string());
                    quote!(Some(body))
                }
                None => quote!(None::<&()>),
            };
            let mut text = format!("{}\n\n{}\n\n", endpoint.summary, endpoint.description);
            text.push_str(&format!("- Endpoint: `{} {}`\n", endpoint.method.as_str(), endpoint.path));
            let access = match endpoint.access {
                Access::Read => "read",
                Access::Write => "write",
            };
            text.push_str(&format!("- Access: {access}\n"));
            let auth = match endpoint.auth {
                Auth::UserToken => "a user access token",
                Auth::ClientToken => "a client access token (`client_credentials`)",
                Auth::ClientCredentials => "the app's client_key and client_secret, form-encoded",
            };
            text.push_str(&format!("- Authentication: {auth}\n"));
            if !endpoint.scopes.is_empty() {
                let scopes: Vec<String> = endpoint.scopes.iter().map(|scope| format!("`{scope}`")).collect();
                text.push_str(&format!("- Scope: {}\n", scopes.join(" or ")));
            }
            if let Some(scope_by) = &endpoint.scope_by {
                let rules: Vec<String> = scope_by.scopes.iter().map(|(value, scope)| format!("{value} needs `{scope}`")).collect();
                text.push_str(&format!("- Scope by `{}`: {}\n", scope_by.field, rules.join(", ")));
            }
            text.push_str(&format!("- Rate limit: {}\n", rate_limit_text(endpoint)));
            if let Some(paging) = &endpoint.paging {
                text.push_str(&format!("- Paging: `cursor` and `has_more`; `max_count` default {}, at most {}\n", paging.default_max_count, paging.max_max_count));
            }
            for limit in &endpoint.limits {
                text.push_str(&format!("- Limit `{}`: {} ({})\n", limit.name, limit.value, limit.description));
            }
            if !endpoint.webhooks.is_empty() {
                text.push_str(&format!("- Webhook: {}\n", endpoint.webhooks.join(", ")));
            }
            let errors: Vec<String> = endpoint.errors.iter().map(|error| format!("`{}` ({})", error.code, error.status)).collect();
            text.push_str(&format!("- Errors: {}\n", errors.join(", ")));
            let body_setup = match &endpoint.request {
                Some((schema, _)) => {
                    let example = model
                        .schema(schema)
                        .map(|schema| rust_example(model, schema))
                        .unwrap_or_default();
                    format!("let body: tiktok_api::{schema} = {example};\n")
                }
                None => String::new(),
            };
            text.push_str(&format!(
                "\n# Example\n\n```no_run\n# async fn example() -> Result<(), tiktok_api::Error> {{\nlet client = tiktok_api::Client::new();\n{body_setup}let response = client.{}({}).await?;\n# let _ = response;\n# Ok(())\n# }}\n```",
                endpoint.id,
                example_args.join(", ")
            ));
            let docs = doc(&text);
            quote! {
                #docs
                pub async fn #name(&self, #(#params),*) -> ::std::result::Result<crate::#response, crate::Error> {
                    self.execute(&crate::endpoints::#meta, #token, #fields, #body).await
                }
            }
        })
        .collect();
    let paging = emit_paging(model);
    quote! {
        //! One async method per endpoint, and a stream per paging endpoint.
        impl crate::Client {
            #(#methods)*
        }
        #paging
    }
}

/// The Rust type of a field of `schema`, optional fields wrapped, if both exist.
fn field_of<'a>(model: &'a Model, schema: &str, field: &str) -> Option<&'a Field> {
    model.schema(schema).and_then(|schema| {
        schema
            .fields
            .iter()
            .find(|candidate| candidate.name == field)
    })
}

/// A conversion of the local `value` (of type `from`, `i64` or `u32`) to the field's
/// integer type, saturating where it can overflow.
fn integer_into(field: &Field, value: TokenStream, from: Type) -> TokenStream {
    let ty = rust_type(&field.ty);
    let converted = match (&field.ty, from) {
        (Type::I64, Type::I64) => value,
        (Type::I64, _) => quote!(i64::from(#value)),
        _ => quote!(<#ty as ::std::convert::TryFrom<_>>::try_from(#value).unwrap_or(#ty::MAX)),
    };
    if field.required {
        converted
    } else {
        quote!(::std::option::Option::Some(#converted))
    }
}

/// A conversion of `value` (of the field's integer type) to `Option<i64>`.
fn integer_to_i64(field: &Field, value: TokenStream) -> TokenStream {
    match field.ty {
        Type::I64 => quote!(::std::option::Option::Some(#value)),
        _ => quote!(<i64 as ::std::convert::TryFrom<_>>::try_from(#value).ok()),
    }
}

/// The paging traits for each paging endpoint's request and response, and its `…_stream`.
fn emit_paging(model: &Model) -> TokenStream {
    let mut items = Vec::new();
    for endpoint in &model.endpoints {
        let (Some(paging), Some((request, _))) = (&endpoint.paging, &endpoint.request) else {
            continue;
        };
        let (Some(cursor), Some(max_count)) = (
            field_of(model, request, "cursor"),
            field_of(model, request, "max_count"),
        ) else {
            continue;
        };
        let Some(Type::List(item_ty)) =
            field_of(model, &endpoint.response, &paging.items).map(|field| &field.ty)
        else {
            continue;
        };
        let request_ident = schema_ident(request);
        let response_ident = schema_ident(&endpoint.response);
        let item = rust_type(item_ty);
        let items_ident = field_ident(&paging.items);
        let get_cursor = match (cursor.required, &cursor.ty) {
            (true, _) => integer_to_i64(cursor, quote!(self.cursor)),
            (false, Type::I64) => quote!(self.cursor),
            (false, _) => {
                let converted = integer_to_i64(cursor, quote!(cursor));
                quote!(self.cursor.and_then(|cursor| #converted))
            }
        };
        let set_cursor = integer_into(cursor, quote!(cursor), Type::I64);
        let get_max = if max_count.required {
            quote!(<u32 as ::std::convert::TryFrom<_>>::try_from(self.max_count).ok())
        } else {
            quote!(
                self.max_count
                    .and_then(|count| <u32 as ::std::convert::TryFrom<_>>::try_from(count).ok())
            )
        };
        let set_max = integer_into(max_count, quote!(max_count), Type::I32);
        items.push(quote! {
            impl crate::runtime::paging::PagedRequest for crate::#request_ident {
                fn cursor(&self) -> ::std::option::Option<i64> { #get_cursor }
                fn set_cursor(&mut self, cursor: i64) { self.cursor = #set_cursor; }
                fn max_count(&self) -> ::std::option::Option<u32> { #get_max }
                fn set_max_count(&mut self, max_count: u32) { self.max_count = #set_max; }
            }
            impl crate::runtime::paging::Page for crate::#response_ident {
                type Item = crate::#item;
                fn into_parts(self) -> (::std::vec::Vec<crate::#item>, i64, bool) {
                    (self.#items_ident, self.cursor, self.has_more)
                }
            }
        });
        let (params, args) = call_params(endpoint, true);
        let name = field_ident(&endpoint.id);
        let stream = format_ident!("{}_stream", endpoint.id);
        let meta = static_ident(&endpoint.id);
        let text = stream_doc(endpoint, paging);
        let docs = doc(&text);
        items.push(quote! {
            impl crate::Client {
                #docs
                pub fn #stream<'a>(&'a self, #(#params,)* request: crate::#request_ident, options: crate::PageOptions)
                    -> impl ::futures::Stream<Item = ::std::result::Result<crate::#item, crate::Error>> + 'a {
                    crate::runtime::paging::stream(&crate::endpoints::#meta, request, options, move |request| async move {
                        self.#name(#(#args,)* &request).await
                    })
                }
            }
        });
    }
    quote!(#(#items)*)
}

/// The doc of a `…_stream` method.
fn stream_doc(endpoint: &Endpoint, paging: &crate::model::Paging) -> String {
    let mut text = format!(
        "Every item of `{}`, page after page, as a stream: `{}` one by one.\n\nPages have `options`' page size (else the request's `max_count`, else {}); the walk ends when `has_more` is false, after `options`' `max_items`",
        endpoint.id, paging.items, paging.max_max_count
    );
    if let Some(reach) = paging.max_reach {
        text.push_str(&format!(", or at the reach of the index cursor ({reach})"));
    }
    text.push_str(". The first error ends the stream after it is yielded.");
    text
}

/// The parameters before the body of a method (`access_token` when `with_token`, `fields`)
/// and the names to pass them on.
fn call_params(endpoint: &Endpoint, with_token: bool) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut params = Vec::new();
    let mut args = Vec::new();
    if with_token && matches!(endpoint.auth, Auth::UserToken | Auth::ClientToken) {
        params.push(quote!(access_token: &'a str));
        args.push(quote!(access_token));
    }
    if let Some(fields) = &endpoint.fields {
        let field_enum = field_enum_ident(&fields.schema);
        params.push(quote!(fields: &'a [crate::#field_enum]));
        args.push(quote!(fields));
    }
    (params, args)
}

/// The user handle's methods: every user-token endpoint without a token argument, and its
/// stream where it pages.
fn emit_user_methods(model: &Model) -> TokenStream {
    let mut methods = Vec::new();
    for endpoint in model
        .endpoints
        .iter()
        .filter(|endpoint| endpoint.auth == Auth::UserToken)
    {
        let name = field_ident(&endpoint.id);
        let meta = static_ident(&endpoint.id);
        let response = schema_ident(&endpoint.response);
        let mut params = Vec::new();
        let fields = match &endpoint.fields {
            Some(fields) => {
                let field_enum = field_enum_ident(&fields.schema);
                params.push(quote!(fields: &[crate::#field_enum]));
                quote!(Some(
                    fields
                        .iter()
                        .map(|field| field.as_str())
                        .collect::<::std::vec::Vec<_>>()
                        .join(",")
                ))
            }
            None => quote!(None),
        };
        let body = match &endpoint.request {
            Some((schema, _)) => {
                let schema = schema_ident(schema);
                params.push(quote!(body: &crate::#schema));
                quote!(Some(body))
            }
            None => quote!(None::<&()>),
        };
        let text = format!(
            "{}\n\n`{} {}` with this user's token (see [`crate::Client::{}`]).",
            endpoint.summary,
            endpoint.method.as_str(),
            endpoint.path,
            endpoint.id
        );
        let docs = doc(&text);
        methods.push(quote! {
            #docs
            pub async fn #name(&self, #(#params),*) -> ::std::result::Result<crate::#response, crate::Error> {
                self.execute(&crate::endpoints::#meta, #fields, #body).await
            }
        });
        let (Some(paging), Some((request, _))) = (&endpoint.paging, &endpoint.request) else {
            continue;
        };
        let Some(Type::List(item_ty)) =
            field_of(model, &endpoint.response, &paging.items).map(|field| &field.ty)
        else {
            continue;
        };
        let item = rust_type(item_ty);
        let request_ident = schema_ident(request);
        let stream = format_ident!("{}_stream", endpoint.id);
        let (params, args) = call_params(endpoint, false);
        let docs = doc(&stream_doc(endpoint, paging));
        methods.push(quote! {
            #docs
            pub fn #stream<'a>(&'a self, #(#params,)* request: crate::#request_ident, options: crate::PageOptions)
                -> impl ::futures::Stream<Item = ::std::result::Result<crate::#item, crate::Error>> + 'a {
                crate::runtime::paging::stream(&crate::endpoints::#meta, request, options, move |request| async move {
                    self.#name(#(#args,)* &request).await
                })
            }
        });
    }
    quote! {
        //! The user handle's methods: one per user-token endpoint, with no token argument.
        impl crate::UserClient {
            #(#methods)*
        }
    }
}

/// A Rust expression building a value of `schema` from the spec's examples (for doc examples).
fn rust_example(model: &Model, schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields
        .iter()
        .map(|field| {
            let ident = field_ident(&field.name).to_string();
            let value = example_expr(model, &field.ty, field.example.as_ref());
            let value = match value {
                Some(value) if field.required => value,
                Some(value) => format!("Some({value})"),
                None if field.required => "Default::default()".to_string(),
                None => "None".to_string(),
            };
            format!("{ident}: {value}")
        })
        .collect();
    format!("tiktok_api::{} {{ {} }}", schema.name, fields.join(", "))
}

fn example_expr(model: &Model, ty: &Type, example: Option<&serde_json::Value>) -> Option<String> {
    use serde_json::Value;
    match (ty, example) {
        (Type::String, Some(Value::String(text))) => Some(format!("{text:?}.to_string()")),
        (Type::Bool, Some(Value::Bool(value))) => Some(value.to_string()),
        (Type::I32 | Type::I64, Some(Value::Number(number))) => Some(number.to_string()),
        (Type::Enum(name), Some(Value::String(text))) => {
            Some(format!("tiktok_api::{name}::{}", names::upper_camel(text)))
        }
        (Type::List(inner), Some(Value::Array(items))) => {
            let items: Option<Vec<String>> = items
                .iter()
                .map(|item| example_expr(model, inner, Some(item)))
                .collect();
            items.map(|items| format!("vec![{}]", items.join(", ")))
        }
        (Type::Schema(name), None) => model.schema(name).map(|schema| rust_example(model, schema)),
        _ => None,
    }
}

/// A proptest strategy expression for a field type.
fn strategy(ty: &Type) -> TokenStream {
    match ty {
        Type::String => quote!(".{0,12}"),
        Type::Bool => quote!(any::<bool>()),
        Type::I32 => quote!(any::<i32>()),
        Type::I64 => quote!(any::<i64>()),
        Type::List(inner) => {
            let inner = strategy(inner);
            quote!(proptest::collection::vec(#inner, 0..3))
        }
        Type::Enum(name) | Type::Schema(name) => {
            let function = format_ident!("arb_{}", names::screaming(name).to_ascii_lowercase());
            quote!(#function())
        }
    }
}

fn emit_roundtrip(model: &Model) -> TokenStream {
    let enum_strategies: Vec<TokenStream> = model
        .enums
        .iter()
        .map(|enumeration| {
            let name = schema_ident(&enumeration.name);
            let function = format_ident!(
                "arb_{}",
                names::screaming(&enumeration.name).to_ascii_lowercase()
            );
            let variants: Vec<Ident> = enumeration
                .values
                .iter()
                .map(|value| type_ident(value))
                .collect();
            quote! {
                fn #function() -> BoxedStrategy<#name> {
                    prop_oneof![
                        #(Just(#name::#variants),)*
                        "[a-z_]{1,12}".prop_map(|value| #name::parse(&value)),
                    ]
                    .boxed()
                }
            }
        })
        .collect();
    let schema_strategies: Vec<TokenStream> = model
        .schemas
        .iter()
        .map(|schema| {
            let name = schema_ident(&schema.name);
            let function = format_ident!(
                "arb_{}",
                names::screaming(&schema.name).to_ascii_lowercase()
            );
            if schema.fields.is_empty() {
                return quote! {
                    fn #function() -> BoxedStrategy<#name> {
                        Just(#name {}).boxed()
                    }
                };
            }
            // proptest implements Strategy for tuples of up to 12; group fields by 10.
            let chunks: Vec<&[Field]> = schema.fields.chunks(10).collect();
            let groups: Vec<TokenStream> = chunks
                .iter()
                .map(|chunk| {
                    let parts: Vec<TokenStream> = chunk
                        .iter()
                        .map(|field| {
                            let inner = strategy(&field.ty);
                            if field.required {
                                inner
                            } else {
                                quote!(proptest::option::of(#inner))
                            }
                        })
                        .collect();
                    quote!((#(#parts,)*))
                })
                .collect();
            let patterns: Vec<TokenStream> = chunks
                .iter()
                .map(|chunk| {
                    let idents: Vec<Ident> =
                        chunk.iter().map(|field| field_ident(&field.name)).collect();
                    quote!((#(#idents,)*))
                })
                .collect();
            let idents: Vec<Ident> = schema
                .fields
                .iter()
                .map(|field| field_ident(&field.name))
                .collect();
            quote! {
                fn #function() -> BoxedStrategy<#name> {
                    (#(#groups,)*)
                        .prop_map(|(#(#patterns,)*)| #name { #(#idents),* })
                        .boxed()
                }
            }
        })
        .collect();
    let tests: Vec<TokenStream> = model
        .schemas
        .iter()
        .map(|schema| {
            let lower = names::screaming(&schema.name).to_ascii_lowercase();
            let test = format_ident!("roundtrip_{}", lower);
            let function = format_ident!("arb_{}", lower);
            quote! {
                #[test]
                fn #test() {
                    check(#function());
                }
            }
        })
        .collect();
    let module_doc = Literal::string(
        " Round trips of every generated model through JSON: 64 values each, unchanged.",
    );
    quote! {
        #![doc = #module_doc]
        #![allow(missing_docs)]

        use proptest::prelude::*;
        use proptest::test_runner::TestRunner;
        use tiktok_api::*;

        /// Draws 64 values from `strategy` and checks each survives JSON unchanged.
        fn check<T>(strategy: BoxedStrategy<T>)
        where
            T: ::serde::Serialize + ::serde::de::DeserializeOwned + PartialEq + ::std::fmt::Debug,
        {
            let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
            let result = runner.run(&strategy, |value| {
                let json = serde_json::to_string(&value)
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                let back: T = serde_json::from_str(&json)
                    .map_err(|error| TestCaseError::fail(format!("{error}: {json}")))?;
                prop_assert_eq!(back, value);
                Ok(())
            });
            if let Err(error) = result {
                panic!("{error}");
            }
        }

        #(#enum_strategies)*
        #(#schema_strategies)*
        #(#tests)*
    }
}
