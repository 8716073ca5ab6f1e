//! The drift report: each finding of the proxy counted by side, kind, endpoint, spec line
//! and detail; rendered as JSON or Markdown and rewritten atomically while the proxy runs.
//!
//! A finding's detail names fields, codes and counts, never a value sent or answered, so
//! no token, code, secret or upload URL can reach the report or the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;
use tiktok_api::meta::{EndpointMeta, SpecLine, spec_line};

/// Which way the finding was seen: what the app sent, what the upstream answered, or the
/// upstream failing to answer at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The app's request breaks the spec.
    Request,
    /// The upstream's answer contradicts the spec.
    Answer,
    /// No (whole) answer came.
    Upstream,
}

impl Side {
    /// Its name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Answer => "answer",
            Side::Upstream => "upstream",
        }
    }
}

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A path and method the spec does not have.
    UnknownEndpoint,
    /// A field (in `fields` or the body) the spec does not have.
    UnknownField,
    /// A field of the wrong type, out of its bounds, or missing.
    InvalidField,
    /// The token lacks the scope of the endpoint or of a field.
    MissingScope,
    /// An upload's sizes break the chunk rules or the size limit.
    ChunkRules,
    /// A write that already succeeded, sent again.
    DuplicateWrite,
    /// More calls in a window than the spec's rate limit.
    RateLimitExceeded,
    /// The answer is not JSON, or not labelled as JSON.
    NotJson,
    /// The envelope's shape (`data`, `error`, the OAuth keys).
    Envelope,
    /// A field the spec does not document.
    UndocumentedField,
    /// A documented field of another type.
    WrongType,
    /// A required field absent.
    MissingField,
    /// An error code the catalog does not have.
    UnknownErrorCode,
    /// A catalog code the endpoint's list does not name.
    UnlistedErrorCode,
    /// An HTTP status other than the one the spec gives the code.
    Status,
    /// Paging: more items than asked for.
    Paging,
    /// 429s where the spec's rate limit allows the call, or none where it does not.
    RateLimit,
    /// The upstream did not answer, or cut its answer short.
    UpstreamFailure,
}

impl Kind {
    /// The side a kind is seen on.
    pub fn side(self) -> Side {
        match self {
            Kind::UnknownEndpoint
            | Kind::UnknownField
            | Kind::InvalidField
            | Kind::MissingScope
            | Kind::ChunkRules
            | Kind::DuplicateWrite
            | Kind::RateLimitExceeded => Side::Request,
            Kind::UpstreamFailure => Side::Upstream,
            _ => Side::Answer,
        }
    }

    /// Its name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UnknownEndpoint => "unknown_endpoint",
            Kind::UnknownField => "unknown_field",
            Kind::InvalidField => "invalid_field",
            Kind::MissingScope => "missing_scope",
            Kind::ChunkRules => "chunk_rules",
            Kind::DuplicateWrite => "duplicate_write",
            Kind::RateLimitExceeded => "rate_limit_exceeded",
            Kind::NotJson => "not_json",
            Kind::Envelope => "envelope",
            Kind::UndocumentedField => "undocumented_field",
            Kind::WrongType => "wrong_type",
            Kind::MissingField => "missing_field",
            Kind::UnknownErrorCode => "unknown_error_code",
            Kind::UnlistedErrorCode => "unlisted_error_code",
            Kind::Status => "status",
            Kind::Paging => "paging",
            Kind::RateLimit => "rate_limit",
            Kind::UpstreamFailure => "upstream_failure",
        }
    }
}

/// One finding: what, where in the API, which spec line it contradicts, and in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind.
    pub kind: Kind,
    /// `METHOD /path/` of the call (the upload host's calls: `PUT (upload host)`).
    pub route: String,
    /// The endpoint's spec id, when the route is one of the spec's.
    pub endpoint: Option<&'static str>,
    /// The spec line it contradicts.
    pub spec: Option<&'static SpecLine>,
    /// What was seen, naming fields and codes, never values.
    pub detail: String,
}

impl Finding {
    /// A finding about `endpoint`, pointing at the spec line keyed `spec_key`.
    pub fn at(
        endpoint: &'static EndpointMeta,
        kind: Kind,
        spec_key: &str,
        detail: impl Into<String>,
    ) -> Finding {
        Finding {
            kind,
            route: format!("{} {}", endpoint.method.as_str(), endpoint.path),
            endpoint: Some(endpoint.id),
            spec: spec_line(spec_key).or_else(|| spec_line(&format!("endpoint:{}", endpoint.id))),
            detail: detail.into(),
        }
    }
}

/// A finding as counted: how often and when first and last seen (Unix milliseconds).
#[derive(Debug, Clone)]
struct Counted {
    count: u64,
    first_seen_ms: u64,
    last_seen_ms: u64,
}

