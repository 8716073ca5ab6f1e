//! The gateway's core, below any transport: the TikTok client (holding the app secret and
//! the accounts' tokens), one [`AgentHandle`] per agent (its grant, tools, approvals) and
//! the audit log every decision goes to.

use std::sync::{Arc, LazyLock};

use rmcp::model::Tool;
use serde_json::{Value, json};
use tiktok_agent::tools::TOOLS_JSON;
use tiktok_agent::{
    AuditRecord, AuditSink, Decision, Error, GrantedClient, SqliteAuditLog, SqliteLedger, StateFile,
};
use tiktok_api::meta::{Access, Auth};
use tiktok_api::{Client, FileTokenStore, TokenStore};

use crate::approvals::{Approval, ApprovalError, Approvals, Ending};
use crate::config::{ApprovalMode, Config, ConfigError, SecretSource};
use crate::pii;

/// The tool an agent with approvals asks about a held call with.
pub const APPROVAL_TOOL: &str = "gateway_approval_status";

/// Why the gateway cannot start or act.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Something in the environment is missing or unusable.
    #[error("{0}")]
    Setup(String),
    /// The approvals file failed.
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// A call failed.
    #[error(transparent)]
    Agent(#[from] Error),
    /// The client failed outside a call (building it, reading a token store).
    #[error(transparent)]
    Client(#[from] tiktok_api::Error),
    /// The state file failed.
    #[error(transparent)]
    State(#[from] tiktok_agent::StateError),
}

/// Every endpoint's tool, from the manifest `cargo xtask gen` wrote.
static ALL_TOOLS: LazyLock<Result<Vec<Tool>, String>> = LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Manifest {
        tools: Vec<Tool>,
    }
    serde_json::from_str::<Manifest>(TOOLS_JSON)
        .map(|manifest| manifest.tools)
        .map_err(|error| format!("the built-in tool manifest does not parse: {error}"))
});

/// A running gateway: the client and the shared stores.
#[derive(Debug, Clone)]
pub struct Gateway {
    config: Arc<Config>,
    client: Client,
    audit: SqliteAuditLog,
    approvals: Approvals,
    ledger: SqliteLedger,
}

/// What a tool call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It ran; the API's data (personal data masked).
    Done(Value),
    /// It waits for a human, under this approval id.
    Parked(String),
}

impl Gateway {
    /// The gateway of `config`: the app secret read from its environment variable, the
    /// audit log and approvals file opened (created if missing).
    pub fn open(config: Config) -> Result<Gateway, GatewayError> {
        let secret = read_secret(&config)?;
        Gateway::open_with_secret(config, secret)
    }

    /// [`Gateway::open`] with the app secret given rather than read from the environment.
    pub fn open_with_secret(config: Config, secret: String) -> Result<Gateway, GatewayError> {
        let mut builder = Client::builder().credentials(config.tiktok.client_key.clone(), secret);
        if let Some(base_url) = &config.tiktok.base_url {
            builder = builder.base_url(base_url);
        }
        let client = builder.build()?;
        let audit = SqliteAuditLog::open(&config.audit).map_err(|error| {
            GatewayError::Setup(format!("audit log {}: {error}", config.audit.display()))
        })?;
        let state = StateFile::open(&config.state)?;
        let approvals = Approvals::new(state.clone())?;
        let ledger = SqliteLedger::new(state)?;
        Ok(Gateway {
            config: Arc::new(config),
            client,
            audit,
            approvals,
            ledger,
        })
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
    pub fn audit(&self) -> &SqliteAuditLog {
        &self.audit
    }

    /// The approvals file.
    pub fn approvals(&self) -> &Approvals {
        &self.approvals
    }

    /// The token store of account `name`.
    pub fn token_store(&self, account: &str) -> Result<FileTokenStore, GatewayError> {
        Ok(FileTokenStore::new(
            &self.config.account(account)?.token_store,
        ))
    }

    /// The `open_id` of account `name`: as configured, or the one user in its store.
    pub async fn open_id(&self, account: &str) -> Result<String, GatewayError> {
        let config = self.config.account(account)?;
        if let Some(open_id) = &config.open_id {
            return Ok(open_id.clone());
        }
        let store = self.token_store(account)?;
        let open_ids = store.open_ids().await.map_err(tiktok_api::Error::from)?;
        match open_ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(GatewayError::Setup(format!(
                "account {account} has no tokens in {}: run `tiktok-gateway login --config {} --account {account}` or `accounts import`",
                config.token_store.display(),
                self.config.file.display()
            ))),
            many => Err(GatewayError::Setup(format!(
                "account {account}: {} holds {} users; set accounts.{account}.open_id to one of {}",
                config.token_store.display(),
                many.len(),
                many.join(", ")
            ))),
        }
    }

