//! Snapshots of representative answers of the mock, exactly as they travel: a user's
//! profile, a page of videos, a video query, each error a read endpoint produces, and a
//! token minted through the control API. `log_id`s and tokens are redacted (their
//! shape is checked first); everything else is fixed by the fixtures below and a manual
//! clock. Each snapshot also validates against `generated/openapi.yaml`.
//!
//! Why it matters: a reviewer sees what a user's app will receive, and any change to a
//! body, a status or a message shows up as a diff. Accept changes with
//! `INSTA_UPDATE=always` or `cargo insta review`, then read them.

use insta::internals::{Content, ContentPath};
use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, HttpMethod};
use tiktok_api::{Scope, endpoints};
use tiktok_conformance::{Control, OpenApi, runtime};
use tiktok_mock::{ClockKind, MockServer};

/// One creator with four videos at fixed times, and a second creator with one.
const FIXTURES: &str = r#"
apps:
  - client_key: awsnapshotkey
    client_secret: snapshot-secret
    name: Snapshot App
    redirect_uris: [https://app.example/cb]
creators:
  - open_id: -000snapshot
    union_id: 11111111-2222-4333-8444-555555555555
    display_name: Snapshot Creator
    username: snapshot.creator
    bio_description: Fixed data for snapshots.
    follower_count: 42
    following_count: 7
    likes_count: 1234
    videos:
      - {id: "7300000000000000011", title: First, create_time: 1700000000, duration: 10, like_count: 1, view_count: 100}
      - {id: "7300000000000000012", title: Second, create_time: 1700000600, duration: 20, like_count: 2, view_count: 200}
      - {id: "7300000000000000013", title: Third, create_time: 1700001200, duration: 30, like_count: 3, view_count: 300}
      - {id: "7300000000000000014", title: Fourth, create_time: 1700001800, duration: 40, like_count: 4, view_count: 400}
  - open_id: -000someoneelse
    display_name: Someone Else
    videos:
      - {id: "7300000000000000021", title: Not yours, create_time: 1700000000}
"#;

/// A mock on the fixtures and a manual clock, with rate limits scaled to 1 call per
/// minute for `creator_info` (20 × 0.05) so one extra call shows the 429.
fn start(runtime: &tokio::runtime::Runtime) -> MockServer {
    runtime.block_on(async {
        tiktok_conformance::mock()
            .fixtures_yaml(FIXTURES)
            .unwrap_or_else(|error| panic!("the snapshot fixtures: {error}"))
            .clock_kind(ClockKind::Manual)
            .rate_limit_scale(0.05)
            .start()
            .await
    })
}

/// A log id: 14 digits of UTC time, then 20 upper-case hex digits.
fn is_log_id(text: &str) -> bool {
    text.len() == 34
        && text[..14].bytes().all(|byte| byte.is_ascii_digit())
        && text[14..]
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'A'..=b'F').contains(&byte))
}

fn log_id_redaction(value: Content, path: ContentPath<'_>) -> &'static str {
    match value.as_str() {
        Some(text) if is_log_id(text) => "[log_id]",
        _ => panic!("{path}: not a log id: {value:?}"),
    }
}

fn token_redaction(prefix: &'static str) -> impl Fn(Content, ContentPath<'_>) -> String {
    move |value, path| match value.as_str() {
        Some(text) if text.starts_with(prefix) && text.len() > prefix.len() + 8 => {
            format!("[{prefix}…]")
        }
        _ => panic!("{path}: not a {prefix} token: {value:?}"),
    }
}

/// Sends one call and returns `{status, logid_header, body}` (the header being `x-tt-logid`), after checking the body
/// against the OpenAPI document.
async fn call(
    openapi: &OpenApi,
    base: &str,
    endpoint: &EndpointMeta,
    token: &str,
    fields: &str,
    body: Option<Value>,
) -> Value {
    let method = match endpoint.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
    };
    let mut url = format!("{base}{}", endpoint.path);
    if !fields.is_empty() {
        url.push_str(&format!("?fields={fields}"));
    }
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("Authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", endpoint.id));
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("x-tt-logid")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", endpoint.id));
    if let Err(problem) = openapi.check(endpoint.path, endpoint.method, status, &body) {
        panic!("{}: {problem}", endpoint.id);
    }
    json!({ "status": status, "logid_header": header, "body": body })
}

macro_rules! assert_answer {
    ($name:expr, $answer:expr) => {
        insta::assert_json_snapshot!($name, $answer, {
            ".body.error.log_id" => insta::dynamic_redaction(log_id_redaction),
            ".logid_header" => insta::dynamic_redaction(log_id_redaction),
        })
    };
}

