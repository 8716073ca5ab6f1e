//! The helpers the agent layer's tests share: `tiktok_mock::testing` (the mock's control API
//! over HTTP, as any app would see it, the demo data, a client and a user handle on it).

#![allow(unused_imports)]

pub use tiktok_mock::testing::{
    Control, DEMO_OPEN_ID, PRIVATE_OPEN_ID, client, eventually, fast_retries, mock, user,
};
