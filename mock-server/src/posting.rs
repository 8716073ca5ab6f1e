//! Content posting: creator info, direct and inbox video init (`FILE_UPLOAD` with the chunk
//! rules checked exactly, `PULL_FROM_URL`), photo posts through content init, status fetch,
//! and the posting part of the control API (`/_mock/posts`, `/_mock/posting`).
//!
//! A post's status is never advanced by a timer: it is computed from its timestamps on the
//! mock's clock whenever it is observed ([`settle`]): by a status fetch, by the creator's
//! video list, video query or user info, by `GET /_mock/posts`, and by every clock advance
//! (`POST /_mock/clock/advance`, `MockServer::advance`). On the system clock a one-shot task
//! also settles a post when its processing time is up, so webhooks fire without polling.
//! Each transition's side effects (the video added to the creator's list, the webhook
//! events) happen exactly once: the post records the milestones already applied, under its
//! own lock in the store.

use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, WebhookFamily};
use tiktok_api::spec_constants::{
    CHUNK_MAX_FINAL_MB, CHUNK_MAX_MB, CHUNK_MIN_MB, MAX_CHUNKS, MB_READINGS, MIN_CHUNKS,
    UPLOAD_URL_TTL_SECONDS,
};
use tiktok_api::{ErrorCode, FailReason, PrivacyLevel};

use crate::behaviours::Call;
use crate::error::ApiError;
use crate::fixtures::{FixtureVideo, build_video};
use crate::state::AppState;
use crate::store::{App, Creator};

/// Processing time after the upload (or from init, for `PULL_FROM_URL`) by default: 5 s.
pub const DEFAULT_PROCESSING_MS: i64 = 5_000;
/// The size a `PULL_FROM_URL` video or photo set pretends to have (`downloaded_bytes`).
pub const DEFAULT_PULL_BYTES: i64 = 10_000_000;
/// `max_video_post_duration_sec` of a creator whose fixture does not say.
pub const DEFAULT_MAX_VIDEO_POST_DURATION_SEC: i32 = 300;
/// Direct posts (videos and photos) a creator may start per 24 h across apps.
pub const DIRECT_POSTS_PER_DAY: usize = 15;
/// Inbox shares a creator may have pending (not yet posted from the inbox) per 24 h.
pub const PENDING_SHARES_PER_DAY: usize = 5;
/// The path of upload URLs on the mock (`{base}/upload/video/?upload_id=…&upload_token=…`).
pub const UPLOAD_PATH: &str = "/upload/video/";
/// Hosts under this domain fail the ownership check at init (403 `url_ownership_unverified`).
pub const UNVERIFIED_DOMAIN: &str = "unverified.example";
/// Hosts under this top-level domain are accepted at init, but the download fails later.
pub const FAILING_TLD: &str = "invalid";

const DAY_MS: i64 = 86_400_000;
/// The first publish id number.
const PUBLISH_ID_BASE: u64 = 7_320_000_000_000_000_000;
/// TikTok's message for a chunk rule breach, followed by the rule.
const CHUNK_INVALID: &str = "The chunk size is invalid";

/// A creator's posting settings, the `posting` key of a creator in fixtures and in
/// `POST /_mock/creators`. Everything defaults to a public account with every toggle on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingProfile {
    /// A private account: privacy options `FOLLOWER_OF_CREATOR`, `MUTUAL_FOLLOW_FRIENDS`,
    /// `SELF_ONLY`; duets and stitches off. Unaudited apps may post only to private accounts.
    #[serde(default)]
    pub private_account: bool,
    /// Comments set to "No one".
    #[serde(default)]
    pub comment_disabled: bool,
    /// Duets set to "No one".
    #[serde(default)]
    pub duet_disabled: bool,
    /// Stitches set to "No one".
    #[serde(default)]
    pub stitch_disabled: bool,
    /// The longest video the creator may post (default 300).
    #[serde(default)]
    pub max_video_post_duration_sec: Option<i32>,
    /// The creator can't post now: creator_info answers this code with HTTP 200 and the
    /// init endpoints that list it refuse with it (403).
    #[serde(default)]
    pub blocked: Option<PostingBlock>,
}

/// Why a creator can't post now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingBlock {
    /// Too many API posts in 24 h.
    SpamRiskTooManyPosts,
    /// The creator is banned from posting.
    SpamRiskUserBannedFromPosting,
    /// The app's 24-hour active-creator cap is reached.
    ReachedActiveUserCap,
}

impl PostingBlock {
    /// The catalog code.
    pub fn code(self) -> ErrorCode {
        match self {
            PostingBlock::SpamRiskTooManyPosts => ErrorCode::SpamRiskTooManyPosts,
            PostingBlock::SpamRiskUserBannedFromPosting => ErrorCode::SpamRiskUserBannedFromPosting,
            PostingBlock::ReachedActiveUserCap => ErrorCode::ReachedActiveUserCap,
        }
    }
}

impl PostingProfile {
    /// The privacy levels a post may use, as creator_info lists them.
    pub fn privacy_level_options(&self) -> Vec<PrivacyLevel> {
        if self.private_account {
            vec![
                PrivacyLevel::FollowerOfCreator,
                PrivacyLevel::MutualFollowFriends,
                PrivacyLevel::SelfOnly,
            ]
        } else {
            vec![
                PrivacyLevel::PublicToEveryone,
                PrivacyLevel::MutualFollowFriends,
                PrivacyLevel::SelfOnly,
            ]
        }
    }
}

/// Settings of the posting state machine (`GET|POST /_mock/posting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingSettings {
    /// Processing time on the mock's clock, milliseconds: after the last chunk for
    /// `FILE_UPLOAD`, from init for `PULL_FROM_URL`. Applies to posts started afterwards.
    pub processing_ms: i64,
    /// The size a pulled video or photo set pretends to have.
    pub pull_bytes: i64,
}

