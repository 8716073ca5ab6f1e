//! `cargo xtask bench`: builds the mock and the bench programs (`bench/`) in release mode,
//! measures everything issue 13 asks for in one run, prints a table and writes it, with
//! the date, the CPU model and the core count, to `BENCHMARKS.md` (between its markers, so
//! the notes around the table stay). `--quick` runs a short version for CI.
//!
//! HTTP figures come from a real load generator (`wrk -t1 -c32`, installed when missing)
//! with the server and the load pinned to different CPUs; the targets of a comparison
//! alternate within each round, and each figure is the median of the rounds.

mod audit;
mod client;
mod gateway;
mod instructions;
mod procs;
mod report;
mod servers;
mod specs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use procs::{Load, LoadGenerator, Measure, Pinning, Request, Server, run_load};
pub use report::Results;
use report::{GenRow, HttpRow, PagingRow, UploadRow};

/// The options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// A short run (about half a minute): one round, small sizes, no warm-ups; writes
    /// target/bench/BENCHMARKS-quick.md, never BENCHMARKS.md.
    #[arg(long)]
    quick: bool,
    /// Cargo profile of the measured programs (default: release; dev with --quick, which
    /// reuses the test build).
    #[arg(long)]
    profile: Option<String>,
    /// Rounds of each comparison (default 5; 1 with --quick).
    #[arg(long)]
    rounds: Option<usize>,
    /// Seconds of each load run (default 5; 1 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// The load generator.
    #[arg(long, value_enum, default_value_t = LoadGenerator::Auto)]
    load_generator: LoadGenerator,
    /// Run only these sections (comma-separated: http, paging, memory, upload, generator,
    /// client, audit, gateway, state, proxy); the table then goes to target/bench/BENCHMARKS-partial.md.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run the measured processes under the real-time FIFO policy (`chrt -f 50`, when
    /// allowed) rather than at nice -20: steadier figures on a busy machine, whose other
    /// processes then wait (the kernel keeps 5% of each second for them).
    #[arg(long)]
    realtime: bool,
    /// Measure this mock binary instead of the one built (e.g. an older build, to compare;
    /// the table then goes to target/bench/BENCHMARKS-partial.md).
    #[arg(long, value_name = "PATH")]
    mock: Option<PathBuf>,
    /// Measure this gateway binary instead of the one built (section 8 against an older
    /// build; the table then goes to target/bench/BENCHMARKS-partial.md).
    #[arg(long, value_name = "PATH")]
    gateway: Option<PathBuf>,
}

const SECTIONS: [&str; 10] = [
    "http",
    "paging",
    "memory",
    "upload",
    "generator",
    "client",
    "audit",
    "gateway",
    "state",
    "proxy",
];

/// The fields the video list calls ask for.
const VIDEO_FIELDS: &str = "id,title,create_time,share_url,view_count,like_count";
/// Every rate limit of the mock times this: on, but too high to trip.
const RATE_LIMIT_SCALE: &str = "1000000";

/// What one run builds and runs.
struct Bench {
    root: PathBuf,
    scratch: PathBuf,
    mock: PathBuf,
    bench: PathBuf,
    gateway: PathBuf,
    pinning: Pinning,
    load: Load,
    rounds: usize,
    seconds: f64,
    quick: bool,
}

