//! `audit-log`: builds an audit log of N records, as a gateway serving several agents for a
//! month would have written it, through the public [`SqliteAuditLog::append_all`] (batches
//! of records per transaction: the same rows and the same hash chain as
//! [`SqliteAuditLog::append`] called on each in turn, one commit per batch instead of one
//! per record). The arguments are redacted by [`AuditRecord::event`], as the gateway's are.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tiktok_agent::{AuditRecord, Decision, SqliteAuditLog};

/// The agents, each with its share of the calls (out of 100). `reader` is the one the
/// benchmark queries.
const AGENTS: [(&str, u64); 6] = [
    ("reader", 30),
    ("poster", 15),
    ("scheduler", 20),
    ("analyst", 20),
    ("support-bot", 10),
    ("archiver", 5),
];

/// The accounts the agents act for.
const OPEN_IDS: [&str; 3] = [
    "-000Ab1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV",
    "-000Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE",
    "-000Mn3bV4cX5zL6kJ7hG8fD9sA0pO1iU2yT",
];

/// A small deterministic generator (SplitMix64): the same log every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// One tool call's arguments, as an agent sends them.
fn arguments(random: &mut Random, tool: &str) -> Value {
    match tool {
        "user_info" => json!({"fields": ["open_id", "display_name", "avatar_url"]}),
        "video_list" => {
            let mut arguments = json!({
                "fields": ["id", "title", "create_time", "share_url", "view_count", "like_count"],
                "max_count": 20,
            });
            if random.below(2) == 0 {
                arguments["cursor"] = (1_764_000_000_000 + random.below(10_000_000_000)).into();
            }
            arguments
        }
        "video_query" => json!({
            "fields": ["id", "title", "view_count"],
            "filters": {"video_ids": [
                format!("7{:018}", random.below(1_000_000_000_000_000_000)),
                format!("7{:018}", random.below(1_000_000_000_000_000_000)),
            ]},
        }),
        "creator_info" => json!({}),
        "video_init" => json!({
            "post_info": {
                "title": "Behind the scenes of this week's shoot #studio #vlog",
                "privacy_level": "PUBLIC_TO_EVERYONE",
                "disable_comment": false,
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 10_000_000 + random.below(50_000_000),
                "chunk_size": 10_000_000,
                "total_chunk_count": 3,
            },
        }),
        _ => json!({"fields": ["open_id", "email"]}),
    }
}

/// Writes the records of one call (or of one held write's life) to `out`.
fn call(random: &mut Random, time_ms: i64, approvals: &mut u64, out: &mut Vec<AuditRecord>) {
    let mut pick = random.below(100);
    let agent = AGENTS
        .iter()
        .find(|(_, share)| {
            if pick < *share {
                true
            } else {
                pick -= share;
                false
            }
        })
        .map_or("reader", |(name, _)| *name);
    let open_id = OPEN_IDS[random.below(OPEN_IDS.len() as u64) as usize];
    let roll = random.below(100);
    let tool = match (agent, roll) {
        ("poster", 0..=39) => "video_init",
        ("poster", _) => "creator_info",
        (_, 0..=34) => "video_list",
        (_, 35..=64) => "video_query",
        (_, 65..=89) => "user_info",
        (_, 90..=95) => "creator_info",
        _ => "user_info_typo",
    };
    let args = arguments(random, tool);
    let event = |decision: Decision, reason: Option<&str>, approval: Option<&str>| {
        let mut record = AuditRecord::event(
            agent,
            open_id,
            tool,
            &args,
            decision,
            reason.map(str::to_owned),
            approval,
        );
        record.time_ms = time_ms;
        record
    };
    let sent = |mut record: AuditRecord, random: &mut Random| {
        record.decision = Decision::Allowed;
        let status = if random.below(50) == 0 { 429 } else { 200 };
        record.status = Some(status);
        record.log_id = Some(format!("2026120{}{:016X}", random.below(10), random.next()));
        record.latency_ms = 40 + random.below(400);
        if status != 200 {
            record.reason = Some("rate_limit_exceeded: too many requests".into());
        }
        record
    };
    if tool == "user_info_typo" {
        out.push(event(
            Decision::Invalid,
            Some("unknown tool user_info_typo"),
            None,
        ));
    } else if tool == "video_init" {
        *approvals += 1;
        let id = format!(
            "apv_{:024x}",
            random.next() as u128 * 7 + *approvals as u128
        );
        out.push(event(
            Decision::Parked,
            Some("writes wait for approval"),
            Some(&id),
        ));
        if random.below(5) == 0 {
            out.push(event(
                Decision::Rejected,
                Some("rejected by operator"),
                Some(&id),
            ));
        } else {
            out.push(event(Decision::Approved, None, Some(&id)));
            out.push(event(Decision::Intent, None, Some(&id)));
            let done = event(Decision::Allowed, None, Some(&id));
            out.push(sent(done, random));
        }
    } else if roll % 17 == 3 {
        out.push(event(
            Decision::Denied,
            Some("scope user.info.stats not granted"),
            None,
        ));
    } else {
        out.push(event(Decision::Intent, None, None));
        let done = event(Decision::Allowed, None, None);
        out.push(sent(done, random));
    }
}

/// Builds the log at `path` (which must not exist) with `records` records spread over the
/// `span` before now, in transactions of `batch`; prints one JSON line.
pub fn build(path: &Path, records: u64, batch: usize, span: Duration) -> anyhow::Result<()> {
    if path.exists() {
        anyhow::bail!("{} exists already", path.display());
    }
    let log = SqliteAuditLog::open(path)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let span_ms = span.as_millis() as i64;
    let start = now - span_ms;
    let mut random = Random(23);
    let mut approvals = 0;
    let mut pending = Vec::with_capacity(batch + 4);
    let mut written = 0u64;
    let mut calls = 0u64;
    let started = Instant::now();
    while written < records {
        // Calls evenly spread over the span (about two records a call).
        let done = written + pending.len() as u64;
        let time_ms = start + (span_ms as i128 * done as i128 / records as i128) as i64;
        call(&mut random, time_ms, &mut approvals, &mut pending);
        calls += 1;
        let left = (records - written) as usize;
        if pending.len() >= batch.min(left) {
            pending.truncate(left);
            written += pending.len() as u64;
            log.append_all(&pending)?;
            pending.clear();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(log);
    let bytes = file_bytes(path);
    println!(
        "{}",
        json!({
            "records": written,
            "calls": calls,
            "seconds": seconds,
            "bytes": bytes,
            "batch": batch,
        })
    );
    Ok(())
}

/// The database's size, with its WAL if one is left.
pub fn file_bytes(path: &Path) -> u64 {
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path) + size(Path::new(&wal))
}
