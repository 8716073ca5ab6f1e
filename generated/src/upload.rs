//! The upload helper: a video from a file, bytes, a reader or a URL (and photos from URLs)
//! taken from init to a final status. File uploads are cut by [`ChunkPlan`], each chunk
//! PUT with its `Content-Range` (a failed chunk is sent again when that is safe), holding
//! at most one chunk in memory; then the status is polled with backoff until it is final.

use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::UserClient;
use crate::chunks::ChunkPlan;
use crate::meta::Access;
use crate::{
    Attempts, ContentInitRequest, Error, InboxVideoInitRequest, PostInfo, PostStatus,
    PublishStatus, Source, StatusFetchRequest, UploadError, VideoInitRequest, VideoSourceInfo,
    decode_response, meta::Envelope, spec_constants,
};

/// Where a video comes from.
pub enum VideoSource {
    /// A file, read a chunk at a time.
    Path(PathBuf),
    /// Bytes already in memory.
    Bytes(Bytes),
    /// A reader of exactly `size` bytes, read a chunk at a time.
    Reader {
        /// The reader.
        reader: Pin<Box<dyn AsyncRead + Send>>,
        /// Its length in bytes.
        size: u64,
    },
    /// An https URL on a domain verified for the app: TikTok pulls it (`PULL_FROM_URL`).
    Url(String),
}

impl std::fmt::Debug for VideoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VideoSource::Path(path) => f.debug_tuple("Path").field(path).finish(),
            VideoSource::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            VideoSource::Reader { size, .. } => write!(f, "Reader({size} bytes)"),
            VideoSource::Url(url) => f.debug_tuple("Url").field(url).finish(),
        }
    }
}

impl VideoSource {
    /// A reader of exactly `size` bytes.
    pub fn reader(reader: impl AsyncRead + Send + 'static, size: u64) -> Self {
        VideoSource::Reader {
            reader: Box::pin(reader),
            size,
        }
    }
}

/// Where the video goes.
#[derive(Debug, Clone)]
pub enum PostTarget {
    /// Posted at once with `video.publish` (creator info is checked first).
    Direct(PostInfo),
    /// Sent to the creator's inbox with `video.upload`, to finish in TikTok.
    Inbox,
}

/// What the helper is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPhase {
    /// The init call was answered.
    Initialized,
    /// A chunk was accepted.
    Uploading,
    /// A status poll was answered (still processing).
    Processing,
    /// The post reached a final status.
    Done,
}

/// A progress report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    /// The phase.
    pub phase: UploadPhase,
    /// The post.
    pub publish_id: String,
    /// Bytes accepted by the upload host so far.
    pub bytes_sent: u64,
    /// The video's size (0 for URL and photo posts).
    pub total_bytes: u64,
    /// Chunks accepted so far.
    pub chunks_sent: u64,
    /// Chunks in all.
    pub total_chunks: u64,
    /// The last status seen, once polling began.
    pub status: Option<PostStatus>,
}

type ProgressFn = Box<dyn FnMut(&UploadProgress) + Send>;

/// How [`UserClient::upload_video`] polls and reports.
///
/// ```
/// use std::time::Duration;
///
/// use tiktok_api::upload::UploadOptions;
///
/// let options = UploadOptions::new()
///     .poll_interval(Duration::from_secs(1), Duration::from_secs(10))
///     .max_wait(Duration::from_secs(600))
///     .on_progress(|progress| eprintln!("{}/{} bytes", progress.bytes_sent, progress.total_bytes));
/// # drop(options);
/// ```
pub struct UploadOptions {
    content_type: String,
    poll_initial: Duration,
    poll_max: Duration,
    max_wait: Duration,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("content_type", &self.content_type)
            .field("poll_initial", &self.poll_initial)
            .field("poll_max", &self.poll_max)
            .field("max_wait", &self.max_wait)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            content_type: spec_constants::UPLOAD_CONTENT_TYPES
                .first()
                .copied()
                .unwrap_or("video/mp4")
                .to_string(),
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(5),
            max_wait: Duration::from_secs(600),
            progress: None,
        }
    }
}

