//! Sections 9 and 10 of the table, the mock on its state file and the proxy: their figures,
//! their rendering and their targets.

use std::fmt::Write as _;

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
    pub direct: Measure,
    pub proxied: Measure,
}

impl StateRow {
    fn read_ratio(&self) -> f64 {
        self.state_read.rps / self.memory_read.rps.max(1e-9)
    }
}

impl ProxyRow {
    /// The latency the proxy adds, as a share of a direct call's (p50).
    fn added(&self) -> f64 {
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
            "\n### 10. `tiktok-mock proxy` in front of the mock (user info)\n\n| Path | Requests/s | p50 ms | p99 ms |\n|---|---:|---:|---:|\n| app → mock | {:.0} | {:.3} | {:.3} |\n| app → proxy → mock | {:.0} | {:.3} | {:.3} |\n\nThe proxy checks the request and the answer against the spec and forwards both unchanged; it shares the server CPU with the mock, so the added p50 ({:+.0}%) is its own work and the hop, on a saturated core.",
            proxy.direct.rps,
            proxy.direct.p50_ms,
            proxy.direct.p99_ms,
            proxy.proxied.rps,
            proxy.proxied.p50_ms,
            proxy.proxied.p99_ms,
            proxy.added() * 100.0
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
            "proxy: added latency ≤ 10% of a direct mock call (p50)".to_owned(),
            format!("{:+.0}%", proxy.added() * 100.0),
            Some(proxy.added() <= 0.10),
        ));
    }
    rows
}
