//! Budgets counted in a [`StateFile`], so that every process acting for an agent (a
//! gateway's stdio sessions side by side, `serve --http`, `approvals approve`) shares them:
//! each call's check and count is one `IMMEDIATE` transaction. A held call's take carries
//! its approval id (`hold`), so its take when it runs replaces the one made when it was
//! parked: it counts once.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};
use tiktok_api::meta::{Access, EndpointMeta};

use crate::budget::{BudgetError, BudgetLimit, Exhausted};
use crate::state::StateFile;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS budget_use (
    agent TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    write INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    hold TEXT
);
CREATE INDEX IF NOT EXISTS budget_use_agent_time ON budget_use (agent, time_ms);
";

/// The longest window any budget has; older uses are dropped.
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// Budget uses in the state file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    state: StateFile,
}

impl SqliteLedger {
    /// The ledger in `state` (its table created if missing).
    pub fn new(state: StateFile) -> Result<SqliteLedger, crate::state::StateError> {
        state.with(|connection| {
            connection.execute_batch(SCHEMA)?;
            // Files from before held takes were counted have no `hold` column yet.
            let has_hold: bool = connection.query_row(
                "SELECT count(*) > 0 FROM pragma_table_info('budget_use') WHERE name = 'hold'",
                [],
                |row| row.get(0),
            )?;
            if !has_hold {
                connection.execute_batch("ALTER TABLE budget_use ADD COLUMN hold TEXT;")?;
            }
            Ok(())
        })?;
        Ok(SqliteLedger { state })
    }

    /// The check and count of one call at `now_ms`, in one transaction; a call held under
    /// `hold` leaves its earlier take out of the check and replaces it.
    fn take_at(
        connection: &mut Connection,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
        hold: Option<&str>,
    ) -> Result<Result<(), Exhausted>, rusqlite::Error> {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for limit in limits {
            let since = now_ms - limit.window.as_millis() as i64;
            let (endpoint, writes_only) = limit.budget.filter();
            let (count, oldest): (u32, Option<i64>) = transaction.query_row(
                "SELECT count(*), min(time_ms) FROM budget_use
                 WHERE agent = ?1 AND time_ms > ?2
                   AND (?3 IS NULL OR endpoint = ?3) AND (?4 = 0 OR write = 1)
                   AND (?5 IS NULL OR hold IS NULL OR hold != ?5)",
                params![agent, since, endpoint, writes_only, hold],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            if count >= limit.limit {
                return Ok(Err(Exhausted::at(limit, oldest, since)));
            }
        }
        if let Some(hold) = hold {
            transaction.execute(
                "DELETE FROM budget_use WHERE agent = ?1 AND hold = ?2",
                params![agent, hold],
            )?;
        }
        transaction.execute(
            "INSERT INTO budget_use (agent, endpoint, write, time_ms, hold) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![agent, meta.id, meta.access == Access::Write, now_ms, hold],
        )?;
        transaction.execute(
            "DELETE FROM budget_use WHERE time_ms <= ?1",
            params![now_ms - KEEP.as_millis() as i64],
        )?;
        transaction.commit()?;
        Ok(Ok(()))
    }
}

impl SqliteLedger {
    /// How many of `agent`'s calls count against `limit` at `now_ms` (held calls' takes
    /// included): what an operator is shown of a budget, read without counting anything,
    /// on a blocking thread.
    pub async fn used(
        &self,
        agent: &str,
        limit: &BudgetLimit,
        now_ms: i64,
    ) -> Result<u32, crate::state::StateError> {
        let since = now_ms - limit.window.as_millis() as i64;
        let (endpoint, writes_only) = limit.budget.filter();
        let agent = agent.to_string();
        self.state
            .run(move |connection| {
                connection.query_row(
                    "SELECT count(*) FROM budget_use
                     WHERE agent = ?1 AND time_ms > ?2
                       AND (?3 IS NULL OR endpoint = ?3) AND (?4 = 0 OR write = 1)",
                    params![agent, since, endpoint, writes_only],
                    |row| row.get(0),
                )
            })
            .await
    }

    async fn take_now(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
        hold: Option<&str>,
    ) -> Result<(), BudgetError> {
        let agent = agent.to_string();
        let limits = limits.to_vec();
        let hold = hold.map(str::to_owned);
        let now_ms = crate::budget::now_ms();
        let taken = self
            .state
            .run(move |connection| {
                SqliteLedger::take_at(connection, &agent, meta, &limits, now_ms, hold.as_deref())
            })
            .await;
        BudgetError::from_taken(taken)
    }
}

crate::budget::shared_ledger!(SqliteLedger);

#[cfg(test)]
impl SqliteLedger {
    /// The check and count of one call at `now_ms`, here and now (tests give the time).
    pub(crate) fn take_at_now(
        &self,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
        hold: Option<&str>,
    ) -> Result<(), Exhausted> {
        self.state
            .with(|connection| SqliteLedger::take_at(connection, agent, meta, limits, now_ms, hold))
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use tiktok_api::endpoints::VIDEO_LIST;

    use super::*;
    use crate::budget::Budget;

    // The tests of what both backends do are in `backend_tests`.

    #[test]
    fn a_file_from_before_held_takes_gains_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE budget_use (agent TEXT NOT NULL, endpoint TEXT NOT NULL, write INTEGER NOT NULL, time_ms INTEGER NOT NULL);",
            )
            .unwrap();
        drop(connection);
        let ledger = SqliteLedger::new(StateFile::open(&path).unwrap()).unwrap();
        let limits = [BudgetLimit {
            budget: Budget::CallsPerMinute,
            limit: 1,
            window: Duration::from_secs(60),
        }];
        let take = |now_ms, hold| ledger.take_at_now("a", &VIDEO_LIST, &limits, now_ms, hold);
        assert!(take(5, Some("apv_x")).is_ok());
        assert!(take(6, Some("apv_x")).is_ok());
        assert!(take(7, None).is_err());
    }
}
