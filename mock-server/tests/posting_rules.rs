//! Content posting's refusals on a real socket, through the generated client: unaudited
//! apps, privacy levels, blocked creators, content-init checks, the video-init rate limit,
//! the daily caps, and every init refusal on every endpoint that lists it.

mod support;

use serde_json::{Value, json};
use tiktok_api::{
    ContentInitRequest, ErrorCode, InboxVideoInitRequest, MediaType, PhotoPostInfo,
    PhotoSourceInfo, PostMode, PostStatus, PrivacyLevel, Source, VideoInitRequest,
};

use support::control;
use support::posting::{
    PRIVATE, PUBLIC, all_scopes, api_error, events, file_source, post_info, put_chunk, start,
    status, url_source,
};

#[tokio::test]
async fn an_unaudited_app_posts_only_to_private_accounts_and_only_as_self_only() {
    let (mock, client) = start().await;
    let public = all_scopes(&mock, PUBLIC, "b-unaudited");
    let refused = client
        .video_init(
            &public,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::SelfOnly, "x"),
                source_info: file_source(1_000, 1_000),
            },
        )
        .await;
    let (status_code, code, _) = api_error(refused);
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::UnauditedClientCanOnlyPostToPrivateAccounts)
    );

    let private = all_scopes(&mock, PRIVATE, "b-unaudited");
    let info = client.creator_info(&private).await.expect("creator info");
    assert_eq!(
        info.privacy_level_options,
        vec![
            PrivacyLevel::FollowerOfCreator,
            PrivacyLevel::MutualFollowFriends,
            PrivacyLevel::SelfOnly
        ]
    );
    assert!(info.comment_disabled && info.duet_disabled && info.stitch_disabled);
    assert_eq!(info.max_video_post_duration_sec, 600);
    let init = client
        .video_init(
            &private,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::FollowerOfCreator, "private"),
                source_info: file_source(1_000, 1_000),
            },
        )
        .await
        .expect("video init");
    let url = init.upload_url.expect("upload url");
    assert_eq!(put_chunk(&url, 0, 999, 1_000).await.status().as_u16(), 201);
    assert!(mock.advance(5));
    let done = status(&client, &private, &init.publish_id).await;
    assert_eq!(done.status, PostStatus::PublishComplete);
    // Forced to SELF_ONLY: never publicly available.
    assert_eq!(done.publicaly_available_post_id, Some(vec![]));
    let posts = reqwest::get(format!("{}/_mock/posts", mock.uri()))
        .await
        .expect("posts")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(posts["posts"][0]["privacy_level"], json!("SELF_ONLY"));
    assert_eq!(
        posts["posts"][0]["status"]["status"],
        json!("PUBLISH_COMPLETE")
    );
    let kinds: Vec<String> = events(&mock).into_iter().map(|(event, _)| event).collect();
    assert_eq!(kinds, vec!["post.publish.complete"]);
}

#[tokio::test]
async fn a_privacy_level_outside_the_options_is_refused() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PRIVATE, "a-audited");
    let refused = client
        .video_init(
            &token,
            &VideoInitRequest {
                post_info: post_info(PrivacyLevel::PublicToEveryone, "x"),
                source_info: file_source(1_000, 1_000),
            },
        )
        .await;
    let (status_code, code, message) = api_error(refused);
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::PrivacyLevelOptionMismatch)
    );
    assert!(message.contains("FOLLOWER_OF_CREATOR"), "{message}");
}

