//! The control API under `/_mock/`: mint tokens, list and seed data, read the call log,
//! move the clock, inject faults and reset. JSON in, JSON out; documented in the README.
//! Each feature's own control routes sit beside it; [`crate::app`] merges them all.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tiktok_api::ErrorCode;

use crate::clock::LATEST_MS;
use crate::content_posting::lifecycle::settle_all;
use crate::error::ApiError;
use crate::extract::{ControlJson, ControlQuery};
use crate::pipeline::MAX_BODY_BYTES;
use crate::state::AppState;
use crate::store::{Fault, PendingFault};
use crate::tokens::MintRequest;

/// Every control route, as `GET /_mock/` and an unknown `/_mock/` path list them.
pub const CONTROL_ROUTES: &[&str] = &[
    "GET /_mock/",
    "GET /_mock/health",
    "GET|POST /_mock/settings",
    "POST /_mock/tokens",
    "POST /_mock/tokens/revoke",
    "GET|POST|PUT /_mock/apps",
    "GET|POST|PUT /_mock/creators",
    "GET|POST /_mock/videos",
    "GET|POST /_mock/comments",
    "GET /_mock/calls",
    "GET /_mock/clock",
    "POST /_mock/clock/advance",
    "GET|POST /_mock/faults",
    "POST /_mock/reset",
    "GET|POST /_mock/oauth/settings",
    "POST /_mock/oauth/codes",
    "GET /_mock/webhooks/deliveries",
    "GET|POST /_mock/webhooks/settings",
    "POST /_mock/webhooks/callback",
    "POST /_mock/webhooks/events",
    "GET /_mock/posts",
    "POST /_mock/posts/fail",
    "POST /_mock/posts/publish",
    "GET|POST /_mock/posting",
];

/// The routes under `/_mock/`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_mock/", get(index))
        .route("/_mock/health", get(health))
        .route("/_mock/settings", get(read_settings).post(write_settings))
        .route("/_mock/tokens", post(mint_token))
        .route("/_mock/tokens/revoke", post(revoke_token))
        .route("/_mock/calls", get(list_calls))
        .route("/_mock/clock", get(read_clock))
        .route("/_mock/clock/advance", post(advance_clock))
        .route("/_mock/faults", get(list_faults).post(add_fault))
        .route("/_mock/reset", post(reset))
        .route("/_mock", any(unknown_control_path))
        .route("/_mock/{*rest}", any(unknown_control_path))
}

/// An unknown path under `/_mock/`: a JSON 404 listing the control routes.
async fn unknown_control_path(request: axum::extract::Request) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": {
                "code": "not_found",
                "message": format!(
                    "No control route {} {}; see GET /_mock/ and mock-server/README.md.",
                    request.method(),
                    request.uri().path()
                ),
            },
            "control": CONTROL_ROUTES,
        })),
    )
        .into_response()
}

/// A control route called with a method it does not take: a JSON 405 naming the methods it
/// does. (An API path keeps the gateway's 404.)
pub async fn wrong_method(request: axum::extract::Request) -> Response {
    let path = request.uri().path().to_owned();
    if !path.starts_with("/_mock") {
        return crate::error::unsupported_path().await;
    }
    let allowed: Vec<&str> = CONTROL_ROUTES
        .iter()
        .filter_map(|route| {
            let (methods, route_path) = route.split_once(' ')?;
            (route_path == path).then_some(methods)
        })
        .collect();
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, allowed.join("|").replace('|', ", "))],
        Json(json!({
            "error": {
                "code": "method_not_allowed",
                "message": format!(
                    "{} {path} is not a control route; it takes {}.",
                    request.method(),
                    if allowed.is_empty() { "other methods".to_owned() } else { allowed.join("|") }
                ),
            },
        })),
    )
        .into_response()
}

