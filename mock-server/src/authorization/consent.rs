//! The consent page as a real app meets it: `GET /v2/auth/authorize/` (an askama template),
//! its form's `POST`, and `auto_approve`; it issues authorization codes with PKCE.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use tiktok_api::spec_constants::SCOPE_SEPARATOR;
use tiktok_api::{ErrorCode, Scope};

use crate::random::random_text;
use crate::state::AppState;
use crate::store::{App, AuthCode};
use crate::tokens::{join_scopes, user_scopes};
use crate::validate::truncate;

/// The path of the consent page (and of its form's POST).
pub const AUTHORIZE_PATH: &str = "/v2/auth/authorize/";

/// The consent page and its form, also without the trailing slash: it is a web page on
/// TikTok's web host, not an API path, and published clients build it either way.
pub fn routes() -> Router<AppState> {
    let page = || get(authorize_page).post(authorize_submit);
    Router::new()
        .route(AUTHORIZE_PATH, page())
        .route(AUTHORIZE_PATH.trim_end_matches('/'), page())
}

/// A bad authorize request and where its error goes.
pub(super) enum AuthorizeError {
    /// The client or the redirect URI can't be trusted: an error page, no redirect.
    Page(ErrorCode, String),
    /// Back to the app's redirect URI with `error`, `error_description` and `state`.
    Redirect(ErrorCode, String),
}

/// The authorize request, checked.
pub(super) struct Authorize {
    app: App,
    redirect_uri: String,
    state: Option<String>,
    scope: String,
    scopes: Vec<Scope>,
    response_type: String,
    code_challenge: Option<String>,
    code_challenge_method: String,
}

/// Query or form pairs; the first value of a name wins.
pub(super) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    fn parse(text: &[u8]) -> Params {
        Params(serde_urlencoded::from_bytes(text).unwrap_or_default())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

fn parse_scope_names(text: &str) -> Result<Vec<Scope>, Vec<String>> {
    let allowed = user_scopes();
    let mut scopes = Vec::new();
    let mut unknown = Vec::new();
    for name in text
        .split(SCOPE_SEPARATOR)
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        match Scope::parse(name).filter(|scope| allowed.contains(scope)) {
            Some(scope) => {
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
            None => unknown.push(format!("{:?}", truncate(name))),
        }
    }
    if unknown.is_empty() {
        Ok(scopes)
    } else {
        Err(unknown)
    }
}

pub(super) fn check_authorize(
    state: &AppState,
    params: &Params,
) -> Result<Authorize, AuthorizeError> {
    let client_key = params.get("client_key").unwrap_or_default();
    if client_key.is_empty() {
        return Err(AuthorizeError::Page(
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: client_key.".to_owned(),
        ));
    }
    let app = state.store().app(client_key).ok_or_else(|| {
        AuthorizeError::Page(
            ErrorCode::InvalidClient,
            format!(
                "client_key {:?} is not a registered app.",
                truncate(client_key)
            ),
        )
    })?;
    let redirect_uri = params.get("redirect_uri").unwrap_or_default();
    if !app.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        return Err(AuthorizeError::Page(
            ErrorCode::InvalidRequest,
            format!(
                "redirect_uri {:?} is not registered for this app.",
                truncate(redirect_uri)
            ),
        ));
    }
    let response_type = params.get("response_type").unwrap_or_default();
    if response_type != "code" {
        return Err(AuthorizeError::Redirect(
            ErrorCode::UnsupportedResponseType,
            format!(
                "response_type must be code, found {:?}.",
                truncate(response_type)
            ),
        ));
    }
    let scope = params.get("scope").unwrap_or_default();
    let scopes = parse_scope_names(scope).map_err(|unknown| {
        AuthorizeError::Redirect(
            ErrorCode::InvalidScope,
            format!("Unknown or unavailable scope {}.", unknown.join(", ")),
        )
    })?;
    if scopes.is_empty() {
        return Err(AuthorizeError::Redirect(
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: scope.".to_owned(),
        ));
    }
    let code_challenge = params
        .get("code_challenge")
        .filter(|challenge| !challenge.is_empty())
        .map(str::to_owned);
    let method = params.get("code_challenge_method").unwrap_or("S256");
    if code_challenge.is_some() && method != "S256" {
        return Err(AuthorizeError::Redirect(
            ErrorCode::InvalidRequest,
            format!(
                "code_challenge_method must be S256, found {:?}.",
                truncate(method)
            ),
        ));
    }
    Ok(Authorize {
        redirect_uri: redirect_uri.to_owned(),
        state: params.get("state").map(str::to_owned),
        scope: scope.to_owned(),
        scopes,
        response_type: response_type.to_owned(),
        code_challenge,
        code_challenge_method: "S256".to_owned(),
        app,
    })
}

