//! The raw serde structs, one per YAML shape of each file of `spec/`, as written.

#![allow(missing_docs)] // The raw structs mirror spec/README.md key for key.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::spec::positions::Positions;

/// `spec/api.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub info: RawInfo,
    pub base_urls: RawBaseUrls,
    pub groups: BTreeMap<String, RawGroup>,
    pub sources: BTreeMap<String, RawSource>,
    pub rate_limit_tiers: BTreeMap<String, RawTier>,
    pub oauth: RawOauth,
    pub uploads: RawUploads,
    pub webhook_delivery: RawWebhookDelivery,
    #[serde(default)]
    pub divergences: Vec<RawDivergence>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInfo {
    pub title: String,
    pub version: String,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBaseUrls {
    pub api: String,
    pub authorize: String,
    pub upload: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub title: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub per_minute: i64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVersioned<T> {
    pub current: T,
    pub previous: T,
    #[serde(default)]
    pub description: Option<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOauth {
    pub access_token_ttl_seconds: RawVersioned<i64>,
    pub refresh_token_ttl_seconds: RawVersioned<i64>,
    pub client_token_ttl_seconds: RawVersioned<i64>,
    pub refresh_rotation: RawVersioned<String>,
    pub code_ttl_seconds: RawVersioned<i64>,
    pub scope_separator: String,
    pub pkce: RawPkce,
    pub code_verifier_length: RawRange,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPkce {
    pub methods: Vec<String>,
    pub challenge_encodings: Vec<String>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUploads {
    pub upload_url_ttl_seconds: i64,
    pub content_types: Vec<String>,
    pub chunk: RawChunkRules,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhookDelivery {
    pub retry_window_seconds: i64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChunkRules {
    pub min_chunk_mb: i64,
    pub max_chunk_mb: i64,
    pub max_final_chunk_mb: i64,
    pub min_chunks: i64,
    pub max_chunks: i64,
    pub mb_readings: Vec<i64>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDivergence {
    pub id: String,
    pub topic: String,
    pub seed: String,
    pub real: String,
    pub rule: String,
    pub sources: Vec<String>,
}

/// One entry of `spec/scopes.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    pub description: String,
    pub review_required: bool,
    pub source: String,
}

/// One entry of `spec/errors.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawError {
    pub code: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub status: i64,
    pub envelope: String,
    /// Whether the failure is passing: the same request may succeed if sent again later.
    #[serde(default)]
    pub transient: bool,
    pub meaning: String,
    pub action: String,
    pub source: String,
}

/// `spec/schemas.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchemas {
    pub enums: serde_yaml::Mapping,
    pub schemas: serde_yaml::Mapping,
}

/// One closed value set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnum {
    pub description: String,
    pub values: Vec<String>,
    pub source: String,
}

/// One object schema.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchema {
    pub description: String,
    pub source: String,
    pub fields: serde_yaml::Mapping,
}

/// One field of an object schema.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    #[serde(rename = "type")]
    pub ty: String,
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub max_length: Option<i64>,
    #[serde(default)]
    pub min_items: Option<i64>,
    #[serde(default)]
    pub max_items: Option<i64>,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    #[serde(default)]
    pub example: Option<serde_json::Value>,
    /// A credential: redacted from `Debug`, never logged.
    #[serde(default)]
    pub secret: bool,
}

/// One entry of `spec/endpoints.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub group: String,
    pub method: String,
    pub path: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub access: String,
    #[serde(default)]
    pub destructive: Option<bool>,
    pub auth: String,
    pub acts_on: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub real_scopes: Option<RawRealScopes>,
    #[serde(default)]
    pub scope_by: Option<RawScopeBy>,
    #[serde(default)]
    pub fields: Option<RawFieldsParam>,
    #[serde(default)]
    pub request: Option<RawRequest>,
    pub response: RawResponse,
    #[serde(default)]
    pub paging: Option<RawPaging>,
    #[serde(default)]
    pub limits: BTreeMap<String, RawLimit>,
    pub rate_limit: RawRateLimit,
    #[serde(default)]
    pub webhooks: Vec<String>,
    #[serde(default)]
    pub real_webhooks: Option<RawRealWebhooks>,
    pub errors: Vec<RawEndpointError>,
    pub version: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRealScopes {
    pub scopes: Vec<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScopeBy {
    pub field: String,
    pub scopes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFieldsParam {
    pub schema: String,
    pub required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub body: String,
    pub content_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResponse {
    pub data: String,
    pub envelope: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaging {
    pub style: String,
    pub items: String,
    pub max_count: RawMaxCount,
    /// The endpoint limit that bounds `cursor + max_count` (index cursors).
    #[serde(default)]
    pub reach: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaxCount {
    pub default: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub value: i64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub per_minute: Option<i64>,
    /// `false`: TikTok documents no limit; the figure is only the seed's tier.
    #[serde(default)]
    pub documented: Option<bool>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRealWebhooks {
    pub events: Vec<String>,
    pub source: String,
}

/// An endpoint's error: a catalog code, optionally with the HTTP status this endpoint uses for it.
///
/// Written as `code` or `{code: code, status: 200}`. Deserialized by hand rather than
/// `#[serde(untagged)]`, whose only message is "data did not match any variant".
#[derive(Debug)]
pub enum RawEndpointError {
    Code(String),
    WithStatus { code: String, status: i64 },
}

impl<'de> Deserialize<'de> for RawEndpointError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct WithStatus {
            code: String,
            status: i64,
        }

        let expected = "an error code, or {code: <code>, status: <HTTP status>}";
        match serde_yaml::Value::deserialize(deserializer)? {
            serde_yaml::Value::String(code) => Ok(Self::Code(code)),
            value @ serde_yaml::Value::Mapping(_) => serde_yaml::from_value::<WithStatus>(value)
                .map(|with| Self::WithStatus {
                    code: with.code,
                    status: with.status,
                })
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format_args!(
                "invalid type: {}, expected {expected}",
                describe(&other)
            ))),
        }
    }
}

/// One entry of `spec/webhooks.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub family: String,
    pub description: String,
    pub triggered_by: Vec<String>,
    pub content: String,
    #[serde(default)]
    pub reason_codes: BTreeMap<i64, String>,
    pub source: String,
}

/// A schema with its name and its fields, in file order.
pub type RawSchemaEntry = (String, RawSchema, Vec<(String, RawField)>);

/// Every spec file as written, in file order where order matters.
#[derive(Debug)]
pub struct RawSpec {
    pub api: RawApi,
    pub scopes: Vec<(String, RawScope)>,
    pub errors: Vec<RawError>,
    pub enums: Vec<(String, RawEnum)>,
    pub schemas: Vec<RawSchemaEntry>,
    pub endpoints: Vec<(String, RawEndpoint)>,
    pub webhooks: Vec<(String, RawWebhook)>,
    /// Where each node is, for errors found after parsing.
    pub positions: Positions,
}

/// A YAML value's kind in words, for "found".
pub(super) fn describe(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::Null => "nothing".into(),
        serde_yaml::Value::Bool(_) => "a boolean".into(),
        serde_yaml::Value::Number(_) => "a number".into(),
        serde_yaml::Value::String(_) => "a string".into(),
        serde_yaml::Value::Sequence(_) => "a list".into(),
        serde_yaml::Value::Mapping(_) => "a mapping".into(),
        serde_yaml::Value::Tagged(_) => "a tagged value".into(),
    }
}
