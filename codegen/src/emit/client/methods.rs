//! The client's methods (`src/gen/client.rs`): one per endpoint, the paging traits and
//! `…_stream` methods, and the user handle's methods (`src/gen/user.rs`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::emit::client::models::{field_enum_ident, rust_type};
use crate::emit::client::names::{self, field_ident, schema_ident, static_ident};
use crate::emit::client::tokens::doc;
use crate::emit::text::{limit_text, paging_summary, rate_limit_text, scope_by_text};
use crate::model::{Access, Auth, Endpoint, Field, Model, Schema, Type};

/// The Rust type a client method returns for an endpoint.
pub(super) fn emit_methods(model: &Model) -> TokenStream {
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
                    quote!(Some(crate::client::join_fields(fields.iter().map(|field| field.as_str()))))
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
                text.push_str(&format!("- Scope by {}\n", scope_by_text(scope_by)));
            }
            text.push_str(&format!("- Rate limit: {}\n", rate_limit_text(endpoint)));
            if let Some(paging) = &endpoint.paging {
                text.push_str(&format!("- Paging: {}\n", paging_summary(paging)));
            }
            for limit in &endpoint.limits {
                text.push_str(&format!("- Limit {}\n", limit_text(limit)));
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
                    -> impl ::futures::Stream<Item = ::std::result::Result<crate::#item, crate::Error>> + ::std::marker::Unpin + 'a {
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
pub(super) fn emit_user_methods(model: &Model) -> TokenStream {
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
                quote!(Some(crate::client::join_fields(
                    fields.iter().map(|field| field.as_str())
                )))
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
                -> impl ::futures::Stream<Item = ::std::result::Result<crate::#item, crate::Error>> + ::std::marker::Unpin + 'a {
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
