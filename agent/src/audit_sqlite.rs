//! The append-only SQLite audit log (feature `audit-sqlite`): WAL mode, each record
//! committed before the call's answer is returned (the records of concurrent calls
//! committed together: [`crate::group_commit`]), and hash-chained: every entry holds the
//! SHA-256 of the entry before it, so [`SqliteAuditLog::verify`] finds the first record
//! changed, removed or inserted after the fact.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use parking_lot::Mutex;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::audit::{AuditError, AuditRecord, AuditSink, Decision};
use crate::audit_chain::{BATCH, Batch, CHECKERS, ChainError, Row, check_batches};
use crate::group_commit::{AppendAll, GroupCommit};

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    agent TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    decision TEXT NOT NULL,
    entry TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_agent_time ON audit (agent, time_ms);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time_ms);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// A record as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Its sequence number (the first is 1).
    pub seq: u64,
    /// The hash of the record before it ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// The SHA-256 of its canonical entry, hex.
    pub hash: String,
    /// The record.
    pub record: AuditRecord,
}

/// An append-only, hash-chained audit log in one SQLite file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    connection: Arc<Mutex<Connection>>,
    group: Arc<GroupCommit>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    // As `hex::encode` writes it (lower case), without its iterator of chars.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

impl SqliteAuditLog {
    /// Opens (or creates, owner-only) the log at `path`, in WAL mode with full sync. SQLite
    /// gives its `-wal` and `-shm` files the database file's permissions. A log written
    /// before an index was added gets it here, once (3.5 s for a million records on a busy
    /// 2-core machine).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        // Several processes may append (a gateway and its approvals command): the
        // connection waits for each other's short transactions instead of failing.
        let connection = crate::state::open_sqlite(path.as_ref())?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteAuditLog {
            connection: Arc::new(Mutex::new(connection)),
            group: Arc::default(),
        })
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.connection.lock()
    }

    /// Appends `record` after the last one and commits; returns its sequence number.
    pub fn append(&self, record: &AuditRecord) -> Result<u64, AuditError> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends `records` in their order after the last one, in one transaction, and commits;
    /// returns the sequence number of the last record in the log. The rows and the chain
    /// are exactly those [`SqliteAuditLog::append`] called on each in turn would write: one
    /// commit (one sync) for many records, and none of them kept unless all are.
    pub fn append_all(&self, records: &[AuditRecord]) -> Result<u64, AuditError> {
        self.connection.append_all(records)
    }

    /// Every record, oldest first, as stored (not verified: see [`SqliteAuditLog::verify`]).
    pub fn records(&self) -> Result<Vec<StoredRecord>, AuditError> {
        self.query(&AuditQuery::default())
    }

    /// The records `query` selects, oldest first, as stored (not verified).
    pub fn query(&self, query: &AuditQuery) -> Result<Vec<StoredRecord>, AuditError> {
        let mut records = Vec::new();
        self.for_each(query, |record| {
            records.push(record);
            Ok::<_, AuditError>(())
        })?;
        Ok(records)
    }

    /// Hands each record `query` selects to `each`, oldest first, as stored (not verified),
    /// as it is read: without `last`, however many there are, none is held after `each`
    /// has it. Stops at the first error `each` returns. The log's connection is held
    /// meanwhile (appends through this handle wait).
    pub fn for_each<E: From<AuditError>>(
        &self,
        query: &AuditQuery,
        mut each: impl FnMut(StoredRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let (sql, values) = select(query);
        let connection = self.lock();
        let mut statement = connection.prepare(&sql).map_err(AuditError::from)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(values))
            .map_err(AuditError::from)?;
        if query.last.is_some() {
            // The last N, read newest first: put back in order before they go out.
            let mut last = Vec::new();
            while let Some(found) = rows.next().map_err(AuditError::from)? {
                last.push(stored(&borrowed_row(found).map_err(AuditError::from)?)?);
            }
            drop(rows);
            drop(statement);
            drop(connection);
            for found in last.into_iter().rev() {
                each(found)?;
            }
            return Ok(());
        }
        while let Some(found) = rows.next().map_err(AuditError::from)? {
            each(stored(&borrowed_row(found).map_err(AuditError::from)?)?)?;
        }
        Ok(())
    }

    /// Walks the chain from the first record; returns how many records there are, or the
    /// first bad one (records before it are intact, those after it are suspect). This
    /// thread reads the records in batches and two others check them in turn (hash,
    /// canonical form, link to the one before, columns), so that a second core can share
    /// the checking; a few batches at most are held at once.
    pub fn verify(&self) -> Result<u64, ChainError> {
        std::thread::scope(|scope| {
            let mut senders = Vec::new();
            let mut checkers = Vec::new();
            for _ in 0..CHECKERS {
                let (sender, receiver) = std::sync::mpsc::sync_channel::<Batch>(2);
                senders.push(sender);
                checkers.push(scope.spawn(move || check_batches(receiver)));
            }
            let read = self.read_batches(&senders);
            drop(senders);
            // The first bad record is the one with the lowest number any side found.
            let mut first: Option<ChainError> = None;
            let mut keep = |error: ChainError| {
                if first.as_ref().is_none_or(|first| error.seq < first.seq) {
                    first = Some(error);
                }
            };
            for checker in checkers {
                match checker.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => keep(error),
                    Err(_) => keep(ChainError {
                        seq: 0,
                        problem: "a checking thread stopped".into(),
                    }),
                }
            }
            let count = read.unwrap_or_else(|error| {
                keep(error);
                0
            });
            match first {
                Some(error) => Err(error),
                None => Ok(count),
            }
        })
    }

    /// Reads the records in order and sends them in batches to `checkers` in turn, each
    /// batch with the hash of the record before it; checks their numbers. Returns how
    /// many there are (or as many as were read when a checker stopped at a bad one).
    fn read_batches(&self, checkers: &[SyncSender<Batch>]) -> Result<u64, ChainError> {
        let unreadable = |error: rusqlite::Error| ChainError {
            seq: 0,
            problem: crate::error_chain(&AuditError::from(error)),
        };
        let connection = self.lock();
        let mut statement = connection
            .prepare(
                "SELECT seq, time_ms, agent, endpoint, decision, entry, hash FROM audit ORDER BY seq",
            )
            .map_err(unreadable)?;
        let mut rows = statement.query([]).map_err(unreadable)?;
        let mut count = 0u64;
        let mut turn = 0;
        let mut send = |batch: Batch| {
            turn += 1;
            checkers[turn % checkers.len()].send(batch).is_ok()
        };
        let mut batch = Batch::after(GENESIS_HASH);
        while let Some(found) = rows.next().map_err(unreadable)? {
            let row = borrowed_row(found).map_err(unreadable)?;
            if row.seq != count + 1 {
                let error = ChainError {
                    seq: row.seq,
                    problem: format!(
                        "sequence number {} where {} was expected",
                        row.seq,
                        count + 1
                    ),
                };
                // The records before it are checked first: one of them may be bad too.
                send(batch);
                return Err(error);
            }
            count += 1;
            batch.push(&row);
            if batch.len() == BATCH {
                let next = Batch::after(row.hash);
                if !send(std::mem::replace(&mut batch, next)) {
                    // A checker found a bad record and stopped: that is the answer.
                    return Ok(count);
                }
            }
        }
        send(batch);
        Ok(count)
    }
}

