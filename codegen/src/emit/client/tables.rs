//! The tables the runtime and the mock read (`src/gen/schemas.rs`, `src/gen/endpoints.rs`,
//! `src/gen/webhooks.rs`, `src/gen/constants.rs`, `src/gen/lines.rs`).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::emit::client::catalogs::{envelope_tokens, open_enum};
use crate::emit::client::names::{schema_ident, static_ident, type_ident};
use crate::emit::client::tokens::doc;
use crate::model::{Access, Auth, ContentType, Model, PagingStyle, Type, WebhookFamily};

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

pub(super) fn emit_schema_table(model: &Model) -> TokenStream {
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

pub(super) fn emit_endpoint_table(model: &Model) -> TokenStream {
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
            let documented = endpoint.rate_limit.documented;
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
                    rate_limit: crate::meta::RateLimit { per_minute: #per_minute, window_seconds: 60, tier: #tier, documented: #documented },
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

pub(super) fn emit_webhooks(model: &Model) -> TokenStream {
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

pub(super) fn emit_constants(model: &Model) -> TokenStream {
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
    let webhook_window = model.webhook_delivery.retry_window_seconds;
    let webhook_doc = doc(&model.webhook_delivery.description);
    let rotation_doc = doc(oauth
        .refresh_rotation
        .description
        .as_deref()
        .unwrap_or("Refresh-token rotation."));
    quote! {
        //! Figures of the spec: hosts, token lifetimes, webhook delivery, upload and chunk rules.

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
        #webhook_doc
        pub const WEBHOOK_RETRY_WINDOW_SECONDS: u64 = #webhook_window;
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

/// `SPEC_LINES`: where each endpoint, schema, schema field and error code is written in
/// the spec, sorted by key, for tools that point at the line a finding contradicts.
pub(super) fn emit_spec_lines(model: &Model) -> TokenStream {
    let entries = model.lines.iter().map(|(key, spec_line)| {
        let file = &spec_line.file;
        let line = Literal::u32_unsuffixed(u32::try_from(spec_line.line).unwrap_or(u32::MAX));
        quote! { crate::meta::SpecLine { key: #key, file: #file, line: #line } }
    });
    quote! {
        //! Where each endpoint (with its `response`, `rate_limit`, `errors`, `scopes`,
        //! `fields`, `request`, `paging` and `limits`), schema, schema field and error code
        //! is written in `spec/`.

        /// Keyed `endpoint:ID`, `endpoint:ID.KEY`, `schema:NAME`, `schema:NAME.FIELD` and
        /// `error:CODE`; sorted by key (look one up with [`crate::meta::spec_line`]).
        pub static SPEC_LINES: &[crate::meta::SpecLine] = &[#(#entries),*];
    }
}
