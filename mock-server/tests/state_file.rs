//! `--state FILE` across a crash: the binary is killed with SIGKILL mid-run (an upload half
//! done, webhook deliveries failing and waiting for their retry) and started again on the
//! same file. Every token minted and every post started before its answer was sent is still
//! there and usable, the upload goes on where it stopped, the pending deliveries go out once
//! the receiver is up, and the manual clock kept its time. Then a graceful stop (SIGTERM)
//! and a third start.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tiktok_mock::DownPort;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on `port` (0: a free one, see [`port_of`]) with the state file on its
/// manual clock; returns it and its `--ready-json` line.
fn start(port: u16, state: &Path, webhook_url: &str) -> (Running, Value) {
    start_on(port, state, webhook_url, "manual")
}

fn start_on(port: u16, state: &Path, webhook_url: &str, clock: &str) -> (Running, Value) {
    let child = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--clock", clock])
        .arg("--state")
        .arg(state)
        .args(["--webhook-url", webhook_url, "--ready-json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the ready line");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("ready: {line:?}"));
    (running, ready)
}

/// The port the binary listens on, from its ready line (it was started on port 0 and
/// bound a free one itself; a restart takes the same port again).
fn port_of(ready: &Value) -> u16 {
    let listening = ready["listening"].as_str().expect("the listening address");
    listening
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {listening:?}"))
}

