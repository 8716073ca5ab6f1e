//! A post's life on the mock's clock: its status computed from its timestamps ([`view`]),
//! and [`settle`], which applies once the side effects of each milestone reached (the video
//! added to the creator's list, the webhook events of the app's family).

use serde::Serialize;
use serde_json::{Value, json};
use tiktok_api::meta::WebhookFamily;
use tiktok_api::{
    FailReason, PostPublishEvent, PrivacyLevel, PublishType, ShareEvent, WebhookEventKind,
};

use crate::fixtures::{FixtureVideo, build_video};
use crate::state::AppState;
use crate::store::{MediaKind, Milestone, PostFlow, PostRecord, SourceKind};

/// The `fail_reason` of a post whose upload URL expired before the last chunk arrived:
/// TikTok documents none for it, so the mock says `internal`.
pub const UPLOAD_EXPIRED_REASON: FailReason = FailReason::Internal;

/// What a status fetch says of a post at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostView {
    /// The `PostStatus` value.
    pub status: &'static str,
    /// Why it failed.
    pub fail_reason: Option<String>,
    /// Whether the post pulls its media from a URL (so its progress is `downloaded_bytes`)
    /// rather than being uploaded (`uploaded_bytes`).
    pub pulling: bool,
    /// Upload progress (FILE_UPLOAD posts).
    pub uploaded_bytes: i64,
    /// Download progress (PULL_FROM_URL posts).
    pub downloaded_bytes: i64,
    /// The public post ids.
    pub publicaly_available_post_id: Vec<i64>,
    /// When it was published, if it was.
    pub published_ms: Option<i64>,
    /// When it became public (after moderation), if it did.
    pub public_ms: Option<i64>,
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
        pulling,
        uploaded_bytes: if pulling { 0 } else { post.uploaded_bytes },
        downloaded_bytes: 0,
        publicaly_available_post_id: Vec::new(),
        published_ms: None,
        public_ms: None,
        reached: Vec::new(),
    };
    // The upload counts only if its last chunk arrived before the URL expired.
    let upload_completed_ms = post
        .upload_completed_ms
        .filter(|at| post.upload_expires_ms.is_none_or(|expires| *at < expires));
    let ready_ms = match post.source {
        SourceKind::FileUpload => {
            upload_completed_ms.map(|at| at.saturating_add(post.processing_ms))
        }
        SourceKind::PullFromUrl => Some(post.created_ms.saturating_add(post.processing_ms)),
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
    // The first of the post's endings to come is the one it keeps: a failure forced
    // (control call, revoked access), the upload URL expiring before the last chunk, or
    // processing through. Nothing that happens after an ending changes it.
    let forced_ms = post
        .failed_ms
        .filter(|at| post.fail_reason.is_some() && *at <= now_ms);
    let expired_ms = match post.source {
        SourceKind::FileUpload if upload_completed_ms.is_none() => {
            post.upload_expires_ms.filter(|at| *at <= now_ms)
        }
        _ => None,
    };
    let ended_ms = ready_ms.filter(|_| ready);
    let first = |candidate: Option<i64>, others: [Option<i64>; 2]| {
        candidate.is_some_and(|at| others.iter().flatten().all(|other| at <= *other))
    };
    if first(forced_ms, [expired_ms, ended_ms]) {
        view.status = "FAILED";
        view.fail_reason.clone_from(&post.fail_reason);
        view.reached.push(Milestone::Failed);
        return view;
    }
    if first(expired_ms, [forced_ms, ended_ms]) {
        // The upload URL expired before the last chunk: the post ends here.
        view.status = "FAILED";
        view.fail_reason = Some(UPLOAD_EXPIRED_REASON.as_str().to_owned());
        view.reached.push(Milestone::Failed);
        return view;
    }
    let Some(ready_ms) = ended_ms else {
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
    if post.too_long && post.media == MediaKind::Video {
        // The video's length is known only now that its bytes are in.
        view.status = "FAILED";
        view.fail_reason = Some(FailReason::DurationCheckFailed.as_str().to_owned());
        view.reached.push(Milestone::Failed);
        return view;
    }
    let post_id: i64 = post.post_id.parse().unwrap_or_default();
    match post.flow {
        PostFlow::Direct => {
            view.status = "PUBLISH_COMPLETE";
            view.published_ms = Some(ready_ms);
            view.reached.push(Milestone::Published);
        }
        PostFlow::Inbox => {
            view.status = "SEND_TO_USER_INBOX";
            view.reached.push(Milestone::InboxDelivered);
            if let Some(at) = post.user_posted_ms.filter(|at| *at <= now_ms) {
                view.status = "PUBLISH_COMPLETE";
                view.published_ms = Some(at.max(ready_ms));
                view.reached.push(Milestone::Published);
            }
        }
    }
    // A public post's id is exposed once moderation is over.
    if let Some(published_ms) = view.published_ms
        && is_public(post)
    {
        let public_ms = published_ms.saturating_add(post.moderation_ms);
        if public_ms <= now_ms {
            view.public_ms = Some(public_ms);
            view.publicaly_available_post_id.push(post_id);
            view.reached.push(Milestone::PubliclyAvailable);
        }
    }
    view
}

/// The statuses a post ends in. A post that reached one never changes status again, except
/// an inbox draft the creator posts (`SEND_TO_USER_INBOX` to `PUBLISH_COMPLETE`, through
/// `POST /_mock/posts/publish`, as in the TikTok app).
pub const ENDED: [&str; 3] = ["FAILED", "PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"];

/// Whether the post has ended (its status at `now_ms` is one of [`ENDED`]).
pub fn has_ended(post: &PostRecord, now_ms: i64) -> bool {
    post.applied.contains(&Milestone::Failed)
        || post.applied.contains(&Milestone::Published)
        || ENDED.contains(&view(post, now_ms).status)
}

/// Whether a post is public once published: a direct post asked `PUBLIC_TO_EVERYONE` (and
/// was allowed it); an inbox draft is posted by the creator in the app, publicly.
pub fn is_public(post: &PostRecord) -> bool {
    match post.flow {
        PostFlow::Direct => {
            post.privacy_level.as_deref() == Some(PrivacyLevel::PublicToEveryone.as_str())
        }
        PostFlow::Inbox => true,
    }
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
        || (post.applied.contains(&Milestone::Published)
            && (!is_public(post) || post.applied.contains(&Milestone::PubliclyAvailable)))
        || (post.flow == PostFlow::Inbox
            && post.applied.contains(&Milestone::InboxDelivered)
            && post.user_posted_ms.is_none())
}

/// After a restart on a state file: settles every open post whose time has come, and (on
/// the system clock) sets the timers again for the moments still ahead of the others
/// (processing through, moderation through, an unfinished upload's URL expiring), so
/// their webhooks come without polling, as if the mock had not stopped.
pub fn resume(state: &AppState) {
    let now_ms = state.now_ms();
    for publish_id in state.store().open_posts(None) {
        let Some((post, _)) = settle(state, &publish_id) else {
            continue;
        };
        if is_final(&post) {
            continue;
        }
        let ready_ms = match post.source {
            SourceKind::FileUpload => post
                .upload_completed_ms
                .map(|at| at.saturating_add(post.processing_ms)),
            SourceKind::PullFromUrl => Some(post.created_ms.saturating_add(post.processing_ms)),
        };
        let moderated_ms = ready_ms
            .filter(|_| post.moderation_ms > 0)
            .map(|at| at.saturating_add(post.moderation_ms));
        let expires_ms = post
            .upload_expires_ms
            .filter(|_| post.upload_completed_ms.is_none());
        for at_ms in [ready_ms, moderated_ms, expires_ms].into_iter().flatten() {
            if at_ms > now_ms {
                settle_later(state, &publish_id, at_ms - now_ms);
            }
        }
    }
}

/// On the system clock, settles the post once its processing time is up (real time).
pub fn settle_later(state: &AppState, publish_id: &str, delay_ms: i64) {
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
fn events_of(milestone: Milestone) -> (Option<WebhookEventKind>, WebhookEventKind) {
    match milestone {
        Milestone::Published => (
            Some(WebhookEventKind::VideoPublishCompleted),
            WebhookEventKind::PostPublishComplete,
        ),
        Milestone::PubliclyAvailable => (None, WebhookEventKind::PostPublishPubliclyAvailable),
        Milestone::InboxDelivered => (None, WebhookEventKind::PostPublishInboxDelivered),
        Milestone::Failed => (
            Some(WebhookEventKind::VideoUploadFailed),
            WebhookEventKind::PostPublishFailed,
        ),
    }
}

fn apply(state: &AppState, post: &PostRecord, view: &PostView, milestone: Milestone) {
    // A public video joins the list once moderation is over; another is kept, not listed.
    let listed = match milestone {
        Milestone::Published => !is_public(post),
        Milestone::PubliclyAvailable => true,
        _ => false,
    };
    if listed && post.media == MediaKind::Video {
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
    match state.webhook_family(&post.client_key) {
        WebhookFamily::Real => {
            if !endpoint.real_webhooks.contains(&real.as_str()) {
                return;
            }
            let mut content = PostPublishEvent::new(
                post.publish_id.clone(),
                match post.flow {
                    PostFlow::Direct => PublishType::DirectPublish,
                    PostFlow::Inbox => PublishType::InboxShare,
                },
            );
            content.post_id =
                (milestone == Milestone::PubliclyAvailable).then(|| post.post_id.clone());
            content.reason = (milestone == Milestone::Failed)
                .then(|| view.fail_reason.as_deref().map(FailReason::parse))
                .flatten();
            state.emit_event(&post.client_key, Some(&post.open_id), real, &content);
        }
        WebhookFamily::Seed => {
            let Some(seed) = seed.filter(|seed| endpoint.webhooks.contains(&seed.as_str())) else {
                return;
            };
            let content = ShareEvent::new(post.publish_id.clone());
            state.emit_event(&post.client_key, Some(&post.open_id), seed, &content);
        }
    }
}

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
    // The `Video` schema's title maximum, in UTF-16 units.
    let title_max = tiktok_api::schemas::VIDEO
        .field("title")
        .and_then(|field| field.max_length)
        .map_or(usize::MAX, |max| usize::try_from(max).unwrap_or(usize::MAX));
    let title = truncate_utf16(&post.title, title_max);
    let template = FixtureVideo {
        title: title.clone(),
        video_description: title,
        duration: Some(state.posting().settings().video_duration_sec),
        privacy_level: Some(if is_public(post) {
            PrivacyLevel::PublicToEveryone.as_str().to_owned()
        } else {
            post.privacy_level
                .clone()
                .unwrap_or_else(|| PrivacyLevel::SelfOnly.as_str().to_owned())
        }),
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

/// The `data` of a status fetch: the progress counter of the post's source only, as
/// TikTok's example shows it (`uploaded_bytes` for an upload, `downloaded_bytes` for a pull).
pub fn status_json(view: &PostView) -> Value {
    let mut data = json!({
        "status": view.status,
        "publicaly_available_post_id": view.publicaly_available_post_id,
    });
    if view.pulling {
        data["downloaded_bytes"] = json!(view.downloaded_bytes);
    } else {
        data["uploaded_bytes"] = json!(view.uploaded_bytes);
    }
    if let Some(reason) = &view.fail_reason {
        data["fail_reason"] = json!(reason);
    }
    data
}

/// Called by the upload route once the last chunk is in.
pub fn upload_completed(state: &AppState, post: &PostRecord) {
    settle_when_ready(state, post);
}

/// On the system clock, settles the post when its processing is through and again when its
/// moderation is (so webhooks arrive without polling).
pub fn settle_when_ready(state: &AppState, post: &PostRecord) {
    settle_later(state, &post.publish_id, post.processing_ms);
    if post.moderation_ms > 0 {
        settle_later(
            state,
            &post.publish_id,
            post.processing_ms.saturating_add(post.moderation_ms),
        );
    }
}
