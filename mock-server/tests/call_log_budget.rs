//! The call log's byte budget: filling it past the budget keeps what it holds under it and
//! keeps the newest calls; `?limit=1` answers the newest call.

use serde_json::Value;
use tiktok_api::Scope;
use tiktok_mock::MockServer;

/// A budget of 32 shards × 12,500 bytes: about one 10 KB call per shard.
const BUDGET: usize = 400_000;
const SENT: usize = 100;

#[tokio::test]
async fn filling_past_the_byte_budget_keeps_the_newest_calls_under_it() {
    let mock = MockServer::builder()
        .state(|state| state.call_log_bytes(BUDGET))
        .start()
        .await;
    let token = mock.user_token(None, &[Scope::VideoList]);
    let http = reqwest::Client::new();
    let body = format!(r#"{{"pad": "{}"}}"#, "x".repeat(10_000));
    for _ in 0..SENT {
        let response = http
            .post(format!("{}/v2/video/list/?fields=id", mock.uri()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await.unwrap();
    }
    let calls: Value = http
        .get(format!("{}/_mock/calls", mock.uri()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = calls["calls"].as_array().unwrap().clone();
    assert!(!calls.is_empty());
    assert!(calls.len() < SENT, "kept {} of {SENT}", calls.len());
    let kept_bytes: usize = calls
        .iter()
        .map(|call| call["body"].to_string().len())
        .sum();
    assert!(kept_bytes <= BUDGET, "{kept_bytes} bytes kept");
    // The newest: consecutive sequence numbers ending at the last call.
    let seqs: Vec<u64> = calls
        .iter()
        .map(|call| call["seq"].as_u64().unwrap())
        .collect();
    let last = *seqs.last().unwrap();
    assert_eq!(last, SENT as u64 - 1);
    let first = last + 1 - seqs.len() as u64;
    assert_eq!(seqs, (first..=last).collect::<Vec<_>>());

    let newest: Value = http
        .get(format!("{}/_mock/calls?limit=1", mock.uri()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = newest["calls"].as_array().unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0]["seq"].as_u64(), Some(last));
}
