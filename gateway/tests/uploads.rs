//! No upload URL reaches an agent even when TikTok hands one back: here the upstream (a
//! stand-in on a real socket) answers a pulled inbox upload with an `upload_url` holding
//! an upload token, and neither the agent's result nor a held call's kept outcome has it.

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tiktok_api::{FileTokenStore, StoredToken, TokenStore};
use tiktok_gateway::agent::Outcome;
use tiktok_gateway::config::Config;
use tiktok_gateway::error::GatewayError;
use tiktok_gateway::gateway::Gateway;

const UPLOAD_URL: &str =
    "https://open-upload.tiktokapis.com/video/?upload_id=1&upload_token=stand-in-token";

#[tokio::test]
async fn an_upload_url_from_tiktok_is_stripped_and_file_uploads_are_refused() {
    let upstream = axum::Router::new().route(
        "/v2/post/publish/inbox/video/init/",
        post(|| async {
            Json(json!({
                "data": {"publish_id": "v_inbox_file~v2.1", "upload_url": UPLOAD_URL},
                "error": {"code": "ok", "message": "", "log_id": "stand-in"}
            }))
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
  uploader: {{account: demo, scopes: [video.upload], access: [write]}}
  careful: {{account: demo, scopes: [video.upload], access: [write], approval: writes}}
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
            scope: "video.upload".into(),
        })
        .await
        .unwrap();
    let gateway =
        Gateway::open_with_secret(Config::parse(&file, &text).unwrap(), "secret".into()).unwrap();
    let pull = json!({"source_info": {"source": "PULL_FROM_URL", "video_url": "https://example.com/v.mp4"}});

    // Sent at once: the result has the publish id and no upload URL.
    let uploader = gateway.agent("uploader").await.unwrap();
    let Outcome::Done(value) = uploader
        .call("inbox_video_init", pull.clone())
        .await
        .unwrap()
    else {
        panic!("not held")
    };
    assert_eq!(value, json!({"publish_id": "v_inbox_file~v2.1"}));

    // Held, then approved: the kept outcome the agent reads has none either.
    let careful = gateway.agent("careful").await.unwrap();
    let Outcome::Parked { id, .. } = careful.call("inbox_video_init", pull).await.unwrap() else {
        panic!("held")
    };
    let ran = gateway.approve(&id, "alice").await.unwrap().unwrap();
    assert!(!ran.to_string().contains("upload"), "{ran}");
    let Outcome::Done(status) = careful
        .call("gateway_approval_status", json!({"id": id}))
        .await
        .unwrap()
    else {
        panic!("the status tool answers")
    };
    assert_eq!(status["state"], "done");
    assert!(!status.to_string().contains("upload_token"), "{status}");

    // A file upload is refused before anything is held or sent, naming the way files go.
    for agent in [&uploader, &careful] {
        let upload = json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}});
        let refused = agent.call("inbox_video_init", upload).await.unwrap_err();
        let GatewayError::Refused { reason, .. } = &refused else {
            panic!("{refused:?}")
        };
        assert!(reason.contains("gateway upload tool"), "{reason}");
    }
    assert_eq!(gateway.approvals().list(None).await.unwrap().len(), 1);
    let records: Vec<Value> = gateway
        .audit()
        .records()
        .await
        .unwrap()
        .iter()
        .map(|stored| serde_json::to_value(&stored.record).unwrap())
        .collect();
    let denied = records
        .iter()
        .filter(|record| record["decision"] == "denied")
        .count();
    assert_eq!(denied, 2, "{records:?}");
    assert!(
        !serde_json::to_string(&records)
            .unwrap()
            .contains("stand-in-token")
    );
}
