//! `tiktok-mock proxy`: a validating proxy in front of the real TikTok (or any upstream).
//! Every call is forwarded unchanged and checked both ways against the spec's tables; each
//! finding is logged and counted in a drift report ([`report`]).
//!
//! Requests are checked with the mock's own checks ([`requests`]), answers against the
//! envelope, the schemas, the error catalog, paging and the rate limits ([`answers`]).
//! Nothing changes on the way through but hop-by-hop headers and the upload URLs of
//! answers, which are rewritten to `{proxy}/_proxy/upload/N/…` so the chunks come through
//! the proxy too (streamed, never held whole). [`ledger::Ledger::observe`] is the one place each
//! exchange is seen whole; `--record DIR` writes it just before ([`record`]).
//!
//! Modules: [`config`] (upstream, timeouts), [`relay`] (a call's way through), [`forward`]
//! (HTTP plumbing), [`ledger`] (what is learned and checked), [`requests`], [`answers`],
//! [`report`], [`record`] (the sanitized recording), [`server`].

pub mod answers;
pub mod config;
pub mod forward;
pub mod ledger;
pub mod record;
pub mod relay;
pub mod report;
pub mod requests;
pub mod server;

pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, ProxyConfig, REPORT_PERIOD, UPLOAD_PREFIX,
};
pub use forward::MAX_CHECKED_ANSWER;
pub use ledger::Exchange;
pub use relay::Proxy;
pub use server::{ProxyServer, serve};
