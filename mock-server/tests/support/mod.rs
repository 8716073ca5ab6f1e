//! The helpers every test of the mock shares: the in-process harness around `router()`
//! ([`harness`]), the posting fixtures and steps ([`posting`]), the mock's webhook receiver
//! (`tiktok_mock::receiver`, verifying every delivery with the generated crate's `Verifier`),
//! a mock on a manual clock, polling without timing assertions, and the OAuth steps of a
//! real app (authorize URL, redirect, code, OAuth errors).
#![allow(dead_code)]

pub mod harness;
pub mod posting;
pub mod upload;

#[allow(unused_imports)] // Only the axum-level tests use the harness.
pub use harness::{Answer, Harness, START_MS, all_user_scopes};

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;
use tiktok_api::oauth::{AuthorizeUrl, ChallengeEncoding, Pkce};
use tiktok_api::{Error, ErrorCode, Scope};
use tiktok_mock::store::App;
use tiktok_mock::{ClockKind, Fixtures, MockServer};

#[allow(unused_imports)] // Not every test that includes these helpers starts a receiver.
pub use tiktok_mock::receiver::Receiver;

/// The demo app of the embedded fixtures, read from them (never copied into a test), as
/// `MockServer::demo_app` gives it for a running mock.
pub fn demo_app() -> &'static App {
    static DEMO_APP: LazyLock<App> = LazyLock::new(|| {
        Fixtures::demo()
            .apps
            .into_iter()
            .next()
            .expect("the demo data has an app")
    });
    &DEMO_APP
}

/// The unaudited demo app (the second app of the embedded fixtures), read from them.
pub fn unaudited_app() -> &'static App {
    static UNAUDITED_APP: LazyLock<App> = LazyLock::new(|| {
        let app = Fixtures::demo()
            .apps
            .into_iter()
            .nth(1)
            .expect("the demo data has a second app");
        assert!(
            !app.audited,
            "the demo data's second app is the unaudited one"
        );
        app
    });
    &UNAUDITED_APP
}

/// The demo app's client key.
pub fn client_key() -> &'static str {
    &demo_app().client_key
}

/// The demo app's client secret.
pub fn client_secret() -> &'static str {
    &demo_app().client_secret
}

/// The demo app's first redirect URI.
pub fn redirect_uri() -> &'static str {
    demo_app()
        .redirect_uris
        .first()
        .expect("the demo app has a redirect URI")
}

/// A direct post of a public video pulled from the demo app's verified domain.
pub fn public_pull_post() -> tiktok_api::VideoInitRequest {
    tiktok_api::VideoInitRequest {
        post_info: tiktok_api::PostInfo::new(tiktok_api::PrivacyLevel::PublicToEveryone),
        source_info: tiktok_api::VideoSourceInfo {
            source: tiktok_api::Source::PullFromUrl,
            video_url: Some("https://media.demo.example/v.mp4".to_owned()),
            video_size: None,
            chunk_size: None,
            total_chunk_count: None,
        },
    }
}

/// A mock on a manual clock with the demo data.
pub async fn manual_mock() -> MockServer {
    MockServer::builder()
        .clock_kind(ClockKind::Manual)
        .start()
        .await
}

/// A generated client pointed at the mock, as the demo app.
pub fn client(mock: &MockServer) -> tiktok_api::Client {
    client_as(mock, client_key(), client_secret())
}

/// A generated client pointed at the mock, as the app with these credentials (right or
/// wrong: the OAuth tests send both).
pub fn client_as(mock: &MockServer, client_key: &str, client_secret: &str) -> tiktok_api::Client {
    tiktok_api::Client::builder()
        .plain()
        .base_url(mock.uri())
        .credentials(client_key, client_secret)
        .build()
        .expect("client")
}

/// A reqwest client that does not follow redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

pub use tiktok_mock::testing::eventually;

/// The deliveries of the control API.
pub async fn deliveries(mock: &MockServer) -> Vec<Value> {
    let answer: Value = http()
        .get(format!("{}/_mock/webhooks/deliveries", mock.uri()))
        .send()
        .await
        .expect("deliveries")
        .json()
        .await
        .expect("json");
    answer["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until delivery `index` has `attempts` attempts recorded and is no longer in flight.
pub async fn wait_attempts(mock: &MockServer, index: usize, attempts: usize) -> Value {
    eventually(|| async {
        let list = deliveries(mock).await;
        let delivery = list.get(index)?.clone();
        let count = delivery["attempts"].as_array().map_or(0, Vec::len);
        (count >= attempts && delivery["state"] != "in_flight").then_some(delivery)
    })
    .await
}

/// POSTs JSON to a control route and returns (status, body).
pub async fn control(mock: &MockServer, path: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}{path}", mock.uri()))
        .json(&body)
        .send()
        .await
        .expect("control call");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Points the demo app's webhooks at `url`.
pub async fn set_callback(mock: &MockServer, url: &str) {
    let (status, body) = control(
        mock,
        "/_mock/webhooks/callback",
        serde_json::json!({ "callback_url": url }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// The demo app's authorize URL on the mock, for three scopes and a fixed `state`.
pub fn authorize_url(mock: &MockServer) -> AuthorizeUrl {
    let app = mock.demo_app();
    let redirect_uri = app.redirect_uris.first().expect("a redirect URI");
    AuthorizeUrl::new(&app.client_key, redirect_uri)
        .base(format!("{}/v2/auth/authorize/", mock.uri()))
        .scopes(&[Scope::UserInfoBasic, Scope::UserInfoStats, Scope::VideoList])
        .state("csrf-123")
}

/// The redirect's query, decoded, after checking where it goes.
pub fn redirect_query(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status().as_u16(), 302, "{response:?}");
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("a Location header");
    let (target, query) = location.split_once('?').expect("a query");
    assert_eq!(target, redirect_uri());
    serde_urlencoded::from_str(query).expect("query decodes")
}

pub async fn get(url: &str) -> reqwest::Response {
    http().get(url).send().await.expect("GET")
}

/// A code through the auto-approve query, with a PKCE challenge in the given encoding.
pub async fn code_with(mock: &MockServer, pkce: &Pkce, encoding: ChallengeEncoding) -> String {
    let url = authorize_url(mock).pkce_with(pkce, encoding).build();
    let query = redirect_query(&get(&format!("{url}&auto_approve=1")).await);
    query["code"].clone()
}

pub fn oauth_error(result: Result<impl std::fmt::Debug, Error>) -> (u16, ErrorCode, String) {
    match result {
        Err(Error::OAuth {
            status,
            error,
            description,
            log_id,
            ..
        }) => {
            assert_eq!(log_id.len(), 34);
            (status, error, description)
        }
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

/// The `form_token` of a consent page (what a browser posts back with the form).
pub fn form_token(html: &str) -> String {
    let marker = r#"name="form_token" value=""#;
    let start = html.find(marker).expect("a form token on the page") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}
