//! Held writes in MCP's own terms: a client that declares the tasks extension gets a held
//! write as a task (over stdio and over HTTP, where the server keeps each client's
//! session), polls it with `tasks/get` and withdraws it with `tasks/cancel`; a session
//! never acts as another agent.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    CreateTaskResult, GetTaskParams, TaskPayload, TaskStatus,
};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::setup::{Setup, assert_success, pull_upload};

/// A client that declares the tasks extension.
fn tasks_client() -> ClientConfig {
    let mut info = ClientConfig::default();
    info.capabilities = ClientCapabilities::builder().enable_tasks().build();
    info
}

/// A held `inbox_video_init` of `client`, answered as a task.
async fn held_task(client: &RunningService<RoleClient, ClientConfig>) -> CreateTaskResult {
    let Value::Object(arguments) = pull_upload() else {
        unreachable!()
    };
    let response = client
        .call_tool_once(CallToolRequestParams::new("inbox_video_init").with_arguments(arguments))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = response else {
        panic!("not a task: {response:?}")
    };
    created
}

/// A client that declares the tasks extension gets a held write as a task, polls it with
/// `tasks/get` and reads the call's result there once a human approved it.
#[tokio::test]
async fn a_client_that_declares_tasks_gets_a_held_write_as_a_task_it_polls() {
    let setup = Setup::new().await;
    let poster = setup.agent_with("poster", tasks_client()).await;
    let created = held_task(&poster).await;
    assert_eq!(created.task.status, TaskStatus::Working);
    let id = created.task.task_id.clone();
    assert!(id.starts_with("apv_"), "{id}");
    assert!(
        created
            .task
            .status_message
            .as_deref()
            .is_some_and(|message| message.contains("approval")),
        "{created:?}"
    );
    let polled = poster
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(polled.task.status(), TaskStatus::Working);
    // One task, one creation time, whichever answer tells it.
    assert_eq!(polled.task.task.created_at, created.task.created_at);

    let approved = setup
        .run(&["approvals", "approve", &id, "--by", "alice"])
        .await;
    assert_success(&approved);
    let polled = poster
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(polled.task.status(), TaskStatus::Completed);
    let TaskPayload::Completed { result } = &polled.task.payload else {
        panic!("{polled:?}")
    };
    assert_ne!(
        result.get("isError"),
        Some(&Value::Bool(true)),
        "{result:?}"
    );
    assert!(
        result["structuredContent"]["publish_id"].is_string(),
        "{result:?}"
    );
    // Another id is no task of this agent's.
    assert!(
        poster
            .get_task(GetTaskParams::new("apv_00000000000000000000000000000000"))
            .await
            .is_err()
    );
    poster.cancel().await.unwrap();
}

/// Over HTTP as over stdio: the server keeps each client's session (its declared
/// capabilities), so a client that declared tasks gets a held write as a task; every
/// request is still authenticated by its own key.
#[tokio::test]
async fn over_http_a_client_that_declares_tasks_gets_a_held_write_as_a_task() {
    let setup = Setup::new().await;
    let (_server, mcp) = setup.serve_http().await;
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            mcp.as_str(),
        )
        .auth_header(setup.poster_key.clone()),
    );
    let poster = tasks_client().serve(transport).await.unwrap();
    let created = held_task(&poster).await;
    let id = created.task.task_id.clone();
    let polled = poster
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(polled.task.status(), TaskStatus::Working);
    assert_success(&setup.run(&["approvals", "approve", &id]).await);
    let polled = poster.get_task(GetTaskParams::new(id)).await.unwrap();
    assert_eq!(polled.task.status(), TaskStatus::Completed);
    poster.cancel().await.unwrap();
}

/// A session belongs to the agent that opened it: another agent's key with it is refused.
#[tokio::test]
async fn over_http_a_session_is_used_only_with_the_key_that_opened_it() {
    let setup = Setup::new().await;
    let (_server, mcp) = setup.serve_http().await;
    let post = |key: &str, session: Option<&str>, body: Value| {
        let mut request = setup
            .http
            .post(&mcp)
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };
    let initialized = post(
        &setup.reader_key,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await
    .unwrap();
    assert!(initialized.status().is_success(), "{initialized:?}");
    let session = initialized.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    drop(initialized.text().await);
    let sent = post(
        &setup.reader_key,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await
    .unwrap();
    assert!(sent.status().is_success(), "{sent:?}");
    let tools = |key: String| {
        let session = session.clone();
        let post = &post;
        async move {
            let answer = post(
                &key,
                Some(&session),
                json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            )
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
            let data = answer
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .find(|data| data.contains("\"id\":2"))
                .map_or(answer.clone(), str::to_string);
            let value: Value = serde_json::from_str(data.trim()).unwrap();
            value["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|tool| tool["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let as_reader = tools(setup.reader_key.clone()).await;
    assert!(
        !as_reader.contains(&"inbox_video_init".to_string()),
        "{as_reader:?}"
    );
    // The poster's key with the reader's session: refused as an unknown session, so nothing
    // of the reader's session (its stream, its notifications) reaches the poster.
    let refused = post(
        &setup.poster_key,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 404);
    // Its own session works.
    let own = post(
        &setup.poster_key,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await
    .unwrap();
    assert!(own.status().is_success());
    assert!(own.headers().contains_key("mcp-session-id"));
}

/// `tasks/cancel` withdraws the agent's own held write: denied by the agent, audited, never
/// sent, and no human can approve it afterwards.
#[tokio::test]
async fn cancelling_a_held_writes_task_withdraws_it() {
    let setup = Setup::new().await;
    let poster = setup.agent_with("poster", tasks_client()).await;
    let created = held_task(&poster).await;
    let id = created.task.task_id.clone();
    poster
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap();
    let polled = poster
        .get_task(GetTaskParams::new(id.clone()))
        .await
        .unwrap();
    assert_eq!(polled.task.status(), TaskStatus::Completed);
    let TaskPayload::Completed { result } = &polled.task.payload else {
        panic!("{polled:?}")
    };
    assert_eq!(
        result.get("isError"),
        Some(&Value::Bool(true)),
        "{result:?}"
    );
    // Once only, and not another agent's (nor an unknown) task.
    assert!(
        poster
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .is_err()
    );
    assert!(
        poster
            .cancel_task(CancelTaskParams::new(
                "apv_00000000000000000000000000000000"
            ))
            .await
            .is_err()
    );
    let approved = setup.run(&["approvals", "approve", &id]).await;
    assert!(!approved.status.success());
    assert!(
        !setup
            .mock_calls()
            .await
            .contains(&"inbox_video_init".to_string())
    );
    poster.cancel().await.unwrap();
    let audit = setup.audit("poster").await;
    let rejected = audit
        .iter()
        .find(|record| record["decision"] == "rejected")
        .expect("the withdrawal is audited");
    assert!(
        rejected["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("withdrawn by the agent poster")),
        "{rejected}"
    );
}
