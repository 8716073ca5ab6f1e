//! The streamable HTTP transport: `POST /mcp` (rmcp's service), each request authenticated
//! by its agent's own key (`Authorization: Bearer …`, compared by SHA-256 in constant
//! time; the config holds only the hash), loopback hosts only unless the config adds others,
//! browser origins refused unless listed; connections capped and timed out ([`serve`],
//! `http:` in the config) so half-open ones cannot starve an agent. A failed authentication
//! is audited, at most once per source address per minute and [`AUTH_FAILURES_PER_WINDOW`]
//! records per minute in all, so a flood cannot fill the disk.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeoutLayer;

use tiktok_agent::{AuditRecord, AuditSink, Decision, SqliteAuditLog};

use crate::config::HttpLimits;
use crate::error::{GatewayError, KeyError};
use crate::gateway::Gateway;
use crate::mcp::{AuthenticatedAgent, GatewayServer};

/// The address `--http` binds when given none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";

/// The window failed authentications are counted in.
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// At most this many failed authentications are audited per window, from all sources
/// together (one per source).
pub const AUTH_FAILURES_PER_WINDOW: usize = 64;

/// The agent name of a failed authentication's audit record.
pub const UNAUTHENTICATED: &str = "(unauthenticated)";

/// The endpoint name of a failed authentication's audit record.
pub const AUTH_ENDPOINT: &str = "http_authentication";

/// Agents' key hashes, and where failed authentications are audited.
#[derive(Clone)]
struct Keys {
    hashes: Arc<Vec<([u8; 32], String)>>,
    failures: Arc<FailureLog>,
}

/// Which sources have had a failed authentication audited in the current window.
#[derive(Debug)]
struct FailureLog {
    audit: SqliteAuditLog,
    window: Mutex<(Instant, HashSet<IpAddr>)>,
}

impl FailureLog {
    /// Whether a failure from `source` is to be audited now: its first in this window, and
    /// the window not full.
    fn admit(&self, source: Option<IpAddr>) -> bool {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if now.duration_since(window.0) >= AUTH_FAILURE_WINDOW {
            *window = (now, HashSet::new());
        }
        // No address known (not served by `serve`): counted as one source.
        let source = source.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        window.1.len() < AUTH_FAILURES_PER_WINDOW && window.1.insert(source)
    }
}

/// The address a connection came from (set per connection by [`serve`]).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The router serving `agents` (every agent with a key, or only `only`) at `/mcp`.
pub async fn router(gateway: &Gateway, only: Option<&str>) -> Result<Router, GatewayError> {
    let mut agents = BTreeMap::new();
    let mut keys = Vec::new();
    for (name, agent) in &gateway.config().agents {
        if only.is_some_and(|only| only != name) {
            continue;
        }
        let Some(hash) = &agent.key_sha256 else {
            tracing::warn!(agent = %name, "agent has no key_sha256 in the config; it cannot connect over HTTP");
            continue;
        };
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hash, &mut digest).map_err(|source| KeyError::BadHash {
            agent: name.clone(),
            source,
        })?;
        keys.push((digest, name.clone()));
        agents.insert(name.clone(), Arc::new(gateway.agent(name).await?));
    }
    if agents.is_empty() {
        return Err(KeyError::NoKeys {
            only: only.map(str::to_string),
            config: gateway.config().file.clone(),
        }
        .into());
    }
    let http = &gateway.config().http;
    // Stateless: no session an agent could pick up with another agent's session id; every
    // request is authenticated on its own.
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_allowed_hosts(
            ["localhost", "127.0.0.1", "::1"]
                .into_iter()
                .map(String::from)
                .chain(http.allowed_hosts.iter().cloned()),
        );
    config = if http.allowed_origins.is_empty() {
        config.enforce_origin_validation()
    } else {
        config.with_allowed_origins(http.allowed_origins.iter().cloned())
    };
    let server = GatewayServer::for_requests(agents);
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Ok(Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(
            Keys {
                hashes: Arc::new(keys),
                failures: Arc::new(FailureLog {
                    audit: gateway.audit().clone(),
                    window: Mutex::new((Instant::now(), HashSet::new())),
                }),
            },
            authenticate,
        )))
}

