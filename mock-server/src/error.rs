//! The one error type of the mock's API routes, the TikTok response shapes it renders
//! to, and [`Data`], a successful answer's `data`, written into its envelope as bytes.

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tiktok_api::ErrorCode;
use tiktok_api::meta::{EndpointMeta, Envelope};

use crate::clock::system_now_ms;
use crate::logid::{LogId, new_log_id};

/// The body TikTok's gateway sends for an unknown path or a wrong method.
pub const UNSUPPORTED_PATH_BODY: &str = "Unsupported path(Janus)";

/// The response header carrying the log id.
pub const LOG_ID_HEADER: &str = "x-tt-logid";

/// [`LOG_ID_HEADER`] as a header name, parsed once.
const LOG_ID_NAME: HeaderName = HeaderName::from_static(LOG_ID_HEADER);

/// Every way a call to the mock can fail. Each variant declares its catalog code,
/// its HTTP status and its message in [`ApiError::parts`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_params`: a query parameter or body field is wrong; the message names it.
    #[error("invalid_params: {0}")]
    InvalidParams(String),
    /// 400 `scope_permission_missed`: `fields` names fields the token's scopes don't cover.
    #[error("scope_permission_missed: {0}")]
    ScopePermissionMissed(String),
    /// 401 `access_token_invalid`: no, malformed, unknown, expired, revoked or wrong-kind token.
    #[error("access_token_invalid: {0}")]
    AccessTokenInvalid(String),
    /// 401 `scope_not_authorized`: the token has none of the endpoint's scopes.
    #[error("scope_not_authorized: {0}")]
    ScopeNotAuthorized(String),
    /// 429 `rate_limit_exceeded`: the sliding window of this token and endpoint is full.
    #[error("rate_limit_exceeded: {0}")]
    RateLimitExceeded(String),
    /// Any catalog code with an explicit status (fault injection, OAuth, posting).
    #[error("{}: {message}", code.as_str())]
    Catalog {
        /// The catalog code.
        code: ErrorCode,
        /// The HTTP status.
        status: u16,
        /// The message.
        message: String,
    },
    /// 413 `invalid_params`: the body is larger than the documented limit (bytes).
    #[error("invalid_params: request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 404 with the gateway's plain-text body: no such path, or the wrong method.
    #[error("Unsupported path(Janus)")]
    UnsupportedPath,
    /// A stubbed answer (`MockServer::stub`, `POST /_mock/faults` with `body`): this status
    /// and this JSON body, sent as given, to test codes outside the catalog.
    #[error("stub: HTTP {status}")]
    Stub {
        /// The HTTP status.
        status: u16,
        /// The whole body.
        body: Value,
    },
}

impl ApiError {
    /// An error with catalog code `code`, sent with the catalog's status.
    pub fn catalog(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = code.status();
        ApiError::Catalog {
            code,
            status,
            message: message.into(),
        }
    }

    /// An error with catalog code `code`, sent with the status `endpoint`'s table gives
    /// the code (the catalog's when the endpoint does not list it).
    pub fn for_endpoint(
        endpoint: &EndpointMeta,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Catalog {
            status: endpoint.status_of(&code).unwrap_or_else(|| code.status()),
            code,
            message: message.into(),
        }
    }

    /// 500 `internal_error`: the endpoint table lacks a figure a behaviour reads (`paging`,
    /// a limit); a table that passed codegen's validation always has it.
    pub fn missing_in_table(endpoint: &EndpointMeta, what: &str) -> Self {
        ApiError::catalog(
            ErrorCode::InternalError,
            format!("The endpoint table gives {} no {what}.", endpoint.id),
        )
    }

