//! Jobs that finish what an agent set out to do: a poster agent posts a 30 MB file from its
//! uploads folder after one approval (chunked upload, status polled to the end), a file
//! outside the folder never leaves it, and a reader walks every page of its videos.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, NumberOrString, ProgressNotificationParam, ProgressToken,
    RequestParamsMeta,
};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use std::sync::Mutex;
use tiktok_mock::testing::eventually;

use crate::setup::{Setup, approval_id, assert_success, call, stdout, tool_error, tool_names};

/// 30 MB: several chunks of the spec's chunk plan.
const SIZE: usize = 30 * 1024 * 1024;

/// An agent `uploader` (writes wait for a human) and `direct` (they do not), both posting
/// from `uploads/`, which holds `clip.mp4` (30 MB); the mock finishes processing at once.
async fn setup() -> Setup {
    let setup = Setup::new().await;
    let uploads = setup.dir.path().join("uploads");
    std::fs::create_dir(&uploads).unwrap();
    let bytes: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::write(uploads.join("clip.mp4"), bytes).unwrap();
    setup.add_agents(&[
        "uploader: {account: demo, scopes: [user.info.basic, video.publish, video.upload], access: [read, write], approval: writes, uploads_dir: uploads}",
        "direct: {account: demo, scopes: [user.info.basic, video.publish, video.upload], access: [read, write], uploads_dir: uploads}",
    ]);
    setup
        .post("/_mock/posting", json!({"processing_ms": 0}))
        .await;
    setup
}

fn decisions(records: &[Value], tool: &str) -> Vec<String> {
    records
        .iter()
        .filter(|record| record["endpoint"] == tool)
        .map(|record| record["decision"].as_str().unwrap().to_string())
        .collect()
}

