//! Webhooks as a post's life produces them: each post's events in the order they happened
//! (a later one waits while an earlier one is retried), and photo posts' `post.publish.*`
//! events for the real family. (Failed attempts' warn lines: `tests/webhook_logs.rs`.)

mod support;

use serde_json::json;
use support::{Receiver, client_secret, control, deliveries, eventually, manual_mock};
use tiktok_api::{
    ContentInitRequest, MediaType, PhotoPostInfo, PhotoSourceInfo, PostMode, PrivacyLevel, Scope,
    Source,
};

/// Points the demo app at `url` with the real `post.publish.*` family, posts finishing at once.
async fn real_family(mock: &tiktok_mock::MockServer, url: &str) {
    let (status, body) = control(
        mock,
        "/_mock/webhooks/callback",
        json!({"callback_url": url, "webhook_family": "real"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = control(mock, "/_mock/posting", json!({"processing_ms": 0})).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_posts_events_arrive_in_the_order_they_happened() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    real_family(&mock, &receiver.url).await;
    receiver.answer(500);
    let client = support::client(&mock);
    let token = mock.user_token(None, &[Scope::VideoPublish]);
    client
        .video_init(&token, &support::public_pull_post())
        .await
        .expect("init");
    // Published and public at once: two events of one post, queued together.
    assert!(mock.advance(0));
    let list = eventually(|| async {
        let list = deliveries(&mock).await;
        let first_tried = list.first().is_some_and(|d| {
            d["attempts"].as_array().is_some_and(|a| !a.is_empty()) && d["state"] != "in_flight"
        });
        (list.len() == 2 && first_tried).then_some(list)
    })
    .await;
    assert_eq!(list[0]["event"], "post.publish.complete");
    assert_eq!(list[1]["event"], "post.publish.publicly_available");
    assert_eq!(list[0]["order_key"], list[1]["order_key"]);
    // The second waits while the first is retried.
    assert_eq!(list[1]["attempts"], json!([]), "{}", list[1]);
    assert_eq!(list[1]["state"], "pending");
    receiver.answer(200);
    assert!(mock.advance(60));
    let received = receiver.wait_for(2).await;
    let events: Vec<&str> = received.iter().map(|r| r.payload.event.as_str()).collect();
    assert_eq!(
        events,
        ["post.publish.complete", "post.publish.publicly_available"]
    );
}

#[tokio::test]
async fn photo_posts_fire_the_real_familys_events() {
    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    real_family(&mock, &receiver.url).await;
    let client = support::client(&mock);
    let token = mock.user_token(None, &[Scope::VideoPublish]);
    let init = client
        .content_init(
            &token,
            &ContentInitRequest {
                media_type: MediaType::Photo,
                post_mode: PostMode::DirectPost,
                is_aigc: None,
                post_info: PhotoPostInfo {
                    privacy_level: Some(PrivacyLevel::PublicToEveryone),
                    ..PhotoPostInfo::default()
                },
                source_info: PhotoSourceInfo {
                    source: Source::PullFromUrl,
                    photo_images: vec!["https://media.demo.example/1.jpeg".to_owned()],
                    photo_cover_index: 0,
                },
            },
        )
        .await
        .expect("init");
    assert!(mock.advance(0));
    let received = receiver.wait_for(2).await;
    let events: Vec<&str> = received.iter().map(|r| r.payload.event.as_str()).collect();
    assert_eq!(
        events,
        ["post.publish.complete", "post.publish.publicly_available"]
    );
    let content: serde_json::Value =
        serde_json::from_str(&received[0].payload.content).expect("content");
    assert_eq!(content["publish_id"], json!(init.publish_id));
}