/// The posting runtime of one mock: its base URL (for upload URLs), settings and id counter.
#[derive(Debug)]
pub struct Posting {
    base_url: RwLock<String>,
    processing_ms: AtomicI64,
    pull_bytes: AtomicI64,
    next_id: AtomicU64,
}

impl Default for Posting {
    fn default() -> Self {
        Posting::new()
    }
}

impl Posting {
    /// Defaults: base URL `http://127.0.0.1:8080` until the server says where it listens.
    pub fn new() -> Posting {
        Posting {
            base_url: RwLock::new("http://127.0.0.1:8080".to_owned()),
            processing_ms: AtomicI64::new(DEFAULT_PROCESSING_MS),
            pull_bytes: AtomicI64::new(DEFAULT_PULL_BYTES),
            next_id: AtomicU64::new(PUBLISH_ID_BASE),
        }
    }

    /// The mock's own base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url
            .read()
            .map(|url| url.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Sets the base URL upload URLs point at (the server calls it once bound).
    pub fn set_base_url(&self, url: &str) {
        let url = url.trim_end_matches('/').to_owned();
        match self.base_url.write() {
            Ok(mut guard) => *guard = url,
            Err(poisoned) => *poisoned.into_inner() = url,
        }
    }

    /// The current settings.
    pub fn settings(&self) -> PostingSettings {
        PostingSettings {
            processing_ms: self.processing_ms.load(Ordering::SeqCst),
            pull_bytes: self.pull_bytes.load(Ordering::SeqCst),
        }
    }

    /// Changes the settings (negative values become 0).
    pub fn set_settings(&self, settings: PostingSettings) {
        self.processing_ms
            .store(settings.processing_ms.max(0), Ordering::SeqCst);
        self.pull_bytes
            .store(settings.pull_bytes.max(0), Ordering::SeqCst);
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }
}

/// Direct post to the profile, or upload to the creator's inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostFlow {
    /// Direct Post (`video.publish`).
    Direct,
    /// Upload to the inbox (`video.upload`).
    Inbox,
}

/// What a post carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A video.
    Video,
    /// Photos.
    Photo,
}

/// How the media reaches the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceKind {
    /// Chunks PUT to the upload URL.
    FileUpload,
    /// Downloaded from a URL.
    PullFromUrl,
}

/// A transition whose side effects (video list, webhooks) happen once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// `PUBLISH_COMPLETE`.
    Published,
    /// The post is public (its id is listed).
    PubliclyAvailable,
    /// `SEND_TO_USER_INBOX`.
    InboxDelivered,
    /// `FAILED`.
    Failed,
}

/// A post started through an init endpoint, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostRecord {
    /// The id the init call answered.
    pub publish_id: String,
    /// The init endpoint's id (`video_init`, `inbox_video_init`, `content_init`).
    pub endpoint: String,
    /// The creator.
    pub open_id: String,
    /// The app whose token started it.
    pub client_key: String,
    /// The access token that started it: once revoked, an unfinished post fails with
    /// `auth_removed`.
    #[serde(skip)]
    pub access_token: String,
    /// Direct or inbox.
    pub flow: PostFlow,
    /// Video or photos.
    pub media: MediaKind,
    /// Upload or pull.
    pub source: SourceKind,
    /// Init time, Unix ms on the mock's clock.
    pub created_ms: i64,
    /// Processing time of this post, ms.
    pub processing_ms: i64,
    /// The privacy level in force (direct posts; `SELF_ONLY` for unaudited apps).
    pub privacy_level: Option<String>,
    /// The caption (video) or title (photos).
    pub title: String,
    /// The photo description.
    pub description: String,
    /// The pull URL (the first photo for photo posts).
    pub media_url: Option<String>,
    /// Photos in a photo post.
    pub photo_count: usize,
    /// `FILE_UPLOAD`: the declared size; `PULL_FROM_URL`: the pretended size.
    pub video_size: i64,
    /// `FILE_UPLOAD`: bytes per chunk.
    pub chunk_size: i64,
    /// `FILE_UPLOAD`: chunks.
    pub total_chunk_count: i64,
    /// `FILE_UPLOAD`: the id in the upload URL.
    pub upload_id: Option<String>,
    /// `FILE_UPLOAD`: the token in the upload URL.
    #[serde(skip)]
    pub upload_token: Option<String>,
    /// `FILE_UPLOAD`: when the upload URL stops working, Unix ms.
    pub upload_expires_ms: Option<i64>,
    /// Bytes received so far.
    pub uploaded_bytes: i64,
    /// Chunks received so far.
    pub chunks_received: i64,
    /// When the last chunk arrived.
    pub upload_completed_ms: Option<i64>,
    /// The pull URL's host is one that fails (`*.invalid`).
    pub pull_fails: bool,
    /// A failure forced through the control API.
    pub fail_reason: Option<String>,
    /// When the forced failure happened.
    pub failed_ms: Option<i64>,
    /// Inbox: when the creator posted the draft from the inbox (control API).
    pub user_posted_ms: Option<i64>,
    /// The id of the post once published (the video id in the creator's list).
    pub post_id: String,
    /// Milestones whose side effects already happened.
    pub applied: Vec<Milestone>,
}

/// What a status fetch says of a post at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostView {
    /// The `PostStatus` value.
    pub status: &'static str,
    /// Why it failed.
    pub fail_reason: Option<String>,
    /// Upload progress.
    pub uploaded_bytes: i64,
    /// Download progress.
    pub downloaded_bytes: i64,
    /// The public post ids.
    pub publicaly_available_post_id: Vec<i64>,
    /// When it was published, if it was.
    pub published_ms: Option<i64>,
    /// The milestones reached.
    pub reached: Vec<Milestone>,
}