pub fn run(root: &Path, options: Options) -> anyhow::Result<ExitCode> {
    for section in &options.only {
        if !SECTIONS.contains(&section.as_str()) {
            bail!("--only {section}: expected one of {SECTIONS:?}");
        }
    }
    let wants =
        |section: &str| options.only.is_empty() || options.only.iter().any(|s| s == section);
    let quick = options.quick;
    let profile = options
        .profile
        .clone()
        .unwrap_or_else(|| if quick { "dev" } else { "release" }.to_owned());
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target_dir = if target_dir.is_absolute() {
        target_dir
    } else {
        root.join(target_dir)
    };
    let scratch = target_dir.join("bench");
    std::fs::create_dir_all(&scratch)?;

    let started = std::time::Instant::now();
    let load_before = load_average();
    build(root, &profile, quick)?;
    let built = started.elapsed();
    let bin_dir = target_dir.join(if profile == "dev" { "debug" } else { &profile });
    let bench_bin = bin_dir.join("tiktok-bench");
    let pinning = Pinning::detect(options.realtime);
    if let Some(note) = &pinning.note {
        eprintln!("warning: {note}");
    }
    let load = Load::choose(options.load_generator, &bench_bin)?;
    let bench = Bench {
        root: root.to_path_buf(),
        scratch,
        mock: match &options.mock {
            Some(path) => {
                std::fs::canonicalize(path).with_context(|| format!("--mock {}", path.display()))?
            }
            None => bin_dir.join("tiktok-mock"),
        },
        bench: bench_bin,
        gateway: match &options.gateway {
            Some(path) => std::fs::canonicalize(path)
                .with_context(|| format!("--gateway {}", path.display()))?,
            None => bin_dir.join("tiktok-gateway"),
        },
        pinning,
        load,
        rounds: options.rounds.unwrap_or(if quick { 1 } else { 5 }).max(1),
        seconds: options.seconds.unwrap_or(if quick { 1.0 } else { 5.0 }),
        quick,
    };
    let mut results = Results::new(&bench.load.describe(), &bench.pinning, &profile, quick);
    if wants("http") {
        results.http = timed("http", || bench.http())?;
    }
    if wants("paging") {
        results.paging = timed("paging", || bench.paging())?;
    }
    if wants("memory") {
        results.idle_kb = timed("memory", || bench.idle_memory())?;
    }
    if wants("upload") {
        results.upload = Some(timed("upload", || bench.upload())?);
    }
    if wants("generator") {
        results.generator = timed("generator", || bench.generator())?;
    }
    if wants("client") {
        results.client = Some(timed("client", || bench.client())?);
    }
    if wants("audit") {
        results.audit = Some(timed("audit", || bench.audit())?);
    }
    if wants("gateway") {
        results.gateway = timed("gateway", || bench.gateway())?;
    }
    if wants("state") {
        results.state = Some(timed("state", || bench.state())?);
    }
    if wants("proxy") {
        results.proxy = Some(timed("proxy", || bench.proxy())?);
    }
    results.seconds = started.elapsed().as_secs_f64();
    results.load_average = (load_before, load_average());
    let notes: Vec<String> = [("mock", &options.mock), ("gateway", &options.gateway)]
        .into_iter()
        .filter_map(|(what, path)| {
            path.as_ref()
                .map(|path| format!("{what} binary: {}", path.display()))
        })
        .collect();
    if !notes.is_empty() {
        results.mock_note = Some(notes.join("; "));
    }
    results.build_seconds = built.as_secs_f64();
    let table = results.render();
    println!("{table}");
    let out = if quick {
        bench.scratch.join("BENCHMARKS-quick.md")
    } else if !options.only.is_empty() || options.mock.is_some() || options.gateway.is_some() {
        bench.scratch.join("BENCHMARKS-partial.md")
    } else {
        root.join("BENCHMARKS.md")
    };
    report::write(&out, &table)?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs one section, and says on stderr how long it took (to keep `--quick` short).
fn timed<T>(section: &str, run: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let started = std::time::Instant::now();
    let value = run()?;
    eprintln!(
        "bench: {section} took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(value)
}

/// `cargo build` of the mock and the bench programs. A quick run builds what `cargo test
/// --workspace` builds (the same features), so after the tests it builds nothing new.
fn build(root: &Path, profile: &str, quick: bool) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--locked", "--profile", profile]);
    // What `cargo run` set for xtask itself: build scripts that watch these (ring's) would
    // otherwise see another environment than `cargo test`'s and build everything again.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    if quick {
        command.args(["--workspace", "--all-targets"]);
    } else {
        command.args([
            "-p",
            "tiktok-mock",
            "-p",
            "tiktok-bench",
            "-p",
            "tiktok-gateway",
            "--bins",
        ]);
    }
    let status = command.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --profile {profile} failed");
    }
    Ok(())
}

/// The 1-minute load average, to show how busy the machine was.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The median of some numbers (the upper one of an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// The median of each figure of some measures.
fn median_measure(measures: &[Measure]) -> Measure {
    let pick =
        |figure: fn(&Measure) -> f64| median(&measures.iter().map(figure).collect::<Vec<_>>());
    Measure {
        rps: pick(|m| m.rps),
        p50_ms: pick(|m| m.p50_ms),
        p99_ms: pick(|m| m.p99_ms),
        requests: pick(|m| m.requests),
    }
}

impl Bench {
    /// The mock on the server CPU with every limit scaled out of reach.
    fn start_mock(&self, name: &str, extra: &[&str]) -> anyhow::Result<Server> {
        let mut command = self.pinning.command(self.pinning.server, &self.mock);
        command
            .args([
                "--addr",
                "127.0.0.1:0",
                "--rate-limit-scale",
                RATE_LIMIT_SCALE,
            ])
            .args(extra);
        let server = Server::start(command, &self.scratch.join(format!("{name}.log")), true)?;
        if server.token.is_none() {
            bail!("the mock printed no token");
        }
        Ok(server)
    }

    /// Seconds of each open-loop run: half a run's in a quick one (only checked to work).
    fn paced_seconds(&self) -> String {
        let seconds = if self.quick {
            self.seconds / 2.0
        } else {
            self.seconds
        };
        seconds.to_string()
    }

