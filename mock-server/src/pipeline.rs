//! The one generic pipeline every API call goes through, driven by the endpoint's
//! `EndpointMeta`: faults, authentication, scopes, rate limit, `fields`, body validation,
//! then the hand-written behaviour or a response built from the spec's examples; each
//! call is recorded in the call log ([`call_log`](crate::call_log)) on its way out.
//!
//! The hot path allocates little: the token and the creator are shared from the store, the
//! query is read in place, the rate-limit key is built on the stack, the behaviour is
//! found once when the routes are built, and the answer is written straight to bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter};
use futures::FutureExt;
use serde_json::Value;
use tiktok_api::ErrorCode;
use tiktok_api::meta::{
    Access, Auth, ContentType, EndpointMeta, Envelope, FieldMeta, FieldsParam, HttpMethod,
};

use crate::authorization::token::check_grant_type;
use crate::call_log::{method_name, record, unsupported_path_call};
use crate::content_posting::lifecycle::settle_creator;
use crate::error::{ApiError, Data, success_response};
use crate::examples::example_object;
use crate::fields_cache::resolve_cached;
use crate::logid::LogId;
use crate::settings::UnknownFields;
use crate::state::{AppState, Behaviour, Call};
use crate::store::{CallEntry, Fault, TokenKind, TokenRecord};
use crate::text::{query_values, with_key};
use crate::tokens::authenticate_client;
use crate::validate::{form_to_json, truncate, validate_body};

/// The largest request body the mock reads: 1 MiB. Larger bodies get 413 `invalid_params`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const TOKEN_INVALID: &str = "The access token is invalid or not found in the request.";

/// The routes of every endpoint of the state's table, grouped by path; a wrong method on a
/// known path gets the gateway's 404, like an unknown path. Each route records its calls
/// itself (no middleware in between).
pub fn api_routes(state: &AppState) -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for endpoint in state.endpoints() {
        let endpoint: &'static EndpointMeta = endpoint;
        let filter = match endpoint.method {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
        };
        let behaviour = state.behaviour(endpoint.id).cloned();
        let handler = move |State(state): State<AppState>, request: Request| {
            let behaviour = behaviour.clone();
            async move { handle(state, endpoint, behaviour.as_ref(), request).await }
        };
        let method_router = by_path
            .remove(endpoint.path)
            .unwrap_or_else(|| MethodRouter::new().fallback(unsupported_path_call));
        by_path.insert(endpoint.path, method_router.on(filter, handler));
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, method_router)| {
            router.route(path, method_router)
        })
}

/// Runs one call through the pipeline, renders it in the endpoint's envelope and records it.
pub async fn handle(
    state: AppState,
    endpoint: &'static EndpointMeta,
    behaviour: Option<&Behaviour>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let now_ms = state.now_ms();
    let method = method_name(request.method());
    let path = match request.uri().path() {
        path if path == endpoint.path => Cow::Borrowed(endpoint.path),
        path => Cow::Owned(path.to_owned()),
    };
    let query = request.uri().query().map(Box::from);
    let mut seen = Seen::default();
    let result = AssertUnwindSafe(run(&state, endpoint, behaviour, request, now_ms, &mut seen))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(crate::error::panicked(panic.as_ref())));
    let log_id = LogId::new(now_ms);
    let mut message = None;
    let (response, decision) = match result {
        Ok(data) => (
            success_response(endpoint.envelope, data, &log_id),
            Cow::Borrowed("ok"),
        ),
        Err(error) => {
            let error = adapt_to_endpoint(error, endpoint);
            let decision = Cow::Owned(error.code_str());
            message = Some(error.parts().2);
            let mut response = error.render(endpoint.envelope, log_id.as_str());
            if endpoint.envelope == Envelope::OAuth && state.oauth_settings().errors_with_http_200 {
                // As TikTok has been seen to: the error only in the body.
                *response.status_mut() = axum::http::StatusCode::OK;
            }
            (response, decision)
        }
    };
    record(
        &state,
        CallEntry {
            at_ms: now_ms,
            method,
            path,
            query,
            body: seen.body,
            endpoint: Some(endpoint.id),
            open_id: seen.open_id,
            decision,
            message,
            status: response.status().as_u16(),
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            log_id: Some(log_id),
        },
    );
    response
}

