//! The gateway's cost per call (section 8): the same read, user info, made by MCP agent
//! sessions through `tiktok-gateway serve --http` (checked, audited, durable before its
//! answer) and by the generated client straight to the mock, each closed-loop with the
//! same number of calls in flight. Also what the figures are compared against: the audit
//! log's own commit of one record (its sync), and the setup both need (the mock's app and
//! a token for the gateway's account).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use tiktok_api::UserField;

/// What a closed-loop run measured.
#[derive(Debug, Serialize)]
pub struct CallsReport {
    /// Calls answered without error.
    pub calls: u64,
    /// Calls answered with an error (a tool error, a JSON-RPC error, an HTTP failure).
    pub errors: u64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// This process's CPU time per call (its load generation).
    pub cpu_us: f64,
    /// The server's (`--pid`) CPU time per call, when given.
    pub server_cpu_us: Option<f64>,
}

/// The mock's app credentials and a fresh token pair for the demo user, for the gateway's
/// config and `accounts import`.
pub async fn setup(mock: &str, token: &str) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let apps: Value = http
        .get(format!("{mock}/_mock/apps"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let app = &apps["apps"][0];
    let me: Value = http
        .get(format!("{mock}/v2/user/info/?fields=open_id"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let open_id = me["data"]["user"]["open_id"]
        .as_str()
        .context("no open_id in the mock's user info")?;
    let minted: Value = http
        .post(format!("{mock}/_mock/tokens"))
        .json(&json!({"open_id": open_id, "scopes": ["user.info.basic"]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(json!({
        "client_key": app["client_key"],
        "client_secret": app["client_secret"],
        "access_token": minted["access_token"],
        "refresh_token": minted["refresh_token"],
    }))
}

/// How calls are paced: each session's next call as soon as its last is answered (a
/// closed loop, for throughput), or the sessions' calls spread evenly at `rate` calls per
/// second in all (an open loop, for a call's own latency: below capacity nothing queues).
/// In an open loop a call's latency counts from when it was due, so a call that had to
/// wait for its session's previous one counts that wait too.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub sessions: usize,
    pub duration: Duration,
    /// Calls per second in all; `None` for a closed loop.
    pub rate: Option<f64>,
}

/// `pace.sessions` MCP sessions on `url` with the agent key `key`, each calling
/// `user_info` as paced.
pub async fn mcp_calls(
    url: &str,
    key: &str,
    pace: Pace,
    server: Option<u32>,
) -> anyhow::Result<CallsReport> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(pace.sessions)
        .build()?;
    // Each session opened and its first call made before the clock starts, all at once (a
    // connection each, as during the run), as the client direct makes its first call before.
    let opened = futures::future::try_join_all((0..pace.sessions).map(|_| async {
        let session = open_session(&http, url, key).await?;
        call_tool(&http, url, key, &session, 1).await?;
        anyhow::Ok(session)
    }))
    .await?;
    let call =
        async |session: usize, id: u64| call_tool(&http, url, key, &opened[session], id).await;
    Ok(drive(pace, server, call).await)
}

/// The same read by the generated client, straight to the mock: `pace.sessions` tasks
/// through one client (its limiter scaled by `scale`, as the gateway's is), as paced.
pub async fn direct_calls(
    base: &str,
    token: &str,
    scale: f64,
    pace: Pace,
    server: Option<u32>,
) -> anyhow::Result<CallsReport> {
    let client = tiktok_api::Client::builder()
        .base_url(base)
        .rate_limit_scale(scale)
        .build()?;
    let user = client.user_with_access_token(token);
    user.user_info(&[UserField::OpenId, UserField::DisplayName])
        .await?;
    let call = async |_: usize, _: u64| {
        user.user_info(&[UserField::OpenId, UserField::DisplayName])
            .await
            .map(drop)
            .map_err(anyhow::Error::from)
    };
    Ok(drive(pace, server, call).await)
}

/// How late tokio's timer may wake a paced call without the wait counting: it rounds a
/// deadline up to a whole millisecond, and the poller's timeout rounds up again, so a
/// wake-up comes up to about 2 ms late with nothing else to do.
const TIMER_SLACK: Duration = Duration::from_millis(3);

/// Runs `call(session, id)` in `pace.sessions` sessions for `pace.duration`, as paced.
async fn drive(
    pace: Pace,
    server: Option<u32>,
    call: impl AsyncFn(usize, u64) -> anyhow::Result<()>,
) -> CallsReport {
    let cpu = Cpu::now(server);
    let started = tokio::time::Instant::now();
    let deadline = started + pace.duration;
    // In an open loop, session `s` is due at `started + (s + k * sessions) / rate`.
    let spacing = pace
        .rate
        .map(|rate| Duration::from_secs_f64(1.0 / rate.max(1e-3)));
    let call = &call;
    let runs = (0..pace.sessions).map(|session| async move {
        let mut latencies = Vec::new();
        let mut errors = 0u64;
        let mut id = 1u64;
        let mut due = spacing.map(|spacing| started + spacing * session as u32);
        let mut answered = started;
        loop {
            let begin = match due {
                // A call counts from when it was due if it waited for its session's last
                // call, or was sent more than the timer's slack late (this client busy);
                // a wake-up late by the timer's rounding alone is not counted.
                Some(at) => {
                    tokio::time::sleep_until(at).await;
                    let now = tokio::time::Instant::now();
                    if answered > at || now - at > TIMER_SLACK {
                        at
                    } else {
                        now
                    }
                }
                None => tokio::time::Instant::now(),
            };
            if begin >= deadline {
                break;
            }
            id += 1;
            let result = call(session, id).await;
            answered = tokio::time::Instant::now();
            match result {
                Ok(()) => latencies.push(answered - begin),
                Err(error) => {
                    if errors == 0 {
                        eprintln!("calls: {error:#}");
                    }
                    errors += 1;
                }
            }
            if let (Some(at), Some(spacing)) = (due.as_mut(), spacing) {
                *at += spacing * pace.sessions as u32;
            }
        }
        (latencies, errors)
    });
    let results = futures::future::join_all(runs).await;
    report(results, started.elapsed(), cpu)
}

/// The median time of committing one record to a fresh SQLite audit log, `records` times
/// in turn: the sync every audited answer waits for at least once.
pub fn commit_us(path: &Path, records: usize) -> anyhow::Result<f64> {
    let log = tiktok_agent::SqliteAuditLog::open(path)?;
    let record = bench_record();
    let mut times = Vec::with_capacity(records);
    for _ in 0..records {
        let started = Instant::now();
        log.append(&record)?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// [`commit_us`] on the Postgres database at `url` (its schema migrated first).
pub async fn pg_commit_us(url: &str, records: usize) -> anyhow::Result<f64> {
    let database = tiktok_agent::PgDatabase::connect(url)?;
    database.migrate(tiktok_agent::Schema::AGENT).await?;
    let log = tiktok_agent::PgAuditLog::new(database);
    let record = bench_record();
    let mut times = Vec::with_capacity(records);
    for _ in 0..records {
        let started = Instant::now();
        log.append(&record).await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The record both commit measurements append.
fn bench_record() -> tiktok_agent::AuditRecord {
    tiktok_agent::AuditRecord::event(
        "reader",
        "bench",
        "user_info",
        &json!({"fields": ["open_id"]}),
        tiktok_agent::Decision::Allowed,
        None,
        None,
    )
}

/// An initialized MCP session: its id.
async fn open_session(http: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<String> {
    let answer = post(
        http,
        url,
        key,
        None,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "tiktok-bench", "version": "0"},
        }}),
    )
    .await?;
    let session = answer
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .context("the gateway opened no session")?
        .to_owned();
    let body = answer.text().await?;
    if !body.contains("\"result\"") {
        bail!("initialize answered {body}");
    }
    post(
        http,
        url,
        key,
        Some(&session),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await?;
    Ok(session)
}

/// One `tools/call` of `user_info`; an error unless it answered a result that is not one.
async fn call_tool(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    session: &str,
    id: u64,
) -> anyhow::Result<()> {
    let body = post(
        http,
        url,
        key,
        Some(session),
        &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "user_info",
            "arguments": {"fields": ["open_id", "display_name"]},
        }}),
    )
    .await?
    .text()
    .await?;
    // An event stream of one message, or the message itself.
    let message = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .find(|data| !data.is_empty())
        .unwrap_or(body.as_str());
    let message: Value = serde_json::from_str(message).with_context(|| body.clone())?;
    if message["result"]["isError"] != json!(false) || message["result"].is_null() {
        bail!("tools/call answered {message}");
    }
    Ok(())
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    session: Option<&str>,
    message: &Value,
) -> anyhow::Result<reqwest::Response> {
    let mut request = http
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(message);
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-06-18");
    }
    Ok(request.send().await?.error_for_status()?)
}

/// CPU times at the start of a run: this process's and the server's.
struct Cpu {
    own: Duration,
    server: Option<(u32, Duration)>,
}

impl Cpu {
    fn now(server: Option<u32>) -> Cpu {
        Cpu {
            own: cpu_time("self"),
            server: server.map(|pid| (pid, cpu_time(&pid.to_string()))),
        }
    }
}

fn report(results: Vec<(Vec<Duration>, u64)>, elapsed: Duration, before: Cpu) -> CallsReport {
    let own = cpu_time("self").saturating_sub(before.own);
    let server = before
        .server
        .map(|(pid, at)| cpu_time(&pid.to_string()).saturating_sub(at));
    let errors = results.iter().map(|(_, errors)| errors).sum();
    let mut latencies: Vec<Duration> = results.into_iter().flat_map(|(l, _)| l).collect();
    latencies.sort_unstable();
    let at = |quantile: f64| {
        latencies
            .get(((latencies.len() as f64 * quantile) as usize).min(latencies.len().max(1) - 1))
            .map_or(0.0, |latency| latency.as_secs_f64() * 1e6)
    };
    let calls = latencies.len() as u64;
    CallsReport {
        calls,
        errors,
        seconds: elapsed.as_secs_f64(),
        p50_us: at(0.5),
        p99_us: at(0.99),
        cpu_us: own.as_secs_f64() * 1e6 / calls.max(1) as f64,
        server_cpu_us: server.map(|cpu| cpu.as_secs_f64() * 1e6 / calls.max(1) as f64),
    }
}

/// The CPU time of every live thread of process `pid` (`self` for this one) so far, from
/// `/proc/PID/task/*/schedstat` (nanoseconds, unlike the clock ticks of `/proc/PID/stat`).
pub fn cpu_time(pid: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}