    /// A bench program on the load CPU; its stdout.
    fn program(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = self.pinning.command(self.pinning.load, &self.bench);
        command.args(args);
        procs::output(command)
    }

    fn fetch(&self, server: &Server, request: &Request) -> anyhow::Result<String> {
        let url = format!("{}{}", server.base, request.path);
        let mut args = vec![
            "fetch",
            "--method",
            request.method,
            "--url",
            &url,
            "--token",
            &request.token,
        ];
        if let Some(body) = &request.body {
            args.extend(["--body", body]);
        }
        self.program(&args)
    }

    fn measure(&self, server: &Server, request: &Request, seconds: f64) -> anyhow::Result<Measure> {
        run_load(
            &self.load,
            &self.pinning,
            &server.base,
            request,
            seconds,
            &self.scratch,
        )
    }

    /// Runs each (server, request) for `rounds` rounds, alternating within a round (and
    /// reversing the order every other round); the median of each.
    fn alternate(
        &self,
        targets: &[(&Server, &Request)],
        seconds: f64,
    ) -> anyhow::Result<Vec<Measure>> {
        // A second's warm-up of each target; a quick run only checks the harness works.
        if !self.quick {
            for (server, request) in targets {
                self.measure(server, request, 1.0)?;
            }
        }
        let mut all: Vec<Vec<Measure>> = vec![Vec::new(); targets.len()];
        for round in 0..self.rounds {
            let mut order: Vec<usize> = (0..targets.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let (server, request) = targets[index];
                all[index].push(self.measure(server, request, seconds)?);
            }
        }
        Ok(all
            .iter()
            .map(|measures| median_measure(measures))
            .collect())
    }

