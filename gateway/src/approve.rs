//! A human's decision on a held call, [`Gateway::approve`] and [`Gateway::deny`]: the move
//! out of `pending` in the state file, the call sent once when approved, and each step
//! audited straight to the log.

use serde_json::{Value, json};
use tiktok_agent::{AuditRecord, AuditSink, Decision, Error};

use crate::agent::error_json;
use crate::approvals::{Approval, Ending};
use crate::error::GatewayError;
use crate::gateway::Gateway;

impl Gateway {
    /// Runs the held call `id` once, for `by`: claims it, audits the approval, sends it
    /// through the agent's grant, budgets and audit, and keeps the outcome for the agent.
    /// Every path after the claim ends the approval (`done`, `failed`, or `unknown` when the
    /// call was sent but its outcome could not be audited).
    pub async fn approve(&self, id: &str, by: &str) -> Result<Result<Value, Error>, GatewayError> {
        let approvals = self.approvals();
        self.expire_due().await?;
        let approval = approvals.claim(id, by).await?;
        self.notifier().decided(&approval, "approved");
        let fail = async |message: String| {
            let value = json!({"message": message});
            approvals.finish(id, Ending::Failed, &value).await
        };
        if let Err(error) = self
            .audit_event(&approval, Decision::Approved, format!("approved by {by}"))
            .await
        {
            fail(format!("not sent: {}", tiktok_agent::error_chain(&error))).await?;
            return Err(error);
        }
        let agent = match self.agent(&approval.agent).await {
            Ok(agent) => agent,
            Err(error) => {
                let reason = format!(
                    "not sent: the agent cannot run: {}",
                    tiktok_agent::error_chain(&error)
                );
                fail(reason.clone()).await?;
                self.audit_event(&approval, Decision::Denied, reason)
                    .await?;
                return Err(error);
            }
        };
        // Held before the gateway refused file uploads: refused now, never sent.
        if let Some(reason) = crate::uploads::refusal(&approval.tool, &approval.arguments) {
            fail(format!("not sent: {reason}")).await?;
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
            Ok(value) => approvals.finish(id, Ending::Done, value).await?,
            Err(error @ Error::Audit(_)) => {
                approvals
                    .finish(id, Ending::Unknown, &error_json(error))
                    .await?
            }
            Err(error) => {
                approvals
                    .finish(id, Ending::Failed, &error_json(error))
                    .await?
            }
        }
        Ok(result)
    }

    /// Refuses the held call `id`, for `by`, and audits it.
    pub async fn deny(&self, id: &str, by: &str) -> Result<Approval, GatewayError> {
        self.expire_due().await?;
        let approval = self.approvals().deny(id, by).await?;
        self.notifier().decided(&approval, "denied");
        self.audit_event(&approval, Decision::Rejected, format!("denied by {by}"))
            .await?;
        Ok(approval)
    }

    /// Expires every pending approval past its deadline, each audited once.
    pub async fn expire_due(&self) -> Result<Vec<Approval>, GatewayError> {
        crate::expiry::expire_due(self.approvals(), self.audit(), self.notifier()).await
    }

    /// Expires approvals past their deadline every `every`, on a task of its own, so each
    /// expires (audited, the hook told) soon after its deadline, not only when someone next
    /// asks about it; with `operators` in the config, the OAuth server's codes and tokens
    /// long expired are deleted on the same beat ([`sweep`](crate::oauth::store::OAuthStore::sweep)), not on a request's
    /// way.
    pub fn spawn_expiry(&self, every: std::time::Duration) {
        let gateway = self.clone();
        tokio::spawn(async move {
            let oauth = if gateway.config().operators.is_empty() {
                None
            } else {
                match gateway.state().oauth() {
                    Ok(store) => Some(store),
                    Err(error) => {
                        tracing::warn!(error = %tiktok_agent::error_chain(&error), "the OAuth store cannot be opened to sweep it");
                        None
                    }
                }
            };
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(error) = gateway.expire_due().await {
                    tracing::warn!(error = %tiktok_agent::error_chain(&error), "expiring approvals failed");
                }
                if let Some(oauth) = &oauth
                    && let Err(error) = oauth.sweep(crate::now_ms()).await
                {
                    tracing::warn!(error = %tiktok_agent::error_chain(&error), "sweeping expired OAuth records failed");
                }
            }
        });
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