/// A webhook receiver on `listener` that answers 200 and keeps each body.
fn receiver(listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<String>>> {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push(body);
                "ok"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    bodies
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put_chunk(
    http: &reqwest::Client,
    upload_url: &str,
    first: u64,
    last: u64,
    total: u64,
) -> u16 {
    http.put(upload_url)
        .header("Content-Type", "video/mp4")
        .header("Content-Range", format!("bytes {first}-{last}/{total}"))
        .body(vec![0u8; (last - first + 1) as usize])
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16()
}

async fn deliveries(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let (_, body) = call(
        http,
        reqwest::Method::GET,
        &format!("{base}/_mock/webhooks/deliveries"),
        None,
        None,
    )
    .await;
    body["deliveries"].as_array().cloned().unwrap_or_default()
}

async fn status_of(http: &reqwest::Client, base: &str, token: &str, publish_id: &str) -> Value {
    let (status, body) = call(
        http,
        reqwest::Method::POST,
        &format!("{base}/v2/post/publish/status/fetch/"),
        Some(token),
        Some(json!({"publish_id": publish_id})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn clock_ms(http: &reqwest::Client, base: &str) -> i64 {
    let (_, body) = call(
        http,
        reqwest::Method::GET,
        &format!("{base}/_mock/clock"),
        None,
        None,
    )
    .await;
    body["now_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("clock: {body}"))
}

const TOTAL: u64 = 10_000_000;
const CHUNK: u64 = 5_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_mock_restarts_with_everything_it_acknowledged() {
    let dir = std::env::temp_dir().join(format!(
        "tiktok-mock-state-{}-{}",
        std::process::id(),
        tiktok_mock::random::random_text(8)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let state = dir.join("mock.sqlite");
    // Held but not listening yet: the receiver is down.
    let hook_port = DownPort::bind();
    let hook = hook_port.url();
    let http = reqwest::Client::new();

    // ---- First run: tokens, posts (one half uploaded), webhooks failing.
    let (first, ready) = start(0, &state, &hook);
    let port = port_of(&ready);
    let base = format!("http://127.0.0.1:{port}");
    let demo_token = ready["tokens"]["full"]["access_token"]
        .as_str()
        .expect("demo token")
        .to_owned();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let (status, body) = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/_mock/tokens"),
            None,
            Some(json!({"scopes": ["user.info.basic", "video.upload", "video.publish"]})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        tokens.push(body["access_token"].as_str().expect("token").to_owned());
    }
    let init = |token: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let (status, body) = call(
                &http,
                reqwest::Method::POST,
                &format!("{base}/v2/post/publish/inbox/video/init/"),
                Some(&token),
                Some(json!({"source_info": {
                    "source": "FILE_UPLOAD", "video_size": TOTAL,
                    "chunk_size": CHUNK, "total_chunk_count": 2,
                }})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            (
                body["data"]["publish_id"]
                    .as_str()
                    .expect("publish_id")
                    .to_owned(),
                body["data"]["upload_url"]
                    .as_str()
                    .expect("upload_url")
                    .to_owned(),
            )
        }
    };
    let (half_done, half_url) = init(tokens[0].clone()).await;
    let (not_started, _) = init(tokens[1].clone()).await;
    assert_eq!(put_chunk(&http, &half_url, 0, CHUNK - 1, TOTAL).await, 206);
    let mut queued = BTreeMap::new();
    for n in 0..3 {
        let (status, body) = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}/_mock/webhooks/events"),
            None,
            Some(json!({"event": "portability.download.ready", "request_id": 100 + n})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        for id in body["deliveries"].as_array().expect("ids") {
            queued.insert(id.as_u64().expect("id"), 100 + n);
        }
    }
    // Wait until every delivery failed once and waits for its retry (a minute away on the
    // manual clock, which nothing advances).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = deliveries(&http, &base).await;
        let waiting = list
            .iter()
            .filter(|d| d["state"] == "pending" && !d["attempts"].as_array().unwrap().is_empty())
            .count();
        if waiting == list.len() && list.len() >= queued.len() {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries: {list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let clock_before = clock_ms(&http, &base).await;
    let pending_before = deliveries(&http, &base).await.len();

    // ---- SIGKILL: no chance to flush anything.
    let mut first = first;
    first.0.kill().expect("SIGKILL");
    let _ = first.0.wait();
    drop(first);

    // ---- Second run on the same file, same port (the upload URL handed out stays valid).
    let (second, ready) = start(port, &state, &hook);
    assert_eq!(
        ready["tokens"]["full"]["access_token"], demo_token,
        "the demo tokens are the file's"
    );
    assert_eq!(
        clock_ms(&http, &base).await,
        clock_before,
        "the manual clock kept its time"
    );
    for token in tokens.iter().chain([&demo_token]) {
        let (status, body) = call(
            &http,
            reqwest::Method::GET,
            &format!("{base}/v2/user/info/?fields=open_id"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{token}: {body}");
    }
    let data = status_of(&http, &base, &tokens[0], &half_done).await;
    assert_eq!(data["status"], "PROCESSING_UPLOAD", "{data}");
    assert_eq!(data["uploaded_bytes"], CHUNK, "{data}");
    let data = status_of(&http, &base, &tokens[1], &not_started).await;
    assert_eq!(data["status"], "PROCESSING_UPLOAD", "{data}");
    // The upload goes on where it stopped, at the second chunk.
    assert_eq!(
        put_chunk(&http, &half_url, CHUNK, TOTAL - 1, TOTAL).await,
        201
    );
    // New ids do not collide with those given before the crash.
    let (third_post, _) = init(tokens[2].clone()).await;
    assert!(third_post != half_done && third_post != not_started);
    assert_eq!(deliveries(&http, &base).await.len(), pending_before);

    // ---- The receiver comes up; the retry falls due a minute later on the mock's clock.
    let bodies = receiver(hook_port.listen());
    let (status, body) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/_mock/clock/advance"),
        None,
        Some(json!({"seconds": 61})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = deliveries(&http, &base).await;
        let delivered: Vec<u64> = list
            .iter()
            .filter(|d| d["state"] == "delivered")
            .filter_map(|d| d["id"].as_u64())
            .collect();
        if queued.keys().all(|id| delivered.contains(id)) {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries: {list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrived = bodies.lock().expect("lock").clone();
    for request_id in queued.values() {
        assert!(
            arrived
                .iter()
                .any(|body| body.contains(&format!("request_id\\\":{request_id}"))),
            "request {request_id} not among {arrived:?}"
        );
    }
    // The finished upload processed on the advanced clock.
    let data = status_of(&http, &base, &tokens[0], &half_done).await;
    assert_eq!(data["status"], "SEND_TO_USER_INBOX", "{data}");

    // ---- A graceful stop, then a third start: all still there.
    let pid = second.0.id().to_string();
    let stopped = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(stopped.success());
    let mut second = second;
    let exit = second.0.wait().expect("it stops");
    assert!(exit.success(), "graceful stop: {exit:?}");
    drop(second);
    let (_third, _) = start(port, &state, &hook);
    let data = status_of(&http, &base, &tokens[2], &third_post).await;
    assert_eq!(data["status"], "PROCESSING_UPLOAD", "{data}");
    let list = deliveries(&http, &base).await;
    assert!(
        queued.keys().all(|id| list
            .iter()
            .any(|d| d["id"] == *id && d["state"] == "delivered")),
        "{list:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// On the system clock, a post still processing when the mock is killed settles on time
/// after the restart: its webhook arrives without anyone reading the post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_on_its_way_at_a_crash_settles_on_time_after_the_restart() {
    let dir = std::env::temp_dir().join(format!(
        "tiktok-mock-resume-{}-{}",
        std::process::id(),
        tiktok_mock::random::random_text(8)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let state = dir.join("mock.sqlite");
    let hook_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("the receiver's port");
    let hook_port = hook_listener.local_addr().expect("its address").port();
    let hook = format!("http://127.0.0.1:{hook_port}/hook");
    let http = reqwest::Client::new();
    let bodies = receiver(hook_listener);

    let (first, ready) = start_on(0, &state, &hook, "system");
    let port = port_of(&ready);
    let base = format!("http://127.0.0.1:{port}");
    let token = ready["tokens"]["full"]["access_token"]
        .as_str()
        .expect("demo token")
        .to_owned();
    for (path, body) in [
        ("/_mock/posting", json!({"processing_ms": 1500})),
        (
            "/_mock/webhooks/callback",
            json!({"callback_url": hook, "webhook_family": "real"}),
        ),
    ] {
        let (status, answer) = call(
            &http,
            reqwest::Method::POST,
            &format!("{base}{path}"),
            None,
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (status, init) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/v2/post/publish/video/init/"),
        Some(&token),
        Some(json!({
            "post_info": {"title": "On its way", "privacy_level": "SELF_ONLY"},
            "source_info": {"source": "PULL_FROM_URL", "video_url": "https://media.demo.example/clip.mp4"},
        })),
    )
    .await;
    assert_eq!(status, 200, "{init}");
    let publish_id = init["data"]["publish_id"]
        .as_str()
        .expect("publish_id")
        .to_owned();
    let mut first = first;
    first.0.kill().expect("SIGKILL");
    let _ = first.0.wait();
    assert!(
        bodies.lock().expect("lock").is_empty(),
        "nothing was due yet"
    );

    let (_second, _) = start_on(port, &state, &hook, "system");
    let deadline = Instant::now() + Duration::from_secs(15);
    let arrived = loop {
        let found = bodies
            .lock()
            .expect("lock")
            .iter()
            .any(|body| body.contains("post.publish.complete") && body.contains(&publish_id));
        if found || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        arrived,
        "no post.publish.complete for {publish_id} without a read: {:?}",
        bodies.lock().expect("lock")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_is_not_a_state_file_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!(
        "tiktok-mock-state-bad-{}-{}",
        std::process::id(),
        tiktok_mock::random::random_text(8)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("notes.txt");
    std::fs::write(
        &file,
        "some notes, certainly not a SQLite database, and long enough to have a header",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", ":0"])
        .env("TIKTOK_MOCK_STATE", &file)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
