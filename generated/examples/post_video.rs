//! Posts a video file with the upload helper, printing progress, and the final status
//! (`PUBLISH_COMPLETE`, or `SEND_TO_USER_INBOX` with `--inbox`) as its last line.
//!
//! ```sh
//! TIKTOK_API_BASE_URL=http://127.0.0.1:8080 TIKTOK_ACCESS_TOKEN=act.… \
//!     cargo run -p tiktok-api --example post_video -- --file clip.mp4 [--inbox]
//! ```
//!
//! A direct post uses `SELF_ONLY` when the creator offers it, else the first privacy level
//! creator info offers.

use std::io::Write;
use std::path::PathBuf;

use tiktok_api::upload::{PostTarget, UploadOptions, VideoSource};
use tiktok_api::{Client, PostInfo, PrivacyLevel};

/// What to post.
pub struct Args {
    /// The video file.
    pub file: PathBuf,
    /// Send to the creator's inbox instead of posting.
    pub inbox: bool,
}

impl Args {
    /// `--file PATH [--inbox]`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut file = None;
        let mut inbox = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--file" => file = args.next().map(PathBuf::from),
                "--inbox" => inbox = true,
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; usage: --file PATH [--inbox]"
                    ));
                }
            }
        }
        let file = file.ok_or("usage: --file PATH [--inbox]")?;
        Ok(Args { file, inbox })
    }
}

/// Uploads and polls; returns the final status as written on the last line.
pub async fn run(
    base_url: Option<String>,
    access_token: &str,
    args: Args,
    out: &mut (impl Write + Send),
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut builder = Client::builder();
    if let Some(base_url) = base_url {
        builder = builder.base_url(base_url);
    }
    let user = builder.build()?.user_with_access_token(access_token);
    let target = if args.inbox {
        PostTarget::Inbox
    } else {
        let creator = user.creator_info().await?;
        let level = if creator
            .privacy_level_options
            .contains(&PrivacyLevel::SelfOnly)
        {
            PrivacyLevel::SelfOnly
        } else {
            creator
                .privacy_level_options
                .first()
                .cloned()
                .ok_or("the creator offers no privacy level")?
        };
        PostTarget::Direct(PostInfo::new(level))
    };
    // Progress goes to stderr as it happens; the result to `out`.
    let options = UploadOptions::new().on_progress(|progress| {
        eprintln!(
            "{:?}: {}/{} bytes, chunk {}/{}",
            progress.phase,
            progress.bytes_sent,
            progress.total_bytes,
            progress.chunks_sent,
            progress.total_chunks
        );
    });
    let posted = user
        .upload_video(VideoSource::Path(args.file), target, options)
        .await?;
    writeln!(out, "publish_id: {}", posted.publish_id)?;
    if let Some(reason) = &posted.status.fail_reason {
        writeln!(out, "fail_reason: {}", reason.as_str())?;
    }
    let status = posted.status.status.as_str().to_string();
    writeln!(out, "{status}")?;
    Ok(status)
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
    let args = Args::parse(std::env::args().skip(1))?;
    let token = std::env::var("TIKTOK_ACCESS_TOKEN").map_err(
        |_| "set TIKTOK_ACCESS_TOKEN to a user access token with video.publish or video.upload",
    )?;
    let base_url = std::env::var("TIKTOK_API_BASE_URL").ok();
    run(base_url, &token, args, &mut std::io::stdout()).await?;
    Ok(())
}
