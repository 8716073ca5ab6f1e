//! The gateway's one YAML file: TikTok app, accounts (token stores), agents (grants,
//! approval, HTTP keys), the audit log. Every error names the file, the line and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use marked_yaml::Spanned;
use serde::Deserialize;
use tiktok_agent::{Budget, Grant, GrantError};
use tiktok_api::Scope;
use tiktok_api::meta::Access;

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
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
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
    /// The audit log (SQLite).
    pub audit: PathBuf,
    /// The state file (SQLite) every process of the gateway shares: the calls waiting for
    /// a human and the agents' budget counts.
    pub state: PathBuf,
    /// What the file says that still works but should change (an old key), one line each.
    pub warnings: Vec<String>,
    /// The streamable HTTP transport's settings.
    pub http: HttpConfig,
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
    /// The token store file (a `FileTokenStore`).
    pub token_store: PathBuf,
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
}

/// The streamable HTTP transport.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Browser origins allowed to call (none: a request with an `Origin` is refused).
    pub allowed_origins: Vec<String>,
    /// Host names accepted in the `Host` header besides loopback.
    pub allowed_hosts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tiktok: RawTikTok,
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
    #[serde(default)]
    agents: BTreeMap<String, RawAgent>,
    audit: String,
    #[serde(default)]
    state: Option<String>,
    /// The old name of `state`, from when the file held only approvals.
    #[serde(default)]
    approvals: Option<String>,
    #[serde(default)]
    http: RawHttp,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    token_store: String,
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
    allowed_hosts: Vec<String>,
}

