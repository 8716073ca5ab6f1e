//! An axum endpoint for TikTok webhooks (feature `webhook-receiver`): it reads the raw
//! body, verifies `TikTok-Signature` at the current time, drops duplicate deliveries and
//! hands each new event, typed, to the app.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use tiktok_api::webhook::receiver::{WebhookEvent, WebhookReceiver};
//! use tiktok_api::webhook::Verifier;
//!
//! let receiver = WebhookReceiver::new(
//!     Verifier::new("the app's client secret"),
//!     |event: WebhookEvent| async move {
//!         println!("{} {:?}", event.payload.event, event.content);
//!         Ok::<(), std::convert::Infallible>(())
//!     },
//! );
//! let app = axum::Router::new().route("/webhooks/tiktok", receiver.method_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Answers, in the order the checks run:
//!
//! | Answer | When |
//! |---|---|
//! | 401 | no `TikTok-Signature`, a malformed one, a signature that does not match the body, or a timestamp outside the verifier's tolerance (a replay) |
//! | 400 | a genuine signature over a body that is not a webhook payload, or whose `content` does not parse as its event's schema |
//! | 200 | a new event the handler accepted, or a duplicate of an event already handed on (TikTok retries anything but a 2xx, so duplicates must succeed too) |
//! | 500 | the handler failed: the event is forgotten again, so TikTok's retry is handed on |
//!
//! The replay tolerance is the [`Verifier`]'s ([`crate::webhook::DEFAULT_TOLERANCE_SECONDS`]
//! unless set; the spec has no figure for it). Duplicates are recognised by
//! [`WebhookPayload::dedup_key`]: the receiver remembers the SHA-256 of the keys of the last
//! `capacity` distinct events ([`DEFAULT_CAPACITY`] unless set), first in, first out, so its
//! memory is bounded whatever arrives. An event older than that window comes through again.
//! A duplicate that arrives while the first copy is still with the handler is answered 200
//! too; should the handler then fail, the first copy's 500 makes TikTok send it again.
//! Bodies are read through axum's `Bytes` extractor, so axum's default body limit (2 MB)
//! applies.

/// `axum`, whose `Router` and `MethodRouter` the receiver plugs into: build your router with
/// `tiktok_api::webhook::receiver::axum` without depending on a matching version yourself.
pub use axum;

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::WebhookContent;
use crate::webhook::{SIGNATURE_HEADER, SignatureError, Verifier, WebhookPayload};

/// How many distinct events a receiver remembers unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A verified, parsed, first-seen webhook event.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The delivery's payload, as sent.
    pub payload: WebhookPayload,
    /// The payload's `content`, parsed as the schema of its event.
    pub content: WebhookContent,
}

/// What a [`WebhookHandler`] returns when it could not take an event; the delivery is
/// answered 500 and TikTok sends it again later.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Takes the events a [`WebhookReceiver`] hands on.
///
/// Any `Fn(WebhookEvent) -> impl Future<Output = Result<(), E>>` with `E:
/// Into<HandlerError>` is a handler; [`WebhookReceiverBuilder::channel`] gives one that
/// sends into an mpsc channel instead.
pub trait WebhookHandler: Send + Sync + 'static {
    /// Takes one event. `Ok` answers the delivery 200; an error answers it 500 and forgets
    /// the event, so TikTok's retry reaches the handler again.
    fn handle(&self, event: WebhookEvent) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<F, Fut, E> WebhookHandler for F
where
    F: Fn(WebhookEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<HandlerError>,
{
    fn handle(&self, event: WebhookEvent) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let future = self(event);
        async move { future.await.map_err(Into::into) }
    }
}

/// A handler that sends each event into a bounded mpsc channel. When the channel is full the
/// delivery waits (backpressure); when its receiving end is gone the delivery gets a 500.
#[derive(Debug, Clone)]
pub struct ChannelHandler {
    sender: mpsc::Sender<WebhookEvent>,
}

impl ChannelHandler {
    /// A handler sending into `sender`.
    pub fn new(sender: mpsc::Sender<WebhookEvent>) -> Self {
        ChannelHandler { sender }
    }
}

impl WebhookHandler for ChannelHandler {
    async fn handle(&self, event: WebhookEvent) -> Result<(), HandlerError> {
        self.sender
            .send(event)
            .await
            .map_err(|_| "the receiving end of the webhook channel is closed".into())
    }
}

/// How a receiver answered one delivery; as a response, its status and a short plain-text
/// body that never says more than the status about why a signature was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// A new event, taken by the handler: 200.
    Delivered,
    /// An event already handed on: 200, and the handler is not called.
    Duplicate,
    /// The signature header is missing, malformed, wrong or stale: 401.
    Rejected(SignatureError),
    /// A genuine signature over a body that does not parse: 400.
    Unparseable(serde_json::Error),
    /// The handler failed; the event is forgotten so that a retry gets through: 500.
    HandlerFailed(HandlerError),
}

