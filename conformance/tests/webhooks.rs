//! Webhooks: every delivery the mock sends verifies with the generated crate's `Verifier`
//! at the moment it arrives, and carries the event that was fired; every tampered body,
//! timestamp or signature and every stale (or future) timestamp is rejected; and duplicate
//! deliveries (TikTok delivers at least once) collapse to one event by the payload's
//! identity (`WebhookPayload::dedup_key`), while distinct events never do.
//!
//! Why it matters: a receiver built on the generated crate and tested against the mock
//! accepts TikTok's deliveries, refuses forgeries and replays, and processes each event once.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use tiktok_api::WEBHOOK_EVENTS;
use tiktok_api::webhook::{DEFAULT_TOLERANCE_SECONDS, SignatureError, Verifier, WebhookPayload};
use tiktok_conformance::{Control, cases, runtime};
use tiktok_mock::ClockKind;
use tiktok_mock::receiver::{Arrival, Receiver};

/// One event to fire after moving the clock.
#[derive(Debug, Clone)]
struct Fire {
    /// Index into `WEBHOOK_EVENTS`.
    event: usize,
    /// Seconds the clock moves first (at least 1, so events differ in `create_time`).
    gap_s: i64,
    /// Whether the event names the creator (always for `authorization.removed`).
    with_user: bool,
    /// The reason code's index, for events that carry one.
    reason: usize,
}

/// One way to spoil a genuine delivery.
#[derive(Debug, Clone)]
enum Tamper {
    /// XOR one body byte with a non-zero value.
    BodyByte { at: usize, xor: u8 },
    /// Append bytes to the body.
    BodyAppend(Vec<u8>),
    /// Claim another timestamp in the header, keeping the signature.
    Timestamp(i64),
    /// Change one hex digit of the signature.
    SignatureDigit { at: usize, add: u8 },
    /// Verify this many seconds beyond the tolerance, in the past or the future.
    Stale { beyond: i64, future: bool },
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Tamper::BodyByte { at, xor }),
        proptest::collection::vec(any::<u8>(), 1..4).prop_map(Tamper::BodyAppend),
        prop_oneof![-1_000i64..0, 1i64..1_000].prop_map(Tamper::Timestamp),
        (any::<usize>(), 1u8..16).prop_map(|(at, add)| Tamper::SignatureDigit { at, add }),
        (1i64..1_000_000, any::<bool>())
            .prop_map(|(beyond, future)| Tamper::Stale { beyond, future }),
    ]
}

/// Splits `t=…,s=…` the way the documented header reads.
fn header_parts(header: &str) -> (i64, String) {
    let mut t = None;
    let mut s = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("s", value)) => s = Some(value.to_owned()),
            _ => {}
        }
    }
    match (t, s) {
        (Some(t), Some(s)) => (t, s),
        _ => panic!("not a TikTok-Signature header: {header}"),
    }
}

/// Applies `tamper` to a genuine delivery signed at `t`; returns (header, body, now).
fn spoil(tamper: &Tamper, header: &str, body: &[u8], t: i64) -> (String, Vec<u8>, i64) {
    let (_, signature) = header_parts(header);
    let mut body = body.to_vec();
    match tamper {
        Tamper::BodyByte { at, xor } => {
            let at = at % body.len();
            body[at] ^= xor;
            (header.to_owned(), body, t)
        }
        Tamper::BodyAppend(extra) => {
            body.extend_from_slice(extra);
            (header.to_owned(), body, t)
        }
        Tamper::Timestamp(delta) => (format!("t={},s={signature}", t + delta), body, t + delta),
        Tamper::SignatureDigit { at, add } => {
            let mut digits: Vec<u8> = signature.into_bytes();
            let at = at % digits.len();
            let value = u8::from_str_radix(&(digits[at] as char).to_string(), 16)
                .unwrap_or_else(|_| panic!("a signature that is not hex: {header}"));
            digits[at] = b"0123456789abcdef"[usize::from((value + add) % 16)];
            let signature = String::from_utf8(digits).unwrap_or_default();
            (format!("t={t},s={signature}"), body, t)
        }
        Tamper::Stale { beyond, future } => {
            let offset = DEFAULT_TOLERANCE_SECONDS + beyond;
            let now = if *future { t - offset } else { t + offset };
            (header.to_owned(), body, now)
        }
    }
}