/// The status of `post` at `now_ms`, from its timestamps alone.
pub fn view(post: &PostRecord, now_ms: i64) -> PostView {
    let pulling = post.source == SourceKind::PullFromUrl;
    let mut view = PostView {
        status: if pulling {
            "PROCESSING_DOWNLOAD"
        } else {
            "PROCESSING_UPLOAD"
        },
        fail_reason: None,
        uploaded_bytes: if pulling { 0 } else { post.uploaded_bytes },
        downloaded_bytes: 0,
        publicaly_available_post_id: Vec::new(),
        published_ms: None,
        reached: Vec::new(),
    };
    let ready_ms = match post.source {
        SourceKind::FileUpload => post.upload_completed_ms.map(|at| at + post.processing_ms),
        SourceKind::PullFromUrl => Some(post.created_ms + post.processing_ms),
    };
    let forced = match (&post.fail_reason, post.failed_ms) {
        (Some(reason), Some(at)) if at <= now_ms => Some(reason.clone()),
        _ => None,
    };
    let ready = ready_ms.is_some_and(|at| at <= now_ms);
    if pulling {
        view.downloaded_bytes = if ready || post.processing_ms <= 0 {
            post.video_size
        } else {
            // Linear progress over the processing time.
            let elapsed = (now_ms - post.created_ms).clamp(0, post.processing_ms);
            i64::try_from(
                i128::from(post.video_size) * i128::from(elapsed) / i128::from(post.processing_ms),
            )
            .unwrap_or(0)
        };
    }
    if let Some(reason) = forced {
        view.status = "FAILED";
        view.fail_reason = Some(reason);
        view.reached.push(Milestone::Failed);
        return view;
    }
    let Some(ready_ms) = ready_ms.filter(|_| ready) else {
        return view;
    };
    if post.pull_fails {
        view.status = "FAILED";
        view.fail_reason = Some(
            match post.media {
                MediaKind::Video => FailReason::VideoPullFailed,
                MediaKind::Photo => FailReason::PhotoPullFailed,
            }
            .as_str()
            .to_owned(),
        );
        view.reached.push(Milestone::Failed);
        return view;
    }
    let post_id: i64 = post.post_id.parse().unwrap_or_default();
    match post.flow {
        PostFlow::Direct => {
            view.status = "PUBLISH_COMPLETE";
            view.published_ms = Some(ready_ms);
            view.reached.push(Milestone::Published);
            if post.privacy_level.as_deref() == Some(PrivacyLevel::PublicToEveryone.as_str()) {
                view.publicaly_available_post_id.push(post_id);
                view.reached.push(Milestone::PubliclyAvailable);
            }
        }
        PostFlow::Inbox => {
            view.status = "SEND_TO_USER_INBOX";
            view.reached.push(Milestone::InboxDelivered);
            if let Some(at) = post.user_posted_ms.filter(|at| *at <= now_ms) {
                view.status = "PUBLISH_COMPLETE";
                view.published_ms = Some(at.max(ready_ms));
                view.reached.push(Milestone::Published);
                view.publicaly_available_post_id.push(post_id);
                view.reached.push(Milestone::PubliclyAvailable);
            }
        }
    }
    view
}

/// Brings a post up to date: computes its status now and applies, once, the side effects
/// of every milestone newly reached. `None` if the post is unknown.
pub fn settle(state: &AppState, publish_id: &str) -> Option<(PostRecord, PostView)> {
    let now_ms = state.now_ms();
    let revoked = state.store().post(publish_id).is_some_and(|post| {
        state
            .store()
            .token(&post.access_token)
            .is_some_and(|token| token.revoked)
    });
    let mut result = None;
    let mut fresh = Vec::new();
    state.store().update_post(publish_id, &mut |post| {
        let mut view = view(post, now_ms);
        if revoked
            && post.fail_reason.is_none()
            && matches!(view.status, "PROCESSING_UPLOAD" | "PROCESSING_DOWNLOAD")
        {
            // The creator removed the app's access before the post was through.
            post.fail_reason = Some(FailReason::AuthRemoved.as_str().to_owned());
            post.failed_ms = Some(now_ms);
            view = self::view(post, now_ms);
        }
        for milestone in &view.reached {
            if !post.applied.contains(milestone) {
                post.applied.push(*milestone);
                fresh.push(*milestone);
            }
        }
        result = Some((post.clone(), view));
    });
    let (post, view) = result?;
    state
        .store()
        .set_post_open(&post.open_id, &post.publish_id, !is_final(&post));
    for milestone in fresh {
        apply(state, &post, &view, milestone);
    }
    Some((post, view))
}

/// Settles every post of a creator (before their video list is read).
pub fn settle_creator(state: &AppState, open_id: &str) {
    for publish_id in state.store().open_posts(Some(open_id)) {
        settle(state, &publish_id);
    }
}

/// Settles every post (after the clock moved).
pub fn settle_all(state: &AppState) {
    for publish_id in state.store().open_posts(None) {
        settle(state, &publish_id);
    }
}

/// Whether nothing more can happen to a post without a control call.
fn is_final(post: &PostRecord) -> bool {
    post.applied.contains(&Milestone::Failed)
        || post.applied.contains(&Milestone::Published)
        || (post.flow == PostFlow::Inbox
            && post.applied.contains(&Milestone::InboxDelivered)
            && post.user_posted_ms.is_none())
}