    /// 1. The mock against the bare handler on user info and video list.
    fn http(&self) -> anyhow::Result<Vec<HttpRow>> {
        eprintln!("== mock vs bare axum");
        let mock = self.start_mock("http-mock", &[])?;
        let token = mock.token.clone().unwrap_or_default();
        let user_info = Request {
            method: "GET",
            path: "/v2/user/info/?fields=open_id,display_name".to_owned(),
            token: token.clone(),
            body: None,
        };
        let video_list = Request {
            method: "POST",
            path: format!("/v2/video/list/?fields={VIDEO_FIELDS}"),
            token: token.clone(),
            body: Some(r#"{"max_count":20}"#.to_owned()),
        };
        let user_body = self.scratch.join("user_info.json");
        let list_body = self.scratch.join("video_list.json");
        std::fs::write(&user_body, self.fetch(&mock, &user_info)?)?;
        std::fs::write(&list_body, self.fetch(&mock, &video_list)?)?;
        let mut command = self.pinning.command(self.pinning.server, &self.bench);
        command.arg("bare").arg("--token").arg(&token);
        command.arg("--user-info-body").arg(&user_body);
        command.arg("--video-list-body").arg(&list_body);
        let bare = Server::start(command, &self.scratch.join("bare.log"), false)?;
        let measures = self.alternate(
            &[
                (&bare, &user_info),
                (&mock, &user_info),
                (&bare, &video_list),
                (&mock, &video_list),
            ],
            self.seconds,
        )?;
        drop((bare, mock));
        let user_name = "GET /v2/user/info/ (fields=open_id,display_name)";
        let list_name = "POST /v2/video/list/ (max_count 20, 6 fields)";
        let mut rows = vec![
            HttpRow::new(user_name, measures[0], measures[1]),
            HttpRow::new(list_name, measures[2], measures[3]),
        ];
        if !self.quick {
            let counted = self.instructions(
                &[(user_name, user_info), (list_name, video_list)],
                (&user_body, &list_body),
            )?;
            for (row, counted) in rows.iter_mut().zip(counted.into_iter().flatten()) {
                row.instructions = Some((counted.bare, counted.mock));
            }
        }
        Ok(rows)
    }

    /// 2. A page at the top and deep in the list, for growing numbers of videos; the RSS
    ///    of each mock once started (3. memory at a million).
    fn paging(&self) -> anyhow::Result<Vec<PagingRow>> {
        let sizes: &[u64] = if self.quick {
            &[1_000, 10_000]
        } else {
            &[1_000, 100_000, 1_000_000]
        };
        let mut rows = Vec::new();
        for &videos in sizes {
            eprintln!("== paging with {videos} synthetic videos");
            let count = videos.to_string();
            let mock =
                self.start_mock(&format!("paging-{videos}"), &["--synthetic-videos", &count])?;
            std::thread::sleep(std::time::Duration::from_millis(300));
            let rss_kb = mock.rss_kb();
            let token = mock.token.clone().unwrap_or_default();
            let path = format!("/v2/video/list/?fields={VIDEO_FIELDS}");
            let top = Request {
                method: "POST",
                path: path.clone(),
                token: token.clone(),
                body: Some(r#"{"max_count":20}"#.to_owned()),
            };
            let first: serde_json::Value = serde_json::from_str(&self.fetch(&mock, &top)?)?;
            let anchor = first
                .pointer("/data/cursor")
                .and_then(serde_json::Value::as_i64)
                .context("the first page has no cursor")?;
            // Nine tenths of the way down: synthetic videos are a minute apart.
            let deep_cursor = anchor - i64::try_from(videos * 9 / 10)? * 60_000;
            let deep = Request {
                body: Some(format!(r#"{{"max_count":20,"cursor":{deep_cursor}}}"#)),
                ..top.clone()
            };
            let page: serde_json::Value = serde_json::from_str(&self.fetch(&mock, &deep)?)?;
            let full = page
                .pointer("/data/videos")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|videos| videos.len() == 20);
            let more = page.pointer("/data/has_more") == Some(&serde_json::Value::Bool(true));
            if !(full && more) {
                bail!("the deep page at cursor {deep_cursor} is not a full page with more: {page}");
            }
            let seconds = if self.quick {
                self.seconds
            } else {
                self.seconds.min(3.0)
            };
            let measures = self.alternate(&[(&mock, &top), (&mock, &deep)], seconds)?;
            rows.push(PagingRow {
                videos,
                startup_s: mock.startup.as_secs_f64(),
                rss_kb,
                top: measures[0],
                deep: measures[1],
            });
        }
        Ok(rows)
    }

    /// 3. Resident memory of the mock, idle with the demo data.
    fn idle_memory(&self) -> anyhow::Result<Option<u64>> {
        eprintln!("== idle memory");
        let mock = self.start_mock("idle", &[])?;
        std::thread::sleep(std::time::Duration::from_millis(500));
        Ok(mock.rss_kb())
    }

    /// 4. A chunked upload (1 GiB in 64 MiB chunks; 128 MiB with --quick), three times: MB/s,
    ///    and the mock's resident memory throughout.
    fn upload(&self) -> anyhow::Result<UploadRow> {
        eprintln!("== upload");
        let (size, chunk, runs): (u64, u64, usize) = if self.quick {
            (128 << 20, 16 << 20, 1)
        } else {
            (1 << 30, 64 << 20, 3)
        };
        let mock = self.start_mock("upload", &[])?;
        let token = mock.token.clone().unwrap_or_default();
        let (size_text, chunk_text, pid) =
            (size.to_string(), chunk.to_string(), mock.pid().to_string());
        let mut rates = Vec::new();
        let mut row = UploadRow {
            bytes: size,
            chunk,
            ..UploadRow::default()
        };
        for _ in 0..runs {
            let text = self.program(&[
                "upload",
                "--base",
                &mock.base,
                "--token",
                &token,
                "--size",
                &size_text,
                "--chunk",
                &chunk_text,
                "--pid",
                &pid,
            ])?;
            let report: serde_json::Value = serde_json::from_str(text.trim())?;
            let number = |key: &str| report.get(key).and_then(serde_json::Value::as_f64);
            let kb = |key: &str| report.get(key).and_then(serde_json::Value::as_u64);
            rates.push(number("mb_per_s").unwrap_or_default());
            row.rss_before_kb = row.rss_before_kb.or(kb("rss_before_kb"));
            row.rss_max_kb = row.rss_max_kb.max(kb("rss_max_kb"));
            row.rss_after_kb = kb("rss_after_kb");
        }
        row.mb_per_s = median(&rates);
        row.runs = runs;
        Ok(row)
    }

    /// 5. The generation step on the real spec and on 10× and 100× copies.
    fn generator(&self) -> anyhow::Result<Vec<GenRow>> {
        eprintln!("== generator");
        let spec = self.root.join("spec");
        let factors: &[usize] = if self.quick { &[1, 10] } else { &[1, 10, 100] };
        let mut rows = Vec::new();
        for &factor in factors {
            let dir = if factor == 1 {
                spec.clone()
            } else {
                specs::multiply(&spec, factor, &self.scratch.join(format!("spec-{factor}x")))?
            };
            let endpoints = specs::endpoint_count(&dir)?;
            let (runs, seconds) = match (self.quick, factor) {
                (true, _) => ("2", "0"),
                (false, 100) => ("3", "0"),
                (false, _) => ("5", "2"),
            };
            let text = self.program(&[
                "gen",
                "--spec",
                &dir.to_string_lossy(),
                "--runs",
                runs,
                "--seconds",
                seconds,
            ])?;
            let report: serde_json::Value = serde_json::from_str(text.trim())?;
            rows.push(GenRow {
                factor,
                endpoints,
                median_ms: report
                    .get("median_ms")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or_default(),
                bytes: report
                    .get("bytes")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or_default(),
            });
        }
        Ok(rows)
    }
}
