//! The webhook queue: events queued per app, signed with the app's client_secret and delivered to its
//! callback URL by a background task, at least once, with retries on the mock's clock.
//!
//! Every event becomes a [`Delivery`]: the exact payload bytes (TikTok's shape, `content` a
//! JSON string), a due time and the list of attempts. A worker task wakes on a short real-time
//! tick and whenever an event is queued or the clock is advanced ([`Webhooks::wake`]), sends
//! every delivery whose due time has come on the mock's clock, and records the answer. A
//! non-200 answer (or no answer within `attempt_timeout_ms` of real time) schedules the next
//! attempt with exponential backoff
//! (`first_retry_seconds`, doubling, at most `max_retry_interval_seconds`); once the next
//! attempt would fall more than `retry_window_seconds` (72 h) after the event, the delivery
//! is dropped and logged. On a manual clock nothing is retried until the clock moves.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tiktok_api::WebhookEventKind;
use tiktok_api::webhook::{SIGNATURE_HEADER, WebhookPayload, signature_header};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::store::Store;

/// The real-time interval at which the worker checks for due deliveries.
const TICK: Duration = Duration::from_millis(50);

pub use crate::store::records::{Attempt, Delivery, DeliveryState};

/// How deliveries are retried and duplicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Every Nth event is delivered twice (0: never).
    pub duplicate_every: u32,
    /// Delay before the first retry, seconds; it doubles after each failure.
    pub first_retry_seconds: i64,
    /// The longest delay between two attempts, seconds.
    pub max_retry_interval_seconds: i64,
    /// How long after the event attempts go on, seconds (TikTok: 72 hours).
    pub retry_window_seconds: i64,
    /// How long one attempt may take before it counts as failed, milliseconds of real time
    /// (the receiver's answer is not waited for on the mock's clock).
    pub attempt_timeout_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            duplicate_every: 0,
            first_retry_seconds: 60,
            max_retry_interval_seconds: 6 * 3600,
            retry_window_seconds: i64::try_from(
                tiktok_api::spec_constants::WEBHOOK_RETRY_WINDOW_SECONDS,
            )
            .unwrap_or(i64::MAX),
            attempt_timeout_ms: 10_000,
        }
    }
}

impl WebhookSettings {
    /// Why these settings can't be used, if they can't.
    pub fn check(&self) -> Result<(), String> {
        if self.first_retry_seconds < 1
            || self.max_retry_interval_seconds < 1
            || self.retry_window_seconds < 0
            || self.attempt_timeout_ms < 1
        {
            return Err(
                "first_retry_seconds, max_retry_interval_seconds and attempt_timeout_ms must be at least 1, retry_window_seconds at least 0"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// The delay after the `failures`-th failed attempt (1-based), milliseconds.
    pub fn backoff_ms(&self, failures: usize) -> i64 {
        let exponent = failures.saturating_sub(1).min(40) as u32;
        let delay = self
            .first_retry_seconds
            .max(1)
            .saturating_mul(1_i64 << exponent);
        delay
            .min(self.max_retry_interval_seconds.max(1))
            .saturating_mul(1000)
    }
}

/// How many finished (delivered or dropped) deliveries the queue keeps for
/// `/_mock/webhooks/deliveries`, the oldest forgotten first; pending ones are always kept.
pub const KEPT_FINISHED_DELIVERIES: usize = 10_000;

#[derive(Debug, Default)]
struct Queue {
    deliveries: BTreeMap<u64, Delivery>,
    /// The ids of the finished deliveries, in the order they finished.
    finished: VecDeque<u64>,
    events: u64,
    settings: WebhookSettings,
}

impl Queue {
    /// Notes that delivery `id` finished; forgets the oldest finished ones beyond
    /// [`KEPT_FINISHED_DELIVERIES`] (here and in the store), so the list stays bounded
    /// however many events a long run sends.
    fn note_finished(&mut self, id: u64, store: &dyn Store) {
        self.finished.push_back(id);
        while self.finished.len() > KEPT_FINISHED_DELIVERIES {
            if let Some(old) = self.finished.pop_front() {
                self.deliveries.remove(&old);
                store.forget_delivery(old);
            }
        }
    }
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    next_id: AtomicU64,
    wake: Arc<Notify>,
}

/// The webhook queue of one mock and its delivery worker.
#[derive(Debug)]
pub struct Webhooks {
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    worker_started: AtomicBool,
}

impl Webhooks {
    /// A queue delivering on behalf of the apps of `store`, timed by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Webhooks {
        Webhooks {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                next_id: AtomicU64::new(1),
                wake: Arc::new(Notify::new()),
            }),
            store,
            clock,
            worker_started: AtomicBool::new(false),
        }
    }

