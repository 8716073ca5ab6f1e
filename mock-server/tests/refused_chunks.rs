//! The upload host answers a refused chunk (out of order, repeated, bad headers, unknown or
//! expired URL) only after reading its body, so a client still sending gets the 4xx and
//! TikTok's error body, not a broken pipe; a body declared or running longer than the
//! largest chunk is not read past that bound, and the connection is closed after the answer.

use std::time::Duration;

use serde_json::{Value, json};
use tiktok_api::Scope;
use tiktok_mock::{ClockKind, MockServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for an answer before it calls the server hung.
const PATIENCE: Duration = Duration::from_secs(60);
/// Several MB: more than the socket buffers hold, so the client is still sending when a
/// server that does not read the body answers.
const LARGE: usize = 8_000_000;

async fn mock() -> MockServer {
    MockServer::builder()
        .clock_kind(ClockKind::Manual)
        .start()
        .await
}

/// Starts an inbox upload of `video_size` bytes in chunks of `chunk_size`; its upload URL.
async fn start_upload(mock: &MockServer, video_size: i64, chunk_size: i64) -> String {
    let token = mock.user_token(None, &[Scope::VideoUpload]);
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v2/post/publish/inbox/video/init/", mock.uri()))
        .bearer_auth(&token)
        .json(&json!({"source_info": {
            "source": "FILE_UPLOAD",
            "video_size": video_size,
            "chunk_size": chunk_size,
            "total_chunk_count": video_size / chunk_size,
        }}))
        .send()
        .await
        .expect("init")
        .json()
        .await
        .expect("init answer");
    answer["data"]["upload_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no upload_url: {answer}"))
        .to_owned()
}

/// PUTs `length` bytes with this `Content-Range` and `Content-Type` the way a simple client
/// does: the whole body written, then the answer read. The status and the JSON body, or
/// the transport error (a broken pipe when the server stops reading).
async fn put(
    url: &str,
    content_type: &str,
    range: &str,
    length: usize,
) -> Result<(u16, Value), std::io::Error> {
    let path = path_of(url);
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut stream = TcpStream::connect(host.as_str()).await?;
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nContent-Range: {range}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let piece = vec![0x42_u8; 1 << 20];
    let mut left = length;
    while left > 0 {
        let n = left.min(piece.len());
        stream.write_all(&piece[..n]).await?;
        left -= n;
    }
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("no answer within the patience"))??;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {head}")))?;
    Ok((status, serde_json::from_str(body).unwrap_or(json!(body))))
}

/// Asserts a TikTok-shaped error: `error.code`, a message, a `log_id`.
fn assert_refused(answer: Result<(u16, Value), std::io::Error>, status: u16, code: &str) {
    let (got, body) = answer.unwrap_or_else(|error| {
        panic!("expected {status} {code}, the client saw a transport error: {error:?}")
    });
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{body}"
    );
    assert!(
        body["error"]["log_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn a_client_still_sending_a_refused_chunk_reads_the_4xx() {
    let mock = mock().await;
    let total = 3 * LARGE as i64;
    let url = start_upload(&mock, total, LARGE as i64).await;
    let range = |first: usize| format!("bytes {first}-{}/{total}", first + LARGE - 1);

    // Out of order: the second chunk first.
    assert_refused(
        put(&url, "video/mp4", &range(LARGE), LARGE).await,
        416,
        "range_not_satisfiable",
    );
    // Bad headers: a Content-Type the host does not take.
    assert_refused(
        put(&url, "image/png", &range(0), LARGE).await,
        400,
        "invalid_params",
    );
    // The first chunk is taken (the connection is still good after the refusals)...
    let (status, _) = put(&url, "video/mp4", &range(0), LARGE)
        .await
        .expect("first chunk");
    assert_eq!(status, 206);
    // ...and refused when sent again.
    assert_refused(
        put(&url, "video/mp4", &range(0), LARGE).await,
        416,
        "range_not_satisfiable",
    );
    // A URL without an upload task.
    let unknown = url.replace("upload_token=", "upload_token=x");
    assert_refused(
        put(&unknown, "video/mp4", &range(LARGE), LARGE).await,
        404,
        "upload_not_found",
    );
    // The URL expired (one hour on the mock's clock).
    assert!(mock.advance(3_600));
    assert_refused(
        put(&url, "video/mp4", &range(LARGE), LARGE).await,
        403,
        "upload_url_expired",
    );
}

/// The path and query of an upload URL.
fn path_of(url: &str) -> String {
    let start = url.find("/upload/").expect("an upload path");
    url[start..].to_owned()
}

/// Reads what the server sends until it closes the connection or stops for [`PATIENCE`]
/// (a hang fails the test); the bytes read and whether the connection ended.
async fn read_answer(stream: &mut tokio::net::tcp::OwnedReadHalf) -> (String, bool) {
    let mut bytes = Vec::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let ended = tokio::time::timeout(PATIENCE, read_all).await.is_ok();
    (String::from_utf8_lossy(&bytes).into_owned(), ended)
}

/// Sends `head`, then up to `body` bytes while the server takes them; what the server
/// answered, whether it closed the connection, and how many body bytes went out.
async fn raw_exchange(mock: &MockServer, head: String, body: u64) -> (String, bool, u64) {
    let stream = TcpStream::connect(mock.address()).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let piece = vec![0x42_u8; 1 << 20];
        let mut sent = 0_u64;
        if writer.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        while sent < body {
            let n = (body - sent).min(piece.len() as u64) as usize;
            if writer.write_all(&piece[..n]).await.is_err() {
                break;
            }
            sent += n as u64;
        }
        sent
    });
    let (answer, ended) = read_answer(&mut reader).await;
    drop(reader);
    let sent = tokio::time::timeout(PATIENCE, sender)
        .await
        .expect("the sender stops once the connection is closed")
        .expect("joined");
    (answer, ended, sent)
}

