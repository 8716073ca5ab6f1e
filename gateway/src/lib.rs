//! `tiktok-gateway`: an MCP server that gives each AI agent exactly the TikTok access it is
//! granted, scope by scope, and audits every call.
//!
//! - [`config`]: the YAML file (app, accounts, agents, audit log).
//! - [`gateway`]: the client holding the app secret and tokens, one [`gateway::AgentHandle`]
//!   per agent (grant, tools, approvals), the audit log.
//! - [`mcp`]: the MCP server on `rmcp`; [`http`]: its streamable HTTP transport with
//!   per-agent keys (stdio needs no module of its own).
//! - [`approvals`]: writes held for a human; [`accounts`]: login and token import;
//!   [`pii`]: personal data masked in research results; [`audit_cli`]: reading the log.
//!
//! Grants, budgets, tool arguments and the audit log are `tiktok-agent`'s; the state file
//! (approvals and budget counts) is one `tiktok_agent::StateFile`.

pub mod accounts;
pub mod approvals;
pub mod audit_cli;
pub mod config;
pub mod gateway;
pub mod http;
pub mod mcp;
pub mod pii;

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Ctrl-C and, on Unix, SIGTERM, caught from the moment this is made: make it once, at
/// the start of `main`, so a signal that comes early is not lost, and wait on the same one
/// however many times (a loop that polls and waits keeps it).
#[derive(Debug)]
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Installs the handlers (inside a Tokio runtime).
    pub fn install() -> std::io::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Resolves when a signal has come (at once if one came since the last wait).
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
