//! The posting control routes: `GET /_mock/posts`, `POST /_mock/posts/fail`,
//! `POST /_mock/posts/publish`, `GET|POST /_mock/posting`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tiktok_api::FailReason;

use crate::content_posting::lifecycle::{
    PostView, has_ended, settle, settle_all, status_json, view,
};
use crate::error::ApiError;
use crate::extract::ControlJson;
use crate::state::AppState;
use crate::store::{PostFlow, PostRecord};

/// `GET /_mock/posts`, `POST /_mock/posts/fail`, `POST /_mock/posts/publish`,
/// `GET|POST /_mock/posting`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_mock/posts", get(list_posts))
        .route("/_mock/posts/fail", post(fail_post))
        .route("/_mock/posts/publish", post(publish_from_inbox))
        .route("/_mock/posting", get(read_settings).post(write_settings))
}

fn post_json(post: &PostRecord, view: &PostView) -> Value {
    let mut value = serde_json::to_value(post).unwrap_or_else(|_| json!({}));
    value["status"] = status_json(view);
    value
}

async fn list_posts(State(state): State<AppState>) -> Response {
    settle_all(&state);
    let now_ms = state.now_ms();
    let posts: Vec<Value> = state
        .store()
        .posts()
        .iter()
        .map(|post| post_json(post, &view(post, now_ms)))
        .collect();
    Json(json!({ "posts": posts })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailRequest {
    publish_id: String,
    fail_reason: Option<String>,
}

/// `POST /_mock/posts/fail`: the post fails now with `fail_reason` (default `internal`).
async fn fail_post(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<FailRequest>,
) -> Result<Response, ApiError> {
    let reason = FailReason::parse(request.fail_reason.as_deref().unwrap_or("internal"));
    if !reason.is_known() {
        return Err(ApiError::InvalidParams(format!(
            "fail_reason: {:?} is not a FailReason",
            reason.as_str()
        )));
    }
    // Settled first: an ending already due (an expired upload, revoked access) stands.
    settle(&state, &request.publish_id);
    let now_ms = state.now_ms();
    let mut refused = None;
    let found = state.store().update_post(&request.publish_id, &mut |post| {
        if has_ended(post, now_ms) {
            refused =
                Some("the post has already ended (FAILED, PUBLISH_COMPLETE or SEND_TO_USER_INBOX)");
            return;
        }
        post.fail_reason = Some(reason.as_str().to_owned());
        post.failed_ms = Some(now_ms);
    });
    if !found {
        return Err(ApiError::InvalidParams(format!(
            "publish_id: no post {:?}",
            request.publish_id
        )));
    }
    if let Some(problem) = refused {
        return Err(ApiError::InvalidParams(format!("publish_id: {problem}")));
    }
    settle_answer(&state, &request.publish_id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    publish_id: String,
}

/// `POST /_mock/posts/publish`: the creator posts an inbox draft from the TikTok app.
async fn publish_from_inbox(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<PublishRequest>,
) -> Result<Response, ApiError> {
    let now_ms = state.now_ms();
    let mut refused = None;
    let found = state.store().update_post(&request.publish_id, &mut |post| {
        if post.flow != PostFlow::Inbox {
            refused = Some("only inbox uploads are posted from the inbox");
        } else if view(post, now_ms).status != "SEND_TO_USER_INBOX" {
            refused =
                Some("the draft is not in the creator's inbox (status is not SEND_TO_USER_INBOX)");
        } else {
            post.user_posted_ms = Some(now_ms);
        }
    });
    if !found {
        return Err(ApiError::InvalidParams(format!(
            "publish_id: no post {:?}",
            request.publish_id
        )));
    }
    if let Some(problem) = refused {
        return Err(ApiError::InvalidParams(format!("publish_id: {problem}")));
    }
    settle_answer(&state, &request.publish_id)
}

fn settle_answer(state: &AppState, publish_id: &str) -> Result<Response, ApiError> {
    let (post, view) = settle(state, publish_id)
        .ok_or_else(|| ApiError::InvalidParams(format!("publish_id: no post {publish_id:?}")))?;
    Ok(Json(post_json(&post, &view)).into_response())
}

async fn read_settings(State(state): State<AppState>) -> Response {
    Json(state.posting().settings()).into_response()
}

/// `POST /_mock/posting`: the settings given change, the others keep their values.
async fn write_settings(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<serde_json::Map<String, Value>>,
) -> Result<Response, ApiError> {
    state
        .apply_settings(&json!({ "posting": changes }))
        .map_err(ApiError::InvalidParams)?;
    Ok(Json(state.posting().settings()).into_response())
}
