//! The shared state of one mock: store, clock, settings, endpoint table, the webhook queue
//! and the behaviour registry it is given (by endpoint id; it names no feature).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tiktok_api::WebhookEventKind;
use tiktok_api::meta::{EndpointMeta, FieldMeta, WebhookFamily};

use crate::clock::{Clock, ClockKind, ManualClock, SystemClock};
use crate::error::{ApiError, Data};
use crate::fixtures::{FixtureError, Fixtures};
use crate::random::random_token;
use crate::settings::{ApiSettings, OAuthSettings, Posting};
use crate::store::call_ring::CallRing;
use crate::store::memory::MemoryStore;
use crate::store::{Store, TokenRecord};
use crate::tokens::{DemoTokens, MintRequest, TokenResponse, default_open_id, put_demo_tokens};
use crate::webhook_queue::Webhooks;

/// The first id of videos added through the control API or published by posts.
const CONTROL_VIDEO_ID_BASE: u64 = 7_310_000_000_000_000_000;

/// Where a durable store keeps the demo tokens; their presence marks a state file whose
/// fixtures are loaded.
const META_DEMO_TOKENS: &str = "demo_tokens";
/// Where a durable store keeps the settings.
const META_SETTINGS: &str = "settings";
/// Where a durable store keeps the manual clock's time.
const META_CLOCK_MS: &str = "clock_ms";

/// What a behaviour sees of a call that passed authentication, scopes, rate limit and validation.
#[derive(Debug)]
pub struct Call<'a> {
    /// The endpoint.
    pub endpoint: &'static EndpointMeta,
    /// The access token, for token-authenticated endpoints.
    pub token: Option<&'a TokenRecord>,
    /// The fields asked for, in order, without repeats (endpoints with `fields`).
    pub fields: &'a [&'static FieldMeta],
    /// The request body, validated against the endpoint's request schema (`{}` when it has none).
    pub body: &'a Value,
    /// The time of the call on the mock's clock, Unix milliseconds.
    pub now_ms: i64,
}

impl Call<'_> {
    /// The creator the user token acts for.
    pub fn open_id(&self) -> Result<&str, ApiError> {
        self.token
            .and_then(|token| token.open_id.as_deref())
            .ok_or_else(|| {
                ApiError::AccessTokenInvalid(
                    "The access token is invalid or not found in the request.".to_owned(),
                )
            })
    }
}

/// An endpoint's behaviour: the response's `data` from a validated call (a
/// `serde_json::Value` converts with `.into()`).
pub type Behaviour = Arc<dyn Fn(&AppState, &Call<'_>) -> Result<Data, ApiError> + Send + Sync>;

/// Behaviours by endpoint id.
pub type Registry = HashMap<String, Behaviour>;

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    rate_limit_scale: f64,
    endpoints: &'static [&'static EndpointMeta],
    behaviours: Registry,
    fixtures: Fixtures,
    demo_tokens: DemoTokens,
    next_video_id: AtomicU64,
    webhooks: Webhooks,
    oauth: Mutex<OAuthSettings>,
    api: RwLock<ApiSettings>,
    posting: Posting,
    /// Held shared by every call while it reads or changes the store, and exclusively by a
    /// reset: no call sees the mock half reset.
    reset_gate: RwLock<()>,
}

