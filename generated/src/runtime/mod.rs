//! The client's runtime, hand-written beside the generated code: retries, the local rate
//! limiter, token stores and user handles, paging streams, the upload helper (feature
//! `client`) and the webhook receiver (feature `webhook-receiver`).

#[cfg(feature = "client")]
pub mod limiter;
#[cfg(feature = "client")]
pub mod paging;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "client")]
pub mod tokens;
#[cfg(feature = "client")]
pub mod upload;
#[cfg(feature = "client")]
pub mod user;
#[cfg(feature = "webhook-receiver")]
pub mod webhook_receiver;
