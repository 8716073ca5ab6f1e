//! A user handle narrowed by a [`Grant`] for one agent: every call is checked locally
//! (endpoint, access, scopes, field scopes, budgets) before anything is sent, and leaves
//! its [`AuditRecord`]s in every sink: a refused call one; a sent call two, its intent, kept
//! before it is sent (so a call that reached TikTok is on record whatever ends the
//! process), and its outcome, kept before its answer returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use tiktok_api::meta::{Auth, EndpointMeta};
use tiktok_api::{Answer, UserClient};

use crate::audit::{
    AuditRecord, AuditSink, Decision, TracingAuditSink, needed_scopes, redact_arguments,
};
use crate::budget::{BudgetError, BudgetLedger, MemoryLedger};
use crate::error::Error;
use crate::grant::{DenyReason, Grant};
use crate::tools::{ToolArguments, parse_arguments};

/// The longest tool name kept in an audit record of an unknown tool.
const MAX_NAME_IN_RECORD: usize = 128;

/// A [`UserClient`] narrowed by a [`Grant`], for one agent: every call is checked, counted
/// against the grant's budgets and audited. Cheap to clone; clones share the budget ledger.
///
/// ```no_run
/// # async fn example(user: tiktok_api::UserClient) -> Result<(), tiktok_agent::Error> {
/// use tiktok_agent::{Grant, GrantedClient};
/// use tiktok_api::Scope;
///
/// let grant = Grant::builder().scopes([Scope::UserInfoBasic]).read().build().expect("a valid grant");
/// let agent = GrantedClient::new(user, grant, "profile-reader");
/// let me = agent.call_tool("user_info", serde_json::json!({"fields": ["open_id", "display_name"]})).await?;
/// println!("{me}");
/// // Not granted: refused here, audited, never sent.
/// assert!(agent.call_tool("video_list", serde_json::json!({"fields": ["id"]})).await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct GrantedClient {
    user: UserClient,
    grant: Arc<Grant>,
    agent: Arc<str>,
    sinks: Vec<Arc<dyn AuditSink>>,
    approval: Option<Arc<str>>,
    ledger: Arc<dyn BudgetLedger>,
}

/// What a call asked for, as the audit sees it.
struct Asked<'a> {
    meta: &'static EndpointMeta,
    fields: &'a [&'a str],
    body: Option<&'a Value>,
}

impl GrantedClient {
    /// `user` narrowed by `grant` for the agent `agent`; its calls are audited to a
    /// [`TracingAuditSink`] (add more with [`GrantedClient::audit_to`]) and its budgets
    /// counted in memory (share them with [`GrantedClient::budget_ledger`]).
    pub fn new(user: UserClient, grant: Grant, agent: impl Into<String>) -> GrantedClient {
        GrantedClient {
            user,
            grant: Arc::new(grant),
            agent: Arc::from(agent.into()),
            sinks: vec![Arc::new(TracingAuditSink)],
            approval: None,
            ledger: Arc::new(MemoryLedger::default()),
        }
    }

    /// Also writes every record to `sink` (e.g. a [`crate::SqliteAuditLog`]).
    pub fn audit_to(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Counts the grant's budgets in `ledger` (e.g. a [`crate::SqliteLedger`] shared by
    /// every process acting for this agent) instead of in this client's memory.
    pub fn budget_ledger(mut self, ledger: Arc<dyn BudgetLedger>) -> Self {
        self.ledger = ledger;
        self
    }

    /// This client for calls held under the approval `id`: each of their records names it.
    pub fn with_approval(&self, id: impl Into<String>) -> GrantedClient {
        GrantedClient {
            approval: Some(Arc::from(id.into())),
            ..self.clone()
        }
    }

    /// The agent this client acts for.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The account it acts on.
    pub fn open_id(&self) -> &str {
        self.user.open_id()
    }

    /// The grant.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The user handle its calls go out on (for the jobs, which check and audit their own).
    pub(crate) fn user(&self) -> &UserClient {
        &self.user
    }

    /// The approval its calls run under, if held.
    pub(crate) fn approval_id(&self) -> Option<&str> {
        self.approval.as_deref()
    }

    /// Calls `meta` with `fields` (JSON names) and `body` if the grant allows it; the one
    /// typed path, e.g. `granted.execute::<(), UserInfoData>(&endpoints::USER_INFO,
    /// &["open_id"], None)`.
    pub async fn execute<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        fields: &[&str],
        body: Option<&B>,
    ) -> Result<R, Error> {
        let body_value = match body {
            Some(body) => Some(serde_json::to_value(body).map_err(|error| {
                tiktok_api::Error::InvalidRequest(format!(
                    "{}: the body is not JSON: {error}",
                    meta.id
                ))
            })?),
            None => None,
        };
        let asked = Asked {
            meta,
            fields,
            body: body_value.as_ref(),
        };
        let joined = fields_param(meta, fields);
        self.run(asked, self.send(meta, joined, body)).await
    }

