//! Rules of one endpoint of spec/endpoints.yaml, one function each, in the order
//! [`build_endpoint`] checks them.

use std::collections::BTreeSet;

use crate::error::NodePath;
use crate::model::*;
use crate::spec::{RawEndpoint, RawEndpointError};
use crate::validate::checker::{Checker, ENDPOINTS, Names, count, is_snake, known_list};
use crate::validate::paging::build_paging;
use crate::validate::tool_hints::{check_endpoint_title, endpoint_destructive};

/// Builds one endpoint, each of its rules checked by one function below, in this order.
pub(super) fn build_endpoint(
    checker: &mut Checker,
    names: &Names,
    schemas: &[Schema],
    id: &str,
    raw: &RawEndpoint,
) -> Endpoint {
    let path = NodePath::default().key(id.to_string());
    check_endpoint_id(checker, &path, id);
    let method = endpoint_method(checker, &path, raw);
    check_endpoint_path(checker, &path, raw);
    check_endpoint_group(checker, names, &path, raw);
    check_endpoint_title(checker, &path, raw);
    let access = endpoint_access(checker, &path, raw);
    let destructive = endpoint_destructive(checker, &path, raw, access);
    let auth = endpoint_auth(checker, &path, raw);
    check_endpoint_scopes(checker, names, &path, raw, auth);
    let real_scopes = build_real_scopes(checker, names, &path, raw);
    let request = build_request(checker, names, &path, raw);
    check_no_body_on_get(checker, &path, method, request.is_some());
    let scope_by = build_scope_by(checker, names, schemas, &path, raw, request.as_ref());
    let fields = build_fields_param(checker, names, &path, raw);
    check_schema_name(
        checker,
        names,
        path.key("response").key("data"),
        &raw.response.data,
    );
    let envelope = response_envelope(checker, &path, raw);
    let paging = raw.paging.as_ref().map(|paging| {
        build_paging(
            checker,
            &path,
            paging,
            schemas,
            request.as_ref().map(|(body, _)| body.as_str()),
            &raw.response.data,
        )
    });
    let limits = build_limits(checker, &path, raw);
    let rate_limit = build_rate_limit(checker, names, &path, raw);
    for (index, name) in raw.webhooks.iter().enumerate() {
        check_webhook_name(checker, names, path.key("webhooks").index(index), name);
    }
    let real_webhooks = build_real_webhooks(checker, names, &path, raw);
    let errors = build_endpoint_errors(checker, names, &path, raw);
    Endpoint {
        id: id.to_string(),
        group: raw.group.clone(),
        method,
        path: raw.path.clone(),
        title: raw.title.clone(),
        summary: raw.summary.clone(),
        description: raw.description.clone(),
        access,
        destructive,
        auth,
        acts_on: raw.acts_on.clone(),
        scopes: raw.scopes.clone(),
        real_scopes,
        scope_by,
        fields,
        request,
        response: raw.response.data.clone(),
        envelope,
        paging,
        limits,
        rate_limit,
        webhooks: raw.webhooks.clone(),
        real_webhooks,
        errors,
        version: raw.version.clone(),
        source: raw.source.clone(),
    }
}

/// Rule: an endpoint id is snake_case.
fn check_endpoint_id(checker: &mut Checker, path: &NodePath, id: &str) {
    if !is_snake(id) {
        checker.fail(
            ENDPOINTS,
            path.clone(),
            "a snake_case endpoint id",
            format!("{id:?}"),
        );
    }
}

/// Rule: an endpoint's method is GET or POST.
fn endpoint_method(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Method {
    match raw.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("method"),
                "GET or POST",
                format!("{other:?}"),
            );
            Method::Post
        }
    }
}

/// Rule: an endpoint's path is under `/v2/` and ends in a slash, as TikTok's do.
fn check_endpoint_path(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) {
    if !(raw.path.starts_with("/v2/") && raw.path.ends_with('/')) {
        checker.fail_hint(
            ENDPOINTS,
            path.key("path"),
            "a path under /v2/ ending in a slash",
            format!("{:?}", raw.path),
            "TikTok answers a path without its trailing slash with 404",
        );
    }
}

