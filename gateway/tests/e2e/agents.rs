//! Agents at work: the reader reads and pages and is refused locally, the researcher
//! reaches the Research API, and over HTTP each agent is known by its key.

use rmcp::ServiceExt;
use rmcp::model::ErrorCode;
use rmcp::service::ServiceError;
use serde_json::{Value, json};

use crate::setup::{DEMO_CREATOR, Setup, call, decisions, tool_names};

const VIDEO_WITH_COMMENTS: i64 = 7300000000000000001;

#[tokio::test]
async fn a_reader_reads_and_pages_and_its_write_never_reaches_tiktok() {
    let setup = Setup::new().await;
    let reader = setup.agent("reader").await;

    let tools = reader.list_all_tools().await.unwrap();
    assert_eq!(
        tool_names(&tools),
        ["user_info", "video_list", "video_query", "list_all_videos"]
    );

    let profile = call(
        &reader,
        "user_info",
        json!({"fields": ["open_id", "display_name"]}),
    )
    .await
    .unwrap();
    assert_eq!(profile.is_error, Some(false), "{profile:?}");
    let profile = profile.structured_content.unwrap();
    assert_eq!(profile["user"]["open_id"], DEMO_CREATOR);
    assert_eq!(profile["user"]["display_name"], "Demo Creator");

    // Page the whole list through the gateway, and the same list straight from the mock.
    let mut through_gateway = Vec::new();
    let mut cursor: Option<Value> = None;
    loop {
        let mut arguments = json!({"fields": ["id", "title"], "max_count": 20});
        if let Some(cursor) = &cursor {
            arguments["cursor"] = cursor.clone();
        }
        let page = call(&reader, "video_list", arguments).await.unwrap();
        let page = page.structured_content.unwrap();
        for video in page["videos"].as_array().unwrap() {
            through_gateway.push(video["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] != true {
            break;
        }
        cursor = Some(page["cursor"].clone());
    }
    let token = setup
        .post(
            "/_mock/tokens",
            json!({"open_id": DEMO_CREATOR, "scopes": ["video.list"]}),
        )
        .await;
    let client = tiktok_api::Client::builder()
        .base_url(&setup.base)
        .build()
        .unwrap();
    let direct = client.user_with_access_token(token["access_token"].as_str().unwrap());
    let mut straight = Vec::new();
    use futures::TryStreamExt;
    let mut stream = Box::pin(direct.video_list_stream(
        &[tiktok_api::VideoField::Id],
        tiktok_api::VideoListRequest::default(),
        tiktok_api::PageOptions::default(),
    ));
    while let Some(video) = stream.try_next().await.unwrap() {
        straight.push(video.id.unwrap());
    }
    assert!(through_gateway.len() > 20, "{}", through_gateway.len());
    assert_eq!(through_gateway, straight);

    // Outside the grant: not a tool of this agent, refused before anything is sent.
    let before = setup.mock_calls().await;
    let refused = call(&reader, "video_init", json!({"post_info": {"title": "t", "privacy_level": "SELF_ONLY"}, "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}}))
        .await
        .unwrap_err();
    match refused {
        ServiceError::McpError(error) => {
            assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{error:?}");
            assert!(error.message.contains("unknown tool"), "{error:?}");
        }
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
    // A field whose scope the grant lacks: a tool error the model can read.
    let field = call(
        &reader,
        "user_info",
        json!({"fields": ["open_id", "follower_count"]}),
    )
    .await
    .unwrap();
    assert_eq!(field.is_error, Some(true));
    let text = field.structured_content.unwrap().to_string();
    assert!(text.contains("user.info.stats"), "{text}");
    // Arguments that break the schema name the path.
    let invalid = call(
        &reader,
        "video_list",
        json!({"fields": ["id"], "max_count": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(invalid.is_error, Some(true));
    assert_eq!(
        invalid.structured_content.unwrap()["invalid_argument"],
        "/max_count"
    );
    assert_eq!(setup.mock_calls().await, before, "nothing refused was sent");
    reader.cancel().await.unwrap();

    let audit = decisions(&setup.audit("reader").await);
    assert_eq!(audit[0], ("intent".into(), "user_info".into()));
    assert_eq!(audit[1], ("allowed".into(), "user_info".into()));
    let pages = audit
        .iter()
        .filter(|(decision, endpoint)| decision == "allowed" && endpoint == "video_list")
        .count();
    assert_eq!(pages, through_gateway.len().div_ceil(20));
    assert_eq!(
        audit[audit.len() - 3..],
        [
            ("denied".into(), "video_init".into()),
            ("denied".into(), "user_info".into()),
            ("invalid".into(), "video_list".into()),
        ]
    );
    let records = setup.audit("reader").await;
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains("act."), "no token in the audit log");
}

#[tokio::test]
async fn a_researcher_reaches_the_research_api_with_the_apps_client_token() {
    let setup = Setup::new().await;
    setup
        .post(
            "/_mock/comments",
            json!({"id": 9100000000000000001_i64, "video_id": VIDEO_WITH_COMMENTS, "text": "dm me at jane.doe@example.com or +1 415-555-0199"}),
        )
        .await;
    let researcher = setup.agent("researcher").await;
    assert_eq!(
        tool_names(&researcher.list_all_tools().await.unwrap()),
        ["research_comment_list"]
    );
    let mut texts = Vec::new();
    let mut cursor = 0;
    loop {
        let page = call(
            &researcher,
            "research_comment_list",
            json!({"fields": ["id", "text"], "video_id": VIDEO_WITH_COMMENTS, "max_count": 100, "cursor": cursor}),
        )
        .await
        .unwrap();
        assert_eq!(page.is_error, Some(false), "{page:?}");
        let page = page.structured_content.unwrap();
        for comment in page["comments"].as_array().unwrap() {
            texts.push(comment["text"].as_str().unwrap().to_string());
        }
        if page["has_more"] != true {
            break;
        }
        cursor = page["cursor"].as_i64().unwrap();
    }
    // TikTok (and the mock) mask personal data with `*` themselves; the gateway's own
    // masking, for an upstream that does not, is checked in tests/masking.rs.
    assert!(
        texts.iter().any(|text| text.starts_with("dm me at ")),
        "{texts:?}"
    );
    assert!(
        !texts
            .iter()
            .any(|text| text.contains("jane.doe") || text.contains("415")),
        "{texts:?}"
    );
    researcher.cancel().await.unwrap();
}

#[tokio::test]
async fn over_http_each_agent_is_known_by_its_own_key() {
    let setup = Setup::new().await;
    let mut server = setup
        .command(&["serve", "--http", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server's address");
            if let Some(at) = line.find("http://") {
                // Its stderr closes here, as some MCP clients do: the warnings it logs from
                // now on must not fail a request.
                break line[at..].trim().to_string();
            }
        }
    };
    // No key, a wrong key: 401 before any MCP.
    for key in [None, Some("tgk_wrong")] {
        let mut request = setup
            .http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    // A browser page on another origin is refused, key or not. (A GET: the server answers
    // 403 before reading a body, and a POST's body may still be on its way.)
    let from_a_page = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&setup.reader_key)
        .header("origin", "https://evil.example")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(from_a_page.status(), 403);
    let connect = |key: &str| {
        rmcp::transport::StreamableHttpClientTransport::from_config(
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                url.as_str(),
            )
            .auth_header(key.to_string()),
        )
    };
    let reader = ().serve(connect(&setup.reader_key)).await.unwrap();
    let poster = ().serve(connect(&setup.poster_key)).await.unwrap();
    assert_eq!(
        tool_names(&reader.list_all_tools().await.unwrap()),
        ["user_info", "video_list", "video_query", "list_all_videos"]
    );
    let poster_tools = tool_names(&poster.list_all_tools().await.unwrap());
    assert!(poster_tools.contains(&"inbox_video_init".to_string()));
    assert!(!poster_tools.contains(&"video_list".to_string()));
    let profile = call(&reader, "user_info", json!({"fields": ["display_name"]}))
        .await
        .unwrap();
    assert_eq!(
        profile.structured_content.unwrap()["user"]["display_name"],
        "Demo Creator"
    );
    // The poster's held write is its own: the reader cannot even name the status tool,
    // and asking for it as the poster works.
    let held = call(&poster, "inbox_video_init", crate::setup::pull_upload())
        .await
        .unwrap();
    let id = crate::setup::approval_id(&held);
    assert!(
        call(&reader, "gateway_approval_status", json!({"id": id}))
            .await
            .is_err()
    );
    let status = call(&poster, "gateway_approval_status", json!({"id": id}))
        .await
        .unwrap();
    assert_eq!(status.structured_content.unwrap()["state"], "pending");
    reader.cancel().await.unwrap();
    poster.cancel().await.unwrap();
    let _ = server.kill().await;
}

#[tokio::test]
async fn a_budget_holds_across_sessions_side_by_side_and_after_a_restart() {
    let setup = Setup::new().await;
    let user_info_calls = |calls: Vec<String>| calls.iter().filter(|c| *c == "user_info").count();
    let before = user_info_calls(setup.mock_calls().await);
    let arguments = json!({"fields": ["open_id"]});
    // Two sessions of one agent at once (two processes): one budget of 2 a minute.
    let (first, second) = tokio::join!(setup.agent("thrifty"), setup.agent("thrifty"));
    let (one, two, three) = tokio::join!(
        call(&first, "user_info", arguments.clone()),
        call(&second, "user_info", arguments.clone()),
        call(&first, "user_info", arguments.clone()),
    );
    let refused: Vec<String> = [one, two, three]
        .into_iter()
        .map(|answer| answer.unwrap())
        .filter(|answer| answer.is_error == Some(true))
        .map(|answer| answer.structured_content.unwrap().to_string())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("budget calls_per_minute of 2 used up"),
        "{refused:?}"
    );
    first.cancel().await.unwrap();
    second.cancel().await.unwrap();
    // A new session (a new process) counts the calls of the last minute too.
    let third = setup.agent("thrifty").await;
    let again = call(&third, "user_info", arguments).await.unwrap();
    assert_eq!(again.is_error, Some(true));
    third.cancel().await.unwrap();
    assert_eq!(user_info_calls(setup.mock_calls().await), before + 2);
}

#[tokio::test]
async fn an_answered_call_is_in_the_audit_log_even_if_the_gateway_is_killed() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let setup = Setup::new().await;
    // A client in any language: JSON-RPC lines on the gateway's stdin and stdout.
    let mut gateway = setup
        .command(&["serve", "--agent", "reader"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = gateway.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(gateway.stdout.take().unwrap()).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "user_info", "arguments": {"fields": ["open_id"]}}}),
    ];
    for message in messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let mut answered = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["id"] == 2 {
            assert_eq!(
                message["result"]["structuredContent"]["user"]["open_id"],
                DEMO_CREATOR
            );
            answered = true;
            break;
        }
    }
    assert!(answered);
    gateway.start_kill().unwrap(); // SIGKILL: no shutdown, no flush
    gateway.wait().await.unwrap();
    let records = setup.audit("reader").await;
    assert_eq!(
        decisions(&records),
        [
            ("intent".into(), "user_info".into()),
            ("allowed".into(), "user_info".into())
        ]
    );
    let verified = setup.run(&["audit", "verify"]).await;
    assert!(verified.status.success());
}

#[tokio::test]
async fn sigterm_mid_read_over_stdio_ends_the_gateway_and_the_read_is_on_record() {
    use tokio::io::AsyncWriteExt;
    // An upstream that receives the read and never answers: the read is at TikTok when the
    // signal comes.
    let (arrived, mut arrival) = tokio::sync::mpsc::channel::<()>(1);
    let upstream = axum::Router::new().route(
        "/v2/user/info/",
        axum::routing::get(move || {
            let arrived = arrived.clone();
            async move {
                let _ = arrived.send(()).await;
                std::future::pending::<()>().await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "\
tiktok: {{base_url: http://{address}, client_key: standin}}
accounts: {{demo: {{token_store: tokens.json}}}}
agents:
  reader: {{account: demo, scopes: [user.info.basic], access: [read]}}
audit: audit.sqlite
"
        ),
    )
    .unwrap();
    use tiktok_api::TokenStore;
    tiktok_api::FileTokenStore::new(dir.path().join("tokens.json"))
        .save(&tiktok_api::StoredToken {
            open_id: "-000standin".into(),
            access_token: "act.standin".to_string().into(),
            access_expires_at: i64::MAX / 2,
            refresh_token: None,
            refresh_expires_at: None,
            scope: "user.info.basic".into(),
        })
        .await
        .unwrap();
    let gateway_command = |args: &[&str]| {
        let mut command = tokio::process::Command::new(crate::setup::BIN);
        command
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("TIKTOK_CLIENT_SECRET", "secret");
        command
    };
    let mut gateway = gateway_command(&["serve", "--agent", "reader"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // stdin stays open: the MCP client is still there.
    let mut stdin = gateway.stdin.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "user_info", "arguments": {"fields": ["open_id"]}}}),
    ];
    for message in messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    arrival.recv().await.expect("the read reaches the upstream");
    let pid = gateway.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    // A bound only so that a regression fails rather than hangs.
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), gateway.wait())
        .await
        .expect("SIGTERM ends the gateway over stdio, its client still connected")
        .unwrap();
    assert!(status.success(), "{status:?}");
    drop(stdin);
    let output = gateway_command(&["audit", "query", "--json"])
        .output()
        .await
        .unwrap();
    let records: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        decisions(&records),
        [("intent".into(), "user_info".into())],
        "the read that reached TikTok is on record"
    );
}