/// On the system clock, settles the post once its processing time is up (real time).
fn settle_later(state: &AppState, publish_id: &str, delay_ms: i64) {
    if state.clock().as_manual().is_some() {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let state = state.clone();
    let publish_id = publish_id.to_owned();
    let delay = std::time::Duration::from_millis(u64::try_from(delay_ms.max(0)).unwrap_or(0));
    handle.spawn(async move {
        tokio::time::sleep(delay + std::time::Duration::from_millis(5)).await;
        settle(&state, &publish_id);
    });
}

/// The events of a milestone: (seed family, real family).
fn events_of(milestone: Milestone) -> (Option<&'static str>, &'static str) {
    match milestone {
        Milestone::Published => (Some("video.publish.completed"), "post.publish.complete"),
        Milestone::PubliclyAvailable => (None, "post.publish.publicly_available"),
        Milestone::InboxDelivered => (None, "post.publish.inbox_delivered"),
        Milestone::Failed => (Some("video.upload.failed"), "post.publish.failed"),
    }
}

fn apply(state: &AppState, post: &PostRecord, view: &PostView, milestone: Milestone) {
    if milestone == Milestone::Published && post.media == MediaKind::Video {
        add_to_video_list(state, post, view.published_ms.unwrap_or(post.created_ms));
    }
    let endpoint = state
        .endpoints()
        .iter()
        .find(|endpoint| endpoint.id == post.endpoint);
    let Some(endpoint) = endpoint else {
        return;
    };
    let (seed, real) = events_of(milestone);
    let family = state.webhook_family(&post.client_key);
    let (event, content) = match family {
        WebhookFamily::Real => {
            if !endpoint.real_webhooks.contains(&real) {
                return;
            }
            let mut content = json!({
                "publish_id": post.publish_id,
                "publish_type": match post.flow {
                    PostFlow::Direct => "DIRECT_PUBLISH",
                    PostFlow::Inbox => "INBOX_SHARE",
                },
            });
            if milestone == Milestone::PubliclyAvailable {
                content["post_id"] = json!(post.post_id);
            }
            if milestone == Milestone::Failed {
                content["reason"] = json!(view.fail_reason);
            }
            (real, content)
        }
        _ => {
            let Some(seed) = seed.filter(|seed| endpoint.webhooks.contains(seed)) else {
                return;
            };
            (seed, json!({ "share_id": post.publish_id }))
        }
    };
    state.emit_event(&post.client_key, Some(&post.open_id), event, content);
}

/// Titles in the video list are at most this many UTF-16 units (the `Video` schema).
const VIDEO_TITLE_MAX: usize = 150;

fn truncate_utf16(text: &str, max: usize) -> String {
    let mut units = 0;
    let mut out = String::new();
    for c in text.chars() {
        units += c.len_utf16();
        if units > max {
            break;
        }
        out.push(c);
    }
    out
}

fn add_to_video_list(state: &AppState, post: &PostRecord, published_ms: i64) {
    let Some(creator) = state.store().creator(&post.open_id) else {
        return;
    };
    let handle = if creator.username.is_empty() {
        creator.open_id.clone()
    } else {
        creator.username.clone()
    };
    let title = truncate_utf16(&post.title, VIDEO_TITLE_MAX);
    let template = FixtureVideo {
        title: title.clone(),
        video_description: title,
        ..FixtureVideo::default()
    };
    let video = build_video(
        &handle,
        &post.open_id,
        post.post_id.clone(),
        published_ms,
        &template,
    );
    if let Err(error) = state.store().insert_video(video) {
        tracing::warn!(publish_id = %post.publish_id, %error, "published video not added to the list");
    }
}

// ---------------------------------------------------------------------------------------
// Behaviours.

/// An error with catalog code `code`, with the status `endpoint` gives it.
fn refuse(endpoint: &EndpointMeta, code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::Catalog {
        status: endpoint.status_of(&code).unwrap_or_else(|| code.status()),
        code,
        message: message.into(),
    }
}

/// The token's creator, their posting profile and the token's app.
fn poster(state: &AppState, call: &Call<'_>) -> Result<(Creator, PostingProfile, App), ApiError> {
    let open_id = call.open_id()?;
    let creator = state.store().creator(open_id).ok_or_else(|| {
        ApiError::AccessTokenInvalid("The user of this access token no longer exists.".to_owned())
    })?;
    let client_key = call
        .token
        .map(|token| token.client_key.as_str())
        .unwrap_or_default();
    let app = state.store().app(client_key).ok_or_else(|| {
        ApiError::AccessTokenInvalid("The app of this access token no longer exists.".to_owned())
    })?;
    let profile = creator.posting.clone().unwrap_or_default();
    Ok((creator, profile, app))
}

/// A creator-level block, if the endpoint can answer it.
fn check_block(endpoint: &EndpointMeta, profile: &PostingProfile) -> Result<(), ApiError> {
    match profile.blocked {
        Some(block) if endpoint.status_of(&block.code()).is_some() => {
            let code = block.code();
            let message = code
                .meta()
                .map(|meta| meta.meaning.to_owned())
                .unwrap_or_else(|| "The creator can't post now.".to_owned());
            Err(refuse(endpoint, code, message))
        }
        _ => Ok(()),
    }
}

/// `POST /v2/post/publish/creator_info/query/`.
pub fn creator_info(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let (creator, profile, _) = poster(state, call)?;
    check_block(call.endpoint, &profile)?;
    let options: Vec<String> = profile
        .privacy_level_options()
        .iter()
        .map(|level| level.as_str().to_owned())
        .collect();
    Ok(json!({
        "creator_avatar_url": creator.avatar_url,
        "creator_username": creator.username,
        "creator_nickname": creator.display_name,
        "privacy_level_options": options,
        "comment_disabled": profile.comment_disabled,
        "duet_disabled": profile.private_account || profile.duet_disabled,
        "stitch_disabled": profile.private_account || profile.stitch_disabled,
        "max_video_post_duration_sec": profile
            .max_video_post_duration_sec
            .unwrap_or(DEFAULT_MAX_VIDEO_POST_DURATION_SEC),
    }))
}

/// `source_info` of a video, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// Chunks to PUT.
    File {
        /// Bytes.
        video_size: i64,
        /// Bytes per chunk.
        chunk_size: i64,
        /// Chunks.
        total_chunk_count: i64,
    },
    /// A URL to download; `fails` when its host is one that fails the download.
    Pull {
        /// The URL.
        url: String,
        /// Whether the download will fail.
        fails: bool,
    },
}

