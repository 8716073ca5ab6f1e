//! Content posting end to end on a real socket: the generated client for the API calls,
//! reqwest for the chunk PUTs and the control API, a manual clock for processing time.
//! The flows (direct, inbox, pull, photos, status, failures, settling) are here; the
//! refusals (audit, privacy, blocked creators, caps, rate limit) in `posting_rules.rs`.

mod support;

use serde_json::json;
use tiktok_api::{
    ContentInitRequest, ErrorCode, FailReason, InboxVideoInitRequest, MediaType, PhotoPostInfo,
    PhotoSourceInfo, PostMode, PostStatus, PrivacyLevel, Scope, Source, StatusFetchRequest,
    VideoField, VideoInitRequest, VideoListRequest,
};
use tiktok_mock::{ClockKind, MockServer};

use support::posting::{
    FIXTURES, PRIVATE, PUBLIC, all_scopes, api_error, content_range, events, file_source,
    post_info, put_chunk, start, status, token, url_source,
};
use support::{client_key, control, unaudited_app};

#[tokio::test]
async fn a_direct_post_in_chunks_is_published_and_listed_newest_first() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PUBLIC, "a-audited");

    let info = client.creator_info(&token).await.expect("creator info");
    assert_eq!(info.creator_username, "public.creator");
    assert_eq!(info.creator_nickname, "Public Creator");
    assert_eq!(
        info.privacy_level_options,
        vec![
            PrivacyLevel::PublicToEveryone,
            PrivacyLevel::MutualFollowFriends,
            PrivacyLevel::SelfOnly
        ]
    );
    assert_eq!(info.max_video_post_duration_sec, 300);

    // 12,000,000 bytes in chunks of 5,000,000: two chunks, the last one 7,000,000 bytes.
    let total = 12_000_000;
    let init = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::PublicToEveryone, "Fresh from the mock #demo"),
                source_info: file_source(total, 5_000_000),
            },
        )
        .await
        .expect("video init");
    assert!(
        init.publish_id.starts_with("v_pub_file~v2-1."),
        "{}",
        init.publish_id
    );
    let upload_url = init.upload_url.expect("upload_url");
    assert!(
        upload_url.starts_with(&format!("{}/upload/video/?upload_id=", mock.uri())),
        "{upload_url}"
    );

    let first = status(&client, &token, &init.publish_id).await;
    assert_eq!(first.status, PostStatus::ProcessingUpload);
    assert_eq!(first.uploaded_bytes, Some(0));
    assert_eq!(
        first.downloaded_bytes, None,
        "an upload reports uploaded_bytes only"
    );

    let response = put_chunk(&upload_url, 0, 4_999_999, total).await;
    assert_eq!(response.status().as_u16(), 206);
    assert_eq!(content_range(&response), "bytes 0-4999999/12000000");
    let halfway = status(&client, &token, &init.publish_id).await;
    assert_eq!(halfway.status, PostStatus::ProcessingUpload);
    assert_eq!(halfway.uploaded_bytes, Some(5_000_000));

    let response = put_chunk(&upload_url, 5_000_000, total - 1, total).await;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(content_range(&response), "bytes 0-11999999/12000000");

    // Processing takes time on the mock's clock.
    let processing = status(&client, &token, &init.publish_id).await;
    assert_eq!(processing.status, PostStatus::ProcessingUpload);
    assert_eq!(processing.uploaded_bytes, Some(total));
    assert!(mock.advance(6));
    let done = status(&client, &token, &init.publish_id).await;
    assert_eq!(done.status, PostStatus::PublishComplete);
    let post_ids = done.publicaly_available_post_id.expect("post ids");
    assert_eq!(post_ids.len(), 1);

    let page = client
        .video_list(
            &token,
            &[VideoField::Id, VideoField::Title, VideoField::CreateTime],
            &VideoListRequest {
                max_count: Some(20),
                cursor: None,
            },
        )
        .await
        .expect("video list");
    assert_eq!(page.videos.len(), 4, "3 fixture videos and the new one");
    assert_eq!(page.videos[0].id, Some(post_ids[0].to_string()));
    assert_eq!(
        page.videos[0].title.as_deref(),
        Some("Fresh from the mock #demo")
    );

    // The seed family: video.publish.completed with the publish id as share_id, once.
    let events = events(&mock);
    assert_eq!(
        events,
        vec![(
            "video.publish.completed".to_owned(),
            json!({"share_id": init.publish_id})
        )]
    );
    status(&client, &token, &init.publish_id).await;
    assert_eq!(mock.state().webhooks().deliveries().len(), 1);
}

