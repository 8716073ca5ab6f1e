//! One agent's view of the gateway, [`AgentHandle`]: a tool call sent through its grant and
//! the audit, a write parked when its writes wait for a human, and the approval status tool
//! that tells it what became of a parked write.

use rmcp::model::Tool;
use serde_json::{Value, json};
use tiktok_agent::{Decision, Error, GrantedClient};
use tiktok_api::meta::Access;

use crate::approvals::{ApprovalError, Approvals};
use crate::config::ApprovalMode;
use crate::error::GatewayError;
use crate::pii;
use crate::tools::APPROVAL_TOOL;

/// What a tool call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It ran; the API's data (personal data masked).
    Done(Value),
    /// It waits for a human, under this approval id.
    Parked(String),
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
    /// The handle of agent `name`, calling through `granted`, showing `tools`.
    pub(crate) fn new(
        name: &str,
        granted: GrantedClient,
        approval: ApprovalMode,
        approvals: Approvals,
        tools: Vec<Tool>,
    ) -> AgentHandle {
        AgentHandle {
            name: name.to_string(),
            granted,
            approval,
            approvals,
            tools,
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
        if name == APPROVAL_TOOL && self.approval != ApprovalMode::None {
            return self.approval_status(&arguments).map(Outcome::Done);
        }
        let write = tiktok_api::endpoint(name).is_some_and(|meta| meta.access == Access::Write);
        if write && self.approval == ApprovalMode::Writes {
            return self.park(name, &arguments).await.map(Outcome::Parked);
        }
        Ok(Outcome::Done(
            self.send(&self.granted, name, arguments).await?,
        ))
    }

    /// Holds write `name` for a human once its grant and arguments check out, and audits
    /// that it waits; returns the approval id.
    async fn park(&self, name: &str, arguments: &Value) -> Result<String, GatewayError> {
        self.granted.check_tool(name, arguments).await?;
        let parked = self
            .approvals
            .park(&self.name, self.granted.open_id(), name, arguments);
        let id = match parked {
            Ok(id) => id,
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
            let _ = self.approvals.deny(&id, "gateway: the audit log failed");
            return Err(error.into());
        }
        Ok(id)
    }

    /// Sends through `granted`, masking personal data in research results.
    pub(crate) async fn send(
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

    /// The approval status tool: the state of one of this agent's held calls.
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
