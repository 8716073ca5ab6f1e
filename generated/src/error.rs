//! The client's error type: API errors apart from transport and decode errors.

use crate::ErrorCode;

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
}

impl Error {
    /// The catalog code of an API or OAuth error.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::OAuth { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// TikTok's log_id, when the server sent one.
    pub fn log_id(&self) -> Option<&str> {
        match self {
            Error::Api { log_id, .. } | Error::OAuth { log_id, .. } => Some(log_id),
            _ => None,
        }
    }
}
