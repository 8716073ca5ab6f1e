//! The types of the generated tables: endpoints, schemas, errors, webhooks.
//!
//! The tables themselves (`ENDPOINTS`, `SCHEMAS`, `ERRORS`, `WEBHOOK_EVENTS`) are
//! emitted from the spec into `gen/`; the mock server reads them instead of copying
//! any figure, and the client's docs come from the same source.

use crate::{ErrorCode, Scope};

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl HttpMethod {
    /// Upper case, as on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// Whether an endpoint reads or changes state. Ordered (`Read` before `Write`) and written
/// `read` / `write` in JSON and YAML.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Reads.
    Read,
    /// Changes state.
    Write,
}

impl Access {
    /// `read` or `write`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }

    /// Parses `read` or `write`.
    pub fn parse(value: &str) -> Option<Access> {
        match value {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a call authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// `Authorization: Bearer act.…`: a user access token from the OAuth flow.
    UserToken,
    /// `Authorization: Bearer clt.…`: a client access token (`client_credentials`).
    ClientToken,
    /// `client_key` and `client_secret` in a form body (the OAuth endpoints).
    ClientCredentials,
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// How a response (and its errors) is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Envelope {
    /// `{"data": …, "error": {"code", "message", "log_id"}}`.
    V2,
    /// Flat: the object itself on success, `{"error", "error_description", "log_id"}` on failure.
    OAuth,
}

/// What a paging cursor means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PagingStyle {
    /// A Unix time in milliseconds; each page goes further back in time.
    TimestampMs,
    /// A start index into the result list.
    Index,
}

/// Cursor paging of a list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// What the cursor means.
    pub style: PagingStyle,
    /// The response field holding the page's items.
    pub items: &'static str,
    /// `max_count` when the request leaves it out.
    pub default_max_count: u32,
    /// The largest `max_count` allowed.
    pub max_max_count: u32,
    /// How far an index cursor reaches: `cursor + max_count` stays within it.
    pub max_reach: Option<u64>,
}

/// A request quota per access token over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in any window.
    pub per_minute: u32,
    /// The window's length in seconds (always 60).
    pub window_seconds: u32,
    /// The named tier, where the seed says "standard limits".
    pub tier: Option<&'static str>,
    /// Whether TikTok documents a limit. `false` (the OAuth endpoints): the figure is only
    /// the seed's tier; the client paces itself by it, the mock enforces none unless configured.
    pub documented: bool,
}

impl RateLimit {
    /// The calls a window allows with every limit multiplied by `scale` (the mock's
    /// `--rate-limit-scale`, the client's [`crate::ClientBuilder::rate_limit_scale`]):
    /// rounded down, at least 1.
    pub fn scaled(&self, scale: f64) -> u32 {
        scale_limit(u64::from(self.per_minute), scale)
    }
}

/// `limit` times `scale`, rounded down, at least 1 and at most `u32::MAX`: how the mock and
/// the client scale every rate limit and quota of the spec alike.
pub fn scale_limit(limit: u64, scale: f64) -> u32 {
    let scaled = (limit as f64 * scale).floor();
    if scaled >= f64::from(u32::MAX) {
        u32::MAX
    } else if scaled >= 1.0 {
        scaled as u32
    } else {
        1
    }
}

/// A named limit of an endpoint (ids per call, characters, lifetimes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The limit's name, e.g. `max_video_ids`.
    pub name: &'static str,
    /// Its value.
    pub value: u64,
    /// What it limits.
    pub description: &'static str,
}

/// A scope chosen by the value of a request field (content init's `post_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeBy {
    /// The request body field.
    pub field: &'static str,
    /// Each value of the field and the scope it needs.
    pub scopes: &'static [(&'static str, Scope)],
}

