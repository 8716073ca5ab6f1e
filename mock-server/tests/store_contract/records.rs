//! Records for the contract: builders of apps, creators, videos, comments, tokens, posts,
//! call-log entries and deliveries.

use std::borrow::Cow;

use serde_json::json;
use tiktok_api::Scope;
use tiktok_mock::store::{
    App, Attempt, CallEntry, Comment, Creator, Delivery, DeliveryState, MediaKind, PostFlow,
    PostRecord, SourceKind, TokenKind, TokenRecord, Video,
};

pub fn app(client_key: &str) -> App {
    serde_json::from_value(json!({"client_key": client_key, "client_secret": "s"})).expect("app")
}

pub fn creator(open_id: &str) -> Creator {
    serde_json::from_value(json!({"open_id": open_id, "username": format!("u{open_id}")}))
        .expect("creator")
}

pub fn video(id: u64, open_id: &str, create_time_ms: i64) -> Video {
    serde_json::from_value(json!({
        "id": id.to_string(), "open_id": open_id, "create_time_ms": create_time_ms,
        "title": format!("video {id}"),
    }))
    .expect("video")
}

pub fn hidden(id: u64, open_id: &str, create_time_ms: i64) -> Video {
    Video {
        privacy_level: "SELF_ONLY".to_owned(),
        ..video(id, open_id, create_time_ms)
    }
}

pub fn comment(id: i64, video_id: i64, create_time: i64) -> Comment {
    serde_json::from_value(json!({"id": id, "video_id": video_id, "create_time": create_time}))
        .expect("comment")
}

pub fn token(access_token: &str, client_key: &str, open_id: Option<&str>) -> TokenRecord {
    TokenRecord {
        access_token: access_token.to_owned(),
        kind: if open_id.is_some() {
            TokenKind::User
        } else {
            TokenKind::Client
        },
        open_id: open_id.map(str::to_owned),
        client_key: client_key.to_owned(),
        scopes: vec![Scope::UserInfoBasic, Scope::VideoList],
        expires_at_ms: 10_000,
        refresh_token: open_id.map(|_| format!("rft.{access_token}")),
        refresh_expires_at_ms: open_id.map(|_| 20_000),
        revoked: false,
    }
}

pub fn post(
    publish_id: &str,
    open_id: &str,
    created_ms: i64,
    upload_id: Option<&str>,
) -> PostRecord {
    PostRecord {
        publish_id: publish_id.to_owned(),
        endpoint: "video_init".to_owned(),
        open_id: open_id.to_owned(),
        client_key: "app".to_owned(),
        access_token: format!("act.secret-of-{publish_id}"),
        flow: PostFlow::Direct,
        media: MediaKind::Video,
        source: SourceKind::FileUpload,
        created_ms,
        processing_ms: 5_000,
        moderation_ms: 0,
        privacy_level: Some("SELF_ONLY".to_owned()),
        title: "t".to_owned(),
        description: String::new(),
        media_url: None,
        photo_count: 0,
        video_size: 100,
        chunk_size: 50,
        total_chunk_count: 2,
        upload_id: upload_id.map(str::to_owned),
        upload_token: upload_id.map(|id| format!("upload-secret-{id}")),
        upload_expires_ms: Some(created_ms + 3_600_000),
        uploaded_bytes: 0,
        chunks_received: 0,
        upload_completed_ms: None,
        pull_fails: false,
        too_long: false,
        fail_reason: None,
        failed_ms: None,
        user_posted_ms: None,
        post_id: "7310000000000000001".to_owned(),
        applied: Vec::new(),
    }
}

pub fn call(at_ms: i64, path: &'static str) -> CallEntry {
    CallEntry {
        at_ms,
        method: Cow::Borrowed("GET"),
        path: Cow::Borrowed(path),
        query: Some(Box::from("fields=open_id")),
        body: Some(Box::from(
            &b"code=c0de-0123456789&grant_type=authorization_code"[..],
        )),
        endpoint: None,
        open_id: None,
        decision: Cow::Borrowed("ok"),
        message: None,
        status: 200,
        latency_us: 500,
        log_id: None,
    }
}

pub fn delivery(id: u64, state: DeliveryState) -> Delivery {
    Delivery {
        id,
        client_key: "app".to_owned(),
        event: "post.publish.complete".to_owned(),
        user_openid: Some("a".to_owned()),
        url: "http://127.0.0.1:9/hook".to_owned(),
        body: "{\"event\":\"post.publish.complete\"}".to_owned(),
        created_at_ms: 1_000,
        state,
        next_attempt_ms: Some(61_000),
        attempts: vec![Attempt {
            at_ms: 1_000,
            signed_at: 1,
            status: None,
            error: Some("connection refused".to_owned()),
        }],
        duplicate_of: None,
        order_key: Some("p1".to_owned()),
    }
}
