//! The notify hook (`notify: {url, secret_env}`): a signed JSON event POSTed when an
//! approval is created (`approval.created`) and when it is decided (`approval.decided`:
//! approved, denied or expired, and by whom), so a human hears of a held write without
//! polling. Signed as TikTok signs its webhooks (`TikTok-Signature: t=…,s=…`, HMAC-SHA256
//! over `{timestamp}.{body}`, [`tiktok_api::webhook::signature_header`]); sent on a spawned
//! task, retried with backoff a bounded number of times, never holding up the call that
//! caused it. [`Notifier::flush`] waits for the events in flight (a short-lived command
//! calls it before it exits).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::approvals::{Approval, rfc3339};

/// How many times an event is sent before it is given up (and logged).
pub const ATTEMPTS: u32 = 5;

/// The wait before the second attempt; doubled before each one after.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The notify hook's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Where events are POSTed.
    pub url: String,
    /// The environment variable holding the signing secret.
    pub secret_env: String,
}

/// Sends the events of the notify hook, if the config has one. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    hook: Option<Arc<Hook>>,
}

#[derive(Debug)]
struct Hook {
    url: String,
    secret_env: String,
    /// The secret, or `None` when its variable is not set (each event is then logged as not
    /// sent, naming the variable).
    secret: Option<String>,
    client: reqwest::Client,
    in_flight: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Notifier {
    /// The notifier of `config` (none: events go nowhere); the secret read from its
    /// environment variable now.
    pub fn new(config: Option<&NotifyConfig>) -> Notifier {
        let Some(config) = config else {
            return Notifier::default();
        };
        let secret = std::env::var(&config.secret_env)
            .ok()
            .filter(|secret| !secret.is_empty());
        if secret.is_none() {
            tracing::error!(
                variable = %config.secret_env,
                "notify.secret_env names a variable that is not set: approval events will not be sent until it is"
            );
        }
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Notifier {
            hook: Some(Arc::new(Hook {
                url: config.url.clone(),
                secret_env: config.secret_env.clone(),
                secret,
                client,
                in_flight: AtomicUsize::new(0),
                idle: tokio::sync::Notify::new(),
            })),
        }
    }

    /// `approval.created`: `approval` waits for a human.
    pub fn created(&self, approval: &Approval) {
        self.send(json!({
            "type": "approval.created",
            "approval_id": approval.id,
            "agent": approval.agent,
            "open_id": approval.open_id,
            "tool": approval.tool,
            "created_at": rfc3339(approval.created_ms),
            "expires_at": rfc3339(approval.expires_ms),
        }));
    }

    /// `approval.decided`: `approval` was approved, denied or expired (`decision`), by its
    /// `decided_by`.
    pub fn decided(&self, approval: &Approval, decision: &str) {
        self.send(json!({
            "type": "approval.decided",
            "approval_id": approval.id,
            "agent": approval.agent,
            "open_id": approval.open_id,
            "tool": approval.tool,
            "decision": decision,
            "by": approval.decided_by,
            "decided_at": approval.decided_ms.map(rfc3339),
        }));
    }

    /// Sends `event` on a task of its own (inside a Tokio runtime), retried with backoff.
    fn send(&self, event: Value) {
        let Some(hook) = self.hook.clone() else {
            return;
        };
        let Some(secret) = hook.secret.clone() else {
            tracing::error!(
                variable = %hook.secret_env,
                event = %event["type"],
                "approval event not sent: set the notify secret's variable"
            );
            return;
        };
        hook.in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            deliver(&hook, &secret, &event).await;
            if hook.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                hook.idle.notify_waiters();
            }
        });
    }

    /// Waits, as a process ends, for the events still being sent (retries included), for at
    /// most [`FINISH_LIMIT`], so a hook that never answers cannot hold the exit up; says so
    /// on standard error when it gives up.
    pub async fn finish(&self) {
        if tokio::time::timeout(FINISH_LIMIT, self.flush())
            .await
            .is_err()
        {
            crate::terminal::eprint(&format!(
                "tiktok-gateway: warning: notify events still unsent after {FINISH_LIMIT:?}; given up"
            ));
        }
    }

    /// Waits until every event sent so far is delivered or given up.
    pub async fn flush(&self) {
        let Some(hook) = &self.hook else { return };
        loop {
            let idle = hook.idle.notified();
            if hook.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// The longest [`Notifier::finish`] waits.
pub const FINISH_LIMIT: Duration = Duration::from_secs(15);

/// Sends one event until the receiver answers 2xx or [`ATTEMPTS`] are spent; each attempt
/// signed afresh (its own timestamp).
async fn deliver(hook: &Hook, secret: &str, event: &Value) {
    let body = event.to_string();
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let timestamp = crate::now_ms() / 1000;
        let signature = tiktok_api::webhook::signature_header(secret, timestamp, body.as_bytes());
        let sent = hook
            .client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(tiktok_api::webhook::SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send()
            .await;
        let problem = match sent {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => format!("answered {}", response.status()),
            Err(error) => tiktok_agent::error_chain(&error),
        };
        if attempt == ATTEMPTS {
            tracing::error!(
                event = %event["type"],
                approval = %event["approval_id"],
                problem = %tiktok_agent::escape_controls(&problem),
                "approval event given up after {ATTEMPTS} attempts"
            );
            return;
        }
        tracing::warn!(
            event = %event["type"],
            attempt,
            problem = %tiktok_agent::escape_controls(&problem),
            "approval event not delivered; trying again"
        );
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
}
