//! The mock's upload host: `PUT {base}/upload/video/?upload_id=…&upload_token=…`, the
//! `upload_url` a `FILE_UPLOAD` init answers.
//!
//! Chunks come in order with `Content-Type` (one of the spec's `UPLOAD_CONTENT_TYPES`),
//! `Content-Length` and `Content-Range: bytes FIRST-LAST/TOTAL`. Answers, as the real upload
//! host gives them: 206 chunk accepted and more expected, 201 every byte received (processing
//! starts), 400 bad headers or a body whose length differs from `Content-Length`, 403 the
//! URL expired (one hour on the mock's clock; checked
//! when the request arrives and again when its last byte is in), 404 no upload task for the URL, 416 the range
//! is not the next chunk (wrong, out of order, repeated, or the upload is complete). Every
//! answer from a known task carries `Content-Range: bytes 0-{uploaded-1}/{total}`
//! (`bytes */{total}` while nothing is uploaded). The body is streamed, counted and
//! discarded: memory stays flat however large the video.
//!
//! A refused chunk is answered only once its body is read (and discarded), as a real host
//! does, so a client still sending gets the 4xx rather than a broken pipe. The read is
//! bounded by the largest chunk the spec's chunk rules allow ([`drain_limit`]): a body
//! declared longer is not read but answered at once with `Connection: close`, and one
//! running past the bound is cut the same way. A client that asked `Expect: 100-continue`
//! is answered without being asked for its body.

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use tiktok_api::meta::Envelope;
use tiktok_api::spec_constants::UPLOAD_CONTENT_TYPES;
use tiktok_api::{ChunkPlan, ChunkRules, ErrorCode};

use crate::content_posting::lifecycle::upload_completed;
use crate::content_posting::rules::UPLOAD_PATH;
use crate::error::{ApiError, CallOutcome, LOG_ID_HEADER, unsupported_path};
use crate::logid::new_log_id;
use crate::state::AppState;
use crate::store::PostRecord;

/// The upload route; other methods on it get the gateway's 404.
pub fn routes() -> Router<AppState> {
    Router::new().route(UPLOAD_PATH, put(upload).fallback(unsupported_path))
}

/// The upload host's own code for a URL without an upload task (the catalog, being the
/// API's, lists none of the upload host's codes but `invalid_params`).
const UPLOAD_NOT_FOUND: &str = "upload_not_found";
/// The upload host's own code for a chunk that is not the next one.
const RANGE_NOT_SATISFIABLE: &str = "range_not_satisfiable";
/// The upload host's own code for an expired `upload_url`.
const UPLOAD_URL_EXPIRED: &str = "upload_url_expired";

/// A refused or accepted PUT.
struct Answer {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    progress: Option<(i64, i64)>,
}

