//! The audit log in a shared Postgres database: one hash chain with contiguous sequence
//! numbers for every gateway process writing to it. Each append is one transaction that
//! holds the log's advisory lock while it reads the last record and inserts the next, so
//! appends from several processes queue instead of forking the chain. Records, entries and
//! checks are those of [`crate::SqliteAuditLog`].

use rusqlite::types::Value as SqlValue;
use tokio_postgres::types::ToSql;

use crate::audit::{AuditError, AuditRecord, AuditSink};
use crate::audit_chain::{ChainError, Row, Scratch, check_row};
use crate::audit_sqlite::{
    AuditQuery, GENESIS_HASH, StoredRecord, entry_text, select, sha256_hex, stored,
};
use crate::postgres::{PgDatabase, PgError};

/// The advisory lock key every append holds.
const AUDIT_LOCK: i64 = 0x7469_6b74_6f6b_0002;

/// Records [`PgAuditLog::verify`] reads at a time.
const PAGE: i64 = 1024;

const COLUMNS: &str = "seq, time_ms, agent, endpoint, decision, entry, hash";

/// The append-only, hash-chained audit log in a Postgres database migrated by
/// [`PgDatabase::migrate`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgAuditLog {
    database: PgDatabase,
}

impl From<tokio_postgres::Error> for AuditError {
    fn from(error: tokio_postgres::Error) -> AuditError {
        AuditError::Postgres(PgError::from(error))
    }
}

impl PgAuditLog {
    /// The log in `database`.
    pub fn new(database: PgDatabase) -> PgAuditLog {
        PgAuditLog { database }
    }

    /// Its database.
    pub fn database(&self) -> &PgDatabase {
        &self.database
    }

    /// Appends `record` after the last one, whichever process wrote it, and commits;
    /// returns its sequence number.
    pub async fn append(&self, record: &AuditRecord) -> Result<u64, AuditError> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
            .await?;
        let last = transaction
            .query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])
            .await?;
        let (seq, prev_hash) = match last {
            Some(row) => (row.get::<_, i64>(0) + 1, row.get::<_, String>(1)),
            None => (1, GENESIS_HASH.to_string()),
        };
        let entry = entry_text(seq as u64, &prev_hash, record)?;
        let hash = sha256_hex(entry.as_bytes());
        transaction
            .execute(
                "INSERT INTO audit (seq, time_ms, agent, endpoint, decision, entry, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &seq,
                    &record.time_ms,
                    &record.agent,
                    &record.endpoint,
                    &record.decision.as_str(),
                    &entry,
                    &hash,
                ],
            )
            .await?;
        transaction.commit().await?;
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
