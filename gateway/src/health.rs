//! `GET /healthz` for load balancers, served by `serve --http` with no key: `200 ok` when
//! the gateway's databases answer (the shared state, a file or a Postgres database, and the
//! audit log's), `503` naming which one failed otherwise, within [`HEALTH_TIMEOUT`].
//! The answer never carries the database's own message (users, hosts, file paths): anyone
//! may ask; the detail goes to the gateway's log.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::audit_log::AuditLog;
use crate::gateway::Gateway;

/// How long the check waits for the databases before it answers 503.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What the check asks.
#[derive(Clone)]
struct Databases {
    state: crate::state::SharedState,
    audit: AuditLog,
}

/// The route `GET /healthz` for `gateway`.
pub fn router(gateway: &Gateway) -> Router {
    let databases = Databases {
        state: gateway.state().clone(),
        audit: gateway.audit().clone(),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(databases)
}

async fn healthz(State(databases): State<Databases>) -> (StatusCode, String) {
    let checked = tokio::time::timeout(HEALTH_TIMEOUT, async {
        databases
            .state
            .check()
            .await
            .map_err(|error| unhealthy("state", &tiktok_agent::error_chain(&error)))?;
        databases
            .audit
            .check()
            .await
            .map_err(|error| unhealthy("audit", &tiktok_agent::error_chain(&error)))
    })
    .await;
    match checked {
        Ok(Ok(())) => (StatusCode::OK, "ok\n".into()),
        Ok(Err(which)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{which}: not answering\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the databases did not answer in time\n".into(),
        ),
    }
}

/// Logs why `which` (`state` or `audit`) failed the check; returns only its name.
fn unhealthy(which: &'static str, problem: &str) -> &'static str {
    tracing::warn!(database = which, %problem, "health check failed");
    which
}