#[test]
fn deliveries_verify_forgeries_fail_and_duplicates_collapse() {
    let runtime = runtime();
    let (mock, inbox) = runtime.block_on(async {
        let mock = tiktok_conformance::mock()
            .clock_kind(ClockKind::Manual)
            .start()
            .await;
        let inbox = Receiver::recording().await;
        (mock, inbox)
    });
    let control = Control::new(mock.uri());
    let secret = mock
        .state()
        .store()
        .apps()
        .first()
        .map(|app| app.client_secret.clone())
        .unwrap_or_else(|| panic!("the demo data has an app"));
    let open_id = mock
        .state()
        .default_open_id()
        .unwrap_or_else(|| panic!("the demo data has a creator"));
    let verifier = Verifier::new(secret);
    runtime.block_on(async {
        let (status, answer) = control
            .post_raw(
                "/_mock/webhooks/callback",
                json!({ "callback_url": inbox.url }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    });

    let fire = (
        0..WEBHOOK_EVENTS.len(),
        1i64..=900,
        any::<bool>(),
        0usize..16,
    )
        .prop_map(|(event, gap_s, with_user, reason)| Fire {
            event,
            gap_s,
            with_user,
            reason,
        });
    let strategy = (
        proptest::collection::vec(fire, 1..6),
        0u32..=3,
        proptest::collection::vec(tamper(), 1..8),
    );
    let mut runner = TestRunner::new(Config {
        cases: cases(32),
        ..Config::default()
    });
    let nonce = std::sync::atomic::AtomicI64::new(0);
    let result = runner.run(&strategy, |(fires, duplicate_every, tampers)| {
        runtime.block_on(async {
            let (status, answer) = control
                .post_raw("/_mock/webhooks/settings", json!({ "duplicate_every": duplicate_every }))
                .await;
            prop_assert_eq!(status, 200, "{}", answer);
            inbox.take();
            // Every delivery, with the fired event it must carry and the clock when it came.
            let mut arrivals: Vec<(Arrival, usize, i64)> = Vec::new();
            let mut copies_of: Vec<usize> = Vec::new();
            for (index, fire) in fires.iter().enumerate() {
                control.advance_ms(fire.gap_s * 1000).await;
                let meta = &WEBHOOK_EVENTS[fire.event];
                let nonce = nonce.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let mut request = json!({ "event": meta.name });
                if meta.name == "authorization.removed" {
                    let codes = meta.reason_codes;
                    request["open_id"] = json!(open_id);
                    request["reason"] = json!(codes[fire.reason % codes.len()].0);
                    request["revoke"] = json!(false);
                } else if meta.name == "portability.download.ready" {
                    request["request_id"] = json!(nonce);
                } else {
                    request["content"] = json!({ "nonce": nonce });
                    if fire.with_user {
                        request["open_id"] = json!(open_id);
                    }
                }
                let (status, answer) = control.post_raw("/_mock/webhooks/events", request).await;
                prop_assert_eq!(status, 200, "{}", answer);
                let copies = answer["deliveries"].as_array().map_or(0, Vec::len);
                prop_assert!(copies >= 1, "no delivery queued: {}", answer);
                copies_of.push(copies);
                let now_s = mock.state().now_ms().div_euclid(1000);
                let came = inbox.wait_for_arrivals(copies).await.map_err(|came| {
                    TestCaseError::fail(format!(
                        "event {index} ({}): {copies} deliveries queued, {} arrived",
                        meta.name,
                        came.len()
                    ))
                })?;
                prop_assert_eq!(came.len(), copies, "more deliveries than queued");
                arrivals.extend(came.into_iter().map(|arrival| (arrival, index, now_s)));
            }

            let mut keys: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (number, (arrival, index, now_s)) in arrivals.iter().enumerate() {
                let fire = &fires[*index];
                let meta = &WEBHOOK_EVENTS[fire.event];
                let header = arrival.signature.clone().ok_or_else(|| {
                    TestCaseError::fail(format!("delivery {number} has no signature header"))
                })?;
                // Genuine: verifies now, and at both edges of the tolerance.
                let payload = verifier
                    .verify_payload(&header, &arrival.body, *now_s)
                    .map_err(|error| {
                        TestCaseError::fail(format!(
                            "genuine delivery {number} ({}) rejected: {error}; header {header}, body {}",
                            meta.name,
                            String::from_utf8_lossy(&arrival.body)
                        ))
                    })?;
                let (t, _) = header_parts(&header);
                prop_assert_eq!(t, *now_s, "signed at another time than sent");
                for edge in [t - DEFAULT_TOLERANCE_SECONDS, t + DEFAULT_TOLERANCE_SECONDS] {
                    prop_assert!(verifier.verify(&header, &arrival.body, edge).is_ok());
                }
                // It carries the fired event.
                prop_assert_eq!(payload.event.as_str(), meta.name);
                prop_assert_eq!(payload.create_time, *now_s);
                let user = (meta.name == "authorization.removed"
                    || (meta.name != "portability.download.ready" && fire.with_user))
                    .then(|| open_id.clone());
                prop_assert_eq!(&payload.user_openid, &user);
                // Every spoiled copy is rejected.
                let tamper = &tampers[number % tampers.len()];
                let (bad_header, bad_body, now) = spoil(tamper, &header, &arrival.body, t);
                match (tamper, verifier.verify(&bad_header, &bad_body, now)) {
                    (Tamper::Stale { .. }, Err(SignatureError::Stale { .. })) => {}
                    (Tamper::Stale { .. }, other) => {
                        return Err(TestCaseError::fail(format!(
                            "{tamper:?} of delivery {number}: expected Stale, got {other:?}"
                        )));
                    }
                    (_, Err(SignatureError::Mismatch | SignatureError::Malformed(_))) => {}
                    (_, other) => {
                        return Err(TestCaseError::fail(format!(
                            "{tamper:?} of delivery {number}: expected a rejection, got {other:?}"
                        )));
                    }
                }
                let reparsed = WebhookPayload::parse(&arrival.body)
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                keys.entry(reparsed.dedup_key()).or_default().push(*index);
            }
            // Duplicates collapse to one key per fired event; distinct events never share one.
            prop_assert_eq!(keys.len(), fires.len(), "keys {:?}", keys.keys().collect::<Vec<_>>());
            for (key, indices) in &keys {
                let index = indices[0];
                prop_assert!(
                    indices.iter().all(|other| *other == index),
                    "two events share the key {}",
                    key
                );
                prop_assert_eq!(indices.len(), copies_of[index], "deliveries of {}", key);
            }
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