impl ScopeBy {
    /// The scope a request needs when its [`field`](ScopeBy::field) has `value`, or `None`
    /// for a value the table does not list (the endpoint's own scopes then decide alone).
    ///
    /// ```
    /// use tiktok_api::Scope;
    /// use tiktok_api::meta::ScopeBy;
    ///
    /// let post_mode = ScopeBy {
    ///     field: "post_mode",
    ///     scopes: &[("DIRECT_POST", Scope::VideoPublish), ("MEDIA_UPLOAD", Scope::VideoUpload)],
    /// };
    /// assert_eq!(post_mode.scope_for("MEDIA_UPLOAD"), Some(Scope::VideoUpload));
    /// assert_eq!(post_mode.scope_for("SOMETHING_ELSE"), None);
    /// ```
    pub fn scope_for(&self, value: &str) -> Option<Scope> {
        self.scopes
            .iter()
            .find(|(listed, _)| *listed == value)
            .map(|(_, scope)| *scope)
    }
}

/// An error an endpoint can return, with the HTTP status it uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    /// The catalog code.
    pub code: ErrorCode,
    /// The HTTP status this endpoint sends it with (creator_info sends some with 200).
    pub status: u16,
}

/// The `fields` query parameter of an endpoint.
#[derive(Debug, Clone, Copy)]
pub struct FieldsParam {
    /// The schema whose field names `fields` may list.
    pub schema: &'static SchemaMeta,
    /// Whether `fields` must be present.
    pub required: bool,
}

/// Everything the spec says about one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct EndpointMeta {
    /// The spec id, e.g. `video_list`.
    pub id: &'static str,
    /// The group of the seed's method table.
    pub group: &'static str,
    /// HTTP method.
    pub method: HttpMethod,
    /// Path, with its trailing slash.
    pub path: &'static str,
    /// One sentence.
    pub summary: &'static str,
    /// The longer story.
    pub description: &'static str,
    /// Read or write.
    pub access: Access,
    /// How the call authenticates.
    pub auth: Auth,
    /// Any one of these scopes lets the call through (the seed's list; empty for OAuth).
    pub scopes: &'static [Scope],
    /// The real API's list where it differs from the seed's.
    pub real_scopes: Option<&'static [Scope]>,
    /// A scope chosen by a request field, on top of `scopes`.
    pub scope_by: Option<ScopeBy>,
    /// The `fields` query parameter, if the endpoint has one.
    pub fields: Option<FieldsParam>,
    /// The request body schema and its encoding.
    pub request: Option<(&'static SchemaMeta, ContentType)>,
    /// The response's `data` schema (the whole body for OAuth endpoints).
    pub response: &'static SchemaMeta,
    /// How the response is shaped.
    pub envelope: Envelope,
    /// Cursor paging, for list endpoints.
    pub paging: Option<Paging>,
    /// Named limits.
    pub limits: &'static [Limit],
    /// The rate limit per access token.
    pub rate_limit: RateLimit,
    /// Webhook events the endpoint leads to (the seed's).
    pub webhooks: &'static [&'static str],
    /// The real Content Posting API's events, where they differ.
    pub real_webhooks: &'static [&'static str],
    /// The errors the endpoint can return.
    pub errors: &'static [EndpointError],
    /// Availability.
    pub version: &'static str,
    /// Where the facts come from.
    pub source: &'static str,
}

impl EndpointMeta {
    /// The named limit `name`.
    pub fn limit(&self, name: &str) -> Option<u64> {
        self.limits
            .iter()
            .find(|limit| limit.name == name)
            .map(|limit| limit.value)
    }

    /// The HTTP status this endpoint sends `code` with, if it can send it.
    pub fn status_of(&self, code: &ErrorCode) -> Option<u16> {
        self.errors
            .iter()
            .find(|error| &error.code == code)
            .map(|error| error.status)
    }
}

