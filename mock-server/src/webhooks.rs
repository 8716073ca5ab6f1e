//! Webhooks as a feature: the control routes that set an app's callback URL and event
//! family, fire any event of `tiktok_api::WEBHOOK_EVENTS`, and list deliveries and their
//! attempts. The queue and its delivery worker are `crate::webhook_queue`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tiktok_api::meta::WebhookFamily;
use tiktok_api::{AuthorizationRemoved, PortabilityDownloadReady, WebhookEventKind};

use crate::error::ApiError;
use crate::extract::{ControlJson, ControlQuery};
use crate::state::AppState;
use crate::store::App;
use crate::tokens::revoke_authorization;
use crate::validate::truncate;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryFilter {
    client_key: Option<String>,
    event: Option<String>,
    state: Option<String>,
}

/// `GET /_mock/webhooks/deliveries`: every delivery (filters: client_key, event, state), each
/// with its payload, attempts and due time.
async fn list_deliveries(
    State(state): State<AppState>,
    ControlQuery(filter): ControlQuery<DeliveryFilter>,
) -> Result<Response, ApiError> {
    let deliveries: Vec<Value> = state
        .webhooks()
        .deliveries()
        .into_iter()
        .filter(|delivery| {
            filter
                .client_key
                .as_ref()
                .is_none_or(|key| *key == delivery.client_key)
                && filter
                    .event
                    .as_ref()
                    .is_none_or(|event| *event == delivery.event)
                && filter.state.as_ref().is_none_or(|wanted| {
                    serde_json::to_value(delivery.state)
                        .ok()
                        .and_then(|value| value.as_str().map(|text| text == wanted))
                        .unwrap_or(false)
                })
        })
        .map(|delivery| {
            let payload: Value = serde_json::from_str(&delivery.body).unwrap_or(Value::Null);
            let mut value = serde_json::to_value(&delivery).unwrap_or(Value::Null);
            if let Value::Object(object) = &mut value {
                object.insert("payload".to_owned(), payload);
            }
            value
        })
        .collect();
    Ok(Json(json!({ "deliveries": deliveries })).into_response())
}

async fn read_settings(State(state): State<AppState>) -> Response {
    Json(state.webhooks().settings()).into_response()
}

/// `POST /_mock/webhooks/settings`: changes the named settings, keeps the others.
async fn write_settings(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    state
        .apply_settings(&json!({ "webhooks": changes }))
        .map_err(ApiError::InvalidParams)?;
    Ok(Json(state.webhooks().settings()).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackRequest {
    client_key: Option<String>,
    /// The URL, or null / "" for none.
    #[serde(default, deserialize_with = "present")]
    callback_url: Option<Option<String>>,
    webhook_family: Option<WebhookFamily>,
}

/// A field that is present, null included (`Some(None)` for null).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `POST /_mock/webhooks/callback`: an app's callback URL and event family.
async fn set_callback(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<CallbackRequest>,
) -> Result<Response, ApiError> {
    let mut app = app_or_first(&state, request.client_key.as_deref())?;
    if let Some(url) = request.callback_url {
        let url = url.filter(|url| !url.trim().is_empty());
        if let Some(url) = &url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ApiError::InvalidParams(format!(
                "callback_url: expected an http(s) URL, found {:?}",
                truncate(url)
            )));
        }
        app.callback_url = url;
    }
    if let Some(family) = request.webhook_family {
        app.webhook_family = family;
    }
    state.store().put_app(app.clone());
    Ok(Json(json!({
        "client_key": app.client_key,
        "callback_url": app.callback_url,
        "webhook_family": app.webhook_family,
    }))
    .into_response())
}

fn app_or_first(state: &AppState, client_key: Option<&str>) -> Result<App, ApiError> {
    match client_key {
        Some(client_key) => state
            .store()
            .app(client_key)
            .ok_or_else(|| ApiError::InvalidParams(format!("client_key: no app {client_key:?}"))),
        None => state
            .store()
            .apps()
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::InvalidParams("no app is registered".to_owned())),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    event: String,
    client_key: Option<String>,
    open_id: Option<String>,
    /// `authorization.removed`: the reason code.
    reason: Option<i64>,
    /// `portability.download.ready`: the data request id.
    request_id: Option<i64>,
    /// Any other content (an object), sent as is.
    content: Option<Value>,
    /// `authorization.removed` with an `open_id`: revoke the app's tokens of that user
    /// first, as TikTok does before it notifies (default true).
    revoke: Option<bool>,
}