#[tokio::test]
async fn an_inbox_pull_goes_to_the_inbox_and_is_posted_from_there() {
    let (mock, client) = start().await;
    let token = token(
        &mock,
        PUBLIC,
        "a-audited",
        &[Scope::VideoUpload, Scope::VideoList],
    );
    let init = client
        .inbox_video_init(
            &token,
            &InboxVideoInitRequest {
                source_info: url_source("https://media.example/clip.mp4"),
            },
        )
        .await
        .expect("inbox init");
    assert!(init.publish_id.starts_with("v_inbox_url~v2."));
    assert_eq!(init.upload_url, None);

    let downloading = status(&client, &token, &init.publish_id).await;
    assert_eq!(downloading.status, PostStatus::ProcessingDownload);
    assert_eq!(downloading.downloaded_bytes, Some(0));
    assert_eq!(
        downloading.uploaded_bytes, None,
        "a pull reports downloaded_bytes only"
    );
    assert!(mock.advance(2));
    let partly = status(&client, &token, &init.publish_id).await;
    assert_eq!(partly.status, PostStatus::ProcessingDownload);
    assert_eq!(partly.downloaded_bytes, Some(4_000_000));
    assert!(mock.advance(3));
    let inbox = status(&client, &token, &init.publish_id).await;
    assert_eq!(inbox.status, PostStatus::SendToUserInbox);
    assert_eq!(inbox.downloaded_bytes, Some(10_000_000));
    assert_eq!(inbox.publicaly_available_post_id, Some(vec![]));

    // The creator posts the draft from the TikTok app.
    let (code, answer) = control(
        &mock,
        "/_mock/posts/publish",
        json!({"publish_id": init.publish_id}),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let done = status(&client, &token, &init.publish_id).await;
    assert_eq!(done.status, PostStatus::PublishComplete);
    let post_id = done.publicaly_available_post_id.expect("ids")[0];
    let page = client
        .video_list(&token, &[VideoField::Id], &VideoListRequest::default())
        .await
        .expect("video list");
    assert_eq!(page.videos[0].id, Some(post_id.to_string()));
    // The seed family has no event for a successful inbox upload.
    assert!(events(&mock).is_empty());
}

#[tokio::test]
async fn a_pull_from_a_failing_host_fails_and_fires_the_real_family_event() {
    let (mock, client) = start().await;
    // The unaudited app posts only to private accounts, as SELF_ONLY.
    let token = all_scopes(&mock, PRIVATE, "b-unaudited");
    let init = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::FollowerOfCreator, "never"),
                source_info: url_source("https://cdn.broken.invalid/clip.mp4"),
            },
        )
        .await
        .expect("video init");
    assert!(init.publish_id.starts_with("v_pub_url~v2-1."));
    assert!(mock.advance(5));
    let failed = status(&client, &token, &init.publish_id).await;
    assert_eq!(failed.status, PostStatus::Failed);
    assert_eq!(failed.fail_reason, Some(FailReason::VideoPullFailed));
    assert_eq!(
        events(&mock),
        vec![(
            "post.publish.failed".to_owned(),
            json!({"publish_id": init.publish_id, "publish_type": "DIRECT_PUBLISH", "reason": "video_pull_failed"})
        )]
    );
}

