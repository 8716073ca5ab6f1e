//! The MCP server (on `rmcp`): `tools/list` shows an agent only its granted tools,
//! `tools/call` runs through [`AgentHandle::call`]. Over stdio the agent is fixed; over HTTP
//! it is the one whose key authenticated the request (see [`crate::http`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    ContentBlock, CreateTaskResult, DetailedTask, GetTaskParams, GetTaskResult, Implementation,
    ListToolsResult, MetaObject, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ServerCapabilities, ServerConfig, Task, TaskPayload, TaskStatus, Tool,
};
use rmcp::service::{ElicitationMode, Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tiktok_agent::jobs::JobProgress;
use tiktok_agent::{DenyReason, Error};

use crate::agent::{AgentHandle, Outcome, ProgressFn, error_json};
use crate::approvals::{ApprovalError, rfc3339};
use crate::error::GatewayError;
use crate::tools;
use crate::tools::APPROVAL_TOOL;

/// The agent an HTTP request authenticated as (set by the key check, read here).
#[derive(Debug, Clone)]
pub struct AuthenticatedAgent(pub String);

/// Who a request is from.
#[derive(Debug, Clone)]
enum Agents {
    /// Always this agent (stdio).
    Fixed(Arc<AgentHandle>),
    /// The agent the request authenticated as (HTTP).
    ByRequest(Arc<BTreeMap<String, Arc<AgentHandle>>>),
    /// An agent whose gateway cannot run (stdio, the app secret missing): its tools are
    /// listed, and every call answers this reason as a tool error.
    Unavailable {
        tools: Arc<Vec<Tool>>,
        reason: Arc<str>,
    },
}

/// The gateway as an MCP server.
#[derive(Debug, Clone)]
pub struct GatewayServer {
    agents: Agents,
    approvals_url: Option<Arc<str>>,
}

impl GatewayServer {
    /// A server for one agent (stdio).
    pub fn for_agent(agent: AgentHandle) -> Self {
        GatewayServer {
            agents: Agents::Fixed(Arc::new(agent)),
            approvals_url: None,
        }
    }

    /// A server that lists `tools` and answers every call with `reason` as a tool error:
    /// over stdio, when the gateway cannot open (the app secret missing from a client's
    /// minimal environment), so the client sees why rather than a closed connection.
    pub fn unavailable(tools: Vec<Tool>, reason: String) -> Self {
        GatewayServer {
            agents: Agents::Unavailable {
                tools: Arc::new(tools),
                reason: reason.into(),
            },
            approvals_url: None,
        }
    }

    /// A server for requests authenticated by [`crate::http`].
    pub fn for_requests(agents: BTreeMap<String, Arc<AgentHandle>>) -> Self {
        GatewayServer {
            agents: Agents::ByRequest(Arc::new(agents)),
            approvals_url: None,
        }
    }

    /// Links held calls to the approval page at `url` (the config's `http.approvals_url`);
    /// without it, over HTTP, to this server's own `/approvals` on the request's host.
    pub fn approvals_url(mut self, url: Option<&str>) -> Self {
        self.approvals_url = url.map(|url| Arc::from(url.trim_end_matches('/')));
        self
    }

    /// Where a human decides the held call `id`, if known.
    fn approval_link(&self, context: &RequestContext<RoleServer>, id: &str) -> Option<String> {
        let page = match (&self.approvals_url, &self.agents) {
            (Some(url), _) => url.to_string(),
            // The host was checked against the allowed ones before the request got here.
            (None, Agents::ByRequest(_)) => {
                let parts = context.extensions.get::<http::request::Parts>()?;
                let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
                format!("http://{host}{}", crate::APPROVALS_PATH)
            }
            (None, _) => return None,
        };
        Some(format!("{page}#{id}"))
    }

    fn agent(&self, context: &RequestContext<RoleServer>) -> Result<Arc<AgentHandle>, McpError> {
        match &self.agents {
            Agents::Fixed(agent) => Ok(agent.clone()),
            Agents::Unavailable { .. } => Err(McpError::internal_error(
                "the gateway cannot run; see its tool errors",
                None,
            )),
            Agents::ByRequest(agents) => context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<AuthenticatedAgent>())
                .and_then(|agent| agents.get(&agent.0))
                .cloned()
                .ok_or_else(|| McpError::invalid_request("no authenticated agent", None)),
        }
    }
}

