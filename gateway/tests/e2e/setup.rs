//! What every end-to-end test starts from: the mock, a config with a reader, a poster and a
//! researcher, the demo creator's tokens imported, and helpers to run the binary.

use std::path::PathBuf;
use std::process::Output;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tiktok_mock::testing::Control;

pub const BIN: &str = env!("CARGO_BIN_EXE_tiktok-gateway");
pub use tiktok_mock::testing::DEMO_OPEN_ID as DEMO_CREATOR;

pub struct Setup {
    mock: tiktok_mock::MockServer,
    pub base: String,
    pub http: reqwest::Client,
    pub control: Control,
    pub dir: tempfile::TempDir,
    pub secret: String,
    pub reader_key: String,
    pub poster_key: String,
}

impl Setup {
    /// The mock, a config with a reader, a poster (writes wait for approval) and a
    /// researcher, and the demo creator's tokens imported for account `demo`.
    pub async fn new() -> Setup {
        Setup::on(tiktok_mock::MockServer::start().await, 1.0).await
    }

    /// [`Setup::new`] with every rate limit `scale` times TikTok's, in the mock and in the
    /// gateway's client alike (`tiktok: {rate_limit_scale}`).
    pub async fn scaled(scale: f64) -> Setup {
        let mock = tiktok_mock::MockServer::builder()
            .rate_limit_scale(scale)
            .start()
            .await;
        Setup::on(mock, scale).await
    }

    async fn on(mock: tiktok_mock::MockServer, scale: f64) -> Setup {
        let base = mock.uri();
        let scaled = if scale == 1.0 {
            String::new()
        } else {
            format!(", rate_limit_scale: {scale:?}")
        };
        let http = reqwest::Client::new();
        let control = Control::new(base.as_str());
        let (key, secret) = control.app().await;
        let dir = tempfile::tempdir().unwrap();
        let (reader_key, reader_hash) = tiktok_gateway::http::new_key();
        let (poster_key, poster_hash) = tiktok_gateway::http::new_key();
        let config = format!(
            "\
tiktok: {{base_url: {base}, client_key: {key}, client_secret_env: TIKTOK_CLIENT_SECRET{scaled}}}
accounts: {{demo: {{token_store: tokens.json}}}}
agents:
  reader: {{account: demo, scopes: [user.info.basic, video.list], access: [read], key_sha256: {reader_hash}}}
  poster: {{account: demo, scopes: [user.info.basic, video.publish, video.upload], access: [read, write], approval: writes, key_sha256: {poster_hash}}}
  researcher: {{account: demo, scopes: [research.data.basic], access: [read]}}
  thrifty: {{account: demo, scopes: [user.info.basic], access: [read], budgets: {{calls_per_minute: 2}}}}
audit: audit.sqlite
"
        );
        std::fs::write(dir.path().join("gateway.yaml"), config).unwrap();
        let setup = Setup {
            mock,
            base,
            http,
            control,
            dir,
            secret,
            reader_key,
            poster_key,
        };
        setup
            .import(json!({"open_id": DEMO_CREATOR, "scopes": ["user.info.basic", "video.list", "video.publish", "video.upload"]}))
            .await;
        setup
    }

    /// Tokens the mock mints for `request` (`/_mock/tokens`'s body), imported for account
    /// `demo` with `accounts import`; the mock's answer.
    pub async fn import(&self, request: Value) -> Value {
        let minted = self.post("/_mock/tokens", request).await;
        let output = self
            .command(&["accounts", "import", "--account", "demo"])
            .env(
                "TIKTOK_ACCESS_TOKEN",
                minted["access_token"].as_str().unwrap(),
            )
            .env(
                "TIKTOK_REFRESH_TOKEN",
                minted["refresh_token"].as_str().unwrap(),
            )
            .output()
            .await
            .unwrap();
        assert_success(&output);
        assert!(
            stdout(&output).contains(DEMO_CREATOR),
            "{}",
            stdout(&output)
        );
        minted
    }

    /// The open_id app `client_key` knows the mock's user `user` by (open_ids are per app).
    pub fn open_id_in(&self, client_key: &str, user: &str) -> String {
        self.mock
            .state()
            .open_ids()
            .of(client_key, user)
            .into_owned()
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("gateway.yaml")
    }

    /// Adds agents to the config, one YAML line each (`name: {...}`).
    pub fn add_agents(&self, lines: &[&str]) {
        let added: String = lines.iter().map(|line| format!("  {line}\n")).collect();
        self.edit_config(|text| text.replacen("audit:", &format!("{added}audit:"), 1));
    }

    /// Adds operator `name` to the config (appended, after `audit:`) and returns its key.
    pub fn add_operator(&self, name: &str) -> String {
        let (key, hash) = tiktok_gateway::http::new_key();
        self.edit_config(|text| format!("{text}operators:\n  {name}: {{key_sha256: {hash}}}\n"));
        key
    }

