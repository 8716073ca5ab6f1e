//! Webhooks: events queued per app, signed with the app's client_secret and delivered to its
//! callback URL by a background task, at least once, with retries on the mock's clock.
//!
//! Every event becomes a [`Delivery`]: the exact payload bytes (TikTok's shape, `content` a
//! JSON string), a due time and the list of attempts. A worker task wakes on a short real-time
//! tick and whenever an event is queued or the clock is advanced ([`Webhooks::wake`]), sends
//! every delivery whose due time has come on the mock's clock, and records the answer. A
//! non-200 answer (or no answer) schedules the next attempt with exponential backoff
//! (`first_retry_seconds`, doubling, at most `max_retry_interval_seconds`); once the next
//! attempt would fall more than `retry_window_seconds` (72 h) after the event, the delivery
//! is dropped and logged. On a manual clock nothing is retried until the clock moves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tiktok_api::WebhookEventKind;
use tiktok_api::meta::WebhookFamily;
use tiktok_api::webhook::{SIGNATURE_HEADER, WebhookPayload, signature_header};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{App, Store};

/// The real-time interval at which the worker checks for due deliveries.
const TICK: Duration = Duration::from_millis(50);
/// How long one delivery attempt may take (real time).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which events an app receives for content posting: the seed's
/// (`video.publish.completed`, `video.upload.failed`) or the real `post.publish.*` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventFamily {
    /// The seed's events (the default).
    #[default]
    Seed,
    /// The Content Posting API's `post.publish.*` events.
    Real,
}

impl EventFamily {
    /// The generated crate's name for the family.
    pub fn meta(self) -> WebhookFamily {
        match self {
            EventFamily::Seed => WebhookFamily::Seed,
            EventFamily::Real => WebhookFamily::Real,
        }
    }

    /// The event names of the family, from `tiktok_api::WEBHOOK_EVENTS`.
    pub fn events(self) -> Vec<&'static str> {
        let family = self.meta();
        tiktok_api::WEBHOOK_EVENTS
            .iter()
            .filter(|event| event.family == family)
            .map(|event| event.name)
            .collect()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its due time (first attempt or a retry).
    Pending,
    /// An attempt is under way.
    InFlight,
    /// A 200 came back.
    Delivered,
    /// Given up after the retry window, or the app disappeared.
    Dropped,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// When it was made, Unix milliseconds on the mock's clock.
    pub at_ms: i64,
    /// The `t` of the `TikTok-Signature` header sent.
    pub signed_at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed without an HTTP answer (connection refused, timeout).
    pub error: Option<String>,
}

/// One event on its way to one app's callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Order of creation.
    pub id: u64,
    /// The app.
    pub client_key: String,
    /// The event name.
    pub event: String,
    /// The user, when the event has one.
    pub user_openid: Option<String>,
    /// The callback URL at the time the event was queued.
    pub url: String,
    /// The exact body sent on every attempt.
    pub body: String,
    /// When the event was queued, Unix milliseconds on the mock's clock.
    pub created_at_ms: i64,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_ms: Option<i64>,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<Attempt>,
    /// The delivery this one repeats (the duplicate option).
    pub duplicate_of: Option<u64>,
}

/// How deliveries are retried and duplicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Every Nth event is delivered twice (0: never).
    pub duplicate_every: u32,
    /// Delay before the first retry, seconds; it doubles after each failure.
    pub first_retry_seconds: i64,
    /// The longest delay between two attempts, seconds.
    pub max_retry_interval_seconds: i64,
    /// How long after the event attempts go on, seconds (TikTok: 72 hours).
    pub retry_window_seconds: i64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            duplicate_every: 0,
            first_retry_seconds: 60,
            max_retry_interval_seconds: 6 * 3600,
            retry_window_seconds: 72 * 3600,
        }
    }
}

impl WebhookSettings {
    /// The delay after the `failures`-th failed attempt (1-based), milliseconds.
    pub fn backoff_ms(&self, failures: usize) -> i64 {
        let exponent = failures.saturating_sub(1).min(40) as u32;
        let delay = self
            .first_retry_seconds
            .max(1)
            .saturating_mul(1_i64 << exponent);
        delay
            .min(self.max_retry_interval_seconds.max(1))
            .saturating_mul(1000)
    }
}

