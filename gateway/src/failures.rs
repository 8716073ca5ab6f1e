//! Failed sign-ins audited, bounded: an agent's unknown HTTP key, an operator's unknown
//! key at the approval page and a refused OAuth request are each recorded at most once per source address per
//! [`AUTH_FAILURE_WINDOW`], and at most [`AUTH_FAILURES_PER_WINDOW`] records per window
//! from all sources together, so a flood cannot fill the disk.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tiktok_agent::{AuditRecord, AuditSink, Decision};

use crate::audit_log::AuditLog;

/// The window failed authentications are counted in.
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// At most this many failed authentications are audited per window, from all sources
/// together (one per source).
pub const AUTH_FAILURES_PER_WINDOW: usize = 64;

/// The agent name of a failed authentication's audit record.
pub const UNAUTHENTICATED: &str = "(unauthenticated)";

/// What failed: an agent's key over HTTP, or an operator's at the approval page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An agent's `Authorization: Bearer` key at `/mcp`.
    AgentKey,
    /// An operator's key at the approval page's sign-in.
    OperatorKey,
    /// A request to the OAuth authorization server, or an OAuth token at `/mcp`.
    OAuth,
}

impl Failure {
    /// The endpoint name of its audit record.
    pub const fn endpoint(self) -> &'static str {
        match self {
            Failure::AgentKey => "http_authentication",
            Failure::OperatorKey => "approval_page_sign_in",
            Failure::OAuth => "oauth",
        }
    }

    const fn what(self) -> &'static str {
        match self {
            Failure::AgentKey => "HTTP authentication",
            Failure::OperatorKey => "approval page sign-in",
            Failure::OAuth => "an OAuth request",
        }
    }
}

/// Which sources have had a failed authentication audited in the current window, and the
/// log they are audited to. Shared by the agents' and the operators' sign-ins.
#[derive(Debug)]
pub struct FailureLog {
    audit: AuditLog,
    window: Mutex<(Instant, HashSet<IpAddr>)>,
}

impl FailureLog {
    /// Failures audited to `audit`.
    pub fn new(audit: AuditLog) -> Arc<FailureLog> {
        Arc::new(FailureLog {
            audit,
            window: Mutex::new((Instant::now(), HashSet::new())),
        })
    }

    /// Whether a failure from `source` is to be audited now: its first in this window, and
    /// the window not full.
    fn admit(&self, source: Option<IpAddr>) -> bool {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if now.duration_since(window.0) >= AUTH_FAILURE_WINDOW {
            *window = (now, HashSet::new());
        }
        // No address known (not served by `serve`): counted as one source.
        let source = source.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        window.1.len() < AUTH_FAILURES_PER_WINDOW && window.1.insert(source)
    }

    /// Audits one failure of `kind` from `source` when admitted: where from and whether a
    /// key was sent (never the key).
    pub async fn failed(&self, kind: Failure, source: Option<IpAddr>, key_sent: bool) {
        let why = if key_sent { "an unknown key" } else { "no key" };
        self.refused(kind, source, why).await;
    }

    /// Audits one failure of `kind` from `source` for `why` (never a secret), when admitted.
    pub async fn refused(&self, kind: Failure, source: Option<IpAddr>, why: &str) {
        if !self.admit(source) {
            return;
        }
        let source = source.map_or_else(|| "an unknown address".to_string(), |ip| ip.to_string());
        let reason = format!(
            "{} failed from {source}: {why}; further failures from it in the next {} s are not recorded",
            kind.what(),
            AUTH_FAILURE_WINDOW.as_secs()
        );
        let record = AuditRecord::event(
            UNAUTHENTICATED,
            "",
            kind.endpoint(),
            &serde_json::Value::Null,
            Decision::Denied,
            Some(reason),
            None,
        );
        if let Err(error) = self.audit.record(&record).await {
            tracing::error!(
                error = %tiktok_agent::error_chain(&error),
                "a failed authentication could not be audited"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_authentications_are_admitted_once_per_source_and_capped_per_window() {
        let dir = tempfile::tempdir().unwrap();
        let log = FailureLog::new(AuditLog::Sqlite(
            tiktok_agent::SqliteAuditLog::open(dir.path().join("audit.sqlite")).unwrap(),
        ));
        let source = |n: u32| Some(IpAddr::from(n.to_be_bytes()));
        assert!(log.admit(source(1)));
        assert!(!log.admit(source(1)), "once per source per window");
        let admitted = (2..1000).filter(|n| log.admit(source(*n))).count();
        assert_eq!(admitted, AUTH_FAILURES_PER_WINDOW - 1, "capped in all");
        // A new window (its start moved back past the window's length) admits again.
        log.window.lock().unwrap().0 -= AUTH_FAILURE_WINDOW;
        assert!(log.admit(source(1)));
        assert!(log.admit(None));
        assert!(!log.admit(None));
    }
}
