//! Sections 9 and 10 of the table, the mock on its state file and the proxy: their figures,
//! their rendering and their targets.

use std::fmt::Write as _;

use super::gateway::CallSide;
use crate::bench::procs::Measure;

/// The mock on `--state` against the mock in memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateRow {
    pub memory_read: Measure,
    pub state_read: Measure,
    pub memory_write: Measure,
    pub state_write: Measure,
}

/// The proxy in front of the mock against the mock alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyRow {
    /// Closed loop (`wrk -c32`): throughput, and latency with the core saturated.
    pub direct: Measure,
    pub proxied: Measure,
    /// Open loop: the generated client at `paced_rate` calls a second in all.
    pub paced_rate: f64,
    pub paced_direct: CallSide,
    pub paced_proxied: CallSide,
}

impl StateRow {
    fn read_ratio(&self) -> f64 {
        self.state_read.rps / self.memory_read.rps.max(1e-9)
    }
}

impl ProxyRow {
    /// The latency the proxy adds to a call, as a share of a direct call's (p50, open
    /// loop: nothing queued).
    fn added(&self) -> f64 {
        self.paced_proxied.p50_ms / self.paced_direct.p50_ms.max(1e-9) - 1.0
    }

    /// The same on the saturated core (closed loop): mostly queueing.
    fn added_saturated(&self) -> f64 {
        self.proxied.p50_ms / self.direct.p50_ms.max(1e-9) - 1.0
    }
}

/// Sections 9 and 10 as Markdown (nothing of a section that was not run).
pub fn render(state: Option<&StateRow>, proxy: Option<&ProxyRow>, out: &mut String) {
    if let Some(state) = state {
        let _ = writeln!(
            out,
            "\n### 9. The mock on `--state` (SQLite) against memory\n\n| Requests | Store | Requests/s | p50 ms | p99 ms | State / memory |\n|---|---|---:|---:|---:|---:|"
        );
        for (what, memory, durable) in [
            ("user info (a read)", state.memory_read, state.state_read),
            (
                "`POST /_mock/tokens` (a write)",
                state.memory_write,
                state.state_write,
            ),
        ] {
            let _ = writeln!(
                out,
                "| {what} | memory | {:.0} | {:.3} | {:.3} | 1 |\n| | `--state` | {:.0} | {:.3} | {:.3} | **{:.2}** |",
                memory.rps,
                memory.p50_ms,
                memory.p99_ms,
                durable.rps,
                durable.p50_ms,
                durable.p99_ms,
                durable.rps / memory.rps.max(1e-9)
            );
        }
        let _ = writeln!(
            out,
            "\nCommit strategy: every write is one SQLite transaction in WAL mode with `synchronous=FULL`, committed and synced before the request is answered (concurrent writes are not grouped); reads go to SQLite's page cache. The write measured is a token mint through the control API (one token row per request): a closed loop of `video/init` would measure refusals, since a creator may have 5 inbox shares pending per day."
        );
    }
    if let Some(proxy) = proxy {
        let _ = writeln!(
            out,
            "\n### 10. `tiktok-mock proxy` in front of the mock (user info)\n\n| Load | Path | Requests/s | p50 ms | p99 ms |\n|---|---|---:|---:|---:|\n| `wrk -c32` (closed loop) | app → mock | {:.0} | {:.3} | {:.3} |\n| | app → proxy → mock | {:.0} | {:.3} | {:.3} |\n| the client, {:.0} calls/s (open loop) | app → mock | {:.0} | {:.3} | {:.3} |\n| | app → proxy → mock | {:.0} | {:.3} | {:.3} |\n\nThe proxy checks the request and the answer against the spec and forwards both unchanged; it shares the server CPU with the mock. At a fixed rate well below capacity (the generated client, 4 tasks, `tiktok-bench direct-calls --rate`) it adds {:+.3} ms at p50 ({:+.0}% of a direct call): its own work and the hop. With `wrk -c32` on the saturated core it adds {:+.0}% at p50, mostly queueing (32 requests in flight ÷ its requests/s).",
            proxy.direct.rps,
            proxy.direct.p50_ms,
            proxy.direct.p99_ms,
            proxy.proxied.rps,
            proxy.proxied.p50_ms,
            proxy.proxied.p99_ms,
            proxy.paced_rate,
            proxy.paced_direct.calls_per_s,
            proxy.paced_direct.p50_ms,
            proxy.paced_direct.p99_ms,
            proxy.paced_proxied.calls_per_s,
            proxy.paced_proxied.p50_ms,
            proxy.paced_proxied.p99_ms,
            proxy.paced_proxied.p50_ms - proxy.paced_direct.p50_ms,
            proxy.added() * 100.0,
            proxy.added_saturated() * 100.0
        );
    }
}

/// Their rows of the targets table: what, the figure, whether it is met.
pub fn targets(
    state: Option<&StateRow>,
    proxy: Option<&ProxyRow>,
) -> Vec<(String, String, Option<bool>)> {
    let mut rows = Vec::new();
    if let Some(state) = state {
        rows.push((
            "mock on `--state`: reads ≥ 0.8 of memory's requests/s".to_owned(),
            format!("{:.2}", state.read_ratio()),
            Some(state.read_ratio() >= 0.8),
        ));
    }
    if let Some(proxy) = proxy {
        rows.push((
            format!(
                "proxy: added latency ≤ 10% of a direct mock call (p50, open loop at {:.0} calls/s)",
                proxy.paced_rate
            ),
            format!("{:+.0}%", proxy.added() * 100.0),
            Some(proxy.added() <= 0.10),
        ));
    }
    rows
}
