//! What a held call is ([`Approval`], [`ApprovalState`], [`Ending`]), why the approvals
//! refused a step ([`ApprovalError`]), and [`ApprovalStore`], where approvals are kept: the
//! SQLite state file or a Postgres database, each move out of `pending` one conditional
//! update, so it happens once whichever process asks.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use tiktok_agent::StoreError;

/// Who an expired approval is recorded as decided by.
pub const EXPIRED_BY: &str = "gateway (approval_ttl)";

/// Unix milliseconds as RFC 3339 (UTC, to the millisecond, so a deadline is never shown
/// earlier than it is).
pub fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Where a held call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for a human.
    Pending,
    /// Approved, and being sent.
    Running,
    /// Sent; its data is the outcome.
    Done,
    /// Sent or refused on the way, and failed; the error is the outcome.
    Failed,
    /// Sent, but its outcome could not be audited.
    Unknown,
    /// Refused by a human; never sent.
    Denied,
    /// Not decided before its deadline; never sent.
    Expired,
}

impl ApprovalState {
    /// Every state, in the order of a call's life.
    pub const ALL: [ApprovalState; 7] = [
        ApprovalState::Pending,
        ApprovalState::Running,
        ApprovalState::Done,
        ApprovalState::Failed,
        ApprovalState::Unknown,
        ApprovalState::Denied,
        ApprovalState::Expired,
    ];

    /// Its name in the state file and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Running => "running",
            ApprovalState::Done => "done",
            ApprovalState::Failed => "failed",
            ApprovalState::Unknown => "unknown",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<ApprovalState> {
        ApprovalState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The approvals could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The store (the state file, or the state's Postgres database) failed.
    #[error("approvals")]
    Store(#[from] StoreError),
    /// No approval has this id.
    #[error("no approval {0:?}")]
    Unknown(String),
    /// The agent has as many calls waiting as it may; one must be decided first.
    #[error(
        "agent {agent} already has {limit} writes waiting for a human (its max_pending_approvals); one must be approved or denied first"
    )]
    TooManyPending {
        /// The agent.
        agent: String,
        /// Its cap.
        limit: u32,
    },
    /// The approval was not decided before its deadline; it never runs.
    #[error(
        "approval {id} expired at {} without a decision (its agent's approval_ttl); it will never run: the agent must make the call again",
        rfc3339(*expires_ms)
    )]
    Expired {
        /// The approval.
        id: String,
        /// Its deadline, Unix milliseconds.
        expires_ms: i64,
    },
    /// The approval was already decided.
    #[error("approval {id} is {state}, not pending")]
    NotPending {
        /// The approval.
        id: String,
        /// Its state.
        state: ApprovalState,
    },
}

/// How a running call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It ran; the outcome is its data.
    Done,
    /// It failed before or at TikTok; the outcome is the error.
    Failed,
    /// It was sent, but its outcome could not be audited.
    Unknown,
}

/// One held call and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// Its id (`Approvals::new_id`).
    pub id: String,
    /// When it was parked, Unix milliseconds.
    pub created_ms: i64,
    /// The agent that asked.
    pub agent: String,
    /// The account (`open_id`) it acts on.
    pub open_id: String,
    /// The tool (endpoint id).
    pub tool: String,
    /// The arguments, as the agent sent them.
    pub arguments: Value,
    /// Where it is in its life.
    pub state: ApprovalState,
    /// When it was decided.
    pub decided_ms: Option<i64>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// The call's result (`done`) or error (`failed`) as JSON.
    pub outcome: Option<Value>,
    /// Its deadline, Unix milliseconds: undecided then, it expires.
    pub expires_ms: i64,
}

impl Approval {
    /// One line of `approvals list`: id, state, created, deadline, agent, tool, arguments
    /// (the agent's text: printed through [`crate::terminal`], which escapes it).
    pub fn line(&self) -> String {
        let created =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.created_ms.max(0) as u64);
        format!(
            "{} {} {} expires {} {} {} {}",
            self.id,
            self.state,
            humantime::format_rfc3339_seconds(created),
            rfc3339(self.expires_ms),
            self.agent,
            self.tool,
            self.arguments
        )
    }
}

/// A stored JSON text read back: the value, or the text itself if it is not JSON.
pub(super) fn stored_json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Where approvals are kept, shared by every process of a gateway. Each method is one
/// atomic step for all of them.
#[async_trait]
pub trait ApprovalStore: Send + Sync + fmt::Debug {
    /// How many of `agent`'s calls wait for a human.
    async fn pending(&self, agent: &str) -> Result<u32, StoreError>;

    /// Keeps `approval` (pending) unless its agent already has `max_pending` calls
    /// waiting, the count and the insert one step; whether it was kept.
    async fn park(&self, approval: &Approval, max_pending: u32) -> Result<bool, StoreError>;

    /// Moves every pending approval whose deadline is at or before `now_ms` to `expired`,
    /// decided by [`EXPIRED_BY`], and returns them: each expires once, for one caller.
    async fn expire_due(&self, now_ms: i64) -> Result<Vec<Approval>, StoreError>;

    /// The approval `id`, if any.
    async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError>;

    /// Every approval, oldest first; only those in `state` if given.
    async fn list(&self, state: Option<ApprovalState>) -> Result<Vec<Approval>, StoreError>;

    /// Moves `id` from `pending` to `to`, decided by `by` at `now_ms`, if it is pending
    /// and its deadline is after `now_ms`, in one `UPDATE … RETURNING`: the approval as
    /// moved, or `None` when it did not move (only one caller ever moves it).
    async fn decide(
        &self,
        id: &str,
        by: &str,
        to: ApprovalState,
        now_ms: i64,
    ) -> Result<Option<Approval>, StoreError>;

    /// Moves `id` from `running` to `to`, with its outcome.
    async fn finish(&self, id: &str, to: ApprovalState, outcome: &Value) -> Result<(), StoreError>;
}
