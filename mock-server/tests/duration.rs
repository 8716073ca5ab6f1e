//! A video's length is checked where TikTok can check it: not at init (which takes no
//! duration), but once the bytes are in; a direct video longer than the creator's
//! `max_video_post_duration_sec` then ends `FAILED` with `fail_reason`
//! `duration_check_failed` [O-ST, O-CI, O-MTG] (the spec's `video_duration_check`
//! divergence).

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use support::{Answer, Harness};
use tiktok_api::{FailReason, Scope};
use tiktok_mock::MintRequest;
use tiktok_mock::tokens::ScopeList;

const VIDEO_INIT: &str = "/v2/post/publish/video/init/";
const INBOX_INIT: &str = "/v2/post/publish/inbox/video/init/";
const STATUS: &str = "/v2/post/publish/status/fetch/";
const PROCESSING_MS: i64 = 1_000;

/// A mock whose videos pretend to last `seconds`, processed in [`PROCESSING_MS`].
async fn mock_with_duration(seconds: i32) -> Harness {
    let mock = Harness::new();
    let answer = mock
        .post_json(
            "/_mock/settings",
            None,
            json!({"posting": {"video_duration_sec": seconds, "processing_ms": PROCESSING_MS}})
                .to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    mock
}

/// A token of the demo creator that outlives the clock's jumps.
fn token(mock: &Harness) -> String {
    mock.mint(MintRequest {
        scopes: Some(ScopeList::List(vec![
            Scope::VideoPublish.as_str().to_owned(),
            Scope::VideoUpload.as_str().to_owned(),
        ])),
        expires_in: Some(86_400),
        ..MintRequest::default()
    })
}

fn direct(source_info: Value) -> String {
    json!({
        "post_info": {"privacy_level": "PUBLIC_TO_EVERYONE", "title": "t"},
        "source_info": source_info,
    })
    .to_string()
}

fn file_upload() -> Value {
    json!({"source": "FILE_UPLOAD", "video_size": 1_000, "chunk_size": 1_000, "total_chunk_count": 1})
}

fn pull() -> Value {
    json!({"source": "PULL_FROM_URL", "video_url": "https://media.demo.example/v.mp4"})
}

/// Inits a post; its `publish_id` and `upload_url` (if any).
async fn init(mock: &Harness, token: &str, path: &str, body: String) -> (String, Option<String>) {
    let answer = mock.post_json(path, Some(token), body).await;
    answer.assert_ok();
    let data = answer.data();
    (
        data["publish_id"].as_str().expect("publish_id").to_owned(),
        data["upload_url"].as_str().map(str::to_owned),
    )
}

async fn status(mock: &Harness, token: &str, publish_id: &str) -> Value {
    let answer: Answer = mock
        .post_json(
            STATUS,
            Some(token),
            json!({ "publish_id": publish_id }).to_string(),
        )
        .await;
    answer.assert_ok();
    answer.data().clone()
}

/// PUTs the one 1,000-byte chunk of `upload_url`.
async fn upload(mock: &Harness, upload_url: &str) {
    let path = &upload_url[upload_url.find("/upload/").expect("upload path")..];
    let request = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .header("content-type", "video/mp4")
        .header("content-length", "1000")
        .header("content-range", "bytes 0-999/1000")
        .body(Body::from(vec![7_u8; 1_000]))
        .expect("request");
    let answer = mock.send(request).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
}

fn duration_failed() -> Value {
    json!(FailReason::DurationCheckFailed.as_str())
}

#[tokio::test]
async fn a_long_uploaded_video_is_accepted_at_init_and_fails_once_its_bytes_are_in() {
    // The demo creator may post 300 s (creator info says so); the video lasts 301 s.
    let mock = mock_with_duration(301).await;
    let token = token(&mock);
    let info = mock
        .post_json(
            "/v2/post/publish/creator_info/query/",
            Some(&token),
            "{}".to_owned(),
        )
        .await;
    info.assert_ok();
    assert_eq!(info.data()["max_video_post_duration_sec"], json!(300));

    let (publish_id, url) = init(&mock, &token, VIDEO_INIT, direct(file_upload())).await;
    let data = status(&mock, &token, &publish_id).await;
    assert_eq!(data["status"], json!("PROCESSING_UPLOAD"), "{data}");
    assert!(data.get("fail_reason").is_none(), "{data}");

    upload(&mock, &url.expect("upload_url")).await;
    mock.advance_ms(PROCESSING_MS - 1);
    let data = status(&mock, &token, &publish_id).await;
    assert_eq!(data["status"], json!("PROCESSING_UPLOAD"), "{data}");
    mock.advance_ms(1);
    let data = status(&mock, &token, &publish_id).await;
    assert_eq!(data["status"], json!("FAILED"), "{data}");
    assert_eq!(data["fail_reason"], duration_failed(), "{data}");
    assert_eq!(data["publicaly_available_post_id"], json!([]), "{data}");
    // An ending stands: a day later it is the same.
    mock.advance_ms(86_400_000 - PROCESSING_MS);
    let token = self::token(&mock);
    assert_eq!(status(&mock, &token, &publish_id).await, data);
}

#[tokio::test]
async fn a_long_pulled_video_fails_once_downloaded() {
    let mock = mock_with_duration(301).await;
    let token = token(&mock);
    let (publish_id, url) = init(&mock, &token, VIDEO_INIT, direct(pull())).await;
    assert!(url.is_none());
    assert_eq!(
        status(&mock, &token, &publish_id).await["status"],
        json!("PROCESSING_DOWNLOAD")
    );
    mock.advance_ms(PROCESSING_MS);
    let data = status(&mock, &token, &publish_id).await;
    assert_eq!(data["status"], json!("FAILED"), "{data}");
    assert_eq!(data["fail_reason"], duration_failed(), "{data}");
}

#[tokio::test]
async fn a_video_at_the_creators_longest_is_published() {
    let mock = mock_with_duration(300).await;
    let token = token(&mock);
    let (upload_id, url) = init(&mock, &token, VIDEO_INIT, direct(file_upload())).await;
    upload(&mock, &url.expect("upload_url")).await;
    let (pull_id, _) = init(&mock, &token, VIDEO_INIT, direct(pull())).await;
    mock.advance_ms(PROCESSING_MS);
    for publish_id in [upload_id, pull_id] {
        let data = status(&mock, &token, &publish_id).await;
        assert_eq!(data["status"], json!("PUBLISH_COMPLETE"), "{data}");
        assert!(data.get("fail_reason").is_none(), "{data}");
    }
}

#[tokio::test]
async fn an_inbox_draft_is_not_held_to_the_creators_longest() {
    let mock = mock_with_duration(301).await;
    let token = token(&mock);
    let body = json!({ "source_info": file_upload() }).to_string();
    let (publish_id, url) = init(&mock, &token, INBOX_INIT, body).await;
    upload(&mock, &url.expect("upload_url")).await;
    mock.advance_ms(PROCESSING_MS);
    let data = status(&mock, &token, &publish_id).await;
    assert_eq!(data["status"], json!("SEND_TO_USER_INBOX"), "{data}");
}
