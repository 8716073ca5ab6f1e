//! A faithful mock of the TikTok v2 API, driven by the generated endpoint table of `tiktok-api`.
//!
//! Use [`MockServer::start`] in tests (a real socket on `127.0.0.1:0`, shut down on drop), or
//! [`router`] with `tower::ServiceExt::oneshot` for in-process calls. Every endpoint of
//! `tiktok_api::ENDPOINTS` is served through one pipeline (see [`pipeline`]); user info, video
//! list and video query have hand-written behaviour ([`behaviours`]), the rest answer from the
//! spec's examples. The control API lives under `/_mock/` ([`control`]).

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

pub mod behaviours;
pub mod clock;
pub mod control;
pub mod error;
pub mod examples;
pub mod fixtures;
pub mod logid;
pub mod memory;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod oauth;
pub mod pipeline;
pub mod posting;
pub mod research;
pub mod server;
pub mod state;
pub mod store;
pub mod upload;
pub mod validate;
pub mod webhooks;

use axum::Router;

pub use behaviours::{Behaviour, Call};
pub use clock::{Clock, ClockKind, ManualClock, SystemClock};
pub use error::ApiError;
pub use fixtures::Fixtures;
pub use memory::MemoryStore;
pub use pipeline::MAX_BODY_BYTES;
pub use server::{MockServer, MockServerBuilder};
pub use state::{AppState, AppStateBuilder, DemoTokens, MintRequest, TokenResponse};
pub use store::Store;

/// The whole mock as an axum router: every endpoint of the state's table, the control API
/// under `/_mock/`, the gateway's 404 for anything else, and the call log.
pub fn router(state: AppState) -> Router {
    pipeline::api_routes(&state)
        .merge(control::routes())
        .merge(oauth::routes())
        .merge(webhooks::routes())
        .merge(posting::control_routes())
        .merge(upload::routes())
        .fallback(pipeline::unsupported_path)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pipeline::log_calls,
        ))
        .with_state(state)
}