/// `POST /_mock/webhooks/events`: fires an event of `tiktok_api::WEBHOOK_EVENTS` now.
async fn fire_event(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<EventRequest>,
) -> Result<Response, ApiError> {
    let meta = tiktok_api::WEBHOOK_EVENTS
        .iter()
        .find(|event| event.name == request.event)
        .ok_or_else(|| {
            ApiError::InvalidParams(format!(
                "event: {:?} is not one of {}",
                truncate(&request.event),
                tiktok_api::WEBHOOK_EVENTS
                    .iter()
                    .map(|event| event.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let app = app_or_first(&state, request.client_key.as_deref())?;
    if app.callback_url.is_none() {
        return Err(ApiError::InvalidParams(format!(
            "client_key: the app {:?} has no callback URL",
            app.client_key
        )));
    }
    // The user by their open_id in this app; the payload carries it as given.
    let user_id = match &request.open_id {
        Some(open_id) => Some(state.open_ids().user(&app.client_key, open_id).ok_or_else(
            || {
                ApiError::InvalidParams(format!(
                    "open_id: no creator {open_id:?} in the app {:?}",
                    app.client_key
                ))
            },
        )?),
        None => None,
    };
    let event = WebhookEventKind::parse(meta.name);
    let content = match (&request.content, request.reason, request.request_id, &event) {
        (Some(content), None, None, _) if content.is_object() => Content::Any(content.clone()),
        (None, reason, None, WebhookEventKind::AuthorizationRemoved) => {
            let reason = reason.unwrap_or(0);
            let known = meta.reason_codes.iter().any(|(code, _)| *code == reason);
            match i32::try_from(reason) {
                Ok(reason) if known => Content::Removed(AuthorizationRemoved::new(reason)),
                _ => {
                    return Err(ApiError::InvalidParams(format!(
                        "reason: {reason} is not one of {}",
                        meta.reason_codes
                            .iter()
                            .map(|(code, text)| format!("{code} ({text})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        (None, None, request_id, WebhookEventKind::PortabilityDownloadReady) => {
            Content::Portability(PortabilityDownloadReady::new(request_id.unwrap_or(1)))
        }
        _ => {
            return Err(ApiError::InvalidParams(
                "give `reason` for authorization.removed, `request_id` for portability.download.ready, or `content` (an object) for any event"
                    .to_owned(),
            ));
        }
    };
    if event == WebhookEventKind::AuthorizationRemoved && request.open_id.is_none() {
        return Err(ApiError::InvalidParams(
            "open_id: is required for authorization.removed (the user who removed the app)"
                .to_owned(),
        ));
    }
    let mut revoked = 0;
    if event == WebhookEventKind::AuthorizationRemoved
        && request.revoke.unwrap_or(true)
        && let Some(user_id) = &user_id
    {
        for token in state.store().tokens_of(&app.client_key, user_id) {
            if revoke_authorization(state.store(), &token) {
                revoked += 1;
            }
        }
    }
    let open_id = request.open_id.as_deref();
    let ids = match &content {
        Content::Any(value) => state
            .webhooks()
            .emit(&app.client_key, open_id, event, value),
        Content::Removed(value) => state
            .webhooks()
            .emit(&app.client_key, open_id, event, value),
        Content::Portability(value) => {
            state
                .webhooks()
                .emit(&app.client_key, open_id, event, value)
        }
    };
    Ok(Json(json!({ "deliveries": ids, "revoked_tokens": revoked })).into_response())
}

/// The content of a fired event: typed for the events the control body describes, as given
/// otherwise.
enum Content {
    Any(Value),
    Removed(AuthorizationRemoved),
    Portability(PortabilityDownloadReady),
}

/// The webhook control routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_mock/webhooks/deliveries", get(list_deliveries))
        .route(
            "/_mock/webhooks/settings",
            get(read_settings).post(write_settings),
        )
        .route("/_mock/webhooks/callback", post(set_callback))
        .route("/_mock/webhooks/events", post(fire_event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(family: WebhookFamily) -> Vec<&'static str> {
        tiktok_api::WEBHOOK_EVENTS
            .iter()
            .filter(|event| event.family == family)
            .map(|event| event.name)
            .collect()
    }

    #[test]
    fn families_come_from_the_table() {
        assert!(events(WebhookFamily::Seed).contains(&"video.publish.completed"));
        assert!(events(WebhookFamily::Real).contains(&"post.publish.complete"));
        assert!(!events(WebhookFamily::Real).contains(&"authorization.removed"));
    }
}