/// Rule: an endpoint's group is a group of spec/api.yaml.
fn check_endpoint_group(checker: &mut Checker, names: &Names, path: &NodePath, raw: &RawEndpoint) {
    if !names.groups.contains(&raw.group) {
        checker.fail(
            ENDPOINTS,
            path.key("group"),
            format!("a group of spec/api.yaml ({})", known_list(&names.groups)),
            format!("{:?}", raw.group),
        );
    }
}

/// Rule: an endpoint's access is read or write.
fn endpoint_access(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Access {
    match raw.access.as_str() {
        "read" => Access::Read,
        "write" => Access::Write,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("access"),
                "read or write",
                format!("{other:?}"),
            );
            Access::Read
        }
    }
}

/// Rule: an endpoint authenticates by a user token, a client token or client credentials.
fn endpoint_auth(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Auth {
    match raw.auth.as_str() {
        "user_token" => Auth::UserToken,
        "client_token" => Auth::ClientToken,
        "client_credentials" => Auth::ClientCredentials,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("auth"),
                "user_token, client_token or client_credentials",
                format!("{other:?}"),
            );
            Auth::UserToken
        }
    }
}

/// Rule: every scope an endpoint names is a known scope.
fn check_scope(checker: &mut Checker, names: &Names, scope_path: NodePath, scope: &str) {
    if !names.scopes.contains(scope) {
        checker.fail_hint(
            ENDPOINTS,
            scope_path,
            "a scope defined in spec/scopes.yaml",
            format!("{scope:?}"),
            format!("known scopes: {}", known_list(&names.scopes)),
        );
    }
}

/// Rule: an endpoint's scopes are known; a token-authenticated endpoint has at least one,
/// one authenticated by client credentials none.
fn check_endpoint_scopes(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
    auth: Auth,
) {
    for (index, scope) in raw.scopes.iter().enumerate() {
        check_scope(checker, names, path.key("scopes").index(index), scope);
    }
    if auth == Auth::ClientCredentials && !raw.scopes.is_empty() {
        checker.fail(
            ENDPOINTS,
            path.key("scopes"),
            "no scopes on an endpoint authenticated by client credentials",
            format!("{:?}", raw.scopes),
        );
    }
    if auth != Auth::ClientCredentials && raw.scopes.is_empty() {
        checker.fail(
            ENDPOINTS,
            path.key("scopes"),
            "at least one scope on a token-authenticated endpoint",
            "none",
        );
    }
}

