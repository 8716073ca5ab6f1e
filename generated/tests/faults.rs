//! The client against faults on a real socket: a proxy in front of the mock that, request by
//! request, passes the call on, answers later than the client waits, drops the connection
//! without answering, or cuts the answer short; TikTok-shaped 500s come from the mock's own
//! fault injection. Reads are retried within the policy's bounds, a write is sent once
//! unless nothing reached the server, and giving up is a typed error. Attempts are counted
//! where they arrive: at the proxy, and in the mock's call log. (The webhook side:
//! `mock-server/tests/faults.rs`.)

mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use common::{Control, DEMO_OPEN_ID, PRIVATE_OPEN_ID, mock};
use parking_lot::Mutex;
use serde_json::Value;
use tiktok_api::{
    Client, Error, ErrorCode, PostInfo, PrivacyLevel, RetryPolicy, Source, UserField,
    VideoInitRequest, VideoSourceInfo,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Passes it to the mock and its answer back.
    Pass,
    /// Passes it to the mock, then holds the answer until the client hangs up.
    Late,
    /// Reads it, then closes the connection without answering (the mock never sees it).
    Drop,
    /// Passes it to the mock, sends the answer's head and half its body, then closes.
    Cut,
}

#[derive(Default)]
struct Script {
    /// The faults of the next requests, in order; `Pass` once it is empty.
    next: VecDeque<Fault>,
    /// Every request that arrived: its path and what was done with it.
    seen: Vec<(String, Fault)>,
}

/// A proxy on `127.0.0.1` in front of the mock.
struct Proxy {
    base: String,
    script: Arc<Mutex<Script>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let script = Arc::new(Mutex::new(Script::default()));
        let http = reqwest::Client::new();
        let upstream = upstream.to_owned();
        let shared = script.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = Connection {
                    upstream: upstream.clone(),
                    http: http.clone(),
                    script: shared.clone(),
                };
                tokio::spawn(connection.serve(stream));
            }
        });
        Proxy { base, script }
    }

    /// The next requests meet these faults, in order.
    fn then(&self, faults: &[Fault]) {
        self.script.lock().next.extend(faults);
    }

    /// What was done with each request to `path` so far.
    fn seen(&self, path: &str) -> Vec<Fault> {
        let script = self.script.lock();
        script
            .seen
            .iter()
            .filter(|(seen, _)| seen.starts_with(path))
            .map(|(_, fault)| *fault)
            .collect()
    }
}

/// One request as read off the socket.
struct Request {
    method: reqwest::Method,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Connection {
    upstream: String,
    http: reqwest::Client,
    script: Arc<Mutex<Script>>,
}

impl Connection {
    /// Serves requests on one connection (kept alive) until a fault closes it.
    async fn serve(self, mut stream: TcpStream) {
        let mut buffer = Vec::new();
        while let Some(request) = read_request(&mut stream, &mut buffer).await {
            let fault = {
                let mut script = self.script.lock();
                let fault = script.next.pop_front().unwrap_or(Fault::Pass);
                script.seen.push((request.target.clone(), fault));
                fault
            };
            if fault == Fault::Drop {
                return;
            }
            let (head, body) = self.forward(request).await;
            match fault {
                Fault::Pass => {
                    if write(&mut stream, &head, &body).await.is_err() {
                        return;
                    }
                }
                Fault::Late => {
                    // Nothing is sent; wait (bounded) for the client to give up and hang up.
                    let mut byte = [0u8; 1];
                    let _ =
                        tokio::time::timeout(Duration::from_secs(60), stream.read(&mut byte)).await;
                    return;
                }
                Fault::Cut => {
                    let _ = write(&mut stream, &head, &body[..body.len() / 2]).await;
                    return;
                }
                Fault::Drop => unreachable!("handled above"),
            }
        }
    }

