//! Paging: for random video sets and page sizes, with videos added during the walk, a
//! walk of the video list from the first page to `has_more: false` returns exactly the
//! videos that existed when it began, newest first, each once, pages within `max_count`.
//!
//! Why it matters: an app syncing a creator's videos neither misses nor repeats one.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tiktok_api::{Scope, VideoField, VideoListRequest};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Harness, cases, runtime};
use tiktok_mock::ClockKind;

#[test]
fn a_walk_returns_every_video_exactly_once_newest_first() {
    let runtime = runtime();
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(
        &runtime,
        tiktok_conformance::mock().clock_kind(ClockKind::Manual),
    );
    let Harness {
        client, control, ..
    } = &harness;
    let paging = tiktok_api::endpoints::VIDEO_LIST
        .paging
        .unwrap_or_else(|| panic!("video_list pages"));
    let max = paging.max_max_count;

    // Creation times may repeat (several videos in one millisecond).
    let times = proptest::collection::vec(0i64..5_000, 0..60);
    let strategy = (
        times,
        proptest::option::of(1..=max),
        proptest::collection::vec(0usize..3, 0..10),
    );
    let counter = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases: cases(64),
        ..Config::default()
    });
    let result = runner.run(&strategy, |(times, max_count, added_per_page)| {
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let open_id = format!("-000paging{case}");
        runtime.block_on(async {
            control.creator(&open_id).await;
            let base = 1_700_000_000_000i64;
            let mut existing = Vec::new();
            for time in &times {
                existing.push((base + time, control.video(&open_id, base + time).await));
            }
            let token = control
                .access_token(Some(&open_id), &[Scope::VideoList], None)
                .await;
            let mut request = VideoListRequest {
                max_count: max_count.map(|count| count as i32),
                ..Default::default()
            };
            let page_limit = max_count.unwrap_or(paging.default_max_count) as usize;
            let mut seen: Vec<(i64, String)> = Vec::new();
            let mut pages = 0;
            loop {
                let page = client
                    .video_list(&token, &[VideoField::Id, VideoField::CreateTime], &request)
                    .await
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                prop_assert!(
                    page.videos.len() <= page_limit,
                    "page of {} > {page_limit}",
                    page.videos.len()
                );
                for video in &page.videos {
                    let id = video.id.clone().unwrap_or_default();
                    seen.push((video.create_time.unwrap_or_default(), id));
                }
                // Videos posted during the walk are newer than every cursor: not part of this walk.
                let added = added_per_page.get(pages).copied().unwrap_or(0);
                for _ in 0..added {
                    control.video(&open_id, base + 10_000 + pages as i64).await;
                }
                pages += 1;
                prop_assert!(pages <= times.len() + 2, "the walk does not end");
                if !page.has_more {
                    break;
                }
                request.cursor = Some(page.cursor);
            }
            let seen_ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
            let unique: BTreeSet<&String> = seen_ids.iter().copied().collect();
            prop_assert_eq!(
                unique.len(),
                seen_ids.len(),
                "a video came twice: {:?}",
                seen_ids
            );
            let expected: BTreeSet<&String> = existing.iter().map(|(_, id)| id).collect();
            prop_assert_eq!(unique, expected, "the walk is not exactly the set");
            prop_assert!(
                seen.windows(2).all(|pair| pair[0].0 >= pair[1].0),
                "not newest first: {:?}",
                seen
            );
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}
