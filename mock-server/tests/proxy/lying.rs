//! Upstreams that lie: one drifted from the spec (built from the spec's own examples, one
//! lie each), one hostile at the HTTP level, one without the spec's rate limit; and one
//! that echoes what it got, to show nothing changes on the way through.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tiktok_api::endpoints;
use tiktok_api::meta::EndpointMeta;
use tiktok_mock::DownPort;
use tiktok_mock::examples::example_object;
use tiktok_mock::proxy::report::Kind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Logs, TapSorted, assert_no_secret, proxy, proxy_with, triples};

/// An upstream drifted from the spec, built from the spec's own examples with one lie each.
#[derive(Clone, Default)]
struct Drifted {
    creator_info_calls: Arc<Mutex<u32>>,
    uploaded: Arc<Mutex<Vec<u8>>>,
    base: Arc<Mutex<String>>,
}

const PLANTED_UPLOAD_SECRET: &str = "planted-upload-secret-7f3a";
pub const TOKEN: &str = "act.planted-access-token-91c2";

fn ok(data: Value) -> axum::response::Response {
    Json(json!({"data": data, "error": {"code": "ok", "message": "", "log_id": "202701010000000000000000000000AA"}}))
        .into_response()
}

fn example(endpoint: &EndpointMeta) -> Value {
    let projected: Vec<_> = endpoint
        .fields
        .map(|param| param.schema.fields.iter().collect())
        .unwrap_or_default();
    example_object(
        endpoint.response,
        endpoint
            .fields
            .map(|param| (param.schema, projected.as_slice())),
    )
}

async fn start_drifted() -> (String, Drifted) {
    let drifted = Drifted::default();
    let app = axum::Router::new()
        .route(
            endpoints::USER_INFO.path,
            get(|| async {
                // Renamed: display_name is display_name_v2 here.
                let mut data = example(&endpoints::USER_INFO);
                let user = data["user"].as_object_mut().expect("a user");
                let name = user.remove("display_name").expect("an example display name");
                user.insert("display_name_v2".into(), name);
                ok(data)
            }),
        )
        .route(
            endpoints::VIDEO_LIST.path,
            post(|| async {
                // An extra, undocumented field.
                let mut data = example(&endpoints::VIDEO_LIST);
                data["trace_token"] = json!("t-1");
                ok(data)
            }),
        )
        .route(
            endpoints::VIDEO_QUERY.path,
            post(|| async {
                // A code the catalog does not have.
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"data": {}, "error": {"code": "quota_exhausted_v3", "message": "no", "log_id": "x"}})),
                )
                    .into_response()
            }),
        )
        .route(
            endpoints::CREATOR_INFO.path,
            post(|State(drifted): State<Drifted>| async move {
                // A rate limit of 2 a minute, far below the spec's.
                let mut calls = drifted.creator_info_calls.lock();
                *calls += 1;
                if *calls > 2 {
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        Json(json!({"data": {}, "error": {"code": "rate_limit_exceeded", "message": "slow down", "log_id": "x"}})),
                    )
                        .into_response();
                }
                ok(example(&endpoints::CREATOR_INFO))
            }),
        )
        .route(
            endpoints::VIDEO_INIT.path,
            post(|State(drifted): State<Drifted>| async move {
                let mut data = example(&endpoints::VIDEO_INIT);
                data["upload_url"] = json!(format!(
                    "{}/upload/?upload_id=1&upload_token={PLANTED_UPLOAD_SECRET}",
                    drifted.base.lock()
                ));
                ok(data)
            }),
        )
        .route(
            "/upload/",
            put(|State(drifted): State<Drifted>, body: axum::body::Bytes| async move {
                drifted.uploaded.lock().extend_from_slice(&body);
                StatusCode::CREATED
            }),
        )
        .with_state(drifted.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    *drifted.base.lock() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, drifted)
}

