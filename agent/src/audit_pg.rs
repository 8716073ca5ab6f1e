//! The audit log in a shared Postgres database: one hash chain with contiguous sequence
//! numbers for every gateway process writing to it. Each transaction holds the log's
//! advisory lock while it reads the last record and inserts the next ones, so appends from
//! several processes queue instead of forking the chain. Within a process, appends are
//! committed in groups: the records handed in while a transaction is under way go into the
//! next one together (one commit, one sync), each call still waiting for its own record to
//! be durable. Records, entries and checks are those of [`crate::SqliteAuditLog`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::types::Value as SqlValue;
use tokio::sync::oneshot;
use tokio_postgres::types::ToSql;

use crate::audit::{AuditError, AuditRecord, AuditSink};
use crate::audit_chain::{ChainError, Row, Scratch, check_row};
use crate::audit_sqlite::{
    AuditQuery, GENESIS_HASH, StoredRecord, entry_text, select, sha256_hex, stored,
};
use crate::group_commit::{Batch, MAX_BATCH, Waiting};
use crate::postgres::{PgDatabase, PgError};

/// The advisory lock key every append holds.
const AUDIT_LOCK: i64 = 0x7469_6b74_6f6b_0002;

/// Records [`PgAuditLog::verify`] reads at a time.
const PAGE: i64 = 1024;

const COLUMNS: &str = "seq, time_ms, agent, endpoint, decision, entry, hash";

/// The append-only, hash-chained audit log in a Postgres database migrated by
/// [`PgDatabase::migrate`]. Cheap to clone (clones share their group commits).
#[derive(Debug, Clone)]
pub struct PgAuditLog {
    database: PgDatabase,
    group: Arc<Group>,
}

/// The appends of one process's handles to a log, committed in groups.
#[derive(Debug, Default)]
struct Group {
    queue: parking_lot::Mutex<Queue>,
    /// Transactions committed so far.
    batches: AtomicU64,
}

/// Records handed in and not yet taken into a transaction, in order, and whether a task
/// is committing them (one at a time per group).
#[derive(Debug, Default)]
struct Queue {
    waiting: Vec<Waiting>,
    flushing: bool,
}

impl From<tokio_postgres::Error> for AuditError {
    fn from(error: tokio_postgres::Error) -> AuditError {
        AuditError::Postgres(PgError::from(error))
    }
}

impl PgAuditLog {
    /// The log in `database`.
    pub fn new(database: PgDatabase) -> PgAuditLog {
        PgAuditLog {
            database,
            group: Arc::default(),
        }
    }

    /// Transactions this log's handles have committed (a batch of records each).
    pub fn batches(&self) -> u64 {
        self.group.batches.load(Ordering::Relaxed)
    }

    /// Its database.
    pub fn database(&self) -> &PgDatabase {
        &self.database
    }

