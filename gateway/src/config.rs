//! The gateway's one YAML file: TikTok app, accounts (token stores), agents (grants,
//! approval, HTTP keys), operators (approval page keys), the audit log. Every error names the file, the line and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marked_yaml::Spanned;
use serde::Deserialize;
use tiktok_agent::jobs::UploadsDir;
use tiktok_agent::{Budget, Grant, GrantError};
use tiktok_api::Scope;
use tiktok_api::meta::Access;

/// How many of an agent's writes may wait for a human at once, unless its
/// `max_pending_approvals` says otherwise.
pub const DEFAULT_MAX_PENDING_APPROVALS: u32 = 10;

/// How long a held write waits for a human before it expires, unless the agent's
/// `approval_ttl` says otherwise: 24 hours.
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The environment variable the app secret is read from unless the file names another.
pub const DEFAULT_SECRET_ENV: &str = "TIKTOK_CLIENT_SECRET";

/// A bad config file: where, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based), when the problem has one.
    pub line: Option<usize>,
    /// The key's path, e.g. `agents.reader.scopes[2]` (empty for the whole file).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// The file's other problems, in the order of their lines: every problem is reported
    /// at once, each on a line of its own.
    pub more: Vec<ConfigError>,
}

impl ConfigError {
    /// One problem.
    fn new(file: &Path, line: Option<usize>, key: &str, message: String) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            line,
            key: key.to_string(),
            message,
            more: Vec::new(),
        }
    }

    /// All of `problems` (at least one), the first line's first.
    fn all(mut problems: Vec<ConfigError>) -> Option<ConfigError> {
        problems.sort_by_key(|problem| problem.line.unwrap_or(usize::MAX));
        let mut problems = problems.into_iter();
        let mut first = problems.next()?;
        first.more = problems.collect();
        Some(first)
    }

    /// This problem and the others, one per item.
    pub fn problems(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(self).chain(&self.more)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", problem.file.display())?;
            if let Some(line) = problem.line {
                write!(f, ":{line}")?;
            }
            if !problem.key.is_empty() {
                write!(f, ": {}", problem.key)?;
            }
            write!(f, ": {}", problem.message)?;
        }
        Ok(())
    }
}

/// The config, checked: every agent's grant built, every reference resolved.
#[derive(Debug)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The TikTok app.
    pub tiktok: TikTokConfig,
    /// Accounts by name.
    pub accounts: BTreeMap<String, AccountConfig>,
    /// Agents by name.
    pub agents: BTreeMap<String, AgentConfig>,
    /// Operators by name: who may sign in to the approval page.
    pub operators: BTreeMap<String, OperatorConfig>,
    /// The audit log: a SQLite file or a Postgres database.
    pub audit: Location,
    /// The state every process of the gateway shares (the calls waiting for a human, the
    /// agents' budget counts, OAuth clients and tokens): a SQLite file, or a Postgres
    /// database shared by gateways on several machines.
    pub state: Location,
    /// What the file says that still works but should change (an old key), one line each.
    pub warnings: Vec<String>,
    /// The streamable HTTP transport's settings.
    pub http: HttpConfig,
    /// Where approval events are POSTed (`notify`), if anywhere.
    pub notify: Option<crate::notify::NotifyConfig>,
}

/// The TikTok app the gateway acts as.
#[derive(Debug, Clone)]
pub struct TikTokConfig {
    /// The API's base URL (TikTok itself when the file has none; the mock in tests).
    pub base_url: Option<String>,
    /// The app's client key.
    pub client_key: String,
    /// Where the app's client secret is read from.
    pub client_secret: SecretSource,
    /// Where `login` receives TikTok's redirect.
    pub redirect_uri: String,
    /// Every rate limit the client keeps to, times this (default 1): for tests and
    /// benchmarks against a mock started with the same `--rate-limit-scale`.
    pub rate_limit_scale: f64,
}

/// Where the app's client secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable (`client_secret_env`, by default `TIKTOK_CLIENT_SECRET`).
    Env(String),
    /// A file readable by its owner only (`client_secret_file`), so the secret is in no
    /// process's environment and no MCP client's config.
    File(PathBuf),
}

/// One TikTok account (a creator), and where its tokens are kept.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// The token store: a file (a `FileTokenStore`) or a Postgres database shared by
    /// gateways on several machines (then `open_id` is required); by default the `state`
    /// database when that is Postgres.
    pub token_store: Location,
    /// The account's `open_id`; when absent, the store must hold exactly one.
    pub open_id: Option<String>,
}