impl ServerHandler for GatewayServer {
    fn get_info(&self) -> ServerConfig {
        // Tasks (the `io.modelcontextprotocol/tasks` extension): a client that declares it
        // gets a held write as a task it can poll with `tasks/get`.
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
        .with_server_info(
            Implementation::new("tiktok-gateway", env!("CARGO_PKG_VERSION"))
                .with_title("TikTok gateway"),
        )
        .with_instructions(
            "Tools call the TikTok v2 API on one creator's account. Each tool is one \
                 endpoint; its description gives the scope, access, rate limit, paging and \
                 limits. Only the tools this agent was granted are listed. Every call is \
                 checked and audited; writes may wait for a human's approval.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = match &self.agents {
            Agents::Unavailable { tools, .. } => tools.to_vec(),
            _ => self.agent(&context)?.tools().to_vec(),
        };
        Ok(ListToolsResult::with_all_items(tools).with_cache_scope(CacheScope::Private))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        match &self.agents {
            Agents::Fixed(agent) => agent.tools().iter().find(|tool| tool.name == name).cloned(),
            Agents::Unavailable { tools, .. } => {
                tools.iter().find(|tool| tool.name == name).cloned()
            }
            Agents::ByRequest(_) => None,
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if let Agents::Unavailable { tools, reason } = &self.agents {
            if !tools.iter().any(|tool| tool.name == request.name) {
                return Err(unknown_tool(&request.name));
            }
            return Ok(CallToolResponse::from(CallToolResult::structured_error(
                json!({
                    "unavailable": reason.as_ref(),
                    "message": format!(
                        "{} cannot run: {reason}; nothing was sent. Its operator must fix this and restart the gateway (the MCP client's server entry).",
                        request.name
                    ),
                }),
            )));
        }
        let agent = self.agent(&context)?;
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let tasks = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks());
        let progress = context
            .meta
            .get_progress_token()
            .map(|token| progress_reporter(context.peer.clone(), token));
        let outcome = agent
            .call_reporting(&request.name, arguments, progress)
            .await;
        let link = match &outcome {
            Ok(Outcome::Parked { id, .. }) => self.approval_link(&context, id),
            _ => None,
        };
        if let (Some(link), Ok(Outcome::Parked { id, .. })) = (&link, &outcome) {
            offer_page(&context, &request.name, id, link).await;
        }
        match outcome {
            // A client that declared tasks gets the held write as one: its id is the
            // approval's, `tasks/get` tells how it stands.
            Ok(Outcome::Parked {
                id,
                created_ms,
                expires_ms,
            }) if tasks => {
                // The approval's own time, as `tasks/get` reports it.
                let now = rfc3339(created_ms);
                let mut message = waiting(&id, expires_ms);
                if let Some(link) = &link {
                    message.push_str(&format!("; a human decides at {link}"));
                }
                let task = Task::new(id.clone(), TaskStatus::Working, now.clone(), now)
                    .with_status_message(message)
                    .with_poll_interval_ms(TASK_POLL_MS);
                Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
            }
            outcome => answer(&request.name, outcome, link.as_deref()).map(CallToolResponse::from),
        }
    }

    /// `tasks/cancel`: the agent withdraws its own held write (denied, never sent).
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let agent = self.agent(&context)?;
        match agent.withdraw(&request.task_id).await {
            Ok(()) => Ok(()),
            Err(GatewayError::Approval(ApprovalError::Unknown(_))) => {
                Err(McpError::invalid_params(
                    format!("no task {:?} for this agent", request.task_id),
                    None,
                ))
            }
            Err(GatewayError::Approval(
                error @ (ApprovalError::NotPending { .. } | ApprovalError::Expired { .. }),
            )) => Err(McpError::invalid_params(error.to_string(), None)),
            Err(error) => {
                tracing::error!(error = %tiktok_agent::error_chain(&error), "withdrawing a held call failed");
                Err(McpError::internal_error(
                    "the gateway failed; its operator has the details in its log",
                    None,
                ))
            }
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let agent = self.agent(&context)?;
        // The approval status tool's answer (audited as every status ask is).
        let status = match agent
            .call(APPROVAL_TOOL, json!({"id": request.task_id}))
            .await
        {
            Ok(Outcome::Done(status)) => status,
            Ok(Outcome::Parked { .. }) | Err(GatewayError::Approval(ApprovalError::Unknown(_))) => {
                return Err(McpError::invalid_params(
                    format!("no task {:?} for this agent", request.task_id),
                    None,
                ));
            }
            Err(error) => {
                return Err(answer(APPROVAL_TOOL, Err(error), None)
                    .err()
                    .unwrap_or_else(|| McpError::invalid_params("no such task", None)));
            }
        };
        Ok(GetTaskResult::new(task_of(&request.task_id, &status)))
    }
}