/// Bytes in `mb` MB under each reading, smallest first.
fn readings(mb: u64) -> (i64, i64) {
    let min = MB_READINGS.iter().copied().min().unwrap_or(1_000_000);
    let max = MB_READINGS.iter().copied().max().unwrap_or(1_048_576);
    let bytes = |unit: u64| i64::try_from(mb.saturating_mul(unit)).unwrap_or(i64::MAX);
    (bytes(min), bytes(max))
}

/// Checks the chunk rules exactly, accepting both readings of "MB" at each boundary:
/// a limit from below uses the smaller reading, a limit from above the larger.
pub fn check_chunks(
    video_size: i64,
    chunk_size: i64,
    total_chunk_count: i64,
) -> Result<(), String> {
    let (min_chunk, _) = readings(CHUNK_MIN_MB);
    let min_chunk = min_chunk - i64::from(mutant!(ChunkBoundaryOffByOne));
    let (_, max_chunk) = readings(CHUNK_MAX_MB);
    let (_, max_final) = readings(CHUNK_MAX_FINAL_MB);
    let (_, whole_below) = readings(CHUNK_MIN_MB);
    let fail = |rule: String| Err(format!("{CHUNK_INVALID}: {rule}"));
    if video_size < 1 || chunk_size < 1 || total_chunk_count < 1 {
        return fail("video_size, chunk_size and total_chunk_count must be positive".to_owned());
    }
    if chunk_size > video_size {
        return fail(format!(
            "chunk_size ({chunk_size}) must not exceed video_size ({video_size})"
        ));
    }
    let expected = video_size / chunk_size;
    if total_chunk_count != expected {
        return fail(format!(
            "total_chunk_count must be floor(video_size / chunk_size) = {expected}, found {total_chunk_count}"
        ));
    }
    let (min_chunks, max_chunks) = (
        i64::try_from(MIN_CHUNKS).unwrap_or(1),
        i64::try_from(MAX_CHUNKS).unwrap_or(i64::MAX),
    );
    if total_chunk_count < min_chunks || total_chunk_count > max_chunks {
        return fail(format!(
            "a video has {MIN_CHUNKS} to {MAX_CHUNKS} chunks, found {total_chunk_count}"
        ));
    }
    let whole = chunk_size == video_size;
    if whole {
        if video_size > max_chunk {
            return fail(format!(
                "a video over {CHUNK_MAX_MB} MB ({max_chunk} bytes) must be sent in chunks of {CHUNK_MIN_MB} MB to {CHUNK_MAX_MB} MB"
            ));
        }
        return Ok(());
    }
    if chunk_size < min_chunk {
        return fail(format!(
            "chunk_size ({chunk_size}) is below {CHUNK_MIN_MB} MB ({min_chunk} bytes); only a video under {CHUNK_MIN_MB} MB (below {whole_below} bytes) is sent whole, with chunk_size = video_size"
        ));
    }
    if chunk_size > max_chunk {
        return fail(format!(
            "chunk_size ({chunk_size}) is above {CHUNK_MAX_MB} MB ({max_chunk} bytes)"
        ));
    }
    let last = video_size - (total_chunk_count - 1) * chunk_size;
    if total_chunk_count == 1 && video_size > max_chunk {
        return fail(format!(
            "a video over {CHUNK_MAX_MB} MB ({max_chunk} bytes) must be sent in more than one chunk"
        ));
    }
    if last > max_final {
        return fail(format!(
            "the last chunk ({last} bytes) is above {CHUNK_MAX_FINAL_MB} MB ({max_final} bytes)"
        ));
    }
    Ok(())
}

/// The host of an https URL, or why it is not one.
fn https_host(url: &str) -> Result<String, String> {
    let rest = url
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .ok_or_else(|| "must be an https URL".to_owned())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err("must be an https URL with a host".to_owned());
    }
    Ok(host)
}

fn under(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Checks a pull URL: 400 if it is not https, 403 if its host is unverified; tells whether
/// the download will fail.
fn check_pull_url(endpoint: &EndpointMeta, field: &str, url: &str) -> Result<bool, ApiError> {
    let host = https_host(url)
        .map_err(|problem| ApiError::InvalidParams(format!("{field}: {problem}")))?;
    if under(&host, UNVERIFIED_DOMAIN) {
        return Err(refuse(
            endpoint,
            ErrorCode::UrlOwnershipUnverified,
            format!("{field}: the domain or URL prefix of {host:?} is not verified for this app."),
        ));
    }
    Ok(under(&host, FAILING_TLD))
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_str)
}

fn i64_at(value: &Value, path: &[&str]) -> Option<i64> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_i64)
}

/// Reads and checks `source_info` of a video init.
pub fn video_source(endpoint: &EndpointMeta, body: &Value) -> Result<VideoSource, ApiError> {
    let source = str_at(body, &["source_info", "source"]).unwrap_or_default();
    match source {
        "FILE_UPLOAD" => {
            let field = |name: &str| {
                i64_at(body, &["source_info", name]).ok_or_else(|| {
                    ApiError::InvalidParams(format!(
                        "source_info.{name}: is required for FILE_UPLOAD"
                    ))
                })
            };
            let video_size = field("video_size")?;
            let chunk_size = field("chunk_size")?;
            let total_chunk_count = field("total_chunk_count")?;
            check_chunks(video_size, chunk_size, total_chunk_count)
                .map_err(ApiError::InvalidParams)?;
            Ok(VideoSource::File {
                video_size,
                chunk_size,
                total_chunk_count,
            })
        }
        "PULL_FROM_URL" => {
            let url = str_at(body, &["source_info", "video_url"]).ok_or_else(|| {
                ApiError::InvalidParams(
                    "source_info.video_url: is required for PULL_FROM_URL".to_owned(),
                )
            })?;
            let fails = check_pull_url(endpoint, "source_info.video_url", url)?;
            Ok(VideoSource::Pull {
                url: url.to_owned(),
                fails,
            })
        }
        other => Err(ApiError::InvalidParams(format!(
            "source_info.source: expected FILE_UPLOAD or PULL_FROM_URL, found {other:?}"
        ))),
    }
}

