//! The reference document `generated/REFERENCE.md`, rendered with askama.
//!
//! [`emit_reference`] turns the model into small view structs of Markdown fragments;
//! the template `codegen/templates/reference.md` lays them out, and its `cell` filter
//! escapes every table cell. Nothing here reads a clock or iterates a hash map, so the
//! same model always renders the same bytes.
//!
//! `format` holds the Markdown fragments, `views` the structs, `sections` the larger
//! sections' builders.

mod format;
mod sections;
mod views;

use askama::Template;

use crate::Model;
use crate::emit::docs::format::{
    code, codes, constraints_text, duration_text, endpoint_anchor, is_web, schema_anchor,
    source_link, sources_text, type_text, yes_no,
};
use crate::emit::docs::sections::{endpoint_view, groups, oauth_view};
use crate::emit::docs::views::{
    DivergenceRow, EndpointView, EnumRow, ErrorRow, GroupView, OauthView, SchemaFieldRow,
    SchemaView, ScopeRow, SourceRow, TierRow, UploadsView, WebhookRow,
};
use crate::model::{Envelope, WebhookFamily};

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
        Ok(crate::emit::docs::format::escape_cell(&value.to_string()))
    }
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
    webhook_delivery: String,
    enums: Vec<EnumRow>,
    schemas: Vec<SchemaView>,
    oauth: OauthView,
    uploads: UploadsView,
    divergences: Vec<DivergenceRow>,
    sources: Vec<SourceRow>,
    link_definitions: Vec<String>,
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
            webhook_delivery: format!(
                "{} Retry window: {} (`WEBHOOK_RETRY_WINDOW_SECONDS`). Source: {}.",
                model.webhook_delivery.description.trim(),
                duration_text(model.webhook_delivery.retry_window_seconds),
                source_link(model, &model.webhook_delivery.source)
            ),
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