/// When a call waits for a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Never.
    #[default]
    None,
    /// Every write.
    Writes,
}

/// One agent: the account it acts on and what it may do there.
#[derive(Debug)]
pub struct AgentConfig {
    /// The account's name.
    pub account: String,
    /// The grant from `scopes`, `access`, `endpoints` and `budgets`.
    pub grant: Grant,
    /// The scopes as written (for reports).
    pub scopes: Vec<Scope>,
    /// When a call waits for a human.
    pub approval: ApprovalMode,
    /// The SHA-256 (hex) of the agent's HTTP key, if it may connect over HTTP.
    pub key_sha256: Option<String>,
    /// How many of its writes may wait for a human at once (`max_pending_approvals`,
    /// default [`DEFAULT_MAX_PENDING_APPROVALS`]); one more is refused until one is decided.
    pub max_pending_approvals: u32,
    /// How long a held write waits for a human (`approval_ttl`, default
    /// [`DEFAULT_APPROVAL_TTL`]); undecided then, it expires and never runs.
    pub approval_ttl: Duration,
    /// The folder its `post_video` files must be in (`uploads_dir`; none: only URLs).
    pub uploads_dir: Option<UploadsDir>,
}

/// One operator: a human who may decide held calls at the approval page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// The SHA-256 (hex, lowercase) of the operator's key; the key itself is never kept.
    pub key_sha256: String,
}

/// Whether `name` may name an operator: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, `@`
/// (it is written into YAML by `keys new --operator`, and into the audit log).
pub fn is_operator_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// The streamable HTTP transport.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Browser origins allowed to call (none: a request with an `Origin` is refused).
    pub allowed_origins: Vec<String>,
    /// Host names accepted in the `Host` header besides loopback.
    pub allowed_hosts: Vec<String>,
    /// The approval page as operators reach it (`approvals_url`, e.g. behind a proxy or
    /// served by `approvals web` beside a stdio gateway); a held call links to it. Without
    /// it, `serve --http` links to its own `/approvals` on the request's host.
    pub approvals_url: Option<String>,
    /// The origin remote clients reach the gateway at (`public_url`), named in the OAuth
    /// metadata; without it, the request's answered `Host` (`http://` for loopback).
    pub public_url: Option<String>,
    /// Connections and their timeouts.
    pub limits: HttpLimits,
}

/// What one connection may hold of the HTTP server, so that connections left half-open
/// (no key needed to open one) cannot starve the agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The longest a connection may take to send a request's headers, counted from when it
    /// connects or from the end of its last answer (so also how long a kept-alive
    /// connection may sit idle); then it is closed (`header_read_timeout`, default 10 s).
    pub header_read_timeout: Duration,
    /// The longest wait for the next piece of a request's body; then the request fails
    /// (`body_timeout`, default 30 s).
    pub body_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog (`max_connections`,
    /// default 256, well under a common limit of 1,024 open files).
    pub max_connections: usize,
    /// How long open connections get to finish after a signal (`shutdown_timeout`,
    /// default 10 s).
    pub shutdown_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 256,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tiktok: RawTikTok,
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
    #[serde(default)]
    agents: BTreeMap<String, RawAgent>,
    #[serde(default)]
    operators: BTreeMap<String, RawOperator>,
    audit: String,
    #[serde(default)]
    state: Option<String>,
    /// The old name of `state`, from when the file held only approvals.
    #[serde(default)]
    approvals: Option<String>,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    notify: Option<RawNotify>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    key_sha256: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    url: Spanned<String>,
    secret_env: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTikTok {
    #[serde(default)]
    base_url: Option<Spanned<String>>,
    client_key: String,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    client_secret_file: Option<Spanned<String>>,
    #[serde(default)]
    redirect_uri: Option<Spanned<String>>,
    #[serde(default)]
    rate_limit_scale: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default)]
    token_store: Option<String>,
    #[serde(default)]
    open_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    account: Spanned<String>,
    scopes: Vec<Scope>,
    access: Vec<Access>,
    #[serde(default)]
    endpoints: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    budgets: Option<Spanned<RawBudgets>>,
    #[serde(default)]
    approval: ApprovalMode,
    #[serde(default)]
    key_sha256: Option<Spanned<String>>,
    #[serde(default)]
    max_pending_approvals: Option<u32>,
    #[serde(default)]
    approval_ttl: Option<Spanned<String>>,
    #[serde(default)]
    uploads_dir: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBudgets {
    #[serde(default)]
    calls_per_minute: Option<u32>,
    #[serde(default)]
    writes_per_day: Option<u32>,
    #[serde(default)]
    endpoint_calls_per_minute: BTreeMap<String, u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    approvals_url: Option<Spanned<String>>,
    #[serde(default)]
    public_url: Option<Spanned<String>>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    header_read_timeout: Option<Spanned<String>>,
    #[serde(default)]
    body_timeout: Option<Spanned<String>>,
    #[serde(default)]
    max_connections: Option<Spanned<u32>>,
    #[serde(default)]
    shutdown_timeout: Option<Spanned<String>>,
}

