//! The Research API's comment list through the generated client: a client token from
//! client_credentials, index paging with its own max_count, replies, only the requested
//! fields, the refusal of user tokens, bad bodies, the daily quota and masking.

mod support;

use serde_json::{Value, json};
use support::{client, control, http, manual_mock};
use tiktok_api::{CommentField, CommentListRequest, ErrorCode};
use tiktok_mock::MockServer;
use tiktok_mock::store::Comment;

const VIDEO: i64 = 7_399_000_000_000_000_001;
const PARENT: i64 = 7_399_100_000_000_000_000;

/// 25 top-level comments on VIDEO (ids PARENT+1..) and 3 replies to the first.
fn seed(mock: &MockServer) {
    for n in 1..=25 {
        mock.state()
            .store()
            .insert_comment(Comment {
                id: PARENT + n,
                video_id: VIDEO,
                text: format!("comment {n}"),
                like_count: n,
                reply_count: if n == 1 { 3 } else { 0 },
                parent_comment_id: VIDEO,
                create_time: 1_700_000_000 + n,
            })
            .expect("comment");
    }
    for n in 1..=3 {
        mock.state()
            .store()
            .insert_comment(Comment {
                id: PARENT + 100 + n,
                video_id: VIDEO,
                text: if n == 1 {
                    "write to jane.doe@example.org or +1 555 123 4567".to_owned()
                } else {
                    format!("reply {n}")
                },
                like_count: 0,
                reply_count: 0,
                parent_comment_id: PARENT + 1,
                create_time: 1_700_001_000 + n,
            })
            .expect("reply");
    }
}

async fn client_token(mock: &MockServer) -> String {
    client(mock)
        .client_credentials_token()
        .await
        .expect("client token")
        .access_token
}

