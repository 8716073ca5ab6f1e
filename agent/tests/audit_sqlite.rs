//! The SQLite audit log of granted calls against the mock: one committed record per call,
//! allowed or refused, no token or secret anywhere in the file, every record there after
//! reopening, and a flipped byte found and named by `verify`; many records appended at
//! once chained as one by one, queries by each filter, and a log from before an index.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{DEMO_OPEN_ID, client, mock, user};
use serde_json::json;
use tiktok_agent::{AuditQuery, AuditRecord, Decision, Grant, GrantedClient, SqliteAuditLog};
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

/// A record of `agent` calling `endpoint` at `time_ms`, decided `decision`.
fn record(agent: &str, endpoint: &str, decision: Decision, time_ms: i64) -> AuditRecord {
    let mut record = AuditRecord::event(
        agent,
        DEMO_OPEN_ID,
        endpoint,
        &json!({"fields": ["open_id"]}),
        decision,
        None,
        None,
    );
    record.time_ms = time_ms;
    record
}

fn some_records() -> Vec<AuditRecord> {
    let mut records = Vec::new();
    for index in 0..30i64 {
        let agent = ["reader", "poster", "analyst"][index as usize % 3];
        let endpoint = ["user_info", "video_list"][index as usize % 2];
        let decision = [Decision::Allowed, Decision::Denied, Decision::Intent]
            [index as usize % 3 / 2 + index as usize % 2];
        records.push(record(agent, endpoint, decision, 1_000_000 + index * 1_000));
    }
    records
}

