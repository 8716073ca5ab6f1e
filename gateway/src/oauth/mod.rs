//! The gateway as an OAuth 2.1 resource server with its own authorization server, for
//! remote MCP clients, on whenever `serve --http` runs with `operators` configured: a
//! client discovers it (RFC 9728, RFC 8414), registers (a Client ID Metadata Document, or
//! RFC 7591), sends an operator to the consent page, where the operator signs in and
//! chooses which agent the client becomes, and gets tokens (PKCE S256, RFC 8707 resource,
//! short-lived access tokens, rotating refresh tokens) that act at `/mcp` exactly as that
//! agent's key does. [`endpoints`]: the HTTP endpoints; [`client`]: who a client is;
//! [`store`]: what was issued, stored as hashes.
//!
//! The public origin is `http.public_url` when the config sets it; otherwise the request's
//! `Host` (only loopback names and `http.allowed_hosts` are answered): `http://` for a
//! loopback name, `https://` for any other (one behind a TLS proxy). A token is for the
//! `/mcp` URL of the origin it was issued at, and only there.

pub mod client;
pub mod endpoints;
pub mod store;
pub mod store_pg;
#[cfg(test)]
mod store_tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::HeaderMap;
use tiktok_agent::{AuditRecord, AuditSink, Decision};

use crate::audit_log::AuditLog;

use crate::failures::{Failure, FailureLog};
use store::{Code, Grant, OAuthStore};

/// The one scope: acting at `/mcp` as the agent the operator chose.
pub const SCOPE: &str = "mcp";

/// How long an access token lives.
pub const ACCESS_TTL: Duration = Duration::from_secs(60 * 60);

/// How long a refresh token lives (each use replaces it).
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long an authorization code lives.
pub const CODE_TTL: Duration = Duration::from_secs(120);

/// How long an operator has to decide an authorization request.
pub const REQUEST_TTL: Duration = Duration::from_secs(10 * 60);

/// The most authorization requests awaiting an operator at once; past it the oldest goes.
pub const MAX_REQUESTS: usize = 256;

/// Where the consent page is served (under the approval page, whose sign-in it shares).
pub const CONSENT_PATH: &str = "/approvals/consent";

/// The environment variable that, set to `1`, lets a Client ID Metadata Document be fetched
/// from `http://127.0.0.1` (tests only; never on by default).
pub const LOOPBACK_METADATA_ENV: &str = "TIKTOK_GATEWAY_OAUTH_LOOPBACK_METADATA";

/// An authorization request awaiting an operator's decision.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// The name it gave (or its id).
    pub client_name: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// Whether the request named it (it may be left out when the client registered only
    /// one): only then must the token request name it too (RFC 6749, 4.1.3).
    pub redirect_uri_given: bool,
    /// The client's `state`, echoed.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The resource the token is for.
    pub resource: String,
    /// The issuer (this origin).
    pub issuer: String,
    expires: Instant,
}

/// The authorization server's state. Cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn OAuthStore>,
    hosts: Vec<String>,
    public_url: Option<String>,
    agents: Vec<String>,
    requests: Mutex<HashMap<String, AuthRequest>>,
    failures: Arc<FailureLog>,
    audit: AuditLog,
    fetcher: client::Fetcher,
}

/// Why a token at `/mcp` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401 `invalid_token`: unknown, expired, revoked, or for another resource.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`: the token does not carry what `/mcp` needs.
    InsufficientScope(&'static str),
}

impl OAuth {
    /// The server over `store`, its consent offering `agents`, operators' decisions
    /// audited to `audit` and refusals through `failures`, for the loopback names and
    /// `http.allowed_hosts`, named as `http.public_url` when set.
    pub fn new(
        store: Arc<dyn OAuthStore>,
        agents: Vec<String>,
        http: &crate::config::HttpConfig,
        audit: AuditLog,
        failures: Arc<FailureLog>,
    ) -> OAuth {
        let loopback_metadata =
            std::env::var(LOOPBACK_METADATA_ENV).is_ok_and(|value| value == "1");
        OAuth {
            inner: Arc::new(Inner {
                store,
                hosts: crate::request::allowed_hosts(&http.allowed_hosts),
                public_url: http.public_url.clone(),
                agents,
                requests: Mutex::new(HashMap::new()),
                failures,
                audit,
                fetcher: client::Fetcher::new(loopback_metadata),
            }),
        }
    }

