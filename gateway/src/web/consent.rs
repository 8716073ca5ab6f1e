//! The consent page of the OAuth authorization server: an operator, signed in as at the
//! approval page, sees which application asks and where its answer goes, and chooses the
//! agent it becomes, or denies it; the form carries the session's CSRF token, and the
//! browser is then sent back to the application with a code (or `access_denied`).

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::views::Consent;
use super::{Page, checked, html, message, sign_in_then, signed_in};

/// Whether `id` has an authorization request id's shape (32 hex digits).
pub fn is_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[derive(Deserialize, Default)]
pub(super) struct ConsentQuery {
    #[serde(default)]
    request: Option<String>,
}

fn gone(page_title: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        page_title,
        "No authorization request has this id, or it expired; start again from the application.",
        None,
    )
}

/// The consent page's Content-Security-Policy: the approval page's, its forms also allowed
/// on to `redirect_uri`'s origin (where the decision sends the browser).
fn policy(redirect_uri: &str) -> Option<HeaderValue> {
    let url = url::Url::parse(redirect_uri).ok()?;
    let target = match url.scheme() {
        "http" | "https" => url.origin().ascii_serialization(),
        scheme => format!("{scheme}:"),
    };
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'self'; form-action 'self' {target}; frame-ancestors 'none'; base-uri 'none'"
    ))
    .ok()
}

pub(super) async fn show(
    State(page): State<Page>,
    headers: HeaderMap,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let id = query
        .ok()
        .and_then(|Query(query)| query.request)
        .filter(|id| is_request_id(id));
    let (Some(oauth), Some(id)) = (&page.oauth, id) else {
        return gone("No such request");
    };
    let Some(request) = oauth.request(&id) else {
        return gone("No such request");
    };
    let Some(session) = signed_in(&page, &headers) else {
        return sign_in_then(&page, StatusCode::OK, None, Some(id));
    };
    let view = Consent {
        operator: session.operator,
        csrf: session.csrf,
        request: id,
        client_name: request.client_name,
        client_id: request.client_id,
        redirect_uri: request.redirect_uri.clone(),
        agents: oauth.agents().to_vec(),
    };
    let mut response = html(StatusCode::OK, &view);
    if let Some(policy) = policy(&request.redirect_uri) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

#[derive(Deserialize, Default)]
pub(super) struct ConsentForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    decision: Option<String>,
}

pub(super) async fn decide(
    State(page): State<Page>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let session = match checked(&page, &headers, form.csrf.as_deref()) {
        Ok(session) => session,
        Err(refused) => return *refused,
    };
    let (Some(oauth), Some(id)) = (&page.oauth, form.request.filter(|id| is_request_id(id))) else {
        return gone("Not decided");
    };
    let agent = match form.decision.as_deref() {
        Some("allow") => match form.agent {
            Some(agent) => Some(agent),
            None => {
                return message(
                    StatusCode::BAD_REQUEST,
                    "Not decided",
                    "Choose an agent; nothing was decided.",
                    None,
                );
            }
        },
        Some("deny") => None,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Not decided",
                "The form asks for neither allow nor deny; nothing was decided.",
                None,
            );
        }
    };
    match oauth.decide(&id, agent.as_deref(), &session.operator).await {
        Ok(Some(location)) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
        }
        Ok(None) => gone("Not decided"),
        Err(error) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not decided: the gateway failed",
            &format!("Nothing was decided: {error}."),
            None,
        ),
    }
}
