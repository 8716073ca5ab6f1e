//! A grant's budgets: calls per minute (all endpoints, or one), writes per day, each a
//! sliding window of the times of recent calls.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::meta::{Access, EndpointMeta};

/// A minute, the window of the per-minute budgets (and of TikTok's rate limits).
const MINUTE: Duration = Duration::from_secs(60);
/// A day, the window of the daily write budget.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Which budget a call would exceed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Budget {
    /// Calls by the agent in any 60 s window, all endpoints together.
    CallsPerMinute,
    /// Calls by the agent to one endpoint in any 60 s window.
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

/// One budget that applies to a call: which, its size, its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLimit {
    /// Which budget.
    pub budget: Budget,
    /// How many calls its window holds.
    pub limit: u32,
    /// The window (a minute or a day).
    pub window: Duration,
}

/// A budget used up: which, its size, and when the window lets one more call through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// Which budget.
    pub budget: Budget,
    /// Its size.
    pub limit: u32,
    /// How long until the window lets one more call through.
    pub retry_after: Duration,
}

/// Where a grant's budgets are counted when several processes act for one agent (the
/// grant itself counts in memory, for one process): the check and the count of a call are
/// one atomic step for every process sharing the ledger.
#[cfg(feature = "client")]
#[async_trait::async_trait]
pub trait BudgetLedger: Send + Sync + fmt::Debug {
    /// Counts one call of `meta` by `agent` now, unless one of `limits` (the budgets that
    /// apply to this call) is used up; then counts nothing and says which. `Err(Err(_))`
    /// when the ledger itself failed (the call is then refused).
    async fn take(
        &self,
        agent: &str,
        meta: &'static EndpointMeta,
        limits: &[BudgetLimit],
    ) -> Result<(), Result<Exhausted, String>>;
}

/// The budgets of one grant and their windows in memory.
#[derive(Debug)]
pub(crate) struct Budgets {
    pub(crate) calls_per_minute: Option<u32>,
    pub(crate) endpoint_calls_per_minute: BTreeMap<&'static str, u32>,
    pub(crate) writes_per_day: Option<u32>,
    /// The times of recent calls, per budget.
    usage: Mutex<BTreeMap<Budget, VecDeque<Instant>>>,
}

impl Budgets {
    pub(crate) fn new(
        calls_per_minute: Option<u32>,
        endpoint_calls_per_minute: BTreeMap<&'static str, u32>,
        writes_per_day: Option<u32>,
    ) -> Self {
        Budgets {
            calls_per_minute,
            endpoint_calls_per_minute,
            writes_per_day,
            usage: Mutex::default(),
        }
    }

    /// The budgets a call of `meta` counts against.
    pub(crate) fn limits_for(&self, meta: &'static EndpointMeta) -> Vec<BudgetLimit> {
        let write = meta.access == Access::Write;
        let candidates = [
            (self.calls_per_minute, Budget::CallsPerMinute, MINUTE),
            (
                self.endpoint_calls_per_minute.get(meta.id).copied(),
                Budget::EndpointCallsPerMinute(meta.id),
                MINUTE,
            ),
            (
                self.writes_per_day.filter(|_| write),
                Budget::WritesPerDay,
                DAY,
            ),
        ];
        candidates
            .into_iter()
            .filter_map(|(limit, budget, window)| {
                limit.map(|limit| BudgetLimit {
                    budget,
                    limit,
                    window,
                })
            })
            .collect()
    }

    /// Takes one call of `meta` at `now`, or says which budget is used up (and takes nothing).
    pub(crate) fn take_at(
        &self,
        meta: &'static EndpointMeta,
        now: Instant,
    ) -> Result<(), Exhausted> {
        let limits = self.limits_for(meta);
        let mut usage = match self.usage.lock() {
            Ok(usage) => usage,
            Err(poisoned) => poisoned.into_inner(),
        };
        for limit in &limits {
            let times = usage.entry(limit.budget.clone()).or_default();
            while times
                .front()
                .is_some_and(|first| now.duration_since(*first) >= limit.window)
            {
                times.pop_front();
            }
            if times.len() >= limit.limit as usize {
                let retry_after = times
                    .front()
                    .map(|first| limit.window.saturating_sub(now.duration_since(*first)))
                    .unwrap_or(limit.window);
                return Err(Exhausted {
                    budget: limit.budget.clone(),
                    limit: limit.limit,
                    retry_after,
                });
            }
        }
        for limit in &limits {
            usage
                .entry(limit.budget.clone())
                .or_default()
                .push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;
    use crate::endpoints::{INBOX_VIDEO_INIT, VIDEO_LIST};

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
    use crate::runtime::grant::{DenyReason, Grant};

    #[test]
    fn a_budget_of_n_refuses_call_n_plus_one_until_the_window_moves() {
        let grant = Grant::builder()
            .scopes([Scope::VideoList])
            .read()
            .calls_per_minute(2)
            .build()
            .unwrap();
        let start = Instant::now();
        assert_eq!(grant.take_budget_at(&VIDEO_LIST, start), Ok(()));
        assert_eq!(grant.take_budget_at(&VIDEO_LIST, start), Ok(()));
        assert!(matches!(
            grant.take_budget_at(&VIDEO_LIST, start + Duration::from_secs(59)),
            Err(DenyReason::BudgetExhausted { limit: 2, .. })
        ));
        assert_eq!(
            grant.take_budget_at(&VIDEO_LIST, start + Duration::from_secs(60)),
            Ok(())
        );
    }
}
