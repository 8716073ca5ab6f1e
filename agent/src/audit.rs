//! Audit records of granted calls: one per call, allowed or refused, with arguments
//! stripped of secrets and personal data, and the sinks they go to (a `tracing` event
//! here; the hash-chained SQLite log in [`crate::SqliteAuditLog`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use tiktok_api::meta::{Access, EndpointMeta, TypeMeta};

/// What became of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The grant let it through and it was sent (its outcome is in `status`, `error`).
    Allowed,
    /// The grant refused it; nothing was sent.
    Denied,
    /// Its tool or arguments were invalid; nothing was sent.
    Invalid,
    /// A call the grant allows (read or write), about to be sent: kept before sending, so a
    /// call whose process dies or is stopped mid-call still leaves a trace (its outcome
    /// follows as `allowed`).
    Intent,
    /// Held for a human's approval; nothing was sent.
    Parked,
    /// A human approved a parked call (which then runs, and is audited as any other).
    Approved,
    /// A human refused a parked call; nothing was sent.
    Rejected,
}

impl Decision {
    /// Every decision.
    pub const ALL: [Decision; 7] = [
        Decision::Allowed,
        Decision::Denied,
        Decision::Invalid,
        Decision::Intent,
        Decision::Parked,
        Decision::Approved,
        Decision::Rejected,
    ];

    /// The decision named `name` (as [`Decision::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Decision> {
        Decision::ALL
            .into_iter()
            .find(|decision| decision.as_str() == name)
    }

    /// Its name in records: `allowed`, `denied`, `invalid`, `intent`, `parked`, `approved`
    /// or `rejected`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Invalid => "invalid",
            Decision::Intent => "intent",
            Decision::Parked => "parked",
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

/// One call through a granted client. Never holds a token or secret; arguments are
/// redacted by [`redact_arguments`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the call was decided, in Unix milliseconds.
    pub time_ms: i64,
    /// The agent the grant belongs to.
    pub agent: String,
    /// The account (`open_id`) the call acts for.
    pub open_id: String,
    /// The endpoint id (or, for an unknown tool, the name asked for, its control and bidi
    /// characters escaped by [`crate::escape_controls`]).
    pub endpoint: String,
    /// The scopes the call needs: the endpoint's (any one) and the requested fields'.
    pub scopes: Vec<String>,
    /// `read` or `write`, for a known endpoint.
    pub access: Option<Access>,
    /// Allowed, denied or invalid.
    pub decision: Decision,
    /// Why it was refused, or the error an allowed call ended with.
    pub reason: Option<String>,
    /// The HTTP status TikTok answered with, when it answered.
    pub status: Option<u16>,
    /// TikTok's `log_id`, when it sent one.
    pub log_id: Option<String>,
    /// Time from the decision to the answer, in milliseconds (0 when nothing was sent).
    pub latency_ms: u64,
    /// The arguments, redacted: numbers, booleans, enum values and ids kept, other text
    /// replaced by its length.
    pub arguments: Value,
    /// The approval a parked call was held under, on every record of its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

impl AuditRecord {
    /// A record of an event in a tool call's life outside the call itself (held for
    /// approval, approved, rejected) by `agent` on `open_id`, decided now: the tool's scopes
    /// and its arguments redacted as in every record (arguments that break the tool's schema
    /// are kept as `null`; an unknown tool has no scopes).
    pub fn event(
        agent: &str,
        open_id: &str,
        tool: &str,
        arguments: &Value,
        decision: Decision,
        reason: Option<String>,
        approval: Option<&str>,
    ) -> AuditRecord {
        let meta = tiktok_api::endpoint(tool);
        let parsed = meta.and_then(|meta| {
            crate::tools::parse_arguments(meta, arguments)
                .ok()
                .map(|parsed| (meta, parsed))
        });
        let (scopes, arguments) = match (&parsed, meta) {
            (Some((meta, parsed)), _) => {
                let fields: Vec<&str> = parsed.fields.iter().map(String::as_str).collect();
                (
                    needed_scopes(meta, &fields),
                    redact_arguments(meta, &fields, parsed.body.as_ref()),
                )
            }
            (None, Some(meta)) => (needed_scopes(meta, &[]), Value::Null),
            (None, None) => (Vec::new(), Value::Null),
        };
        AuditRecord {
            time_ms: now_ms(),
            agent: agent.to_string(),
            open_id: open_id.to_string(),
            endpoint: tool.to_string(),
            scopes,
            access: meta.map(|meta| meta.access),
            decision,
            reason,
            status: None,
            log_id: None,
            latency_ms: 0,
            arguments,
            approval: approval.map(str::to_owned),
        }
    }
}