/// The mock's post `publish_id`.
async fn post(setup: &Setup, publish_id: &str) -> Value {
    let posts = setup.get("/_mock/posts").await;
    posts["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|post| post["publish_id"] == publish_id)
        .cloned()
        .unwrap_or_else(|| panic!("no post {publish_id}: {posts}"))
}

#[tokio::test]
async fn a_poster_posts_a_30_mb_file_from_its_uploads_folder_after_one_approval() {
    let setup = setup().await;
    let agent = setup.agent("uploader").await;
    let tools = tool_names(&agent.list_all_tools().await.unwrap());
    for job in ["post_video", "post_photos"] {
        assert!(tools.contains(&job.to_string()), "{tools:?}");
    }
    // Not granted video.list: no list job.
    assert!(!tools.contains(&"list_all_videos".to_string()), "{tools:?}");

    let held = call(
        &agent,
        "post_video",
        json!({"file": "clip.mp4", "title": "made by an agent #bot", "privacy_level": "SELF_ONLY"}),
    )
    .await
    .unwrap();
    let id = approval_id(&held);
    // Nothing sent yet; the human sees what will be posted: file, size, hash, title, privacy.
    let calls = setup.mock_calls().await;
    assert!(!calls.iter().any(|call| call.contains("init")), "{calls:?}");
    let listed = setup.run(&["approvals", "list"]).await;
    assert_success(&listed);
    let listed = stdout(&listed);
    for shown in [
        "clip.mp4",
        &SIZE.to_string(),
        "made by an agent #bot",
        "SELF_ONLY",
    ] {
        assert!(listed.contains(shown), "{shown} not in {listed}");
    }

    let approved = setup
        .run(&["approvals", "approve", &id, "--by", "alice"])
        .await;
    assert_success(&approved);
    let result: Value = serde_json::from_str(stdout(&approved).trim()).unwrap();
    assert_eq!(result["status"]["status"], "PUBLISH_COMPLETE", "{result}");
    assert_eq!(result["failed"], false);
    let publish_id = result["publish_id"].as_str().unwrap();
    let posted = post(&setup, publish_id).await;
    assert_eq!(posted["video_size"], SIZE, "{posted}");
    assert_eq!(posted["status"]["uploaded_bytes"], SIZE, "{posted}");
    assert!(posted["chunks_received"].as_u64().unwrap() > 1, "{posted}");
    let calls = setup.mock_calls().await;
    assert_eq!(
        calls.iter().filter(|call| *call == "video_init").count(),
        1,
        "{calls:?}"
    );
    assert!(calls.contains(&"creator_info".to_string()), "{calls:?}");

    let status = call(&agent, "gateway_approval_status", json!({"id": id}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["outcome"]["publish_id"], publish_id);
    agent.cancel().await.unwrap();

    let audit = setup.audit("uploader").await;
    assert_eq!(
        decisions(&audit, "post_video"),
        ["parked", "approved", "intent", "allowed"]
    );
}

#[tokio::test]
async fn an_inbox_draft_ends_in_the_inbox_and_a_file_changed_after_approval_is_not_sent() {
    let setup = setup().await;
    let agent = setup.agent("uploader").await;
    let held = call(
        &agent,
        "post_video",
        json!({"file": "clip.mp4", "inbox": true}),
    )
    .await
    .unwrap();
    let approved = setup
        .run(&["approvals", "approve", &approval_id(&held)])
        .await;
    assert_success(&approved);
    let result: Value = serde_json::from_str(stdout(&approved).trim()).unwrap();
    assert_eq!(result["status"]["status"], "SEND_TO_USER_INBOX", "{result}");

    // Approved as it was; changed since: refused, nothing sent.
    let held = call(
        &agent,
        "post_video",
        json!({"file": "clip.mp4", "inbox": true}),
    )
    .await
    .unwrap();
    let id = approval_id(&held);
    let sent_before = setup.mock_calls().await.len();
    std::fs::write(setup.dir.path().join("uploads/clip.mp4"), b"something else").unwrap();
    let approved = setup.run(&["approvals", "approve", &id]).await;
    assert!(!approved.status.success());
    let stderr = String::from_utf8_lossy(&approved.stderr);
    assert!(stderr.contains("changed since it was checked"), "{stderr}");
    assert_eq!(setup.mock_calls().await.len(), sent_before);
    agent.cancel().await.unwrap();
}

#[tokio::test]
async fn files_outside_the_uploads_folder_or_not_regular_are_refused_before_anything_is_held_or_sent()
 {
    let setup = setup().await;
    let dir = setup.dir.path();
    std::fs::write(dir.join("secret.txt"), b"the operator's").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("uploads/out.mp4")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("uploads/zero.mp4")).unwrap();
    let fifo = dir.join("uploads/pipe.mp4");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(dir.join("uploads/folder.mp4")).unwrap();
    std::fs::write(dir.join("uploads/empty.mp4"), b"").unwrap();
    let absolute = dir.join("secret.txt");
    let agent = setup.agent("uploader").await;
    let calls_before = setup.mock_calls().await;
    for (file, expected) in [
        (absolute.to_str().unwrap(), "absolute"),
        ("../secret.txt", "`..`"),
        ("out.mp4", "outside the uploads folder"),
        ("zero.mp4", "outside the uploads folder"),
        ("pipe.mp4", "not a regular file"),
        ("folder.mp4", "not a regular file"),
        ("missing.mp4", "cannot be read"),
        ("empty.mp4", "cannot be uploaded"),
    ] {
        let result = call(
            &agent,
            "post_video",
            json!({"file": file, "privacy_level": "SELF_ONLY"}),
        )
        .await
        .unwrap();
        let error = tool_error(&result);
        assert!(error.contains(expected), "{file}: {error}");
        assert!(!error.contains("the operator's"), "{error}");
    }
    assert_eq!(setup.mock_calls().await, calls_before);
    let listed = setup.run(&["approvals", "list"]).await;
    assert_success(&listed);
    assert!(!stdout(&listed).contains("apv_"), "{}", stdout(&listed));
    // Each refusal audited as invalid, none parked.
    let audit = setup.audit("uploader").await;
    assert_eq!(decisions(&audit, "post_video"), vec!["invalid"; 8]);
    agent.cancel().await.unwrap();
}

/// An MCP client that keeps the progress notifications it gets.
#[derive(Clone, Default)]
struct Progress(Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for Progress {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0.lock().unwrap().push(params);
    }
}

#[tokio::test]
async fn a_job_that_runs_at_once_reports_progress_to_a_client_that_asked() {
    let setup = setup().await;
    let progress = Progress::default();
    let client = setup.agent_with("direct", progress.clone()).await;
    let Value::Object(arguments) = json!({"file": "clip.mp4", "privacy_level": "SELF_ONLY"}) else {
        unreachable!()
    };
    let mut request = CallToolRequestParams::new("post_video").with_arguments(arguments);
    request.set_progress_token(ProgressToken(NumberOrString::Number(1)));
    let result = client.call_tool(request).await.unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let content = result.structured_content.unwrap();
    assert_eq!(content["status"]["status"], "PUBLISH_COMPLETE", "{content}");
    let reports = eventually(|| {
        let reports = progress.0.lock().unwrap().clone();
        async move {
            reports
                .iter()
                .any(|report| report.message.as_deref() == Some("done"))
                .then_some(reports)
        }
    })
    .await;
    let tokens: Vec<&ProgressToken> = reports
        .iter()
        .map(|report| &report.progress_token)
        .collect();
    // Every report carries the one token the call went out with (rmcp's client numbers
    // them itself).
    assert!(tokens.iter().all(|token| *token == tokens[0]), "{tokens:?}");
    let bytes: Vec<f64> = reports.iter().map(|report| report.progress).collect();
    assert!(bytes.windows(2).all(|pair| pair[0] <= pair[1]), "{bytes:?}");
    assert_eq!(bytes.last().copied(), Some(SIZE as f64));
    assert!(
        reports
            .iter()
            .filter(|report| report
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("uploaded chunk")))
            .count()
            > 1
    );
    client.cancel().await.unwrap();
    let audit = setup.audit("direct").await;
    assert_eq!(decisions(&audit, "post_video"), ["intent", "allowed"]);
}

