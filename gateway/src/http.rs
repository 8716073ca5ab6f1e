//! The streamable HTTP transport: `POST /mcp` (rmcp's service), each request authenticated
//! by its agent's own key (`Authorization: Bearer …`, compared by SHA-256 in constant
//! time; the config holds only the hash), loopback hosts only unless the config adds others,
//! browser origins refused unless listed; connections capped and timed out ([`serve`],
//! `http:` in the config) so half-open ones cannot starve an agent. A failed authentication
//! is audited, at most once per source address per minute and [`AUTH_FAILURES_PER_WINDOW`]
//! records per minute in all, so a flood cannot fill the disk. With `operators` in the
//! config, an OAuth access token ([`crate::oauth`]) acts as the agent an operator chose,
//! and every 401 points to the protected resource metadata.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

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

use crate::config::HttpLimits;
use crate::error::{GatewayError, KeyError};
use crate::failures::{Failure, FailureLog};
use crate::gateway::Gateway;
use crate::mcp::{AuthenticatedAgent, GatewayServer};
use crate::oauth::{OAuth, Refusal};
use crate::request::Peer;

/// The address `--http` binds when given none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";

pub use crate::failures::{AUTH_FAILURE_WINDOW, AUTH_FAILURES_PER_WINDOW, UNAUTHENTICATED};

/// The endpoint name of a failed authentication's audit record.
pub const AUTH_ENDPOINT: &str = Failure::AgentKey.endpoint();

/// Agents' key hashes, and where failed authentications are audited.
#[derive(Clone)]
struct Keys {
    hashes: Arc<Vec<([u8; 32], String)>>,
    failures: Arc<FailureLog>,
    sessions: Arc<Sessions>,
    oauth: Option<OAuth>,
}

/// The MCP session ids this server handed out, each with the agent whose request opened it:
/// a session is used only with its own agent's key (another agent's gets 404, as an unknown
/// session), so nothing meant for one agent (its SSE stream, a progress notification, an
/// elicitation) reaches another. At most [`MAX_SESSIONS`] are kept; past that the oldest is
/// forgotten, and its client opens a new one.
#[derive(Debug, Default)]
struct Sessions {
    owners: std::sync::Mutex<(HashMap<String, String>, VecDeque<String>)>,
}

/// The most MCP sessions kept at once.
const MAX_SESSIONS: usize = 4096;

impl Sessions {
    fn owner(&self, session: &str) -> Option<String> {
        self.owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .get(session)
            .cloned()
    }

    fn open(&self, session: String, agent: &str) {
        let mut owners = self
            .owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (map, order) = &mut *owners;
        if map.insert(session.clone(), agent.to_string()).is_none() {
            order.push_back(session);
        }
        while order.len() > MAX_SESSIONS {
            if let Some(oldest) = order.pop_front() {
                map.remove(&oldest);
            }
        }
    }
}

/// The router serving `agents` (every agent with a key, or only `only`; with `oauth`, every
/// agent) at `/mcp`, failed keys audited through `failures`.
pub async fn router(
    gateway: &Gateway,
    only: Option<&str>,
    failures: Arc<FailureLog>,
    oauth: Option<OAuth>,
) -> Result<Router, GatewayError> {
    let mut agents = BTreeMap::new();
    let mut keys = Vec::new();
    for (name, agent) in &gateway.config().agents {
        if only.is_some_and(|only| only != name) {
            continue;
        }
        let Some(hash) = &agent.key_sha256 else {
            if oauth.is_some() {
                agents.insert(name.clone(), Arc::new(gateway.agent(name).await?));
            } else {
                tracing::warn!(agent = %name, "agent has no key_sha256 in the config; it cannot connect over HTTP");
            }
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
    // Sessions, so the server knows what each client declared at initialize (tasks, URL
    // elicitation): stateless, every request would be served as from a client that declared
    // nothing. A session holds no authority: every request is authenticated by its own key
    // and acts as that key's agent, whichever session id it carries.
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(crate::request::allowed_hosts(&http.allowed_hosts));
    config = if http.allowed_origins.is_empty() {
        config.enforce_origin_validation()
    } else {
        config.with_allowed_origins(http.allowed_origins.iter().cloned())
    };
    let server = GatewayServer::for_requests(agents)
        .approvals_url(gateway.config().http.approvals_url.as_deref());
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
                failures,
                sessions: Arc::default(),
                oauth,
            },
            authenticate,
        ))
        .merge(crate::health::router(gateway)))
}