    /// Appends `record` after the last one, whichever process wrote it, with whatever else
    /// this process hands in meanwhile; returns its sequence number once it is committed.
    /// The records are committed by a task of their own (started by the first record
    /// handed in while none runs), so a call dropped while it waits loses no record.
    pub async fn append(&self, record: &AuditRecord) -> Result<u64, AuditError> {
        let (done, committed) = oneshot::channel();
        let start = {
            let mut queue = self.group.queue.lock();
            queue.waiting.push(Waiting {
                record: record.clone(),
                done,
            });
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start {
            let log = self.clone();
            tokio::spawn(async move { log.flush().await });
        }
        committed.await.map_err(|_| AuditError::WriterStopped)?
    }

    /// Commits the waiting records, a batch at a time, until none is left.
    async fn flush(self) {
        // Should a commit panic, the records still waiting are failed, not left waiting
        // for a task that is gone.
        struct Stop<'a>(&'a Group);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                let mut queue = self.0.queue.lock();
                queue.flushing = false;
                queue.waiting.clear();
            }
        }
        let stop = Stop(&self.group);
        loop {
            let batch: Vec<Waiting> = {
                let mut queue = self.group.queue.lock();
                if queue.waiting.is_empty() {
                    queue.flushing = false;
                    std::mem::forget(stop);
                    return;
                }
                let taken = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..taken).collect()
            };
            self.commit(Batch::new(batch)).await;
        }
    }

    /// Appends `batch` in one transaction, or record by record when [`Batch::settle`] says
    /// so.
    async fn commit(&self, batch: Batch) {
        let appended = self.append_all(&batch.records).await;
        if let Some(batch) = batch.settle(appended) {
            for (record, done) in batch.records.iter().zip(batch.done) {
                let _ = done.send(self.append_all(std::slice::from_ref(record)).await);
            }
        }
    }

    /// Appends `records` after the last one in one transaction (one statement inserts
    /// them all); returns the last one's sequence number.
    async fn append_all(&self, records: &[AuditRecord]) -> Result<u64, AuditError> {
        let mut client = self.database.client().await?;
        // Each statement prepared once a connection, not once a call (a round trip each).
        let (lock, read_last, insert) = tokio::try_join!(
            client.prepare_cached("SELECT pg_advisory_xact_lock($1)"),
            client.prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"),
            client.prepare_cached(
                "INSERT INTO audit (seq, time_ms, agent, endpoint, decision, entry, hash)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[],
                                      $5::TEXT[], $6::TEXT[], $7::TEXT[])"
            ),
        )?;
        let transaction = client.transaction().await?;
        // Sent together (pipelined) and run in order: two statements, so the read's
        // snapshot is taken once the lock is held and sees the last holder's records.
        let ((), last) = tokio::try_join!(
            async {
                transaction.execute(&lock, &[&AUDIT_LOCK]).await?;
                Ok::<(), tokio_postgres::Error>(())
            },
            transaction.query_opt(&read_last, &[]),
        )?;
        let (mut seq, mut prev_hash) = match last {
            Some(row) => (row.get::<_, i64>(0), row.get::<_, String>(1)),
            None => (0, GENESIS_HASH.to_string()),
        };
        let mut columns = Columns::with_capacity(records.len());
        for record in records {
            seq += 1;
            let entry = entry_text(seq as u64, &prev_hash, record)?;
            let hash = sha256_hex(entry.as_bytes());
            columns.seq.push(seq);
            columns.time_ms.push(record.time_ms);
            columns.agent.push(&record.agent);
            columns.endpoint.push(&record.endpoint);
            columns.decision.push(record.decision.as_str());
            columns.entry.push(entry);
            prev_hash.clone_from(&hash);
            columns.hash.push(hash);
        }
        transaction
            .execute(
                &insert,
                &[
                    &columns.seq,
                    &columns.time_ms,
                    &columns.agent,
                    &columns.endpoint,
                    &columns.decision,
                    &columns.entry,
                    &columns.hash,
                ],
            )
            .await?;
        transaction.commit().await?;
        self.group.batches.fetch_add(1, Ordering::Relaxed);
        Ok(seq as u64)
    }

    /// The records `query` selects, oldest first, as stored (not verified).
    pub async fn query(&self, query: &AuditQuery) -> Result<Vec<StoredRecord>, AuditError> {
        let (sql, values) = select(query);
        let values: Vec<Box<dyn ToSql + Sync + Send>> = values
            .into_iter()
            .map(|value| -> Box<dyn ToSql + Sync + Send> {
                match value {
                    SqlValue::Integer(number) => Box::new(number),
                    SqlValue::Text(text) => Box::new(text),
                    other => unreachable!("an audit query has no {other:?}"),
                }
            })
            .collect();
        let parameters: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.database.client().await?;
        let rows = client.query(&numbered(&sql), &parameters).await?;
        let mut records = rows
            .iter()
            .map(|found| stored(&row(found)))
            .collect::<Result<Vec<_>, _>>()?;
        if query.last.is_some() {
            // The last N, read newest first: put back in order.
            records.reverse();
        }
        Ok(records)
    }

    /// Walks the chain from the first record, a page at a time; returns how many records
    /// there are, or the first bad one (a gap in the numbers included).
    pub async fn verify(&self) -> Result<u64, ChainError> {
        let unreadable = |error: AuditError| ChainError {
            seq: 0,
            problem: crate::error_chain(&error),
        };
        let client = self
            .database
            .client()
            .await
            .map_err(|error| unreadable(AuditError::from(error)))?;
        let statement = format!("SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2");
        let mut prev_hash = GENESIS_HASH.to_owned();
        let mut scratch = Scratch::default();
        let mut count = 0u64;
        loop {
            let rows = client
                .query(&statement, &[&(count as i64), &PAGE])
                .await
                .map_err(|error| unreadable(AuditError::from(error)))?;
            if rows.is_empty() {
                return Ok(count);
            }
            for found in &rows {
                let row = row(found);
                if row.seq != count + 1 {
                    return Err(ChainError {
                        seq: row.seq,
                        problem: format!(
                            "sequence number {} where {} was expected",
                            row.seq,
                            count + 1
                        ),
                    });
                }
                check_row(&row, &prev_hash, &mut scratch)?;
                count += 1;
                prev_hash = row.hash.to_owned();
            }
        }
    }
}

/// A batch's rows, column by column, as one `INSERT … SELECT * FROM UNNEST(…)` takes them.
struct Columns<'a> {
    seq: Vec<i64>,
    time_ms: Vec<i64>,
    agent: Vec<&'a str>,
    endpoint: Vec<&'a str>,
    decision: Vec<&'static str>,
    entry: Vec<String>,
    hash: Vec<String>,
}

impl Columns<'_> {
    fn with_capacity(rows: usize) -> Self {
        Columns {
            seq: Vec::with_capacity(rows),
            time_ms: Vec::with_capacity(rows),
            agent: Vec::with_capacity(rows),
            endpoint: Vec::with_capacity(rows),
            decision: Vec::with_capacity(rows),
            entry: Vec::with_capacity(rows),
            hash: Vec::with_capacity(rows),
        }
    }
}

/// `sql` with its `?` placeholders numbered as Postgres wants them (`$1`, `$2`, ...).
fn numbered(sql: &str) -> String {
    let mut parts = sql.split('?');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for (number, part) in (1..).zip(parts) {
        out.push_str(&format!("${number}{part}"));
    }
    out
}

fn row(row: &tokio_postgres::Row) -> Row<'_> {
    Row {
        seq: row.get::<_, i64>(0) as u64,
        time_ms: row.get(1),
        agent: row.get(2),
        endpoint: row.get(3),
        decision: row.get(4),
        entry: row.get(5),
        hash: row.get(6),
    }
}

#[async_trait::async_trait]
impl AuditSink for PgAuditLog {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.append(record).await.map(|_| ())
    }
}
