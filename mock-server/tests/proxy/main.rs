//! `tiktok-mock proxy` against upstreams that tell the truth and upstreams that lie: the
//! honest mock behind it gives an empty report for a whole session of the real client; an
//! app's mistakes are flagged; the binary writes its report on SIGTERM. `lying.rs`: a
//! drifted upstream gives exactly its planted drifts, a hostile one (silent, huge,
//! mislabelled, cut short, gone) never crashes or hangs the proxy, a rate limit other than
//! the spec's is seen. No secret reaches a report or the log. `record.rs`: a recorded
//! session holds no secret, becomes fixtures and replays byte for byte; `replay.rs`: replay
//! misses, bad recording directories.

mod compressed;
mod lying;
mod record;
mod replay;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tiktok_api::oauth::{AuthorizeUrl, Pkce};
use tiktok_api::upload::{PostTarget, UploadOptions, VideoSource};
use tiktok_api::{
    Client, MemoryTokenStore, PostInfo, PostStatus, PrivacyLevel, Scope, StoredToken, TokenStore,
    UserField, VideoField, VideoListRequest, VideoQueryFilters, VideoQueryRequest, endpoints,
};
use tiktok_mock::MockServer;
use tiktok_mock::proxy::report::Kind;
use tiktok_mock::proxy::{ProxyConfig, ProxyServer};
use tiktok_mock::testing::PRIVATE_OPEN_ID;

/// Everything the tracing subscriber of a test wrote.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures every event of this thread (the tests run on one thread, proxy included).
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    /// All of it, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

/// A proxy in front of `upstream`, writing its report to `report`.
pub async fn proxy(upstream: &str, report: Option<std::path::PathBuf>) -> ProxyServer {
    proxy_with(upstream, report, Duration::from_secs(10)).await
}

/// A proxy in front of `upstream` with the read timeout `read_timeout`.
pub async fn proxy_with(
    upstream: &str,
    report: Option<std::path::PathBuf>,
    read_timeout: Duration,
) -> ProxyServer {
    let mut config = ProxyConfig::new(ProxyConfig::parse_upstream(upstream).expect("a URL"));
    config.report = report;
    config.read_timeout = read_timeout;
    config.connect_timeout = Duration::from_secs(5);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    ProxyServer::start(config, listener)
        .await
        .expect("the proxy starts")
}

/// The findings as (kind, endpoint id, spec key) triples, sorted.
pub fn triples(server: &ProxyServer) -> Vec<(Kind, Option<&'static str>, Option<&'static str>)> {
    let mut found: Vec<_> = server
        .report()
        .findings()
        .into_iter()
        .map(|(finding, _)| {
            (
                finding.kind,
                finding.endpoint,
                finding.spec.map(|line| line.key),
            )
        })
        .collect();
    found.sort();
    found
}

/// Fails naming the first of `secrets` found in `text`.
pub fn assert_no_secret(text: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !text.contains(secret),
            "{what} holds a secret: {secret:?}\n{text}"
        );
    }
}

trait TapSorted {
    fn tap_sorted(self) -> Self;
}

impl<T: Ord> TapSorted for Vec<T> {
    fn tap_sorted(mut self) -> Self {
        self.sort();
        self
    }
}