impl Config {
    /// Reads and checks the file at `path`; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigError::new(path, None, "", format!("cannot read it: {error}"))
        })?;
        Config::parse(path, &text)
    }

    /// Checks `text` as the contents of `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
        let error = |line: Option<usize>, key: &str, message: String| {
            ConfigError::new(file, line, key, message)
        };
        let node = marked_yaml::parse_yaml(0, text).map_err(|problem| {
            error(
                load_error_line(&problem),
                "",
                format!("not valid YAML: {problem}"),
            )
        })?;
        let raw: RawConfig = marked_yaml::from_node(&node).map_err(|problem| {
            let key = problem.path().unwrap_or_default().to_string();
            let inner = problem.into_inner();
            let line = inner.start_mark().map(|mark| mark.line());
            error(line, &key, inner.to_string())
        })?;
        let folder = file
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let resolve = |relative: &str| folder.join(relative);
        // Every problem is collected, and all are reported at once.
        let mut problems = Vec::new();

        if let Some(base_url) = &raw.tiktok.base_url
            && let Err(message) = check_url(base_url.as_str())
        {
            problems.push(error(line(base_url.span()), "tiktok.base_url", message));
        }
        let redirect_uri = match &raw.tiktok.redirect_uri {
            Some(uri) => {
                if let Err(message) = check_url(uri.as_str()) {
                    problems.push(error(line(uri.span()), "tiktok.redirect_uri", message));
                }
                uri.to_string()
            }
            None => "http://localhost:3000/auth/callback".to_string(),
        };
        let client_secret = match (raw.tiktok.client_secret_env, &raw.tiktok.client_secret_file) {
            (Some(_), Some(file)) => {
                problems.push(error(
                    line(file.span()),
                    "tiktok.client_secret_file",
                    "give client_secret_env or client_secret_file, not both".into(),
                ));
                SecretSource::File(resolve(file.as_str()))
            }
            (None, Some(file)) => SecretSource::File(resolve(file.as_str())),
            (env, None) => SecretSource::Env(env.unwrap_or_else(|| DEFAULT_SECRET_ENV.to_string())),
        };
        let rate_limit_scale = match &raw.tiktok.rate_limit_scale {
            Some(scale) if !(scale.is_finite() && **scale > 0.0) => {
                problems.push(error(
                    line(scale.span()),
                    "tiktok.rate_limit_scale",
                    format!("{}: expected a number above 0", **scale),
                ));
                1.0
            }
            Some(scale) => **scale,
            None => 1.0,
        };
        let tiktok = TikTokConfig {
            base_url: raw.tiktok.base_url.map(|url| url.to_string()),
            client_key: raw.tiktok.client_key,
            client_secret,
            redirect_uri,
            rate_limit_scale,
        };
        let audit = Location::parse(&raw.audit, resolve).unwrap_or_else(|message| {
            problems.push(error(None, "audit", message));
            Location::File(resolve(&raw.audit))
        });
        let mut warnings = Vec::new();
        let state_key = if raw.state.is_none() && raw.approvals.is_some() {
            "approvals"
        } else {
            "state"
        };
        let state = match (raw.state, raw.approvals) {
            (Some(text), Some(_)) => {
                problems.push(error(
                    None,
                    "approvals",
                    "both state and its old name approvals are set; keep only state".into(),
                ));
                Some(text)
            }
            (Some(text), None) => Some(text),
            (None, Some(text)) => {
                warnings.push(format!(
                    "{}: the key approvals is now called state (the file holds budget counts too); approvals still works",
                    file.display()
                ));
                Some(text)
            }
            (None, None) => None,
        };
        let state = match state {
            Some(text) => Location::parse(&text, resolve).unwrap_or_else(|message| {
                problems.push(error(None, state_key, message));
                Location::File(resolve(&text))
            }),
            // The name the file had when it held only approvals, so existing ones are kept;
            // with the audit log in Postgres, the same database.
            None => match &audit {
                Location::File(audit) => Location::File(audit.with_extension("approvals.sqlite")),
                Location::Postgres(url) => Location::Postgres(url.clone()),
            },
        };
        let mut accounts = BTreeMap::new();
        for (name, account) in raw.accounts {
            let key = format!("accounts.{name}.token_store");
            let token_store = match (&account.token_store, &state) {
                (Some(text), _) => Location::parse(text, resolve).unwrap_or_else(|message| {
                    problems.push(error(None, &key, message));
                    Location::File(resolve(text))
                }),
                (None, Location::Postgres(url)) => Location::Postgres(url.clone()),
                (None, Location::File(_)) => {
                    let message = "missing: a token file (or a postgres:// URL); it may be left out only when state is a Postgres URL";
                    problems.push(error(None, &key, message.into()));
                    Location::File(PathBuf::new())
                }
            };
            if token_store.file().is_none() && account.open_id.is_none() {
                let message = if account.token_store.is_some() {
                    "needed when token_store is a Postgres URL (it holds every account's users)"
                } else {
                    "needed: token_store is left out, so the tokens are in the state's Postgres database, which holds every account's users"
                };
                problems.push(error(
                    None,
                    &format!("accounts.{name}.open_id"),
                    message.into(),
                ));
            }
            let open_id = account.open_id;
            accounts.insert(
                name,
                AccountConfig {
                    token_store,
                    open_id,
                },
            );
        }
        let mut agents = BTreeMap::new();
        for (name, agent) in raw.agents {
            let key = |field: &str| format!("agents.{name}.{field}");
            if !accounts.contains_key(agent.account.as_str()) {
                let known: Vec<&str> = accounts.keys().map(String::as_str).collect();
                problems.push(error(
                    line(agent.account.span()),
                    &key("account"),
                    format!(
                        "no account {:?} under accounts (there are: {})",
                        agent.account.as_str(),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
                continue;
            }
            let mut builder = Grant::builder().scopes(agent.scopes.iter().copied());
            for access in &agent.access {
                builder = builder.access(*access);
            }
            if let Some(endpoints) = &agent.endpoints {
                let mut metas = Vec::new();
                for endpoint in endpoints {
                    let Some(meta) = tiktok_api::endpoint(endpoint.as_str()) else {
                        problems.push(error(
                            line(endpoint.span()),
                            &key("endpoints"),
                            format!("unknown endpoint {:?}", endpoint.as_str()),
                        ));
                        continue;
                    };
                    metas.push(meta);
                }
                builder = builder.endpoints(metas);
            }
            let budgets_line = agent.budgets.as_ref().and_then(|b| line(b.span()));
            if let Some(budgets) = &agent.budgets {
                if let Some(calls) = budgets.calls_per_minute {
                    builder = builder.calls_per_minute(calls);
                }
                if let Some(writes) = budgets.writes_per_day {
                    builder = builder.writes_per_day(writes);
                }
                for (id, calls) in &budgets.endpoint_calls_per_minute {
                    let Some(meta) = tiktok_api::endpoint(id) else {
                        problems.push(error(
                            budgets_line,
                            &key(&format!("budgets.endpoint_calls_per_minute.{id}")),
                            format!("unknown endpoint {id:?}"),
                        ));
                        continue;
                    };
                    builder = builder.endpoint_calls_per_minute(meta, *calls);
                }
            }
            let grant = match builder.build().map_err(|problem| {
                let at = match &problem {
                    GrantError::AboveTikTokLimit { budget, .. } => match budget {
                        Budget::CallsPerMinute => "budgets.calls_per_minute".to_string(),
                        Budget::EndpointCallsPerMinute(id) => {
                            format!("budgets.endpoint_calls_per_minute.{id}")
                        }
                        Budget::WritesPerDay => "budgets.writes_per_day".to_string(),
                    },
                    _ => "budgets".to_string(),
                };
                error(budgets_line, &key(&at), problem.to_string())
            }) {
                Ok(grant) => grant,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            let key_sha256 = match agent.key_sha256 {
                Some(hash) => 'hash: {
                    let text = match key_hash(&hash) {
                        Ok(text) => text,
                        Err(message) => {
                            problems.push(error(line(hash.span()), &key("key_sha256"), message));
                            break 'hash None;
                        }
                    };
                    // One key, one agent: otherwise the key would act as whichever agent
                    // the server happened to match last.
                    if let Some(other) = agents
                        .iter()
                        .find(|(_, other): &(&String, &AgentConfig)| {
                            other.key_sha256.as_deref() == Some(text.as_str())
                        })
                        .map(|(other, _)| other)
                    {
                        problems.push(error(
                            line(hash.span()),
                            &key("key_sha256"),
                            format!(
                                "agents {other} and {name} have the same key_sha256; each agent needs a key of its own (`tiktok-gateway keys new`)"
                            ),
                        ));
                        break 'hash None;
                    }
                    Some(text)
                }
                None => None,
            };
            let approval_ttl = match &agent.approval_ttl {
                None => DEFAULT_APPROVAL_TTL,
                Some(text) => match humantime::parse_duration(text.as_str()) {
                    Ok(ttl) if !ttl.is_zero() && ttl.as_millis() < i64::MAX as u128 => ttl,
                    _ => {
                        problems.push(error(
                            line(text.span()),
                            &key("approval_ttl"),
                            format!(
                                "expected a duration above zero (24h, 30m, 7days), found {:?}",
                                text.as_str()
                            ),
                        ));
                        DEFAULT_APPROVAL_TTL
                    }
                },
            };
            let uploads_dir = match &agent.uploads_dir {
                None => None,
                Some(folder) => match UploadsDir::new(resolve(folder.as_str())) {
                    Ok(uploads) => Some(uploads),
                    Err(problem) => {
                        problems.push(error(
                            line(folder.span()),
                            &key("uploads_dir"),
                            tiktok_agent::error_chain(&problem),
                        ));
                        None
                    }
                },
            };
            agents.insert(
                name,
                AgentConfig {
                    account: agent.account.to_string(),
                    grant,
                    scopes: agent.scopes,
                    approval: agent.approval,
                    key_sha256,
                    max_pending_approvals: agent
                        .max_pending_approvals
                        .unwrap_or(DEFAULT_MAX_PENDING_APPROVALS),
                    approval_ttl,
                    uploads_dir,
                },
            );
        }
        let mut operators: BTreeMap<String, OperatorConfig> = BTreeMap::new();
        for (name, operator) in raw.operators {
            let at = line(operator.key_sha256.span());
            let key = format!("operators.{name}");
            if !is_operator_name(&name) {
                problems.push(error(
                    at,
                    &key,
                    "an operator's name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`".into(),
                ));
                continue;
            }
            let key = format!("{key}.key_sha256");
            let hash = match key_hash(&operator.key_sha256) {
                Ok(hash) => hash,
                Err(message) => {
                    problems.push(error(at, &key, message));
                    continue;
                }
            };
            // A key signs in as one operator, and an agent's key never decides approvals.
            let agent = agents
                .iter()
                .find(|(_, agent)| agent.key_sha256.as_deref() == Some(hash.as_str()));
            let other = operators.iter().find(|(_, other)| other.key_sha256 == hash);
            let holder = match (agent, other) {
                (Some((agent, _)), _) => Some(format!("agent {agent}")),
                (None, Some((other, _))) => Some(format!("operator {other}")),
                (None, None) => None,
            };
            if let Some(holder) = holder {
                problems.push(error(
                    at,
                    &key,
                    format!(
                        "{holder} has the same key_sha256 as operator {name}; each needs a key of its own (`tiktok-gateway keys new --operator {name}`)"
                    ),
                ));
                continue;
            }
            operators.insert(name, OperatorConfig { key_sha256: hash });
        }
        let approvals_url = match &raw.http.approvals_url {
            Some(url) => match check_url(url.as_str()) {
                Ok(()) => Some(url.to_string()),
                Err(message) => {
                    problems.push(error(line(url.span()), "http.approvals_url", message));
                    None
                }
            },
            None => None,
        };
        let public_url = raw.http.public_url.as_ref().and_then(|url| {
            public_url::origin(url.as_str())
                .map_err(|message| {
                    problems.push(error(line(url.span()), "http.public_url", message))
                })
                .ok()
        });
        let defaults = HttpLimits::default();
        let duration = |value: &Option<Spanned<String>>, name: &str, default: Duration| {
            let Some(value) = value else {
                return Ok(default);
            };
            match humantime::parse_duration(value.as_str()) {
                Ok(duration) if !duration.is_zero() => Ok(duration),
                _ => Err(error(
                    line(value.span()),
                    &format!("http.{name}"),
                    format!(
                        "expected a duration above zero (10s, 1m, 500ms), found {:?}",
                        value.as_str()
                    ),
                )),
            }
        };
        let max_connections = match &raw.http.max_connections {
            None => defaults.max_connections,
            Some(count) if **count == 0 => {
                problems.push(error(
                    line(count.span()),
                    "http.max_connections",
                    "expected at least 1".into(),
                ));
                defaults.max_connections
            }
            Some(count) => **count as usize,
        };
        let mut timeout = |value: &Option<Spanned<String>>, name: &str, default: Duration| {
            duration(value, name, default).unwrap_or_else(|problem| {
                problems.push(problem);
                default
            })
        };
        let limits = HttpLimits {
            header_read_timeout: timeout(
                &raw.http.header_read_timeout,
                "header_read_timeout",
                defaults.header_read_timeout,
            ),
            body_timeout: timeout(
                &raw.http.body_timeout,
                "body_timeout",
                defaults.body_timeout,
            ),
            max_connections,
            shutdown_timeout: timeout(
                &raw.http.shutdown_timeout,
                "shutdown_timeout",
                defaults.shutdown_timeout,
            ),
        };
        let notify = match raw.notify {
            None => None,
            Some(notify) => 'notify: {
                if let Err(message) = check_url(notify.url.as_str()) {
                    problems.push(error(line(notify.url.span()), "notify.url", message));
                    break 'notify None;
                }
                let variable = notify.secret_env.as_str();
                if variable.is_empty() || variable.contains(['=', '\0']) {
                    problems.push(error(
                        line(notify.secret_env.span()),
                        "notify.secret_env",
                        format!(
                            "expected the name of an environment variable holding the signing secret, found {variable:?}"
                        ),
                    ));
                    break 'notify None;
                }
                Some(crate::notify::NotifyConfig {
                    url: notify.url.to_string(),
                    secret_env: variable.to_string(),
                })
            }
        };
        if let Some(problems) = ConfigError::all(problems) {
            return Err(problems);
        }
        Ok(Config {
            file: file.to_owned(),
            notify,
            tiktok,
            accounts,
            agents,
            operators,
            audit,
            state,
            warnings,
            http: HttpConfig {
                allowed_origins: raw.http.allowed_origins,
                allowed_hosts: raw.http.allowed_hosts,
                approvals_url,
                public_url,
                limits,
            },
        })
    }

    /// The agent `name`, or an error listing the agents there are.
    pub fn agent(&self, name: &str) -> Result<&AgentConfig, ConfigError> {
        self.agents.get(name).ok_or_else(|| ConfigError {
            file: self.file.clone(),
            line: None,
            key: "agents".into(),
            more: Vec::new(),
            message: format!(
                "no agent {name:?} (there are: {})",
                self.agents
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// The account `name`, or an error listing the accounts there are.
    pub fn account(&self, name: &str) -> Result<&AccountConfig, ConfigError> {
        self.accounts.get(name).ok_or_else(|| ConfigError {
            more: Vec::new(),
            file: self.file.clone(),
            line: None,
            key: "accounts".into(),
            message: format!(
                "no account {name:?} (there are: {})",
                self.accounts
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// A `key_sha256` checked (64 hex digits) and lowercased.
fn key_hash(hash: &Spanned<String>) -> Result<String, String> {
    let text = hash.as_str().to_ascii_lowercase();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(
            "expected 64 hex digits (the SHA-256 that `tiktok-gateway keys new` prints)".into(),
        );
    }
    Ok(text)
}

fn line(span: &marked_yaml::Span) -> Option<usize> {
    span.start().map(|mark| mark.line())
}

fn load_error_line(error: &marked_yaml::LoadError) -> Option<usize> {
    use marked_yaml::LoadError;
    match error {
        LoadError::TopLevelMustBeMapping(mark)
        | LoadError::TopLevelMustBeSequence(mark)
        | LoadError::UnexpectedAnchor(mark)
        | LoadError::MappingKeyMustBeScalar(mark)
        | LoadError::UnexpectedTag(mark) => Some(mark.line()),
        LoadError::DuplicateKey(duplicate) => duplicate.key.span().start().map(|m| m.line()),
        LoadError::ScanError(mark, _) => Some(mark.line()),
    }
}

fn check_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("{text:?}: expected an http or https URL"));
    }
    Ok(())
}

mod location;
mod public_url;
#[cfg(test)]
mod tests;

pub use location::Location;
