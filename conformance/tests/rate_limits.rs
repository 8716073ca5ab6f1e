//! Rate limits: for random call sequences with random gaps on the mock's manual clock, a
//! call passes exactly when fewer than the limit passed in the trailing 60 seconds (a
//! sliding window, no fixed buckets); and under concurrency exactly the limit passes.
//!
//! Why it matters: a client's back-off tested against the mock meets the same 429s in
//! production, at the same moments.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tiktok_api::{Client, ErrorCode, Scope, UserField};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Control, Harness, SlidingWindow, cases, runtime, scaled_limit};
use tiktok_mock::ClockKind;

/// 600 per minute × 0.01 = 6 calls per window: small enough to explore, same code path.
const SCALE: f64 = 0.01;

/// How the clock moves before a call.
#[derive(Debug, Clone)]
enum Step {
    /// Forward by this many ms.
    Gap(i64),
    /// To 60 s (+ delta ms) after the call `back` calls ago, if that is ahead.
    Edge { back: usize, delta: i64 },
}

#[test]
fn a_call_passes_exactly_when_the_sliding_window_has_room() {
    let runtime = runtime();
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(
        &runtime,
        tiktok_conformance::mock()
            .clock_kind(ClockKind::Manual)
            .rate_limit_scale(SCALE),
    );
    let Harness {
        client, control, ..
    } = &harness;
    let endpoint = &tiktok_api::endpoints::USER_INFO;
    let limit = scaled_limit(endpoint, SCALE);

    // Each step moves the clock: a short gap, a long one, or exactly to the window's edge
    // (plus -1, 0 or +1 ms) of one of the last calls, where an off-by-one would show.
    let step = prop_oneof![
        (0i64..2_000).prop_map(Step::Gap),
        (55_000i64..65_000).prop_map(Step::Gap),
        (0usize..8, -1i64..=1).prop_map(|(back, delta)| Step::Edge { back, delta }),
    ];
    let strategy = proptest::collection::vec(step, 1..40);
    let mut runner = TestRunner::new(Config {
        cases: cases(64),
        ..Config::default()
    });
    let result = runner.run(&strategy, |steps| {
        runtime.block_on(async {
            // A fresh token per case: limits are per access token.
            let token = control.access_token(None, &[Scope::UserInfoBasic], Some(1_000_000_000)).await;
            let mut model = SlidingWindow::new(limit, 60_000);
            let mut now = 0i64;
            let mut calls: Vec<i64> = Vec::new();
            for (index, step) in steps.iter().enumerate() {
                let gap = match *step {
                    Step::Gap(gap) => gap,
                    Step::Edge { back, delta } => calls
                        .len()
                        .checked_sub(back + 1)
                        .map_or(0, |at| (calls[at] + 60_000 + delta - now).max(0)),
                };
                control.advance_ms(gap).await;
                now += gap;
                calls.push(now);
                let expected = model.call(now);
                let outcome = client.user_info(&token, &[UserField::OpenId]).await;
                match (expected, outcome) {
                    (true, Ok(_)) => {}
                    (false, Err(error)) if error.code() == Some(&ErrorCode::RateLimitExceeded) => {
                        prop_assert_eq!(error.status(), Some(429));
                    }
                    (expected, outcome) => {
                        return Err(TestCaseError::fail(format!(
                            "step {index} at +{now} ms (steps {steps:?}): model says pass={expected}, mock gave {outcome:?}"
                        )));
                    }
                }
            }
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}

#[test]
fn exactly_the_limit_passes_under_concurrency() {
    let runtime = runtime();
    let mock = runtime.block_on(
        tiktok_conformance::mock()
            .clock_kind(ClockKind::Manual)
            .start(),
    );
    let client = Client::builder()
        .plain()
        .base_url(mock.uri())
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let control = Control::new(mock.uri());
    let limit = scaled_limit(&tiktok_api::endpoints::USER_INFO, 1.0) as usize;
    let (passed, limited) = runtime.block_on(async {
        let token = control
            .access_token(None, &[Scope::UserInfoBasic], None)
            .await;
        let calls = (0..limit + 400).map(|_| {
            let client = client.clone();
            let token = token.clone();
            tokio::spawn(async move { client.user_info(&token, &[UserField::OpenId]).await })
        });
        let mut passed = 0;
        let mut limited = 0;
        for call in calls.collect::<Vec<_>>() {
            match call.await {
                Ok(Ok(_)) => passed += 1,
                Ok(Err(error)) if error.code() == Some(&ErrorCode::RateLimitExceeded) => {
                    limited += 1
                }
                Ok(Err(error)) => panic!("unexpected error {error}"),
                Err(error) => panic!("task failed: {error}"),
            }
        }
        (passed, limited)
    });
    assert_eq!(passed, limit);
    assert_eq!(limited, 400);
}