    /// Rewrites the config.
    pub fn edit_config(&self, edit: impl FnOnce(&str) -> String) {
        let text = std::fs::read_to_string(self.config()).unwrap();
        let edited = edit(&text);
        assert_ne!(text, edited, "the edit changed nothing");
        std::fs::write(self.config(), edited).unwrap();
    }

    /// `tiktok-gateway ARGS --config FILE`, with the app secret in the environment.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .arg("--config")
            .arg(self.config())
            .env("TIKTOK_CLIENT_SECRET", &self.secret)
            .env_remove("TIKTOK_ACCESS_TOKEN")
            .env_remove("TIKTOK_REFRESH_TOKEN");
        command
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// An MCP client session with `serve --agent AGENT` over stdio.
    pub async fn agent(&self, agent: &str) -> RunningService<RoleClient, ()> {
        self.agent_with(agent, ()).await
    }

    /// [`Setup::agent`] with `handler` as the client: what it declares at initialize and
    /// what it does with what the server sends it.
    pub async fn agent_with<H: rmcp::ClientHandler>(
        &self,
        agent: &str,
        handler: H,
    ) -> RunningService<RoleClient, H> {
        let command = tokio::process::Command::new(BIN).configure(|command| {
            command
                .args(["serve", "--agent", agent, "--config"])
                .arg(self.config())
                .env("TIKTOK_CLIENT_SECRET", &self.secret);
        });
        handler
            .serve(TokioChildProcess::new(command).unwrap())
            .await
            .unwrap()
    }

    /// `serve --http` on a free port: the server (killed on drop) and its MCP URL.
    pub async fn serve_http(&self) -> (tokio::process::Child, String) {
        self.serve_until_url(&["serve", "--http", "127.0.0.1:0"])
            .await
    }

    /// `serve --http` as [`Setup::serve_http`], with `env` added to its environment.
    pub async fn serve_http_with(&self, env: &[(&str, &str)]) -> (tokio::process::Child, String) {
        self.serve_until_url_with(&["serve", "--http", "127.0.0.1:0"], env)
            .await
    }

    /// The command `args` started (killed on drop), and the first URL it prints on stderr.
    pub async fn serve_until_url(&self, args: &[&str]) -> (tokio::process::Child, String) {
        self.serve_until_url_with(args, &[]).await
    }

    /// [`Setup::serve_until_url`] with `env` added to the command's environment.
    pub async fn serve_until_url_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (tokio::process::Child, String) {
        use tokio::io::AsyncBufReadExt;
        let mut server = self
            .command(args)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server's address");
            if let Some(at) = line.find("http://") {
                return (server, line[at..].trim().to_string());
            }
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        self.control.get(path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.control.post(path, body).await
    }

    /// The endpoints the mock was called on, in order.
    pub async fn mock_calls(&self) -> Vec<String> {
        let calls = self.get("/_mock/calls").await;
        calls["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|call| call["endpoint"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The audit records as JSON lines, through `audit query`.
    pub async fn audit(&self, agent: &str) -> Vec<Value> {
        let output = self
            .run(&["audit", "query", "--agent", agent, "--json"])
            .await;
        assert_success(&output);
        stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// Arguments of an inbox upload the mock accepts: pulled from TikTok's sample host.
pub fn pull_upload() -> Value {
    json!({"source_info": {"source": "PULL_FROM_URL", "video_url": "https://sf16-va.tiktokcdn.com/obj/sample.mp4"}})
}

/// The approval id a held call answered with: a normal (not error) result, its structured
/// content `{status: pending_approval, approval_id, expires_at}`.
#[track_caller]
pub fn approval_id(held: &CallToolResult) -> String {
    assert_ne!(held.is_error, Some(true), "{held:?}");
    let content = held
        .structured_content
        .as_ref()
        .expect("structured content");
    assert_eq!(content["status"], "pending_approval", "not held: {content}");
    assert!(
        humantime::parse_rfc3339(content["expires_at"].as_str().unwrap()).is_ok(),
        "{content}"
    );
    content["approval_id"]
        .as_str()
        .unwrap_or_else(|| panic!("not held: {content}"))
        .to_string()
}

/// The message of a tool error.
#[track_caller]
pub fn tool_error(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let content = result
        .structured_content
        .as_ref()
        .expect("structured content");
    assert!(content.get("approval_id").is_none(), "held: {content}");
    content.to_string()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub async fn call<H: rmcp::ClientHandler>(
    client: &RunningService<RoleClient, H>,
    name: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(arguments))
        .await
}

pub fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|tool| tool.name.to_string()).collect()
}

pub fn decisions(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|record| {
            (
                record["decision"].as_str().unwrap().to_string(),
                record["endpoint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
