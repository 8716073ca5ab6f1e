//! Accounts and config: `login` with PKCE (browser and headless), and bad input that gets
//! one clear line.

use serde_json::json;

use crate::setup::{BIN, DEMO_CREATOR, Setup, assert_success, stdout};

#[tokio::test]
async fn bad_configs_and_commands_get_one_clear_line() {
    let setup = Setup::new().await;
    let config = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(
        setup.config(),
        config.replace("access: [read], key", "acess: [read], key"),
    )
    .unwrap();
    let output = setup.run(&["serve", "--agent", "reader"]).await;
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("gateway.yaml:4: agents.reader.acess: Unknown field `acess`"),
        "{error}"
    );
    std::fs::write(setup.config(), &config).unwrap();
    let output = setup.run(&["serve", "--agent", "nobody"]).await;
    assert!(String::from_utf8_lossy(&output.stderr).contains("no agent \"nobody\""));
    let output = setup
        .command(&["serve", "--agent", "reader"])
        .env_remove("TIKTOK_CLIENT_SECRET")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("TIKTOK_CLIENT_SECRET"));
    // The secret from an owner-only file instead of the environment.
    let secret_file = setup.dir.path().join("client_secret");
    std::fs::write(&secret_file, format!("{}\n", setup.secret)).unwrap();
    std::fs::write(
        setup.config(),
        config.replace(
            "client_secret_env: TIKTOK_CLIENT_SECRET",
            "client_secret_file: client_secret",
        ),
    )
    .unwrap();
    let check = |secret_in_env: bool| {
        let mut command = setup.command(&["check"]);
        if !secret_in_env {
            command.env_remove("TIKTOK_CLIENT_SECRET");
        }
        command.output()
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loose = check(false).await.unwrap();
        assert!(
            String::from_utf8_lossy(&loose.stderr).contains("chmod 600"),
            "{loose:?}"
        );
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let checked = check(false).await.unwrap();
    assert!(
        stdout(&checked).contains("agent reader: user_info, video_list, video_query"),
        "{checked:?}"
    );
    std::fs::write(setup.config(), &config).unwrap();

    let missing = tokio::process::Command::new(BIN)
        .args(["audit", "verify", "--config", "/nonexistent/gateway.yaml"])
        .output()
        .await
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("/nonexistent/gateway.yaml: cannot read it")
    );
}

/// The authorize URL `login` printed, approved on the mock's consent page at once (a
/// browser would click the button): where the mock redirects the browser.
async fn consent(setup: &Setup, authorize_url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = browser
        .get(format!("{}&auto_approve=1", authorize_url.trim()))
        .send()
        .await
        .unwrap();
    let location = consent.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("code="), "{location}");
    let _ = setup;
    location
}

