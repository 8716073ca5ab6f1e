//! The SQLite audit log of granted calls against the mock: one committed record per call,
//! allowed or refused, no token or secret anywhere in the file, every record there after
//! reopening, and a flipped byte found and named by `verify`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{DEMO_OPEN_ID, client, mock, user};
use serde_json::json;
use tiktok_agent::{Decision, Grant, GrantedClient, SqliteAuditLog};
use tiktok_api::{Scope, TokenStore};

/// Every byte of the log's files (the database, its WAL and shared memory).
fn file_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn every_call_is_one_committed_chained_record_without_secrets() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (_, client_secret) = control.app().await;
    let (user, store) = user(
        &client,
        &control,
        DEMO_OPEN_ID,
        &[
            "user.info.basic",
            "user.info.stats",
            "video.list",
            "video.publish",
        ],
        3600,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let log = SqliteAuditLog::open(&path).unwrap();
    let grant = Grant::builder()
        .scopes([Scope::UserInfoBasic, Scope::VideoList])
        .read()
        .calls_per_minute(3)
        .build()
        .unwrap();
    let granted = GrantedClient::new(user, grant, "reader").audit_to(Arc::new(log.clone()));

    let calls = [
        (
            "user_info",
            json!({"fields": ["open_id"]}),
            Decision::Allowed,
        ),
        (
            "user_info",
            json!({"fields": ["follower_count"]}),
            Decision::Denied,
        ),
        ("video_init", json!({}), Decision::Denied),
        (
            "video_list",
            json!({"fields": ["id"], "max_count": 2}),
            Decision::Allowed,
        ),
        ("nope", json!({}), Decision::Invalid),
        (
            "video_list",
            json!({"fields": ["id"], "max_count": "2"}),
            Decision::Invalid,
        ),
        (
            "video_query",
            json!({"fields": ["id"], "filters": {"video_ids": ["1"]}}),
            Decision::Allowed,
        ),
        (
            "user_info",
            json!({"fields": ["open_id"]}),
            Decision::Denied,
        ),
    ];
    let mut seen = 0;
    for (index, (tool, arguments, decision)) in calls.iter().enumerate() {
        let result = granted.call_tool(tool, arguments.clone()).await;
        assert_eq!(
            result.is_ok(),
            *decision == Decision::Allowed,
            "call {index} {tool}: {result:?}"
        );
        // Committed before the answer: the records are there as soon as the call returns;
        // a sent call's intent, kept before it was sent, comes first.
        let records = log.records().unwrap();
        let mut expected = vec![*decision];
        if *decision == Decision::Allowed {
            expected.insert(0, Decision::Intent);
        }
        assert_eq!(records.len(), seen + expected.len());
        for (record, decision) in records[seen..].iter().zip(expected) {
            assert_eq!(record.record.decision, decision, "call {index} {tool}");
            assert_eq!(record.record.endpoint, *tool);
            assert_eq!(record.record.agent, "reader");
        }
        seen = records.len();
    }
    assert_eq!(control.calls_to("user_info").await.len(), 1);
    assert_eq!(control.calls_to("video_init").await.len(), 0);
    assert_eq!(log.verify(), Ok(11));

    let token = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    use tiktok_api::secrecy::ExposeSecret;
    let bytes = file_bytes(dir.path());
    assert!(!contains(&bytes, token.access_token.expose_secret()));
    assert!(!contains(
        &bytes,
        token.refresh_token.unwrap().expose_secret()
    ));
    assert!(!contains(&bytes, &client_secret));
    assert!(!contains(&bytes, "act."), "no access token of any kind");
    assert!(contains(&bytes, "video_init"), "the log is readable");
}

/// A log with `count` records of refused calls (no mock needed: nothing is sent).
async fn log_with(path: &Path, count: usize) -> SqliteAuditLog {
    let log = SqliteAuditLog::open(path).unwrap();
    let client = tiktok_api::Client::builder()
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let granted = GrantedClient::new(
        client.user_with_access_token("act.never-sent"),
        Grant::builder().read().build().unwrap(),
        "nobody",
    )
    .audit_to(Arc::new(log.clone()));
    for _ in 0..count {
        assert!(granted.call_tool("video_init", json!({})).await.is_err());
    }
    log
}

#[tokio::test]
async fn reopening_the_file_finds_every_record_and_the_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let written = log_with(&path, 5).await.records().unwrap();
    assert_eq!(written.len(), 5);
    let reopened = SqliteAuditLog::open(&path).unwrap();
    assert_eq!(reopened.records().unwrap(), written);
    assert_eq!(reopened.verify(), Ok(5));
    // Appending after reopening continues the chain.
    let more = log_with(&path, 1).await;
    assert_eq!(more.verify(), Ok(6));
    let records = more.records().unwrap();
    assert_eq!(records[5].prev_hash, records[4].hash);
    assert_eq!(records[0].prev_hash, tiktok_agent::GENESIS_HASH);
    // The log and its WAL files are the owner's only.
    #[cfg(unix)]
    for name in ["audit.sqlite", "audit.sqlite-wal", "audit.sqlite-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[tokio::test]
async fn the_log_refuses_updates_and_verify_names_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let log = log_with(&path, 5).await;
    let raw = rusqlite::Connection::open(&path).unwrap();
    let update = "UPDATE audit SET entry = substr(entry, 1, 20) || char(unicode(substr(entry, 21, 1)) + 1) || substr(entry, 22) WHERE seq = 3";
    let refused = raw.execute(update, []);
    assert!(
        refused.unwrap_err().to_string().contains("append-only"),
        "the triggers keep the log append-only"
    );
    // Whoever can drop the trigger can change a record, but not unnoticed.
    raw.execute_batch("DROP TRIGGER audit_no_update").unwrap();
    assert_eq!(raw.execute(update, []).unwrap(), 1);
    let error = log.verify().unwrap_err();
    assert_eq!(error.seq, 3, "{error}");
    assert!(error.problem.contains("hashes to"), "{error}");

    // A changed hash column is found at its own record too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let log = log_with(&path, 4).await;
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET hash = replace(hash, substr(hash, 1, 1), 'x') WHERE seq = 2",
    )
    .unwrap();
    assert_eq!(log.verify().unwrap_err().seq, 2);
}