#[tokio::test]
async fn blocked_creators_get_http_200_from_creator_info_and_403_at_init() {
    let (mock, client) = start().await;
    let banned = all_scopes(&mock, "-000banned", "a-audited");
    let (status_code, code, _) = api_error(client.creator_info(&banned).await);
    assert_eq!(
        (status_code, code),
        (200, ErrorCode::SpamRiskUserBannedFromPosting)
    );
    let (status_code, code, _) = api_error(
        client
            .inbox_video_init(
                &banned,
                &InboxVideoInitRequest {
                    source_info: file_source(1_000, 1_000),
                },
            )
            .await,
    );
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::SpamRiskUserBannedFromPosting)
    );

    let capped = all_scopes(&mock, "-000capped", "a-audited");
    let (status_code, code, _) = api_error(client.creator_info(&capped).await);
    assert_eq!((status_code, code), (200, ErrorCode::ReachedActiveUserCap));
    let (status_code, code, _) = api_error(
        client
            .video_init(
                &capped,
                &VideoInitRequest {
                    post_info: post_info(PrivacyLevel::SelfOnly, "x"),
                    source_info: file_source(1_000, 1_000),
                },
            )
            .await,
    );
    assert_eq!((status_code, code), (403, ErrorCode::ReachedActiveUserCap));
    // The inbox endpoint does not list the active-user cap: the upload goes through.
    client
        .inbox_video_init(
            &capped,
            &InboxVideoInitRequest {
                source_info: file_source(1_000, 1_000),
            },
        )
        .await
        .expect("inbox init");

    // A block set through the control API takes effect at once.
    let (code, answer) = control(
        &mock,
        "/_mock/creators",
        json!({"open_id": PUBLIC, "display_name": "Public Creator",
               "posting": {"blocked": "spam_risk_too_many_posts"}}),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let public = all_scopes(&mock, PUBLIC, "a-audited");
    let (status_code, code, _) = api_error(client.creator_info(&public).await);
    assert_eq!((status_code, code), (200, ErrorCode::SpamRiskTooManyPosts));
}

#[tokio::test]
async fn content_init_checks_cover_index_privacy_and_url_ownership() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PUBLIC, "a-audited");
    let mut request = ContentInitRequest {
        media_type: MediaType::Photo,
        post_mode: PostMode::DirectPost,
        is_aigc: None,
        post_info: PhotoPostInfo::default(),
        source_info: PhotoSourceInfo {
            source: Source::PullFromUrl,
            photo_images: vec!["https://media.example/1.jpeg".to_owned()],
            photo_cover_index: 1,
        },
    };
    let (_, code, message) = api_error(client.content_init(&token, &request).await);
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("photo_cover_index"), "{message}");
    request.source_info.photo_cover_index = 0;
    let (_, code, message) = api_error(client.content_init(&token, &request).await);
    assert_eq!(code, ErrorCode::InvalidParams);
    assert!(message.contains("privacy_level"), "{message}");
    request.post_info.privacy_level = Some(PrivacyLevel::FollowerOfCreator);
    let (status_code, code, _) = api_error(client.content_init(&token, &request).await);
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::PrivacyLevelOptionMismatch)
    );
    request.post_info.privacy_level = Some(PrivacyLevel::SelfOnly);
    request.source_info.photo_images = vec!["https://img.unverified.example/1.jpeg".to_owned()];
    let (status_code, code, _) = api_error(client.content_init(&token, &request).await);
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::UrlOwnershipUnverified)
    );
    // A URL that is not https is never verified (TikTok pulls only https).
    request.source_info.photo_images = vec!["http://media.example/1.jpeg".to_owned()];
    let (status_code, code, message) = api_error(client.content_init(&token, &request).await);
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::UrlOwnershipUnverified)
    );
    assert!(message.contains("https"), "{message}");
}

#[tokio::test]
async fn video_init_allows_six_calls_a_minute_per_token() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PRIVATE, "a-audited");
    let request = VideoInitRequest {
        post_info: post_info(PrivacyLevel::SelfOnly, "x"),
        source_info: url_source("https://media.example/v.mp4"),
    };
    for _ in 0..6 {
        client
            .video_init(&token, &request)
            .await
            .expect("within the limit");
    }
    let (status_code, code, _) = api_error(client.video_init(&token, &request).await);
    assert_eq!((status_code, code), (429, ErrorCode::RateLimitExceeded));
    // Refused calls don't count; the window slides on the mock's clock.
    assert!(mock.advance(60));
    client
        .video_init(&token, &request)
        .await
        .expect("next minute");
}

