//! `tiktok-bench`: the programs `cargo xtask bench` runs, built in release mode. Each
//! subcommand prints one JSON line the xtask reads; none of them is a test.
//!
//! - `bare`: the ceiling, a bare axum handler that checks the Bearer header and answers a
//!   fixed body (the mock's own answer, captured by the xtask), on the mock's two paths.
//! - `fetch`: one HTTP call, its body on stdout (the xtask's only HTTP client).
//! - `load`: a closed-loop HTTP/1.1 load generator on hyper, the fallback when `wrk` cannot
//!   be installed.
//! - `upload`: a chunked upload through the mock's PUT path: MB/s, and the mock's resident
//!   memory sampled throughout.
//! - `gen`: the generation step alone (read, validate, emit) on a spec directory.
//! - `client`: per-call time of the generated client against raw reqwest with hand-written
//!   serde structs, on the same mock and the same connection pool.
//! - `audit-log`: builds a hash-chained audit log of N records for `audit verify`, `query`
//!   and `tail` to be timed on.
//! - `gateway-setup`, `mcp-calls`, `direct-calls`, `audit-commit`, `postgres`: the
//!   gateway's cost per call, user info through `serve --http` (audited to SQLite or to a
//!   throwaway Postgres) against the client straight to the mock.

mod audit;
mod bare;
mod client;
mod gateway;
mod load;
mod upload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Programs of `cargo xtask bench`; each prints one JSON line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the bare axum handler: prints `listening on http://ADDR`.
    Bare {
        /// HOST:PORT (port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// The one access token it accepts.
        #[arg(long)]
        token: String,
        /// The body answered on `GET /v2/user/info/`.
        #[arg(long)]
        user_info_body: PathBuf,
        /// The body answered on `POST /v2/video/list/`.
        #[arg(long)]
        video_list_body: PathBuf,
    },
    /// One HTTP call; prints the body, fails on a status outside 2xx.
    Fetch {
        /// GET or POST.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The URL.
        #[arg(long)]
        url: String,
        /// A bearer token.
        #[arg(long)]
        token: Option<String>,
        /// A JSON body.
        #[arg(long)]
        body: Option<String>,
    },
    /// A closed-loop load: CONNECTIONS connections on one thread, for SECONDS.
    Load {
        /// The URL.
        #[arg(long)]
        url: String,
        /// GET or POST.
        #[arg(long, default_value = "GET")]
        method: String,
        /// A header, `Name: value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// A body.
        #[arg(long)]
        body: Option<String>,
        /// Connections kept busy.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// A chunked upload through the mock's upload host.
    Upload {
        /// The mock's base URL.
        #[arg(long)]
        base: String,
        /// A user token with video.upload.
        #[arg(long)]
        token: String,
        /// Video size in bytes.
        #[arg(long)]
        size: u64,
        /// Chunk size in bytes.
        #[arg(long)]
        chunk: u64,
        /// The mock's process id, to sample its resident memory.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Time `tiktok_codegen::generate` on a spec directory.
    Gen {
        /// The spec directory.
        #[arg(long)]
        spec: PathBuf,
        /// Run at least this many times...
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// ...and for at least this long.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// Per-call time of the generated client against raw reqwest.
    Client {
        /// The mock's base URL.
        #[arg(long)]
        base: String,
        /// Calls per round, per endpoint and side.
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        /// Rounds (the sides alternate; the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Builds an audit log of RECORDS records (several agents, a month of calls) at PATH.
    AuditLog {
        /// The new log's path (must not exist).
        #[arg(long)]
        path: PathBuf,
        /// Records.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Records per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Days the records span, ending now.
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// CALLS calls of one side on one endpoint and nothing else, for an instruction count
    /// (run under callgrind with two counts; the difference is the calls' own cost).
    ClientCalls {
        /// The mock's base URL.
        #[arg(long)]
        base: String,
        /// `user_info` or `video_list`.
        #[arg(long)]
        endpoint: String,
        /// `raw` or `generated`.
        #[arg(long)]
        side: String,
        /// Calls.
        #[arg(long)]
        calls: usize,
    },
    /// The mock's app credentials and a fresh token pair for its demo user, as JSON.
    GatewaySetup {
        /// The mock's base URL.
        #[arg(long)]
        mock: String,
        /// The mock's printed token (to learn the demo user's open_id).
        #[arg(long)]
        token: String,
    },
    /// MCP sessions calling `user_info` through `serve --http`, closed-loop (or at `--rate`).
    McpCalls {
        /// The gateway's MCP endpoint, `http://ADDR/mcp`.
        #[arg(long)]
        url: String,
        /// The agent's key.
        #[arg(long)]
        key: String,
        /// Sessions, each with one call in flight.
        #[arg(long, default_value_t = 32)]
        sessions: usize,
        /// Seconds of calls.
        #[arg(long)]
        seconds: f64,
        /// The gateway's process id, for its CPU time per call.
        #[arg(long)]
        pid: Option<u32>,
        /// Calls per second in all, spread evenly over the sessions (an open loop); without
        /// it, each session calls again as soon as it is answered.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// The generated client calling `user_info` straight to the mock, closed-loop (or at
    /// `--rate`).
    DirectCalls {
        /// The mock's base URL.
        #[arg(long)]
        base: String,
        /// An access token.
        #[arg(long)]
        token: String,
        /// The client's rate-limit scale (the mock's `--rate-limit-scale`).
        #[arg(long)]
        scale: f64,
        /// Tasks, each with one call in flight.
        #[arg(long, default_value_t = 32)]
        sessions: usize,
        /// Seconds of calls.
        #[arg(long)]
        seconds: f64,
        /// The mock's process id, for its CPU time per call.
        #[arg(long)]
        pid: Option<u32>,
        /// Calls per second in all, spread evenly over the sessions (an open loop); without
        /// it, each session calls again as soon as it is answered.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// The median time to commit one record to a fresh audit log: SQLite at PATH, or the
    /// Postgres database at URL (migrated first).
    AuditCommit {
        /// Where to create a SQLite log.
        #[arg(long, required_unless_present = "url")]
        path: Option<PathBuf>,
        /// A Postgres database instead (`postgres://…`).
        #[arg(long, conflicts_with = "path")]
        url: Option<String>,
        /// Records, one commit each.
        #[arg(long, default_value_t = 200)]
        records: usize,
    },
    /// A throwaway Postgres cluster (Debian's `postgresql`) with every commit synced, as a
    /// server runs: prints the URLs of its two databases (`gateway` and `commit`) on one
    /// line, then runs until its standard input closes, and is removed. Prints nothing and
    /// ends when the server is not installed.
    Postgres,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bare {
            addr,
            token,
            user_info_body,
            video_list_body,
        } => {
            let user_info = std::fs::read(&user_info_body)?;
            let video_list = std::fs::read(&video_list_body)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(bare::serve(&addr, &token, user_info, video_list))
        }
        Command::Fetch {
            method,
            url,
            token,
            body,
        } => current_thread()?.block_on(fetch(&method, &url, token.as_deref(), body)),
        Command::Load {
            url,
            method,
            headers,
            body,
            connections,
            seconds,
        } => {
            let report = current_thread()?.block_on(load::run(load::Plan {
                url,
                method,
                headers,
                body,
                connections,
                duration: Duration::from_secs_f64(seconds),
            }))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::Upload {
            base,
            token,
            size,
            chunk,
            pid,
        } => {
            let report =
                current_thread()?.block_on(upload::run(&base, &token, size, chunk, pid))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::Gen {
            spec,
            runs,
            seconds,
        } => generator(&spec, runs, seconds),
        Command::Client {
            base,
            calls,
            rounds,
        } => {
            let report = current_thread()?.block_on(client::run(&base, calls, rounds))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::AuditLog {
            path,
            records,
            batch,
            days,
        } => audit::build(
            &path,
            records,
            batch.max(1),
            Duration::from_secs(days * 86_400),
        ),
        Command::ClientCalls {
            base,
            endpoint,
            side,
            calls,
        } => current_thread()?.block_on(client::calls(&base, &endpoint, &side, calls)),
        Command::GatewaySetup { mock, token } => {
            let setup = current_thread()?.block_on(gateway::setup(&mock, &token))?;
            println!("{setup}");
            Ok(())
        }
        Command::McpCalls {
            url,
            key,
            sessions,
            seconds,
            pid,
            rate,
        } => print(current_thread()?.block_on(gateway::mcp_calls(
            &url,
            &key,
            pace(sessions, seconds, rate),
            pid,
        ))?),
        Command::DirectCalls {
            base,
            token,
            scale,
            sessions,
            seconds,
            pid,
            rate,
        } => print(current_thread()?.block_on(gateway::direct_calls(
            &base,
            &token,
            scale,
            pace(sessions, seconds, rate),
            pid,
        ))?),
        Command::AuditCommit { path, url, records } => {
            let us = match (path, url) {
                (_, Some(url)) => {
                    current_thread()?.block_on(gateway::pg_commit_us(&url, records.max(1)))?
                }
                (Some(path), None) => gateway::commit_us(&path, records.max(1))?,
                (None, None) => anyhow::bail!("audit-commit needs --path or --url"),
            };
            println!("{}", serde_json::json!({ "commit_us": us }));
            Ok(())
        }
        Command::Postgres => {
            // Says why on stderr, and prints nothing.
            let Some(cluster) = tiktok_agent::testing::Postgres::start_synced() else {
                return Ok(());
            };
            // One database for the gateway, one for `audit-commit`.
            let gateway = cluster.create_database("gateway");
            let commit = cluster.create_database("commit");
            println!("{gateway} {commit}");
            std::io::Write::flush(&mut std::io::stdout())?;
            // Until whoever started it closes our standard input (or ends).
            std::io::copy(&mut std::io::stdin(), &mut std::io::sink())?;
            drop(cluster);
            Ok(())
        }
    }
}

fn print(report: impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The pacing of `mcp-calls` and `direct-calls`.
fn pace(sessions: usize, seconds: f64, rate: Option<f64>) -> gateway::Pace {
    gateway::Pace {
        sessions,
        duration: Duration::from_secs_f64(seconds),
        rate,
    }
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn fetch(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        anyhow::bail!("{url}: HTTP {status}: {text}");
    }
    print!("{text}");
    Ok(())
}

/// The median of some durations (the upper one of an even count), in milliseconds.
pub fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort();
    times
        .get(times.len() / 2)
        .map_or(0.0, |time| time.as_secs_f64() * 1000.0)
}

fn generator(spec: &std::path::Path, runs: usize, seconds: f64) -> anyhow::Result<()> {
    let minimum = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut times = Vec::new();
    let mut files = 0;
    let mut bytes = 0;
    while times.len() < runs.max(1) || started.elapsed() < minimum {
        let start = Instant::now();
        let generated =
            tiktok_codegen::generate(spec).map_err(|error| anyhow::anyhow!("{error}"))?;
        times.push(start.elapsed());
        files = generated.len();
        bytes = generated
            .iter()
            .map(|(_, contents)| contents.len())
            .sum::<usize>();
        std::hint::black_box(generated);
    }
    let fastest = times.iter().min().copied().unwrap_or_default();
    let runs = times.len();
    let median = median_ms(&mut times);
    println!(
        "{}",
        serde_json::json!({
            "median_ms": median,
            "min_ms": fastest.as_secs_f64() * 1000.0,
            "runs": runs,
            "files": files,
            "bytes": bytes,
        })
    );
    Ok(())
}
