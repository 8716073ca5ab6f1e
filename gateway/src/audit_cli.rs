//! Reading the audit log: `audit tail`, `audit query` and `audit verify`, one line per
//! record (or JSON lines), times in UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tiktok_agent::{AuditQuery, Decision, StoredRecord};

use crate::audit_log::AuditLog;
use crate::config::Config;

/// `audit tail`: the last `lines` records of `config`'s log and, with `follow`, those
/// written after them, looked for every half second until `shutdown`.
pub async fn tail(
    config: &Config,
    lines: usize,
    follow: bool,
    json: bool,
    mut shutdown: crate::Shutdown,
) -> anyhow::Result<()> {
    let log = AuditLog::existing(&config.audit)?;
    let mut query = AuditQuery {
        last: Some(lines),
        ..AuditQuery::default()
    };
    loop {
        let records = log.query(&query).await?;
        for record in &records {
            print(record, json)?;
            query.after_seq = record.seq;
        }
        if !follow {
            return Ok(());
        }
        query.last = None;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = shutdown.wait() => return Ok(()),
        }
    }
}

/// What `audit query` selects: each filter given narrows it.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only this agent's records.
    pub agent: Option<String>,
    /// From this time or this long ago (see [`parse_since`]).
    pub since: Option<String>,
    /// Only this decision.
    pub decision: Option<Decision>,
    /// Only this endpoint.
    pub endpoint: Option<String>,
}

/// `audit query`: the records of `config`'s log that `filter` selects, printed as read.
pub async fn query(config: &Config, filter: Filter, json: bool) -> anyhow::Result<()> {
    let log = AuditLog::existing(&config.audit)?;
    let since_ms = filter
        .since
        .map(|since| parse_since(&since))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let query = AuditQuery {
        agent: filter.agent,
        since_ms,
        decision: filter.decision,
        endpoint: filter.endpoint,
        ..AuditQuery::default()
    };
    log.for_each(&query, |record| -> anyhow::Result<()> {
        Ok(print(&record, json)?)
    })
    .await
}

/// `audit verify`: walks the chain of `config`'s log and prints whether it is intact (how
/// many records) or the first bad record; whether it is intact.
pub async fn verify(config: &Config) -> anyhow::Result<bool> {
    let log = AuditLog::existing(&config.audit)?;
    let intact = log.verify().await;
    crate::terminal::print(&match &intact {
        Ok(count) => format!("audit log intact: {count} records"),
        Err(error) => format!("audit log broken: {error}"),
    })?;
    Ok(intact.is_ok())
}

/// `--since`: an RFC 3339 time (`2026-11-28T10:00:00Z`) or a duration back from now
/// (`90s`, `15m`, `2h`, `7days`); as Unix milliseconds.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(millis(time));
    }
    match humantime::parse_duration(text) {
        Ok(back) => Ok(crate::now_ms() - back.as_millis() as i64),
        Err(_) => Err(format!(
            "--since {text:?}: expected an RFC 3339 time (2026-11-28T10:00:00Z) or a duration (15m, 2h, 7days)"
        )),
    }
}

fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// One record as one line: sequence, time, agent, decision, endpoint, then what is known
/// of the outcome (printed through [`crate::terminal::print`], which escapes it).
pub fn line(stored: &StoredRecord) -> String {
    let record = &stored.record;
    let time = UNIX_EPOCH + Duration::from_millis(record.time_ms.max(0) as u64);
    let mut line = format!(
        "#{} {} {} {} {}",
        stored.seq,
        humantime::format_rfc3339_millis(time),
        record.agent,
        record.decision.as_str(),
        record.endpoint,
    );
    if let Some(status) = record.status {
        line.push_str(&format!(" status={status}"));
    }
    if let Some(log_id) = &record.log_id {
        line.push_str(&format!(" log_id={log_id}"));
    }
    if record.latency_ms > 0 {
        line.push_str(&format!(" latency_ms={}", record.latency_ms));
    }
    if let Some(approval) = &record.approval {
        line.push_str(&format!(" approval={approval}"));
    }
    if let Some(reason) = &record.reason {
        line.push_str(&format!(" reason={reason:?}"));
    }
    line.push_str(&format!(" arguments={}", record.arguments));
    line
}

/// One record as one JSON value (the record with `seq` and `hash`), for a JSON line.
pub fn json_value(stored: &StoredRecord) -> serde_json::Value {
    let mut value = serde_json::to_value(&stored.record).unwrap_or_default();
    value["seq"] = stored.seq.into();
    value["hash"] = stored.hash.clone().into();
    value
}

/// One audit record, as a line or a JSON line.
pub fn print(record: &StoredRecord, json: bool) -> Result<(), crate::terminal::PrintError> {
    if json {
        crate::terminal::print_json(&json_value(record))
    } else {
        crate::terminal::print(&line(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_a_duration() {
        assert_eq!(parse_since("2026-11-28T10:00:00Z"), Ok(1_795_860_000_000));
        let hour_ago = parse_since("1h").unwrap();
        let expected = crate::now_ms() - 3_600_000;
        assert!((hour_ago - expected).abs() < 5_000, "{hour_ago} {expected}");
        assert!(parse_since("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