    /// The agents the consent page offers.
    pub fn agents(&self) -> &[String] {
        &self.inner.agents
    }

    /// The public origin of a request (`http://127.0.0.1:8787`), if its `Host` is answered:
    /// `http.public_url` when set.
    pub fn origin(&self, headers: &HeaderMap) -> Option<String> {
        let host = crate::request::answered_host(headers, &self.inner.hosts)?;
        if let Some(public_url) = &self.inner.public_url {
            return Some(public_url.clone());
        }
        let authority = host.parse::<http::uri::Authority>().ok()?;
        let name = authority.host().trim_matches(['[', ']']);
        let loopback =
            name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let scheme = if loopback { "http" } else { "https" };
        Some(format!("{scheme}://{host}"))
    }

    /// The `WWW-Authenticate` value of a 401 or 403 at `/mcp` for `origin`.
    pub fn challenge(origin: &str, error: Option<(&str, &str)>) -> String {
        let mut value = format!(
            "Bearer resource_metadata=\"{origin}/.well-known/oauth-protected-resource/mcp\", scope=\"{SCOPE}\""
        );
        if let Some((error, description)) = error {
            value.push_str(&format!(
                ", error=\"{error}\", error_description=\"{description}\""
            ));
        }
        value
    }

    /// The agent access token `token` acts as at `/mcp` on `origin`, or why it is refused
    /// (audited, bounded).
    pub async fn authenticate(
        &self,
        token: &str,
        origin: &str,
        source: Option<IpAddr>,
    ) -> Result<String, Refusal> {
        let refusal = match self.inner.store.access(token, crate::now_ms()).await {
            Err(error) => {
                tracing::error!(error = %tiktok_agent::error_chain(&error), "the OAuth store failed");
                Refusal::InvalidToken("the token could not be checked")
            }
            Ok(None) => Refusal::InvalidToken("the token is not known, expired or revoked"),
            Ok(Some(grant)) if grant.resource != format!("{origin}/mcp") => {
                Refusal::InvalidToken("the token was issued for another resource")
            }
            Ok(Some(grant)) if !grant.scope.split(' ').any(|scope| scope == SCOPE) => {
                Refusal::InsufficientScope("the token lacks the mcp scope")
            }
            Ok(Some(grant)) if !self.inner.agents.contains(&grant.agent) => {
                Refusal::InsufficientScope("the token's agent is not served here")
            }
            Ok(Some(grant)) => return Ok(grant.agent),
        };
        let (Refusal::InvalidToken(why) | Refusal::InsufficientScope(why)) = &refusal;
        self.refused(source, &format!("a token at /mcp: {why}"))
            .await;
        Err(refusal)
    }

    /// Audits a refused OAuth request from `source` (bounded as failed keys are).
    pub async fn refused(&self, source: Option<IpAddr>, why: &str) {
        tracing::info!(?source, why, "an OAuth request was refused");
        self.inner
            .failures
            .refused(Failure::OAuth, source, why)
            .await;
    }

