//! One agent's view of the gateway, [`AgentHandle`]: a tool call sent through its grant and
//! the audit, a write parked when its writes wait for a human, and the approval status tool
//! that tells it what became of a parked write.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::Tool;
use serde_json::{Value, json};
use tiktok_agent::jobs::{Job, JobKind, JobProgress, JobRun, UploadsDir};
use tiktok_agent::{AuditRecord, AuditSink, Decision, Error, GrantedClient};
use tiktok_api::meta::Access;

use crate::approvals::{ApprovalError, Approvals, rfc3339};
use crate::config::ApprovalMode;
use crate::error::GatewayError;
use crate::notify::Notifier;
use crate::tools::APPROVAL_TOOL;
use crate::uploads;
use tiktok_api::pii;

/// What a tool call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It ran; the API's data (personal data masked).
    Done(Value),
    /// It waits for a human, under this approval id, until its deadline.
    Parked {
        /// The approval id.
        id: String,
        /// When it was parked, Unix milliseconds.
        created_ms: i64,
        /// Its deadline, Unix milliseconds: undecided then, it expires and never runs.
        expires_ms: i64,
    },
}

/// One agent's view of the gateway: its tools, its grant, its approvals.
#[derive(Debug, Clone)]
pub struct AgentHandle {
    name: String,
    granted: GrantedClient,
    approval: ApprovalMode,
    max_pending: u32,
    approval_ttl: Duration,
    approvals: Approvals,
    audit: Arc<dyn AuditSink>,
    notifier: Notifier,
    tools: Vec<Tool>,
    jobs: JobRun,
}

/// Where a job's progress reports go (an MCP client's progress token).
pub type ProgressFn = Box<dyn Fn(JobProgress) + Send + Sync>;

