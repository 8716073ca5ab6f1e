//! `tiktok-gateway`: an MCP server that gives each AI agent exactly the TikTok access it is
//! granted, scope by scope, and audits every call.
//!
//! - [`config`]: the YAML file (app, accounts, agents, audit log).
//! - [`gateway`]: the client holding the app secret and tokens, one [`gateway::AgentHandle`]
//!   per agent (grant, tools, approvals), the audit log.
//! - [`mcp`]: the MCP server on `rmcp`; [`http`]: its streamable HTTP transport with
//!   per-agent keys (stdio needs no module of its own).
//! - [`approvals`]: writes held for a human; [`accounts`]: login and token import;
//!   [`pii`]: personal data masked in research results; [`audit_cli`]: reading the log;
//!   [`ledger`]: budgets shared by every process of the gateway.

pub mod accounts;
pub mod approvals;
pub mod audit_cli;
pub mod config;
pub mod gateway;
pub mod http;
pub mod ledger;
pub mod mcp;
pub mod pii;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Opens (or creates, owner-only: it holds agents' arguments) one of the gateway's SQLite
/// files, in WAL mode with full sync, waiting for other processes' short transactions.
pub(crate) fn open_private_sqlite(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    tiktok_api::runtime::audit_sqlite::create_private(path).map_err(|error| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("{}: {error}", path.display())),
        )
    })?;
    let connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(connection)
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
