//! The `videos` group: `POST /v2/video/list/` (`video_list`, the token's creator's public
//! videos newest first by timestamp cursor) and `POST /v2/video/query/` (`video_query`, their
//! public videos among the ids asked for). Only public posts are shown, as TikTok shows them.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::examples::project;
use crate::media::{share_url, signed_url};
use crate::state::{AppState, Call};
use crate::store::Video;

/// A video as the API shows it to this call: exactly the fields asked for, the cover signed
/// to expire (the table's `cover_image_url_ttl_seconds` on the mock's clock) and the share
/// link carrying the app's `utm_source`.
fn api_video(video: &Video, call: &Call<'_>) -> Value {
    let mut object = video.to_api_json();
    let asked = |name: &str| call.fields.iter().any(|field| field.name == name);
    if asked("cover_image_url")
        && let Some(ttl) = call.endpoint.limit("cover_image_url_ttl_seconds")
    {
        let signed = signed_url(
            &video.cover_image_url,
            call.now_ms,
            i64::try_from(ttl).unwrap_or(i64::MAX),
        );
        object.insert("cover_image_url".to_owned(), Value::from(signed));
    }
    if asked("share_url") {
        let client_key = call.token.map_or("", |token| token.client_key.as_str());
        object.insert(
            "share_url".to_owned(),
            Value::from(share_url(&video.share_url, client_key)),
        );
    }
    project(&object, call.fields)
}

/// `POST /v2/video/list/`: the token's creator's videos, newest first, by timestamp cursor.
pub fn video_list(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    let paging = call
        .endpoint
        .paging
        .ok_or_else(|| ApiError::missing_in_table(call.endpoint, "paging"))?;
    let (default_max, max_max) = (paging.default_max_count, paging.max_max_count);
    let max_count = match call.body.get("max_count") {
        None | Some(Value::Null) => i64::from(default_max),
        Some(value) => value
            .as_i64()
            .ok_or_else(|| ApiError::InvalidParams("max_count: expected an integer".to_owned()))?,
    };
    if max_count < 1 || max_count > i64::from(max_max) {
        return Err(ApiError::InvalidParams(format!(
            "max_count: must be between 1 and {max_max}, found {max_count}"
        )));
    }
    let cursor = match call.body.get("cursor") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_i64() {
            Some(cursor) if cursor >= 0 => Some(cursor),
            _ => {
                return Err(ApiError::InvalidParams(
                    "cursor: expected a Unix time in milliseconds".to_owned(),
                ));
            }
        },
    };
    // Short pages (a setting) hold fewer than max_count while has_more stays true.
    let page_size = state.api_settings().page_size(max_count as usize);
    let page = state.store().video_page(open_id, cursor, page_size);
    let next_cursor = page
        .videos
        .last()
        .map(|video| video.create_time_ms + i64::from(mutant!(DuplicateAcrossPages)))
        .or(cursor)
        .unwrap_or(0);
    let videos: Vec<Value> = page
        .videos
        .iter()
        .map(|video| api_video(video, call))
        .collect();
    Ok(json!({ "videos": videos, "cursor": next_cursor, "has_more": page.has_more }))
}

/// `POST /v2/video/query/`: the token's creator's videos among the ids; others left out.
pub fn video_query(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    let ids: Vec<String> = call
        .body
        .get("filters")
        .and_then(|filters| filters.get("video_ids"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let max_ids = call
        .endpoint
        .limit("max_video_ids")
        .ok_or_else(|| ApiError::missing_in_table(call.endpoint, "limit max_video_ids"))?;
    if ids.len() as u64 > max_ids {
        return Err(ApiError::InvalidParams(format!(
            "filters.video_ids: at most {max_ids} ids per request"
        )));
    }
    let videos: Vec<Value> = state
        .store()
        .videos_by_ids(open_id, &ids)
        .iter()
        .map(|video| api_video(video, call))
        .collect();
    Ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
}
