//! A grant's budgets: calls per minute (all endpoints, or one), writes per day. What a
//! budget is ([`Budget`], [`BudgetLimit`]) and where its calls are counted: a
//! [`BudgetLedger`], in this process's memory ([`MemoryLedger`]) or in a state file shared
//! by every process acting for an agent (`SqliteLedger`).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tiktok_api::meta::EndpointMeta;
use tiktok_api::rate_limit::SlidingWindow;

/// A minute, the window of the per-minute budgets (and of TikTok's rate limits).
pub(crate) const MINUTE: Duration = Duration::from_secs(60);
/// A day, the window of the daily write budget.
pub(crate) const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Which budget a call counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Budget {
    /// Calls by the agent in any 60 s window, all endpoints together.
    CallsPerMinute,
    /// Calls by the agent to one endpoint (its id in the endpoint table) in any 60 s window.
    EndpointCallsPerMinute(&'static str),
    /// Write calls by the agent in any 24 h window.
    WritesPerDay,
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::CallsPerMinute => f.write_str("calls_per_minute"),
            Budget::EndpointCallsPerMinute(id) => write!(f, "calls_per_minute of {id}"),
            Budget::WritesPerDay => f.write_str("writes_per_day"),
        }
    }
}

impl Budget {
    /// Which uses count against this budget, as a ledger's query filters them: only calls
    /// of this endpoint (or all), and only writes (or all).
    pub(crate) fn filter(&self) -> (Option<&'static str>, bool) {
        match self {
            Budget::CallsPerMinute => (None, false),
            Budget::EndpointCallsPerMinute(id) => (Some(*id), false),
            Budget::WritesPerDay => (None, true),
        }
    }
}

/// One budget that applies to a call: which, its size, its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimit {
    /// Which budget.
    pub budget: Budget,
    /// How many calls its window holds.
    pub limit: u32,
    /// The window (a minute or a day).
    pub window: Duration,
}

/// A budget used up: which, its size, and when the window lets one more call through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// Which budget.
    pub budget: Budget,
    /// Its size.
    pub limit: u32,
    /// How long until the window lets one more call through.
    pub retry_after: Duration,
}

impl Exhausted {
    /// `limit` used up, counted over uses after `since_ms`, the oldest of them at
    /// `oldest_ms`: one more call fits once that one leaves the window.
    pub(crate) fn at(limit: &BudgetLimit, oldest_ms: Option<i64>, since_ms: i64) -> Exhausted {
        let retry_after = oldest_ms.map_or(limit.window, |oldest| {
            Duration::from_millis((oldest - since_ms).max(0) as u64)
        });
        Exhausted {
            budget: limit.budget,
            limit: limit.limit,
            retry_after,
        }
    }
}

/// The time now in Unix milliseconds, as the shared ledgers count it.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Why a [`BudgetLedger`] did not count a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// A budget is used up; nothing was counted.
    #[error("budget {} of {} used up; retry in {} ms", .0.budget, .0.limit, .0.retry_after.as_millis())]
    Exhausted(Exhausted),
    /// The ledger itself failed (its file could not be read or written); nothing was
    /// counted, and the call is refused.
    #[error("the budget ledger failed: {0}")]
    Unavailable(String),
}

impl BudgetError {
    /// A shared ledger's take as the trait answers it: a failure of the ledger itself
    /// refuses the call as unavailable.
    pub(crate) fn from_taken<E: std::error::Error>(
        taken: Result<Result<(), Exhausted>, E>,
    ) -> Result<(), BudgetError> {
        match taken {
            Ok(Ok(())) => Ok(()),
            Ok(Err(exhausted)) => Err(BudgetError::Exhausted(exhausted)),
            Err(failure) => Err(BudgetError::Unavailable(crate::error_chain(&failure))),
        }
    }
}

/// Where an agent's budgets are counted: the check and the count of a call are one atomic
/// step for every caller sharing the ledger.
#[async_trait::async_trait]
pub trait BudgetLedger: Send + Sync + fmt::Debug {
    /// Counts one call of `meta` by `agent` now, unless one of `limits` (the budgets that
    /// apply to this call, from [`crate::Grant::budget_limits`]) is used up; then counts
    /// nothing and says which.
    async fn take(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
    ) -> Result<(), BudgetError>;

    /// [`BudgetLedger::take`] for a call held under `hold` (an approval id): the call's
    /// earlier take under the same `hold`, if any, is left out of the check and replaced by
    /// this one, so a held call counts once, at the time of its latest take, however many
    /// times it is taken (when parked, and again when it runs after approval). The default
    /// cannot tell takes apart and counts each; [`crate::SqliteLedger`] replaces.
    async fn take_held(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
        hold: &str,
    ) -> Result<(), BudgetError> {
        let _ = hold;
        self.take(agent, meta, limits).await
    }
}

/// Implements [`BudgetLedger`] for a shared ledger (one that tells held takes apart) by its
/// `take_now(agent, meta, limits, hold)`.
macro_rules! shared_ledger {
    ($ledger:ty) => {
        #[async_trait::async_trait]
        impl $crate::budget::BudgetLedger for $ledger {
            async fn take(
                &self,
                agent: &str,
                meta: &'static tiktok_api::meta::EndpointMeta,
                limits: &[$crate::budget::BudgetLimit],
            ) -> Result<(), $crate::budget::BudgetError> {
                self.take_now(agent, meta, limits, None).await
            }

            async fn take_held(
                &self,
                agent: &str,
                meta: &'static tiktok_api::meta::EndpointMeta,
                limits: &[$crate::budget::BudgetLimit],
                hold: &str,
            ) -> Result<(), $crate::budget::BudgetError> {
                self.take_now(agent, meta, limits, Some(hold)).await
            }
        }
    };
}
pub(crate) use shared_ledger;