#[derive(Debug, Default)]
struct Queue {
    deliveries: BTreeMap<u64, Delivery>,
    events: u64,
    settings: WebhookSettings,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    next_id: AtomicU64,
    wake: Arc<Notify>,
}

fn lock(mutex: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The webhook queue of one mock and its delivery worker.
#[derive(Debug)]
pub struct Webhooks {
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    worker_started: AtomicBool,
}

impl Webhooks {
    /// A queue delivering on behalf of the apps of `store`, timed by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Webhooks {
        Webhooks {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                next_id: AtomicU64::new(1),
                wake: Arc::new(Notify::new()),
            }),
            store,
            clock,
            worker_started: AtomicBool::new(false),
        }
    }

    /// Queues `event` for the app's callback URL; a no-op when the app is unknown or has
    /// none. Returns the ids of the deliveries queued (two with the duplicate option).
    pub fn emit(
        &self,
        client_key: &str,
        open_id: Option<&str>,
        event: &str,
        content: &Value,
    ) -> Vec<u64> {
        let Some(app) = self.store.app(client_key) else {
            return Vec::new();
        };
        let Some(url) = app.callback_url.filter(|url| !url.trim().is_empty()) else {
            return Vec::new();
        };
        let now_ms = self.clock.now_ms();
        let payload = WebhookPayload {
            client_key: app.client_key.clone(),
            event: WebhookEventKind::parse(event),
            create_time: now_ms.div_euclid(1000),
            user_openid: open_id.map(str::to_owned),
            content: content.to_string(),
        };
        let body = serde_json::to_string(&payload).unwrap_or_default();
        let mut ids = Vec::new();
        {
            let mut queue = lock(&self.shared.queue);
            queue.events += 1;
            let copies = match queue.settings.duplicate_every {
                0 => 1,
                every if queue.events.is_multiple_of(u64::from(every)) => 2,
                _ => 1,
            };
            for copy in 0..copies {
                let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
                queue.deliveries.insert(
                    id,
                    Delivery {
                        id,
                        client_key: app.client_key.clone(),
                        event: event.to_owned(),
                        user_openid: open_id.map(str::to_owned),
                        url: url.clone(),
                        body: body.clone(),
                        created_at_ms: now_ms,
                        state: DeliveryState::Pending,
                        next_attempt_ms: Some(now_ms),
                        attempts: Vec::new(),
                        duplicate_of: (copy > 0).then(|| ids[0]),
                    },
                );
                ids.push(id);
            }
        }
        tracing::debug!(client_key, event, ?ids, "webhook queued");
        self.wake();
        ids
    }

    /// Makes the worker look for due deliveries now (after a clock advance, a new event).
    /// Starts the worker on the current tokio runtime if it is not running yet.
    pub fn wake(&self) {
        self.start_worker();
        self.shared.wake.notify_one();
    }

    /// Every delivery, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared.queue)
            .deliveries
            .values()
            .cloned()
            .collect()
    }

    /// The retry and duplicate settings.
    pub fn settings(&self) -> WebhookSettings {
        lock(&self.shared.queue).settings
    }

    /// Replaces the retry and duplicate settings.
    pub fn set_settings(&self, settings: WebhookSettings) {
        lock(&self.shared.queue).settings = settings;
    }

    /// Forgets every delivery (pending ones included) and the event count; keeps the settings.
    pub fn clear(&self) {
        let mut queue = lock(&self.shared.queue);
        queue.deliveries.clear();
        queue.events = 0;
    }

    fn start_worker(&self) {
        if self.worker_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.worker_started.store(false, Ordering::SeqCst);
            return;
        };
        let http = match reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent("tiktok-mock-webhooks")
            .build()
        {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "webhooks: cannot build the HTTP client");
                return;
            }
        };
        let worker = Worker {
            shared: Arc::downgrade(&self.shared),
            wake: self.shared.wake.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            http,
        };
        runtime.spawn(worker.run());
    }
}

