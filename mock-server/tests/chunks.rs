//! The chunk rules of `FILE_UPLOAD` at each boundary (both readings of "MB"), and the upload
//! host's answers: 206/201 with progress, 400, 403, 404, 416.

mod support;

use serde_json::{Value, json};
use support::Harness;
use support::upload::{chunk, file, init, path_of, put, range, start_upload};
use tiktok_api::Scope;

#[tokio::test]
async fn chunk_rules_hold_at_each_boundary_under_both_readings_of_mb() {
    const MIB: i64 = 1_048_576;
    // (video_size, chunk_size, total_chunk_count, None if accepted / Some(rule named))
    let cases: &[(i64, i64, i64, Option<&str>)] = &[
        // The reference's worked example.
        (50_000_123, 10_000_000, 5, None),
        // total_chunk_count = floor(video_size / chunk_size), exactly.
        (
            50_000_123,
            10_000_000,
            4,
            Some("floor(video_size / chunk_size) = 5"),
        ),
        (
            50_000_123,
            10_000_000,
            6,
            Some("floor(video_size / chunk_size) = 5"),
        ),
        // A video under 5 MB goes whole.
        (1, 1, 1, None),
        (4_999_999, 4_999_999, 1, None),
        (5 * MIB - 1, 5 * MIB - 1, 1, None),
        (4_000_000, 3_000_000, 1, Some("below 5 MB")),
        // Chunks of at least 5 MB: 5,000,000 and 5,242,880 both pass, one byte less fails.
        (10_000_000, 5_000_000, 2, None),
        (10_000_000, 4_999_999, 2, Some("below 5 MB")),
        (10 * MIB, 5 * MIB, 2, None),
        // Chunks of at most 64 MB: 64,000,000 and 67,108,864 pass, one byte more fails.
        (128_000_000, 64_000_000, 2, None),
        (128 * MIB, 64 * MIB, 2, None),
        (128 * MIB + 2, 64 * MIB + 1, 2, Some("above 64 MB")),
        // Up to 64 MB may go whole; more must be chunked.
        (64_000_001, 64_000_001, 1, None),
        (64 * MIB, 64 * MIB, 1, None),
        (
            64 * MIB + 1,
            64 * MIB + 1,
            1,
            Some("must be sent in chunks"),
        ),
        (100_000_000, 60_000_000, 1, Some("more than one chunk")),
        // The last chunk absorbs the rest, up to 128 MB (here 134,217,727 bytes).
        (3 * 64 * MIB - 1, 64 * MIB, 2, None),
        // 1 to 1,000 chunks (within 4 GB, 819 chunks of 5 MiB is about the most there is).
        (4 * 1024 * MIB, 5 * MIB, 819, None),
        (5_005_000_000, 5_000_000, 1001, Some("1 to 1000 chunks")),
        // chunk_size within video_size.
        (1_000, 2_000, 1, Some("must not exceed video_size")),
    ];
    let harness = Harness::new();
    for &(video_size, chunk_size, count, rule) in cases {
        let answer = init(&harness, file(video_size, chunk_size, count)).await;
        match rule {
            None => {
                answer.assert_ok();
                let url = answer.data()["upload_url"].as_str().unwrap_or_default();
                assert!(url.contains("/upload/video/?upload_id="), "{}", answer.text);
                // At most 5 pending inbox shares per creator per 24 h.
                harness.advance_ms(86_400_000);
            }
            Some(rule) => {
                answer.assert_error(400, "invalid_params");
                assert!(
                    answer.message().starts_with("The chunk size is invalid")
                        && answer.message().contains(rule),
                    "{video_size}/{chunk_size}/{count}: {}",
                    answer.message()
                );
            }
        }
    }
}

