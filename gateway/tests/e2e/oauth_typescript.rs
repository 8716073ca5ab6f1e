//! The official TypeScript SDK's OAuth client provider (`@modelcontextprotocol/sdk`) against
//! the gateway, through `oauth_client.mjs`: discovery from the 401, registration, the
//! operator's consent (this test), the token, `tools/list` showing exactly the chosen
//! agent's tools, a refresh when the access token dies, and revocation. Skipped, saying
//! why, when `node` or the package is missing: `.ci/run` installs the package under
//! `target/ci-node` (or set `TIKTOK_GATEWAY_TS_SDK` to the package's directory).

use std::path::PathBuf;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::oauth::{REDIRECT, gateway, location};
use crate::setup::tool_names;

/// The SDK package's directory, when it and `node` are there; otherwise why not.
fn typescript_sdk() -> Result<PathBuf, String> {
    let sdk = std::env::var_os("TIKTOK_GATEWAY_TS_SDK").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/ci-node/node_modules/@modelcontextprotocol/sdk")
        },
        PathBuf::from,
    );
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Err("node is not installed".into());
    }
    if !sdk.join("package.json").is_file() {
        return Err(format!(
            "@modelcontextprotocol/sdk is not at {} (.ci/run installs it)",
            sdk.display()
        ));
    }
    Ok(sdk)
}

#[tokio::test]
async fn the_typescript_sdks_oauth_client_becomes_the_chosen_agent_refreshes_and_is_revoked() {
    let sdk = match typescript_sdk() {
        Ok(sdk) => sdk,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let (setup, _server, url, browser) = gateway(&[]).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/oauth_client.mjs");
    let mut node = tokio::process::Command::new("node")
        .arg(script)
        .arg(&sdk)
        .arg(&url)
        .arg(REDIRECT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let mut step = async || -> Value {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("a line from the client");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    };

    let authorize = step().await["authorize"].as_str().unwrap().to_string();
    assert!(authorize.contains("resource="), "{authorize}");
    let response = browser.http.get(&authorize).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let back = browser.consent(&location(&response), "reader").await;
    stdin
        .write_all(format!("{back}\n").as_bytes())
        .await
        .unwrap();

    let connected = step().await;
    let reader = setup.agent("reader").await;
    let expected = tool_names(&reader.list_all_tools().await.unwrap());
    reader.cancel().await.unwrap();
    assert_eq!(connected["tools"], serde_json::json!(expected));

    let refreshed = step().await;
    assert_eq!(refreshed["refreshed"], true, "{refreshed}");
    assert_eq!(refreshed["tools"], serde_json::json!(expected));
    let access = refreshed["access_token"].as_str().unwrap();
    assert_ne!(Some(access), connected["access_token"].as_str());
    assert!(node.wait().await.unwrap().success());

    let client_id = connected["client_id"].as_str().unwrap();
    assert_eq!(browser.probe(&browser.origin, access).await.0, 200);
    let revoked = browser
        .http
        .post(format!("{}/oauth/revoke", browser.origin))
        .form(&[("token", access), ("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(browser.probe(&browser.origin, access).await.0, 401);
}
