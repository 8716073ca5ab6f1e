//! The shared state of one mock: store, clock, options, endpoint table and behaviours.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde_json::Value;
use tiktok_api::Scope;
use tiktok_api::meta::{Access, Auth, EndpointMeta};
use tiktok_api::spec_constants::{
    ACCESS_TOKEN_TTL_SECONDS, CLIENT_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS, SCOPE_SEPARATOR,
};

use crate::behaviours::{Behaviour, Call, default_behaviours};
use crate::clock::{Clock, ClockKind, ManualClock, SystemClock};
use crate::error::ApiError;
use crate::fixtures::{FixtureError, Fixtures};
use crate::memory::MemoryStore;
use crate::store::{Store, TokenKind, TokenRecord};
use crate::webhooks::Webhooks;

/// Lifetime of the demo tokens printed at start: a year, so the printed curl line keeps working.
pub const DEMO_TOKEN_TTL_SECONDS: i64 = 365 * 24 * 3600;

/// The first id of videos added through the control API.
const CONTROL_VIDEO_ID_BASE: u64 = 7_310_000_000_000_000_000;

/// The ready tokens minted at start (and again after a reset).
#[derive(Debug, Clone)]
pub struct DemoTokens {
    /// Every user scope, for the creator with the most videos.
    pub full: String,
    /// The read scopes only (user.info.*, video.list), same creator.
    pub read_only: String,
}

/// What `POST /_mock/tokens` asks for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The creator; the demo creator with the most videos when absent.
    pub open_id: Option<String>,
    /// The scopes; every user scope when absent (`research.data.basic` for client tokens).
    pub scopes: Option<ScopeList>,
    /// Seconds to expiry; zero or negative mints an already expired token.
    pub expires_in: Option<i64>,
    /// The app; the first app when absent.
    pub client_key: Option<String>,
    /// `user` (default) or `client`.
    pub kind: Option<TokenKind>,
}

/// Scopes as a list or a comma-separated string.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum ScopeList {
    /// `["user.info.basic", "video.list"]`.
    List(Vec<String>),
    /// `"user.info.basic,video.list"`.
    Joined(String),
}

impl ScopeList {
    fn names(&self) -> Vec<String> {
        match self {
            ScopeList::List(names) => names.clone(),
            ScopeList::Joined(text) => text
                .split(SCOPE_SEPARATOR)
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect(),
        }
    }
}

