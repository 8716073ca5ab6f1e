//! End to end on a real socket: the generated client against `MockServer`.

use std::collections::HashSet;

use tiktok_api::{
    Client, Error, ErrorCode, Scope, UserField, VideoField, VideoListRequest, VideoQueryFilters,
    VideoQueryRequest,
};
use tiktok_mock::MockServer;

#[tokio::test]
async fn the_generated_client_reads_the_user_walks_every_page_and_queries_videos() {
    let mock = MockServer::start().await;
    let client = Client::builder()
        .plain()
        .base_url(mock.uri())
        .build()
        .expect("client");
    let token = mock.user_token(
        None,
        &[
            Scope::UserInfoBasic,
            Scope::UserInfoProfile,
            Scope::UserInfoStats,
            Scope::VideoList,
        ],
    );

    let me = client
        .user_info(
            &token,
            &[
                UserField::OpenId,
                UserField::DisplayName,
                UserField::VideoCount,
            ],
        )
        .await
        .expect("user info");
    assert_eq!(me.user.display_name.as_deref(), Some("Demo Creator"));
    assert_eq!(me.user.video_count, Some(131));
    assert_eq!(me.user.username, None);

    let mut request = VideoListRequest {
        max_count: Some(20),
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = client
            .video_list(&token, &[VideoField::Id, VideoField::CreateTime], &request)
            .await
            .expect("video list");
        seen.extend(page.videos.iter().filter_map(|video| video.id.clone()));
        if !page.has_more {
            break;
        }
        request.cursor = Some(page.cursor);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (131, 131));

    let query = VideoQueryRequest {
        filters: VideoQueryFilters {
            video_ids: vec![seen[0].clone(), "1".to_owned()],
        },
    };
    let found = client
        .video_query(&token, VideoField::ALL, &query)
        .await
        .expect("video query");
    assert_eq!(found.videos.len(), 1);
    assert_eq!(found.videos[0].id.as_ref(), Some(&seen[0]));
    assert!(found.videos[0].share_url.is_some());

    // Errors come back typed, with the catalog code and TikTok's log id.
    match client.user_info("act.nope", &[UserField::OpenId]).await {
        Err(Error::Api {
            status,
            code,
            log_id,
            ..
        }) => {
            assert_eq!((status, code), (401, ErrorCode::AccessTokenInvalid));
            assert_eq!(log_id.len(), 34);
        }
        other => panic!("expected access_token_invalid, got {other:?}"),
    }
    match client
        .video_list(
            &token,
            &[VideoField::Id],
            &VideoListRequest {
                max_count: Some(50),
                cursor: None,
            },
        )
        .await
    {
        Err(Error::Api { status, code, .. }) => {
            assert_eq!((status, code), (400, ErrorCode::InvalidParams));
        }
        other => panic!("expected invalid_params, got {other:?}"),
    }
    let calls = mock.state().store().calls();
    // 1 user info, 7 pages, 1 query, 2 errors.
    assert_eq!(calls.len(), 11);
}

#[tokio::test]
async fn dropping_the_server_shuts_it_down() {
    let mock = MockServer::builder()
        .clock_kind(tiktok_mock::ClockKind::Manual)
        .start()
        .await;
    let uri = mock.uri();
    let http = reqwest::Client::new();
    let answer = http
        .get(format!("{uri}/_mock/clock"))
        .send()
        .await
        .expect("running");
    assert_eq!(answer.status(), 200);
    assert!(mock.advance(10));
    drop(mock);
    tokio::task::yield_now().await;
    let mut refused = false;
    for _ in 0..50 {
        if reqwest::Client::new()
            .get(format!("{uri}/_mock/clock"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "the server still answers after drop");
}
