//! Sections 9 and 10: the mock on its SQLite state file against the mock in memory (reads,
//! and writes per second), and `tiktok-mock proxy` in front of the mock against the mock
//! alone. Both are the same `wrk` runs as section 1, alternating, on the same machine; the
//! proxy also at a fixed rate well below capacity, for a call's own latency.

use anyhow::Context;

use super::Bench;
use super::gateway::{PACED_RATE, direct_calls, median_side};
use super::procs::{Request, Server};
use super::report::{ProxyRow, StateRow};

impl Bench {
    /// 9. User info on a mock with `--state FILE` against a mock in memory; then token
    ///    mints (`POST /_mock/tokens`, one row committed and synced per request) on each.
    pub(super) fn state(&self) -> anyhow::Result<StateRow> {
        eprintln!("== the mock on --state");
        let dir = self.scratch.join("state");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("mock.sqlite");
        let memory = self.start_mock("state-memory", &[])?;
        let durable = self.start_mock("state-file", &["--state", &file.to_string_lossy()])?;
        let reads = |server: &Server| Request {
            method: "GET",
            path: "/v2/user/info/?fields=open_id,display_name".to_owned(),
            token: server.token.clone().unwrap_or_default(),
            body: None,
        };
        let (memory_read, durable_read) = (reads(&memory), reads(&durable));
        let read = self.alternate(
            &[(&memory, &memory_read), (&durable, &durable_read)],
            self.seconds,
        )?;
        let open_id = |server: &Server, request: &Request| -> anyhow::Result<String> {
            let answer: serde_json::Value = serde_json::from_str(&self.fetch(server, request)?)?;
            answer["data"]["user"]["open_id"]
                .as_str()
                .map(str::to_owned)
                .context("no open_id in the mock's user info")
        };
        let mints = |open_id: String| Request {
            method: "POST",
            path: "/_mock/tokens".to_owned(),
            token: String::new(),
            body: Some(format!(
                r#"{{"open_id":"{open_id}","scopes":["user.info.basic"]}}"#
            )),
        };
        let memory_mint = mints(open_id(&memory, &memory_read)?);
        let durable_mint = mints(open_id(&durable, &durable_read)?);
        let write = self.alternate(
            &[(&memory, &memory_mint), (&durable, &durable_mint)],
            self.seconds,
        )?;
        drop((memory, durable));
        std::fs::remove_dir_all(&dir)?;
        Ok(StateRow {
            memory_read: read[0],
            state_read: read[1],
            memory_write: write[0],
            state_write: write[1],
        })
    }

    /// 10. User info through `tiktok-mock proxy` (checking both directions) in front of
    ///     the mock, against the mock alone.
    pub(super) fn proxy(&self) -> anyhow::Result<ProxyRow> {
        eprintln!("== the proxy in front of the mock");
        let mock = self.start_mock("proxy-upstream", &[])?;
        let mut command = self.pinning.command(self.pinning.server, &self.mock);
        command.args(["proxy", "--upstream", &mock.base, "--addr", "127.0.0.1:0"]);
        let proxy = Server::start(command, &self.scratch.join("proxy.log"), false)?;
        let request = Request {
            method: "GET",
            path: "/v2/user/info/?fields=open_id,display_name".to_owned(),
            token: mock.token.clone().unwrap_or_default(),
            body: None,
        };
        let measures = self.alternate(&[(&mock, &request), (&proxy, &request)], self.seconds)?;
        // Then a call's own latency: the generated client at a fixed rate well below
        // capacity, straight and through the proxy, in turns.
        let seconds = self.paced_seconds();
        let rate = PACED_RATE.to_string();
        let (mut direct, mut proxied) = (Vec::new(), Vec::new());
        for _ in 0..self.rounds {
            for (base, runs) in [(&mock.base, &mut direct), (&proxy.base, &mut proxied)] {
                let open_loop = ["--seconds", seconds.as_str(), "--rate", rate.as_str()];
                runs.push(
                    self.calls(
                        &[&direct_calls(base, &request.token, "4")[..], &open_loop].concat(),
                    )?,
                );
            }
        }
        Ok(ProxyRow {
            direct: measures[0],
            proxied: measures[1],
            paced_rate: PACED_RATE,
            paced_direct: median_side(&direct),
            paced_proxied: median_side(&proxied),
        })
    }
}
