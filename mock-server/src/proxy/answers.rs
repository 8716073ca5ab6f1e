//! What an upstream answered against the spec: the envelope, each field's type, fields the
//! spec does not document or requires, error codes outside the catalog or the endpoint's
//! list, the HTTP status of each code, and paging. Details name fields, never values.

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};
use tiktok_api::ErrorCode;
use tiktok_api::meta::{EndpointMeta, Envelope, SchemaMeta, TypeMeta};

use crate::proxy::report::{Finding, Kind};
use crate::validate::kind;

/// How deep the answer checks follow nested objects and lists.
const MAX_DEPTH: usize = 32;

/// What the answer said, for the proxy's bookkeeping (rate limits, writes, tokens).
#[derive(Debug, Default)]
pub struct Verdict {
    /// The error code (`ok` on success), when the envelope carries one.
    pub code: Option<ErrorCode>,
    /// The parsed body, when it is JSON.
    pub body: Option<Value>,
}

impl Verdict {
    /// Whether the call succeeded.
    pub fn ok(&self) -> bool {
        self.code == Some(ErrorCode::Ok)
    }
}

/// Checks an answer of `endpoint`; `max_count` is the page size the request asked for.
pub fn check_answer(
    endpoint: &'static EndpointMeta,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    max_count: Option<u64>,
    findings: &mut Vec<Finding>,
) -> Verdict {
    let response_key = format!("endpoint:{}.response", endpoint.id);
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(_) => {
            findings.push(Finding::at(
                endpoint,
                Kind::NotJson,
                &response_key,
                format!("HTTP {} answer is not JSON", status.as_u16()),
            ));
            return Verdict::default();
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        findings.push(Finding::at(
            endpoint,
            Kind::NotJson,
            &response_key,
            format!(
                "Content-Type is {}, not application/json",
                if mime.is_empty() {
                    "missing"
                } else {
                    "another type"
                }
            ),
        ));
    }
    let Value::Object(object) = &value else {
        findings.push(Finding::at(
            endpoint,
            Kind::Envelope,
            &response_key,
            "the answer is not a JSON object",
        ));
        return Verdict::default();
    };
    let code = match endpoint.envelope {
        Envelope::V2 => check_v2(endpoint, object, &response_key, max_count, findings),
        Envelope::OAuth => check_oauth(endpoint, object, &response_key, findings),
    };
    if let Some(code) = &code {
        check_code(endpoint, code, status, findings);
    }
    Verdict {
        code,
        body: Some(value),
    }
}

/// `{"data": …, "error": {"code", "message", "log_id"}}`.
fn check_v2(
    endpoint: &'static EndpointMeta,
    object: &Map<String, Value>,
    response_key: &str,
    max_count: Option<u64>,
    findings: &mut Vec<Finding>,
) -> Option<ErrorCode> {
    for key in object
        .keys()
        .filter(|key| !matches!(key.as_str(), "data" | "error"))
    {
        findings.push(Finding::at(
            endpoint,
            Kind::Envelope,
            response_key,
            format!("top-level key `{}` is not in the v2 envelope", short(key)),
        ));
    }
    let Some(Value::Object(error)) = object.get("error") else {
        findings.push(Finding::at(
            endpoint,
            Kind::Envelope,
            response_key,
            "no `error` object in the v2 envelope",
        ));
        return None;
    };
    for key in ["code", "message", "log_id"] {
        if !error.get(key).is_some_and(Value::is_string) {
            findings.push(Finding::at(
                endpoint,
                Kind::Envelope,
                response_key,
                format!("`error.{key}` is missing or not a string"),
            ));
        }
    }
    for key in error
        .keys()
        .filter(|key| !matches!(key.as_str(), "code" | "message" | "log_id"))
    {
        findings.push(Finding::at(
            endpoint,
            Kind::Envelope,
            response_key,
            format!("`error.{}` is not in the v2 envelope", short(key)),
        ));
    }
    let code = ErrorCode::parse(error.get("code").and_then(Value::as_str)?);
    if code == ErrorCode::Ok {
        match object.get("data") {
            Some(Value::Object(data)) => {
                check_object(endpoint, endpoint.response, data, findings, 0);
                check_paging(endpoint, data, max_count, findings);
            }
            _ => findings.push(Finding::at(
                endpoint,
                Kind::Envelope,
                response_key,
                "`data` is missing or not an object on success",
            )),
        }
    }
    Some(code)
}

/// Flat: the object itself on success, `{"error", "error_description", "log_id"}` on failure.
fn check_oauth(
    endpoint: &'static EndpointMeta,
    object: &Map<String, Value>,
    response_key: &str,
    findings: &mut Vec<Finding>,
) -> Option<ErrorCode> {
    let Some(error) = object.get("error") else {
        check_object(endpoint, endpoint.response, object, findings, 0);
        return Some(ErrorCode::Ok);
    };
    for key in object
        .keys()
        .filter(|key| !matches!(key.as_str(), "error" | "error_description" | "log_id"))
    {
        findings.push(Finding::at(
            endpoint,
            Kind::Envelope,
            response_key,
            format!("key `{}` is not in the OAuth error shape", short(key)),
        ));
    }
    match error.as_str() {
        Some(code) => Some(ErrorCode::parse(code)),
        None => {
            findings.push(Finding::at(
                endpoint,
                Kind::Envelope,
                response_key,
                "`error` is not a string in the OAuth error shape",
            ));
            None
        }
    }
}

