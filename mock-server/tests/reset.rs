//! `POST /_mock/reset` is one step: calls made meanwhile with the demo token never see the
//! mock half reset (on both stores), and on a state file a process killed during a reset
//! comes back with the demo tokens of its first start, as the README promises.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use tiktok_mock::MockServer;
use tiktok_mock::store::sqlite::SqliteStore;

/// Resets and calls with the demo token side by side; every call must succeed.
async fn calls_survive_resets(mock: MockServer) {
    let base = mock.uri();
    let token = mock.state().demo_tokens().full.clone();
    let http = reqwest::Client::new();
    let resets = {
        let http = http.clone();
        let base = base.clone();
        tokio::spawn(async move {
            for _ in 0..30 {
                let response = http
                    .post(format!("{base}/_mock/reset"))
                    .send()
                    .await
                    .expect("reset");
                assert_eq!(response.status(), 200);
            }
        })
    };
    let mut callers = Vec::new();
    for _ in 0..4 {
        let http = http.clone();
        let base = base.clone();
        let token = token.clone();
        callers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..150 {
                let response = http
                    .get(format!("{base}/v2/user/info/?fields=open_id"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("call");
                let status = response.status().as_u16();
                if status != 200 {
                    failures.push((status, response.text().await.unwrap_or_default()));
                }
            }
            failures
        }));
    }
    resets.await.expect("resets");
    let mut failures = Vec::new();
    for caller in callers {
        failures.extend(caller.await.expect("caller"));
    }
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        failures.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_with_the_demo_token_never_fail_during_resets_in_memory() {
    calls_survive_resets(MockServer::builder().rate_limit_scale(1000.0).start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_with_the_demo_token_never_fail_during_resets_on_a_state_file() {
    let store = SqliteStore::temporary().expect("a state file");
    calls_survive_resets(
        MockServer::builder()
            .rate_limit_scale(1000.0)
            .state(|state| state.store(Arc::new(store)))
            .start()
            .await,
    )
    .await;
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(state: &std::path::Path) -> (Running, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiktok-mock"))
        .args(["--addr", "127.0.0.1:0", "--clock", "manual", "--ready-json"])
        .arg("--state")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the ready line");
    let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("ready: {line:?}"));
    (running, ready)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_killed_during_resets_keeps_the_demo_tokens_of_its_first_start() {
    let dir = std::env::temp_dir().join(format!(
        "tiktok-mock-reset-{}-{}",
        std::process::id(),
        tiktok_mock::random::random_text(8)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("mock.sqlite");
    let (first, ready) = start(&file);
    let token = ready["tokens"]["full"]["access_token"]
        .as_str()
        .expect("demo token")
        .to_owned();
    let http = reqwest::Client::new();
    let mut running = (first, ready);
    // A few rounds: resets back to back from several clients, then SIGKILL, so kills
    // land during resets.
    for round in 0..4 {
        let (mut mock, ready) = running;
        let base = ready["url"].as_str().expect("url").to_owned();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut resetters = Vec::new();
        for _ in 0..6 {
            let http = http.clone();
            let base = base.clone();
            let done = done_tx.clone();
            resetters.push(tokio::spawn(async move {
                while let Ok(response) = http.post(format!("{base}/_mock/reset")).send().await {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    if done.send((status.as_u16(), text)).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(done_tx);
        for _ in 0..10 {
            let (status, text) = done_rx.recv().await.expect("a reset answered");
            assert_eq!(status, 200, "round {round}: a reset failed: {text}");
        }
        mock.0.kill().expect("SIGKILL");
        let _ = mock.0.wait();
        drop(done_rx);
        for resetter in resetters {
            let _ = resetter.await;
        }
        running = start(&file);
        let ready = &running.1;
        assert_eq!(
            ready["tokens"]["full"]["access_token"].as_str(),
            Some(token.as_str()),
            "round {round}: the demo token changed across a crash during a reset"
        );
        let base = ready["url"].as_str().expect("url");
        let response = http
            .get(format!("{base}/v2/user/info/?fields=open_id"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("call");
        assert_eq!(response.status(), 200, "round {round}");
    }
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}