/// How a call's outcome reaches the agent: data as structured content; a held call as a
/// normal result (`status: pending_approval`, the approval id and its deadline: not a
/// failure, nothing to retry); a refusal or TikTok's error as a tool error the model can
/// read and act on; a tool the agent does not have as the JSON-RPC error an unknown tool
/// gets.
fn answer(
    name: &str,
    outcome: Result<Outcome, GatewayError>,
    link: Option<&str>,
) -> Result<CallToolResult, McpError> {
    match outcome {
        Ok(Outcome::Done(value)) => {
            let result = CallToolResult::structured(match value {
                object @ Value::Object(_) => object,
                other => json!({"data": other}),
            });
            // Text written by TikTok users: marked, so a client can keep it apart from
            // instructions.
            if tools::third_party_tool(name) {
                let mut meta = serde_json::Map::new();
                meta.insert(tools::THIRD_PARTY_META.into(), Value::Bool(true));
                Ok(result.with_meta(Some(MetaObject(meta))))
            } else {
                Ok(result)
            }
        }
        Ok(Outcome::Parked { id, expires_ms, .. }) => {
            let expires_at = rfc3339(expires_ms);
            let mut content = json!({
                "status": "pending_approval",
                "approval_id": id,
                "expires_at": expires_at,
            });
            if let Some(link) = link {
                content["approval_url"] = json!(link);
            }
            let mut result = CallToolResult::structured(content);
            // Beside the JSON (which `structured` puts in a text block too), what to do, for a
            // client that shows text or a model that reads it.
            result.content.push(ContentBlock::text(format!(
                "{name} is held for a human's approval (approval id {id}); nothing has been sent yet. \
                 Do not call it again: a human approves or denies it (until {expires_at}, then it \
                 expires and never runs). Ask {APPROVAL_TOOL} with {{\"id\": \"{id}\"}} for its \
                 state and, once it has run, its outcome."
            )));
            Ok(result)
        }
        Err(GatewayError::Agent(error)) => api_error(name, &error),
        Err(GatewayError::Refused { reason, .. }) => Ok(CallToolResult::structured_error(json!({
            "refused": reason,
            "message": format!("{name} refused by the gateway: {reason}; nothing was sent"),
        }))),
        Err(GatewayError::Approval(error @ ApprovalError::TooManyPending { .. })) => {
            Ok(CallToolResult::structured_error(json!({
                "refused": "too many pending approvals",
                "message": format!("{name} refused: {error}; nothing was held or sent"),
            })))
        }
        Err(GatewayError::Approval(error @ ApprovalError::Expired { .. })) => {
            Ok(CallToolResult::structured_error(json!({
                "message": error.to_string(),
            })))
        }
        Err(GatewayError::Approval(ApprovalError::Unknown(id))) => {
            Ok(CallToolResult::structured_error(json!({
                "message": format!("no approval {id:?} for this agent"),
            })))
        }
        Err(other) => {
            // The details (paths, stores) are the operator's, not the agent's.
            let detail = tiktok_agent::error_chain(&other);
            tracing::error!(
                tool = %tiktok_agent::escape_controls(name),
                error = %tiktok_agent::escape_controls(&detail),
                "a tool call failed in the gateway"
            );
            Err(McpError::internal_error(
                "the gateway failed; its operator has the details in its log",
                None,
            ))
        }
    }
}

/// A job's progress as `notifications/progress` for `token`, sent in order on a task of
/// their own (a slow client never holds the job up); the task ends with the job.
fn progress_reporter(peer: Peer<RoleServer>, token: ProgressToken) -> ProgressFn {
    let (sender, mut reports) = tokio::sync::mpsc::unbounded_channel::<JobProgress>();
    tokio::spawn(async move {
        while let Some(report) = reports.recv().await {
            let mut note = ProgressNotificationParam::new(token.clone(), report.progress as f64)
                .with_message(report.message);
            if let Some(total) = report.total {
                note = note.with_total(total as f64);
            }
            if let Err(error) = peer.notify_progress(note).await {
                tracing::debug!(error = %error, "a progress notification was not sent");
                break;
            }
        }
    });
    Box::new(move |report| {
        let _ = sender.send(report);
    })
}

/// How long a held call's answer waits for the client to show the approval page's URL.
const OFFER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Offers the approval page to the client's user (URL-mode elicitation, when the client
/// declared it): the client shows the page's host and asks before opening it. Whatever the
/// user answers, the call stays held; only the page (or the CLI) decides. Bounded by
/// [`OFFER_WAIT`], so a client that never answers does not hold the call's answer up.
async fn offer_page(context: &RequestContext<RoleServer>, tool: &str, id: &str, link: &str) {
    if !context
        .peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Url)
    {
        return;
    }
    let Ok(url) = url::Url::parse(link) else {
        return;
    };
    let message = format!(
        "{tool} waits for a human's approval (approval {id}); its operator approves or denies it on this page"
    );
    let offered = context
        .peer
        .elicit_url_with_timeout(message, url, id, Some(OFFER_WAIT))
        .await;
    tracing::debug!(approval = %id, outcome = ?offered, "approval page offered");
}

