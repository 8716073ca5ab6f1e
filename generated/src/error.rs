//! The client's error type: API errors apart from transport and decode errors, and the
//! runtime's own (local rate limit, re-authorization, token store, upload).

use std::time::Duration;

use crate::ErrorCode;
use crate::chunks::ChunkError;

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with a v2 error envelope (`error.code` other than `ok`).
    #[error("TikTok API error {code} (HTTP {status}): {message} [log_id {log_id}]")]
    Api {
        /// HTTP status (creator_info sends some errors with 200).
        status: u16,
        /// The catalog code.
        code: ErrorCode,
        /// TikTok's message.
        message: String,
        /// TikTok's request id; quote it to TikTok support.
        log_id: String,
    },
    /// An OAuth endpoint answered with its flat error shape.
    #[error("TikTok OAuth error {error} (HTTP {status}): {description} [log_id {log_id}]")]
    OAuth {
        /// HTTP status.
        status: u16,
        /// The OAuth error category (`invalid_grant`, ...).
        error: ErrorCode,
        /// `error_description`.
        description: String,
        /// TikTok's request id.
        log_id: String,
    },
    /// The request never got an HTTP answer (connection, TLS, timeout).
    #[cfg(feature = "client")]
    #[error("transport error: {0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was not what the spec describes.
    #[error("could not decode the response (HTTP {status}): {message}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
        /// The start of the body, for debugging.
        body: String,
    },
    /// The call was refused before sending (e.g. a bad PKCE verifier or base URL).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client-side rate limiter (fail-fast mode) refused the call before sending: the
    /// spec's per-minute limit for this token and endpoint is used up.
    #[error("rate limit of {endpoint} reached locally; retry in {} ms", retry_after.as_millis())]
    RateLimited {
        /// The endpoint id.
        endpoint: &'static str,
        /// How long until the window lets one more call through.
        retry_after: Duration,
    },
    /// The user's tokens can no longer be refreshed (`invalid_grant`, no refresh token, or
    /// nothing stored): send the user through the authorization flow again.
    #[error("re-authorization required for {open_id}: {reason}")]
    ReauthorizationRequired {
        /// The user.
        open_id: String,
        /// Why.
        reason: String,
    },
    /// The token store could not be read or written.
    #[cfg(feature = "client")]
    #[error("token store: {0}")]
    TokenStore(#[from] crate::TokenStoreError),
    /// An upload could not be planned or its source could not be read.
    #[error("upload: {0}")]
    Upload(#[from] UploadError),
    /// A retryable failure persisted: the policy gave up after `attempts` attempts. `last`
    /// is the last attempt's error (its `log_id` included).
    #[error("gave up after {attempts} attempts in {} ms: {last}", elapsed.as_millis())]
    RetriesExhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
        /// The last attempt's error.
        last: Box<Error>,
    },
}

/// Why an upload could not go ahead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The file or stream cannot be cut into chunks the API accepts (empty, too large).
    #[error(transparent)]
    Plan(#[from] ChunkError),
    /// The source could not be read.
    #[error("reading the video: {0}")]
    Io(#[from] std::io::Error),
    /// The source ended before the size it announced.
    #[error("the video ended after {read} of {expected} bytes")]
    SourceEnded {
        /// Bytes announced.
        expected: u64,
        /// Bytes read.
        read: u64,
    },
    /// The source holds more bytes than it announced (nothing past them was sent).
    #[error("the video is longer than the {expected} bytes announced")]
    SourceTooLong {
        /// Bytes announced.
        expected: u64,
    },
    /// The init call answered without an upload URL.
    #[error("the init call returned no upload_url")]
    NoUploadUrl,
    /// The post did not reach a final status in time.
    #[error("post {publish_id} still {status} after {} s", waited.as_secs())]
    StatusTimeout {
        /// The post.
        publish_id: String,
        /// Its last status.
        status: String,
        /// How long the helper polled.
        waited: Duration,
    },
}

impl Error {
    /// The catalog code of an API or OAuth error (of the last attempt, after retries).
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::OAuth { error, .. } => Some(error),
            Error::RetriesExhausted { last, .. } => last.code(),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered (the last attempt's, after retries).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::OAuth { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            Error::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// TikTok's log_id, when the server sent one (the last attempt's, after retries).
    pub fn log_id(&self) -> Option<&str> {
        match self {
            Error::Api { log_id, .. } | Error::OAuth { log_id, .. } => Some(log_id),
            Error::RetriesExhausted { last, .. } => last.log_id(),
            _ => None,
        }
    }

    /// How many attempts the call made: 1 unless the retry policy tried again.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::RetriesExhausted { attempts, .. } => *attempts,
            _ => 1,
        }
    }

    /// The error of the last attempt: `self`, or what [`Error::RetriesExhausted`] wraps.
    pub fn last(&self) -> &Error {
        match self {
            Error::RetriesExhausted { last, .. } => last.last(),
            other => other,
        }
    }

    /// Whether the same call may succeed if sent again later: a code the error catalog
    /// calls transient (429, `internal_error`, `server_error`, `temporarily_unavailable`),
    /// a 5xx answer that is not TikTok's envelope, a timeout, a connection failure or an
    /// answer cut short, or the local rate limiter. Whether a *write* may be resent is narrower: see
    /// [`Error::proves_nothing_done`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { code, .. } | Error::OAuth { error: code, .. } => code.is_transient(),
            Error::Decode { status, .. } => *status >= 500,
            #[cfg(feature = "client")]
            Error::Transport(error) => {
                error.is_timeout()
                    || error.is_connect()
                    || error.is_request()
                    || error.is_body()
                    || body_cut_short(error)
            }
            Error::RateLimited { .. } => true,
            Error::RetriesExhausted { last, .. } => last.is_retryable(),
            _ => false,
        }
    }

    /// Whether the failure proves the server did nothing, so that even a write may be sent
    /// again: a 429 (refused before any work), the local limiter, or a connection that
    /// failed before the request was sent.
    pub fn proves_nothing_done(&self) -> bool {
        match self {
            Error::Api { code, .. } | Error::OAuth { error: code, .. } => {
                *code == ErrorCode::RateLimitExceeded
            }
            #[cfg(feature = "client")]
            Error::Transport(error) => error.is_connect(),
            Error::RateLimited { .. } => true,
            Error::RetriesExhausted { last, .. } => last.proves_nothing_done(),
            _ => false,
        }
    }
}

/// Whether reading an answer's body failed midway: reqwest reports it as a decode error
/// whose source is the body error, so `is_body` alone does not see it.
#[cfg(feature = "client")]
fn body_cut_short(error: &reqwest::Error) -> bool {
    error.is_decode()
        && std::error::Error::source(error)
            .and_then(|source| source.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_body)
}