/// OAuth endpoints speak OAuth codes (a malformed request is `invalid_request` there), and
/// a code the endpoint's table lists goes with the status the table gives it.
fn adapt_to_endpoint(error: ApiError, endpoint: &EndpointMeta) -> ApiError {
    let error = match error {
        ApiError::Catalog { .. }
        | ApiError::PayloadTooLarge(_)
        | ApiError::UnsupportedPath
        | ApiError::Stub { .. } => error,
        other => {
            let (code, status, message) = other.parts();
            match endpoint.status_of(&code) {
                Some(listed) if listed != status.as_u16() => ApiError::Catalog {
                    code,
                    status: listed,
                    message,
                },
                _ => other,
            }
        }
    };
    match (endpoint.envelope, error) {
        (Envelope::OAuth, ApiError::InvalidParams(message)) => ApiError::Catalog {
            status: endpoint
                .status_of(&ErrorCode::InvalidRequest)
                .unwrap_or_else(|| ErrorCode::InvalidRequest.status()),
            code: ErrorCode::InvalidRequest,
            message,
        },
        (Envelope::OAuth, ApiError::PayloadTooLarge(limit)) => ApiError::Catalog {
            status: 413,
            code: ErrorCode::InvalidRequest,
            message: format!("The request body is larger than the mock's limit of {limit} bytes."),
        },
        (_, error) => error,
    }
}

/// What [`run`] learns of a call for the call log, whatever its outcome.
#[derive(Default)]
struct Seen {
    /// The token's creator, once authenticated.
    open_id: Option<String>,
    /// The body, once read ([`CallEntry::kept_body`]).
    body: Option<Box<[u8]>>,
}

async fn run(
    state: &AppState,
    endpoint: &'static EndpointMeta,
    behaviour: Option<&Behaviour>,
    request: Request,
    now_ms: i64,
    seen: &mut Seen,
) -> Result<Data, ApiError> {
    if let Some(fault) = state.store().take_fault(endpoint.id) {
        match fault {
            Fault::Error {
                code,
                status,
                message,
            } => {
                return Err(ApiError::Catalog {
                    code,
                    status,
                    message,
                });
            }
            Fault::Latency { latency_ms } => {
                tokio::time::sleep(Duration::from_millis(latency_ms)).await;
            }
            Fault::Stub { status, body } => return Err(ApiError::Stub { status, body }),
        }
    }
    let (parts, body) = request.into_parts();

    // The store is read under a shared hold, so no reset is seen half done; never held
    // across the body's read.
    let (token, fields) = {
        let _consistent = state.consistent();
        let token = match endpoint.auth {
            Auth::UserToken => Some(authenticate(
                state,
                &parts.headers,
                TokenKind::User,
                now_ms,
            )?),
            Auth::ClientToken => Some(authenticate(
                state,
                &parts.headers,
                TokenKind::Client,
                now_ms,
            )?),
            Auth::ClientCredentials => None,
        };
        if let Some(token) = &token {
            seen.open_id.clone_from(&token.open_id);
            check_endpoint_scopes(endpoint, token)?;
            check_rate_limit(state, endpoint, &token.access_token, now_ms)?;
        }
        let fields = match endpoint.fields {
            Some(param) => parse_fields(state, param, parts.uri.query(), token.as_deref())?,
            None => Vec::new(),
        };
        (token, fields)
    };

    let bytes = match endpoint.request {
        Some(_) => {
            check_content_encoding(endpoint, &parts.headers)?;
            Some(read_body(body).await?)
        }
        None => None,
    };
    let _consistent = state.consistent();
    let body = match (endpoint.request, bytes) {
        (Some((schema, content_type)), Some(bytes)) => {
            seen.body = CallEntry::kept_body(&bytes);
            let value = decode_body(schema, content_type, &parts.headers, &bytes)?;
            check_grant_type(state, endpoint, &value)?;
            validate_body(schema, &value).map_err(ApiError::InvalidParams)?;
            value
        }
        _ => Value::Object(serde_json::Map::new()),
    };

    if endpoint.auth == Auth::ClientCredentials {
        let client_key = check_client_credentials(endpoint, state, &body)?;
        check_rate_limit(state, endpoint, &format!("client:{client_key}"), now_ms)?;
    }
    if let (Some(scope_by), Some(token)) = (&endpoint.scope_by, &token)
        && let Some(chosen) = body.get(scope_by.field).and_then(Value::as_str)
        && let Some(scope) = scope_by.scope_for(chosen)
        && !token.scopes.contains(&scope)
    {
        return Err(ApiError::ScopeNotAuthorized(format!(
            "The user did not authorize the scope required for completing this request: {} {chosen} needs {}.",
            scope_by.field,
            scope.as_str()
        )));
    }

    if let Some(token) = &token
        && reads_creator_data(endpoint)
        && let Some(open_id) = &token.open_id
    {
        // The creator's posts whose time has come change what the read shows (a published
        // video joins the list), so they are settled first.
        settle_creator(state, open_id);
    }

    let call = Call {
        endpoint,
        token: token.as_deref(),
        fields: &fields,
        body: &body,
        now_ms,
    };
    match behaviour {
        Some(behaviour) => behaviour(state, &call),
        None => Ok(example_object(
            endpoint.response,
            endpoint
                .fields
                .map(|param| (param.schema, fields.as_slice())),
        )
        .into()),
    }
}

