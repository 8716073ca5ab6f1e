//! Lists every video of the token's creator with the paging stream: one line per video,
//! then `N videos`.
//!
//! ```sh
//! TIKTOK_API_BASE_URL=http://127.0.0.1:8080 TIKTOK_ACCESS_TOKEN=act.… \
//!     cargo run -p tiktok-api --example list_videos
//! ```
//!
//! `TIKTOK_API_BASE_URL` defaults to TikTok's API host.

use std::io::Write;

use futures::TryStreamExt;
use tiktok_api::{Client, PageOptions, VideoField, VideoListRequest};

/// Walks every page and writes one line per video and the count last.
pub async fn run(
    base_url: Option<String>,
    access_token: &str,
    out: &mut (impl Write + Send),
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let mut builder = Client::builder();
    if let Some(base_url) = base_url {
        builder = builder.base_url(base_url);
    }
    let client = builder.build()?;
    let mut videos = std::pin::pin!(client.video_list_stream(
        access_token,
        &[VideoField::Id, VideoField::CreateTime, VideoField::Title],
        VideoListRequest::default(),
        PageOptions::new(),
    ));
    let mut count = 0;
    while let Some(video) = videos.try_next().await? {
        count += 1;
        writeln!(
            out,
            "{} {} {}",
            video.id.unwrap_or_default(),
            video.create_time.unwrap_or_default(),
            video.title.unwrap_or_default()
        )?;
    }
    writeln!(out, "{count} videos")?;
    Ok(count)
}

/// Prints an error as a sentence and exits with 1.
#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match start().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(dead_code)]
async fn start() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let token = std::env::var("TIKTOK_ACCESS_TOKEN")
        .map_err(|_| "set TIKTOK_ACCESS_TOKEN to a user access token with video.list")?;
    let base_url = std::env::var("TIKTOK_API_BASE_URL").ok();
    run(base_url, &token, &mut std::io::stdout()).await?;
    Ok(())
}
