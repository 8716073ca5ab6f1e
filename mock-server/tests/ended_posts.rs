//! Posts that have ended take no more chunks: a chunk finishing after its URL expired, and
//! a chunk for a post failed through the control API.

mod support;

use serde_json::json;
use support::Harness;
use support::upload::{chunk, file, held_chunk, init, path_of, range};
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

#[tokio::test]
async fn a_post_failed_by_the_control_api_takes_no_more_chunks() {
    let harness = Harness::new();
    let answer = init(&harness, file(10_000_000, 5_000_000, 2)).await;
    answer.assert_ok();
    let publish_id = answer.data()["publish_id"].as_str().expect("id").to_owned();
    let path = path_of(answer.data()["upload_url"].as_str().expect("url"));
    assert_eq!(
        chunk(&harness, &path, 0, 4_999_999, 10_000_000)
            .await
            .status,
        206
    );
    let failed = harness
        .post_json(
            "/_mock/posts/fail",
            None,
            json!({"publish_id": publish_id, "fail_reason": "file_format_check_failed"})
                .to_string(),
        )
        .await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    let answer = chunk(&harness, &path, 5_000_000, 9_999_999, 10_000_000).await;
    answer.assert_error(404, "upload_not_found");
    assert_eq!(range(&answer), "bytes 0-4999999/10000000");
    let token = harness.token(&[Scope::VideoUpload]);
    let status = harness
        .post_json(
            "/v2/post/publish/status/fetch/",
            Some(&token),
            json!({ "publish_id": publish_id }).to_string(),
        )
        .await;
    status.assert_ok();
    assert_eq!(status.data()["status"], json!("FAILED"));
    assert_eq!(status.data()["uploaded_bytes"], json!(5_000_000));
}
