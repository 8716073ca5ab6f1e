//! What an app sent wrong, checked with the mock's own request checks (the pipeline's
//! `fields` and body decoding, [`validate_body`], the chunk rules of content posting) and
//! the same tables: unknown or mistyped fields, scopes the token lacks, chunk rules and the
//! endpoint's size limit. Details name fields, never values.

use axum::http::HeaderMap;
use serde_json::Value;
use tiktok_api::Scope;
use tiktok_api::meta::{ContentType, EndpointMeta, SchemaMeta, TypeMeta};

use crate::content_posting::rules::{check_chunks, i64_at, str_at};
use crate::pipeline::{decode_body, missing_field_scopes, resolve_fields};
use crate::proxy::report::{Finding, Kind};
use crate::validate::validate_body;

/// The checks of one request: its query, its body (when buffered) and the token's scopes
/// (when the proxy saw the token minted).
pub fn check_request(
    endpoint: &'static EndpointMeta,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    scopes: Option<&[Scope]>,
) -> (Vec<Finding>, Option<Value>) {
    let mut findings = Vec::new();
    let fields_key = format!("endpoint:{}.fields", endpoint.id);
    if let Some(param) = endpoint.fields {
        match resolve_fields(param, query.unwrap_or_default(), true) {
            Ok(fields) => {
                if let Some(scopes) = scopes {
                    for missing in missing_field_scopes(&fields, scopes) {
                        let name = missing.split(' ').next().unwrap_or_default();
                        findings.push(Finding::at(
                            endpoint,
                            Kind::MissingScope,
                            &format!("schema:{}.{name}", param.schema.name),
                            format!("fields: {missing}, which the token lacks"),
                        ));
                    }
                }
            }
            Err(error) => {
                let message = error.parts().2;
                let kind = if message.contains("unknown field") {
                    Kind::UnknownField
                } else {
                    Kind::InvalidField
                };
                findings.push(Finding::at(endpoint, kind, &fields_key, message));
            }
        }
    }
    if let Some(scopes) = scopes
        && !endpoint.scopes.is_empty()
        && !endpoint.scopes.iter().any(|scope| scopes.contains(scope))
    {
        let needed: Vec<&str> = endpoint.scopes.iter().map(|scope| scope.as_str()).collect();
        findings.push(Finding::at(
            endpoint,
            Kind::MissingScope,
            &format!("endpoint:{}.scopes", endpoint.id),
            format!(
                "the token has none of the endpoint's scopes ({})",
                needed.join(" or ")
            ),
        ));
    }
    let Some(((schema, content_type), bytes)) = endpoint.request.zip(body) else {
        return (findings, None);
    };
    let request_key = format!("endpoint:{}.request", endpoint.id);
    let value = match decode_body(schema, content_type, headers, bytes) {
        Ok(value) => value,
        Err(error) => {
            findings.push(Finding::at(
                endpoint,
                Kind::InvalidField,
                &request_key,
                error.parts().2,
            ));
            return (findings, None);
        }
    };
    match content_type {
        ContentType::Json => unknown_keys(endpoint, schema, &value, &mut findings, 0),
        ContentType::Form => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(bytes).unwrap_or_default();
            for (key, _) in pairs {
                if schema.field(&key).is_none() {
                    findings.push(Finding::at(
                        endpoint,
                        Kind::UnknownField,
                        &format!("schema:{}", schema.name),
                        format!("body field `{key}` is not in {}", schema.name),
                    ));
                }
            }
        }
    }
    if let Err(message) = validate_body(schema, &value) {
        let field = message.split(':').next().unwrap_or_default();
        let key = match schema.field(field.split(['.', '[']).next().unwrap_or_default()) {
            Some(found) => format!("schema:{}.{}", schema.name, found.name),
            None => request_key.clone(),
        };
        findings.push(Finding::at(endpoint, Kind::InvalidField, &key, message));
    }
    if let (Some(scope_by), Some(scopes)) = (endpoint.scope_by, scopes)
        && let Some(chosen) = value.get(scope_by.field).and_then(Value::as_str)
        && let Some(scope) = scope_by.scope_for(chosen)
        && !scopes.contains(&scope)
    {
        findings.push(Finding::at(
            endpoint,
            Kind::MissingScope,
            &format!("schema:{}.{}", schema.name, scope_by.field),
            format!(
                "{} {chosen} needs {}, which the token lacks",
                scope_by.field,
                scope.as_str()
            ),
        ));
    }
    check_upload_sizes(endpoint, &value, &request_key, &mut findings);
    (findings, Some(value))
}

/// The chunk rules and the size limit of a `FILE_UPLOAD` init, as the mock checks them.
fn check_upload_sizes(
    endpoint: &'static EndpointMeta,
    value: &Value,
    request_key: &str,
    findings: &mut Vec<Finding>,
) {
    if str_at(value, &["source_info", "source"]) != Some("FILE_UPLOAD") {
        return;
    }
    let sizes = ["video_size", "chunk_size", "total_chunk_count"]
        .map(|name| i64_at(value, &["source_info", name]));
    let [Some(video_size), Some(chunk_size), Some(total_chunk_count)] = sizes else {
        findings.push(Finding::at(
            endpoint,
            Kind::ChunkRules,
            request_key,
            "FILE_UPLOAD needs source_info.video_size, chunk_size and total_chunk_count",
        ));
        return;
    };
    if let Err(rule) = check_chunks(video_size, chunk_size, total_chunk_count) {
        findings.push(Finding::at(endpoint, Kind::ChunkRules, request_key, rule));
    }
    if let Some(max) = endpoint.limit("max_video_size_bytes")
        && u64::try_from(video_size).is_ok_and(|size| size > max)
    {
        findings.push(Finding::at(
            endpoint,
            Kind::ChunkRules,
            &format!("endpoint:{}.limits", endpoint.id),
            format!("source_info.video_size is over max_video_size_bytes ({max})"),
        ));
    }
}

/// Keys of a JSON body its schema does not have, at any depth.
fn unknown_keys(
    endpoint: &'static EndpointMeta,
    schema: &SchemaMeta,
    value: &Value,
    findings: &mut Vec<Finding>,
    depth: usize,
) {
    let Value::Object(object) = value else {
        return;
    };
    if depth > 32 {
        return;
    }
    for (key, inner) in object {
        match schema.field(key) {
            None => findings.push(Finding::at(
                endpoint,
                Kind::UnknownField,
                &format!("schema:{}", schema.name),
                format!(
                    "body field `{}` is not in {}",
                    crate::validate::truncate(key),
                    schema.name
                ),
            )),
            Some(field) => {
                let mut ty = &field.ty;
                while let TypeMeta::List(item) = ty {
                    ty = item;
                }
                if let TypeMeta::Schema(nested) = ty {
                    match inner {
                        Value::Array(items) => {
                            for item in items {
                                unknown_keys(endpoint, nested, item, findings, depth + 1);
                            }
                        }
                        other => unknown_keys(endpoint, nested, other, findings, depth + 1),
                    }
                }
            }
        }
    }
}
