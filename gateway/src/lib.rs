//! `tiktok-gateway`: an MCP server that gives each AI agent exactly the TikTok access it is
//! granted, scope by scope, and audits every call.
//!
//! The modules follow the life of a call:
//! - [`config`]: the YAML file (app, accounts, agents, audit log, state file);
//!   [`secret`]: the app's client secret from the environment or an owner-only file.
//! - [`gateway`]: [`gateway::Gateway`] opens the client, the audit log and the state file,
//!   finds each account's tokens and makes one [`agent::AgentHandle`] per agent;
//!   [`tools`]: the tools an agent sees (the manifest filtered by its grant, the approval
//!   tool).
//! - [`agent`]: a tool call through the grant, a write parked for a human, the approval
//!   status tool (personal data in research results masked with `tiktok_api::pii`); [`uploads`]: no
//!   TikTok upload URL reaches an agent.
//! - [`approvals`]: held writes in the state file; [`approve`]: a human's approve or deny,
//!   each step audited; [`expiry`]: approvals past their deadline; [`notify`]: a signed event to the operator's hook when one is
//!   created or decided.
//! - [`audit_cli`]: reading the audit log; [`terminal`]: every line an operator reads,
//!   escaped, and a closed pipe that ends output quietly.
//! - [`mcp`]: the MCP server on `rmcp`; [`http`]: its streamable HTTP transport with
//!   per-agent keys (stdio needs no module of its own); [`failures`]: failed sign-ins
//!   audited, bounded; [`web`]: the approval page, where operators sign in and decide held
//!   calls; [`oauth`]: the OAuth authorization server remote MCP clients sign in with;
//!   [`accounts`]: login and token import; [`server`]: all that `serve --http` serves;
//!   [`request`]: a request's peer address and whether its host is answered.
//!
//! Grants, budgets, tool arguments and the audit log are `tiktok-agent`'s; what every process
//! shares (approvals, budget counts, OAuth records) is a [`state::SharedState`]: one
//! `tiktok_agent::StateFile`, or a Postgres database.

pub mod accounts;
pub mod agent;
pub mod approvals;
pub mod approve;
pub mod audit_cli;
pub mod audit_log;
pub mod config;
pub mod error;
pub mod expiry;
pub mod failures;
pub mod gateway;
pub mod health;
pub mod http;
pub mod mcp;
pub mod migrate;
pub mod notify;
pub mod oauth;
pub mod request;
pub mod schema;
pub mod secret;
pub mod server;
pub mod state;
pub mod terminal;
pub mod tools;
pub mod uploads;
pub mod web;

use std::time::{SystemTime, UNIX_EPOCH};

/// Where the approval page is served, by `serve --http` and `approvals web` alike.
pub const APPROVALS_PATH: &str = "/approvals";

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// `TIKTOK_GATEWAY_LOG` (default `warn`), with the libraries that would log whole MCP
/// messages or HTTP traffic (arguments and answers, personal data included) held at
/// `info` at most whatever it says (capped, never raised: with the default they log
/// warnings only): the gateway logs each call itself, redacted as the audit is.
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    filter_from(std::env::var("TIKTOK_GATEWAY_LOG").ok().as_deref())
}

/// [`log_filter`] from the variable's value.
fn filter_from(chosen: Option<&str>) -> tracing_subscriber::EnvFilter {
    let mut filter = chosen
        .and_then(|text| tracing_subscriber::EnvFilter::try_new(text).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("warn,tiktok_agent::audit=off"));
    let verbose = filter
        .max_level_hint()
        .is_none_or(|level| level > tracing_subscriber::filter::LevelFilter::INFO);
    if !verbose {
        return filter;
    }
    for quiet in [
        "rmcp=info",
        "hyper=info",
        "hyper_util=info",
        "reqwest=info",
        "h2=info",
    ] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Ctrl-C and, on Unix, SIGTERM, caught from the moment this is made: make it once, at
/// the start of `main`, so a signal that comes early is not lost. Cheap to clone; every
/// clone sees the same signal, however many times it waits (a loop that polls and waits
/// keeps one). A second signal ends the process at once (exit code 130), so a shutdown that
/// hangs can still be interrupted.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signalled: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// Installs the handlers (inside a Tokio runtime) and the task that watches them.
    pub fn install() -> std::io::Result<Shutdown> {
        let (sender, signalled) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut interrupt = signal(SignalKind::interrupt())?;
            let mut terminate = signal(SignalKind::terminate())?;
            tokio::spawn(async move {
                for signals in 0.. {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                    if signals > 0 {
                        std::process::exit(130);
                    }
                    let _ = sender.send(true);
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = sender.send(true);
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        });
        Ok(Shutdown { signalled })
    }

    /// Resolves when a signal has come (at once if one already has).
    pub async fn wait(&mut self) {
        // An error means the watching task is gone, which happens only as the runtime stops.
        let _ = self.signalled.wait_for(|signalled| *signalled).await;
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::filter::LevelFilter;

    use super::filter_from;

    #[test]
    fn libraries_are_capped_at_info_and_never_raised() {
        let default = filter_from(None);
        assert_eq!(default.max_level_hint(), Some(LevelFilter::WARN));
        assert!(!default.to_string().contains("rmcp"), "{default}");
        let debug = filter_from(Some("debug"));
        assert!(debug.to_string().contains("rmcp=info"), "{debug}");
        assert_eq!(
            filter_from(Some("not a [filter")).max_level_hint(),
            Some(LevelFilter::WARN)
        );
    }
}
