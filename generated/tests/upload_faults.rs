//! The upload helper against an upload host that fails: the mock injects no faults on its
//! upload host, so this test serves the three calls of an inbox upload itself (init, the
//! chunk PUTs, status fetch) and fails chunks on purpose.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{post, put};
use parking_lot::Mutex;
use serde_json::json;
use tiktok_api::upload::{PostTarget, UploadOptions, VideoSource};
use tiktok_api::{Client, Error, PostStatus, RetryPolicy};

#[derive(Clone, Default)]
struct Host {
    /// What each PUT does: "500" fails, "lost" stores the chunk but answers 500 (the
    /// answer was lost), anything else stores it.
    plan: Arc<Mutex<Vec<&'static str>>>,
    puts: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<String>>>,
    base: Arc<Mutex<String>>,
}

fn envelope(status: StatusCode, code: &str, headers: HeaderMap) -> axum::response::Response {
    let body = json!({"data": {}, "error": {"code": code, "message": "", "log_id": "202611281200000000000000000000000000"}});
    (status, headers, axum::Json(body)).into_response()
}

async fn start(host: Host) -> String {
    let init = {
        let host = host.clone();
        move || async move {
            let url = format!("{}/upload/?id=1", host.base.lock());
            axum::Json(
                json!({"data": {"publish_id": "v_inbox_file~v2.1", "upload_url": url}, "error": {"code": "ok", "message": "", "log_id": "1"}}),
            )
        }
    };
    let chunk = {
        let host = host.clone();
        move |headers: HeaderMap, _body: axum::body::Bytes| async move {
            host.puts.fetch_add(1, Ordering::SeqCst);
            let range = headers["content-range"].to_str().unwrap().to_string();
            let action = {
                let mut plan = host.plan.lock();
                if plan.is_empty() {
                    "ok"
                } else {
                    plan.remove(0)
                }
            };
            let already = host.received.lock().contains(&range);
            if action != "500" && !already {
                host.received.lock().push(range.clone());
            }
            let (first_last, total) = range.trim_start_matches("bytes ").split_once('/').unwrap();
            let last = first_last.split_once('-').unwrap().1;
            let mut headers = HeaderMap::new();
            headers.insert(
                "content-range",
                format!("bytes 0-{last}/{total}").parse().unwrap(),
            );
            match action {
                "500" | "lost" => {
                    envelope(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", headers)
                }
                _ if already => envelope(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    headers,
                ),
                _ => (StatusCode::PARTIAL_CONTENT, headers).into_response(),
            }
        }
    };
    let status = || async {
        axum::Json(
            json!({"data": {"status": "SEND_TO_USER_INBOX"}, "error": {"code": "ok", "message": "", "log_id": "1"}}),
        )
    };
    let app = Router::new()
        .route("/v2/post/publish/inbox/video/init/", post(init))
        .route("/upload/", put(chunk))
        .route("/v2/post/publish/status/fetch/", post(status))
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *host.base.lock() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn client(base: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(base)
        .retry_policy(
            policy
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2)),
        )
        .build()
        .unwrap()
}

fn video() -> VideoSource {
    VideoSource::Bytes(vec![7u8; 25_000_000].into())
}

#[tokio::test]
async fn a_failed_chunk_is_sent_again_and_the_upload_completes() {
    let host = Host::default();
    host.plan.lock().extend(["ok", "500", "ok"]);
    let base = start(host.clone()).await;
    let user = client(&base, RetryPolicy::default()).user_with_access_token("act.x");
    let posted = user
        .upload_video(video(), PostTarget::Inbox, UploadOptions::new())
        .await
        .unwrap();
    assert_eq!(posted.status.status, PostStatus::SendToUserInbox);
    assert_eq!(host.puts.load(Ordering::SeqCst), 3);
    assert_eq!(
        *host.received.lock(),
        [
            "bytes 0-9999999/25000000",
            "bytes 10000000-24999999/25000000"
        ]
    );
}

#[tokio::test]
async fn a_chunk_whose_answer_was_lost_is_not_sent_twice_into_the_file() {
    let host = Host::default();
    host.plan.lock().extend(["lost"]);
    let base = start(host.clone()).await;
    let user = client(&base, RetryPolicy::default()).user_with_access_token("act.x");
    let posted = user
        .upload_video(video(), PostTarget::Inbox, UploadOptions::new())
        .await
        .unwrap();
    assert_eq!(posted.status.status, PostStatus::SendToUserInbox);
    // The resend got 416 with a Content-Range showing the chunk had arrived: accepted.
    assert_eq!(host.puts.load(Ordering::SeqCst), 3);
    assert_eq!(host.received.lock().len(), 2);
}

#[tokio::test]
async fn a_chunk_failing_past_the_policy_is_a_typed_error_with_its_attempts() {
    let host = Host::default();
    host.plan.lock().extend(["500", "500", "500", "500"]);
    let base = start(host.clone()).await;
    let user =
        client(&base, RetryPolicy::default().max_attempts(3)).user_with_access_token("act.x");
    let error = user
        .upload_video(video(), PostTarget::Inbox, UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Api { status: 500, .. }),
        "the last attempt's own error: {error:?}"
    );
    assert_eq!(error.attempts().count, 3);
    assert_eq!(error.status(), Some(500));
    assert_eq!(host.puts.load(Ordering::SeqCst), 3);
}
