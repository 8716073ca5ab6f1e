//! The tests of the shared state, each run on both backends: a SQLite file (the embedded
//! default) and a throwaway Postgres cluster (skipped, saying why, where Postgres is not
//! installed), by [`on_both_backends!`](crate::on_both_backends). Each test opens several
//! handles on one store, as several processes would.

use std::time::Duration;

use tiktok_api::endpoints::{INBOX_VIDEO_INIT, VIDEO_LIST};
use tiktok_api::meta::EndpointMeta;

use crate::audit::{AuditRecord, Decision};
use crate::audit_chain::ChainError;
use crate::audit_pg::PgAuditLog;
use crate::audit_sqlite::{AuditQuery, SqliteAuditLog, StoredRecord};
use crate::budget::{Budget, BudgetLimit, DAY, Exhausted};
use crate::pg_ledger::PgLedger;
use crate::sqlite_ledger::SqliteLedger;
use crate::state::StateFile;
use crate::testing::Backend;

impl Backend {
    /// A new ledger on the backend, as another process would open it.
    fn ledger(&self) -> Ledger {
        match self {
            Backend::Sqlite(_) => Ledger::Sqlite(
                SqliteLedger::new(StateFile::open(&self.sqlite_path("state.sqlite")).unwrap())
                    .unwrap(),
            ),
            Backend::Postgres(_) => Ledger::Postgres(PgLedger::new(self.database())),
        }
    }
}

crate::on_both_backends!(
    a_held_call_counts_once_and_is_checked_again_when_it_runs,
    concurrent_takes_through_two_handles_fill_the_budget_exactly,
    concurrent_appends_through_two_handles_make_one_unbroken_chain,
    verify_names_a_changed_record,
    verify_names_a_gap_in_the_numbers,
);

/// A ledger of either backend, with the time given.
#[derive(Clone)]
enum Ledger {
    Sqlite(SqliteLedger),
    Postgres(PgLedger),
}

impl Ledger {
    async fn take(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
        hold: Option<&str>,
    ) -> Result<(), Exhausted> {
        match self {
            Ledger::Sqlite(ledger) => ledger.take_at_now(agent, meta, limits, now_ms, hold),
            Ledger::Postgres(ledger) => ledger
                .take_at(agent, meta, limits, now_ms, hold)
                .await
                .unwrap(),
        }
    }

    async fn used(&self, agent: &str, limit: &BudgetLimit, now_ms: i64) -> u32 {
        match self {
            Ledger::Sqlite(ledger) => ledger.used(agent, limit, now_ms).await.unwrap(),
            Ledger::Postgres(ledger) => ledger.used(agent, limit, now_ms).await.unwrap(),
        }
    }
}

async fn a_held_call_counts_once_and_is_checked_again_when_it_runs(backend: Backend) {
    let ledger = backend.ledger();
    let limits = [
        BudgetLimit {
            budget: Budget::CallsPerMinute,
            limit: 2,
            window: Duration::from_secs(60),
        },
        BudgetLimit {
            budget: Budget::WritesPerDay,
            limit: 3,
            window: DAY,
        },
    ];
    let write = &INBOX_VIDEO_INIT;
    let now = 1_000_000_000;
    // Parked: taken (checked and counted).
    assert!(
        ledger
            .take("poster", write, &limits, now, Some("apv_a"))
            .await
            .is_ok()
    );
    assert!(
        ledger
            .take("poster", write, &limits, now, Some("apv_b"))
            .await
            .is_ok()
    );
    // A third parked write in the minute is refused: the parked two count.
    let refused = ledger
        .take("poster", write, &limits, now, Some("apv_c"))
        .await
        .unwrap_err();
    assert_eq!(refused.budget, Budget::CallsPerMinute);
    // Run at once after approval: its own parked take is not counted against it, and is
    // replaced rather than added to (still two uses in the minute).
    let run = ledger.take("poster", write, &limits, now + 1, Some("apv_a"));
    assert!(run.await.is_ok());
    let read = ledger.take("poster", &VIDEO_LIST, &limits[..1], now + 2, None);
    assert!(read.await.is_err());
    // What an operator is shown: two uses in the minute and in the day, none counted.
    assert_eq!(ledger.used("poster", &limits[0], now + 2).await, 2);
    assert_eq!(ledger.used("poster", &limits[1], now + 2).await, 2);
    assert_eq!(ledger.used("other", &limits[1], now + 2).await, 0);
    // Run later: checked again. A minute on, apv_b's take has left the minute's window and
    // two other calls fill it, so its run is refused.
    let later = now + 61_000;
    for _ in 0..2 {
        let read = ledger.take("poster", &VIDEO_LIST, &limits[..1], later, None);
        assert!(read.await.is_ok());
    }
    let refused = ledger
        .take("poster", write, &limits, later, Some("apv_b"))
        .await
        .unwrap_err();
    assert_eq!(refused.budget, Budget::CallsPerMinute);
    // The day's writes: apv_a and apv_b count once each, so one more fits, then none.
    let next = ledger.take("poster", write, &limits, now + 200_000, Some("apv_d"));
    assert!(next.await.is_ok());
    let refused = ledger
        .take("poster", write, &limits, now + 300_000, Some("apv_e"))
        .await
        .unwrap_err();
    assert_eq!(refused.budget, Budget::WritesPerDay);
}