#[tokio::test]
async fn photo_posts_go_through_content_init_with_scope_by_post_mode() {
    let (mock, client) = start().await;
    let upload_only = token(&mock, PUBLIC, "a-audited", &[Scope::VideoUpload]);
    let request = |mode: PostMode, images: usize, title: &str| ContentInitRequest {
        media_type: MediaType::Photo,
        post_mode: mode,
        is_aigc: None,
        post_info: PhotoPostInfo {
            title: Some(title.to_owned()),
            description: Some("d".repeat(4000)),
            privacy_level: Some(PrivacyLevel::PublicToEveryone),
            ..PhotoPostInfo::default()
        },
        source_info: PhotoSourceInfo {
            source: Source::PullFromUrl,
            photo_images: (0..images)
                .map(|n| format!("https://media.example/{n}.jpeg"))
                .collect(),
            photo_cover_index: 0,
        },
    };
    let (status_code, code, _) = api_error(
        client
            .content_init(&upload_only, &request(PostMode::DirectPost, 1, "t"))
            .await,
    );
    assert_eq!((status_code, code), (401, ErrorCode::ScopeNotAuthorized));
    let inbox = client
        .content_init(&upload_only, &request(PostMode::MediaUpload, 35, "t"))
        .await
        .expect("media upload");
    assert!(inbox.publish_id.starts_with("p_inbox_url~v2."));

    let publish = token(&mock, PUBLIC, "a-audited", &[Scope::VideoPublish]);
    // 90 UTF-16 units: 45 emoji of two units each.
    let title = "😀".repeat(45);
    let direct = client
        .content_init(&publish, &request(PostMode::DirectPost, 2, &title))
        .await
        .expect("direct photo post");
    assert!(direct.publish_id.starts_with("p_pub_url~v2."));
    assert!(mock.advance(5));
    let done = status(&client, &publish, &direct.publish_id).await;
    assert_eq!(done.status, PostStatus::PublishComplete);
    assert_eq!(
        done.publicaly_available_post_id.map(|ids| ids.len()),
        Some(1)
    );

    for (bad, what) in [
        (request(PostMode::DirectPost, 36, "t"), "photo_images"),
        (request(PostMode::DirectPost, 1, &"t".repeat(91)), "title"),
        (
            request(PostMode::DirectPost, 1, &format!("{title}a")),
            "title",
        ),
    ] {
        let (status_code, code, message) = api_error(client.content_init(&publish, &bad).await);
        assert_eq!((status_code, code), (400, ErrorCode::InvalidParams));
        assert!(message.contains(what), "{message}");
    }
    let mut long_description = request(PostMode::DirectPost, 1, "t");
    long_description.post_info.description = Some("d".repeat(4001));
    let (status_code, _, message) =
        api_error(client.content_init(&publish, &long_description).await);
    assert_eq!(status_code, 400);
    assert!(message.contains("description"), "{message}");
}

#[tokio::test]
async fn status_fetch_refuses_unknown_and_foreign_publish_ids() {
    let (mock, client) = start().await;
    let owner = all_scopes(&mock, PUBLIC, "a-audited");
    let init = client
        .inbox_video_init(
            &owner,
            &InboxVideoInitRequest {
                source_info: url_source("https://media.example/v.mp4"),
            },
        )
        .await
        .expect("init");
    let (status_code, code, _) = api_error(
        client
            .status_fetch(
                &owner,
                &StatusFetchRequest {
                    publish_id: "v_inbox_url~v2.1".to_owned(),
                },
            )
            .await,
    );
    assert_eq!((status_code, code), (400, ErrorCode::InvalidPublishId));
    let other = all_scopes(&mock, PRIVATE, "a-audited");
    let (status_code, code, _) = api_error(
        client
            .status_fetch(
                &other,
                &StatusFetchRequest {
                    publish_id: init.publish_id.clone(),
                },
            )
            .await,
    );
    assert_eq!(
        (status_code, code),
        (400, ErrorCode::TokenNotAuthorizedForSpecifiedPublishId)
    );
    // The same creator through another app is not authorized either.
    let other_app = all_scopes(&mock, PUBLIC, "b-unaudited");
    let (_, code, _) = api_error(
        client
            .status_fetch(
                &other_app,
                &StatusFetchRequest {
                    publish_id: init.publish_id,
                },
            )
            .await,
    );
    assert_eq!(code, ErrorCode::TokenNotAuthorizedForSpecifiedPublishId);
}