/// Refuses a direct post the app or the creator's settings don't allow; returns the
/// privacy level in force.
fn check_direct_post(
    state: &AppState,
    endpoint: &EndpointMeta,
    app: &App,
    creator: &Creator,
    profile: &PostingProfile,
    privacy_level: &str,
    now_ms: i64,
) -> Result<String, ApiError> {
    check_block(endpoint, profile)?;
    if !app.audited && !profile.private_account {
        return Err(refuse(
            endpoint,
            ErrorCode::UnauditedClientCanOnlyPostToPrivateAccounts,
            "This app has not passed the content audit: it may post only to private accounts, and only as SELF_ONLY.",
        ));
    }
    let options = profile.privacy_level_options();
    if !options.iter().any(|level| level.as_str() == privacy_level) {
        return Err(refuse(
            endpoint,
            ErrorCode::PrivacyLevelOptionMismatch,
            format!(
                "post_info.privacy_level: {privacy_level} is not one of the creator's privacy_level_options ({})",
                options
                    .iter()
                    .map(|level| level.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let recent = state
        .store()
        .creator_posts(&creator.open_id)
        .iter()
        .filter(|post| post.flow == PostFlow::Direct && now_ms - post.created_ms < DAY_MS)
        .count();
    if recent >= DIRECT_POSTS_PER_DAY {
        return Err(refuse(
            endpoint,
            ErrorCode::SpamRiskTooManyPosts,
            format!(
                "The creator has made {DIRECT_POSTS_PER_DAY} direct posts in the last 24 hours; post from the TikTok app instead."
            ),
        ));
    }
    Ok(if app.audited {
        privacy_level.to_owned()
    } else {
        PrivacyLevel::SelfOnly.as_str().to_owned()
    })
}

/// Refuses an inbox upload when the creator has too many pending shares.
fn check_inbox(
    state: &AppState,
    endpoint: &EndpointMeta,
    creator: &Creator,
    profile: &PostingProfile,
    now_ms: i64,
) -> Result<(), ApiError> {
    check_block(endpoint, profile)?;
    let pending = state
        .store()
        .creator_posts(&creator.open_id)
        .iter()
        .filter(|post| {
            post.flow == PostFlow::Inbox
                && now_ms - post.created_ms < DAY_MS
                && post.user_posted_ms.is_none()
                && view(post, now_ms).status != "FAILED"
        })
        .count();
    if pending >= PENDING_SHARES_PER_DAY {
        return Err(refuse(
            endpoint,
            ErrorCode::SpamRiskTooManyPendingShare,
            format!(
                "The creator has {PENDING_SHARES_PER_DAY} pending shares in the last 24 hours; they must act on them in the TikTok app first."
            ),
        ));
    }
    Ok(())
}

fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Stores a new post and answers `publish_id` (and `upload_url` for `FILE_UPLOAD`).
#[allow(clippy::too_many_arguments)]
fn start_post(
    state: &AppState,
    call: &Call<'_>,
    creator: &Creator,
    flow: PostFlow,
    media: MediaKind,
    source: VideoSource,
    privacy_level: Option<String>,
    title: String,
    description: String,
    photo_count: usize,
) -> Result<Value, ApiError> {
    let number = state.posting().next_id();
    let settings = state.posting().settings();
    let client_key = call
        .token
        .map(|token| token.client_key.clone())
        .unwrap_or_default();
    let access_token = call
        .token
        .map(|token| token.access_token.clone())
        .unwrap_or_default();
    let (prefix, file) = match (&source, flow, media) {
        (VideoSource::File { .. }, PostFlow::Direct, _) => ("v_pub_file~v2-1.", true),
        (VideoSource::File { .. }, PostFlow::Inbox, _) => ("v_inbox_file~v2.", true),
        (VideoSource::Pull { .. }, PostFlow::Direct, MediaKind::Video) => {
            ("v_pub_url~v2-1.", false)
        }
        (VideoSource::Pull { .. }, PostFlow::Inbox, MediaKind::Video) => ("v_inbox_url~v2.", false),
        (VideoSource::Pull { .. }, PostFlow::Direct, MediaKind::Photo) => ("p_pub_url~v2.", false),
        (VideoSource::Pull { .. }, PostFlow::Inbox, MediaKind::Photo) => ("p_inbox_url~v2.", false),
    };
    let publish_id = format!("{prefix}{number}");
    let mut record = PostRecord {
        publish_id: publish_id.clone(),
        endpoint: call.endpoint.id.to_owned(),
        open_id: creator.open_id.clone(),
        client_key,
        access_token,
        flow,
        media,
        source: if file {
            SourceKind::FileUpload
        } else {
            SourceKind::PullFromUrl
        },
        created_ms: call.now_ms,
        processing_ms: settings.processing_ms,
        privacy_level,
        title,
        description,
        media_url: None,
        photo_count,
        video_size: settings.pull_bytes,
        chunk_size: 0,
        total_chunk_count: 0,
        upload_id: None,
        upload_token: None,
        upload_expires_ms: None,
        uploaded_bytes: 0,
        chunks_received: 0,
        upload_completed_ms: None,
        pull_fails: false,
        fail_reason: None,
        failed_ms: None,
        user_posted_ms: None,
        post_id: state.next_video_id(),
        applied: Vec::new(),
    };
    let mut answer = json!({ "publish_id": publish_id });
    match source {
        VideoSource::File {
            video_size,
            chunk_size,
            total_chunk_count,
        } => {
            let upload_id = number.to_string();
            let upload_token = random_text(24);
            record.video_size = video_size;
            record.chunk_size = chunk_size;
            record.total_chunk_count = total_chunk_count;
            record.upload_expires_ms =
                Some(call.now_ms + i64::try_from(UPLOAD_URL_TTL_SECONDS).unwrap_or(3600) * 1000);
            answer["upload_url"] = json!(format!(
                "{}{UPLOAD_PATH}?upload_id={upload_id}&upload_token={upload_token}",
                state.posting().base_url()
            ));
            record.upload_id = Some(upload_id);
            record.upload_token = Some(upload_token);
        }
        VideoSource::Pull { url, fails } => {
            record.media_url = Some(url);
            record.pull_fails = fails;
        }
    }
    let pull = record.source == SourceKind::PullFromUrl;
    let processing_ms = record.processing_ms;
    state
        .store()
        .insert_post(record)
        .map_err(|error| ApiError::catalog(ErrorCode::InternalError, error.to_string()))?;
    if pull {
        settle_later(state, &publish_id, processing_ms);
    }
    Ok(answer)
}

/// `POST /v2/post/publish/video/init/`: a direct video post.
pub fn video_init(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let (creator, profile, app) = poster(state, call)?;
    let source = video_source(call.endpoint, call.body)?;
    let privacy_level = str_at(call.body, &["post_info", "privacy_level"]).unwrap_or_default();
    let privacy_level = check_direct_post(
        state,
        call.endpoint,
        &app,
        &creator,
        &profile,
        privacy_level,
        call.now_ms,
    )?;
    let title = str_at(call.body, &["post_info", "title"])
        .unwrap_or_default()
        .to_owned();
    start_post(
        state,
        call,
        &creator,
        PostFlow::Direct,
        MediaKind::Video,
        source,
        Some(privacy_level),
        title,
        String::new(),
        0,
    )
}

/// `POST /v2/post/publish/inbox/video/init/`: a video to the creator's inbox.
pub fn inbox_video_init(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let (creator, profile, _) = poster(state, call)?;
    let source = video_source(call.endpoint, call.body)?;
    check_inbox(state, call.endpoint, &creator, &profile, call.now_ms)?;
    start_post(
        state,
        call,
        &creator,
        PostFlow::Inbox,
        MediaKind::Video,
        source,
        None,
        String::new(),
        String::new(),
        0,
    )
}

/// `POST /v2/post/publish/content/init/`: a photo post, direct or to the inbox.
pub fn content_init(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let (creator, profile, app) = poster(state, call)?;
    let body = call.body;
    let source = str_at(body, &["source_info", "source"]).unwrap_or_default();
    if source != "PULL_FROM_URL" {
        return Err(ApiError::InvalidParams(format!(
            "source_info.source: photo posts accept only PULL_FROM_URL, found {source:?}"
        )));
    }
    let images: Vec<&str> = body
        .get("source_info")
        .and_then(|info| info.get("photo_images"))
        .and_then(Value::as_array)
        .map(|images| images.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let max_images = call.endpoint.limit("max_images").unwrap_or(35);
    if images.is_empty() || images.len() as u64 > max_images {
        return Err(ApiError::InvalidParams(format!(
            "source_info.photo_images: 1 to {max_images} image URLs, found {}",
            images.len()
        )));
    }
    let cover = i64_at(body, &["source_info", "photo_cover_index"]).unwrap_or_default();
    if cover < 0 || cover as u64 >= images.len() as u64 {
        return Err(ApiError::InvalidParams(format!(
            "source_info.photo_cover_index: must be a 0-based index into photo_images (0..{}), found {cover}",
            images.len() - 1
        )));
    }
    let mut fails = false;
    for (index, url) in images.iter().enumerate() {
        fails |= check_pull_url(
            call.endpoint,
            &format!("source_info.photo_images[{index}]"),
            url,
        )?;
    }
    let title = str_at(body, &["post_info", "title"])
        .unwrap_or_default()
        .to_owned();
    let description = str_at(body, &["post_info", "description"])
        .unwrap_or_default()
        .to_owned();
    let source = VideoSource::Pull {
        url: images[0].to_owned(),
        fails,
    };
    match str_at(body, &["post_mode"]).unwrap_or_default() {
        "DIRECT_POST" => {
            let privacy_level = str_at(body, &["post_info", "privacy_level"]).ok_or_else(|| {
                ApiError::InvalidParams(
                    "post_info.privacy_level: is required for DIRECT_POST".to_owned(),
                )
            })?;
            let privacy_level = check_direct_post(
                state,
                call.endpoint,
                &app,
                &creator,
                &profile,
                privacy_level,
                call.now_ms,
            )?;
            start_post(
                state,
                call,
                &creator,
                PostFlow::Direct,
                MediaKind::Photo,
                source,
                Some(privacy_level),
                title,
                description,
                images.len(),
            )
        }
        _ => {
            check_inbox(state, call.endpoint, &creator, &profile, call.now_ms)?;
            start_post(
                state,
                call,
                &creator,
                PostFlow::Inbox,
                MediaKind::Photo,
                source,
                None,
                title,
                description,
                images.len(),
            )
        }
    }
}

/// `POST /v2/post/publish/status/fetch/`.
pub fn status_fetch(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    let publish_id = str_at(call.body, &["publish_id"]).unwrap_or_default();
    let client_key = call
        .token
        .map(|token| token.client_key.as_str())
        .unwrap_or_default();
    let invalid = || {
        refuse(
            call.endpoint,
            ErrorCode::InvalidPublishId,
            format!(
                "publish_id: no post {:?}",
                crate::validate::truncate(publish_id)
            ),
        )
    };
    let post = state.store().post(publish_id).ok_or_else(invalid)?;
    if post.open_id != open_id || post.client_key != client_key {
        return Err(refuse(
            call.endpoint,
            ErrorCode::TokenNotAuthorizedForSpecifiedPublishId,
            "This access token is not authorized for this publish_id.",
        ));
    }
    let (_, view) = settle(state, publish_id).ok_or_else(invalid)?;
    Ok(status_json(&view))
}

/// The `data` of a status fetch.
pub fn status_json(view: &PostView) -> Value {
    let mut data = json!({
        "status": view.status,
        "publicaly_available_post_id": view.publicaly_available_post_id,
        "uploaded_bytes": view.uploaded_bytes,
        "downloaded_bytes": view.downloaded_bytes,
    });
    if let Some(reason) = &view.fail_reason {
        data["fail_reason"] = json!(reason);
    }
    data
}

/// Called by the upload route once the last chunk is in.
pub(crate) fn upload_completed(state: &AppState, post: &PostRecord) {
    settle_later(state, &post.publish_id, post.processing_ms);
}

// ---------------------------------------------------------------------------------------
// Control API.

/// `GET /_mock/posts`, `POST /_mock/posts/fail`, `POST /_mock/posts/publish`,
/// `GET|POST /_mock/posting`.
pub fn control_routes() -> Router<AppState> {
    Router::new()
        .route("/_mock/posts", get(list_posts))
        .route("/_mock/posts/fail", post(fail_post))
        .route("/_mock/posts/publish", post(publish_from_inbox))
        .route("/_mock/posting", get(read_settings).post(write_settings))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::InvalidParams(format!("The request body is invalid: {error}")))
}

fn post_json(post: &PostRecord, view: &PostView) -> Value {
    let mut value = serde_json::to_value(post).unwrap_or_else(|_| json!({}));
    value["status"] = status_json(view);
    value
}

async fn list_posts(State(state): State<AppState>) -> Response {
    settle_all(&state);
    let now_ms = state.now_ms();
    let posts: Vec<Value> = state
        .store()
        .posts()
        .iter()
        .map(|post| post_json(post, &view(post, now_ms)))
        .collect();
    Json(json!({ "posts": posts })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailRequest {
    publish_id: String,
    fail_reason: Option<String>,
}

/// `POST /_mock/posts/fail`: the post fails now with `fail_reason` (default `internal`).
async fn fail_post(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: FailRequest = parse(&body)?;
    let reason = FailReason::parse(request.fail_reason.as_deref().unwrap_or("internal"));
    if !reason.is_known() {
        return Err(ApiError::InvalidParams(format!(
            "fail_reason: {:?} is not a FailReason",
            reason.as_str()
        )));
    }
    let now_ms = state.now_ms();
    let mut refused = None;
    let found = state.store().update_post(&request.publish_id, &mut |post| {
        if post.applied.contains(&Milestone::Published) || post.applied.contains(&Milestone::Failed)
        {
            refused = Some("the post is already published or failed");
            return;
        }
        post.fail_reason = Some(reason.as_str().to_owned());
        post.failed_ms = Some(now_ms);
    });
    if !found {
        return Err(ApiError::InvalidParams(format!(
            "publish_id: no post {:?}",
            request.publish_id
        )));
    }
    if let Some(problem) = refused {
        return Err(ApiError::InvalidParams(format!("publish_id: {problem}")));
    }
    settle_answer(&state, &request.publish_id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    publish_id: String,
}

/// `POST /_mock/posts/publish`: the creator posts an inbox draft from the TikTok app.
async fn publish_from_inbox(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: PublishRequest = parse(&body)?;
    let now_ms = state.now_ms();
    let mut refused = None;
    let found = state.store().update_post(&request.publish_id, &mut |post| {
        if post.flow != PostFlow::Inbox {
            refused = Some("only inbox uploads are posted from the inbox");
        } else if view(post, now_ms).status != "SEND_TO_USER_INBOX" {
            refused =
                Some("the draft is not in the creator's inbox (status is not SEND_TO_USER_INBOX)");
        } else {
            post.user_posted_ms = Some(now_ms);
        }
    });
    if !found {
        return Err(ApiError::InvalidParams(format!(
            "publish_id: no post {:?}",
            request.publish_id
        )));
    }
    if let Some(problem) = refused {
        return Err(ApiError::InvalidParams(format!("publish_id: {problem}")));
    }
    settle_answer(&state, &request.publish_id)
}

fn settle_answer(state: &AppState, publish_id: &str) -> Result<Response, ApiError> {
    let (post, view) = settle(state, publish_id)
        .ok_or_else(|| ApiError::InvalidParams(format!("publish_id: no post {publish_id:?}")))?;
    Ok(Json(post_json(&post, &view)).into_response())
}

async fn read_settings(State(state): State<AppState>) -> Response {
    Json(state.posting().settings()).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    processing_ms: Option<i64>,
    pull_bytes: Option<i64>,
}

async fn write_settings(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: SettingsRequest = parse(&body)?;
    let mut settings = state.posting().settings();
    if let Some(processing_ms) = request.processing_ms {
        settings.processing_ms = processing_ms;
    }
    if let Some(pull_bytes) = request.pull_bytes {
        settings.pull_bytes = pull_bytes;
    }
    if settings.processing_ms < 0 || settings.pull_bytes < 0 {
        return Err(ApiError::InvalidParams(
            "processing_ms and pull_bytes must not be negative".to_owned(),
        ));
    }
    state.posting().set_settings(settings);
    Ok(Json(settings).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example_of_the_reference_passes() {
        assert_eq!(check_chunks(50_000_123, 10_000_000, 5), Ok(()));
    }

    #[test]
    fn hosts_are_read_from_https_urls() {
        assert_eq!(
            https_host("https://User@Media.Example:443/v.mp4"),
            Ok("media.example".to_owned())
        );
        assert!(https_host("http://media.example/v.mp4").is_err());
        assert!(https_host("https:///v.mp4").is_err());
        assert!(under("cdn.unverified.example", UNVERIFIED_DOMAIN));
        assert!(!under("notunverified.example", UNVERIFIED_DOMAIN));
    }
}
