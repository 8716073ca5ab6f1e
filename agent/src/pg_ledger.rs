//! Budgets counted in a shared Postgres database, exact across gateway processes on several
//! machines: each call's check and count is one transaction holding the agent's advisory
//! lock, so two processes never both see the last free place. Held calls count once, as in
//! [`crate::SqliteLedger`].

use tiktok_api::meta::{Access, EndpointMeta};

use crate::budget::{BudgetError, BudgetLimit, DAY, Exhausted};
use crate::postgres::{PgDatabase, PgError};

/// The first key of the advisory lock each agent's takes hold (the second is a hash of the
/// agent's name).
const LEDGER_LOCK: i32 = 0x6275_6467;

/// Budget uses in a Postgres database migrated by [`PgDatabase::migrate`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgLedger {
    database: PgDatabase,
}

impl PgLedger {
    /// The ledger in `database`.
    pub fn new(database: PgDatabase) -> PgLedger {
        PgLedger { database }
    }

    /// The check and count of one call at `now_ms`, in one transaction; a call held under
    /// `hold` leaves its earlier take out of the check and replaces it.
    pub(crate) async fn take_at(
        &self,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
        hold: Option<&str>,
    ) -> Result<Result<(), Exhausted>, PgError> {
        let mut client = self.database.client().await?;
        // Each statement prepared once a connection (`prepare_cached`), not once a call;
        // a new connection's prepares go together, before the agent's lock is taken.
        let (lock, count, replace, insert, forget) = tokio::try_join!(
            client.prepare_cached("SELECT pg_advisory_xact_lock($1, hashtext($2))"),
            client.prepare_cached(
                "SELECT count(*), min(time_ms) FROM budget_use
                 WHERE agent = $1 AND time_ms > $2
                   AND ($3::TEXT IS NULL OR endpoint = $3) AND (NOT $4 OR write)
                   AND ($5::TEXT IS NULL OR hold IS NULL OR hold != $5)",
            ),
            client.prepare_cached("DELETE FROM budget_use WHERE agent = $1 AND hold = $2"),
            client.prepare_cached(
                "INSERT INTO budget_use (agent, endpoint, write, time_ms, hold)
                 VALUES ($1, $2, $3, $4, $5)",
            ),
            client.prepare_cached("DELETE FROM budget_use WHERE agent = $1 AND time_ms <= $2"),
        )?;
        let transaction = client.transaction().await?;
        transaction.execute(&lock, &[&LEDGER_LOCK, &agent]).await?;
        for limit in limits {
            let since = now_ms - limit.window.as_millis() as i64;
            let (endpoint, writes_only) = limit.budget.filter();
            let row = transaction
                .query_one(&count, &[&agent, &since, &endpoint, &writes_only, &hold])
                .await?;
            let count: i64 = row.get(0);
            if count >= i64::from(limit.limit) {
                let oldest: Option<i64> = row.get(1);
                return Ok(Err(Exhausted::at(limit, oldest, since)));
            }
        }
        if let Some(hold) = hold {
            transaction.execute(&replace, &[&agent, &hold]).await?;
        }
        transaction
            .execute(
                &insert,
                &[
                    &agent,
                    &meta.id,
                    &(meta.access == Access::Write),
                    &now_ms,
                    &hold,
                ],
            )
            .await?;
        transaction
            .execute(&forget, &[&agent, &(now_ms - DAY.as_millis() as i64)])
            .await?;
        transaction.commit().await?;
        Ok(Ok(()))
    }

    /// How many of `agent`'s calls count against `limit` at `now_ms` (held calls' takes
    /// included), read without counting anything.
    pub async fn used(
        &self,
        agent: &str,
        limit: &BudgetLimit,
        now_ms: i64,
    ) -> Result<u32, PgError> {
        let since = now_ms - limit.window.as_millis() as i64;
        let (endpoint, writes_only) = limit.budget.filter();
        let client = self.database.client().await?;
        let count = client
            .prepare_cached(
                "SELECT count(*) FROM budget_use
                 WHERE agent = $1 AND time_ms > $2
                   AND ($3::TEXT IS NULL OR endpoint = $3) AND (NOT $4 OR write)",
            )
            .await?;
        let count: i64 = client
            .query_one(&count, &[&agent, &since, &endpoint, &writes_only])
            .await?
            .get(0);
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn take_now(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
        hold: Option<&str>,
    ) -> Result<(), BudgetError> {
        let taken = self
            .take_at(agent, meta, limits, crate::budget::now_ms(), hold)
            .await;
        BudgetError::from_taken(taken)
    }
}

crate::budget::shared_ledger!(PgLedger);
