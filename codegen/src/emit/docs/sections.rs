//! The reference's larger sections: the method table per group, each endpoint, OAuth.

use crate::Model;
use crate::emit::docs::format::{
    access_text, code, codes, duration_text, endpoint_anchor, schema_anchor, source_link,
};
use crate::emit::docs::views::{
    EndpointErrorRow, EndpointView, FieldsView, GroupView, LimitRow, MethodRow, OauthRow, OauthView,
};
use crate::emit::text::{auth_text, ordered_groups, paging_summary, rate_limit_text};
use crate::model::{ContentType, Endpoint, Envelope, Versioned};

/// The seed's method table, one per group.
pub(super) fn groups(model: &Model) -> Vec<GroupView> {
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

pub(super) fn endpoint_view(model: &Model, endpoint: &Endpoint) -> EndpointView {
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
        fact("Paging", paging_summary(paging));
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

pub(super) fn oauth_view(model: &Model) -> OauthView {
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
        token_url: format!("{}{}", model.base_urls.api, crate::emit::text::TOKEN_PATH),
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
