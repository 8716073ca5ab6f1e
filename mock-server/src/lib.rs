//! A faithful mock of the TikTok v2 API, driven by the generated endpoint table of `tiktok-api`.
//!
//! Use [`MockServer::start`] in tests (a real socket on `127.0.0.1:0`, shut down on drop), or
//! [`router`] with `tower::ServiceExt::oneshot` for in-process calls. Every endpoint of
//! `tiktok_api::ENDPOINTS` is served through one pipeline (see [`pipeline`]); each of the
//! spec's 11 endpoints has hand-written behaviour (one module per group of
//! `spec/endpoints.yaml`, wired in [`registry`]), and an endpoint without one (added to the
//! spec, or removed from the registry by a test) answers from the spec's examples.
//! The control API lives under `/_mock/` ([`control`] and each feature's own routes).
//! `ARCHITECTURE.md` lists the layers and which module serves each endpoint.

/// `mutant!(Name)`: whether the deliberate fault `Name` of [`mutants`] is live.
#[cfg(feature = "mutants")]
macro_rules! mutant {
    ($name:ident) => {
        $crate::mutants::is_live($crate::mutants::Mutant::$name)
    };
}

/// `mutant!(Name)`: always `false`; deliberate faults exist only with the feature `mutants`.
#[cfg(not(feature = "mutants"))]
macro_rules! mutant {
    ($name:ident) => {
        false
    };
}

// Leaves: no state, no feature.
pub mod clock;
pub mod error;
pub mod examples;
pub mod extract;
pub mod fields_cache;
pub mod logid;
pub mod media;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod projection;
pub mod random;
pub mod redact;
pub mod text;
pub mod validate;

// Data: the store, its records and the fixtures; they name no feature.
pub mod fixtures;
pub mod store;

// Runtime: the state (behaviours injected), settings, tokens, the webhook queue.
pub mod open_ids;
pub mod settings;
pub mod state;
pub mod tokens;
pub mod webhook_queue;

// Features: one per group of `spec/endpoints.yaml`, plus webhooks; each with its control routes.
pub mod authorization;
pub mod content_posting;
pub mod research;
pub mod user_info;
pub mod videos;
pub mod webhooks;

// Assembly: the pipeline, the control router, the registry, the router and the server, the
// webhook receiver tests point the mock at, and (feature `testing`) what tests share.
pub mod app;
pub mod call_log;
pub mod control;
pub mod pipeline;
pub mod proxy;
pub mod receiver;
pub mod recording;
pub mod registry;
pub mod seed;
pub mod serve;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::{router, router_with_admin_token};
pub use clock::{Clock, ClockKind, ManualClock, SystemClock};
pub use error::{ApiError, Data};
pub use fixtures::Fixtures;
pub use pipeline::MAX_BODY_BYTES;
pub use receiver::{DownPort, Receiver};
pub use server::{MockServer, MockServerBuilder, Times};
pub use state::{AppState, AppStateBuilder, Behaviour, Call};
pub use store::Store;
pub use store::memory::MemoryStore;
pub use tokens::{DemoTokens, MintRequest, TokenResponse};
