//! The webhook receiver against the mock's real deliveries over real sockets: genuine events
//! arrive typed; a flipped byte, a replay past the tolerance and a missing signature are
//! 401; a duplicate reaches the app once and is answered 200; the duplicate set stays at
//! its capacity; a failed handler gets the retry; and the `receive_webhooks` example prints
//! each event. The mock is driven only through HTTP (its control API and the OAuth revoke
//! endpoint); no assertion depends on timing.

mod common;
#[allow(dead_code)]
#[path = "../examples/receive_webhooks.rs"]
mod example;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use common::{Control, eventually};
use serde_json::{Value, json};
use tiktok_api::webhook::receiver::{WebhookEvent, WebhookReceiver, WebhookReceiverBuilder};
use tiktok_api::webhook::{SIGNATURE_HEADER, Verifier, signature_header};
use tiktok_api::{WebhookContent, WebhookEventKind};
use tiktok_mock::{ClockKind, MockServer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The demo app of the mock's embedded fixtures, read from them (never copied here).
fn demo_app() -> &'static tiktok_mock::store::App {
    static DEMO_APP: std::sync::LazyLock<tiktok_mock::store::App> =
        std::sync::LazyLock::new(|| {
            tiktok_mock::Fixtures::demo()
                .apps
                .into_iter()
                .next()
                .expect("the demo data has an app")
        });
    &DEMO_APP
}

/// The demo app's client key.
fn client_key() -> &'static str {
    &demo_app().client_key
}

/// The demo app's client secret.
fn client_secret() -> &'static str {
    &demo_app().client_secret
}

/// One request as it reached the receiver's socket, and the answer it got.
#[derive(Debug, Clone)]
struct Captured {
    signature: Option<String>,
    body: Vec<u8>,
    status: u16,
}

/// A receiver served on 127.0.0.1:0 behind a tap that records every request.
struct Served {
    url: String,
    receiver: WebhookReceiver,
    captured: Arc<Mutex<Vec<Captured>>>,
}

