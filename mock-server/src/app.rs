//! [`router`]: the whole mock as one axum router, assembled from the pipeline, the control
//! router and each feature's own routes.

use axum::Router;

use crate::error::unsupported_path;
use crate::state::AppState;
use crate::{authorization, call_log, content_posting, control, pipeline, seed, webhooks};

/// The whole mock as an axum router: every endpoint of the state's table, the control API
/// under `/_mock/`, the consent page, the upload host, the gateway's 404 for anything else,
/// and the call log (API routes record their own calls; the others through a middleware).
pub fn router(state: AppState) -> Router {
    let others = control::routes()
        .merge(seed::routes())
        .merge(authorization::routes())
        .merge(webhooks::routes())
        .merge(content_posting::routes())
        .method_not_allowed_fallback(control::wrong_method)
        .fallback(unsupported_path)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            call_log::log_calls,
        ));
    pipeline::api_routes(&state).merge(others).with_state(state)
}

/// [`router`] with the control API (`/_mock/…`, all but `/_mock/health`) closed to requests
/// without `Authorization: Bearer ADMIN_TOKEN` (`--admin-token`; required off loopback).
pub fn router_with_admin_token(state: AppState, admin_token: Option<String>) -> Router {
    let router = router(state);
    match admin_token {
        None => router,
        Some(token) => router.layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::<str>::from(token),
            admin_guard,
        )),
    }
}

async fn admin_guard(
    axum::extract::State(token): axum::extract::State<std::sync::Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let control = path == "/_mock" || path.starts_with("/_mock/");
    if control && path != "/_mock/health" {
        let given = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !crate::random::secrets_equal(&token, given) {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({"error": {
                    "code": "unauthorized",
                    "message": "the control API needs the admin token: Authorization: Bearer TOKEN (--admin-token)",
                }})),
            )
                .into_response();
        }
    }
    next.run(request).await
}
