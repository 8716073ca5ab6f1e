//! Instructions per request, counted by callgrind (valgrind), for the comparison of
//! section 1: a figure the machine's other work does not move, beside the wall-clock one
//! that it does. Each server runs under callgrind with instrumentation off; it is switched
//! on for one load run of each request kind, then the counts are dumped and divided by the
//! requests answered. User-space instructions only: the kernel's share of a request (the
//! same for both servers) is not in them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::procs::{Request, Server, output, run_load, which};
use super::{Bench, RATE_LIMIT_SCALE};

/// Instructions per request of the bare handler and of the mock, on one endpoint.
#[derive(Debug, Clone)]
pub struct InstructionRow {
    pub bare: f64,
    pub mock: f64,
}

/// A server under callgrind and where it dumps.
struct Counted {
    server: Server,
    out: PathBuf,
}

impl Bench {
    /// Section 1 again, counted by callgrind; `None` when valgrind is not installed.
    pub(super) fn instructions(
        &self,
        requests: &[(&'static str, Request)],
        bodies: (&Path, &Path),
    ) -> anyhow::Result<Option<Vec<InstructionRow>>> {
        if which("valgrind").is_none() || which("callgrind_control").is_none() {
            eprintln!("valgrind not found: no instruction counts (apt-get install valgrind)");
            return Ok(None);
        }
        eprintln!("== instructions per request (callgrind)");
        let token = requests
            .first()
            .map(|(_, request)| request.token.clone())
            .unwrap_or_default();
        let mock = self.start_counted(
            "callgrind-mock",
            &self.mock,
            &[
                "--addr",
                "127.0.0.1:0",
                "--rate-limit-scale",
                RATE_LIMIT_SCALE,
            ],
            true,
        )?;
        // The mock's own token: the bare handler is told to accept it.
        let mock_token = mock.server.token.clone().unwrap_or(token);
        let bare = self.start_counted(
            "callgrind-bare",
            &self.bench,
            &[
                "bare",
                "--token",
                &mock_token,
                "--user-info-body",
                &bodies.0.to_string_lossy(),
                "--video-list-body",
                &bodies.1.to_string_lossy(),
            ],
            false,
        )?;
        let mut rows = Vec::new();
        for (_, request) in requests {
            let request = Request {
                token: mock_token.clone(),
                ..request.clone()
            };
            rows.push(InstructionRow {
                bare: self.count(&bare, &request)?,
                mock: self.count(&mock, &request)?,
            });
        }
        Ok(Some(rows))
    }

    fn start_counted(
        &self,
        name: &str,
        program: &Path,
        args: &[&str],
        mock: bool,
    ) -> anyhow::Result<Counted> {
        let out = self.scratch.join(format!("{name}.out"));
        for dump in dumps(&out)? {
            std::fs::remove_file(dump)?;
        }
        let mut command = self
            .pinning
            .command(self.pinning.server, Path::new("valgrind"));
        command
            .args(["--tool=callgrind", "--instr-atstart=no"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(program)
            .args(args);
        let server = Server::start(command, &self.scratch.join(format!("{name}.log")), mock)?;
        Ok(Counted { server, out })
    }

    /// Instructions per request of one load run of `request` against `counted`.
    fn count(&self, counted: &Counted, request: &Request) -> anyhow::Result<f64> {
        let base = &counted.server.base;
        run_load(&self.load, &self.pinning, base, request, 1.0, &self.scratch)?; // warm-up
        let pid = counted.server.pid().to_string();
        let control = |args: &[&str]| -> anyhow::Result<()> {
            let mut command = Command::new("callgrind_control");
            command.args(args).arg(&pid);
            output(command).map(|_| ())
        };
        control(&["--zero"])?;
        control(&["--instr=on"])?;
        let measure = run_load(&self.load, &self.pinning, base, request, 4.0, &self.scratch)?;
        control(&["--instr=off"])?;
        let before = dumps(&counted.out)?.len();
        control(&["--dump"])?;
        let dump = dumps(&counted.out)?;
        if dump.len() <= before {
            bail!("callgrind wrote no dump for {}", counted.out.display());
        }
        let total = totals_of(dump.last().context("a dump")?)?;
        if measure.requests < 1.0 {
            bail!("no request answered under callgrind");
        }
        Ok(total / measure.requests)
    }
}

impl Bench {
    /// The client's own instructions per call, raw and generated, for user info and the
    /// video list: each side run under callgrind for N and for 2N calls (same setup), the
    /// difference divided by N. `None` without valgrind.
    pub(super) fn client_instructions(
        &self,
        base: &str,
    ) -> anyhow::Result<Option<[(f64, f64); 2]>> {
        if which("valgrind").is_none() {
            return Ok(None);
        }
        eprintln!("== client instructions per call (callgrind)");
        const CALLS: usize = 400;
        let mut per_call = [(0.0, 0.0); 2];
        for (slot, endpoint) in per_call.iter_mut().zip(["user_info", "video_list"]) {
            let mut sides = [0.0; 2];
            for (side_slot, side) in sides.iter_mut().zip(["raw", "generated"]) {
                let mut totals = [0.0; 2];
                for (total, calls) in totals.iter_mut().zip([CALLS, 2 * CALLS]) {
                    let out = self
                        .scratch
                        .join(format!("callgrind-client-{endpoint}-{side}-{calls}.out"));
                    let mut command = self
                        .pinning
                        .command(self.pinning.load, Path::new("valgrind"));
                    command
                        .args(["--tool=callgrind", "--quiet"])
                        .arg(format!("--callgrind-out-file={}", out.display()))
                        .arg(&self.bench)
                        .args(["client-calls", "--base", base, "--endpoint", endpoint])
                        .args(["--side", side, "--calls", &calls.to_string()]);
                    output(command)?;
                    *total = totals_of(&out)?;
                }
                *side_slot = (totals[1] - totals[0]) / CALLS as f64;
            }
            *slot = (sides[0], sides[1]);
        }
        Ok(Some(per_call))
    }
}

/// The `totals:` of a callgrind output file.
fn totals_of(file: &Path) -> anyhow::Result<f64> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no totals in the callgrind output")?
        .parse()?)
}

/// The dumps callgrind wrote for `out` (`out.1`, `out.2`, …), oldest first.
fn dumps(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (out.parent(), out.file_name()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            let number = file.strip_prefix(&prefix)?.parse().ok()?;
            Some((number, entry.path()))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}
