//! Hand-written endpoint behaviour on top of the generic pipeline: user info, video list
//! and video query. Other endpoints answer from the spec's examples until they get one here.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, FieldMeta};

use crate::error::ApiError;
use crate::examples::project;
use crate::state::AppState;
use crate::store::TokenRecord;

/// What a behaviour sees of a call that passed authentication, scopes, rate limit and validation.
#[derive(Debug)]
pub struct Call<'a> {
    /// The endpoint.
    pub endpoint: &'static EndpointMeta,
    /// The access token, for token-authenticated endpoints.
    pub token: Option<&'a TokenRecord>,
    /// The fields asked for, in order, without repeats (endpoints with `fields`).
    pub fields: &'a [&'static FieldMeta],
    /// The request body, validated against the endpoint's request schema (`{}` when it has none).
    pub body: &'a Value,
    /// The time of the call on the mock's clock, Unix milliseconds.
    pub now_ms: i64,
}

impl Call<'_> {
    /// The creator the user token acts for.
    pub fn open_id(&self) -> Result<&str, ApiError> {
        self.token
            .and_then(|token| token.open_id.as_deref())
            .ok_or_else(|| {
                ApiError::AccessTokenInvalid(
                    "The access token is invalid or not found in the request.".to_owned(),
                )
            })
    }
}

/// An endpoint's behaviour: the response's `data` from a validated call.
pub type Behaviour = Arc<dyn Fn(&AppState, &Call<'_>) -> Result<Value, ApiError> + Send + Sync>;

/// The behaviours this crate writes by hand, by endpoint id.
pub fn default_behaviours() -> HashMap<String, Behaviour> {
    let mut behaviours: HashMap<String, Behaviour> = HashMap::new();
    behaviours.insert("user_info".to_owned(), Arc::new(user_info));
    behaviours.insert("video_list".to_owned(), Arc::new(video_list));
    behaviours.insert("video_query".to_owned(), Arc::new(video_query));
    behaviours.insert(
        "creator_info".to_owned(),
        Arc::new(crate::posting::creator_info),
    );
    behaviours.insert(
        "video_init".to_owned(),
        Arc::new(crate::posting::video_init),
    );
    behaviours.insert(
        "inbox_video_init".to_owned(),
        Arc::new(crate::posting::inbox_video_init),
    );
    behaviours.insert(
        "content_init".to_owned(),
        Arc::new(crate::posting::content_init),
    );
    behaviours.insert(
        "status_fetch".to_owned(),
        Arc::new(crate::posting::status_fetch),
    );
    behaviours.insert("token".to_owned(), Arc::new(crate::oauth::token));
    behaviours.insert("revoke".to_owned(), Arc::new(crate::oauth::revoke));
    behaviours.insert(
        "research_comment_list".to_owned(),
        Arc::new(crate::research::comment_list),
    );
    behaviours
}

/// `GET /v2/user/info/`: the token's creator, exactly the fields asked for.
pub fn user_info(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    crate::posting::settle_creator(state, open_id);
    let creator = state.store().creator(open_id).ok_or_else(|| {
        ApiError::AccessTokenInvalid("The user of this access token no longer exists.".to_owned())
    })?;
    let user = creator.to_user_json(state.store().video_count(open_id));
    Ok(json!({ "user": project(&user, call.fields) }))
}

/// `POST /v2/video/list/`: the token's creator's videos, newest first, by timestamp cursor.
pub fn video_list(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    crate::posting::settle_creator(state, open_id);
    let paging = call.endpoint.paging;
    let default_max = paging.map_or(10, |paging| paging.default_max_count);
    let max_max = paging.map_or(20, |paging| paging.max_max_count);
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
    let page = state
        .store()
        .video_page(open_id, cursor, max_count as usize);
    let next_cursor = page
        .videos
        .last()
        .map(|video| video.create_time_ms + i64::from(mutant!(DuplicateAcrossPages)))
        .or(cursor)
        .unwrap_or(0);
    let videos: Vec<Value> = page
        .videos
        .iter()
        .map(|video| project(&video.to_api_json(), call.fields))
        .collect();
    Ok(json!({ "videos": videos, "cursor": next_cursor, "has_more": page.has_more }))
}

/// `POST /v2/video/query/`: the token's creator's videos among the ids; others left out.
pub fn video_query(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let open_id = call.open_id()?;
    crate::posting::settle_creator(state, open_id);
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
    if let Some(max_ids) = call.endpoint.limit("max_video_ids")
        && ids.len() as u64 > max_ids
    {
        return Err(ApiError::InvalidParams(format!(
            "filters.video_ids: at most {max_ids} ids per request"
        )));
    }
    let videos: Vec<Value> = state
        .store()
        .videos_by_ids(open_id, &ids)
        .iter()
        .map(|video| project(&video.to_api_json(), call.fields))
        .collect();
    Ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
}
