//! The client's runtime against the mock on a real socket: paging streams, retries with
//! injected faults, the local rate limiter, token refresh (single flight), revoke, the
//! upload helper, and typed errors for bad input.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Control, DEMO_OPEN_ID, PRIVATE_OPEN_ID};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use tiktok_api::chunks::ChunkError;
use tiktok_api::runtime::upload::{PostTarget, UploadOptions, VideoSource};
use tiktok_api::{
    Client, Error, ErrorCode, FileTokenStore, LimiterMode, MemoryTokenStore, PageOptions, PostInfo,
    PostStatus, PrivacyLevel, RetryPolicy, StoredToken, TokenStore, UploadError, UserField,
    VideoField, VideoListRequest,
};

async fn mock() -> (tiktok_mock::MockServer, Control) {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    (mock, control)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

async fn client(control: &Control) -> Client {
    let (key, secret) = control.app().await;
    Client::builder()
        .base_url(&control.base)
        .credentials(key, secret)
        .retry_policy(fast_retries())
        .build()
        .unwrap()
}

/// A user handle whose store holds a token minted by the mock, marked as expiring in
/// `expires_in` seconds on this machine's clock.
async fn user(
    client: &Client,
    control: &Control,
    open_id: &str,
    scopes: &[&str],
    expires_in: i64,
) -> (tiktok_api::UserClient, Arc<MemoryTokenStore>) {
    let minted = control.mint(open_id, scopes).await;
    let token: tiktok_api::Token = serde_json::from_value(minted).unwrap();
    let store = Arc::new(MemoryTokenStore::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut stored = StoredToken::from_token(&token, open_id, now, None);
    stored.access_expires_at = now + expires_in;
    store.save(&stored).await.unwrap();
    (client.user(store.clone(), open_id), store)
}

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

    let mut stream = Box::pin(user.video_list_stream(
        &[VideoField::Id, VideoField::Title],
        VideoListRequest::default(),
        PageOptions::new().page_size(20),
    ));
    let mut seen = Vec::new();
    while let Some(video) = stream.next().await {
        let video = video.unwrap();
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
    let mut ids: Vec<_> = comments.iter().map(|comment| comment.id.unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len() as u64, reach, "each comment once");
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
    assert_eq!(error.attempts(), 3);
    assert_eq!(error.code(), Some(&ErrorCode::InternalError));
    let calls = control.calls_to("user_info").await;
    assert_eq!(error.log_id(), calls.last().unwrap()["log_id"].as_str());
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_write_is_retried_after_a_429_but_not_after_a_500() {
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
    control
        .fault("inbox_video_init", 1, "rate_limit_exceeded")
        .await;
    user.inbox_video_init(&body).await.unwrap();
    assert_eq!(control.calls_to("inbox_video_init").await.len(), 2);

    control.fault("inbox_video_init", 1, "internal_error").await;
    let error = user.inbox_video_init(&body).await.unwrap_err();
    assert_eq!(error.attempts(), 1);
    assert_eq!(error.code(), Some(&ErrorCode::InternalError));
    assert_eq!(control.calls_to("inbox_video_init").await.len(), 3);
}

#[tokio::test]
async fn fail_fast_limiter_sends_six_direct_post_inits_of_seven() {
    let (_mock, control) = mock().await;
    let (key, secret) = control.app().await;
    let client = Client::builder()
        .base_url(&control.base)
        .credentials(key, secret)
        .rate_limiter(Some(LimiterMode::FailFast))
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

#[tokio::test]
async fn fifty_concurrent_callers_with_an_expired_token_refresh_once() {
    let mock = tiktok_mock::MockServer::builder()
        .clock_kind(tiktok_mock::ClockKind::Manual)
        .start()
        .await;
    let control = Control::new(mock.uri());
    let client = client(&control).await;
    let (user, store) = user(
        &client,
        &control,
        DEMO_OPEN_ID,
        &["user.info.basic"],
        3600 * 24,
    )
    .await;
    let before = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    // The mock's clock passes the access token's lifetime; the client does not know.
    control
        .post("/_mock/clock/advance", json!({"seconds": 7201}))
        .await;
    let calls = (0..50).map(|_| {
        let user = user.clone();
        async move { user.user_info(&[UserField::OpenId]).await }
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap().user.open_id.as_deref(), Some(DEMO_OPEN_ID));
    }
    assert_eq!(control.calls_to("token").await.len(), 1);
    let after = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    use secrecy::ExposeSecret;
    assert_ne!(
        after.access_token.expose_secret(),
        before.access_token.expose_secret()
    );
    assert_ne!(
        after.refresh_token.as_ref().unwrap().expose_secret(),
        before.refresh_token.as_ref().unwrap().expose_secret(),
        "the rotated refresh token is stored"
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 10).await;
    user.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(control.calls_to("token").await.len(), 1);
    let decisions: Vec<_> = control
        .calls_to("user_info")
        .await
        .iter()
        .map(|call| call["decision"].clone())
        .collect();
    assert_eq!(
        decisions,
        vec![json!("ok")],
        "no call went out with the old token"
    );
}

#[tokio::test]
async fn a_refused_refresh_token_asks_for_re_authorization() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, store) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], -1).await;
    let mut stored = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    stored.refresh_token = Some("rft.not-a-real-one".to_string().into());
    store.save(&stored).await.unwrap();
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert!(
        matches!(error, Error::ReauthorizationRequired { ref open_id, .. } if open_id == DEMO_OPEN_ID),
        "{error:?}"
    );
    // A user never stored is the same typed error.
    let stranger = client.user(Arc::new(MemoryTokenStore::new()), "-000nobody");
    assert!(matches!(
        stranger.user_info(&[UserField::OpenId]).await,
        Err(Error::ReauthorizationRequired { .. })
    ));
}

