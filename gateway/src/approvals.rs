//! Calls held for a human's decision, in the gateway's state file shared by the server
//! (which parks them) and the `approvals` commands (which decide them). A call moves
//! `pending` → `running` → `done`, `failed` or `unknown` (sent, but its outcome could not be
//! audited), `pending` → `denied`, or `pending` → `expired` once its deadline (the agent's
//! `approval_ttl` after it was parked) has passed undecided; the move out of `pending` is one
//! conditional update, so an approved call runs exactly once however many approve it, and
//! never after its deadline.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;
use tiktok_agent::{StateError, StateFile};

use crate::now_ms;

const TABLE: &str = "
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    agent TEXT NOT NULL,
    open_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'unknown', 'denied', 'expired')),
    decided_ms INTEGER,
    decided_by TEXT,
    outcome TEXT,
    expires_ms INTEGER NOT NULL
);
";

const INDEX: &str = "CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state, created_ms);";

/// The deadline given to approvals parked before approvals had one: the default ttl.
const LEGACY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

const COLUMNS: &str = "id, created_ms, agent, open_id, tool, arguments, state, decided_ms, decided_by, outcome, expires_ms";

/// Who an expired approval is recorded as decided by.
pub const EXPIRED_BY: &str = "gateway (approval_ttl)";

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

impl ToSql for ApprovalState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ApprovalState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        ApprovalState::parse(name)
            .ok_or_else(|| FromSqlError::Other(format!("no approval state {name:?}").into()))
    }
}

/// The approvals in the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The state file failed.
    #[error("approvals")]
    Store(#[from] StateError),
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
    /// Its id ([`Approvals::new_id`]).
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

/// The held calls in the gateway's state file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Approvals {
    state: StateFile,
    clock: Clock,
}

impl Approvals {
    /// The approvals in `state` (their table created if missing, or brought up to date
    /// from one without deadlines), on the system clock.
    pub fn new(state: StateFile) -> Result<Approvals, ApprovalError> {
        state.with(|connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let sql: Option<String> = transaction
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'approvals'",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
            match sql {
                None => transaction.execute_batch(TABLE)?,
                Some(sql) if sql.contains("expires_ms") => {}
                Some(_) => {
                    // A file from before deadlines and the `expired` state: the table is
                    // rebuilt (SQLite cannot change a CHECK), old approvals given the default.
                    transaction.execute_batch("ALTER TABLE approvals RENAME TO approvals_v1;")?;
                    transaction.execute_batch(TABLE)?;
                    transaction.execute(
                        &format!(
                            "INSERT INTO approvals ({COLUMNS})
                             SELECT id, created_ms, agent, open_id, tool, arguments, state,
                                    decided_ms, decided_by, outcome, created_ms + {LEGACY_TTL_MS}
                             FROM approvals_v1"
                        ),
                        [],
                    )?;
                    transaction.execute_batch("DROP TABLE approvals_v1;")?;
                }
            }
            transaction.execute_batch(INDEX)?;
            transaction.commit()
        })?;
        Ok(Approvals {
            state,
            clock: Clock::system(),
        })
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
    pub fn pending(&self, agent: &str) -> Result<u32, ApprovalError> {
        Ok(self.state.with(|connection| {
            connection.query_row(
                "SELECT count(*) FROM approvals WHERE agent = ?1 AND state = 'pending'",
                params![agent],
                |row| row.get(0),
            )
        })?)
    }

    /// Holds a call under `id` (from [`Approvals::new_id`]) until `ttl` from now unless
    /// `agent` already has `max_pending` calls waiting: the count and the insert are one
    /// statement, so agents' sessions side by side cannot go past the cap together. Returns
    /// its deadline, Unix milliseconds.
    #[allow(clippy::too_many_arguments)]
    pub fn park(
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
        let inserted = self.state.with(|connection| {
            connection.execute(
                "INSERT INTO approvals (id, created_ms, agent, open_id, tool, arguments, state, expires_ms)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?8
                 WHERE (SELECT count(*) FROM approvals WHERE agent = ?3 AND state = 'pending') < ?7",
                params![id, now, agent, open_id, tool, arguments.to_string(), max_pending, expires_ms],
            )
        })?;
        if inserted == 0 {
            return Err(ApprovalError::TooManyPending {
                agent: agent.to_string(),
                limit: max_pending,
            });
        }
        Ok(expires_ms)
    }

