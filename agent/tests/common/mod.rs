//! Shared helpers of the client's tests against the mock: a control-API client over HTTP
//! (the tests see the mock only through its socket, as any app would).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tiktok_api::{Client, MemoryTokenStore, RetryPolicy, StoredToken, TokenStore};

/// The demo creator with the most videos.
pub const DEMO_OPEN_ID: &str = "-000demo4d3f7a1c9e2b4f6a8c0d2e4f6a8b";
/// The demo data's private creator (where the unaudited demo app may post directly too).
pub const PRIVATE_OPEN_ID: &str = "-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70";

/// The mock's control API.
pub struct Control {
    pub base: String,
    http: reqwest::Client,
}

impl Control {
    pub fn new(base: impl Into<String>) -> Self {
        Control {
            base: base.into(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {value}");
        value
    }

    /// A user token (with refresh token) minted by the mock.
    pub async fn mint(&self, open_id: &str, scopes: &[&str]) -> Value {
        self.post(
            "/_mock/tokens",
            json!({"open_id": open_id, "scopes": scopes}),
        )
        .await
    }

    /// The demo app's credentials.
    pub async fn app(&self) -> (String, String) {
        let apps = self.get("/_mock/apps").await;
        let app = &apps["apps"][0];
        (
            app["client_key"].as_str().unwrap().to_string(),
            app["client_secret"].as_str().unwrap().to_string(),
        )
    }

    /// The call log's entries for `endpoint`.
    pub async fn calls_to(&self, endpoint: &str) -> Vec<Value> {
        let calls = self.get("/_mock/calls").await;
        calls["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|call| call["endpoint"] == endpoint)
            .cloned()
            .collect()
    }

    pub async fn fault(&self, endpoint: &str, count: u32, error_code: &str) {
        self.post(
            "/_mock/faults",
            json!({"endpoint": endpoint, "count": count, "error_code": error_code}),
        )
        .await;
    }
}

pub async fn mock() -> (tiktok_mock::MockServer, Control) {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    (mock, control)
}

pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

pub async fn client(control: &Control) -> Client {
    let (key, secret) = control.app().await;
    Client::builder()
        .base_url(&control.base)
        .credentials(key, secret)
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

/// A user handle whose store holds a token minted by the mock, marked as expiring in
/// `expires_in` seconds on this machine's clock.
pub async fn user(
    client: &Client,
    control: &Control,
    open_id: &str,
    scopes: &[&str],
    expires_in: i64,
) -> (tiktok_api::UserClient, Arc<MemoryTokenStore>) {
    let minted = control.mint(open_id, scopes).await;
    let token: tiktok_api::Token = serde_json::from_value(minted).unwrap();
    let store = Arc::new(MemoryTokenStore::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut stored = StoredToken::from_token(&token, open_id, now, None);
    stored.access_expires_at = now + expires_in;
    store.save(&stored).await.unwrap();
    (client.user(store.clone(), open_id), store)
}
