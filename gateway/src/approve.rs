//! A human's decision on a held call, [`Gateway::approve`] and [`Gateway::deny`]: the move
//! out of `pending` in the state file, the call sent once when approved, and each step
//! audited straight to the log.

use serde_json::{Value, json};
use tiktok_agent::{AuditRecord, AuditSink, Decision, Error};

use crate::agent::error_json;
use crate::approvals::{Approval, Approvals, Ending};
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::notify::Notifier;

impl Gateway {
    /// Runs the held call `id` once, for `by`: claims it, audits the approval, sends it
    /// through the agent's grant, budgets and audit, and keeps the outcome for the agent.
    /// Every path after the claim ends the approval (`done`, `failed`, or `unknown` when the
    /// call was sent but its outcome could not be audited).
    pub async fn approve(&self, id: &str, by: &str) -> Result<Result<Value, Error>, GatewayError> {
        let approvals = self.approvals();
        self.expire_due().await?;
        let approval = approvals.claim(id, by)?;
        self.notifier().decided(&approval, "approved");
        let fail = |message: String| {
            let value = json!({"message": message});
            approvals.finish(id, Ending::Failed, &value)
        };
        if let Err(error) = self
            .audit_event(&approval, Decision::Approved, format!("approved by {by}"))
            .await
        {
            fail(format!("not sent: {}", tiktok_agent::error_chain(&error)))?;
            return Err(error);
        }
        let agent = match self.agent(&approval.agent).await {
            Ok(agent) => agent,
            Err(error) => {
                let reason = format!(
                    "not sent: the agent cannot run: {}",
                    tiktok_agent::error_chain(&error)
                );
                fail(reason.clone())?;
                self.audit_event(&approval, Decision::Denied, reason)
                    .await?;
                return Err(error);
            }
        };
        // Held before the gateway refused file uploads: refused now, never sent.
        if let Some(reason) = crate::uploads::refusal(&approval.tool, &approval.arguments) {
            fail(format!("not sent: {reason}"))?;
            self.audit_event(&approval, Decision::Denied, reason.clone())
                .await?;
            return Err(GatewayError::Refused {
                tool: approval.tool.clone(),
                reason,
            });
        }
        let granted = agent.granted().with_approval(id);
        let result = agent
            .send(&granted, &approval.tool, approval.arguments.clone())
            .await;
        match &result {
            Ok(value) => approvals.finish(id, Ending::Done, value)?,
            Err(error @ Error::Audit(_)) => {
                approvals.finish(id, Ending::Unknown, &error_json(error))?
            }
            Err(error) => approvals.finish(id, Ending::Failed, &error_json(error))?,
        }
        Ok(result)
    }

    /// Refuses the held call `id`, for `by`, and audits it.
    pub async fn deny(&self, id: &str, by: &str) -> Result<Approval, GatewayError> {
        self.expire_due().await?;
        let approval = self.approvals().deny(id, by)?;
        self.notifier().decided(&approval, "denied");
        self.audit_event(&approval, Decision::Rejected, format!("denied by {by}"))
            .await?;
        Ok(approval)
    }

    /// Expires every pending approval past its deadline, each audited once.
    pub async fn expire_due(&self) -> Result<Vec<Approval>, GatewayError> {
        expire_due(self.approvals(), self.audit(), self.notifier()).await
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
        AuditSink::record(self.audit(), &record)
            .await
            .map_err(|error| GatewayError::Agent(Error::Audit(error)))
    }
}

/// Moves every pending approval in `approvals` past its deadline to `expired` and audits
/// each once (`rejected`, reason `expired: …`), straight to `audit`, and tells `notifier`
/// (`approval.decided`, `expired`). Whoever asks first (the server, an `approvals` command)
/// expires them; the others find none.
pub async fn expire_due(
    approvals: &Approvals,
    audit: &(impl AuditSink + ?Sized),
    notifier: &Notifier,
) -> Result<Vec<Approval>, GatewayError> {
    let expired = approvals.expire_due()?;
    for approval in &expired {
        notifier.decided(approval, "expired");
        let record = AuditRecord::event(
            &approval.agent,
            &approval.open_id,
            &approval.tool,
            &approval.arguments,
            Decision::Rejected,
            Some(format!(
                "expired: not decided by {} (approval_ttl); never sent",
                crate::approvals::rfc3339(approval.expires_ms)
            )),
            Some(&approval.id),
        );
        audit
            .record(&record)
            .await
            .map_err(|error| GatewayError::Agent(Error::Audit(error)))?;
    }
    Ok(expired)
}
