//! The append-only SQLite audit log (feature `audit-sqlite`): WAL mode, each record
//! committed before the call's answer is returned, and hash-chained: every entry holds the
//! SHA-256 of the entry before it, so [`SqliteAuditLog::verify`] finds the first record
//! changed, removed or inserted after the fact.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::audit::{AuditError, AuditRecord, AuditSink, Decision, canonical_json};

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
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// The first record of the chain that is not what was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq}: {problem}")]
pub struct ChainError {
    /// The record's sequence number (the first is 1).
    pub seq: u64,
    /// What is wrong with it.
    pub problem: String,
}

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
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl SqliteAuditLog {
    /// Opens (or creates, owner-only) the log at `path`, in WAL mode with full sync. SQLite
    /// gives its `-wal` and `-shm` files the database file's permissions.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        // Several processes may append (a gateway and its approvals command): the
        // connection waits for each other's short transactions instead of failing.
        let connection = crate::state::open_sqlite(path.as_ref())?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteAuditLog {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Connection> {
        self.connection.lock()
    }

    /// Appends `record` after the last one and commits; returns its sequence number.
    pub fn append(&self, record: &AuditRecord) -> Result<u64, AuditError> {
        let mut connection = self.lock();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<(u64, String)> = transaction
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_HASH.to_string()),
        };
        let entry = entry_text(seq, &prev_hash, record)?;
        let hash = sha256_hex(entry.as_bytes());
        transaction.execute(
            "INSERT INTO audit (seq, time_ms, agent, endpoint, decision, entry, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                seq,
                record.time_ms,
                record.agent,
                record.endpoint,
                record.decision.as_str(),
                entry,
                hash
            ],
        )?;
        transaction.commit()?;
        Ok(seq)
    }

    /// Every record, oldest first, as stored (not verified: see [`SqliteAuditLog::verify`]).
    pub fn records(&self) -> Result<Vec<StoredRecord>, AuditError> {
        self.query(&AuditQuery::default())
    }

    /// The records `query` selects, oldest first, as stored (not verified).
    pub fn query(&self, query: &AuditQuery) -> Result<Vec<StoredRecord>, AuditError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT seq, time_ms, agent, endpoint, decision, entry, hash FROM audit
                 WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR time_ms >= ?2)
                   AND (?3 IS NULL OR decision = ?3) AND (?4 IS NULL OR endpoint = ?4)
                   AND seq > ?5
                 ORDER BY seq DESC LIMIT ?6",
        )?;
        let limit = query.last.map_or(-1, |last| last as i64);
        let rows = statement.query_map(
            params![
                query.agent,
                query.since_ms,
                query.decision.map(Decision::as_str),
                query.endpoint,
                query.after_seq,
                limit
            ],
            row,
        )?;
        let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
        rows.reverse();
        drop(statement);
        drop(connection);
        rows.into_iter()
            .map(|row| {
                let entry: Value =
                    serde_json::from_str(&row.entry).map_err(|error| AuditError::Corrupt {
                        seq: row.seq,
                        problem: error.to_string(),
                    })?;
                let (prev_hash, record) =
                    split_entry(entry).map_err(|problem| AuditError::Corrupt {
                        seq: row.seq,
                        problem,
                    })?;
                Ok(StoredRecord {
                    seq: row.seq,
                    prev_hash,
                    hash: row.hash,
                    record,
                })
            })
            .collect()
    }

    /// Walks the chain from the first record; returns how many records there are, or the
    /// first bad one (records before it are intact, those after it are suspect).
    pub fn verify(&self) -> Result<u64, ChainError> {
        let rows = self.rows().map_err(|error| ChainError {
            seq: 0,
            problem: crate::error_chain(&error),
        })?;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut expected_seq = 1;
        for row in rows {
            let bad = |problem: String| ChainError {
                seq: row.seq,
                problem,
            };
            if row.seq != expected_seq {
                return Err(bad(format!(
                    "sequence number {} where {expected_seq} was expected",
                    row.seq
                )));
            }
            let hash = sha256_hex(row.entry.as_bytes());
            if hash != row.hash {
                return Err(bad(format!(
                    "entry hashes to {hash}, but {} is stored",
                    row.hash
                )));
            }
            let entry: Value = serde_json::from_str(&row.entry)
                .map_err(|error| bad(format!("entry is not JSON: {error}")))?;
            if canonical_json(&entry) != row.entry {
                return Err(bad("entry is not in canonical form".into()));
            }
            if entry["seq"].as_u64() != Some(row.seq) {
                return Err(bad("entry's seq differs from the row's".into()));
            }
            if entry["prev_hash"].as_str() != Some(prev_hash.as_str()) {
                return Err(bad(format!(
                    "prev_hash is not the hash of record {} ({prev_hash})",
                    row.seq - 1
                )));
            }
            let (_, record) = split_entry(entry).map_err(bad)?;
            if record.time_ms != row.time_ms
                || record.agent != row.agent
                || record.endpoint != row.endpoint
                || record.decision.as_str() != row.decision
            {
                return Err(bad("indexed columns differ from the entry".into()));
            }
            prev_hash = row.hash;
            expected_seq += 1;
        }
        Ok(expected_seq - 1)
    }

    fn rows(&self) -> Result<Vec<Row>, AuditError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT seq, time_ms, agent, endpoint, decision, entry, hash FROM audit ORDER BY seq",
        )?;
        let rows = statement.query_map([], row)?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(AuditError::from)
    }
}

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: row.get(0)?,
        time_ms: row.get(1)?,
        agent: row.get(2)?,
        endpoint: row.get(3)?,
        decision: row.get(4)?,
        entry: row.get(5)?,
        hash: row.get(6)?,
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

struct Row {
    seq: u64,
    time_ms: i64,
    agent: String,
    endpoint: String,
    decision: String,
    entry: String,
    hash: String,
}

/// The canonical entry: the record's fields with `seq` and `prev_hash`.
fn entry_text(seq: u64, prev_hash: &str, record: &AuditRecord) -> Result<String, AuditError> {
    let mut value = serde_json::to_value(record).map_err(|error| AuditError::Corrupt {
        seq,
        problem: error.to_string(),
    })?;
    if let Value::Object(object) = &mut value {
        object.insert("seq".into(), seq.into());
        object.insert("prev_hash".into(), prev_hash.into());
    }
    Ok(canonical_json(&value))
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

#[async_trait::async_trait]
impl AuditSink for SqliteAuditLog {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let log = self.clone();
        let record = record.clone();
        tokio::task::spawn_blocking(move || log.append(&record))
            .await
            .map_err(AuditError::Worker)?
            .map(|_| ())
    }
}
