//! The control routes that seed data: `GET|POST|PUT /_mock/apps` and `/_mock/creators`
//! (POST changes the fields given of an existing record, PUT replaces it whole),
//! `GET|POST /_mock/videos` (one or many) and `GET|POST /_mock/comments`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extract::{ControlJson, ControlQuery};
use crate::fixtures::{FixtureComment, FixtureVideo, build_video};
use crate::state::AppState;
use crate::store::{App, Comment, Creator};

/// A seeding route's answer: JSON, or a 400 in the v2 envelope.
type ControlResult = Result<Response, ApiError>;

/// The seeding routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_mock/apps",
            get(list_apps).post(merge_app).put(replace_app),
        )
        .route(
            "/_mock/creators",
            get(list_creators).post(merge_creator).put(replace_creator),
        )
        .route("/_mock/videos", get(list_videos).post(add_video))
        .route("/_mock/comments", get(list_comments).post(add_comment))
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
        let at = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        ApiError::InvalidParams(format!(
            "The request body is invalid: {at}{}",
            error.inner()
        ))
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
    for (index, uri) in app.redirect_uris.iter().enumerate() {
        check_redirect_uri(uri).map_err(|problem| {
            ApiError::InvalidParams(format!("redirect_uris[{index}]: {problem}"))
        })?;
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
        "hidden": state.store().hidden_videos(&open_id),
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

/// A redirect URI an app may register: `https` with a host, or `http` on loopback
/// (`127.0.0.1`, `[::1]`, `localhost`), with no fragment. Never `javascript:` and the like.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let shown = crate::validate::truncate(uri);
    let parsed =
        url::Url::parse(uri).map_err(|error| format!("{shown:?} is not a URL ({error})"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{shown:?} has a fragment"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{shown:?}: plain http only on loopback (127.0.0.1, [::1], localhost); use https"
        )),
        _ => Err(format!(
            "{shown:?}: expected an https URL, or http on loopback"
        )),
    }
}