impl Answer {
    fn refuse(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Answer {
        Answer {
            status,
            code,
            message: message.into(),
            progress: None,
        }
    }

    fn with_progress(mut self, post: &PostRecord) -> Answer {
        self.progress = Some((post.uploaded_bytes, post.video_size));
        self
    }

    fn render(self, state: &AppState) -> Response {
        let log_id = new_log_id(state.now_ms());
        let message = (!self.status.is_success()).then(|| self.message.clone());
        let mut response = if self.status.is_success() {
            let mut response = self.status.into_response();
            if let Ok(value) = HeaderValue::from_str(&log_id) {
                response.headers_mut().insert(LOG_ID_HEADER, value);
            }
            response
        } else {
            ApiError::Catalog {
                code: self.code.clone(),
                status: self.status.as_u16(),
                message: self.message,
            }
            .render(Envelope::V2, &log_id)
        };
        if let Some((uploaded, total)) = self.progress {
            let range = if uploaded > 0 {
                format!("bytes 0-{}/{total}", uploaded - 1)
            } else {
                format!("bytes */{total}")
            };
            if let Ok(value) = HeaderValue::from_str(&range) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
        }
        response.extensions_mut().insert(CallOutcome {
            endpoint: None,
            open_id: None,
            decision: self.code.as_str().to_owned(),
            message,
        });
        response
    }
}

async fn upload(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut incoming = Incoming {
        body,
        read: 0,
        failed: false,
    };
    let answer = match receive(&state, &parts, &mut incoming).await {
        Ok(answer) | Err(answer) => answer,
    };
    let whole = answer.status.is_success() || drain(&parts.headers, &mut incoming).await;
    let mut response = answer.render(&state);
    if !whole && parts.version <= axum::http::Version::HTTP_11 {
        // The rest of the body is not read: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The most bytes of a chunk's body the upload host reads: the largest chunk the spec's
/// chunk rules allow (the last chunk may be larger than the others), under the larger
/// reading of "MB".
pub fn drain_limit() -> u64 {
    let rules = ChunkRules::lenient();
    rules.max_chunk.max(rules.max_final)
}

/// A chunk's body, how many of its bytes were read so far, and whether reading it failed.
struct Incoming {
    body: Body,
    read: u64,
    failed: bool,
}

impl Incoming {
    /// The length of the next piece of the body (0 for a frame without data), or `None` at
    /// its end.
    async fn next(&mut self) -> Option<Result<usize, axum::Error>> {
        let body = &mut self.body;
        let frame =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await?;
        self.failed |= frame.is_err();
        Some(frame.map(|frame| {
            let length = frame.data_ref().map_or(0, |data| data.len());
            self.read = self
                .read
                .saturating_add(u64::try_from(length).unwrap_or(u64::MAX));
            length
        }))
    }
}

/// Reads and discards the rest of a refused chunk's body, so that a client still sending
/// reads the answer instead of a broken pipe. Whether the body was read to its end: not
/// when it is (or is declared) longer than [`drain_limit`], when it fails or stalls, or
/// when the client waits for `100 Continue` before sending it (it then never sends it).
async fn drain(headers: &HeaderMap, incoming: &mut Incoming) -> bool {
    let limit = drain_limit();
    let expects_continue = headers
        .get(header::EXPECT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("100-continue"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if incoming.failed || (expects_continue && incoming.read == 0) {
        return false;
    }
    if declared.is_some_and(|declared| declared > limit) {
        return false;
    }
    while incoming.read <= limit {
        match incoming.next().await {
            None => return true,
            Some(Ok(_)) => {}
            Some(Err(_)) => return false,
        }
    }
    false
}

/// The upload task of the URL's query.
fn find_task(state: &AppState, parts: &Parts) -> Result<PostRecord, Answer> {
    let not_found = || {
        Answer::refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::parse(UPLOAD_NOT_FOUND),
            "No upload task for this URL.",
        )
    };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map_err(|_| not_found())?;
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let (Some(upload_id), Some(upload_token)) = (value("upload_id"), value("upload_token")) else {
        return Err(not_found());
    };
    let post = state
        .store()
        .post_by_upload_id(upload_id)
        .ok_or_else(not_found)?;
    let token_matches = post
        .upload_token
        .as_deref()
        .is_some_and(|expected| crate::random::secrets_equal(expected, upload_token));
    if !token_matches {
        return Err(not_found());
    }
    Ok(post)
}

/// `Content-Range: bytes FIRST-LAST/TOTAL`.
fn parse_range(text: &str) -> Option<(i64, i64, i64)> {
    let rest = text.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let number = |text: &str| -> Option<i64> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    let (first, last, total) = (number(first)?, number(last)?, number(total)?);
    (first <= last && last < total).then_some((first, last, total))
}

/// The headers of a chunk: its range and length, or a 400.
fn check_headers(headers: &HeaderMap, post: &PostRecord) -> Result<(i64, i64, i64), Answer> {
    let bad = |message: String| {
        Answer::refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidParams, message)
            .with_progress(post)
    };
    let text = |name: header::HeaderName| {
        headers
            .get(&name)
            .map(|value| value.to_str().map(str::trim).map_err(|_| name))
    };
    let content_type = match text(header::CONTENT_TYPE) {
        Some(Ok(value)) => value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
        _ => String::new(),
    };
    if !UPLOAD_CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(bad(format!(
            "Content-Type must be one of {}",
            UPLOAD_CONTENT_TYPES.join(", ")
        )));
    }
    let length = match text(header::CONTENT_LENGTH) {
        Some(Ok(value)) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            value.parse::<i64>().ok()
        }
        _ => None,
    }
    .ok_or_else(|| bad("Content-Length is required: the bytes in this chunk".to_owned()))?;
    let (first, last, total) = match text(header::CONTENT_RANGE) {
        Some(Ok(value)) => parse_range(value),
        _ => None,
    }
    .ok_or_else(|| {
        bad("Content-Range must be `bytes FIRST-LAST/TOTAL` (inclusive, 0-based)".to_owned())
    })?;
    if total != post.video_size {
        return Err(bad(format!(
            "Content-Range: the total {total} is not the video_size {} given at init",
            post.video_size
        )));
    }
    if last - first + 1 != length {
        return Err(bad(format!(
            "Content-Length {length} does not match Content-Range bytes {first}-{last} ({} bytes)",
            last - first + 1
        )));
    }
    Ok((first, last, length))
}

/// The range the next chunk must have, or `None` once every chunk is in: the range of the
/// init's [`ChunkPlan`] at the upload's progress.
fn next_range(post: &PostRecord) -> Option<(i64, i64)> {
    let (first, last) = chunk_plan(post)?.range(u64::try_from(post.chunks_received).ok()?)?;
    Some((i64::try_from(first).ok()?, i64::try_from(last).ok()?))
}

/// The chunk plan of the post's init (its figures passed the chunk rules then), or `None`
/// for figures no plan has (negative ones).
fn chunk_plan(post: &PostRecord) -> Option<ChunkPlan> {
    Some(ChunkPlan {
        video_size: u64::try_from(post.video_size).ok()?,
        chunk_size: u64::try_from(post.chunk_size).ok()?,
        total_chunk_count: u64::try_from(post.total_chunk_count).ok()?,
    })
}

fn out_of_order(post: &PostRecord, first: i64, last: i64) -> Answer {
    let message = match next_range(post) {
        Some((want_first, want_last)) => format!(
            "Content-Range bytes {first}-{last} does not match the upload's progress: chunk {} of {} must be bytes {want_first}-{want_last}",
            post.chunks_received + 1,
            post.total_chunk_count
        ),
        None => "Every chunk was already received.".to_owned(),
    };
    Answer::refuse(
        StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::parse(RANGE_NOT_SATISFIABLE),
        message,
    )
    .with_progress(post)
}

fn url_expired(post: &PostRecord) -> Answer {
    Answer::refuse(
        StatusCode::FORBIDDEN,
        ErrorCode::parse(UPLOAD_URL_EXPIRED),
        "The upload_url expired (it is valid for one hour); start a new post.",
    )
    .with_progress(post)
}

async fn receive(
    state: &AppState,
    parts: &Parts,
    incoming: &mut Incoming,
) -> Result<Answer, Answer> {
    let post = find_task(state, parts)?;
    if post
        .upload_expires_ms
        .is_none_or(|expires| state.now_ms() >= expires)
    {
        return Err(url_expired(&post));
    }
    let (first, last, length) = check_headers(&parts.headers, &post)?;
    if next_range(&post) != Some((first, last)) {
        return Err(out_of_order(&post, first, last));
    }
    // Stream the body: count, discard.
    let mut received: i64 = 0;
    while let Some(piece) = incoming.next().await {
        let piece = piece.map_err(|error| {
            let message = match crate::serve::BodyFailure::of(&*error.into_inner()) {
                crate::serve::BodyFailure::Stalled => crate::serve::BodyFailure::Stalled.message(),
                _ => "The chunk's body ended early.",
            };
            Answer::refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidParams, message)
                .with_progress(&post)
        })?;
        received = received.saturating_add(i64::try_from(piece).unwrap_or(i64::MAX));
        if received > length {
            break;
        }
    }
    if received != length {
        return Err(Answer::refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParams,
            format!(
                "The body has {received}{} bytes, Content-Length says {length}",
                if received > length { "+" } else { "" }
            ),
        )
        .with_progress(&post));
    }
    let mut committed = None;
    let mut expired = false;
    state.store().update_post(&post.publish_id, &mut |current| {
        // Checked again as the chunk completes: the URL may have expired (and the post
        // ended) while the body was on its way.
        let now_ms = state.now_ms();
        if current
            .upload_expires_ms
            .is_none_or(|expires| now_ms >= expires)
        {
            expired = true;
            committed = Some(Err(current.clone()));
        } else if next_range(current) == Some((first, last)) {
            current.uploaded_bytes += length;
            current.chunks_received += 1;
            if current.chunks_received == current.total_chunk_count {
                current.upload_completed_ms = Some(now_ms);
            }
            committed = Some(Ok(current.clone()));
        } else {
            committed = Some(Err(current.clone()));
        }
    });
    match committed {
        Some(Ok(current)) => {
            let complete = current.upload_completed_ms.is_some();
            if complete {
                upload_completed(state, &current);
            }
            Ok(Answer {
                status: if complete {
                    StatusCode::CREATED
                } else {
                    StatusCode::PARTIAL_CONTENT
                },
                code: ErrorCode::Ok,
                message: String::new(),
                progress: None,
            }
            .with_progress(&current))
        }
        Some(Err(current)) if expired => Err(url_expired(&current)),
        Some(Err(current)) => Err(out_of_order(&current, first, last)),
        None => Err(Answer::refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::parse(UPLOAD_NOT_FOUND),
            "No upload task for this URL.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_parse_strictly() {
        assert_eq!(parse_range("bytes 0-9/10"), Some((0, 9, 10)));
        assert_eq!(parse_range("bytes 5-4/10"), None);
        assert_eq!(parse_range("bytes 0-10/10"), None);
        assert_eq!(parse_range("bytes -1-9/10"), None);
        assert_eq!(parse_range("items 0-9/10"), None);
        assert_eq!(parse_range("bytes 0-9/*"), None);
        assert_eq!(parse_range("bytes 0-99999999999999999999/10"), None);
    }
}
