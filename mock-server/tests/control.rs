//! The control API under `/_mock/`.

mod support;

use serde_json::json;
use support::{Harness, all_user_scopes, client_key, unaudited_app};
use tiktok_api::Scope;

#[tokio::test]
async fn minted_tokens_answer_like_the_token_endpoint() {
    let mock = Harness::new();
    let answer = mock
        .post_json(
            "/_mock/tokens",
            None,
            json!({"scopes": ["user.info.basic", "video.list"]}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let token = &answer.json;
    assert!(
        token["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("act."))
    );
    assert!(
        token["refresh_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("rft."))
    );
    assert_eq!(
        token["expires_in"],
        json!(tiktok_api::spec_constants::ACCESS_TOKEN_TTL_SECONDS)
    );
    assert_eq!(
        token["refresh_expires_in"],
        json!(tiktok_api::spec_constants::REFRESH_TOKEN_TTL_SECONDS)
    );
    assert_eq!(token["scope"], json!("user.info.basic,video.list"));
    assert_eq!(token["token_type"], json!("Bearer"));
    // Without open_id: the demo creator with the most videos.
    assert_eq!(token["open_id"], json!(mock.open_id()));
    let access = token["access_token"].as_str().unwrap_or_default();
    mock.get("/v2/user/info/?fields=open_id", Some(access))
        .await
        .assert_ok();

    // A comma-separated scope string, another creator, an expiry in the past.
    let answer = mock
        .post_json(
            "/_mock/tokens",
            None,
            json!({"open_id": "-000cafe1b2c3d4e5f60718293a4b5c6d7e8f", "scopes": "user.info.basic", "expires_in": -5})
                .to_string(),
        )
        .await;
    assert_eq!(
        answer.json["open_id"],
        json!("-000cafe1b2c3d4e5f60718293a4b5c6d7e8f")
    );
    assert_eq!(answer.json["expires_in"], json!(-5));
    let access = answer.json["access_token"].as_str().unwrap_or_default();
    mock.get("/v2/user/info/?fields=open_id", Some(access))
        .await
        .assert_error(401, "access_token_invalid");

    // A client token.
    let answer = mock
        .post_json("/_mock/tokens", None, r#"{"kind": "client"}"#)
        .await;
    assert!(
        answer.json["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("clt."))
    );
    assert_eq!(answer.json.get("open_id"), None);

    // Mistakes are 400s naming the field.
    for (body, needle) in [
        (json!({"scopes": ["video.delete"]}), "video.delete"),
        (json!({"open_id": "nobody"}), "open_id"),
        (json!({"client_key": "nope"}), "client_key"),
        (json!({"kind": "robot"}), "robot"),
        (json!({"scope": "typo"}), "scope"),
    ] {
        let answer = mock
            .post_json("/_mock/tokens", None, body.to_string())
            .await;
        answer.assert_error(400, "invalid_params");
        assert!(answer.message().contains(needle), "{}", answer.text);
    }
}

#[tokio::test]
async fn apps_are_listed_with_their_credentials_and_urls() {
    let mock = Harness::new();
    let answer = mock.get("/_mock/apps", None).await;
    let app = &answer.json["apps"][0];
    assert_eq!(app["client_key"], json!(client_key()));
    assert!(app["client_secret"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(app["redirect_uris"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        app["callback_url"],
        json!("http://localhost:3000/webhooks/tiktok")
    );
    // The printed demo app is audited (every happy path works with it); the second is not.
    assert_eq!(app["audited"], json!(true));
    assert_eq!(app["verified_domains"], json!(["demo.example"]));
    let second = &answer.json["apps"][1];
    assert_eq!(second["client_key"], json!(unaudited_app().client_key));
    assert_eq!(second["audited"], json!(false));
}

#[tokio::test]
async fn creators_videos_and_comments_can_be_seeded_and_listed() {
    let mock = Harness::new();
    let answer = mock
        .post_json(
            "/_mock/creators",
            None,
            json!({"open_id": "-000test", "display_name": "Tester", "follower_count": 7})
                .to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = mock.get("/_mock/creators", None).await;
    assert_eq!(answer.json["creators"].as_array().map(Vec::len), Some(4));
    let answer = mock
        .post_json(
            "/_mock/videos",
            None,
            json!({"open_id": "-000test", "title": "Hello", "view_count": 3}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let video_id = answer.json["id"].as_str().expect("id").to_owned();
    let answer = mock.get("/_mock/videos?open_id=-000test", None).await;
    assert_eq!(answer.json["total"], json!(1));
    assert_eq!(answer.json["videos"][0]["title"], json!("Hello"));
    // Seen through the API with a token of that creator.
    let token = mock.mint(tiktok_mock::MintRequest {
        open_id: Some("-000test".to_owned()),
        ..Default::default()
    });
    let answer = mock
        .post_json(
            "/v2/video/list/?fields=id,title,view_count",
            Some(&token),
            "{}",
        )
        .await;
    answer.assert_ok();
    assert_eq!(
        answer.data()["videos"],
        json!([{"id": video_id, "title": "Hello", "view_count": 3}])
    );
    let answer = mock
        .get(
            "/v2/user/info/?fields=display_name,follower_count,video_count",
            Some(&token),
        )
        .await;
    assert_eq!(
        answer.data()["user"],
        json!({"display_name": "Tester", "follower_count": 7, "video_count": 1})
    );
    // Comments.
    let answer = mock
        .post_json(
            "/_mock/comments",
            None,
            json!({"id": 42, "video_id": video_id.parse::<i64>().expect("id"), "text": "hi"})
                .to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = mock
        .get(&format!("/_mock/comments?video_id={video_id}"), None)
        .await;
    assert_eq!(answer.json["comments"][0]["text"], json!("hi"));
    let demo = mock
        .get("/_mock/comments?video_id=7300000000000000001", None)
        .await;
    assert_eq!(demo.json["comments"].as_array().map(Vec::len), Some(2));
    // Mistakes.
    mock.post_json(
        "/_mock/videos",
        None,
        json!({"open_id": "nobody"}).to_string(),
    )
    .await
    .assert_error(400, "invalid_params");
    mock.post_json(
        "/_mock/videos",
        None,
        json!({"open_id": "-000test", "id": video_id}).to_string(),
    )
    .await
    .assert_error(400, "invalid_params");
    mock.get("/_mock/videos", None)
        .await
        .assert_error(400, "invalid_params");
    mock.post_json(
        "/_mock/comments",
        None,
        json!({"id": 42, "video_id": 1}).to_string(),
    )
    .await
    .assert_error(400, "invalid_params");
}

#[tokio::test]
async fn the_call_log_has_the_decisions_and_never_a_token() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    mock.get("/v2/user/info/?fields=open_id", Some(&token))
        .await
        .assert_ok();
    mock.get("/v2/user/info/?fields=open_id", Some("act.bogus"))
        .await;
    mock.get("/v2/unknown/", None).await;
    let answer = mock.get("/_mock/calls", None).await;
    let calls = answer.json["calls"].as_array().expect("calls").clone();
    assert_eq!(calls.len(), 3, "{}", answer.text);
    assert_eq!(calls[0]["method"], json!("GET"));
    assert_eq!(calls[0]["path"], json!("/v2/user/info/"));
    assert_eq!(calls[0]["endpoint"], json!("user_info"));
    assert_eq!(calls[0]["open_id"], json!(mock.open_id()));
    assert_eq!(calls[0]["decision"], json!("ok"));
    assert_eq!(calls[0]["status"], json!(200));
    assert!(calls[0]["latency_us"].as_u64().is_some());
    assert_eq!(calls[1]["decision"], json!("access_token_invalid"));
    assert_eq!(calls[1]["status"], json!(401));
    assert_eq!(calls[2]["decision"], json!("unsupported_path"));
    assert_eq!(calls[2]["status"], json!(404));
    let secret = mock.state.store().apps()[0].client_secret.clone();
    assert!(!answer.text.contains(&token));
    assert!(!answer.text.contains("act.bogus"));
    assert!(!answer.text.contains(&secret));
}

#[tokio::test]
async fn the_manual_clock_advances_and_the_system_clock_refuses() {
    let mock = Harness::new();
    let before = mock.get("/_mock/clock", None).await.json["now_ms"]
        .as_i64()
        .expect("now");
    let answer = mock
        .post_json("/_mock/clock/advance", None, r#"{"seconds": 90}"#)
        .await;
    assert_eq!(answer.json["now_ms"], json!(before + 90_000));
    let token = mock.mint(tiktok_mock::MintRequest {
        expires_in: Some(100),
        ..Default::default()
    });
    mock.post_json("/_mock/clock/advance", None, r#"{"seconds": 100}"#)
        .await;
    mock.get("/v2/user/info/?fields=open_id", Some(&token))
        .await
        .assert_error(401, "access_token_invalid");

    let system = Harness::with(|builder| builder.clock_kind(tiktok_mock::ClockKind::System));
    system
        .post_json("/_mock/clock/advance", None, r#"{"seconds": 90}"#)
        .await
        .assert_error(400, "invalid_params");
}

#[tokio::test]
async fn faults_fail_the_next_n_calls_then_stop() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let answer = mock
        .post_json(
            "/_mock/faults",
            None,
            json!({"endpoint": "/v2/video/list/", "count": 2, "error_code": "internal_error"})
                .to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    for _ in 0..2 {
        mock.post_json("/v2/video/list/?fields=id", Some(&token), "{}")
            .await
            .assert_error(500, "internal_error");
    }
    mock.post_json("/v2/video/list/?fields=id", Some(&token), "{}")
        .await
        .assert_ok();
    // A latency fault answers normally, later.
    mock.post_json(
        "/_mock/faults",
        None,
        json!({"endpoint": "user_info", "latency_ms": 5}).to_string(),
    )
    .await;
    mock.get("/v2/user/info/?fields=open_id", Some(&token))
        .await
        .assert_ok();
    // creator_info sends its spam codes with HTTP 200, as the spec says.
    mock.post_json(
        "/_mock/faults",
        None,
        json!({"endpoint": "creator_info", "error_code": "spam_risk_too_many_posts"}).to_string(),
    )
    .await;
    let answer = mock
        .post_json("/v2/post/publish/creator_info/query/", Some(&token), "")
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (200, "spam_risk_too_many_posts")
    );
    // Mistakes.
    for body in [
        json!({"endpoint": "nope", "error_code": "internal_error"}),
        json!({"endpoint": "user_info", "error_code": "made_up"}),
        json!({"endpoint": "user_info"}),
        json!({"endpoint": "user_info", "error_code": "internal_error", "latency_ms": 1}),
    ] {
        mock.post_json("/_mock/faults", None, body.to_string())
            .await
            .assert_error(400, "invalid_params");
    }
}

#[tokio::test]
async fn reset_restores_the_fixtures_and_keeps_the_demo_tokens() {
    let mock = Harness::with(|builder| builder.rate_limit_scale(1.0 / 600.0));
    let demo = mock.state.demo_tokens().full.clone();
    let minted = mock.token(&[Scope::UserInfoBasic]);
    mock.get("/v2/user/info/?fields=open_id", Some(&demo))
        .await
        .assert_ok();
    mock.get("/v2/user/info/?fields=open_id", Some(&demo))
        .await
        .assert_error(429, "rate_limit_exceeded");
    mock.post_json(
        "/_mock/videos",
        None,
        json!({"open_id": mock.open_id()}).to_string(),
    )
    .await;
    assert_eq!(mock.state.store().video_count(&mock.open_id()), 132);
    let answer = mock.post_json("/_mock/reset", None, "").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(mock.state.store().video_count(&mock.open_id()), 131);
    mock.get("/v2/user/info/?fields=open_id", Some(&demo))
        .await
        .assert_ok();
    mock.get("/v2/user/info/?fields=open_id", Some(&minted))
        .await
        .assert_error(401, "access_token_invalid");
    let calls = mock.get("/_mock/calls", None).await;
    // Only the two calls made since the reset.
    assert_eq!(calls.json["calls"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn demo_tokens_have_every_user_scope_and_the_read_scopes() {
    let mock = Harness::new();
    let tokens = mock.state.demo_tokens().clone();
    let full = mock.state.store().token(&tokens.full).expect("full");
    assert_eq!(full.scopes, all_user_scopes());
    assert!(!full.scopes.contains(&Scope::ResearchDataBasic));
    assert!(full.scopes.contains(&Scope::VideoUpload));
    let read = mock.state.store().token(&tokens.read_only).expect("read");
    assert_eq!(
        read.scopes,
        vec![
            Scope::UserInfoBasic,
            Scope::UserInfoProfile,
            Scope::UserInfoStats,
            Scope::VideoList
        ]
    );
    assert_eq!(
        tiktok_mock::tokens::client_scopes(),
        vec![Scope::ResearchDataBasic]
    );
    mock.post_json(
        "/v2/post/publish/creator_info/query/",
        Some(&tokens.read_only),
        "",
    )
    .await
    .assert_error(401, "scope_not_authorized");
}

#[tokio::test]
async fn videos_can_be_seeded_in_bulk_and_typos_are_named() {
    let mock = Harness::new();
    let open_id = "-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70";
    let answer = mock
        .post_json(
            "/_mock/videos",
            None,
            json!({"open_id": open_id, "count": 500, "title": "Bulk"}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["created"], json!(500));
    assert_eq!(answer.json["total"], json!(500));
    let newest = answer.json["newest_id"].clone();
    let token = mock.mint(tiktok_mock::MintRequest {
        open_id: Some(open_id.to_owned()),
        ..Default::default()
    });
    let answer = mock
        .post_json(
            "/v2/video/list/?fields=id,title",
            Some(&token),
            r#"{"max_count": 2}"#,
        )
        .await;
    assert_eq!(answer.data()["videos"][0]["title"], json!("Bulk #1"));
    assert_eq!(answer.data()["videos"][0]["id"], newest);
    for body in [
        json!({"open_id": open_id, "titel": "typo"}),
        json!({"open_id": open_id, "count": 0}),
        json!({"open_id": open_id, "count": -3}),
        json!({"open_id": open_id, "count": 2, "id": "1"}),
        json!({"title": "no creator"}),
    ] {
        let answer = mock
            .post_json("/_mock/videos", None, body.to_string())
            .await;
        answer.assert_error(400, "invalid_params");
    }
    let answer = mock
        .post_json(
            "/_mock/videos",
            None,
            json!({"open_id": open_id, "titel": "typo"}).to_string(),
        )
        .await;
    assert!(answer.message().contains("titel"), "{}", answer.text);
}

#[test]
fn fixture_typos_are_named() {
    let error = tiktok_mock::Fixtures::from_yaml(
        "apps: [{client_key: k, client_secret: s}]\ncreators: [{open_id: a, follower_cnt: 3}]\n",
    )
    .expect_err("a typo");
    assert!(error.to_string().contains("follower_cnt"), "{error}");
    let error = tiktok_mock::Fixtures::from_yaml(
        "apps: [{client_key: k, client_secret: s}]\ncreators: [{open_id: a, generate_video: 3}]\n",
    )
    .expect_err("a typo");
    assert!(error.to_string().contains("generate_video"), "{error}");
    let fixtures = tiktok_mock::Fixtures::from_yaml(
        "apps: [{client_key: k, client_secret: s}]\ncreators: [{open_id: a, generate_videos: 3, videos: [{title: x}]}]\n",
    )
    .expect("fixtures");
    assert_eq!(fixtures.creators[0].generate_videos, 3);
    assert_eq!(fixtures.creators[0].videos.len(), 1);
}

#[tokio::test]
async fn the_index_lists_the_control_routes_and_the_served_endpoints() {
    let mock = Harness::with(|builder| builder.rate_limit_scale(0.5));
    let answer = mock.get("/_mock/", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let endpoints = answer.json["endpoints"].as_array().expect("endpoints");
    assert_eq!(endpoints.len(), tiktok_api::ENDPOINTS.len());
    let video_list = endpoints
        .iter()
        .find(|endpoint| endpoint["id"] == json!("video_list"))
        .expect("video_list");
    assert_eq!(video_list["path"], json!("/v2/video/list/"));
    assert_eq!(video_list["rate_limit_per_window"], json!(300));
    assert_eq!(video_list["hand_written"], json!(true));
    assert_eq!(answer.json["max_body_bytes"], json!(1_048_576));
}