/// `redirect_uri` with the pairs appended to its query.
fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{query}");
    match axum::http::HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => error_page(
            ErrorCode::InvalidRequest,
            "The registered redirect_uri cannot be sent in a Location header.",
        ),
    }
}

fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    code: ErrorCode,
    description: &str,
) -> Response {
    let mut pairs = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    redirect_to(redirect_uri, &pairs)
}

#[derive(Template)]
#[template(path = "authorize_error.html")]
struct ErrorPage<'a> {
    error: &'a str,
    error_description: &'a str,
}

fn error_page(code: ErrorCode, description: &str) -> Response {
    let page = ErrorPage {
        error: code.as_str(),
        error_description: description,
    };
    match page.render() {
        Ok(html) => (StatusCode::BAD_REQUEST, Html(html)).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, code.as_str().to_owned()).into_response(),
    }
}

struct ScopeRow {
    name: &'static str,
    description: &'static str,
}

struct CreatorRow {
    open_id: String,
    display_name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "authorize.html")]
struct ConsentPage<'a> {
    action: &'a str,
    app_name: &'a str,
    client_key: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
    response_type: &'a str,
    state: Option<&'a str>,
    code_challenge: Option<&'a str>,
    code_challenge_method: &'a str,
    scopes: Vec<ScopeRow>,
    creators: Vec<CreatorRow>,
    form_token: String,
}

