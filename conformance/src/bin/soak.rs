//! The soak: the mock binary on loopback under many concurrent connections for a bounded
//! time, on a mix of endpoints with many tokens driven past their rate limits. The mock runs
//! on its manual clock, so no window slides and the model is exact: per token and endpoint,
//! exactly `min(sent, per_minute)` answers are 2xx and the rest are TikTok's 429. Any other
//! status, a 429 where a 2xx was due (or the reverse), or resident memory still growing in
//! the last two thirds of the run fails it. Run through `cargo xtask soak`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Tokens minted; each one is driven past its limit on the endpoints it is used on.
const TOKENS: usize = 64;
/// Growth of resident memory allowed between a third of the run and its end.
const RSS_GROWTH_LIMIT_KIB: u64 = 32 * 1024;

struct Args {
    mock: PathBuf,
    seconds: u64,
    connections: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        mock: PathBuf::new(),
        seconds: 60,
        connections: 256,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--mock" => args.mock = PathBuf::from(value()?),
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--connections" => {
                args.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.mock.as_os_str().is_empty() {
        return Err("--mock PATH (the tiktok-mock binary) is required".into());
    }
    Ok(args)
}

/// One kind of call in the mix.
struct Call {
    endpoint: &'static str,
    method: reqwest::Method,
    path: &'static str,
    body: Option<Value>,
}

fn mix() -> Vec<Call> {
    vec![
        Call {
            endpoint: "user_info",
            method: reqwest::Method::GET,
            path: "/v2/user/info/?fields=open_id,display_name,follower_count",
            body: None,
        },
        Call {
            endpoint: "video_list",
            method: reqwest::Method::POST,
            path: "/v2/video/list/?fields=id,title",
            body: Some(json!({"max_count": 20})),
        },
        Call {
            endpoint: "video_query",
            method: reqwest::Method::POST,
            path: "/v2/video/query/?fields=id,title",
            body: Some(json!({"filters": {"video_ids": ["7300000000000000001"]}})),
        },
        Call {
            endpoint: "creator_info",
            method: reqwest::Method::POST,
            path: "/v2/post/publish/creator_info/query/",
            body: None,
        },
    ]
}

