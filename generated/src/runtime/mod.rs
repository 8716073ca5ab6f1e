//! The client's runtime, hand-written beside the generated code (feature `client`):
//! retries, the local rate limiter and its sliding window, user handles with their token
//! refresh, the app's client token and paging streams. Private: what an app names is
//! re-exported at the crate root or in `rate_limit`.

#[cfg(feature = "client")]
mod app_token;
#[cfg(feature = "client")]
pub(crate) mod limiter;
#[cfg(feature = "client")]
pub(crate) mod paging;
#[cfg(feature = "client")]
pub(crate) mod retry;
#[cfg(feature = "client")]
pub(crate) mod user;
pub(crate) mod window;