/// Serves `router` on `addr` until `shutdown` (Ctrl-C or SIGTERM), within the limits of
/// `limits`: at most `max_connections` connections at once (one more waits in the
/// listen backlog, never holding a descriptor of the gateway's), each closed when it takes
/// longer than `header_read_timeout` to send a request's headers (counted from when it
/// connects or from the end of its last answer: the idle keep-alive timeout too), a request
/// body refused when a frame of it takes longer than `body_timeout`; on a signal, no new
/// connection is taken and those open get `shutdown_timeout` to finish.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    limits: HttpLimits,
    mut shutdown: crate::Shutdown,
) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening beyond loopback: every agent key travels in clear text unless a TLS proxy is in front");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {addr}: {error}"))?;
    let bound = listener.local_addr()?;
    crate::terminal::eprint(&format!(
        "tiktok-gateway: MCP over streamable HTTP at http://{bound}/mcp"
    ));
    let service = tower::ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .service(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        // A free slot first, then a connection: past the cap, connections wait in the
        // kernel's backlog rather than as open descriptors here.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit?,
            () = shutdown.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was taken: not
                    // the server's end.
                    tracing::warn!(%error, "a connection could not be accepted");
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        // Each request knows its connection's address (for the audit of a failed key).
        let service = TowerToHyperService::new(
            tower::ServiceBuilder::new()
                .layer(axum::Extension(Peer(peer)))
                .service(service.clone()),
        );
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "an HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?limits.shutdown_timeout,
            "connections still open at shutdown were closed"
        );
    }
    Ok(())
}

async fn authenticate(State(keys): State<Keys>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let agent = presented.and_then(|key| {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        // Compare with every key, so the time taken does not tell which one is close.
        let mut found = None;
        for (hash, name) in keys.hashes.iter() {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(name.clone());
            }
        }
        found
    });
    match agent {
        Some(agent) => {
            request.extensions_mut().insert(AuthenticatedAgent(agent));
            next.run(request).await
        }
        None => {
            let message = if presented.is_some() {
                "the agent key is not known"
            } else {
                "send the agent's key as Authorization: Bearer KEY"
            };
            let source = request.extensions().get::<Peer>().map(|peer| peer.0.ip());
            if keys.failures.admit(source) {
                audit_failure(&keys.failures.audit, source, presented.is_some()).await;
            }
            (
                http::StatusCode::UNAUTHORIZED,
                [(http::header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(json!({"error": "unauthorized", "message": message})),
            )
                .into_response()
        }
    }
}

/// Audits one failed authentication: where from and whether a key was sent (never the key).
async fn audit_failure(audit: &SqliteAuditLog, source: Option<IpAddr>, key_sent: bool) {
    let source = source.map_or_else(|| "an unknown address".to_string(), |ip| ip.to_string());
    let reason = format!(
        "HTTP authentication failed from {source}: {}; further failures from it in the next {} s are not recorded",
        if key_sent { "an unknown key" } else { "no key" },
        AUTH_FAILURE_WINDOW.as_secs()
    );
    let record = AuditRecord::event(
        UNAUTHENTICATED,
        "",
        AUTH_ENDPOINT,
        &serde_json::Value::Null,
        Decision::Denied,
        Some(reason),
        None,
    );
    if let Err(error) = audit.record(&record).await {
        tracing::error!(
            error = %tiktok_agent::error_chain(&error),
            "a failed authentication could not be audited"
        );
    }
}

/// A new agent key and its SHA-256 (what goes into the config).
pub fn new_key() -> (String, String) {
    let key = format!("tgk_{}", hex::encode(rand::random::<[u8; 32]>()));
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    (key, hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::test_gateway;

    #[test]
    fn failed_authentications_are_admitted_once_per_source_and_capped_per_window() {
        let dir = tempfile::tempdir().unwrap();
        let log = FailureLog {
            audit: SqliteAuditLog::open(dir.path().join("audit.sqlite")).unwrap(),
            window: Mutex::new((Instant::now(), HashSet::new())),
        };
        let source = |n: u32| Some(IpAddr::from(n.to_be_bytes()));
        assert!(log.admit(source(1)));
        assert!(!log.admit(source(1)), "once per source per window");
        let admitted = (2..1000).filter(|n| log.admit(source(*n))).count();
        assert_eq!(admitted, AUTH_FAILURES_PER_WINDOW - 1, "capped in all");
        // A new window (its start moved back past the window's length) admits again.
        log.window.lock().unwrap().0 -= AUTH_FAILURE_WINDOW;
        assert!(log.admit(source(1)));
        assert!(log.admit(None));
        assert!(!log.admit(None));
    }

    #[tokio::test]
    async fn serving_no_agent_with_a_key_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", "");
        for only in [None, Some("reader")] {
            let error = router(&gateway, only).await.unwrap_err();
            let GatewayError::Key(KeyError::NoKeys { only: named, .. }) = &error else {
                panic!("{error:?}")
            };
            assert_eq!(named.as_deref(), only);
            let message = error.to_string();
            assert!(message.ends_with("`tiktok-gateway keys new`"), "{message}");
        }
    }
}
