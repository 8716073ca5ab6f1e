//! The notify hook: each approval's events POSTed, signed as TikTok signs its webhooks,
//! to a receiver on a real socket, and retried until it accepts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::Value;
use tiktok_api::webhook::{SIGNATURE_HEADER, Verifier};
use tokio::sync::mpsc;

use crate::setup::{BIN, Setup, approval_id, assert_success, call, pull_upload};

const SECRET: &str = "notify-secret-5b1e9c";

/// One POST the receiver got: its signature header, its body, and whether it was accepted.
struct Delivery {
    signature: Option<String>,
    body: String,
    accepted: bool,
}

/// A receiver that refuses its first `failures` requests (503) and accepts the rest;
/// every request is handed to the returned channel. Returns its URL.
async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Delivery>) {
    let (sender, deliveries) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let sender = sender.clone();
            let seen = seen.clone();
            async move {
                let accepted = seen.fetch_add(1, Ordering::SeqCst) >= failures;
                let signature = headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_string);
                let _ = sender.send(Delivery {
                    signature,
                    body,
                    accepted,
                });
                if accepted {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/hook"), deliveries)
}

async fn next(deliveries: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    // A bound so a broken hook fails the test rather than hanging it.
    tokio::time::timeout(Duration::from_secs(60), deliveries.recv())
        .await
        .expect("a delivery")
        .expect("the receiver is running")
}

#[track_caller]
fn verified(delivery: &Delivery) -> Value {
    let header = delivery
        .signature
        .as_deref()
        .expect("a TikTok-Signature header");
    assert!(
        header.starts_with("t=") && header.contains(",s="),
        "{header}"
    );
    Verifier::new(SECRET)
        .verify_now(header, delivery.body.as_bytes())
        .unwrap_or_else(|error| panic!("bad signature {header}: {error}"));
    assert!(
        Verifier::new("another secret")
            .verify_now(header, delivery.body.as_bytes())
            .is_err()
    );
    serde_json::from_str(&delivery.body).unwrap()
}

#[tokio::test]
async fn approval_events_reach_the_hook_signed_and_retried_until_it_accepts() {
    let setup = Setup::new().await;
    let (url, mut deliveries) = receiver(2).await;
    setup.edit_config(|text| {
        text.replacen(
            "audit:",
            &format!("notify: {{url: {url}, secret_env: GATEWAY_NOTIFY_SECRET}}\naudit:"),
            1,
        )
    });
    let command = tokio::process::Command::new(BIN).configure(|command| {
        command
            .args(["serve", "--agent", "poster", "--config"])
            .arg(setup.config())
            .env("TIKTOK_CLIENT_SECRET", &setup.secret)
            .env("GATEWAY_NOTIFY_SECRET", SECRET);
    });
    let poster = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let held = call(&poster, "inbox_video_init", pull_upload())
        .await
        .unwrap();
    let id = approval_id(&held);

    // Refused twice, accepted the third time: the same event, each attempt signed.
    let mut bodies = Vec::new();
    for attempt in 1..=3 {
        let delivery = next(&mut deliveries).await;
        assert_eq!(delivery.accepted, attempt == 3);
        let event = verified(&delivery);
        assert_eq!(event["type"], "approval.created", "{event}");
        assert_eq!(event["approval_id"], id.as_str());
        assert_eq!(event["agent"], "poster");
        assert_eq!(event["tool"], "inbox_video_init");
        assert_eq!(
            event["expires_at"],
            held.structured_content.as_ref().unwrap()["expires_at"]
        );
        bodies.push(delivery.body);
    }
    assert!(bodies.iter().all(|body| *body == bodies[0]));

    // The decision, from the command, delivered before it exits.
    let denied = setup
        .command(&["approvals", "deny", &id, "--by", "alice"])
        .env("GATEWAY_NOTIFY_SECRET", SECRET)
        .output()
        .await
        .unwrap();
    assert_success(&denied);
    let delivery = deliveries
        .try_recv()
        .expect("delivered before the command exited");
    assert!(delivery.accepted);
    let event = verified(&delivery);
    assert_eq!(event["type"], "approval.decided", "{event}");
    assert_eq!(event["approval_id"], id.as_str());
    assert_eq!(event["decision"], "denied");
    assert_eq!(event["by"], "alice");
    assert!(event["decided_at"].is_string(), "{event}");
    assert!(deliveries.try_recv().is_err(), "one delivery only");
    poster.cancel().await.unwrap();
}

#[tokio::test]
async fn events_still_being_retried_when_serve_is_stopped_are_sent_before_it_exits() {
    let setup = Setup::new().await;
    let (url, mut deliveries) = receiver(2).await;
    setup.edit_config(|text| {
        text.replacen(
            "audit:",
            &format!("notify: {{url: {url}, secret_env: GATEWAY_NOTIFY_SECRET}}\naudit:"),
            1,
        )
    });
    let (mut server, mcp) = setup
        .serve_http_with(&[("GATEWAY_NOTIFY_SECRET", SECRET)])
        .await;
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            mcp.as_str(),
        )
        .auth_header(setup.poster_key.clone()),
    );
    let poster = ().serve(transport).await.unwrap();
    let held = call(&poster, "inbox_video_init", pull_upload())
        .await
        .unwrap();
    let id = approval_id(&held);
    // Stopped while the hook has refused the first attempt and the retries wait.
    let first = next(&mut deliveries).await;
    assert!(!first.accepted);
    let pid = server.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("serve exits after a SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    // Every retry happened before it exited: the third attempt was accepted.
    let mut rest = Vec::new();
    while let Ok(delivery) = deliveries.try_recv() {
        rest.push(delivery);
    }
    assert_eq!(rest.len(), 2, "attempts after the first");
    assert!(rest[1].accepted);
    let event = verified(&rest[1]);
    assert_eq!(event["type"], "approval.created");
    assert_eq!(event["approval_id"], id.as_str());
}