    /// Sends with the user's token, or with the app's client token for the endpoints that
    /// take one (the Research API).
    async fn send<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<Answer<R>, tiktok_api::Error> {
        if meta.auth == Auth::ClientToken {
            self.user
                .client()
                .execute_with_app_token(meta, fields, body)
                .await
        } else {
            self.user.execute_answer(meta, fields, body).await
        }
    }

    /// Calls the tool `name` (an endpoint id) with JSON `arguments` (`fields` and the request
    /// body's properties, as `tools.json` describes) through the grant and the audit, and
    /// returns the answer's `data` as JSON. An unknown tool is [`Error::UnknownTool`];
    /// arguments that break the schema are [`Error::InvalidArguments`] naming the JSON path.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, Error> {
        let (meta, parsed) = self.prepare(name, &arguments).await?;
        let fields: Vec<&str> = parsed.fields.iter().map(String::as_str).collect();
        let asked = Asked {
            meta,
            fields: &fields,
            body: parsed.body.as_ref(),
        };
        let joined = fields_param(meta, &fields);
        let send = self.send::<Value, Value>(meta, joined, parsed.body.as_ref());
        self.run(asked, send).await
    }

    /// Checks a tool call as [`GrantedClient::call_tool`] would (tool, arguments, grant,
    /// field and value scopes; budgets aside) without sending it; a refusal is audited and
    /// returned, a call that would go through leaves no record. Returns the endpoint.
    pub async fn check_tool(
        &self,
        name: &str,
        arguments: &Value,
    ) -> Result<&'static EndpointMeta, Error> {
        let (meta, parsed) = self.prepare(name, arguments).await?;
        let fields: Vec<&str> = parsed.fields.iter().map(String::as_str).collect();
        if let Err(reason) = self.grant.check_call(meta, &fields, parsed.body.as_ref()) {
            let asked = Asked {
                meta,
                fields: &fields,
                body: parsed.body.as_ref(),
            };
            return self.refuse(asked, reason).await;
        }
        Ok(meta)
    }

    /// Checks a tool call as [`GrantedClient::check_tool`] does and takes it from the
    /// grant's budgets (checked and counted) under `hold`, for a call held for a human
    /// under the approval id `hold`: when it later runs through
    /// [`GrantedClient::with_approval`]`(hold)`, its budgets are checked again and its take
    /// moves to the time it runs (the ledger's [`BudgetLedger::take_held`]), so it counts
    /// once. A refusal is audited and returned.
    pub async fn hold_tool(
        &self,
        name: &str,
        arguments: &Value,
        hold: &str,
    ) -> Result<&'static EndpointMeta, Error> {
        let (meta, parsed) = self.prepare(name, arguments).await?;
        let fields: Vec<&str> = parsed.fields.iter().map(String::as_str).collect();
        let asked = Asked {
            meta,
            fields: &fields,
            body: parsed.body.as_ref(),
        };
        if let Err(reason) = self.grant.check_call(meta, &fields, parsed.body.as_ref()) {
            return self.refuse(asked, reason).await;
        }
        if let Err(reason) = self.take_budget(meta, Some(hold)).await {
            return self.refuse(asked, reason).await;
        }
        Ok(meta)
    }

    /// Writes `record`, built by the caller, to every sink (an event of the gateway's own,
    /// such as an approval status read); any failure is [`Error::Audit`].
    pub async fn audit(&self, record: AuditRecord) -> Result<(), Error> {
        self.write(record).await
    }

    /// Audits an event in a tool call's life outside the call itself (held for approval,
    /// approved, rejected), whatever the grant says now: see [`AuditRecord::event`].
    pub async fn note(
        &self,
        name: &str,
        arguments: &Value,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<(), Error> {
        let record = AuditRecord::event(
            &self.agent,
            self.user.open_id(),
            name,
            arguments,
            decision,
            reason,
            self.approval.as_deref(),
        );
        self.write(record).await
    }

    /// The endpoint and parsed arguments of a tool call, or the audited reason it cannot be
    /// made at all (unknown tool, endpoint not granted, arguments that break the schema).
    async fn prepare(
        &self,
        name: &str,
        arguments: &Value,
    ) -> Result<(&'static EndpointMeta, ToolArguments), Error> {
        let Some(meta) = tiktok_api::endpoint(name) else {
            // Kept as asked, but with its control and bidi characters escaped: the name is
            // the agent's text, and an operator reads it.
            let cut: String = name.chars().take(MAX_NAME_IN_RECORD).collect();
            let shown = crate::escape_controls(&cut).into_owned();
            let record = self.record(&shown, Decision::Invalid, Some("unknown tool".into()));
            self.write(record).await?;
            return Err(Error::UnknownTool {
                name: name.to_string(),
            });
        };
        if let Err(reason) = self.grant.check_endpoint(meta) {
            let asked = Asked {
                meta,
                fields: &[],
                body: None,
            };
            return self.refuse(asked, reason).await;
        }
        match parse_arguments(meta, arguments) {
            Ok(parsed) => Ok((meta, parsed)),
            Err(bad) => {
                let reason = format!("arguments at {:?}: {}", bad.path, bad.message);
                let record = self.record(meta.id, Decision::Invalid, Some(reason));
                self.write(record).await?;
                Err(Error::InvalidArguments {
                    tool: meta.id,
                    path: bad.path,
                    message: bad.message,
                })
            }
        }
    }

    /// Checks the grant and budgets, sends, and audits the outcome.
    async fn run<R>(
        &self,
        asked: Asked<'_>,
        send: impl Future<Output = Result<Answer<R>, tiktok_api::Error>>,
    ) -> Result<R, Error> {
        let meta = asked.meta;
        if let Err(reason) = self.grant.check_call(meta, asked.fields, asked.body) {
            return self.refuse(asked, reason).await;
        }
        // A held call (run after approval) takes under its approval id, replacing the take
        // made when it was parked.
        if let Err(reason) = self.take_budget(meta, self.approval.as_deref()).await {
            return self.refuse(asked, reason).await;
        }
        // Every call's intent is kept before it is sent, a read's as a write's: a call that
        // reached TikTok leaves a record however its process ends (a SIGTERM or SIGKILL
        // mid-call), and its outcome follows as `allowed`.
        let intent = self.asked_record(&asked, Decision::Intent, None);
        // The outcome's record is the intent's, decided when the answer came.
        let mut record = intent.clone();
        self.write(intent).await?;
        let started = Instant::now();
        let result = send.await;
        record.time_ms = crate::audit::now_ms();
        record.decision = Decision::Allowed;
        record.latency_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(answer) => {
                record.status = Some(answer.status);
                record.log_id.clone_from(&answer.log_id);
            }
            Err(error) => {
                record.status = error.status();
                record.log_id = error.log_id().map(str::to_owned);
                record.reason = Some(crate::error_chain(error));
            }
        }
        self.write(record).await?;
        Ok(result?.value)
    }

    /// Takes one call of `meta` from the grant's budgets in the ledger (under `hold` for a
    /// held call).
    pub(crate) async fn take_budget(
        &self,
        meta: &'static EndpointMeta,
        hold: Option<&str>,
    ) -> Result<(), DenyReason> {
        let limits = self.grant.budget_limits(meta);
        if limits.is_empty() {
            return Ok(());
        }
        let taken = match hold {
            Some(hold) => {
                self.ledger
                    .take_held(&self.agent, meta, &limits, hold)
                    .await
            }
            None => self.ledger.take(&self.agent, meta, &limits).await,
        };
        taken.map_err(|problem| match problem {
            BudgetError::Exhausted(exhausted) => DenyReason::BudgetExhausted {
                budget: exhausted.budget,
                limit: exhausted.limit,
                retry_after: exhausted.retry_after,
            },
            BudgetError::Unavailable(failure) => DenyReason::BudgetUnavailable(failure),
        })
    }

    /// Audits a refusal and returns it as [`Error::Denied`].
    async fn refuse<R>(&self, asked: Asked<'_>, reason: DenyReason) -> Result<R, Error> {
        let record = self.asked_record(&asked, Decision::Denied, Some(reason.to_string()));
        self.write(record).await?;
        Err(Error::Denied {
            endpoint: asked.meta.id,
            reason,
        })
    }

    /// The record of a call as `asked`, decided now: its endpoint's and fields' scopes, its
    /// arguments redacted (what [`GrantedClient::record`] gives, those two then set, without
    /// reading the arguments twice).
    fn asked_record(
        &self,
        asked: &Asked<'_>,
        decision: Decision,
        reason: Option<String>,
    ) -> AuditRecord {
        let meta = asked.meta;
        AuditRecord {
            time_ms: crate::audit::now_ms(),
            agent: self.agent.to_string(),
            open_id: self.user.open_id().to_string(),
            endpoint: meta.id.to_string(),
            scopes: needed_scopes(meta, asked.fields),
            // As `AuditRecord::event` has it: the access of the endpoint the id names.
            access: tiktok_api::endpoint(meta.id).map(|meta| meta.access),
            decision,
            reason,
            status: None,
            log_id: None,
            latency_ms: 0,
            arguments: redact_arguments(meta, asked.fields, asked.body),
            approval: self.approval.as_deref().map(str::to_owned),
        }
    }

    pub(crate) fn record(
        &self,
        endpoint: &str,
        decision: Decision,
        reason: Option<String>,
    ) -> AuditRecord {
        AuditRecord::event(
            &self.agent,
            self.user.open_id(),
            endpoint,
            &Value::Null,
            decision,
            reason,
            self.approval.as_deref(),
        )
    }

    /// Hands `record` to every sink, each finished before the next; any failure withholds
    /// the answer.
    pub(crate) async fn write(&self, record: AuditRecord) -> Result<(), Error> {
        for sink in &self.sinks {
            sink.record(&record).await.map_err(Error::Audit)?;
        }
        Ok(())
    }
}

/// The `fields` query parameter, for endpoints that have one.
fn fields_param(meta: &EndpointMeta, fields: &[&str]) -> Option<String> {
    meta.fields.map(|_| fields.join(","))
}
