//! [`router`]: the whole mock as one axum router, assembled from the pipeline, the control
//! router and each feature's own routes.

use axum::Router;

use crate::error::unsupported_path;
use crate::state::AppState;
use crate::{authorization, content_posting, control, pipeline, seed, webhooks};

/// The whole mock as an axum router: every endpoint of the state's table, the control API
/// under `/_mock/`, the consent page, the upload host, the gateway's 404 for anything else,
/// and the call log.
pub fn router(state: AppState) -> Router {
    pipeline::api_routes(&state)
        .merge(control::routes())
        .merge(seed::routes())
        .merge(authorization::routes())
        .merge(webhooks::routes())
        .merge(content_posting::routes())
        .method_not_allowed_fallback(control::wrong_method)
        .fallback(unsupported_path)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pipeline::log_calls,
        ))
        .with_state(state)
}