/// Serves `router` on `addr` until `shutdown` (Ctrl-C or SIGTERM), within the limits of
/// `limits`: at most `max_connections` connections at once (one more waits in the
/// listen backlog, never holding a descriptor of the gateway's), each closed when it takes
/// longer than `header_read_timeout` to send a request's headers (counted from when it
/// connects or from the end of its last answer: the idle keep-alive timeout too), a request
/// body refused when a frame of it takes longer than `body_timeout`; on a signal, no new
/// connection is taken and those open get `shutdown_timeout` to finish. `served` names what
/// is where (`("MCP over streamable HTTP", "/mcp")`), one line on stderr each once listening.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    limits: HttpLimits,
    served: &[(&str, &str)],
    mut shutdown: crate::Shutdown,
) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening beyond loopback: every agent and operator key travels in clear text unless a TLS proxy is in front");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {addr}: {error}"))?;
    let bound = listener.local_addr()?;
    for (what, path) in served {
        crate::terminal::eprint(&format!("tiktok-gateway: {what} at http://{bound}{path}"));
    }
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
        // An answer goes out in several small writes (headers, an event, the stream's end):
        // with Nagle's algorithm on, each after the first would wait for the client's
        // delayed ACK (40 ms on Linux).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
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
    let by_key = presented.and_then(|key| {
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
    let source = crate::request::source(request.extensions());
    let origin = keys
        .oauth
        .as_ref()
        .and_then(|oauth| oauth.origin(request.headers()));
    let agent = match (by_key, presented, &keys.oauth, &origin) {
        (Some(agent), _, _, _) => Ok(agent),
        (None, Some(token), Some(oauth), Some(origin)) if token.starts_with("tgo_") => oauth
            .authenticate(token, origin, source)
            .await
            .map_err(Some),
        _ => Err(None),
    };
    match agent {
        Ok(agent) => {
            let session = request
                .headers()
                .get(SESSION_HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            if let Some(session) = &session
                && keys.sessions.owner(session).as_deref() != Some(agent.as_str())
            {
                return (
                    http::StatusCode::NOT_FOUND,
                    axum::Json(json!({"error": "not_found", "message": "no such session for this agent; initialize a new one"})),
                )
                    .into_response();
            }
            request
                .extensions_mut()
                .insert(AuthenticatedAgent(agent.clone()));
            let response = next.run(request).await;
            if session.is_none()
                && let Some(opened) = response
                    .headers()
                    .get(SESSION_HEADER)
                    .and_then(|value| value.to_str().ok())
            {
                keys.sessions.open(opened.to_string(), &agent);
            }
            response
        }
        Err(refusal) => {
            let (status, error, message) = match refusal {
                Some(Refusal::InsufficientScope(why)) => {
                    (http::StatusCode::FORBIDDEN, Some("insufficient_scope"), why)
                }
                Some(Refusal::InvalidToken(why)) => {
                    (http::StatusCode::UNAUTHORIZED, Some("invalid_token"), why)
                }
                None => {
                    keys.failures
                        .failed(Failure::AgentKey, source, presented.is_some())
                        .await;
                    let why = if presented.is_some() {
                        "the agent key is not known"
                    } else {
                        "send the agent's key as Authorization: Bearer KEY"
                    };
                    let error = presented.is_some().then_some("invalid_token");
                    (http::StatusCode::UNAUTHORIZED, error, why)
                }
            };
            let challenge = match &origin {
                Some(origin) => OAuth::challenge(origin, error.map(|error| (error, message))),
                None => "Bearer".to_string(),
            };
            (
                status,
                [(http::header::WWW_AUTHENTICATE, challenge)],
                axum::Json(json!({"error": error.unwrap_or("unauthorized"), "message": message})),
            )
                .into_response()
        }
    }
}

/// The header an MCP session id travels in.
const SESSION_HEADER: &str = "mcp-session-id";

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

    #[tokio::test]
    async fn serving_no_agent_with_a_key_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", "");
        for only in [None, Some("reader")] {
            let failures = FailureLog::new(gateway.audit().clone());
            let error = router(&gateway, only, failures, None).await.unwrap_err();
            let GatewayError::Key(KeyError::NoKeys { only: named, .. }) = &error else {
                panic!("{error:?}")
            };
            assert_eq!(named.as_deref(), only);
            let message = error.to_string();
            assert!(message.ends_with("`tiktok-gateway keys new`"), "{message}");
        }
    }
}
