//! The issue's "done when": a real app's whole flow against the mock, unchanged, through the
//! generated client and a webhook receiver that verifies every delivery: authorize on the
//! consent page, exchange the code, read, post a video in chunks, poll to PUBLISH_COMPLETE,
//! see it in the video list, receive `video.publish.completed`, refresh, revoke, receive
//! `authorization.removed`.

mod support;

use std::collections::HashMap;

use support::{Receiver, http, set_callback};
use tiktok_api::oauth::{AuthorizeUrl, Pkce};
use tiktok_api::{
    ErrorCode, PostInfo, PostStatus, PrivacyLevel, Scope, Source, StatusFetchRequest, UserField,
    VideoField, VideoInitRequest, VideoListRequest, VideoSourceInfo, WebhookContent,
    WebhookEventKind,
};
use tiktok_mock::{ClockKind, MockServer};

const KEY: &str = "real-app";
const SECRET: &str = "real-secret";
const REDIRECT: &str = "https://real.example/auth/callback";

const FIXTURES: &str = r#"
apps:
  - {client_key: real-app, client_secret: real-secret, name: Real App, audited: true,
     redirect_uris: ["https://real.example/auth/callback"]}
creators:
  - {open_id: -000real, display_name: Real Creator, username: real.creator, generate_videos: 2}
"#;

#[tokio::test]
async fn a_real_apps_flow_works_unchanged() {
    let mock = MockServer::builder()
        .fixtures_yaml(FIXTURES)
        .expect("fixtures")
        .clock_kind(ClockKind::Manual)
        .start()
        .await;
    let api = support::client_as(&mock, KEY, SECRET);
    let receiver = Receiver::start(&mock, SECRET).await;
    set_callback(&mock, &receiver.url).await;

    // 1. Authorize: the consent page, then its form submitted with every scope on.
    let pkce = Pkce::generate();
    let scopes = [Scope::UserInfoBasic, Scope::VideoList, Scope::VideoPublish];
    let url = AuthorizeUrl::new(KEY, REDIRECT)
        .base(format!("{}/v2/auth/authorize/", mock.uri()))
        .scopes(&scopes)
        .state("s-1")
        .pkce(&pkce)
        .build();
    let page = http().get(&url).send().await.expect("consent page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Real App") && html.contains(r#"value="video.publish" checked"#));
    let mut form: Vec<(&str, String)> = vec![
        ("form_token", support::form_token(&html)),
        ("client_key", KEY.into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "user.info.basic,video.list,video.publish".into()),
        ("response_type", "code".into()),
        ("state", "s-1".into()),
        ("code_challenge", pkce.challenge_hex()),
        ("code_challenge_method", "S256".into()),
        ("open_id", "-000real".into()),
        ("action", "approve".into()),
    ];
    for scope in scopes {
        form.push(("granted", scope.as_str().into()));
    }
    let redirect = http()
        .post(format!("{}/v2/auth/authorize/", mock.uri()))
        .form(&form)
        .send()
        .await
        .expect("submit");
    assert_eq!(redirect.status().as_u16(), 302);
    let location = redirect.headers()["location"].to_str().expect("location");
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(location.split_once('?').expect("query").1).expect("decode");
    assert_eq!(query["state"], "s-1");

    // 2. Exchange the code.
    let token = api
        .exchange_code(&query["code"], REDIRECT, Some(pkce.verifier()))
        .await
        .expect("exchange");
    let access = token.access_token.clone();

    // 3. Read.
    let me = api
        .user_info(&access, &[UserField::OpenId, UserField::DisplayName])
        .await
        .expect("user info");
    assert_eq!(me.user.display_name.as_deref(), Some("Real Creator"));

    // 4. Post a 12,000,000-byte video in two chunks and poll to PUBLISH_COMPLETE.
    let info = api.creator_info(&access).await.expect("creator info");
    assert!(
        info.privacy_level_options
            .contains(&PrivacyLevel::PublicToEveryone)
    );
    let total: i64 = 12_000_000;
    let init = api
        .video_init(
            &access,
            &VideoInitRequest {
                post_info: PostInfo {
                    privacy_level: PrivacyLevel::PublicToEveryone,
                    title: Some("Posted by a real app".into()),
                    disable_duet: None,
                    disable_stitch: None,
                    disable_comment: None,
                    video_cover_timestamp_ms: None,
                    brand_content_toggle: None,
                    brand_organic_toggle: None,
                    is_aigc: None,
                },
                source_info: VideoSourceInfo {
                    source: Source::FileUpload,
                    video_url: None,
                    video_size: Some(total),
                    chunk_size: Some(5_000_000),
                    total_chunk_count: Some(2),
                },
            },
        )
        .await
        .expect("video init");
    let upload_url = init.upload_url.clone().expect("upload url");
    for (first, last) in [(0, 4_999_999), (5_000_000, total - 1)] {
        let response = reqwest::Client::new()
            .put(&upload_url)
            .header("content-type", "video/mp4")
            .header("content-range", format!("bytes {first}-{last}/{total}"))
            .body(vec![0_u8; usize::try_from(last - first + 1).expect("size")])
            .send()
            .await
            .expect("PUT");
        assert!(response.status().is_success(), "{response:?}");
    }
    let mut status = PostStatus::ProcessingUpload;
    for _ in 0..60 {
        status = api
            .status_fetch(
                &access,
                &StatusFetchRequest {
                    publish_id: init.publish_id.clone(),
                },
            )
            .await
            .expect("status")
            .status;
        if status != PostStatus::ProcessingUpload {
            break;
        }
        mock.advance(1);
    }
    assert_eq!(status, PostStatus::PublishComplete);

    // 5. It is the newest video of the list.
    let page = api
        .video_list(
            &access,
            &[VideoField::Id, VideoField::Title],
            &VideoListRequest::default(),
        )
        .await
        .expect("video list");
    assert_eq!(
        page.videos[0].title.as_deref(),
        Some("Posted by a real app")
    );

    // 6. The signed video.publish.completed.
    let received = receiver.wait_for(1).await;
    assert_eq!(
        received[0].payload.event,
        WebhookEventKind::VideoPublishCompleted
    );
    assert_eq!(received[0].payload.user_openid.as_deref(), Some("-000real"));

    // 7. Refresh.
    let refreshed = api
        .refresh_access_token(token.refresh_token.as_deref().expect("rft"))
        .await
        .expect("refresh");
    api.user_info(&refreshed.access_token, &[UserField::OpenId])
        .await
        .expect("refreshed token reads");

    // 8. Revoke, and the signed authorization.removed (reason 5).
    api.revoke_token(&refreshed.access_token)
        .await
        .expect("revoke");
    for dead in [&access, &refreshed.access_token] {
        let error = api
            .user_info(dead, &[UserField::OpenId])
            .await
            .expect_err("revoked");
        assert_eq!(error.code(), Some(&ErrorCode::AccessTokenInvalid));
    }
    let received = receiver.wait_for(2).await;
    let removed = received
        .iter()
        .find(|delivery| delivery.payload.event == WebhookEventKind::AuthorizationRemoved)
        .expect("authorization.removed");
    match removed.payload.content().expect("content") {
        WebhookContent::AuthorizationRemoved(content) => assert_eq!(content.reason, 5),
        other => panic!("unexpected {other:?}"),
    }
    assert!(receiver.rejected().is_empty());
}