#[tokio::test]
async fn login_runs_oauth_with_pkce_in_a_browser_or_headless() {
    let setup = Setup::new().await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    setup
        .post(
            "/_mock/apps",
            json!({"client_key": "gateway-login", "client_secret": "gateway-login-secret", "redirect_uris": [redirect_uri]}),
        )
        .await;
    let config = format!(
        "\
tiktok: {{base_url: {}, client_key: gateway-login, client_secret_env: LOGIN_SECRET, redirect_uri: '{redirect_uri}'}}
accounts: {{creator: {{token_store: creator.json}}}}
agents:
  reader: {{account: creator, scopes: [user.info.basic, video.list], access: [read]}}
audit: login-audit.sqlite
",
        setup.base
    );
    let file = setup.dir.path().join("login.yaml");
    std::fs::write(&file, config).unwrap();
    let login = |args: &[&str]| {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(["login", "--account", "creator", "--config"])
            .arg(&file)
            .args(args)
            .env("LOGIN_SECRET", "gateway-login-secret");
        command
    };

    // With a browser: the command listens on the redirect URI's port.
    let mut waiting = login(&[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(waiting.stdout.take().unwrap()).lines();
    let url = lines.next_line().await.unwrap().unwrap();
    assert!(url.contains("code_challenge="), "{url}");
    assert!(url.contains("video.list"), "{url}");
    let redirect = consent(&setup, &url).await;
    // The browser follows the redirect (retrying while the command starts listening).
    let mut landed = None;
    for _ in 0..50 {
        if let Ok(response) = setup.http.get(&redirect).send().await {
            landed = Some(response.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(landed, Some(reqwest::StatusCode::OK));
    let last = lines.next_line().await.unwrap().unwrap_or_default();
    // This app is not the mock's first: it sees the creator under an open_id of its own.
    let open_id = setup.open_id_in("gateway-login", DEMO_CREATOR);
    assert_ne!(open_id, DEMO_CREATOR);
    assert!(last.contains(&format!("logged in as {open_id}")), "{last}");
    assert!(waiting.wait().await.unwrap().success());
    let tokens = std::fs::read_to_string(setup.dir.path().join("creator.json")).unwrap();
    assert!(tokens.contains(&open_id), "{tokens}");

    // Headless: print the URL, then finish with the redirect URL (its state checked).
    let printed = login(&["--no-wait"]).output().await.unwrap();
    assert_success(&printed);
    let redirect = consent(&setup, &stdout(&printed)).await;
    let forged = redirect.replace("state=", "state=forged");
    let refused = login(&["--code", &forged]).output().await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("state does not match"));
    let finished = login(&["--code", &redirect]).output().await.unwrap();
    assert_success(&finished);
    assert!(
        stdout(&finished).contains("logged in as"),
        "{}",
        stdout(&finished)
    );
    // The code is spent: the login in progress is gone.
    let again = login(&["--code", &redirect]).output().await.unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("no login in progress"));
}

#[tokio::test]
async fn ctrl_c_ends_a_login_waiting_for_its_browser() {
    let setup = Setup::new().await;
    // A port for the login to listen on until a browser comes back (released for it: a
    // child process cannot be handed a listener).
    let down = tiktok_mock::DownPort::bind();
    let config = format!(
        "\
tiktok: {{base_url: {}, client_key: k, client_secret_env: LOGIN_SECRET, redirect_uri: 'http://localhost:{}/auth/callback'}}
accounts: {{creator: {{token_store: creator.json}}}}
audit: interrupted-audit.sqlite
",
        setup.base,
        down.port()
    );
    let file = setup.dir.path().join("interrupted.yaml");
    std::fs::write(&file, config).unwrap();
    drop(down);
    let mut waiting = tokio::process::Command::new(BIN)
        .args(["login", "--account", "creator", "--config"])
        .arg(&file)
        .env("LOGIN_SECRET", "s")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(waiting.stdout.take().unwrap()).lines();
    let url = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(url.contains("code_challenge="), "{url}");
    let pid = waiting.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), waiting.wait())
        .await
        .expect("a signal ends a waiting login")
        .unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
}

#[tokio::test]
async fn two_agents_with_one_key_are_refused_by_check_and_serve() {
    let setup = Setup::new().await;
    let config = std::fs::read_to_string(setup.config()).unwrap();
    let poster_hash = config
        .split("approval: writes, key_sha256: ")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap()
        .to_string();
    // The reader's entry given the poster's key.
    setup.edit_config(|text| {
        let reader_hash = text
            .split("access: [read], key_sha256: ")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap();
        text.replace(reader_hash, &poster_hash)
    });
    for args in [
        &["check"][..],
        &["serve", "--http", "127.0.0.1:0"][..],
        &["serve", "--agent", "reader"][..],
    ] {
        let output = setup.run(args).await;
        assert!(!output.status.success(), "{args:?}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(
            error.contains(
                "agents.reader.key_sha256: agents poster and reader have the same key_sha256"
            ),
            "{args:?}: {error}"
        );
    }
}

#[tokio::test]
async fn check_fails_on_an_expired_or_refused_login_and_names_the_command_that_fixes_it() {
    use tiktok_api::{FileTokenStore, TokenStore};
    let setup = Setup::new().await;
    assert_success(&setup.run(&["check"]).await);
    // Dates, not Unix seconds.
    let listed = setup.run(&["accounts", "list"]).await;
    assert_success(&listed);
    let line = stdout(&listed);
    let date = regex::Regex::new(r"access_expires=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ refresh_expires=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
    assert!(date.is_match(&line), "{line}");

    let store = FileTokenStore::new(setup.dir.path().join("tokens.json"));
    let mut token = store.load(DEMO_CREATOR).await.unwrap().unwrap();
    // Refused: the access token has expired and TikTok does not know the refresh token.
    token.access_expires_at = 0;
    token.refresh_token = Some("rft.unknown-to-tiktok".to_string().into());
    store.save(&token).await.unwrap();
    let refused = setup.run(&["check"]).await;
    assert!(!refused.status.success(), "{}", stdout(&refused));
    let said = stdout(&refused);
    assert!(
        said.contains("account demo: the login has expired or was refused"),
        "{said}"
    );
    assert!(
        said.contains("run `tiktok-gateway login --config ") && said.contains(" --account demo`"),
        "{said}"
    );
    // Expired: both tokens past their time.
    token.refresh_expires_at = Some(1);
    store.save(&token).await.unwrap();
    let expired = setup.run(&["check"]).await;
    assert!(!expired.status.success());
    assert!(stdout(&expired).contains("account demo: the login has expired"));
    let listed = stdout(&setup.run(&["accounts", "list"]).await);
    assert!(
        listed.contains("access_expires=1970-01-01T00:00:00Z(expired)")
            && listed.contains("refresh_expires=1970-01-01T00:00:01Z(expired)"),
        "{listed}"
    );
}

/// Started by a client with a minimal environment (no app secret), `serve` over stdio still
/// answers `initialize` and `tools/list`, and each call says what to set.
#[tokio::test]
async fn serve_without_the_app_secret_lists_its_tools_and_each_call_names_what_to_set() {
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

    let setup = Setup::new().await;
    let before = setup.mock_calls().await;
    let spawn = || {
        let command = tokio::process::Command::new(crate::setup::BIN).configure(|command| {
            command
                .args(["serve", "--agent", "reader", "--config"])
                .arg(setup.config())
                .env_remove("TIKTOK_CLIENT_SECRET");
        });
        ().serve(TokioChildProcess::new(command).unwrap())
    };
    let reader = spawn().await.unwrap();
    let tools = crate::setup::tool_names(&reader.list_all_tools().await.unwrap());
    assert!(tools.contains(&"user_info".to_string()), "{tools:?}");
    let answer = crate::setup::call(&reader, "user_info", json!({"fields": ["open_id"]}))
        .await
        .unwrap();
    let message = crate::setup::tool_error(&answer);
    assert!(message.contains("TIKTOK_CLIENT_SECRET"), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");
    // A tool that is not the agent's is still unknown to it.
    assert!(
        crate::setup::call(&reader, "video_publish_init", json!({}))
            .await
            .is_err()
    );
    reader.cancel().await.unwrap();
    assert_eq!(setup.mock_calls().await, before, "nothing was sent");

    // The secret in a file that is not there: the call names the file.
    setup.edit_config(|text| {
        text.replace(
            "client_secret_env: TIKTOK_CLIENT_SECRET",
            "client_secret_file: missing_secret",
        )
    });
    let reader = spawn().await.unwrap();
    let answer = crate::setup::call(&reader, "user_info", json!({"fields": ["open_id"]}))
        .await
        .unwrap();
    let message = crate::setup::tool_error(&answer);
    assert!(message.contains("missing_secret"), "{message}");
    reader.cancel().await.unwrap();
}
