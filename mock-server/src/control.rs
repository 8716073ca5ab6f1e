//! The control API under `/_mock/`: mint tokens, list and seed data, read the call log,
//! move the clock, inject faults and reset. JSON in, JSON out; documented in the README.
//! Each feature's own control routes sit beside it; [`crate::app`] merges them all.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tiktok_api::ErrorCode;

use crate::content_posting::lifecycle::settle_all;
use crate::error::ApiError;
use crate::extract::{ControlJson, ControlQuery};
use crate::fixtures::{FixtureComment, FixtureVideo, build_video};
use crate::pipeline::MAX_BODY_BYTES;
use crate::state::AppState;
use crate::store::{App, Comment, Creator, Fault, PendingFault};
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
        .route(
            "/_mock/apps",
            get(list_apps).post(merge_app).put(replace_app),
        )
        .route(
            "/_mock/creators",
            get(list_creators)
                .post(merge_creator)
                .put(replace_creator),
        )
        .route("/_mock/videos", get(list_videos).post(add_video))
        .route("/_mock/comments", get(list_comments).post(add_comment))
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
    Json(json!({
        "status": "ok",
        "now_ms": state.now_ms(),
        "base_url": state.base_url(),
    }))
    .into_response()
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

async fn list_apps(State(state): State<AppState>) -> Response {
    Json(json!({ "apps": state.store().apps() })).into_response()
}

/// `current` with the top-level fields of `changes`; unknown fields are refused by `T`.
fn merged<T: serde::Serialize + serde::de::DeserializeOwned>(
    current: Option<T>,
    changes: Map<String, Value>,
) -> Result<T, ApiError> {
    let mut object = match current.map(|current| serde_json::to_value(current)) {
        Some(Ok(Value::Object(object))) => object,
        _ => Map::new(),
    };
    object.extend(changes);
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
        let path = error.path().to_string();
        let at = if path == "." { String::new() } else { format!("{path}: ") };
        ApiError::InvalidParams(format!("The request body is invalid: {at}{}", error.inner()))
    })
}

fn key_of(changes: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match changes.get(name) {
        Some(Value::String(key)) if !key.is_empty() => Ok(key.clone()),
        _ => Err(ApiError::InvalidParams(format!(
            "{name}: is required (a non-empty string)"
        ))),
    }
}

/// `POST /_mock/apps`: changes the fields given of an existing app (the others keep their
/// values), or adds a new one.
async fn merge_app(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Map<String, Value>>,
) -> ControlResult {
    let key = key_of(&changes, "client_key")?;
    let app: App = merged(state.store().app(&key), changes)?;
    put_app(&state, app)
}

/// `PUT /_mock/apps`: adds or replaces an app whole (absent fields take their defaults).
async fn replace_app(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Map<String, Value>>,
) -> ControlResult {
    key_of(&changes, "client_key")?;
    let app: App = merged(None, changes)?;
    put_app(&state, app)
}

fn put_app(state: &AppState, app: App) -> ControlResult {
    if app.client_key.is_empty() || app.client_secret.is_empty() {
        return Err(ApiError::InvalidParams(
            "client_key and client_secret must not be empty".to_owned(),
        ));
    }
    state.store().put_app(app.clone());
    Ok(Json(app).into_response())
}

async fn list_creators(State(state): State<AppState>) -> Response {
    let creators: Vec<Value> = state
        .store()
        .creators()
        .into_iter()
        .map(|creator| {
            let count = state.store().video_count(&creator.open_id);
            Value::Object(creator.to_user_json(count))
        })
        .collect();
    Json(json!({ "creators": creators })).into_response()
}

/// `POST /_mock/creators`: changes the fields given of an existing creator (the others keep
/// their values; `posting` is replaced as a whole), or adds a new one.
async fn merge_creator(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Map<String, Value>>,
) -> ControlResult {
    let open_id = key_of(&changes, "open_id")?;
    let creator: Creator = merged(state.store().creator(&open_id), changes)?;
    put_creator(&state, creator)
}