/// The statement for `query` and its values: only the filters it has, so that SQLite can
/// use an index (`agent, time_ms` or `time_ms`) for them, and the sequence for the rest.
pub(crate) fn select(query: &AuditQuery) -> (String, Vec<SqlValue>) {
    let mut sql = String::from(
        "SELECT seq, time_ms, agent, endpoint, decision, entry, hash FROM audit WHERE seq > ?",
    );
    let mut values = vec![SqlValue::Integer(
        i64::try_from(query.after_seq).unwrap_or(i64::MAX),
    )];
    if let Some(agent) = &query.agent {
        sql.push_str(" AND agent = ?");
        values.push(SqlValue::Text(agent.clone()));
    }
    if let Some(since_ms) = query.since_ms {
        sql.push_str(" AND time_ms >= ?");
        values.push(SqlValue::Integer(since_ms));
    }
    if let Some(decision) = query.decision {
        sql.push_str(" AND decision = ?");
        values.push(SqlValue::Text(decision.as_str().to_owned()));
    }
    if let Some(endpoint) = &query.endpoint {
        sql.push_str(" AND endpoint = ?");
        values.push(SqlValue::Text(endpoint.clone()));
    }
    match query.last {
        Some(last) => {
            sql.push_str(" ORDER BY seq DESC LIMIT ?");
            values.push(SqlValue::Integer(i64::try_from(last).unwrap_or(i64::MAX)));
        }
        None => sql.push_str(" ORDER BY seq"),
    }
    (sql, values)
}

