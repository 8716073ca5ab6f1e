//! The real API's rules the mock follows beyond the happy path, each with its source:
//! public-only lists (O-VLIST), verified pull URLs (O-MTG), no OAuth rate limit unless
//! configured (O-TOK), `profile_web_link` (O-SCREF), the unaudited active-user cap (O-CSG),
//! moderation before a post is public (O-ST), short pages (O-V1), OAuth errors with HTTP 200
//! (reference §1.5), media URLs as TikTok shapes them (O-VOBJ, O-CI, O-DGS), abandoned
//! uploads (O-MTG, O-CI), and the text agreeing with itself.

mod support;

use serde_json::{Value, json};
use support::{Harness, START_MS, all_user_scopes, client_key, client_secret};
use tiktok_api::{ErrorCode, Scope};
use tiktok_mock::MintRequest;
use tiktok_mock::tokens::ScopeList;

const LIST: &str = "/v2/video/list/";
const QUERY: &str = "/v2/video/query/";
const VIDEO_INIT: &str = "/v2/post/publish/video/init/";
const INBOX_INIT: &str = "/v2/post/publish/inbox/video/init/";
const STATUS: &str = "/v2/post/publish/status/fetch/";

fn mint(mock: &Harness, open_id: &str, client_key: &str, scopes: &[Scope]) -> String {
    mock.mint(MintRequest {
        open_id: Some(open_id.to_owned()),
        client_key: Some(client_key.to_owned()),
        scopes: Some(ScopeList::List(
            scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        )),
        ..MintRequest::default()
    })
}

/// A token of the demo creator that outlives the clock's jumps (a year).
fn long_token(mock: &Harness, scopes: &[Scope]) -> String {
    mock.mint(MintRequest {
        scopes: Some(ScopeList::List(
            scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        )),
        expires_in: Some(365 * 86_400),
        ..MintRequest::default()
    })
}