/// The form token of a consent page: an HMAC, under a key this process drew at random, of
/// the authorize request the page shows. A form posted from elsewhere (another site's page
/// never sees it) or for another request is refused.
fn form_token(request: &Authorize) -> String {
    use hmac::{Hmac, Mac};
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(rand::random);
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    let parts = [
        request.app.client_key.as_str(),
        request.redirect_uri.as_str(),
        request.scope.as_str(),
        request.state.as_deref().unwrap_or_default(),
        request.code_challenge.as_deref().unwrap_or_default(),
        request.code_challenge_method.as_str(),
    ];
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Issues a code and redirects with `code`, `scopes` and `state`.
fn approve(state: &AppState, request: &Authorize, open_id: &str, granted: Vec<Scope>) -> Response {
    let suffix: u16 = rand::rng().random_range(1000..10000);
    // Real codes carry characters such as `*` and `!`, so clients must URL-decode them.
    let code = format!("{}*0!{suffix}", random_text(48));
    let settings = state.oauth_settings();
    state.store().put_auth_code(AuthCode {
        code: code.clone(),
        client_key: request.app.client_key.clone(),
        open_id: open_id.to_owned(),
        scopes: granted.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at_ms: state
            .now_ms()
            .saturating_add(settings.code_ttl_seconds.saturating_mul(1000)),
        used: false,
        access_token: None,
    });
    let scopes = join_scopes(&granted);
    let mut pairs = vec![("code", code.as_str()), ("scopes", scopes.as_str())];
    if let Some(value) = &request.state {
        pairs.push(("state", value));
    }
    redirect_to(&request.redirect_uri, &pairs)
}

/// The creator who signs in: `open_id`, their open_id in the app (as the consent page
/// lists them; another app's names no one), else the creator with the most videos.
pub(super) fn signed_in_user(
    state: &AppState,
    request: &Authorize,
    params: &Params,
) -> Result<String, String> {
    let client_key = &request.app.client_key;
    let given = params.get("open_id").filter(|open_id| !open_id.is_empty());
    let user_id = match given {
        Some(open_id) => state.open_ids().user(client_key, open_id),
        None => state.default_open_id(),
    };
    user_id.ok_or_else(|| {
        format!(
            "open_id {:?} is not a creator of the mock in the app {client_key:?}.",
            truncate(given.unwrap_or_default())
        )
    })
}

/// The user's decision: approve with some scopes as some creator, or cancel.
pub(super) fn decide(
    state: &AppState,
    request: &Authorize,
    params: &Params,
    approved: bool,
) -> Response {
    let redirect_state = request.state.as_deref();
    if !approved {
        return redirect_error(
            &request.redirect_uri,
            redirect_state,
            ErrorCode::AccessDenied,
            "The user denied the authorization request.",
        );
    }
    let user_id = match signed_in_user(state, request, params) {
        Ok(user_id) => user_id,
        Err(message) => return error_page(ErrorCode::InvalidRequest, &message),
    };
    let granted_names = params.all("granted").join(SCOPE_SEPARATOR);
    let granted = match params.get("grant") {
        // `grant` (auto-approve): a comma-separated subset; absent means everything asked for.
        Some(list) => parse_scope_names(list),
        None if params.get("action").is_some() => parse_scope_names(&granted_names),
        None => Ok(request.scopes.clone()),
    };
    let granted = match granted {
        Ok(granted) if granted.iter().all(|scope| request.scopes.contains(scope)) => granted,
        _ => {
            return redirect_error(
                &request.redirect_uri,
                redirect_state,
                ErrorCode::InvalidScope,
                "A granted scope was not requested.",
            );
        }
    };
    if granted.is_empty() {
        return redirect_error(
            &request.redirect_uri,
            redirect_state,
            ErrorCode::AccessDenied,
            "The user granted none of the requested scopes.",
        );
    }
    approve(state, request, &user_id, granted)
}

/// `GET /v2/auth/authorize/`: the consent page, or with `auto_approve=1` (mock only) the
/// redirect the approve button would give; `auto_approve=0` cancels.
async fn authorize_page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let request = match check_authorize(&state, &params) {
        Ok(request) => request,
        Err(error) => return authorize_error(&params, error),
    };
    match params.get("auto_approve") {
        Some("1" | "true" | "yes") => return decide(&state, &request, &params, true),
        Some("0" | "false" | "no") => return decide(&state, &request, &params, false),
        _ => {}
    }
    // Each creator by their open_id in this app.
    let open_ids = state.open_ids();
    let client_key = &request.app.client_key;
    let default_open_id = params
        .get("open_id")
        .map(str::to_owned)
        .or_else(|| {
            let user_id = state.default_open_id()?;
            Some(open_ids.of(client_key, &user_id).into_owned())
        })
        .unwrap_or_default();
    let creators = state
        .store()
        .creators()
        .into_iter()
        .map(|creator| {
            let open_id = open_ids.of(client_key, &creator.open_id).into_owned();
            CreatorRow {
                selected: open_id == default_open_id,
                display_name: creator.display_name,
                open_id,
            }
        })
        .collect();
    let page = ConsentPage {
        action: AUTHORIZE_PATH,
        app_name: if request.app.name.is_empty() {
            &request.app.client_key
        } else {
            &request.app.name
        },
        client_key: &request.app.client_key,
        redirect_uri: &request.redirect_uri,
        scope: &request.scope,
        response_type: &request.response_type,
        state: request.state.as_deref(),
        code_challenge: request.code_challenge.as_deref(),
        code_challenge_method: &request.code_challenge_method,
        scopes: request
            .scopes
            .iter()
            .map(|scope| ScopeRow {
                name: scope.as_str(),
                description: scope.description(),
            })
            .collect(),
        creators,
        form_token: form_token(&request),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

fn authorize_error(params: &Params, error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Page(code, description) => error_page(code, &description),
        AuthorizeError::Redirect(code, description) => redirect_error(
            params.get("redirect_uri").unwrap_or_default(),
            params.get("state"),
            code,
            &description,
        ),
    }
}

/// `POST /v2/auth/authorize/`: the consent form's submit (`action=approve|cancel`, `open_id`,
/// one `granted` per scope toggled on, and the authorize parameters again).
async fn authorize_submit(State(state): State<AppState>, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let request = match check_authorize(&state, &params) {
        Ok(request) => request,
        Err(error) => return authorize_error(&params, error),
    };
    let approved = params.get("action") == Some("approve");
    let token_ok = params
        .get("form_token")
        .is_some_and(|token| crate::random::secrets_equal(&form_token(&request), token));
    if !token_ok {
        return error_page(
            ErrorCode::InvalidRequest,
            "The consent form's token is missing or wrong: submit the form the consent page served.",
        );
    }
    decide(&state, &request, &params, approved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_refuse_unknown_and_client_scopes() {
        assert_eq!(
            parse_scope_names("user.info.basic, video.list,user.info.basic"),
            Ok(vec![Scope::UserInfoBasic, Scope::VideoList])
        );
        assert!(parse_scope_names("user.info.basic,nope").is_err());
        assert!(parse_scope_names("research.data.basic").is_err());
    }
}