#[tokio::test]
async fn revoke_clears_the_store_and_the_token_stops_working() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, store) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 3600).await;
    let token = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    user.revoke().await.unwrap();
    assert!(store.load(DEMO_OPEN_ID).await.unwrap().is_none());
    use secrecy::ExposeSecret;
    let error = client
        .user_info(token.access_token.expose_secret(), &[UserField::OpenId])
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::AccessTokenInvalid));
}

#[tokio::test]
async fn a_file_store_survives_a_new_client_and_keeps_the_rotated_token() {
    let (_mock, control) = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let client = client(&control).await;
    let (user, memory) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 10).await;
    let file = Arc::new(FileTokenStore::new(&path));
    file.save(&memory.load(DEMO_OPEN_ID).await.unwrap().unwrap())
        .await
        .unwrap();
    drop(user);
    let user = client.user(file.clone(), DEMO_OPEN_ID);
    user.user_info(&[UserField::OpenId]).await.unwrap();
    let again = self::client(&control)
        .await
        .user(Arc::new(FileTokenStore::new(&path)), DEMO_OPEN_ID);
    again.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(
        control.calls_to("token").await.len(),
        1,
        "the refreshed token was read back"
    );
}

#[tokio::test]
async fn a_corrupt_store_is_a_typed_error_and_the_file_is_kept() {
    let (_mock, control) = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(&path, b"\x00garbage").unwrap();
    let client = client(&control).await;
    let user = client.user(Arc::new(FileTokenStore::new(&path)), DEMO_OPEN_ID);
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::TokenStore(tiktok_api::TokenStoreError::Corrupt { .. })
        ),
        "{error:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"\x00garbage");
    assert!(control.calls_to("user_info").await.is_empty());
}

/// A store whose saves fail, to check a refreshed token is not lost.
#[derive(Debug, Default)]
struct FailingSaves {
    inner: MemoryTokenStore,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl TokenStore for FailingSaves {
    async fn load(
        &self,
        open_id: &str,
    ) -> Result<Option<StoredToken>, tiktok_api::TokenStoreError> {
        self.inner.load(open_id).await
    }
    async fn save(&self, token: &StoredToken) -> Result<(), tiktok_api::TokenStoreError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(tiktok_api::TokenStoreError::Other("disk full".into()));
        }
        self.inner.save(token).await
    }
    async fn remove(&self, open_id: &str) -> Result<(), tiktok_api::TokenStoreError> {
        self.inner.remove(open_id).await
    }
}

#[tokio::test]
async fn an_unwritable_store_loses_no_refreshed_token() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (_, memory) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 10).await;
    let store = Arc::new(FailingSaves::default());
    store
        .save(&memory.load(DEMO_OPEN_ID).await.unwrap().unwrap())
        .await
        .unwrap();
    store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let user = client.user(store.clone(), DEMO_OPEN_ID);
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert!(matches!(error, Error::TokenStore(_)), "{error:?}");
    // The old refresh token is dead now; the handle kept the new one and saves it later.
    store.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    user.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(control.calls_to("token").await.len(), 1);
    let saved = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    assert!(
        saved.access_expires_at
            > memory
                .load(DEMO_OPEN_ID)
                .await
                .unwrap()
                .unwrap()
                .access_expires_at
    );
}