/// Budgets counted in this process's memory: each (agent, budget) a [`SlidingWindow`].
/// Clones of a [`crate::GrantedClient`] share theirs. A held call's takes are each counted
/// (the default [`BudgetLedger::take_held`]); held calls belong in a shared
/// [`crate::SqliteLedger`].
///
/// ```
/// # async fn example() {
/// use tiktok_agent::{Budget, BudgetError, BudgetLedger, BudgetLimit, MemoryLedger};
/// use tiktok_api::endpoints::VIDEO_LIST;
///
/// let ledger = MemoryLedger::default();
/// let limits = [BudgetLimit { budget: Budget::CallsPerMinute, limit: 1, window: std::time::Duration::from_secs(60) }];
/// assert_eq!(ledger.take("reader", &VIDEO_LIST, &limits).await, Ok(()));
/// assert!(matches!(ledger.take("reader", &VIDEO_LIST, &limits).await, Err(BudgetError::Exhausted(_))));
/// // Another agent has budgets of its own.
/// assert_eq!(ledger.take("poster", &VIDEO_LIST, &limits).await, Ok(()));
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryLedger {
    windows: Mutex<HashMap<(String, Budget), SlidingWindow>>,
}

impl MemoryLedger {
    /// [`BudgetLedger::take`] at `now`: checks every limit, then counts the call in each.
    pub fn take_at(
        &self,
        agent: &str,
        limits: &[BudgetLimit],
        now: Instant,
    ) -> Result<(), Exhausted> {
        let mut windows = self.windows.lock();
        for limit in limits {
            let window = windows
                .entry((agent.to_string(), limit.budget))
                .or_default();
            if let Some(retry_after) = window.wait(now, limit.limit, limit.window) {
                return Err(Exhausted {
                    budget: limit.budget,
                    limit: limit.limit,
                    retry_after,
                });
            }
        }
        for limit in limits {
            if let Some(window) = windows.get_mut(&(agent.to_string(), limit.budget)) {
                window.record(now);
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BudgetLedger for MemoryLedger {
    async fn take(
        &self,
        agent: &str,
        _meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
    ) -> Result<(), BudgetError> {
        self.take_at(agent, limits, Instant::now())
            .map_err(BudgetError::Exhausted)
    }
}

#[cfg(test)]
mod tests {
    use tiktok_api::Scope;
    use tiktok_api::endpoints::{INBOX_VIDEO_INIT, VIDEO_LIST};

    use super::*;
    use crate::Grant;

    #[test]
    fn only_the_budgets_of_a_call_apply() {
        let grant = Grant::builder()
            .scopes([Scope::VideoUpload, Scope::VideoList])
            .read()
            .write()
            .calls_per_minute(5)
            .writes_per_day(2)
            .build()
            .unwrap();
        let budgets = |meta| -> Vec<Budget> {
            grant
                .budget_limits(meta)
                .into_iter()
                .map(|limit| limit.budget)
                .collect()
        };
        assert_eq!(budgets(&VIDEO_LIST), [Budget::CallsPerMinute]);
        assert_eq!(
            budgets(&INBOX_VIDEO_INIT),
            [Budget::CallsPerMinute, Budget::WritesPerDay]
        );
    }

    #[test]
    fn a_budget_of_n_refuses_call_n_plus_one_until_the_window_moves() {
        let grant = Grant::builder()
            .scopes([Scope::VideoList])
            .read()
            .calls_per_minute(2)
            .build()
            .unwrap();
        let ledger = MemoryLedger::default();
        let limits = grant.budget_limits(&VIDEO_LIST);
        let start = Instant::now();
        assert_eq!(ledger.take_at("a", &limits, start), Ok(()));
        assert_eq!(ledger.take_at("a", &limits, start), Ok(()));
        assert!(matches!(
            ledger.take_at("a", &limits, start + Duration::from_secs(59)),
            Err(Exhausted { limit: 2, retry_after, .. }) if retry_after == Duration::from_secs(1)
        ));
        assert_eq!(ledger.take_at("a", &limits, start + MINUTE), Ok(()));
    }

    #[test]
    fn a_refused_call_counts_in_no_budget() {
        let grant = Grant::builder()
            .scopes([Scope::VideoUpload])
            .write()
            .calls_per_minute(3)
            .writes_per_day(1)
            .build()
            .unwrap();
        let ledger = MemoryLedger::default();
        let limits = grant.budget_limits(&INBOX_VIDEO_INIT);
        let now = Instant::now();
        assert_eq!(ledger.take_at("a", &limits, now), Ok(()));
        assert!(ledger.take_at("a", &limits, now).is_err());
        assert!(ledger.take_at("a", &limits, now).is_err());
        // Two refusals took nothing from calls_per_minute: two of its three remain.
        let reads = [BudgetLimit {
            budget: Budget::CallsPerMinute,
            limit: 3,
            window: MINUTE,
        }];
        assert_eq!(ledger.take_at("a", &reads, now), Ok(()));
        assert_eq!(ledger.take_at("a", &reads, now), Ok(()));
        assert!(ledger.take_at("a", &reads, now).is_err());
    }
}