    /// Sends the request to the mock; the answer's head (its length the whole body's) and body.
    async fn forward(&self, request: Request) -> (String, Vec<u8>) {
        let mut outgoing = self
            .http
            .request(
                request.method,
                format!("{}{}", self.upstream, request.target),
            )
            .body(request.body);
        for (name, value) in &request.headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                outgoing = outgoing.header(name, value);
            }
        }
        let response = outgoing.send().await.expect("the mock answers");
        let status = response.status();
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in response.headers() {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                head.push_str(&format!(
                    "{name}: {}\r\n",
                    value.to_str().unwrap_or_default()
                ));
            }
        }
        let body = response.bytes().await.expect("the mock's body").to_vec();
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        (head, body)
    }
}

async fn write(stream: &mut TcpStream, head: &str, body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

/// Reads one request (head and `content-length` body) from the connection; `None` when the
/// client closed it. `buffer` keeps what was read past the request.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.parse().expect("a method");
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().expect("a length"));
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// A client through `base` with `attempts` attempts, quick backoff, a short timeout and no
/// local limiter (the attempts are what is counted here).
fn client(base: &str, attempts: u32) -> Client {
    Client::builder()
        .base_url(base)
        .timeout(Duration::from_secs(1))
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(attempts)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(5)),
        )
        .rate_limiter(None)
        .build()
        .expect("client")
}

async fn token(control: &Control, open_id: &str, scopes: &[&str]) -> String {
    let minted: Value = control.mint(open_id, scopes).await;
    minted["access_token"].as_str().expect("a token").to_owned()
}

const USER_INFO: &str = "/v2/user/info/";
const VIDEO_INIT: &str = "/v2/post/publish/video/init/";

#[tokio::test]
async fn a_read_is_retried_through_a_500_a_late_answer_a_drop_and_a_cut() {
    let (_mock, control) = mock().await;
    let proxy = Proxy::start(control.base()).await;
    let token = token(&control, DEMO_OPEN_ID, &["user.info.basic"]).await;
    let client = client(&proxy.base, 5);
    // The first call to reach the mock gets its TikTok-shaped 500.
    control.fault("user_info", 1, "internal_error").await;
    proxy.then(&[Fault::Pass, Fault::Late, Fault::Drop, Fault::Cut]);
    let me = client
        .user_info(&token, &[UserField::OpenId])
        .await
        .expect("the fifth attempt gets through");
    assert_eq!(me.user.open_id.as_deref(), Some(DEMO_OPEN_ID));
    assert_eq!(
        proxy.seen(USER_INFO),
        [
            Fault::Pass,
            Fault::Late,
            Fault::Drop,
            Fault::Cut,
            Fault::Pass
        ]
    );
    // All but the dropped one reached the mock.
    assert_eq!(control.calls_to("user_info").await.len(), 4);
}

