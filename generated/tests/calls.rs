//! The client's calls against the mock on a real socket: paging streams, retries with
//! injected faults, and the local rate limiter.

mod common;

use std::time::Duration;

use common::{DEMO_OPEN_ID, PRIVATE_OPEN_ID, client, mock, user};
use futures::TryStreamExt;
use serde_json::json;
use tiktok_api::{
    Client, Error, ErrorCode, LimiterMode, PageOptions, PostInfo, PrivacyLevel, RetryPolicy,
    UserField, VideoField, VideoListRequest,
};

#[tokio::test]
async fn the_video_stream_equals_the_mocks_list_while_videos_are_added() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(
        &client,
        &control,
        DEMO_OPEN_ID,
        &["user.info.basic", "video.list"],
        3600,
    )
    .await;
    let listed = control
        .get(&format!(
            "/_mock/videos?open_id={DEMO_OPEN_ID}&limit=100000"
        ))
        .await;
    let expected: Vec<String> = listed["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|video| {
            video["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| video["id"].to_string())
        })
        .collect();
    assert!(expected.len() > 100, "the demo creator has many videos");

    // The stream is `Unpin`: `try_next` works on it as it is, no `Box::pin` (this compiles
    // only because it is).
    let mut stream = user.video_list_stream(
        &[VideoField::Id, VideoField::Title],
        VideoListRequest::default(),
        PageOptions::new().page_size(20),
    );
    let mut seen = Vec::new();
    while let Some(video) = stream.try_next().await.unwrap() {
        seen.push(video.id.unwrap());
        if seen.len() == 30 {
            // New videos are newer than any cursor of the walk: they must not show up.
            control
                .post(
                    "/_mock/videos",
                    json!({"open_id": DEMO_OPEN_ID, "title": "added during the walk"}),
                )
                .await;
        }
    }
    assert_eq!(seen, expected);
    let pages = control.calls_to("video_list").await.len();
    assert_eq!(pages, expected.len().div_ceil(20));
}

#[tokio::test]
async fn max_items_caps_the_stream_and_asks_for_no_more_than_needed() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(&client, &control, DEMO_OPEN_ID, &["video.list"], 3600).await;
    let videos: Vec<_> = user
        .video_list_stream(
            &[VideoField::Id],
            VideoListRequest::default(),
            PageOptions::new().page_size(20).max_items(25),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(videos.len(), 25);
    assert_eq!(control.calls_to("video_list").await.len(), 2);
}

#[tokio::test]
async fn research_comments_stream_stops_at_the_index_cursors_reach() {
    let (_mock, control) = mock().await;
    // A video with more comments than the cursor can reach.
    let video_id: i64 = 7_399_000_000_000_000_001;
    control
        .post(
            "/_mock/videos",
            json!({"open_id": DEMO_OPEN_ID, "id": video_id.to_string(), "title": "popular"}),
        )
        .await;
    for id in 0..1_050 {
        control
            .post(
                "/_mock/comments",
                json!({"id": 900_000 + id, "video_id": video_id, "text": "hi"}),
            )
            .await;
    }
    let client = client(&control).await;
    let token = control
        .post("/_mock/tokens", json!({"kind": "client"}))
        .await;
    let token = token["access_token"].as_str().unwrap().to_string();
    let request = tiktok_api::CommentListRequest {
        video_id: Some(video_id),
        ..Default::default()
    };
    let comments: Vec<_> = client
        .research_comment_list_stream(
            &token,
            tiktok_api::CommentField::ALL,
            request,
            PageOptions::new().page_size(100),
        )
        .try_collect()
        .await
        .unwrap();
    let reach = tiktok_api::endpoints::RESEARCH_COMMENT_LIST
        .paging
        .unwrap()
        .max_reach
        .unwrap();
    assert_eq!(comments.len() as u64, reach);
    let ids: Vec<i64> = comments.iter().map(|comment| comment.id.unwrap()).collect();
    let distinct: std::collections::HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len() as u64, reach, "each comment once");
    // Oldest first, as the mock's own list orders them: the first `reach` of 1,050.
    let expected: Vec<i64> = (0..reach as i64).map(|index| 900_000 + index).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn with_retries_off_a_429_is_returned_at_once() {
    let (_mock, control) = mock().await;
    let (key, secret) = control.app().await;
    let client = Client::builder()
        .base_url(control.base())
        .credentials(key, secret)
        .retry_policy(RetryPolicy::off())
        .build()
        .unwrap();
    let (user, _) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 3600).await;
    control.fault("user_info", 1, "rate_limit_exceeded").await;
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::RateLimitExceeded));
    assert_eq!(error.attempts().count, 1);
    assert!(error.is_retryable());
    assert_eq!(control.calls_to("user_info").await.len(), 1);
}