async fn settings(mock: &Harness, changes: Value) {
    let answer = mock
        .post_json("/_mock/settings", None, changes.to_string())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

/// Every video id of the token's creator, walking the list to `has_more: false`.
async fn walk(mock: &Harness, token: &str, max_count: i64) -> (Vec<String>, Vec<usize>) {
    let (mut ids, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None::<i64>);
    loop {
        let mut body = json!({ "max_count": max_count });
        if let Some(cursor) = cursor {
            body["cursor"] = json!(cursor);
        }
        let answer = mock
            .post_json(&format!("{LIST}?fields=id"), Some(token), body.to_string())
            .await;
        answer.assert_ok();
        let videos = answer.data()["videos"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        sizes.push(videos.len());
        ids.extend(
            videos
                .iter()
                .map(|v| v["id"].as_str().unwrap_or_default().to_owned()),
        );
        if answer.data()["has_more"] != json!(true) {
            return (ids, sizes);
        }
        cursor = answer.data()["cursor"].as_i64();
    }
}

// 1. Only public posts are listed, queried and counted [O-VLIST, O-USER].
#[tokio::test]
async fn lists_queries_and_counts_show_only_public_posts() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    // The demo creator has two videos that are not public (friends only, self only).
    let hidden = ["7300000000000000002", "7300000000000000003"];
    let (ids, _) = walk(&mock, &token, 20).await;
    assert!(ids.contains(&"7300000000000000001".to_owned()));
    assert!(
        !ids.iter().any(|id| hidden.contains(&id.as_str())),
        "{ids:?}"
    );
    let query = mock
        .post_json(
            &format!("{QUERY}?fields=id"),
            Some(&token),
            json!({"filters": {"video_ids": ["7300000000000000001", hidden[0], hidden[1]]}})
                .to_string(),
        )
        .await;
    query.assert_ok();
    assert_eq!(
        query.data()["videos"],
        json!([{"id": "7300000000000000001"}])
    );
    let user = mock
        .get("/v2/user/info/?fields=video_count", Some(&token))
        .await;
    assert_eq!(user.data()["user"]["video_count"], json!(ids.len()));
    // The control API still shows them, apart.
    let open_id = mock.open_id();
    let control = mock
        .get(&format!("/_mock/videos?open_id={open_id}&limit=1"), None)
        .await;
    assert_eq!(control.json["total"], json!(ids.len()));
    assert_eq!(control.json["hidden"].as_array().map(Vec::len), Some(2));
}

// 2. Pull URLs: verified domains (with subdomains) and exact prefixes, https only, no IP
// hosts; the sample host needs no verification [O-MTG].
#[tokio::test]
async fn pull_urls_must_be_on_a_verified_domain_or_prefix() {
    let mock = Harness::with(|builder| builder.rate_limit_scale(100.0));
    let token = long_token(&mock, &[Scope::VideoUpload]);
    let pull = |url: &str| {
        json!({"source_info": {"source": "PULL_FROM_URL", "video_url": url}}).to_string()
    };
    let answer = mock
        .post_json(
            "/_mock/apps",
            None,
            json!({"client_key": client_key(), "verified_url_prefixes": ["https://cdn.other.example/videos/"]})
                .to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // POST merges: the demo domain stays verified.
    assert_eq!(answer.json["verified_domains"], json!(["demo.example"]));
    for url in [
        "https://demo.example/v.mp4",
        "https://media.demo.example/v.mp4",
        "https://a.b.demo.example/v.mp4",
        "https://cdn.other.example/videos/v.mp4",
        "https://CDN.other.example/videos/deep/v.mp4",
        "https://sf16-va.tiktokcdn.com/obj/sample.mp4",
    ] {
        mock.post_json(INBOX_INIT, Some(&token), pull(url))
            .await
            .assert_ok();
        mock.advance_ms(86_400_000); // At most 5 pending inbox shares a day.
    }
    for url in [
        "https://notdemo.example/v.mp4",
        "https://demo.example.evil/v.mp4",
        "http://media.demo.example/v.mp4",
        "https://10.0.0.7/v.mp4",
        "https://[::1]/v.mp4",
        "https://cdn.other.example/videos-2/v.mp4",
        "https://cdn.other.example/Videos/v.mp4",
        "https://sub.cdn.other.example/videos/v.mp4",
        "http://cdn.other.example/videos/v.mp4",
    ] {
        let answer = mock.post_json(INBOX_INIT, Some(&token), pull(url)).await;
        answer.assert_error(403, "url_ownership_unverified");
        assert!(
            answer.message().contains("source_info.video_url"),
            "{url}: {}",
            answer.text
        );
    }
}

// 3. The token and revoke endpoints have no rate limit unless one is configured; then the
// 429 is in the flat OAuth shape, as the spec and the OpenAPI document declare [O-TOK].
#[tokio::test]
async fn oauth_endpoints_are_unlimited_unless_configured() {
    let mock = Harness::new();
    let form = format!(
        "client_key={}&client_secret={}&grant_type=client_credentials",
        client_key(),
        client_secret()
    );
    let token_call = || {
        mock.post_raw(
            "/v2/oauth/token/",
            &[("content-type", "application/x-www-form-urlencoded")],
            form.clone(),
        )
    };
    // More than the seed's 600 a minute: all pass.
    for _ in 0..601 {
        assert_eq!(token_call().await.status, 200);
    }
    let index = mock.get("/_mock/", None).await;
    let token_row = index.json["endpoints"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["id"] == "token"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(token_row["rate_limit_per_window"], Value::Null);

    settings(&mock, json!({"oauth": {"rate_limit_per_minute": 2}})).await;
    mock.advance_ms(60_000);
    assert_eq!(token_call().await.status, 200);
    assert_eq!(token_call().await.status, 200);
    let refused = token_call().await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.json["error"], json!("rate_limit_exceeded"));
    assert!(
        refused.json["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("app"))
    );
    assert_eq!(refused.json["log_id"].as_str().map(str::len), Some(34));
    // Declared: the table, and the OpenAPI document.
    for endpoint in [
        &tiktok_api::endpoints::TOKEN,
        &tiktok_api::endpoints::REVOKE,
    ] {
        assert_eq!(endpoint.status_of(&ErrorCode::RateLimitExceeded), Some(429));
        assert!(!endpoint.rate_limit.documented);
    }
    let openapi: Value =
        serde_yaml::from_str(include_str!("../../generated/openapi.yaml")).expect("openapi");
    for path in ["/v2/oauth/token/", "/v2/oauth/revoke/"] {
        let example = &openapi["paths"][path]["post"]["responses"]["429"]["content"]["application/json"]
            ["examples"]["rate_limit_exceeded"]["value"];
        assert_eq!(example["error"], json!("rate_limit_exceeded"), "{path}");
    }
}

// 4. profile_web_link under user.info.profile [O-SCREF]; unknown `fields` are a 400 by
// default, or ignored with a setting.
#[tokio::test]
async fn profile_web_link_and_unknown_fields() {
    let mock = Harness::new();
    let profile = mock.token(&[Scope::UserInfoBasic, Scope::UserInfoProfile]);
    let answer = mock
        .get(
            "/v2/user/info/?fields=display_name,profile_web_link",
            Some(&profile),
        )
        .await;
    answer.assert_ok();
    assert_eq!(
        answer.data()["user"]["profile_web_link"],
        json!("https://www.tiktok.example/@demo.creator")
    );
    let basic = mock.token(&[Scope::UserInfoBasic]);
    mock.get("/v2/user/info/?fields=profile_web_link", Some(&basic))
        .await
        .assert_error(400, "scope_permission_missed");

    let v1 = "/v2/user/info/?fields=open_id,avatar_url_200";
    let refused = mock.get(v1, Some(&profile)).await;
    refused.assert_error(400, "invalid_params");
    assert!(refused.message().contains("avatar_url_200"));
    settings(&mock, json!({"api": {"unknown_fields": "ignore"}})).await;
    let answer = mock.get(v1, Some(&profile)).await;
    answer.assert_ok();
    assert_eq!(answer.data()["user"], json!({"open_id": mock.open_id()}));
}

const CAP_FIXTURES: &str = r#"
apps:
  - {client_key: a-unaudited, client_secret: s, audited: false, verified_domains: [demo.example]}
creators:
  - {open_id: -000p1, posting: {private_account: true}}
  - {open_id: -000p2, posting: {private_account: true}}
  - {open_id: -000p3, posting: {private_account: true}}
  - {open_id: -000p4, posting: {private_account: true}}
  - {open_id: -000p5, posting: {private_account: true}}
  - {open_id: -000p6, posting: {private_account: true}}
"#;

fn direct_pull(privacy_level: &str) -> String {
    json!({
        "post_info": {"privacy_level": privacy_level, "title": "t"},
        "source_info": {"source": "PULL_FROM_URL", "video_url": "https://media.demo.example/v.mp4"},
    })
    .to_string()
}

// 5. An unaudited app direct-posts for at most 5 creators a day [O-CSG].
#[tokio::test]
async fn unaudited_apps_post_for_at_most_five_creators_a_day() {
    let fixtures = tiktok_mock::Fixtures::from_yaml(CAP_FIXTURES).expect("fixtures");
    let mock = Harness::with(|builder| builder.fixtures(fixtures));
    let mock = &mock;
    let post = |open_id: &'static str| {
        let token = mint(mock, open_id, "a-unaudited", &[Scope::VideoPublish]);
        async move {
            mock.post_json(VIDEO_INIT, Some(&token), direct_pull("SELF_ONLY"))
                .await
        }
    };
    for n in 1..=5 {
        post(["-000p1", "-000p2", "-000p3", "-000p4", "-000p5"][n - 1])
            .await
            .assert_ok();
    }
    let refused = post("-000p6").await;
    refused.assert_error(403, "reached_active_user_cap");
    // A creator already among the five may post again.
    post("-000p1").await.assert_ok();
    assert_eq!(
        tiktok_api::endpoints::VIDEO_INIT.limit("unaudited_active_user_cap"),
        Some(5)
    );
    mock.advance_ms(86_400_000);
    post("-000p6").await.assert_ok();
}

// 10. Sizes above 4 GB are refused (tests/chunks.rs); a video longer than the creator may
// post fails once its bytes are in (tests/duration.rs); an upload left unfinished when its
// URL expires fails the post [O-MTG, O-CI].
#[tokio::test]
async fn abandoned_uploads_fail() {
    let mock = Harness::new();
    let token = mock.token(&[Scope::VideoPublish, Scope::VideoUpload]);
    let init = mock
        .post_json(
            INBOX_INIT,
            Some(&token),
            json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}})
                .to_string(),
        )
        .await;
    init.assert_ok();
    let publish_id = init.data()["publish_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let fetch = || {
        mock.post_json(
            STATUS,
            Some(&token),
            json!({"publish_id": publish_id}).to_string(),
        )
    };
    mock.advance_ms(3_599_000);
    assert_eq!(fetch().await.data()["status"], json!("PROCESSING_UPLOAD"));
    mock.advance_ms(1_000);
    let failed = fetch().await;
    assert_eq!(failed.data()["status"], json!("FAILED"), "{}", failed.text);
    assert_eq!(failed.data()["fail_reason"], json!("internal"));
}