#[tokio::test]
async fn posting_caps_refuse_the_sixteenth_direct_post_and_the_sixth_pending_share() {
    let (mock, client) = start().await;
    let token = all_scopes(&mock, PRIVATE, "a-audited");
    let direct = VideoInitRequest {
        post_info: post_info(PrivacyLevel::SelfOnly, "x"),
        source_info: url_source("https://media.example/v.mp4"),
    };
    for n in 0..15 {
        if n > 0 && n % 6 == 0 {
            assert!(mock.advance(60));
        }
        client
            .video_init(&token, &direct)
            .await
            .expect("under the cap");
    }
    assert!(mock.advance(60));
    let (status_code, code, _) = api_error(client.video_init(&token, &direct).await);
    assert_eq!((status_code, code), (403, ErrorCode::SpamRiskTooManyPosts));

    let inbox = InboxVideoInitRequest {
        source_info: url_source("https://media.example/v.mp4"),
    };
    for _ in 0..5 {
        client
            .inbox_video_init(&token, &inbox)
            .await
            .expect("pending");
    }
    assert!(mock.advance(60));
    let (status_code, code, _) = api_error(client.inbox_video_init(&token, &inbox).await);
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::SpamRiskTooManyPendingShare)
    );
    // A day later both caps have room again.
    assert!(mock.advance(24 * 3600));
    let token = all_scopes(&mock, PRIVATE, "a-audited");
    client
        .inbox_video_init(&token, &inbox)
        .await
        .expect("next day");
    client.video_init(&token, &direct).await.expect("next day");
}

#[tokio::test]
async fn every_init_refusal_is_reachable_on_every_endpoint_that_lists_it() {
    let (mock, client) = start().await;
    let photo = |mode: PostMode, url: &str| ContentInitRequest {
        media_type: MediaType::Photo,
        post_mode: mode,
        is_aigc: None,
        post_info: PhotoPostInfo {
            privacy_level: Some(PrivacyLevel::SelfOnly),
            ..PhotoPostInfo::default()
        },
        source_info: PhotoSourceInfo {
            source: Source::PullFromUrl,
            photo_images: vec![url.to_owned()],
            photo_cover_index: 0,
        },
    };
    let video = |url: &str| VideoInitRequest {
        post_info: post_info(PrivacyLevel::SelfOnly, "x"),
        source_info: url_source(url),
    };
    let ok_url = "https://media.example/1.jpeg";
    let bad_url = "https://x.unverified.example/1.jpeg";
    let banned = all_scopes(&mock, "-000banned", "a-audited");
    let capped = all_scopes(&mock, "-000capped", "a-audited");
    let public_unaudited = all_scopes(&mock, PUBLIC, "b-unaudited");
    let private = all_scopes(&mock, PRIVATE, "a-audited");

    let mut seen = Vec::new();
    seen.push(api_error(client.video_init(&banned, &video(ok_url)).await).1);
    seen.push(api_error(client.video_init(&private, &video(bad_url)).await).1);
    seen.push(
        api_error(
            client
                .content_init(&banned, &photo(PostMode::DirectPost, ok_url))
                .await,
        )
        .1,
    );
    seen.push(
        api_error(
            client
                .content_init(&capped, &photo(PostMode::DirectPost, ok_url))
                .await,
        )
        .1,
    );
    seen.push(
        api_error(
            client
                .content_init(&public_unaudited, &photo(PostMode::DirectPost, ok_url))
                .await,
        )
        .1,
    );
    seen.push(
        api_error(
            client
                .content_init(&private, &photo(PostMode::MediaUpload, bad_url))
                .await,
        )
        .1,
    );
    assert_eq!(
        seen,
        vec![
            ErrorCode::SpamRiskUserBannedFromPosting,
            ErrorCode::UrlOwnershipUnverified,
            ErrorCode::SpamRiskUserBannedFromPosting,
            ErrorCode::ReachedActiveUserCap,
            ErrorCode::UnauditedClientCanOnlyPostToPrivateAccounts,
            ErrorCode::UrlOwnershipUnverified,
        ]
    );
    // Photo drafts count as pending shares too.
    let uploader = all_scopes(&mock, PUBLIC, "a-audited");
    for _ in 0..5 {
        client
            .content_init(&uploader, &photo(PostMode::MediaUpload, ok_url))
            .await
            .expect("pending draft");
    }
    assert!(mock.advance(60));
    let (status_code, code, _) = api_error(
        client
            .content_init(&uploader, &photo(PostMode::MediaUpload, ok_url))
            .await,
    );
    assert_eq!(
        (status_code, code),
        (403, ErrorCode::SpamRiskTooManyPendingShare)
    );
}