    /// The catalog code, HTTP status and message, declared together.
    pub fn parts(&self) -> (ErrorCode, StatusCode, String) {
        let (code, message) = match self {
            ApiError::InvalidParams(message) => (ErrorCode::InvalidParams, message.clone()),
            ApiError::ScopePermissionMissed(message) => {
                (ErrorCode::ScopePermissionMissed, message.clone())
            }
            ApiError::AccessTokenInvalid(message) => {
                (ErrorCode::AccessTokenInvalid, message.clone())
            }
            ApiError::ScopeNotAuthorized(message) => {
                (ErrorCode::ScopeNotAuthorized, message.clone())
            }
            ApiError::RateLimitExceeded(message) => (ErrorCode::RateLimitExceeded, message.clone()),
            ApiError::PayloadTooLarge(limit) => {
                return (
                    ErrorCode::InvalidParams,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body is larger than the mock's limit of {limit} bytes."),
                );
            }
            ApiError::Catalog {
                code,
                status,
                message,
            } => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (code.clone(), status, message.clone());
            }
            ApiError::UnsupportedPath => {
                return (
                    ErrorCode::InvalidParams,
                    StatusCode::NOT_FOUND,
                    UNSUPPORTED_PATH_BODY.to_owned(),
                );
            }
            ApiError::Stub { status, body } => {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let code = body
                    .pointer("/error/code")
                    .or_else(|| body.get("error"))
                    .and_then(Value::as_str)
                    .map_or(ErrorCode::InternalError, ErrorCode::parse);
                return (code, status, "a stubbed answer".to_owned());
            }
        };
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, status, message)
    }

    /// The catalog code as on the wire (`unsupported_path` for the gateway's 404).
    pub fn code_str(&self) -> String {
        match self {
            ApiError::UnsupportedPath => "unsupported_path".to_owned(),
            ApiError::Stub { .. } => "stub".to_owned(),
            other => other.parts().0.as_str().to_owned(),
        }
    }

    /// Renders the error in an endpoint's envelope with the given log id.
    pub fn render(&self, envelope: Envelope, log_id: &str) -> Response {
        let (code, status, message) = self.parts();
        if matches!(self, ApiError::UnsupportedPath) {
            let mut response = (status, UNSUPPORTED_PATH_BODY).into_response();
            set_log_id(&mut response, log_id);
            return response;
        }
        if let ApiError::Stub { body, .. } = self {
            return json_response(status, body, log_id);
        }
        let body = match envelope {
            Envelope::V2 => json!({
                "data": {},
                "error": {"code": code.as_str(), "message": message, "log_id": log_id},
            }),
            Envelope::OAuth => json!({
                "error": code.as_str(),
                "error_description": message,
                "log_id": log_id,
            }),
        };
        json_response(status, &body, log_id)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(Envelope::V2, &new_log_id(system_now_ms()))
    }
}

/// What the call log and the trace line learn about a call, set on the response by
/// whoever answered it.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The endpoint id.
    pub endpoint: Option<&'static str>,
    /// The token's creator.
    pub open_id: Option<String>,
    /// `ok` or the error code.
    pub decision: String,
    /// The error's message, when the call failed.
    pub message: Option<String>,
}

/// The answer to a call whose handler panicked (a bug, or a state file that can no longer
/// be written): TikTok's 500 `internal_error`, logged with the panic's message, rather
/// than a dropped connection. Nothing the call did is claimed done.
pub fn panicked(panic: &(dyn std::any::Any + Send)) -> ApiError {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    tracing::error!(%detail, "a call panicked; answered 500 internal_error");
    ApiError::Catalog {
        code: ErrorCode::InternalError,
        status: 500,
        message: "The mock failed to handle this call; see its log.".to_owned(),
    }
}

/// The gateway's answer to an unknown path or a wrong method.
pub async fn unsupported_path() -> Response {
    let mut response = ApiError::UnsupportedPath.into_response();
    response.extensions_mut().insert(CallOutcome {
        endpoint: None,
        open_id: None,
        decision: "unsupported_path".to_owned(),
        message: Some(UNSUPPORTED_PATH_BODY.to_owned()),
    });
    response
}

/// The `data` of a successful answer: a JSON value, or the JSON bytes of an object a
/// behaviour wrote itself (the hot paths do, with no `Value` in between).
#[derive(Debug, Clone, PartialEq)]
pub struct Data(DataRepr);

#[derive(Debug, Clone, PartialEq)]
enum DataRepr {
    Value(Value),
    /// The object is `buffer[start..]`; the bytes before it are room for the envelope.
    Json {
        buffer: Vec<u8>,
        start: usize,
    },
}

/// `{"data":`, what the v2 envelope puts before `data`.
const V2_HEAD: &[u8] = b"{\"data\":";

/// Spare capacity a [`Data::buffer`] keeps at its end for the envelope's tail.
pub const ENVELOPE_ROOM: usize = 96;