    /// Keeps `request` for an operator's decision; its id.
    fn hold(&self, request: AuthRequest) -> String {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let mut requests = self.lock();
        let now = Instant::now();
        requests.retain(|_, held| held.expires > now);
        while requests.len() >= MAX_REQUESTS {
            let oldest = requests
                .iter()
                .min_by_key(|(_, held)| held.expires)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(oldest) => requests.remove(&oldest),
                None => break,
            };
        }
        requests.insert(id.clone(), request);
        id
    }

    /// The live authorization request `id`, if any.
    pub fn request(&self, id: &str) -> Option<AuthRequest> {
        let requests = self.lock();
        requests
            .get(id)
            .filter(|held| held.expires > Instant::now())
            .cloned()
    }

    /// Decides authorization request `id` (taking it): `agent` chosen by `operator`, or
    /// denied (`None`). The URL to send the operator's browser to, with `code` (or
    /// `error`), `state` and `iss`; `None` when there is no such request or the agent is
    /// not one offered. The decision is audited first: when it cannot be, nothing is
    /// decided (no code issued) and the error says what failed.
    pub async fn decide(
        &self,
        id: &str,
        agent: Option<&str>,
        operator: &str,
    ) -> Result<Option<String>, String> {
        if agent.is_some_and(|agent| !self.inner.agents.iter().any(|known| known == agent)) {
            return Ok(None);
        }
        let Some(request) = self.lock().remove(id) else {
            return Ok(None);
        };
        if request.expires <= Instant::now() {
            return Ok(None);
        }
        self.audit_decision(&request, agent, operator)
            .await
            .map_err(|error| {
                format!(
                    "the decision could not be audited: {}",
                    tiktok_agent::error_chain(&error)
                )
            })?;
        let mut answer = Vec::new();
        match agent {
            Some(agent) => {
                let code = format!("tgc_{}", hex::encode(rand::random::<[u8; 32]>()));
                let grant = Grant {
                    family: hex::encode(rand::random::<[u8; 16]>()),
                    client_id: request.client_id.clone(),
                    agent: agent.to_string(),
                    resource: request.resource.clone(),
                    scope: SCOPE.to_string(),
                };
                // Empty when the request left it out: the token request need not name it.
                let redirect_uri = if request.redirect_uri_given {
                    request.redirect_uri.clone()
                } else {
                    String::new()
                };
                let record = Code {
                    grant,
                    redirect_uri,
                    code_challenge: request.code_challenge.clone(),
                };
                let expires_ms = crate::now_ms() + CODE_TTL.as_millis() as i64;
                self.inner
                    .store
                    .insert_code(&code, record, expires_ms)
                    .await
                    .map_err(|error| {
                        format!(
                            "the code could not be stored: {}",
                            tiktok_agent::error_chain(&error)
                        )
                    })?;
                tracing::info!(%operator, %agent, client = %request.client_id, "an operator let an OAuth client act as an agent");
                answer.push(("code", code));
            }
            None => {
                tracing::info!(%operator, client = %request.client_id, "an operator denied an OAuth client");
                answer.push(("error", "access_denied".to_string()));
            }
        }
        if let Some(state) = &request.state {
            answer.push(("state", state.clone()));
        }
        answer.push(("iss", request.issuer.clone()));
        Ok(Some(client::with_query(&request.redirect_uri, &answer)))
    }

    /// Audits an operator's decision on `request`: as the agent chosen, or unauthenticated
    /// when denied.
    async fn audit_decision(
        &self,
        request: &AuthRequest,
        agent: Option<&str>,
        operator: &str,
    ) -> Result<(), tiktok_agent::AuditError> {
        let arguments = serde_json::json!({
            "client_id": request.client_id,
            "client_name": request.client_name,
            "redirect_uri": request.redirect_uri,
        });
        let (decision, reason) = match agent {
            Some(agent) => (
                Decision::Approved,
                format!("operator {operator} let this OAuth client act as agent {agent}"),
            ),
            None => (
                Decision::Denied,
                format!("operator {operator} denied this OAuth client"),
            ),
        };
        let record = AuditRecord::event(
            agent.unwrap_or(crate::failures::UNAUTHENTICATED),
            "",
            "oauth_consent",
            &arguments,
            decision,
            Some(reason),
            None,
        );
        self.inner.audit.record(&record).await
    }

    fn store(&self) -> &dyn OAuthStore {
        &*self.inner.store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AuthRequest>> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