#[tokio::test]
async fn a_drifted_upstream_gives_exactly_its_planted_drifts() {
    let (logs, _guard) = Logs::capture();
    let (upstream, drifted) = start_drifted().await;
    let dir = tempfile::tempdir().expect("a directory");
    let report_path = dir.path().join("drift.md");
    let json_path = dir.path().join("drift.json");
    let server = proxy(&upstream, Some(report_path.clone())).await;
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {TOKEN}");
    let call =
        |method: reqwest::Method, endpoint: &EndpointMeta, query: &str, body: Option<Value>| {
            let mut request = http
                .request(method, format!("{}{}{query}", server.url(), endpoint.path))
                .header("Authorization", &bearer);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send()
        };

    let answer = call(
        reqwest::Method::GET,
        &endpoints::USER_INFO,
        "?fields=open_id,display_name",
        None,
    )
    .await
    .expect("user info");
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.expect("a body");
    assert!(
        body.contains("display_name_v2"),
        "forwarded unchanged: {body}"
    );
    call(
        reqwest::Method::POST,
        &endpoints::VIDEO_LIST,
        "?fields=id,title",
        Some(json!({"max_count": 5})),
    )
    .await
    .expect("video list");
    let query = call(
        reqwest::Method::POST,
        &endpoints::VIDEO_QUERY,
        "?fields=id",
        Some(json!({"filters": {"video_ids": ["1"]}})),
    )
    .await
    .expect("video query");
    assert_eq!(query.status(), 400, "the status forwarded as it came");
    for _ in 0..3 {
        call(reqwest::Method::POST, &endpoints::CREATOR_INFO, "", None)
            .await
            .expect("creator info");
    }
    let init = call(
        reqwest::Method::POST,
        &endpoints::VIDEO_INIT,
        "",
        Some(json!({
            "post_info": {"privacy_level": "SELF_ONLY", "title": "t"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1},
        })),
    )
    .await
    .expect("video init");
    let init: Value = init.json().await.expect("JSON");
    let upload_url = init["data"]["upload_url"].as_str().expect("an upload URL");
    assert!(
        upload_url.starts_with(&format!("{}/_proxy/upload/", server.url())),
        "rewritten to the proxy: {upload_url}"
    );
    assert!(upload_url.ends_with(&format!("upload_token={PLANTED_UPLOAD_SECRET}")));
    let put = http
        .put(upload_url)
        .header("Content-Range", "bytes 0-999/1000")
        .body(vec![9u8; 1000])
        .send()
        .await
        .expect("an upload");
    assert_eq!(put.status(), 201);
    assert_eq!(*drifted.uploaded.lock(), vec![9u8; 1000]);

    assert_eq!(
        triples(&server),
        vec![
            (
                Kind::UndocumentedField,
                Some("user_info"),
                Some("schema:User")
            ),
            (
                Kind::UndocumentedField,
                Some("video_list"),
                Some("schema:VideoListData")
            ),
            (
                Kind::UnknownErrorCode,
                Some("video_query"),
                Some("endpoint:video_query.errors")
            ),
            (
                Kind::RateLimit,
                Some("creator_info"),
                Some("endpoint:creator_info.rate_limit")
            ),
        ]
        .tap_sorted()
    );
    // The report file is kept current while the proxy runs.
    let live = tiktok_mock::testing::eventually(|| {
        let path = report_path.clone();
        async move {
            std::fs::read_to_string(&path)
                .ok()
                .filter(|text| text.contains("creator_info.rate_limit"))
        }
    })
    .await;
    assert!(live.contains("trace_token"), "{live}");
    std::fs::write(&json_path, "").expect("a file");
    let json_report = server.report().render_for(&json_path);
    let parsed: Value = serde_json::from_str(&json_report).expect("the JSON report parses");
    assert_eq!(parsed["findings"].as_array().map(Vec::len), Some(4));
    server.stop().await.expect("the proxy stops");
    let report = std::fs::read_to_string(&report_path).expect("the report");
    for expected in [
        "spec/schemas.yaml",
        "`User.display_name_v2` is not in the spec",
        "`VideoListData.trace_token` is not in the spec",
        "quota_exhausted_v3",
        "spec/endpoints.yaml",
    ] {
        assert!(report.contains(expected), "{expected} in\n{report}");
    }
    println!("{report}");
    let log = logs.text();
    let secrets = [TOKEN, PLANTED_UPLOAD_SECRET];
    assert_no_secret(&report, &secrets, "the report");
    assert_no_secret(&json_report, &secrets, "the JSON report");
    assert_no_secret(&log, &secrets, "the log");
}

/// A raw upstream for one kind of hostility, chosen by the request's `x-case` header.
async fn start_hostile() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match socket.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let case = head
                .lines()
                .find_map(|line| line.strip_prefix("x-case:"))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned();
            match case.as_str() {
                // Silent: holds the connection, never answers.
                "slow" => held.push(socket),
                "huge" => {
                    let body = vec![b'x'; 6 * 1024 * 1024];
                    let _ = socket
                        .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).as_bytes())
                        .await;
                    let _ = socket.write_all(&body).await;
                }
                "html" => {
                    let body = b"<html>maintenance</html>";
                    let _ = socket
                        .write_all(format!("HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).as_bytes())
                        .await;
                    let _ = socket.write_all(body).await;
                }
                // Cut: promises 1000 bytes, sends 10, closes.
                _ => {
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"data\":{}")
                        .await;
                }
            }
        }
    });
    base
}

