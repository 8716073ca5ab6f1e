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

pub mod accounts;
pub mod approvals;
pub mod audit_cli;
pub mod config;
pub mod gateway;
pub mod http;
pub mod mcp;
pub mod pii;

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