// 6. Moderation: a public post's id is exposed, and the video listed, only once moderation
// is over [O-ST].
#[tokio::test]
async fn a_public_post_is_exposed_after_moderation() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    settings(
        &mock,
        json!({"posting": {"processing_ms": 1000, "moderation_ms": 60000}}),
    )
    .await;
    let init = mock
        .post_json(VIDEO_INIT, Some(&token), direct_pull("PUBLIC_TO_EVERYONE"))
        .await;
    init.assert_ok();
    let publish_id = init.data()["publish_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let fetch = || {
        mock.post_json(
            STATUS,
            Some(&token),
            json!({"publish_id": publish_id}).to_string(),
        )
    };
    let (before, _) = walk(&mock, &token, 20).await;
    mock.advance_ms(1_000);
    let published = fetch().await;
    assert_eq!(published.data()["status"], json!("PUBLISH_COMPLETE"));
    assert_eq!(published.data()["publicaly_available_post_id"], json!([]));
    assert_eq!(walk(&mock, &token, 20).await.0.len(), before.len());
    mock.advance_ms(60_000);
    let public = fetch().await;
    assert_eq!(
        public.data()["publicaly_available_post_id"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(walk(&mock, &token, 20).await.0.len(), before.len() + 1);
}

// 7. Short pages: fewer than max_count while has_more is true; a walk still sees every
// video once [O-V1, O-RCOM].
#[tokio::test]
async fn short_pages_keep_has_more_and_lose_nothing() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let (full, _) = walk(&mock, &token, 20).await;
    settings(&mock, json!({"api": {"short_pages": true}})).await;
    let (short, sizes) = walk(&mock, &token, 20).await;
    assert_eq!(short, full);
    assert_eq!(sizes[0], 10);
    assert!(sizes.iter().all(|size| *size <= 10), "{sizes:?}");
    // The research comment list too.
    let client = mock.mint(MintRequest {
        kind: Some(tiktok_mock::store::TokenKind::Client),
        ..MintRequest::default()
    });
    let video_id: i64 = full[1].parse().expect("a numeric id");
    let page = mock
        .post_json(
            "/v2/research/video/comment/list/?fields=id",
            Some(&client),
            json!({"video_id": video_id, "max_count": 2}).to_string(),
        )
        .await;
    page.assert_ok();
    assert_eq!(page.data()["comments"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.data()["has_more"], json!(true));
}

// 8. OAuth errors with HTTP 200, as TikTok has been seen to (reference §1.5).
#[tokio::test]
async fn oauth_errors_can_come_with_http_200() {
    let mock = Harness::new();
    let bad = format!(
        "client_key={}&client_secret={}&grant_type=authorization_code&code=nope&redirect_uri=x",
        client_key(),
        client_secret()
    );
    let call = || {
        mock.post_raw(
            "/v2/oauth/token/",
            &[("content-type", "application/x-www-form-urlencoded")],
            bad.clone(),
        )
    };
    assert_eq!(call().await.status, 400);
    settings(&mock, json!({"oauth": {"errors_with_http_200": true}})).await;
    let answer = call().await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["error"], json!("invalid_grant"));
    // The generated client still sees the error.
    let error = tiktok_api::decode_response::<tiktok_api::Token>(
        tiktok_api::meta::Envelope::OAuth,
        answer.status,
        answer.text.as_bytes(),
    )
    .expect_err("an OAuth error");
    assert_eq!(error.code(), Some(&ErrorCode::InvalidGrant));
}

