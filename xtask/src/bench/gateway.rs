//! Section 8, the gateway's cost per call: the mock (limits scaled out of reach), a gateway
//! config with one reader agent whose limiter is scaled the same way
//! (`tiktok: {rate_limit_scale}`), its account's token imported, `serve --http` on the
//! server CPU beside the mock; then rounds alternating user info by MCP sessions through
//! the gateway and by the client straight to the mock, closed-loop (throughput) and then at
//! a fixed rate well below capacity (a call's own latency), and `audit verify` at the end.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use anyhow::{Context, bail};
use serde_json::Value;

use super::report::{CallSide, GatewayRow, Paced};
use super::{Bench, RATE_LIMIT_SCALE, median, procs};

/// Calls in flight: agent sessions through the gateway, tasks of the client direct.
const SESSIONS: usize = 32;

/// The open loop's calls per second in all, spread over the sessions: a tenth of the
/// 2,000 a second the gateway is meant to hold, so no call waits for another.
pub(super) const PACED_RATE: f64 = 200.0;

/// `serve --http`, killed when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tiktok-bench postgres`: a throwaway cluster, removed when dropped (its standard input
/// closed).
struct Postgres {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    /// The gateway's database and `audit-commit`'s.
    gateway: String,
    commit: String,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// `tiktok-bench direct-calls`: the generated client straight to the mock at `base`, its
/// local limiter scaled as the mock's limits are.
pub(super) fn direct_calls<'a>(base: &'a str, token: &'a str, sessions: &'a str) -> [&'a str; 9] {
    [
        "direct-calls",
        "--base",
        base,
        "--token",
        token,
        "--scale",
        RATE_LIMIT_SCALE,
        "--sessions",
        sessions,
    ]
}

impl Bench {
    /// 8. User info through `serve --http` (a static agent key, every call checked and
    ///    audited to SQLite) against the same call by the client straight to the mock; then
    ///    the same with the audit log and the gateway's state on Postgres, when Debian's
    ///    `postgresql` is installed.
    pub(super) fn gateway(&self) -> anyhow::Result<Vec<GatewayRow>> {
        let mut rows = vec![self.gateway_on(None)?];
        match self.start_postgres()? {
            Some(postgres) => rows.push(self.gateway_on(Some(&postgres))?),
            None => eprintln!("skipped the gateway on Postgres: no server to start"),
        }
        Ok(rows)
    }

    /// A synced throwaway Postgres cluster, or `None` when the server is not installed
    /// (`tiktok-bench postgres` then prints nothing and ends).
    fn start_postgres(&self) -> anyhow::Result<Option<Postgres>> {
        let mut command = self.pinning.command(self.pinning.server, &self.bench);
        let mut child = command
            .arg("postgres")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("the cluster's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.is_empty() {
            let status = child.wait()?;
            if !status.success() {
                bail!("`tiktok-bench postgres` failed ({status})");
            }
            return Ok(None);
        }
        let mut postgres = Postgres {
            child,
            stdin,
            gateway: String::new(),
            commit: String::new(),
        };
        let Some((gateway, commit)) = line.trim().split_once(' ') else {
            bail!("`tiktok-bench postgres` printed {line:?}, not two URLs");
        };
        postgres.gateway = gateway.to_owned();
        postgres.commit = commit.to_owned();
        Ok(Some(postgres))
    }