/// The state one mock server runs on. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("clock", &self.inner.clock)
            .field("rate_limit_scale", &self.inner.rate_limit_scale)
            .field("endpoints", &self.inner.endpoints.len())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// A shared hold on the store's contents: while it is held no reset runs, so what a
    /// call reads and writes under it is all from before a reset or all from after. Held
    /// around the synchronous parts of a call, never across an `.await` and never twice on
    /// one thread (a reset waiting for it would then wait forever).
    pub fn consistent(&self) -> parking_lot::RwLockReadGuard<'_, ()> {
        self.inner.reset_gate.read()
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The current time on the mock's clock, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The endpoint table the routes come from.
    pub fn endpoints(&self) -> &'static [&'static EndpointMeta] {
        self.inner.endpoints
    }

    /// The hand-written behaviour of an endpoint, if it has one.
    pub fn behaviour(&self, endpoint_id: &str) -> Option<&Behaviour> {
        self.inner.behaviours.get(endpoint_id)
    }

    /// Runs the endpoint's behaviour for a call.
    pub fn run_behaviour(&self, call: &Call<'_>) -> Option<Result<Data, ApiError>> {
        self.behaviour(call.endpoint.id)
            .map(|behaviour| behaviour(self, call))
    }

    /// The tokens minted at start.
    pub fn demo_tokens(&self) -> &DemoTokens {
        &self.inner.demo_tokens
    }

    /// The fixtures the state was built from.
    pub fn fixtures(&self) -> &Fixtures {
        &self.inner.fixtures
    }

    /// The multiplier of every spec rate limit.
    pub fn rate_limit_scale(&self) -> f64 {
        self.inner.rate_limit_scale
    }

    /// `limit` times the rate-limit scale, rounded down, at least 1.
    pub fn scaled(&self, limit: u64) -> u32 {
        tiktok_api::meta::scale_limit(limit, self.inner.rate_limit_scale)
    }

    /// The calls `endpoint` allows per window after scaling (at least 1).
    pub fn rate_limit(&self, endpoint: &EndpointMeta) -> u32 {
        endpoint.rate_limit.scaled(self.inner.rate_limit_scale)
    }

    /// A fresh id for a video added through the control API.
    pub fn next_video_id(&self) -> String {
        self.inner
            .next_video_id
            .fetch_add(1, Ordering::SeqCst)
            .to_string()
    }

    /// The creator with the most videos (the default `open_id` of minted tokens).
    pub fn default_open_id(&self) -> Option<String> {
        default_open_id(self.store())
    }

    /// The open_id each app sees for a user (`crate::open_ids`).
    pub fn open_ids(&self) -> crate::open_ids::OpenIds<'_> {
        crate::open_ids::OpenIds::new(self.store(), &self.inner.fixtures)
    }

    /// Mints a token as `POST /_mock/tokens` does.
    pub fn mint_token(&self, request: &MintRequest) -> Result<TokenResponse, ApiError> {
        crate::tokens::mint_token(self.open_ids(), self.now_ms(), request)
    }

    /// Content posting: base URL, settings (processing time) and publish ids.
    pub fn posting(&self) -> &Posting {
        &self.inner.posting
    }

    /// The mock's own base URL (`http://HOST:PORT`), as upload URLs use it.
    pub fn base_url(&self) -> String {
        self.inner.posting.base_url()
    }

    /// Tells the state where the server listens (the server does it once bound).
    pub fn set_base_url(&self, base_url: &str) {
        self.inner.posting.set_base_url(base_url);
    }

    /// Token lifetimes and refresh-token rotation in force.
    pub fn oauth_settings(&self) -> OAuthSettings {
        *self.inner.oauth.lock()
    }

    /// Replaces the token lifetimes and refresh-token rotation.
    pub fn set_oauth_settings(&self, settings: OAuthSettings) {
        *self.inner.oauth.lock() = settings;
        self.persist_settings();
    }

    /// How the API endpoints behave where TikTok's behaviour varies.
    pub fn api_settings(&self) -> ApiSettings {
        *self.inner.api.read()
    }

    /// Replaces the API behaviour settings.
    pub fn set_api_settings(&self, settings: ApiSettings) {
        *self.inner.api.write() = settings;
        self.persist_settings();
    }

    /// Keeps the settings in a durable store (every group, as [`AppState::settings_json`]).
    fn persist_settings(&self) {
        if self.store().durable() {
            self.store().put_meta(META_SETTINGS, &self.settings_json());
        }
    }

    /// Keeps the manual clock's time in a durable store (after it moved).
    pub fn persist_clock(&self) {
        if self.store().durable()
            && let Some(manual) = self.clock().as_manual()
        {
            self.store()
                .put_meta(META_CLOCK_MS, &Value::from(manual.now_ms()));
        }
    }

    /// The calls per window `endpoint` allows, or `None` when it is not limited: a limit
    /// TikTok documents is always enforced (scaled); one it does not (the OAuth endpoints)
    /// only when `rate_limit_per_minute` is set in the OAuth settings.
    pub fn enforced_rate_limit(&self, endpoint: &EndpointMeta) -> Option<u32> {
        if endpoint.rate_limit.documented {
            Some(self.rate_limit(endpoint))
        } else {
            self.oauth_settings().rate_limit_per_minute
        }
    }

    /// Every setting, by group: `api`, `oauth`, `posting`, `webhooks` (`GET /_mock/settings`).
    pub fn settings_json(&self) -> Value {
        json!({
            "api": self.api_settings(),
            "oauth": self.oauth_settings(),
            "posting": self.posting().settings(),
            "webhooks": self.webhooks().settings(),
        })
    }

    /// Changes the settings named in `changes` (`{"api": {...}, "oauth": {...}, ...}`; only
    /// the fields given change), all or nothing; the message names the bad field.
    pub fn apply_settings(&self, changes: &Value) -> Result<(), String> {
        let Value::Object(groups) = changes else {
            return Err(
                "settings: expected an object of groups (api, oauth, posting, webhooks)".to_owned(),
            );
        };
        let mut api = self.api_settings();
        let mut oauth = self.oauth_settings();
        let mut posting = self.posting().settings();
        let mut webhooks = self.webhooks().settings();
        for (group, change) in groups {
            match group.as_str() {
                "api" => api = merge(group, &api, change)?,
                "oauth" => {
                    let mut change = change.clone();
                    if let Some(preset) = change.as_object_mut().and_then(|c| c.remove("lifetimes"))
                    {
                        let preset = preset.as_str().unwrap_or("(not a string)");
                        oauth = oauth
                            .with_lifetimes(preset)
                            .map_err(|e| format!("oauth.{e}"))?;
                    }
                    oauth = merge(group, &oauth, &change)?;
                    oauth.check().map_err(|e| format!("oauth.{e}"))?;
                }
                "posting" => {
                    posting = merge(group, &posting, change)?;
                    posting.check().map_err(|e| format!("posting: {e}"))?;
                }
                "webhooks" => {
                    webhooks = merge(group, &webhooks, change)?;
                    webhooks.check().map_err(|e| format!("webhooks: {e}"))?;
                }
                other => {
                    return Err(format!(
                        "settings: unknown group {other:?} (known: api, oauth, posting, webhooks)"
                    ));
                }
            }
        }
        *self.inner.api.write() = api;
        *self.inner.oauth.lock() = oauth;
        self.posting().set_settings(posting);
        self.webhooks().set_settings(webhooks);
        self.persist_settings();
        Ok(())
    }

    /// The webhook queue: deliveries, their attempts and the retry settings.
    pub fn webhooks(&self) -> &Webhooks {
        &self.inner.webhooks
    }

    /// Queues a webhook event for the app's callback URL (a no-op when it has none); the
    /// payload is TikTok's (the user's open_id the app's), `content` a JSON string.
    pub fn emit_event(
        &self,
        client_key: &str,
        open_id: Option<&str>,
        event: WebhookEventKind,
        content: &impl Serialize,
    ) {
        let open_id = open_id.map(|user_id| self.open_ids().of(client_key, user_id));
        let webhooks = &self.inner.webhooks;
        webhooks.emit(client_key, open_id.as_deref(), event, content);
    }

    /// Which content-posting events the app receives: the seed's or the real `post.publish.*`
    /// family (the app's `webhook_family`; seed for an unknown app).
    pub fn webhook_family(&self, client_key: &str) -> WebhookFamily {
        self.store()
            .app(client_key)
            .map(|app| app.webhook_family)
            .unwrap_or_default()
    }

    /// Takes up a durable store's contents after a restart: its settings, the manual
    /// clock's time, the id counters past every id in use, and the pending webhook
    /// deliveries (which the worker then resumes).
    fn restore(&self) {
        let store = self.store();
        if let Some(settings) = store.meta(META_SETTINGS)
            && let Err(problem) = self.apply_settings(&settings)
        {
            tracing::warn!(%problem, "state file: the saved settings do not apply; defaults kept");
        }
        if let (Some(manual), Some(now_ms)) = (
            self.clock().as_manual(),
            store.meta(META_CLOCK_MS).and_then(|value| value.as_i64()),
        ) {
            manual.set_ms(now_ms);
        }
        let posts = store.posts();
        for post in &posts {
            if let Ok(number) = post.post_id.parse::<u64>() {
                self.inner
                    .next_video_id
                    .fetch_max(number.saturating_add(1), Ordering::SeqCst);
            }
        }
        // Videos added through the control API took ids in order: step past those in use.
        loop {
            let next = self.inner.next_video_id.load(Ordering::SeqCst);
            if store.video(&next.to_string()).is_none() {
                break;
            }
            self.inner
                .next_video_id
                .fetch_max(next + 1, Ordering::SeqCst);
        }
        self.inner.webhooks.restore(store.saved_deliveries());
    }

    /// Puts everything back as at start: fixtures reloaded, demo tokens restored, tokens,
    /// rate-limit windows, faults and the call log forgotten. The clock keeps its time.
    ///
    /// One step: calls wait while it runs ([`AppState::consistent`]), and on a durable
    /// store it is one transaction, so a process killed during a reset restarts with the
    /// contents (and demo tokens) from before it.
    pub fn reset(&self) -> Result<(), FixtureError> {
        let _exclusive = self.inner.reset_gate.write();
        let durable = self.store().durable();
        let mut outcome = Ok(());
        self.store().atomically(&mut || {
            outcome = self.reload();
            if outcome.is_ok() && durable {
                self.mark_set_up();
            }
            outcome.is_ok()
        });
        outcome
    }

    /// Empties the queue and the store and loads the fixtures and the demo tokens. The queue
    /// first, so that no attempt finishing meanwhile writes a delivery back into the store.
    fn reload(&self) -> Result<(), FixtureError> {
        self.inner.webhooks.clear();
        self.store().clear();
        self.inner.fixtures.load_into(self.store(), self.now_ms())?;
        put_demo_tokens(self.store(), self.now_ms(), &self.inner.demo_tokens);
        Ok(())
    }

    /// Marks a durable store as set up completely (its demo tokens, written last).
    fn mark_set_up(&self) {
        let tokens = serde_json::to_value(&self.inner.demo_tokens).unwrap_or_default();
        self.store().put_meta(META_DEMO_TOKENS, &tokens);
    }
}

