//! The client's per-call overhead: the generated client (retries and the local limiter on,
//! as built by default; no faults) against raw reqwest with hand-written serde structs,
//! on the same mock and the same reqwest client (so the same connection pool). One call in
//! flight at a time; the two sides alternate, round after round, and the median is kept.
//! Two figures per side: the time per call (the mock's time included, the same for both)
//! and the client's own CPU time per call (its thread's, from `/proc/thread-self/schedstat`:
//! the runtime is single-threaded), which is what the client costs an app.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tiktok_api::{UserField, VideoField, VideoListRequest};

/// The fields each call asks for, as the rest of the benchmark does.
pub const USER_FIELDS: &str = "open_id,display_name";
/// The video fields of the video list calls.
pub const VIDEO_FIELDS: &str = "id,title,create_time,share_url,view_count,like_count";

const USER_FIELD_LIST: [UserField; 2] = [UserField::OpenId, UserField::DisplayName];
const VIDEO_FIELD_LIST: [VideoField; 6] = [
    VideoField::Id,
    VideoField::Title,
    VideoField::CreateTime,
    VideoField::ShareUrl,
    VideoField::ViewCount,
    VideoField::LikeCount,
];

// The hand-written side: what an app would write without the generated client.
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[allow(dead_code)]
    message: String,
    #[allow(dead_code)]
    log_id: String,
}