impl Served {
    async fn start(receiver: WebhookReceiver) -> Served {
        let captured = Arc::new(Mutex::new(Vec::new()));
        let log = captured.clone();
        let tap = axum::middleware::from_fn(move |request: Request, next: Next| {
            let log = log.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let signature = parts
                    .headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let response = next
                    .run(Request::from_parts(parts, Body::from(body.clone())))
                    .await;
                log.lock().unwrap().push(Captured {
                    signature,
                    body: body.to_vec(),
                    status: response.status().as_u16(),
                });
                response
            }
        });
        let app = Router::new()
            .route("/hook", receiver.method_router())
            .layer(tap);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Served {
            url,
            receiver,
            captured,
        }
    }

    fn captured(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }

    /// POSTs `body` with `signature` (none: no header) to the receiver; the status.
    async fn post(&self, signature: Option<&str>, body: &[u8]) -> u16 {
        let mut request = http()
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request.send().await.expect("post").status().as_u16()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A mock on a manual clock with the demo data.
async fn manual_mock() -> MockServer {
    MockServer::builder()
        .clock_kind(ClockKind::Manual)
        .start()
        .await
}

/// A receiver builder verifying at the mock's clock.
fn at_mock_time(mock: &MockServer) -> WebhookReceiverBuilder {
    let state = mock.state().clone();
    WebhookReceiver::builder(Verifier::new(client_secret()))
        .clock(move || state.now_ms().div_euclid(1000))
}

/// POSTs JSON to a mock route; the answer's JSON.
async fn control(mock: &MockServer, path: &str, body: Value) -> Value {
    Control::new(mock.uri()).post(path, body).await
}

async fn set_callback(mock: &MockServer, url: &str) {
    control(
        mock,
        "/_mock/webhooks/callback",
        json!({ "callback_url": url }),
    )
    .await;
}

async fn fire_portability(mock: &MockServer, request_id: u64) {
    control(
        mock,
        "/_mock/webhooks/events",
        json!({"event": "portability.download.ready", "request_id": request_id}),
    )
    .await;
}

/// Mints a user token with the control API; (access token, open_id).
async fn mint_token(mock: &MockServer) -> (String, String) {
    let answer = control(
        mock,
        "/_mock/tokens",
        json!({"scopes": ["user.info.basic"]}),
    )
    .await;
    (
        answer["access_token"].as_str().expect("token").to_owned(),
        answer["open_id"].as_str().expect("open_id").to_owned(),
    )
}

/// Revokes `token` through the real OAuth endpoint, which fires `authorization.removed`.
async fn revoke(mock: &MockServer, token: &str) {
    let response = http()
        .post(format!("{}/v2/oauth/revoke/", mock.uri()))
        .form(&[
            ("client_key", client_key()),
            ("client_secret", client_secret()),
            ("token", token),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), 200);
}

async fn deliveries(mock: &MockServer) -> Vec<Value> {
    let answer = Control::new(mock.uri())
        .get("/_mock/webhooks/deliveries")
        .await;
    answer["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until the mock has `count` deliveries, all settled as `delivered`.
async fn wait_delivered(mock: &MockServer, count: usize) -> Vec<Value> {
    eventually(|| async {
        let list = deliveries(mock).await;
        (list.len() == count && list.iter().all(|delivery| delivery["state"] == "delivered"))
            .then_some(list)
    })
    .await
}

async fn next_event(events: &mut mpsc::Receiver<WebhookEvent>) -> WebhookEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("channel open")
}

/// The capture of the portability event with `request_id`.
fn capture_of(served: &Served, request_id: i64) -> Captured {
    served
        .captured()
        .into_iter()
        .find(|captured| {
            let Ok(payload) = tiktok_api::webhook::WebhookPayload::parse(&captured.body) else {
                return false;
            };
            matches!(
                payload.content(),
                Ok(WebhookContent::PortabilityDownloadReady(content)) if content.request_id == request_id
            )
        })
        .expect("a capture of the event")
}

#[tokio::test]
async fn genuine_deliveries_reach_the_app_typed() {
    let mock = manual_mock().await;
    let (receiver, mut events) = at_mock_time(&mock).channel(16);
    let served = Served::start(receiver).await;
    set_callback(&mock, &served.url).await;

    // Revoking a token through the OAuth endpoint fires authorization.removed, reason 5.
    let (token, open_id) = mint_token(&mock).await;
    revoke(&mock, &token).await;
    let event = next_event(&mut events).await;
    assert_eq!(event.payload.client_key, client_key());
    assert_eq!(event.payload.event, WebhookEventKind::AuthorizationRemoved);
    assert_eq!(event.payload.user_openid.as_deref(), Some(open_id.as_str()));
    assert_eq!(
        event.payload.create_time,
        mock.state().now_ms().div_euclid(1000)
    );
    match &event.content {
        WebhookContent::AuthorizationRemoved(content) => assert_eq!(content.reason, 5),
        other => panic!("unexpected content {other:?}"),
    }

    fire_portability(&mock, 42).await;
    let event = next_event(&mut events).await;
    assert_eq!(event.payload.user_openid, None);
    match &event.content {
        WebhookContent::PortabilityDownloadReady(content) => assert_eq!(content.request_id, 42),
        other => panic!("unexpected content {other:?}"),
    }

    let list = wait_delivered(&mock, 2).await;
    for delivery in &list {
        assert_eq!(delivery["attempts"][0]["status"], 200, "{delivery}");
    }
    assert!(
        served
            .captured()
            .iter()
            .all(|captured| captured.status == 200)
    );
    assert_eq!(served.receiver.remembered(), 2);
}

#[tokio::test]
async fn forged_stale_and_unsigned_deliveries_are_401() {
    let mock = manual_mock().await;
    let (receiver, mut events) = at_mock_time(&mock).channel(16);
    let tolerance = Verifier::new(client_secret()).tolerance();
    let served = Served::start(receiver).await;
    set_callback(&mock, &served.url).await;
    fire_portability(&mock, 7).await;
    next_event(&mut events).await;
    wait_delivered(&mock, 1).await;
    let genuine = capture_of(&served, 7);
    let signature = genuine.signature.clone().expect("signed");

    // One flipped bit anywhere in the body, or in the signature.
    for index in [0, genuine.body.len() / 2, genuine.body.len() - 1] {
        let mut body = genuine.body.clone();
        body[index] ^= 1;
        assert_eq!(
            served.post(Some(&signature), &body).await,
            401,
            "byte {index}"
        );
    }
    let mut tampered = signature.clone();
    let last = tampered.pop().expect("a signature");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(served.post(Some(&tampered), &genuine.body).await, 401);
    assert_eq!(served.post(None, &genuine.body).await, 401);
    assert_eq!(served.post(Some("t=1,s=zz"), &genuine.body).await, 401);
    let other_app = signature_header(
        "another secret",
        mock.state().now_ms().div_euclid(1000),
        &genuine.body,
    );
    assert_eq!(served.post(Some(&other_app), &genuine.body).await, 401);

    // A replay at the edge of the tolerance is still genuine (a duplicate: 200, not handed
    // on); one second later it is stale.
    control(
        &mock,
        "/_mock/clock/advance",
        json!({ "seconds": tolerance }),
    )
    .await;
    assert_eq!(served.post(Some(&signature), &genuine.body).await, 200);
    control(&mock, "/_mock/clock/advance", json!({ "seconds": 1 })).await;
    assert_eq!(served.post(Some(&signature), &genuine.body).await, 401);
    // Stale also when the app has forgotten the event: staleness is checked first.
    let (fresh, _events) = at_mock_time(&mock).channel(1);
    let fresh = Served::start(fresh).await;
    assert_eq!(fresh.post(Some(&signature), &genuine.body).await, 401);

    assert!(
        events.try_recv().is_err(),
        "nothing refused reached the app"
    );
    assert_eq!(served.receiver.remembered(), 1);
}

#[tokio::test]
async fn a_genuine_signature_over_a_bad_body_is_400() {
    let mock = manual_mock().await;
    let (receiver, mut events) = at_mock_time(&mock).channel(4);
    let served = Served::start(receiver).await;
    let now = mock.state().now_ms().div_euclid(1000);
    let sign = |body: &[u8]| signature_header(client_secret(), now, body);

    let not_json = b"not json".as_slice();
    assert_eq!(served.post(Some(&sign(not_json)), not_json).await, 400);
    let bad_content = json!({
        "client_key": client_key(), "event": "authorization.removed", "create_time": now,
        "user_openid": "-000x", "content": "{\"reason\": \"five\"}",
    })
    .to_string();
    let bad_content = bad_content.as_bytes();
    assert_eq!(
        served.post(Some(&sign(bad_content)), bad_content).await,
        400
    );
    assert!(events.try_recv().is_err());
    assert_eq!(served.receiver.remembered(), 0);
}

#[tokio::test]
async fn a_duplicate_reaches_the_app_once_and_both_deliveries_get_200() {
    let mock = manual_mock().await;
    let (receiver, mut events) = at_mock_time(&mock).channel(16);
    let served = Served::start(receiver).await;
    set_callback(&mock, &served.url).await;
    // Every event is delivered twice: two deliveries, the same bytes.
    control(
        &mock,
        "/_mock/webhooks/settings",
        json!({"duplicate_every": 1}),
    )
    .await;
    let (token, _) = mint_token(&mock).await;
    revoke(&mock, &token).await;

    let list = wait_delivered(&mock, 2).await;
    assert_eq!(list[0]["body"], list[1]["body"]);
    for delivery in &list {
        let attempts = delivery["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "{delivery}");
        assert_eq!(attempts[0]["status"], 200, "{delivery}");
    }
    let event = next_event(&mut events).await;
    assert_eq!(event.payload.event, WebhookEventKind::AuthorizationRemoved);
    assert!(events.try_recv().is_err(), "the duplicate was handed on");

    // A resend by anyone of the same genuine bytes is answered 200 and dropped too.
    let captured = served.captured();
    assert_eq!(captured.len(), 2);
    let signature = captured[0].signature.clone().expect("signed");
    assert_eq!(served.post(Some(&signature), &captured[0].body).await, 200);
    assert!(events.try_recv().is_err());
    assert_eq!(served.receiver.remembered(), 1);
}

#[tokio::test]
async fn the_duplicate_set_stays_at_its_capacity() {
    const CAPACITY: usize = 8;
    const EVENTS: u64 = 20;
    let mock = manual_mock().await;
    let (receiver, mut events) = at_mock_time(&mock).capacity(CAPACITY).channel(64);
    let served = Served::start(receiver).await;
    set_callback(&mock, &served.url).await;
    // One event at a time, so the receiver sees them in request_id order.
    for request_id in 1..=EVENTS {
        fire_portability(&mock, 1000 + request_id).await;
        wait_delivered(&mock, request_id as usize).await;
    }
    let mut request_ids = Vec::new();
    for _ in 0..EVENTS {
        match next_event(&mut events).await.content {
            WebhookContent::PortabilityDownloadReady(content) => {
                request_ids.push(content.request_id)
            }
            other => panic!("unexpected content {other:?}"),
        }
    }
    let first = 1001;
    let last = 1000 + EVENTS as i64;
    assert_eq!(request_ids, (first..=last).collect::<Vec<_>>());
    assert_eq!(served.receiver.capacity(), CAPACITY);
    assert_eq!(served.receiver.remembered(), CAPACITY);

    // Exactly the newest CAPACITY events are remembered: their resends are dropped...
    let oldest_remembered = last - CAPACITY as i64 + 1;
    for request_id in (oldest_remembered..=last).rev() {
        let captured = capture_of(&served, request_id);
        let status = served
            .post(captured.signature.as_deref(), &captured.body)
            .await;
        assert_eq!(status, 200);
        assert!(events.try_recv().is_err(), "{request_id} was remembered");
    }
    // ...and the one before them was forgotten, so it comes through again.
    let forgotten = capture_of(&served, oldest_remembered - 1);
    let status = served
        .post(forgotten.signature.as_deref(), &forgotten.body)
        .await;
    assert_eq!(status, 200);
    match next_event(&mut events).await.content {
        WebhookContent::PortabilityDownloadReady(content) => {
            assert_eq!(content.request_id, oldest_remembered - 1)
        }
        other => panic!("unexpected content {other:?}"),
    }
    assert_eq!(served.receiver.remembered(), CAPACITY);
}

#[tokio::test]
async fn a_failed_handler_answers_500_and_gets_the_retry() {
    let mock = manual_mock().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(Mutex::new(Vec::new()));
    let receiver = at_mock_time(&mock).handler({
        let calls = calls.clone();
        let taken = taken.clone();
        move |event: WebhookEvent| {
            let calls = calls.clone();
            let taken = taken.clone();
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err("the database is down");
                }
                taken.lock().unwrap().push(event);
                Ok(())
            }
        }
    });
    let served = Served::start(receiver).await;
    set_callback(&mock, &served.url).await;
    fire_portability(&mock, 5).await;
    eventually(|| async {
        let list = deliveries(&mock).await;
        let delivery = list.first()?;
        (delivery["attempts"][0]["status"] == 500 && delivery["state"] == "pending").then_some(())
    })
    .await;
    assert_eq!(
        served.receiver.remembered(),
        0,
        "the failed event is forgotten"
    );
    // The mock retries a minute later on its clock.
    control(&mock, "/_mock/clock/advance", json!({"seconds": 60})).await;
    let list = wait_delivered(&mock, 1).await;
    assert_eq!(list[0]["attempts"][1]["status"], 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(taken.lock().unwrap().len(), 1);
    assert_eq!(served.receiver.remembered(), 1);
}

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct SharedOutput(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedOutput {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn the_example_prints_each_event_of_the_mock_once() {
    // The system clock on both sides: the example verifies with `Verifier::verify_now`.
    let mock = MockServer::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}{}",
        listener.local_addr().expect("address"),
        example::PATH
    );
    let output = SharedOutput::default();
    let example_output = output.clone();
    tokio::spawn(async move { example::run(listener, client_secret(), example_output).await });
    set_callback(&mock, &url).await;
    control(
        &mock,
        "/_mock/webhooks/settings",
        json!({"duplicate_every": 2}),
    )
    .await;

    let (token, open_id) = mint_token(&mock).await;
    revoke(&mock, &token).await;
    wait_delivered(&mock, 1).await;
    fire_portability(&mock, 77).await;
    // Three deliveries: the second event is sent twice.
    wait_delivered(&mock, 3).await;
    let lines = eventually(|| async {
        let lines = output.lines();
        (lines.len() >= 3).then_some(lines)
    })
    .await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0], format!("listening on {url}"));
    assert!(
        lines[1].starts_with("authorization.removed create_time=")
            && lines[1].contains(&format!("user_openid={open_id} "))
            && lines[1].ends_with("AuthorizationRemoved(AuthorizationRemoved { reason: 5 })"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("portability.download.ready create_time=")
            && lines[2].contains("user_openid=- ")
            && lines[2].contains("request_id: 77"),
        "{}",
        lines[2]
    );
    assert!(lines.iter().all(|line| !line.contains(client_secret())));
}