// 9. Media URLs as TikTok shapes them: signed covers valid 6 h and avatars valid 2 h on the
// mock's clock, share links with utm parameters, embed links in TikTok's form [O-VOBJ,
// O-CI, O-DGS].
#[tokio::test]
async fn media_urls_are_signed_expiring_and_shaped() {
    let mock = Harness::new();
    let token = long_token(&mock, &all_user_scopes());
    let answer = mock
        .post_json(
            &format!("{QUERY}?fields=cover_image_url,share_url,embed_link"),
            Some(&token),
            json!({"filters": {"video_ids": ["7300000000000000001"]}}).to_string(),
        )
        .await;
    answer.assert_ok();
    let video = &answer.data()["videos"][0];
    let cover = video["cover_image_url"].as_str().unwrap_or_default();
    assert_eq!(
        tiktok_mock::media::signed_expiry(cover),
        Some(START_MS / 1000 + 6 * 3600),
        "{cover}"
    );
    assert_eq!(
        video["share_url"],
        json!(format!(
            "https://www.tiktok.example/@demo.creator/video/7300000000000000001?utm_campaign=tt4d_open_api&utm_source={}",
            client_key()
        ))
    );
    assert_eq!(
        video["embed_link"],
        json!(
            "https://www.tiktok.example/static/profile-video?id=7300000000000000001&hide_author=1"
        )
    );
    // Fetched again later, the cover is signed afresh (the documented way to refresh it).
    mock.advance_ms(7 * 3600 * 1000);
    let again = mock
        .post_json(
            &format!("{QUERY}?fields=cover_image_url"),
            Some(&token),
            json!({"filters": {"video_ids": ["7300000000000000001"]}}).to_string(),
        )
        .await;
    let cover = again.data()["videos"][0]["cover_image_url"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        tiktok_mock::media::signed_expiry(cover),
        Some(START_MS / 1000 + 13 * 3600)
    );
    let info = mock
        .post_json("/v2/post/publish/creator_info/query/", Some(&token), "")
        .await;
    info.assert_ok();
    let avatar = info.data()["creator_avatar_url"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        tiktok_mock::media::signed_expiry(avatar),
        Some(START_MS / 1000 + 9 * 3600),
        "{avatar}"
    );
}

// 11. The text agrees with itself: scope_not_authorized means the user did not grant the
// scope [O-ERR]; the rate limit's dimension is a recorded divergence.
#[test]
fn the_catalog_and_the_divergences_agree_with_the_reference() {
    let meta = ErrorCode::ScopeNotAuthorized
        .meta()
        .expect("in the catalog");
    assert!(
        meta.meaning.contains("user did not authorize"),
        "{}",
        meta.meaning
    );
    assert!(!meta.meaning.contains("review"), "{}", meta.meaning);
    let api: Value = serde_yaml::from_str(include_str!("../../spec/api.yaml")).expect("api.yaml");
    let divergence = api["divergences"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["id"] == "rate_limit_dimension"))
        .cloned()
        .expect("a divergence on the rate limit's dimension");
    assert_eq!(divergence["rule"], json!("seed_default"));
    let readme = include_str!("../README.md");
    // Photo posts fire the real family's events (tests/webhook_order.rs), as the README says.
    assert!(!readme.contains("Content init lists no events, so photo"));
    assert!(readme.contains("**and direct photo posts**"));
}