/// Now, in Unix milliseconds (a record's `time_ms`).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// An audit record could not be kept (or read back).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The SQLite log could not be opened.
    #[error(transparent)]
    Open(#[from] crate::state::StateError),
    /// SQLite failed.
    #[error("audit log")]
    Sqlite(#[from] rusqlite::Error),
    /// Postgres failed.
    #[error("audit log")]
    Postgres(#[from] crate::postgres::PgError),
    /// A stored record is not one this crate wrote.
    #[error("audit record {seq}: {problem}")]
    Corrupt {
        /// Its sequence number.
        seq: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// The log's group-commit writer thread stopped (or could not start): the record was
    /// not kept.
    #[error("the audit log's writer thread stopped")]
    WriterStopped,
    /// The transaction the record was batched into failed as a whole (the log's file full,
    /// locked too long by another process…): the record was not kept.
    #[error("the audit log could not commit: {0}")]
    Unavailable(String),
    /// A sink of the application's own failed.
    #[error("{0}")]
    Sink(String),
}

/// Where audit records go. A granted client waits for every sink before answering, so a
/// durable sink has the record before the caller sees the result.
#[async_trait::async_trait]
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Keeps one record.
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError>;
}

/// Emits each record as a `tracing` event (target `tiktok_agent::audit`, level INFO for
/// allowed calls, WARN for refused ones).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAuditSink;

#[async_trait::async_trait]
impl AuditSink for TracingAuditSink {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        // Written out only if a subscriber takes the event (the gateway's default takes none).
        let arguments = &record.arguments;
        let scopes = Joined(&record.scopes);
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "tiktok_agent::audit",
                    $level,
                    time_ms = record.time_ms,
                    agent = %record.agent,
                    open_id = %record.open_id,
                    endpoint = %record.endpoint,
                    scopes = %scopes,
                    access = record.access.map_or("", Access::as_str),
                    decision = record.decision.as_str(),
                    reason = record.reason.as_deref().unwrap_or(""),
                    status = record.status.unwrap_or(0),
                    log_id = record.log_id.as_deref().unwrap_or(""),
                    latency_ms = record.latency_ms,
                    arguments = %arguments,
                    approval = record.approval.as_deref().unwrap_or(""),
                    "audit"
                )
            };
        }
        match record.decision {
            Decision::Denied | Decision::Invalid | Decision::Rejected => {
                emit!(tracing::Level::WARN)
            }
            _ => emit!(tracing::Level::INFO),
        }
        Ok(())
    }
}

/// Scopes as one space-separated string, written only when displayed.
struct Joined<'a>(&'a [String]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, scope) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
        }
        Ok(())
    }
}

/// The arguments of a call to `meta` as they may be kept: `fields` as asked; in the body,
/// numbers, booleans and enum values kept, strings kept only for ids (`…_id`, `…_ids`,
/// `cursor`), every other string (titles, URLs, free text, anything secret) replaced by
/// `"[redacted: N chars]"`, and keys the request schema does not know dropped.
pub fn redact_arguments(meta: &EndpointMeta, fields: &[&str], body: Option<&Value>) -> Value {
    let mut out = serde_json::Map::new();
    if meta.fields.is_some() || !fields.is_empty() {
        out.insert(
            "fields".into(),
            Value::Array(fields.iter().map(|f| Value::String((*f).into())).collect()),
        );
    }
    if let (Some((schema, _)), Some(Value::Object(body))) = (meta.request, body) {
        for (key, value) in body {
            if let Some(field) = schema.field(key) {
                out.insert(key.clone(), redact_value(key, &field.ty, value));
            }
        }
    }
    Value::Object(out)
}

