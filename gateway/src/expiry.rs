//! Approvals past their deadline: [`expire_due`] moves them to `expired`, audits each once
//! and tells the notify hook; the server, the `approvals` commands and the agent's own asks
//! all call it, and whoever asks first expires them.

use tiktok_agent::{AuditRecord, AuditSink, Decision, Error};

use crate::approvals::{Approval, Approvals, rfc3339};
use crate::error::GatewayError;
use crate::notify::Notifier;

/// Moves every pending approval in `approvals` past its deadline to `expired` and audits
/// each once (`rejected`, reason `expired: …`), straight to `audit`, and tells `notifier`
/// (`approval.decided`, `expired`). Whoever asks first (the server, an `approvals` command)
/// expires them; the others find none.
pub async fn expire_due(
    approvals: &Approvals,
    audit: &(impl AuditSink + ?Sized),
    notifier: &Notifier,
) -> Result<Vec<Approval>, GatewayError> {
    let expired = approvals.expire_due().await?;
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
                rfc3339(approval.expires_ms)
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

/// What `approvals list` shows for `config`, without opening the TikTok client (no app
/// secret needed): the pending approvals (every one with `all`), oldest first, those past
/// their deadline expired first (audited, the hook told).
pub async fn list(
    config: &crate::config::Config,
    all: bool,
) -> Result<Vec<Approval>, GatewayError> {
    let state = crate::state::SharedState::open(&config.state)?;
    let approvals = Approvals::new(state.approvals()?);
    let audit = crate::audit_log::AuditLog::open(&config.audit).map_err(|source| {
        GatewayError::AuditLog {
            location: config.audit.clone(),
            source,
        }
    })?;
    let notifier = Notifier::new(config.notify.as_ref());
    expire_due(&approvals, &audit, &notifier).await?;
    notifier.flush().await;
    let state = (!all).then_some(crate::approvals::ApprovalState::Pending);
    Ok(approvals.list(state).await?)
}