/// How often a client should poll a held write's task, in milliseconds.
const TASK_POLL_MS: u64 = 5_000;

/// What a held write's task says while it waits.
fn waiting(id: &str, expires_ms: i64) -> String {
    format!(
        "held for a human's approval (approval id {id}); nothing has been sent yet; undecided by {}, it expires and never runs",
        rfc3339(expires_ms)
    )
}

/// A held write as a task, from the approval status tool's answer: `working` while it
/// waits or runs; `completed` once it ends, with the call's result (a tool error when it
/// failed, was denied or expired: nothing to retry at the protocol level).
fn task_of(id: &str, status: &Value) -> DetailedTask {
    let text = |key: &str| status[key].as_str().unwrap_or_default().to_string();
    let created = text("created_at");
    let updated = status["decided_at"]
        .as_str()
        .map_or(created.clone(), str::to_string);
    let task =
        Task::new(id, TaskStatus::Working, created, updated).with_poll_interval_ms(TASK_POLL_MS);
    let by = text("decided_by");
    let done = |result: CallToolResult| {
        let result = match serde_json::to_value(result) {
            Ok(Value::Object(result)) => result,
            _ => serde_json::Map::new(),
        };
        TaskPayload::Completed { result }
    };
    let (message, payload) = match status["state"].as_str().unwrap_or_default() {
        "pending" => (
            format!(
                "held for a human's approval; nothing has been sent yet; undecided by {}, it expires and never runs",
                text("expires_at")
            ),
            TaskPayload::Working,
        ),
        "running" => (
            format!("approved by {by}; being sent"),
            TaskPayload::Working,
        ),
        "done" => (
            format!("approved by {by}; done"),
            done(CallToolResult::structured(match &status["outcome"] {
                object @ Value::Object(_) => object.clone(),
                other => json!({"data": other}),
            })),
        ),
        "denied" => (
            format!("denied by {by}; nothing was sent"),
            done(CallToolResult::structured_error(json!({
                "message": format!("denied by {by}; nothing was sent"),
            }))),
        ),
        "expired" => (
            "not decided in time; it expired and was never sent".to_string(),
            done(CallToolResult::structured_error(json!({
                "message": format!("not decided by {}; it expired and was never sent", text("expires_at")),
            }))),
        ),
        state => (
            format!("approved by {by}; {state}"),
            done(CallToolResult::structured_error(json!({
                "state": state,
                "error": status["outcome"],
            }))),
        ),
    };
    DetailedTask::new(task.with_status_message(message), payload)
}

fn api_error(name: &str, error: &Error) -> Result<CallToolResult, McpError> {
    match error {
        Error::UnknownTool { .. } => Err(unknown_tool(name)),
        Error::Denied { reason, .. } if tool_not_granted(reason) => Err(unknown_tool(name)),
        Error::Denied { reason, .. } => Ok(CallToolResult::structured_error(json!({
            "refused": reason.to_string(),
            "message": format!("{name} refused by this agent's grant: {reason}; nothing was sent"),
        }))),
        Error::InvalidArguments { path, message, .. } => {
            Ok(CallToolResult::structured_error(json!({
                "invalid_argument": path,
                "message": format!("arguments of {name} at {path:?}: {message}"),
            })))
        }
        Error::Audit(problem) => {
            let detail = tiktok_agent::error_chain(problem);
            tracing::error!(
                tool = %tiktok_agent::escape_controls(name),
                error = %tiktok_agent::escape_controls(&detail),
                "the audit log failed"
            );
            Err(McpError::internal_error(
                "the audit log failed; the answer is withheld (its operator has the details in its log)",
                None,
            ))
        }
        other => Ok(CallToolResult::structured_error(json!({
            "error": error_json(other)
        }))),
    }
}

/// Refusals that mean the tool is not the agent's at all (it is not in its list).
fn tool_not_granted(reason: &DenyReason) -> bool {
    matches!(
        reason,
        DenyReason::OAuthEndpoint
            | DenyReason::EndpointNotAllowed
            | DenyReason::AccessNotGranted(_)
            | DenyReason::MissingScope(_)
    )
}

fn unknown_tool(name: &str) -> McpError {
    McpError::invalid_params(format!("unknown tool {name:?}"), None)
}
