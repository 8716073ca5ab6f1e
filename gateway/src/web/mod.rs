//! The approval page, `/approvals`: an operator signs in with a key from the config
//! (`operators:`), sees every pending call in full and approves or denies it with a form
//! carrying the session's CSRF token; each decision goes through [`Gateway::approve`] or
//! [`Gateway::deny`], as the `approvals` commands' do, recorded as the operator's. Served
//! by `serve --http` beside `/mcp` (not behind the agents' keys) and alone by `approvals
//! web`. Loopback hosts only unless the config adds others, a cross-origin form refused,
//! and every answer with a strict Content-Security-Policy, no framing and no caching.
//! [`session`]: operators' keys and sessions; [`views`]: the templates; [`consent`]: where
//! an operator lets an OAuth client act as an agent.

pub mod consent;
pub mod session;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use crate::approvals::{ApprovalError, ApprovalState, Approvals};
use crate::error::{GatewayError, KeyError};
use crate::failures::{Failure, FailureLog};
use crate::gateway::Gateway;
use crate::request::{allowed_hosts, answered_host};
use session::{Operators, Session, Sessions};
use views::{List, Message, Pending, SignIn};

/// Where the page is served.
pub const PATH: &str = crate::APPROVALS_PATH;

/// The address `approvals web` binds when given none (beside `serve --http`'s 8787).
pub const DEFAULT_ADDR: &str = "127.0.0.1:8788";

/// What every answer of the page carries: only its own stylesheet and forms, never framed,
/// never cached, no referrer to other sites.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    // Not `no-referrer`: under it a browser sends `Origin: null` with the page's own forms.
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

const STYLE: &str = include_str!("../../templates/approvals/style.css");

#[derive(Clone)]
struct Page {
    gateway: Gateway,
    operators: Arc<Operators>,
    sessions: Arc<Sessions>,
    failures: Arc<FailureLog>,
    hosts: Arc<Vec<String>>,
    oauth: Option<crate::oauth::OAuth>,
}

/// The page's routes under [`PATH`], failed sign-ins audited through `failures`; with
/// `oauth`, the consent page too.
pub fn router(
    gateway: &Gateway,
    failures: Arc<FailureLog>,
    oauth: Option<crate::oauth::OAuth>,
) -> Router {
    let page = Page {
        gateway: gateway.clone(),
        operators: Arc::new(Operators::from_config(gateway.config())),
        sessions: Arc::new(Sessions::default()),
        failures,
        hosts: Arc::new(allowed_hosts(&gateway.config().http.allowed_hosts)),
        oauth,
    };
    Router::new()
        .route(PATH, get(index))
        .route("/approvals/style.css", get(style))
        .route("/approvals/sign-in", post(sign_in))
        .route("/approvals/sign-out", post(sign_out))
        .route("/approvals/decide", post(decide))
        .route(
            crate::oauth::CONSENT_PATH,
            get(consent::show).post(consent::decide),
        )
        .layer(middleware::from_fn_with_state(page.clone(), guard))
        .with_state(page)
}

/// Serves the page alone at `addr` (`approvals web`) until `shutdown`, within the config's
/// HTTP limits; refused when the config has no operator.
pub async fn serve_alone(
    gateway: &Gateway,
    addr: SocketAddr,
    shutdown: crate::Shutdown,
) -> anyhow::Result<()> {
    if gateway.config().operators.is_empty() {
        return Err(GatewayError::from(KeyError::NoOperators {
            config: gateway.config().file.clone(),
        })
        .into());
    }
    let router = router(gateway, FailureLog::new(gateway.audit().clone()), None);
    let limits = gateway.config().http.limits;
    crate::http::serve(
        router,
        addr,
        limits,
        &[("the approval page", PATH)],
        shutdown,
    )
    .await
}

