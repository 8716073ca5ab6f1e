//! The generated round-trip test (`src/gen/roundtrip.rs`, a unit test inside the crate, so
//! it builds the `#[non_exhaustive]` answer models too): a proptest strategy per model and
//! one helper call per model.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::emit::client::names::{self, field_ident, schema_ident, type_ident};
use crate::model::{Field, Model, Type};

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

pub(super) fn emit_roundtrip(model: &Model) -> TokenStream {
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
        use crate::*;

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
