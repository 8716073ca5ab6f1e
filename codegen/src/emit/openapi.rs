//! The OpenAPI 3.1 document `generated/openapi.yaml`.
//!
//! [`emit_openapi`] builds the document as a [`serde_json::Value`] and writes it as
//! YAML with every mapping's keys sorted, whatever order they were inserted in and
//! whichever `serde_json` features the build turned on, so output is deterministic.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::Model;
use crate::emit::text::{
    TOKEN_PATH, auth_text, limit_text, ordered_groups, paging_summary, rate_limit_text,
    scope_by_text,
};
use crate::model::{Auth, ContentType, Endpoint, Envelope, Field, Method, Type};

/// The name of the OAuth 2.0 security scheme.
const SECURITY_SCHEME: &str = "oauth2";

/// An official `log_id` (shared/reference/tiktok-v2-api.md, section 1.6), for error examples.
const EXAMPLE_LOG_ID: &str = "202206221854370101130062072500FFA2";

/// Renders `generated/openapi.yaml`.
pub fn emit_openapi(model: &Model) -> String {
    let document = sorted_yaml(&document(model));
    // A YAML value made of string keys, strings, numbers, booleans, lists and maps
    // always serializes; a failure here would be a bug in serde_yaml.
    let body = serde_yaml::to_string(&document).expect("a plain YAML value serializes");
    format!("# {}\n{body}", super::HEADER)
}

/// Converts `value` to YAML with the keys of every mapping in sorted order.
fn sorted_yaml(value: &Value) -> serde_yaml::Value {
    match value {
        Value::Null => serde_yaml::Value::Null,
        Value::Bool(flag) => serde_yaml::Value::Bool(*flag),
        Value::Number(number) => {
            if let Some(unsigned) = number.as_u64() {
                serde_yaml::Value::Number(unsigned.into())
            } else if let Some(signed) = number.as_i64() {
                serde_yaml::Value::Number(signed.into())
            } else {
                serde_yaml::Value::Number(number.as_f64().unwrap_or_default().into())
            }
        }
        Value::String(text) => serde_yaml::Value::String(text.clone()),
        Value::Array(items) => serde_yaml::Value::Sequence(items.iter().map(sorted_yaml).collect()),
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            serde_yaml::Value::Mapping(
                sorted
                    .into_iter()
                    .map(|(key, value)| {
                        (serde_yaml::Value::String(key.clone()), sorted_yaml(value))
                    })
                    .collect(),
            )
        }
    }
}

/// A `$ref` to component schema `name`.
fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The whole document.
fn document(model: &Model) -> Value {
    let mut paths = Map::new();
    for endpoint in &model.endpoints {
        let method = match endpoint.method {
            Method::Get => "get",
            Method::Post => "post",
        };
        let item = paths
            .entry(endpoint.path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(method.into(), operation(model, endpoint));
        }
    }
    let tags: Vec<Value> = ordered_groups(model)
        .into_iter()
        .map(|group| {
            json!({
                "name": group.name,
                "description": group.description,
                "x-displayName": group.title,
            })
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": model.info.title,
            "version": model.info.version,
            "description": model.info.description,
        },
        "servers": [{ "url": model.base_urls.api }],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": component_schemas(model),
            "securitySchemes": { SECURITY_SCHEME: security_scheme(model) },
        },
    })
}

/// The OAuth 2.0 scheme: every scope through the authorization-code flow, and the
/// scopes of client-token endpoints through the client-credentials flow.
fn security_scheme(model: &Model) -> Value {
    let token_url = format!("{}{TOKEN_PATH}", model.base_urls.api);
    let all_scopes: Map<String, Value> = model
        .scopes
        .iter()
        .map(|scope| (scope.name.clone(), Value::String(scope.description.clone())))
        .collect();
    let client_scopes: Map<String, Value> = model
        .endpoints
        .iter()
        .filter(|endpoint| endpoint.auth == Auth::ClientToken)
        .flat_map(|endpoint| endpoint.scopes.iter())
        .map(|name| {
            let description = model
                .scopes
                .iter()
                .find(|scope| &scope.name == name)
                .map_or_else(String::new, |scope| scope.description.clone());
            (name.clone(), Value::String(description))
        })
        .collect();
    let mut flows = Map::new();
    flows.insert(
        "authorizationCode".into(),
        json!({
            "authorizationUrl": model.base_urls.authorize,
            "tokenUrl": token_url,
            "refreshUrl": token_url,
            "scopes": all_scopes,
        }),
    );
    if !client_scopes.is_empty() {
        flows.insert(
            "clientCredentials".into(),
            json!({ "tokenUrl": token_url, "scopes": client_scopes }),
        );
    }
    json!({
        "type": "oauth2",
        "description": format!(
            "User access tokens (`act.`) come from the authorization-code flow, client access \
             tokens (`clt.`) from the client-credentials flow. Scopes in the authorization \
             request are separated by `{}`; an endpoint accepts a token with any one of its scopes.",
            model.oauth.scope_separator
        ),
        "flows": flows,
    })
}

