//! The binary: first line, printed credentials, and the printed curl line working as printed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

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
        .take(6)
        .map(|line| line.expect("line"))
        .collect();
    let base = lines[0]
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {:?}", lines[0]));
    assert!(
        base.starts_with("127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    assert!(
        lines[1].contains("client_key=awdemo7c1f2e9b4d3a"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("client_secret="), "{}", lines[1]);
    assert!(lines[2].contains("act."), "{}", lines[2]);
    assert!(lines[3].contains("act."), "{}", lines[3]);

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
        "--fixtures",
        "--rate-limit-scale",
        "--clock",
        "--synthetic-videos",
        "--log-calls",
        "--help",
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
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("client_secret"), "{stderr}");
}