#[tokio::test]
async fn a_read_gives_up_after_the_policys_attempts_with_the_last_error() {
    let (_mock, control) = mock().await;
    let proxy = Proxy::start(control.base()).await;
    let token = token(&control, DEMO_OPEN_ID, &["user.info.basic"]).await;
    let client = client(&proxy.base, 3);

    // Ending on the mock's 500: the API error, with the log_id of the mock's last call. (The
    // late attempt reaches the mock too and takes one of the two faults.)
    control.fault("user_info", 2, "internal_error").await;
    proxy.then(&[Fault::Drop, Fault::Late, Fault::Pass]);
    let error = client
        .user_info(&token, &[UserField::OpenId])
        .await
        .expect_err("three faults for three attempts");
    // The last attempt's own error, to match as any other, with the attempts alongside.
    assert!(
        matches!(
            error,
            Error::Api {
                status: 500,
                code: ErrorCode::InternalError,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.attempts().count, 3);
    let calls = control.calls_to("user_info").await;
    assert_eq!(calls.len(), 2, "the dropped attempt never reached the mock");
    assert_eq!(
        error.log_id(),
        calls.last().expect("a call")["log_id"].as_str()
    );
    assert_eq!(proxy.seen(USER_INFO).len(), 3, "no fourth attempt");

    // Ending on a cut answer: the transport error.
    proxy.then(&[Fault::Late, Fault::Drop, Fault::Cut]);
    let error = client
        .user_info(&token, &[UserField::OpenId])
        .await
        .expect_err("three faults for three attempts");
    assert_eq!(error.attempts().count, 3);
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(proxy.seen(USER_INFO).len(), 6);
}

/// A direct post's init from a file (the private creator's: `SELF_ONLY`).
fn video_init() -> VideoInitRequest {
    VideoInitRequest {
        post_info: PostInfo::new(PrivacyLevel::SelfOnly),
        source_info: VideoSourceInfo {
            source: Source::FileUpload,
            video_url: None,
            video_size: Some(1000),
            chunk_size: Some(1000),
            total_chunk_count: Some(1),
        },
    }
}

/// How many posts the mock holds.
async fn posts(control: &Control) -> usize {
    let posts = control.get("/_mock/posts").await;
    posts["posts"].as_array().map_or(0, Vec::len)
}

/// How many posts the mock holds once it holds `expected` (the proxy may still be passing a
/// late request on when the client gives up), or after 5 s.
async fn posts_reaching(control: &Control, expected: usize) -> usize {
    for _ in 0..500 {
        let count = posts(control).await;
        if count >= expected {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    posts(control).await
}

#[tokio::test]
async fn a_write_is_sent_once_when_the_server_may_have_acted() {
    let (_mock, control) = mock().await;
    let proxy = Proxy::start(control.base()).await;
    let token = token(&control, PRIVATE_OPEN_ID, &["video.publish"]).await;
    let client = client(&proxy.base, 4);
    let before = posts(&control).await;

    // The mock's 500: an API error, not resent, nothing created.
    control.fault("video_init", 1, "internal_error").await;
    let error = client.video_init(&token, &video_init()).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Api {
                status: 500,
                code: ErrorCode::InternalError,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(posts(&control).await, before);

    // No answer in time, the connection dropped, the answer cut short: transport errors,
    // each after one attempt. The late and the cut one were done by the mock all the same.
    for (fault, created) in [(Fault::Late, 1), (Fault::Drop, 0), (Fault::Cut, 1)] {
        let before = posts(&control).await;
        proxy.then(&[fault]);
        let error = client.video_init(&token, &video_init()).await.unwrap_err();
        let Error::Transport {
            source: transport, ..
        } = &error
        else {
            panic!("{fault:?}: expected a transport error, got {error:?}");
        };
        assert_eq!(
            transport.is_timeout(),
            fault == Fault::Late,
            "{transport:?}"
        );
        assert!(!transport.is_connect(), "{transport:?}");
        assert_eq!(error.attempts().count, 1);
        assert!(!error.proves_nothing_done());
        assert_eq!(
            posts_reaching(&control, before + created).await,
            before + created,
            "{fault:?}"
        );
    }
    assert_eq!(
        proxy.seen(VIDEO_INIT),
        [Fault::Pass, Fault::Late, Fault::Drop, Fault::Cut],
        "no write was sent twice"
    );
    assert_eq!(control.calls_to("video_init").await.len(), 3);
}

#[tokio::test]
async fn a_write_that_never_reached_the_server_is_resent_within_bounds() {
    // A port held bound but not listening: every connection is refused, so nothing was
    // done, and no other process can take the port meanwhile.
    let down = tiktok_mock::DownPort::bind();
    let client = client(&format!("http://127.0.0.1:{}", down.port()), 4);
    let error = client
        .video_init("act.unused", &video_init())
        .await
        .unwrap_err();
    assert_eq!(error.attempts().count, 4);
    assert!(
        matches!(&error, Error::Transport { source, .. } if source.is_connect()),
        "{error:?}"
    );
    // The refused connection is the error's source, so an error chain shows it.
    assert!(std::error::Error::source(&error).is_some());
    assert!(error.proves_nothing_done());
}
