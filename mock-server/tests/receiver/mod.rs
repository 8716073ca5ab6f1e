//! Test helpers for the OAuth, webhook and research tests: a webhook receiver on
//! 127.0.0.1:0 that verifies every delivery with the generated crate's `Verifier`, a mock on
//! a manual clock, and polling without timing assertions.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tiktok_api::webhook::{SIGNATURE_HEADER, Verifier, WebhookPayload};
use tiktok_mock::{ClockKind, MockServer};
use tokio::net::TcpListener;

/// The demo app of the embedded fixtures.
pub const CLIENT_KEY: &str = "awdemo7c1f2e9b4d3a";
/// Its secret.
pub const CLIENT_SECRET: &str = "demosecret-4f9a1c7e2b8d6f3a0e5c9b7d1f2a4c6e";
/// Its first redirect URI.
pub const REDIRECT_URI: &str = "http://localhost:3000/auth/callback";

/// A mock on a manual clock with the demo data.
pub async fn manual_mock() -> MockServer {
    MockServer::builder()
        .clock_kind(ClockKind::Manual)
        .start()
        .await
}

/// A generated client pointed at the mock.
pub fn client(mock: &MockServer) -> tiktok_api::Client {
    tiktok_api::Client::builder()
        .base_url(mock.uri())
        .build()
        .expect("client")
}

/// A reqwest client that does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// One delivery the receiver accepted: verified, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub payload: WebhookPayload,
    pub body: Vec<u8>,
    pub signature: String,
}

struct Inner {
    verifier: Verifier,
    /// Mock clock seconds, read when verifying.
    now: Box<dyn Fn() -> i64 + Send + Sync>,
    status: AtomicU16,
    received: Mutex<Vec<Received>>,
    rejected: Mutex<Vec<String>>,
    requests: Mutex<u32>,
}

/// A webhook receiver: answers with a settable status; a 200 only for verified deliveries.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    pub url: String,
    pub port: u16,
    task: Arc<tokio::task::JoinHandle<()>>,
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    *inner.requests.lock().unwrap() += 1;
    let status = inner.status.load(Ordering::SeqCst);
    if status != 200 {
        return StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let Some(signature) = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        inner.rejected.lock().unwrap().push("no signature".into());
        return StatusCode::UNAUTHORIZED;
    };
    match inner
        .verifier
        .verify_payload(signature, &body, (inner.now)())
    {
        Ok(payload) => {
            inner.received.lock().unwrap().push(Received {
                payload,
                body: body.to_vec(),
                signature: signature.to_owned(),
            });
            StatusCode::OK
        }
        Err(error) => {
            inner.rejected.lock().unwrap().push(error.to_string());
            StatusCode::UNAUTHORIZED
        }
    }
}

impl Receiver {
    /// A receiver on a free port verifying with `secret` at the mock's time.
    pub async fn start(mock: &MockServer, secret: &str) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Receiver::serve(mock, secret, listener)
    }

    /// A receiver on this port (for "the receiver comes back").
    pub async fn start_on(mock: &MockServer, secret: &str, port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the same port again");
        Receiver::serve(mock, secret, listener)
    }

    fn serve(mock: &MockServer, secret: &str, listener: TcpListener) -> Receiver {
        let state = mock.state().clone();
        Receiver::serve_with(
            secret,
            listener,
            Box::new(move || state.now_ms().div_euclid(1000)),
        )
    }

    /// A receiver verifying at the wall clock's time (for the binary, whose clock is its own).
    pub async fn start_wall_clock(secret: &str) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Receiver::serve_with(
            secret,
            listener,
            Box::new(|| tiktok_mock::clock::system_now_ms().div_euclid(1000)),
        )
    }

    fn serve_with(
        secret: &str,
        listener: TcpListener,
        now: Box<dyn Fn() -> i64 + Send + Sync>,
    ) -> Receiver {
        let port = listener.local_addr().expect("address").port();
        let inner = Arc::new(Inner {
            verifier: Verifier::new(secret),
            now,
            status: AtomicU16::new(200),
            received: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            requests: Mutex::new(0),
        });
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            inner,
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            task: Arc::new(task),
        }
    }

    /// Answers every request with `status` from now on (non-200: the delivery fails).
    pub fn answer(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// The verified deliveries so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Deliveries that failed verification.
    pub fn rejected(&self) -> Vec<String> {
        self.inner.rejected.lock().unwrap().clone()
    }

    /// Every request, answered or not.
    pub fn requests(&self) -> u32 {
        *self.inner.requests.lock().unwrap()
    }

    /// Stops listening.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// Waits until `count` verified deliveries arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let this = self.clone();
        eventually(move || {
            let this = this.clone();
            async move { (this.received().len() >= count).then(|| this.received()) }
        })
        .await
    }
}

/// Polls `check` until it yields a value (10 s of real time at most, then panics).
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
    panic!("condition not met in 10 s");
}

/// The deliveries of the control API.
pub async fn deliveries(mock: &MockServer) -> Vec<Value> {
    let answer: Value = http()
        .get(format!("{}/_mock/webhooks/deliveries", mock.uri()))
        .send()
        .await
        .expect("deliveries")
        .json()
        .await
        .expect("json");
    answer["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until delivery `index` has `attempts` attempts recorded and is no longer in flight.
pub async fn wait_attempts(mock: &MockServer, index: usize, attempts: usize) -> Value {
    eventually(|| async {
        let list = deliveries(mock).await;
        let delivery = list.get(index)?.clone();
        let count = delivery["attempts"].as_array().map_or(0, Vec::len);
        (count >= attempts && delivery["state"] != "in_flight").then_some(delivery)
    })
    .await
}

/// POSTs JSON to a control route and returns (status, body).
pub async fn control(mock: &MockServer, path: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}{path}", mock.uri()))
        .json(&body)
        .send()
        .await
        .expect("control call");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Points the demo app's webhooks at `url`.
pub async fn set_callback(mock: &MockServer, url: &str) {
    let (status, body) = control(
        mock,
        "/_mock/webhooks/callback",
        serde_json::json!({ "callback_url": url }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
