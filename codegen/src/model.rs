//! The validated model: names resolved, every reference checked, ready for the emitters.
#![allow(missing_docs)] // Each type mirrors the spec key of the same name (spec/README.md).

use std::collections::BTreeMap;

/// The whole API, validated. Collections keep the spec's order, which is deterministic.
#[derive(Debug, Clone)]
pub struct Model {
    pub info: Info,
    pub base_urls: BaseUrls,
    pub groups: Vec<Group>,
    pub sources: BTreeMap<String, Source>,
    pub rate_limit_tiers: BTreeMap<String, Tier>,
    pub oauth: Oauth,
    pub uploads: Uploads,
    pub webhook_delivery: WebhookDelivery,
    pub divergences: Vec<Divergence>,
    pub scopes: Vec<Scope>,
    pub errors: Vec<ErrorCode>,
    pub enums: Vec<Enum>,
    pub schemas: Vec<Schema>,
    pub endpoints: Vec<Endpoint>,
    pub webhooks: Vec<Webhook>,
    /// Where each endpoint (and its response, rate limit, errors and paging), schema,
    /// schema field and error code is written: key to (file, line), sorted by key.
    pub lines: BTreeMap<String, SpecLine>,
}

/// A line of the spec: `spec/endpoints.yaml`, 42.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecLine {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Info {
    pub title: String,
    pub version: String,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct BaseUrls {
    pub api: String,
    pub authorize: String,
    pub upload: String,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub key: String,
    pub title: String,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub name: String,
    pub per_minute: u32,
    pub description: String,
    pub source: String,
}

/// A value TikTok changed, with the figure in force and the one before.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub current: T,
    pub previous: T,
    pub description: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Oauth {
    pub access_token_ttl_seconds: Versioned<u64>,
    pub refresh_token_ttl_seconds: Versioned<u64>,
    pub client_token_ttl_seconds: Versioned<u64>,
    pub refresh_rotation: Versioned<String>,
    pub code_ttl_seconds: Versioned<u64>,
    pub scope_separator: String,
    pub pkce_methods: Vec<String>,
    pub pkce_challenge_encodings: Vec<String>,
    pub pkce_description: String,
    pub pkce_source: String,
    pub code_verifier_min: u32,
    pub code_verifier_max: u32,
}

/// How TikTok delivers webhook events (api.yaml `webhook_delivery`).
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub retry_window_seconds: u64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Uploads {
    pub upload_url_ttl_seconds: u64,
    pub content_types: Vec<String>,
    pub min_chunk_mb: u64,
    pub max_chunk_mb: u64,
    pub max_final_chunk_mb: u64,
    pub min_chunks: u64,
    pub max_chunks: u64,
    pub mb_readings: Vec<u64>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Divergence {
    pub id: String,
    pub topic: String,
    pub seed: String,
    pub real: String,
    /// `seed_default` or `real`.
    pub rule: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub review_required: bool,
    pub source: String,
    /// `(schema, field)` pairs this scope unlocks, from the schemas' field scopes.
    pub fields: Vec<(String, String)>,
}

/// How an error travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `{"data": ..., "error": {"code", "message", "log_id"}}`.
    V2,
    /// The OAuth endpoints' flat `{"error", "error_description", "log_id"}` (errors) or bare object (success).
    OAuth,
}

