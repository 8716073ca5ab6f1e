//! The in-process harness of the axum-level tests: the mock's `router()` on a manual clock,
//! called with `tower::ServiceExt::oneshot`, and its answers decoded.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::Value;
use tiktok_api::Scope;
use tiktok_mock::{AppState, AppStateBuilder, ManualClock, MintRequest, router};
use tower::ServiceExt;

/// 2027-01-15 08:00:00 UTC, where the manual clock of the tests starts.
pub const START_MS: i64 = 1_800_000_000_000;

/// A response, decoded.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Answer {
    /// `error.code` of a v2 envelope.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("<none>")
    }

    /// `error.message` of a v2 envelope.
    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("<none>")
    }

    /// `data` of a v2 envelope.
    pub fn data(&self) -> &Value {
        &self.json["data"]
    }

    /// Asserts a v2 error with this status and code, and a fresh-looking log id.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.text
        );
        assert_eq!(self.json["data"], serde_json::json!({}), "{}", self.text);
        let log_id = self.json["error"]["log_id"].as_str().unwrap_or_default();
        assert_eq!(log_id.len(), 34, "{}", self.text);
        assert_eq!(
            self.headers.get("x-tt-logid").and_then(|v| v.to_str().ok()),
            Some(log_id)
        );
    }

    /// Asserts a v2 success.
    pub fn assert_ok(&self) {
        assert_eq!((self.status, self.code()), (200, "ok"), "{}", self.text);
        assert_eq!(self.message(), "");
    }
}

/// The mock in process, on a manual clock.
pub struct Harness {
    pub state: AppState,
    pub router: Router,
}

impl Harness {
    /// Demo data, manual clock at [`START_MS`].
    pub fn new() -> Harness {
        Harness::with(|builder| builder)
    }

    /// Like [`Harness::new`] with more options.
    pub fn with(configure: impl FnOnce(AppStateBuilder) -> AppStateBuilder) -> Harness {
        let builder = AppState::builder().clock(Arc::new(ManualClock::new(START_MS)));
        let state = configure(builder).build().expect("state builds");
        Harness {
            router: router(state.clone()),
            state,
        }
    }

    /// Advances the manual clock.
    pub fn advance_ms(&self, millis: i64) {
        self.state
            .clock()
            .as_manual()
            .expect("manual clock")
            .advance_ms(millis);
    }

    /// A user token of the demo creator with the most videos.
    pub fn token(&self, scopes: &[Scope]) -> String {
        self.mint(MintRequest {
            scopes: Some(tiktok_mock::tokens::ScopeList::List(
                scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            )),
            ..MintRequest::default()
        })
    }

    /// A token as `POST /_mock/tokens` mints it.
    pub fn mint(&self, request: MintRequest) -> String {
        self.state.mint_token(&request).expect("mint").access_token
    }

    /// The demo creator with the most videos.
    pub fn open_id(&self) -> String {
        self.state.default_open_id().expect("a creator")
    }

    /// Sends a request.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            json,
        }
    }

    /// `GET path` with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = Request::builder().method(Method::GET).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    /// `POST path` with a JSON body and an optional bearer token.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(body.into()).expect("request")).await
    }

    /// `POST path` with raw bytes and the given headers.
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::builder().method(Method::POST).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).expect("request")).await
    }
}

/// Every user scope.
pub fn all_user_scopes() -> Vec<Scope> {
    tiktok_mock::tokens::user_scopes()
}
