//! Figures from outside kept in range: the clock advance refuses any amount that would
//! overflow or carry the clock past the latest instant it keeps, with a TikTok-shaped 400,
//! and the clock, tokens and webhooks stay sane after such a request.

mod support;

use serde_json::json;
use support::Harness;
use tiktok_api::Scope;

#[tokio::test]
async fn clock_advances_out_of_range_are_refused_and_change_nothing() {
    let harness = Harness::new();
    let before = harness.state.now_ms();
    for (body, named) in [
        (json!({"seconds": 1, "millis": i64::MAX}), "millis"),
        (json!({"millis": i64::MAX}), "millis"),
        (json!({"seconds": 1e300}), "seconds"),
        (json!({"seconds": 9.3e15}), "seconds"),
        (json!({"millis": -1}), "forward"),
        (json!({"seconds": -0.5}), "forward"),
        (
            json!({"millis": 9_000_000_000_000_000_i64, "seconds": 9e15}),
            "out of range",
        ),
    ] {
        let answer = harness
            .post_json("/_mock/clock/advance", None, body.to_string())
            .await;
        answer.assert_error(400, "invalid_params");
        assert!(
            answer.message().contains(named),
            "{body}: {}",
            answer.message()
        );
        assert_eq!(harness.state.now_ms(), before, "{body} moved the clock");
    }
    // The largest advance still accepted lands on the latest instant; one more is refused.
    let latest = tiktok_mock::clock::LATEST_MS;
    let answer = harness
        .post_json(
            "/_mock/clock/advance",
            None,
            json!({ "millis": latest - before + 1 }).to_string(),
        )
        .await;
    answer.assert_error(400, "invalid_params");
    // A token minted now lives: not born expired.
    let token = harness.token(&[Scope::UserInfoBasic]);
    let answer = harness
        .get("/v2/user/info/?fields=open_id", Some(&token))
        .await;
    answer.assert_ok();
}