    /// Queues `event` for the app's callback URL; a no-op when the app is unknown or has
    /// none. Returns the ids of the deliveries queued (two with the duplicate option).
    pub fn emit(
        &self,
        client_key: &str,
        open_id: Option<&str>,
        event: WebhookEventKind,
        content: &impl Serialize,
    ) -> Vec<u64> {
        let Some(app) = self.store.app(client_key) else {
            return Vec::new();
        };
        let Some(url) = app.callback_url.filter(|url| !url.trim().is_empty()) else {
            return Vec::new();
        };
        let now_ms = self.clock.now_ms();
        let fields = serde_json::to_value(content).unwrap_or_default();
        let order_key = ["publish_id", "share_id"]
            .iter()
            .find_map(|key| fields.get(key).and_then(serde_json::Value::as_str))
            .map(str::to_owned);
        let payload = WebhookPayload {
            client_key: app.client_key.clone(),
            event: event.clone(),
            create_time: now_ms.div_euclid(1000),
            user_openid: open_id.map(str::to_owned),
            content: serde_json::to_string(content).unwrap_or_else(|_| "{}".to_owned()),
        };
        let body = serde_json::to_string(&payload).unwrap_or_default();
        let mut ids = Vec::new();
        {
            let mut queue = self.shared.queue.lock();
            queue.events += 1;
            let copies = match queue.settings.duplicate_every {
                0 => 1,
                every if queue.events.is_multiple_of(u64::from(every)) => 2,
                _ => 1,
            };
            for copy in 0..copies {
                let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
                let delivery = queue.deliveries.entry(id).or_insert(Delivery {
                    id,
                    client_key: app.client_key.clone(),
                    event: event.as_str().to_owned(),
                    user_openid: open_id.map(str::to_owned),
                    url: url.clone(),
                    body: body.clone(),
                    created_at_ms: now_ms,
                    state: DeliveryState::Pending,
                    next_attempt_ms: Some(now_ms),
                    attempts: Vec::new(),
                    duplicate_of: (copy > 0).then(|| ids[0]),
                    order_key: order_key.clone(),
                });
                // Kept (by a durable store) before the call that queued it answers.
                self.store.put_delivery(delivery);
                ids.push(id);
            }
        }
        tracing::debug!(client_key, event = event.as_str(), ?ids, "webhook queued");
        self.wake();
        ids
    }

    /// Makes the worker look for due deliveries now (after a clock advance, a new event).
    /// Starts the worker on the current tokio runtime if it is not running yet.
    pub fn wake(&self) {
        self.start_worker();
        self.shared.wake.notify_one();
    }