/// What the workers saw.
#[derive(Default)]
struct Tally {
    /// (token index, endpoint) → (2xx, 429).
    answers: BTreeMap<(usize, &'static str), (u64, u64)>,
    other: Vec<String>,
    latencies_us: Vec<u32>,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("soak: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("soak: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let mut mock = tokio::process::Command::new(&args.mock)
        .args(["--addr", "127.0.0.1:0", "--clock", "manual"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("{}: {error}", args.mock.display()))?;
    let pid = mock.id().ok_or("the mock exited at once")?;
    let mut lines = BufReader::new(mock.stdout.take().ok_or("no stdout")?).lines();
    let base = loop {
        let line = lines
            .next_line()
            .await
            .map_err(|error| error.to_string())?
            .ok_or("the mock exited before printing its address")?;
        if let Some(at) = line.find("http://") {
            let url = line[at..].split_whitespace().next().unwrap_or_default();
            break url.trim_end_matches('/').to_string();
        }
    };
    // Keep reading the mock's log so its stdout never blocks it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| error.to_string())?;
    let mut tokens = Vec::new();
    for _ in 0..TOKENS {
        let minted: Value = http
            .post(format!("{base}/_mock/tokens"))
            .json(&json!({"scopes": ["user.info.basic", "user.info.stats", "video.list", "video.publish", "video.upload"]}))
            .send()
            .await
            .map_err(|error| error.to_string())?
            .json()
            .await
            .map_err(|error| error.to_string())?;
        let token = minted["access_token"]
            .as_str()
            .ok_or(format!("no token minted: {minted}"))?;
        tokens.push(token.to_string());
    }
    let tokens = Arc::new(tokens);
    let mix = Arc::new(mix());
    let rss_before = rss_kib(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let third = started + Duration::from_secs(args.seconds) / 3;
    let sampler = tokio::spawn(async move {
        let mut at_third = None;
        let mut peak = 0;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let rss = rss_kib(pid);
            peak = peak.max(rss);
            if at_third.is_none() && Instant::now() >= third {
                at_third = Some(rss);
            }
        }
        (at_third.unwrap_or(0), peak)
    });
    let mut workers = Vec::new();
    for worker in 0..args.connections {
        let (http, base, tokens, mix) = (http.clone(), base.clone(), tokens.clone(), mix.clone());
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut random = StdRng::seed_from_u64(worker as u64);
            while Instant::now() < deadline {
                let token = random.random_range(0..tokens.len());
                let call = &mix[random.random_range(0..mix.len())];
                let mut request = http
                    .request(call.method.clone(), format!("{base}{}", call.path))
                    .bearer_auth(&tokens[token]);
                if let Some(body) = &call.body {
                    request = request.json(body);
                }
                let sent = Instant::now();
                let answer = request.send().await;
                let status = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.bytes().await.unwrap_or_default();
                        if status == 429 {
                            let code = serde_json::from_slice::<Value>(&body)
                                .ok()
                                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
                            if code.as_deref() != Some("rate_limit_exceeded") {
                                tally.other.push(format!("429 not TikTok-shaped: {code:?}"));
                            }
                        }
                        status
                    }
                    Err(error) => {
                        tally.other.push(format!("{}: {error}", call.endpoint));
                        continue;
                    }
                };
                tally
                    .latencies_us
                    .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                let entry = tally.answers.entry((token, call.endpoint)).or_default();
                match status {
                    200..=299 => entry.0 += 1,
                    429 => entry.1 += 1,
                    other => tally
                        .other
                        .push(format!("{} answered {other}", call.endpoint)),
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.map_err(|error| error.to_string())?;
        for (key, (ok, limited)) in tally.answers {
            let entry = total.answers.entry(key).or_default();
            entry.0 += ok;
            entry.1 += limited;
        }
        total.other.extend(tally.other);
        total.latencies_us.extend(tally.latencies_us);
    }
    let elapsed = started.elapsed();
    let (rss_third, rss_peak) = sampler.await.map_err(|error| error.to_string())?;
    let rss_after = rss_kib(pid);
    let _ = mock.kill().await;

    let mut wrong = Vec::new();
    for ((token, endpoint), (ok, limited)) in &total.answers {
        let limit = tiktok_api::endpoint(endpoint)
            .map(|meta| u64::from(meta.rate_limit.per_minute))
            .unwrap_or(0);
        let sent = ok + limited;
        if *ok != sent.min(limit) {
            wrong.push(format!(
                "token {token} on {endpoint}: {ok} of {sent} answered 2xx, the model says {}",
                sent.min(limit)
            ));
        }
    }
    total.latencies_us.sort_unstable();
    let requests = total.latencies_us.len();
    let ok: u64 = total.answers.values().map(|(ok, _)| ok).sum();
    let limited: u64 = total.answers.values().map(|(_, limited)| limited).sum();
    println!(
        "soak: {} connections for {:.1} s on loopback",
        args.connections,
        elapsed.as_secs_f64()
    );
    println!(
        "  requests {requests} ({:.0}/s): 2xx {ok}, 429 {limited}, other {}",
        requests as f64 / elapsed.as_secs_f64(),
        total.other.len()
    );
    println!(
        "  latency p50 {} us, p99 {} us, max {} us",
        percentile(&total.latencies_us, 0.5),
        percentile(&total.latencies_us, 0.99),
        total.latencies_us.last().copied().unwrap_or(0)
    );
    println!(
        "  mock resident memory: {} MiB before, {} MiB at a third, {} MiB peak, {} MiB after",
        rss_before / 1024,
        rss_third / 1024,
        rss_peak / 1024,
        rss_after / 1024
    );
    let mut passed = true;
    for problem in total.other.iter().take(10) {
        println!("  unexpected: {problem}");
        passed = false;
    }
    for problem in wrong.iter().take(10) {
        println!("  model: {problem}");
        passed = false;
    }
    let growth = rss_after.saturating_sub(rss_third);
    if growth > RSS_GROWTH_LIMIT_KIB {
        println!(
            "  memory: grew {} MiB in the last two thirds (limit {} MiB)",
            growth / 1024,
            RSS_GROWTH_LIMIT_KIB / 1024
        );
        passed = false;
    }
    if requests == 0 {
        println!("  no request was answered");
        passed = false;
    }
    println!("soak {}", if passed { "passed" } else { "FAILED" });
    Ok(passed)
}