fn redact_value(name: &str, ty: &TypeMeta, value: &Value) -> Value {
    match (ty, value) {
        (TypeMeta::Schema(schema), Value::Object(object)) => Value::Object(
            object
                .iter()
                .filter_map(|(key, value)| {
                    let field = schema.field(key)?;
                    Some((key.clone(), redact_value(key, &field.ty, value)))
                })
                .collect(),
        ),
        (TypeMeta::List(item), Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|value| redact_value(name, item, value))
                .collect(),
        ),
        (TypeMeta::Enum(set), Value::String(text)) if set.values.contains(&text.as_str()) => {
            value.clone()
        }
        (TypeMeta::String, Value::String(text))
            if is_id(name) && text.len() <= 64 && !text.contains(['@', ' ']) =>
        {
            value.clone()
        }
        (_, Value::String(text)) => {
            Value::String(format!("[redacted: {} chars]", text.chars().count()))
        }
        (_, Value::Number(_) | Value::Bool(_) | Value::Null) => value.clone(),
        (_, Value::Array(items)) => Value::String(format!("[redacted: {} items]", items.len())),
        (_, Value::Object(_)) => Value::String("[redacted object]".into()),
    }
}

fn is_id(name: &str) -> bool {
    name.ends_with("_id") || name.ends_with("_ids") || name == "cursor"
}

/// The endpoint's scopes and those of the requested fields, sorted, without repeats.
pub(crate) fn needed_scopes(meta: &EndpointMeta, fields: &[&str]) -> Vec<String> {
    let mut scopes: Vec<String> = meta.scopes.iter().map(|s| s.as_str().to_string()).collect();
    if let Some(param) = meta.fields {
        for name in fields {
            if let Some(scope) = param.schema.field(name).and_then(|field| field.scope) {
                scopes.push(scope.as_str().to_string());
            }
        }
    }
    scopes.sort();
    scopes.dedup();
    scopes
}

/// `value` as canonical JSON text: object keys sorted, no whitespace (RFC 8785 for the
/// values an audit record holds: strings, integers, booleans, null).
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    // serde_json writes UTF-8 only: the lossy path is never taken.
    String::from_utf8(out)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Appends the canonical text of `value` to `out` (what [`canonical_json`] returns): keys
/// and scalars written by serde_json itself, straight into `out`.
pub(crate) fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                // Writing to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, key);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tiktok_api::endpoints::{USER_INFO, VIDEO_INIT};

    #[test]
    fn arguments_keep_ids_and_enums_and_drop_text() {
        let body = json!({
            "post_info": {"title": "my holiday @friend", "privacy_level": "SELF_ONLY", "disable_duet": true},
            "source_info": {"source": "PULL_FROM_URL", "video_url": "https://example.com/v.mp4?sig=secret"},
            "access_token": "act.secret"
        });
        let redacted = redact_arguments(&VIDEO_INIT, &[], Some(&body));
        let text = redacted.to_string();
        assert!(
            !text.contains("secret") && !text.contains("holiday"),
            "{text}"
        );
        assert_eq!(redacted["post_info"]["privacy_level"], "SELF_ONLY");
        assert_eq!(redacted["post_info"]["title"], "[redacted: 18 chars]");
        let fields = redact_arguments(&USER_INFO, &["open_id"], None);
        assert_eq!(fields, json!({"fields": ["open_id"]}));
    }

    #[test]
    fn canonical_json_escapes_as_serde_json_does() {
        // The chain's hashes are of this text: it must stay what `Value::to_string` wrote.
        let awkward = "quote\" back\\ nl\n tab\t nul\u{0} bell\u{7} del\u{7f} é 🎉 \u{2028}";
        let value = json!({awkward: [awkward, -12, 3.5, 18446744073709551615u64, null, false]});
        let expected = format!(
            "{{{}:[{},-12,3.5,18446744073709551615,null,false]}}",
            Value::String(awkward.into()),
            Value::String(awkward.into())
        );
        assert_eq!(canonical_json(&value), expected);
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let value = json!({"b": 1, "a": {"d": [true, null], "c": "x\"y"}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":"x\"y","d":[true,null]},"b":1}"#
        );
    }
}
