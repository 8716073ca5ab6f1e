//! [`Receiver`]: a webhook receiver on `127.0.0.1` for tests against the mock, the one the
//! mock's own tests and the conformance properties share.
//!
//! It keeps every request as it arrived ([`Arrival`]: the `TikTok-Signature` header and the
//! exact bytes), duplicates included, so a test can verify signatures itself and tamper
//! with copies. Started with a secret ([`Receiver::start`]), it also verifies each
//! delivery with `tiktok_api`'s `Verifier` at the mock's time and keeps the verified ones
//! ([`Received`]) and the reasons for the rejected ones apart; started with
//! [`Receiver::recording`], it verifies nothing and answers 200 to everything. Either way
//! [`Receiver::answer`] makes it fail deliveries with another status, and
//! [`Receiver::delay`] makes it answer late (slower than the mock's delivery timeout).
//! [`DownPort`] holds a port for a receiver that is down and comes back on it later.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use parking_lot::Mutex;
use tiktok_api::webhook::{SIGNATURE_HEADER, Verifier, WebhookPayload};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

use crate::clock::system_now_ms;
use crate::server::MockServer;

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The `TikTok-Signature` header, if any.
    pub signature: Option<String>,
    /// The exact body.
    pub body: Vec<u8>,
}

/// One delivery the receiver verified and parsed.
#[derive(Debug, Clone)]
pub struct Received {
    /// The parsed payload.
    pub payload: WebhookPayload,
    /// The exact body.
    pub body: Vec<u8>,
    /// The `TikTok-Signature` header.
    pub signature: String,
}

/// The seconds of Unix time a verifying receiver checks signatures at.
type Now = Box<dyn Fn() -> i64 + Send + Sync>;

struct Inner {
    /// The verifier and the time to verify at; `None` for a recording receiver.
    verify: Option<(Verifier, Now)>,
    status: AtomicU16,
    /// How long to wait before answering, milliseconds of real time.
    delay_ms: AtomicU64,
    requests: AtomicU32,
    arrivals: Mutex<Vec<Arrival>>,
    received: Mutex<Vec<Received>>,
    rejected: Mutex<Vec<String>>,
}

/// A webhook receiver on a real socket, stopped by [`Receiver::stop`] or with the runtime.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    /// The URL to give the mock as the callback.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    task: Arc<JoinHandle<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Receiver")
            .field("url", &self.url)
            .field("verifying", &self.inner.verify.is_some())
            .finish_non_exhaustive()
    }
}

/// Records the request and waits the set delay, then answers the set status, or (when
/// verifying) 401 for a delivery that does not verify and 200 for one that does. A delivery
/// is kept as received when it arrives, even when its answer then comes too late for the
/// mock (as a real receiver that is slow to answer has still seen the event).
async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = check(&inner, &headers, &body);
    let delay = inner.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    status
}

/// What [`receive`] answers, the request recorded.
fn check(inner: &Inner, headers: &HeaderMap, body: &Bytes) -> StatusCode {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    inner.arrivals.lock().push(Arrival {
        signature: signature.clone(),
        body: body.to_vec(),
    });
    let status = inner.status.load(Ordering::SeqCst);
    if status != 200 {
        return StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let Some((verifier, now)) = &inner.verify else {
        return StatusCode::OK;
    };
    let Some(signature) = signature else {
        inner.rejected.lock().push("no signature".into());
        return StatusCode::UNAUTHORIZED;
    };
    match verifier.verify_payload(&signature, body, now()) {
        Ok(payload) => {
            inner.received.lock().push(Received {
                payload,
                body: body.to_vec(),
                signature,
            });
            StatusCode::OK
        }
        Err(error) => {
            inner.rejected.lock().push(error.to_string());
            StatusCode::UNAUTHORIZED
        }
    }
}

/// Binds a free port of `127.0.0.1`, panicking with the reason if it cannot.
async fn bind() -> TcpListener {
    match TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(listener) => listener,
        Err(error) => panic!("cannot bind a webhook receiver: {error}"),
    }
}

/// A port of `127.0.0.1` held for a receiver that is down: bound, so that nothing else takes
/// it, but not listening, so that every connection to it is refused until the receiver comes
/// back on it ([`Receiver::start_on`], [`DownPort::listen`]). Unlike a port found free and
/// released, it cannot be taken by another process in between.
#[derive(Debug)]
pub struct DownPort {
    socket: TcpSocket,
    port: u16,
}

