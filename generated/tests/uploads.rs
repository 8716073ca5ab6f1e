//! The upload helper against the mock: chunked files, bytes, URLs and photos, progress,
//! and typed errors for bad sources.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Control, PRIVATE_OPEN_ID, client, mock, user};
use serde_json::json;
use tiktok_api::chunks::ChunkError;
use tiktok_api::upload::{PostTarget, UploadOptions, VideoSource};
use tiktok_api::{Error, PostInfo, PostStatus, PrivacyLevel, UploadError, UserClient};

/// A mock whose posts finish processing at once, its control API, and a handle for its
/// private creator with both posting scopes.
async fn poster() -> (tiktok_mock::MockServer, Control, UserClient) {
    let (mock, control) = mock().await;
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
    (mock, control, user)
}

#[tokio::test]
async fn upload_helper_posts_a_chunked_video_and_reports_progress() {
    let (_mock, _control, user) = poster().await;
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
    let (_mock, control, user) = poster().await;
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
    // The file is named in the cause, which the error gives as its source.
    let cause = std::error::Error::source(&error)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(cause.contains("missing.mp4"), "{error} / {cause}");
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

#[tokio::test]
async fn upload_helper_posts_from_a_url_and_posts_photos() {
    let (_mock, control, user) = poster().await;
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

    // A pull the host cannot serve ends FAILED with its reason, not an error (a verified
    // domain under .invalid: accepted at init, the download fails).
    let (key, _) = control.app().await;
    control
        .post(
            "/_mock/apps",
            json!({"client_key": key, "verified_domains": ["demo.example", "broken.invalid"]}),
        )
        .await;
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

/// `AsyncReadExt::take` under a name that says what the tests mean.
trait TakeBytes: tokio::io::AsyncRead + Sized {
    fn take_bytes(self, limit: u64) -> tokio::io::Take<Self> {
        tokio::io::AsyncReadExt::take(self, limit)
    }
}
impl<T: tokio::io::AsyncRead> TakeBytes for T {}

#[tokio::test]
async fn a_source_longer_than_announced_is_refused_before_its_last_chunk() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(&client, &control, PRIVATE_OPEN_ID, &["video.upload"], 3600).await;
    let error = user
        .upload_video(
            VideoSource::reader(tokio::io::repeat(1).take_bytes(25_000_001), 25_000_000),
            PostTarget::Inbox,
            UploadOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Upload(UploadError::SourceTooLong {
                expected: 25_000_000
            })
        ),
        "{error:?}"
    );
    let posts = control.get("/_mock/posts").await;
    let uploaded = posts["posts"][0]["status"]["uploaded_bytes"].as_i64();
    assert_eq!(
        uploaded,
        Some(10_000_000),
        "the last chunk was not sent: {posts}"
    );
}
