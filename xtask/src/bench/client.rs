//! Section 6, the client's overhead: the generated client against raw reqwest on the same
//! mock (`tiktok-bench client`), and, in a full run, their instructions per call.

use super::Bench;
use super::report::{ClientRow, ClientSide};

impl Bench {
    /// 6. The generated client against raw reqwest, one call in flight.
    pub(super) fn client(&self) -> anyhow::Result<ClientRow> {
        eprintln!("== client overhead");
        let mock = self.start_mock("client", &[])?;
        let (calls, rounds) = if self.quick {
            ("300", "1")
        } else {
            ("3000", "7")
        };
        let text = self.program(&[
            "client", "--base", &mock.base, "--calls", calls, "--rounds", rounds,
        ])?;
        let report: serde_json::Value = serde_json::from_str(text.trim())?;
        let side = |name: &str| -> ClientSide {
            let number = |key: &str| {
                report
                    .pointer(&format!("/{name}/{key}"))
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or_default()
            };
            ClientSide {
                raw_us: number("raw_us"),
                client_us: number("client_us"),
                raw_cpu_us: number("raw_cpu_us"),
                client_cpu_us: number("client_cpu_us"),
            }
        };
        let instructions = if self.quick {
            None
        } else {
            self.client_instructions(&mock.base)?
        };
        Ok(ClientRow {
            instructions,
            user_info: side("user_info"),
            video_list: side("video_list"),
            calls: calls.parse().unwrap_or_default(),
            rounds: rounds.parse().unwrap_or_default(),
        })
    }
}
