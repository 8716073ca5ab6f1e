//! The client's error type: API errors apart from transport and decode errors, and the
//! runtime's own (local rate limit, re-authorization, token store, upload).

use std::time::Duration;

use crate::ErrorCode;
use crate::chunks::ChunkError;

/// Everything a call can fail with.
///
/// With retries on (the default), the error is the last attempt's own, so a `match` on
/// [`Error::Api`]'s `code` sees what TikTok answered; [`Error::attempts`] says how many
/// attempts were made and how long they took. Each error's `Display` says its own part
/// once and `source()` gives its cause, so `anyhow` and friends print the whole chain.
///
/// ```no_run
/// # async fn example(client: tiktok_api::Client) {
/// use tiktok_api::{Error, ErrorCode, UserField};
///
/// match client.user_info("act.example", &[UserField::OpenId]).await {
///     Ok(me) => println!("{:?}", me.user.open_id),
///     Err(Error::Api { code: ErrorCode::RateLimitExceeded, .. }) => {
///         // Returned at once when the window does not free within the retry policy.
///     }
///     Err(Error::ReauthorizationRequired { .. }) => { /* send the user through OAuth again */ }
///     Err(error) => eprintln!("{error} (after {} attempts)", error.attempts().count),
/// }
/// # }
/// ```
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
        /// The attempts the call made (several when the retry policy tried again).
        attempts: Attempts,
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
        /// The attempts the call made.
        attempts: Attempts,
    },
    /// The request never got an HTTP answer (connection, TLS, timeout); the cause is the
    /// `source()`.
    #[cfg(feature = "client")]
    #[error("the request to TikTok failed")]
    Transport {
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
        /// The attempts the call made.
        attempts: Attempts,
    },
    /// The answer was not what the spec describes.
    #[error("could not decode the response (HTTP {status}): {message}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
        /// The start of the body, for debugging.
        body: String,
        /// The attempts the call made.
        attempts: Attempts,
    },
    /// The call was refused before sending (e.g. a bad PKCE verifier or base URL, no
    /// fields asked for, no app credentials for an OAuth call).
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
    /// nothing stored): send the user through the authorization flow again. The answer
    /// that showed it (TikTok's 401, or the refused refresh) is the `source()`.
    #[error("re-authorization required {}: {reason}", match open_id { Some(open_id) => format!("for {open_id}"), None => "for this access token".to_string() })]
    ReauthorizationRequired {
        /// The user, unless the handle was made from a bare access token.
        open_id: Option<String>,
        /// Why.
        reason: String,
        /// TikTok's answer that showed it, when there was one.
        #[source]
        rejected: Option<Box<Error>>,
    },
    /// The token store could not be read or written.
    #[cfg(feature = "client")]
    #[error(transparent)]
    TokenStore(#[from] crate::TokenStoreError),
    /// An upload could not be planned or its source could not be read.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// How many attempts a call made before its error, and how long they took; for a 429, how
/// long until the rate-limit window frees (as far as this client can tell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempts {
    /// Attempts made, the first included.
    pub count: u32,
    /// Time from the first attempt to the last answer.
    pub elapsed: Duration,
    /// For a 429: how long until the window lets one more call through.
    pub retry_after: Option<Duration>,
}

impl Attempts {
    /// One attempt, nothing more known: what every error starts with.
    pub const ONE: Attempts = Attempts {
        count: 1,
        elapsed: Duration::ZERO,
        retry_after: None,
    };
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts::ONE
    }
}

#[cfg(feature = "client")]
impl From<reqwest::Error> for Error {
    fn from(source: reqwest::Error) -> Self {
        Error::Transport {
            source,
            attempts: Attempts::ONE,
        }
    }
}

/// Why an upload could not go ahead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The file or stream cannot be cut into chunks the API accepts (empty, too large).
    #[error(transparent)]
    Plan(#[from] ChunkError),
    /// The source could not be read.
    #[error("reading the video failed")]
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
    /// The catalog code of an API or OAuth error (for [`Error::ReauthorizationRequired`],
    /// of the answer that showed it).
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::OAuth { error, .. } => Some(error),
            Error::ReauthorizationRequired {
                rejected: Some(rejected),
                ..
            } => rejected.code(),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::OAuth { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            Error::ReauthorizationRequired {
                rejected: Some(rejected),
                ..
            } => rejected.status(),
            _ => None,
        }
    }

    /// TikTok's log_id, when the server sent one.
    pub fn log_id(&self) -> Option<&str> {
        match self {
            Error::Api { log_id, .. } | Error::OAuth { log_id, .. } => Some(log_id),
            Error::ReauthorizationRequired {
                rejected: Some(rejected),
                ..
            } => rejected.log_id(),
            _ => None,
        }
    }

    /// The attempts the call made: [`Attempts::ONE`] unless the retry policy tried again.
    pub fn attempts(&self) -> Attempts {
        match self {
            Error::Api { attempts, .. }
            | Error::OAuth { attempts, .. }
            | Error::Decode { attempts, .. } => *attempts,
            #[cfg(feature = "client")]
            Error::Transport { attempts, .. } => *attempts,
            _ => Attempts::ONE,
        }
    }

    /// How long to wait before the same call may pass: the local limiter's figure, or for a
    /// 429 returned without a retry, when the window frees as far as this client can tell.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            other => other.attempts().retry_after,
        }
    }

    /// This error with `attempts` recorded (where the variant carries them).
    #[cfg(feature = "client")]
    pub(crate) fn with_attempts(mut self, new: Attempts) -> Error {
        match &mut self {
            Error::Api { attempts, .. }
            | Error::OAuth { attempts, .. }
            | Error::Decode { attempts, .. } => *attempts = new,
            #[cfg(feature = "client")]
            Error::Transport { attempts, .. } => *attempts = new,
            _ => {}
        }
        self
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
            Error::Transport { source, .. } => {
                source.is_timeout()
                    || source.is_connect()
                    || source.is_request()
                    || source.is_body()
                    || body_cut_short(source)
            }
            Error::RateLimited { .. } => true,
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
            Error::Transport { source, .. } => source.is_connect(),
            Error::RateLimited { .. } => true,
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