impl DownPort {
    /// Holds a free port.
    ///
    /// # Panics
    /// If no port can be bound.
    pub fn bind() -> DownPort {
        let bound = TcpSocket::new_v4().and_then(|socket| {
            socket.bind(([127, 0, 0, 1], 0).into())?;
            let port = socket.local_addr()?.port();
            Ok(DownPort { socket, port })
        });
        bound.unwrap_or_else(|error| panic!("cannot hold a port: {error}"))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:{port}/hook`, where a receiver on this port answers.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Starts listening on the port (the receiver is back).
    ///
    /// # Panics
    /// If the socket cannot listen.
    pub fn listen(self) -> TcpListener {
        let port = self.port;
        self.socket
            .listen(1024)
            .unwrap_or_else(|error| panic!("cannot listen on port {port}: {error}"))
    }
}

/// Polls `check` every 10 ms of real time, at most 1000 times.
async fn poll<T, F, Fut>(check: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..1000 {
        if let Some(value) = check().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

impl Receiver {
    /// A receiver on a free port verifying with `secret` at the mock's time.
    pub async fn start(mock: &MockServer, secret: &str) -> Receiver {
        Receiver::at_mock_time(mock, secret, bind().await)
    }

    /// A receiver on the held `port` verifying with `secret` at the mock's time (for "the
    /// receiver comes back" on the port it had).
    pub fn start_on(mock: &MockServer, secret: &str, port: DownPort) -> Receiver {
        Receiver::at_mock_time(mock, secret, port.listen())
    }

    fn at_mock_time(mock: &MockServer, secret: &str, listener: TcpListener) -> Receiver {
        let state = mock.state().clone();
        let now: Now = Box::new(move || state.now_ms().div_euclid(1000));
        Receiver::serve(listener, Some((Verifier::new(secret), now)))
    }

    /// A receiver verifying with `secret` at the wall clock's time (for the mock's binary,
    /// whose clock is its own).
    pub async fn start_wall_clock(secret: &str) -> Receiver {
        let now: Now = Box::new(|| system_now_ms().div_euclid(1000));
        Receiver::serve(bind().await, Some((Verifier::new(secret), now)))
    }

    /// A receiver on a free port that verifies nothing and answers 200 to everything.
    pub async fn recording() -> Receiver {
        Receiver::serve(bind().await, None)
    }

    fn serve(listener: TcpListener, verify: Option<(Verifier, Now)>) -> Receiver {
        let port = match listener.local_addr() {
            Ok(address) => address.port(),
            Err(error) => panic!("receiver address: {error}"),
        };
        let inner = Arc::new(Inner {
            verify,
            status: AtomicU16::new(200),
            delay_ms: AtomicU64::new(0),
            requests: AtomicU32::new(0),
            arrivals: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            inner,
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            task: Arc::new(task),
        }
    }

    /// Answers every request with `status` from now on (not 200: the delivery fails).
    pub fn answer(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Answers every request `delay` of real time after it arrived from now on (zero: at
    /// once); longer than the mock's `attempt_timeout_ms`, the attempt fails there.
    pub fn delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.inner.delay_ms.store(millis, Ordering::SeqCst);
    }

    /// Every request so far, answered or not.
    pub fn requests(&self) -> u32 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// The verified deliveries so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().clone()
    }

    /// Why each delivery that failed verification failed.
    pub fn rejected(&self) -> Vec<String> {
        self.inner.rejected.lock().clone()
    }

    /// Every request kept so far, as it arrived, and forgets them.
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.inner.arrivals.lock())
    }

    /// Stops listening.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// Waits (real time, up to 10 s) until `count` verified deliveries arrived; panics if
    /// they did not.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let found = poll(|| async {
            let received = self.received();
            (received.len() >= count).then_some(received)
        })
        .await;
        found.unwrap_or_else(|| panic!("condition not met in 10 s"))
    }

    /// Waits (real time, up to 10 s) until at least `count` requests are kept, then takes
    /// them all; `Err` with what came if they did not.
    pub async fn wait_for_arrivals(&self, count: usize) -> Result<Vec<Arrival>, Vec<Arrival>> {
        let arrived = poll(|| async { (self.inner.arrivals.lock().len() >= count).then_some(()) })
            .await
            .is_some();
        if arrived {
            Ok(self.take())
        } else {
            Err(self.take())
        }
    }
}
