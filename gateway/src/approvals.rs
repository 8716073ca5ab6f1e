//! Calls held for a human's decision, shared by the server (which parks them) and the
//! `approvals` commands and page (which decide them), kept in an [`ApprovalStore`]: the
//! gateway's SQLite state file ([`SqliteApprovals`]) or its Postgres database
//! ([`PgApprovals`]). A call moves `pending` → `running` → `done`, `failed` or `unknown`
//! (sent, but its outcome could not be audited), `pending` → `denied`, or `pending` →
//! `expired` once its deadline (the agent's `approval_ttl` after it was parked) has passed
//! undecided; the move out of `pending` is one conditional update, so an approved call runs
//! exactly once however many approve it, from whichever process, and never after its
//! deadline.

mod model;
mod pg;
mod sqlite;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub use model::{
    Approval, ApprovalError, ApprovalState, ApprovalStore, EXPIRED_BY, Ending, rfc3339,
};
pub use pg::PgApprovals;
pub use sqlite::SqliteApprovals;

use crate::now_ms;

/// The gateway's clock, Unix milliseconds: the system's, or one a test sets.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock ([`crate::now_ms`]).
    pub fn system() -> Clock {
        Clock(Arc::new(now_ms))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// Now, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// The held calls, in their store, read on the gateway's clock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Approvals {
    store: Arc<dyn ApprovalStore>,
    clock: Clock,
}

impl Approvals {
    /// The approvals in `store`, on the system clock.
    pub fn new(store: Arc<dyn ApprovalStore>) -> Approvals {
        Approvals {
            store,
            clock: Clock::system(),
        }
    }

    /// The same approvals read on `clock` (tests set the time).
    pub fn with_clock(mut self, clock: Clock) -> Approvals {
        self.clock = clock;
        self
    }

    /// The clock deadlines are read on.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A new approval id (`apv_` and 32 hex digits: 128 random bits).
    pub fn new_id() -> String {
        format!("apv_{}", hex::encode(rand::random::<[u8; 16]>()))
    }

    /// Whether `text` has the shape of an approval id.
    pub fn is_id(text: &str) -> bool {
        text.strip_prefix("apv_").is_some_and(|hex| {
            hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    }

    /// How many of `agent`'s calls wait for a human.
    pub async fn pending(&self, agent: &str) -> Result<u32, ApprovalError> {
        Ok(self.store.pending(agent).await?)
    }

    /// Holds a call under `id` (from [`Approvals::new_id`]) until `ttl` from now unless
    /// `agent` already has `max_pending` calls waiting: the count and the insert are one
    /// step, so agents' sessions side by side cannot go past the cap together. Returns its
    /// deadline, Unix milliseconds.
    #[allow(clippy::too_many_arguments)]
    pub async fn park(
        &self,
        id: &str,
        agent: &str,
        open_id: &str,
        tool: &str,
        arguments: &Value,
        max_pending: u32,
        ttl: Duration,
    ) -> Result<i64, ApprovalError> {
        let now = self.clock.now_ms();
        let expires_ms = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let approval = Approval {
            id: id.to_string(),
            created_ms: now,
            agent: agent.to_string(),
            open_id: open_id.to_string(),
            tool: tool.to_string(),
            arguments: arguments.clone(),
            state: ApprovalState::Pending,
            decided_ms: None,
            decided_by: None,
            outcome: None,
            expires_ms,
        };
        if !self.store.park(&approval, max_pending).await? {
            return Err(ApprovalError::TooManyPending {
                agent: agent.to_string(),
                limit: max_pending,
            });
        }
        Ok(expires_ms)
    }

    /// Moves every pending approval past its deadline to `expired` and returns them: one
    /// step, so each expires once, for one caller, whoever asks first (the caller audits
    /// them).
    pub async fn expire_due(&self) -> Result<Vec<Approval>, ApprovalError> {
        Ok(self.store.expire_due(self.clock.now_ms()).await?)
    }

    /// The approval `id`.
    pub async fn get(&self, id: &str) -> Result<Approval, ApprovalError> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| ApprovalError::Unknown(id.to_string()))
    }

    /// Every approval, oldest first; only those in `state` if given.
    pub async fn list(&self, state: Option<ApprovalState>) -> Result<Vec<Approval>, ApprovalError> {
        Ok(self.store.list(state).await?)
    }

    /// Moves `id` from `pending` to `running` for `by`, or says why not (decided, or past
    /// its deadline); only one caller ever succeeds.
    pub async fn claim(&self, id: &str, by: &str) -> Result<Approval, ApprovalError> {
        self.decide(id, by, ApprovalState::Running).await
    }

    /// Moves `id` from `pending` to `denied`.
    pub async fn deny(&self, id: &str, by: &str) -> Result<Approval, ApprovalError> {
        self.decide(id, by, ApprovalState::Denied).await
    }

    async fn decide(
        &self,
        id: &str,
        by: &str,
        state: ApprovalState,
    ) -> Result<Approval, ApprovalError> {
        let now = self.clock.now_ms();
        if let Some(moved) = self.store.decide(id, by, state, now).await? {
            return Ok(moved);
        }
        // Not moved: read it only to say why.
        let approval = self.get(id).await?;
        let expired = approval.state == ApprovalState::Expired
            || (approval.state == ApprovalState::Pending && approval.expires_ms <= now);
        Err(if expired {
            ApprovalError::Expired {
                id: id.to_string(),
                expires_ms: approval.expires_ms,
            }
        } else {
            ApprovalError::NotPending {
                id: id.to_string(),
                state: approval.state,
            }
        })
    }

    /// Records how a running call ended, and its outcome (data or error).
    pub async fn finish(
        &self,
        id: &str,
        ending: Ending,
        value: &Value,
    ) -> Result<(), ApprovalError> {
        let state = match ending {
            Ending::Done => ApprovalState::Done,
            Ending::Failed => ApprovalState::Failed,
            Ending::Unknown => ApprovalState::Unknown,
        };
        Ok(self.store.finish(id, state, value).await?)
    }
}

#[cfg(test)]
mod tests;