/// Rule: the scopes the real API is documented to want are known scopes too.
fn build_real_scopes(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<(Vec<String>, String)> {
    raw.real_scopes.as_ref().map(|real| {
        for (index, scope) in real.scopes.iter().enumerate() {
            check_scope(
                checker,
                names,
                path.key("real_scopes").key("scopes").index(index),
                scope,
            );
        }
        (real.scopes.clone(), real.source.clone())
    })
}

/// Rule: a schema an endpoint names (request body, `fields`, response data) is defined.
fn check_schema_name(checker: &mut Checker, names: &Names, schema_path: NodePath, name: &str) {
    if !names.schemas.contains(name) {
        checker.fail_hint(
            ENDPOINTS,
            schema_path,
            "a schema defined in spec/schemas.yaml",
            format!("{name:?}"),
            format!("known schemas: {}", known_list(&names.schemas)),
        );
    }
}

/// Rule: a request body names a known schema and is sent as json or form.
fn build_request(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<(String, ContentType)> {
    raw.request.as_ref().map(|request| {
        check_schema_name(
            checker,
            names,
            path.key("request").key("body"),
            &request.body,
        );
        let content_type = match request.content_type.as_str() {
            "json" => ContentType::Json,
            "form" => ContentType::Form,
            other => {
                checker.fail(
                    ENDPOINTS,
                    path.key("request").key("content_type"),
                    "json or form",
                    format!("{other:?}"),
                );
                ContentType::Json
            }
        };
        (request.body.clone(), content_type)
    })
}

/// Rule: a GET has no request body.
fn check_no_body_on_get(checker: &mut Checker, path: &NodePath, method: Method, has_body: bool) {
    if method == Method::Get && has_body {
        checker.fail(
            ENDPOINTS,
            path.key("request"),
            "no request body on a GET",
            "a body",
        );
    }
}

/// Rule: `scope_by` names an enum field of the body, and each value maps to a listed scope.
fn build_scope_by(
    checker: &mut Checker,
    names: &Names,
    schemas: &[Schema],
    path: &NodePath,
    raw: &RawEndpoint,
    request: Option<&(String, ContentType)>,
) -> Option<ScopeBy> {
    let schema = |name: &str| schemas.iter().find(|schema| schema.name == name);
    raw.scope_by.as_ref().map(|scope_by| {
        let by_path = path.key("scope_by");
        let field = request
            .and_then(|(body, _)| schema(body))
            .and_then(|body| body.field(&scope_by.field));
        match field.map(|field| &field.ty) {
            Some(Type::Enum(enum_name)) => {
                let values = names.enums.get(enum_name).cloned().unwrap_or_default();
                for (value, scope) in &scope_by.scopes {
                    if !values.contains(value) {
                        checker.fail(
                            ENDPOINTS,
                            by_path.key("scopes").key(value.clone()),
                            format!("a value of {enum_name} ({})", values.join(", ")),
                            format!("{value:?}"),
                        );
                    }
                    check_scope(
                        checker,
                        names,
                        by_path.key("scopes").key(value.clone()),
                        scope,
                    );
                    if !raw.scopes.contains(scope) {
                        checker.fail(
                            ENDPOINTS,
                            by_path.key("scopes").key(value.clone()),
                            "one of the endpoint's scopes",
                            format!("{scope:?}"),
                        );
                    }
                }
            }
            _ => checker.fail(
                ENDPOINTS,
                by_path.key("field"),
                "an enum field of the request body",
                format!("{:?}", scope_by.field),
            ),
        }
        ScopeBy {
            field: scope_by.field.clone(),
            scopes: scope_by.scopes.clone(),
        }
    })
}

/// Rule: a `fields` parameter names a known schema.
fn build_fields_param(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<FieldsParam> {
    raw.fields.as_ref().map(|fields| {
        check_schema_name(
            checker,
            names,
            path.key("fields").key("schema"),
            &fields.schema,
        );
        FieldsParam {
            schema: fields.schema.clone(),
            required: fields.required,
        }
    })
}

/// Rule: a response's envelope is v2 or oauth.
fn response_envelope(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Envelope {
    match raw.response.envelope.as_str() {
        "v2" => Envelope::V2,
        "oauth" => Envelope::OAuth,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("response").key("envelope"),
                "v2 or oauth",
                format!("{other:?}"),
            );
            Envelope::V2
        }
    }
}

/// Rule: an endpoint's limits are at least 1.
fn build_limits(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Vec<Limit> {
    raw.limits
        .iter()
        .map(|(name, limit)| Limit {
            name: name.clone(),
            value: count(
                checker,
                ENDPOINTS,
                path.key("limits").key(name.clone()).key("value"),
                limit.value,
                1,
            ),
            description: limit.description.clone(),
            source: limit.source.clone(),
        })
        .collect()
}

/// Rule: every webhook event an endpoint names exists.
fn check_webhook_name(checker: &mut Checker, names: &Names, hook_path: NodePath, name: &str) {
    if !names.webhooks.contains(name) {
        checker.fail_hint(
            ENDPOINTS,
            hook_path,
            "a webhook event defined in spec/webhooks.yaml",
            format!("{name:?}"),
            format!("known events: {}", known_list(&names.webhooks)),
        );
    }
}

/// Rule: the events the real API is documented to send exist too.
fn build_real_webhooks(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<(Vec<String>, String)> {
    raw.real_webhooks.as_ref().map(|real| {
        for (index, name) in real.events.iter().enumerate() {
            check_webhook_name(
                checker,
                names,
                path.key("real_webhooks").key("events").index(index),
                name,
            );
        }
        (real.events.clone(), real.source.clone())
    })
}

/// Rule: an endpoint's errors are codes of spec/errors.yaml, each with the catalog's HTTP
/// status or its own from 100 to 599.
fn build_endpoint_errors(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Vec<EndpointError> {
    raw.errors
        .iter()
        .enumerate()
        .map(|(index, error)| {
            let (code, status) = match error {
                RawEndpointError::Code(code) => (code, None),
                RawEndpointError::WithStatus { code, status } => (code, Some(*status)),
            };
            let catalog_status = names.errors.get(code).copied();
            if catalog_status.is_none() {
                let code_path = match error {
                    RawEndpointError::Code(_) => path.key("errors").index(index),
                    RawEndpointError::WithStatus { .. } => {
                        path.key("errors").index(index).key("code")
                    }
                };
                checker.fail(
                    ENDPOINTS,
                    code_path,
                    "an error code of spec/errors.yaml",
                    format!("{code:?}"),
                );
            }
            let status = match status {
                Some(status) if (100..=599).contains(&status) => status as u16,
                Some(status) => {
                    checker.fail(
                        ENDPOINTS,
                        path.key("errors").index(index).key("status"),
                        "an HTTP status from 100 to 599",
                        status.to_string(),
                    );
                    500
                }
                None => catalog_status.unwrap_or(500),
            };
            EndpointError {
                code: code.clone(),
                status,
            }
        })
        .collect()
}

/// Rule: a rate limit names a known tier or a figure, and the figure is at least 1.
fn build_rate_limit(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> RateLimit {
    let limit_path = path.key("rate_limit");
    let rate_limit = &raw.rate_limit;
    if let Some(tier) = &rate_limit.tier
        && !names.tiers.contains_key(tier)
    {
        let known: BTreeSet<String> = names.tiers.keys().cloned().collect();
        checker.fail_hint(
            ENDPOINTS,
            limit_path.key("tier"),
            "a tier of spec/api.yaml rate_limit_tiers",
            format!("{tier:?}"),
            format!("known tiers: {}", known_list(&known)),
        );
    }
    let per_minute = match (rate_limit.per_minute, &rate_limit.tier) {
        (Some(per_minute), _) => match u32::try_from(per_minute) {
            Ok(per_minute) if per_minute >= 1 => per_minute,
            _ => {
                checker.fail_hint(
                    ENDPOINTS,
                    limit_path.key("per_minute"),
                    "a rate limit of at least 1 request per minute",
                    per_minute.to_string(),
                    "to leave an endpoint unlimited, use a large figure",
                );
                1
            }
        },
        // A tier's own figure is checked, and reported, in spec/api.yaml.
        (None, Some(tier)) => names
            .tiers
            .get(tier)
            .and_then(|per_minute| u32::try_from(*per_minute).ok())
            .unwrap_or(1)
            .max(1),
        (None, None) => {
            checker.fail(
                ENDPOINTS,
                limit_path.clone(),
                "a per_minute figure or a tier",
                "neither",
            );
            1
        }
    };
    let documented = rate_limit.documented.unwrap_or(true);
    if !documented && rate_limit.per_minute.is_some() {
        checker.fail_hint(
            ENDPOINTS,
            limit_path.key("documented"),
            "documented: false only on a limit without a per_minute figure",
            "documented: false beside per_minute",
            "per_minute is the figure TikTok documents; drop one of the two",
        );
    }
    if !documented && rate_limit.tier.is_none() {
        checker.fail(
            ENDPOINTS,
            limit_path.key("documented"),
            "documented: false on a limit with a tier (the seed's figure)",
            "no tier",
        );
    }
    RateLimit {
        per_minute,
        tier: rate_limit.tier.clone(),
        documented,
        source: rate_limit.source.clone(),
    }
}
