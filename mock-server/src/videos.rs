//! The `videos` group: `POST /v2/video/list/` (`video_list`, the token's creator's public
//! videos newest first by timestamp cursor) and `POST /v2/video/query/` (`video_query`, their
//! public videos among the ids asked for). Only public posts are shown, as TikTok shows them.
//!
//! Each video is shown as the call sees it: exactly the fields asked for, the cover signed
//! to expire (the table's `cover_image_url_ttl_seconds` on the mock's clock) and the share
//! link carrying the app's `utm_source`; written straight to JSON bytes from the store
//! ([`crate::store::ApiVideo`]).

use serde_json::Value;

use crate::error::{ApiError, Data};
use crate::projection::Projection;
use crate::state::{AppState, Call};
use crate::store::VideoCall;

/// What the videos of this call's answer depend on beyond the videos.
fn video_call(call: &Call<'_>) -> VideoCall {
    VideoCall::new(
        call.now_ms,
        call.endpoint
            .limit("cover_image_url_ttl_seconds")
            .map(|ttl| i64::try_from(ttl).unwrap_or(i64::MAX)),
        call.token.map_or("", |token| token.client_key.as_str()),
    )
}

/// Room for one video of a page (about 250 bytes with six fields), so the page's buffer is
/// not grown and copied as it is written.
const VIDEO_BYTES: usize = 320;

/// `POST /v2/video/list/`: the token's creator's videos, newest first, by timestamp cursor.
pub fn video_list(state: &AppState, call: &Call<'_>) -> Result<Data, ApiError> {
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
    // The page is serialized straight from the store, under the creator's lock.
    let this_call = video_call(call);
    let mut projection = Projection::new(call.fields);
    let mut videos = Data::buffer(page_size * VIDEO_BYTES, PAGE_HEAD);
    let array_start = videos.len();
    videos.push(b'[');
    let mut last = None;
    let has_more = state
        .store()
        .visit_video_page(open_id, cursor, page_size, &mut |video| {
            if last.is_some() {
                videos.push(b',');
            }
            match video.shown {
                Some(kept) => projection.write_shown(&mut videos, &video.api(&this_call), kept),
                None => projection.write(&mut videos, &video.api(&this_call)),
            }
            last = Some(video.create_time_ms);
        });
    videos.push(b']');
    let next_cursor = last
        .map(|create_time_ms| create_time_ms + i64::from(mutant!(DuplicateAcrossPages)))
        .or(cursor)
        .unwrap_or(0);
    Ok(page_data(next_cursor, has_more, videos, array_start))
}

/// Room before a page's videos for `{"cursor":…,"has_more":…,"videos":`, written last.
const PAGE_HEAD: usize = 64;

/// `{"cursor":…,"has_more":…,"videos":[…]}` around the videos' array of a
/// [`Data::buffer`] with [`PAGE_HEAD`] of room, keys in order as a `Value` map gives them.
fn page_data(cursor: i64, has_more: bool, mut videos: Vec<u8>, array_start: usize) -> Data {
    let mut head = [0u8; PAGE_HEAD];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        head[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(b"{\"cursor\":");
    put(itoa::Buffer::new().format(cursor).as_bytes());
    put(if has_more {
        b",\"has_more\":true,\"videos\":"
    } else {
        b",\"has_more\":false,\"videos\":"
    });
    // The head goes just before the array, in the room left for it.
    videos.push(b'}');
    let start = array_start - len;
    videos[start..array_start].copy_from_slice(&head[..len]);
    Data::from_buffer(videos, start)
}

/// `POST /v2/video/query/`: the token's creator's videos among the ids; others left out.
pub fn video_query(state: &AppState, call: &Call<'_>) -> Result<Data, ApiError> {
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
    let this_call = video_call(call);
    let mut projection = Projection::new(call.fields);
    let mut videos = Data::buffer(ids.len() * VIDEO_BYTES, PAGE_HEAD);
    let array_start = videos.len();
    videos.push(b'[');
    for (index, video) in state
        .store()
        .videos_by_ids(open_id, &ids)
        .iter()
        .enumerate()
    {
        if index > 0 {
            videos.push(b',');
        }
        projection.write(&mut videos, &video.as_view().api(&this_call));
    }
    videos.push(b']');
    Ok(page_data(0, false, videos, array_start))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::examples::project;
    use crate::media::{share_url, signed_url};
    use crate::state::{AppState, Call};
    use crate::store::{TokenKind, TokenRecord, Video};
    use crate::tokens::user_scopes;

    /// A video as the API showed it when answers were built as `Value`s: the reference.
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

    /// The bytes are those of the `Value` the mock used to build, field by field.
    #[test]
    fn a_page_is_the_projected_api_json_of_its_videos() {
        let state = AppState::new();
        let open_id = state.default_open_id().expect("a creator");
        let endpoint = &tiktok_api::endpoints::VIDEO_LIST;
        let schema = endpoint.fields.expect("fields").schema;
        let all: Vec<_> = schema.fields.iter().collect();
        let token = TokenRecord {
            access_token: "act.test".to_owned(),
            kind: TokenKind::User,
            open_id: Some(open_id.clone()),
            client_key: "awkey".to_owned(),
            scopes: user_scopes(),
            expires_at_ms: i64::MAX,
            refresh_token: None,
            refresh_expires_at_ms: None,
            revoked: false,
        };
        // Each field set twice, for two apps at two times: the second page is written from
        // what the first kept, with the other app's share links and covers signed anew.
        let calls = [
            ("awkey", 1_700_000_000_123),
            ("aw\"other", 1_700_000_777_000),
        ];
        for (fields, (client_key, now_ms)) in [&all[..], &all[..1], &all[2..9], &all[..]]
            .into_iter()
            .flat_map(|fields| calls.map(|call| (fields, call)))
        {
            let token = TokenRecord {
                client_key: client_key.to_owned(),
                ..token.clone()
            };
            let body = json!({"max_count": 7});
            let call = Call {
                endpoint,
                token: Some(&token),
                fields,
                body: &body,
                now_ms,
            };
            let data = super::video_list(&state, &call).expect("answers");
            let page = state.store().video_page(&open_id, None, 7);
            let videos: Vec<_> = page
                .videos
                .iter()
                .map(|video| api_video(video, &call))
                .collect();
            let expected = json!({
                "videos": videos,
                "cursor": page.videos.last().map(|video| video.create_time_ms),
                "has_more": page.has_more,
            });
            assert_eq!(
                String::from_utf8(data.to_json_bytes()).expect("utf-8"),
                serde_json::to_string(&expected).expect("json"),
                "{client_key} at {now_ms}"
            );
        }
    }
}