async fn concurrent_takes_through_two_handles_fill_the_budget_exactly(backend: Backend) {
    let (one, two) = (backend.ledger(), backend.ledger());
    let per_minute = [BudgetLimit {
        budget: Budget::CallsPerMinute,
        limit: 7,
        window: Duration::from_secs(60),
    }];
    let now = 1_000_000_000;
    let takes: Vec<_> = (0..40)
        .map(|index| {
            let ledger = if index % 2 == 0 { &one } else { &two }.clone();
            tokio::spawn(async move {
                let taken = ledger.take("reader", &VIDEO_LIST, &per_minute, now, None);
                taken.await.is_ok()
            })
        })
        .collect();
    let mut taken = 0;
    for take in takes {
        taken += usize::from(take.await.unwrap());
    }
    assert_eq!(taken, 7);
    assert_eq!(one.used("reader", &per_minute[0], now).await, 7);
    let refused = one
        .take("reader", &VIDEO_LIST, &per_minute, now + 59_000, None)
        .await
        .unwrap_err();
    assert_eq!(refused.retry_after, Duration::from_secs(1));
    // Another agent, and the window moved on: room again.
    assert!(
        one.take("other", &VIDEO_LIST, &per_minute, now, None)
            .await
            .is_ok()
    );
    let moved_on = one.take("reader", &VIDEO_LIST, &per_minute, now + 60_000, None);
    assert!(moved_on.await.is_ok());
    // Writes per day count writes only.
    let daily = [BudgetLimit {
        budget: Budget::WritesPerDay,
        limit: 1,
        window: DAY,
    }];
    assert!(
        two.take("reader", &INBOX_VIDEO_INIT, &daily, now, None)
            .await
            .is_ok()
    );
    let second = two.take("reader", &INBOX_VIDEO_INIT, &daily, now + 1, None);
    assert!(second.await.is_err());
}

/// An audit log of either backend.
#[derive(Clone)]
enum Audit {
    Sqlite(SqliteAuditLog),
    Postgres(PgAuditLog),
}

impl Backend {
    /// A new handle on the store's audit log, as another process would open it.
    fn audit(&self) -> Audit {
        match self {
            Backend::Sqlite(_) => {
                Audit::Sqlite(SqliteAuditLog::open(self.sqlite_path("audit.sqlite")).unwrap())
            }
            Backend::Postgres(_) => Audit::Postgres(PgAuditLog::new(self.database())),
        }
    }
}

impl Audit {
    async fn append(&self, record: AuditRecord) -> u64 {
        match self {
            Audit::Sqlite(log) => {
                let log = log.clone();
                tokio::task::spawn_blocking(move || log.append(&record).unwrap())
                    .await
                    .unwrap()
            }
            Audit::Postgres(log) => log.append(&record).await.unwrap(),
        }
    }

    async fn query(&self, query: &AuditQuery) -> Vec<StoredRecord> {
        match self {
            Audit::Sqlite(log) => log.query(query).unwrap(),
            Audit::Postgres(log) => log.query(query).await.unwrap(),
        }
    }

    async fn verify(&self) -> Result<u64, ChainError> {
        match self {
            Audit::Sqlite(log) => log.verify(),
            Audit::Postgres(log) => log.verify().await,
        }
    }
}

/// A record of `agent`'s call number `index`, decided `decision`.
fn record(agent: &str, index: i64, decision: Decision) -> AuditRecord {
    let mut record = AuditRecord::event(
        agent,
        "open-id",
        "video_list",
        &serde_json::json!({"fields": ["id"]}),
        decision,
        None,
        None,
    );
    record.time_ms = 1_000_000 + index;
    record
}