/// A field type.
#[derive(Debug, Clone, Copy)]
pub enum TypeMeta {
    /// A JSON string.
    String,
    /// A JSON boolean.
    Bool,
    /// A 32-bit integer.
    I32,
    /// A 64-bit integer (ids can exceed 2^53: never a float).
    I64,
    /// A list.
    List(&'static TypeMeta),
    /// A closed set of strings.
    Enum(&'static EnumMeta),
    /// An object.
    Schema(&'static SchemaMeta),
}

/// A closed set of string values.
#[derive(Debug, Clone, Copy)]
pub struct EnumMeta {
    /// The spec name, e.g. `PrivacyLevel`.
    pub name: &'static str,
    /// The values, as on the wire.
    pub values: &'static [&'static str],
}

/// An object schema.
#[derive(Debug, Clone, Copy)]
pub struct SchemaMeta {
    /// The spec name, e.g. `Video`.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Its fields, in spec order.
    pub fields: &'static [FieldMeta],
}

impl SchemaMeta {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// A field of an object schema.
#[derive(Debug, Clone, Copy)]
pub struct FieldMeta {
    /// The JSON name.
    pub name: &'static str,
    /// Its type.
    pub ty: TypeMeta,
    /// Whether it must be present.
    pub required: bool,
    /// The scope a token needs to ask for it in `fields`.
    pub scope: Option<Scope>,
    /// Longest string, in UTF-16 units.
    pub max_length: Option<u64>,
    /// Fewest list items.
    pub min_items: Option<u64>,
    /// Most list items.
    pub max_items: Option<u64>,
    /// Smallest number.
    pub minimum: Option<i64>,
    /// Largest number.
    pub maximum: Option<i64>,
    /// An example value, as JSON text.
    pub example: Option<&'static str>,
    /// A credential (token, code, secret, verifier, upload URL): never shown or logged.
    pub secret: bool,
}

/// An entry of the error catalog.
#[derive(Debug, Clone)]
pub struct ErrorMeta {
    /// The code.
    pub code: ErrorCode,
    /// Its usual HTTP status.
    pub status: u16,
    /// How it travels.
    pub envelope: Envelope,
    /// Whether sending the same request again later may succeed (rate limits, server faults).
    pub transient: bool,
    /// What it means.
    pub meaning: &'static str,
    /// What to do about it.
    pub action: &'static str,
}

/// Which set of webhook events an event belongs to (and which set an app receives for
/// content posting: `seed` by default, or `real`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFamily {
    /// The seed's events, sent by default.
    #[default]
    Seed,
    /// The real Content Posting API's `post.publish.*` events.
    Real,
}

/// A webhook event.
#[derive(Debug, Clone, Copy)]
pub struct WebhookEventMeta {
    /// The event name, e.g. `authorization.removed`.
    pub name: &'static str,
    /// Seed or real family.
    pub family: WebhookFamily,
    /// What fires it.
    pub description: &'static str,
    /// Endpoint ids that lead to it.
    pub triggered_by: &'static [&'static str],
    /// The schema of its `content` (a JSON string inside the payload).
    pub content: &'static SchemaMeta,
    /// Reason codes, for events that carry one.
    pub reason_codes: &'static [(i64, &'static str)],
}

/// Where something is written in the spec: the file and the line of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecLine {
    /// `endpoint:ID`, `endpoint:ID.KEY` (`response`, `rate_limit`, `errors`, `scopes`,
    /// `fields`, `request`, `paging`, `limits`), `schema:NAME`, `schema:NAME.FIELD` or
    /// `error:CODE`.
    pub key: &'static str,
    /// The file, e.g. `spec/endpoints.yaml`.
    pub file: &'static str,
    /// The line (1-based).
    pub line: u32,
}

/// The spec line of `key` (see [`SpecLine::key`]), from the generated `SPEC_LINES`.
///
/// ```
/// let line = tiktok_api::meta::spec_line("endpoint:user_info").expect("a spec endpoint");
/// assert_eq!(line.file, "spec/endpoints.yaml");
/// assert!(tiktok_api::meta::spec_line("endpoint:no_such_endpoint").is_none());
/// ```
pub fn spec_line(key: &str) -> Option<&'static SpecLine> {
    let lines = crate::r#gen::lines::SPEC_LINES;
    lines
        .binary_search_by(|line| line.key.cmp(key))
        .ok()
        .map(|index| &lines[index])
}

#[cfg(test)]
mod tests {
    #[test]
    fn scope_by_finds_the_scope_of_each_listed_value_and_none_of_others() {
        let content_init = crate::ENDPOINTS
            .iter()
            .find_map(|endpoint| endpoint.scope_by)
            .expect("an endpoint of the spec chooses a scope by a request value");
        for (value, scope) in content_init.scopes {
            assert_eq!(content_init.scope_for(value), Some(*scope), "{value}");
        }
        assert_eq!(content_init.scope_for(""), None);
        assert_eq!(content_init.scope_for("not a listed value"), None);
    }
}