#[derive(Deserialize)]
struct UserInfo {
    user: User,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct User {
    open_id: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct VideoList {
    videos: Vec<Video>,
    cursor: i64,
    has_more: bool,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Video {
    id: Option<String>,
    title: Option<String>,
    create_time: Option<i64>,
    share_url: Option<String>,
    view_count: Option<i64>,
    like_count: Option<i64>,
}

#[derive(Serialize)]
struct ListBody {
    max_count: u32,
}

#[derive(Deserialize)]
struct Minted {
    access_token: String,
}

/// Microseconds per call of each side, per endpoint: wall clock, and the client's CPU.
#[derive(Serialize)]
pub struct Side {
    pub raw_us: f64,
    pub client_us: f64,
    pub overhead_pct: f64,
    pub raw_cpu_us: f64,
    pub client_cpu_us: f64,
    pub cpu_overhead_pct: f64,
}

/// CPU time of this thread so far, nanoseconds (0 where the kernel does not say).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Serialize)]
pub struct Report {
    pub calls: usize,
    pub rounds: usize,
    pub tokens: usize,
    pub user_info: Side,
    pub video_list: Side,
}

#[derive(Clone, Copy)]
enum Endpoint {
    UserInfo,
    VideoList,
}

pub async fn run(base: &str, calls: usize, rounds: usize) -> anyhow::Result<Report> {
    // The local limiter allows each (token, endpoint) the spec's 600 calls a minute: enough
    // tokens that no call waits for it (a wait would be the limiter doing its job, not cost).
    let warmup = 200;
    let per_endpoint = (calls * rounds + warmup) * 2;
    let (http, client, tokens) = setup(base, per_endpoint / 400 + 2).await?;
    let bench = Bench {
        base,
        http: &http,
        client: &client,
        tokens: &tokens,
    };
    let mut sides = Vec::new();
    for endpoint in [Endpoint::UserInfo, Endpoint::VideoList] {
        bench.batch(endpoint, false, warmup).await?;
        bench.batch(endpoint, true, warmup).await?;
        let (mut raw, mut generated) = (Vec::new(), Vec::new());
        let (mut raw_cpu, mut generated_cpu) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for generated_side in order {
                let cpu = thread_cpu_ns();
                let per_call = bench.batch(endpoint, generated_side, calls).await?;
                let cpu_per_call =
                    Duration::from_nanos((thread_cpu_ns() - cpu) / calls.max(1) as u64);
                if generated_side {
                    generated.push(per_call);
                    generated_cpu.push(cpu_per_call);
                } else {
                    raw.push(per_call);
                    raw_cpu.push(cpu_per_call);
                }
            }
        }
        let raw_us = crate::median_ms(&mut raw) * 1000.0;
        let client_us = crate::median_ms(&mut generated) * 1000.0;
        let raw_cpu_us = crate::median_ms(&mut raw_cpu) * 1000.0;
        let client_cpu_us = crate::median_ms(&mut generated_cpu) * 1000.0;
        sides.push(Side {
            raw_us,
            client_us,
            overhead_pct: (client_us / raw_us - 1.0) * 100.0,
            raw_cpu_us,
            client_cpu_us,
            cpu_overhead_pct: (client_cpu_us / raw_cpu_us - 1.0) * 100.0,
        });
    }
    let video_list = sides.pop().expect("two sides");
    let user_info = sides.pop().expect("two sides");
    Ok(Report {
        calls,
        rounds,
        tokens: tokens.len(),
        user_info,
        video_list,
    })
}

/// `calls` calls of one side on one endpoint, after the same setup whatever `calls` is.
pub async fn calls(base: &str, endpoint: &str, side: &str, calls: usize) -> anyhow::Result<()> {
    let endpoint = match endpoint {
        "user_info" => Endpoint::UserInfo,
        "video_list" => Endpoint::VideoList,
        other => anyhow::bail!("--endpoint {other}: expected user_info or video_list"),
    };
    let generated = match side {
        "raw" => false,
        "generated" => true,
        other => anyhow::bail!("--side {other}: expected raw or generated"),
    };
    // A fixed number of tokens (the same setup for any count; 20 tokens allow 8,000 calls
    // a minute under the local limiter).
    let (http, client, tokens) = setup(base, 20).await?;
    let bench = Bench {
        base,
        http: &http,
        client: &client,
        tokens: &tokens,
    };
    bench.batch(endpoint, generated, 20).await?;
    bench.batch(endpoint, generated, calls).await?;
    Ok(())
}

/// The raw side's reqwest client, the generated client on the same pool (retries and the
/// local limiter on, as by default), and `count` fresh tokens.
async fn setup(
    base: &str,
    count: usize,
) -> anyhow::Result<(reqwest::Client, tiktok_api::Client, Vec<String>)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let client = tiktok_api::Client::builder()
        .base_url(base)
        .http_client(http.clone())
        .build()?;
    let mut tokens = Vec::with_capacity(count);
    for _ in 0..count {
        let minted: Minted = http
            .post(format!("{base}/_mock/tokens"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens.push(minted.access_token);
    }
    Ok((http, client, tokens))
}

struct Bench<'a> {
    base: &'a str,
    http: &'a reqwest::Client,
    client: &'a tiktok_api::Client,
    tokens: &'a [String],
}

impl Bench<'_> {
    /// `calls` calls one after the other; the time per call.
    async fn batch(
        &self,
        endpoint: Endpoint,
        generated: bool,
        calls: usize,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        for n in 0..calls {
            let token = &self.tokens[n % self.tokens.len()];
            match (endpoint, generated) {
                (Endpoint::UserInfo, false) => self.raw_user_info(token).await?,
                (Endpoint::UserInfo, true) => {
                    let data = self.client.user_info(token, &USER_FIELD_LIST).await?;
                    std::hint::black_box(data);
                }
                (Endpoint::VideoList, false) => self.raw_video_list(token).await?,
                (Endpoint::VideoList, true) => {
                    let body = VideoListRequest {
                        max_count: Some(20),
                        ..VideoListRequest::default()
                    };
                    let data = self
                        .client
                        .video_list(token, &VIDEO_FIELD_LIST, &body)
                        .await?;
                    anyhow::ensure!(data.videos.len() == 20, "a short page");
                    std::hint::black_box(data);
                }
            }
        }
        Ok(started.elapsed() / u32::try_from(calls.max(1))?)
    }

    async fn raw_user_info(&self, token: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .get(format!("{}/v2/user/info/", self.base))
            .query(&[("fields", USER_FIELDS)])
            .bearer_auth(token)
            .send()
            .await?;
        let bytes = response.bytes().await?;
        let answer: Envelope<UserInfo> = serde_json::from_slice(&bytes)?;
        anyhow::ensure!(answer.error.code == "ok", "error {}", answer.error.code);
        std::hint::black_box(answer.data.user);
        Ok(())
    }

    async fn raw_video_list(&self, token: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("{}/v2/video/list/", self.base))
            .query(&[("fields", VIDEO_FIELDS)])
            .bearer_auth(token)
            .json(&ListBody { max_count: 20 })
            .send()
            .await?;
        let bytes = response.bytes().await?;
        let answer: Envelope<VideoList> = serde_json::from_slice(&bytes)?;
        anyhow::ensure!(answer.error.code == "ok", "error {}", answer.error.code);
        anyhow::ensure!(answer.data.videos.len() == 20, "a short page");
        std::hint::black_box(answer.data);
        Ok(())
    }
}