/// Whether an endpoint reads a creator's data through a user token: the user-token read
/// endpoints with `fields` (user info, the video list and query).
fn reads_creator_data(endpoint: &EndpointMeta) -> bool {
    endpoint.auth == Auth::UserToken && endpoint.access == Access::Read && endpoint.fields.is_some()
}

/// Finds the bearer token and checks it exists, is live and is of the endpoint's kind.
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    kind: TokenKind,
    now_ms: i64,
) -> Result<Arc<TokenRecord>, ApiError> {
    let invalid = |message: &str| ApiError::AccessTokenInvalid(message.to_owned());
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| invalid(TOKEN_INVALID))?;
    let header = header.to_str().map_err(|_| invalid(TOKEN_INVALID))?.trim();
    // `Bearer TOKEN`: the scheme in any case, then a space.
    let access_token = match header.as_bytes().get(..7) {
        Some(scheme) if scheme[..6].eq_ignore_ascii_case(b"bearer") && scheme[6] == b' ' => {
            header[7..].trim()
        }
        _ => "",
    };
    if access_token.is_empty() {
        return Err(invalid(TOKEN_INVALID));
    }
    let token = state
        .store()
        .token_shared(access_token)
        .ok_or_else(|| invalid(TOKEN_INVALID))?;
    if token.revoked {
        return Err(invalid("The access token has been revoked."));
    }
    if now_ms >= token.expires_at_ms {
        return Err(invalid(
            "The access token has expired; refresh it and retry.",
        ));
    }
    if token.kind != kind {
        return Err(invalid(match kind {
            TokenKind::User => {
                "This endpoint needs a user access token (act.), not a client access token."
            }
            TokenKind::Client => {
                "This endpoint needs a client access token (clt.) from grant_type=client_credentials."
            }
        }));
    }
    Ok(token)
}

/// Any one of the endpoint's scopes lets the call through.
fn check_endpoint_scopes(endpoint: &EndpointMeta, token: &TokenRecord) -> Result<(), ApiError> {
    let scopes = if mutant!(WrongScope) && endpoint.id == "video_list" {
        &[tiktok_api::Scope::UserInfoBasic][..]
    } else {
        endpoint.scopes
    };
    if scopes.is_empty() || scopes.iter().any(|scope| token.scopes.contains(scope)) {
        return Ok(());
    }
    let needed: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
    Err(ApiError::ScopeNotAuthorized(format!(
        "The user did not authorize the scope required for completing this request (needs {}).",
        needed.join(" or ")
    )))
}