/// A row as a record with its place in the chain.
pub(crate) fn stored(row: &Row<'_>) -> Result<StoredRecord, AuditError> {
    let entry: Value = serde_json::from_str(row.entry).map_err(|error| AuditError::Corrupt {
        seq: row.seq,
        problem: error.to_string(),
    })?;
    let (prev_hash, record) = split_entry(entry).map_err(|problem| AuditError::Corrupt {
        seq: row.seq,
        problem,
    })?;
    Ok(StoredRecord {
        seq: row.seq,
        prev_hash,
        hash: row.hash.to_owned(),
        record,
    })
}

/// A row of `SELECT seq, time_ms, agent, endpoint, decision, entry, hash`, its text
/// borrowed from SQLite's (valid until the next step).
fn borrowed_row<'a>(row: &'a rusqlite::Row<'_>) -> rusqlite::Result<Row<'a>> {
    let text = |index: usize| -> rusqlite::Result<&'a str> {
        row.get_ref(index)?.as_str().map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(error),
            )
        })
    };
    Ok(Row {
        seq: row.get(0)?,
        time_ms: row.get(1)?,
        agent: text(2)?,
        endpoint: text(3)?,
        decision: text(4)?,
        entry: text(5)?,
        hash: text(6)?,
    })
}

/// Which records [`SqliteAuditLog::query`] returns; the default is all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only those decided at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Only those with this decision.
    pub decision: Option<Decision>,
    /// Only calls of this endpoint.
    pub endpoint: Option<String>,
    /// Only those after this sequence number.
    pub after_seq: u64,
    /// Only the last this many of those selected.
    pub last: Option<usize>,
}

/// The canonical entry: the record's fields with `seq` and `prev_hash`, keys sorted, as
/// [`canonical_json`] writes the record's JSON object with those two added; written field by
/// field (no `serde_json::Value` of the record between).
pub(crate) fn entry_text(
    seq: u64,
    prev_hash: &str,
    record: &AuditRecord,
) -> Result<String, AuditError> {
    fn put<T: serde::Serialize + ?Sized>(
        out: &mut Vec<u8>,
        key: &str,
        value: &T,
    ) -> serde_json::Result<()> {
        out.push(if out.is_empty() { b'{' } else { b',' });
        // The keys are field names: plain ASCII, nothing to escape.
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        serde_json::to_writer(&mut *out, value)
    }
    let mut out = Vec::with_capacity(512);
    let written = (|| {
        // In the keys' order.
        put(&mut out, "access", &record.access)?;
        put(&mut out, "agent", &record.agent)?;
        if let Some(approval) = &record.approval {
            put(&mut out, "approval", approval)?;
        }
        out.extend_from_slice(b",\"arguments\":");
        crate::audit::write_canonical(&record.arguments, &mut out);
        put(&mut out, "decision", &record.decision)?;
        put(&mut out, "endpoint", &record.endpoint)?;
        put(&mut out, "latency_ms", &record.latency_ms)?;
        put(&mut out, "log_id", &record.log_id)?;
        put(&mut out, "open_id", &record.open_id)?;
        put(&mut out, "prev_hash", prev_hash)?;
        put(&mut out, "reason", &record.reason)?;
        put(&mut out, "scopes", &record.scopes)?;
        put(&mut out, "seq", &seq)?;
        put(&mut out, "status", &record.status)?;
        put(&mut out, "time_ms", &record.time_ms)
    })();
    written.map_err(|error| AuditError::Corrupt {
        seq,
        problem: error.to_string(),
    })?;
    out.push(b'}');
    // serde_json writes UTF-8 only: the lossy path is never taken.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
}

fn split_entry(mut entry: Value) -> Result<(String, AuditRecord), String> {
    let object = entry
        .as_object_mut()
        .ok_or_else(|| "entry is not an object".to_string())?;
    object.remove("seq");
    let prev_hash = match object.remove("prev_hash") {
        Some(Value::String(hash)) => hash,
        _ => return Err("entry has no prev_hash".into()),
    };
    let record = serde_json::from_value(entry).map_err(|error| format!("entry: {error}"))?;
    Ok((prev_hash, record))
}

