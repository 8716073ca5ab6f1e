//! The upload step whose body arrives late, over a raw socket (`Expect: 100-continue`), and
//! the events that end a post.

use crate::model::VIDEO_SIZE;

/// The events that end a post, in both families: at most one per publish id.
pub(crate) const ENDING_EVENTS: [&str; 4] = [
    "video.upload.failed",
    "video.publish.completed",
    "post.publish.failed",
    "post.publish.complete",
];

/// PUTs the single chunk of a post over a raw socket with `Expect: 100-continue`: the mock
/// asks for the body (`100 Continue`) only once it has checked everything it checks on
/// arrival; then the clock moves by `advance_ms` and the body goes. The clock moves either
/// way. Returns the final status.
pub(crate) async fn late_put(
    upload_url: &str,
    control: &tiktok_mock::testing::Control,
    advance_ms: i64,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(upload_url).unwrap_or_else(|error| panic!("{upload_url}: {error}"));
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port_or_known_default().unwrap_or(80);
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .unwrap_or_else(|error| panic!("{upload_url}: {error}"));
    let head = format!(
        "PUT {}?{} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: video/mp4\r\nContent-Length: {VIDEO_SIZE}\r\nContent-Range: bytes 0-{}/{VIDEO_SIZE}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        url.path(),
        url.query().unwrap_or_default(),
        VIDEO_SIZE - 1
    );
    stream
        .write_all(head.as_bytes())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut buffer = Vec::new();
    let mut status = read_status(&mut stream, &mut buffer).await;
    control.advance_ms(advance_ms).await;
    if status == 100 {
        stream
            .write_all(&vec![0x5a_u8; VIDEO_SIZE as usize])
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        status = read_status(&mut stream, &mut buffer).await;
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    status
}

/// Reads one response head from `stream` (bytes past it stay in `buffer`); its status.
async fn read_status(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> u16 {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            return head
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("not a response head: {head:?}"));
        }
        let mut chunk = [0u8; 4096];
        let read = stream
            .read(&mut chunk)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(
            read > 0,
            "the connection closed before an answer: {:?}",
            String::from_utf8_lossy(buffer)
        );
        buffer.extend_from_slice(&chunk[..read]);
    }
}
