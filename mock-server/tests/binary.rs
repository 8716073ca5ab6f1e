//! The binary: first line, printed credentials, and the printed curl line working as printed;
//! `--ready-json`, `--public-url`, `--clock-start`, the `TIKTOK_MOCK_*` variables, the health
//! endpoint, and a graceful stop on SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use support::{client_key, unaudited_app};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_address_tokens_and_a_working_curl_line() {
    let child = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", ":0", "--clock", "manual"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|line| line.expect("line"))
        .take_while(|line| !line.starts_with("control API:"))
        .collect();
    let base = lines[0]
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {:?}", lines[0]));
    assert!(
        base.starts_with("127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    assert!(
        lines[1].contains(&format!("client_key={}", client_key())),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("client_secret="), "{}", lines[1]);
    assert!(lines[1].starts_with("demo app (audited):"), "{}", lines[1]);
    assert!(lines[2].contains("act."), "{}", lines[2]);
    assert!(lines[3].contains("act."), "{}", lines[3]);
    // The unaudited demo app, where webhooks go and how to point them elsewhere.
    assert!(
        lines[5].starts_with(&format!(
            "unaudited app: client_key={} client_secret=",
            unaudited_app().client_key
        )),
        "{}",
        lines[5]
    );
    let webhooks = lines
        .iter()
        .find(|line| line.starts_with("webhooks:"))
        .expect("a webhooks line");
    assert!(
        webhooks.contains("http://localhost:3000/webhooks/tiktok")
            && webhooks.contains("--webhook-url")
            && webhooks.contains("/_mock/webhooks/callback"),
        "{webhooks}"
    );

    // Run the curl line's request as printed: URL in single quotes, then the header.
    let curl = lines[4].strip_prefix("try: curl -s ").expect("curl line");
    let parts: Vec<&str> = curl.split('\'').collect();
    let (url, header) = (parts[1], parts[3]);
    let (name, value) = header.split_once(": ").expect("header");
    let answer = reqwest::Client::new()
        .get(url)
        .header(name, value)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(body["error"]["code"], "ok");
    assert_eq!(body["data"]["user"]["display_name"], "Demo Creator");
}

#[test]
fn help_documents_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .arg("--help")
        .output()
        .expect("help");
    let text = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--addr",
        "--public-url",
        "--fixtures",
        "--rate-limit-scale",
        "--clock",
        "--clock-start",
        "--webhook-url",
        "--ready-json",
        "--admin-token",
        "--synthetic-videos",
        "--log-calls",
        "--call-log-size",
        "--replay",
        "--replay-miss",
        "--help",
        "TIKTOK_MOCK_ADDR",
        "TIKTOK_MOCK_PUBLIC_URL",
        "TIKTOK_MOCK_FIXTURES",
        "TIKTOK_MOCK_RATE_LIMIT_SCALE",
        "TIKTOK_MOCK_CLOCK",
        "TIKTOK_MOCK_CLOCK_START",
        "TIKTOK_MOCK_WEBHOOK_URL",
        "TIKTOK_MOCK_READY_JSON",
        "TIKTOK_MOCK_ADMIN_TOKEN",
        "TIKTOK_MOCK_SYNTHETIC_VIDEOS",
        "TIKTOK_MOCK_LOG_CALLS",
        "TIKTOK_MOCK_CALL_LOG_SIZE",
        "TIKTOK_MOCK_REPLAY",
        "TIKTOK_MOCK_REPLAY_MISS",
    ] {
        assert!(
            text.contains(option),
            "{option} missing from --help:\n{text}"
        );
    }
}

