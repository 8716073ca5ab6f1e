//! What tests of code that talks to the mock share (feature `testing`): a client of the
//! mock's control API over HTTP ([`Control`], as any app or language would use it),
//! [`eventually`], the demo data's people and app read from the fixtures, never copied, and
//! [`chromedriver`] for the tests that drive a page in headless Chromium.

use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use serde_json::{Value, json};
use tiktok_api::{
    Client, MemoryTokenStore, RetryPolicy, Scope, StoredToken, TokenStore, UserClient,
};

use crate::fixtures::Fixtures;
use crate::server::MockServer;

/// The demo creator with the most videos (a test checks it against the embedded demo data).
pub const DEMO_OPEN_ID: &str = "-000demo4d3f7a1c9e2b4f6a8c0d2e4f6a8b";
/// The demo data's private creator, where the unaudited demo app may post directly too (a
/// test checks it against the embedded demo data).
pub const PRIVATE_OPEN_ID: &str = "-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70";

/// The demo app's client key and secret (the fixtures' first app).
pub fn demo_credentials() -> (String, String) {
    let app = Fixtures::demo()
        .apps
        .into_iter()
        .next()
        .expect("the demo data has an app");
    (app.client_key, app.client_secret)
}

/// A mock with the demo data on a real socket, and its control API.
pub async fn mock() -> (MockServer, Control) {
    let mock = MockServer::start().await;
    let control = Control::new(mock.uri());
    (mock, control)
}

/// Retries as the client's default policy makes them, but 1 to 5 ms apart.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

/// A client of the mock `control` speaks to, as its first app, with [`fast_retries`].
pub async fn client(control: &Control) -> Client {
    let (key, secret) = control.app().await;
    Client::builder()
        .base_url(control.base())
        .credentials(key, secret)
        .retry_policy(fast_retries())
        .build()
        .expect("a client of the mock")
}

/// A user handle whose store holds a token the mock minted for `open_id` with `scopes`,
/// marked as expiring in `expires_in` seconds on this machine's clock.
pub async fn user(
    client: &Client,
    control: &Control,
    open_id: &str,
    scopes: &[&str],
    expires_in: i64,
) -> (UserClient, Arc<MemoryTokenStore>) {
    let minted = control.mint(open_id, scopes).await;
    let token: tiktok_api::Token =
        serde_json::from_value(minted).expect("the mock's token answer decodes");
    let store = Arc::new(MemoryTokenStore::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    let mut stored = StoredToken::from_token(&token, open_id, now, None);
    stored.access_expires_at = now + expires_in;
    store.save(&stored).await.expect("a memory store saves");
    (client.user(store.clone(), open_id), store)
}

/// Polls `check` until it yields a value, every 10 ms, for 10 s of real time at most, then
/// panics: a bound against hanging, not a timing assertion.
pub async fn eventually<T, F, Fut>(check: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..1000 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the condition did not hold within 10 s");
}

/// A client of the mock's control API (`/_mock/…`) at `base`. Every call panics with the
/// path and the answer when the mock refuses it: it is for tests.
#[derive(Debug, Clone)]
pub struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    /// The control API of the mock at `base` (its `uri()`).
    pub fn new(base: impl Into<String>) -> Self {
        Control {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The mock's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `path`; the JSON answer of a 2xx.
    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        assert!(status.is_success(), "GET {path}: HTTP {status}: {value}");
        value
    }

    /// POSTs `body` to `path`; the HTTP status and the JSON answer, whatever they are.
    pub async fn post_raw(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        let status = response.status().as_u16();
        let value = response
            .json()
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        (status, value)
    }

    /// POSTs `body` to `path`; the JSON answer of a 2xx.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.post_raw(path, body.clone()).await;
        assert!(
            (200..300).contains(&status),
            "POST {path} {body}: HTTP {status}: {value}"
        );
        value
    }

    /// A user token (with its refresh token) for `open_id` with `scopes`, as the token
    /// endpoint's JSON.
    pub async fn mint(&self, open_id: &str, scopes: &[&str]) -> Value {
        self.post(
            "/_mock/tokens",
            json!({"open_id": open_id, "scopes": scopes}),
        )
        .await
    }

    /// An access token for `open_id` (the default creator when `None`) with `scopes`,
    /// expiring in `expires_in` seconds if given.
    pub async fn access_token(
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
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {answer}"))
            .to_string()
    }

    /// A client token (`clt.…`, the Research API's kind) for the first app.
    pub async fn client_token(&self) -> String {
        let answer = self
            .post("/_mock/tokens", json!({ "kind": "client" }))
            .await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {answer}"))
            .to_string()
    }

    /// Revokes an access token.
    pub async fn revoke(&self, access_token: &str) {
        self.post(
            "/_mock/tokens/revoke",
            json!({ "access_token": access_token }),
        )
        .await;
    }

    /// The first app's client key and secret, as the mock serves them.
    pub async fn app(&self) -> (String, String) {
        let apps = self.get("/_mock/apps").await;
        let app = &apps["apps"][0];
        let field = |name: &str| {
            app[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {apps}"))
                .to_string()
        };
        (field("client_key"), field("client_secret"))
    }

    /// The call log's entries for the endpoint `id`.
    pub async fn calls_to(&self, id: &str) -> Vec<Value> {
        let calls = self.get("/_mock/calls").await;
        calls["calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .filter(|call| call["endpoint"] == id)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The next `count` calls to the endpoint `id` answer with `error_code`.
    pub async fn fault(&self, id: &str, count: u32, error_code: &str) {
        self.post(
            "/_mock/faults",
            json!({"endpoint": id, "count": count, "error_code": error_code}),
        )
        .await;
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
        answer["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {answer}"))
            .to_string()
    }

    /// Advances the manual clock by `millis`.
    pub async fn advance_ms(&self, millis: i64) {
        self.post("/_mock/clock/advance", json!({ "millis": millis }))
            .await;
    }
}

/// chromedriver (`$CHROMEDRIVER`, else `chromedriver` on the `PATH`), killed when dropped,
/// and its URL. Started on port 0: it binds a free port itself and says which on its
/// standard output, so no port is chosen first and bound again.
pub async fn chromedriver() -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let mut child = tokio::process::Command::new(&binary)
        .arg("--port=0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("{binary}: {error} (install chromium-driver)"));
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("chromedriver's output") {
            if let Some(port) = line
                .split_once("started successfully on port ")
                .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse::<u16>().ok())
            {
                return port;
            }
        }
        panic!("{binary} exited before it said its port")
    })
    .await
    .unwrap_or_else(|_| panic!("{binary} did not say its port within 30 s"));
    // Its later output is not read: drained, so a full pipe never blocks it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://127.0.0.1:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_people_are_the_fixtures() {
        let fixtures = Fixtures::demo();
        let most_videos = fixtures
            .creators
            .iter()
            .max_by_key(|fixture| fixture.videos.len() as u64 + u64::from(fixture.generate_videos))
            .map(|fixture| fixture.creator.open_id.as_str());
        assert_eq!(most_videos, Some(DEMO_OPEN_ID));
        let private = fixtures
            .creators
            .iter()
            .find(|fixture| {
                fixture
                    .creator
                    .posting
                    .as_ref()
                    .is_some_and(|posting| posting.private_account)
            })
            .map(|fixture| fixture.creator.open_id.as_str());
        assert_eq!(private, Some(PRIVATE_OPEN_ID));
        assert_eq!(demo_credentials().0, fixtures.apps[0].client_key);
    }
}