#[tokio::test]
async fn a_reader_lists_every_page_up_to_its_cap_each_page_audited() {
    let setup = setup().await;
    let reader = setup.agent("reader").await;
    let tools = tool_names(&reader.list_all_tools().await.unwrap());
    assert!(tools.contains(&"list_all_videos".to_string()), "{tools:?}");
    assert!(!tools.contains(&"post_video".to_string()), "{tools:?}");
    let all = call(
        &reader,
        "list_all_videos",
        json!({"fields": ["id", "title"], "max_videos": 1000}),
    )
    .await
    .unwrap();
    let all = all.structured_content.unwrap();
    let total = all["videos"].as_array().unwrap().len();
    assert!(total > 1, "{all}");
    assert_eq!(all["has_more"], false);
    let capped = call(
        &reader,
        "list_all_videos",
        json!({"fields": ["id"], "max_videos": total - 1}),
    )
    .await
    .unwrap();
    let capped = capped.structured_content.unwrap();
    assert_eq!(
        capped["videos"].as_array().unwrap().len(),
        total - 1,
        "{capped}"
    );
    assert_eq!(capped["has_more"], true, "{capped}");
    assert!(capped["cursor"].is_number(), "{capped}");
    // The same videos, newest first, in both.
    assert_eq!(all["videos"][0]["id"], capped["videos"][0]["id"]);
    let bad = call(
        &reader,
        "list_all_videos",
        json!({"fields": ["id"], "max_videos": 0}),
    )
    .await
    .unwrap();
    assert!(tool_error(&bad).contains("max_videos"));
    reader.cancel().await.unwrap();
    let audit = setup.audit("reader").await;
    let pages = (all["pages"].as_u64().unwrap() + capped["pages"].as_u64().unwrap()) as usize;
    assert_eq!(
        decisions(&audit, "video_list")
            .iter()
            .filter(|d| *d == "allowed")
            .count(),
        pages
    );
    assert_eq!(decisions(&audit, "list_all_videos"), ["invalid"]);
}

#[tokio::test]
async fn a_file_too_large_or_a_url_on_an_unverified_domain_is_a_clear_tool_error() {
    let setup = setup().await;
    // Larger than any chunk plan allows (sparse: nothing is written, nothing is read).
    let max = tiktok_api::ChunkRules::strict().max_video_size();
    let huge = std::fs::File::create(setup.dir.path().join("uploads/huge.mp4")).unwrap();
    huge.set_len(max + 1).unwrap();
    let agent = setup.agent("direct").await;
    let calls_before = setup.mock_calls().await;
    let result = call(
        &agent,
        "post_video",
        json!({"file": "huge.mp4", "privacy_level": "SELF_ONLY"}),
    )
    .await
    .unwrap();
    let error = tool_error(&result);
    assert!(error.contains("a video may have"), "{error}");
    assert_eq!(setup.mock_calls().await, calls_before);

    // TikTok pulls only from domains verified for the app: its refusal comes back whole.
    let result = call(
        &agent,
        "post_video",
        json!({"url": "https://unverified.example/clip.mp4", "privacy_level": "SELF_ONLY"}),
    )
    .await
    .unwrap();
    let error = tool_error(&result);
    assert!(error.contains("url_ownership_unverified"), "{error}");
    agent.cancel().await.unwrap();
    let audit = setup.audit("direct").await;
    assert_eq!(
        decisions(&audit, "post_video"),
        ["invalid", "intent", "allowed"]
    );
}
