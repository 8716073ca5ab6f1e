//! The `research` group: the Research API's comment list (`POST /v2/research/video/comment/list/`): comments on a
//! video or replies to a comment, paged by a start index, with the daily request quota.
//!
//! The pipeline has already checked the client token (a user token is 401
//! `access_token_invalid`, as the real API answers a token of the wrong kind), the
//! `research.data.basic` scope, `fields` and the body's types and bounds.

use serde_json::{Value, json};
use tiktok_api::ErrorCode;

use crate::error::ApiError;
use crate::examples::project;
use crate::state::{AppState, Call};
use crate::store::Comment;

const DAY_MS: i64 = 86_400_000;

/// `POST /v2/research/video/comment/list/`.
pub fn comment_list(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let integer = |name: &str| -> Result<Option<i64>, ApiError> {
        match call.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::InvalidParams(format!("{name}: expected an integer"))),
        }
    };
    let video_id = integer("video_id")?;
    let comment_id = integer("comment_id")?;
    let paging = call
        .endpoint
        .paging
        .ok_or_else(|| ApiError::missing_in_table(call.endpoint, "paging"))?;
    let max_count = integer("max_count")?.unwrap_or_else(|| i64::from(paging.default_max_count));
    let max_max = i64::from(paging.max_max_count);
    let cursor = integer("cursor")?.unwrap_or(0);
    let reachable = call
        .endpoint
        .limit("max_reachable_comments")
        .map(|limit| i64::try_from(limit).unwrap_or(i64::MAX))
        .ok_or_else(|| ApiError::missing_in_table(call.endpoint, "limit max_reachable_comments"))?;
    if !(1..=max_max).contains(&max_count)
        || cursor < 0
        || cursor.saturating_add(max_count) > reachable
    {
        return Err(ApiError::InvalidParams(format!(
            "Invalid count or cursor: max_count must be 1 to {max_max} and cursor + max_count at most {reachable} (found cursor {cursor}, max_count {max_count})."
        )));
    }
    let comments: Vec<Comment> = match (video_id, comment_id) {
        (Some(video_id), None) => state
            .store()
            .comments(video_id)
            .into_iter()
            .filter(|comment| comment.parent_comment_id == video_id)
            .collect(),
        (None, Some(comment_id)) => match state.store().comment(comment_id) {
            Some(parent) => state
                .store()
                .comments(parent.video_id)
                .into_iter()
                .filter(|comment| {
                    comment.parent_comment_id == comment_id && comment.id != comment_id
                })
                .collect(),
            None => Vec::new(),
        },
        _ => {
            return Err(ApiError::InvalidParams(
                "Give exactly one of video_id (comments on a video) and comment_id (replies to a comment)."
                    .to_owned(),
            ));
        }
    };
    check_daily_quota(state, call)?;
    let start = usize::try_from(cursor).unwrap_or(usize::MAX);
    // Short pages (a setting) hold fewer than max_count while has_more stays true.
    let count = state
        .api_settings()
        .page_size(usize::try_from(max_count).unwrap_or(0));
    let page: Vec<Value> = comments
        .iter()
        .skip(start)
        .take(count)
        .map(|comment| {
            let mut comment = comment.clone();
            comment.text = mask_personal_data(&comment.text);
            let object = match serde_json::to_value(&comment) {
                Ok(Value::Object(object)) => object,
                _ => serde_json::Map::new(),
            };
            project(&object, call.fields)
        })
        .collect();
    let next = cursor.saturating_add(page.len() as i64);
    let has_more =
        usize::try_from(next).is_ok_and(|next| next < comments.len()) && next < reachable;
    Ok(json!({ "comments": page, "cursor": next, "has_more": has_more }))
}

/// Counts the call against the app's requests of the current UTC day.
fn check_daily_quota(state: &AppState, call: &Call<'_>) -> Result<(), ApiError> {
    let Some(token) = call.token else {
        return Ok(());
    };
    let quota = call
        .endpoint
        .limit("daily_requests")
        .ok_or_else(|| ApiError::missing_in_table(call.endpoint, "limit daily_requests"))?;
    let limit = state.scaled(quota);
    let day = call.now_ms.div_euclid(DAY_MS);
    let key = format!("research-daily\u{0}{}\u{0}{day}", token.client_key);
    if state
        .store()
        .try_acquire(&key, call.now_ms, limit, DAY_MS)
        .allowed
    {
        Ok(())
    } else {
        Err(ApiError::for_endpoint(
            call.endpoint,
            ErrorCode::DailyQuotaLimitExceeded,
            format!(
                "The daily quota of {limit} Research API requests is used up; it resets at 00:00 UTC."
            ),
        ))
    }
}

/// Masks e-mail addresses and phone-number-like digit runs (7 digits or more) with `*`, as
/// the Research API masks personal data in comment text.
pub fn mask_personal_data(text: &str) -> String {
    let masked_words: Vec<String> = text
        .split(' ')
        .map(|word| {
            let is_email = word
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
            if is_email {
                word.chars()
                    .map(|c| if c.is_alphanumeric() { '*' } else { c })
                    .collect()
            } else {
                word.to_owned()
            }
        })
        .collect();
    let text = masked_words.join(" ");
    // Digit runs, allowing separators inside a phone number.
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let mut start = 0;
    while start < chars.len() {
        if !chars[start].is_ascii_digit() && chars[start] != '+' {
            start += 1;
            continue;
        }
        let mut end = start;
        let mut digits = 0;
        while end < chars.len()
            && (chars[end].is_ascii_digit() || matches!(chars[end], '+' | '-' | ' ' | '(' | ')'))
        {
            if chars[end].is_ascii_digit() {
                digits += 1;
            }
            end += 1;
        }
        if digits >= 7 {
            for slot in out.iter_mut().take(end).skip(start) {
                if slot.is_ascii_digit() {
                    *slot = '*';
                }
            }
        }
        start = end.max(start + 1);
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_masked() {
        assert_eq!(
            mask_personal_data("mail me at a.b@x.org now"),
            "mail me at *.*@*.*** now"
        );
        assert_eq!(
            mask_personal_data("call +1 555-123-4567 ok"),
            "call +* ***-***-**** ok"
        );
        assert_eq!(mask_personal_data("top 10 in 2024"), "top 10 in 2024");
    }
}