    /// Section 8 on one backend: SQLite files, or `postgres`.
    fn gateway_on(&self, postgres: Option<&Postgres>) -> anyhow::Result<GatewayRow> {
        let backend = if postgres.is_some() {
            "Postgres"
        } else {
            "SQLite"
        };
        eprintln!("== the gateway's cost per call ({backend})");
        let dir = self.scratch.join("gateway");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let mock = self.start_mock("gateway-mock", &[])?;
        let token = mock.token.clone().unwrap_or_default();
        let setup: Value = serde_json::from_str(
            self.program(&["gateway-setup", "--mock", &mock.base, "--token", &token])?
                .trim(),
        )?;
        let field = |name: &str| -> anyhow::Result<String> {
            setup[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("gateway-setup printed no {name}: {setup}"))
        };
        let secret = field("client_secret")?;
        let keys = procs::output(self.gateway_command(&["keys", "new"], None, &secret))?;
        let line = |prefix: &str| {
            keys.lines()
                .find_map(|line| line.strip_prefix(prefix))
                .map(str::trim)
                .map(str::to_owned)
                .with_context(|| format!("`keys new` printed no {prefix}"))
        };
        let (key, hash) = (line("key:")?, line("key_sha256:")?);
        let config = dir.join("gateway.yaml");
        std::fs::write(
            &config,
            format!(
                "tiktok: {{base_url: {}, client_key: {}, client_secret_env: TIKTOK_CLIENT_SECRET, rate_limit_scale: {RATE_LIMIT_SCALE}}}\naccounts: {{demo: {{token_store: tokens.json}}}}\nagents:\n  reader: {{account: demo, scopes: [user.info.basic], access: [read], key_sha256: {hash}}}\naudit: {}\n",
                mock.base,
                field("client_key")?,
                // On Postgres the gateway's state goes to the audit log's database too.
                postgres.map_or("audit.sqlite", |postgres| postgres.gateway.as_str()),
            ),
        )?;
        if postgres.is_some() {
            procs::output(self.gateway_command(&["migrate"], Some(&config), &secret))?;
        }
        let mut import = self.gateway_command(
            &["accounts", "import", "--account", "demo"],
            Some(&config),
            &secret,
        );
        import
            .env("TIKTOK_ACCESS_TOKEN", field("access_token")?)
            .env("TIKTOK_REFRESH_TOKEN", field("refresh_token")?);
        procs::output(import)?;
        let gateway = self.start_gateway(&config, &secret, &dir.join("gateway.log"))?;
        let access = field("access_token")?;
        let seconds = format!("{}", self.seconds);
        let sessions = SESSIONS.to_string();
        let direct_calls = direct_calls(&mock.base, &access, &sessions);
        let mcp_calls = [
            "mcp-calls",
            "--url",
            &gateway.url,
            "--key",
            &key,
            "--sessions",
            &sessions,
        ];
        let run = |program: &[&str], more: &[&str]| self.calls(&[program, more].concat());
        let (mock_pid, gateway_pid) = (mock.pid().to_string(), gateway.child.id().to_string());
        // Closed loop, each server's CPU counted; then the open loop.
        let (mut direct, mut through) = (Vec::new(), Vec::new());
        for _ in 0..self.rounds {
            direct.push(run(
                &direct_calls,
                &["--seconds", &seconds, "--pid", &mock_pid],
            )?);
            through.push(run(
                &mcp_calls,
                &["--seconds", &seconds, "--pid", &gateway_pid],
            )?);
        }
        let (rate, paced) = (PACED_RATE.to_string(), self.paced_seconds());
        let (mut paced_direct, mut paced_through) = (Vec::new(), Vec::new());
        for _ in 0..self.rounds {
            let open_loop = ["--seconds", paced.as_str(), "--rate", rate.as_str()];
            paced_direct.push(run(&direct_calls, &open_loop)?);
            paced_through.push(run(&mcp_calls, &open_loop)?);
        }
        // Each run's sessions make one first call apiece before its clock starts.
        let first_calls = (SESSIONS * (through.len() + paced_through.len())) as u64;
        let gateway_calls: u64 = first_calls
            + through
                .iter()
                .chain(&paced_through)
                .map(|(_, calls)| calls)
                .sum::<u64>();
        drop(gateway);
        let verified =
            procs::output(self.gateway_command(&["audit", "verify"], Some(&config), &secret))?;
        let records: u64 = verified
            .trim()
            .strip_prefix("audit log intact: ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|count| count.parse().ok())
            .with_context(|| format!("audit verify said {verified:?}"))?;
        if records != 2 * gateway_calls {
            bail!("{gateway_calls} calls answered through the gateway, {records} audit records");
        }
        let commit_path = dir.join("commit.sqlite").to_string_lossy().into_owned();
        let commit_at = match postgres {
            Some(postgres) => ["--url", postgres.commit.as_str()],
            None => ["--path", commit_path.as_str()],
        };
        let commit: Value = serde_json::from_str(
            self.program(&["audit-commit", commit_at[0], commit_at[1]])?
                .trim(),
        )?;
        let row = GatewayRow {
            backend,
            sessions: SESSIONS,
            direct: median_side(&direct),
            gateway: median_side(&through),
            paced: Paced {
                rate: PACED_RATE,
                direct: median_side(&paced_direct),
                gateway: median_side(&paced_through),
            },
            commit_ms: commit["commit_us"].as_f64().unwrap_or_default() / 1000.0,
            gateway_calls,
            records,
            rounds: self.rounds,
            seconds: self.seconds,
        };
        std::fs::remove_dir_all(&dir)?;
        Ok(row)
    }

    /// `tiktok-gateway ARGS [--config FILE]` on the server CPU, with the app's secret.
    fn gateway_command(
        &self,
        args: &[&str],
        config: Option<&Path>,
        secret: &str,
    ) -> std::process::Command {
        let mut command = self.pinning.command(self.pinning.server, &self.gateway);
        command.args(args).env("TIKTOK_CLIENT_SECRET", secret);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command
    }

    /// `serve --http` on a free port; returns once it says where its MCP endpoint is.
    fn start_gateway(&self, config: &Path, secret: &str, log: &Path) -> anyhow::Result<Gateway> {
        let mut command =
            self.gateway_command(&["serve", "--http", "127.0.0.1:0"], Some(config), secret);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stderr = child.stderr.take().context("the gateway's stderr")?;
        let mut gateway = Gateway {
            child,
            url: String::new(),
        };
        let mut lines = BufReader::new(stderr);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line)? == 0 {
                bail!("the gateway ended before it was ready; it said:\n{seen}");
            }
            seen.push_str(&line);
            if let Some((_, url)) = line.trim().split_once("MCP over streamable HTTP at ") {
                gateway.url = url.to_owned();
                break;
            }
        }
        // Keep its later lines (warnings) in the log, so a full pipe never blocks it.
        let mut log = std::fs::File::create(log)?;
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut lines, &mut log);
        });
        Ok(gateway)
    }

    /// One run of a calls program: its figures, and the calls it made.
    pub(super) fn calls(&self, args: &[&str]) -> anyhow::Result<(CallSide, u64)> {
        let report: Value = serde_json::from_str(self.program(args)?.trim())?;
        let number = |key: &str| report[key].as_f64().unwrap_or_default();
        if number("errors") > 0.0 {
            bail!("{} answered errors: {report}", args[0]);
        }
        let calls = number("calls");
        Ok((
            CallSide {
                calls_per_s: calls / number("seconds").max(1e-9),
                p50_ms: number("p50_us") / 1000.0,
                p99_ms: number("p99_us") / 1000.0,
                server_cpu_us: number("server_cpu_us"),
            },
            calls as u64,
        ))
    }
}

/// The median of each figure over the rounds.
pub(super) fn median_side(runs: &[(CallSide, u64)]) -> CallSide {
    let pick = |figure: fn(&CallSide) -> f64| {
        median(
            &runs
                .iter()
                .map(|(side, _)| figure(side))
                .collect::<Vec<_>>(),
        )
    };
    CallSide {
        calls_per_s: pick(|side| side.calls_per_s),
        p50_ms: pick(|side| side.p50_ms),
        p99_ms: pick(|side| side.p99_ms),
        server_cpu_us: pick(|side| side.server_cpu_us),
    }
}