/// A refused answer read off the wire, if one came: its status line carries `status`, its
/// body `code`, and it closes the connection.
fn assert_closing_refusal(answer: &str, status: u16, code: &str) {
    if answer.is_empty() {
        // The connection was cut before the answer arrived: allowed once the bound is
        // passed, as long as it did not hang.
        return;
    }
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{answer}"
    );
    assert!(answer.contains(code), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_body_declared_longer_than_the_largest_chunk_is_answered_and_the_connection_closed() {
    let mock = mock().await;
    let url = start_upload(&mock, 1_000, 1_000).await;
    let unknown = path_of(&url).replace("upload_token=", "upload_token=x");
    let huge = 10_000_000_000_u64;
    let head = format!(
        "PUT {unknown} HTTP/1.1\r\nHost: mock\r\nContent-Type: video/mp4\r\nContent-Length: {huge}\r\nContent-Range: bytes 0-{}/{huge}\r\n\r\n",
        huge - 1
    );
    let (answer, ended, sent) = raw_exchange(&mock, head, 64 << 20).await;
    assert!(ended, "the connection stays open: {answer}");
    assert_closing_refusal(&answer, 404, "upload_not_found");
    assert!(sent < 64 << 20, "the server read the whole body");

    // The mock is still up and the upload still takes its chunk.
    let (status, _) = put(&url, "video/mp4", "bytes 0-999/1000", 1_000)
        .await
        .expect("a chunk after the cut connection");
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_body_running_past_the_largest_chunk_is_cut_after_the_bound() {
    let mock = mock().await;
    let url = start_upload(&mock, 1_000, 1_000).await;
    let unknown = path_of(&url).replace("upload_token=", "upload_token=x");
    // No Content-Length: a chunked body, refused (the length is required) and read up to
    // the bound, then cut.
    let limit = tiktok_mock::content_posting::upload::drain_limit();
    let head = format!(
        "PUT {unknown} HTTP/1.1\r\nHost: mock\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\nContent-Range: bytes 0-999/1000\r\n\r\n"
    );
    // One chunked-encoding frame announcing more than the bound; its bytes follow.
    let announced = limit + (32 << 20);
    let head = format!("{head}{announced:x}\r\n");
    let (answer, ended, sent) = raw_exchange(&mock, head, announced).await;
    assert!(ended, "the connection stays open: {answer}");
    assert_closing_refusal(&answer, 404, "upload_not_found");
    assert!(sent < announced, "the server read past its bound");
}

#[tokio::test]
async fn a_client_waiting_for_100_continue_is_answered_without_sending_its_body() {
    let mock = mock().await;
    let url = start_upload(&mock, 1_000, 1_000).await;
    let unknown = path_of(&url).replace("upload_token=", "upload_token=x");
    let head = format!(
        "PUT {unknown} HTTP/1.1\r\nHost: mock\r\nContent-Type: video/mp4\r\nContent-Length: 1000\r\nContent-Range: bytes 0-999/1000\r\nExpect: 100-continue\r\n\r\n"
    );
    let (answer, ended, _) = raw_exchange(&mock, head, 0).await;
    assert!(ended, "the connection stays open: {answer}");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("upload_not_found"), "{answer}");
}