impl Config {
    /// Reads and checks the file at `path`; relative paths in it are relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            file: path.to_owned(),
            line: None,
            key: String::new(),
            message: format!("cannot read it: {error}"),
        })?;
        Config::parse(path, &text)
    }

    /// Checks `text` as the contents of `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
        let error = |line: Option<usize>, key: &str, message: String| ConfigError {
            file: file.to_owned(),
            line,
            key: key.to_string(),
            message,
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

        if let Some(base_url) = &raw.tiktok.base_url {
            check_url(base_url.as_str())
                .map_err(|message| error(line(base_url.span()), "tiktok.base_url", message))?;
        }
        let redirect_uri = match &raw.tiktok.redirect_uri {
            Some(uri) => {
                check_url(uri.as_str())
                    .map_err(|message| error(line(uri.span()), "tiktok.redirect_uri", message))?;
                uri.to_string()
            }
            None => "http://localhost:3000/auth/callback".to_string(),
        };
        let client_secret = match (raw.tiktok.client_secret_env, &raw.tiktok.client_secret_file) {
            (Some(_), Some(file)) => {
                return Err(error(
                    line(file.span()),
                    "tiktok.client_secret_file",
                    "give client_secret_env or client_secret_file, not both".into(),
                ));
            }
            (None, Some(file)) => SecretSource::File(resolve(file.as_str())),
            (env, None) => SecretSource::Env(env.unwrap_or_else(|| DEFAULT_SECRET_ENV.to_string())),
        };
        let tiktok = TikTokConfig {
            base_url: raw.tiktok.base_url.map(|url| url.to_string()),
            client_key: raw.tiktok.client_key,
            client_secret,
            redirect_uri,
        };
        let accounts: BTreeMap<String, AccountConfig> = raw
            .accounts
            .into_iter()
            .map(|(name, account)| {
                let config = AccountConfig {
                    token_store: resolve(&account.token_store),
                    open_id: account.open_id,
                };
                (name, config)
            })
            .collect();
        let mut agents = BTreeMap::new();
        for (name, agent) in raw.agents {
            let key = |field: &str| format!("agents.{name}.{field}");
            if !accounts.contains_key(agent.account.as_str()) {
                let known: Vec<&str> = accounts.keys().map(String::as_str).collect();
                return Err(error(
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
            }
            let mut builder = Grant::builder().scopes(agent.scopes.iter().copied());
            for access in &agent.access {
                builder = builder.access(*access);
            }
            if let Some(endpoints) = &agent.endpoints {
                let mut metas = Vec::new();
                for endpoint in endpoints {
                    let Some(meta) = tiktok_api::endpoint(endpoint.as_str()) else {
                        return Err(error(
                            line(endpoint.span()),
                            &key("endpoints"),
                            format!("unknown endpoint {:?}", endpoint.as_str()),
                        ));
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
                        return Err(error(
                            budgets_line,
                            &key(&format!("budgets.endpoint_calls_per_minute.{id}")),
                            format!("unknown endpoint {id:?}"),
                        ));
                    };
                    builder = builder.endpoint_calls_per_minute(meta, *calls);
                }
            }
            let grant = builder.build().map_err(|problem| {
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
            })?;
            let key_sha256 = match agent.key_sha256 {
                Some(hash) => {
                    let text = hash.as_str().to_ascii_lowercase();
                    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(error(
                            line(hash.span()),
                            &key("key_sha256"),
                            "expected 64 hex digits (the SHA-256 that `tiktok-gateway keys new` prints)"
                                .into(),
                        ));
                    }
                    Some(text)
                }
                None => None,
            };
            agents.insert(
                name,
                AgentConfig {
                    account: agent.account.to_string(),
                    grant,
                    scopes: agent.scopes,
                    approval: agent.approval,
                    key_sha256,
                },
            );
        }
        let audit = resolve(&raw.audit);
        let mut warnings = Vec::new();
        let state = match (raw.state, raw.approvals) {
            (Some(_), Some(_)) => {
                return Err(error(
                    None,
                    "approvals",
                    "both state and its old name approvals are set; keep only state".into(),
                ));
            }
            (Some(path), None) => resolve(&path),
            (None, Some(path)) => {
                warnings.push(format!(
                    "{}: the key approvals is now called state (the file holds budget counts too); approvals still works",
                    file.display()
                ));
                resolve(&path)
            }
            // The name the file had when it held only approvals, so existing ones are kept.
            (None, None) => audit.with_extension("approvals.sqlite"),
        };
        Ok(Config {
            file: file.to_owned(),
            tiktok,
            accounts,
            agents,
            audit,
            state,
            warnings,
            http: HttpConfig {
                allowed_origins: raw.http.allowed_origins,
                allowed_hosts: raw.http.allowed_hosts,
            },
        })
    }

    /// The agent `name`, or an error listing the agents there are.
    pub fn agent(&self, name: &str) -> Result<&AgentConfig, ConfigError> {
        self.agents.get(name).ok_or_else(|| ConfigError {
            file: self.file.clone(),
            line: None,
            key: "agents".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
tiktok: {base_url: http://127.0.0.1:8080, client_key: awdemo7c1f2e9b4d3a, client_secret_env: TIKTOK_CLIENT_SECRET}
accounts: {demo: {token_store: tokens.json}}
agents:
  reader: {account: demo, scopes: [user.info.basic, video.list], access: [read]}
  poster: {account: demo, scopes: [user.info.basic, video.publish, video.upload], access: [read, write], approval: writes}
audit: audit.sqlite
";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("conf/gateway.yaml"), text)
    }

    #[test]
    fn the_issue_s_example_loads_with_paths_beside_the_file() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.audit, Path::new("conf/audit.sqlite"));
        assert_eq!(config.state, Path::new("conf/audit.approvals.sqlite"));
        assert_eq!(
            config.accounts["demo"].token_store,
            Path::new("conf/tokens.json")
        );
        let reader = &config.agents["reader"].grant;
        let reader: Vec<&str> = reader.endpoints().map(|meta| meta.id).collect();
        assert_eq!(reader, ["user_info", "video_list", "video_query"]);
        assert_eq!(config.agents["poster"].approval, ApprovalMode::Writes);
    }

    #[test]
    fn the_state_file_is_state_and_its_old_name_approvals_still_works_with_a_warning() {
        let config = parse(&format!("{GOOD}state: shared.sqlite\n")).unwrap();
        assert_eq!(config.state, Path::new("conf/shared.sqlite"));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let config = parse(&format!("{GOOD}approvals: old.sqlite\n")).unwrap();
        assert_eq!(config.state, Path::new("conf/old.sqlite"));
        assert_eq!(config.warnings.len(), 1);
        assert!(
            config.warnings[0].contains("now called state"),
            "{:?}",
            config.warnings
        );
        let error = parse(&format!("{GOOD}state: a.sqlite\napprovals: b.sqlite\n")).unwrap_err();
        assert!(error.message.contains("keep only state"), "{error}");
        // A budget above TikTok's limit is reported at the key of the budget, from its enum.
        let error = parse(&GOOD.replace(
            "access: [read]}",
            "access: [read], budgets: {endpoint_calls_per_minute: {video_list: 100000}}}",
        ))
        .unwrap_err();
        assert_eq!(
            error.key,
            "agents.reader.budgets.endpoint_calls_per_minute.video_list"
        );
    }

    #[track_caller]
    fn fails(text: &str, line: Option<usize>, key: &str, message: &str) {
        let error = parse(text).unwrap_err();
        assert_eq!((error.line, error.key.as_str()), (line, key), "{error}");
        assert!(error.message.contains(message), "{error}");
        assert!(
            error.to_string().starts_with("conf/gateway.yaml"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        fails(
            &GOOD.replace("access: [read]}", "access: [read], acess: [write]}"),
            Some(4),
            "agents.reader.acess",
            "Unknown field `acess`",
        );
        fails(
            &GOOD.replace("video.list]", "video.lists]"),
            Some(4),
            "agents.reader.scopes[1]",
            "unknown scope \"video.lists\"",
        );
        fails(
            &GOOD.replace("reader: {account: demo", "reader: {account: dmeo"),
            Some(4),
            "agents.reader.account",
            "no account \"dmeo\"",
        );
        fails(
            &GOOD.replace("access: [read]}", "access: [reed]}"),
            Some(4),
            "agents.reader.access[0]",
            "reed",
        );
        fails(
            &GOOD.replace("approval: writes", "approval: always"),
            Some(5),
            "agents.poster.approval",
            "always",
        );
        fails(
            &GOOD.replace("audit: audit.sqlite\n", ""),
            Some(1),
            "",
            "audit",
        );
        fails(
            &GOOD.replace(
                "access: [read]}",
                "access: [read], endpoints: [user_info, video_lst]}",
            ),
            Some(4),
            "agents.reader.endpoints",
            "unknown endpoint \"video_lst\"",
        );
        let lister = "  lister:\n    account: demo\n    scopes: [video.list]\n    access: [read]\n    budgets:\n      endpoint_calls_per_minute: {video_list: 100000}\naudit:";
        fails(
            &GOOD.replace("audit:", lister),
            Some(11),
            "agents.lister.budgets.endpoint_calls_per_minute.video_list",
            "above TikTok's limit",
        );
        fails("tiktok: [\n", Some(2), "", "not valid YAML");
        fails(
            &GOOD.replace("http://127.0.0.1:8080", "ftp://x"),
            Some(1),
            "tiktok.base_url",
            "http or https",
        );
    }
}