/// `PUT /_mock/creators`: adds or replaces a creator whole.
async fn replace_creator(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Map<String, Value>>,
) -> ControlResult {
    key_of(&changes, "open_id")?;
    let creator: Creator = merged(None, changes)?;
    put_creator(&state, creator)
}

fn put_creator(state: &AppState, creator: Creator) -> ControlResult {
    if creator.open_id.is_empty() {
        return Err(ApiError::InvalidParams(
            "open_id must not be empty".to_owned(),
        ));
    }
    state.store().put_creator(creator.clone());
    let count = state.store().video_count(&creator.open_id);
    Ok(Json(Value::Object(creator.to_user_json(count))).into_response())
}

#[derive(Deserialize)]
struct VideoQuery {
    open_id: Option<String>,
    limit: Option<usize>,
}

async fn list_videos(
    State(state): State<AppState>,
    ControlQuery(query): ControlQuery<VideoQuery>,
) -> ControlResult {
    let open_id = query
        .open_id
        .ok_or_else(|| ApiError::InvalidParams("open_id: is required".to_owned()))?;
    let limit = query.limit.unwrap_or(1000).min(100_000);
    let page = state.store().video_page(&open_id, None, limit);
    Ok(Json(json!({
        "videos": page.videos,
        "total": state.store().video_count(&open_id),
        "has_more": page.has_more,
    }))
    .into_response())
}

/// `POST /_mock/videos`: a fixture video plus `open_id` and an optional `count`.
struct SeedVideo {
    open_id: String,
    /// Adds this many videos, one second apart going back from the create time.
    count: Option<u32>,
    video: FixtureVideo,
}

impl SeedVideo {
    /// Splits the body so the video's own fields keep `deny_unknown_fields` (no flatten).
    fn parse(bytes: &[u8]) -> Result<SeedVideo, ApiError> {
        let mut object: serde_json::Map<String, Value> = ControlJson::parse(bytes)?;
        let open_id = match object.remove("open_id") {
            Some(Value::String(open_id)) => open_id,
            _ => {
                return Err(ApiError::InvalidParams(
                    "open_id: is required (a string)".to_owned(),
                ));
            }
        };
        let count = match object.remove("count") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .and_then(|count| u32::try_from(count).ok())
                    .ok_or_else(|| {
                        ApiError::InvalidParams("count: expected a positive integer".to_owned())
                    })?,
            ),
        };
        let video: FixtureVideo =
            serde_json::from_value(Value::Object(object)).map_err(|error| {
                ApiError::InvalidParams(format!("The request body is invalid: {error}"))
            })?;
        Ok(SeedVideo {
            open_id,
            count,
            video,
        })
    }
}

/// The most videos one `POST /_mock/videos` adds.
const MAX_SEED_COUNT: u32 = 1_000_000;