    /// Every delivery, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared
            .queue
            .lock()
            .deliveries
            .values()
            .cloned()
            .collect()
    }

    /// The retry and duplicate settings.
    pub fn settings(&self) -> WebhookSettings {
        self.shared.queue.lock().settings
    }

    /// Replaces the retry and duplicate settings.
    pub fn set_settings(&self, settings: WebhookSettings) {
        self.shared.queue.lock().settings = settings;
    }

    /// Forgets every delivery (pending ones included) and the event count; keeps the settings.
    /// (The store's own copy goes with [`Store::clear`].)
    pub fn clear(&self) {
        let mut queue = self.shared.queue.lock();
        queue.deliveries.clear();
        queue.finished.clear();
        queue.events = 0;
    }

    /// Takes back the deliveries a durable store kept (after a restart): those that were
    /// under way count as pending again and are attempted when due, so each is delivered
    /// at least once; ids go on after the highest.
    pub fn restore(&self, deliveries: Vec<Delivery>) {
        {
            let mut queue = self.shared.queue.lock();
            for mut delivery in deliveries {
                if delivery.state == DeliveryState::InFlight {
                    delivery.state = DeliveryState::Pending;
                    if delivery.next_attempt_ms.is_none() {
                        delivery.next_attempt_ms = Some(delivery.created_at_ms);
                    }
                }
                if delivery.duplicate_of.is_none() {
                    queue.events += 1;
                }
                self.shared
                    .next_id
                    .fetch_max(delivery.id.saturating_add(1), Ordering::SeqCst);
                let (id, done) = (
                    delivery.id,
                    matches!(
                        delivery.state,
                        DeliveryState::Delivered | DeliveryState::Dropped
                    ),
                );
                queue.deliveries.insert(id, delivery);
                if done {
                    queue.note_finished(id, self.store.as_ref());
                }
            }
        }
        self.wake();
    }

    fn start_worker(&self) {
        if self.worker_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.worker_started.store(false, Ordering::SeqCst);
            return;
        };
        let http = match reqwest::Client::builder()
            .user_agent("tiktok-mock-webhooks")
            .build()
        {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "webhooks: cannot build the HTTP client");
                return;
            }
        };
        let worker = Worker {
            shared: Arc::downgrade(&self.shared),
            wake: self.shared.wake.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            http,
        };
        runtime.spawn(worker.run());
    }
}