/// The code is in the catalog and the endpoint's list, with the status the spec gives it.
fn check_code(
    endpoint: &'static EndpointMeta,
    code: &ErrorCode,
    status: StatusCode,
    findings: &mut Vec<Finding>,
) {
    let errors_key = format!("endpoint:{}.errors", endpoint.id);
    if !code.is_known() {
        findings.push(Finding::at(
            endpoint,
            Kind::UnknownErrorCode,
            &errors_key,
            format!(
                "error code `{}` (HTTP {}) is not in the catalog",
                short(code.as_str()),
                status.as_u16()
            ),
        ));
        return;
    }
    let expected = if *code == ErrorCode::Ok {
        Some(200)
    } else {
        endpoint.status_of(code)
    };
    match expected {
        None => findings.push(Finding::at(
            endpoint,
            Kind::UnlistedErrorCode,
            &errors_key,
            format!(
                "error code `{}` is not in the endpoint's list",
                code.as_str()
            ),
        )),
        Some(expected) if expected != status.as_u16() => findings.push(Finding::at(
            endpoint,
            Kind::Status,
            &format!("error:{}", code.as_str()),
            format!(
                "`{}` came with HTTP {}, the spec gives {expected}",
                code.as_str(),
                status.as_u16()
            ),
        )),
        Some(_) => {}
    }
}

/// A page holds at most the `max_count` asked for (or the default).
fn check_paging(
    endpoint: &'static EndpointMeta,
    data: &Map<String, Value>,
    max_count: Option<u64>,
    findings: &mut Vec<Finding>,
) {
    let Some(paging) = endpoint.paging else {
        return;
    };
    let asked = max_count.unwrap_or(u64::from(paging.default_max_count));
    if let Some(Value::Array(items)) = data.get(paging.items)
        && items.len() as u64 > asked
    {
        findings.push(Finding::at(
            endpoint,
            Kind::Paging,
            &format!("endpoint:{}.paging", endpoint.id),
            format!(
                "a page of `{}` held more items than the max_count asked for ({asked})",
                paging.items
            ),
        ));
    }
}

/// Each key of `object` against `schema`: documented, of its type; required ones present
/// (but in the schema `fields` projects, where only the asked fields come).
fn check_object(
    endpoint: &'static EndpointMeta,
    schema: &'static SchemaMeta,
    object: &Map<String, Value>,
    findings: &mut Vec<Finding>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for (key, value) in object {
        match schema.field(key) {
            None => findings.push(Finding::at(
                endpoint,
                Kind::UndocumentedField,
                &format!("schema:{}", schema.name),
                format!("`{}.{}` is not in the spec", schema.name, short(key)),
            )),
            Some(field) if !value.is_null() => {
                if let Some(problem) = type_problem(endpoint, &field.ty, value, findings, depth) {
                    findings.push(Finding::at(
                        endpoint,
                        Kind::WrongType,
                        &format!("schema:{}.{}", schema.name, field.name),
                        format!("`{}.{}`: {problem}", schema.name, field.name),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    let projected = endpoint
        .fields
        .is_some_and(|param| std::ptr::eq(param.schema, schema));
    if !projected {
        for field in schema.fields.iter().filter(|field| field.required) {
            if object.get(field.name).is_none_or(Value::is_null) {
                findings.push(Finding::at(
                    endpoint,
                    Kind::MissingField,
                    &format!("schema:{}.{}", schema.name, field.name),
                    format!("`{}.{}` is required but absent", schema.name, field.name),
                ));
            }
        }
    }
}

/// Why `value` is not of `ty` (nested objects are checked into `findings` themselves).
fn type_problem(
    endpoint: &'static EndpointMeta,
    ty: &TypeMeta,
    value: &Value,
    findings: &mut Vec<Finding>,
    depth: usize,
) -> Option<String> {
    let expected = match ty {
        TypeMeta::String if value.is_string() => return None,
        TypeMeta::String => "a string",
        TypeMeta::Bool if value.is_boolean() => return None,
        TypeMeta::Bool => "true or false",
        TypeMeta::I32 if value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => return None,
        TypeMeta::I32 => "a 32-bit integer",
        TypeMeta::I64 if value.is_i64() || value.is_u64() => return None,
        TypeMeta::I64 => "an integer",
        TypeMeta::Enum(meta) => match value.as_str() {
            Some(text) if meta.values.contains(&text) => return None,
            Some(_) => return Some(format!("a value outside {}", meta.name)),
            None => "a string",
        },
        TypeMeta::List(item) => match value {
            Value::Array(items) => {
                return items
                    .iter()
                    .find_map(|item_value| {
                        type_problem(endpoint, item, item_value, findings, depth + 1)
                    })
                    .map(|problem| format!("an item: {problem}"));
            }
            _ => "a list",
        },
        TypeMeta::Schema(schema) => match value {
            Value::Object(object) => {
                check_object(endpoint, schema, object, findings, depth + 1);
                return None;
            }
            _ => "an object",
        },
    };
    Some(format!("expected {expected}, found {}", kind(value)))
}

/// A key or code from the wire, at most 64 characters.
fn short(text: &str) -> String {
    crate::validate::truncate(text)
}

/// The secret URL fields of an answer (upload URLs), found through the response schema.
pub fn secret_urls(schema: &SchemaMeta, value: &Value, out: &mut Vec<String>, depth: usize) {
    let Value::Object(object) = value else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    for field in schema.fields {
        let Some(inner) = object.get(field.name) else {
            continue;
        };
        match (&field.ty, inner) {
            (TypeMeta::String, Value::String(text))
                if field.secret
                    && (text.starts_with("https://") || text.starts_with("http://")) =>
            {
                out.push(text.clone());
            }
            (TypeMeta::Schema(nested), _) => secret_urls(nested, inner, out, depth + 1),
            _ => {}
        }
    }
}