impl UploadOptions {
    /// Polls from 500 ms, doubling to 5 s, for at most 10 minutes; `video/mp4`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The chunks' `Content-Type` (one of the spec's upload content types).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// The first and the longest delay between status polls.
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> Self {
        self.poll_initial = initial;
        self.poll_max = max.max(initial);
        self
    }

    /// How long to poll before giving up with [`UploadError::StatusTimeout`].
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Calls `progress` after init, after each chunk, after each poll and at the end.
    pub fn on_progress(mut self, progress: impl FnMut(&UploadProgress) + Send + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }
}

/// A post that reached a final status: check [`Posted::is_failed`], a failed post is not
/// an `Err` (the calls all succeeded; TikTok refused the content).
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// The post's id.
    pub publish_id: String,
    /// Its final status: `PUBLISH_COMPLETE`, `SEND_TO_USER_INBOX` or `FAILED` (with
    /// `fail_reason`).
    pub status: PublishStatus,
}

impl Posted {
    /// Whether the post failed.
    pub fn is_failed(&self) -> bool {
        self.status.status == PostStatus::Failed
    }
}

/// Reads chunks from a source, one buffer at a time.
enum Chunks {
    Bytes(Bytes),
    Reader(Pin<Box<dyn AsyncRead + Send>>),
}

impl Chunks {
    /// Reads `length` bytes from `first`; on the last chunk, checks the source ends there.
    async fn next(&mut self, first: u64, length: u64, expected: u64) -> Result<Bytes, Error> {
        let end = first + length;
        match self {
            Chunks::Bytes(bytes) => {
                let (Ok(first), Ok(end)) = (usize::try_from(first), usize::try_from(end)) else {
                    return Err(UploadError::SourceEnded { expected, read: 0 }.into());
                };
                bytes
                    .get(first..end)
                    .map(|_| bytes.slice(first..end))
                    .ok_or_else(|| {
                        UploadError::SourceEnded {
                            expected,
                            read: bytes.len() as u64,
                        }
                        .into()
                    })
            }
            Chunks::Reader(reader) => {
                let length = usize::try_from(length).map_err(|_| UploadError::SourceEnded {
                    expected,
                    read: first,
                })?;
                let mut buffer = vec![0u8; length];
                let mut filled = 0;
                while filled < buffer.len() {
                    let read = reader
                        .read(&mut buffer[filled..])
                        .await
                        .map_err(UploadError::Io)?;
                    if read == 0 {
                        return Err(UploadError::SourceEnded {
                            expected,
                            read: first + filled as u64,
                        }
                        .into());
                    }
                    filled += read;
                }
                if end == expected {
                    let mut probe = [0u8; 1];
                    if reader.read(&mut probe).await.map_err(UploadError::Io)? > 0 {
                        return Err(UploadError::SourceTooLong { expected }.into());
                    }
                }
                Ok(Bytes::from(buffer))
            }
        }
    }
}