#[tokio::test]
async fn a_post_fails_through_the_control_api() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PUBLIC, "a-audited");
    let init = client
        .inbox_video_init(
            &token,
            &InboxVideoInitRequest {
                source_info: file_source(10_000_000, 5_000_000),
            },
        )
        .await
        .expect("init");
    let (code, answer) = control(
        &mock,
        "/_mock/posts/fail",
        json!({"publish_id": init.publish_id, "fail_reason": "file_format_check_failed"}),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let failed = status(&client, &token, &init.publish_id).await;
    assert_eq!(failed.status, PostStatus::Failed);
    assert_eq!(failed.fail_reason, Some(FailReason::FileFormatCheckFailed));
    assert_eq!(
        events(&mock),
        vec![(
            "video.upload.failed".to_owned(),
            json!({"share_id": init.publish_id})
        )]
    );
    let (code, answer) = control(
        &mock,
        "/_mock/posts/fail",
        json!({"publish_id": init.publish_id, "fail_reason": "nonsense"}),
    )
    .await;
    assert_eq!(code, 400, "{answer}");
    let (code, _) = control(&mock, "/_mock/posts/fail", json!({"publish_id": "nope"})).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn the_processing_time_is_a_setting() {
    let (mock, client) = start().await;
    let (code, settings) = control(&mock, "/_mock/posting", json!({"processing_ms": 60_000})).await;
    assert_eq!(code, 200, "{settings}");
    assert_eq!(settings["processing_ms"], json!(60_000));
    let token = all_scopes(&mock, PRIVATE, "a-audited");
    let init = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::SelfOnly, "slow"),
                source_info: url_source("https://media.example/v.mp4"),
            },
        )
        .await
        .expect("init");
    assert!(mock.advance(59));
    assert_eq!(
        status(&client, &token, &init.publish_id).await.status,
        PostStatus::ProcessingDownload
    );
    assert!(mock.advance(1));
    assert_eq!(
        status(&client, &token, &init.publish_id).await.status,
        PostStatus::PublishComplete
    );
    let (code, _) = control(&mock, "/_mock/posting", json!({"processing_ms": -1})).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn the_printed_demo_apps_post_as_printed() {
    let mock = MockServer::builder()
        .clock_kind(ClockKind::Manual)
        .start()
        .await;
    let client = support::client(&mock);
    const DEMO: &str = "-000demo4d3f7a1c9e2b4f6a8c0d2e4f6a8b";
    const NEW: &str = "-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70";
    // The demo app is audited: a public direct post to the public demo creator goes
    // through and is listed once published.
    let token_of = |open_id: &str, client_key: &str| {
        token(
            &mock,
            open_id,
            client_key,
            &[Scope::VideoPublish, Scope::VideoList],
        )
    };
    let audited = token_of(DEMO, client_key());
    let info = client.creator_info(&audited).await.expect("creator info");
    assert_eq!(
        info.privacy_level_options[0],
        PrivacyLevel::PublicToEveryone
    );
    let init = client
        .video_init(
            &audited,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::PublicToEveryone, "first post"),
                source_info: url_source("https://media.demo.example/first.mp4"),
            },
        )
        .await
        .expect("init");
    assert!(mock.advance(5));
    let done = status(&client, &audited, &init.publish_id).await;
    assert_eq!(done.status, PostStatus::PublishComplete);
    assert_eq!(
        done.publicaly_available_post_id.map(|ids| ids.len()),
        Some(1)
    );
    let page = client
        .video_list(&audited, &[VideoField::Title], &VideoListRequest::default())
        .await
        .expect("video list");
    assert_eq!(page.videos[0].title.as_deref(), Some("first post"));

    // The unaudited demo app may not post to the public creator, but may to the private
    // New Creator, forced to SELF_ONLY: published, never public, so never listed.
    let unaudited = token_of(DEMO, &unaudited_app().client_key);
    let (status_code, code, _) = api_error(
        client
            .video_init(
                &unaudited,
                &VideoInitRequest {
                    post_info: post_info(PrivacyLevel::SelfOnly, "refused"),
                    source_info: url_source("https://media.demo.example/v.mp4"),
                },
            )
            .await,
    );
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::UnauditedClientCanOnlyPostToPrivateAccounts)
    );
    let private = token_of(NEW, &unaudited_app().client_key);
    let init = client
        .video_init(
            &private,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::FollowerOfCreator, "private post"),
                source_info: file_source(3_000_000, 3_000_000),
            },
        )
        .await
        .expect("init");
    let url = init.upload_url.expect("upload url");
    assert_eq!(
        put_chunk(&url, 0, 2_999_999, 3_000_000)
            .await
            .status()
            .as_u16(),
        201
    );
    assert!(mock.advance(5));
    let done = status(&client, &private, &init.publish_id).await;
    assert_eq!(done.status, PostStatus::PublishComplete);
    assert_eq!(done.publicaly_available_post_id, Some(vec![]));
    let page = client
        .video_list(&private, &[VideoField::Title], &VideoListRequest::default())
        .await
        .expect("video list");
    assert!(page.videos.is_empty(), "{:?}", page.videos);
}

