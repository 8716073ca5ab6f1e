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