    /// The handle of agent `name`.
    pub async fn agent(&self, name: &str) -> Result<AgentHandle, GatewayError> {
        let config = self.config.agent(name)?;
        let open_id = self.open_id(&config.account).await?;
        let store: Arc<dyn TokenStore> = Arc::new(self.token_store(&config.account)?);
        let user = self.client.user(store, open_id);
        // Budgets are counted in the state file, shared by every process of this gateway.
        let granted = GrantedClient::new(user, config.grant.clone(), name)
            .audit_to(Arc::new(self.audit.clone()))
            .budget_ledger(Arc::new(self.ledger.clone()));
        let all = ALL_TOOLS
            .as_ref()
            .map_err(|error| GatewayError::Setup(error.clone()))?;
        let mut tools: Vec<Tool> = all
            .iter()
            .filter(|tool| {
                tiktok_api::endpoint(&tool.name)
                    .is_some_and(|meta| granted.grant().check_endpoint(meta).is_ok())
            })
            .cloned()
            .collect();
        if config.approval == ApprovalMode::Writes {
            for tool in &mut tools {
                if tiktok_api::endpoint(&tool.name).is_some_and(|meta| meta.access == Access::Write)
                {
                    let described = tool.description.as_deref().unwrap_or_default();
                    tool.description = Some(
                        format!(
                            "{described}\n\nHeld for a human's approval: the call answers with an approval id at once; ask `{APPROVAL_TOOL}` for its outcome."
                        )
                        .into(),
                    );
                }
            }
            tools.push(approval_tool());
        }
        Ok(AgentHandle {
            name: name.to_string(),
            granted,
            approval: config.approval,
            approvals: self.approvals.clone(),
            tools,
        })
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
                    problems.push(format!("agent {name}: {error}"));
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

    /// Writes one record of a held call's life, straight to the audit log (no agent handle,
    /// no token needed: it must be kept even when the agent can no longer run).
    async fn audit_event(
        &self,
        approval: &Approval,
        decision: Decision,
        reason: String,
    ) -> Result<(), GatewayError> {
        let record = AuditRecord::event(
            &approval.agent,
            &approval.open_id,
            &approval.tool,
            &approval.arguments,
            decision,
            Some(reason),
            Some(&approval.id),
        );
        AuditSink::record(&self.audit, &record)
            .await
            .map_err(|error| GatewayError::Agent(Error::Audit(error)))
    }

    /// Runs the held call `id` once, for `by`: claims it, audits the approval, sends it
    /// through the agent's grant, budgets and audit, and keeps the outcome for the agent.
    /// Every path after the claim ends the approval (`done`, `failed`, or `unknown` when the
    /// call was sent but its outcome could not be audited).
    pub async fn approve(&self, id: &str, by: &str) -> Result<Result<Value, Error>, GatewayError> {
        let approval = self.approvals.claim(id, by)?;
        let fail = |message: String| {
            let value = json!({"message": message});
            self.approvals.finish(id, Ending::Failed, &value)
        };
        if let Err(error) = self
            .audit_event(&approval, Decision::Approved, format!("approved by {by}"))
            .await
        {
            fail(format!("not sent: {error}"))?;
            return Err(error);
        }
        let agent = match self.agent(&approval.agent).await {
            Ok(agent) => agent,
            Err(error) => {
                let reason = format!("not sent: the agent cannot run: {error}");
                fail(reason.clone())?;
                self.audit_event(&approval, Decision::Denied, reason)
                    .await?;
                return Err(error);
            }
        };
        let granted = agent.granted.with_approval(id);
        let result = agent
            .send(&granted, &approval.tool, approval.arguments.clone())
            .await;
        match &result {
            Ok(value) => self.approvals.finish(id, Ending::Done, value)?,
            Err(error @ Error::Audit(_)) => {
                self.approvals
                    .finish(id, Ending::Unknown, &error_json(error))?
            }
            Err(error) => self
                .approvals
                .finish(id, Ending::Failed, &error_json(error))?,
        }
        Ok(result)
    }

    /// Refuses the held call `id`, for `by`, and audits it.
    pub async fn deny(&self, id: &str, by: &str) -> Result<Approval, GatewayError> {
        let approval = self.approvals.deny(id, by)?;
        self.audit_event(&approval, Decision::Rejected, format!("denied by {by}"))
            .await?;
        Ok(approval)
    }
}

/// The app's client secret, from its environment variable or its owner-only file.
fn read_secret(config: &Config) -> Result<String, GatewayError> {
    let file = config.file.display();
    match &config.tiktok.client_secret {
        SecretSource::Env(name) => std::env::var(name).map_err(|_| {
            GatewayError::Setup(format!(
                "the environment variable {name} (tiktok.client_secret_env in {file}) must hold the app's client secret"
            ))
        }),
        SecretSource::File(path) => {
            let shown = path.display();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map_err(|error| GatewayError::Setup(format!("{shown} (tiktok.client_secret_file in {file}): {error}")))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(GatewayError::Setup(format!(
                        "{shown} (tiktok.client_secret_file) can be read by others (mode {:o}): chmod 600 it",
                        mode & 0o777
                    )));
                }
            }
            let text = std::fs::read_to_string(path).map_err(|error| {
                GatewayError::Setup(format!("{shown} (tiktok.client_secret_file in {file}): {error}"))
            })?;
            let secret = text.trim().to_string();
            if secret.is_empty() {
                return Err(GatewayError::Setup(format!("{shown} (tiktok.client_secret_file) is empty")));
            }
            Ok(secret)
        }
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

/// An error as JSON for an agent: TikTok's code, message and log id when TikTok answered.
pub fn error_json(error: &Error) -> Value {
    let mut value = json!({"message": error.to_string()});
    if let Some(client) = error.client() {
        if let Some(code) = client.code() {
            value["code"] = json!(code.as_str());
        }
        if let Some(status) = client.status() {
            value["status"] = json!(status);
        }
        if let Some(log_id) = client.log_id() {
            value["log_id"] = json!(log_id);
        }
    }
    value
}

fn approval_tool() -> Tool {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"id": {"type": "string", "description": "The approval id a held call answered with."}},
        "required": ["id"],
        "additionalProperties": false
    });
    let Value::Object(schema) = schema else {
        unreachable!("a JSON object literal")
    };
    let mut tool = Tool::new(
        APPROVAL_TOOL,
        "The state of a call held for a human's approval: pending, running, done (with the call's data), failed (with TikTok's error) or denied. Only a human decides, with `tiktok-gateway approvals approve|deny ID`.",
        Arc::new(schema),
    );
    tool.annotations = Some(
        rmcp::model::ToolAnnotations::new()
            .read_only(true)
            .open_world(false),
    );
    tool
}