#[test]
fn bad_fixtures_are_reported_not_panicked() {
    let dir = std::env::temp_dir().join(format!("tiktok-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "apps: [{client_key: k}]\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", ":0", "--fixtures"])
        .arg(&path)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("client_secret"), "{stderr}");
    // The file, line and column once, then the field's path.
    assert!(
        stderr.contains(&format!("{}:1:8: apps[0]: missing field", path.display())),
        "{stderr}"
    );
    assert_eq!(stderr.matches("fixtures").count(), 1, "{stderr}");
}

/// Starts the binary with these arguments and environment, reading its first stdout line.
fn start(
    args: &[&str],
    env: &[(&str, &str)],
) -> (Running, String, BufReader<std::process::ChildStdout>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"));
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut running = Running(command.spawn().expect("the binary starts"));
    let mut stdout = BufReader::new(running.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first line");
    (running, first.trim_end().to_owned(), stdout)
}

#[tokio::test]
async fn ready_json_public_url_clock_start_and_env_vars() {
    // Every flag also comes from the environment: here the address and the clock.
    let (running, line, _stdout) = start(
        &[
            "--ready-json",
            "--public-url",
            "http://mock.test:9999/",
            "--clock-start",
            "2027-01-15T08:00:00Z",
        ],
        &[
            ("TIKTOK_MOCK_ADDR", "127.0.0.1:0"),
            ("TIKTOK_MOCK_CLOCK", "manual"),
        ],
    );
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    assert_eq!(ready["url"], "http://mock.test:9999");
    let listening = ready["listening"].as_str().expect("listening").to_owned();
    assert!(listening.starts_with("http://127.0.0.1:"), "{listening}");
    assert_eq!(ready["apps"][0]["client_key"], client_key());
    assert_eq!(ready["apps"][0]["audited"], true);
    assert_eq!(ready["apps"][1]["audited"], false);
    let token = ready["tokens"]["full"]["access_token"]
        .as_str()
        .expect("token");
    let http = reqwest::Client::new();
    // The clock starts where told (manual: it stays there).
    let clock: serde_json::Value = http
        .get(format!("{listening}/_mock/clock"))
        .send()
        .await
        .expect("clock")
        .json()
        .await
        .expect("json");
    assert_eq!(clock["now_ms"], 1_800_000_000_000_i64);
    // Upload URLs use the public URL.
    let init: serde_json::Value = http
        .post(format!("{listening}/v2/post/publish/inbox/video/init/"))
        .bearer_auth(token)
        .json(&serde_json::json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}}))
        .send()
        .await
        .expect("init")
        .json()
        .await
        .expect("json");
    let upload_url = init["data"]["upload_url"].as_str().unwrap_or_default();
    assert!(
        upload_url.starts_with("http://mock.test:9999/upload/video/?"),
        "{init}"
    );
    let health: serde_json::Value = http
        .get(format!("{listening}/_mock/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    drop(running);
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully_and_all_interfaces_warn() {
    // Beyond loopback without an admin token: refused, with one line saying why.
    let refused = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", "0.0.0.0:0"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--admin-token"), "{why}");
    let (mut running, line, _stdout) = start(
        &["--addr", "0.0.0.0:0"],
        &[("TIKTOK_MOCK_ADMIN_TOKEN", "s3cret-admin")],
    );
    assert!(line.starts_with("listening on http://0.0.0.0:"), "{line}");
    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = running.0.wait().expect("exits");
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(running.0.stderr.as_mut().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(stderr.contains("--public-url"), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
}

#[tokio::test]
async fn the_admin_token_closes_the_control_api_and_nothing_else() {
    let (_running, line, _stdout) = start(
        &["--addr", "127.0.0.1:0", "--admin-token", "s3cret-admin"],
        &[],
    );
    let base = line
        .strip_prefix("listening on ")
        .expect("the address")
        .to_owned();
    let http = reqwest::Client::new();
    let get = |path: &str, key: Option<&str>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(
        get("/_mock/apps", None).await.expect("answer").status(),
        401
    );
    assert_eq!(
        get("/_mock/apps", Some("wrong"))
            .await
            .expect("answer")
            .status(),
        401
    );
    assert_eq!(
        get("/_mock/apps", Some("s3cret-admin"))
            .await
            .expect("answer")
            .status(),
        200
    );
    assert_eq!(
        get("/_mock/health", None).await.expect("answer").status(),
        200
    );
    // The API itself is not behind it: a TikTok token still works.
    let minted: serde_json::Value = http
        .post(format!("{base}/_mock/tokens"))
        .bearer_auth("s3cret-admin")
        .json(&serde_json::json!({"scopes": ["user.info.basic"]}))
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("json");
    let token = minted["access_token"].as_str().expect("token");
    let info = http
        .get(format!("{base}/v2/user/info/?fields=open_id"))
        .bearer_auth(token)
        .send()
        .await
        .expect("user info");
    assert_eq!(info.status(), 200);
}
