//! Rules across files: sources, unique routes, webhook triggers and examples.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::NodePath;
use crate::model::*;
use crate::validate::checker::{
    API, Checker, ENDPOINTS, ERRORS, Names, SCHEMAS, SCOPES, WEBHOOKS, known_list,
};

/// Rule: every `source:` names a source of spec/api.yaml.
pub(super) fn check_sources(checker: &mut Checker, names: &Names) {
    let raw = checker.raw;
    let mut refs: Vec<(&str, NodePath, &str)> = Vec::new();
    let root = NodePath::default();
    refs.push((API, root.key("info").key("source"), &raw.api.info.source));
    for (name, tier) in &raw.api.rate_limit_tiers {
        refs.push((
            API,
            root.key("rate_limit_tiers").key(name.clone()).key("source"),
            &tier.source,
        ));
    }
    let oauth = &raw.api.oauth;
    let oauth_path = root.key("oauth");
    for (key, source) in [
        (
            "access_token_ttl_seconds",
            &oauth.access_token_ttl_seconds.source,
        ),
        (
            "refresh_token_ttl_seconds",
            &oauth.refresh_token_ttl_seconds.source,
        ),
        (
            "client_token_ttl_seconds",
            &oauth.client_token_ttl_seconds.source,
        ),
        ("refresh_rotation", &oauth.refresh_rotation.source),
        ("code_ttl_seconds", &oauth.code_ttl_seconds.source),
        ("pkce", &oauth.pkce.source),
    ] {
        refs.push((API, oauth_path.key(key).key("source"), source));
    }
    refs.push((
        API,
        root.key("uploads").key("chunk").key("source"),
        &raw.api.uploads.chunk.source,
    ));
    for (index, divergence) in raw.api.divergences.iter().enumerate() {
        for (source_index, source) in divergence.sources.iter().enumerate() {
            refs.push((
                API,
                root.key("divergences")
                    .index(index)
                    .key("sources")
                    .index(source_index),
                source,
            ));
        }
    }
    for (name, scope) in &raw.scopes {
        refs.push((SCOPES, root.key(name.clone()).key("source"), &scope.source));
    }
    for (index, error) in raw.errors.iter().enumerate() {
        refs.push((ERRORS, root.index(index).key("source"), &error.source));
    }
    for (name, enumeration) in &raw.enums {
        refs.push((
            SCHEMAS,
            root.key("enums").key(name.clone()).key("source"),
            &enumeration.source,
        ));
    }
    for (name, schema, _) in &raw.schemas {
        refs.push((
            SCHEMAS,
            root.key("schemas").key(name.clone()).key("source"),
            &schema.source,
        ));
    }
    for (id, endpoint) in &raw.endpoints {
        let path = root.key(id.clone());
        refs.push((ENDPOINTS, path.key("source"), &endpoint.source));
        refs.push((
            ENDPOINTS,
            path.key("rate_limit").key("source"),
            &endpoint.rate_limit.source,
        ));
        if let Some(real) = &endpoint.real_scopes {
            refs.push((
                ENDPOINTS,
                path.key("real_scopes").key("source"),
                &real.source,
            ));
        }
        if let Some(real) = &endpoint.real_webhooks {
            refs.push((
                ENDPOINTS,
                path.key("real_webhooks").key("source"),
                &real.source,
            ));
        }
        for (name, limit) in &endpoint.limits {
            refs.push((
                ENDPOINTS,
                path.key("limits").key(name.clone()).key("source"),
                &limit.source,
            ));
        }
    }
    refs.push((
        API,
        root.key("webhook_delivery").key("source"),
        &raw.api.webhook_delivery.source,
    ));
    for (name, webhook) in &raw.webhooks {
        refs.push((
            WEBHOOKS,
            root.key(name.clone()).key("source"),
            &webhook.source,
        ));
    }
    for (file, path, source) in refs {
        if !names.sources.contains(source) {
            checker.fail_hint(
                file,
                path,
                "a source key of spec/api.yaml sources",
                format!("{source:?}"),
                format!("known sources: {}", known_list(&names.sources)),
            );
        }
    }
}

