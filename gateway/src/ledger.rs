//! The agents' budgets counted in the gateway's state file, so that every process acting
//! for an agent (stdio sessions side by side, `serve --http`, `approvals approve`) shares
//! them: each call's check and count is one `IMMEDIATE` transaction.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};
use tiktok_api::meta::{Access, EndpointMeta};
use tiktok_api::{Budget, BudgetLedger, BudgetLimit, Exhausted};

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

/// Budget uses in SQLite. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    connection: Arc<Mutex<Connection>>,
}

impl SqliteLedger {
    /// Opens (or creates, owner-only) the ledger in the file at `path`.
    pub fn open(path: &Path) -> Result<SqliteLedger, rusqlite::Error> {
        let connection = crate::open_private_sqlite(path)?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteLedger {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        match self.connection.lock() {
            Ok(connection) => connection,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The check and count of one call at `now_ms`, in one transaction.
    fn take_at(
        &self,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
    ) -> Result<Result<(), Exhausted>, rusqlite::Error> {
        let mut connection = self.lock();
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
                    budget: limit.budget.clone(),
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
    ) -> Result<(), Result<Exhausted, String>> {
        let ledger = self.clone();
        let agent = agent.to_string();
        let limits = limits.to_vec();
        let taken = tokio::task::spawn_blocking(move || {
            ledger.take_at(&agent, meta, &limits, crate::now_ms())
        })
        .await;
        match taken {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(exhausted))) => Err(Ok(exhausted)),
            Ok(Err(error)) => Err(Err(error.to_string())),
            Err(error) => Err(Err(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiktok_api::endpoints::{INBOX_VIDEO_INIT, VIDEO_LIST};

    #[test]
    fn two_ledgers_on_one_file_share_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let (one, two) = (
            SqliteLedger::open(&path).unwrap(),
            SqliteLedger::open(&path).unwrap(),
        );
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
                let per_minute = per_minute.clone();
                std::thread::spawn(move || {
                    ledger
                        .take_at("reader", &VIDEO_LIST, &per_minute, now)
                        .unwrap()
                        .is_ok()
                })
            })
            .collect();
        let taken = threads
            .into_iter()
            .map(|thread| usize::from(thread.join().unwrap()))
            .sum::<usize>();
        assert_eq!(taken, 3);
        let refused = one
            .take_at("reader", &VIDEO_LIST, &per_minute, now + 59_000)
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // Another agent, and the window moved on: room again.
        assert!(
            one.take_at("other", &VIDEO_LIST, &per_minute, now)
                .unwrap()
                .is_ok()
        );
        assert!(
            one.take_at("reader", &VIDEO_LIST, &per_minute, now + 60_000)
                .unwrap()
                .is_ok()
        );
        // Writes per day count writes only.
        let daily = [BudgetLimit {
            budget: Budget::WritesPerDay,
            limit: 1,
            window: KEEP,
        }];
        assert!(
            two.take_at("reader", &INBOX_VIDEO_INIT, &daily, now)
                .unwrap()
                .is_ok()
        );
        assert!(
            two.take_at("reader", &INBOX_VIDEO_INIT, &daily, now + 1)
                .unwrap()
                .is_err()
        );
    }
}