/// One operation.
fn operation(model: &Model, endpoint: &Endpoint) -> Value {
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(endpoint.id));
    operation.insert("summary".into(), json!(endpoint.title));
    operation.insert("description".into(), json!(description(endpoint)));
    operation.insert("tags".into(), json!([endpoint.group]));
    let security: Vec<Value> = match endpoint.auth {
        Auth::ClientCredentials => Vec::new(),
        // Security requirements are alternatives; the scopes of one requirement
        // are all needed. Any one scope lets the call through, so one each.
        Auth::UserToken | Auth::ClientToken => endpoint
            .scopes
            .iter()
            .map(|scope| json!({ SECURITY_SCHEME: [scope] }))
            .collect(),
    };
    operation.insert("security".into(), Value::Array(security));
    if let Some(source) = model.sources.get(&endpoint.source)
        && source.url.starts_with("https://")
    {
        operation.insert(
            "externalDocs".into(),
            json!({ "url": source.url, "description": source.title }),
        );
    }
    if let Some(fields) = &endpoint.fields {
        operation.insert(
            "parameters".into(),
            json!([fields_parameter(model, &fields.schema, fields.required)]),
        );
    }
    if let Some((body, content_type)) = &endpoint.request {
        let media = match content_type {
            ContentType::Json => "application/json",
            ContentType::Form => "application/x-www-form-urlencoded",
        };
        // A body whose fields are all optional may be left out (the server reads it as `{}`).
        let required = model
            .schema(body)
            .is_some_and(|schema| schema.fields.iter().any(|field| field.required));
        operation.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": { media: { "schema": schema_ref(body) } },
            }),
        );
    }
    operation.insert("responses".into(), responses(model, endpoint));
    Value::Object(operation)
}

/// The endpoint's description followed by its scopes, rate limit, paging, limits and events.
fn description(endpoint: &Endpoint) -> String {
    let mut lines = vec![endpoint.summary.clone(), endpoint.description.clone()];
    lines.push(format!("Auth: {}.", auth_text(endpoint.auth)));
    if !endpoint.scopes.is_empty() {
        let scopes: Vec<String> = endpoint
            .scopes
            .iter()
            .map(|scope| format!("`{scope}`"))
            .collect();
        lines.push(format!("Scopes (any one): {}.", scopes.join(", ")));
    }
    if let Some((scopes, source)) = &endpoint.real_scopes {
        lines.push(format!(
            "The real API accepts only: {} ({source}).",
            scopes.join(", ")
        ));
    }
    if let Some(scope_by) = &endpoint.scope_by {
        lines.push(format!("Scope by {}.", scope_by_text(scope_by)));
    }
    lines.push(format!("Rate limit: {}.", rate_limit_text(endpoint)));
    if let Some(paging) = &endpoint.paging {
        lines.push(format!("Paging: {}.", paging_summary(paging)));
    }
    for limit in &endpoint.limits {
        lines.push(format!("Limit {}", limit_text(limit)));
    }
    if !endpoint.webhooks.is_empty() {
        lines.push(format!("Webhook events: {}.", endpoint.webhooks.join(", ")));
    }
    if let Some((events, source)) = &endpoint.real_webhooks {
        lines.push(format!(
            "Webhook events in the real API: {} ({source}).",
            events.join(", ")
        ));
    }
    // Markdown: one paragraph per fact.
    lines.join("\n\n")
}

/// The `fields` value: one or more of `names`, comma-separated (an empty list is refused).
fn fields_schema(names: &[&str]) -> Value {
    if names.is_empty() {
        return json!({ "type": "string", "minLength": 1 });
    }
    let one = format!("({})", names.join("|"));
    json!({ "type": "string", "minLength": 1, "pattern": format!("^{one}(,{one})*$") })
}

