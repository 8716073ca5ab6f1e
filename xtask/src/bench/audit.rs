//! Section 7, the audit log at scale: a log of a million records built through the
//! library (`tiktok-bench audit-log`), then read by the release gateway's own commands.

use anyhow::bail;

use super::report::AuditRow;
use super::{Bench, median, procs};

impl Bench {
    /// 7. An audit log of a million records (20,000 with --quick), built through the
    ///    library, then read by the gateway's own commands: `audit verify`, `audit query
    ///    --agent reader --since 1h`, `audit tail -n 20`, each a fresh process; and the
    ///    file's bytes per record.
    pub(super) fn audit(&self) -> anyhow::Result<AuditRow> {
        let records: u64 = if self.quick { 20_000 } else { 1_000_000 };
        eprintln!("== the audit log at {records} records");
        let dir = self.scratch.join("audit");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("audit.sqlite");
        let text = self.program(&[
            "audit-log",
            "--path",
            &log.to_string_lossy(),
            "--records",
            &records.to_string(),
        ])?;
        let report: serde_json::Value = serde_json::from_str(text.trim())?;
        let number = |key: &str| report.get(key).and_then(serde_json::Value::as_u64);
        let config = dir.join("gateway.yaml");
        std::fs::write(
            &config,
            "tiktok: {client_key: bench}\naccounts: {}\nagents: {}\naudit: audit.sqlite\n",
        )?;
        let run = |args: &[&str]| -> anyhow::Result<(f64, String)> {
            let mut command = self.pinning.command(self.pinning.load, &self.gateway);
            command.arg("audit").args(args).arg("--config").arg(&config);
            let started = std::time::Instant::now();
            let out = procs::output(command)?;
            Ok((started.elapsed().as_secs_f64() * 1000.0, out))
        };
        let timed = |args: &[&str], runs: usize| -> anyhow::Result<(f64, String)> {
            let mut times = Vec::new();
            let mut last = String::new();
            for _ in 0..runs {
                let (ms, out) = run(args)?;
                times.push(ms);
                last = out;
            }
            Ok((median(&times), last))
        };
        // The first verify (untimed) checks the chain the library wrote, and warms the cache.
        let (_, said) = run(&["verify"])?;
        let intact = format!("audit log intact: {records} records");
        if !said.contains(&intact) {
            bail!("audit verify said {said:?}, not {intact:?}");
        }
        let (verify_runs, read_runs) = if self.quick { (1, 3) } else { (3, 11) };
        let (verify_ms, _) = timed(&["verify"], verify_runs)?;
        let (query_ms, printed) =
            timed(&["query", "--agent", "reader", "--since", "1h"], read_runs)?;
        let (tail_ms, tail) = timed(&["tail", "-n", "20"], read_runs)?;
        if tail.lines().count() != 20 {
            bail!("audit tail -n 20 printed {} lines", tail.lines().count());
        }
        let row = AuditRow {
            records,
            calls: number("calls").unwrap_or_default(),
            build_s: report
                .get("seconds")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or_default(),
            batch: number("batch").unwrap_or_default(),
            bytes: number("bytes").unwrap_or_default(),
            verify_ms,
            query_ms,
            tail_ms,
            query_lines: printed.lines().count(),
            verify_runs,
            read_runs,
        };
        std::fs::remove_dir_all(&dir)?;
        Ok(row)
    }
}