/// Counts the call in the sliding window of (`who`, endpoint) if the endpoint is limited
/// (see [`AppState::enforced_rate_limit`]).
fn check_rate_limit(
    state: &AppState,
    endpoint: &EndpointMeta,
    who: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let Some(limit) = state.enforced_rate_limit(endpoint) else {
        return Ok(());
    };
    let limit = limit + u32::from(mutant!(RateLimitOffByOne));
    let window_ms = i64::from(endpoint.rate_limit.window_seconds.max(1)) * 1000;
    let decision = with_key(|key| {
        key.push_str(who);
        key.push('\u{0}');
        key.push_str(endpoint.id);
        if mutant!(FixedWindow) {
            // One key per fixed bucket: the window then counts only the bucket's calls.
            key.push_str(&format!("\u{0}{}", now_ms.div_euclid(window_ms)));
        }
        state.store().try_acquire(key, now_ms, limit, window_ms)
    });
    if decision.allowed {
        Ok(())
    } else {
        Err(ApiError::RateLimitExceeded(format!(
            "Rate limit exceeded: {limit} requests per {} seconds for this {} on {} {}.",
            endpoint.rate_limit.window_seconds,
            if endpoint.auth == Auth::ClientCredentials {
                "app"
            } else {
                "access token"
            },
            endpoint.method.as_str(),
            endpoint.path
        )))
    }
}

/// Parses `fields` against its schema: unknown names are `invalid_params` (or left out, with
/// the `unknown_fields: ignore` setting), names whose scope the token lacks are
/// `scope_permission_missed`.
fn parse_fields(
    state: &AppState,
    param: FieldsParam,
    query: Option<&str>,
    token: Option<&TokenRecord>,
) -> Result<Vec<&'static FieldMeta>, ApiError> {
    let query = query.unwrap_or_default();
    let reject_unknown = state.api_settings().unknown_fields == UnknownFields::Reject;
    let fields = resolve_cached(param.schema, reject_unknown, query, || {
        resolve_fields(param, query, reject_unknown)
    })?;
    check_field_scopes(fields, token)
}