type Key = (Side, Kind, String, Option<&'static str>, String);

#[derive(Debug, Default)]
struct Tally {
    findings: BTreeMap<Key, (Finding, Counted)>,
    exchanges: u64,
    unchecked: u64,
    changed: bool,
}

/// Every finding of a proxy run, counted; shared by the proxy and its report writer.
#[derive(Debug)]
pub struct Report {
    upstream: String,
    started_ms: u64,
    tally: Mutex<Tally>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Report {
    /// An empty report of a run against `upstream` (shown without any user info or path).
    pub fn new(upstream: &url::Url) -> Report {
        let mut shown = format!(
            "{}://{}",
            upstream.scheme(),
            upstream.host_str().unwrap_or("")
        );
        if let Some(port) = upstream.port() {
            shown.push_str(&format!(":{port}"));
        }
        Report {
            upstream: shown,
            started_ms: now_ms(),
            tally: Mutex::new(Tally::default()),
        }
    }

    /// Counts a finding and logs it (target `tiktok_mock::proxy`).
    pub fn add(&self, finding: Finding) {
        let spec = finding
            .spec
            .map(|line| format!("{}:{}", line.file, line.line))
            .unwrap_or_default();
        tracing::warn!(
            target: "tiktok_mock::proxy",
            side = ?finding.kind.side(),
            kind = finding.kind.as_str(),
            route = %finding.route,
            spec = %spec,
            "drift: {}",
            finding.detail
        );
        let now = now_ms();
        let key = (
            finding.kind.side(),
            finding.kind,
            finding.route.clone(),
            finding.spec.map(|line| line.key),
            finding.detail.clone(),
        );
        let mut tally = self.tally.lock();
        tally.changed = true;
        tally
            .findings
            .entry(key)
            .and_modify(|(_, counted)| {
                counted.count += 1;
                counted.last_seen_ms = now;
            })
            .or_insert((
                finding,
                Counted {
                    count: 1,
                    first_seen_ms: now,
                    last_seen_ms: now,
                },
            ));
    }

    /// Counts an exchange seen (and whether its answer went unchecked: compressed, too large).
    pub fn exchange(&self, checked: bool) {
        let mut tally = self.tally.lock();
        tally.exchanges += 1;
        tally.unchecked += u64::from(!checked);
        tally.changed = true;
    }

    /// How many exchanges were seen, and how many of them went unchecked.
    pub fn exchanges(&self) -> (u64, u64) {
        let tally = self.tally.lock();
        (tally.exchanges, tally.unchecked)
    }

    /// Every finding with its count, in report order.
    pub fn findings(&self) -> Vec<(Finding, u64)> {
        self.tally
            .lock()
            .findings
            .values()
            .map(|(finding, counted)| (finding.clone(), counted.count))
            .collect()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let tally = self.tally.lock();
        let findings: Vec<serde_json::Value> = tally
            .findings
            .values()
            .map(|(finding, counted)| {
                json!({
                    "side": finding.kind.side(),
                    "kind": finding.kind,
                    "route": finding.route,
                    "endpoint": finding.endpoint,
                    "spec": finding.spec.map(|line| json!({
                        "file": line.file, "line": line.line, "key": line.key,
                    })),
                    "detail": finding.detail,
                    "count": counted.count,
                    "first_seen_ms": counted.first_seen_ms,
                    "last_seen_ms": counted.last_seen_ms,
                })
            })
            .collect();
        json!({
            "upstream": self.upstream,
            "started_ms": self.started_ms,
            "exchanges": tally.exchanges,
            "unchecked_answers": tally.unchecked,
            "findings": findings,
        })
    }

    /// The report as Markdown: a summary, then one table row per finding.
    pub fn to_markdown(&self) -> String {
        let tally = self.tally.lock();
        let mut out = String::from("# Drift report\n\n");
        out.push_str(&format!(
            "Upstream `{}`: {} exchanges seen, {} of them unchecked (the upload host's, compressed other than gzip or deflate, over 4 MiB, or without an answer), {} distinct findings.\n\n",
            self.upstream,
            tally.exchanges,
            tally.unchecked,
            tally.findings.len()
        ));
        if tally.findings.is_empty() {
            out.push_str("No drift: every request and answer matched the spec.\n");
            return out;
        }
        out.push_str("| Seen | Side | Kind | Call | Spec | Detail |\n|---:|---|---|---|---|---|\n");
        for (finding, counted) in tally.findings.values() {
            let call = match finding.endpoint {
                Some(id) => format!("`{}` ({id})", finding.route),
                None => format!("`{}`", finding.route),
            };
            let spec = finding
                .spec
                .map(|line| format!("{}:{} (`{}`)", line.file, line.line, line.key))
                .unwrap_or_else(|| "none".to_owned());
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                counted.count,
                finding.kind.side().as_str(),
                finding.kind.as_str(),
                cell(&call),
                cell(&spec),
                cell(&finding.detail)
            ));
        }
        out
    }

    /// The report in the format `path` asks for: JSON for `.json`, Markdown otherwise.
    pub fn render_for(&self, path: &Path) -> String {
        if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            let mut text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
            text.push('\n');
            text
        } else {
            self.to_markdown()
        }
    }

    /// Whether anything changed since the last call (and clears the mark).
    fn take_changed(&self) -> bool {
        std::mem::take(&mut self.tally.lock().changed)
    }
}

/// A table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Writes `text` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// Rewrites the report file at most every `period` while anything changed; the final
/// write is [`write_report`], when the proxy stops.
pub fn spawn_writer(
    report: Arc<Report>,
    path: PathBuf,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if report.take_changed() {
                write_report(&report, &path);
            }
        }
    })
}

/// Writes the report to `path` now, logging a failure (the proxy goes on).
pub fn write_report(report: &Report, path: &Path) {
    if let Err(error) = write_atomically(path, &report.render_for(path)) {
        tracing::error!(target: "tiktok_mock::proxy", "cannot write the report {}: {error}", path.display());
    }
}
