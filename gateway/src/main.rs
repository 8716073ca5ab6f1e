//! The `tiktok-gateway` command: serve agents over MCP (stdio or streamable HTTP), decide
//! held writes, log accounts in, read the audit log.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use rmcp::ServiceExt;
use tiktok_agent::{Decision, error_chain};
use tiktok_gateway::agent::error_json;
use tiktok_gateway::config::Config;
use tiktok_gateway::failures::FailureLog;
use tiktok_gateway::gateway::Gateway;
use tiktok_gateway::mcp::GatewayServer;
use tiktok_gateway::terminal::{self, ClosedPipe, PrintError};
use tiktok_gateway::{accounts, audit_cli, http, migrate, web};

/// Prints one line on stdout, escaped; a closed stdout ends the command quietly.
macro_rules! say {
    ($($arg:tt)*) => { terminal::print(&format!($($arg)*))? };
}

/// Prints one line on stderr, escaped.
macro_rules! note {
    ($($arg:tt)*) => { terminal::eprint(&format!($($arg)*)) };
}

#[derive(Parser)]
#[command(
    name = "tiktok-gateway",
    version,
    about = "An MCP gateway to the TikTok v2 API: each agent gets exactly the access it needs, and every call is checked and audited."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ConfigArg {
    /// The gateway's YAML config.
    #[arg(long, env = "TIKTOK_GATEWAY_CONFIG", value_name = "FILE")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serves MCP: to one agent over stdio, or to agents with keys over streamable HTTP.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// The agent (required over stdio; over HTTP, serve only this one).
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        /// Serve streamable HTTP at ADDR instead of stdio (loopback unless told otherwise).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = http::DEFAULT_ADDR)]
        http: Option<SocketAddr>,
    },
    /// Lists, approves or denies writes held for a human.
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// Logs an account in with OAuth and PKCE and stores its tokens.
    Login {
        #[command(flatten)]
        config: ConfigArg,
        /// The account (a key under `accounts`).
        #[arg(long, value_name = "NAME")]
        account: String,
        /// Finish a login started earlier: the code, or the whole redirect URL.
        #[arg(long, value_name = "CODE")]
        code: Option<String>,
        /// Print the authorize URL and stop (finish later with --code).
        #[arg(long, conflicts_with = "code")]
        no_wait: bool,
    },
    /// Manages accounts' tokens.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Creates or upgrades the schema of the config's Postgres databases.
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Reads and checks the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Makes agent keys for `serve --http`.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Checks the config and each agent's grant against its account's token.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum ApprovalsCommand {
    /// Lists pending approvals (or all with --all).
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Every approval, decided or not.
        #[arg(long)]
        all: bool,
    },
    /// Approves a held call: it runs now, exactly once, and its outcome is kept.
    Approve {
        #[command(flatten)]
        config: ConfigArg,
        /// The approval id.
        id: String,
        /// Who approves (default: the user running the command).
        #[arg(long)]
        by: Option<String>,
    },
    /// Denies a held call: it never runs.
    Deny {
        #[command(flatten)]
        config: ConfigArg,
        /// The approval id.
        id: String,
        /// Who denies (default: the user running the command).
        #[arg(long)]
        by: Option<String>,
    },
    /// Serves the approval page alone, where operators sign in and decide.
    Web {
        #[command(flatten)]
        config: ConfigArg,
        /// Where to listen (loopback unless told otherwise).
        #[arg(long, value_name = "ADDR", default_value = web::DEFAULT_ADDR)]
        addr: SocketAddr,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Stores the tokens in TIKTOK_ACCESS_TOKEN and TIKTOK_REFRESH_TOKEN as the account's.
    Import {
        #[command(flatten)]
        config: ConfigArg,
        /// The account (a key under `accounts`).
        #[arg(long, value_name = "NAME")]
        account: String,
    },
    /// Lists the accounts, their users, scopes and token lifetimes.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// The last records (and, with --follow, those that come).
    Tail {
        #[command(flatten)]
        config: ConfigArg,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Keep printing records as they are written.
        #[arg(long)]
        follow: bool,
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Records by agent, time, decision or endpoint.
    Query {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// From this time (RFC 3339) or this long ago (15m, 2h, 7days).
        #[arg(long)]
        since: Option<String>,
        /// Only this decision (allowed, denied, invalid, intent, parked, approved, rejected).
        #[arg(long, value_parser = parse_decision)]
        decision: Option<Decision>,
        /// Only this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Walks the hash chain; names the first record changed, removed or inserted.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Prints a new key (give it to the agent or operator) and its SHA-256 (for the config).
    New {
        /// An operator's key for the approval page: prints its `operators:` entry.
        #[arg(long, value_name = "NAME", value_parser = operator_name)]
        operator: Option<String>,
    },
}

fn operator_name(name: &str) -> Result<String, String> {
    tiktok_gateway::config::is_operator_name(name)
        .then(|| name.to_string())
        .ok_or_else(|| "1 to 64 letters, digits, `.`, `_`, `-` or `@`".into())
}

/// How long, once a command is done, blocking work still running may take to finish (an
/// audit record being written) before the process leaves it. A read of stdin (`serve` over
/// stdio) is such work and never finishes by itself: without this bound a signal would
/// leave the process waiting for its MCP client to close stdin.
const BLOCKING_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            terminal::eprint(&format!("tiktok-gateway: cannot start: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(start());
    runtime.shutdown_timeout(BLOCKING_GRACE);
    code
}

async fn start() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // An MCP client may close the gateway's stderr: logging must not fail a call then
        // (the subscriber's default reports a failed write with eprintln!, which panics).
        .log_internal_errors(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tiktok_gateway::log_filter())
        .init();
    // Signals are caught from here on, whatever the command does first.
    let shutdown = match tiktok_gateway::Shutdown::install() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            note!("tiktok-gateway: cannot catch signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = Cli::parse().command;
    // `serve` and `audit tail --follow` stop cleanly on a signal themselves; any other
    // command is simply ended by one (a login waiting for its browser, say).
    let stops_itself = matches!(
        command,
        Command::Serve { .. }
            | Command::Approvals {
                command: ApprovalsCommand::Web { .. }
            }
            | Command::Audit {
                command: AuditCommand::Tail { follow: true, .. }
            }
    );
    let mut interrupted = shutdown.clone();
    let outcome = if stops_itself {
        run(command, shutdown).await
    } else {
        tokio::select! {
            outcome = run(command, shutdown) => outcome,
            () = interrupted.wait() => return ExitCode::from(130),
        }
    };
    match outcome {
        Ok(code) => code,
        // Whoever read the output has all they wanted (`| head -1`).
        Err(error) if matches!(error.downcast_ref(), Some(PrintError::Closed(ClosedPipe))) => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            // The error and each of its causes, joined by ": ".
            note!("tiktok-gateway: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(config: &ConfigArg) -> anyhow::Result<Config> {
    let config = Config::load(&config.config)?;
    for warning in &config.warnings {
        note!("tiktok-gateway: warning: {warning}");
    }
    Ok(config)
}

fn parse_decision(name: &str) -> Result<Decision, String> {
    Decision::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Decision::ALL
            .iter()
            .map(|decision| decision.as_str())
            .collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn open(config: &ConfigArg) -> anyhow::Result<Gateway> {
    Ok(Gateway::open(load(config)?)?)
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

async fn run(command: Command, mut shutdown: tiktok_gateway::Shutdown) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve {
            config,
            agent,
            http: address,
        } => {
            let loaded = load(&config)?;
            // Events still being retried when serving ends are sent before the process exits.
            let mut notifier = None;
            let server = match (tiktok_gateway::secret::read(&loaded), address, agent) {
                // Over stdio, started by a client with a minimal environment: the tool list,
                // and each call says what to set (not "connection closed").
                (Err(error), None, Some(name)) => {
                    let entry = loaded.agent(&name)?;
                    let tools = tiktok_gateway::tools::for_agent(&entry.grant, entry.approval)?;
                    let reason = error_chain(&error);
                    note!(
                        "tiktok-gateway: error: {reason}; serving agent {name}'s tool list only, every call answers this error"
                    );
                    GatewayServer::unavailable(tools, reason)
                }
                (secret, address, agent) => {
                    let gateway = Gateway::open_with_secret(loaded, secret?)?;
                    gateway.audit().check().await?;
                    gateway.state().check().await?;
                    notifier = Some(gateway.notifier().clone());
                    gateway.spawn_expiry(std::time::Duration::from_secs(30));
                    let mut problems = gateway.check_logins().await;
                    problems.extend(gateway.check_tokens().await);
                    for problem in problems {
                        note!("tiktok-gateway: warning: {problem}");
                    }
                    if let Some(address) = address {
                        let failures = FailureLog::new(gateway.audit().clone());
                        let router =
                            tiktok_gateway::server::app(&gateway, agent.as_deref(), failures)
                                .await?;
                        let limits = gateway.config().http.limits;
                        let served = [
                            ("MCP over streamable HTTP", "/mcp"),
                            ("the approval page", web::PATH),
                        ];
                        let ended = http::serve(router, address, limits, &served, shutdown).await;
                        gateway.notifier().finish().await;
                        return ended.map(|()| ExitCode::SUCCESS);
                    }
                    let Some(agent) = agent else {
                        anyhow::bail!("serve over stdio needs --agent NAME (or --http ADDR)");
                    };
                    GatewayServer::for_agent(gateway.agent(&agent).await?)
                        .approvals_url(gateway.config().http.approvals_url.as_deref())
                }
            };
            let server = server.serve(rmcp::transport::stdio()).await?;
            tokio::select! {
                result = server.waiting() => { result?; }
                () = shutdown.wait() => {}
            }
            if let Some(notifier) = &notifier {
                notifier.finish().await;
            }
        }
        Command::Migrate { config } => migrate::run(&load(&config)?).await?,
        Command::Approvals { command } => match command {
            ApprovalsCommand::List { config, all } => {
                let list = tiktok_gateway::expiry::list(&load(&config)?, all).await?;
                if list.is_empty() {
                    note!("no {}approvals", if all { "" } else { "pending " });
                }
                for approval in list {
                    say!("{}", approval.line());
                }
            }
            ApprovalsCommand::Approve { config, id, by } => {
                let gateway = open(&config)?;
                let approved = gateway.approve(&id, &who(by)).await;
                // The approval's events reach the hook before the command exits.
                gateway.notifier().flush().await;
                match approved? {
                    Ok(value) => terminal::print_json(&value)?,
                    Err(error) => {
                        terminal::print_json(&error_json(&error))?;
                        note!(
                            "tiktok-gateway: approved; the call failed: {}",
                            error_chain(&error)
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            ApprovalsCommand::Deny { config, id, by } => {
                let gateway = open(&config)?;
                let denied = gateway.deny(&id, &who(by)).await;
                gateway.notifier().flush().await;
                let approval = denied?;
                say!("{} denied", approval.id);
            }
            ApprovalsCommand::Web { config, addr } => {
                let gateway = open(&config)?;
                gateway.spawn_expiry(std::time::Duration::from_secs(30));
                let ended = web::serve_alone(&gateway, addr, shutdown).await;
                gateway.notifier().finish().await;
                ended?;
            }
        },
        Command::Login {
            config,
            account,
            code,
            no_wait,
        } => {
            let gateway = open(&config)?;
            let token = match code {
                Some(code) => accounts::finish_login(&gateway, &account, &code).await?,
                None => {
                    let url = accounts::start_login(&gateway, &account)?;
                    say!("{url}");
                    if no_wait {
                        note!(
                            "open the URL, then run login again with --code CODE (or the redirect URL)"
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    note!(
                        "open the URL above; waiting for the redirect to {}",
                        gateway.config().tiktok.redirect_uri
                    );
                    let redirect = accounts::receive_redirect(&gateway).await?;
                    accounts::finish_login(&gateway, &account, &redirect).await?
                }
            };
            say!(
                "account {account}: logged in as {} with scopes {}",
                token.open_id,
                token.scope
            );
        }
        Command::Accounts { command } => match command {
            AccountsCommand::Import { config, account } => {
                let gateway = open(&config)?;
                let token = accounts::import(&gateway, &account).await?;
                say!(
                    "account {account}: imported {} with scopes {}",
                    token.open_id,
                    token.scope
                );
            }
            AccountsCommand::List { config } => accounts::list(&open(&config)?).await?,
        },
        Command::Audit { command } => match command {
            AuditCommand::Tail {
                config,
                lines,
                follow,
                json,
            } => audit_cli::tail(&load(&config)?, lines, follow, json, shutdown).await?,
            AuditCommand::Query {
                config,
                agent,
                since,
                decision,
                endpoint,
                json,
            } => {
                let filter = audit_cli::Filter {
                    agent,
                    since,
                    decision,
                    endpoint,
                };
                audit_cli::query(&load(&config)?, filter, json).await?;
            }
            AuditCommand::Verify { config } => {
                if !audit_cli::verify(&load(&config)?).await? {
                    return Ok(ExitCode::FAILURE);
                }
            }
        },
        Command::Keys {
            command: KeysCommand::New { operator },
        } => {
            let (key, hash) = http::new_key();
            say!("key: {key}");
            let Some(name) = operator else {
                say!("key_sha256: {hash}");
                note!("give the key to the agent; put key_sha256 under its entry in the config");
                return Ok(ExitCode::SUCCESS);
            };
            say!("operators:");
            say!("  {name}: {{key_sha256: {hash}}}");
            note!(
                "give the key to {name}; put the operators: lines in the config (the key itself is kept nowhere)"
            );
        }
        Command::Check { config } => {
            let gateway = open(&config)?;
            let mut problems = gateway.check_logins().await;
            problems.extend(gateway.check_tokens().await);
            for problem in &problems {
                say!("{problem}");
            }
            for name in gateway.config().agents.keys() {
                match gateway.agent(name).await {
                    Ok(agent) => {
                        let tools: Vec<&str> = agent
                            .tools()
                            .iter()
                            .map(|tool| tool.name.as_ref())
                            .collect();
                        say!("agent {name}: {}", tools.join(", "));
                    }
                    Err(error) => say!("agent {name}: {}", error_chain(&error)),
                }
            }
            if !problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
