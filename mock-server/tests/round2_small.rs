//! Small input checks on real sockets: bad body framing is 400 (oversize stays 413), fault
//! statuses are final ones, a huge integer is out of range, an encoded body is refused with
//! 415, an app's redirect URIs are https or loopback http.

use serde_json::{Value, json};
use tiktok_api::Scope;
use tiktok_api::endpoints::VIDEO_LIST;
use tiktok_mock::MockServer;
use tiktok_mock::testing::Control;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIST: &str = "/v2/video/list/?fields=id";

/// Sends `head` and `body` raw, closes the writing half, and returns the status and the
/// body of the answer.
async fn raw_call(mock: &MockServer, head: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn head(token: &str, framing: &str) -> String {
    format!(
        "POST {LIST} HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nConnection: close\r\n{framing}\r\n"
    )
}

#[tokio::test]
async fn malformed_framing_and_a_body_cut_short_are_400() {
    let mock = MockServer::start().await;
    let token = mock.user_token(None, &[Scope::VideoList]);
    let (status, body) = raw_call(
        &mock,
        &head(&token, "Transfer-Encoding: chunked\r\n"),
        b"zz\r\n{}\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "a malformed chunk size: {body}");
    assert_eq!(body["error"]["code"], "invalid_params", "{body}");
    let (status, body) = raw_call(&mock, &head(&token, "Content-Length: 100\r\n"), b"{}").await;
    assert_eq!(status, 400, "a body cut short: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cut short"),
        "{body}"
    );
    // A body over the limit stays 413: mock-server/tests/bad_input.rs.
}

#[tokio::test]
async fn fault_statuses_are_final_statuses() {
    let mock = MockServer::start().await;
    let control = Control::new(mock.uri());
    for fault in [
        json!({"endpoint": VIDEO_LIST.id, "body": {}, "status": 100}),
        json!({"endpoint": VIDEO_LIST.id, "body": {}, "status": 199}),
        json!({"endpoint": VIDEO_LIST.id, "error_code": "internal_error", "status": 0}),
        json!({"endpoint": VIDEO_LIST.id, "error_code": "internal_error", "status": 1000}),
    ] {
        let (status, body) = control.post_raw("/_mock/faults", fault.clone()).await;
        assert_eq!(status, 400, "{fault}: {body}");
        assert!(body.to_string().contains("200 to 599"), "{fault}: {body}");
    }
    let (status, body) = control
        .post_raw(
            "/_mock/faults",
            json!({"endpoint": VIDEO_LIST.id, "error_code": "internal_error", "status": 503}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_integer_beyond_u64_is_out_of_range() {
    let mock = MockServer::start().await;
    let token = mock.user_token(None, &[Scope::VideoList]);
    let response = reqwest::Client::new()
        .post(format!("{}{LIST}", mock.uri()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"max_count": 18446744073709551616}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("out of range"), "{body}");
    assert!(!message.contains("not an integer"), "{body}");
}

#[tokio::test]
async fn an_encoded_request_body_is_refused_with_415() {
    let mock = MockServer::start().await;
    let token = mock.user_token(None, &[Scope::VideoList]);
    let response = reqwest::Client::new()
        .post(format!("{}{LIST}", mock.uri()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(r#"{"max_count": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_params", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("gzip"),
        "{body}"
    );
    let plain = reqwest::Client::new()
        .post(format!("{}{LIST}", mock.uri()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "identity")
        .body(r#"{"max_count": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
}

#[tokio::test]
async fn redirect_uris_are_https_or_loopback_http() {
    let mock = MockServer::start().await;
    let control = Control::new(mock.uri());
    for uri in [
        "javascript:alert(3)//",
        "http://evil.example/cb",
        "data:text/html,hi",
        "https://app.example/cb#fragment",
        "not a url",
    ] {
        let app = json!({"client_key": "k9", "client_secret": "s9", "redirect_uris": [uri]});
        let (status, body) = control.post_raw("/_mock/apps", app).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert!(
            body.to_string().contains("redirect_uris[0]"),
            "{uri}: {body}"
        );
    }
    let good = [
        "https://app.example/cb",
        "http://127.0.0.1:9/cb",
        "http://[::1]:9/cb",
        "http://localhost:3000/cb",
    ];
    let app = json!({"client_key": "k9", "client_secret": "s9", "redirect_uris": good});
    let (status, body) = control.post_raw("/_mock/apps", app).await;
    assert_eq!(status, 200, "{body}");
}