impl AgentHandle {
    /// The handle of agent `name`, calling through `granted`, showing `tools`; at most
    /// `max_pending` of its writes wait for a human at once, each for `approval_ttl`;
    /// expiries are audited to `audit`; `notifier` hears of each approval; its jobs read
    /// files from `uploads`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &str,
        granted: GrantedClient,
        approval: ApprovalMode,
        max_pending: u32,
        approval_ttl: Duration,
        approvals: Approvals,
        audit: Arc<dyn AuditSink>,
        notifier: Notifier,
        tools: Vec<Tool>,
        uploads: Option<UploadsDir>,
    ) -> AgentHandle {
        AgentHandle {
            name: name.to_string(),
            granted,
            approval,
            max_pending,
            approval_ttl,
            approvals,
            audit,
            notifier,
            tools,
            jobs: JobRun::new().uploads(uploads),
        }
    }

    /// The client its calls go through (its grant, budgets and audit).
    pub(crate) fn granted(&self) -> &GrantedClient {
        &self.granted
    }

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
        self.call_reporting(name, arguments, None).await
    }

    /// Calls tool `name` as [`AgentHandle::call`] does; a job that runs now reports its
    /// progress to `progress`.
    pub async fn call_reporting(
        &self,
        name: &str,
        arguments: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Outcome, GatewayError> {
        if tracing::enabled!(tracing::Level::DEBUG) {
            // Redacted as the audit redacts (the same function): ids, numbers and enum
            // values kept, other text replaced by its length. The answer is never logged.
            let redacted = AuditRecord::event(
                &self.name,
                self.granted.open_id(),
                name,
                &arguments,
                Decision::Allowed,
                None,
                None,
            );
            tracing::debug!(
                agent = %self.name,
                tool = %tiktok_agent::escape_controls(&redacted.endpoint),
                arguments = %redacted.arguments,
                "tool call"
            );
        }
        // On the heap: the call's future (the grant's checks, the audit, the client's
        // request) is several kilobytes, and the MCP server's task, which holds it, is
        // moved in memory whole when it is spawned and as it completes.
        let outcome = Box::pin(self.dispatch(name, arguments, progress)).await;
        tracing::debug!(
            agent = %self.name,
            tool = %tiktok_agent::escape_controls(name),
            outcome = match &outcome {
                Ok(Outcome::Done(_)) => "done",
                Ok(Outcome::Parked { .. }) => "held",
                Err(_) => "error",
            },
            "tool call answered"
        );
        outcome
    }

    async fn dispatch(
        &self,
        name: &str,
        arguments: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Outcome, GatewayError> {
        if name == APPROVAL_TOOL && self.approval != ApprovalMode::None {
            return self.approval_status(&arguments).await.map(Outcome::Done);
        }
        // Only for the agent's own tools: any other is unknown to it, whatever it asks.
        if let Some(reason) = uploads::refusal(name, &arguments).filter(|_| self.has_tool(name)) {
            self.granted
                .note(name, &arguments, Decision::Denied, Some(reason.clone()))
                .await?;
            return Err(GatewayError::Refused {
                tool: name.to_string(),
                reason,
            });
        }
        if let Some(kind) = JobKind::from_name(name).filter(|_| self.has_tool(name)) {
            let job = self.granted.job(kind, &arguments).await?;
            if kind.access() == Access::Write && self.approval == ApprovalMode::Writes {
                return self
                    .park(name, &arguments, Some(&job))
                    .await
                    .map(|(id, expires_ms)| self.parked(id, expires_ms));
            }
            let run = match progress {
                Some(progress) => self.jobs.clone().on_progress(progress),
                None => self.jobs.clone(),
            };
            return Ok(Outcome::Done(self.granted.run_job(&job, &run).await?));
        }
        let write = tiktok_api::endpoint(name).is_some_and(|meta| meta.access == Access::Write);
        if write && self.approval == ApprovalMode::Writes {
            return self
                .park(name, &arguments, None)
                .await
                .map(|(id, expires_ms)| self.parked(id, expires_ms));
        }
        Ok(Outcome::Done(
            self.send(&self.granted, name, arguments).await?,
        ))
    }

    /// Holds write `name` for a human once its grant and arguments check out, its budgets
    /// are taken (checked and counted: a held write counts as the call it will be; when it
    /// runs after approval they are checked again and its take moves to that time, so it
    /// counts once; a denied write keeps its take) and the agent is under its cap of
    /// pending approvals; audits that it waits and returns the approval id and its deadline.
    /// A job is kept with its file's size and SHA-256, checked again when it runs.
    async fn park(
        &self,
        name: &str,
        arguments: &Value,
        job: Option<&Job>,
    ) -> Result<(String, i64), GatewayError> {
        // Expired approvals no longer count against the cap.
        crate::expiry::expire_due(&self.approvals, self.audit.as_ref(), &self.notifier).await?;
        // Checked before the budgets are taken, so a write refused for the cap takes
        // none; checked again as it is stored, where sessions side by side cannot race.
        if self.approvals.pending(&self.name).await? >= self.max_pending {
            match job {
                Some(job) => self.granted.check_job(job, &self.jobs).await?,
                None => drop(self.granted.check_tool(name, arguments).await?),
            }
            return self.refuse_over_cap(name, arguments).await;
        }
        let id = Approvals::new_id();
        let kept = match job {
            Some(job) => {
                self.granted
                    .hold_job(job, arguments, &self.jobs, &id)
                    .await?
            }
            None => {
                self.granted.hold_tool(name, arguments, &id).await?;
                arguments.clone()
            }
        };
        let arguments = &kept;
        let parked = self
            .approvals
            .park(
                &id,
                &self.name,
                self.granted.open_id(),
                name,
                arguments,
                self.max_pending,
                self.approval_ttl,
            )
            .await;
        let expires_ms = match parked {
            Ok(expires_ms) => expires_ms,
            Err(ApprovalError::TooManyPending { .. }) => {
                return self.refuse_over_cap(name, arguments).await;
            }
            Err(error) => {
                let reason = format!(
                    "not held: the approvals store failed: {}",
                    tiktok_agent::error_chain(&error)
                );
                self.granted
                    .note(name, arguments, Decision::Denied, Some(reason))
                    .await?;
                return Err(error.into());
            }
        };
        let noted = self
            .granted
            .with_approval(&id)
            .note(
                name,
                arguments,
                Decision::Parked,
                Some("waits for a human".into()),
            )
            .await;
        if let Err(error) = noted {
            // Unaudited, it must not run.
            let _ = self
                .approvals
                .deny(&id, "gateway: the audit log failed")
                .await;
            return Err(error.into());
        }
        // Sent on a task of its own: the agent's answer does not wait for it.
        match self.approvals.get(&id).await {
            Ok(approval) => self.notifier.created(&approval),
            Err(error) => tracing::error!(
                approval = %id,
                error = %tiktok_agent::error_chain(&error),
                "approval.created not sent: the approval could not be read back"
            ),
        }
        Ok((id, expires_ms))
    }

    /// Withdraws this agent's own held call `id` (MCP's `tasks/cancel`): denied by the
    /// agent, audited (`rejected`) and told to the notify hook; never sent. Another agent's
    /// id is unknown to it; one already decided or expired is refused as such.
    pub async fn withdraw(&self, id: &str) -> Result<(), GatewayError> {
        crate::expiry::expire_due(&self.approvals, self.audit.as_ref(), &self.notifier).await?;
        match self.approvals.get(id).await {
            Ok(approval) if approval.agent == self.name => {}
            Ok(_) | Err(ApprovalError::Unknown(_)) => {
                return Err(ApprovalError::Unknown(id.to_string()).into());
            }
            Err(error) => return Err(error.into()),
        }
        let by = format!("agent {}", self.name);
        let approval = self.approvals.deny(id, &by).await?;
        self.notifier.decided(&approval, "denied");
        self.granted
            .with_approval(id)
            .note(
                &approval.tool,
                &approval.arguments,
                Decision::Rejected,
                Some(format!("withdrawn by the {by}")),
            )
            .await?;
        Ok(())
    }

    /// The outcome of a call parked under `id` until `expires_ms`: parked its TTL before.
    fn parked(&self, id: String, expires_ms: i64) -> Outcome {
        let ttl = i64::try_from(self.approval_ttl.as_millis()).unwrap_or(i64::MAX);
        Outcome::Parked {
            id,
            created_ms: expires_ms.saturating_sub(ttl),
            expires_ms,
        }
    }

    /// Refuses a write because the agent has as many waiting as it may, audited.
    async fn refuse_over_cap<T>(&self, name: &str, arguments: &Value) -> Result<T, GatewayError> {
        let error = ApprovalError::TooManyPending {
            agent: self.name.clone(),
            limit: self.max_pending,
        };
        self.granted
            .note(name, arguments, Decision::Denied, Some(error.to_string()))
            .await?;
        Err(error.into())
    }

    /// Sends through `granted` (a job runs whole): secret fields (an upload URL) stripped
    /// from every result, personal data masked in research results.
    pub(crate) async fn send(
        &self,
        granted: &GrantedClient,
        name: &str,
        arguments: Value,
    ) -> Result<Value, Error> {
        if let Some(kind) = JobKind::from_name(name) {
            let job = granted.job(kind, &arguments).await?;
            return granted.run_job(&job, &self.jobs).await;
        }
        let mut value = granted.call_tool(name, arguments).await?;
        if let Some(meta) = tiktok_api::endpoint(name) {
            uploads::strip_secrets(meta, &mut value);
            if pii::masks(meta) {
                pii::mask(&mut value);
            }
        }
        Ok(value)
    }

    /// The approval status tool: the state of one of this agent's held calls. Every ask
    /// is audited (`allowed` with the approval's id, `invalid` without an id, `denied` for an
    /// id that is not this agent's); unaudited, it answers nothing.
    async fn approval_status(&self, arguments: &Value) -> Result<Value, GatewayError> {
        let Some(id) = arguments.get("id").and_then(Value::as_str) else {
            let reason = "expected the approval id, a string";
            self.audit_status(arguments, Decision::Invalid, Some(reason.into()), None)
                .await?;
            return Err(Error::InvalidArguments {
                tool: APPROVAL_TOOL,
                path: "/id".into(),
                message: reason.into(),
            }
            .into());
        };
        crate::expiry::expire_due(&self.approvals, self.audit.as_ref(), &self.notifier).await?;
        let approval = match self.approvals.get(id).await {
            // Another agent's approvals do not exist for this one.
            Ok(approval) if approval.agent == self.name => approval,
            Ok(_) | Err(ApprovalError::Unknown(_)) => {
                let unknown = ApprovalError::Unknown(id.to_string());
                self.audit_status(arguments, Decision::Denied, Some(unknown.to_string()), None)
                    .await?;
                return Err(unknown.into());
            }
            Err(error) => return Err(error.into()),
        };
        let reason = format!("state {}", approval.state);
        self.audit_status(
            arguments,
            Decision::Allowed,
            Some(reason),
            Some(&approval.id),
        )
        .await?;
        Ok(json!({
            "id": approval.id,
            "tool": approval.tool,
            "state": approval.state,
            "decided_by": approval.decided_by,
            "outcome": approval.outcome,
            "created_at": rfc3339(approval.created_ms),
            "decided_at": approval.decided_ms.map(rfc3339),
            "expires_at": rfc3339(approval.expires_ms),
        }))
    }

    /// One record of an approval status ask: the id kept when it has an approval id's
    /// shape, any other text replaced by its length (as every record's arguments are).
    async fn audit_status(
        &self,
        arguments: &Value,
        decision: Decision,
        reason: Option<String>,
        approval: Option<&str>,
    ) -> Result<(), GatewayError> {
        let mut record = AuditRecord::event(
            &self.name,
            self.granted.open_id(),
            APPROVAL_TOOL,
            &Value::Null,
            decision,
            reason,
            approval,
        );
        let id = match arguments.get("id") {
            Some(Value::String(id)) if Approvals::is_id(id) => Value::String(id.clone()),
            Some(Value::String(text)) => {
                Value::String(format!("[redacted: {} chars]", text.chars().count()))
            }
            Some(Value::Null) | None => Value::Null,
            Some(_) => Value::String("[redacted: not a string]".into()),
        };
        record.arguments = json!({ "id": id });
        Ok(self.granted.audit(record).await?)
    }
}

/// An error as JSON for an agent: TikTok's code, message and log id when TikTok answered.
pub fn error_json(error: &Error) -> Value {
    // The error and its causes: a transport failure says why (a timeout, a refused
    // connection), a refused refresh says what TikTok answered.
    let mut value = json!({"message": tiktok_agent::error_chain(error)});
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
