//! The gateway's core, below any transport: [`Gateway`] opens the TikTok client (holding the
//! app secret), the audit log and the state file, finds each account's tokens, builds one
//! [`AgentHandle`] per agent, and checks the agents' grants against their tokens.

use std::collections::BTreeMap;
use std::sync::Arc;

use tiktok_agent::{BudgetLedger, GrantedClient, PgDatabase, PgTokenStore};
use tiktok_api::meta::Auth;
use tiktok_api::{Client, FileTokenStore, TokenStore};

use crate::agent::AgentHandle;
use crate::approvals::Approvals;
use crate::audit_log::AuditLog;
use crate::config::{Config, Location};
use crate::error::{AccountError, GatewayError};
use crate::notify::Notifier;
use crate::state::SharedState;
use crate::tools;

/// A running gateway: the client and the shared stores.
#[derive(Debug, Clone)]
pub struct Gateway {
    config: Arc<Config>,
    client: Client,
    audit: AuditLog,
    approvals: Approvals,
    ledger: Arc<dyn BudgetLedger>,
    state: SharedState,
    /// The Postgres databases of the token stores (and the state's), by URL.
    databases: BTreeMap<String, PgDatabase>,
    notifier: Notifier,
}

impl Gateway {
    /// The gateway of `config`: the app secret read from its environment variable or file,
    /// the audit log and state file opened (created if missing).
    pub fn open(config: Config) -> Result<Gateway, GatewayError> {
        let secret = crate::secret::read(&config)?;
        Gateway::open_with_secret(config, secret)
    }

    /// [`Gateway::open`] with the app secret given rather than read from the environment.
    pub fn open_with_secret(config: Config, secret: String) -> Result<Gateway, GatewayError> {
        let mut builder = Client::builder()
            .credentials(config.tiktok.client_key.clone(), secret)
            .rate_limit_scale(config.tiktok.rate_limit_scale);
        if let Some(base_url) = &config.tiktok.base_url {
            builder = builder.base_url(base_url);
        }
        let client = builder.build()?;
        let audit = AuditLog::open(&config.audit).map_err(|source| GatewayError::AuditLog {
            location: config.audit.clone(),
            source,
        })?;
        let state = SharedState::open(&config.state)?;
        let approvals = Approvals::new(state.approvals()?);
        let ledger = state.ledger();
        let notifier = Notifier::new(config.notify.as_ref());
        let mut databases = BTreeMap::new();
        if let (Location::Postgres(url), Some(database)) = (&config.state, state.database()) {
            databases.insert(url.clone(), database.clone());
        }
        for account in config.accounts.values() {
            if let Location::Postgres(url) = &account.token_store
                && !databases.contains_key(url)
            {
                let database = PgDatabase::connect(url)?;
                databases.insert(url.clone(), database);
            }
        }
        Ok(Gateway {
            notifier,
            config: Arc::new(config),
            client,
            audit,
            approvals,
            ledger,
            state,
            databases,
        })
    }

