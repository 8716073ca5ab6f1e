//! Sliding-window rate limits per access token and endpoint, with the spec's figures.

mod support;

use std::sync::Arc;

use support::{Harness, all_user_scopes};
use tiktok_api::endpoints::{USER_INFO, VIDEO_LIST};

const PATH: &str = "/v2/user/info/?fields=open_id";

#[tokio::test]
async fn the_call_over_the_spec_limit_gets_429() {
    let mock = Harness::new();
    let limit = USER_INFO.rate_limit.per_minute;
    assert_eq!(limit, 600);
    let token = mock.token(&all_user_scopes());
    for _ in 0..limit {
        mock.get(PATH, Some(&token)).await.assert_ok();
    }
    let answer = mock.get(PATH, Some(&token)).await;
    answer.assert_error(429, "rate_limit_exceeded");
    assert!(answer.message().contains("600"), "{}", answer.text);
    // Another token, and the same token on another endpoint, have their own windows.
    let other = mock.token(&all_user_scopes());
    mock.get(PATH, Some(&other)).await.assert_ok();
    mock.post_json("/v2/video/list/?fields=id", Some(&token), "{}")
        .await
        .assert_ok();
}

#[tokio::test]
async fn the_window_slides_without_a_reset_at_the_minute() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    // 600 calls between t=0 s and t=29.95 s: 20 per second, one every 50 ms.
    for _ in 0..600 {
        mock.get(PATH, Some(&token)).await.assert_ok();
        mock.advance_ms(50);
    }
    // t = 30 s.
    mock.get(PATH, Some(&token))
        .await
        .assert_error(429, "rate_limit_exceeded");
    // t = 59.999 s: nothing is 60 s old yet.
    mock.advance_ms(29_999);
    mock.get(PATH, Some(&token))
        .await
        .assert_error(429, "rate_limit_exceeded");
    // t = 61 s: the calls made at t <= 1 s (21 of them: 0, 0.05, ..., 1.0) are 60 s old or more.
    mock.advance_ms(1_001);
    for _ in 0..21 {
        mock.get(PATH, Some(&token)).await.assert_ok();
    }
    mock.get(PATH, Some(&token))
        .await
        .assert_error(429, "rate_limit_exceeded");
    // t = 62 s: 20 more (t in (1 s, 2 s]) free up, no more.
    mock.advance_ms(1_000);
    for _ in 0..20 {
        mock.get(PATH, Some(&token)).await.assert_ok();
    }
    mock.get(PATH, Some(&token))
        .await
        .assert_error(429, "rate_limit_exceeded");
}

#[tokio::test]
async fn refused_calls_do_not_count() {
    let mock = Harness::with(|builder| builder.rate_limit_scale(2.0 / 600.0));
    let token = mock.token(&all_user_scopes());
    mock.get(PATH, Some(&token)).await.assert_ok();
    mock.advance_ms(30_000);
    mock.get(PATH, Some(&token)).await.assert_ok();
    for _ in 0..10 {
        mock.get(PATH, Some(&token))
            .await
            .assert_error(429, "rate_limit_exceeded");
    }
    // At t = 60 s the first call leaves the window; the refused ones never entered it.
    mock.advance_ms(30_000);
    mock.get(PATH, Some(&token)).await.assert_ok();
    mock.get(PATH, Some(&token))
        .await
        .assert_error(429, "rate_limit_exceeded");
}

#[tokio::test]
async fn rate_limit_scale_multiplies_the_spec_figure() {
    let mock = Harness::with(|builder| builder.rate_limit_scale(0.01));
    assert_eq!(mock.state.rate_limit(&VIDEO_LIST), 6);
    let token = mock.token(&all_user_scopes());
    for _ in 0..6 {
        mock.post_json("/v2/video/list/?fields=id", Some(&token), "{}")
            .await
            .assert_ok();
    }
    mock.post_json("/v2/video/list/?fields=id", Some(&token), "{}")
        .await
        .assert_error(429, "rate_limit_exceeded");
    let big = Harness::with(|builder| builder.rate_limit_scale(1000.0));
    assert_eq!(big.state.rate_limit(&VIDEO_LIST), 600_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_limit_passes_under_concurrency() {
    let mock = Arc::new(Harness::new());
    let token = Arc::new(mock.token(&all_user_scopes()));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let mock = Arc::clone(&mock);
        let token = Arc::clone(&token);
        tasks.push(tokio::spawn(async move {
            mock.get(PATH, Some(&token)).await.status
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for task in tasks {
        match task.await.expect("task") {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, limited), (600, 400));
}
