//! A typed client for the TikTok v2 API, generated from one YAML spec (`spec/` in the
//! repository) by `cargo xtask gen`.
//!
//! - Serde models of every request and response ([`Video`], [`User`], [`VideoListRequest`], ...)
//!   and the closed value sets ([`PrivacyLevel`], [`PostStatus`], [`ErrorCode`], ...), which
//!   still accept values the server adds later (`Unknown(String)`).
//! - [`Scope`] and per-endpoint field enums ([`UserField`], [`VideoField`], [`CommentField`])
//!   that know which scope each field needs.
//! - The endpoint table ([`ENDPOINTS`], [`meta::EndpointMeta`]): method, path, scopes, token
//!   kind, rate limit, paging, limits, errors, webhooks.
//! - A typed [`Error`] that keeps API errors apart from transport and decode errors.
//! - With the default `client` feature: an async [`Client`] (reqwest with rustls) with one
//!   method per endpoint; [`UserClient`], a user's handle that keeps its tokens in a
//!   [`TokenStore`] ([`tokens`]) and refreshes them; paging streams ([`PageOptions`]);
//!   retries ([`RetryPolicy`]) and a local rate limiter ([`rate_limit`]); the upload helper
//!   ([`upload`]); OAuth helpers ([`oauth`]).
//! - Webhook payloads and the `TikTok-Signature` verifier ([`webhook`]).
//! - With the `webhook-receiver` feature: an axum endpoint that verifies, deduplicates and
//!   hands on webhook deliveries (`webhook::receiver`).
//!
//! Everything an app names is at the crate root or in one of the modules above. Grants,
//! budgets and the audit log for AI agents are the `tiktok-agent` crate's, built on this one.
//!
//! With `default-features = false` the crate has no reqwest or tokio: models, scopes,
//! tables and webhooks only.
//!
//! ```no_run
//! # async fn example() -> Result<(), tiktok_api::Error> {
//! use tiktok_api::{Client, UserField, VideoField, VideoListRequest};
//!
//! // Point `base_url` at the mock server in tests; it defaults to TikTok's API host.
//! let client = Client::builder().base_url("http://127.0.0.1:8080").build()?;
//! let token = "act.example";
//! let me = client.user_info(token, &[UserField::OpenId, UserField::DisplayName]).await?;
//! println!("{:?}", me.user.display_name);
//!
//! let mut request = VideoListRequest { max_count: Some(20), ..Default::default() };
//! loop {
//!     let page = client.video_list(token, &[VideoField::Id, VideoField::Title], &request).await?;
//!     for video in &page.videos {
//!         println!("{:?} {:?}", video.id, video.title);
//!     }
//!     if !page.has_more {
//!         break;
//!     }
//!     request.cursor = Some(page.cursor);
//! }
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[rustfmt::skip]
mod r#gen;

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

pub mod chunks;
#[cfg(feature = "client")]
mod client;
mod envelope;
mod error;
pub mod meta;
pub mod oauth;
#[cfg(feature = "pii")]
#[cfg_attr(docsrs, doc(cfg(feature = "pii")))]
pub mod pii;
mod runtime;
#[cfg(feature = "client")]
pub mod tokens;
#[cfg(feature = "client")]
pub mod upload;
pub mod webhook;

pub use chunks::{ChunkPlan, ChunkRules};
#[cfg(feature = "client")]
pub use client::{AppCredentials, Client, ClientBuilder};
pub use endpoints::{ENDPOINTS, endpoint};
#[cfg(feature = "client")]
pub use envelope::Answer;
pub use envelope::{ApiErrorBody, OAuthErrorBody, decode_response};
pub use error::{Attempts, Error, UploadError};
pub use r#gen::errors::{ERRORS, ErrorCode};
pub use r#gen::fields::*;
pub use r#gen::models::*;
pub use r#gen::schemas::{ENUMS, SCHEMAS};
pub use r#gen::scopes::Scope;
pub use r#gen::webhooks::{WEBHOOK_EVENTS, WebhookContent, WebhookEventKind};
#[cfg(feature = "client")]
pub use runtime::{
    limiter::LimiterMode, paging::PageOptions, retry::RetryPolicy, user::UserClient,
};
#[cfg(feature = "client")]
pub use tokens::{FileTokenStore, MemoryTokenStore, StoredToken, TokenStore, TokenStoreError};

/// `secrecy`, whose `SecretString` holds the tokens a [`TokenStore`] keeps: read one with
/// `tiktok_api::secrecy::ExposeSecret` without depending on a matching version yourself.
#[cfg(feature = "client")]
pub use secrecy;

/// The tool manifest `cargo xtask gen` writes to `generated/tools.json`: `{"tools": [...]}`,
/// one MCP tool (name, description, `inputSchema`, annotations) per endpoint, from the same
/// tables as the client. `tiktok-agent` checks tool arguments against those tables.
pub const TOOLS_JSON: &str = include_str!("../tools.json");

/// The endpoint table: one [`meta::EndpointMeta`] static per endpoint.
pub mod endpoints {
    pub use crate::r#gen::endpoints::*;
}

/// The schema table: one [`meta::SchemaMeta`] static per schema and one [`meta::EnumMeta`] per value set.
pub mod schemas {
    pub use crate::r#gen::schemas::*;
}

/// Figures of the spec: hosts, token lifetimes, webhook delivery, upload and chunk rules.
pub mod spec_constants {
    pub use crate::r#gen::constants::*;
}

/// Rate limits on the client's side: the [`LimiterMode`] of the client's local limiter and
/// the [`SlidingWindow`](rate_limit::SlidingWindow) it counts in (also what `tiktok-agent`'s budgets count in).
pub mod rate_limit {
    #[cfg(feature = "client")]
    pub use crate::runtime::limiter::LimiterMode;
    pub use crate::runtime::window::SlidingWindow;
}
