//! `serve --http` against connections left half-open (no key needed to open one): a slow
//! request head, an idle kept-alive connection and a stalled body are each ended by the
//! server, and more of them than it takes at once cannot keep an agent out.

use std::time::Duration;

use rmcp::ServiceExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::setup::{Setup, call};

/// Everything the server sends until it closes the connection. The bound only turns a
/// regression (a connection never closed) into a failure rather than a hang.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection");
    // A reset is a close too.
    let _ = read;
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn half_open_connections_are_ended_and_cannot_keep_an_agent_out() {
    let setup = Setup::new().await;
    setup.edit_config(|text| {
        text.replace(
            "audit: audit.sqlite",
            "http: {header_read_timeout: 1s, body_timeout: 1s, max_connections: 4}\naudit: audit.sqlite",
        )
    });
    let (_server, url) = setup.serve_http().await;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();

    // Half a request head, then nothing.
    let mut slow_head = TcpStream::connect(&address).await.unwrap();
    slow_head
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    until_closed(&mut slow_head).await;

    // One request answered, then the connection kept alive and idle.
    let mut idle = TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let answered = until_closed(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 401"), "{answered}");

    // An authenticated request whose body stops coming.
    let mut stalled = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\"",
        setup.reader_key
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let answered = until_closed(&mut stalled).await;
    assert!(!answered.starts_with("HTTP/1.1 2"), "{answered}");

    // Three times more silent connections than the server takes at once: an agent still
    // gets in and is served.
    let mut silent = Vec::new();
    for _ in 0..12 {
        silent.push(TcpStream::connect(&address).await.unwrap());
    }
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            url.as_str(),
        )
        .auth_header(setup.reader_key.clone()),
    );
    let reader = ().serve(transport).await.unwrap();
    let profile = call(&reader, "user_info", json!({"fields": ["display_name"]}))
        .await
        .unwrap();
    assert_eq!(
        profile.structured_content.unwrap()["user"]["display_name"],
        "Demo Creator"
    );
    reader.cancel().await.unwrap();
    for mut connection in silent {
        until_closed(&mut connection).await;
    }
}

#[tokio::test]
async fn a_signal_ends_the_http_server_within_its_shutdown_timeout_whatever_is_open() {
    let setup = Setup::new().await;
    setup.edit_config(|text| {
        text.replace(
            "audit: audit.sqlite",
            "http: {header_read_timeout: 1h, body_timeout: 1h, shutdown_timeout: 1s}\naudit: audit.sqlite",
        )
    });
    let (mut server, url) = setup.serve_http().await;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();
    // A request whose body is still coming when the signal arrives: graceful shutdown
    // would wait for it for ever.
    let mut stalled = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\"",
        setup.reader_key
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // Another request answered after it, so the server has been at work meanwhile (each
    // connection is served on its own task, so this makes it likely, not certain, that the
    // stalled one is being read when the signal comes; either way the server must end).
    let answered = setup
        .http
        .post(&url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 401);
    let pid = server.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("the server ends, its shutdown bounded")
        .unwrap();
    assert!(status.success(), "{status:?}");
    until_closed(&mut stalled).await;
}

/// How many connections wait in the kernel's backlog of the listener on 127.0.0.1:`port`
/// (for a listening socket, `/proc/net/tcp`'s `rx_queue` is its accept queue).
#[cfg(target_os = "linux")]
fn waiting_to_be_accepted(port: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(3) != Some(&"0A") {
            return None;
        }
        let queues = fields.get(4)?;
        u32::from_str_radix(queues.split(':').nth(1)?, 16).ok()
    })
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn connections_past_the_cap_wait_in_the_backlog_until_one_closes() {
    use tiktok_mock::testing::eventually;
    let setup = Setup::new().await;
    setup.edit_config(|text| {
        text.replace(
            "audit: audit.sqlite",
            "http: {header_read_timeout: 1h, max_connections: 2}\naudit: audit.sqlite",
        )
    });
    let (_server, url) = setup.serve_http().await;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let mut open = Vec::new();
    for _ in 0..6 {
        open.push(TcpStream::connect(&address).await.unwrap());
    }
    // Two taken by the server, four left to the kernel: no descriptor of the gateway's.
    eventually(|| async { (waiting_to_be_accepted(port) == Some(4)).then_some(()) }).await;
    // One taken connection closes: one more is taken.
    drop(open.remove(0));
    eventually(|| async { (waiting_to_be_accepted(port) == Some(3)).then_some(()) }).await;
}

#[tokio::test]
async fn failed_authentications_are_audited_once_per_source_per_minute() {
    let setup = Setup::new().await;
    let (_server, url) = setup.serve_http().await;
    // A flood: no key, wrong keys, many times.
    for attempt in 0..40 {
        let mut request = setup
            .http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
        if attempt % 2 == 1 {
            request = request.bearer_auth(format!("tgk_guess{attempt}"));
        }
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    // The right key still works and is not a failure.
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            url.as_str(),
        )
        .auth_header(setup.reader_key.clone()),
    );
    let reader = ().serve(transport).await.unwrap();
    reader.list_all_tools().await.unwrap();
    reader.cancel().await.unwrap();

    let records = setup.audit(tiktok_gateway::http::UNAUTHENTICATED).await;
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(record["decision"], "denied");
    assert_eq!(record["endpoint"], tiktok_gateway::http::AUTH_ENDPOINT);
    let reason = record["reason"].as_str().unwrap();
    assert!(reason.contains("from 127.0.0.1: no key"), "{reason}");
    assert!(!record.to_string().contains("tgk_guess"), "{record}");
    // The log stays whole.
    let verified = setup.run(&["audit", "verify"]).await;
    crate::setup::assert_success(&verified);
}
