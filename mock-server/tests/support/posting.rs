//! Helpers of the content-posting tests: fixtures with audited and unaudited apps and
//! creators of every kind, tokens, sources, chunk PUTs, and the webhooks queued.

use serde_json::Value;
use tiktok_api::{
    Client, Error, ErrorCode, PostInfo, PrivacyLevel, Scope, Source, StatusFetchRequest,
    VideoSourceInfo,
};
use tiktok_mock::tokens::ScopeList;
use tiktok_mock::{ClockKind, MintRequest, MockServer};

/// An audited app (the first, so the default of minted tokens), an unaudited one with the
/// real webhook family, and creators: public, private, banned, capped.
pub const FIXTURES: &str = r#"
apps:
  - {client_key: a-audited, client_secret: s1, name: Audited, audited: true,
     callback_url: "http://127.0.0.1:9/hook", verified_domains: [media.example, broken.invalid]}
  - {client_key: b-unaudited, client_secret: s2, name: Unaudited, audited: false,
     callback_url: "http://127.0.0.1:9/hook", webhook_family: real,
     verified_domains: [media.example, broken.invalid]}
creators:
  - open_id: -000public
    display_name: Public Creator
    username: public.creator
    avatar_url: https://p16.tiktokcdn.example/public.jpeg
    generate_videos: 3
  - open_id: -000private
    display_name: Private Creator
    username: private.creator
    posting: {private_account: true, comment_disabled: true, max_video_post_duration_sec: 600}
  - open_id: -000banned
    display_name: Banned Creator
    posting: {blocked: spam_risk_user_banned_from_posting}
  - open_id: -000capped
    display_name: Capped Creator
    posting: {blocked: reached_active_user_cap}
"#;

pub const PUBLIC: &str = "-000public";
pub const PRIVATE: &str = "-000private";

pub async fn start() -> (MockServer, Client) {
    let mock = MockServer::builder()
        .fixtures_yaml(FIXTURES)
        .expect("fixtures")
        .clock_kind(ClockKind::Manual)
        .start()
        .await;
    let client = super::client(&mock);
    (mock, client)
}

/// A user token of the creator `user_id` (their id in the fixtures) for the app
/// `client_key`, minted under that app's open_id of them.
pub fn token(mock: &MockServer, user_id: &str, client_key: &str, scopes: &[Scope]) -> String {
    let open_id = mock.state().open_ids().of(client_key, user_id).into_owned();
    mock.state()
        .mint_token(&MintRequest {
            open_id: Some(open_id),
            client_key: Some(client_key.to_owned()),
            scopes: Some(ScopeList::List(
                scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            )),
            ..MintRequest::default()
        })
        .expect("mint")
        .access_token
}

pub fn all_scopes(mock: &MockServer, open_id: &str, client_key: &str) -> String {
    token(
        mock,
        open_id,
        client_key,
        &[Scope::VideoPublish, Scope::VideoUpload, Scope::VideoList],
    )
}

pub fn file_source(video_size: i64, chunk_size: i64) -> VideoSourceInfo {
    VideoSourceInfo {
        source: Source::FileUpload,
        video_url: None,
        video_size: Some(video_size),
        chunk_size: Some(chunk_size),
        total_chunk_count: Some(video_size / chunk_size),
    }
}

pub fn url_source(url: &str) -> VideoSourceInfo {
    VideoSourceInfo {
        source: Source::PullFromUrl,
        video_url: Some(url.to_owned()),
        video_size: None,
        chunk_size: None,
        total_chunk_count: None,
    }
}

pub fn post_info(privacy_level: PrivacyLevel, title: &str) -> PostInfo {
    PostInfo {
        privacy_level,
        title: Some(title.to_owned()),
        disable_duet: None,
        disable_stitch: None,
        disable_comment: None,
        video_cover_timestamp_ms: None,
        brand_content_toggle: None,
        brand_organic_toggle: None,
        is_aigc: None,
    }
}

/// PUTs bytes `first..=last` of a `total`-byte video.
pub async fn put_chunk(url: &str, first: i64, last: i64, total: i64) -> reqwest::Response {
    let bytes = vec![0x5a_u8; usize::try_from(last - first + 1).expect("size")];
    reqwest::Client::new()
        .put(url)
        .header("content-type", "video/mp4")
        .header("content-range", format!("bytes {first}-{last}/{total}"))
        .body(bytes)
        .send()
        .await
        .expect("PUT")
}

pub fn content_range(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-range")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub async fn status(client: &Client, token: &str, publish_id: &str) -> tiktok_api::PublishStatus {
    client
        .status_fetch(
            token,
            &StatusFetchRequest {
                publish_id: publish_id.to_owned(),
            },
        )
        .await
        .expect("status fetch")
}

pub fn api_error(result: Result<impl std::fmt::Debug, Error>) -> (u16, ErrorCode, String) {
    match result {
        Err(Error::Api {
            status,
            code,
            message,
            ..
        }) => (status, code, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The (event, content) of every webhook queued so far.
pub fn events(mock: &MockServer) -> Vec<(String, Value)> {
    mock.state()
        .webhooks()
        .deliveries()
        .iter()
        .map(|delivery| {
            let body: Value = serde_json::from_str(&delivery.body).expect("payload");
            let content: Value =
                serde_json::from_str(body["content"].as_str().expect("content string"))
                    .expect("content json");
            (delivery.event.clone(), content)
        })
        .collect()
}
