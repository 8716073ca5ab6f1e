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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A budget used up: which, its size, and when the window lets one more call through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub(crate) budget: Budget,
    pub(crate) limit: u32,
    pub(crate) retry_after: Duration,
}

/// The budgets of one grant and their windows.
#[derive(Debug)]
pub(crate) struct Budgets {
    pub(crate) calls_per_minute: Option<u32>,
    pub(crate) endpoint_calls_per_minute: BTreeMap<&'static str, u32>,
    pub(crate) writes_per_day: Option<u32>,
    usage: Mutex<Usage>,
}

/// The times of recent calls, for the budgets.
#[derive(Debug, Default)]
struct Usage {
    calls: VecDeque<Instant>,
    by_endpoint: BTreeMap<&'static str, VecDeque<Instant>>,
    writes: VecDeque<Instant>,
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

    /// See `Grant::count_past_call`.
    pub(crate) fn count_past_call(&self, meta: &'static EndpointMeta, ago: Duration) {
        let now = Instant::now();
        let Some(at) = now.checked_sub(ago) else {
            return;
        };
        let mut usage = match self.usage.lock() {
            Ok(usage) => usage,
            Err(poisoned) => poisoned.into_inner(),
        };
        if self.calls_per_minute.is_some() && ago < MINUTE {
            usage.calls.push_back(at);
        }
        if self.endpoint_calls_per_minute.contains_key(meta.id) && ago < MINUTE {
            usage.by_endpoint.entry(meta.id).or_default().push_back(at);
        }
        if self.writes_per_day.is_some() && meta.access == Access::Write && ago < DAY {
            usage.writes.push_back(at);
        }
    }

    /// Takes one call of `meta` at `now`, or says which budget is used up (and takes nothing).
    pub(crate) fn take_at(
        &self,
        meta: &'static EndpointMeta,
        now: Instant,
    ) -> Result<(), Exhausted> {
        let mut usage = match self.usage.lock() {
            Ok(usage) => usage,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Usage {
            calls,
            by_endpoint,
            writes,
        } = &mut *usage;
        let endpoint_calls = by_endpoint.entry(meta.id).or_default();
        let write = meta.access == Access::Write;
        let checks = [
            (self.calls_per_minute, Budget::CallsPerMinute, MINUTE, true),
            (
                self.endpoint_calls_per_minute.get(meta.id).copied(),
                Budget::EndpointCallsPerMinute(meta.id),
                MINUTE,
                true,
            ),
            (self.writes_per_day, Budget::WritesPerDay, DAY, write),
        ];
        let mut windows: [&mut VecDeque<Instant>; 3] = [calls, endpoint_calls, writes];
        for ((limit, budget, window, applies), times) in checks.iter().zip(windows.iter_mut()) {
            while times
                .front()
                .is_some_and(|first| now.duration_since(*first) >= *window)
            {
                times.pop_front();
            }
            if let (Some(limit), true) = (limit, applies)
                && times.len() >= *limit as usize
            {
                let retry_after = times
                    .front()
                    .map(|first| window.saturating_sub(now.duration_since(*first)))
                    .unwrap_or(*window);
                return Err(Exhausted {
                    budget: budget.clone(),
                    limit: *limit,
                    retry_after,
                });
            }
        }
        for ((limit, _, _, applies), times) in checks.iter().zip(windows.iter_mut()) {
            if limit.is_some() && *applies {
                times.push_back(now);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;
    use crate::endpoints::{INBOX_VIDEO_INIT, VIDEO_LIST};
    use crate::runtime::grant::{DenyReason, Grant};

    #[test]
    fn past_calls_count_against_the_budgets() {
        let grant = Grant::builder()
            .scopes([Scope::VideoUpload])
            .write()
            .writes_per_day(2)
            .build()
            .unwrap();
        grant.count_past_call(&INBOX_VIDEO_INIT, Duration::from_secs(25 * 3600));
        grant.count_past_call(&INBOX_VIDEO_INIT, Duration::from_secs(3600));
        assert_eq!(grant.take_budget(&INBOX_VIDEO_INIT), Ok(()));
        assert!(matches!(
            grant.take_budget(&INBOX_VIDEO_INIT),
            Err(DenyReason::BudgetExhausted {
                budget: Budget::WritesPerDay,
                ..
            })
        ));
    }

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
