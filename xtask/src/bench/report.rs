//! The results of a benchmark run, the targets of issue 13 checked against them, and the
//! Markdown table written between the markers of `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::path::Path;

use super::procs::{Measure, Pinning};

mod audit;
mod gateway;
mod machine;
mod servers;
pub use audit::AuditRow;
pub use gateway::{CallSide, GatewayRow, Paced};
use machine::{cores, cpu_model, rustc, today};
pub use servers::{ProxyRow, StateRow};

const BEGIN: &str =
    "<!-- bench:begin (written by `cargo xtask bench`; edit outside the markers) -->";
const END: &str = "<!-- bench:end -->";

/// The mock against the bare handler on one endpoint.
#[derive(Debug, Clone)]
pub struct HttpRow {
    pub endpoint: &'static str,
    pub bare: Measure,
    pub mock: Measure,
    /// Instructions per request (callgrind) of the bare handler and the mock.
    pub instructions: Option<(f64, f64)>,
}

impl HttpRow {
    pub fn new(endpoint: &'static str, bare: Measure, mock: Measure) -> Self {
        HttpRow {
            endpoint,
            bare,
            mock,
            instructions: None,
        }
    }

    fn rps_ratio(&self) -> f64 {
        self.mock.rps / self.bare.rps
    }

    fn p99_ratio(&self) -> f64 {
        self.mock.p99_ms / self.bare.p99_ms
    }
}

/// Pages at one size of the list.
#[derive(Debug, Clone)]
pub struct PagingRow {
    pub videos: u64,
    pub startup_s: f64,
    pub rss_kb: Option<u64>,
    pub top: Measure,
    pub deep: Measure,
}

/// The chunked upload.
#[derive(Debug, Clone, Default)]
pub struct UploadRow {
    pub bytes: u64,
    pub chunk: u64,
    pub runs: usize,
    pub mb_per_s: f64,
    pub rss_before_kb: Option<u64>,
    pub rss_max_kb: Option<u64>,
    pub rss_after_kb: Option<u64>,
}

/// The generator on one spec.
#[derive(Debug, Clone)]
pub struct GenRow {
    pub factor: usize,
    pub endpoints: usize,
    pub median_ms: f64,
    pub bytes: u64,
}

/// One endpoint of the client comparison: µs per call, wall clock and the client's CPU.
#[derive(Debug, Clone, Copy)]
pub struct ClientSide {
    pub raw_us: f64,
    pub client_us: f64,
    pub raw_cpu_us: f64,
    pub client_cpu_us: f64,
}

impl ClientSide {
    fn overhead_pct(&self) -> f64 {
        (self.client_us / self.raw_us - 1.0) * 100.0
    }

    fn cpu_overhead_pct(&self) -> f64 {
        (self.client_cpu_us / self.raw_cpu_us - 1.0) * 100.0
    }
}

/// The client against raw reqwest, per endpoint.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// The client's own instructions per call (callgrind), raw and generated, per endpoint.
    pub instructions: Option<[(f64, f64); 2]>,
    pub user_info: ClientSide,
    pub video_list: ClientSide,
    pub calls: usize,
    pub rounds: usize,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    load: String,
    pinning: String,
    profile: String,
    quick: bool,
    pub http: Vec<HttpRow>,
    pub paging: Vec<PagingRow>,
    pub idle_kb: Option<u64>,
    pub upload: Option<UploadRow>,
    pub generator: Vec<GenRow>,
    pub client: Option<ClientRow>,
    pub audit: Option<AuditRow>,
    /// Section 8 on SQLite, then on Postgres when it ran.
    pub gateway: Vec<GatewayRow>,
    pub state: Option<StateRow>,
    pub proxy: Option<ProxyRow>,
    pub seconds: f64,
    pub build_seconds: f64,
    /// The 1-minute load average before and after the run.
    pub load_average: (Option<f64>, Option<f64>),
    /// A note on the mock measured, when it is not the one built.
    pub mock_note: Option<String>,
}

/// Resident memory growth during the upload that still counts as flat.
const FLAT_KB: u64 = 16 * 1024;

impl Results {
    pub fn new(load: &str, pinning: &Pinning, profile: &str, quick: bool) -> Self {
        let mut pinning_text = match (pinning.server, pinning.load) {
            (Some(server), Some(load)) => {
                format!(
                    "server on CPU {server}, load generator and bench programs on CPU {load} (taskset)"
                )
            }
            _ => pinning.note.clone().unwrap_or_default(),
        };
        if pinning.realtime {
            pinning_text.push_str(", all under the real-time FIFO policy (chrt -f 50)");
        } else if pinning.nice {
            pinning_text.push_str(", all at nice -20");
        }
        let pinning = pinning_text;
        Results {
            load: load.to_owned(),
            pinning,
            profile: profile.to_owned(),
            quick,
            http: Vec::new(),
            paging: Vec::new(),
            idle_kb: None,
            upload: None,
            generator: Vec::new(),
            client: None,
            audit: None,
            gateway: Vec::new(),
            state: None,
            proxy: None,
            seconds: 0.0,
            build_seconds: 0.0,
            load_average: (None, None),
            mock_note: None,
        }
    }

