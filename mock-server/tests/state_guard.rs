//! What `--state FILE` refuses at start: a file another running mock holds (also after
//! that mock was killed with SIGKILL, the file is free again), and a damaged file (bytes
//! overwritten in the middle), each named in the error. Health reports the store's state.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use tiktok_mock::store::sqlite::SqliteStore;
use tiktok_mock::{AppState, MintRequest};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a start of the binary on `state` came to: ready (still running) or refused.
enum Start {
    Ready(Running),
    Refused(String),
}

fn start(state: &Path) -> Start {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", "127.0.0.1:0", "--clock", "manual", "--ready-json"])
        .arg("--state")
        .arg(state)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    if !line.is_empty() {
        return Start::Ready(Running(child));
    }
    let status = child.wait().expect("exits");
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text);
    assert!(!status.success(), "exited 0 without starting: {text}");
    Start::Refused(text)
}

fn temporary_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tiktok-mock-{what}-{}-{}",
        std::process::id(),
        tiktok_mock::random::random_text(8)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn a_second_mock_on_the_same_state_file_refuses_to_start_naming_the_first() {
    let dir = temporary_dir("locked");
    let file = dir.join("shared.sqlite");
    let Start::Ready(mut first) = start(&file) else {
        panic!("the first mock starts");
    };
    match start(&file) {
        Start::Ready(_) => panic!("a second mock started on a file the first one holds"),
        Start::Refused(stderr) => {
            assert!(stderr.contains("shared.sqlite"), "{stderr}");
            assert!(
                stderr.contains(&format!("pid {}", first.0.id())),
                "{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    // Killed without a chance to clean up: the file is free again.
    first.0.kill().expect("SIGKILL");
    let _ = first.0.wait();
    match start(&file) {
        Start::Ready(_third) => {}
        Start::Refused(stderr) => panic!("refused after the holder died: {stderr}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_state_file_is_refused_by_name() {
    let dir = temporary_dir("damaged");
    let file = dir.join("damaged.sqlite");
    {
        let store = Arc::new(SqliteStore::open(&file).expect("a state file"));
        let state = AppState::builder()
            .store(store.clone())
            .build()
            .expect("state");
        // Enough rows for pages in the middle of the file.
        for _ in 0..2_000 {
            state.mint_token(&MintRequest::default()).expect("a token");
        }
        store.checkpoint();
    }
    let mut bytes = std::fs::read(&file).expect("read");
    let pages = bytes.len() / 4096;
    assert!(pages > 20, "{} pages", pages);
    let middle = pages / 2 * 4096;
    for byte in &mut bytes[middle..middle + 4096] {
        *byte = 0xA5;
    }
    std::fs::write(&file, &bytes).expect("write");
    match start(&file) {
        Start::Ready(_) => panic!("started on a damaged state file"),
        Start::Refused(stderr) => {
            assert!(stderr.contains("damaged.sqlite"), "{stderr}");
            assert!(stderr.contains("damaged"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn health_reports_the_store() {
    let memory = tiktok_mock::MockServer::start().await;
    let health: serde_json::Value = reqwest::get(format!("{}/_mock/health", memory.uri()))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["store"]["kind"], "memory", "{health}");
    assert_eq!(health["store"]["status"], "ok", "{health}");
    let store = SqliteStore::temporary().expect("a state file");
    let sqlite = tiktok_mock::MockServer::builder()
        .state(|state| state.store(Arc::new(store)))
        .start()
        .await;
    let health: serde_json::Value = reqwest::get(format!("{}/_mock/health", sqlite.uri()))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["store"]["kind"], "sqlite", "{health}");
    assert_eq!(health["store"]["status"], "ok", "{health}");
    assert!(health["store"]["file"].is_string(), "{health}");
}
