//! Token helpers every emitter of the client crate shares.

use proc_macro2::TokenStream;
use quote::quote;

/// The text as `#[doc]` attributes, one per line.
pub(super) fn doc(text: &str) -> TokenStream {
    let lines: Vec<TokenStream> = text
        .lines()
        .map(|line| {
            let line = format!(" {line}");
            quote!(#[doc = #line])
        })
        .collect();
    quote!(#(#lines)*)
}
