//! The reference document `generated/REFERENCE.md`, rendered with askama.
//!
//! [`emit_reference`] turns the model into small view structs of Markdown fragments;
//! the template `codegen/templates/reference.md` lays them out, and its `cell` filter
//! escapes every table cell. Nothing here reads a clock or iterates a hash map, so the
//! same model always renders the same bytes.

use askama::Template;

use crate::Model;
use crate::emit::text::{auth_text, ordered_groups, paging_text, rate_limit_text};
use crate::model::{
    Access, ContentType, Endpoint, Envelope, Field, Type, Versioned, WebhookFamily,
};

/// Renders `generated/REFERENCE.md`.
pub fn emit_reference(model: &Model) -> String {
    let view = Reference::new(model);
    match view.render() {
        Ok(text) => finish(&text),
        // Rendering writes into a String and the filters never fail, so this only
        // guards against a future filter that does.
        Err(error) => format!("<!-- {} -->\n\nRendering failed: {error}\n", super::HEADER),
    }
}

/// Trims trailing whitespace from every line and leaves exactly one newline at the end.
fn finish(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.trim_end().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Filters the template uses.
mod filters {
    /// Makes `value` safe inside a Markdown table cell: escapes `|` and joins lines.
    pub fn cell<T: std::fmt::Display>(value: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::escape_cell(&value.to_string()))
    }
}

/// Escapes `|` (which would end the cell) and folds newlines into spaces.
pub(crate) fn escape_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '|' => out.push_str("\\|"),
            '\r' => {}
            '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    if out.is_empty() { "—".into() } else { out }
}

/// `text` as an inline code span.
fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Code spans joined with `separator`, or a dash for none.
fn codes<'a>(items: impl IntoIterator<Item = &'a String>, separator: &str) -> String {
    let list: Vec<String> = items.into_iter().map(|item| code(item)).collect();
    if list.is_empty() {
        "—".into()
    } else {
        list.join(separator)
    }
}

/// A source key as a Markdown reference link when it has a web address, else as text.
fn source_link(model: &Model, key: &str) -> String {
    match model.sources.get(key) {
        Some(source) if is_web(&source.url) => format!("[{key}]"),
        _ => key.to_string(),
    }
}

