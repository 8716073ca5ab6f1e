//! Chunk rules: for any (video_size, chunk_size, total_chunk_count), an inbox video init
//! with FILE_UPLOAD is accepted exactly when the spec's chunk rules accept it, and
//! refused with `invalid_params` otherwise.
//!
//! Why it matters: an uploader whose chunking the mock accepts is accepted by TikTok,
//! whichever reading of "MB" TikTok turns out to use; and one it refuses is told why.
//!
//! The model is written from the rules in `spec/api.yaml` (`uploads.chunk`) through the
//! generated constants: `total_chunk_count = floor(video_size / chunk_size)`, 1 to 1,000
//! chunks; a video may go whole (`chunk_size = video_size`) up to 64 MB; otherwise chunks
//! are 5 MB to 64 MB, a single chunk only up to 64 MB, and the last chunk up to 128 MB.
//! "MB" has two readings (10^6 and 2^20 bytes); both are accepted at every boundary, so a
//! lower bound takes the smaller and an upper bound the larger. And the video is at most the
//! endpoint's `max_video_size_bytes` (4 GB).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tiktok_api::spec_constants::{
    CHUNK_MAX_FINAL_MB, CHUNK_MAX_MB, CHUNK_MIN_MB, MAX_CHUNKS, MB_READINGS, MIN_CHUNKS,
};
use tiktok_api::{ErrorCode, InboxVideoInitRequest, Scope, Source, VideoSourceInfo, endpoints};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Harness, cases, runtime};

fn lower(mb: u64) -> i64 {
    (mb * MB_READINGS.iter().min().copied().unwrap_or(1_000_000)) as i64
}

fn upper(mb: u64) -> i64 {
    (mb * MB_READINGS.iter().max().copied().unwrap_or(1_048_576)) as i64
}

/// Whether the spec's rules accept this chunking.
fn accepted(video_size: i64, chunk_size: i64, count: i64) -> bool {
    if video_size < 1 || chunk_size < 1 || count < 1 || chunk_size > video_size {
        return false;
    }
    let max_video = endpoints::INBOX_VIDEO_INIT
        .limit("max_video_size_bytes")
        .map_or(i64::MAX, |max| i64::try_from(max).unwrap_or(i64::MAX));
    if video_size > max_video {
        return false;
    }
    if count != video_size / chunk_size || count < MIN_CHUNKS as i64 || count > MAX_CHUNKS as i64 {
        return false;
    }
    if chunk_size == video_size {
        return video_size <= upper(CHUNK_MAX_MB);
    }
    let last = video_size - (count - 1) * chunk_size;
    chunk_size >= lower(CHUNK_MIN_MB)
        && chunk_size <= upper(CHUNK_MAX_MB)
        && !(count == 1 && video_size > upper(CHUNK_MAX_MB))
        && last <= upper(CHUNK_MAX_FINAL_MB)
}

/// Sizes at and around every boundary of the rules, under both readings.
fn boundary_points() -> Vec<i64> {
    let mut points = vec![1i64];
    for mb in [CHUNK_MIN_MB, CHUNK_MAX_MB, CHUNK_MAX_FINAL_MB] {
        for reading in MB_READINGS {
            let at = (mb * reading) as i64;
            points.extend([at - 1, at, at + 1]);
        }
    }
    points
}

/// Chunk counts at the edges of the rules (1 to 1,000 chunks, one chunk or several).
const EDGE_COUNTS: [i64; 6] = [1, 2, 3, 999, 1_000, 1_001];

/// Every boundary combination: a chunk size at a boundary, a count at an edge, the last
/// chunk exact or as large as it may grow, the count right or off by one; and every
/// boundary size sent whole. A boundary fault cannot hide behind the random draws.
fn edge_cases() -> Vec<(i64, i64, i64)> {
    let mut cases = Vec::new();
    for chunk_size in boundary_points() {
        for delta in -1..=1 {
            cases.push((chunk_size, chunk_size, 1 + delta));
            for chunks in EDGE_COUNTS {
                for extra in [0, chunk_size - 1] {
                    let video_size = chunk_size * chunks + extra;
                    cases.push((video_size, chunk_size, video_size / chunk_size + delta));
                }
            }
        }
    }
    cases
}

fn boundary() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => proptest::sample::select(boundary_points()),
        1 => 1i64..200_000_000,
        1 => 1i64..10_000_000_000,
    ]
}

#[test]
fn init_accepts_exactly_what_the_chunk_rules_accept() {
    let runtime = runtime();
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(
        &runtime,
        tiktok_conformance::mock().rate_limit_scale(10_000.0),
    );
    let Harness {
        client, control, ..
    } = &harness;
    let counter = std::sync::atomic::AtomicU32::new(0);

    // Either free sizes, or a video built from chunks so that its last chunk lands on a
    // boundary; the count is the right one, off by one either way, or arbitrary.
    let free = (boundary(), boundary());
    // A whole video: chunk_size = video_size.
    let whole = boundary().prop_map(|video_size| (video_size, video_size));
    // Exactly `chunks` chunks (the last one absorbing `extra` bytes), at the count's edges.
    let built = (
        boundary(),
        prop_oneof![1i64..4, 999i64..1_002],
        prop_oneof![Just(0i64), 0i64..1_000_000, Just(i64::MAX)],
    )
        .prop_map(|(chunk_size, chunks, extra)| {
            let extra = extra.min(chunk_size - 1).max(0);
            (
                chunk_size.saturating_mul(chunks).saturating_add(extra),
                chunk_size,
            )
        });
    let strategy = (
        prop_oneof![free, whole, built],
        -1i64..=1,
        proptest::option::weighted(0.1, 0i64..2_000),
    )
        .prop_map(|((video_size, chunk_size), delta, arbitrary)| {
            let right = if chunk_size > 0 {
                video_size / chunk_size
            } else {
                0
            };
            (video_size, chunk_size, arbitrary.unwrap_or(right + delta))
        });
    let mut runner = TestRunner::new(Config {
        cases: cases(256),
        ..Config::default()
    });
    // One call, judged against the rules.
    let check = |(video_size, chunk_size, count): (i64, i64, i64)| -> Result<(), TestCaseError> {
        let expected = accepted(video_size, chunk_size, count);
        // A fresh creator per case, so the pending-inbox cap never interferes.
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let open_id = format!("-000chunks{case}");
        let outcome = runtime.block_on(async {
            control.creator(&open_id).await;
            let token = control
                .access_token(Some(&open_id), &[Scope::VideoUpload], None)
                .await;
            let body = InboxVideoInitRequest {
                source_info: VideoSourceInfo {
                    source: Source::FileUpload,
                    video_url: None,
                    video_size: Some(video_size),
                    chunk_size: Some(chunk_size),
                    total_chunk_count: Some(count),
                },
            };
            client.inbox_video_init(&token, &body).await
        });
        match (expected, outcome) {
            (true, Ok(data)) => {
                prop_assert!(data.upload_url.is_some(), "FILE_UPLOAD without upload_url");
                Ok(())
            }
            (false, Err(error)) if error.code() == Some(&ErrorCode::InvalidParams) => Ok(()),
            (expected, outcome) => Err(TestCaseError::fail(format!(
                "video_size {video_size}, chunk_size {chunk_size}, total_chunk_count {count}: \
                 the rules say accepted={expected}, the mock gave {outcome:?}"
            ))),
        }
    };
    for case in edge_cases() {
        if let Err(error) = check(case) {
            panic!("at a boundary: {error}");
        }
    }
    let result = runner.run(&strategy, check);
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}