#[tokio::test]
async fn file_upload_needs_its_three_sizes_and_pull_needs_an_https_url() {
    let harness = Harness::new();
    let answer = init(
        &harness,
        json!({"source": "FILE_UPLOAD", "video_size": 10, "total_chunk_count": 1}),
    )
    .await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().contains("source_info.chunk_size"),
        "{}",
        answer.text
    );
    let answer = init(&harness, json!({"source": "PULL_FROM_URL"})).await;
    answer.assert_error(400, "invalid_params");
    assert!(
        answer.message().contains("source_info.video_url"),
        "{}",
        answer.text
    );
    // Only https URLs are ever verified.
    let answer = init(
        &harness,
        json!({"source": "PULL_FROM_URL", "video_url": "ftp://media.demo.example/v.mp4"}),
    )
    .await;
    answer.assert_error(403, "url_ownership_unverified");
    let answer = init(
        &harness,
        json!({"source": "PULL_FROM_URL", "video_url": "https:///v.mp4"}),
    )
    .await;
    answer.assert_error(400, "invalid_params");
    let answer = init(
        &harness,
        json!({"source": "PULL_FROM_URL", "video_url": "https://a.unverified.example/v.mp4"}),
    )
    .await;
    answer.assert_error(403, "url_ownership_unverified");
}

#[tokio::test]
async fn videos_above_four_gigabytes_are_refused() {
    const MIB: i64 = 1_048_576;
    let harness = Harness::new();
    // 4 GB under the larger reading of GB (4 x 2^30 bytes) is the most; one byte more fails.
    let at_most = init(&harness, file(4 * 1024 * MIB, 64 * MIB, 64)).await;
    at_most.assert_ok();
    let over = init(&harness, file(4 * 1024 * MIB + 1, 64 * MIB, 64)).await;
    over.assert_error(400, "invalid_params");
    assert!(
        over.message().contains("source_info.video_size") && over.message().contains("4 GB"),
        "{}",
        over.text
    );
}

#[tokio::test]
async fn chunks_in_order_get_206_then_201_and_anything_else_416() {
    let harness = Harness::new();
    let total = 16_000_000;
    let path = start_upload(&harness, total, 5_000_000).await;

    // Out of order: the second chunk first.
    let answer = chunk(&harness, &path, 5_000_000, 9_999_999, total).await;
    assert_eq!(answer.status, 416, "{}", answer.text);
    assert_eq!(range(&answer), "bytes */16000000");
    assert!(
        answer.text.contains("must be bytes 0-4999999"),
        "{}",
        answer.text
    );

    let answer = chunk(&harness, &path, 0, 4_999_999, total).await;
    assert_eq!(answer.status, 206, "{}", answer.text);
    assert_eq!(range(&answer), "bytes 0-4999999/16000000");

    // The same chunk again, and a range that does not follow on.
    let answer = chunk(&harness, &path, 0, 4_999_999, total).await;
    assert_eq!(answer.status, 416);
    assert_eq!(range(&answer), "bytes 0-4999999/16000000");
    let answer = chunk(&harness, &path, 5_000_001, 10_000_000, total).await;
    assert_eq!(answer.status, 416);

    let answer = chunk(&harness, &path, 5_000_000, 9_999_999, total).await;
    assert_eq!(answer.status, 206);
    assert_eq!(range(&answer), "bytes 0-9999999/16000000");
    // The last chunk absorbs the trailing bytes: 6,000,000, not 5,000,000.
    let answer = chunk(&harness, &path, 10_000_000, 14_999_999, total).await;
    assert_eq!(answer.status, 416);
    let answer = chunk(&harness, &path, 10_000_000, 15_999_999, total).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(range(&answer), "bytes 0-15999999/16000000");
    // Complete: nothing more is accepted.
    let answer = chunk(&harness, &path, 10_000_000, 15_999_999, total).await;
    assert_eq!(answer.status, 416);
    assert!(answer.text.contains("already received"), "{}", answer.text);

    // The call log records the PUTs with their answers.
    let decisions: Vec<(u16, String)> = harness
        .state
        .store()
        .calls()
        .iter()
        .filter(|call| call.method == "PUT")
        .map(|call| (call.status, call.decision.clone()))
        .collect();
    assert_eq!(decisions.len(), 8);
    assert_eq!(decisions[1], (206, "ok".to_owned()));
    assert_eq!(decisions[0], (416, "range_not_satisfiable".to_owned()));
}