impl UserClient {
    /// Posts a video from `source` to `target` and waits for its final status.
    ///
    /// For a file, bytes or a reader: creator info (direct posts: the privacy level must
    /// be one the creator offers), init with a [`ChunkPlan`], each chunk PUT in order, then
    /// status polls. For a URL: init with `PULL_FROM_URL`, then status polls. An empty or
    /// too large video fails before any call ([`UploadError::Plan`]); a reader that ends
    /// early fails with [`UploadError::SourceEnded`].
    ///
    /// ```no_run
    /// # async fn example(user: tiktok_api::UserClient) -> Result<(), tiktok_api::Error> {
    /// use tiktok_api::upload::{PostTarget, UploadOptions, VideoSource};
    /// use tiktok_api::{PostInfo, PrivacyLevel};
    ///
    /// let posted = user
    ///     .upload_video(
    ///         VideoSource::Path("clip.mp4".into()),
    ///         PostTarget::Direct(PostInfo::new(PrivacyLevel::SelfOnly)),
    ///         UploadOptions::new(),
    ///     )
    ///     .await?;
    /// if posted.is_failed() {
    ///     eprintln!("TikTok refused it: {:?}", posted.status.fail_reason);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn upload_video(
        &self,
        source: VideoSource,
        target: PostTarget,
        mut options: UploadOptions,
    ) -> Result<Posted, Error> {
        let (source_info, mut chunks, plan) = match source {
            VideoSource::Url(url) => (
                VideoSourceInfo {
                    source: Source::PullFromUrl,
                    video_url: Some(url),
                    video_size: None,
                    chunk_size: None,
                    total_chunk_count: None,
                },
                None,
                None,
            ),
            other => {
                let (chunks, size) = match other {
                    VideoSource::Bytes(bytes) => {
                        let size = bytes.len() as u64;
                        (Chunks::Bytes(bytes), size)
                    }
                    VideoSource::Reader { reader, size } => (Chunks::Reader(reader), size),
                    VideoSource::Path(path) => {
                        let file = tokio::fs::File::open(&path)
                            .await
                            .map_err(|error| UploadError::Io(with_path(error, &path)))?;
                        let size = file
                            .metadata()
                            .await
                            .map_err(|error| UploadError::Io(with_path(error, &path)))?
                            .len();
                        (Chunks::Reader(Box::pin(file)), size)
                    }
                    VideoSource::Url(_) => unreachable!("handled above"),
                };
                let plan = ChunkPlan::for_size(size).map_err(UploadError::Plan)?;
                (
                    VideoSourceInfo {
                        source: Source::FileUpload,
                        video_url: None,
                        video_size: Some(plan.video_size as i64),
                        chunk_size: Some(plan.chunk_size as i64),
                        total_chunk_count: Some(plan.total_chunk_count as i64),
                    },
                    Some(chunks),
                    Some(plan),
                )
            }
        };
        let init = match target {
            PostTarget::Direct(post_info) => {
                let creator = self.creator_info().await?;
                if !creator
                    .privacy_level_options
                    .contains(&post_info.privacy_level)
                {
                    return Err(Error::InvalidRequest(format!(
                        "privacy_level {} is not one the creator offers ({})",
                        post_info.privacy_level.as_str(),
                        creator
                            .privacy_level_options
                            .iter()
                            .map(|level| level.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                self.video_init(&VideoInitRequest {
                    post_info,
                    source_info,
                })
                .await?
            }
            PostTarget::Inbox => {
                self.inbox_video_init(&InboxVideoInitRequest { source_info })
                    .await?
            }
        };
        let mut progress = UploadProgress {
            phase: UploadPhase::Initialized,
            publish_id: init.publish_id.clone(),
            bytes_sent: 0,
            total_bytes: plan.map_or(0, |plan| plan.video_size),
            chunks_sent: 0,
            total_chunks: plan.map_or(0, |plan| plan.total_chunk_count),
            status: None,
        };
        report(&mut options, &progress);
        if let (Some(plan), Some(chunks)) = (plan, chunks.as_mut()) {
            let upload_url = init.upload_url.clone().ok_or(UploadError::NoUploadUrl)?;
            for index in 0..plan.total_chunk_count {
                let Some((first, last)) = plan.range(index) else {
                    break;
                };
                let body = chunks
                    .next(first, last - first + 1, plan.video_size)
                    .await?;
                self.put_chunk(&upload_url, &plan, index, body, &options.content_type)
                    .await?;
                progress.phase = UploadPhase::Uploading;
                progress.bytes_sent = last + 1;
                progress.chunks_sent = index + 1;
                report(&mut options, &progress);
            }
        }
        self.wait_for_final(init.publish_id, progress, &mut options)
            .await
    }

    /// Posts photos (`content_init`) and waits for the final status.
    pub async fn post_photos(
        &self,
        request: &ContentInitRequest,
        mut options: UploadOptions,
    ) -> Result<Posted, Error> {
        let init = self.content_init(request).await?;
        let progress = UploadProgress {
            phase: UploadPhase::Initialized,
            publish_id: init.publish_id.clone(),
            bytes_sent: 0,
            total_bytes: 0,
            chunks_sent: 0,
            total_chunks: 0,
            status: None,
        };
        report(&mut options, &progress);
        self.wait_for_final(init.publish_id, progress, &mut options)
            .await
    }

    /// PUTs one chunk, sending it again after a failure that the policy allows; a 416 whose
    /// `Content-Range` shows the chunk already arrived counts as accepted.
    async fn put_chunk(
        &self,
        upload_url: &str,
        plan: &ChunkPlan,
        index: u64,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), Error> {
        let Some((first, last)) = plan.range(index) else {
            return Ok(());
        };
        let content_range = format!("bytes {first}-{last}/{}", plan.video_size);
        let policy = self.client().retry_policy().clone();
        // The client's whole-request timeout suits API calls, not 64 MB bodies: allow the
        // chunk at least 1 Mbit/s on top of it.
        let timeout = self.client().timeout() + Duration::from_secs(body.len() as u64 / 125_000);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self
                .client()
                .http()
                .put(upload_url)
                .timeout(timeout)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::CONTENT_RANGE, &content_range)
                .body(body.clone())
                .send()
                .await;
            let error = match answer {
                Ok(response) => {
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) {
                        return Ok(());
                    }
                    let received = response
                        .headers()
                        .get(reqwest::header::CONTENT_RANGE)
                        .and_then(|value| value.to_str().ok())
                        .and_then(uploaded_through);
                    if status == 416 && received.is_some_and(|through| through >= last) {
                        return Ok(());
                    }
                    let bytes = response.bytes().await?;
                    match decode_response::<serde_json::Value>(Envelope::V2, status, &bytes) {
                        Err(error) => error,
                        Ok(_) => Error::Decode {
                            status,
                            message: "the upload host answered a chunk with an error status".into(),
                            body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                            attempts: Attempts::ONE,
                        },
                    }
                }
                // The upload URL carries its token: keep it out of the error.
                Err(error) => Error::from(error.without_url()),
            };
            // A chunk PUT is idempotent (the host answers 416 with what it holds): read-like.
            let Some(delay) =
                policy.next_delay_for(Access::Read, &error, attempt, started.elapsed())
            else {
                return Err(error.with_attempts(Attempts {
                    count: attempt,
                    elapsed: started.elapsed(),
                    retry_after: None,
                }));
            };
            tracing::debug!(%error, chunk = index, "sending the chunk again");
            tokio::time::sleep(delay).await;
        }
    }

    /// Polls the status with backoff until it is final: `PUBLISH_COMPLETE`, `FAILED`, or
    /// `SEND_TO_USER_INBOX` (where an inbox post waits for the creator).
    async fn wait_for_final(
        &self,
        publish_id: String,
        mut progress: UploadProgress,
        options: &mut UploadOptions,
    ) -> Result<Posted, Error> {
        let started = Instant::now();
        let mut delay = options.poll_initial;
        let request = StatusFetchRequest {
            publish_id: publish_id.clone(),
        };
        loop {
            let status = self.status_fetch(&request).await?;
            let done = matches!(
                status.status,
                PostStatus::PublishComplete | PostStatus::Failed | PostStatus::SendToUserInbox
            );
            progress.status = Some(status.status.clone());
            if done {
                progress.phase = UploadPhase::Done;
                report(options, &progress);
                return Ok(Posted { publish_id, status });
            }
            progress.phase = UploadPhase::Processing;
            report(options, &progress);
            if started.elapsed().saturating_add(delay) > options.max_wait {
                return Err(UploadError::StatusTimeout {
                    publish_id,
                    status: status.status.as_str().to_string(),
                    waited: started.elapsed(),
                }
                .into());
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(options.poll_max);
        }
    }
}

fn report(options: &mut UploadOptions, progress: &UploadProgress) {
    if let Some(callback) = options.progress.as_mut() {
        callback(progress);
    }
}

fn with_path(error: std::io::Error, path: &std::path::Path) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// The last byte the upload host holds, from its `Content-Range: bytes 0-LAST/TOTAL`.
fn uploaded_through(header: &str) -> Option<u64> {
    let range = header.strip_prefix("bytes ")?;
    let (range, _) = range.split_once('/')?;
    let (_, last) = range.split_once('-')?;
    last.parse().ok()
}
