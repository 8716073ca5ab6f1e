//! The call log and the per-call trace line. API routes record their own calls
//! ([`record`], from the pipeline); the other routes go through the [`log_calls`]
//! middleware. Recording costs no formatting: the trace line (target `tiktok_mock::calls`,
//! level info) is built only when a subscriber asks for it (`--log-calls`, or
//! `RUST_LOG=tiktok_mock::calls=info`), and the log entry borrows what is static.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use crate::error::{CallOutcome, LOG_ID_HEADER, unsupported_path};
use crate::logid::LogId;
use crate::state::AppState;
use crate::store::CallEntry;

/// The `tracing` target of the one line per call.
pub const CALLS_TARGET: &str = "tiktok_mock::calls";

/// Records a call: one entry in the call log, and one trace line if asked for.
pub fn record(state: &AppState, call: CallEntry) {
    tracing::info!(
        target: CALLS_TARGET,
        method = %call.method,
        path = %call.path,
        open_id = call.open_id.as_deref().unwrap_or("-"),
        decision = %call.decision,
        status = call.status,
        latency_us = call.latency_us,
        log_id = call.log_id.as_ref().map_or("-", LogId::as_str),
        error = call.message.as_deref(),
        "call"
    );
    state.store().record_call(call);
}

/// The method's name, borrowed for the standard ones.
pub fn method_name(method: &Method) -> Cow<'static, str> {
    Cow::Borrowed(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => return Cow::Owned(method.as_str().to_owned()),
    })
}

/// The gateway's 404 for a wrong method on an API path, recorded like any API call.
pub async fn unsupported_path_call(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let at_ms = state.now_ms();
    let method = method_name(request.method());
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(Box::from);
    let response = unsupported_path().await;
    finish(&state, started, at_ms, (method, path, query), response)
}

/// Middleware of the routes outside the pipeline: one trace line and one call-log entry
/// per call (control calls are traced only, at debug).
pub async fn log_calls(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at_ms = state.now_ms();
    let method = method_name(request.method());
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(Box::from);
    let response = AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| crate::error::panicked(panic.as_ref()).into_response());
    finish(&state, started, at_ms, (method, path, query), response)
}

/// Records a call answered outside the pipeline, from what its answer says. Its body is
/// the route's own (an upload's chunk is streamed, never kept).
fn finish(
    state: &AppState,
    started: Instant,
    at_ms: i64,
    (method, path, query): (Cow<'static, str>, String, Option<Box<str>>),
    response: Response,
) -> Response {
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    if path.starts_with("/_mock/") {
        tracing::debug!(%method, %path, status, latency_us, "control");
        return response;
    }
    let outcome = response.extensions().get::<CallOutcome>();
    let decision = match outcome {
        Some(outcome) => Cow::Owned(outcome.decision.clone()),
        None => Cow::Borrowed(if status < 400 { "ok" } else { "error" }),
    };
    let log_id = response
        .headers()
        .get(LOG_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(LogId::parse);
    record(
        state,
        CallEntry {
            at_ms,
            method,
            path: Cow::Owned(path),
            query,
            body: None,
            endpoint: outcome.and_then(|outcome| outcome.endpoint),
            open_id: outcome.and_then(|outcome| outcome.open_id.clone()),
            decision,
            message: outcome.and_then(|outcome| outcome.message.clone()),
            status,
            latency_us,
            log_id,
        },
    );
    response
}