#[derive(Debug, Clone)]
pub struct ErrorCode {
    pub code: String,
    pub aliases: Vec<String>,
    pub status: u16,
    pub envelope: Envelope,
    /// Sending the same request again later may succeed (rate limits, server faults).
    pub transient: bool,
    pub meaning: String,
    pub action: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Enum {
    pub name: String,
    pub description: String,
    pub values: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub name: String,
    pub description: String,
    pub source: String,
    pub fields: Vec<Field>,
}

impl Schema {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// A field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    String,
    Bool,
    I32,
    I64,
    List(Box<Type>),
    Enum(String),
    Schema(String),
}

impl Type {
    /// The type as written in the spec.
    pub fn spec_name(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Bool => "bool".into(),
            Type::I32 => "i32".into(),
            Type::I64 => "i64".into(),
            Type::List(inner) => format!("list<{}>", inner.spec_name()),
            Type::Enum(name) | Type::Schema(name) => name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub required: bool,
    pub scope: Option<String>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub example: Option<serde_json::Value>,
    /// A credential: redacted from `Debug`.
    pub secret: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// Upper case, as in HTTP.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// How a call authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer act.…`, a user access token.
    UserToken,
    /// `Authorization: Bearer clt.…`, a client access token.
    ClientToken,
    /// client_key and client_secret in a form body (the OAuth endpoints).
    ClientCredentials,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Json,
    Form,
}

#[derive(Debug, Clone)]
pub struct ScopeBy {
    pub field: String,
    /// Enum value of `field` to the scope it needs.
    pub scopes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct FieldsParam {
    pub schema: String,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingStyle {
    /// `cursor` is a Unix time in milliseconds; pages go back in time.
    TimestampMs,
    /// `cursor` is a start index.
    Index,
}

#[derive(Debug, Clone)]
pub struct Paging {
    pub style: PagingStyle,
    pub items: String,
    pub default_max_count: u32,
    pub max_max_count: u32,
    /// The value of the endpoint limit that bounds `cursor + max_count`, if any.
    pub max_reach: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Limit {
    pub name: String,
    pub value: u64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct RateLimit {
    pub per_minute: u32,
    pub tier: Option<String>,
    /// Whether TikTok documents a limit; `false`: the figure is only the seed's tier.
    pub documented: bool,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct EndpointError {
    pub code: String,
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub group: String,
    pub method: Method,
    pub path: String,
    /// A few words (a tool's title, the OpenAPI operation's summary).
    pub title: String,
    pub summary: String,
    pub description: String,
    pub access: Access,
    /// Whether a write may change or remove what exists (`false`: it only adds).
    /// Always `false` for a read.
    pub destructive: bool,
    pub auth: Auth,
    pub acts_on: String,
    /// Any one of these scopes lets the call through (the seed's list).
    pub scopes: Vec<String>,
    /// The real API's list where it differs from the seed's.
    pub real_scopes: Option<(Vec<String>, String)>,
    pub scope_by: Option<ScopeBy>,
    pub fields: Option<FieldsParam>,
    pub request: Option<(String, ContentType)>,
    pub response: String,
    pub envelope: Envelope,
    pub paging: Option<Paging>,
    pub limits: Vec<Limit>,
    pub rate_limit: RateLimit,
    pub webhooks: Vec<String>,
    pub real_webhooks: Option<(Vec<String>, String)>,
    pub errors: Vec<EndpointError>,
    pub version: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFamily {
    Seed,
    Real,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub name: String,
    pub family: WebhookFamily,
    pub description: String,
    pub triggered_by: Vec<String>,
    pub content: String,
    pub reason_codes: Vec<(i64, String)>,
    pub source: String,
}

impl Model {
    /// The schema named `name`.
    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.iter().find(|schema| schema.name == name)
    }

    /// The enum named `name`.
    pub fn enumeration(&self, name: &str) -> Option<&Enum> {
        self.enums
            .iter()
            .find(|enumeration| enumeration.name == name)
    }

    /// The endpoint with id `id`.
    pub fn endpoint(&self, id: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|endpoint| endpoint.id == id)
    }

    /// The catalog entry for `code`.
    pub fn error(&self, code: &str) -> Option<&ErrorCode> {
        self.errors.iter().find(|error| error.code == code)
    }
}

/// Names the outputs already use for their own types: the client crate's root (hand-written
/// `Client`, `ClientBuilder`, `Error`, the envelope bodies; generated `ErrorCode`, `Scope`,
/// the webhook enums) and the OpenAPI document's own components. `codegen/tests/emit_openapi.rs`
/// checks the document's list stays in step with the emitter.
pub const RESERVED_TYPE_NAMES: [&str; 12] = [
    "ApiErrorBody",
    "Client",
    "ClientBuilder",
    "EmptyData",
    "Error",
    "ErrorCode",
    "ErrorResponse",
    "OAuthError",
    "OAuthErrorBody",
    "Scope",
    "WebhookContent",
    "WebhookEventKind",
];
