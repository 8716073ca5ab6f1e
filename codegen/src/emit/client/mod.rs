//! The client crate's generated source (`generated/src/gen/*.rs` and its round-trip
//! test), built with syn and quote and formatted with prettyplease.
//!
//! Names are mapped by [`names`] only; the emitters never change case themselves. One
//! module per kind of output: the catalogs, the models, the tables, the methods and the
//! round-trip test.

mod catalogs;
mod methods;
mod models;
pub mod names;
mod roundtrip;
mod tables;
mod tokens;

use proc_macro2::TokenStream;
use quote::quote;

use crate::Error;
use crate::model::Model;

use catalogs::{emit_errors, emit_scopes};
use methods::{emit_methods, emit_user_methods};
use models::{emit_fields, emit_models};
use roundtrip::emit_roundtrip;
use tables::{
    emit_constants, emit_endpoint_table, emit_schema_table, emit_spec_lines, emit_webhooks,
};

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
        ("src/gen/lines.rs", emit_spec_lines(model)),
        ("src/gen/client.rs", emit_methods(model)),
        ("src/gen/user.rs", emit_user_methods(model)),
        ("src/gen/roundtrip.rs", emit_roundtrip(model)),
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

fn emit_mod() -> TokenStream {
    quote! {
        //! Code generated from the spec: models, scopes, errors, tables and client methods.
        pub mod constants;
        pub mod endpoints;
        pub mod errors;
        pub mod fields;
        pub mod lines;
        pub mod models;
        pub mod schemas;
        pub mod scopes;
        pub mod webhooks;
        #[cfg(feature = "client")]
        pub mod client;
        #[cfg(feature = "client")]
        pub mod user;
        #[cfg(test)]
        mod roundtrip;
    }
}
