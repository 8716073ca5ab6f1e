//! A post that has ended never changes: a chunk finishing after its URL expired is refused
//! and the post stays FAILED.

mod support;

use serde_json::json;
use support::Harness;
use support::upload::{file, held_chunk, init, path_of};
use tiktok_api::Scope;

#[tokio::test]
async fn a_chunk_finishing_after_the_url_expired_is_refused_and_an_ended_post_never_changes() {
    let harness = Harness::new();
    let answer = init(&harness, file(1_000, 1_000, 1)).await;
    answer.assert_ok();
    let publish_id = answer.data()["publish_id"].as_str().expect("id").to_owned();
    let path = path_of(answer.data()["upload_url"].as_str().expect("url"));

    // The chunk starts a millisecond before the URL expires...
    harness.advance_ms(3_599_999);
    let (request, polled, send) = held_chunk(&path, 1_000, 1_000);
    let router = harness.router.clone();
    let answer = tokio::spawn(async move { tower::ServiceExt::oneshot(router, request).await });
    polled.await.expect("the handler reads the body");
    // ...the URL expires while its body is in flight, and the post ends FAILED.
    harness.advance_ms(1);
    let fetch = || async {
        // A fresh token each time: the clock moves past token lifetimes.
        let token = harness.token(&[Scope::VideoUpload]);
        let answer = harness
            .post_json(
                "/v2/post/publish/status/fetch/",
                Some(&token),
                json!({ "publish_id": publish_id }).to_string(),
            )
            .await;
        answer.assert_ok();
        answer.data()["status"].clone()
    };
    assert_eq!(fetch().await, json!("FAILED"));
    send.send(vec![7; 1_000]).expect("the handler waits");
    let response = answer.await.expect("joined").expect("infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&bytes));
    assert!(
        String::from_utf8_lossy(&bytes).contains("upload_url_expired"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    // Long after, the post is still FAILED, with one failure event and no other.
    harness.advance_ms(3_600_000);
    assert_eq!(fetch().await, json!("FAILED"));
    let events: Vec<String> = harness
        .state
        .webhooks()
        .deliveries()
        .iter()
        .filter(|delivery| delivery.body.contains(&publish_id))
        .map(|delivery| delivery.event.clone())
        .collect();
    assert!(events.len() <= 1, "{events:?}");
}
