//! The processes of a benchmark run: the CPUs they are pinned to, the servers (the mock and
//! the bare handler, killed on drop), the load generator (`wrk`, installed when missing, or
//! the in-repo one) and the bench programs.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where the server and the load go.
#[derive(Debug, Clone)]
pub struct Pinning {
    /// `taskset -c CPU` for servers, or nothing when pinning is not possible.
    pub server: Option<usize>,
    /// `taskset -c CPU` for the load generator and the bench programs.
    pub load: Option<usize>,
    /// Why there is no pinning, if there is none.
    pub note: Option<String>,
    /// Whether the measured processes run at nice -20 (when allowed), ahead of whatever
    /// else the machine runs.
    pub nice: bool,
    /// Whether they run under the real-time FIFO policy instead (`--realtime`): other
    /// processes then get only the kernel's real-time throttle's share of those CPUs.
    pub realtime: bool,
}

impl Pinning {
    /// Two distinct CPUs of this process's affinity, when `taskset` exists and there are two.
    pub fn detect(realtime: bool) -> Pinning {
        let cpus = allowed_cpus();
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        // `nice -n -20 nice` prints -20 when raising the priority is allowed.
        let nice = Command::new("nice")
            .args(["-n", "-20", "nice"])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "-20");
        let realtime = realtime
            && Command::new("chrt")
                .args(["-f", "10", "true"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
        let (server, load, note) = match (taskset, cpus.as_slice()) {
            (true, [server, load, ..]) => (Some(*server), Some(*load), None),
            (false, _) => (
                None,
                None,
                Some("taskset not found: nothing pinned".to_owned()),
            ),
            (true, _) => (
                None,
                None,
                Some("one CPU only: server and load share it".to_owned()),
            ),
        };
        Pinning {
            server,
            load,
            note,
            nice,
            realtime,
        }
    }

    /// A command for `program`, at nice -20 when allowed, pinned to `cpu` when there is one.
    pub fn command(&self, cpu: Option<usize>, program: &Path) -> Command {
        let mut words: Vec<std::ffi::OsString> = Vec::new();
        if self.realtime {
            words.extend(["chrt", "-f", "50"].map(Into::into));
        } else if self.nice {
            words.extend(["nice", "-n", "-20"].map(Into::into));
        }
        if let Some(cpu) = cpu {
            words.extend(["taskset".into(), "-c".into(), cpu.to_string().into()]);
        }
        words.push(program.as_os_str().to_owned());
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]);
        command
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list`), else 0..available_parallelism.
fn allowed_cpus() -> Vec<usize> {
    let listed = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
                .map(str::trim)
                .map(str::to_owned)
        });
    if let Some(list) = listed {
        let mut cpus = Vec::new();
        for part in list.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((first, last)) => {
                    if let (Ok(first), Ok(last)) = (first.parse::<usize>(), last.parse::<usize>()) {
                        cpus.extend(first..=last);
                    }
                }
                None => cpus.extend(part.parse::<usize>().ok()),
            }
        }
        if !cpus.is_empty() {
            return cpus;
        }
    }
    (0..std::thread::available_parallelism().map_or(1, usize::from)).collect()
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The mock's token with every user scope (the bare handler accepts the same).
    pub token: Option<String>,
    /// How long it took from start to its ready line.
    pub startup: Duration,
}

impl Server {
    /// Starts `command` and reads its stdout up to the line that says it is ready: the
    /// mock's `control API:` line, or the bare handler's `listening on`.
    pub fn start(mut command: Command, log: &Path, mock: bool) -> anyhow::Result<Server> {
        let started = Instant::now();
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let mut lines = BufReader::new(stdout);
        let mut base = None;
        let mut token = None;
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line)? == 0 {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{command:?} ended before it was ready; it printed:\n{seen}(log: {})",
                    log.display()
                );
            }
            seen.push_str(&line);
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("listening on ") {
                base = Some(rest.to_owned());
                if !mock {
                    break;
                }
            } else if line.starts_with("access token, every user scope")
                && let Some((_, value)) = line.rsplit_once(": ")
            {
                token = Some(value.to_owned());
            } else if line.starts_with("control API:") {
                break;
            }
        }
        // Keep draining stdout so a late line never blocks or breaks the server.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink);
        });
        let base = base.context("the server printed no `listening on` line")?;
        Ok(Server {
            child,
            base,
            token,
            startup: started.elapsed(),
        })
    }

    /// The process id (taskset execs the program, so it is the server's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in kB.
    pub fn rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a program to the end; its stdout, or an error with its stderr.
pub fn output(mut command: Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Which load generator drives the HTTP measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadGenerator {
    /// `wrk`, installed with apt-get when missing; the in-repo one if that fails.
    Auto,
    /// `wrk` only.
    Wrk,
    /// The in-repo hyper load generator (`tiktok-bench load`).
    Builtin,
}

/// The load generator chosen for this run.
#[derive(Debug, Clone)]
pub enum Load {
    /// `wrk` at this path.
    Wrk(PathBuf),
    /// `tiktok-bench load`.
    Builtin(PathBuf),
}

impl Load {
    /// `wrk` if present or installable (for `Auto` and `Wrk`), else the in-repo one.
    pub fn choose(choice: LoadGenerator, bench: &Path) -> anyhow::Result<Load> {
        if choice == LoadGenerator::Builtin {
            return Ok(Load::Builtin(bench.to_path_buf()));
        }
        if let Some(wrk) = which("wrk") {
            return Ok(Load::Wrk(wrk));
        }
        eprintln!("wrk is missing: installing it with apt-get (Debian's package `wrk`)");
        let install = |update: bool| -> bool {
            let sudo = !is_root() && which("sudo").is_some();
            let run = |args: &[&str]| {
                let mut command = if sudo {
                    let mut command = Command::new("sudo");
                    command.arg("-n").arg("apt-get");
                    command
                } else {
                    Command::new("apt-get")
                };
                command
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            };
            (!update || run(&["update", "-q"])) && run(&["install", "-y", "-q", "wrk"])
        };
        if (install(false) || install(true))
            && let Some(wrk) = which("wrk")
        {
            return Ok(Load::Wrk(wrk));
        }
        if choice == LoadGenerator::Wrk {
            bail!("wrk is missing and `apt-get install -y wrk` failed");
        }
        eprintln!("could not install wrk: using the in-repo load generator (tiktok-bench load)");
        Ok(Load::Builtin(bench.to_path_buf()))
    }

    /// A short name for the report.
    pub fn describe(&self) -> String {
        match self {
            Load::Wrk(path) => {
                let version = Command::new(path)
                    .arg("--version")
                    .output()
                    .map(|output| {
                        let text = String::from_utf8_lossy(&output.stdout).into_owned()
                            + &String::from_utf8_lossy(&output.stderr);
                        text.split_whitespace()
                            .take(2)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_else(|_| "wrk".to_owned());
                format!("{version} (-t1 -c{CONNECTIONS})")
            }
            Load::Builtin(_) => {
                format!("tiktok-bench load (hyper, one thread, {CONNECTIONS} connections)")
            }
        }
    }
}

/// Connections kept busy by the load generator.
pub const CONNECTIONS: usize = 32;

/// One request kind the load generator sends.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    pub token: String,
    pub body: Option<String>,
}

/// What one load run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measure {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests answered.
    pub requests: f64,
}

/// Runs the load against `base` for `seconds`, on the load CPU.
pub fn run_load(
    load: &Load,
    pinning: &Pinning,
    base: &str,
    request: &Request,
    seconds: f64,
    scratch: &Path,
) -> anyhow::Result<Measure> {
    match load {
        Load::Wrk(wrk) => {
            let script = scratch.join("request.lua");
            let lua_string = |text: &str| format!("{text:?}");
            let mut lua = format!(
                "wrk.method = {}\nwrk.headers[\"Authorization\"] = {}\n",
                lua_string(request.method),
                lua_string(&format!("Bearer {}", request.token))
            );
            if let Some(body) = &request.body {
                lua.push_str(&format!(
                    "wrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
                    lua_string(body)
                ));
            }
            std::fs::write(&script, lua)?;
            let mut command = pinning.command(pinning.load, wrk);
            command
                .arg("-t1")
                .arg(format!("-c{CONNECTIONS}"))
                .arg(format!("-d{}s", seconds.max(1.0).round()))
                .arg("--latency")
                .arg("-s")
                .arg(&script)
                .arg(format!("{base}{}", request.path));
            parse_wrk(&output(command)?)
        }
        Load::Builtin(bench) => {
            let mut command = pinning.command(pinning.load, bench);
            command
                .arg("load")
                .arg("--url")
                .arg(format!("{base}{}", request.path))
                .arg("--method")
                .arg(request.method)
                .arg("--header")
                .arg(format!("Authorization: Bearer {}", request.token))
                .arg("--connections")
                .arg(CONNECTIONS.to_string())
                .arg("--seconds")
                .arg(seconds.to_string());
            if let Some(body) = &request.body {
                command
                    .arg("--header")
                    .arg("Content-Type: application/json")
                    .arg("--body")
                    .arg(body);
            }
            let report: serde_json::Value = serde_json::from_str(output(command)?.trim())?;
            let number = |key: &str| report.get(key).and_then(serde_json::Value::as_f64);
            if number("errors").unwrap_or(0.0) > 0.0 {
                bail!("{}: answers outside 2xx: {report}", request.path);
            }
            Ok(Measure {
                rps: number("rps").unwrap_or_default(),
                p50_ms: number("p50_ms").unwrap_or_default(),
                p99_ms: number("p99_ms").unwrap_or_default(),
                requests: number("requests").unwrap_or_default(),
            })
        }
    }
}

/// Requests/s and the 50th and 99th percentiles from `wrk --latency`; fails on errors.
fn parse_wrk(text: &str) -> anyhow::Result<Measure> {
    let mut measure = Measure::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            measure.rps = rest.trim().parse().context("wrk's Requests/sec")?;
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            measure.requests = count.trim().parse().context("wrk's request count")?;
        } else if let Some(rest) = line.strip_prefix("50%") {
            measure.p50_ms = wrk_time_ms(rest.trim())?;
        } else if let Some(rest) = line.strip_prefix("99%") {
            measure.p99_ms = wrk_time_ms(rest.trim())?;
        } else if line.starts_with("Non-2xx or 3xx responses") || line.starts_with("Socket errors")
        {
            bail!("wrk saw errors: {line}\n{text}");
        }
    }
    if measure.rps <= 0.0 {
        bail!("no Requests/sec in wrk's output:\n{text}");
    }
    Ok(measure)
}

/// `228.00us`, `1.23ms`, `1.01s` in milliseconds.
fn wrk_time_ms(text: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(number) = text.strip_suffix("us") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix("m") {
        (number, 60_000.0)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1000.0)
    } else {
        bail!("wrk time {text:?}")
    };
    Ok(number.trim().parse::<f64>()? * factor)
}

/// The program's path on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 5s test @ http://127.0.0.1:1/v2/user/info/\n  1 threads and 32 connections\n  Latency Distribution\n     50%  228.00us\n     75%  300.00us\n     90%  400.00us\n     99%    1.23ms\n  600000 requests in 5.00s, 90.00MB read\nRequests/sec: 120000.50\nTransfer/sec:     18.00MB\n";
        let measure = parse_wrk(text).expect("parses");
        assert!((measure.rps - 120_000.5).abs() < 1e-6);
        assert!((measure.p50_ms - 0.228).abs() < 1e-9);
        assert!((measure.p99_ms - 1.23).abs() < 1e-9);
        assert!((measure.requests - 600_000.0).abs() < 1e-9);
        assert!(parse_wrk(&format!("{text}  Non-2xx or 3xx responses: 5\n")).is_err());
    }
}
