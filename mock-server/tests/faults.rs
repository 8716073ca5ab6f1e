//! Webhook faults in one scenario: the receiver is down (connection refused), then slower
//! than the mock's delivery timeout, then answering 500, then healthy, while posts keep
//! producing events. Every event arrives at least once, each post's in the order they
//! happened, none is dropped, and every retry falls on the mock's clock where its backoff
//! settings put it. (The client's side of faults: `generated/tests/faults.rs`.)

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::json;
use support::{Receiver, client_secret, control, eventually, manual_mock};
use tiktok_api::{Scope, WebhookEventKind};
use tiktok_mock::webhook_queue::{Delivery, DeliveryState, WebhookSettings};
use tiktok_mock::{DownPort, MockServer};

/// What the receiver does while an attempt is made, in the order the scenario goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Nothing listens on its port.
    Down,
    /// It answers 200, later than the mock waits.
    Slow,
    /// It answers 500.
    Failing,
    /// It answers 200 at once.
    Healthy,
}

/// The scenario's bookkeeping: which phase each attempt of each delivery was made in.
#[derive(Default)]
struct Phases {
    /// Delivery id → the phase of each of its attempts, oldest first.
    of_attempts: BTreeMap<u64, Vec<Phase>>,
}

impl Phases {
    /// Labels the attempts made since the last call with `phase`.
    fn label(&mut self, deliveries: &[Delivery], phase: Phase) {
        for delivery in deliveries {
            let labels = self.of_attempts.entry(delivery.id).or_default();
            while labels.len() < delivery.attempts.len() {
                labels.push(phase);
            }
        }
    }
}

/// Whether the worker has nothing left to do at `now_ms`: no attempt in flight, and no
/// pending delivery due that an earlier open delivery of the same post does not hold back.
fn idle(deliveries: &[Delivery], now_ms: i64) -> bool {
    let mut open_posts = BTreeSet::new();
    for delivery in deliveries {
        let open = matches!(
            delivery.state,
            DeliveryState::Pending | DeliveryState::InFlight
        );
        let post = delivery
            .order_key
            .clone()
            .map(|key| (delivery.client_key.clone(), key));
        let held = post.as_ref().is_some_and(|post| open_posts.contains(post));
        if delivery.state == DeliveryState::InFlight
            || (delivery.state == DeliveryState::Pending
                && !held
                && delivery.next_attempt_ms.is_some_and(|due| due <= now_ms))
        {
            return false;
        }
        if let (true, Some(post)) = (open, post) {
            open_posts.insert(post);
        }
    }
    true
}

/// Waits until every attempt due at the mock's current time has been made and answered (or
/// timed out), and returns the deliveries then.
async fn settle(mock: &MockServer) -> Vec<Delivery> {
    eventually(|| async {
        let deliveries = mock.state().webhooks().deliveries();
        idle(&deliveries, mock.state().now_ms()).then_some(deliveries)
    })
    .await
}

/// Moves the clock to the next due attempt (never past it), waits for its attempts and
/// labels them; false when nothing is pending.
async fn step(mock: &MockServer, phases: &mut Phases, phase: Phase) -> bool {
    let now = mock.state().now_ms();
    let next = mock
        .state()
        .webhooks()
        .deliveries()
        .iter()
        .filter(|delivery| delivery.state == DeliveryState::Pending)
        .filter_map(|delivery| delivery.next_attempt_ms)
        .filter(|due| *due > now)
        .min();
    let Some(next) = next else {
        return false;
    };
    assert_eq!((next - now) % 1000, 0, "due times fall on whole seconds");
    assert!(mock.advance((next - now) / 1000));
    let deliveries = settle(mock).await;
    phases.label(&deliveries, phase);
    true
}

/// Steps until the scenario's first delivery has been tried in `phase` (so every phase
/// meets it), at least once.
async fn step_until_first_tried(mock: &MockServer, phases: &mut Phases, phase: Phase) {
    let mut steps = 0;
    loop {
        assert!(
            step(mock, phases, phase).await,
            "nothing pending in {phase:?}"
        );
        steps += 1;
        assert!(steps < 20, "the first delivery never tried in {phase:?}");
        let first = phases.of_attempts.values().next().expect("a delivery");
        if first.contains(&phase) {
            return;
        }
    }
}

