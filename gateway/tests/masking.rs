//! The gateway masks personal data in research results itself: here the upstream (a stand-in
//! for a TikTok that did not mask, on a real socket) answers with an email address, a phone
//! number and a card number in a comment, and the agent sees none of them.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use tiktok_api::{FileTokenStore, StoredToken, TokenStore};
use tiktok_gateway::agent::Outcome;
use tiktok_gateway::config::Config;
use tiktok_gateway::gateway::Gateway;

#[tokio::test]
async fn personal_data_in_research_results_is_masked_by_the_gateway() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let recorded = seen.clone();
    let upstream = axum::Router::new()
        .route(
            "/v2/oauth/token/",
            post(|| async {
                Json(json!({"access_token": "clt.stand-in", "expires_in": 7200, "token_type": "Bearer"}))
            }),
        )
        .route(
            "/v2/research/video/comment/list/",
            post(move |headers: HeaderMap| {
                let recorded = recorded.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    recorded.lock().unwrap().push(auth);
                    Json(json!({
                        "data": {
                            "comments": [
                                {"id": 1, "text": "write jane.doe@example.com, call +1 415-555-0199, card 4111 1111 1111 1111"},
                                {"id": 2, "text": "top 10 of 2026"}
                            ],
                            "cursor": 2,
                            "has_more": false
                        },
                        "error": {"code": "ok", "message": "", "log_id": "stand-in"}
                    }))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.yaml");
    let text = format!(
        "\
tiktok: {{base_url: http://{address}, client_key: standin}}
accounts: {{demo: {{token_store: tokens.json}}}}
agents:
  researcher: {{account: demo, scopes: [research.data.basic], access: [read]}}
audit: audit.sqlite
"
    );
    std::fs::write(&file, &text).unwrap();
    FileTokenStore::new(dir.path().join("tokens.json"))
        .save(&StoredToken {
            open_id: "-000standin".into(),
            access_token: "act.standin".to_string().into(),
            access_expires_at: i64::MAX / 2,
            refresh_token: None,
            refresh_expires_at: None,
            scope: "research.data.basic".into(),
        })
        .await
        .unwrap();
    let gateway =
        Gateway::open_with_secret(Config::parse(&file, &text).unwrap(), "secret".into()).unwrap();
    let researcher = gateway.agent("researcher").await.unwrap();
    let outcome = researcher
        .call(
            "research_comment_list",
            json!({"fields": ["id", "text"], "video_id": 7300000000000000001_i64, "max_count": 10}),
        )
        .await
        .unwrap();
    let Outcome::Done(value) = outcome else {
        panic!("a read is never held: {outcome:?}")
    };
    let texts: Vec<&str> = value["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|comment| comment["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["write [email], call [phone], card [card]", "top 10 of 2026"]
    );
    // The research call went out with the app's client token, not the user's.
    assert_eq!(*seen.lock().unwrap(), ["Bearer clt.stand-in"]);
    // The audit log holds the call, and nothing of the comment's text.
    let records = gateway.audit().records().await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].record.decision, tiktok_agent::Decision::Intent);
    let stored: Value = serde_json::to_value(&records[1].record).unwrap();
    assert_eq!(stored["decision"], "allowed");
    assert!(!stored.to_string().contains("jane"), "{stored}");
}