/// `GET /_mock/health`: the mock is up (for readiness probes and scripts).
async fn health(State(state): State<AppState>) -> Response {
    let store = state.store().health();
    let ok = store["status"] == "ok";
    let body = Json(json!({
        "status": if ok { "ok" } else { "degraded" },
        "now_ms": state.now_ms(),
        "base_url": state.base_url(),
        "store": store,
    }));
    if ok {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// `GET /_mock/settings`: every setting, by group.
async fn read_settings(State(state): State<AppState>) -> Response {
    Json(state.settings_json()).into_response()
}

/// `POST /_mock/settings`: changes the named settings of any group (`api`, `oauth`,
/// `posting`, `webhooks`), all or nothing; answers every setting.
async fn write_settings(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Value>,
) -> ControlResult {
    state
        .apply_settings(&changes)
        .map_err(ApiError::InvalidParams)?;
    Ok(Json(state.settings_json()).into_response())
}

type ControlResult = Result<Response, ApiError>;

/// `GET /_mock/`: the control routes and the endpoints served, with their figures.
async fn index(State(state): State<AppState>) -> Response {
    let endpoints: Vec<Value> = state
        .endpoints()
        .iter()
        .map(|endpoint| {
            json!({
                "id": endpoint.id,
                "method": endpoint.method.as_str(),
                "path": endpoint.path,
                "scopes": endpoint.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>(),
                "rate_limit_per_window": state.enforced_rate_limit(endpoint),
                "window_seconds": endpoint.rate_limit.window_seconds,
                "hand_written": state.behaviour(endpoint.id).is_some(),
            })
        })
        .collect();
    Json(json!({
        "control": CONTROL_ROUTES,
        "endpoints": endpoints,
        "max_body_bytes": MAX_BODY_BYTES,
        "manual_clock": state.clock().as_manual().is_some(),
    }))
    .into_response()
}

async fn mint_token(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<MintRequest>,
) -> ControlResult {
    Ok(Json(state.mint_token(&request)?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    access_token: String,
}

async fn revoke_token(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<RevokeRequest>,
) -> ControlResult {
    let revoked = state.store().revoke_token(&request.access_token);
    if !revoked {
        return Err(ApiError::InvalidParams(
            "access_token: unknown token".to_owned(),
        ));
    }
    Ok(Json(json!({ "revoked": true })).into_response())
}

/// `GET /_mock/calls` filters: each given one must match.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallFilter {
    /// An endpoint id (`video_list`) or path (`/v2/video/list/`).
    endpoint: Option<String>,
    open_id: Option<String>,
    /// `ok` or an error code.
    decision: Option<String>,
    /// Calls at or after this time, Unix ms on the mock's clock.
    since_ms: Option<i64>,
    /// Calls before this time, Unix ms on the mock's clock.
    until_ms: Option<i64>,
    /// The newest `limit` calls of those matching.
    limit: Option<usize>,
}

/// `GET /_mock/calls`: the call log, oldest first, filtered.
async fn list_calls(
    State(state): State<AppState>,
    ControlQuery(filter): ControlQuery<CallFilter>,
) -> Response {
    // Only the calls answered are copied out of the log (`?limit=1` copies one).
    let calls = state.store().newest_calls(filter.limit, &|call| {
        filter.endpoint.as_ref().is_none_or(|wanted| {
            call.endpoint == Some(wanted.as_str()) || call.path == wanted.as_str()
        }) && filter
            .open_id
            .as_ref()
            .is_none_or(|wanted| call.open_id.as_deref() == Some(wanted.as_str()))
            && filter
                .decision
                .as_ref()
                .is_none_or(|wanted| call.decision == wanted.as_str())
            && filter.since_ms.is_none_or(|since| call.at_ms >= since)
            && filter.until_ms.is_none_or(|until| call.at_ms < until)
    });
    Json(json!({ "calls": calls })).into_response()
}

fn clock_json(state: &AppState) -> Value {
    let now_ms = state.now_ms();
    json!({
        "now_ms": now_ms,
        "now": now_ms.div_euclid(1000),
        "manual": state.clock().as_manual().is_some(),
    })
}

async fn read_clock(State(state): State<AppState>) -> Response {
    Json(clock_json(&state)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: Option<f64>,
    millis: Option<i64>,
}

async fn advance_clock(
    State(state): State<AppState>,
    ControlJson(advance): ControlJson<Advance>,
) -> ControlResult {
    if advance.seconds.is_none() && advance.millis.is_none() {
        return Err(ApiError::InvalidParams(
            "give seconds or millis: how far to move the clock (the clock only moves forward)"
                .to_owned(),
        ));
    }
    let millis = advance_span(&advance, state.now_ms()).map_err(ApiError::InvalidParams)?;
    if !advance_clock_by(&state, millis) {
        return Err(ApiError::InvalidParams(
            "The mock runs on the system clock; start it with --clock manual to advance time."
                .to_owned(),
        ));
    }
    Ok(Json(clock_json(&state)).into_response())
}

/// How far an advance moves the clock from `now_ms`, in milliseconds: both fields finite,
/// not negative, and together not past [`LATEST_MS`] (so nothing added to the clock later
/// overflows), else a message naming the field and its range.
fn advance_span(advance: &Advance, now_ms: i64) -> Result<i64, String> {
    let room = LATEST_MS.saturating_sub(now_ms).max(0);
    let limit = format!(
        "the clock can move at most {room} ms ({} s) more: it stops at 9999-12-31T23:59:59.999Z",
        room / 1000
    );
    let seconds = advance.seconds.unwrap_or(0.0);
    let millis = advance.millis.unwrap_or(0);
    if seconds.is_nan() || seconds < 0.0 || millis < 0 {
        return Err(format!(
            "seconds and millis must not be negative: the clock only moves forward (found seconds {seconds}, millis {millis})"
        ));
    }
    let seconds_ms = seconds * 1000.0;
    // `room` is far below 2^53, so the comparison in f64 is exact enough.
    #[allow(clippy::cast_precision_loss)]
    if !seconds_ms.is_finite() || seconds_ms > room as f64 {
        return Err(format!("seconds: {seconds} is out of range; {limit}"));
    }
    if millis > room {
        return Err(format!("millis: {millis} is out of range; {limit}"));
    }
    #[allow(clippy::cast_possible_truncation)]
    let seconds_ms = seconds_ms.round() as i64;
    seconds_ms
        .checked_add(millis)
        .filter(|total| *total <= room)
        .ok_or_else(|| format!("seconds + millis: out of range; {limit}"))
}

/// Moves a manual clock by `millis`, then settles every open post and wakes the webhook
/// worker; false (nothing moves) on the system clock. The one way time moves on the mock.
pub fn advance_clock_by(state: &AppState, millis: i64) -> bool {
    let Some(manual) = state.clock().as_manual() else {
        return false;
    };
    manual.advance_ms(millis);
    state.persist_clock();
    settle_all(state);
    state.webhooks().wake();
    true
}

async fn list_faults(State(state): State<AppState>) -> Response {
    Json(json!({ "faults": state.store().faults() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    endpoint: String,
    count: Option<u32>,
    error_code: Option<String>,
    status: Option<u16>,
    message: Option<String>,
    latency_ms: Option<u64>,
    body: Option<Value>,
}

async fn add_fault(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<FaultRequest>,
) -> ControlResult {
    let endpoint = state
        .endpoints()
        .iter()
        .find(|endpoint| endpoint.id == request.endpoint || endpoint.path == request.endpoint)
        .ok_or_else(|| {
            ApiError::InvalidParams(format!("endpoint: no endpoint {:?}", request.endpoint))
        })?;
    let fault = match (&request.error_code, request.latency_ms, &request.body) {
        (None, None, Some(body)) => {
            let status = request.status.unwrap_or(200);
            check_fault_status(status)?;
            Fault::Stub {
                status,
                body: body.clone(),
            }
        }
        (Some(code), None, None) => {
            let code = ErrorCode::parse(code);
            if !code.is_known() {
                return Err(ApiError::InvalidParams(format!(
                    "error_code: {:?} is not in the error catalog",
                    code.as_str()
                )));
            }
            if let Some(status) = request.status {
                check_fault_status(status)?;
            }
            let status = request
                .status
                .or_else(|| endpoint.status_of(&code))
                .unwrap_or_else(|| code.status());
            let message = request.message.clone().unwrap_or_else(|| {
                code.meta()
                    .map(|meta| meta.meaning.to_owned())
                    .unwrap_or_default()
            });
            Fault::Error {
                code,
                status,
                message,
            }
        }
        (None, Some(latency_ms), None) => Fault::Latency {
            latency_ms: latency_ms.min(600_000),
        },
        _ => {
            return Err(ApiError::InvalidParams(
                "give exactly one of error_code, latency_ms and body".to_owned(),
            ));
        }
    };
    let pending = PendingFault {
        endpoint: endpoint.id.to_owned(),
        fault,
        remaining: request.count.unwrap_or(1),
    };
    state.store().push_fault(pending.clone());
    Ok(Json(pending).into_response())
}

/// A fault answers with a final status: 200 to 599 (1xx are interim, not answers).
fn check_fault_status(status: u16) -> Result<(), ApiError> {
    if (200..=599).contains(&status) {
        Ok(())
    } else {
        Err(ApiError::InvalidParams(format!(
            "status: must be 200 to 599, found {status}"
        )))
    }
}

async fn reset(State(state): State<AppState>) -> ControlResult {
    state
        .reset()
        .map_err(|error| ApiError::InvalidParams(error.to_string()))?;
    Ok(Json(json!({ "reset": true })).into_response())
}