struct Worker {
    shared: Weak<Shared>,
    wake: Arc<Notify>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

/// What the worker sends for one due delivery.
struct Due {
    id: u64,
    client_key: String,
    url: String,
    body: String,
}

impl Worker {
    async fn run(self) {
        let this = Arc::new(self);
        loop {
            let Some(shared) = this.shared.upgrade() else {
                return;
            };
            let now_ms = this.clock.now_ms();
            let due = take_due(&shared, now_ms);
            drop(shared);
            for due in due {
                tokio::spawn(this.clone().attempt(due, now_ms));
            }
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    async fn attempt(self: Arc<Self>, due: Due, at_ms: i64) {
        let signed_at = at_ms.div_euclid(1000);
        let secret = self.store.app(&due.client_key).map(|app| app.client_secret);
        let (status, error) = match secret {
            None => (None, Some("the app no longer exists".to_owned())),
            Some(secret) => {
                let mut signed = due.body.as_bytes();
                if mutant!(WebhookWrongBytes) {
                    signed = &signed[..signed.len().saturating_sub(1)];
                }
                let signature = signature_header(&secret, signed_at, signed);
                let sent = self
                    .http
                    .post(&due.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, signature)
                    .body(due.body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) => (Some(response.status().as_u16()), None),
                    Err(error) => (None, Some(error.to_string())),
                }
            }
        };
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut queue = lock(&shared.queue);
        let settings = queue.settings;
        let Some(delivery) = queue.deliveries.get_mut(&due.id) else {
            return;
        };
        let app_gone = status.is_none() && error.as_deref() == Some("the app no longer exists");
        delivery.attempts.push(Attempt {
            at_ms,
            signed_at,
            status,
            error,
        });
        if status == Some(200) {
            delivery.state = DeliveryState::Delivered;
            delivery.next_attempt_ms = None;
            tracing::debug!(id = due.id, event = %delivery.event, "webhook delivered");
            return;
        }
        let next = at_ms.saturating_add(settings.backoff_ms(delivery.attempts.len()));
        let deadline = delivery
            .created_at_ms
            .saturating_add(settings.retry_window_seconds.saturating_mul(1000));
        if app_gone || next > deadline {
            delivery.state = DeliveryState::Dropped;
            delivery.next_attempt_ms = None;
            tracing::warn!(
                id = due.id,
                client_key = %delivery.client_key,
                event = %delivery.event,
                attempts = delivery.attempts.len(),
                "webhook dropped: no 200 within the retry window"
            );
        } else {
            delivery.state = DeliveryState::Pending;
            delivery.next_attempt_ms = Some(next);
        }
    }
}

/// Marks the deliveries due at `now_ms` in flight and returns them.
fn take_due(shared: &Shared, now_ms: i64) -> Vec<Due> {
    let mut queue = lock(&shared.queue);
    queue
        .deliveries
        .values_mut()
        .filter(|delivery| {
            delivery.state == DeliveryState::Pending
                && delivery.next_attempt_ms.is_some_and(|due| due <= now_ms)
        })
        .map(|delivery| {
            delivery.state = DeliveryState::InFlight;
            Due {
                id: delivery.id,
                client_key: delivery.client_key.clone(),
                url: delivery.url.clone(),
                body: delivery.body.clone(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Control routes.

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::InvalidParams(format!("The request body is invalid: {error}")))
}

fn from_object<T: serde::de::DeserializeOwned>(object: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(object))
        .map_err(|error| ApiError::InvalidParams(format!("The request body is invalid: {error}")))
}

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
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter: DeliveryFilter = serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
        .map_err(|error| {
        ApiError::InvalidParams(format!("The query string is invalid: {error}"))
    })?;
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
async fn write_settings(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let changes = parse_object(&body)?;
    let mut current = match serde_json::to_value(state.webhooks().settings()) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    current.extend(changes);
    let settings: WebhookSettings = from_object(current)?;
    if settings.first_retry_seconds < 1
        || settings.max_retry_interval_seconds < 1
        || settings.retry_window_seconds < 0
    {
        return Err(ApiError::InvalidParams(
            "first_retry_seconds and max_retry_interval_seconds must be at least 1, retry_window_seconds at least 0"
                .to_owned(),
        ));
    }
    state.webhooks().set_settings(settings);
    Ok(Json(settings).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackRequest {
    client_key: Option<String>,
    /// The URL, or null / "" for none.
    #[serde(default, deserialize_with = "present")]
    callback_url: Option<Option<String>>,
    webhook_family: Option<EventFamily>,
}

/// A field that is present, null included (`Some(None)` for null).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `POST /_mock/webhooks/callback`: an app's callback URL and event family.
async fn set_callback(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: CallbackRequest = from_object(parse_object(&body)?)?;
    let mut app = app_or_first(&state, request.client_key.as_deref())?;
    if let Some(url) = request.callback_url {
        let url = url.filter(|url| !url.trim().is_empty());
        if let Some(url) = &url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ApiError::InvalidParams(format!(
                "callback_url: expected an http(s) URL, found {:?}",
                crate::validate::truncate(url)
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
async fn fire_event(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: EventRequest = from_object(parse_object(&body)?)?;
    let meta = tiktok_api::WEBHOOK_EVENTS
        .iter()
        .find(|event| event.name == request.event)
        .ok_or_else(|| {
            ApiError::InvalidParams(format!(
                "event: {:?} is not one of {}",
                crate::validate::truncate(&request.event),
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
    if let Some(open_id) = &request.open_id
        && state.store().creator(open_id).is_none()
    {
        return Err(ApiError::InvalidParams(format!(
            "open_id: no creator {open_id:?}"
        )));
    }
    let content = match (&request.content, request.reason, request.request_id) {
        (Some(content), None, None) if content.is_object() => content.clone(),
        (None, reason, None) if meta.name == "authorization.removed" => {
            let reason = reason.unwrap_or(0);
            if !meta.reason_codes.iter().any(|(code, _)| *code == reason) {
                return Err(ApiError::InvalidParams(format!(
                    "reason: {reason} is not one of {}",
                    meta.reason_codes
                        .iter()
                        .map(|(code, text)| format!("{code} ({text})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            json!({ "reason": reason })
        }
        (None, None, request_id) if meta.name == "portability.download.ready" => {
            json!({ "request_id": request_id.unwrap_or(1) })
        }
        _ => {
            return Err(ApiError::InvalidParams(
                "give `reason` for authorization.removed, `request_id` for portability.download.ready, or `content` (an object) for any event"
                    .to_owned(),
            ));
        }
    };
    if meta.name == "authorization.removed" && request.open_id.is_none() {
        return Err(ApiError::InvalidParams(
            "open_id: is required for authorization.removed (the user who removed the app)"
                .to_owned(),
        ));
    }
    let mut revoked = 0;
    if meta.name == "authorization.removed"
        && request.revoke.unwrap_or(true)
        && let Some(open_id) = &request.open_id
    {
        for token in state.store().tokens_of(&app.client_key, open_id) {
            if crate::oauth::revoke_authorization(state.store(), &token) {
                revoked += 1;
            }
        }
    }
    let ids = state.webhooks().emit(
        &app.client_key,
        request.open_id.as_deref(),
        meta.name,
        &content,
    );
    Ok(Json(json!({ "deliveries": ids, "revoked_tokens": revoked })).into_response())
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

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = WebhookSettings::default();
        assert_eq!(settings.backoff_ms(1), 60_000);
        assert_eq!(settings.backoff_ms(2), 120_000);
        assert_eq!(settings.backoff_ms(3), 240_000);
        assert_eq!(settings.backoff_ms(100), 6 * 3600 * 1000);
    }

    #[test]
    fn families_come_from_the_table() {
        assert!(
            EventFamily::Seed
                .events()
                .contains(&"video.publish.completed")
        );
        assert!(
            EventFamily::Real
                .events()
                .contains(&"post.publish.complete")
        );
        assert!(
            !EventFamily::Real
                .events()
                .contains(&"authorization.removed")
        );
    }
}