/// Builds an [`AppState`] on top of a behaviour registry.
pub struct AppStateBuilder {
    fixtures: Option<Fixtures>,
    clock: Option<Arc<dyn Clock>>,
    rate_limit_scale: Option<f64>,
    call_log_size: Option<usize>,
    call_log_bytes: Option<usize>,
    store: Option<Arc<dyn Store>>,
    endpoints: Option<&'static [&'static EndpointMeta]>,
    behaviours: Registry,
}

impl std::fmt::Debug for AppStateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppStateBuilder").finish_non_exhaustive()
    }
}

impl AppStateBuilder {
    /// A builder whose endpoints start with these behaviours (the others answer from the
    /// spec's examples).
    pub fn with_registry(behaviours: Registry) -> Self {
        AppStateBuilder {
            fixtures: None,
            clock: None,
            rate_limit_scale: None,
            call_log_size: None,
            call_log_bytes: None,
            store: None,
            endpoints: None,
            behaviours,
        }
    }

    /// Loads these fixtures instead of the demo data.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = Some(fixtures);
        self
    }

    /// Runs on the system or a manual clock.
    pub fn clock_kind(mut self, kind: ClockKind) -> Self {
        self.clock = Some(match kind {
            ClockKind::System => Arc::new(SystemClock),
            ClockKind::Manual => Arc::new(ManualClock::starting_now()),
        });
        self
    }

    /// Runs on this clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Multiplies every spec rate limit (default 1).
    pub fn rate_limit_scale(mut self, scale: f64) -> Self {
        self.rate_limit_scale = Some(scale);
        self
    }

    /// Keeps the newest `size` calls in the call log ([`CallRing`]; default
    /// [`DEFAULT_CALL_LOG_SIZE`](crate::store::call_ring::DEFAULT_CALL_LOG_SIZE)). For the
    /// fresh [`MemoryStore`]; a store given with [`AppStateBuilder::store`] has its own.
    pub fn call_log_size(mut self, size: usize) -> Self {
        self.call_log_size = Some(size);
        self
    }

    /// Keeps the call log within about `bytes` ([`CallRing::with_byte_budget`]; default
    /// [`DEFAULT_CALL_LOG_BYTES`](crate::store::call_ring::DEFAULT_CALL_LOG_BYTES)), the
    /// oldest calls dropped first. For the fresh [`MemoryStore`], as
    /// [`AppStateBuilder::call_log_size`].
    pub fn call_log_bytes(mut self, bytes: usize) -> Self {
        self.call_log_bytes = Some(bytes);
        self
    }

    /// Uses this store instead of a fresh [`MemoryStore`].
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Serves this endpoint table instead of `tiktok_api::ENDPOINTS`.
    pub fn endpoints(mut self, endpoints: &'static [&'static EndpointMeta]) -> Self {
        self.endpoints = Some(endpoints);
        self
    }

    /// Gives an endpoint hand-written behaviour (replacing any default one).
    pub fn behaviour(mut self, endpoint_id: &str, behaviour: Behaviour) -> Self {
        self.behaviours.insert(endpoint_id.to_owned(), behaviour);
        self
    }

    /// Drops an endpoint's hand-written behaviour, so it answers from the spec's examples.
    pub fn without_behaviour(mut self, endpoint_id: &str) -> Self {
        self.behaviours.remove(endpoint_id);
        self
    }

    /// Builds the state and loads the fixtures.
    pub fn build(self) -> Result<AppState, FixtureError> {
        let scale = self.rate_limit_scale.unwrap_or(1.0);
        let (call_log_size, call_log_bytes) = (self.call_log_size, self.call_log_bytes);
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| {
            Arc::new(match (call_log_size, call_log_bytes) {
                (None, None) => MemoryStore::new(),
                (size, bytes) => MemoryStore::with_call_log(CallRing::with_byte_budget(
                    size.unwrap_or(crate::store::call_ring::DEFAULT_CALL_LOG_SIZE),
                    bytes.unwrap_or(crate::store::call_ring::DEFAULT_CALL_LOG_BYTES),
                )),
            })
        });
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        // A durable store that was set up before: its contents stand, fixtures are not
        // loaded over them.
        let restored: Option<DemoTokens> = store
            .meta(META_DEMO_TOKENS)
            .and_then(|value| serde_json::from_value(value).ok());
        let state = AppState {
            inner: Arc::new(Inner {
                webhooks: Webhooks::new(store.clone(), clock.clone()),
                oauth: Mutex::new(OAuthSettings::default()),
                api: RwLock::new(ApiSettings::default()),
                store,
                clock,
                rate_limit_scale: if scale.is_finite() && scale > 0.0 {
                    scale
                } else {
                    1.0
                },
                endpoints: self.endpoints.unwrap_or(tiktok_api::ENDPOINTS),
                behaviours: self.behaviours,
                fixtures: self.fixtures.unwrap_or_else(Fixtures::demo),
                demo_tokens: restored.clone().unwrap_or_else(|| DemoTokens {
                    full: random_token("act."),
                    read_only: random_token("act."),
                }),
                next_video_id: AtomicU64::new(CONTROL_VIDEO_ID_BASE),
                posting: Posting::new(),
                reset_gate: RwLock::new(()),
            }),
        };
        if restored.is_some() {
            state.restore();
            return Ok(state);
        }
        state.reload()?;
        if let Some(settings) = &state.inner.fixtures.settings {
            state
                .apply_settings(settings)
                .map_err(|message| state.inner.fixtures.settings_error(message))?;
        }
        if state.store().durable() {
            state.persist_settings();
            state.persist_clock();
            // Last: the mark of a file set up completely.
            state.mark_set_up();
        }
        Ok(state)
    }
}

/// `current` with the fields of `change` (an object whose keys must be fields of `current`).
fn merge<T: Serialize + DeserializeOwned>(
    group: &str,
    current: &T,
    change: &Value,
) -> Result<T, String> {
    let Value::Object(change) = change else {
        return Err(format!("{group}: expected an object, found {change}"));
    };
    let mut object = match serde_json::to_value(current) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    for (key, value) in change {
        if !object.contains_key(key) {
            let known: Vec<&str> = object.keys().map(String::as_str).collect();
            return Err(format!(
                "{group}.{key}: unknown setting (known: {})",
                known.join(", ")
            ));
        }
        object.insert(key.clone(), value.clone());
    }
    serde_path_to_error::deserialize(Value::Object(object))
        .map_err(|error| format!("{group}.{}: {}", error.path(), error.inner()))
}