#[test]
fn successful_reads() {
    let runtime = runtime();
    let mock = start(&runtime);
    let control = Control::new(mock.uri());
    let openapi = OpenApi::load();
    let base = mock.uri();
    runtime.block_on(async {
        let token = control
            .access_token(Some("-000snapshot"), Scope::ALL, None)
            .await;
        let answer = call(
            &openapi,
            &base,
            &endpoints::USER_INFO,
            &token,
            "open_id,display_name,follower_count,video_count",
            None,
        )
        .await;
        assert_answer!("user_info", answer);

        let answer = call(
            &openapi,
            &base,
            &endpoints::VIDEO_LIST,
            &token,
            "id,create_time,title,duration",
            Some(json!({ "max_count": 2 })),
        )
        .await;
        assert_answer!("video_list_first_page", answer);
        let cursor = answer["body"]["data"]["cursor"].clone();
        let answer = call(
            &openapi,
            &base,
            &endpoints::VIDEO_LIST,
            &token,
            "id,create_time,title,duration",
            Some(json!({ "max_count": 2, "cursor": cursor })),
        )
        .await;
        assert_answer!("video_list_last_page", answer);

        let answer = call(
            &openapi,
            &base,
            &endpoints::VIDEO_QUERY,
            &token,
            "id,title,like_count,view_count",
            Some(json!({ "filters": { "video_ids": [
                "7300000000000000013",
                "7300000000000000021",
                "7399999999999999999",
                "7300000000000000011",
            ] } })),
        )
        .await;
        assert_answer!("video_query", answer);
    });
}

#[test]
fn errors_of_the_read_endpoints() {
    let runtime = runtime();
    let mock = start(&runtime);
    let control = Control::new(mock.uri());
    let openapi = OpenApi::load();
    let base = mock.uri();
    runtime.block_on(async {
        let basic = control
            .access_token(Some("-000snapshot"), &[Scope::UserInfoBasic], None)
            .await;
        let answer = call(
            &openapi,
            &base,
            &endpoints::USER_INFO,
            &basic,
            "open_id,nope",
            None,
        )
        .await;
        assert_answer!("invalid_params_unknown_field", answer);

        let answer = call(
            &openapi,
            &base,
            &endpoints::VIDEO_QUERY,
            &control
                .access_token(Some("-000snapshot"), &[Scope::VideoList], None)
                .await,
            "id",
            Some(json!({ "filters": { "video_ids": [] } })),
        )
        .await;
        assert_answer!("invalid_params_empty_id_list", answer);

        let answer = call(
            &openapi,
            &base,
            &endpoints::USER_INFO,
            &basic,
            "open_id,follower_count",
            None,
        )
        .await;
        assert_answer!("scope_permission_missed", answer);

        let answer = call(
            &openapi,
            &base,
            &endpoints::USER_INFO,
            "act.not-a-token-the-mock-issued",
            "open_id",
            None,
        )
        .await;
        assert_answer!("access_token_invalid", answer);

        let answer = call(
            &openapi,
            &base,
            &endpoints::VIDEO_LIST,
            &basic,
            "id",
            Some(json!({})),
        )
        .await;
        assert_answer!("scope_not_authorized", answer);

        let publish = control
            .access_token(Some("-000snapshot"), &[Scope::VideoPublish], None)
            .await;
        let first = call(
            &openapi,
            &base,
            &endpoints::CREATOR_INFO,
            &publish,
            "",
            None,
        )
        .await;
        assert_eq!(first["status"], 200, "{first}");
        let answer = call(
            &openapi,
            &base,
            &endpoints::CREATOR_INFO,
            &publish,
            "",
            None,
        )
        .await;
        assert_answer!("rate_limit_exceeded", answer);
    });
}

#[test]
fn a_token_minted_through_the_control_api() {
    let runtime = runtime();
    let mock = start(&runtime);
    let control = Control::new(mock.uri());
    let (status, answer) = runtime.block_on(control.post_raw(
        "/_mock/tokens",
        json!({ "open_id": "-000snapshot", "scopes": ["user.info.basic", "video.list"] }),
    ));
    insta::assert_json_snapshot!("control_token_mint", json!({ "status": status, "body": answer }), {
        ".body.access_token" => insta::dynamic_redaction(token_redaction("act.")),
        ".body.refresh_token" => insta::dynamic_redaction(token_redaction("rft.")),
    });
    let (status, answer) = runtime.block_on(control.post_raw(
        "/_mock/tokens",
        json!({ "scopes": ["user.info.basic"], "expires": 1 }),
    ));
    insta::assert_json_snapshot!("control_token_mint_typo", json!({ "status": status, "body": answer }), {
        ".body.error.log_id" => insta::dynamic_redaction(log_id_redaction),
    });
}
