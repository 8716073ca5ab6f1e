//! Running a job through a [`GrantedClient`]: its file read from the uploads folder and
//! checked (against the hash and size an approval recorded), every endpoint it calls
//! checked against the grant and counted against the budgets before anything is sent, its
//! intent and outcome audited as one tool call (`list_all_videos` audits each page as the
//! video_list call it is).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tiktok_api::chunks::ChunkPlan;
use tiktok_api::endpoints::VIDEO_LIST;
use tiktok_api::meta::EndpointMeta;
use tiktok_api::upload::{PostTarget, UploadOptions, UploadPhase, VideoSource};
use tiktok_api::{ContentInitRequest, PostInfo};

use super::file::{OpenedFile, UploadsDir};
use super::job::{Job, JobKind, Plan, VideoFrom};
use crate::audit::{Decision, needed_scopes, redact_arguments};
use crate::error::Error;
use crate::grant::DenyReason;
use crate::granted::GrantedClient;
use crate::tools::{ArgumentError, error as problem};

/// A progress report of a running job: `progress` of `total` (bytes for an upload, videos
/// for a list), and what it is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProgress {
    /// Done so far.
    pub progress: u64,
    /// Of this many, when known.
    pub total: Option<u64>,
    /// What it is doing.
    pub message: String,
}

type ProgressFn = Arc<dyn Fn(JobProgress) + Send + Sync>;

/// Where a job's files come from and whom it tells how it goes.
#[derive(Clone, Default)]
pub struct JobRun {
    uploads: Option<UploadsDir>,
    progress: Option<ProgressFn>,
    poll: Option<(Duration, Duration)>,
}

impl std::fmt::Debug for JobRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRun")
            .field("uploads", &self.uploads)
            .field("progress", &self.progress.is_some())
            .field("poll", &self.poll)
            .finish()
    }
}

impl JobRun {
    /// No uploads folder (a `file` is refused), no progress reports.
    pub fn new() -> JobRun {
        JobRun::default()
    }

    /// Files come from `uploads`.
    pub fn uploads(mut self, uploads: Option<UploadsDir>) -> JobRun {
        self.uploads = uploads;
        self
    }

