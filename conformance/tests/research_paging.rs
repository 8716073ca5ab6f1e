//! Research paging: for random comment sets on a video and random page sizes, with new
//! comments posted during the walk, a walk of the research comment list from the first
//! page to `has_more: false` returns every top-level comment of the video exactly once,
//! oldest first (`create_time`, then id), pages within `max_count` (default 10), and ends.
//!
//! The cursor is a start index (spec `paging.style: index`, reference §8), so the walk is
//! not a snapshot: comments posted during it are newer than every existing one, so they
//! land after them in the list and a later page picks them up. The property therefore
//! claims exactly: the walk returns the comments that existed when it began, in order,
//! followed by those posted before its last page was asked for, in order. The spec and
//! the reference do not say in which order comments come; "oldest first, then id" is the
//! mock's documented order (its README, "Research API").
//!
//! Why it matters: a researcher paging through a video's comments neither misses nor
//! double-counts one, even while people keep commenting.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use tiktok_api::{CommentField, CommentListRequest};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Control, Harness, cases, runtime};
use tiktok_mock::ClockKind;

/// One UTC day: each case runs on a fresh day, so the daily quota never runs out.
const DAY_MS: i64 = 86_400_000;

/// Adds a top-level comment on `video_id` through the control API.
async fn comment(control: &Control, id: i64, video_id: i64, create_time: i64) {
    let body = json!({
        "id": id,
        "video_id": video_id,
        "text": format!("comment at {create_time}"),
        "create_time": create_time,
    });
    let (status, answer) = control.post_raw("/_mock/comments", body).await;
    assert_eq!(status, 200, "POST /_mock/comments: {answer}");
}

#[test]
fn a_walk_returns_every_comment_exactly_once_oldest_first() {
    let runtime = runtime();
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(
        &runtime,
        tiktok_conformance::mock().clock_kind(ClockKind::Manual),
    );
    let Harness {
        client, control, ..
    } = &harness;
    let paging = tiktok_api::endpoints::RESEARCH_COMMENT_LIST
        .paging
        .unwrap_or_else(|| panic!("research_comment_list pages"));
    let max = paging.max_max_count;

    // Creation times (Unix seconds) repeat often; the salt shuffles ids against insertion order.
    let comments = proptest::collection::vec((0i64..50, 0i64..1_000), 0..60);
    let strategy = (
        comments,
        proptest::option::of(1..=max),
        proptest::collection::vec(0usize..3, 0..10),
    );
    let counter = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases: cases(64),
        ..Config::default()
    });
    let result = runner.run(&strategy, |(comments, max_count, added_per_page)| {
        let case = i64::from(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let open_id = format!("-000research{case}");
        // Ids above 2^53, as the real API's are: they must survive as 64-bit integers.
        let ids = 7_390_000_000_000_000_000i64 + (case + 1) * 1_000_000;
        runtime.block_on(async {
            control.advance_ms(DAY_MS).await;
            control.creator(&open_id).await;
            let video = control.video(&open_id, 1_700_000_000_000).await;
            let video_id: i64 = video
                .parse()
                .map_err(|_| TestCaseError::fail(format!("video id {video} is not an i64")))?;
            let base = 1_700_000_000i64;
            let mut existing = Vec::new();
            for (index, (time, salt)) in comments.iter().enumerate() {
                let id = ids + salt * 100 + index as i64;
                comment(control, id, video_id, base + time).await;
                existing.push((base + time, id));
            }
            existing.sort();
            let mut added = Vec::new();
            let token = control.client_token().await;
            let mut request = CommentListRequest {
                video_id: Some(video_id),
                max_count: max_count.map(i64::from),
                ..Default::default()
            };
            let page_limit = max_count.unwrap_or(paging.default_max_count) as usize;
            let fields = [
                CommentField::Id,
                CommentField::VideoId,
                CommentField::CreateTime,
            ];
            let mut seen: Vec<(i64, i64)> = Vec::new();
            let mut pages = 0;
            let bound = comments.len() + 2 * added_per_page.len() + 2;
            loop {
                let page = client
                    .research_comment_list(&token, &fields, &request)
                    .await
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                prop_assert!(
                    page.comments.len() <= page_limit,
                    "page of {} > {page_limit}",
                    page.comments.len()
                );
                for comment in &page.comments {
                    prop_assert_eq!(
                        comment.video_id,
                        Some(video_id),
                        "a comment of another video: {:?}",
                        comment
                    );
                    seen.push((
                        comment.create_time.unwrap_or_default(),
                        comment.id.unwrap_or_default(),
                    ));
                }
                pages += 1;
                prop_assert!(pages <= bound, "the walk does not end: {:?}", seen);
                if !page.has_more {
                    break;
                }
                // Posted now: newer than every comment so far, so after them in the list.
                let count = added_per_page.get(pages - 1).copied().unwrap_or(0);
                for _ in 0..count {
                    let id = ids + 500_000 - added.len() as i64;
                    let time = base + 10_000 + pages as i64;
                    comment(control, id, video_id, time).await;
                    added.push((time, id));
                }
                request.cursor = Some(page.cursor);
            }
            added.sort();
            let expected: Vec<(i64, i64)> = existing.iter().chain(&added).copied().collect();
            prop_assert_eq!(
                &seen,
                &expected,
                "the walk is not the comments that existed, then those added, oldest first (create_time, id)"
            );
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}