/// Postgres's group commit: records handed to one handle while none is being committed go
/// into one transaction together, each call getting its own number once it is durable, and
/// a call dropped while it waits loses no record.
#[tokio::test]
async fn postgres_appends_handed_in_during_a_commit_share_the_next_transaction() {
    let Some(backend) = Backend::postgres(crate::Schema::AGENT).await else {
        return;
    };
    let log = PgAuditLog::new(backend.database());
    // On this one thread all 64 are handed in before the task that commits them runs.
    let appends = (0..64).map(|index| {
        let (log, record) = (log.clone(), record("reader", index, Decision::Allowed));
        async move { log.append(&record).await.unwrap() }
    });
    let numbers = futures::future::join_all(appends).await;
    assert_eq!(numbers, (1..=64).collect::<Vec<u64>>());
    assert_eq!(log.batches(), 1);
    assert_eq!(log.verify().await.unwrap(), 64);
    // A call dropped while another's record is being committed: its record is committed
    // all the same.
    let (first, second) = (
        record("reader", 99, Decision::Allowed),
        record("reader", 100, Decision::Allowed),
    );
    let mut committing = Box::pin(log.append(&first));
    let mut dropped = Box::pin(log.append(&second));
    assert!(futures::poll!(committing.as_mut()).is_pending());
    assert!(futures::poll!(dropped.as_mut()).is_pending());
    drop(dropped);
    assert_eq!(committing.await.unwrap(), 65);
    let mut count = 0;
    for _ in 0..500 {
        count = log.verify().await.unwrap();
        if count == 66 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(count, 66, "the dropped call's record was not committed");
    // Another handle (another process) goes on from the same chain.
    let other = PgAuditLog::new(backend.database());
    assert_eq!(
        other
            .append(&record("poster", 64, Decision::Allowed))
            .await
            .unwrap(),
        67
    );
    assert_eq!(log.verify().await.unwrap(), 67);
}

async fn concurrent_appends_through_two_handles_make_one_unbroken_chain(backend: Backend) {
    let (one, two) = (backend.audit(), backend.audit());
    let appends: Vec<_> = (0..60)
        .map(|index| {
            let log = if index % 2 == 0 { &one } else { &two }.clone();
            let agent = ["reader", "poster", "analyst"][index as usize % 3];
            let decision = if index % 4 == 0 {
                Decision::Denied
            } else {
                Decision::Allowed
            };
            tokio::spawn(async move { log.append(record(agent, index, decision)).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for append in appends {
        numbers.push(append.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=60).collect::<Vec<u64>>());
    assert_eq!(one.verify().await.unwrap(), 60);
    assert_eq!(two.verify().await.unwrap(), 60);
    let all = two.query(&AuditQuery::default()).await;
    let seqs: Vec<u64> = all.iter().map(|stored| stored.seq).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<u64>>());
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    // Filters select by agent and decision, and the last few come oldest first.
    let denied_readers = one
        .query(&AuditQuery {
            agent: Some("reader".into()),
            decision: Some(Decision::Denied),
            ..AuditQuery::default()
        })
        .await;
    assert_eq!(denied_readers.len(), 5);
    assert!(denied_readers.iter().all(
        |stored| stored.record.agent == "reader" && stored.record.decision == Decision::Denied
    ));
    let last = one
        .query(&AuditQuery {
            last: Some(3),
            after_seq: 10,
            ..AuditQuery::default()
        })
        .await;
    assert_eq!(
        last.iter().map(|stored| stored.seq).collect::<Vec<_>>(),
        [58, 59, 60]
    );
}

async fn verify_names_a_changed_record(backend: Backend) {
    let log = backend.audit();
    for index in 0..5 {
        log.append(record("reader", index, Decision::Allowed)).await;
    }
    assert_eq!(log.verify().await.unwrap(), 5);
    let change = "UPDATE audit SET entry = replace(entry, '1000003', '1000004') WHERE seq = 4";
    bypass_append_only(&backend, change).await;
    let broken = log.verify().await.unwrap_err();
    assert_eq!(broken.seq, 4, "{broken}");
    assert!(broken.problem.contains("hashes to"), "{broken}");
}

async fn verify_names_a_gap_in_the_numbers(backend: Backend) {
    let log = backend.audit();
    for index in 0..5 {
        log.append(record("reader", index, Decision::Allowed)).await;
    }
    bypass_append_only(&backend, "DELETE FROM audit WHERE seq = 3").await;
    let broken = log.verify().await.unwrap_err();
    assert_eq!(broken.seq, 4, "{broken}");
    assert_eq!(broken.problem, "sequence number 4 where 3 was expected");
}

/// Runs `change` on the store's audit table, which refuses it until its trigger is gone.
async fn bypass_append_only(backend: &Backend, change: &str) {
    match backend {
        Backend::Sqlite(_) => {
            let connection =
                rusqlite::Connection::open(backend.sqlite_path("audit.sqlite")).unwrap();
            // The log refuses the change until its trigger is dropped.
            assert!(connection.execute_batch(change).is_err());
            connection
                .execute_batch(&format!(
                    "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {change}"
                ))
                .unwrap();
        }
        Backend::Postgres(_) => {
            let database = backend.database();
            let client = database.client().await.unwrap();
            assert!(client.batch_execute(change).await.is_err());
            client
                .batch_execute(&format!(
                    "ALTER TABLE audit DISABLE TRIGGER audit_no_change; {change}"
                ))
                .await
                .unwrap();
        }
    }
}