#[tokio::test]
async fn bad_headers_and_length_mismatches_get_400() {
    let harness = Harness::new();
    let total = 1_000;
    let path = start_upload(&harness, total, total).await;
    let good = || {
        vec![
            ("content-type", "video/mp4".to_owned()),
            ("content-length", "1000".to_owned()),
            ("content-range", "bytes 0-999/1000".to_owned()),
        ]
    };
    let with = |name: &'static str, value: Option<&str>| {
        let mut headers: Vec<(&str, String)> =
            good().into_iter().filter(|(n, _)| *n != name).collect();
        if let Some(value) = value {
            headers.push((name, value.to_owned()));
        }
        headers
    };
    // (headers, body length, what the message names)
    type Case<'a> = (Vec<(&'a str, String)>, usize, &'a str);
    let cases: Vec<Case> = vec![
        (with("content-type", None), 1000, "Content-Type"),
        (
            with("content-type", Some("image/png")),
            1000,
            "Content-Type",
        ),
        (with("content-length", None), 1000, "Content-Length"),
        (with("content-length", Some("ten")), 1000, "Content-Length"),
        (with("content-range", None), 1000, "Content-Range"),
        (
            with("content-range", Some("bytes 0-999")),
            1000,
            "Content-Range",
        ),
        (
            with("content-range", Some("bytes 0-999/2000")),
            1000,
            "video_size",
        ),
        (with("content-length", Some("999")), 999, "does not match"),
        (good(), 999, "Content-Length says 1000"),
        (good(), 1001, "Content-Length says 1000"),
    ];
    for (headers, body_len, named) in cases {
        let answer = put(&harness, &path, &headers, vec![1; body_len]).await;
        answer.assert_error(400, "invalid_params");
        assert!(answer.message().contains(named), "{named}: {}", answer.text);
    }
    // Parameters on the Content-Type are fine; nothing was counted before.
    let mut headers = good();
    headers[0].1 = "video/webm; codecs=vp9".to_owned();
    let answer = put(&harness, &path, &headers, vec![1; 1000]).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
}

#[tokio::test]
async fn unknown_and_expired_upload_urls_get_404_and_403() {
    let harness = Harness::new();
    let path = start_upload(&harness, 1_000, 1_000).await;
    let (base, query) = path.split_once('?').expect("query");
    let upload_id = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("upload_id="))
        .expect("upload_id");
    for wrong in [
        format!("{base}?upload_id={upload_id}&upload_token=wrong"),
        format!("{base}?upload_id=1&upload_token=wrong"),
        format!("{base}?upload_id={upload_id}"),
        base.to_owned(),
        format!("{base}?%zz"),
    ] {
        let answer = chunk(&harness, &wrong, 0, 999, 1_000).await;
        answer.assert_error(404, "upload_not_found");
    }
    // Other methods get the gateway's 404.
    let answer = harness.get(&path, None).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (404, "Unsupported path(Janus)")
    );

    // One hour on the mock's clock, then 403.
    harness.advance_ms(3_599_999);
    let early = start_upload(&harness, 10_000_000, 5_000_000).await;
    assert_eq!(
        chunk(&harness, &early, 0, 4_999_999, 10_000_000)
            .await
            .status,
        206
    );
    harness.advance_ms(1);
    let answer = chunk(&harness, &path, 0, 999, 1_000).await;
    answer.assert_error(403, "upload_url_expired");
    assert_eq!(range(&answer), "bytes */1000");
    harness.advance_ms(3_600_000);
    let answer = chunk(&harness, &early, 5_000_000, 9_999_999, 10_000_000).await;
    answer.assert_error(403, "upload_url_expired");
    assert_eq!(range(&answer), "bytes 0-4999999/10000000");
}

