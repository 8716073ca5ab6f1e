//! [`router`]: the whole mock as one axum router, assembled from the pipeline, the control
//! router and each feature's own routes.

use axum::Router;

use crate::error::unsupported_path;
use crate::state::AppState;
use crate::{authorization, call_log, content_posting, control, pipeline, webhooks};

/// The whole mock as an axum router: every endpoint of the state's table, the control API
/// under `/_mock/`, the consent page, the upload host, the gateway's 404 for anything else,
/// and the call log (API routes record their own calls; the others through a middleware).
pub fn router(state: AppState) -> Router {
    let others = control::routes()
        .merge(authorization::routes())
        .merge(webhooks::routes())
        .merge(content_posting::routes())
        .fallback(unsupported_path)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            call_log::log_calls,
        ));
    pipeline::api_routes(&state).merge(others).with_state(state)
}