/// Publishes a public video from a URL (posts finish at once): two events of one post,
/// `post.publish.complete` then `post.publish.publicly_available`. Returns its publish_id.
async fn post(mock: &MockServer, phases: &mut Phases, phase: Phase) -> String {
    let client = support::client(mock);
    let token = mock.user_token(None, &[Scope::VideoPublish]);
    let init = client
        .video_init(&token, &support::public_pull_post())
        .await
        .expect("init");
    // Settles the post: its events are queued and their first attempts made now.
    assert!(mock.advance(0));
    let deliveries = settle(mock).await;
    phases.label(&deliveries, phase);
    init.publish_id
}

/// The delay the settings give after the `failures`-th failed attempt, milliseconds:
/// `first_retry_seconds`, doubling, at most `max_retry_interval_seconds`.
fn expected_backoff_ms(settings: &WebhookSettings, failures: usize) -> i64 {
    let mut delay = settings.first_retry_seconds;
    for _ in 1..failures {
        delay = delay
            .saturating_mul(2)
            .min(settings.max_retry_interval_seconds);
    }
    delay.min(settings.max_retry_interval_seconds) * 1000
}

#[tokio::test]
async fn every_event_survives_a_receiver_that_is_down_slow_failing_then_back() {
    let mock = manual_mock().await;
    // Real time only matters for the slow phase: the mock gives up on an attempt after its
    // delivery timeout, and the receiver then answers well after it.
    let (status, body) = control(
        &mock,
        "/_mock/webhooks/settings",
        json!({"attempt_timeout_ms": 2000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let settings = mock.state().webhooks().settings();
    let timeout = Duration::from_millis(settings.attempt_timeout_ms);
    // A port held but not listening (the receiver comes up on it later).
    let port = DownPort::bind();
    let (status, body) = control(
        &mock,
        "/_mock/webhooks/callback",
        json!({"callback_url": port.url(), "webhook_family": "real"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = control(&mock, "/_mock/posting", json!({"processing_ms": 0})).await;
    assert_eq!(status, 200, "{body}");
    let mut phases = Phases::default();
    let mut posts = Vec::new();

    // Down: two posts, two rounds of refused connections.
    posts.push(post(&mock, &mut phases, Phase::Down).await);
    posts.push(post(&mock, &mut phases, Phase::Down).await);
    assert!(step(&mock, &mut phases, Phase::Down).await);

    // Slow: the receiver is back on its port but answers after the mock's timeout.
    let receiver = Receiver::start_on(&mock, client_secret(), port);
    receiver.delay(timeout * 5);
    posts.push(post(&mock, &mut phases, Phase::Slow).await);
    step_until_first_tried(&mock, &mut phases, Phase::Slow).await;

    // Failing: it answers 500 at once.
    receiver.delay(Duration::ZERO);
    receiver.answer(500);
    posts.push(post(&mock, &mut phases, Phase::Failing).await);
    step_until_first_tried(&mock, &mut phases, Phase::Failing).await;

    // Healthy: everything pending goes through, a post at a time in its order.
    receiver.answer(200);
    let mut steps = 0;
    while step(&mock, &mut phases, Phase::Healthy).await {
        steps += 1;
        assert!(steps < 50, "deliveries still pending after {steps} steps");
    }
    let deliveries = settle(&mock).await;

    // Two events per post were queued, and every one was delivered: none dropped or pending.
    assert_eq!(deliveries.len(), 2 * posts.len());
    for delivery in &deliveries {
        assert_eq!(delivery.state, DeliveryState::Delivered, "{delivery:?}");
        let last = delivery.attempts.last().expect("an attempt");
        assert_eq!(last.status, Some(200), "{delivery:?}");
    }
    // The receiver verified a copy of each (duplicates allowed: at least once).
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    let received: BTreeSet<Vec<u8>> = receiver
        .received()
        .into_iter()
        .map(|received| received.body)
        .collect();
    for delivery in &deliveries {
        assert!(
            received.contains(delivery.body.as_bytes()),
            "never received: {delivery:?}"
        );
    }

    // Each post's events, in the order they happened.
    let mut by_post: BTreeMap<&str, Vec<&Delivery>> = BTreeMap::new();
    for delivery in &deliveries {
        let post = delivery.order_key.as_deref().expect("a post's event");
        by_post.entry(post).or_default().push(delivery);
    }
    assert_eq!(
        by_post.keys().copied().collect::<BTreeSet<_>>(),
        posts.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    for (post, events) in &by_post {
        let names: Vec<&str> = events.iter().map(|d| d.event.as_str()).collect();
        assert_eq!(
            names,
            [
                WebhookEventKind::PostPublishComplete.as_str(),
                WebhookEventKind::PostPublishPubliclyAvailable.as_str()
            ],
            "{post}"
        );
        // The second is first tried when the first is delivered, not before.
        let delivered_at = events[0].attempts.last().expect("attempt").at_ms;
        assert_eq!(events[1].attempts[0].at_ms, delivered_at, "{post}");
    }
    // What reached the receiver, request by request: a post's later event never before an
    // earlier one, and nothing the mock did not record as an attempt that got there.
    let id_of: HashMap<&[u8], (u64, &str)> = deliveries
        .iter()
        .map(|d| {
            let post = d.order_key.as_deref().unwrap_or_default();
            (d.body.as_bytes(), (d.id, post))
        })
        .collect();
    let arrivals = receiver.take();
    let mut last_of_post: HashMap<&str, u64> = HashMap::new();
    for arrival in &arrivals {
        let Some(&(id, post)) = id_of.get(arrival.body.as_slice()) else {
            panic!("an arrival that is no delivery: {arrival:?}");
        };
        let last = last_of_post.entry(post).or_insert(id);
        assert!(
            id >= *last,
            "post {post}: delivery {id} arrived after {last}"
        );
        *last = id;
    }
    let reached: usize = phases
        .of_attempts
        .values()
        .flatten()
        .filter(|phase| **phase != Phase::Down)
        .count();
    assert_eq!(arrivals.len(), reached);

    // Each attempt failed the way its phase fails, and retries follow the backoff.
    for delivery in &deliveries {
        let labels = &phases.of_attempts[&delivery.id];
        assert_eq!(labels.len(), delivery.attempts.len());
        assert!(labels.is_sorted(), "phases in order: {labels:?}");
        for (attempt, phase) in delivery.attempts.iter().zip(labels) {
            match phase {
                Phase::Down | Phase::Slow => {
                    assert_eq!(attempt.status, None, "{phase:?}: {attempt:?}");
                    assert!(attempt.error.is_some(), "{phase:?}: {attempt:?}");
                }
                Phase::Failing => assert_eq!(attempt.status, Some(500), "{attempt:?}"),
                Phase::Healthy => assert_eq!(attempt.status, Some(200), "{attempt:?}"),
            }
            assert_eq!(attempt.signed_at, attempt.at_ms.div_euclid(1000));
            assert!(
                attempt.at_ms <= delivery.created_at_ms + settings.retry_window_seconds * 1000,
                "{delivery:?}"
            );
        }
        for (failures, pair) in delivery.attempts.windows(2).enumerate() {
            assert_eq!(
                pair[1].at_ms - pair[0].at_ms,
                expected_backoff_ms(&settings, failures + 1),
                "delivery {} attempt {}",
                delivery.id,
                failures + 2
            );
        }
    }
    // The scenario did what it says: the first post's first event went through every phase.
    let first = &phases.of_attempts[&deliveries[0].id];
    let seen: BTreeSet<Phase> = first.iter().copied().collect();
    assert_eq!(
        seen,
        BTreeSet::from([Phase::Down, Phase::Slow, Phase::Failing, Phase::Healthy])
    );
}