    /// Moves every pending approval past its deadline to `expired` and returns them: one
    /// statement, so each expires once, for one caller, whoever asks first (the caller
    /// audits them).
    pub fn expire_due(&self) -> Result<Vec<Approval>, ApprovalError> {
        let now = self.clock.now_ms();
        Ok(self.state.with(|connection| {
            let mut statement = connection.prepare(&format!(
                "UPDATE approvals SET state = 'expired', decided_ms = ?1, decided_by = ?2
                 WHERE state = 'pending' AND expires_ms <= ?1
                 RETURNING {COLUMNS}"
            ))?;
            let rows = statement.query_map(params![now, EXPIRED_BY], row_to_approval)?;
            rows.collect()
        })?)
    }

    /// The approval `id`.
    pub fn get(&self, id: &str) -> Result<Approval, ApprovalError> {
        self.state
            .with(|connection| {
                connection
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1"),
                        params![id],
                        row_to_approval,
                    )
                    .optional()
            })?
            .ok_or_else(|| ApprovalError::Unknown(id.to_string()))
    }

    /// Every approval, oldest first; only those in `state` if given.
    pub fn list(&self, state: Option<ApprovalState>) -> Result<Vec<Approval>, ApprovalError> {
        Ok(self.state.with(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE ?1 IS NULL OR state = ?1 ORDER BY created_ms, id"
            ))?;
            let rows = statement.query_map(params![state], row_to_approval)?;
            rows.collect()
        })?)
    }

    /// Moves `id` from `pending` to `running` for `by`, or says why not (decided, or past
    /// its deadline); only one caller ever succeeds.
    pub fn claim(&self, id: &str, by: &str) -> Result<Approval, ApprovalError> {
        self.decide(id, by, ApprovalState::Running)
    }

    /// Moves `id` from `pending` to `denied`.
    pub fn deny(&self, id: &str, by: &str) -> Result<Approval, ApprovalError> {
        self.decide(id, by, ApprovalState::Denied)
    }

    fn decide(&self, id: &str, by: &str, state: ApprovalState) -> Result<Approval, ApprovalError> {
        let now = self.clock.now_ms();
        let changed = self.state.with(|connection| {
            connection.execute(
                "UPDATE approvals SET state = ?2, decided_ms = ?3, decided_by = ?4
                 WHERE id = ?1 AND state = 'pending' AND expires_ms > ?3",
                params![id, state, now, by],
            )
        })?;
        let approval = self.get(id)?;
        let expired = approval.state == ApprovalState::Expired
            || (approval.state == ApprovalState::Pending && approval.expires_ms <= now);
        if changed == 0 && expired {
            return Err(ApprovalError::Expired {
                id: id.to_string(),
                expires_ms: approval.expires_ms,
            });
        }
        if changed == 0 {
            return Err(ApprovalError::NotPending {
                id: id.to_string(),
                state: approval.state,
            });
        }
        Ok(approval)
    }

    /// Records how a running call ended, and its outcome (data or error).
    pub fn finish(&self, id: &str, ending: Ending, value: &Value) -> Result<(), ApprovalError> {
        let state = match ending {
            Ending::Done => ApprovalState::Done,
            Ending::Failed => ApprovalState::Failed,
            Ending::Unknown => ApprovalState::Unknown,
        };
        self.state.with(|connection| {
            connection.execute(
                "UPDATE approvals SET state = ?2, outcome = ?3 WHERE id = ?1 AND state = 'running'",
                params![id, state, value.to_string()],
            )
        })?;
        Ok(())
    }
}

fn row_to_approval(row: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    let json = |text: Option<String>| {
        text.map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text)))
    };
    Ok(Approval {
        id: row.get(0)?,
        created_ms: row.get(1)?,
        agent: row.get(2)?,
        open_id: row.get(3)?,
        tool: row.get(4)?,
        arguments: json(Some(row.get(5)?)).unwrap_or(Value::Null),
        state: row.get(6)?,
        decided_ms: row.get(7)?,
        decided_by: row.get(8)?,
        outcome: json(row.get(9)?),
        expires_ms: row.get(10)?,
    })
}

#[cfg(test)]
mod tests;