    /// The same gateway reading deadlines on `clock` (tests set the time).
    pub fn with_clock(mut self, clock: crate::approvals::Clock) -> Gateway {
        self.approvals = self.approvals.with_clock(clock);
        self
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The client (with the app's credentials).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Where approval events go (the config's `notify` hook, if any).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The agents' budget counts in the shared state.
    pub fn ledger(&self) -> &Arc<dyn BudgetLedger> {
        &self.ledger
    }

    /// The shared state (approvals, budget counts, OAuth records).
    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// The held calls.
    pub fn approvals(&self) -> &Approvals {
        &self.approvals
    }

    /// The token store of account `name`: its file, or the Postgres database the
    /// config's token stores share (one pool per database).
    pub fn token_store(&self, account: &str) -> Result<Arc<dyn TokenStore>, GatewayError> {
        Ok(match &self.config.account(account)?.token_store {
            Location::File(path) => Arc::new(FileTokenStore::new(path)),
            Location::Postgres(url) => Arc::new(PgTokenStore::new(self.databases[url].clone())),
        })
    }

    /// The `open_id` of account `name`: as configured, or the one user in its store.
    pub async fn open_id(&self, account: &str) -> Result<String, GatewayError> {
        let config = self.config.account(account)?;
        if let Some(open_id) = &config.open_id {
            return Ok(open_id.clone());
        }
        // A Postgres store holds every account's users: the config names the account's.
        let Location::File(path) = &config.token_store else {
            return Err(AccountError::NoTokens {
                account: account.to_string(),
                store: config.token_store.clone(),
                config: self.config.file.clone(),
            }
            .into());
        };
        let store = FileTokenStore::new(path);
        let mut open_ids = store.open_ids().await.map_err(tiktok_api::Error::from)?;
        match open_ids.len() {
            0 => Err(AccountError::NoTokens {
                account: account.to_string(),
                store: config.token_store.clone(),
                config: self.config.file.clone(),
            }
            .into()),
            1 => Ok(open_ids.swap_remove(0)),
            _ => Err(AccountError::ManyUsers {
                account: account.to_string(),
                store: config.token_store.clone(),
                open_ids,
            }
            .into()),
        }
    }

    /// The handle of agent `name`: its account's user, its grant with budgets counted in
    /// the state file and every call audited, and the tools it sees.
    pub async fn agent(&self, name: &str) -> Result<AgentHandle, GatewayError> {
        let config = self.config.agent(name)?;
        let open_id = self.open_id(&config.account).await?;
        let store = self.token_store(&config.account)?;
        let user = self.client.user(store, open_id);
        // Budgets are counted in the shared state, shared by every process of this gateway.
        let granted = GrantedClient::new(user, config.grant.clone(), name)
            .audit_to(Arc::new(self.audit.clone()))
            .budget_ledger(self.ledger.clone());
        let tools = tools::for_agent(granted.grant(), config.approval)?;
        Ok(AgentHandle::new(
            name,
            granted,
            config.approval,
            config.max_pending_approvals,
            config.approval_ttl,
            self.approvals.clone(),
            Arc::new(self.audit.clone()),
            self.notifier.clone(),
            tools,
            config.uploads_dir.clone(),
        ))
    }

    /// Logins that no longer work: an account whose tokens have expired, or whose refresh
    /// TikTok refuses (every call would fail "re-authorization required"), with the
    /// command that fixes it. A token due for refresh is refreshed, as a call would. One
    /// line per problem; accounts without tokens are the agents' problem (see
    /// [`Gateway::check_tokens`]).
    pub async fn check_logins(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for name in self.config.accounts.keys() {
            let Ok(open_id) = self.open_id(name).await else {
                continue;
            };
            let Ok(store) = self.token_store(name) else {
                continue;
            };
            let user = self.client.user(store, open_id);
            match user.token().await {
                Ok(_) => {}
                Err(error @ tiktok_api::Error::ReauthorizationRequired { .. }) => {
                    problems.push(format!(
                        "account {name}: the login has expired or was refused ({}); every call would fail: run `tiktok-gateway login --config {} --account {name}`",
                        tiktok_agent::error_chain(&error),
                        self.config.file.display()
                    ));
                }
                Err(error) => problems.push(format!(
                    "account {name}: its token could not be checked: {}",
                    tiktok_agent::error_chain(&error)
                )),
            }
        }
        problems
    }

    /// Scopes of each agent's grant that its account's token does not have (the user did
    /// not grant them to the app): such calls would fail at TikTok. One line per problem.
    pub async fn check_tokens(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, agent) in &self.config.agents {
            let token = match self.open_id(&agent.account).await {
                Ok(open_id) => match self.token_store(&agent.account) {
                    Ok(store) => store.load(&open_id).await.ok().flatten(),
                    Err(_) => None,
                },
                Err(error) => {
                    problems.push(format!(
                        "agent {name}: {}",
                        tiktok_agent::error_chain(&error)
                    ));
                    continue;
                }
            };
            let Some(token) = token else { continue };
            let held = tiktok_api::oauth::parse_scopes(&token.scope);
            let missing: Vec<&str> = agent
                .scopes
                .iter()
                .filter(|scope| !held.contains(scope) && !is_app_scope(**scope))
                .map(|scope| scope.as_str())
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "agent {name} is granted {} but account {}'s token does not hold it (the token has: {}); those calls will fail at TikTok",
                    missing.join(", "),
                    agent.account,
                    token.scope
                ));
            }
        }
        problems
    }
}