#[test]
fn appending_many_at_once_writes_the_rows_and_chain_one_by_one_would() {
    let dir = tempfile::tempdir().unwrap();
    let records = some_records();
    let one_by_one = SqliteAuditLog::open(dir.path().join("one.sqlite")).unwrap();
    for (index, record) in records.iter().enumerate() {
        assert_eq!(one_by_one.append(record).unwrap(), index as u64 + 1);
    }
    let batched = SqliteAuditLog::open(dir.path().join("batched.sqlite")).unwrap();
    assert_eq!(batched.append_all(&[]).unwrap(), 0, "nothing yet");
    assert_eq!(batched.append_all(&records[..10]).unwrap(), 10);
    assert_eq!(batched.append_all(&records[10..]).unwrap(), 30);
    assert_eq!(
        batched.append_all(&[]).unwrap(),
        30,
        "the last one's number"
    );
    assert_eq!(batched.records().unwrap(), one_by_one.records().unwrap());
    assert_eq!(batched.verify(), Ok(30));
    // The stored rows themselves, column by column.
    let rows = |name: &str| -> Vec<(i64, i64, String, String, String, String, String)> {
        let raw = rusqlite::Connection::open(dir.path().join(name)).unwrap();
        let mut statement = raw
            .prepare("SELECT seq, time_ms, agent, endpoint, decision, entry, hash FROM audit ORDER BY seq")
            .unwrap();
        statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(rows("batched.sqlite"), rows("one.sqlite"));
}

#[test]
fn queries_select_by_agent_time_decision_endpoint_and_the_last_few() {
    let dir = tempfile::tempdir().unwrap();
    let log = SqliteAuditLog::open(dir.path().join("audit.sqlite")).unwrap();
    let records = some_records();
    log.append_all(&records).unwrap();
    let seqs = |query: AuditQuery| -> Vec<u64> {
        log.query(&query)
            .unwrap()
            .iter()
            .map(|stored| stored.seq)
            .collect()
    };
    let expected = |keep: &dyn Fn(u64, &AuditRecord) -> bool| -> Vec<u64> {
        (1..)
            .zip(&records)
            .filter(|(seq, record)| keep(*seq, record))
            .map(|(seq, _)| seq)
            .collect()
    };
    assert_eq!(seqs(AuditQuery::default()), expected(&|_, _| true));
    let since = 1_000_000 + 17 * 1_000;
    assert_eq!(
        seqs(AuditQuery {
            agent: Some("poster".into()),
            since_ms: Some(since),
            ..AuditQuery::default()
        }),
        expected(&|_, record| record.agent == "poster" && record.time_ms >= since)
    );
    assert_eq!(
        seqs(AuditQuery {
            since_ms: Some(since),
            decision: Some(Decision::Denied),
            endpoint: Some("video_list".into()),
            ..AuditQuery::default()
        }),
        expected(&|_, record| {
            record.time_ms >= since
                && record.decision == Decision::Denied
                && record.endpoint == "video_list"
        })
    );
    assert_eq!(
        seqs(AuditQuery {
            agent: Some("reader".into()),
            last: Some(3),
            ..AuditQuery::default()
        }),
        vec![22, 25, 28],
        "the last three of reader's, oldest first"
    );
    assert_eq!(
        seqs(AuditQuery {
            after_seq: 27,
            ..AuditQuery::default()
        }),
        vec![28, 29, 30]
    );
    assert_eq!(
        seqs(AuditQuery {
            agent: Some("nobody".into()),
            ..AuditQuery::default()
        }),
        Vec::<u64>::new()
    );
    // Records stream to a callback in the same order, and its error stops the walk.
    let mut seen = Vec::new();
    let stopped = log.for_each(&AuditQuery::default(), |stored| {
        seen.push(stored.seq);
        if stored.seq == 4 {
            return Err(tiktok_agent::AuditError::Sink("enough".into()));
        }
        Ok(())
    });
    assert!(matches!(stopped, Err(tiktok_agent::AuditError::Sink(_))));
    assert_eq!(seen, vec![1, 2, 3, 4]);
}

#[test]
fn a_log_written_before_the_time_index_opens_and_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let log = SqliteAuditLog::open(&path).unwrap();
    log.append_all(&some_records()).unwrap();
    let written = log.records().unwrap();
    drop(log);
    // As the log was before `audit_time`: its schema had only the (agent, time) index.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("DROP INDEX audit_time").unwrap();
    drop(raw);
    let reopened = SqliteAuditLog::open(&path).unwrap();
    assert_eq!(reopened.records().unwrap(), written);
    assert_eq!(reopened.verify(), Ok(30));
    let raw = rusqlite::Connection::open(&path).unwrap();
    let indexes: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(indexes, ["audit_agent_time", "audit_time"]);
    let since = reopened
        .query(&AuditQuery {
            since_ms: Some(1_000_000 + 28 * 1_000),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(since.len(), 2);
    reopened
        .append(&record("reader", "user_info", Decision::Allowed, 2_000_000))
        .unwrap();
    assert_eq!(reopened.verify(), Ok(31));
}

#[test]
fn verify_names_the_first_bad_record_of_a_long_log() {
    // Longer than the batches verify checks in parallel, so a bad record lies past the
    // first ones and the answer must still be the lowest bad number.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let log = SqliteAuditLog::open(&path).unwrap();
    let many: Vec<AuditRecord> = (0..3_500)
        .map(|index| record("reader", "user_info", Decision::Allowed, index))
        .collect();
    log.append_all(&many).unwrap();
    assert_eq!(log.verify(), Ok(3_500));
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete")
        .unwrap();
    let flip = "UPDATE audit SET entry = replace(entry, '\"reader\"', '\"readex\"') WHERE seq = ?1";
    raw.execute(flip, [3_100]).unwrap();
    assert_eq!(log.verify().unwrap_err().seq, 3_100);
    raw.execute(flip, [2_050]).unwrap();
    assert_eq!(log.verify().unwrap_err().seq, 2_050);
    raw.execute("DELETE FROM audit WHERE seq = 1500", [])
        .unwrap();
    let error = log.verify().unwrap_err();
    assert_eq!(error.seq, 1_501, "{error}");
    assert!(error.problem.contains("1500 was expected"), "{error}");
    raw.execute(flip, [7]).unwrap();
    assert_eq!(log.verify().unwrap_err().seq, 7);
}
