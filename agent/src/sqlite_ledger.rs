//! Budgets counted in a [`StateFile`], so that every process acting for an agent (a
//! gateway's stdio sessions side by side, `serve --http`, `approvals approve`) shares them:
//! each call's check and count is one `IMMEDIATE` transaction. A held call's take carries
//! its approval id (`hold`), so its take when it runs replaces the one made when it was
//! parked: it counts once.

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
            let (endpoint, writes_only) = match &limit.budget {
                Budget::CallsPerMinute => (None, false),
                Budget::EndpointCallsPerMinute(id) => (Some(*id), false),
                Budget::WritesPerDay => (None, true),
            };
            let (count, oldest): (u32, Option<i64>) = transaction.query_row(
                "SELECT count(*), min(time_ms) FROM budget_use
                 WHERE agent = ?1 AND time_ms > ?2
                   AND (?3 IS NULL OR endpoint = ?3) AND (?4 = 0 OR write = 1)
                   AND (?5 IS NULL OR hold IS NULL OR hold != ?5)",
                params![agent, since, endpoint, writes_only, hold],
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
    /// included): what an operator is shown of a budget, read without counting anything.
    pub fn used(
        &self,
        agent: &str,
        limit: &BudgetLimit,
        now_ms: i64,
    ) -> Result<u32, crate::state::StateError> {
        let since = now_ms - limit.window.as_millis() as i64;
        let (endpoint, writes_only) = match &limit.budget {
            Budget::CallsPerMinute => (None, false),
            Budget::EndpointCallsPerMinute(id) => (Some(*id), false),
            Budget::WritesPerDay => (None, true),
        };
        self.state.with(|connection| {
            connection.query_row(
                "SELECT count(*) FROM budget_use
                 WHERE agent = ?1 AND time_ms > ?2
                   AND (?3 IS NULL OR endpoint = ?3) AND (?4 = 0 OR write = 1)",
                params![agent, since, endpoint, writes_only],
                |row| row.get(0),
            )
        })
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
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let taken = self
            .state
            .run(move |connection| {
                SqliteLedger::take_at(connection, &agent, meta, &limits, now_ms, hold.as_deref())
            })
            .await;
        match taken {
            Ok(Ok(())) => Ok(()),
            Ok(Err(exhausted)) => Err(BudgetError::Exhausted(exhausted)),
            Err(failure) => Err(BudgetError::Unavailable(crate::error_chain(&failure))),
        }
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
        self.take_now(agent, meta, limits, None).await
    }

    async fn take_held(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
        hold: &str,
    ) -> Result<(), BudgetError> {
        self.take_now(agent, meta, limits, Some(hold)).await
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
        take_held(ledger, agent, meta, limits, now_ms, None)
    }

    /// One check and count at `now_ms` of a call held under `hold`.
    fn take_held(
        ledger: &SqliteLedger,
        agent: &str,
        meta: &EndpointMeta,
        limits: &[BudgetLimit],
        now_ms: i64,
        hold: Option<&str>,
    ) -> Result<(), Exhausted> {
        ledger
            .state
            .with(|connection| SqliteLedger::take_at(connection, agent, meta, limits, now_ms, hold))
            .unwrap()
    }

    #[test]
    fn a_held_call_counts_once_and_is_checked_again_when_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = open(&dir.path().join("state.sqlite"));
        let limits = [
            BudgetLimit {
                budget: Budget::CallsPerMinute,
                limit: 2,
                window: Duration::from_secs(60),
            },
            BudgetLimit {
                budget: Budget::WritesPerDay,
                limit: 3,
                window: KEEP,
            },
        ];
        let now = 1_000_000_000;
        // Parked: taken (checked and counted).
        assert!(
            take_held(
                &ledger,
                "poster",
                &INBOX_VIDEO_INIT,
                &limits,
                now,
                Some("apv_a")
            )
            .is_ok()
        );
        assert!(
            take_held(
                &ledger,
                "poster",
                &INBOX_VIDEO_INIT,
                &limits,
                now,
                Some("apv_b")
            )
            .is_ok()
        );
        // A third parked write in the minute is refused: the parked two count.
        let refused = take_held(
            &ledger,
            "poster",
            &INBOX_VIDEO_INIT,
            &limits,
            now,
            Some("apv_c"),
        )
        .unwrap_err();
        assert_eq!(refused.budget, Budget::CallsPerMinute);
        // Run at once after approval: its own parked take is not counted against it, and
        // is replaced rather than added to (still two uses in the minute).
        assert!(
            take_held(
                &ledger,
                "poster",
                &INBOX_VIDEO_INIT,
                &limits,
                now + 1,
                Some("apv_a")
            )
            .is_ok()
        );
        assert!(take(&ledger, "poster", &VIDEO_LIST, &limits[..1], now + 2).is_err());
        // What an operator is shown: two uses in the minute and in the day, none counted.
        assert_eq!(ledger.used("poster", &limits[0], now + 2).unwrap(), 2);
        assert_eq!(ledger.used("poster", &limits[1], now + 2).unwrap(), 2);
        assert_eq!(ledger.used("other", &limits[1], now + 2).unwrap(), 0);
        // Run later: checked again. A minute on, apv_b's take has left the minute's window
        // and two other calls fill it, so its run is refused.
        let later = now + 61_000;
        assert!(take(&ledger, "poster", &VIDEO_LIST, &limits[..1], later).is_ok());
        assert!(take(&ledger, "poster", &VIDEO_LIST, &limits[..1], later).is_ok());
        let refused = take_held(
            &ledger,
            "poster",
            &INBOX_VIDEO_INIT,
            &limits,
            later,
            Some("apv_b"),
        )
        .unwrap_err();
        assert_eq!(refused.budget, Budget::CallsPerMinute);
        // The day's writes: apv_a and apv_b count once each, so one more fits, then none.
        assert!(
            take_held(
                &ledger,
                "poster",
                &INBOX_VIDEO_INIT,
                &limits,
                now + 200_000,
                Some("apv_d")
            )
            .is_ok()
        );
        let refused = take_held(
            &ledger,
            "poster",
            &INBOX_VIDEO_INIT,
            &limits,
            now + 300_000,
            Some("apv_e"),
        )
        .unwrap_err();
        assert_eq!(refused.budget, Budget::WritesPerDay);
    }

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
        let ledger = open(&path);
        let limits = [BudgetLimit {
            budget: Budget::CallsPerMinute,
            limit: 1,
            window: Duration::from_secs(60),
        }];
        assert!(take_held(&ledger, "a", &VIDEO_LIST, &limits, 5, Some("apv_x")).is_ok());
        assert!(take_held(&ledger, "a", &VIDEO_LIST, &limits, 6, Some("apv_x")).is_ok());
        assert!(take(&ledger, "a", &VIDEO_LIST, &limits, 7).is_err());
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