async fn raw(mock: &MockServer, token: &str, fields: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!(
            "{}/v2/research/video/comment/list/?fields={fields}",
            mock.uri()
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("comment list");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_client_token_pages_comments_by_start_index() {
    let mock = manual_mock().await;
    seed(&mock);
    let api = client(&mock);
    let token = client_token(&mock).await;
    let fields = [
        CommentField::Id,
        CommentField::Text,
        CommentField::ParentCommentId,
    ];
    let mut request = CommentListRequest {
        video_id: Some(VIDEO),
        ..Default::default()
    };
    // max_count defaults to 10.
    let page = api
        .research_comment_list(&token, &fields, &request)
        .await
        .expect("first page");
    assert_eq!(page.comments.len(), 10);
    assert_eq!(page.cursor, 10);
    assert!(page.has_more);
    let mut seen = Vec::new();
    request.max_count = Some(7);
    request.cursor = Some(0);
    loop {
        let page = api
            .research_comment_list(&token, &fields, &request)
            .await
            .expect("page");
        for comment in &page.comments {
            assert_eq!(comment.parent_comment_id, Some(VIDEO));
            assert_eq!(comment.like_count, None, "not requested");
            seen.push(comment.id.expect("id"));
        }
        if !page.has_more {
            assert_eq!(page.cursor, 25);
            break;
        }
        assert_eq!(page.cursor, request.cursor.unwrap_or(0) + 7);
        request.cursor = Some(page.cursor);
    }
    assert_eq!(seen, (1..=25).map(|n| PARENT + n).collect::<Vec<_>>());
    // Exactly the requested fields, ids as 64-bit numbers.
    let (status, body) = raw(
        &mock,
        &token,
        "id,like_count",
        json!({"video_id": VIDEO, "max_count": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["comments"],
        json!([{"id": PARENT + 1, "like_count": 1}])
    );
    assert_eq!(body["error"]["code"], "ok");
    // An unknown video has no comments.
    let (status, body) = raw(&mock, &token, "id", json!({"video_id": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"],
        json!({"comments": [], "cursor": 0, "has_more": false})
    );
}

#[tokio::test]
async fn replies_to_a_comment_with_personal_data_masked() {
    let mock = manual_mock().await;
    seed(&mock);
    let token = client_token(&mock).await;
    let page = client(&mock)
        .research_comment_list(
            &token,
            &[
                CommentField::Id,
                CommentField::Text,
                CommentField::ParentCommentId,
            ],
            &CommentListRequest {
                comment_id: Some(PARENT + 1),
                max_count: Some(100),
                ..Default::default()
            },
        )
        .await
        .expect("replies");
    let ids: Vec<i64> = page.comments.iter().filter_map(|c| c.id).collect();
    assert_eq!(ids, vec![PARENT + 101, PARENT + 102, PARENT + 103]);
    assert!(
        page.comments
            .iter()
            .all(|c| c.parent_comment_id == Some(PARENT + 1))
    );
    assert!(!page.has_more);
    let text = page.comments[0].text.clone().expect("text");
    assert!(!text.contains("jane") && !text.contains("4567"), "{text}");
    assert!(
        text.starts_with("write to ") && text.contains('@'),
        "{text}"
    );
}

#[tokio::test]
async fn user_tokens_and_tokens_without_the_scope_are_refused() {
    let mock = manual_mock().await;
    let api = client(&mock);
    let request = CommentListRequest {
        video_id: Some(VIDEO),
        ..Default::default()
    };
    // Even a user token carrying every user scope: 401 access_token_invalid (wrong kind).
    let user = mock.user_token(None, &tiktok_mock::tokens::user_scopes());
    let error = api
        .research_comment_list(&user, &[CommentField::Id], &request)
        .await
        .expect_err("user token");
    assert_eq!(
        (error.status(), error.code()),
        (Some(401), Some(&ErrorCode::AccessTokenInvalid))
    );
    // A client token without research.data.basic: 401 scope_not_authorized.
    let (status, minted) = control(
        &mock,
        "/_mock/tokens",
        json!({"kind": "client", "scopes": ["user.info.basic"]}),
    )
    .await;
    assert_eq!(status, 200);
    let error = api
        .research_comment_list(
            minted["access_token"].as_str().unwrap(),
            &[CommentField::Id],
            &request,
        )
        .await
        .expect_err("no scope");
    assert_eq!(
        (error.status(), error.code()),
        (Some(401), Some(&ErrorCode::ScopeNotAuthorized))
    );
    // Expired client tokens: client tokens live 7200 s.
    let token = client_token(&mock).await;
    mock.advance(7200);
    let error = api
        .research_comment_list(&token, &[CommentField::Id], &request)
        .await
        .expect_err("expired");
    assert_eq!(error.code(), Some(&ErrorCode::AccessTokenInvalid));
}

#[tokio::test]
async fn bad_bodies_are_400_invalid_params() {
    let mock = manual_mock().await;
    seed(&mock);
    let token = client_token(&mock).await;
    for (fields, body, needle) in [
        (
            "id",
            json!({"video_id": VIDEO, "comment_id": PARENT + 1}),
            "exactly one",
        ),
        ("id", json!({}), "exactly one"),
        (
            "id",
            json!({"video_id": VIDEO, "cursor": 990, "max_count": 11}),
            "Invalid count or cursor",
        ),
        (
            "id",
            json!({"video_id": VIDEO, "cursor": 1000}),
            "Invalid count or cursor",
        ),
        (
            "id",
            json!({"video_id": VIDEO, "max_count": 101}),
            "max_count",
        ),
        (
            "id",
            json!({"video_id": VIDEO, "max_count": 0}),
            "max_count",
        ),
        ("id", json!({"video_id": VIDEO, "cursor": -1}), "cursor"),
        ("id", json!({"video_id": "abc"}), "video_id"),
        ("", json!({"video_id": VIDEO}), "fields"),
        ("id,nope", json!({"video_id": VIDEO}), "nope"),
    ] {
        let (status, answer) = raw(&mock, &token, fields, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_params", "{answer}");
        assert_eq!(answer["data"], json!({}));
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{body}: {message}");
    }
    // cursor + max_count = 1000 exactly is fine.
    let (status, answer) = raw(
        &mock,
        &token,
        "id",
        json!({"video_id": VIDEO, "cursor": 900, "max_count": 100}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["comments"], json!([]));
}

#[tokio::test]
async fn the_daily_request_quota_resets_at_midnight_utc() {
    // A scale of 1/1000 leaves 1 request a day (and 1 a minute).
    let mock = tiktok_mock::MockServer::builder()
        .clock_kind(tiktok_mock::ClockKind::Manual)
        .rate_limit_scale(0.001)
        .start()
        .await;
    let manual = mock.state().clock().as_manual().expect("manual");
    // 2027-01-15 12:00 UTC.
    manual.set_ms(1_800_000_000_000 + 4 * 3600 * 1000);
    let token = client_token(&mock).await;
    let (status, _) = raw(&mock, &token, "id", json!({"video_id": VIDEO})).await;
    assert_eq!(status, 200);
    mock.advance(61);
    let (status, answer) = raw(&mock, &token, "id", json!({"video_id": VIDEO})).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "daily_quota_limit_exceeded");
    // Midnight UTC: a new day, a new quota.
    mock.advance(12 * 3600);
    let token = client_token(&mock).await;
    let (status, answer) = raw(&mock, &token, "id", json!({"video_id": VIDEO})).await;
    assert_eq!(status, 200, "{answer}");
}