/// Whether `scope` is the app's rather than a user's: only endpoints called with the app's
/// client token (the Research API) need it, so no user token holds it.
pub fn is_app_scope(scope: tiktok_api::Scope) -> bool {
    let needs = |auth: Auth| {
        tiktok_api::ENDPOINTS
            .iter()
            .any(|meta| meta.auth == auth && meta.scopes.contains(&scope))
    };
    needs(Auth::ClientToken) && !needs(Auth::UserToken)
}

/// A gateway in `dir` for the crate's unit tests: account `demo` (its store `tokens.json`)
/// and a reader agent `reader` on it, none with an HTTP key. `tiktok` and `account` are
/// more entries for the `tiktok` map and `demo`'s map (each starting with `, `).
#[cfg(test)]
pub(crate) fn test_gateway(dir: &std::path::Path, tiktok: &str, account: &str) -> Gateway {
    let text = format!(
        "\
tiktok: {{base_url: http://127.0.0.1:9, client_key: standin{tiktok}}}
accounts: {{demo: {{token_store: tokens.json{account}}}}}
agents:
  reader: {{account: demo, scopes: [user.info.basic], access: [read]}}
audit: audit.sqlite
"
    );
    let file = dir.join("gateway.yaml");
    let config = Config::parse(&file, &text).unwrap();
    Gateway::open_with_secret(config, "secret".into()).unwrap()
}

/// A token of user `open_id` with the scope `user.info.basic`, good for long, for the
/// crate's unit tests.
#[cfg(test)]
pub(crate) fn test_token(open_id: &str) -> tiktok_api::StoredToken {
    tiktok_api::StoredToken {
        open_id: open_id.into(),
        access_token: "act.standin".to_string().into(),
        access_expires_at: i64::MAX / 2,
        refresh_token: None,
        refresh_expires_at: None,
        scope: "user.info.basic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_account_without_tokens_says_how_to_log_in() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", "");
        let error = gateway.open_id("demo").await.unwrap_err();
        let GatewayError::Account(AccountError::NoTokens { account, .. }) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(account, "demo");
        let message = error.to_string();
        assert!(
            message.contains("`tiktok-gateway login --config ")
                && message.contains("gateway.yaml --account demo`"),
            "{message}"
        );
        // An agent on the account cannot run, for the same reason.
        assert!(matches!(
            gateway.agent("reader").await,
            Err(GatewayError::Account(AccountError::NoTokens { .. }))
        ));
    }

    #[tokio::test]
    async fn a_store_of_two_users_needs_the_config_to_name_one() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", "");
        let store = gateway.token_store("demo").unwrap();
        store.save(&test_token("-000a")).await.unwrap();
        store.save(&test_token("-000b")).await.unwrap();
        let error = gateway.open_id("demo").await.unwrap_err();
        let GatewayError::Account(AccountError::ManyUsers { open_ids, .. }) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(open_ids, &["-000a", "-000b"]);
        assert!(
            error
                .to_string()
                .contains("set accounts.demo.open_id to one of -000a, -000b"),
            "{error}"
        );
        let named = test_gateway(dir.path(), "", ", open_id: \"-000b\"");
        assert_eq!(named.open_id("demo").await.unwrap(), "-000b");
        let reader = named.agent("reader").await.unwrap();
        assert!(reader.has_tool("user_info"), "{:?}", reader.tools());
    }
}