#[tokio::test]
async fn hostile_upstreams_never_crash_or_hang_the_proxy_and_their_failures_reach_the_app() {
    let upstream = start_hostile().await;
    let server = proxy_with(&upstream, None, Duration::from_millis(300)).await;
    let http = reqwest::Client::new();
    let url = format!(
        "{}{}?fields=open_id",
        server.url(),
        endpoints::USER_INFO.path
    );
    let send = |case: &'static str| {
        http.get(&url)
            .header("Authorization", "Bearer act.hostile")
            .header("x-case", case)
            .send()
    };

    // Silent: a 502 in TikTok's envelope once the read timeout passes.
    let slow = send("slow").await.expect("an answer");
    assert_eq!(slow.status(), 502);
    let body: Value = slow.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "internal_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{body}"
    );

    // Huge: forwarded whole, byte for byte, unchecked.
    let huge = send("huge").await.expect("an answer");
    assert_eq!(huge.status(), 200);
    let bytes = huge.bytes().await.expect("the whole body");
    assert_eq!(bytes.len(), 6 * 1024 * 1024);
    assert!(bytes.iter().all(|byte| *byte == b'x'));

    // Mislabelled: forwarded as it came, flagged.
    let html = send("html").await.expect("an answer");
    assert_eq!(html.status(), 503);
    assert_eq!(
        html.headers()["content-type"].to_str().unwrap_or_default(),
        "text/html"
    );
    assert_eq!(html.text().await.expect("text"), "<html>maintenance</html>");

    // Cut short: the app's answer breaks off too (before or after its head: the proxy
    // ends the connection the way the upstream did, never with a made-up whole answer).
    match send("cut").await {
        Ok(cut) => {
            assert_eq!(cut.status(), 200);
            assert!(
                cut.bytes().await.is_err(),
                "the body breaks off as it did upstream"
            );
        }
        Err(error) => assert!(error.is_request() || error.is_body(), "{error:?}"),
    }

    let kinds: Vec<Kind> = server
        .report()
        .findings()
        .into_iter()
        .map(|(finding, _)| finding.kind)
        .collect();
    assert!(kinds.contains(&Kind::UpstreamFailure), "{kinds:?}");
    assert!(kinds.contains(&Kind::NotJson), "{kinds:?}");
    server.stop().await.expect("the proxy stops");

    // Gone: nothing listens; a 502 in the OAuth shape for an OAuth endpoint.
    let down = DownPort::bind();
    let server = proxy(&down.url(), None).await;
    let answer = http
        .post(format!("{}{}", server.url(), endpoints::TOKEN.path))
        .form(&[
            ("client_key", "k"),
            ("client_secret", "s"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 502);
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["error"], "server_error");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("could not connect"),
        "{body}"
    );
    server.stop().await.expect("the proxy stops");
}

#[tokio::test]
async fn calls_past_the_rate_limit_are_flagged_on_both_sides() {
    // An upstream with no rate limit at all.
    let app = axum::Router::new().route(
        endpoints::CREATOR_INFO.path,
        post(|| async { ok(example(&endpoints::CREATOR_INFO)) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let upstream = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = proxy(&upstream, None).await;
    let http = reqwest::Client::new();
    let limit = endpoints::CREATOR_INFO.rate_limit.per_minute;
    for _ in 0..=limit {
        let answer = http
            .post(format!("{}{}", server.url(), endpoints::CREATOR_INFO.path))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(
        triples(&server),
        vec![
            (
                Kind::RateLimitExceeded,
                Some("creator_info"),
                Some("endpoint:creator_info.rate_limit")
            ),
            (
                Kind::RateLimit,
                Some("creator_info"),
                Some("endpoint:creator_info.rate_limit")
            ),
        ]
        .tap_sorted()
    );
    server.stop().await.expect("the proxy stops");
}

#[tokio::test]
async fn requests_and_answers_pass_through_unchanged() {
    // An upstream that answers with the very bytes it was sent, and tells which headers came.
    let app = axum::Router::new().fallback(
        |headers: axum::http::HeaderMap, uri: axum::http::Uri, body: axum::body::Bytes| async move {
            let seen = |name: &str| {
                headers
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("absent")
                    .to_owned()
            };
            (
                StatusCode::IM_A_TEAPOT,
                [
                    ("content-type", "application/json; charset=utf-8".to_owned()),
                    ("x-tt-logid", "20270101000000ABCDEF".to_owned()),
                    ("x-seen-trace", seen("x-app-trace")),
                    ("x-seen-content-type", seen("content-type")),
                    ("x-seen-query", uri.query().unwrap_or("").to_owned()),
                    ("connection", "close".to_owned()),
                ],
                body,
            )
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let upstream = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = proxy(&upstream, None).await;
    let sent = br#"{ "max_count" : 7,   "cursor": 1700000000000 }"#.to_vec();
    let answer = reqwest::Client::new()
        .post(format!(
            "{}{}?fields=id,title&fields=duration",
            server.url(),
            endpoints::VIDEO_LIST.path
        ))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json; charset=UTF-8")
        .header("x-app-trace", "trace-1")
        .body(sent.clone())
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 418);
    let headers = answer.headers().clone();
    assert_eq!(headers["x-tt-logid"], "20270101000000ABCDEF");
    assert_eq!(headers["x-seen-trace"], "trace-1");
    assert_eq!(
        headers["x-seen-content-type"],
        "application/json; charset=UTF-8"
    );
    assert_eq!(headers["x-seen-query"], "fields=id,title&fields=duration");
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert!(
        headers
            .get("connection")
            .is_none_or(|value| value != "close"),
        "hop-by-hop headers stay on their own hop"
    );
    assert_eq!(answer.bytes().await.expect("a body").to_vec(), sent);
    server.stop().await.expect("the proxy stops");
}
