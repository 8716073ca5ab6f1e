//! Section 8 of the table, the gateway's cost per call: its figures, its rendering and its
//! targets.

use std::fmt::Write as _;

/// One closed-loop run's figures (medians over the rounds).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallSide {
    pub calls_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The server's CPU time per call: the gateway's through it, the mock's direct.
    pub server_cpu_us: f64,
}

/// The same two paths in an open loop: `rate` calls a second in all, each due at its time
/// whether or not the last is answered (latency counted from then).
#[derive(Debug, Clone, Copy, Default)]
pub struct Paced {
    pub rate: f64,
    pub direct: CallSide,
    pub gateway: CallSide,
}

/// User info through `serve --http` against the same read by the client, straight.
#[derive(Debug, Clone, Default)]
pub struct GatewayRow {
    /// Where the audit log and the gateway's state are: `SQLite` or `Postgres`.
    pub backend: &'static str,
    pub sessions: usize,
    /// Closed loop: each session calls again once answered (throughput).
    pub direct: CallSide,
    pub gateway: CallSide,
    /// Open loop, well below capacity (a call's own latency).
    pub paced: Paced,
    /// The median time to commit one audit record on its own (one sync).
    pub commit_ms: f64,
    /// Calls made through the gateway in all rounds, and the audit records `audit verify`
    /// found intact afterwards (two per call: its intent and its answer).
    pub gateway_calls: u64,
    pub records: u64,
    pub rounds: usize,
    pub seconds: f64,
}

impl GatewayRow {
    fn added_p50_ms(&self) -> f64 {
        self.gateway.p50_ms - self.direct.p50_ms
    }

    /// The open loop's added p50: a call's own latency through the gateway, no queueing.
    fn paced_added_p50_ms(&self) -> f64 {
        self.paced.gateway.p50_ms - self.paced.direct.p50_ms
    }
}

/// Section 8 as Markdown (nothing when it was not run).
pub fn render(row: Option<&GatewayRow>, out: &mut String) {
    let Some(row) = row else { return };
    let _ = writeln!(
        out,
        "\n### 8. The gateway's cost per call (user info, {} sessions, audit log and state on {})\n\n| Load | Path | Calls/s | p50 ms | p99 ms | Server CPU µs/call |\n|---|---|---:|---:|---:|---:|",
        row.sessions, row.backend
    );
    let closed = "closed loop (each session calls again once answered)".to_owned();
    let open = format!(
        "open loop, {:.0} calls/s in all (latency from when each call was due)",
        row.paced.rate
    );
    for (load, name, side) in [
        (closed.as_str(), "client → mock (direct)", row.direct),
        (
            "",
            "MCP session → `serve --http` → mock (checked, audited)",
            row.gateway,
        ),
        (open.as_str(), "client → mock (direct)", row.paced.direct),
        (
            "",
            "MCP session → `serve --http` → mock (checked, audited)",
            row.paced.gateway,
        ),
    ] {
        let cpu = if side.server_cpu_us > 0.0 {
            format!("{:.0}", side.server_cpu_us)
        } else {
            "·".to_owned()
        };
        let _ = writeln!(
            out,
            "| {load} | {name} | {:.0} | {:.2} | {:.2} | {cpu} |",
            side.calls_per_s, side.p50_ms, side.p99_ms
        );
    }
    let _ = writeln!(
        out,
        "\nAdded by the gateway in the open loop: p50 {:+.2} ms, p99 {:+.2} ms (a call's own cost, nothing queued); in the closed loop p50 {:+.2} ms, p99 {:+.2} ms (with {} calls in flight, about {} ÷ the calls a second: queueing). One audit record committed on its own ({}) takes {:.2} ms (its sync) on this disk, and a call waits for two (its intent's before it is sent, its answer's before it returns). After the runs, `audit verify` found {} records intact for {} calls through the gateway (an intent and an answer each; each run's sessions make a first call apiece before its clock starts, counted here). Each side ran {} rounds of {:.0} s, alternating; the figures are medians. The gateway and the mock share the server CPU; the load (`tiktok-bench mcp-calls`: raw JSON-RPC over HTTP, one MCP session per call in flight; `direct-calls`: the generated client) runs on the other. Server CPU is the server process's own (`/proc/PID/task/*/schedstat`): the gateway's through it, the mock's direct.{}",
        row.paced_added_p50_ms(),
        row.paced.gateway.p99_ms - row.paced.direct.p99_ms,
        row.added_p50_ms(),
        row.gateway.p99_ms - row.direct.p99_ms,
        row.sessions,
        row.sessions,
        row.backend,
        row.commit_ms,
        row.records,
        row.gateway_calls,
        row.rounds,
        row.seconds,
        if row.backend == "Postgres" {
            " Postgres (a throwaway cluster of Debian's `postgresql`, every commit synced, over a unix socket) runs on the server CPU too; its CPU is not in the gateway's."
        } else {
            ""
        }
    );
}

/// Its rows of the targets table: what, the figure, whether it is met.
pub fn targets(row: &GatewayRow) -> Vec<(String, String, Option<bool>)> {
    // A call waits for two commits: its intent's before it is sent, its answer's before
    // it returns.
    let beyond_sync = row.paced_added_p50_ms() - 2.0 * row.commit_ms;
    vec![
        (
            format!(
                "≥ 2,000 audited calls/s through the gateway ({} sessions, {})",
                row.sessions, row.backend
            ),
            format!("{:.0}/s", row.gateway.calls_per_s),
            Some(row.gateway.calls_per_s >= 2000.0),
        ),
        (
            format!(
                "added p50 < 1 ms beyond the audit's own syncs (two per call), open loop at {:.0} calls/s, {}",
                row.paced.rate, row.backend
            ),
            format!("{beyond_sync:+.2} ms"),
            Some(beyond_sync < 1.0),
        ),
    ]
}
