//! The client's runtime, hand-written beside the generated code: retries, the local rate
//! limiter, token stores and user handles, paging streams and the upload helper.

pub mod limiter;
pub mod paging;
pub mod retry;
pub mod tokens;
pub mod upload;
pub mod user;