/// The `fields` query parameter: a comma-separated list of the schema's field names.
fn fields_parameter(model: &Model, schema_name: &str, required: bool) -> Value {
    let fields: &[Field] = model
        .schema(schema_name)
        .map_or(&[], |schema| schema.fields.as_slice());
    let allowed: Vec<String> = fields
        .iter()
        .map(|field| match &field.scope {
            Some(scope) => format!("`{}` ({scope})", field.name),
            None => format!("`{}`", field.name),
        })
        .collect();
    let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
    let mut parameter = json!({
        "name": "fields",
        "in": "query",
        "required": required,
        "description": format!(
            "Comma-separated names of `{schema_name}` fields to return; the token needs each \
             field's scope, else `scope_permission_missed`. Allowed: {}.",
            allowed.join(", ")
        ),
        "style": "form",
        "explode": false,
        "schema": fields_schema(&names),
    });
    if !names.is_empty()
        && let Value::Object(map) = &mut parameter
    {
        map.insert("example".into(), json!(names.join(",")));
    }
    parameter
}

/// 200 with the response, and one response per other HTTP status among the endpoint's errors.
fn responses(model: &Model, endpoint: &Endpoint) -> Value {
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for error in &endpoint.errors {
        by_status
            .entry(error.status)
            .or_default()
            .push(error.code.as_str());
    }
    let mut responses = Map::new();
    let errors_at_200 = by_status.remove(&200).unwrap_or_default();
    responses.insert(
        "200".into(),
        success_response(model, endpoint, &errors_at_200),
    );
    for (status, codes) in by_status {
        responses.insert(
            status.to_string(),
            error_response(model, endpoint.envelope, status, &codes),
        );
    }
    Value::Object(responses)
}

fn code_list(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|code| format!("`{code}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Examples of an error body, one per code.
fn error_examples(model: &Model, envelope: Envelope, codes: &[&str]) -> Value {
    let examples: Map<String, Value> = codes
        .iter()
        .map(|code| {
            let meaning = model
                .error(code)
                .map_or_else(String::new, |error| error.meaning.clone());
            let value = match envelope {
                Envelope::V2 => json!({
                    "data": {},
                    "error": { "code": code, "message": meaning, "log_id": EXAMPLE_LOG_ID },
                }),
                Envelope::OAuth => json!({
                    "error": code,
                    "error_description": meaning,
                    "log_id": EXAMPLE_LOG_ID,
                }),
            };
            (
                code.to_string(),
                json!({ "summary": meaning, "value": value }),
            )
        })
        .collect();
    Value::Object(examples)
}

fn success_response(model: &Model, endpoint: &Endpoint, errors_at_200: &[&str]) -> Value {
    match endpoint.envelope {
        Envelope::OAuth => json!({
            "description": format!("Success: a flat `{}`.", endpoint.response),
            "content": { "application/json": { "schema": schema_ref(&endpoint.response) } },
        }),
        Envelope::V2 => {
            let (data, description) = if errors_at_200.is_empty() {
                (
                    schema_ref(&endpoint.response),
                    format!(
                        "Success: `error.code` is `ok` and `data` is a `{}`.",
                        endpoint.response
                    ),
                )
            } else {
                (
                    json!({ "anyOf": [schema_ref(&endpoint.response), { "$ref": "#/components/schemas/EmptyData" }] }),
                    format!(
                        "Success: `error.code` is `ok` and `data` is a `{}`. These errors also \
                         come with HTTP 200, `data` empty: {}.",
                        endpoint.response,
                        code_list(errors_at_200)
                    ),
                )
            };
            let mut media = json!({
                "schema": {
                    "type": "object",
                    "required": ["data", "error"],
                    "properties": { "data": data, "error": schema_ref("Error") },
                },
            });
            if !errors_at_200.is_empty()
                && let Value::Object(map) = &mut media
            {
                map.insert(
                    "examples".into(),
                    error_examples(model, Envelope::V2, errors_at_200),
                );
            }
            json!({ "description": description, "content": { "application/json": media } })
        }
    }
}

fn error_response(model: &Model, envelope: Envelope, status: u16, codes: &[&str]) -> Value {
    let schema = match envelope {
        Envelope::V2 => schema_ref("ErrorResponse"),
        Envelope::OAuth => schema_ref("OAuthError"),
    };
    json!({
        "description": format!("HTTP {status}: {}.", code_list(codes)),
        "content": {
            "application/json": {
                "schema": schema,
                "examples": error_examples(model, envelope, codes),
            },
        },
    })
}

/// Every enum and schema of the model, then the error shapes.
fn component_schemas(model: &Model) -> Map<String, Value> {
    let mut schemas = Map::new();
    for enumeration in &model.enums {
        schemas.insert(
            enumeration.name.clone(),
            json!({
                "type": "string",
                "enum": enumeration.values,
                "description": enumeration.description,
            }),
        );
    }
    for schema in &model.schemas {
        let properties: Map<String, Value> = schema
            .fields
            .iter()
            .map(|field| (field.name.clone(), property(field)))
            .collect();
        let required: Vec<&str> = schema
            .fields
            .iter()
            .filter(|field| field.required)
            .map(|field| field.name.as_str())
            .collect();
        // No `additionalProperties: false`: responses carry only the requested
        // fields, and TikTok adds fields without notice.
        let mut object = json!({
            "type": "object",
            "description": schema.description,
            "properties": properties,
        });
        if !required.is_empty()
            && let Value::Object(map) = &mut object
        {
            map.insert("required".into(), json!(required));
        }
        schemas.insert(schema.name.clone(), object);
    }
    let v2_codes: Vec<String> = model
        .errors
        .iter()
        .filter(|error| error.envelope == Envelope::V2)
        .map(|error| known_code(&error.code, &error.aliases))
        .collect();
    let oauth_codes: Vec<String> = model
        .errors
        .iter()
        .filter(|error| error.envelope == Envelope::OAuth)
        .map(|error| known_code(&error.code, &error.aliases))
        .collect();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "The `error` of every v2 response; `code` is `ok` on success.",
            "required": ["code", "message", "log_id"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": format!(
                        "`ok` or an error code. Known codes: {}. Not a closed set: clients \
                         must accept codes not listed here.",
                        v2_codes.join(", ")
                    ),
                },
                "message": { "type": "string", "description": "Detail for developers; empty on success." },
                "log_id": { "type": "string", "description": "Identifies the request to TikTok support." },
            },
        }),
    );
    schemas.insert(
        "EmptyData".into(),
        json!({
            "type": "object",
            "maxProperties": 0,
            "description": "The `data` of an error response: an empty object.",
        }),
    );
    schemas.insert(
        "ErrorResponse".into(),
        json!({
            "type": "object",
            "description": "A v2 error response. Real responses carry `data: {}`; some omit it.",
            "required": ["error"],
            "properties": {
                "data": schema_ref("EmptyData"),
                "error": schema_ref("Error"),
            },
        }),
    );
    schemas.insert(
        "OAuthError".into(),
        json!({
            "type": "object",
            "description": "An error of the OAuth endpoints: flat, `error` a string.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "string",
                    "description": format!(
                        "An OAuth error category. Known: {}. Not a closed set.",
                        oauth_codes.join(", ")
                    ),
                },
                "error_description": { "type": "string", "description": "Detail for developers." },
                "log_id": { "type": "string", "description": "Identifies the request to TikTok support." },
            },
        }),
    );
    schemas
}

