//! A rough load run: `cargo run --release -p tiktok-mock --example load [TASKS] [CALLS]`.
//! Starts the mock in process, then TASKS concurrent clients (each with its own token) make
//! CALLS user-info and video-list calls; prints the throughput and the status counts.

use std::collections::BTreeMap;
use std::time::Instant;

use tiktok_mock::MockServer;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let mock = MockServer::builder().rate_limit_scale(1000.0).start().await;
    let scopes = tiktok_mock::tokens::user_scopes();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let token = mock.user_token(None, &scopes);
        let http = http.clone();
        let base = mock.uri();
        handles.push(tokio::spawn(async move {
            let mut statuses = BTreeMap::new();
            for n in 0..calls {
                let request = if n % 2 == 0 {
                    http.get(format!("{base}/v2/user/info/?fields=open_id,display_name"))
                } else {
                    http.post(format!("{base}/v2/video/list/?fields=id,title"))
                        .header("content-type", "application/json")
                        .body(r#"{"max_count": 20}"#)
                };
                let status = match request.bearer_auth(&token).send().await {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                };
                *statuses.entry(status).or_insert(0_u64) += 1;
            }
            statuses
        }));
    }
    let mut totals: BTreeMap<u16, u64> = BTreeMap::new();
    for handle in handles {
        if let Ok(statuses) = handle.await {
            for (status, count) in statuses {
                *totals.entry(status).or_insert(0) += count;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = totals.values().sum();
    println!(
        "{total} calls from {tasks} clients in {elapsed:.2} s: {:.0} calls/s; statuses {totals:?}",
        total as f64 / elapsed
    );
}