#[tokio::test]
async fn upload_helper_posts_a_chunked_video_and_reports_progress() {
    let (_mock, control) = mock().await;
    control
        .post("/_mock/posting", json!({"processing_ms": 0}))
        .await;
    let client = client(&control).await;
    let (user, _) = user(
        &client,
        &control,
        PRIVATE_OPEN_ID,
        &["video.publish", "video.upload"],
        3600,
    )
    .await;
    let size = 25_000_123u64;
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let progress = seen.clone();
    let posted = user
        .upload_video(
            VideoSource::reader(tokio::io::repeat(7).take_bytes(size), size),
            PostTarget::Direct(PostInfo::new(PrivacyLevel::SelfOnly)),
            UploadOptions::new()
                .poll_interval(Duration::from_millis(10), Duration::from_millis(50))
                .on_progress(move |report| progress.lock().push(report.bytes_sent)),
        )
        .await
        .unwrap();
    assert_eq!(posted.status.status, PostStatus::PublishComplete);
    let seen = seen.lock().clone();
    assert!(
        seen.contains(&10_000_000) && seen.contains(&size),
        "{seen:?}"
    );

    let inbox = user
        .upload_video(
            VideoSource::Bytes(vec![1u8; 3_000_000].into()),
            PostTarget::Inbox,
            UploadOptions::new()
                .poll_interval(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .await
        .unwrap();
    assert_eq!(inbox.status.status, PostStatus::SendToUserInbox);
}

#[tokio::test]
async fn upload_helper_refuses_bad_sources_with_typed_errors() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(
        &client,
        &control,
        PRIVATE_OPEN_ID,
        &["video.publish", "video.upload"],
        3600,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let error = user
        .upload_video(
            VideoSource::Path(empty),
            PostTarget::Inbox,
            UploadOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Upload(UploadError::Plan(ChunkError::Empty))),
        "{error:?}"
    );

    let huge = tiktok_api::ChunkRules::strict().max_video_size() + 1;
    let error = user
        .upload_video(
            VideoSource::reader(tokio::io::empty(), huge),
            PostTarget::Inbox,
            UploadOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Upload(UploadError::Plan(ChunkError::TooLarge { .. }))
        ),
        "{error:?}"
    );

    let missing = dir.path().join("missing.mp4");
    let error = user
        .upload_video(
            VideoSource::Path(missing),
            PostTarget::Inbox,
            UploadOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Upload(UploadError::Io(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing.mp4"), "{error}");
    assert!(
        control.calls_to("inbox_video_init").await.is_empty(),
        "nothing was sent"
    );

    // A stream that closes mid-upload.
    let error = user
        .upload_video(
            VideoSource::reader(tokio::io::repeat(1).take_bytes(12_000_000), 30_000_000),
            PostTarget::Inbox,
            UploadOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Upload(UploadError::SourceEnded {
                expected: 30_000_000,
                read: 12_000_000
            })
        ),
        "{error:?}"
    );
}

/// `AsyncReadExt::take` under a name that says what the tests mean.
trait TakeBytes: tokio::io::AsyncRead + Sized {
    fn take_bytes(self, limit: u64) -> tokio::io::Take<Self> {
        tokio::io::AsyncReadExt::take(self, limit)
    }
}
impl<T: tokio::io::AsyncRead> TakeBytes for T {}

#[tokio::test]
async fn upload_helper_posts_from_a_url_and_posts_photos() {
    let (_mock, control) = mock().await;
    control
        .post("/_mock/posting", json!({"processing_ms": 0}))
        .await;
    let client = client(&control).await;
    let (user, _) = user(
        &client,
        &control,
        PRIVATE_OPEN_ID,
        &["video.publish", "video.upload"],
        3600,
    )
    .await;
    let options =
        || UploadOptions::new().poll_interval(Duration::from_millis(10), Duration::from_millis(50));
    let pulled = user
        .upload_video(
            VideoSource::Url("https://media.demo.example/clip.mp4".into()),
            PostTarget::Direct(PostInfo::new(PrivacyLevel::SelfOnly)),
            options(),
        )
        .await
        .unwrap();
    assert_eq!(pulled.status.status, PostStatus::PublishComplete);
    assert!(
        pulled.publish_id.starts_with("v_pub_url"),
        "{}",
        pulled.publish_id
    );

    let request = tiktok_api::ContentInitRequest {
        media_type: tiktok_api::MediaType::Photo,
        post_mode: tiktok_api::PostMode::MediaUpload,
        is_aigc: None,
        post_info: tiktok_api::PhotoPostInfo::default(),
        source_info: tiktok_api::PhotoSourceInfo {
            source: tiktok_api::Source::PullFromUrl,
            photo_images: vec![
                "https://media.demo.example/1.jpg".into(),
                "https://media.demo.example/2.jpg".into(),
            ],
            photo_cover_index: 0,
        },
    };
    let photos = user.post_photos(&request, options()).await.unwrap();
    assert!(
        photos.publish_id.starts_with("p_inbox_url"),
        "{}",
        photos.publish_id
    );
    assert!(!photos.is_failed(), "{photos:?}");

    // A pull the host cannot serve ends FAILED with its reason, not an error.
    let failed = user
        .upload_video(
            VideoSource::Url("https://broken.invalid/clip.mp4".into()),
            PostTarget::Inbox,
            options(),
        )
        .await
        .unwrap();
    assert!(failed.is_failed(), "{failed:?}");
    assert!(failed.status.fail_reason.is_some());
}
