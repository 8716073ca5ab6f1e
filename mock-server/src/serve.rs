//! [`serve`]: the mock's router on a listener, with server-side limits: a header-read
//! timeout, a per-read body timeout, an idle timeout, a connection cap, and a graceful
//! shutdown bounded by a grace period. HTTP/1.1 and HTTP/2 (prior knowledge, `h2c`) are
//! served on the same socket.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The server-side limits (`--header-timeout`, `--body-timeout`, `--idle-timeout`,
/// `--max-connections`, `--shutdown-grace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// How long a client has to send a whole request head (HTTP/1.1); the connection is
    /// closed after it. The timer also runs while a kept-alive HTTP/1.1 connection waits
    /// for its next request, so it bounds those too. Default 30 s.
    pub header_timeout: Duration,
    /// How long a request body may go without a byte arriving (reset by every read, so a
    /// slow but moving chunk upload is never cut); the call then gets 400. Default 60 s.
    pub body_timeout: Duration,
    /// How long a connection with no request in progress may stay open without traffic
    /// (an HTTP/2 connection with no stream; an HTTP/1.1 one waiting for its next request
    /// is closed by the header timeout first when that is shorter). It is looked at every
    /// quarter of this (at least every millisecond), so it is closed within about a
    /// quarter more on a machine that keeps up. Default 75 s.
    pub idle_timeout: Duration,
    /// How many connections are served at once; more wait to be accepted. Default
    /// [`default_max_connections`]: 4096, or fewer under a lower descriptor limit.
    pub max_connections: usize,
    /// On shutdown, how long connections get to finish their calls before they are
    /// dropped. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            max_connections: default_max_connections(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The most connections served at once when nothing says otherwise. A pooled client that
/// sends many calls at once keeps each connection open once its call is answered, so the
/// cap must hold a test's whole burst; what it protects against is running out of
/// descriptors, which [`default_max_connections`] keeps below.
pub const MAX_CONNECTIONS: usize = 4096;

/// Descriptors kept for everything but connections: the listener, the state file, its WAL
/// and lock file, stdio, webhook deliveries.
const RESERVED_DESCRIPTORS: u64 = 64;

/// [`MAX_CONNECTIONS`], or fewer when the process may open fewer descriptors (`ulimit -n`),
/// so connections waiting to be accepted wait in the kernel's queue instead of taking the
/// descriptors the mock needs to answer (a health check, a state file write).
pub fn default_max_connections() -> usize {
    connections_for(descriptor_limit())
}

/// The connection cap under a descriptor limit (`None`: none known).
fn connections_for(limit: Option<u64>) -> usize {
    match limit {
        None => MAX_CONNECTIONS,
        Some(limit) => {
            let usable = limit
                .saturating_sub(RESERVED_DESCRIPTORS)
                .max(limit / 2)
                .max(1);
            usize::try_from(usable).map_or(MAX_CONNECTIONS, |usable| usable.min(MAX_CONNECTIONS))
        }
    }
}

/// The soft limit on open descriptors, if there is one.
#[cfg(unix)]
fn descriptor_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<u64> {
    None
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish its calls for up to [`ServeOptions::shutdown_grace`], drops those that
/// remain, and returns. A zero duration turns that timeout off (the grace period then is
/// none: connections are dropped at once); `max_connections` of 0 is taken as 1.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(nonzero(options.header_timeout));
    builder.http2().timer(TokioTimer::new());
    let body_timeout = nonzero(options.body_timeout);
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let shutdown = shutdown;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors, most often: back off rather than spin.
                    tracing::warn!("accept: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let router = router.clone();
        let builder = builder.clone();
        let mut stopped = stopped.clone();
        let idle = options.idle_timeout;
        connections.spawn(async move {
            let _permit = permit;
            let calls = activity.clone();
            let service = hyper::service::service_fn(move |request| {
                let router = router.clone();
                let guard = calls.begin();
                // The body timeout wraps the body here rather than as a layer of the
                // router, which would wrap every route in another (a boxed future, a map
                // and a second body box a call).
                let request = request.map(|body| match body_timeout {
                    Some(timeout) => Body::new(TimeoutBody::new(timeout, body)),
                    None => Body::new(body),
                });
                async move {
                    let response = router.oneshot(request).await;
                    drop(guard);
                    response
                }
            });
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            let mut draining = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    _ = stopped.changed(), if !draining => {
                        connection.as_mut().graceful_shutdown();
                        draining = true;
                    }
                    () = activity.idle_for(idle), if !idle.is_zero() => break,
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(options.shutdown_grace, drained).await;
    connections.shutdown().await;
}

/// How many times the idle watch looks at a connection within its idle timeout.
const IDLE_LOOKS: u32 = 4;

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// A connection's traffic: whether bytes moved since the idle watch last looked (one
/// relaxed store a read or write, no clock read), and how many calls are in progress.
struct Activity {
    moved: AtomicBool,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            moved: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        self.moved.store(true, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no traffic and no call in progress for `idle`:
    /// four quiet looks in a row, a quarter of it apart (at least 1 ms). Looks count, not
    /// time, so a paused process never closes a connection early.
    async fn idle_for(&self, idle: Duration) {
        let slice = (idle / IDLE_LOOKS).max(Duration::from_millis(1));
        let mut quiet = Duration::ZERO;
        while quiet < idle {
            tokio::time::sleep(slice).await;
            let moved = self.moved.swap(false, Ordering::Relaxed);
            // A call in progress: its own timeouts apply.
            quiet = if moved || self.in_flight.load(Ordering::Acquire) > 0 {
                Duration::ZERO
            } else {
                quiet + slice
            };
        }
    }
}

/// A call in progress on a connection, until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TCP stream that notes in its [`Activity`] when bytes move.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    /// Larger than the limit the reader set: 413.
    TooLarge,
    /// No byte for [`ServeOptions::body_timeout`]: 400.
    Stalled,
    /// Malformed framing (a bad chunk size) or cut short: 400.
    Malformed,
}

impl BodyFailure {
    /// The failure an error of reading a body stands for, from its chain of sources.
    pub fn of(error: &(dyn std::error::Error + 'static)) -> BodyFailure {
        let mut current = Some(error);
        while let Some(error) = current {
            if error.is::<http_body_util::LengthLimitError>() {
                return BodyFailure::TooLarge;
            }
            if error.is::<tower_http::timeout::TimeoutError>() {
                return BodyFailure::Stalled;
            }
            current = error.source();
        }
        BodyFailure::Malformed
    }

    /// The message of the error answered.
    pub fn message(self) -> &'static str {
        match self {
            BodyFailure::TooLarge => "The request body is larger than the limit.",
            BodyFailure::Stalled => {
                "The request body stalled: no byte arrived within the body timeout."
            }
            BodyFailure::Malformed => {
                "The request body is malformed (bad chunked framing) or was cut short."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_to_answer_with() {
        assert_eq!(connections_for(None), MAX_CONNECTIONS);
        assert_eq!(connections_for(Some(1_048_576)), MAX_CONNECTIONS);
        assert_eq!(connections_for(Some(1024)), 960);
        // The limit an outside check ran at: 250 idle connections took every descriptor.
        assert_eq!(connections_for(Some(256)), 192);
        assert_eq!(connections_for(Some(100)), 50);
        assert_eq!(connections_for(Some(1)), 1);
        assert_eq!(connections_for(Some(0)), 1);
    }
}