    /// The whole section: machine, tables, targets.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let command = if self.quick {
            "cargo xtask bench --quick"
        } else {
            "cargo xtask bench"
        };
        let _ = writeln!(
            out,
            "Command: `{command}` · date {} (UTC) · machine: {} ({} cores) · {} · profile `{}`",
            today(),
            cpu_model(),
            cores(),
            rustc(),
            self.profile
        );
        let load = |value: Option<f64>| value.map_or("?".to_owned(), |value| format!("{value:.2}"));
        let _ = writeln!(
            out,
            "\nLoad: {}; {}. Each figure is the median of the rounds; the targets of a comparison alternate within each round. The run took {:.0} s, its build {:.0} s; the machine's load average was {} before and {} after.",
            self.load,
            self.pinning,
            self.seconds,
            self.build_seconds,
            load(self.load_average.0),
            load(self.load_average.1)
        );
        if let Some(note) = &self.mock_note {
            let _ = writeln!(out, "\n{note}");
        }
        if self.quick {
            let _ = writeln!(
                out,
                "\n**A quick run (small sizes, one short round, the `{}` profile): it checks the harness works; its figures are not the benchmark.**",
                self.profile
            );
        }
        self.render_http(&mut out);
        self.render_paging(&mut out);
        self.render_memory_upload(&mut out);
        self.render_generator(&mut out);
        self.render_client(&mut out);
        audit::render(self.audit.as_ref(), &mut out);
        for row in &self.gateway {
            gateway::render(Some(row), &mut out);
        }
        servers::render(self.state.as_ref(), self.proxy.as_ref(), &mut out);
        self.render_targets(&mut out);
        out
    }

    fn render_http(&self, out: &mut String) {
        if self.http.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### 1. Mock vs bare axum handler\n\n| Endpoint | Server | Requests/s | p50 ms | p99 ms | Requests/s ratio | p99 ratio |\n|---|---|---:|---:|---:|---:|---:|"
        );
        for row in &self.http {
            let _ = writeln!(
                out,
                "| {} | bare axum | {:.0} | {:.3} | {:.3} | 1 | 1 |",
                row.endpoint, row.bare.rps, row.bare.p50_ms, row.bare.p99_ms
            );
            let _ = writeln!(
                out,
                "| | mock | {:.0} | {:.3} | {:.3} | **{:.2}** | **{:.2}** |",
                row.mock.rps,
                row.mock.p50_ms,
                row.mock.p99_ms,
                row.rps_ratio(),
                row.p99_ratio()
            );
        }
        if self.http.iter().any(|row| row.instructions.is_some()) {
            let _ = writeln!(
                out,
                "\nThe same requests counted by callgrind (user-space instructions per request; the machine's other work does not move these, and the kernel's share, the same for both, is not in them):\n\n| Endpoint | Bare axum | Mock | Bare / mock |\n|---|---:|---:|---:|"
            );
            for row in &self.http {
                if let Some((bare, mock)) = row.instructions {
                    let _ = writeln!(
                        out,
                        "| {} | {:.0} | {:.0} | {:.2} |",
                        row.endpoint,
                        bare,
                        mock,
                        bare / mock
                    );
                }
            }
        }
    }

    fn render_paging(&self, out: &mut String) {
        if self.paging.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### 2. Paging at scale (video list, max_count 20, 6 fields)\n\n| Videos | Start-up s | RSS MB | Top: µs/page | Top: p50 / p99 ms | Deep (9/10 down): µs/page | Deep: p50 / p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|"
        );
        for row in &self.paging {
            let _ = writeln!(
                out,
                "| {} | {:.2} | {} | {:.1} | {:.3} / {:.3} | {:.1} | {:.3} / {:.3} |",
                row.videos,
                row.startup_s,
                mb(row.rss_kb),
                1e6 / row.top.rps,
                row.top.p50_ms,
                row.top.p99_ms,
                1e6 / row.deep.rps,
                row.deep.p50_ms,
                row.deep.p99_ms
            );
        }
        if let Some((top, deep)) = self.paging_ratios() {
            let _ = writeln!(
                out,
                "\nµs/page is one over requests/s at 32 connections (the mock's CPU time per page). Largest over smallest: top {top:.2}, deep {deep:.2}."
            );
        }
    }

    fn render_memory_upload(&self, out: &mut String) {
        let largest = self.paging.last();
        if self.idle_kb.is_none() && largest.is_none() && self.upload.is_none() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### 3. Memory and 4. uploads\n\n| What | Figure |\n|---|---:|"
        );
        if let Some(kb) = self.idle_kb {
            let _ = writeln!(
                out,
                "| Resident memory, idle, demo data | {} MB |",
                mb(Some(kb))
            );
        }
        if let Some(row) = largest {
            let _ = writeln!(
                out,
                "| Resident memory with {} synthetic videos | {} MB |",
                row.videos,
                mb(row.rss_kb)
            );
        }
        if let Some(upload) = &self.upload {
            let _ = writeln!(
                out,
                "| Resident memory during a {} MiB upload in {} MiB chunks: before / max / after | {} / {} / {} MB |",
                upload.bytes >> 20,
                upload.chunk >> 20,
                mb(upload.rss_before_kb),
                mb(upload.rss_max_kb),
                mb(upload.rss_after_kb)
            );
            let _ = writeln!(
                out,
                "| Upload through the chunk PUT path over loopback (median of {}) | {:.0} MB/s |",
                upload.runs, upload.mb_per_s
            );
        }
    }

    fn render_generator(&self, out: &mut String) {
        if self.generator.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### 5. The generator (read, validate, emit everything; nothing written)\n\n| Spec | Endpoints | Output | Median ms | µs per endpoint | Time vs real spec |\n|---|---:|---:|---:|---:|---:|"
        );
        let base = self.generator.first().map_or(1.0, |row| row.median_ms);
        for row in &self.generator {
            let name = if row.factor == 1 {
                "real (spec/)".to_owned()
            } else {
                format!("synthetic {}×", row.factor)
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {:.1} MB | {:.1} | {:.0} | {:.1}× |",
                row.endpoints,
                row.bytes as f64 / 1e6,
                row.median_ms,
                row.median_ms * 1000.0 / row.endpoints as f64,
                row.median_ms / base
            );
        }
    }

    fn render_client(&self, out: &mut String) {
        let Some(client) = &self.client else { return };
        let _ = writeln!(
            out,
            "\n### 6. The client: generated (retries and local limiter on) vs raw reqwest + hand-written serde\n\n| Endpoint | Raw: client CPU µs/call | Generated: client CPU µs/call | Overhead | Raw: µs/call | Generated: µs/call | Overhead |\n|---|---:|---:|---:|---:|---:|---:|"
        );
        for (name, side) in [
            ("user info", client.user_info),
            ("video list (20 videos)", client.video_list),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {:.1} | {:.1} | **{:+.1}%** | {:.1} | {:.1} | {:+.1}% |",
                side.raw_cpu_us,
                side.client_cpu_us,
                side.cpu_overhead_pct(),
                side.raw_us,
                side.client_us,
                side.overhead_pct()
            );
        }
        let _ = writeln!(
            out,
            "\nOne call in flight, same reqwest client (so the same pool), {} calls per side per round, {} rounds, sides alternating. Client CPU is the client thread's CPU time per call (what the client costs an app); µs/call is the time per call, the mock's time included. Both move with the machine's other work by several per cent.",
            client.calls, client.rounds
        );
        if let Some(counts) = client.instructions {
            let _ = writeln!(
                out,
                "\nThe client's own instructions per call, counted by callgrind (each side run for 400 and for 800 calls; the difference over 400), which the machine's other work does not move; the target is read on these:\n\n| Endpoint | Raw | Generated | Overhead |\n|---|---:|---:|---:|"
            );
            for (name, (raw, generated)) in [
                ("user info", counts[0]),
                ("video list (20 videos)", counts[1]),
            ] {
                let _ = writeln!(
                    out,
                    "| {name} | {raw:.0} | {generated:.0} | **{:+.1}%** |",
                    (generated / raw - 1.0) * 100.0
                );
            }
        }
    }

    fn paging_ratios(&self) -> Option<(f64, f64)> {
        let (first, last) = (self.paging.first()?, self.paging.last()?);
        Some((first.top.rps / last.top.rps, first.deep.rps / last.deep.rps))
    }

    fn render_targets(&self, out: &mut String) {
        let mut rows: Vec<(String, String, Option<bool>)> = Vec::new();
        for row in &self.http {
            rows.push((
                format!("{}: mock ≥ 0.85 of bare requests/s", row.endpoint),
                format!("{:.2}", row.rps_ratio()),
                Some(row.rps_ratio() >= 0.85),
            ));
            rows.push((
                format!("{}: mock p99 ≤ 2× bare", row.endpoint),
                format!("{:.2}×", row.p99_ratio()),
                Some(row.p99_ratio() <= 2.0),
            ));
        }
        if let (Some((top, deep)), Some(last)) = (self.paging_ratios(), self.paging.last()) {
            let worst = top.max(deep);
            rows.push((
                format!(
                    "page at {} videos ≤ 1.5× a page at 1,000 (top and deep)",
                    last.videos
                ),
                format!("{worst:.2}×"),
                Some(worst <= 1.5),
            ));
        }
        if let Some(kb) = self.idle_kb {
            rows.push((
                "resident memory idle < 30 MB".to_owned(),
                format!("{} MB", mb(Some(kb))),
                Some(kb < 30 * 1024),
            ));
        }
        if let Some(row) = self.paging.last().filter(|row| row.videos >= 1_000_000) {
            rows.push((
                "resident memory with 1,000,000 videos < 600 MB".to_owned(),
                format!("{} MB", mb(row.rss_kb)),
                row.rss_kb.map(|kb| kb < 600 * 1024),
            ));
        }
        if let Some(upload) = &self.upload {
            let growth = upload
                .rss_max_kb
                .zip(upload.rss_before_kb)
                .map(|(max, before)| max.saturating_sub(before));
            rows.push((
                format!(
                    "memory flat during the upload (growth < {} MB)",
                    FLAT_KB / 1024
                ),
                growth.map_or("?".to_owned(), |kb| {
                    format!("+{:.1} MB", kb as f64 / 1024.0)
                }),
                growth.map(|kb| kb < FLAT_KB),
            ));
            rows.push((
                "uploads ≥ 500 MB/s".to_owned(),
                format!("{:.0} MB/s", upload.mb_per_s),
                Some(upload.mb_per_s >= 500.0),
            ));
        }
        if let Some(real) = self.generator.first() {
            rows.push((
                "generator < 50 ms on the real spec".to_owned(),
                format!("{:.1} ms", real.median_ms),
                Some(real.median_ms < 50.0),
            ));
            for row in self.generator.iter().skip(1) {
                let growth = row.median_ms / real.median_ms;
                let size = row.endpoints as f64 / real.endpoints as f64;
                rows.push((
                    format!("generator no worse than linear at {}×", row.factor),
                    format!("{growth:.1}× the time for {size:.0}× the endpoints"),
                    Some(growth <= size),
                ));
            }
        }
        if let Some(client) = &self.client {
            for (index, (name, side)) in [
                ("user info", client.user_info),
                ("video list", client.video_list),
            ]
            .into_iter()
            .enumerate()
            {
                let (pct, how) = match client.instructions {
                    Some(counts) => (
                        (counts[index].1 / counts[index].0 - 1.0) * 100.0,
                        "client instructions per call",
                    ),
                    None => (side.cpu_overhead_pct(), "client CPU per call"),
                };
                rows.push((
                    format!("client overhead ≤ 5% of raw reqwest ({name}, {how})"),
                    format!("{pct:+.1}%"),
                    Some(pct <= 5.0),
                ));
            }
        }
        rows.extend(self.audit.iter().flat_map(audit::targets));
        rows.extend(self.gateway.iter().flat_map(gateway::targets));
        rows.extend(servers::targets(self.state.as_ref(), self.proxy.as_ref()));
        let _ = writeln!(
            out,
            "\n### Targets\n\n| Target | Measured | Met |\n|---|---:|:---:|"
        );
        for (target, measured, met) in rows {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "?",
            };
            let _ = writeln!(out, "| {target} | {measured} | {met} |");
        }
        if self.quick {
            let _ = writeln!(
                out,
                "\n(Quick run: sizes and durations are cut, so these verdicts say little.)"
            );
        }
    }
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("?".to_owned(), |kb| format!("{:.1}", kb as f64 / 1024.0))
}

/// Writes `table` between the markers of `path`, keeping the rest; a new file gets a title.
pub fn write(path: &Path, table: &str) -> anyhow::Result<()> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{BEGIN}\n{table}{END}\n");
    let text = match (current.find(BEGIN), current.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            let after = &current[end + END.len()..];
            format!(
                "{}{section}{}",
                &current[..begin],
                after.strip_prefix('\n').unwrap_or(after)
            )
        }
        _ => format!("# Benchmarks\n\n{section}"),
    };
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_replaces_only_what_is_between_the_markers() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("BENCHMARKS.md");
        write(&path, "one\n").expect("write");
        let first = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, format!("{first}\n## Notes\nkept\n")).expect("notes");
        write(&path, "two\n").expect("write");
        let second = std::fs::read_to_string(&path).expect("read");
        assert!(
            second.contains("two\n") && !second.contains("one\n"),
            "{second}"
        );
        assert!(second.ends_with("## Notes\nkept\n"), "{second}");
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