struct Worker {
    shared: Weak<Shared>,
    wake: Arc<Notify>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

/// What the worker sends for one due delivery.
struct Due {
    id: u64,
    client_key: String,
    url: String,
    body: String,
    /// How long the attempt may take (the settings' `attempt_timeout_ms` when it was due).
    timeout: Duration,
}

impl Worker {
    async fn run(self) {
        let this = Arc::new(self);
        loop {
            let Some(shared) = this.shared.upgrade() else {
                return;
            };
            let now_ms = this.clock.now_ms();
            let due = take_due(&shared, now_ms);
            drop(shared);
            for due in due {
                tokio::spawn(this.clone().attempt(due, now_ms));
            }
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    async fn attempt(self: Arc<Self>, due: Due, at_ms: i64) {
        let signed_at = at_ms.div_euclid(1000);
        let secret = self.store.app(&due.client_key).map(|app| app.client_secret);
        let (status, error) = match secret {
            None => (None, Some("the app no longer exists".to_owned())),
            Some(secret) => {
                let mut signed = due.body.as_bytes();
                if mutant!(WebhookWrongBytes) {
                    signed = &signed[..signed.len().saturating_sub(1)];
                }
                let signature = signature_header(&secret, signed_at, signed);
                let sent = self
                    .http
                    .post(&due.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, signature)
                    .body(due.body.clone())
                    .timeout(due.timeout)
                    .send()
                    .await;
                match sent {
                    Ok(response) => (Some(response.status().as_u16()), None),
                    Err(error) => (None, Some(error.to_string())),
                }
            }
        };
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut queue = shared.queue.lock();
        let settings = queue.settings;
        let Some(delivery) = queue.deliveries.get_mut(&due.id) else {
            return;
        };
        let app_gone = status.is_none() && error.as_deref() == Some("the app no longer exists");
        delivery.attempts.push(Attempt {
            at_ms,
            signed_at,
            status,
            error,
        });
        if status == Some(200) {
            delivery.state = DeliveryState::Delivered;
            delivery.next_attempt_ms = None;
            tracing::debug!(id = due.id, event = %delivery.event, "webhook delivered");
            self.store.put_delivery(delivery);
            queue.note_finished(due.id, self.store.as_ref());
            drop(queue);
            // The next delivery of the same post may go now.
            shared.wake.notify_one();
            return;
        }
        let cause = match (
            status,
            &delivery.attempts.last().and_then(|a| a.error.clone()),
        ) {
            (Some(status), _) => format!("HTTP {status} (only 200 counts)"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".to_owned(),
        };
        let next = at_ms.saturating_add(settings.backoff_ms(delivery.attempts.len()));
        let deadline = delivery
            .created_at_ms
            .saturating_add(settings.retry_window_seconds.saturating_mul(1000));
        if app_gone || next > deadline {
            delivery.state = DeliveryState::Dropped;
            delivery.next_attempt_ms = None;
            tracing::warn!(
                id = due.id,
                client_key = %delivery.client_key,
                event = %delivery.event,
                url = %delivery.url,
                attempts = delivery.attempts.len(),
                %cause,
                "webhook dropped: no 200 within the retry window"
            );
            self.store.put_delivery(delivery);
            queue.note_finished(due.id, self.store.as_ref());
            drop(queue);
            shared.wake.notify_one();
        } else {
            delivery.state = DeliveryState::Pending;
            delivery.next_attempt_ms = Some(next);
            tracing::warn!(
                id = due.id,
                client_key = %delivery.client_key,
                event = %delivery.event,
                url = %delivery.url,
                attempt = delivery.attempts.len(),
                %cause,
                retry_in_ms = next - at_ms,
                "webhook attempt failed"
            );
            self.store.put_delivery(delivery);
        }
    }
}

/// Marks the deliveries due at `now_ms` in flight and returns them. A delivery waits while
/// an earlier one of the same post (and app) is pending or in flight, so each post's events
/// arrive in the order they happened.
fn take_due(shared: &Shared, now_ms: i64) -> Vec<Due> {
    let mut queue = shared.queue.lock();
    let timeout = Duration::from_millis(queue.settings.attempt_timeout_ms);
    let mut busy: std::collections::BTreeSet<(String, String)> = Default::default();
    let mut due = Vec::new();
    for delivery in queue.deliveries.values_mut() {
        let open = matches!(
            delivery.state,
            DeliveryState::Pending | DeliveryState::InFlight
        );
        let key = delivery
            .order_key
            .clone()
            .map(|key| (delivery.client_key.clone(), key));
        if let Some(key) = &key
            && open
            && !busy.insert(key.clone())
        {
            continue; // An earlier delivery of this post goes first.
        }
        if delivery.state == DeliveryState::Pending
            && delivery.next_attempt_ms.is_some_and(|at| at <= now_ms)
        {
            delivery.state = DeliveryState::InFlight;
            due.push(Due {
                id: delivery.id,
                client_key: delivery.client_key.clone(),
                url: delivery.url.clone(),
                body: delivery.body.clone(),
                timeout,
            });
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = WebhookSettings::default();
        assert_eq!(settings.backoff_ms(1), 60_000);
        assert_eq!(settings.backoff_ms(2), 120_000);
        assert_eq!(settings.backoff_ms(3), 240_000);
        assert_eq!(settings.backoff_ms(100), 6 * 3600 * 1000);
    }

    fn delivery(id: u64, state: DeliveryState) -> Delivery {
        Delivery {
            id,
            client_key: "app".to_owned(),
            event: "post.publish.complete".to_owned(),
            user_openid: None,
            url: "http://127.0.0.1:9/hook".to_owned(),
            body: "{}".to_owned(),
            created_at_ms: 0,
            state,
            next_attempt_ms: None,
            attempts: Vec::new(),
            duplicate_of: None,
            order_key: None,
        }
    }

    #[test]
    fn finished_deliveries_are_a_ring_and_pending_ones_are_all_kept() {
        let store: Arc<dyn Store> = Arc::new(crate::store::memory::MemoryStore::new());
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::ManualClock::new(0));
        let webhooks = Webhooks::new(store, clock);
        let extra = 5;
        let mut saved: Vec<Delivery> = (1..=KEPT_FINISHED_DELIVERIES as u64 + extra)
            .map(|id| delivery(id, DeliveryState::Delivered))
            .collect();
        saved.push(delivery(1_000_000, DeliveryState::Pending));
        webhooks.restore(saved);
        let kept = webhooks.deliveries();
        assert_eq!(kept.len(), KEPT_FINISHED_DELIVERIES + 1);
        assert_eq!(
            kept[0].id,
            extra + 1,
            "the oldest finished ones are forgotten"
        );
        assert_eq!(kept.last().map(|d| d.state), Some(DeliveryState::Pending));
    }
}
