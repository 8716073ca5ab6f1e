//! A chunked upload through the mock's upload host: an inbox video init with
//! `FILE_UPLOAD`, then every chunk PUT in order. Reports MB/s (10^6 bytes) of the PUTs, and
//! the mock's resident memory before, at most during, and after.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

#[derive(Serialize)]
pub struct Report {
    pub bytes: u64,
    pub chunks: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
    pub rss_before_kb: Option<u64>,
    pub rss_max_kb: Option<u64>,
    pub rss_after_kb: Option<u64>,
}

/// `VmRSS` of a process, in kB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

pub async fn run(
    base: &str,
    token: &str,
    size: u64,
    chunk: u64,
    pid: Option<u32>,
) -> anyhow::Result<Report> {
    anyhow::ensure!(chunk > 0 && size >= chunk, "need 0 < chunk <= size");
    let count = size / chunk;
    let http = reqwest::Client::new();
    let init = serde_json::json!({
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
        }
    });
    let answer: serde_json::Value = http
        .post(format!("{base}/v2/post/publish/inbox/video/init/"))
        .bearer_auth(token)
        .json(&init)
        .send()
        .await?
        .json()
        .await?;
    let upload_url = answer
        .pointer("/data/upload_url")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("init gave no upload_url: {answer}"))?
        .to_owned();

    // The largest chunk is the last (it takes the remainder).
    let last_len = size - (count - 1) * chunk;
    let buffer = Bytes::from(vec![0x5a_u8; usize::try_from(last_len)?]);

    let rss_before = pid.and_then(rss_kb);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_before.unwrap_or(0)));
    let sampler = pid.map(|pid| {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = rss_kb(pid) {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    });

    let started = Instant::now();
    for index in 0..count {
        let first = index * chunk;
        let len = if index + 1 == count { last_len } else { chunk };
        let last = first + len - 1;
        let response = http
            .put(&upload_url)
            .header(reqwest::header::CONTENT_TYPE, "video/mp4")
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{size}"),
            )
            .body(buffer.slice(0..usize::try_from(len)?))
            .send()
            .await?;
        let status = response.status().as_u16();
        let expected = if index + 1 == count { 201 } else { 206 };
        if status != expected {
            let text = response.text().await.unwrap_or_default();
            anyhow::bail!("chunk {index}: HTTP {status} (expected {expected}): {text}");
        }
        response.bytes().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        let _ = sampler.join();
    }
    let rss_after = pid.and_then(rss_kb);
    if let Some(kb) = rss_after {
        peak.fetch_max(kb, Ordering::Relaxed);
    }
    Ok(Report {
        bytes: size,
        chunks: count,
        seconds,
        mb_per_s: size as f64 / 1e6 / seconds,
        rss_before_kb: rss_before,
        rss_max_kb: pid.map(|_| peak.load(Ordering::Relaxed)),
        rss_after_kb: rss_after,
    })
}