#[tokio::test]
async fn revoking_access_fails_an_unfinished_post_with_auth_removed() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PRIVATE, "b-unaudited");
    let init = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::SelfOnly, "revoked"),
                source_info: url_source("https://media.example/v.mp4"),
            },
        )
        .await
        .expect("init");
    let (code, answer) = control(
        &mock,
        "/_mock/tokens/revoke",
        json!({ "access_token": token }),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    // The creator connects again; the post started under the old grant, still downloading
    // when next observed, failed (and stays failed).
    let again = all_scopes(&mock, PRIVATE, "b-unaudited");
    assert!(mock.advance(1));
    let failed = status(&client, &again, &init.publish_id).await;
    assert_eq!(failed.status, PostStatus::Failed);
    assert!(mock.advance(10));
    let failed = status(&client, &again, &init.publish_id).await;
    assert_eq!(failed.status, PostStatus::Failed);
    assert_eq!(failed.fail_reason, Some(FailReason::AuthRemoved));
    assert_eq!(
        events(&mock),
        vec![(
            "post.publish.failed".to_owned(),
            json!({"publish_id": init.publish_id, "publish_type": "DIRECT_PUBLISH", "reason": "auth_removed"})
        )]
    );
}

#[tokio::test]
async fn on_the_system_clock_a_post_settles_and_fires_its_webhook_without_polling() {
    let mock = MockServer::builder()
        .fixtures_yaml(FIXTURES)
        .expect("fixtures")
        .start()
        .await;
    let client = support::client(&mock);
    let (code, _) = control(&mock, "/_mock/posting", json!({"processing_ms": 0})).await;
    assert_eq!(code, 200);
    let token = all_scopes(&mock, PUBLIC, "a-audited");
    let init = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::PublicToEveryone, "no polling"),
                source_info: file_source(1_000, 1_000),
            },
        )
        .await
        .expect("init");
    let url = init.upload_url.expect("upload url");
    assert_eq!(put_chunk(&url, 0, 999, 1_000).await.status().as_u16(), 201);
    // No status fetch, no video list: the one-shot task settles the post.
    let mut seen = Vec::new();
    for _ in 0..500 {
        seen = events(&mock);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen,
        vec![(
            "video.publish.completed".to_owned(),
            json!({"share_id": init.publish_id})
        )]
    );
}

/// Settling visits only open posts: a post is open from init until nothing can change it
/// with time (published or failed), so old posts cost nothing on a clock advance or a read.
#[tokio::test]
async fn a_post_is_open_until_it_is_through() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PUBLIC, "a-audited");
    let init = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::PublicToEveryone, "open until through"),
                source_info: file_source(1_000, 1_000),
            },
        )
        .await
        .expect("video init");
    let store = mock.state().store();
    assert_eq!(
        store.open_posts(Some(PUBLIC)),
        vec![init.publish_id.clone()]
    );
    assert_eq!(store.open_posts(None), vec![init.publish_id.clone()]);
    let upload_url = init.upload_url.expect("upload_url");
    assert_eq!(put_chunk(&upload_url, 0, 999, 1_000).await.status(), 201);
    // Uploaded, still processing: open.
    assert_eq!(
        store.open_posts(Some(PUBLIC)),
        vec![init.publish_id.clone()]
    );
    mock.advance(3600);
    assert_eq!(
        status(&client, &token, &init.publish_id).await.status,
        PostStatus::PublishComplete
    );
    assert!(store.open_posts(Some(PUBLIC)).is_empty());
    assert!(store.open_posts(None).is_empty());
}
