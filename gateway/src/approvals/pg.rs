//! Approvals in a Postgres database shared by gateway processes on several machines:
//! [`PgApprovals`]. A claim is one `UPDATE … WHERE state = 'pending'`, so an approved call
//! runs exactly once whichever process approves it; parking counts the agent's pending
//! calls and inserts under the agent's advisory lock, so two processes never both take the
//! last place.

use async_trait::async_trait;
use serde_json::Value;
use tiktok_agent::{PgDatabase, StoreError};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::model::{Approval, ApprovalState, ApprovalStore, EXPIRED_BY, stored_json};

/// The first key of the advisory lock an agent's parking holds (the second is a hash of
/// the agent's name).
const PARK_LOCK: i32 = 0x6170_7672;

const COLUMNS: &str = "id, created_ms, agent, open_id, tool, arguments, state, decided_ms, decided_by, outcome, expires_ms";

/// The approvals table of a Postgres database migrated by `tiktok-gateway migrate`. Cheap
/// to clone.
#[derive(Debug, Clone)]
pub struct PgApprovals {
    database: PgDatabase,
}

impl PgApprovals {
    /// The approvals in `database`.
    pub fn new(database: PgDatabase) -> PgApprovals {
        PgApprovals { database }
    }

    /// Runs one statement on a connection of the pool; its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        Ok(self.database.client().await?.query(sql, params).await?)
    }
}

fn row_to_approval(row: &Row) -> Result<Approval, StoreError> {
    let state: String = row.try_get(6)?;
    // The table's CHECK admits only the states' names.
    let state = ApprovalState::parse(&state).unwrap_or(ApprovalState::Unknown);
    let outcome: Option<String> = row.try_get(9)?;
    Ok(Approval {
        id: row.try_get(0)?,
        created_ms: row.try_get(1)?,
        agent: row.try_get(2)?,
        open_id: row.try_get(3)?,
        tool: row.try_get(4)?,
        arguments: stored_json(row.try_get(5)?),
        state,
        decided_ms: row.try_get(7)?,
        decided_by: row.try_get(8)?,
        outcome: outcome.map(stored_json),
        expires_ms: row.try_get(10)?,
    })
}

fn rows_to_approvals(rows: &[Row]) -> Result<Vec<Approval>, StoreError> {
    rows.iter().map(row_to_approval).collect()
}

#[async_trait]
impl ApprovalStore for PgApprovals {
    async fn pending(&self, agent: &str) -> Result<u32, StoreError> {
        let rows = self
            .query(
                "SELECT count(*) FROM approvals WHERE agent = $1 AND state = 'pending'",
                &[&agent],
            )
            .await?;
        let count: i64 = rows[0].try_get(0)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn park(&self, approval: &Approval, max_pending: u32) -> Result<bool, StoreError> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&PARK_LOCK, &approval.agent],
            )
            .await?;
        let inserted = transaction
            .execute(
                "INSERT INTO approvals (id, created_ms, agent, open_id, tool, arguments, state, expires_ms)
                 SELECT $1, $2, $3, $4, $5, $6, 'pending', $8
                 WHERE (SELECT count(*) FROM approvals WHERE agent = $3 AND state = 'pending') < $7",
                &[
                    &approval.id,
                    &approval.created_ms,
                    &approval.agent,
                    &approval.open_id,
                    &approval.tool,
                    &approval.arguments.to_string(),
                    &i64::from(max_pending),
                    &approval.expires_ms,
                ],
            )
            .await?;
        transaction.commit().await?;
        Ok(inserted == 1)
    }

    async fn expire_due(&self, now_ms: i64) -> Result<Vec<Approval>, StoreError> {
        let rows = self
            .query(
                &format!(
                    "UPDATE approvals SET state = 'expired', decided_ms = $1, decided_by = $2
                     WHERE state = 'pending' AND expires_ms <= $1
                     RETURNING {COLUMNS}"
                ),
                &[&now_ms, &EXPIRED_BY],
            )
            .await?;
        rows_to_approvals(&rows)
    }

    async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let rows = self
            .query(
                &format!("SELECT {COLUMNS} FROM approvals WHERE id = $1"),
                &[&id],
            )
            .await?;
        rows.first().map(row_to_approval).transpose()
    }

    async fn list(&self, state: Option<ApprovalState>) -> Result<Vec<Approval>, StoreError> {
        let state = state.map(ApprovalState::as_str);
        let rows = self
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM approvals WHERE $1::TEXT IS NULL OR state = $1
                     ORDER BY created_ms, id"
                ),
                &[&state],
            )
            .await?;
        rows_to_approvals(&rows)
    }

    async fn decide(
        &self,
        id: &str,
        by: &str,
        to: ApprovalState,
        now_ms: i64,
    ) -> Result<Option<Approval>, StoreError> {
        // Row locks make this exact: a second UPDATE waits for the first and then finds
        // the row no longer pending.
        let rows = self
            .query(
                &format!(
                    "UPDATE approvals SET state = $2, decided_ms = $3, decided_by = $4
                     WHERE id = $1 AND state = 'pending' AND expires_ms > $3
                     RETURNING {COLUMNS}"
                ),
                &[&id, &to.as_str(), &now_ms, &by],
            )
            .await?;
        rows.first().map(row_to_approval).transpose()
    }

    async fn finish(&self, id: &str, to: ApprovalState, outcome: &Value) -> Result<(), StoreError> {
        self.query(
            "UPDATE approvals SET state = $2, outcome = $3 WHERE id = $1 AND state = 'running'",
            &[&id, &to.as_str(), &outcome.to_string()],
        )
        .await?;
        Ok(())
    }
}
