//! A control API that doesn't bite: POST merges and PUT replaces apps and creators, an
//! unknown `/_mock/` path answers JSON listing the routes, a wrong method a JSON 405, an empty
//! or backward clock advance is a 400, every setting in one place, and a health endpoint.

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;
use support::{Harness, client_key, client_secret};

async fn send(
    mock: &Harness,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> support::Answer {
    mock.send(
        Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn post_merges_apps_and_creators_put_replaces_them() {
    let mock = Harness::new();
    // Setting `audited` keeps the redirect URIs, the secret and the callback.
    let answer = send(
        &mock,
        Method::POST,
        "/_mock/apps",
        json!({"client_key": client_key(), "audited": false}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["audited"], json!(false));
    assert_eq!(
        answer.json["redirect_uris"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(answer.json["client_secret"].as_str(), Some(client_secret()));
    // A new app through POST needs its secret.
    let answer = send(
        &mock,
        Method::POST,
        "/_mock/apps",
        json!({"client_key": "new"}),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.message().contains("client_secret"),
        "{}",
        answer.text
    );
    // A typo is an error, named.
    let answer = send(
        &mock,
        Method::POST,
        "/_mock/apps",
        json!({"client_key": client_key(), "audit": true}),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert!(answer.message().contains("audit"), "{}", answer.text);
    // PUT replaces whole: what is not given takes its default.
    let answer = send(
        &mock,
        Method::PUT,
        "/_mock/apps",
        json!({"client_key": client_key(), "client_secret": "fresh"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["redirect_uris"], json!([]));
    assert_eq!(answer.json["audited"], json!(false));

    let open_id = mock.open_id();
    let answer = send(
        &mock,
        Method::POST,
        "/_mock/creators",
        json!({"open_id": open_id, "follower_count": 1}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["follower_count"], json!(1));
    assert_eq!(answer.json["display_name"], json!("Demo Creator"));
    let answer = send(
        &mock,
        Method::PUT,
        "/_mock/creators",
        json!({"open_id": open_id}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["display_name"], json!(""));
}

#[tokio::test]
async fn unknown_control_paths_and_wrong_methods_answer_json() {
    let mock = Harness::new();
    for path in ["/_mock/nope", "/_mock/apps/extra", "/_mock"] {
        let answer = mock.get(path, None).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(
            answer.json["error"]["code"],
            json!("not_found"),
            "{path}: {}",
            answer.text
        );
        let routes = answer.json["control"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            routes.contains(&json!("POST /_mock/clock/advance")),
            "{}",
            answer.text
        );
    }
    let answer = send(&mock, Method::DELETE, "/_mock/apps", json!({})).await;
    assert_eq!(answer.status, 405, "{}", answer.text);
    assert_eq!(answer.json["error"]["code"], json!("method_not_allowed"));
    assert_eq!(
        answer.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, POST, PUT")
    );
    let answer = mock.get("/_mock/reset", None).await;
    assert_eq!(answer.status, 405);
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("POST"))
    );
    // An API path keeps the gateway's answer.
    let answer = mock.get("/v2/video/list/", None).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (404, "Unsupported path(Janus)")
    );
}

#[tokio::test]
async fn the_clock_moves_only_forward_and_only_when_told_how_far() {
    let mock = Harness::new();
    for body in [
        json!({}),
        json!({"seconds": -1}),
        json!({"millis": -5}),
        json!({"seconds": 1, "millis": -2000}),
    ] {
        let answer = mock
            .post_json("/_mock/clock/advance", None, body.to_string())
            .await;
        answer.assert_error(400, "invalid_params");
    }
    let empty = mock.post_json("/_mock/clock/advance", None, "").await;
    empty.assert_error(400, "invalid_params");
    let before = mock.state.now_ms();
    let answer = mock
        .post_json(
            "/_mock/clock/advance",
            None,
            json!({"seconds": 1.5}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(mock.state.now_ms(), before + 1500);
}

#[tokio::test]
async fn every_setting_in_one_place_and_a_health_endpoint() {
    let mock = Harness::new();
    let all = mock.get("/_mock/settings", None).await;
    for group in ["api", "oauth", "posting", "webhooks"] {
        assert!(all.json[group].is_object(), "{group}: {}", all.text);
    }
    let answer = mock
        .post_json(
            "/_mock/settings",
            None,
            json!({"api": {"short_pages": true}, "posting": {"moderation_ms": 5}}).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["api"]["short_pages"], json!(true));
    assert_eq!(answer.json["posting"]["moderation_ms"], json!(5));
    // All or nothing: a bad field changes nothing and is named.
    let answer = mock
        .post_json(
            "/_mock/settings",
            None,
            json!({"api": {"short_pages": false}, "oauth": {"rotation": "sometimes"}}).to_string(),
        )
        .await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().starts_with("oauth.rotation"),
        "{}",
        answer.text
    );
    assert_eq!(
        mock.get("/_mock/settings", None).await.json["api"]["short_pages"],
        json!(true)
    );
    let answer = mock
        .post_json(
            "/_mock/settings",
            None,
            json!({"api": {"shortpages": true}}).to_string(),
        )
        .await;
    assert!(
        answer.message().contains("api.shortpages: unknown setting"),
        "{}",
        answer.text
    );

    let health = mock.get("/_mock/health", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], json!("ok"));
}

#[test]
fn fixtures_carry_settings_and_their_errors_name_path_and_line() {
    let text = "apps: [{client_key: k, client_secret: s}]\nsettings:\n  api: {short_pages: true}\n  oauth: {rate_limit_per_minute: 5}\n";
    let fixtures = tiktok_mock::Fixtures::from_yaml(text).expect("fixtures");
    let state = tiktok_mock::AppState::builder()
        .fixtures(fixtures)
        .build()
        .expect("state");
    assert!(state.api_settings().short_pages);
    assert_eq!(state.oauth_settings().rate_limit_per_minute, Some(5));

    let text =
        "apps: [{client_key: k, client_secret: s}]\nsettings:\n  posting: {moderation_ms: -1}\n";
    let fixtures = tiktok_mock::Fixtures::from_yaml(text).expect("fixtures");
    let error = tiktok_mock::AppState::builder()
        .fixtures(fixtures)
        .build()
        .expect_err("a negative moderation");
    let message = error.in_file("f.yaml");
    assert!(
        message.starts_with("f.yaml:3:3: settings.posting: "),
        "{message}"
    );
    assert_eq!(message.matches("settings").count(), 1, "{message}");
}

#[tokio::test]
async fn the_call_log_filters_by_endpoint_open_id_decision_and_time() {
    let mock = Harness::new();
    let mock = &mock;
    let token = mock.token(&[tiktok_api::Scope::UserInfoBasic]);
    mock.get("/v2/user/info/?fields=open_id", Some(&token))
        .await
        .assert_ok();
    mock.advance_ms(1_000);
    let since = mock.state.now_ms();
    mock.get("/v2/user/info/?fields=nope", Some(&token)).await;
    mock.post_json("/v2/video/list/?fields=id", Some(&token), "{}")
        .await;
    let calls = |query: &str| {
        let path = format!("/_mock/calls{query}");
        async move {
            mock.get(&path, None).await.json["calls"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    assert_eq!(calls("").await.len(), 3);
    assert_eq!(calls("?endpoint=user_info").await.len(), 2);
    assert_eq!(calls("?endpoint=/v2/video/list/").await.len(), 1);
    assert_eq!(calls("?decision=invalid_params").await.len(), 1);
    assert_eq!(calls("?decision=scope_not_authorized").await.len(), 1);
    assert_eq!(calls(&format!("?since_ms={since}")).await.len(), 2);
    assert_eq!(calls(&format!("?until_ms={since}")).await.len(), 1);
    assert_eq!(
        calls(&format!("?open_id={}", mock.open_id())).await.len(),
        3
    );
    let newest = calls("?limit=1").await;
    assert_eq!(newest[0]["endpoint"], json!("video_list"));
    let typo = mock.get("/_mock/calls?endpont=x", None).await;
    typo.assert_error(400, "invalid_params");
}

#[tokio::test]
async fn the_call_log_keeps_query_masked_body_code_and_message() {
    let mock = Harness::new();
    let token = mock.token(&[
        tiktok_api::Scope::UserInfoBasic,
        tiktok_api::Scope::VideoList,
    ]);
    mock.get("/v2/user/info/?fields=open_id,display_name", Some(&token))
        .await
        .assert_ok();
    mock.post_json(
        "/v2/video/list/?fields=id",
        Some(&token),
        r#"{"max_count":99}"#,
    )
    .await;
    let app = &mock.state.store().apps()[0];
    let form = format!(
        "client_key={}&client_secret={}&grant_type=refresh_token&refresh_token=rft.not-a-real-one-0123456789",
        app.client_key, app.client_secret
    );
    let refused = mock
        .post_raw(
            "/v2/oauth/token/",
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        )
        .await;
    assert_ne!(refused.status, 200, "{}", refused.text);

    let answer = mock.get("/_mock/calls", None).await;
    let calls = answer.json["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 3, "{}", answer.text);
    let (info, list, oauth) = (&calls[0], &calls[1], &calls[2]);

    assert_eq!(info["query"], json!("fields=open_id%2Cdisplay_name"));
    assert_eq!(info["body"], json!(null));
    assert_eq!(
        (info["status"].clone(), info["decision"].clone()),
        (json!(200), json!("ok"))
    );
    assert_eq!(info["message"], json!(null));
    assert!(info["latency_us"].is_u64(), "{info}");
    assert!(
        info["log_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{info}"
    );

    assert_eq!(list["body"], json!({"max_count": 99}));
    assert_eq!(list["decision"], json!("invalid_params"));
    assert_eq!(list["status"], json!(400));
    assert!(
        list["message"]
            .as_str()
            .is_some_and(|message| message.contains("max_count")),
        "{list}"
    );

    assert_eq!(oauth["body"]["client_key"], json!(app.client_key));
    assert_eq!(oauth["body"]["grant_type"], json!("refresh_token"));
    assert_eq!(oauth["body"]["refresh_token"], json!("rft.…"));
    assert_eq!(oauth["body"]["client_secret"], json!("…"));
    assert!(
        oauth["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{oauth}"
    );
    assert!(
        !answer.text.contains(&app.client_secret)
            && !answer.text.contains(&token)
            && !answer.text.contains("not-a-real-one"),
        "a secret in the call log: {}",
        answer.text
    );
}

#[tokio::test]
async fn the_call_log_is_a_ring_of_the_size_asked_for() {
    let mock = Harness::with(|builder| builder.call_log_size(64));
    let token = mock.token(&[tiktok_api::Scope::UserInfoBasic]);
    for n in 0..100 {
        mock.get(
            &format!("/v2/user/info/?fields=open_id&n={n}"),
            Some(&token),
        )
        .await;
    }
    let answer = mock.get("/_mock/calls", None).await;
    let queries: Vec<String> = answer.json["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|call| call["query"].as_str().expect("query").to_owned())
        .collect();
    let newest: Vec<String> = (36..100).map(|n| format!("fields=open_id&n={n}")).collect();
    assert_eq!(queries, newest);
}