/// The one way records are appended: the connection's transaction, the chain continued.
impl AppendAll for Mutex<Connection> {
    fn append_all(&self, records: &[AuditRecord]) -> Result<u64, AuditError> {
        let connection = self.lock();
        // Every statement prepared once per connection and kept (the transaction's own
        // too): parsing them again was a good part of a batch's cost.
        let transaction = Immediate::begin(&connection)?;
        let last: Option<(u64, String)> = connection
            .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let (mut seq, mut prev_hash) = match last {
            Some((seq, hash)) => (seq, hash),
            None => (0, GENESIS_HASH.to_string()),
        };
        {
            let mut insert = connection.prepare_cached(
                "INSERT INTO audit (seq, time_ms, agent, endpoint, decision, entry, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for record in records {
                seq += 1;
                let entry = entry_text(seq, &prev_hash, record)?;
                let hash = sha256_hex(entry.as_bytes());
                insert.execute(params![
                    seq,
                    record.time_ms,
                    record.agent,
                    record.endpoint,
                    record.decision.as_str(),
                    entry,
                    hash
                ])?;
                prev_hash = hash;
            }
        }
        transaction.commit()?;
        Ok(seq)
    }
}

/// A `BEGIN IMMEDIATE` transaction on a connection, with cached statements; rolled back
/// when dropped uncommitted (an error, a failed commit, a panic), as rusqlite's own
/// `Transaction` is.
struct Immediate<'c> {
    connection: &'c Connection,
    committed: bool,
}

impl<'c> Immediate<'c> {
    fn begin(connection: &'c Connection) -> rusqlite::Result<Immediate<'c>> {
        connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Immediate {
            connection,
            committed: false,
        })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        self.connection.prepare_cached("COMMIT")?.execute([])?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        if !self.committed && !self.connection.is_autocommit() {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }
}

#[async_trait::async_trait]
impl AuditSink for SqliteAuditLog {
    /// Commits the record with the others handed in meanwhile (group commit: one sync per
    /// batch), and returns once it is durable.
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.group
            .append(&self.connection, record.clone())
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn record(n: usize) -> AuditRecord {
        AuditRecord::event(
            "agent",
            "open",
            "user_info",
            &serde_json::json!({"fields": ["open_id"]}),
            Decision::Allowed,
            Some(format!("call {n}")),
            None,
        )
    }

    #[tokio::test]
    async fn records_handed_in_during_a_commit_share_the_next_one_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteAuditLog::open(dir.path().join("audit.sqlite")).unwrap();
        let records: Vec<AuditRecord> = (0..64).map(record).collect();
        // The connection held, as by a long commit: every record queues behind it.
        let held = log.lock();
        let mut calls = Box::pin(futures::future::join_all(
            records.iter().map(|r| AuditSink::record(&log, r)),
        ));
        assert!(
            (&mut calls).now_or_never().is_none(),
            "nothing commits while held"
        );
        drop(held);
        for result in calls.await {
            result.unwrap();
        }
        let batches = log.group.batches();
        assert!(
            (1..=2).contains(&batches),
            "64 records in {batches} transactions"
        );
        let stored = log.records().unwrap();
        assert_eq!(stored.len(), 64);
        for (n, stored) in stored.iter().enumerate() {
            assert_eq!(stored.seq, n as u64 + 1);
            assert_eq!(stored.record, records[n]);
        }
        assert_eq!(log.verify(), Ok(64));
    }

    #[tokio::test]
    async fn a_record_is_readable_as_soon_as_its_call_returns() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteAuditLog::open(dir.path().join("audit.sqlite")).unwrap();
        for n in 0..5 {
            AuditSink::record(&log, &record(n)).await.unwrap();
            // Another handle on the file, as another process: the record is committed.
            let other = SqliteAuditLog::open(dir.path().join("audit.sqlite")).unwrap();
            assert_eq!(other.records().unwrap().len(), n + 1);
        }
    }

    #[test]
    fn an_entry_is_the_records_json_object_with_its_place_in_canonical_form() {
        let mut odd = record(1);
        odd.approval = Some("apr_\"quoted\"".into());
        odd.reason = Some("nl\n tab\t nul\u{0} é 🎉 \u{2028}".into());
        odd.status = Some(429);
        odd.log_id = Some("L".into());
        odd.time_ms = -5;
        odd.latency_ms = u64::MAX;
        odd.access = None;
        odd.arguments = serde_json::json!({"z": [{"b": 1, "a": null}], "a": "x\"y", "m": 1.5});
        for record in [record(0), odd] {
            // What the log wrote before: the record's JSON value, the two fields added,
            // every object's keys sorted.
            let mut value = serde_json::to_value(&record).unwrap();
            value["seq"] = 42.into();
            value["prev_hash"] = GENESIS_HASH.into();
            let expected = crate::audit::canonical_json(&value);
            assert_eq!(entry_text(42, GENESIS_HASH, &record).unwrap(), expected);
            assert_eq!(
                sha256_hex(expected.as_bytes()),
                hex::encode(Sha256::digest(expected.as_bytes()))
            );
        }
    }
}