/// The fields a query names, checked against the schema (unknown names, none when required);
/// also the proxy's check of an app's `fields`.
pub fn resolve_fields(
    param: FieldsParam,
    query: &str,
    reject_unknown: bool,
) -> Result<Vec<&'static FieldMeta>, ApiError> {
    let mut fields: Vec<&'static FieldMeta> = Vec::with_capacity(param.schema.fields.len());
    let mut unknown = Vec::new();
    let mut any = false;
    for value in query_values(query, "fields") {
        for name in value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            any = true;
            match param.schema.field(name) {
                Some(field) => {
                    if !fields.iter().any(|known| std::ptr::eq(*known, field)) {
                        fields.push(field);
                    }
                }
                None => unknown.push(format!("{:?}", truncate(name))),
            }
        }
    }
    if !any {
        if param.required {
            return Err(ApiError::InvalidParams(
                "fields: is required (a comma-separated list of field names)".to_owned(),
            ));
        }
        return Ok(Vec::new());
    }
    if !unknown.is_empty() && reject_unknown {
        return Err(ApiError::InvalidParams(format!(
            "fields: unknown field {} (valid: {})",
            unknown.join(", "),
            param
                .schema
                .fields
                .iter()
                .map(|field| field.name)
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    Ok(fields)
}

/// Names whose scope the token lacks are `scope_permission_missed`.
fn check_field_scopes(
    fields: Vec<&'static FieldMeta>,
    token: Option<&TokenRecord>,
) -> Result<Vec<&'static FieldMeta>, ApiError> {
    if let Some(token) = token.filter(|_| !mutant!(FieldScopeSkipped)) {
        let missing = missing_field_scopes(&fields, &token.scopes);
        if !missing.is_empty() {
            return Err(ApiError::ScopePermissionMissed(format!(
                "The access token lacks the scope some requested fields need: {}.",
                missing.join("; ")
            )));
        }
    }
    Ok(fields)
}

/// Each field whose scope `scopes` lack, as `name needs scope`; shared with the proxy.
pub fn missing_field_scopes(
    fields: &[&'static FieldMeta],
    scopes: &[tiktok_api::Scope],
) -> Vec<String> {
    fields
        .iter()
        .filter_map(|field| {
            let scope = field.scope?;
            (!scopes.contains(&scope)).then(|| format!("{} needs {}", field.name, scope.as_str()))
        })
        .collect()
}

/// A request body is read as sent: one with a `Content-Encoding` other than `identity`
/// (gzip, br, …) is refused with 415 naming it, rather than read as plain text.
fn check_content_encoding(endpoint: &EndpointMeta, headers: &HeaderMap) -> Result<(), ApiError> {
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = value.to_str().unwrap_or("(not ASCII)");
        let encodings: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|encoding| !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity"))
            .collect();
        if !encodings.is_empty() {
            let code = match endpoint.envelope {
                Envelope::OAuth => ErrorCode::InvalidRequest,
                _ => ErrorCode::InvalidParams,
            };
            return Err(ApiError::Catalog {
                code,
                status: 415,
                message: format!(
                    "Content-Encoding {:?} is not supported: send the request body unencoded.",
                    truncate(&encodings.join(", "))
                ),
            });
        }
    }
    Ok(())
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| match crate::serve::BodyFailure::of(&error) {
            crate::serve::BodyFailure::TooLarge => ApiError::PayloadTooLarge(MAX_BODY_BYTES),
            failure => ApiError::InvalidParams(failure.message().to_owned()),
        })
}

/// Decodes a request body by its declared content type into JSON typed by `schema`; also
/// the proxy's check of an app's body.
pub fn decode_body(
    schema: &tiktok_api::meta::SchemaMeta,
    content_type: ContentType,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let (expected, accepts): (&str, fn(&str) -> bool) = match content_type {
        ContentType::Json => ("application/json", |mime| {
            mime == "application/json" || mime.ends_with("+json")
        }),
        ContentType::Form => ("application/x-www-form-urlencoded", |mime| {
            mime == "application/x-www-form-urlencoded"
        }),
    };
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        let text = value.to_str().unwrap_or("(not ASCII)");
        let mime = text.split(';').next().unwrap_or_default().trim();
        let lowered;
        let mime = if mime.bytes().any(|byte| byte.is_ascii_uppercase()) {
            lowered = mime.to_ascii_lowercase();
            lowered.as_str()
        } else {
            mime
        };
        if !accepts(mime) {
            return Err(ApiError::InvalidParams(format!(
                "Content-Type must be {expected}, found {:?}",
                truncate(text)
            )));
        }
    }
    match content_type {
        ContentType::Json => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Object(serde_json::Map::new()));
            }
            serde_json::from_slice::<Value>(bytes).map_err(|error| {
                ApiError::InvalidParams(format!("The request body is not valid JSON: {error}"))
            })
        }
        ContentType::Form => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(bytes).map_err(|error| {
                    ApiError::InvalidParams(format!("The form body is malformed: {error}"))
                })?;
            form_to_json(schema, &pairs).map_err(ApiError::InvalidParams)
        }
    }
}

/// The OAuth endpoints' client authentication: `client_key` and `client_secret` in the body.
fn check_client_credentials(
    endpoint: &EndpointMeta,
    state: &AppState,
    body: &Value,
) -> Result<String, ApiError> {
    authenticate_client(state.store(), body)
        .map(|app| app.client_key)
        .ok_or_else(|| {
            ApiError::for_endpoint(
                endpoint,
                ErrorCode::InvalidClient,
                "Client key or secret is invalid.",
            )
        })
}
