//! Approvals in the gateway's SQLite state file: [`SqliteApprovals`], its table created, or
//! brought up to date from a file without deadlines, when opened.

use async_trait::async_trait;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use tiktok_agent::{StateError, StateFile, StoreError};

use super::model::{Approval, ApprovalState, ApprovalStore, EXPIRED_BY, stored_json};

const TABLE: &str = "
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    agent TEXT NOT NULL,
    open_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'unknown', 'denied', 'expired')),
    decided_ms INTEGER,
    decided_by TEXT,
    outcome TEXT,
    expires_ms INTEGER NOT NULL
);
";

const INDEX: &str = "CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state, created_ms);";

/// The deadline given to approvals parked before approvals had one: the default ttl.
const LEGACY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

pub(super) const COLUMNS: &str = "id, created_ms, agent, open_id, tool, arguments, state, decided_ms, decided_by, outcome, expires_ms";

/// The approvals table of a state file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteApprovals {
    state: StateFile,
}

impl SqliteApprovals {
    /// The approvals in `state`: their table created if missing, or brought up to date
    /// from one without deadlines.
    pub fn new(state: StateFile) -> Result<SqliteApprovals, StateError> {
        state.with(|connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let sql: Option<String> = transaction
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'approvals'",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
            match sql {
                None => transaction.execute_batch(TABLE)?,
                Some(sql) if sql.contains("expires_ms") => {}
                Some(_) => {
                    // A file from before deadlines and the `expired` state: the table is
                    // rebuilt (SQLite cannot change a CHECK), old approvals given the default.
                    transaction.execute_batch("ALTER TABLE approvals RENAME TO approvals_v1;")?;
                    transaction.execute_batch(TABLE)?;
                    transaction.execute(
                        &format!(
                            "INSERT INTO approvals ({COLUMNS})
                             SELECT id, created_ms, agent, open_id, tool, arguments, state,
                                    decided_ms, decided_by, outcome, created_ms + {LEGACY_TTL_MS}
                             FROM approvals_v1"
                        ),
                        [],
                    )?;
                    transaction.execute_batch("DROP TABLE approvals_v1;")?;
                }
            }
            transaction.execute_batch(INDEX)?;
            transaction.commit()
        })?;
        Ok(SqliteApprovals { state })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        Ok(self.state.run(work).await?)
    }
}

#[async_trait]
impl ApprovalStore for SqliteApprovals {
    async fn pending(&self, agent: &str) -> Result<u32, StoreError> {
        let agent = agent.to_string();
        self.run(move |connection| {
            connection.query_row(
                "SELECT count(*) FROM approvals WHERE agent = ?1 AND state = 'pending'",
                params![agent],
                |row| row.get(0),
            )
        })
        .await
    }

    async fn park(&self, approval: &Approval, max_pending: u32) -> Result<bool, StoreError> {
        let approval = approval.clone();
        let inserted = self
            .run(move |connection| {
                connection.execute(
                    "INSERT INTO approvals (id, created_ms, agent, open_id, tool, arguments, state, expires_ms)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?8
                     WHERE (SELECT count(*) FROM approvals WHERE agent = ?3 AND state = 'pending') < ?7",
                    params![
                        approval.id,
                        approval.created_ms,
                        approval.agent,
                        approval.open_id,
                        approval.tool,
                        approval.arguments.to_string(),
                        max_pending,
                        approval.expires_ms
                    ],
                )
            })
            .await?;
        Ok(inserted == 1)
    }

    async fn expire_due(&self, now_ms: i64) -> Result<Vec<Approval>, StoreError> {
        self.run(move |connection| {
            let mut statement = connection.prepare(&format!(
                "UPDATE approvals SET state = 'expired', decided_ms = ?1, decided_by = ?2
                 WHERE state = 'pending' AND expires_ms <= ?1
                 RETURNING {COLUMNS}"
            ))?;
            let rows = statement.query_map(params![now_ms, EXPIRED_BY], row_to_approval)?;
            rows.collect()
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let id = id.to_string();
        self.run(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1"),
                    params![id],
                    row_to_approval,
                )
                .optional()
        })
        .await
    }

    async fn list(&self, state: Option<ApprovalState>) -> Result<Vec<Approval>, StoreError> {
        self.run(move |connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE ?1 IS NULL OR state = ?1 ORDER BY created_ms, id"
            ))?;
            let rows = statement.query_map(params![state], row_to_approval)?;
            rows.collect()
        })
        .await
    }

    async fn decide(
        &self,
        id: &str,
        by: &str,
        to: ApprovalState,
        now_ms: i64,
    ) -> Result<Option<Approval>, StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.run(move |connection| {
            connection
                .query_row(
                    &format!(
                        "UPDATE approvals SET state = ?2, decided_ms = ?3, decided_by = ?4
                         WHERE id = ?1 AND state = 'pending' AND expires_ms > ?3
                         RETURNING {COLUMNS}"
                    ),
                    params![id, to, now_ms, by],
                    row_to_approval,
                )
                .optional()
        })
        .await
    }

    async fn finish(&self, id: &str, to: ApprovalState, outcome: &Value) -> Result<(), StoreError> {
        let (id, outcome) = (id.to_string(), outcome.to_string());
        self.run(move |connection| {
            connection.execute(
                "UPDATE approvals SET state = ?2, outcome = ?3 WHERE id = ?1 AND state = 'running'",
                params![id, to, outcome],
            )
        })
        .await?;
        Ok(())
    }
}

impl ToSql for ApprovalState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ApprovalState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        ApprovalState::parse(name)
            .ok_or_else(|| FromSqlError::Other(format!("no approval state {name:?}").into()))
    }
}

fn row_to_approval(row: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    let json = |text: Option<String>| text.map(stored_json);
    Ok(Approval {
        id: row.get(0)?,
        created_ms: row.get(1)?,
        agent: row.get(2)?,
        open_id: row.get(3)?,
        tool: row.get(4)?,
        arguments: json(Some(row.get(5)?)).unwrap_or(Value::Null),
        state: row.get(6)?,
        decided_ms: row.get(7)?,
        decided_by: row.get(8)?,
        outcome: json(row.get(9)?),
        expires_ms: row.get(10)?,
    })
}
