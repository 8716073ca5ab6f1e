//! Webhooks end to end: a receiver built on the generated crate's `Verifier`, signed
//! deliveries, retries with backoff on the manual clock, the 72-hour drop, a receiver that is
//! down and comes back, duplicates, the control API.

mod support;

use serde_json::json;
use support::{
    Receiver, client_key, client_secret, control, deliveries, eventually, manual_mock,
    set_callback, unaudited_app, wait_attempts,
};
use tiktok_api::meta::WebhookFamily;
use tiktok_api::{WebhookContent, WebhookEventKind};
use tiktok_mock::{DownPort, MockServer};

/// A receiver for the unaudited demo app, whose deliveries prove the worker has made a pass
/// (see [`worker_pass`]).
async fn marker_receiver(mock: &MockServer) -> Receiver {
    let app = unaudited_app();
    let marker = Receiver::start(mock, &app.client_secret).await;
    let (status, body) = control(
        mock,
        "/_mock/webhooks/callback",
        json!({"client_key": app.client_key, "callback_url": marker.url}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    marker
}

/// Proves, without waiting on real time, that the delivery worker has made a pass at the
/// mock's current time: an event for the unaudited demo app is queued and waited for at
/// `marker`. The worker marks every delivery due at its time in flight in the one pass that
/// takes the marker's, so a delivery still pending with the same attempts afterwards was
/// not due.
async fn worker_pass(mock: &MockServer, marker: &Receiver) {
    let before = marker.received().len();
    mock.state().emit_event(
        &unaudited_app().client_key,
        None,
        WebhookEventKind::PortabilityDownloadReady,
        &json!({"request_id": before}),
    );
    marker.wait_for(before + 1).await;
}

/// Asserts delivery `index` is pending after exactly `attempts` attempts.
async fn assert_waiting(mock: &MockServer, index: usize, attempts: usize) {
    let list = deliveries(mock).await;
    let delivery = &list[index];
    assert_eq!(delivery["state"], "pending", "{delivery}");
    assert_eq!(
        delivery["attempts"].as_array().map(Vec::len),
        Some(attempts),
        "{delivery}"
    );
}

#[tokio::test]
async fn control_events_arrive_signed_in_tiktoks_shape() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    set_callback(&mock, &receiver.url).await;
    let (status, body) = control(
        &mock,
        "/_mock/webhooks/events",
        json!({"event": "portability.download.ready", "request_id": 42}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let received = receiver.wait_for(1).await;
    let payload = &received[0].payload;
    assert_eq!(payload.client_key, client_key());
    assert_eq!(payload.event, WebhookEventKind::PortabilityDownloadReady);
    assert_eq!(payload.user_openid, None);
    assert_eq!(payload.create_time, mock.state().now_ms().div_euclid(1000));
    match payload.content().expect("content parses") {
        WebhookContent::PortabilityDownloadReady(content) => assert_eq!(content.request_id, 42),
        other => panic!("unexpected content {other:?}"),
    }
    // The raw body: content is a JSON document serialized into a string.
    let raw: serde_json::Value = serde_json::from_slice(&received[0].body).expect("json body");
    assert!(raw["content"].is_string(), "{raw}");
    assert!(received[0].signature.starts_with("t="));
    assert!(receiver.rejected().is_empty());
    let list = deliveries(&mock).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "delivered");
    assert_eq!(list[0]["attempts"][0]["status"], 200);
    assert_eq!(list[0]["payload"]["event"], "portability.download.ready");
}

#[tokio::test]
async fn authorization_removed_with_every_reason_code() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    set_callback(&mock, &receiver.url).await;
    let open_id = mock.state().default_open_id().expect("a creator");
    // The user's tokens for the app are revoked before the event goes out (unless told not to).
    let token = mock.user_token(None, &[tiktok_api::Scope::UserInfoBasic]);
    let (status, body) = control(
        &mock,
        "/_mock/webhooks/events",
        json!({"event": "authorization.removed", "open_id": open_id, "reason": 1, "revoke": false}),
    )
    .await;
    assert_eq!(
        (status, &body["revoked_tokens"]),
        (200, &json!(0)),
        "{body}"
    );
    assert!(!mock.state().store().token(&token).expect("token").revoked);
    receiver.wait_for(1).await;
    for reason in 0..=5 {
        let (status, body) = control(
            &mock,
            "/_mock/webhooks/events",
            json!({"event": "authorization.removed", "open_id": open_id, "reason": reason}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(mock.state().store().token(&token).expect("token").revoked);
    let received = receiver.wait_for(7).await;
    let mut reasons: Vec<i32> = received
        .iter()
        .map(|delivery| {
            assert_eq!(
                delivery.payload.user_openid.as_deref(),
                Some(open_id.as_str())
            );
            match delivery.payload.content().expect("content") {
                WebhookContent::AuthorizationRemoved(content) => content.reason,
                other => panic!("unexpected {other:?}"),
            }
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons, vec![0, 1, 1, 2, 3, 4, 5]);
    // Bad control requests are 400s naming the problem.
    for (body, needle) in [
        (
            json!({"event": "authorization.removed", "reason": 9}),
            "reason",
        ),
        (json!({"event": "no.such.event"}), "event"),
        (
            json!({"event": "authorization.removed", "reason": 1}),
            "open_id",
        ),
        (
            json!({"event": "authorization.removed", "open_id": "-000nobody"}),
            "open_id",
        ),
        (json!({"event": "authorization.removed", "typo": 1}), "typo"),
        (
            json!({"event": "authorization.removed", "client_key": "nope"}),
            "client_key",
        ),
    ] {
        let (status, answer) = control(&mock, "/_mock/webhooks/events", body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(needle), "{answer}");
    }
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_when_the_clock_moves() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    receiver.answer(500);
    set_callback(&mock, &receiver.url).await;
    let marker = marker_receiver(&mock).await;
    let open_id = mock.state().default_open_id();
    mock.state().emit_event(
        client_key(),
        open_id.as_deref(),
        tiktok_api::WebhookEventKind::parse("video.publish.completed"),
        &json!({"share_id": "video.7300000000000000001.abc"}),
    );
    let first = wait_attempts(&mock, 0, 1).await;
    assert_eq!(first["state"], "pending");
    assert_eq!(first["attempts"][0]["status"], 500);
    let created = first["created_at_ms"].as_i64().expect("created");
    assert_eq!(first["next_attempt_ms"].as_i64(), Some(created + 60_000));
    // Nothing more happens until the clock moves: the worker has looked again at this time
    // and left the delivery waiting.
    worker_pass(&mock, &marker).await;
    assert_waiting(&mock, 0, 1).await;
    assert_eq!(receiver.requests(), 1);
    assert!(mock.advance(60));
    let second = wait_attempts(&mock, 0, 2).await;
    assert_eq!(second["attempts"][1]["status"], 500);
    // The delay doubles: the next attempt is 120 s after the second.
    let second_at = second["attempts"][1]["at_ms"].as_i64().expect("at");
    assert_eq!(
        second["next_attempt_ms"].as_i64(),
        Some(second_at + 120_000)
    );
    receiver.answer(200);
    assert!(mock.advance(119));
    worker_pass(&mock, &marker).await;
    assert_waiting(&mock, 0, 2).await;
    assert_eq!(receiver.requests(), 2, "not due yet");
    assert!(mock.advance(1));
    let done = wait_attempts(&mock, 0, 3).await;
    assert_eq!(done["state"], "delivered");
    let received = receiver.wait_for(1).await;
    // The same bytes on every attempt.
    assert_eq!(
        received[0].body,
        done["body"].as_str().expect("body").as_bytes()
    );
    assert_eq!(
        received[0].payload.event,
        WebhookEventKind::VideoPublishCompleted
    );
}

#[tokio::test]
async fn deliveries_are_dropped_after_72_hours_of_the_mock_clock() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    receiver.answer(503);
    set_callback(&mock, &receiver.url).await;
    mock.state().emit_event(
        client_key(),
        None,
        tiktok_api::WebhookEventKind::parse("portability.download.ready"),
        &json!({"request_id": 7}),
    );
    let mut delivery = wait_attempts(&mock, 0, 1).await;
    let created = delivery["created_at_ms"].as_i64().expect("created");
    let mut attempts = 1;
    while delivery["state"] == "pending" {
        let due = delivery["next_attempt_ms"].as_i64().expect("due");
        assert!(due <= created + 72 * 3600 * 1000, "{delivery}");
        let now = mock.state().now_ms();
        mock.advance((due - now + 999) / 1000);
        attempts += 1;
        delivery = wait_attempts(&mock, 0, attempts).await;
        assert!(attempts < 100, "never dropped: {delivery}");
    }
    assert_eq!(delivery["state"], "dropped");
    assert!(delivery["next_attempt_ms"].is_null());
    let list = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(list.len(), receiver.requests() as usize);
    let last = list.last().expect("an attempt")["at_ms"]
        .as_i64()
        .expect("at");
    assert!(last <= created + 72 * 3600 * 1000 + 1000);
    // 1, 2, 4, ... 256 min, then every 6 h to the 72nd hour.
    assert!(list.len() > 10, "{}", list.len());
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn nothing_is_lost_while_the_receiver_is_down() {
    let mock = manual_mock().await;
    // A port held but not listening: connection refused.
    let port = DownPort::bind();
    set_callback(&mock, &port.url()).await;
    for request_id in 1..=3 {
        mock.state().emit_event(
            client_key(),
            None,
            tiktok_api::WebhookEventKind::parse("portability.download.ready"),
            &json!({"request_id": request_id}),
        );
    }
    for index in 0..3 {
        let delivery = wait_attempts(&mock, index, 1).await;
        assert!(delivery["attempts"][0]["status"].is_null(), "{delivery}");
        assert!(delivery["attempts"][0]["error"].is_string(), "{delivery}");
        assert_eq!(delivery["state"], "pending");
    }
    // The receiver comes back; the next due attempts get through.
    let receiver = Receiver::start_on(&mock, client_secret(), port);
    mock.advance(60);
    let received = receiver.wait_for(3).await;
    let mut ids: Vec<i64> = received
        .iter()
        .map(
            |delivery| match delivery.payload.content().expect("content") {
                WebhookContent::PortabilityDownloadReady(content) => content.request_id,
                other => panic!("unexpected {other:?}"),
            },
        )
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3]);
    for index in 0..3 {
        assert_eq!(wait_attempts(&mock, index, 2).await["state"], "delivered");
    }
}

#[tokio::test]
async fn the_duplicate_option_sends_events_twice() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    set_callback(&mock, &receiver.url).await;
    let (status, settings) = control(
        &mock,
        "/_mock/webhooks/settings",
        json!({"duplicate_every": 2}),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["duplicate_every"], 2);
    assert_eq!(settings["retry_window_seconds"], 72 * 3600);
    for request_id in 1..=2 {
        mock.state().emit_event(
            client_key(),
            None,
            tiktok_api::WebhookEventKind::parse("portability.download.ready"),
            &json!({"request_id": request_id}),
        );
    }
    // The second event goes twice: three deliveries, two of them the same event.
    let received = receiver.wait_for(3).await;
    let mut keys: Vec<String> = received.iter().map(|r| r.payload.dedup_key()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2, "an idempotent receiver sees two events");
    let list = deliveries(&mock).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["duplicate_of"], list[1]["id"]);
    assert_eq!(list[2]["body"], list[1]["body"]);
    let (status, answer) =
        control(&mock, "/_mock/webhooks/settings", json!({"duplicate": 1})).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn callback_url_and_event_family_are_per_app_settings() {
    let mock = manual_mock().await;
    assert_eq!(
        mock.state().webhook_family(client_key()),
        WebhookFamily::Seed
    );
    let (status, body) = control(
        &mock,
        "/_mock/webhooks/callback",
        json!({"webhook_family": "real", "callback_url": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["webhook_family"], "real");
    assert_eq!(
        mock.state().webhook_family(client_key()),
        WebhookFamily::Real
    );
    // No callback URL: emitting is a no-op, and the control API says why it can't fire.
    mock.state().emit_event(
        client_key(),
        None,
        tiktok_api::WebhookEventKind::parse("post.publish.complete"),
        &json!({"publish_id": "p"}),
    );
    assert!(deliveries(&mock).await.is_empty());
    let (status, _) = control(
        &mock,
        "/_mock/webhooks/events",
        json!({"event": "portability.download.ready"}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &mock,
        "/_mock/webhooks/callback",
        json!({"callback_url": "ftp://x.example/"}),
    )
    .await;
    assert_eq!(status, 400);
    // Fixtures set both.
    let fixtures = r"
apps:
  - {client_key: k2, client_secret: s2, callback_url: 'http://127.0.0.1:9/hook', webhook_family: real, research_api: false}
creators:
  - {open_id: -000x, display_name: X}
";
    let other = tiktok_mock::MockServer::builder()
        .fixtures_yaml(fixtures)
        .expect("fixtures")
        .start()
        .await;
    assert_eq!(other.state().webhook_family("k2"), WebhookFamily::Real);
    let app = other.state().store().app("k2").expect("app");
    assert_eq!(app.callback_url.as_deref(), Some("http://127.0.0.1:9/hook"));
    // A reset forgets deliveries.
    let receiver = Receiver::start(&mock, client_secret()).await;
    set_callback(&mock, &receiver.url).await;
    mock.state().emit_event(
        client_key(),
        None,
        tiktok_api::WebhookEventKind::parse("post.publish.complete"),
        &json!({"publish_id": "p"}),
    );
    receiver.wait_for(1).await;
    mock.state().reset().expect("reset");
    eventually(|| async { deliveries(&mock).await.is_empty().then_some(()) }).await;
}

#[tokio::test]
async fn the_binary_delivers_to_the_webhook_url_flag() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let receiver = Receiver::start_wall_clock(client_secret()).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args([
            "--addr",
            ":0",
            "--clock",
            "manual",
            "--webhook-url",
            &receiver.url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    // Keep the pipe open: the binary prints more lines after the first.
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let base = first
        .strip_prefix("listening on ")
        .expect("first line")
        .to_owned();
    let answer = support::http()
        .post(format!("{base}/_mock/webhooks/events"))
        .json(&json!({"event": "portability.download.ready", "request_id": 9}))
        .send()
        .await
        .expect("control call");
    assert_eq!(answer.status().as_u16(), 200);
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].payload.client_key, client_key());
    let _ = child.kill();
    let _ = child.wait();
    drop(lines);
    // A URL that is not http(s) is refused at start.
    let output = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", ":0", "--webhook-url", "ftp://x.example/"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--webhook-url"));
}
