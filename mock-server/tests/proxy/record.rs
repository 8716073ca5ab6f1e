//! `--record`, `fixtures from-recording` and `--replay`: a scripted session through the
//! proxy in front of the mock is recorded without a secret in any byte; the recording
//! becomes fixtures a fresh mock answers from; a replay of it answers the same session
//! with the same bytes.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tiktok_api::Scope;
use tiktok_api::endpoints;
use tiktok_api::oauth::{AuthorizeUrl, Pkce};
use tiktok_mock::fixtures::{FixtureComment, Fixtures};
use tiktok_mock::proxy::{ProxyConfig, ProxyServer};
use tiktok_mock::recording::replay::{Replay, ReplayMiss};
use tiktok_mock::{MockServer, recording};

use crate::assert_no_secret;

const USER_FIELDS: &str = "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name,bio_description,profile_deep_link,profile_web_link,is_verified,username,follower_count,following_count,likes_count,video_count";
const VIDEO_FIELDS: &str = "id,create_time,cover_image_url,share_url,video_description,duration,height,width,title,embed_html,embed_link,like_count,comment_count,share_count,view_count";
const COMMENT_FIELDS: &str =
    "id,video_id,text,like_count,reply_count,parent_comment_id,create_time";
/// A video of the demo creator with comments.
const VIDEO_ID: i64 = 7_300_000_000_000_000_001;
/// Personal data the mock's own Research masking lets through (full-width, `(at)`).
const PERSONAL: &str = "write ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ or jane (at) example.com";

/// The app's side of a session: its credentials and what consent gave it.
struct Login<'a> {
    key: &'a str,
    secret: &'a str,
    code: &'a str,
    verifier: &'a str,
    redirect: &'a str,
}

/// One call of the session: its name, status and body as the app got them.
#[derive(Debug)]
struct Call {
    name: &'static str,
    status: u16,
    body: Vec<u8>,
}

impl Call {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("{}: {}", self.name, String::from_utf8_lossy(&self.body)))
    }
}