/// Rule: no two endpoints share a method and path.
pub(super) fn check_unique_routes(checker: &mut Checker) {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (id, endpoint) in &checker.raw.endpoints {
        let key = (endpoint.method.clone(), endpoint.path.clone());
        if let Some(first) = seen.get(&key) {
            let first = first.clone();
            checker.fail(
                ENDPOINTS,
                NodePath::default().key(id.clone()).key("path"),
                format!(
                    "a method and path no other endpoint has (endpoints.{first} already has them)"
                ),
                format!("{} {}", endpoint.method, endpoint.path),
            );
        } else {
            seen.insert(key, id.clone());
        }
    }
}

/// Rule: webhook triggers name known endpoints.
pub(super) fn check_webhook_triggers(checker: &mut Checker, names: &Names) {
    for (name, webhook) in &checker.raw.webhooks {
        for (index, trigger) in webhook.triggered_by.iter().enumerate() {
            if !names.endpoints.contains(trigger) {
                checker.fail(
                    WEBHOOKS,
                    NodePath::default()
                        .key(name.clone())
                        .key("triggered_by")
                        .index(index),
                    "an endpoint id of spec/endpoints.yaml",
                    format!("{trigger:?}"),
                );
            }
        }
    }
}

/// Rule: examples match their field's type, and every required scalar field of a
/// response schema has one, so a response can always be built from the spec alone.
pub(super) fn check_examples(checker: &mut Checker, model: &Model) {
    let response_schemas: BTreeSet<&str> = model
        .endpoints
        .iter()
        .map(|endpoint| endpoint.response.as_str())
        .collect();
    for schema in &model.schemas {
        for field in &schema.fields {
            if checker
                .unresolved_fields
                .contains(&(schema.name.clone(), field.name.clone()))
            {
                continue;
            }
            let path = NodePath::default()
                .key("schemas")
                .key(schema.name.clone())
                .key("fields")
                .key(field.name.clone())
                .key("example");
            match &field.example {
                Some(example) => {
                    if let Err(problem) = example_fits(model, &field.ty, example) {
                        checker.fail(
                            SCHEMAS,
                            path,
                            format!("an example of type {}", field.ty.spec_name()),
                            problem,
                        );
                    }
                }
                None => {
                    let scalar = !matches!(field.ty, Type::Schema(_) | Type::List(_));
                    if field.required && scalar && response_schemas.contains(schema.name.as_str()) {
                        checker.fail_hint(
                            SCHEMAS,
                            path,
                            "an example for a required field of a response",
                            "none",
                            "the mock builds responses of new endpoints from examples",
                        );
                    }
                }
            }
        }
    }
}

fn example_fits(model: &Model, ty: &Type, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match (ty, value) {
        (Type::String, Value::String(_)) | (Type::Bool, Value::Bool(_)) => Ok(()),
        (Type::I32, Value::Number(number))
            if number.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) =>
        {
            Ok(())
        }
        (Type::I64, Value::Number(number)) if number.as_i64().is_some() => Ok(()),
        (Type::List(inner), Value::Array(items)) => items
            .iter()
            .try_for_each(|item| example_fits(model, inner, item)),
        (Type::Enum(name), Value::String(text)) => match model.enumeration(name) {
            Some(enumeration) if enumeration.values.contains(text) => Ok(()),
            Some(enumeration) => Err(format!(
                "{text:?}, not a value of {name} ({})",
                enumeration.values.join(", ")
            )),
            None => Err(format!("{text:?}, not a value of {name}")),
        },
        (Type::Schema(_), Value::Object(_)) => Ok(()),
        (_, other) => Err(other.to_string()),
    }
}