#[tokio::test]
async fn debug_logs_are_redacted_and_third_party_content_is_marked() {
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    use tokio::io::AsyncReadExt;
    let setup = Setup::new().await;
    let command = tokio::process::Command::new(crate::setup::BIN).configure(|command| {
        command
            .args(["serve", "--agent", "poster", "--config"])
            .arg(setup.config())
            .env("TIKTOK_CLIENT_SECRET", &setup.secret)
            .env("TIKTOK_GATEWAY_LOG", "trace");
    });
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = stderr.unwrap();
    let poster = ().serve(transport).await.unwrap();

    // Reads say in their description, and in each result's _meta, that their text is
    // other people's; a write's answer (ids) is not marked.
    let tools = poster.list_all_tools().await.unwrap();
    let described = |name: &str| {
        tools
            .iter()
            .find(|tool| tool.name == name)
            .and_then(|tool| tool.description.as_deref())
            .unwrap_or_default()
            .to_string()
    };
    assert!(described("user_info").contains("Third-party content"));
    assert!(!described("inbox_video_init").contains("Third-party content"));
    let profile = call(
        &poster,
        "user_info",
        json!({"fields": ["open_id", "display_name"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        profile.meta.as_ref().unwrap().0["tiktok-gateway/third_party_content"],
        true
    );
    assert_eq!(
        profile.structured_content.unwrap()["user"]["display_name"],
        "Demo Creator"
    );
    let held = call(
        &poster,
        "inbox_video_init",
        json!({"source_info": {"source": "PULL_FROM_URL", "video_url": "https://sf16-va.tiktokcdn.com/obj/jane.doe@example.com.mp4"}}),
    )
    .await
    .unwrap();
    assert!(held.meta.is_none(), "{held:?}");
    poster.cancel().await.unwrap();

    let mut logged = String::new();
    stderr.read_to_string(&mut logged).await.unwrap();
    assert!(logged.contains("tool call"), "{logged}");
    assert!(logged.contains("[redacted: "), "{logged}");
    for private in ["Demo Creator", "jane.doe", "act.", setup.secret.as_str()] {
        assert!(
            !logged.contains(private),
            "the log holds {private:?}: {logged}"
        );
    }
}
