//! Shared pieces of the conformance suite: the independent model computed from the
//! generated tables (never from the mock's code), a small client for the mock's
//! control API, and proptest helpers. The properties live in `tests/`.

use std::collections::VecDeque;

use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, FieldsParam};
use tiktok_api::{ErrorCode, Scope};

/// A current-thread runtime for driving async calls from proptest's synchronous runner.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot start a tokio runtime: {error}"),
    }
}

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// What the spec says a call with `granted` scopes asking for `fields` must get.
///
/// The endpoint's scopes are alternatives (any one suffices): without one, 401
/// `scope_not_authorized`. Then every requested field whose schema names a scope needs it:
/// without, 400 `scope_permission_missed`.
pub fn expected_scope_outcome(
    endpoint: &EndpointMeta,
    granted: &[Scope],
    fields: &[&str],
) -> Result<(), ErrorCode> {
    if !endpoint.scopes.iter().any(|scope| granted.contains(scope)) {
        return Err(ErrorCode::ScopeNotAuthorized);
    }
    if let Some(FieldsParam { schema, .. }) = endpoint.fields {
        for name in fields {
            match schema.field(name) {
                None => return Err(ErrorCode::InvalidParams),
                Some(field) => {
                    if let Some(scope) = field.scope
                        && !granted.contains(&scope)
                    {
                        return Err(ErrorCode::ScopePermissionMissed);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The sliding-window model: a call at `t` passes when fewer than `limit` calls passed
/// in the trailing window, i.e. at times `s` with `t - s < window_ms`.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: u32,
    window_ms: i64,
    passed: VecDeque<i64>,
}

impl SlidingWindow {
    /// A window of `window_ms` allowing `limit` calls.
    pub fn new(limit: u32, window_ms: i64) -> Self {
        SlidingWindow {
            limit,
            window_ms,
            passed: VecDeque::new(),
        }
    }

    /// Whether a call at `now_ms` passes; records it if so.
    pub fn call(&mut self, now_ms: i64) -> bool {
        while self
            .passed
            .front()
            .is_some_and(|&at| now_ms - at >= self.window_ms)
        {
            self.passed.pop_front();
        }
        if (self.passed.len() as u64) < u64::from(self.limit) {
            self.passed.push_back(now_ms);
            true
        } else {
            false
        }
    }
}

/// The limit the mock applies for `endpoint` at `--rate-limit-scale scale`, as its
/// documentation defines it: floor(per_minute × scale), at least 1.
pub fn scaled_limit(endpoint: &EndpointMeta, scale: f64) -> u32 {
    let scaled = (f64::from(endpoint.rate_limit.per_minute) * scale).floor();
    if scaled < 1.0 { 1 } else { scaled as u32 }
}

/// A client for the mock's documented control API (`/_mock/…`).
#[derive(Debug, Clone)]
pub struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    /// The control API of the mock at `base` (its `uri()`).
    pub fn new(base: &str) -> Self {
        Control {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = match self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => panic!("POST {path}: {error}"),
        };
        let status = response.status();
        let value: Value = match response.json().await {
            Ok(value) => value,
            Err(error) => panic!("POST {path}: {error}"),
        };
        assert!(
            status.is_success(),
            "POST {path} {body}: HTTP {status}: {value}"
        );
        value
    }

    /// Mints a user token for `open_id` (the default creator when `None`) with `scopes`.
    pub async fn mint(
        &self,
        open_id: Option<&str>,
        scopes: &[Scope],
        expires_in: Option<i64>,
    ) -> String {
        let mut body =
            json!({ "scopes": scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>() });
        if let Some(open_id) = open_id {
            body["open_id"] = json!(open_id);
        }
        if let Some(expires_in) = expires_in {
            body["expires_in"] = json!(expires_in);
        }
        let answer = self.post("/_mock/tokens", body).await;
        match answer["access_token"].as_str() {
            Some(token) => token.to_string(),
            None => panic!("no access_token in {answer}"),
        }
    }

    /// Creates a creator with no videos.
    pub async fn creator(&self, open_id: &str) {
        self.post(
            "/_mock/creators",
            json!({ "open_id": open_id, "display_name": open_id, "username": open_id }),
        )
        .await;
    }

    /// Adds a video to `open_id` at `create_time_ms`; returns its id.
    pub async fn video(&self, open_id: &str, create_time_ms: i64) -> String {
        let answer = self
            .post(
                "/_mock/videos",
                json!({ "open_id": open_id, "create_time_ms": create_time_ms, "title": format!("video at {create_time_ms}") }),
            )
            .await;
        match answer["id"].as_str() {
            Some(id) => id.to_string(),
            None => panic!("no id in {answer}"),
        }
    }

    /// Advances the manual clock by `millis`.
    pub async fn advance_ms(&self, millis: i64) {
        self.post("/_mock/clock/advance", json!({ "millis": millis }))
            .await;
    }
}