/// The host checks before a request, the security headers after.
async fn guard(State(page): State<Page>, request: Request, next: Next) -> Response {
    let host = answered_host(request.headers(), &page.hosts);
    let mut response = if let Some(host) = &host
        && request.method() == http::Method::POST
        && !same_origin(request.headers(), host)
    {
        message(
            StatusCode::FORBIDDEN,
            "Refused",
            "A form from another site cannot decide approvals; nothing was done.",
            None,
        )
    } else if host.is_none() {
        message(
            StatusCode::FORBIDDEN,
            "Host not allowed",
            "This host name is not one the gateway answers to (loopback, or the config's http.allowed_hosts).",
            None,
        )
    } else {
        next.run(request).await
    };
    // A page may set its own (the consent page's forms go on to the client).
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Whether a POST's `Origin`, when sent, is the page's own.
fn same_origin(headers: &HeaderMap, host: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or_default();
    ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(host))
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// A template rendered with `status`; a failed render is a plain 500.
fn html(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the approval page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

fn message(status: StatusCode, title: &str, text: &str, detail: Option<String>) -> Response {
    let page = Message {
        title: title.to_string(),
        message: text.to_string(),
        detail,
    };
    html(status, &page)
}

fn sign_in_page(page: &Page, status: StatusCode, error: Option<&str>) -> Response {
    sign_in_then(page, status, error, None)
}

/// The sign-in form, leading on to the consent page of authorization request `request`.
fn sign_in_then(
    page: &Page,
    status: StatusCode,
    error: Option<&str>,
    request: Option<String>,
) -> Response {
    let form = SignIn {
        error: error.map(str::to_string),
        no_operators: page.operators.is_empty(),
        request,
    };
    html(status, &form)
}

/// The signed-in operator's session, if the request has a live one.
fn signed_in(page: &Page, headers: &HeaderMap) -> Option<Session> {
    session::cookie_value(headers).and_then(|cookie| page.sessions.get(&cookie))
}

async fn index(State(page): State<Page>, headers: HeaderMap) -> Response {
    let Some(session) = signed_in(&page, &headers) else {
        return sign_in_page(&page, StatusCode::OK, None);
    };
    // Those past their deadline leave the list (expired and audited once).
    if let Err(error) = page.gateway.expire_due().await {
        tracing::warn!(error = %tiktok_agent::error_chain(&error), "expiring approvals failed");
    }
    let pending = match page
        .gateway
        .approvals()
        .list(Some(ApprovalState::Pending))
        .await
    {
        Ok(pending) => pending,
        Err(error) => {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Approvals unavailable",
                &format!(
                    "The approvals could not be read: {}",
                    tiktok_agent::error_chain(&error)
                ),
                None,
            );
        }
    };
    let now = page.gateway.approvals().clock().now_ms();
    let mut approvals = Vec::with_capacity(pending.len());
    for approval in &pending {
        approvals.push(Pending::new(&page.gateway, approval, now).await);
    }
    let list = List {
        operator: session.operator,
        csrf: session.csrf,
        approvals,
    };
    html(StatusCode::OK, &list)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    key: String,
    /// The authorization request whose consent page comes next, if any.
    #[serde(default)]
    request: Option<String>,
}

async fn sign_in(
    State(page): State<Page>,
    extensions: http::Extensions,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let (key, request) = form
        .map(|Form(form)| (form.key, form.request))
        .unwrap_or_default();
    // Only a request id's shape is ever put into the next URL.
    let request = request.filter(|id| consent::is_request_id(id));
    match page.operators.find(&key).filter(|_| !key.trim().is_empty()) {
        Some(operator) => {
            let (cookie, _) = page.sessions.open(&operator);
            tracing::info!(%operator, "an operator signed in to the approval page");
            let next = request.map_or_else(
                || PATH.to_string(),
                |id| format!("{}?request={id}", crate::oauth::CONSENT_PATH),
            );
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, next),
                    (header::SET_COOKIE, session::set_cookie(&cookie)),
                ],
            )
                .into_response()
        }
        None => {
            let source = crate::request::source(&extensions);
            page.failures
                .failed(Failure::OperatorKey, source, !key.trim().is_empty())
                .await;
            sign_in_then(
                &page,
                StatusCode::UNAUTHORIZED,
                Some("That is not an operator key of this gateway."),
                request,
            )
        }
    }
}

#[derive(Deserialize, Default)]
struct DecideForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    decision: Option<String>,
}