impl Outcome {
    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Outcome::Delivered | Outcome::Duplicate => StatusCode::OK,
            Outcome::Rejected(_) => StatusCode::UNAUTHORIZED,
            Outcome::Unparseable(_) => StatusCode::BAD_REQUEST,
            Outcome::HandlerFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        let body = match &self {
            Outcome::Delivered => "ok",
            Outcome::Duplicate => "ok (duplicate)",
            Outcome::Rejected(_) => "invalid TikTok-Signature",
            Outcome::Unparseable(_) => "unparseable webhook payload",
            Outcome::HandlerFailed(_) => "the event could not be handled; retry later",
        };
        (self.status(), body).into_response()
    }
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;
type BoxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// [`WebhookHandler`] as a trait object.
trait ErasedHandler: Send + Sync {
    fn call(&self, event: WebhookEvent) -> BoxFuture<'_>;
}

impl<H: WebhookHandler> ErasedHandler for H {
    fn call(&self, event: WebhookEvent) -> BoxFuture<'_> {
        Box::pin(self.handle(event))
    }
}

/// The receiver's settings before a handler is chosen; from [`WebhookReceiver::builder`].
pub struct WebhookReceiverBuilder {
    verifier: Verifier,
    capacity: usize,
    clock: Option<Clock>,
}

impl fmt::Debug for WebhookReceiverBuilder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("WebhookReceiverBuilder")
            .field("verifier", &self.verifier)
            .field("capacity", &self.capacity)
            .field("custom_clock", &self.clock.is_some())
            .finish()
    }
}

impl WebhookReceiverBuilder {
    /// How many distinct events to remember for dropping duplicates (default
    /// [`DEFAULT_CAPACITY`]). 0 remembers none: every verified delivery is handed on.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Verifies against `now` (Unix seconds) instead of the system clock, e.g. a test
    /// server's virtual clock.
    pub fn clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    /// The receiver, handing events to `handler`.
    pub fn handler(self, handler: impl WebhookHandler) -> WebhookReceiver {
        WebhookReceiver {
            inner: Arc::new(Inner {
                verifier: self.verifier,
                clock: self.clock,
                seen: Mutex::new(SeenSet::new(self.capacity)),
                handler: Box::new(handler),
            }),
        }
    }

    /// The receiver, sending events into a new channel holding up to `buffer` events (at
    /// least 1), and that channel's receiving end.
    pub fn channel(self, buffer: usize) -> (WebhookReceiver, mpsc::Receiver<WebhookEvent>) {
        let (sender, receiver) = mpsc::channel(buffer.max(1));
        (self.handler(ChannelHandler::new(sender)), receiver)
    }
}

struct Inner {
    verifier: Verifier,
    clock: Option<Clock>,
    seen: Mutex<SeenSet>,
    handler: Box<dyn ErasedHandler>,
}

/// The webhook endpoint of one app: cheap to clone (all clones share the duplicate set).
#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Inner>,
}

impl fmt::Debug for WebhookReceiver {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("WebhookReceiver")
            .field("verifier", &self.inner.verifier)
            .field("capacity", &self.capacity())
            .field("remembered", &self.remembered())
            .field("custom_clock", &self.inner.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// A receiver with the default settings handing events to `handler`.
    pub fn new(verifier: Verifier, handler: impl WebhookHandler) -> WebhookReceiver {
        WebhookReceiver::builder(verifier).handler(handler)
    }

    /// A receiver with the default settings sending events into a new channel of `buffer`
    /// events, and that channel's receiving end.
    pub fn channel(
        verifier: Verifier,
        buffer: usize,
    ) -> (WebhookReceiver, mpsc::Receiver<WebhookEvent>) {
        WebhookReceiver::builder(verifier).channel(buffer)
    }

    /// Settings: duplicate capacity and clock.
    pub fn builder(verifier: Verifier) -> WebhookReceiverBuilder {
        WebhookReceiverBuilder {
            verifier,
            capacity: DEFAULT_CAPACITY,
            clock: None,
        }
    }

    /// A `POST` route for any axum router:
    /// `Router::new().route("/webhooks/tiktok", receiver.method_router())`.
    pub fn method_router<S>(&self) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let receiver = self.clone();
        post(move |headers: HeaderMap, body: Bytes| async move {
            receiver.receive(&headers, &body).await
        })
    }

