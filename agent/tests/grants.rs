//! Grants and tool calls against the mock on a real socket: refusals happen locally
//! (the mock's call log shows nothing), field scopes and budgets come from the tables, and
//! every call leaves its audit records: a refused one one record, a sent one its intent
//! (kept before it is sent) and its outcome.

mod common;

use std::sync::Arc;

use common::{Control, DEMO_OPEN_ID, client, mock, user};
use serde_json::{Value, json};
use tiktok_agent::{
    AuditError, AuditRecord, AuditSink, Budget, Decision, DenyReason, Error, Grant, GrantedClient,
};
use tiktok_api::meta::Access;
use tiktok_api::{Scope, UserInfoData, endpoints};

/// Keeps every record in memory.
#[derive(Debug, Default)]
struct Records(parking_lot::Mutex<Vec<AuditRecord>>);

#[async_trait::async_trait]
impl AuditSink for Records {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.0.lock().push(record.clone());
        Ok(())
    }
}

impl Records {
    fn decisions(&self) -> Vec<(String, Decision)> {
        let records = self.0.lock();
        records
            .iter()
            .map(|record| (record.endpoint.clone(), record.decision))
            .collect()
    }
}

/// The demo creator's handle with every user scope on its token, narrowed by `grant`.
async fn granted(control: &Control, grant: Grant) -> (GrantedClient, Arc<Records>) {
    let client = client(control).await;
    let scopes = [
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.list",
        "video.publish",
        "video.upload",
    ];
    let (user, _) = user(&client, control, DEMO_OPEN_ID, &scopes, 3600).await;
    let records = Arc::new(Records::default());
    let granted = GrantedClient::new(user.clone(), grant, "reader").audit_to(records.clone());
    (granted, records)
}

fn reader() -> Grant {
    Grant::builder()
        .scopes([Scope::UserInfoBasic, Scope::VideoList])
        .read()
        .build()
        .unwrap()
}

fn video_init_arguments() -> Value {
    json!({
        "post_info": {"title": "hello", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}
    })
}

#[tokio::test]
async fn a_read_only_grant_refuses_video_init_before_sending() {
    let (_mock, control) = mock().await;
    let (granted, records) = granted(&control, reader()).await;
    let body: tiktok_api::VideoInitRequest =
        serde_json::from_value(video_init_arguments()).unwrap();
    let typed = granted
        .execute::<_, Value>(&endpoints::VIDEO_INIT, &[], Some(&body))
        .await;
    assert!(
        matches!(
            typed,
            Err(Error::Denied {
                endpoint: "video_init",
                reason: DenyReason::AccessNotGranted(Access::Write)
            })
        ),
        "{typed:?}"
    );
    let tool = granted
        .call_tool("video_init", video_init_arguments())
        .await;
    assert!(matches!(tool, Err(Error::Denied { .. })), "{tool:?}");
    assert!(control.calls_to("video_init").await.is_empty());
    let records = records.0.lock();
    assert_eq!(records.len(), 2);
    for record in records.iter() {
        assert_eq!(record.decision, Decision::Denied);
        assert_eq!(record.reason.as_deref(), Some("write access not granted"));
        assert_eq!(record.access, Some(Access::Write));
        assert_eq!(record.open_id, DEMO_OPEN_ID);
        assert_eq!(record.status, None);
    }
}