/// A token as the token endpoint answers it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds to expiry (negative for a token minted expired).
    pub expires_in: i64,
    /// The creator (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    /// The refresh token (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds to the refresh token's expiry (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<i64>,
    /// Granted scopes, comma-separated (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Always `Bearer`.
    pub token_type: String,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    rate_limit_scale: f64,
    endpoints: &'static [&'static EndpointMeta],
    behaviours: HashMap<String, Behaviour>,
    fixtures: Fixtures,
    demo_tokens: DemoTokens,
    next_video_id: AtomicU64,
    webhooks: Webhooks,
    oauth: crate::oauth::OAuth,
    posting: crate::posting::Posting,
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
    /// The demo data on the system clock, with the spec's endpoint table.
    pub fn new() -> AppState {
        AppState::builder()
            .build()
            .expect("the embedded demo data loads")
    }

    /// A builder for fixtures, clock, rate-limit scale, store, endpoint table and behaviours.
    pub fn builder() -> AppStateBuilder {
        AppStateBuilder::default()
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
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
    pub(crate) fn run_behaviour(&self, call: &Call<'_>) -> Option<Result<Value, ApiError>> {
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

    /// The calls `endpoint` allows per window after scaling (at least 1).
    pub fn rate_limit(&self, endpoint: &EndpointMeta) -> u32 {
        let scaled =
            (f64::from(endpoint.rate_limit.per_minute) * self.inner.rate_limit_scale).floor();
        if scaled >= f64::from(u32::MAX) {
            u32::MAX
        } else if scaled >= 1.0 {
            scaled as u32
        } else {
            1
        }
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
        self.store()
            .creators()
            .into_iter()
            .max_by_key(|creator| self.store().video_count(&creator.open_id))
            .map(|creator| creator.open_id)
    }

    /// Mints a token as `POST /_mock/tokens` does.
    pub fn mint_token(&self, request: &MintRequest) -> Result<TokenResponse, ApiError> {
        let kind = request.kind.unwrap_or(TokenKind::User);
        let app = match &request.client_key {
            Some(client_key) => self.store().app(client_key).ok_or_else(|| {
                ApiError::InvalidParams(format!("client_key: no app {client_key:?}"))
            })?,
            None => self
                .store()
                .apps()
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::InvalidParams("no app is registered".to_owned()))?,
        };
        let scopes = match &request.scopes {
            Some(list) => {
                let mut scopes = Vec::new();
                for name in list.names() {
                    let scope = Scope::parse(&name).ok_or_else(|| {
                        ApiError::InvalidParams(format!("scopes: unknown scope {name:?}"))
                    })?;
                    if !scopes.contains(&scope) {
                        scopes.push(scope);
                    }
                }
                scopes
            }
            None => match kind {
                TokenKind::User => user_scopes(),
                TokenKind::Client => client_scopes(),
            },
        };
        let now_ms = self.now_ms();
        match kind {
            TokenKind::User => {
                let open_id = match &request.open_id {
                    Some(open_id) => {
                        if self.store().creator(open_id).is_none() {
                            return Err(ApiError::InvalidParams(format!(
                                "open_id: no creator {open_id:?}"
                            )));
                        }
                        open_id.clone()
                    }
                    None => self.default_open_id().ok_or_else(|| {
                        ApiError::InvalidParams("no creator is registered".to_owned())
                    })?,
                };
                let expires_in = request
                    .expires_in
                    .unwrap_or(ACCESS_TOKEN_TTL_SECONDS as i64);
                let refresh_expires_in = REFRESH_TOKEN_TTL_SECONDS as i64;
                let record = TokenRecord {
                    access_token: random_token("act."),
                    kind,
                    open_id: Some(open_id.clone()),
                    client_key: app.client_key.clone(),
                    scopes: scopes.clone(),
                    expires_at_ms: now_ms.saturating_add(expires_in.saturating_mul(1000)),
                    refresh_token: Some(random_token("rft.")),
                    refresh_expires_at_ms: Some(now_ms + refresh_expires_in * 1000),
                    revoked: false,
                };
                self.store().put_token(record.clone());
                crate::oauth::register_refresh(self.store(), &record);
                Ok(TokenResponse {
                    access_token: record.access_token,
                    expires_in,
                    open_id: Some(open_id),
                    refresh_token: record.refresh_token,
                    refresh_expires_in: Some(refresh_expires_in),
                    scope: Some(
                        scopes
                            .iter()
                            .map(|scope| scope.as_str())
                            .collect::<Vec<_>>()
                            .join(SCOPE_SEPARATOR),
                    ),
                    token_type: "Bearer".to_owned(),
                })
            }
            TokenKind::Client => {
                let expires_in = request
                    .expires_in
                    .unwrap_or(CLIENT_TOKEN_TTL_SECONDS as i64);
                let record = TokenRecord {
                    access_token: random_token("clt."),
                    kind,
                    open_id: None,
                    client_key: app.client_key,
                    scopes,
                    expires_at_ms: now_ms.saturating_add(expires_in.saturating_mul(1000)),
                    refresh_token: None,
                    refresh_expires_at_ms: None,
                    revoked: false,
                };
                self.store().put_token(record.clone());
                Ok(TokenResponse {
                    access_token: record.access_token,
                    expires_in,
                    open_id: None,
                    refresh_token: None,
                    refresh_expires_in: None,
                    scope: None,
                    token_type: "Bearer".to_owned(),
                })
            }
        }
    }

    /// Content posting: base URL, settings (processing time) and publish ids.
    pub fn posting(&self) -> &crate::posting::Posting {
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

    /// OAuth settings: token lifetimes and refresh-token rotation.
    pub fn oauth(&self) -> &crate::oauth::OAuth {
        &self.inner.oauth
    }

    /// The webhook queue: deliveries, their attempts and the retry settings.
    pub fn webhooks(&self) -> &Webhooks {
        &self.inner.webhooks
    }

    /// Queues a webhook event for the app's callback URL (a no-op when it has none); the
    /// payload is TikTok's, `content` sent as a JSON string, delivered in the background.
    /// Event names come from `tiktok_api::WEBHOOK_EVENTS`; see [`AppState::webhook_family`].
    pub fn emit_event(
        &self,
        client_key: &str,
        open_id: Option<&str>,
        event: &str,
        content: serde_json::Value,
    ) {
        self.inner
            .webhooks
            .emit(client_key, open_id, event, &content);
    }

    /// Which content-posting events the app receives: the seed's or the real `post.publish.*`
    /// family (the app's `webhook_family`; seed for an unknown app).
    pub fn webhook_family(&self, client_key: &str) -> tiktok_api::meta::WebhookFamily {
        self.store()
            .app(client_key)
            .map(|app| app.webhook_family)
            .unwrap_or_default()
            .meta()
    }

    /// Puts everything back as at start: fixtures reloaded, demo tokens restored, tokens,
    /// rate-limit windows, faults and the call log forgotten. The clock keeps its time.
    pub fn reset(&self) -> Result<(), FixtureError> {
        self.store().clear();
        self.inner.webhooks.clear();
        self.inner.fixtures.load_into(self.store(), self.now_ms())?;
        self.put_demo_tokens();
        Ok(())
    }

    fn put_demo_tokens(&self) {
        let Some(open_id) = self.default_open_id() else {
            return;
        };
        let Some(app) = self.store().apps().into_iter().next() else {
            return;
        };
        let now_ms = self.now_ms();
        let tokens = &self.inner.demo_tokens;
        for (access_token, scopes) in [
            (&tokens.full, user_scopes()),
            (&tokens.read_only, read_scopes()),
        ] {
            self.store().put_token(TokenRecord {
                access_token: access_token.clone(),
                kind: TokenKind::User,
                open_id: Some(open_id.clone()),
                client_key: app.client_key.clone(),
                scopes,
                expires_at_ms: now_ms + DEMO_TOKEN_TTL_SECONDS * 1000,
                refresh_token: None,
                refresh_expires_at_ms: None,
                revoked: false,
            });
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new()
    }
}

/// The scopes an endpoint involves: its own, its `scope_by` ones and its fields'.
fn endpoint_scopes(endpoint: &EndpointMeta) -> impl Iterator<Item = Scope> + '_ {
    let by_field = endpoint
        .scope_by
        .iter()
        .flat_map(|scope_by| scope_by.scopes.iter().map(|(_, scope)| *scope));
    let of_fields = endpoint
        .fields
        .iter()
        .flat_map(|param| param.schema.fields.iter().filter_map(|field| field.scope));
    endpoint
        .scopes
        .iter()
        .copied()
        .chain(by_field)
        .chain(of_fields)
}

/// The scopes of `Scope::ALL` (in that order) that some endpoint matching `keep` involves.
fn scopes_where(keep: impl Fn(&EndpointMeta) -> bool) -> Vec<Scope> {
    let used: Vec<Scope> = tiktok_api::ENDPOINTS
        .iter()
        .filter(|endpoint| keep(endpoint))
        .flat_map(|endpoint| endpoint_scopes(endpoint))
        .collect();
    Scope::ALL
        .iter()
        .copied()
        .filter(|scope| used.contains(scope))
        .collect()
}

/// Every scope a user token can use: those of the user-token endpoints (from the table).
pub fn user_scopes() -> Vec<Scope> {
    scopes_where(|endpoint| endpoint.auth == Auth::UserToken)
}

/// The scopes of client tokens: those of the client-token endpoints (research.data.basic).
pub fn client_scopes() -> Vec<Scope> {
    scopes_where(|endpoint| endpoint.auth == Auth::ClientToken)
}

/// The read scopes: those of the user-token read endpoints with `fields` (user info and
/// the video list and query), i.e. user.info.basic, .profile, .stats and video.list.
pub fn read_scopes() -> Vec<Scope> {
    scopes_where(|endpoint| {
        endpoint.auth == Auth::UserToken
            && endpoint.access == Access::Read
            && endpoint.fields.is_some()
    })
}

/// A token string: the prefix and 48 random alphanumerics.
pub fn random_token(prefix: &str) -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

/// Builds an [`AppState`].
#[derive(Default)]
pub struct AppStateBuilder {
    fixtures: Option<Fixtures>,
    clock: Option<Arc<dyn Clock>>,
    rate_limit_scale: Option<f64>,
    store: Option<Arc<dyn Store>>,
    endpoints: Option<&'static [&'static EndpointMeta]>,
    behaviours: Vec<(String, Option<Behaviour>)>,
}

