//! Forwarding as HTTP asks: hop-by-hop headers dropped, bodies read up to a bound or
//! streamed, an answer read whole, cut short or too large to check, and the 502 an app
//! gets in TikTok's envelope when no answer came. Nothing here names a URL in its words.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use tiktok_api::ErrorCode;
use tiktok_api::meta::Envelope;

use crate::clock::system_now_ms;
use crate::error::ApiError;
use crate::logid::new_log_id;

/// Answers up to this size are checked (4 MiB); a larger one is forwarded unchecked.
pub const MAX_CHECKED_ANSWER: usize = 4 * 1024 * 1024;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Headers that belong to one connection, never forwarded (RFC 9110, section 7.6.1).
pub fn hop_by_hop(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
    ]
    .into();
    for value in headers.get_all(header::CONNECTION) {
        if let Ok(text) = value.to_str() {
            names.extend(
                text.split(',')
                    .filter_map(|name| HeaderName::try_from(name.trim()).ok()),
            );
        }
    }
    names
}

/// `headers` without hop-by-hop headers, `Host` and (when the body's length is known to
/// the sender) `Content-Length`.
pub fn forwardable(headers: &HeaderMap, keep_length: bool) -> HeaderMap {
    let dropped = hop_by_hop(headers);
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if dropped.contains(name)
            || name == header::HOST
            || (!keep_length && name == header::CONTENT_LENGTH)
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Why no answer came, in words that name no URL.
pub fn failure_words(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "the exchange failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    // A cause's words never carry the URL (reqwest keeps it on the outer error only).
    let cause = causes
        .last()
        .map(|cause| format!(" ({cause})"))
        .unwrap_or_default();
    format!("{what}{cause}")
}

/// A body read whole up to `limit`, or what was read and the rest as a stream.
pub enum Buffered {
    /// All of it.
    Whole(Bytes),
    /// Over the limit: the pieces read, and the rest still to come.
    Over(Vec<Bytes>, axum::body::BodyDataStream),
    /// The sender broke off.
    Failed,
}

/// Reads `body` up to `limit` bytes (see [`Buffered`]).
pub async fn buffer(body: Body, limit: usize) -> Buffered {
    let mut stream = body.into_data_stream();
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut size = 0;
    while let Some(piece) = stream.next().await {
        let Ok(piece) = piece else {
            return Buffered::Failed;
        };
        size += piece.len();
        pieces.push(piece);
        if size > limit {
            return Buffered::Over(pieces, stream);
        }
    }
    Buffered::Whole(match pieces.len() {
        1 => pieces.pop().unwrap_or_default(),
        _ => pieces.concat().into(),
    })
}

/// How an upstream's answer came: whole, cut short, or larger than the checks read.
pub enum Answer {
    /// All of it.
    Whole(Bytes),
    /// What came before it broke off, and why it did (in words naming no URL).
    Cut(Bytes, String),
    /// Over [`MAX_CHECKED_ANSWER`]: the pieces read, and the answer still streaming.
    Large(Vec<Bytes>, reqwest::Response),
}

/// Reads the answer's body (each read under the read timeout) up to [`MAX_CHECKED_ANSWER`].
pub async fn read_answer(mut response: reqwest::Response) -> Answer {
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut size = 0;
    loop {
        match response.chunk().await {
            Ok(Some(piece)) => {
                size += piece.len();
                pieces.push(piece);
                if size > MAX_CHECKED_ANSWER {
                    return Answer::Large(pieces, response);
                }
            }
            Ok(None) => return Answer::Whole(pieces.concat().into()),
            Err(error) => return Answer::Cut(pieces.concat().into(), failure_words(&error)),
        }
    }
}

/// A response with `status`, the forwardable `headers` and `body`.
pub fn respond(status: StatusCode, headers: &HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = forwardable(headers, false);
    response
}

/// The answer to the app when no answer came: 502 in the endpoint's envelope.
pub fn bad_gateway(envelope: Envelope, words: &str) -> Response {
    let code = match envelope {
        Envelope::V2 => ErrorCode::InternalError,
        Envelope::OAuth => ErrorCode::ServerError,
    };
    let now_ms = system_now_ms();
    ApiError::Catalog {
        code,
        status: StatusCode::BAD_GATEWAY.as_u16(),
        message: format!("The proxy got no answer from the upstream: {words}."),
    }
    .render(envelope, &new_log_id(now_ms))
}