#[tokio::test]
async fn a_field_needing_a_scope_outside_the_grant_is_refused() {
    let (_mock, control) = mock().await;
    let (granted, records) = granted(&control, reader()).await;
    let denied = granted
        .execute::<(), UserInfoData>(&endpoints::USER_INFO, &["open_id", "follower_count"], None)
        .await;
    match denied {
        Err(Error::Denied {
            reason: DenyReason::FieldScope { field, scope },
            ..
        }) => {
            assert_eq!(field, "follower_count");
            assert_eq!(scope, Scope::UserInfoStats);
        }
        other => panic!("expected a field-scope refusal, got {other:?}"),
    }
    assert!(control.calls_to("user_info").await.is_empty());
    let me = granted
        .execute::<(), UserInfoData>(&endpoints::USER_INFO, &["open_id"], None)
        .await
        .unwrap();
    assert_eq!(me.user.open_id.as_deref(), Some(DEMO_OPEN_ID));
    assert_eq!(control.calls_to("user_info").await.len(), 1);
    let records = records.0.lock();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].decision, Decision::Denied);
    assert_eq!(records[0].scopes, ["user.info.basic", "user.info.stats"]);
    // The read's intent, kept before it was sent, then its outcome.
    assert_eq!(records[1].decision, Decision::Intent);
    assert_eq!(records[1].status, None);
    assert_eq!(records[2].decision, Decision::Allowed);
    assert_eq!(records[2].status, Some(200));
    assert!(
        records[2]
            .log_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn a_budget_of_n_calls_per_minute_refuses_call_n_plus_one() {
    let (_mock, control) = mock().await;
    let grant = Grant::builder()
        .scopes([Scope::UserInfoBasic])
        .read()
        .calls_per_minute(3)
        .build()
        .unwrap();
    let (granted, records) = granted(&control, grant).await;
    for _ in 0..3 {
        granted
            .call_tool("user_info", json!({"fields": ["open_id"]}))
            .await
            .unwrap();
    }
    let fourth = granted
        .call_tool("user_info", json!({"fields": ["open_id"]}))
        .await;
    assert!(
        matches!(
            fourth,
            Err(Error::Denied {
                reason: DenyReason::BudgetExhausted {
                    budget: Budget::CallsPerMinute,
                    limit: 3,
                    ..
                },
                ..
            })
        ),
        "{fourth:?}"
    );
    assert_eq!(control.calls_to("user_info").await.len(), 3);
    let decisions: Vec<Decision> = records.decisions().into_iter().map(|(_, d)| d).collect();
    assert_eq!(
        decisions,
        [
            Decision::Intent,
            Decision::Allowed,
            Decision::Intent,
            Decision::Allowed,
            Decision::Intent,
            Decision::Allowed,
            Decision::Denied
        ]
    );
}

#[tokio::test]
async fn tools_dispatch_by_name_and_refuse_unknown_tools_and_bad_arguments() {
    let (_mock, control) = mock().await;
    let (granted, records) = granted(&control, reader()).await;
    let me = granted
        .call_tool("user_info", json!({"fields": ["open_id", "display_name"]}))
        .await
        .unwrap();
    assert_eq!(me["user"]["open_id"], DEMO_OPEN_ID);
    let page = granted
        .call_tool(
            "video_list",
            json!({"fields": ["id", "title"], "max_count": 2}),
        )
        .await
        .unwrap();
    let videos = page["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2);
    assert!(videos[0]["id"].is_string());

    let unknown = granted.call_tool("delete_account", json!({})).await;
    assert!(
        matches!(&unknown, Err(Error::UnknownTool { name }) if name == "delete_account"),
        "{unknown:?}"
    );
    let bad = granted
        .call_tool(
            "video_list",
            json!({"fields": ["id"], "max_count": "twenty"}),
        )
        .await;
    match bad {
        Err(Error::InvalidArguments { tool, path, .. }) => {
            assert_eq!(tool, "video_list");
            assert_eq!(path, "/max_count");
        }
        other => panic!("expected invalid arguments, got {other:?}"),
    }
    let bad_field = granted
        .call_tool("user_info", json!({"fields": ["open_id", "password"]}))
        .await;
    assert!(
        matches!(&bad_field, Err(Error::InvalidArguments { path, .. }) if path == "/fields/1"),
        "{bad_field:?}"
    );
    assert_eq!(control.calls_to("video_list").await.len(), 1);
    assert_eq!(control.calls_to("user_info").await.len(), 1);
    assert_eq!(
        records.decisions(),
        [
            ("user_info".to_string(), Decision::Intent),
            ("user_info".to_string(), Decision::Allowed),
            ("video_list".to_string(), Decision::Intent),
            ("video_list".to_string(), Decision::Allowed),
            ("delete_account".to_string(), Decision::Invalid),
            ("video_list".to_string(), Decision::Invalid),
            ("user_info".to_string(), Decision::Invalid),
        ]
    );
}
