//! Bad input never crashes the mock nor yields a 500: each gets a TikTok-shaped 4xx naming the problem.

mod support;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use support::{Harness, all_user_scopes, client_key};

const LIST: &str = "/v2/video/list/?fields=id";

/// Sends `body` with `content_type` to the video list and expects a 4xx envelope.
async fn expect_invalid(
    mock: &Harness,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    status: u16,
    needle: &str,
) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(content_type) = content_type {
        headers.push(("content-type", content_type));
    }
    let answer = mock.post_raw(LIST, &headers, body).await;
    answer.assert_error(status, "invalid_params");
    assert!(
        answer
            .message()
            .to_lowercase()
            .contains(&needle.to_lowercase()),
        "{needle:?} not in {}",
        answer.text
    );
}

#[tokio::test]
async fn malformed_bodies_are_invalid_params_naming_the_problem() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let json = Some("application/json");
    let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
        (json, br#"{"max_count": 5"#.to_vec(), "not valid JSON"),
        (json, br#"{"max_count": }"#.to_vec(), "not valid JSON"),
        (json, b"\xff\xfe{}".to_vec(), "not valid JSON"),
        (json, b"{\"cursor\": \"\xff\"}".to_vec(), "not valid JSON"),
        (json, b"[1, 2]".to_vec(), "must be a JSON object"),
        (json, b"null".to_vec(), "must be a JSON object"),
        (json, b"\"text\"".to_vec(), "must be a JSON object"),
        (json, br#"{"max_count": "10"}"#.to_vec(), "max_count"),
        (
            json,
            br#"{"max_count": 99999999999999999999999}"#.to_vec(),
            "max_count",
        ),
        (json, br#"{"max_count": 2147483648}"#.to_vec(), "max_count"),
        (json, br#"{"cursor": -1e308}"#.to_vec(), "cursor"),
        (json, "[".repeat(100_000).into_bytes(), "not valid JSON"),
        (Some("text/plain"), b"{}".to_vec(), "Content-Type"),
        (
            Some("application/x-www-form-urlencoded"),
            b"max_count=5".to_vec(),
            "Content-Type",
        ),
        (
            Some("multipart/form-data; boundary=x"),
            b"--x--".to_vec(),
            "Content-Type",
        ),
    ];
    for (content_type, body, needle) in cases {
        expect_invalid(&mock, &token, content_type, body, 400, needle).await;
    }
    // Still serving.
    mock.post_json(LIST, Some(&token), "{}").await.assert_ok();
}

#[tokio::test]
async fn lenient_where_the_real_api_is() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let auth = format!("Bearer {token}");
    // Unknown keys are ignored; null counts as absent; charset parameters are fine; an
    // empty body is an empty object; no Content-Type at all is read as JSON.
    for (content_type, body) in [
        (
            Some("application/json"),
            r#"{"max_count": 3, "surprise": [1, {"x": null}]}"#,
        ),
        (
            Some("application/json"),
            r#"{"max_count": null, "cursor": null}"#,
        ),
        (
            Some("application/json; charset=UTF-8"),
            r#"{"max_count": 3}"#,
        ),
        (Some("application/json"), ""),
        (None, r#"{"max_count": 3}"#),
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type));
        }
        mock.post_raw(LIST, &headers, body.to_owned())
            .await
            .assert_ok();
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_in_the_envelope() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let mut body = br#"{"max_count": 5, "padding": ""#.to_vec();
    body.extend(std::iter::repeat_n(b'a', tiktok_mock::MAX_BODY_BYTES));
    body.extend(br#""}"#);
    expect_invalid(&mock, &token, Some("application/json"), body, 413, "limit").await;
    // Just under the limit is fine.
    let mut body = br#"{"max_count": 5, "padding": ""#.to_vec();
    body.extend(std::iter::repeat_n(b'a', tiktok_mock::MAX_BODY_BYTES - 64));
    body.extend(br#""}"#);
    mock.post_json(LIST, Some(&token), body).await.assert_ok();
}

#[tokio::test]
async fn unknown_enum_values_and_lengths_are_checked() {
    // content init allows 6 calls a minute; scale it up for this test.
    let mock = Harness::with(|builder| builder.rate_limit_scale(100.0));
    // A private creator (New Creator): SELF_ONLY is one of its privacy options.
    let token = mock.mint(tiktok_mock::MintRequest {
        open_id: Some("-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70".to_owned()),
        scopes: Some(tiktok_mock::tokens::ScopeList::List(
            all_user_scopes()
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        )),
        ..Default::default()
    });
    let base = json!({
        "media_type": "PHOTO",
        "post_mode": "DIRECT_POST",
        "post_info": {"title": "t", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "PULL_FROM_URL", "photo_images": ["https://media.demo.example/1.jpeg"], "photo_cover_index": 0},
    });
    let path = "/v2/post/publish/content/init/";
    mock.post_json(path, Some(&token), base.to_string())
        .await
        .assert_ok();
    let mut body = base.clone();
    body["post_mode"] = json!("SIDEWAYS");
    let answer = mock.post_json(path, Some(&token), body.to_string()).await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().contains("post_mode") && answer.message().contains("SIDEWAYS"),
        "{}",
        answer.text
    );
    let mut body = base.clone();
    body["post_info"]["privacy_level"] = json!("EVERYONE");
    let answer = mock.post_json(path, Some(&token), body.to_string()).await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().contains("post_info.privacy_level"),
        "{}",
        answer.text
    );
    // Title: at most 90 UTF-16 units. 45 emoji are 90 units; 46 are 92.
    let mut body = base.clone();
    body["post_info"]["title"] = json!("😀".repeat(45));
    mock.post_json(path, Some(&token), body.to_string())
        .await
        .assert_ok();
    body["post_info"]["title"] = json!("😀".repeat(46));
    let answer = mock.post_json(path, Some(&token), body.to_string()).await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().contains("post_info.title"),
        "{}",
        answer.text
    );
    // Items: 1 to 35 images; the index of an item is named.
    let mut body = base.clone();
    body["source_info"]["photo_images"] = json!(vec!["https://media.demo.example/1.jpeg"; 36]);
    mock.post_json(path, Some(&token), body.to_string())
        .await
        .assert_error(400, "invalid_params");
    let mut body = base.clone();
    body["source_info"]["photo_images"] = json!(["https://media.demo.example/1.jpeg", 7]);
    let answer = mock.post_json(path, Some(&token), body.to_string()).await;
    assert!(
        answer.message().contains("source_info.photo_images[1]"),
        "{}",
        answer.text
    );
    // Required nested fields.
    let mut body = base;
    body["source_info"]
        .as_object_mut()
        .map(|o| o.remove("photo_cover_index"));
    let answer = mock.post_json(path, Some(&token), body.to_string()).await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().contains("source_info.photo_cover_index"),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn query_string_junk_is_a_4xx() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    for path in [
        "/v2/user/info/?fields=%FF%FE",
        "/v2/user/info/?fields=open_id%00",
        "/v2/user/info/?fields=,,,",
        "/v2/user/info/?&&&=&",
        "/v2/user/info/?fields",
        "/v2/user/info/?fields=open_id,%",
        "/v2/user/info/?fields=open_id,DISPLAY_NAME",
    ] {
        let answer = mock.get(path, Some(&token)).await;
        answer.assert_error(400, "invalid_params");
    }
    // Extra parameters and duplicates are fine.
    let answer = mock
        .get(
            "/v2/user/info/?fields=open_id&fields=display_name&utm=1",
            Some(&token),
        )
        .await;
    answer.assert_ok();
    assert_eq!(answer.data()["user"].as_object().map(|o| o.len()), Some(2));
}

