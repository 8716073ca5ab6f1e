//! Video query: any list of 1 to 20 ids returns exactly the token owner's videos among
//! them (others silently left out); 0 or 21 ids are rejected with `invalid_params`.
//!
//! Why it matters: an app confirming ownership of ids gets the same answer as from TikTok.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tiktok_api::{ErrorCode, Scope, VideoField, VideoQueryFilters, VideoQueryRequest};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Harness, cases, runtime};

#[test]
fn only_the_owners_videos_come_back() {
    let runtime = runtime();
    // One token makes every call: rate limits ×1000 keep long runs (PROPTEST_CASES) clear
    // of rate_limit_exceeded, which is not this property's subject.
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(
        &runtime,
        tiktok_conformance::mock().rate_limit_scale(1000.0),
    );
    let Harness {
        client, control, ..
    } = &harness;
    let max_ids = tiktok_api::endpoints::VIDEO_QUERY
        .limit("max_video_ids")
        .unwrap_or_else(|| panic!("a limit")) as usize;
    let (token, own, others) = runtime.block_on(async {
        control.creator("-000owner").await;
        control.creator("-000other").await;
        let mut own = Vec::new();
        let mut others = Vec::new();
        for index in 0..25 {
            own.push(control.video("-000owner", 1_700_000_000_000 + index).await);
            others.push(control.video("-000other", 1_700_000_000_000 + index).await);
        }
        (
            control
                .access_token(Some("-000owner"), &[Scope::VideoList], None)
                .await,
            own,
            others,
        )
    });
    let mut pool = own.clone();
    pool.extend(others.iter().cloned());
    pool.push("7399999999999999999".into());
    pool.push("not-a-number".into());

    let strategy = proptest::collection::vec(proptest::sample::select(pool), 0..=max_ids + 1);
    let mut runner = TestRunner::new(Config {
        cases: cases(128),
        ..Config::default()
    });
    let result = runner.run(&strategy, |ids| {
        let body = VideoQueryRequest {
            filters: VideoQueryFilters {
                video_ids: ids.clone(),
            },
        };
        let outcome = runtime.block_on(client.video_query(&token, &[VideoField::Id], &body));
        if ids.is_empty() || ids.len() > max_ids {
            let error = outcome
                .err()
                .ok_or_else(|| TestCaseError::fail(format!("{} ids accepted", ids.len())))?;
            prop_assert_eq!(error.code(), Some(&ErrorCode::InvalidParams));
            return Ok(());
        }
        let data = outcome.map_err(|error| TestCaseError::fail(format!("{ids:?}: {error}")))?;
        let got: BTreeSet<String> = data
            .videos
            .iter()
            .filter_map(|video| video.id.clone())
            .collect();
        let expected: BTreeSet<String> =
            ids.iter().filter(|id| own.contains(id)).cloned().collect();
        prop_assert_eq!(got, expected);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}
