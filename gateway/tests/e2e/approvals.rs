//! Writes held for a human: parked, approved once, denied, every step audited, and the
//! hash chain that catches one flipped byte.

use std::path::Path;

use serde_json::{Value, json};

use crate::setup::{Setup, assert_success, call, decisions, stdout, tool_names};

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

    let arguments = json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}});
    let held = call(&poster, "inbox_video_init", arguments.clone())
        .await
        .unwrap();
    assert_eq!(held.is_error, Some(true));
    let id = held.structured_content.unwrap()["pending_approval"]
        .as_str()
        .unwrap()
        .to_string();
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
    let denied_id = held.structured_content.unwrap()["pending_approval"]
        .as_str()
        .unwrap()
        .to_string();
    assert_success(&setup.run(&["approvals", "deny", &denied_id]).await);
    let status = call(&poster, "gateway_approval_status", json!({"id": denied_id}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["state"], "denied");
    assert_eq!(sent(setup.mock_calls().await), 1);
    poster.cancel().await.unwrap();

    let audit = setup.audit("poster").await;
    assert_eq!(
        decisions(&audit),
        [
            ("parked".into(), "inbox_video_init".into()),
            ("approved".into(), "inbox_video_init".into()),
            ("intent".into(), "inbox_video_init".into()),
            ("allowed".into(), "inbox_video_init".into()),
            ("parked".into(), "inbox_video_init".into()),
            ("rejected".into(), "inbox_video_init".into()),
        ]
    );
    assert!(audit[..4].iter().all(|record| record["approval"] == id));
    assert_eq!(audit[3]["status"], 200);

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