#[tokio::test]
async fn status_follows_the_upload_and_the_manual_clock() {
    let harness = Harness::new();
    let token = harness.token(&[Scope::VideoUpload]);
    let answer = harness
        .post_json(
            "/v2/post/publish/inbox/video/init/",
            Some(&token),
            json!({"source_info": file(10_000_000, 5_000_000, 2)}).to_string(),
        )
        .await;
    answer.assert_ok();
    let publish_id = answer.data()["publish_id"].as_str().expect("id").to_owned();
    let path = path_of(answer.data()["upload_url"].as_str().expect("url"));
    let fetch = || async {
        // A fresh token each time: the clock moves past token lifetimes.
        let token = harness.token(&[Scope::VideoUpload]);
        let answer = harness
            .post_json(
                "/v2/post/publish/status/fetch/",
                Some(&token),
                json!({ "publish_id": publish_id }).to_string(),
            )
            .await;
        answer.assert_ok();
        answer.data().clone()
    };
    assert_eq!(fetch().await["status"], json!("PROCESSING_UPLOAD"));
    chunk(&harness, &path, 0, 4_999_999, 10_000_000).await;
    harness.advance_ms(600_000);
    let data = fetch().await;
    assert_eq!(
        (data["status"].clone(), data["uploaded_bytes"].clone()),
        (json!("PROCESSING_UPLOAD"), json!(5_000_000))
    );
    chunk(&harness, &path, 5_000_000, 9_999_999, 10_000_000).await;
    harness.advance_ms(4_999);
    assert_eq!(fetch().await["status"], json!("PROCESSING_UPLOAD"));
    harness.advance_ms(1);
    let data = fetch().await;
    assert_eq!(data["status"], json!("SEND_TO_USER_INBOX"));
    assert_eq!(data["uploaded_bytes"], json!(10_000_000));
    assert_eq!(data["publicaly_available_post_id"], json!([]));
    assert!(data.get("fail_reason").is_none());
}

/// The resident set of this process, bytes (Linux).
#[cfg(target_os = "linux")]
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS")
        * 1024
}

/// PUTs `length` bytes over a raw socket from one reused 1 MiB buffer; returns the status
/// line and the response headers.
fn raw_put(
    address: std::net::SocketAddr,
    path: &str,
    first: u64,
    length: u64,
    total: u64,
) -> String {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(address).expect("connect");
    write!(
        socket,
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: video/mp4\r\nContent-Length: {length}\r\nContent-Range: bytes {first}-{}/{total}\r\nConnection: close\r\n\r\n",
        first + length - 1
    )
    .expect("head");
    let buffer = vec![0x42_u8; 1 << 20];
    let mut left = length;
    while left > 0 {
        let n = left.min(buffer.len() as u64) as usize;
        socket.write_all(&buffer[..n]).expect("body");
        left -= n as u64;
    }
    let mut answer = String::new();
    socket.read_to_string(&mut answer).expect("answer");
    answer
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_large_upload_is_streamed_not_buffered() {
    const MIB: u64 = 1 << 20;
    let mock = tiktok_mock::MockServer::builder()
        .clock_kind(tiktok_mock::ClockKind::Manual)
        .start()
        .await;
    // 64 MiB chunks; the last absorbs the rest: 127 MiB.
    let total = 191 * MIB;
    let token = mock.user_token(None, &[Scope::VideoUpload]);
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v2/post/publish/inbox/video/init/", mock.uri()))
        .bearer_auth(&token)
        .json(&json!({ "source_info": file(total as i64, (64 * MIB) as i64, 2) }))
        .send()
        .await
        .expect("init")
        .json()
        .await
        .expect("json");
    let path = path_of(answer["data"]["upload_url"].as_str().expect("upload_url"));
    let address = mock.address();
    let before = resident_bytes();
    let first = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || raw_put(address, &path, 0, 64 * MIB, total))
            .await
            .expect("PUT")
    };
    assert!(first.starts_with("HTTP/1.1 206"), "{first}");
    let last =
        tokio::task::spawn_blocking(move || raw_put(address, &path, 64 * MIB, 127 * MIB, total))
            .await
            .expect("PUT");
    assert!(last.starts_with("HTTP/1.1 201"), "{last}");
    assert!(
        last.to_ascii_lowercase()
            .contains(&format!("content-range: bytes 0-{}/{total}", total - 1)),
        "{last}"
    );
    // 191 MiB went through; the process grew by less than the last chunk (127 MiB) would
    // take if it were buffered (the margin leaves room for the tests running alongside).
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 100 * MIB, "resident set grew by {grown} bytes");
}
