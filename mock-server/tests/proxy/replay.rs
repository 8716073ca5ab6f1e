//! What a replay does with a request the recording lacks (`--replay-miss error|mock`), and
//! recording directories that are missing, empty or broken: refused with their name, by the
//! library and the binary, never a panic.

use serde_json::{Value, json};
use tiktok_api::{ErrorCode, Scope, endpoints};
use tiktok_mock::fixtures::Fixtures;
use tiktok_mock::proxy::{ProxyConfig, ProxyServer};
use tiktok_mock::recording::replay::{Replay, ReplayMiss};
use tiktok_mock::{MockServer, recording};

#[tokio::test]
async fn a_replay_miss_is_an_error_or_the_mocks_own_answer() {
    let mock = MockServer::start().await;
    let token = mock.user_token(None, &[Scope::UserInfoBasic]);
    let dir = tempfile::tempdir().expect("a directory");
    let mut config = ProxyConfig::new(ProxyConfig::parse_upstream(&mock.uri()).expect("a URL"));
    config.record = Some(dir.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let server = ProxyServer::start(config, listener)
        .await
        .expect("the proxy starts");
    let http = reqwest::Client::new();
    let user_info = |base: &str, token: &str, fields: &str| {
        http.get(format!(
            "{base}{}?fields={fields}",
            endpoints::USER_INFO.path
        ))
        .bearer_auth(token)
        .send()
    };
    let recorded = user_info(server.url(), &token, "open_id")
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a body");
    // Headers beyond the content type, range and log id are not kept.
    http.get(format!(
        "{}{}?fields=open_id,union_id",
        server.url(),
        endpoints::USER_INFO.path
    ))
    .bearer_auth(&token)
    .header("Cookie", "session=cookie-value-0123456789")
    .header(
        "TikTok-Signature",
        "t=1700000000,s=signature-0123456789abcdef",
    )
    .send()
    .await
    .expect("an answer");
    server.stop().await.expect("stops");
    for item in std::fs::read_dir(dir.path()).expect("the recording") {
        let text = std::fs::read_to_string(item.expect("a file").path()).expect("text");
        crate::assert_no_secret(
            &text,
            &[
                &token,
                "cookie-value-0123456789",
                "signature-0123456789abcdef",
            ],
            "the recording",
        );
    }

    for miss in [ReplayMiss::Error, ReplayMiss::Mock] {
        let replaying = MockServer::builder()
            .replay(Replay::load(dir.path(), miss).expect("loads"))
            .start()
            .await;
        // The replaying mock's own token: a miss may reach the mock.
        let token = replaying.user_token(None, &[Scope::UserInfoBasic]);
        let hit = user_info(&replaying.uri(), &token, "open_id")
            .await
            .expect("an answer")
            .text()
            .await
            .expect("a body");
        assert_eq!(hit, recorded, "recorded bytes, whatever the token");
        let answer = user_info(&replaying.uri(), &token, "open_id,display_name")
            .await
            .expect("an answer");
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.expect("JSON");
        match miss {
            ReplayMiss::Error => {
                assert_eq!(status, 400, "{body}");
                assert_eq!(body["error"]["code"], ErrorCode::InvalidParams.as_str());
                let message = body["error"]["message"].as_str().expect("a message");
                assert!(message.contains("nothing was recorded"), "{message}");
                assert_eq!(body["data"], json!({}));
            }
            ReplayMiss::Mock => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["error"]["code"], "ok");
                assert!(body["data"]["user"]["display_name"].is_string(), "{body}");
            }
        }
        // The control API is always the mock's.
        let health = http
            .get(format!("{}/_mock/health", replaying.uri()))
            .send()
            .await
            .expect("an answer");
        assert_eq!(health.status(), 200);
    }
}

