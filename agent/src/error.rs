//! The agent layer's error: a call refused by the grant or its arguments, the audit failing,
//! or the call itself failing in the client (`tiktok_api::Error`, unchanged, as the source).

use crate::audit::AuditError;
use crate::grant::DenyReason;

/// Everything a granted call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The grant refused the call before sending anything.
    #[error("{endpoint} refused by the grant: {reason}")]
    Denied {
        /// The endpoint id.
        endpoint: &'static str,
        /// What the grant lacks.
        reason: DenyReason,
    },
    /// A tool call named no endpoint of the spec.
    #[error("unknown tool {name:?}")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },
    /// A tool call's arguments break the tool's input schema.
    #[error("arguments of {tool} at {path:?}: {message}")]
    InvalidArguments {
        /// The tool (endpoint id).
        tool: &'static str,
        /// A JSON Pointer to the bad value (`""` for the whole arguments).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An audit record could not be written; the call's answer is withheld.
    #[error("the audit record could not be kept")]
    Audit(#[source] AuditError),
    /// The call was allowed and failed in the client or at TikTok: the client's own error,
    /// to match as any app does (`Error::Client(tiktok_api::Error::Api { code, .. })`).
    #[error(transparent)]
    Client(#[from] tiktok_api::Error),
}

impl Error {
    /// The client's error, when the call was sent (or refused by the client runtime).
    pub fn client(&self) -> Option<&tiktok_api::Error> {
        match self {
            Error::Client(error) => Some(error),
            _ => None,
        }
    }
}

/// `error` and each of its sources, joined by `": "`: one line for a log or an audit record.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