impl std::fmt::Debug for AppStateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppStateBuilder").finish_non_exhaustive()
    }
}

impl AppStateBuilder {
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
        self.behaviours
            .push((endpoint_id.to_owned(), Some(behaviour)));
        self
    }

    /// Drops an endpoint's hand-written behaviour, so it answers from the spec's examples.
    pub fn without_behaviour(mut self, endpoint_id: &str) -> Self {
        self.behaviours.push((endpoint_id.to_owned(), None));
        self
    }

    /// Builds the state and loads the fixtures.
    pub fn build(self) -> Result<AppState, FixtureError> {
        let mut behaviours = default_behaviours();
        for (id, behaviour) in self.behaviours {
            match behaviour {
                Some(behaviour) => {
                    behaviours.insert(id, behaviour);
                }
                None => {
                    behaviours.remove(&id);
                }
            }
        }
        let scale = self.rate_limit_scale.unwrap_or(1.0);
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let state = AppState {
            inner: Arc::new(Inner {
                webhooks: Webhooks::new(store.clone(), clock.clone()),
                oauth: crate::oauth::OAuth::default(),
                store,
                clock,
                rate_limit_scale: if scale.is_finite() && scale > 0.0 {
                    scale
                } else {
                    1.0
                },
                endpoints: self.endpoints.unwrap_or(tiktok_api::ENDPOINTS),
                behaviours,
                fixtures: self.fixtures.unwrap_or_else(Fixtures::demo),
                demo_tokens: DemoTokens {
                    full: random_token("act."),
                    read_only: random_token("act."),
                },
                next_video_id: AtomicU64::new(CONTROL_VIDEO_ID_BASE),
                posting: crate::posting::Posting::new(),
            }),
        };
        state.reset()?;
        Ok(state)
    }
}
