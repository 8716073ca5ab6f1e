//! The scopes and error-code catalogs (`src/gen/scopes.rs`, `src/gen/errors.rs`): closed sets
//! of strings as enums that still accept values added later.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::emit::client::names::type_ident;
use crate::emit::client::tokens::doc;
use crate::model::{Envelope, Model};

/// A closed set of strings as an enum that still accepts values added later.
pub(super) fn open_enum(
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

pub(super) fn emit_scopes(model: &Model) -> TokenStream {
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

pub(super) fn envelope_tokens(envelope: Envelope) -> TokenStream {
    match envelope {
        Envelope::V2 => quote!(crate::meta::Envelope::V2),
        Envelope::OAuth => quote!(crate::meta::Envelope::OAuth),
    }
}

pub(super) fn emit_errors(model: &Model) -> TokenStream {
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