    /// Handles one delivery, for apps that write their own axum handler: verifies, parses,
    /// drops a duplicate, calls the handler. The [`Outcome`] is the response to send.
    pub async fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Outcome {
        let payload = match self.verify(headers, body) {
            Ok(payload) => payload,
            Err(outcome) => return outcome,
        };
        let content = match payload.content() {
            Ok(content) => content,
            Err(error) => return Outcome::Unparseable(error),
        };
        let Some(claim) = self.claim(&payload) else {
            return Outcome::Duplicate;
        };
        match self
            .inner
            .handler
            .call(WebhookEvent { payload, content })
            .await
        {
            Ok(()) => {
                claim.keep();
                Outcome::Delivered
            }
            // Dropping the claim forgets the event, so the retry is handed on.
            Err(error) => Outcome::HandlerFailed(error),
        }
    }

    /// How many distinct events the receiver remembers at most.
    pub fn capacity(&self) -> usize {
        self.seen().capacity
    }

    /// How many distinct events the receiver remembers now (at most [`Self::capacity`]).
    pub fn remembered(&self) -> usize {
        self.seen().keys.len()
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookPayload, Outcome> {
        let header = headers
            .get(SIGNATURE_HEADER)
            .ok_or_else(|| SignatureError::Malformed(format!("no {SIGNATURE_HEADER} header")))
            .and_then(|value| {
                value.to_str().map_err(|_| {
                    SignatureError::Malformed(format!("{SIGNATURE_HEADER} is not ASCII"))
                })
            })
            .map_err(Outcome::Rejected)?;
        let verifier = &self.inner.verifier;
        let verified = match &self.inner.clock {
            Some(now) => verifier.verify(header, body, now()),
            None => verifier.verify_now(header, body),
        };
        verified.map_err(Outcome::Rejected)?;
        WebhookPayload::parse(body).map_err(Outcome::Unparseable)
    }

    /// Remembers the event, or `None` when it is already remembered.
    fn claim(&self, payload: &WebhookPayload) -> Option<Claim<'_>> {
        let key: [u8; 32] = Sha256::digest(payload.dedup_key().as_bytes()).into();
        // The set's lock is released before a claim exists: a claim locks it when dropped.
        let inserted = self.seen().insert(key);
        if !inserted {
            return None;
        }
        Some(Claim {
            seen: &self.inner.seen,
            key,
            kept: false,
        })
    }

    fn seen(&self) -> MutexGuard<'_, SeenSet> {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// An event being handed on: forgotten again on drop unless kept, so that a handler error
/// or a delivery abandoned half-way (the sender hung up) does not swallow TikTok's retry.
struct Claim<'a> {
    seen: &'a Mutex<SeenSet>,
    key: [u8; 32],
    kept: bool,
}

impl Claim<'_> {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.key);
        }
    }
}

/// A set of at most `capacity` keys; inserting into a full set forgets the oldest key.
#[derive(Debug)]
struct SeenSet {
    capacity: usize,
    keys: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl SeenSet {
    fn new(capacity: usize) -> SeenSet {
        // Reserve lazily: a large capacity costs memory only as events arrive.
        SeenSet {
            capacity,
            keys: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Adds `key`; false when it was already there. With capacity 0 nothing is remembered
    /// and every key is new.
    fn insert(&mut self, key: [u8; 32]) -> bool {
        if self.capacity == 0 {
            return true;
        }
        if self.keys.contains(&key) {
            return false;
        }
        while self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        self.keys.insert(key);
        self.order.push_back(key);
        true
    }

    /// Forgets `key` (a linear scan: only after a failed or abandoned hand-over).
    fn remove(&mut self, key: &[u8; 32]) {
        if self.keys.remove(key)
            && let Some(position) = self.order.iter().position(|entry| entry == key)
        {
            self.order.remove(position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> [u8; 32] {
        [byte; 32]
    }

    #[test]
    fn the_set_forgets_the_oldest_key_at_capacity() {
        let mut seen = SeenSet::new(3);
        for byte in 0..10 {
            assert!(seen.insert(key(byte)));
            assert!(!seen.insert(key(byte)));
            assert!(seen.keys.len() <= 3 && seen.order.len() <= 3);
        }
        assert_eq!(seen.keys.len(), 3);
        assert!(!seen.insert(key(9)));
        assert!(seen.insert(key(0)), "the oldest keys are forgotten");
    }

    #[test]
    fn removed_keys_are_new_again() {
        let mut seen = SeenSet::new(2);
        assert!(seen.insert(key(1)));
        assert!(seen.insert(key(2)));
        seen.remove(&key(1));
        assert_eq!((seen.keys.len(), seen.order.len()), (1, 1));
        assert!(seen.insert(key(1)));
        assert!(!seen.insert(key(2)));
        seen.remove(&key(7));
        assert_eq!((seen.keys.len(), seen.order.len()), (2, 2));
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let mut seen = SeenSet::new(0);
        assert!(seen.insert(key(1)));
        assert!(seen.insert(key(1)));
        assert!(seen.keys.is_empty());
    }
}
