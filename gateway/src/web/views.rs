//! What the approval page shows, as askama templates (`templates/approvals/`, HTML-escaped
//! by default: an agent's text is always shown as text): the sign-in form, the pending
//! calls in full, and the message after a decision.

use std::time::Duration;

use askama::Template;
use tiktok_api::meta::Access;

use crate::approvals::{Approval, rfc3339};
use crate::gateway::Gateway;

/// The sign-in form.
#[derive(Template)]
#[template(path = "approvals/sign_in.html")]
pub struct SignIn {
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// Whether the config has no operator (no one can sign in).
    pub no_operators: bool,
    /// The authorization request whose consent page follows sign-in, if any.
    pub request: Option<String>,
}

/// The consent page: which agent an OAuth client becomes, or none.
#[derive(Template)]
#[template(path = "approvals/consent.html")]
pub struct Consent {
    /// The signed-in operator.
    pub operator: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The authorization request's id.
    pub request: String,
    /// The client's name, as it gave it.
    pub client_name: String,
    /// The client's id (a URL for a metadata document).
    pub client_id: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// The agents it may become.
    pub agents: Vec<String>,
}

/// The pending calls, each with its Approve and Deny forms.
#[derive(Template)]
#[template(path = "approvals/list.html")]
pub struct List {
    /// The signed-in operator.
    pub operator: String,
    /// The session's CSRF token, in every form.
    pub csrf: String,
    /// The pending calls, oldest first.
    pub approvals: Vec<Pending>,
}

/// A page saying what a decision came to (or why there was none).
#[derive(Template)]
#[template(path = "approvals/message.html")]
pub struct Message {
    /// The headline.
    pub title: String,
    /// One sentence.
    pub message: String,
    /// JSON the decision produced (the call's result or error), if any.
    pub detail: Option<String>,
}

/// One pending call, as the operator reads it.
pub struct Pending {
    /// The approval id.
    pub id: String,
    /// The agent that asked.
    pub agent: String,
    /// The account's name in the config (empty if the agent is gone from it).
    pub account: String,
    /// The account's user.
    pub open_id: String,
    /// The tool.
    pub tool: String,
    /// The endpoint behind it (`POST /v2/…`), or empty.
    pub endpoint: String,
    /// Whether the endpoint writes.
    pub write: bool,
    /// The arguments as the agent sent them: JSON, indented, controls and bidi characters
    /// as `\u` escapes (the same JSON value).
    pub arguments: String,
    /// Each budget the call counts against and what is left of it.
    pub budgets: Vec<String>,
    /// When it was parked.
    pub created: String,
    /// How long it has waited.
    pub age: String,
    /// Its deadline.
    pub expires: String,
    /// How long until the deadline.
    pub expires_in: String,
}

impl Pending {
    /// The view of `approval` at `now_ms`, its budgets read from `gateway`'s state file.
    pub async fn new(gateway: &Gateway, approval: &Approval, now_ms: i64) -> Pending {
        // A job's budgets are its write's (the init it holds).
        let meta = tiktok_api::endpoint(&approval.tool).or_else(|| {
            let kind = tiktok_agent::jobs::JobKind::from_name(&approval.tool)?;
            let job = tiktok_agent::jobs::Job::parse(kind, &approval.arguments).ok()?;
            job.endpoints()
                .iter()
                .copied()
                .find(|meta| meta.access == tiktok_api::meta::Access::Write)
        });
        let agent = gateway.config().agents.get(&approval.agent);
        let mut budgets = Vec::new();
        if let (Some(meta), Some(agent)) = (meta, agent) {
            for limit in agent.grant.budget_limits(meta) {
                let text = match gateway.state().used(&approval.agent, &limit, now_ms).await {
                    Ok(used) => format!(
                        "{}: {} of {} left (this call counted)",
                        limit.budget,
                        limit.limit.saturating_sub(used),
                        limit.limit
                    ),
                    Err(error) => format!(
                        "{}: unknown ({})",
                        limit.budget,
                        tiktok_agent::error_chain(&error)
                    ),
                };
                budgets.push(text);
            }
        }
        let arguments = serde_json::to_string_pretty(&approval.arguments)
            .unwrap_or_else(|_| approval.arguments.to_string());
        // Per line: indentation's newlines stay, every string's controls are escaped.
        let arguments: Vec<String> = arguments
            .lines()
            .map(|line| tiktok_agent::escape_json(line).into_owned())
            .collect();
        Pending {
            id: approval.id.clone(),
            agent: approval.agent.clone(),
            account: agent.map(|agent| agent.account.clone()).unwrap_or_default(),
            open_id: approval.open_id.clone(),
            tool: approval.tool.clone(),
            endpoint: meta
                .map(|meta| format!("{} {}", meta.method.as_str(), meta.path))
                .unwrap_or_default(),
            write: meta.is_some_and(|meta| meta.access == Access::Write),
            arguments: arguments.join("\n"),
            budgets,
            created: rfc3339(approval.created_ms),
            age: seconds(now_ms.saturating_sub(approval.created_ms)),
            expires: rfc3339(approval.expires_ms),
            expires_in: seconds(approval.expires_ms.saturating_sub(now_ms)),
        }
    }
}

/// Milliseconds as a duration to the second (`1h 2m 3s`).
fn seconds(ms: i64) -> String {
    let whole = Duration::from_secs((ms.max(0) / 1000) as u64);
    humantime::format_duration(whole).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::ApprovalState;
    use crate::gateway::test_gateway;

    #[tokio::test]
    async fn an_agents_arguments_are_shown_as_text_with_bidi_controls_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", "");
        let approval = Approval {
            id: "apv_00000000000000000000000000000001".into(),
            created_ms: 1_000,
            agent: "reader".into(),
            open_id: "-000a".into(),
            tool: "video_init".into(),
            arguments: serde_json::json!({"post_info": {"title": "<b>hi</b>\u{202e}gnp.exe"}}),
            state: ApprovalState::Pending,
            decided_ms: None,
            decided_by: None,
            outcome: None,
            expires_ms: 3_661_000,
        };
        let pending = Pending::new(&gateway, &approval, 61_000).await;
        assert_eq!(pending.age, "1m");
        assert_eq!(pending.expires_in, "1h");
        assert_eq!(pending.account, "demo");
        assert_eq!(pending.endpoint, "POST /v2/post/publish/video/init/");
        let page = List {
            operator: "alice".into(),
            csrf: "0".repeat(64),
            approvals: vec![pending],
        }
        .render()
        .unwrap();
        assert!(
            page.contains(r"&#60;b&#62;hi&#60;/b&#62;\u202egnp.exe"),
            "{page}"
        );
        assert!(
            !page.contains("<b>hi") && !page.contains('\u{202e}'),
            "{page}"
        );
    }
}
