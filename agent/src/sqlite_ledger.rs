//! Budgets counted in a [`StateFile`], so that every process acting for an agent (a
//! gateway's stdio sessions side by side, `serve --http`, `approvals approve`) shares them:
//! each call's check and count is one `IMMEDIATE` transaction.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior, params};
use tiktok_api::meta::{Access, EndpointMeta};

use crate::budget::{Budget, BudgetError, BudgetLedger, BudgetLimit, Exhausted};
use crate::state::StateFile;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS budget_use (
    agent TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    write INTEGER NOT NULL,
    time_ms INTEGER NOT NULL
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
        state.with(|connection| connection.execute_batch(SCHEMA))?;
        Ok(SqliteLedger { state })
    }

    /// The check and count of one call at `now_ms`, in one transaction.
    fn take_at(
        connection: &mut Connection,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
    ) -> Result<Result<(), Exhausted>, rusqlite::Error> {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for limit in limits {
            let since = now_ms - limit.window.as_millis() as i64;
            let (endpoint, writes_only) = match &limit.budget {
                Budget::CallsPerMinute => (None, false),
                Budget::EndpointCallsPerMinute(id) => (Some(*id), false),
                Budget::WritesPerDay => (None, true),
            };
            let (count, oldest): (u32, Option<i64>) = transaction.query_row(
                "SELECT count(*), min(time_ms) FROM budget_use
                 WHERE agent = ?1 AND time_ms > ?2
                   AND (?3 IS NULL OR endpoint = ?3) AND (?4 = 0 OR write = 1)",
                params![agent, since, endpoint, writes_only],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            if count >= limit.limit {
                let retry_after = oldest.map_or(limit.window, |oldest| {
                    Duration::from_millis((oldest - since).max(0) as u64)
                });
                return Ok(Err(Exhausted {
                    budget: limit.budget,
                    limit: limit.limit,
                    retry_after,
                }));
            }
        }
        transaction.execute(
            "INSERT INTO budget_use (agent, endpoint, write, time_ms) VALUES (?1, ?2, ?3, ?4)",
            params![agent, meta.id, meta.access == Access::Write, now_ms],
        )?;
        transaction.execute(
            "DELETE FROM budget_use WHERE time_ms <= ?1",
            params![now_ms - KEEP.as_millis() as i64],
        )?;
        transaction.commit()?;
        Ok(Ok(()))
    }
}

#[async_trait::async_trait]
impl BudgetLedger for SqliteLedger {
    async fn take(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
    ) -> Result<(), BudgetError> {
        let agent = agent.to_string();
        let limits = limits.to_vec();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let taken = self
            .state
            .run(move |connection| SqliteLedger::take_at(connection, &agent, meta, &limits, now_ms))
            .await;
        match taken {
            Ok(Ok(())) => Ok(()),
            Ok(Err(exhausted)) => Err(BudgetError::Exhausted(exhausted)),
            Err(failure) => Err(BudgetError::Unavailable(crate::error_chain(&failure))),
        }
    }
}

#[cfg(test)]
mod tests {
    use tiktok_api::endpoints::{INBOX_VIDEO_INIT, VIDEO_LIST};

    use super::*;

    fn open(path: &std::path::Path) -> SqliteLedger {
        SqliteLedger::new(StateFile::open(path).unwrap()).unwrap()
    }

    /// One check and count at `now_ms`.
    fn take(
        ledger: &SqliteLedger,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
    ) -> Result<(), Exhausted> {
        ledger
            .state
            .with(|connection| SqliteLedger::take_at(connection, agent, meta, limits, now_ms))
            .unwrap()
    }

    #[test]
    fn two_ledgers_on_one_file_share_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let (one, two) = (open(&path), open(&path));
        let per_minute = [BudgetLimit {
            budget: Budget::CallsPerMinute,
            limit: 3,
            window: Duration::from_secs(60),
        }];
        let now = 1_000_000_000;
        let threads: Vec<_> = (0..8)
            .map(|index| {
                let ledger = if index % 2 == 0 {
                    one.clone()
                } else {
                    two.clone()
                };
                std::thread::spawn(move || {
                    take(&ledger, "reader", &VIDEO_LIST, &per_minute, now).is_ok()
                })
            })
            .collect();
        let taken = threads
            .into_iter()
            .map(|thread| usize::from(thread.join().unwrap()))
            .sum::<usize>();
        assert_eq!(taken, 3);
        let refused = take(&one, "reader", &VIDEO_LIST, &per_minute, now + 59_000).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // Another agent, and the window moved on: room again.
        assert!(take(&one, "other", &VIDEO_LIST, &per_minute, now).is_ok());
        assert!(take(&one, "reader", &VIDEO_LIST, &per_minute, now + 60_000).is_ok());
        // Writes per day count writes only.
        let daily = [BudgetLimit {
            budget: Budget::WritesPerDay,
            limit: 1,
            window: KEEP,
        }];
        assert!(take(&two, "reader", &INBOX_VIDEO_INIT, &daily, now).is_ok());
        assert!(take(&two, "reader", &INBOX_VIDEO_INIT, &daily, now + 1).is_err());
    }
}