    /// Reports progress to `progress`.
    pub fn on_progress(mut self, progress: impl Fn(JobProgress) + Send + Sync + 'static) -> JobRun {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Polls a post's status from `initial`, doubling to `max` (the upload helper's
    /// default otherwise).
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> JobRun {
        self.poll = Some((initial, max));
        self
    }

    fn report(&self, progress: u64, total: Option<u64>, message: impl Into<String>) {
        if let Some(report) = &self.progress {
            report(JobProgress {
                progress,
                total,
                message: message.into(),
            });
        }
    }
}

/// A job checked and ready: its init request complete and its file open.
struct Prepared {
    body: Value,
    file: Option<OpenedFile>,
}

impl Prepared {
    /// The arguments a held job is kept with: the agent's own, plus the file's size and
    /// SHA-256, so what runs after approval is the file that was approved.
    fn held_arguments(&self, arguments: &Value) -> Value {
        let mut kept = arguments.clone();
        if let (Some(file), Value::Object(object)) = (&self.file, &mut kept) {
            object.insert("size_bytes".into(), json!(file.size));
            object.insert("sha256".into(), json!(file.sha256));
        }
        kept
    }
}

impl GrantedClient {
    /// The job `kind` with `arguments`, checked; bad arguments are audited (`invalid`) and
    /// returned as [`Error::InvalidArguments`].
    pub async fn job(&self, kind: JobKind, arguments: &Value) -> Result<Job, Error> {
        match Job::parse(kind, arguments) {
            Ok(job) => Ok(job),
            Err(bad) => self.invalid_job(kind, bad).await,
        }
    }

    /// Checks job `job` (its file, and every endpoint it calls against the grant) without
    /// sending anything; a refusal is audited and returned.
    pub async fn check_job(&self, job: &Job, run: &JobRun) -> Result<(), Error> {
        self.prepare_job(job, run).await.map(drop)
    }

    /// Checks job `job` as [`GrantedClient::check_job`] does and takes its write from the
    /// grant's budgets under `hold` (see [`GrantedClient::hold_tool`]). Returns the
    /// arguments to keep with the approval: `arguments` with the file's size and SHA-256,
    /// checked again when it runs.
    pub async fn hold_job(
        &self,
        job: &Job,
        arguments: &Value,
        run: &JobRun,
        hold: &str,
    ) -> Result<Value, Error> {
        let prepared = self.prepare_job(job, run).await?;
        for meta in job.endpoints() {
            if meta.access == tiktok_api::meta::Access::Write
                && let Err(reason) = self.take_budget(meta, Some(hold)).await
            {
                return self.refuse_job(job, reason).await;
            }
        }
        Ok(prepared.held_arguments(arguments))
    }

    /// Runs job `job`: checks it, takes every call it makes from the budgets (a held job's
    /// write under its approval), audits its intent, runs it, and audits its outcome.
    pub async fn run_job(&self, job: &Job, run: &JobRun) -> Result<Value, Error> {
        if let Plan::List { fields, max_videos } = &job.plan {
            return self.list_all(fields, *max_videos, run).await;
        }
        let prepared = self.prepare_job(job, run).await?;
        for meta in job.endpoints() {
            let hold = (meta.access == tiktok_api::meta::Access::Write)
                .then(|| self.approval_id())
                .flatten();
            if let Err(reason) = self.take_budget(meta, hold).await {
                return self.refuse_job(job, reason).await;
            }
        }
        let init = job
            .endpoints()
            .iter()
            .copied()
            .find(|meta| meta.access == tiktok_api::meta::Access::Write);
        let mut arguments = init.map_or(Value::Null, |meta| {
            redact_arguments(meta, &[], Some(&prepared.body))
        });
        if let (Some(file), Value::Object(object)) = (&prepared.file, &mut arguments) {
            object.insert("size_bytes".into(), json!(file.size));
            object.insert("sha256".into(), json!(file.sha256));
        }
        let scopes = scopes_of(job.endpoints());
        let mut intent = self.record(job.kind.name(), Decision::Intent, None);
        intent.scopes.clone_from(&scopes);
        intent.arguments = arguments.clone();
        intent.access = Some(job.kind.access());
        self.write(intent).await?;
        let started = Instant::now();
        let result = self.post(job, prepared, run).await;
        let mut record = self.record(job.kind.name(), Decision::Allowed, None);
        record.scopes = scopes;
        record.arguments = arguments;
        record.access = Some(job.kind.access());
        record.latency_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(value) => {
                record.reason = Some(format!(
                    "publish_id {} ended {}",
                    value["publish_id"].as_str().unwrap_or_default(),
                    value["status"]["status"].as_str().unwrap_or_default()
                ));
            }
            Err(error) => {
                record.status = error.client().and_then(tiktok_api::Error::status);
                record.log_id = error
                    .client()
                    .and_then(tiktok_api::Error::log_id)
                    .map(str::to_owned);
                record.reason = Some(crate::error_chain(error));
            }
        }
        self.write(record).await?;
        result
    }

    /// The job's file read and checked, its init request completed, and every endpoint it
    /// calls checked against the grant.
    async fn prepare_job(&self, job: &Job, run: &JobRun) -> Result<Prepared, Error> {
        let (mut body, file) = match &job.plan {
            Plan::Video {
                from: VideoFrom::File(name),
                body,
                sha256,
                size_bytes,
                ..
            } => {
                let file = self
                    .open_upload(job, name, run, sha256.as_deref(), *size_bytes)
                    .await?;
                (body.clone(), Some(file))
            }
            Plan::Video { body, .. } | Plan::Photos { body, .. } => (body.clone(), None),
            Plan::List { .. } => (Value::Null, None),
        };
        if let Some(file) = &file {
            let plan = match ChunkPlan::for_size(file.size) {
                Ok(plan) => plan,
                Err(error) => {
                    return self
                        .invalid_job(
                            job.kind,
                            problem("/file", format!("the file cannot be uploaded: {error}")),
                        )
                        .await;
                }
            };
            body["source_info"] = json!({
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.total_chunk_count,
            });
        }
        for meta in job.endpoints() {
            let sent = (meta.access == tiktok_api::meta::Access::Write).then_some(&body);
            if let Err(reason) = self.grant().check_call(meta, &[], sent) {
                return self.refuse_job(job, reason).await;
            }
        }
        Ok(Prepared { body, file })
    }

    /// Opens `name` in the uploads folder (off the async threads) and checks it against
    /// the hash and size the agent or an approval gave.
    async fn open_upload(
        &self,
        job: &Job,
        name: &str,
        run: &JobRun,
        sha256: Option<&str>,
        size_bytes: Option<u64>,
    ) -> Result<OpenedFile, Error> {
        let Some(uploads) = run.uploads.clone() else {
            let bad = problem(
                "/file",
                "this agent has no uploads folder (`uploads_dir` in its config): give a `url`",
            );
            return self.invalid_job(job.kind, bad).await;
        };
        let owned = name.to_string();
        // Refused before it is read: no time spent hashing what can never be posted.
        let max_bytes = tiktok_api::ChunkRules::strict().max_video_size();
        let opened = tokio::task::spawn_blocking(move || uploads.open(&owned, max_bytes))
            .await
            .map_err(|error| {
                tiktok_api::Error::InvalidRequest(format!("reading the file failed: {error}"))
            })?;
        let file = match opened {
            Ok(file) => file,
            Err(error) => {
                return self
                    .invalid_job(job.kind, problem("/file", crate::error_chain(&error)))
                    .await;
            }
        };
        if let Some(expected) = size_bytes
            && expected != file.size
        {
            let message = format!(
                "the file has {} bytes, not the {expected} expected (it changed since it was checked); nothing was sent",
                file.size
            );
            return self
                .invalid_job(job.kind, problem("/size_bytes", message))
                .await;
        }
        if let Some(expected) = sha256
            && expected != file.sha256
        {
            let message = "the file's SHA-256 is not the one expected (it changed since it was checked); nothing was sent";
            return self
                .invalid_job(job.kind, problem("/sha256", message))
                .await;
        }
        Ok(file)
    }

    /// Sends a checked post job and waits for its final status.
    async fn post(&self, job: &Job, prepared: Prepared, run: &JobRun) -> Result<Value, Error> {
        let mut options = UploadOptions::new();
        if let Some((initial, max)) = run.poll {
            options = options.poll_interval(initial, max);
        }
        if run.progress.is_some() {
            let run = run.clone();
            options = options.on_progress(move |progress| {
                let message = match progress.phase {
                    UploadPhase::Initialized => "initialized".to_string(),
                    UploadPhase::Uploading => format!(
                        "uploaded chunk {} of {}",
                        progress.chunks_sent, progress.total_chunks
                    ),
                    UploadPhase::Processing => "TikTok is processing it".to_string(),
                    UploadPhase::Done => "done".to_string(),
                };
                let total = (progress.total_bytes > 0).then_some(progress.total_bytes);
                run.report(progress.bytes_sent, total, message);
            });
        }
        let user = self.user();
        let posted = match &job.plan {
            Plan::Video {
                from, inbox, body, ..
            } => {
                let source = match (from, prepared.file) {
                    (VideoFrom::Url(url), _) => VideoSource::Url(url.clone()),
                    (VideoFrom::File(_), Some(file)) => VideoSource::reader(
                        Checked::new(tokio::fs::File::from_std(file.file), file.size, file.sha256),
                        file.size,
                    ),
                    (VideoFrom::File(name), None) => {
                        return Err(tiktok_api::Error::InvalidRequest(format!(
                            "{name}: not opened"
                        ))
                        .into());
                    }
                };
                let target = if *inbox {
                    PostTarget::Inbox
                } else {
                    let info: PostInfo = serde_json::from_value(body["post_info"].clone())
                        .map_err(|error| {
                            tiktok_api::Error::InvalidRequest(format!("post_info: {error}"))
                        })?;
                    PostTarget::Direct(info)
                };
                user.upload_video(source, target, options).await?
            }
            Plan::Photos { inbox, .. } => {
                let request: ContentInitRequest = serde_json::from_value(prepared.body.clone())
                    .map_err(|error| {
                        tiktok_api::Error::InvalidRequest(format!("content_init: {error}"))
                    })?;
                if !inbox {
                    let creator = user.creator_info().await?;
                    let level = request.post_info.privacy_level.as_ref();
                    if let Some(level) =
                        level.filter(|level| !creator.privacy_level_options.contains(level))
                    {
                        return Err(tiktok_api::Error::InvalidRequest(format!(
                            "privacy_level {} is not one the creator offers ({})",
                            level.as_str(),
                            creator
                                .privacy_level_options
                                .iter()
                                .map(|level| level.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .into());
                    }
                }
                user.post_photos(&request, options).await?
            }
            Plan::List { .. } => unreachable!("lists run page by page"),
        };
        Ok(json!({
            "publish_id": posted.publish_id,
            "failed": posted.is_failed(),
            "status": serde_json::to_value(&posted.status).unwrap_or(Value::Null),
        }))
    }

    /// Every page of the video list up to `max_videos`, each page a video_list call
    /// through the grant and the audit.
    async fn list_all(
        &self,
        fields: &[String],
        max_videos: u64,
        run: &JobRun,
    ) -> Result<Value, Error> {
        let (page_size, items_key) = VIDEO_LIST.paging.map_or((1, "videos"), |paging| {
            (u64::from(paging.max_max_count), paging.items)
        });
        let mut videos = Vec::new();
        let mut cursor: Option<Value> = None;
        let mut pages = 0u64;
        let mut has_more = true;
        while has_more && (videos.len() as u64) < max_videos {
            let wanted = (max_videos - videos.len() as u64).min(page_size);
            let mut arguments = json!({"fields": fields, "max_count": wanted});
            if let Some(cursor) = &cursor {
                arguments["cursor"] = cursor.clone();
            }
            let page = self.call_tool(VIDEO_LIST.id, arguments).await?;
            pages += 1;
            let items = page[items_key].as_array().cloned().unwrap_or_default();
            // A page that says there is more but gives no new cursor would be read again
            // from the top: the walk stops there instead.
            let next = page
                .get("cursor")
                .cloned()
                .filter(|cursor| !cursor.is_null());
            has_more = page["has_more"].as_bool().unwrap_or(false)
                && !items.is_empty()
                && next.is_some()
                && next != cursor;
            cursor = next;
            videos.extend(items);
            run.report(
                videos.len() as u64,
                Some(max_videos),
                format!("{pages} pages read"),
            );
        }
        videos.truncate(usize::try_from(max_videos).unwrap_or(usize::MAX));
        Ok(json!({
            "videos": videos,
            "pages": pages,
            "has_more": has_more,
            "cursor": if has_more { cursor.unwrap_or(Value::Null) } else { Value::Null },
        }))
    }

    /// Audits a job refused by the grant or the budgets and returns the refusal.
    async fn refuse_job<T>(&self, job: &Job, reason: DenyReason) -> Result<T, Error> {
        let mut record = self.record(job.kind.name(), Decision::Denied, Some(reason.to_string()));
        record.scopes = scopes_of(job.endpoints());
        record.access = Some(job.kind.access());
        self.write(record).await?;
        Err(Error::Denied {
            endpoint: job.kind.name(),
            reason,
        })
    }

    /// Audits a job whose arguments (or file) are bad and returns why.
    async fn invalid_job<T>(&self, kind: JobKind, bad: ArgumentError) -> Result<T, Error> {
        let reason = format!("arguments at {:?}: {}", bad.path, bad.message);
        let mut record = self.record(kind.name(), Decision::Invalid, Some(reason));
        record.access = Some(kind.access());
        self.write(record).await?;
        Err(Error::InvalidArguments {
            tool: kind.name(),
            path: bad.path,
            message: bad.message,
        })
    }
}

/// The scopes the calls of a job need.
fn scopes_of(endpoints: &[&EndpointMeta]) -> Vec<String> {
    let mut scopes: Vec<String> = endpoints
        .iter()
        .flat_map(|meta| needed_scopes(meta, &[]))
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// A file read for its upload, hashed as it is read: once its last byte is read (before the
/// last chunk is sent, so TikTok never holds the whole of it), a hash other than the one
/// checked (and approved) fails the read, so bytes swapped in after the check are never
/// all posted.
struct Checked {
    inner: tokio::fs::File,
    hasher: sha2::Sha256,
    read: u64,
    size: u64,
    expected: String,
}

impl Checked {
    fn new(inner: tokio::fs::File, size: u64, expected: String) -> Checked {
        Checked {
            inner,
            hasher: sha2::Sha256::default(),
            read: 0,
            size,
            expected,
        }
    }
}

impl tokio::io::AsyncRead for Checked {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use sha2::Digest;
        let before = buf.filled().len();
        let this = &mut *self;
        std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        let reached_end =
            this.read < this.size && this.read.saturating_add(fresh.len() as u64) >= this.size;
        this.hasher.update(fresh);
        this.read = this.read.saturating_add(fresh.len() as u64);
        if reached_end && hex::encode(this.hasher.clone().finalize()) != this.expected {
            // An error hands back nothing read.
            buf.set_filled(before);
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "the file changed after it was checked (its SHA-256 differs); its upload was stopped before the last chunk",
            )));
        }
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;

    use super::Checked;

    async fn read_all(bytes: &[u8], expected: &[u8]) -> std::io::Result<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        std::fs::write(&path, bytes).unwrap();
        let file = tokio::fs::File::open(&path).await.unwrap();
        let expected = hex::encode(sha2::Sha256::digest(expected));
        let mut checked = Checked::new(file, bytes.len() as u64, expected);
        let mut out = Vec::new();
        checked.read_to_end(&mut out).await.map(|_| out)
    }

    #[tokio::test]
    async fn a_file_whose_bytes_changed_since_the_check_fails_at_its_last_byte() {
        let bytes = vec![7u8; 200_000];
        assert_eq!(read_all(&bytes, &bytes).await.unwrap(), bytes);
        let mut swapped = bytes.clone();
        swapped[150_000] = 8;
        let error = read_all(&swapped, &bytes).await.unwrap_err();
        assert!(
            error.to_string().contains("changed after it was checked"),
            "{error}"
        );
    }
}