fn sources_text(model: &Model, keys: &[String]) -> String {
    keys.iter()
        .map(|key| source_link(model, key))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_web(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// A link to the section of endpoint `id`.
fn endpoint_anchor(id: &str) -> String {
    format!("endpoint-{id}")
}

/// A link to the section of schema or enum `name`.
fn schema_anchor(name: &str) -> String {
    format!("schema-{name}")
}

fn access_text(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
    }
}

/// A number of seconds, with the unit a person would use.
fn duration_text(seconds: u64) -> String {
    const DAY: u64 = 86_400;
    let human = if seconds >= 2 * DAY && seconds.is_multiple_of(DAY) {
        format!("{} days", seconds / DAY)
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        return format!("{seconds} s");
    };
    format!("{seconds} s ({human})")
}

/// The type of a field, linked to its schema or enum.
fn type_text(ty: &Type) -> String {
    match innermost(ty) {
        Type::Enum(name) | Type::Schema(name) => {
            format!("[{}](#{})", code(&ty.spec_name()), schema_anchor(name))
        }
        _ => code(&ty.spec_name()),
    }
}

fn innermost(ty: &Type) -> &Type {
    match ty {
        Type::List(inner) => innermost(inner),
        other => other,
    }
}

/// A field's bounds in words.
fn constraints_text(field: &Field) -> String {
    let mut parts = Vec::new();
    if let Some(max_length) = field.max_length {
        parts.push(format!("max length {max_length}"));
    }
    match (field.min_items, field.max_items) {
        (Some(min), Some(max)) => parts.push(format!("{min} to {max} items")),
        (Some(min), None) => parts.push(format!("at least {min} items")),
        (None, Some(max)) => parts.push(format!("at most {max} items")),
        (None, None) => {}
    }
    if let Some(minimum) = field.minimum {
        parts.push(format!("minimum {minimum}"));
    }
    if let Some(maximum) = field.maximum {
        parts.push(format!("maximum {maximum}"));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join("; ")
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// The whole document.
#[derive(Template)]
#[template(path = "reference.md", escape = "none")]
struct Reference {
    header: &'static str,
    title: String,
    description: String,
    info_source: String,
    api_url: String,
    authorize_url: String,
    upload_url: String,
    tiers: Vec<TierRow>,
    groups: Vec<GroupView>,
    endpoints: Vec<EndpointView>,
    scopes: Vec<ScopeRow>,
    errors: Vec<ErrorRow>,
    webhooks: Vec<WebhookRow>,
    enums: Vec<EnumRow>,
    schemas: Vec<SchemaView>,
    oauth: OauthView,
    uploads: UploadsView,
    divergences: Vec<DivergenceRow>,
    sources: Vec<SourceRow>,
    link_definitions: Vec<String>,
}

struct TierRow {
    name: String,
    per_minute: u32,
    description: String,
    source: String,
}

struct GroupView {
    title: String,
    description: String,
    rows: Vec<MethodRow>,
}

struct MethodRow {
    method: &'static str,
    path: String,
    summary: String,
    access: &'static str,
    permission: String,
    version: String,
    rate_limit: String,
    webhooks: String,
}

struct EndpointView {
    anchor: String,
    heading: String,
    summary: String,
    description: String,
    /// `(label, value)` lines of the fact list.
    facts: Vec<(String, String)>,
    fields: Option<FieldsView>,
    limits: Vec<LimitRow>,
    errors: Vec<EndpointErrorRow>,
}

struct FieldsView {
    intro: String,
    rows: Vec<(String, String, String)>,
}

struct LimitRow {
    name: String,
    value: u64,
    description: String,
    source: String,
}

struct EndpointErrorRow {
    status: String,
    code: String,
    meaning: String,
}

struct ScopeRow {
    name: String,
    description: String,
    review_required: &'static str,
    fields: String,
    source: String,
}

struct ErrorRow {
    status: u16,
    code: String,
    envelope: &'static str,
    meaning: String,
    action: String,
    source: String,
}

struct WebhookRow {
    name: String,
    family: &'static str,
    description: String,
    triggered_by: String,
    content: String,
    reason_codes: String,
    source: String,
}

struct EnumRow {
    anchor: String,
    name: String,
    values: String,
    description: String,
    source: String,
}

struct SchemaView {
    anchor: String,
    name: String,
    description: String,
    source: String,
    rows: Vec<SchemaFieldRow>,
}

struct SchemaFieldRow {
    name: String,
    ty: String,
    required: &'static str,
    constraints: String,
    scope: String,
    description: String,
    example: String,
}

struct OauthView {
    token_url: String,
    rows: Vec<OauthRow>,
    rotation_description: String,
    scope_separator: String,
    pkce_methods: String,
    pkce_encodings: String,
    verifier_min: u32,
    verifier_max: u32,
    pkce_description: String,
    pkce_source: String,
}

struct OauthRow {
    rule: &'static str,
    current: String,
    previous: String,
    source: String,
}

struct UploadsView {
    upload_url_ttl: String,
    content_types: String,
    min_chunk_mb: u64,
    max_chunk_mb: u64,
    max_final_chunk_mb: u64,
    min_chunks: u64,
    max_chunks: u64,
    mb_readings: String,
    description: String,
    source: String,
}

struct DivergenceRow {
    topic: String,
    seed: String,
    real: String,
    rule: String,
    sources: String,
}

struct SourceRow {
    key: String,
    title: String,
    url: String,
}

impl Reference {
    fn new(model: &Model) -> Self {
        Reference {
            header: super::HEADER,
            title: model.info.title.clone(),
            description: model.info.description.clone(),
            info_source: source_link(model, &model.info.source),
            api_url: model.base_urls.api.clone(),
            authorize_url: model.base_urls.authorize.clone(),
            upload_url: model.base_urls.upload.clone(),
            tiers: model
                .rate_limit_tiers
                .values()
                .map(|tier| TierRow {
                    name: code(&tier.name),
                    per_minute: tier.per_minute,
                    description: tier.description.clone(),
                    source: source_link(model, &tier.source),
                })
                .collect(),
            groups: groups(model),
            endpoints: model
                .endpoints
                .iter()
                .map(|endpoint| endpoint_view(model, endpoint))
                .collect(),
            scopes: model
                .scopes
                .iter()
                .map(|scope| ScopeRow {
                    name: code(&scope.name),
                    description: scope.description.clone(),
                    review_required: yes_no(scope.review_required),
                    fields: {
                        let fields: Vec<String> = scope
                            .fields
                            .iter()
                            .map(|(schema, field)| code(&format!("{schema}.{field}")))
                            .collect();
                        if fields.is_empty() {
                            "—".into()
                        } else {
                            fields.join(", ")
                        }
                    },
                    source: source_link(model, &scope.source),
                })
                .collect(),
            errors: model
                .errors
                .iter()
                .map(|error| ErrorRow {
                    status: error.status,
                    code: if error.aliases.is_empty() {
                        code(&error.code)
                    } else {
                        format!(
                            "{} (also {})",
                            code(&error.code),
                            codes(&error.aliases, ", ")
                        )
                    },
                    envelope: match error.envelope {
                        Envelope::V2 => "v2",
                        Envelope::OAuth => "OAuth (flat)",
                    },
                    meaning: error.meaning.clone(),
                    action: error.action.clone(),
                    source: source_link(model, &error.source),
                })
                .collect(),
            webhooks: model
                .webhooks
                .iter()
                .map(|webhook| WebhookRow {
                    name: code(&webhook.name),
                    family: match webhook.family {
                        WebhookFamily::Seed => "seed",
                        WebhookFamily::Real => "real",
                    },
                    description: webhook.description.clone(),
                    triggered_by: if webhook.triggered_by.is_empty() {
                        "no API call".into()
                    } else {
                        webhook
                            .triggered_by
                            .iter()
                            .map(|id| match model.endpoint(id) {
                                Some(endpoint) => format!(
                                    "[{}](#{})",
                                    code(&endpoint.path),
                                    endpoint_anchor(&endpoint.id)
                                ),
                                None => code(id),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    content: format!(
                        "[{}](#{})",
                        code(&webhook.content),
                        schema_anchor(&webhook.content)
                    ),
                    reason_codes: if webhook.reason_codes.is_empty() {
                        "—".into()
                    } else {
                        webhook
                            .reason_codes
                            .iter()
                            .map(|(number, text)| format!("{} {text}", code(&number.to_string())))
                            .collect::<Vec<_>>()
                            .join("; ")
                    },
                    source: source_link(model, &webhook.source),
                })
                .collect(),
            enums: model
                .enums
                .iter()
                .map(|enumeration| EnumRow {
                    anchor: schema_anchor(&enumeration.name),
                    name: code(&enumeration.name),
                    values: codes(&enumeration.values, ", "),
                    description: enumeration.description.clone(),
                    source: source_link(model, &enumeration.source),
                })
                .collect(),
            schemas: model
                .schemas
                .iter()
                .map(|schema| SchemaView {
                    anchor: schema_anchor(&schema.name),
                    name: schema.name.clone(),
                    description: schema.description.clone(),
                    source: source_link(model, &schema.source),
                    rows: schema
                        .fields
                        .iter()
                        .map(|field| SchemaFieldRow {
                            name: code(&field.name),
                            ty: type_text(&field.ty),
                            required: yes_no(field.required),
                            constraints: constraints_text(field),
                            scope: field.scope.as_deref().map_or_else(|| "—".into(), code),
                            description: field.description.clone(),
                            example: field
                                .example
                                .as_ref()
                                .map_or_else(|| "—".into(), |example| code(&example.to_string())),
                        })
                        .collect(),
                })
                .collect(),
            oauth: oauth_view(model),
            uploads: UploadsView {
                upload_url_ttl: duration_text(model.uploads.upload_url_ttl_seconds),
                content_types: codes(&model.uploads.content_types, ", "),
                min_chunk_mb: model.uploads.min_chunk_mb,
                max_chunk_mb: model.uploads.max_chunk_mb,
                max_final_chunk_mb: model.uploads.max_final_chunk_mb,
                min_chunks: model.uploads.min_chunks,
                max_chunks: model.uploads.max_chunks,
                mb_readings: model
                    .uploads
                    .mb_readings
                    .iter()
                    .map(|bytes| format!("{bytes} bytes"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                description: model.uploads.description.clone(),
                source: source_link(model, &model.uploads.source),
            },
            divergences: model
                .divergences
                .iter()
                .map(|divergence| DivergenceRow {
                    topic: divergence.topic.clone(),
                    seed: divergence.seed.clone(),
                    real: divergence.real.clone(),
                    rule: match divergence.rule.as_str() {
                        "seed_default" => "the seed, by default".into(),
                        "real" => "the real API".into(),
                        other => other.to_string(),
                    },
                    sources: sources_text(model, &divergence.sources),
                })
                .collect(),
            sources: model
                .sources
                .values()
                .map(|source| SourceRow {
                    key: code(&source.key),
                    title: source.title.clone(),
                    url: if is_web(&source.url) {
                        format!("<{}>", source.url)
                    } else {
                        code(&source.url)
                    },
                })
                .collect(),
            link_definitions: model
                .sources
                .values()
                .filter(|source| is_web(&source.url))
                .map(|source| format!("[{}]: {}", source.key, source.url))
                .collect(),
        }
    }
}

/// The seed's method table, one per group.
fn groups(model: &Model) -> Vec<GroupView> {
    ordered_groups(model)
        .into_iter()
        .map(|group| GroupView {
            title: group.title.clone(),
            description: group.description.clone(),
            rows: model
                .endpoints
                .iter()
                .filter(|endpoint| endpoint.group == group.name)
                .map(|endpoint| MethodRow {
                    method: endpoint.method.as_str(),
                    path: format!(
                        "[{}](#{})",
                        code(&endpoint.path),
                        endpoint_anchor(&endpoint.id)
                    ),
                    summary: endpoint.summary.clone(),
                    access: access_text(endpoint.access),
                    permission: if endpoint.scopes.is_empty() {
                        "—".into()
                    } else {
                        endpoint.scopes.join(" or ")
                    },
                    version: endpoint.version.clone(),
                    rate_limit: rate_limit_text(endpoint),
                    webhooks: if endpoint.webhooks.is_empty() {
                        "—".into()
                    } else {
                        endpoint.webhooks.join(", ")
                    },
                })
                .collect(),
        })
        .collect()
}

fn endpoint_view(model: &Model, endpoint: &Endpoint) -> EndpointView {
    let mut facts: Vec<(String, String)> = Vec::new();
    let mut fact = |label: &str, value: String| facts.push((label.to_string(), value));
    let group = model
        .groups
        .iter()
        .find(|group| group.name == endpoint.group)
        .map_or_else(|| endpoint.group.clone(), |group| group.title.clone());
    fact("Operation id", code(&endpoint.id));
    fact("Group", group);
    fact(
        "Access",
        format!(
            "{}, acts on {}",
            access_text(endpoint.access),
            endpoint.acts_on
        ),
    );
    fact("Auth", auth_text(endpoint.auth).to_string());
    if !endpoint.scopes.is_empty() {
        let scopes = codes(&endpoint.scopes, " or ");
        let scopes = if endpoint.scopes.len() > 1 {
            format!("{scopes} (any one of them)")
        } else {
            scopes
        };
        fact("Scopes", scopes);
    }
    if let Some((scopes, source)) = &endpoint.real_scopes {
        fact(
            "Scopes in the real API",
            format!("{} ({})", codes(scopes, " or "), source_link(model, source)),
        );
    }
    if let Some(scope_by) = &endpoint.scope_by {
        let rules: Vec<String> = scope_by
            .scopes
            .iter()
            .map(|(value, scope)| format!("{} needs {}", code(value), code(scope)))
            .collect();
        fact(
            &format!("Scope by {}", code(&scope_by.field)),
            rules.join(", "),
        );
    }
    if let Some((body, content_type)) = &endpoint.request {
        let media = match content_type {
            ContentType::Json => "application/json",
            ContentType::Form => "application/x-www-form-urlencoded",
        };
        fact(
            "Request body",
            format!(
                "[{}](#{}) as {}",
                code(body),
                schema_anchor(body),
                code(media)
            ),
        );
    }
    let response = format!(
        "[{}](#{})",
        code(&endpoint.response),
        schema_anchor(&endpoint.response)
    );
    fact(
        "Response",
        match endpoint.envelope {
            Envelope::V2 => format!("{response} as `data` in the v2 envelope"),
            Envelope::OAuth => {
                format!("{response}, flat (no envelope); errors in the flat OAuth shape")
            }
        },
    );
    if let Some(paging) = &endpoint.paging {
        fact(
            "Paging",
            format!(
                "{}; items in {}; `max_count` default {}, at most {}",
                paging_text(paging.style),
                code(&paging.items),
                paging.default_max_count,
                paging.max_max_count
            ),
        );
    }
    fact(
        "Rate limit",
        format!(
            "{}; source: {}",
            rate_limit_text(endpoint),
            source_link(model, &endpoint.rate_limit.source)
        ),
    );
    if !endpoint.webhooks.is_empty() {
        fact("Webhook events", codes(&endpoint.webhooks, ", "));
    }
    if let Some((events, source)) = &endpoint.real_webhooks {
        fact(
            "Webhook events in the real API",
            format!("{} ({})", codes(events, ", "), source_link(model, source)),
        );
    }
    fact("Version", endpoint.version.clone());
    fact("Source", source_link(model, &endpoint.source));

    let fields = endpoint.fields.as_ref().map(|fields| {
        let rows = model
            .schema(&fields.schema)
            .map(|schema| {
                schema
                    .fields
                    .iter()
                    .map(|field| {
                        (
                            code(&field.name),
                            field.scope.as_deref().map_or_else(|| "—".into(), code),
                            field.description.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        FieldsView {
            intro: format!(
                "`fields` query parameter ({}): comma-separated names of [{}](#{}) fields. \
                 A field whose scope the token lacks fails with `scope_permission_missed`.",
                if fields.required {
                    "required"
                } else {
                    "optional"
                },
                code(&fields.schema),
                schema_anchor(&fields.schema)
            ),
            rows,
        }
    });
    let limits = endpoint
        .limits
        .iter()
        .map(|limit| LimitRow {
            name: code(&limit.name),
            value: limit.value,
            description: limit.description.clone(),
            source: source_link(model, &limit.source),
        })
        .collect();
    let errors = endpoint
        .errors
        .iter()
        .map(|error| {
            let catalog = model.error(&error.code);
            let status = match catalog {
                Some(entry) if entry.status != error.status => {
                    format!("{} (catalog: {})", error.status, entry.status)
                }
                _ => error.status.to_string(),
            };
            EndpointErrorRow {
                status,
                code: code(&error.code),
                meaning: catalog.map_or_else(String::new, |entry| entry.meaning.clone()),
            }
        })
        .collect();
    EndpointView {
        anchor: endpoint_anchor(&endpoint.id),
        heading: code(&format!("{} {}", endpoint.method.as_str(), endpoint.path)),
        summary: endpoint.summary.clone(),
        description: endpoint.description.clone(),
        facts,
        fields,
        limits,
        errors,
    }
}

fn oauth_view(model: &Model) -> OauthView {
    let oauth = &model.oauth;
    let lifetime = |rule: &'static str, value: &Versioned<u64>| OauthRow {
        rule,
        current: duration_text(value.current),
        previous: duration_text(value.previous),
        source: source_link(model, &value.source),
    };
    let mut rows = vec![
        lifetime("Access token lifetime", &oauth.access_token_ttl_seconds),
        lifetime("Refresh token lifetime", &oauth.refresh_token_ttl_seconds),
        lifetime(
            "Client access token lifetime",
            &oauth.client_token_ttl_seconds,
        ),
        lifetime("Authorization code lifetime", &oauth.code_ttl_seconds),
    ];
    rows.push(OauthRow {
        rule: "Refresh-token rotation",
        current: oauth.refresh_rotation.current.clone(),
        previous: oauth.refresh_rotation.previous.clone(),
        source: source_link(model, &oauth.refresh_rotation.source),
    });
    let rotation_description = [
        &oauth.access_token_ttl_seconds,
        &oauth.refresh_token_ttl_seconds,
        &oauth.client_token_ttl_seconds,
        &oauth.code_ttl_seconds,
    ]
    .iter()
    .filter_map(|value| value.description.clone())
    .chain(oauth.refresh_rotation.description.clone())
    .collect::<Vec<_>>()
    .join(" ");
    OauthView {
        token_url: format!("{}{}", model.base_urls.api, super::text::TOKEN_PATH),
        rows,
        rotation_description,
        scope_separator: code(&oauth.scope_separator),
        pkce_methods: codes(&oauth.pkce_methods, ", "),
        pkce_encodings: codes(&oauth.pkce_challenge_encodings, ", "),
        verifier_min: oauth.code_verifier_min,
        verifier_max: oauth.code_verifier_max,
        pkce_description: oauth.pkce_description.clone(),
        pkce_source: source_link(model, &oauth.pkce_source),
    }
}