/// The session of a POST whose CSRF token is right, or the answer refusing it.
fn checked(page: &Page, headers: &HeaderMap, csrf: Option<&str>) -> Result<Session, Box<Response>> {
    let Some(session) = signed_in(page, headers) else {
        return Err(Box::new(sign_in_page(
            page,
            StatusCode::UNAUTHORIZED,
            Some("Sign in first; nothing was decided."),
        )));
    };
    if !session.csrf_matches(csrf) {
        return Err(Box::new(message(
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's CSRF token is missing or wrong; nothing was decided. Reload the page and try again.",
            None,
        )));
    }
    Ok(session)
}

async fn sign_out(
    State(page): State<Page>,
    headers: HeaderMap,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(form)| form).unwrap_or_default();
    if let Err(refused) = checked(&page, &headers, form.csrf.as_deref()) {
        return *refused;
    }
    if let Some(cookie) = session::cookie_value(&headers) {
        page.sessions.close(&cookie);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, PATH.to_string()),
            (header::SET_COOKIE, session::clear_cookie()),
        ],
    )
        .into_response()
}

/// Approves `id` for `by` on a task of its own, so that a browser that goes away, or a
/// shutdown, does not cut the approved call off halfway (an upload, its status polls).
async fn approve_whole(
    gateway: &Gateway,
    id: &str,
    by: &str,
) -> Result<
    Result<Result<serde_json::Value, tiktok_agent::Error>, crate::error::GatewayError>,
    tokio::task::JoinError,
> {
    let gateway = gateway.clone();
    let (id, by) = (id.to_string(), by.to_string());
    tokio::spawn(async move { gateway.approve(&id, &by).await }).await
}

async fn decide(
    State(page): State<Page>,
    headers: HeaderMap,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let session = match checked(&page, &headers, form.csrf.as_deref()) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    // Only an approval id's shape is ever echoed back.
    let Some(id) = form.id.filter(|id| Approvals::is_id(id)) else {
        return message(
            StatusCode::NOT_FOUND,
            "Not decided",
            "No approval has this id; nothing was decided.",
            None,
        );
    };
    let by = session.operator.as_str();
    match form.decision.as_deref() {
        Some("approve") => match approve_whole(&page.gateway, &id, by).await {
            Err(joined) => message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not known",
                &format!(
                    "Approval {id}: the gateway failed while running it ({joined}); its state is in `approvals list --all`."
                ),
                None,
            ),
            Ok(approved) => match approved {
                Ok(Ok(value)) => message(
                    StatusCode::OK,
                    "Approved",
                    &format!("Approval {id} approved by {by}: the call ran; its result:"),
                    Some(pretty(&value)),
                ),
                Ok(Err(error)) => message(
                    StatusCode::OK,
                    "Approved; the call failed",
                    &format!(
                        "Approval {id} approved by {by}: the call was made and failed: {}",
                        tiktok_agent::error_chain(&error)
                    ),
                    Some(pretty(&crate::agent::error_json(&error))),
                ),
                Err(error) => not_decided(&id, &error),
            },
        },
        Some("deny") => match page.gateway.deny(&id, by).await {
            Ok(_) => message(
                StatusCode::OK,
                "Denied",
                &format!("Approval {id} denied by {by}: the call will never run."),
                None,
            ),
            Err(error) => not_decided(&id, &error),
        },
        _ => message(
            StatusCode::BAD_REQUEST,
            "Refused",
            "The form asks for neither approve nor deny; nothing was decided.",
            None,
        ),
    }
}

/// Why a decision was not taken: already decided or expired (409), unknown (404), or the
/// gateway failed (500).
fn not_decided(id: &str, error: &GatewayError) -> Response {
    let status = match error {
        GatewayError::Approval(
            ApprovalError::NotPending { .. } | ApprovalError::Expired { .. },
        ) => StatusCode::CONFLICT,
        GatewayError::Approval(ApprovalError::Unknown(_)) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let title = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "Not decided: the gateway failed"
    } else {
        "Not decided"
    };
    let text = format!(
        "Nothing was decided about {id}: {}.",
        tiktok_agent::error_chain(error)
    );
    message(status, title, &text, None)
}

fn pretty(value: &serde_json::Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.lines()
        .map(|line| tiktok_agent::escape_json(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}