/// One agent's view of the gateway: its tools, its grant, its approvals.
#[derive(Debug, Clone)]
pub struct AgentHandle {
    name: String,
    granted: GrantedClient,
    approval: ApprovalMode,
    approvals: Approvals,
    tools: Vec<Tool>,
}

impl AgentHandle {
    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tools its grant allows (and the approval tool, if its writes wait).
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Whether `name` is one of its tools.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|tool| tool.name == name)
    }

    /// Calls tool `name`: an endpoint through the grant and the audit (a write parked when
    /// the agent's writes wait for approval), or the approval tool.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<Outcome, GatewayError> {
        if name == APPROVAL_TOOL && self.approval != ApprovalMode::None {
            return self.approval_status(&arguments).map(Outcome::Done);
        }
        let write = tiktok_api::endpoint(name).is_some_and(|meta| meta.access == Access::Write);
        if write && self.approval == ApprovalMode::Writes {
            self.granted.check_tool(name, &arguments).await?;
            let parked = self
                .approvals
                .park(&self.name, self.granted.open_id(), name, &arguments);
            let id = match parked {
                Ok(id) => id,
                Err(error) => {
                    let reason = format!("not held: the approvals store failed: {error}");
                    self.granted
                        .note(name, &arguments, Decision::Denied, Some(reason))
                        .await?;
                    return Err(error.into());
                }
            };
            let noted = self
                .granted
                .with_approval(&id)
                .note(
                    name,
                    &arguments,
                    Decision::Parked,
                    Some("waits for a human".into()),
                )
                .await;
            if let Err(error) = noted {
                // Unaudited, it must not run.
                let _ = self.approvals.deny(&id, "gateway: the audit log failed");
                return Err(error.into());
            }
            return Ok(Outcome::Parked(id));
        }
        Ok(Outcome::Done(
            self.send(&self.granted, name, arguments).await?,
        ))
    }

    /// Sends through `granted`, masking personal data in research results.
    async fn send(
        &self,
        granted: &GrantedClient,
        name: &str,
        arguments: Value,
    ) -> Result<Value, Error> {
        let mut value = granted.call_tool(name, arguments).await?;
        if tiktok_api::endpoint(name).is_some_and(pii::masks) {
            pii::mask(&mut value);
        }
        Ok(value)
    }

    fn approval_status(&self, arguments: &Value) -> Result<Value, GatewayError> {
        let Some(id) = arguments.get("id").and_then(Value::as_str) else {
            return Err(Error::InvalidArguments {
                tool: APPROVAL_TOOL,
                path: "/id".into(),
                message: "expected the approval id, a string".into(),
            }
            .into());
        };
        let approval = self.approvals.get(id)?;
        if approval.agent != self.name {
            // Another agent's approvals do not exist for this one.
            return Err(ApprovalError::Unknown(id.to_string()).into());
        }
        Ok(json!({
            "id": approval.id,
            "tool": approval.tool,
            "state": approval.state,
            "decided_by": approval.decided_by,
            "outcome": approval.outcome,
        }))
    }
}
