//! The behaviours of the content-posting endpoints: `creator_info`, `video_init`,
//! `inbox_video_init`, `content_init` and `status_fetch`.

use serde_json::{Value, json};
use tiktok_api::ErrorCode;
use tiktok_api::spec_constants::UPLOAD_URL_TTL_SECONDS;

use crate::content_posting::lifecycle::{settle, settle_later, settle_when_ready, status_json};
use crate::content_posting::rules::{
    UPLOAD_PATH, VideoSource, check_block, check_direct_post, check_inbox, check_pull_url, i64_at,
    str_at, too_long, video_source,
};
use crate::error::ApiError;
use crate::media::signed_url;
use crate::random::random_text;
use crate::state::{AppState, Call};
use crate::store::{App, Creator, MediaKind, PostFlow, PostRecord, PostingProfile, SourceKind};
use crate::validate::truncate;

/// `max_video_post_duration_sec` of a creator whose fixture does not say.
pub const DEFAULT_MAX_VIDEO_POST_DURATION_SEC: i32 = 300;

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

/// `POST /v2/post/publish/creator_info/query/`.
pub fn creator_info(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let (creator, profile, _) = poster(state, call)?;
    let avatar_ttl = call
        .endpoint
        .limit("creator_avatar_url_ttl_seconds")
        .ok_or_else(|| {
            ApiError::missing_in_table(call.endpoint, "limit creator_avatar_url_ttl_seconds")
        })?;
    check_block(call.endpoint, &profile)?;
    let options: Vec<String> = profile
        .privacy_level_options()
        .iter()
        .map(|level| level.as_str().to_owned())
        .collect();
    Ok(json!({
        "creator_avatar_url": signed_url(
            &creator.avatar_url,
            call.now_ms,
            i64::try_from(avatar_ttl).unwrap_or(i64::MAX),
        ),
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
    let number = crate::random::publish_number();
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
        moderation_ms: settings.moderation_ms,
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
        // Only a direct video is held to the creator's longest (creator info is the
        // direct-post flow's; an inbox draft is trimmed in the app).
        too_long: flow == PostFlow::Direct
            && media == MediaKind::Video
            && too_long(
                state,
                &creator.posting.clone().unwrap_or_default(),
                DEFAULT_MAX_VIDEO_POST_DURATION_SEC,
            ),
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
            record.upload_expires_ms = Some(
                call.now_ms.saturating_add(
                    i64::try_from(UPLOAD_URL_TTL_SECONDS)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(1000),
                ),
            );
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
    state
        .store()
        .insert_post(record.clone())
        .map_err(|error| ApiError::catalog(ErrorCode::InternalError, error.to_string()))?;
    // Settle when the download is through, or when an unfinished upload's URL expires.
    match record.upload_expires_ms {
        Some(expires_ms) => settle_later(state, &publish_id, expires_ms - call.now_ms),
        None => settle_when_ready(state, &record),
    }
    Ok(answer)
}

/// `POST /v2/post/publish/video/init/`: a direct video post.
pub fn video_init(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let (creator, profile, app) = poster(state, call)?;
    let source = video_source(call.endpoint, &app, call.body)?;
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
    let (creator, profile, app) = poster(state, call)?;
    let source = video_source(call.endpoint, &app, call.body)?;
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
    let max_images = call
        .endpoint
        .limit("max_images")
        .ok_or_else(|| ApiError::missing_in_table(call.endpoint, "limit max_images"))?;
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
            &app,
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
        ApiError::for_endpoint(
            call.endpoint,
            ErrorCode::InvalidPublishId,
            format!("publish_id: no post {:?}", truncate(publish_id)),
        )
    };
    let post = state.store().post(publish_id).ok_or_else(invalid)?;
    if post.open_id != open_id || post.client_key != client_key {
        return Err(ApiError::for_endpoint(
            call.endpoint,
            ErrorCode::TokenNotAuthorizedForSpecifiedPublishId,
            "This access token is not authorized for this publish_id.",
        ));
    }
    let (_, view) = settle(state, publish_id).ok_or_else(invalid)?;
    Ok(status_json(&view))
}