async fn send(name: &'static str, request: reqwest::RequestBuilder) -> Call {
    let answer = request.send().await.expect("an answer");
    let status = answer.status().as_u16();
    let body = answer.bytes().await.expect("a body").to_vec();
    Call { name, status, body }
}

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The scripted session against `base`: a code exchanged, user info, a page of videos and a
/// query of them, a client token and a page of Research comments, a video init (and, when
/// `upload`, its chunk), a refresh.
async fn session(base: &str, login: &Login<'_>, upload: bool) -> Vec<Call> {
    let http = reqwest::Client::new();
    let token_call = |name, fields: &[(&str, &str)]| {
        send(
            name,
            http.post(format!("{base}{}", endpoints::TOKEN.path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(fields)),
        )
    };
    let mut calls = Vec::new();
    let token = token_call(
        "token",
        &[
            ("client_key", login.key),
            ("client_secret", login.secret),
            ("code", login.code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", login.redirect),
            ("code_verifier", login.verifier),
        ],
    )
    .await;
    let tokens = token.json();
    let access = tokens["access_token"].as_str().expect("a token").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh")
        .to_owned();
    calls.push(token);
    let bearer = format!("Bearer {access}");
    let api = |name, path: &str, query: &str, body: Option<Value>| {
        let url = format!("{base}{path}?fields={query}");
        let request = match body {
            Some(body) => http.post(url).json(&body),
            None => http.get(url),
        };
        send(name, request.header("Authorization", &bearer))
    };
    calls.push(api("user_info", endpoints::USER_INFO.path, USER_FIELDS, None).await);
    let list = api(
        "video_list",
        endpoints::VIDEO_LIST.path,
        VIDEO_FIELDS,
        Some(json!({"max_count": 5})),
    )
    .await;
    let ids: Vec<Value> = list.json()["data"]["videos"]
        .as_array()
        .expect("videos")
        .iter()
        .map(|video| video["id"].clone())
        .collect();
    calls.push(list);
    calls.push(
        api(
            "video_query",
            endpoints::VIDEO_QUERY.path,
            VIDEO_FIELDS,
            Some(json!({"filters": {"video_ids": ids}})),
        )
        .await,
    );
    let client = token_call(
        "client_token",
        &[
            ("client_key", login.key),
            ("client_secret", login.secret),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    let client_token = client.json()["access_token"]
        .as_str()
        .expect("a client token")
        .to_owned();
    calls.push(client);
    calls.push(
        send(
            "research_comment_list",
            http.post(format!(
                "{base}{}?fields={COMMENT_FIELDS}",
                endpoints::RESEARCH_COMMENT_LIST.path
            ))
            .header("Authorization", format!("Bearer {client_token}"))
            .json(&json!({"video_id": VIDEO_ID, "max_count": 10})),
        )
        .await,
    );
    let init = api(
        "video_init",
        endpoints::VIDEO_INIT.path,
        "",
        Some(json!({
            "post_info": {"privacy_level": "SELF_ONLY"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1},
        })),
    )
    .await;
    if upload {
        let url = init.json()["data"]["upload_url"]
            .as_str()
            .unwrap_or_else(|| panic!("an upload URL: {}", init.json()))
            .to_owned();
        calls.push(
            send(
                "upload",
                http.put(url)
                    .header("Content-Range", "bytes 0-999/1000")
                    .header("Content-Type", "video/mp4")
                    .body(vec![1u8; 1000]),
            )
            .await,
        );
    }
    calls.push(init);
    calls.push(
        token_call(
            "refresh",
            &[
                ("client_key", login.key),
                ("client_secret", login.secret),
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
            ],
        )
        .await,
    );
    calls
}

fn named<'a>(calls: &'a [Call], name: &str) -> &'a Call {
    calls
        .iter()
        .find(|call| call.name == name)
        .unwrap_or_else(|| panic!("no {name} in {calls:?}"))
}

/// Every file of the recording, by name, with its text.
fn recording_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("the recording")
        .map(|item| {
            let item = item.expect("an item");
            let bytes = std::fs::read(item.path()).expect("a file");
            (
                item.file_name().to_string_lossy().into_owned(),
                String::from_utf8(bytes).expect("UTF-8"),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_recorded_session_has_no_secret_and_becomes_fixtures_and_a_faithful_replay() {
    let mut fixtures = Fixtures::demo();
    fixtures.comments.push(FixtureComment {
        id: 7_300_000_000_000_000_199,
        video_id: VIDEO_ID,
        text: PERSONAL.to_owned(),
        like_count: 1,
        reply_count: 0,
        parent_comment_id: None,
        create_time: Some(1_700_000_000),
    });
    let mock = MockServer::builder().fixtures(fixtures).start().await;
    let dir = tempfile::tempdir().expect("a directory");
    let record = dir.path().join("recording");
    let mut config = ProxyConfig::new(ProxyConfig::parse_upstream(&mock.uri()).expect("a URL"));
    config.record = Some(record.clone());
    config.connect_timeout = Duration::from_secs(5);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let server = ProxyServer::start(config, listener)
        .await
        .expect("the proxy starts");

    let app = mock.demo_app().clone();
    let redirect = app.redirect_uris[0].clone();
    let pkce = Pkce::generate();
    let url = AuthorizeUrl::new(&app.client_key, &redirect)
        .base(format!("{}/v2/auth/authorize/", mock.uri()))
        .scopes(&[
            Scope::UserInfoBasic,
            Scope::UserInfoProfile,
            Scope::UserInfoStats,
            Scope::VideoList,
            Scope::VideoPublish,
            Scope::VideoUpload,
        ])
        .pkce(&pkce)
        .build();
    let code = mock.authorize(&url).await;
    let login = Login {
        key: &app.client_key,
        secret: &app.client_secret,
        code: &code,
        verifier: pkce.verifier(),
        redirect: &redirect,
    };
    let live = session(server.url(), &login, true).await;
    for call in &live {
        assert!(
            (200..300).contains(&call.status),
            "{}: {} {}",
            call.name,
            call.status,
            String::from_utf8_lossy(&call.body)
        );
    }
    server.stop().await.expect("the proxy stops");

    // Every byte of every file: no token, code, secret, verifier or upload URL.
    let files = recording_files(&record);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "000001-token.json",
            "000002-user_info.json",
            "000003-video_list.json",
            "000004-video_query.json",
            "000005-token.json",
            "000006-research_comment_list.json",
            "000007-video_init.json",
            "000008-upload.json",
            "000009-token.json",
        ],
        "one file per exchange, nothing half-written left"
    );
    let tokens = named(&live, "token").json();
    let refreshed = named(&live, "refresh").json();
    let client_token = named(&live, "client_token").json();
    let init = named(&live, "video_init").json();
    let upload_url = init["data"]["upload_url"].as_str().expect("an upload URL");
    let upload_rest = upload_url
        .split_once("/_proxy/upload/0")
        .map(|(_, rest)| rest)
        .expect("rewritten through the proxy");
    let text_of = |value: &Value, name: &str| value[name].as_str().expect(name).to_owned();
    let secrets = [
        app.client_secret.clone(),
        code.clone(),
        pkce.verifier().to_owned(),
        text_of(&tokens, "access_token"),
        text_of(&tokens, "refresh_token"),
        text_of(&refreshed, "access_token"),
        text_of(&refreshed, "refresh_token"),
        text_of(&client_token, "access_token"),
        upload_rest.to_owned(),
        "upload_token".to_owned(),
        "ｊａｎｅ".to_owned(),
        "jane (at) example.com".to_owned(),
    ];
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for (name, text) in &files {
        assert_no_secret(text, &secrets, name);
    }
    let research = &files[5].1;
    assert!(research.contains("[email]"), "{research}");

    // Placeholders are stable: the token answered is the bearer of the next calls.
    let entries = recording::read_dir(&record).expect("the recording reads");
    let answered: Value = serde_json::from_str(
        entries[0]
            .answer
            .as_ref()
            .and_then(|a| a.body.as_deref())
            .expect("a body"),
    )
    .expect("JSON");
    let placeholder = answered["access_token"].as_str().expect("a placeholder");
    assert!(placeholder.starts_with("act.recorded-"), "{placeholder}");
    for entry in &entries[1..4] {
        assert_eq!(
            entry.request.authorization.as_deref(),
            Some(format!("Bearer {placeholder}").as_str())
        );
    }
    let refresh_sent = entries[8].request.form.as_ref().expect("a form");
    assert!(
        refresh_sent
            .iter()
            .any(|(name, value)| name == "refresh_token"
                && Some(value.as_str()) == answered["refresh_token"].as_str()),
        "{refresh_sent:?}"
    );

    // Fixtures: a fresh mock answers with the recorded user and videos.
    let yaml = recording::fixtures::from_recording(&record).expect("fixtures");
    let fresh = MockServer::builder()
        .fixtures_yaml(&yaml)
        .expect("they load")
        .start()
        .await;
    let user = &named(&live, "user_info").json()["data"]["user"];
    let open_id = user["open_id"].as_str().expect("an open_id");
    let token = fresh.user_token(
        Some(open_id),
        &[
            Scope::UserInfoBasic,
            Scope::UserInfoProfile,
            Scope::UserInfoStats,
            Scope::VideoList,
        ],
    );
    let http = reqwest::Client::new();
    let answer: Value = http
        .get(format!(
            "{}{}?fields={USER_FIELDS}",
            fresh.uri(),
            endpoints::USER_INFO.path
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    for field in [
        "open_id",
        "union_id",
        "display_name",
        "username",
        "follower_count",
        "bio_description",
    ] {
        assert_eq!(
            answer["data"]["user"][field], user[field],
            "{field}: {answer}"
        );
    }
    let page: Value = http
        .post(format!(
            "{}{}?fields={VIDEO_FIELDS}",
            fresh.uri(),
            endpoints::VIDEO_LIST.path
        ))
        .bearer_auth(&token)
        .json(&json!({"max_count": 5}))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    let titles = |page: &Value| -> Vec<(Value, Value)> {
        page["data"]["videos"]
            .as_array()
            .expect("videos")
            .iter()
            .map(|video| (video["id"].clone(), video["title"].clone()))
            .collect()
    };
    assert_eq!(titles(&page), titles(&named(&live, "video_list").json()));

    // The replay answers the same session with the same bytes.
    let replaying = MockServer::builder()
        .replay(Replay::load(&record, ReplayMiss::Error).expect("the recording loads"))
        .start()
        .await;
    let again = Login {
        code: "another-code-from-another-consent",
        verifier: "another-verifier-another-verifier-0001",
        secret: "whatever-the-app-holds-now",
        ..login
    };
    let replayed = session(&replaying.uri(), &again, false).await;
    for name in ["user_info", "video_list", "video_query"] {
        let (before, after) = (named(&live, name), named(&replayed, name));
        assert_eq!(after.status, before.status, "{name}");
        assert_eq!(
            String::from_utf8_lossy(&after.body),
            String::from_utf8_lossy(&before.body),
            "{name}: the same bytes"
        );
    }
    let comments = named(&replayed, "research_comment_list").json();
    assert!(comments.to_string().contains("[email]"), "{comments}");
    assert_eq!(
        named(&replayed, "refresh").json()["access_token"],
        entries[8]
            .answer
            .as_ref()
            .and_then(|answer| answer.body.as_deref())
            .map(|body| serde_json::from_str::<Value>(body).expect("JSON")["access_token"].clone())
            .expect("a recorded refresh")
    );
}