impl Data {
    /// A buffer to write `data` into, with `room` bytes at the front for what goes before
    /// the object (the envelope's head, and whatever the behaviour writes last but puts
    /// first): write from `room` on, then [`Data::from_buffer`].
    pub fn buffer(capacity: usize, room: usize) -> Vec<u8> {
        let room = room + V2_HEAD.len();
        let mut buffer = Vec::with_capacity(room + capacity + ENVELOPE_ROOM);
        buffer.resize(room, b' ');
        buffer
    }

    /// `data` as `buffer[start..]` (one JSON object) of a [`Data::buffer`]; at least
    /// `{"data":`'s length of room must be left before `start`.
    pub fn from_buffer(buffer: Vec<u8>, start: usize) -> Data {
        if start < V2_HEAD.len() {
            // No room: make some (a copy, but never a wrong answer).
            let mut framed = Vec::with_capacity(buffer.len() + V2_HEAD.len() + ENVELOPE_ROOM);
            framed.extend_from_slice(V2_HEAD);
            framed.extend_from_slice(&buffer[start..]);
            return Data(DataRepr::Json {
                buffer: framed,
                start: V2_HEAD.len(),
            });
        }
        Data(DataRepr::Json { buffer, start })
    }

    /// `data` already serialized: `json` must be one JSON object.
    pub fn from_json_object(json: Vec<u8>) -> Data {
        Data::from_buffer(json, 0)
    }

    /// `data` as a JSON value.
    pub fn to_value(&self) -> Value {
        match &self.0 {
            DataRepr::Value(value) => value.clone(),
            DataRepr::Json { buffer, start } => {
                serde_json::from_slice(&buffer[*start..]).unwrap_or(Value::Null)
            }
        }
    }

    /// `data` as JSON bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        match &self.0 {
            DataRepr::Value(value) => serde_json::to_vec(value).unwrap_or_default(),
            DataRepr::Json { buffer, start } => buffer[*start..].to_vec(),
        }
    }

    /// The response body: `data` in the endpoint's envelope, written around the bytes
    /// where they are; and the log id within it, when the envelope has it.
    fn into_body(self, envelope: Envelope, log_id: &LogId) -> (Bytes, Option<Bytes>) {
        let (mut buffer, start) = match self.0 {
            DataRepr::Json { buffer, start } => (buffer, start),
            DataRepr::Value(value) => {
                let mut buffer = Data::buffer(256, 0);
                let start = buffer.len();
                let _ = serde_json::to_writer(&mut buffer, &value);
                (buffer, start)
            }
        };
        match envelope {
            Envelope::OAuth => (Bytes::from(buffer).slice(start..), None),
            Envelope::V2 => {
                let head = start - V2_HEAD.len();
                buffer[head..start].copy_from_slice(V2_HEAD);
                buffer.extend_from_slice(b",\"error\":{\"code\":\"ok\",\"log_id\":\"");
                let at = buffer.len();
                buffer.extend_from_slice(log_id.as_bytes());
                buffer.extend_from_slice(b"\",\"message\":\"\"}}");
                let bytes = Bytes::from(buffer);
                // The header shares the body's bytes.
                let log_id = bytes.slice(at..at + log_id.as_bytes().len());
                (bytes.slice(head..), Some(log_id))
            }
        }
    }
}

impl From<Value> for Data {
    fn from(value: Value) -> Data {
        Data(DataRepr::Value(value))
    }
}

/// A successful response: `data` in the v2 envelope, or flat for OAuth endpoints. The
/// bytes are those `serde_json` gave for the envelope as a `Value` (keys in order).
pub fn success_response(envelope: Envelope, data: Data, log_id: &LogId) -> Response {
    let (body, shared) = data.into_body(envelope, log_id);
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let value = match shared {
        Some(bytes) => HeaderValue::from_maybe_shared(bytes),
        None => HeaderValue::from_bytes(log_id.as_bytes()),
    };
    if let Ok(value) = value {
        headers.insert(LOG_ID_NAME, value);
    }
    response
}

/// A JSON response with the log id header.
pub fn json_response(status: StatusCode, body: &Value, log_id: &str) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        text,
    )
        .into_response();
    set_log_id(&mut response, log_id);
    response
}

fn set_log_id(response: &mut Response, log_id: &str) {
    if let Ok(value) = HeaderValue::from_str(log_id) {
        response.headers_mut().insert(LOG_ID_NAME, value);
    }
}
