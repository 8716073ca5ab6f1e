//! Section 7 of the table, the audit log at scale: its figures, its rendering and its
//! targets.

use std::fmt::Write as _;

/// The audit log at scale: a log of `records` records, read by the gateway's commands.
#[derive(Debug, Clone, Default)]
pub struct AuditRow {
    pub records: u64,
    /// Calls the records are of (a call is one to four records).
    pub calls: u64,
    /// Seconds `append_all` took to write them, `batch` per transaction.
    pub build_s: f64,
    pub batch: u64,
    /// The file's size (with its WAL, if one is left).
    pub bytes: u64,
    /// Wall-clock milliseconds of each command, the process's start included (median).
    pub verify_ms: f64,
    pub query_ms: f64,
    pub tail_ms: f64,
    /// Records `audit query --agent reader --since 1h` printed.
    pub query_lines: usize,
    /// Runs of verify and of the two reads.
    pub verify_runs: usize,
    pub read_runs: usize,
}

/// Section 7 as Markdown (nothing when it was not run).
pub fn render(audit: Option<&AuditRow>, out: &mut String) {
    let Some(audit) = audit else { return };
    let _ = writeln!(
        out,
        "\n### 7. The audit log at scale ({} records)\n\n| What | Figure | Target |\n|---|---:|---:|",
        audit.records
    );
    let rows = [
        (
            "`audit verify` (the whole chain walked)".to_owned(),
            format!("{:.0} ms", audit.verify_ms),
            "< 5000 ms",
        ),
        (
            format!(
                "`audit query --agent reader --since 1h` ({} records printed)",
                audit.query_lines
            ),
            format!("{:.1} ms", audit.query_ms),
            "< 50 ms",
        ),
        (
            "`audit tail -n 20`".to_owned(),
            format!("{:.1} ms", audit.tail_ms),
            "< 50 ms",
        ),
        (
            "bytes per record (file size / records)".to_owned(),
            format!("{:.0}", audit.bytes as f64 / audit.records.max(1) as f64),
            "reported",
        ),
        (
            format!(
                "writing the log: records/s through `append_all`, {} per transaction",
                audit.batch
            ),
            format!("{:.0}", audit.records as f64 / audit.build_s.max(1e-9)),
            "reported",
        ),
    ];
    for (what, figure, target) in rows {
        let _ = writeln!(out, "| {what} | {figure} | {target} |");
    }
    let _ = writeln!(
        out,
        "\nThe log is built by `tiktok-bench audit-log` through the public `SqliteAuditLog::append_all` (the same rows and chain as `append` per record, one commit per transaction): {} calls of six agents over 30 days ending now (reads as an intent and an answer, refusals, invalid tools, writes held, approved or rejected under an approval id), arguments redacted by `AuditRecord::event`; {:.1} MB. Each figure is the wall-clock time of a `tiktok-gateway audit …` process (this run's build), its start included, output to a pipe, the file in the page cache: the median of {} runs ({} for verify), after a first verify that checks the chain is intact.",
        audit.calls,
        audit.bytes as f64 / 1e6,
        audit.read_runs,
        audit.verify_runs
    );
}

/// Its rows of the targets table: what, the figure, whether it is met.
pub fn targets(audit: &AuditRow) -> Vec<(String, String, Option<bool>)> {
    let mut rows = Vec::new();
    let at = format!("{} records", audit.records);
    rows.push((
        format!("`audit verify` < 5 s at {at}"),
        format!("{:.2} s", audit.verify_ms / 1000.0),
        Some(audit.verify_ms < 5000.0),
    ));
    rows.push((
        format!("`audit query --agent A --since 1h` < 50 ms at {at}"),
        format!("{:.1} ms", audit.query_ms),
        Some(audit.query_ms < 50.0),
    ));
    rows.push((
        format!("`audit tail` < 50 ms at {at}"),
        format!("{:.1} ms", audit.tail_ms),
        Some(audit.tail_ms < 50.0),
    ));
    rows
}
