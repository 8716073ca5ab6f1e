//! The client's runtime, hand-written beside the generated code: retries, the local rate
//! limiter, token stores and user handles, paging streams, the upload helper, grants,
//! audit and tool calls (feature `client`), the SQLite audit log (feature `audit-sqlite`)
//! and the webhook receiver (feature `webhook-receiver`).

#[cfg(feature = "client")]
mod app_token;
#[cfg(feature = "client")]
pub mod audit;
#[cfg(feature = "audit-sqlite")]
pub mod audit_sqlite;
mod budget;
pub mod grant;
#[cfg(feature = "client")]
pub mod granted;

#[cfg(feature = "client")]
pub mod limiter;
#[cfg(feature = "client")]
pub mod paging;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "client")]
pub mod tokens;
pub mod tools;
#[cfg(feature = "client")]
pub mod upload;
#[cfg(feature = "client")]
pub mod user;
#[cfg(feature = "webhook-receiver")]
pub mod webhook_receiver;
