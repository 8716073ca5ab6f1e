//! A 200 MB upload through the helper holds at most one chunk at a time: the process's
//! peak resident memory grows by less than two chunks (the mock runs in this process too,
//! and streams what it receives). Linux only: it reads `/proc/self/status`.

#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::{Control, PRIVATE_OPEN_ID};
use serde_json::json;
use tiktok_api::upload::{PostTarget, UploadOptions, VideoSource};
use tiktok_api::{ChunkPlan, PostStatus};

/// A figure of `/proc/self/status` in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap();
    let kilobytes: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kilobytes * 1024
}

#[tokio::test]
async fn a_200_mb_upload_grows_peak_memory_by_less_than_two_chunks() {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    control
        .post("/_mock/posting", json!({"processing_ms": 0}))
        .await;
    let token = control.mint(PRIVATE_OPEN_ID, &["video.upload"]).await;
    let client = tiktok_api::Client::builder()
        .base_url(mock.uri())
        .build()
        .unwrap();
    let user = client.user_with_access_token(token["access_token"].as_str().unwrap());
    let size = 200_000_000u64;
    let plan = ChunkPlan::for_size(size).unwrap();

    // Warm up the connection pool and the allocator with one small upload.
    let warm_up = user
        .upload_video(
            VideoSource::Bytes(vec![0u8; 1000].into()),
            PostTarget::Inbox,
            UploadOptions::new(),
        )
        .await
        .unwrap();
    assert!(!warm_up.is_failed());
    // Reset the peak ("5" clears VmHWM) and measure from here.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_bytes("VmRSS:");
    let source = tokio::io::AsyncReadExt::take(tokio::io::repeat(42), size);
    let posted = user
        .upload_video(
            VideoSource::reader(source, size),
            PostTarget::Inbox,
            UploadOptions::new()
                .poll_interval(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .await
        .unwrap();
    assert_eq!(posted.status.status, PostStatus::SendToUserInbox);
    let growth = status_bytes("VmHWM:").saturating_sub(before);
    eprintln!(
        "200 MB upload: {} chunks of {} bytes; peak resident memory grew {} bytes ({:.2} chunks)",
        plan.total_chunk_count,
        plan.chunk_size,
        growth,
        growth as f64 / plan.chunk_size as f64
    );
    assert!(
        growth < 2 * plan.largest_chunk(),
        "peak grew {growth} bytes"
    );
}