async fn add_video(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let seed = SeedVideo::parse(&body)?;
    let creator = state.store().creator(&seed.open_id).ok_or_else(|| {
        ApiError::InvalidParams(format!("open_id: no creator {:?}", seed.open_id))
    })?;
    let create_time_ms = seed
        .video
        .create_time_ms
        .or(seed
            .video
            .create_time
            .map(|seconds| seconds.saturating_mul(1000)))
        .unwrap_or_else(|| state.now_ms());
    let handle = if creator.username.is_empty() {
        creator.open_id.clone()
    } else {
        creator.username.clone()
    };
    let Some(count) = seed.count else {
        let id = seed
            .video
            .id
            .clone()
            .unwrap_or_else(|| state.next_video_id());
        let video = build_video(&handle, &creator.open_id, id, create_time_ms, &seed.video);
        let video = state
            .store()
            .insert_video(video)
            .map_err(|error| ApiError::InvalidParams(error.to_string()))?;
        return Ok(Json(video).into_response());
    };
    if count == 0 || count > MAX_SEED_COUNT || seed.video.id.is_some() {
        return Err(ApiError::InvalidParams(format!(
            "count: must be 1..{MAX_SEED_COUNT}, without an id"
        )));
    }
    let mut ids = Vec::new();
    for n in 0..count {
        let mut template = seed.video.clone();
        if !template.title.is_empty() {
            template.title = format!("{} #{}", template.title, n + 1);
        }
        let at_ms = create_time_ms.saturating_sub(i64::from(n) * 1000);
        let video = build_video(
            &handle,
            &creator.open_id,
            state.next_video_id(),
            at_ms,
            &template,
        );
        let video = state
            .store()
            .insert_video(video)
            .map_err(|error| ApiError::InvalidParams(error.to_string()))?;
        if n == 0 || n + 1 == count {
            ids.push(video.id);
        }
    }
    Ok(Json(json!({
        "created": count,
        "newest_id": ids.first(),
        "oldest_id": ids.last(),
        "total": state.store().video_count(&creator.open_id),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct CommentQuery {
    video_id: Option<String>,
}

async fn list_comments(
    State(state): State<AppState>,
    ControlQuery(query): ControlQuery<CommentQuery>,
) -> ControlResult {
    let video_id = query
        .video_id
        .ok_or_else(|| ApiError::InvalidParams("video_id: is required".to_owned()))?;
    let video_id: i64 = video_id
        .parse()
        .map_err(|_| ApiError::InvalidParams("video_id: expected an integer".to_owned()))?;
    Ok(Json(json!({ "comments": state.store().comments(video_id) })).into_response())
}

async fn add_comment(
    State(state): State<AppState>,
    ControlJson(comment): ControlJson<FixtureComment>,
) -> ControlResult {
    let comment = state
        .store()
        .insert_comment(Comment {
            id: comment.id,
            video_id: comment.video_id,
            text: comment.text,
            like_count: comment.like_count,
            reply_count: comment.reply_count,
            parent_comment_id: comment.parent_comment_id.unwrap_or(comment.video_id),
            create_time: comment.create_time.unwrap_or(state.now_ms() / 1000),
        })
        .map_err(|error| ApiError::InvalidParams(error.to_string()))?;
    Ok(Json(comment).into_response())
}

async fn list_calls(State(state): State<AppState>) -> Response {
    Json(json!({ "calls": state.store().calls() })).into_response()
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
    let seconds_ms = advance.seconds.unwrap_or(0.0) * 1000.0;
    if !seconds_ms.is_finite() || seconds_ms.abs() > 1e15 {
        return Err(ApiError::InvalidParams("seconds: out of range".to_owned()));
    }
    let millis = (seconds_ms.round() as i64).saturating_add(advance.millis.unwrap_or(0));
    if millis < 0 {
        return Err(ApiError::InvalidParams(format!(
            "the clock only moves forward; found an advance of {millis} ms"
        )));
    }
    if !advance_clock_by(&state, millis) {
        return Err(ApiError::InvalidParams(
            "The mock runs on the system clock; start it with --clock manual to advance time."
                .to_owned(),
        ));
    }
    Ok(Json(clock_json(&state)).into_response())
}

/// Moves a manual clock by `millis`, then settles every open post and wakes the webhook
/// worker; false (nothing moves) on the system clock. The one way time moves on the mock.
pub fn advance_clock_by(state: &AppState, millis: i64) -> bool {
    let Some(manual) = state.clock().as_manual() else {
        return false;
    };
    manual.advance_ms(millis);
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
            if !(100..=599).contains(&status) {
                return Err(ApiError::InvalidParams(format!(
                    "status: must be 100..599, found {status}"
                )));
            }
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

async fn reset(State(state): State<AppState>) -> ControlResult {
    state
        .reset()
        .map_err(|error| ApiError::InvalidParams(error.to_string()))?;
    Ok(Json(json!({ "reset": true })).into_response())
}