#[tokio::test]
async fn transient_errors_are_retried_and_the_call_log_shows_each_attempt() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 3600).await;
    control.fault("user_info", 2, "internal_error").await;
    let me = user.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(me.user.open_id.as_deref(), Some(DEMO_OPEN_ID));
    let calls = control.calls_to("user_info").await;
    assert_eq!(calls.len(), 3);

    // More faults than attempts: the last error, its log_id and the attempt count.
    control.fault("user_info", 5, "internal_error").await;
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert_eq!(error.attempts().count, 3);
    assert_eq!(error.code(), Some(&ErrorCode::InternalError));
    let calls = control.calls_to("user_info").await;
    assert_eq!(error.log_id(), calls.last().unwrap()["log_id"].as_str());
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_429_whose_window_does_not_free_in_time_and_a_500_write_are_returned_at_once() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(&client, &control, PRIVATE_OPEN_ID, &["video.upload"], 3600).await;
    let body = tiktok_api::InboxVideoInitRequest {
        source_info: tiktok_api::VideoSourceInfo {
            source: tiktok_api::Source::FileUpload,
            video_url: None,
            video_size: Some(1000),
            chunk_size: Some(1000),
            total_chunk_count: Some(1),
        },
    };
    // The window frees only when the call just sent leaves it, a minute from now: past the
    // default policy's 30 s, so the 429 comes back at once, saying how long to wait, and
    // matches as the API error it is.
    control
        .fault("inbox_video_init", 1, "rate_limit_exceeded")
        .await;
    let error = user.inbox_video_init(&body).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Api {
                status: 429,
                code: ErrorCode::RateLimitExceeded,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.attempts().count, 1);
    let wait = error.retry_after().expect("a 429 says how long to wait");
    assert!(
        wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(control.calls_to("inbox_video_init").await.len(), 1);

    control.fault("inbox_video_init", 1, "internal_error").await;
    let error = user.inbox_video_init(&body).await.unwrap_err();
    assert_eq!(error.attempts().count, 1);
    assert_eq!(error.code(), Some(&ErrorCode::InternalError));
    assert_eq!(control.calls_to("inbox_video_init").await.len(), 2);
}

#[tokio::test]
async fn fail_fast_limiter_sends_six_direct_post_inits_of_seven() {
    let (_mock, control) = mock().await;
    let (key, secret) = control.app().await;
    let client = Client::builder()
        .base_url(control.base())
        .credentials(key, secret)
        .rate_limiter(LimiterMode::FailFast)
        .retry_policy(RetryPolicy::off())
        .build()
        .unwrap();
    let (user, _) = user(&client, &control, PRIVATE_OPEN_ID, &["video.publish"], 3600).await;
    let body = tiktok_api::VideoInitRequest {
        post_info: PostInfo::new(PrivacyLevel::SelfOnly),
        source_info: tiktok_api::VideoSourceInfo {
            source: tiktok_api::Source::FileUpload,
            video_url: None,
            video_size: Some(1000),
            chunk_size: Some(1000),
            total_chunk_count: Some(1),
        },
    };
    let limit = tiktok_api::endpoints::VIDEO_INIT.rate_limit.per_minute as usize;
    let mut refused = 0;
    for _ in 0..limit + 1 {
        match user.video_init(&body).await {
            Ok(_) => {}
            Err(Error::RateLimited {
                endpoint,
                retry_after,
            }) => {
                assert_eq!(endpoint, "video_init");
                assert!(retry_after > Duration::from_secs(50));
                refused += 1;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refused, 1);
    assert_eq!(control.calls_to("video_init").await.len(), limit);
}

/// A 429 whose window frees within the policy's limits is waited for and sent again: the
/// client's limiter knows when its window frees (when its oldest send leaves it, a minute
/// after the first attempt), the policy allows a wait that long, and the second attempt gets
/// through. Tokio's clock is paused, so the minute passes at once; the mock runs on the same
/// runtime, and the HTTP client has no timers of its own (no timeout, no idle pool timer) for
/// the paused clock to fire early.
#[tokio::test(start_paused = true)]
async fn a_429_whose_window_frees_within_the_policy_is_waited_for_and_sent_again() {
    let (_mock, control) = mock().await;
    let (key, secret) = control.app().await;
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    let client = Client::builder()
        .base_url(control.base())
        .credentials(key, secret)
        .http_client(http)
        .retry_policy(common::fast_retries().max_elapsed(Some(Duration::from_secs(120))))
        .build()
        .unwrap();
    let (user, _) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 3600).await;
    control.fault("user_info", 1, "rate_limit_exceeded").await;
    let started = tokio::time::Instant::now();
    let info = user.user_info(&[UserField::OpenId]).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(info.user.open_id.as_deref(), Some(DEMO_OPEN_ID));
    assert_eq!(control.calls_to("user_info").await.len(), 2);
    // It waited for the window, not for a backoff of milliseconds.
    assert!(
        waited >= Duration::from_secs(55) && waited <= Duration::from_secs(61),
        "{waited:?}"
    );
}