#[test]
fn a_recording_directory_that_is_missing_or_not_a_recording_is_refused() {
    let dir = tempfile::tempdir().expect("a directory");
    let missing = dir.path().join("missing");
    let error = recording::read_dir(&missing).expect_err("missing");
    assert!(error.to_string().contains("cannot read"), "{error}");
    let error = recording::read_dir(dir.path()).expect_err("empty");
    assert!(
        error.to_string().contains("no recorded exchange"),
        "{error}"
    );
    std::fs::write(
        dir.path().join("000001-user_info.json"),
        "{\"sequence\": 1,",
    )
    .expect("written");
    let error = recording::fixtures::from_recording(dir.path()).expect_err("half a file");
    assert!(
        error.to_string().contains("000001-user_info.json"),
        "{error}"
    );
    assert!(Replay::load(dir.path(), ReplayMiss::Error).is_err());
    let refused =
        ProxyConfig::new(ProxyConfig::parse_upstream("http://127.0.0.1:9").expect("a URL"));
    let refused = ProxyConfig {
        record: Some(dir.path().to_path_buf()),
        ..refused
    };
    assert!(
        tiktok_mock::proxy::Proxy::new(refused, "http://127.0.0.1:1").is_err(),
        "a directory that holds a recording is not recorded over"
    );
}

#[cfg(unix)]
#[test]
fn the_binary_prints_fixtures_and_refuses_a_bad_directory() {
    use std::process::Command;

    let dir = tempfile::tempdir().expect("a directory");
    let refused = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["fixtures", "from-recording"])
        .arg(dir.path().join("missing"))
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("cannot read the recording directory"), "{why}");
    assert!(!why.contains("panicked"), "{why}");
    let refused = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", ":0", "--replay"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("--replay") && why.contains("no recorded exchange"),
        "{why}"
    );

    let entry = json!({
        "sequence": 1,
        "endpoint": "user_info",
        "request": {"method": "GET", "path": "/v2/user/info/", "query": "fields=open_id,display_name", "authorization": "Bearer act.recorded-access_token-1"},
        "answer": {"status": 200, "content_type": "application/json", "body": json!({
            "data": {"user": {"open_id": "-000recorded", "display_name": "Recorded Person"}},
            "error": {"code": "ok", "message": "", "log_id": "x"},
        }).to_string()},
    });
    std::fs::write(dir.path().join("000001-user_info.json"), entry.to_string()).expect("written");
    let printed = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["fixtures", "from-recording"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let yaml = String::from_utf8(printed.stdout).expect("UTF-8");
    let fixtures = Fixtures::from_yaml(&yaml).expect("fixtures");
    assert_eq!(fixtures.creators[0].creator.display_name, "Recorded Person");
}

#[tokio::test]
async fn two_users_identical_calls_replay_each_with_its_own_answer() {
    let mock = MockServer::start().await;
    let dir = tempfile::tempdir().expect("a directory");
    let mut config = ProxyConfig::new(ProxyConfig::parse_upstream(&mock.uri()).expect("a URL"));
    config.record = Some(dir.path().to_path_buf());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let server = ProxyServer::start(config, listener)
        .await
        .expect("the proxy starts");
    let http = reqwest::Client::new();
    let url = |base: &str| format!("{base}{}?fields=open_id", endpoints::USER_INFO.path);
    for open_id in [None, Some(tiktok_mock::testing::PRIVATE_OPEN_ID)] {
        let token = mock.user_token(open_id, &[Scope::UserInfoBasic]);
        http.get(url(server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("an answer");
    }
    server.stop().await.expect("stops");
    let entries = recording::read_dir(dir.path()).expect("the recording");
    let replaying = MockServer::builder()
        .replay(Replay::load(dir.path(), ReplayMiss::Error).expect("loads"))
        .start()
        .await;
    // The second user first: each placeholder gets the answer recorded with it.
    for entry in entries.iter().rev() {
        let placeholder = entry.request.authorization.as_deref().expect("a bearer");
        let recorded = entry
            .answer
            .as_ref()
            .and_then(|answer| answer.body.clone())
            .expect("a body");
        let replayed = http
            .get(url(&replaying.uri()))
            .header("Authorization", placeholder)
            .send()
            .await
            .expect("an answer")
            .text()
            .await
            .expect("a body");
        assert_eq!(replayed, recorded, "{placeholder}");
    }
    let (first, second) = (
        &entries[0].request.authorization,
        &entries[1].request.authorization,
    );
    assert_ne!(first, second, "two tokens, two placeholders");
}