#[tokio::test]
async fn a_whole_session_of_the_real_client_against_the_honest_mock_reports_no_drift() {
    let (logs, _guard) = Logs::capture();
    let mock = MockServer::start().await;
    let control = tiktok_mock::testing::Control::new(mock.uri());
    control
        .post("/_mock/posting", json!({"processing_ms": 0}))
        .await;
    let dir = tempfile::tempdir().expect("a directory");
    let report_path = dir.path().join("drift.md");
    let server = proxy(&mock.uri(), Some(report_path.clone())).await;
    let (key, secret) = control.app().await;
    let client = Client::builder()
        .base_url(server.url())
        .credentials(key.clone(), secret.clone())
        .build()
        .expect("a client");

    // Consent happens on TikTok's web host, not the API host: straight at the mock.
    let redirect = mock.demo_app().redirect_uris[0].clone();
    let pkce = Pkce::generate();
    let url = AuthorizeUrl::new(&key, &redirect)
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
    let code = mock
        .authorize(&format!("{url}&open_id={PRIVATE_OPEN_ID}"))
        .await;
    let token = client
        .exchange_code(&code, &redirect, Some(pkce.verifier()))
        .await
        .expect("the code exchanged through the proxy");
    let access = token.access_token.clone();
    let user = client
        .user_info(&access, UserField::ALL)
        .await
        .expect("user info");
    assert_eq!(user.user.open_id.as_deref(), Some(PRIVATE_OPEN_ID));
    let page = client
        .video_list(
            &access,
            VideoField::ALL,
            &VideoListRequest {
                cursor: None,
                max_count: Some(5),
            },
        )
        .await
        .expect("a page of videos");
    let mut video_ids: Vec<String> = page
        .videos
        .iter()
        .filter_map(|video| video.id.clone())
        .collect();
    // An id the creator does not have is left out of the answer, as TikTok does.
    video_ids.push("7000000000000000001".to_owned());
    client
        .video_query(
            &access,
            VideoField::ALL,
            &VideoQueryRequest {
                filters: VideoQueryFilters { video_ids },
            },
        )
        .await
        .expect("a video query");
    client.creator_info(&access).await.expect("creator info");
    let client_token = client
        .client_credentials_token()
        .await
        .expect("a client token through the proxy");

    let store = Arc::new(MemoryTokenStore::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    store
        .save(&StoredToken::from_token(&token, PRIVATE_OPEN_ID, now, None))
        .await
        .expect("saved");
    let handle = client.user(store, PRIVATE_OPEN_ID);
    // The video through the proxy's upload route.
    let size = 12_000_000u64;
    let posted = handle
        .upload_video(
            VideoSource::Bytes(vec![5u8; size as usize].into()),
            PostTarget::Direct(PostInfo::new(PrivacyLevel::SelfOnly)),
            UploadOptions::new()
                .poll_interval(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .await
        .expect("a video posted through the proxy");
    assert_eq!(posted.status.status, PostStatus::PublishComplete);
    let uploads: Vec<_> = mock
        .calls()
        .into_iter()
        .filter(|call| call.method == "PUT")
        .collect();
    assert!(!uploads.is_empty(), "the upload reached the mock");

    let refresh = token.refresh_token.clone().expect("a refresh token");
    let refreshed = client
        .refresh_access_token(&refresh)
        .await
        .expect("refreshed");
    client
        .revoke_token(&refreshed.access_token)
        .await
        .expect("revoked");

    let (exchanges, unchecked) = server.report().exchanges();
    assert!(
        exchanges >= 8,
        "every call went through the proxy: {exchanges}"
    );
    assert_eq!(
        unchecked,
        uploads.len() as u64,
        "only the upload host's answers go unchecked"
    );
    server.stop().await.expect("the proxy stops");
    let report = std::fs::read_to_string(&report_path).expect("the report");
    assert!(report.contains("No drift"), "{report}");
    let log = logs.text();
    assert!(!log.contains("drift:"), "{log}");
    let mut secrets = vec![
        secret.as_str(),
        code.as_str(),
        access.as_str(),
        refresh.as_str(),
        refreshed.access_token.as_str(),
        pkce.verifier(),
        client_token.access_token.as_str(),
        "upload_token",
    ];
    if let Some(rotated) = refreshed.refresh_token.as_deref() {
        secrets.push(rotated);
    }
    assert_no_secret(&report, &secrets, "the report");
    assert_no_secret(&log, &secrets, "the log");
}

#[tokio::test]
async fn an_apps_mistakes_are_flagged_from_the_mocks_own_checks() {
    let mock = MockServer::start().await;
    let control = tiktok_mock::testing::Control::new(mock.uri());
    let server = proxy(&mock.uri(), None).await;
    let (key, secret) = control.app().await;
    let client = Client::builder()
        .base_url(server.url())
        .credentials(key.clone(), secret.clone())
        .build()
        .expect("a client");
    let redirect = mock.demo_app().redirect_uris[0].clone();
    let url = AuthorizeUrl::new(&key, &redirect)
        .base(format!("{}/v2/auth/authorize/", mock.uri()))
        .scopes(&[Scope::UserInfoBasic, Scope::VideoPublish])
        .build();
    let code = mock.authorize(&url).await;
    let token = client
        .exchange_code(&code, &redirect, None)
        .await
        .expect("a token with two scopes");
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {}", token.access_token);
    let send = |path: &str, body: Option<Value>| {
        let request = http
            .post(format!("{}{path}", server.url()))
            .header("Authorization", &bearer);
        match body {
            Some(body) => request.json(&body).send(),
            None => request.send(),
        }
    };
    // An unknown field name and a field whose scope the token lacks.
    http.get(format!(
        "{}{}?fields=open_id,bogus",
        server.url(),
        endpoints::USER_INFO.path
    ))
    .header("Authorization", &bearer)
    .send()
    .await
    .expect("an answer");
    http.get(format!(
        "{}{}?fields=open_id,follower_count",
        server.url(),
        endpoints::USER_INFO.path
    ))
    .header("Authorization", &bearer)
    .send()
    .await
    .expect("an answer");
    // An endpoint whose scope the token lacks, a mistyped field and an unknown one.
    send(
        &format!("{}?fields=id", endpoints::VIDEO_LIST.path),
        Some(json!({"max_count": "ten", "colour": "red"})),
    )
    .await
    .expect("an answer");
    // Sizes that break the chunk rules.
    send(
        endpoints::VIDEO_INIT.path,
        Some(json!({
            "post_info": {"privacy_level": "SELF_ONLY"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 50_000_000, "chunk_size": 10_000_000, "total_chunk_count": 3},
        })),
    )
    .await
    .expect("an answer");
    // A valid init, then a chunk outside its plan, then its one chunk twice.
    let init: Value = send(
        endpoints::VIDEO_INIT.path,
        Some(json!({
            "post_info": {"privacy_level": "SELF_ONLY"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1},
        })),
    )
    .await
    .expect("an answer")
    .json()
    .await
    .expect("JSON");
    let upload_url = init["data"]["upload_url"]
        .as_str()
        .unwrap_or_else(|| panic!("an upload URL: {init}"))
        .to_owned();
    for range in ["bytes 0-499/1000", "bytes 0-999/1000", "bytes 0-999/1000"] {
        let size = if range.contains("499") { 500 } else { 1000 };
        http.put(&upload_url)
            .header("Content-Range", range)
            .header("Content-Type", "video/mp4")
            .body(vec![1u8; size])
            .send()
            .await
            .expect("an upload answer");
    }
    // The same code again (last: TikTok revokes what a reused code minted): a write that
    // succeeded, sent twice.
    let _ = client.exchange_code(&code, &redirect, None).await;
    let found = triples(&server);
    for expected in [
        (Kind::DuplicateWrite, Some("token"), Some("endpoint:token")),
        (
            Kind::UnknownField,
            Some("user_info"),
            Some("endpoint:user_info.fields"),
        ),
        (
            Kind::MissingScope,
            Some("user_info"),
            Some("schema:User.follower_count"),
        ),
        (
            Kind::MissingScope,
            Some("video_list"),
            Some("endpoint:video_list.scopes"),
        ),
        (
            Kind::InvalidField,
            Some("video_list"),
            Some("schema:VideoListRequest.max_count"),
        ),
        (
            Kind::UnknownField,
            Some("video_list"),
            Some("schema:VideoListRequest"),
        ),
        (
            Kind::ChunkRules,
            Some("video_init"),
            Some("endpoint:video_init.request"),
        ),
        (
            Kind::DuplicateWrite,
            Some("video_init"),
            Some("endpoint:video_init.request"),
        ),
    ] {
        assert!(found.contains(&expected), "{expected:?} in {found:?}");
    }
    assert!(
        found
            .iter()
            .all(|(kind, _, _)| kind.side() == tiktok_mock::proxy::report::Side::Request),
        "the honest mock's answers drift nowhere: {found:?}"
    );
    server.stop().await.expect("the proxy stops");
}

/// The binary, `tiktok-mock proxy`, killed as on Ctrl-C.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_binary_forwards_and_writes_its_json_report_in_full_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let refused = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["proxy", "--upstream", "ftp://example.com"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--upstream"), "{why}");

    let mock = MockServer::start().await;
    let token = mock.user_token(None, &[Scope::UserInfoBasic]);
    let dir = tempfile::tempdir().expect("a directory");
    let report_path = dir.path().join("drift.json");
    let child = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["proxy", "--addr", ":0"])
        .env("TIKTOK_PROXY_UPSTREAM", mock.uri())
        .env("TIKTOK_PROXY_REPORT", &report_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    let answer = reqwest::Client::new()
        .get(format!(
            "{base}{}?fields=open_id,bogus",
            endpoints::USER_INFO.path
        ))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("an answer through the binary");
    assert_eq!(answer.status(), 400, "the mock's own refusal, forwarded");
    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = running.0.wait().expect("exits");
    assert!(exit.success(), "{exit:?}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("the report"))
            .expect("JSON");
    assert_eq!(report["exchanges"], 1, "{report}");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["kind"], "unknown_field");
    assert_eq!(findings[0]["spec"]["file"], "spec/endpoints.yaml");
    assert!(!report.to_string().contains(&token));
}
