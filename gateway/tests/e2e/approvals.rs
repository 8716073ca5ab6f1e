//! Writes held for a human: parked, approved once, denied, every step audited, and the
//! hash chain that catches one flipped byte.

use std::path::Path;

use serde_json::{Value, json};

use crate::setup::{
    Setup, approval_id, assert_success, call, decisions, pull_upload, stdout, tool_error,
    tool_names,
};

#[tokio::test]
async fn a_posters_write_waits_runs_once_when_approved_and_the_chain_catches_a_flipped_byte() {
    let setup = Setup::new().await;
    let poster = setup.agent("poster").await;
    let tools = tool_names(&poster.list_all_tools().await.unwrap());
    assert!(tools.contains(&"inbox_video_init".to_string()), "{tools:?}");
    assert!(
        tools.contains(&"gateway_approval_status".to_string()),
        "{tools:?}"
    );
    assert!(!tools.contains(&"video_list".to_string()), "{tools:?}");

    let arguments = pull_upload();
    let held = call(&poster, "inbox_video_init", arguments.clone())
        .await
        .unwrap();
    // Held is not a failure: a normal result, the approval id and its deadline, and text
    // that says what to do.
    assert_eq!(held.is_error, Some(false), "{held:?}");
    let id = approval_id(&held);
    let text: String = held
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect();
    assert!(text.contains("gateway_approval_status"), "{text}");
    assert!(text.contains(&id), "{text}");
    assert!(text.contains("Do not call it again"), "{text}");
    assert!(
        !setup
            .mock_calls()
            .await
            .contains(&"inbox_video_init".into())
    );
    let listed = setup.run(&["approvals", "list"]).await;
    assert_success(&listed);
    assert!(stdout(&listed).contains(&id), "{}", stdout(&listed));

    let approved = setup
        .run(&["approvals", "approve", &id, "--by", "alice"])
        .await;
    assert_success(&approved);
    let result: Value = serde_json::from_str(stdout(&approved).trim()).unwrap();
    let publish_id = result["publish_id"].as_str().unwrap().to_string();
    let posts = setup.get("/_mock/posts").await.to_string();
    assert!(posts.contains(&publish_id), "{posts}");
    // Exactly once: a second approval is refused and nothing more is sent.
    let again = setup.run(&["approvals", "approve", &id]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not pending"));
    let sent = |calls: Vec<String>| calls.iter().filter(|c| *c == "inbox_video_init").count();
    assert_eq!(sent(setup.mock_calls().await), 1);

    let status = call(&poster, "gateway_approval_status", json!({"id": id}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["state"], "done");
    assert_eq!(status["decided_by"], "alice");
    assert_eq!(status["outcome"]["publish_id"], publish_id);

    // A denied write never runs.
    let held = call(&poster, "inbox_video_init", arguments).await.unwrap();
    let denied_id = approval_id(&held);
    assert_success(&setup.run(&["approvals", "deny", &denied_id]).await);
    let status = call(&poster, "gateway_approval_status", json!({"id": denied_id}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["state"], "denied");
    assert_eq!(sent(setup.mock_calls().await), 1);
    // Asking about an id that is not one of its approvals, or without an id.
    let forged = "apv_00000000000000000000000000000000";
    assert!(
        call(&poster, "gateway_approval_status", json!({"id": forged}))
            .await
            .unwrap()
            .is_error
            == Some(true)
    );
    assert!(
        call(&poster, "gateway_approval_status", json!({}))
            .await
            .unwrap()
            .is_error
            == Some(true)
    );
    poster.cancel().await.unwrap();

    let audit = setup.audit("poster").await;
    let status = "gateway_approval_status";
    assert_eq!(
        decisions(&audit),
        [
            ("parked".into(), "inbox_video_init".into()),
            ("approved".into(), "inbox_video_init".into()),
            ("intent".into(), "inbox_video_init".into()),
            ("allowed".into(), "inbox_video_init".into()),
            ("allowed".into(), status.into()),
            ("parked".into(), "inbox_video_init".into()),
            ("rejected".into(), "inbox_video_init".into()),
            ("allowed".into(), status.into()),
            ("denied".into(), status.into()),
            ("invalid".into(), status.into()),
        ]
    );
    assert!(audit[..5].iter().all(|record| record["approval"] == id));
    assert_eq!(audit[3]["status"], 200);
    // Each status ask names the approval it asked about, and what it found.
    assert_eq!(audit[4]["arguments"]["id"], id);
    assert_eq!(audit[4]["reason"], "state done");
    assert_eq!(audit[7]["arguments"]["id"], denied_id);
    assert_eq!(audit[8]["arguments"]["id"], forged);

    // Neither log holds a token or the app's secret.
    let files = [
        "audit.sqlite",
        "audit.sqlite-wal",
        "audit.approvals.sqlite",
        "audit.approvals.sqlite-wal",
    ];
    for name in files {
        let path = setup.dir.path().join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["act.", "rft.", "clt.", setup.secret.as_str()] {
            assert!(!text.contains(secret), "{name} holds {secret}");
        }
    }
    // Another agent's approval does not exist for this one.
    let thrifty = setup.agent("thrifty").await;
    assert!(
        call(&thrifty, "gateway_approval_status", json!({"id": id}))
            .await
            .is_err(),
        "thrifty has no approval tool at all"
    );
    thrifty.cancel().await.unwrap();

    let verified = setup.run(&["audit", "verify"]).await;
    assert_success(&verified);
    assert!(
        stdout(&verified).contains("intact"),
        "{}",
        stdout(&verified)
    );
    // One byte of one stored record changed behind the log's back.
    let target = audit[3]["seq"].as_u64().unwrap();
    flip_a_byte(&setup.dir.path().join("audit.sqlite"), target);
    let broken = setup.run(&["audit", "verify"]).await;
    assert!(!broken.status.success());
    assert!(
        stdout(&broken).contains(&format!("audit record {target}:")),
        "{}",
        stdout(&broken)
    );
}

/// Changes one character of record `seq`'s stored entry, as an intruder with the file would
/// (dropping the append-only trigger first).
fn flip_a_byte(path: &Path, seq: u64) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch("DROP TRIGGER audit_no_update;")
        .unwrap();
    let entry: String = connection
        .query_row("SELECT entry FROM audit WHERE seq = ?1", [seq], |row| {
            row.get(0)
        })
        .unwrap();
    let flipped = entry.replacen("\"status\":200", "\"status\":201", 1);
    assert_ne!(entry, flipped);
    connection
        .execute(
            "UPDATE audit SET entry = ?1 WHERE seq = ?2",
            rusqlite::params![flipped, seq],
        )
        .unwrap();
}

#[tokio::test]
async fn parked_writes_take_budgets_are_checked_again_when_run_and_are_capped_per_agent() {
    let setup = Setup::new().await;
    setup.add_agents(&[
        "hasty: {account: demo, scopes: [video.upload], access: [write], approval: writes, budgets: {calls_per_minute: 1}}",
        "daily: {account: demo, scopes: [video.upload], access: [write], approval: writes, budgets: {writes_per_day: 2}}",
        "eager: {account: demo, scopes: [video.upload], access: [write], approval: writes, max_pending_approvals: 2}",
    ]);
    let sent = |calls: Vec<String>| calls.iter().filter(|c| *c == "inbox_video_init").count();

    // calls_per_minute: 1 holds one write a minute, not ten.
    let hasty = setup.agent("hasty").await;
    let first = approval_id(
        &call(&hasty, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    for _ in 0..3 {
        let refused = tool_error(
            &call(&hasty, "inbox_video_init", pull_upload())
                .await
                .unwrap(),
        );
        assert!(
            refused.contains("budget calls_per_minute of 1 used up"),
            "{refused}"
        );
    }
    // Approved at once, it runs: its own take when parked is not counted twice.
    assert_success(&setup.run(&["approvals", "approve", &first]).await);
    assert_eq!(sent(setup.mock_calls().await), 1);
    hasty.cancel().await.unwrap();

    // writes_per_day: 2 holds two parked writes, not a hundred.
    let daily = setup.agent("daily").await;
    let one = approval_id(
        &call(&daily, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    let _two = approval_id(
        &call(&daily, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    let refused = tool_error(
        &call(&daily, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    assert!(
        refused.contains("budget writes_per_day of 2 used up"),
        "{refused}"
    );
    daily.cancel().await.unwrap();
    // Checked again when it runs: the operator lowers the budget to 1 a day; the other
    // parked write fills it, so this one is refused at approval and never sent.
    setup.edit_config(|text| text.replace("writes_per_day: 2", "writes_per_day: 1"));
    let approved = setup.run(&["approvals", "approve", &one]).await;
    assert!(!approved.status.success(), "{}", stdout(&approved));
    assert!(
        stdout(&approved).contains("budget writes_per_day of 1 used up"),
        "{}",
        stdout(&approved)
    );
    assert_eq!(sent(setup.mock_calls().await), 1);

    // At most max_pending_approvals wait at once; a decision makes room.
    let eager = setup.agent("eager").await;
    let waiting = approval_id(
        &call(&eager, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    approval_id(
        &call(&eager, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    let refused = tool_error(
        &call(&eager, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    assert!(refused.contains("max_pending_approvals"), "{refused}");
    assert_success(&setup.run(&["approvals", "deny", &waiting]).await);
    approval_id(
        &call(&eager, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    eager.cancel().await.unwrap();
    assert_eq!(sent(setup.mock_calls().await), 1);

    // Every refusal is audited.
    let hasty = decisions(&setup.audit("hasty").await);
    assert_eq!(
        hasty
            .iter()
            .filter(|(decision, _)| decision == "denied")
            .count(),
        3,
        "{hasty:?}"
    );
    let eager = setup.audit("eager").await;
    assert!(
        eager.iter().any(|record| record["decision"] == "denied"
            && record["reason"]
                .as_str()
                .unwrap()
                .contains("max_pending_approvals")),
        "{eager:?}"
    );
}

#[tokio::test]
async fn a_file_upload_is_refused_over_mcp_and_nothing_is_held_or_sent() {
    let setup = Setup::new().await;
    let poster = setup.agent("poster").await;
    let before = setup.mock_calls().await;
    for tool in ["inbox_video_init", "video_init"] {
        let mut arguments = json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}});
        if tool == "video_init" {
            arguments["post_info"] = json!({"title": "t", "privacy_level": "SELF_ONLY"});
        }
        let refused = tool_error(&call(&poster, tool, arguments).await.unwrap());
        assert!(refused.contains("gateway upload tool"), "{refused}");
        assert!(refused.contains("PULL_FROM_URL"), "{refused}");
    }
    poster.cancel().await.unwrap();
    assert_eq!(setup.mock_calls().await, before);
    let listed = setup.run(&["approvals", "list", "--all"]).await;
    assert_success(&listed);
    assert_eq!(stdout(&listed), "");
    let audit = decisions(&setup.audit("poster").await);
    assert_eq!(
        audit,
        [
            ("denied".into(), "inbox_video_init".into()),
            ("denied".into(), "video_init".into())
        ]
    );
}

#[tokio::test]
async fn a_write_not_decided_within_its_approval_ttl_expires_once_and_never_runs() {
    let setup = Setup::new().await;
    setup.add_agents(&[
        "hasty: {account: demo, scopes: [video.upload], access: [write], approval: writes, approval_ttl: 1s}",
    ]);
    let hasty = setup.agent("hasty").await;
    let held = call(&hasty, "inbox_video_init", pull_upload())
        .await
        .unwrap();
    let id = approval_id(&held);
    let expires_at = held.structured_content.as_ref().unwrap()["expires_at"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = humantime::parse_rfc3339(&expires_at).unwrap();
    // Past the deadline on the gateway's clock (the assertions are on state, not timing).
    if let Ok(wait) = deadline.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;
    }
    let approved = setup
        .run(&["approvals", "approve", &id, "--by", "alice"])
        .await;
    assert!(!approved.status.success());
    let stderr = String::from_utf8_lossy(&approved.stderr).into_owned();
    assert!(
        stderr.contains("expired") && stderr.contains("never run"),
        "{stderr}"
    );
    for _ in 0..2 {
        let status = call(&hasty, "gateway_approval_status", json!({"id": id}))
            .await
            .unwrap();
        assert_ne!(status.is_error, Some(true), "{status:?}");
        let status = status.structured_content.unwrap();
        assert_eq!(status["state"], "expired", "{status}");
        assert_eq!(status["expires_at"], expires_at.as_str());
    }
    let listed = setup.run(&["approvals", "list", "--all"]).await;
    assert!(
        stdout(&listed).contains(&format!("{id} expired")),
        "{}",
        stdout(&listed)
    );
    assert!(
        !setup
            .mock_calls()
            .await
            .contains(&"inbox_video_init".into())
    );
    hasty.cancel().await.unwrap();
    let audit = setup.audit("hasty").await;
    let expiries: Vec<&Value> = audit
        .iter()
        .filter(|record| {
            record["decision"] == "rejected"
                && record["reason"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("expired")
        })
        .collect();
    assert_eq!(expiries.len(), 1, "{audit:#?}");
    assert_eq!(expiries[0]["approval"], id);
    assert!(!audit.iter().any(|record| record["decision"] == "approved"));
}