#[tokio::test]
async fn non_ascii_headers_are_a_401_not_a_crash() {
    let mock = Harness::new();
    let request = Request::builder()
        .uri("/v2/user/info/?fields=open_id")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("header"),
        )
        .body(Body::empty())
        .expect("request");
    mock.send(request)
        .await
        .assert_error(401, "access_token_invalid");
}

#[tokio::test]
async fn oauth_endpoints_answer_bad_input_in_their_flat_shape() {
    let mock = Harness::new();
    let form = "application/x-www-form-urlencoded";
    let answer = mock
        .post_raw(
            "/v2/oauth/token/",
            &[("content-type", form)],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.json["error"], json!("invalid_request"));
    assert!(
        answer.json["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("client_key")
    );
    assert_eq!(answer.json["log_id"].as_str().map(str::len), Some(34));
    let answer = mock
        .post_raw(
            "/v2/oauth/token/",
            &[("content-type", form)],
            "client_key=nope&client_secret=x&grant_type=client_credentials",
        )
        .await;
    assert_eq!(
        (answer.status, &answer.json["error"]),
        (401, &json!("invalid_client"))
    );
    let answer = mock
        .post_raw(
            "/v2/oauth/token/",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(
        (answer.status, &answer.json["error"]),
        (400, &json!("invalid_request"))
    );
    let answer = mock
        .post_raw(
            "/v2/oauth/token/",
            &[("content-type", form)],
            format!(
                "client_key={}&client_secret=x&grant_type=password",
                client_key()
            ),
        )
        .await;
    assert_eq!(
        (answer.status, &answer.json["error"]),
        (400, &json!("invalid_request"))
    );
}