fn known_code(code: &str, aliases: &[String]) -> String {
    if aliases.is_empty() {
        format!("`{code}`")
    } else {
        let aliases: Vec<String> = aliases.iter().map(|alias| format!("`{alias}`")).collect();
        format!("`{code}` (also {})", aliases.join(", "))
    }
}

/// The JSON Schema of a type, without the field's own annotations.
fn type_schema(ty: &Type) -> Value {
    match ty {
        Type::String => json!({ "type": "string" }),
        Type::Bool => json!({ "type": "boolean" }),
        Type::I32 => json!({ "type": "integer", "format": "int32" }),
        Type::I64 => json!({ "type": "integer", "format": "int64" }),
        Type::List(inner) => json!({ "type": "array", "items": type_schema(inner) }),
        Type::Enum(name) | Type::Schema(name) => schema_ref(name),
    }
}

/// Adds a field's length and range bounds to the schema of a scalar.
fn scalar_bounds(scalar: &mut Map<String, Value>, field: &Field) {
    if let Some(max_length) = field.max_length {
        scalar.insert("maxLength".into(), json!(max_length));
    }
    if let Some(minimum) = field.minimum {
        scalar.insert("minimum".into(), json!(minimum));
    }
    if let Some(maximum) = field.maximum {
        scalar.insert("maximum".into(), json!(maximum));
    }
}

/// A field: its type, bounds, description, scope and example.
fn property(field: &Field) -> Value {
    let mut property = match type_schema(&field.ty) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // Length and range bounds belong to the scalar: the field itself, or a list's items.
    match property.get_mut("items") {
        Some(Value::Object(items)) => scalar_bounds(items, field),
        _ => scalar_bounds(&mut property, field),
    }
    if let Some(min_items) = field.min_items {
        property.insert("minItems".into(), json!(min_items));
    }
    if let Some(max_items) = field.max_items {
        property.insert("maxItems".into(), json!(max_items));
    }
    property.insert("description".into(), json!(field.description));
    if let Some(scope) = &field.scope {
        property.insert("x-scope".into(), json!(scope));
    }
    if let Some(example) = &field.example {
        property.insert("examples".into(), json!([example]));
    }
    Value::Object(property)
}
