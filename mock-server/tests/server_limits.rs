//! The server's own limits on real sockets: a half-sent request head is closed after the
//! header timeout, a quiet connection after the idle timeout (a busy one, or one waiting
//! for a slow answer, is not), idle connections beyond the cap don't keep `/_mock/health`
//! from answering, shutdown returns with a stalled client connected, HTTP/2 prior knowledge is
//! served. Each waits for an outcome (bounded generously so a failure fails instead of
//! hanging); none measures how fast it came.

use std::time::Duration;

use tiktok_mock::serve::{ServeOptions, serve};
use tiktok_mock::{AppState, MockServer, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Long enough that only a hung server reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

fn short_header_timeout() -> ServeOptions {
    ServeOptions {
        header_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    }
}

/// Reads until the server closes the connection (EOF or reset).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0_u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all).await.is_ok()
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    let mock = MockServer::builder()
        .serve_options(short_header_timeout())
        .start()
        .await;
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();
    stream
        .write_all(b"GET /_mock/health HTTP/1.1\r\nHost: mock\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut stream).await,
        "the server kept a half-sent request head open"
    );
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_do_not_stop_health() {
    let mock = MockServer::builder()
        .serve_options(ServeOptions {
            max_connections: 4,
            ..short_header_timeout()
        })
        .start()
        .await;
    let mut idle = Vec::new();
    for _ in 0..12 {
        let mut stream = TcpStream::connect(mock.address()).await.unwrap();
        let _ = stream.write_all(b"GET / HTTP/1.1\r\n").await;
        idle.push(stream);
    }
    let client = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/_mock/health", mock.uri()))
        .send()
        .await
        .expect("health answers while slow clients hold connections");
    assert_eq!(response.status(), 200);
    drop(idle);
}

#[tokio::test]
async fn shutdown_completes_with_a_stalled_client_connected() {
    let state = AppState::builder().build().unwrap();
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        // Neither timeout would end the stalled client soon: only the grace period can.
        header_timeout: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(3600),
        shutdown_grace: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let server = tokio::spawn(serve(listener, router(state), options, async move {
        let _ = stopped.await;
    }));
    let mut stalled = TcpStream::connect(address).await.unwrap();
    stalled
        .write_all(b"POST /v2/user/info/ HTTP/1.1\r\nHost: mock\r\n")
        .await
        .unwrap();
    // A whole call on another connection proves the stalled one is being served.
    let health = reqwest::get(format!("http://{address}/_mock/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the server returns despite the stalled client")
        .unwrap();
    assert!(closed_by_server(&mut stalled).await);
}

#[tokio::test]
async fn http2_prior_knowledge_is_answered() {
    let mock = MockServer::start().await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/_mock/health", mock.uri()))
        .send()
        .await
        .expect("an HTTP/2 prior-knowledge call is answered");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_stalled_request_body_gets_400_after_the_body_timeout() {
    let mock = MockServer::builder()
        .serve_options(ServeOptions {
            body_timeout: Duration::from_millis(300),
            ..ServeOptions::default()
        })
        .start()
        .await;
    let token = mock.user_token(None, &[tiktok_api::Scope::VideoList]);
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();
    // Two bytes of the hundred announced, and then nothing: the writing half stays open.
    let head = format!(
        "POST /v2/video/list/?fields=id HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{}}"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(count) => {
                    answer.extend_from_slice(&buffer[..count]);
                    if String::from_utf8_lossy(&answer).contains("stalled") {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the stalled body is answered");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("stalled"), "{text}");
}

/// Sends one keep-alive `GET path` on `stream` and reads its whole answer (the control
/// API's answers carry a `Content-Length`); `None` when the server closed the connection.
async fn keep_alive_get(stream: &mut TcpStream, path: &str) -> Option<String> {
    let head = format!("GET {path} HTTP/1.1\r\nHost: mock\r\n\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|value| value.trim().parse().ok())?;
            if body.len() >= length {
                return Some(text);
            }
        }
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await {
            Ok(Ok(count)) if count > 0 => answer.extend_from_slice(&buffer[..count]),
            _ => return None,
        }
    }
}

fn idle_after_one_second() -> ServeOptions {
    ServeOptions {
        // Longer than the test: only the idle timeout can close a connection.
        header_timeout: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(1),
        ..ServeOptions::default()
    }
}

#[tokio::test]
async fn a_quiet_connection_is_closed_after_the_idle_timeout_and_a_busy_one_is_not() {
    let mock = MockServer::builder()
        .serve_options(idle_after_one_second())
        .start()
        .await;
    let mut quiet = TcpStream::connect(mock.address()).await.unwrap();
    let answer = keep_alive_get(&mut quiet, "/_mock/health").await;
    assert!(answer.is_some_and(|text| text.starts_with("HTTP/1.1 200")));
    // Half the idle timeout later it is still open (the watch does not close early).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer = keep_alive_get(&mut quiet, "/_mock/health").await;
    assert!(
        answer.is_some_and(|text| text.starts_with("HTTP/1.1 200")),
        "a connection quiet for half the idle timeout was closed"
    );
    let mut busy = TcpStream::connect(mock.address()).await.unwrap();
    // A call every 100 ms for three idle timeouts, all on one connection.
    for call in 0..30 {
        let answer = keep_alive_get(&mut busy, "/_mock/health").await;
        assert!(
            answer.is_some_and(|text| text.starts_with("HTTP/1.1 200")),
            "call {call} on a busy connection was not answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed_by_server(&mut quiet).await,
        "the server kept a quiet connection open"
    );
    assert!(
        closed_by_server(&mut busy).await,
        "the server kept the busy connection open once it went quiet"
    );
}

#[tokio::test]
async fn an_answer_slower_than_the_idle_timeout_is_still_sent() {
    let mock = MockServer::builder()
        .serve_options(idle_after_one_second())
        .start()
        .await;
    let client = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let fault = client
        .post(format!("{}/_mock/faults", mock.uri()))
        .json(&serde_json::json!({"endpoint": "user_info", "latency_ms": 2500}))
        .send()
        .await
        .unwrap();
    assert!(
        fault.status().is_success(),
        "{}",
        fault.text().await.unwrap()
    );
    let token = mock.user_token(None, &[tiktok_api::Scope::UserInfoBasic]);
    let response = client
        .get(format!("{}/v2/user/info/?fields=open_id", mock.uri()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the slow call is answered, not cut off as idle");
    assert_eq!(response.status(), 200);
}
