//! OAuth as a real app meets it: the consent page (`GET /v2/auth/authorize/`, an askama
//! template), authorization codes with PKCE, the token endpoint's three grants, revoke, and
//! the settings for token lifetimes and refresh-token rotation.
//!
//! The token and revoke endpoints go through the generic pipeline (client authentication,
//! form decoding and validation happen there); their behaviours are [`token`] and [`revoke`].
//! The consent page is outside the endpoint table: [`routes`] serves it, with the control
//! routes `/_mock/oauth/settings` and `/_mock/oauth/codes`.

use std::sync::{Mutex, MutexGuard};

use askama::Template;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, Envelope};
use tiktok_api::oauth::challenge_matches;
use tiktok_api::spec_constants::{
    ACCESS_TOKEN_TTL_SECONDS, ACCESS_TOKEN_TTL_SECONDS_PREVIOUS, CODE_TTL_SECONDS,
    REFRESH_ROTATION_ALWAYS, REFRESH_ROTATION_ALWAYS_PREVIOUS, REFRESH_TOKEN_TTL_SECONDS,
    REFRESH_TOKEN_TTL_SECONDS_PREVIOUS, SCOPE_SEPARATOR,
};
use tiktok_api::{ErrorCode, Scope, WebhookEventKind};

use crate::behaviours::Call;
use crate::error::ApiError;
use crate::state::{AppState, MintRequest, TokenResponse, random_token, user_scopes};
use crate::store::{App, AuthCode, RefreshRecord, Store, TokenKind, TokenRecord};

/// The path of the consent page (and of its form's POST).
pub const AUTHORIZE_PATH: &str = "/v2/auth/authorize/";

/// The `reason` of `authorization.removed` when the developer revokes.
pub const REASON_DEVELOPER_REVOKE: i64 = 5;

/// Whether a refresh hands back a new refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// Every refresh returns a new refresh token; the one sent stops working at once (today).
    Always,
    /// The refresh token sent comes back and stays valid (the behaviour before Nov 2026).
    May,
}

impl Rotation {
    fn from_flag(always: bool) -> Rotation {
        if always {
            Rotation::Always
        } else {
            Rotation::May
        }
    }
}

/// Token lifetimes and refresh-token rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthSettings {
    /// Access token lifetime, seconds.
    pub access_token_ttl_seconds: i64,
    /// Refresh token lifetime, seconds (rotated tokens keep the remaining lifetime).
    pub refresh_token_ttl_seconds: i64,
    /// Refresh-token rotation.
    pub rotation: Rotation,
    /// Authorization code lifetime, seconds.
    pub code_ttl_seconds: i64,
}

impl OAuthSettings {
    /// As TikTok documents it today: 2 h, 180 days, always rotated.
    pub fn current() -> Self {
        OAuthSettings {
            access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS as i64,
            refresh_token_ttl_seconds: REFRESH_TOKEN_TTL_SECONDS as i64,
            rotation: Rotation::from_flag(REFRESH_ROTATION_ALWAYS),
            code_ttl_seconds: CODE_TTL_SECONDS as i64,
        }
    }

    /// As TikTok documented it before Nov 2026: 24 h, 365 days, the same refresh token back.
    pub fn previous() -> Self {
        OAuthSettings {
            access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS_PREVIOUS as i64,
            refresh_token_ttl_seconds: REFRESH_TOKEN_TTL_SECONDS_PREVIOUS as i64,
            rotation: Rotation::from_flag(REFRESH_ROTATION_ALWAYS_PREVIOUS),
            code_ttl_seconds: CODE_TTL_SECONDS as i64,
        }
    }
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings::current()
    }
}

/// The OAuth settings of one mock.
#[derive(Debug, Default)]
pub struct OAuth {
    settings: Mutex<OAuthSettings>,
}

impl OAuth {
    fn lock(&self) -> MutexGuard<'_, OAuthSettings> {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lifetimes and rotation in force.
    pub fn settings(&self) -> OAuthSettings {
        *self.lock()
    }

    /// Replaces the lifetimes and rotation.
    pub fn set_settings(&self, settings: OAuthSettings) {
        *self.lock() = settings;
    }
}

/// An OAuth error with the status the endpoint's table gives the code.
fn oauth_error(endpoint: &EndpointMeta, code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::Catalog {
        status: endpoint.status_of(&code).unwrap_or(code.status()),
        code,
        message: message.into(),
    }
}

/// Pipeline hook, before body validation of OAuth endpoints: an authenticated client's
/// unknown `grant_type` is `unsupported_grant_type`. Without valid client credentials the
/// body is judged as usual (a value outside the enum is `invalid_request`).
pub fn check_grant_type(
    state: &AppState,
    endpoint: &EndpointMeta,
    body: &Value,
) -> Result<(), ApiError> {
    if endpoint.envelope != Envelope::OAuth {
        return Ok(());
    }
    let authenticated = text(body, "client_key")
        .and_then(|client_key| state.store().app(client_key))
        .is_some_and(|app| Some(app.client_secret.as_str()) == text(body, "client_secret"));
    if !authenticated {
        return Ok(());
    }
    match body.get("grant_type") {
        Some(Value::String(grant))
            if !grant.is_empty()
                && !tiktok_api::schemas::GRANT_TYPE
                    .values
                    .contains(&grant.as_str()) =>
        {
            Err(oauth_error(
                endpoint,
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {:?} is not supported; use one of {}.",
                    crate::validate::truncate(grant),
                    tiktok_api::schemas::GRANT_TYPE.values.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
}

fn join_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(SCOPE_SEPARATOR)
}

/// Records a user token's refresh token so it can be refreshed and revoked with it.
pub fn register_refresh(store: &dyn Store, token: &TokenRecord) {
    let (Some(refresh_token), Some(open_id)) = (&token.refresh_token, &token.open_id) else {
        return;
    };
    store.put_refresh_token(RefreshRecord {
        refresh_token: refresh_token.clone(),
        client_key: token.client_key.clone(),
        open_id: open_id.clone(),
        scopes: token.scopes.clone(),
        expires_at_ms: token.refresh_expires_at_ms.unwrap_or(token.expires_at_ms),
        revoked: false,
        rotated_to: None,
        access_tokens: vec![token.access_token.clone()],
    });
}

/// Mints a user access token under an authorization (a refresh token and its expiry).
fn issue_user_token(
    state: &AppState,
    client_key: &str,
    open_id: &str,
    scopes: &[Scope],
    refresh_token: &str,
    refresh_expires_at_ms: i64,
) -> TokenRecord {
    let settings = state.oauth().settings();
    let now_ms = state.now_ms();
    let record = TokenRecord {
        access_token: random_token("act."),
        kind: TokenKind::User,
        open_id: Some(open_id.to_owned()),
        client_key: client_key.to_owned(),
        scopes: scopes.to_vec(),
        expires_at_ms: now_ms
            .saturating_add(settings.access_token_ttl_seconds.saturating_mul(1000)),
        refresh_token: Some(refresh_token.to_owned()),
        refresh_expires_at_ms: Some(refresh_expires_at_ms),
        revoked: false,
    };
    state.store().put_token(record.clone());
    record
}

fn token_json(state: &AppState, record: &TokenRecord) -> Value {
    let now_ms = state.now_ms();
    let seconds_left = |at_ms: i64| at_ms.saturating_sub(now_ms).div_euclid(1000);
    let response = TokenResponse {
        access_token: record.access_token.clone(),
        expires_in: seconds_left(record.expires_at_ms),
        open_id: record.open_id.clone(),
        refresh_token: record.refresh_token.clone(),
        refresh_expires_in: record.refresh_expires_at_ms.map(seconds_left),
        scope: Some(join_scopes(&record.scopes)),
        token_type: "Bearer".to_owned(),
    };
    serde_json::to_value(response).unwrap_or_else(|_| json!({}))
}

/// `POST /v2/oauth/token/`: the authorization_code, refresh_token and client_credentials grants.
pub fn token(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let endpoint = call.endpoint;
    let body = call.body;
    let client_key = text(body, "client_key").unwrap_or_default();
    match text(body, "grant_type").unwrap_or_default() {
        "authorization_code" => exchange_code(state, endpoint, client_key, body),
        "refresh_token" => refresh(state, endpoint, client_key, body),
        "client_credentials" => client_credentials(state, endpoint, client_key),
        other => Err(oauth_error(
            endpoint,
            ErrorCode::UnsupportedGrantType,
            format!(
                "grant_type {:?} is not supported.",
                crate::validate::truncate(other)
            ),
        )),
    }
}

fn exchange_code(
    state: &AppState,
    endpoint: &EndpointMeta,
    client_key: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let code = text(body, "code").ok_or_else(|| {
        oauth_error(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: code.",
        )
    })?;
    let redirect_uri = text(body, "redirect_uri").ok_or_else(|| {
        oauth_error(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: redirect_uri.",
        )
    })?;
    let invalid_grant = |message: &str| oauth_error(endpoint, ErrorCode::InvalidGrant, message);
    let record = state
        .store()
        .redeem_auth_code(code)
        .ok_or_else(|| invalid_grant("The authorization code is invalid."))?;
    if record.used {
        // RFC 6749 §4.1.2: a code presented twice revokes what it was exchanged for.
        if let Some(access_token) = &record.access_token
            && let Some(token) = state.store().token(access_token)
        {
            revoke_authorization(state.store(), &token);
        }
        return Err(invalid_grant(
            "The authorization code has already been used.",
        ));
    }
    if record.client_key != client_key {
        return Err(invalid_grant(
            "The authorization code was issued to another client.",
        ));
    }
    if state.now_ms() >= record.expires_at_ms {
        return Err(invalid_grant("The authorization code has expired."));
    }
    if record.redirect_uri != redirect_uri {
        return Err(oauth_error(
            endpoint,
            ErrorCode::InvalidRequest,
            "Redirect_uri is not matched with the uri when requesting code.",
        ));
    }
    if let Some(challenge) = &record.code_challenge {
        let verifier = text(body, "code_verifier").ok_or_else(|| {
            oauth_error(
                endpoint,
                ErrorCode::InvalidRequest,
                "The request is missing a required parameter: code_verifier (the authorize request sent a code_challenge).",
            )
        })?;
        if !challenge_matches(challenge, verifier) {
            return Err(invalid_grant(
                "The code_verifier does not match the code_challenge.",
            ));
        }
    }
    let settings = state.oauth().settings();
    let refresh_token = random_token("rft.");
    let refresh_expires_at_ms = state
        .now_ms()
        .saturating_add(settings.refresh_token_ttl_seconds.saturating_mul(1000));
    let token = issue_user_token(
        state,
        client_key,
        &record.open_id,
        &record.scopes,
        &refresh_token,
        refresh_expires_at_ms,
    );
    register_refresh(state.store(), &token);
    state.store().put_auth_code(AuthCode {
        used: true,
        access_token: Some(token.access_token.clone()),
        ..record
    });
    Ok(token_json(state, &token))
}

fn refresh(
    state: &AppState,
    endpoint: &EndpointMeta,
    client_key: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let presented = text(body, "refresh_token").ok_or_else(|| {
        oauth_error(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: refresh_token.",
        )
    })?;
    let invalid_grant = |message: &str| oauth_error(endpoint, ErrorCode::InvalidGrant, message);
    let record = state
        .store()
        .refresh_token(presented)
        .ok_or_else(|| invalid_grant("The refresh token is invalid."))?;
    let check = |record: &RefreshRecord| -> Result<(), ApiError> {
        if record.client_key != client_key {
            return Err(invalid_grant(
                "The refresh token was issued to another client.",
            ));
        }
        if record.rotated_to.is_some() {
            return Err(invalid_grant(
                "The refresh token was replaced by a newer one; use the latest refresh token.",
            ));
        }
        if record.revoked {
            return Err(invalid_grant("The refresh token has been revoked."));
        }
        if state.now_ms() >= record.expires_at_ms {
            return Err(invalid_grant("The refresh token has expired."));
        }
        Ok(())
    };
    check(&record)?;
    match state.oauth().settings().rotation {
        Rotation::Always => {
            let next = random_token("rft.");
            // Rotate under the record's lock, so two refreshes with one token can't both win.
            let before = state
                .store()
                .update_refresh_token(presented, &mut |current| {
                    if !current.revoked && current.rotated_to.is_none() {
                        current.revoked = true;
                        current.rotated_to = Some(next.clone());
                    }
                })
                .ok_or_else(|| invalid_grant("The refresh token is invalid."))?;
            check(&before)?;
            let token = issue_user_token(
                state,
                client_key,
                &before.open_id,
                &before.scopes,
                &next,
                before.expires_at_ms,
            );
            let mut access_tokens = before.access_tokens.clone();
            access_tokens.push(token.access_token.clone());
            state.store().put_refresh_token(RefreshRecord {
                refresh_token: next,
                revoked: false,
                rotated_to: None,
                access_tokens,
                ..before
            });
            Ok(token_json(state, &token))
        }
        Rotation::May => {
            let token = issue_user_token(
                state,
                client_key,
                &record.open_id,
                &record.scopes,
                presented,
                record.expires_at_ms,
            );
            state
                .store()
                .update_refresh_token(presented, &mut |current| {
                    current.access_tokens.push(token.access_token.clone());
                });
            Ok(token_json(state, &token))
        }
    }
}

fn client_credentials(
    state: &AppState,
    endpoint: &EndpointMeta,
    client_key: &str,
) -> Result<Value, ApiError> {
    let app = state
        .store()
        .app(client_key)
        .ok_or_else(|| oauth_error(endpoint, ErrorCode::InvalidClient, "Client key is invalid."))?;
    if !app.research_api {
        return Err(oauth_error(
            endpoint,
            ErrorCode::UnauthorizedClient,
            "The client is not authorized to use grant_type=client_credentials (no Research API access).",
        ));
    }
    let response = state.mint_token(&MintRequest {
        client_key: Some(app.client_key),
        kind: Some(TokenKind::Client),
        ..MintRequest::default()
    })?;
    Ok(serde_json::to_value(response).unwrap_or_else(|_| json!({})))
}

/// Revokes a user token, its refresh token and every token of the same authorization
/// (refreshed or rotated from it). Returns false if the token was already revoked.
pub fn revoke_authorization(store: &dyn Store, token: &TokenRecord) -> bool {
    let was_live = !token.revoked;
    store.revoke_token(&token.access_token);
    let mut next = token.refresh_token.clone();
    if mutant!(RefreshAliveAfterRevoke) {
        next = None;
    }
    let mut steps = 0;
    while let Some(refresh_token) = next.take() {
        steps += 1;
        if steps > 100_000 {
            break;
        }
        let Some(before) = store.update_refresh_token(&refresh_token, &mut |record| {
            record.revoked = true;
        }) else {
            break;
        };
        for access_token in &before.access_tokens {
            store.revoke_token(access_token);
        }
        next = before.rotated_to;
    }
    was_live
}

/// `POST /v2/oauth/revoke/`: the user token and its authorization stop working at once, and
/// `authorization.removed` (reason 5) is queued for the app.
pub fn revoke(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let endpoint = call.endpoint;
    let client_key = text(call.body, "client_key").unwrap_or_default();
    let presented = text(call.body, "token").ok_or_else(|| {
        oauth_error(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: token.",
        )
    })?;
    let token = state
        .store()
        .token(presented)
        .filter(|token| token.kind == TokenKind::User && token.client_key == client_key)
        .ok_or_else(|| {
            oauth_error(
                endpoint,
                ErrorCode::InvalidGrant,
                "The token is not a user access token issued to this client.",
            )
        })?;
    if revoke_authorization(state.store(), &token) {
        state.emit_event(
            client_key,
            token.open_id.as_deref(),
            WebhookEventKind::AuthorizationRemoved.as_str(),
            json!({ "reason": REASON_DEVELOPER_REVOKE }),
        );
    }
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------
// The consent page.

/// A bad authorize request and where its error goes.
enum AuthorizeError {
    /// The client or the redirect URI can't be trusted: an error page, no redirect.
    Page(ErrorCode, String),
    /// Back to the app's redirect URI with `error`, `error_description` and `state`.
    Redirect(ErrorCode, String),
}

/// The authorize request, checked.
struct Authorize {
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
struct Params(Vec<(String, String)>);

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
            None => unknown.push(format!("{:?}", crate::validate::truncate(name))),
        }
    }
    if unknown.is_empty() {
        Ok(scopes)
    } else {
        Err(unknown)
    }
}

fn check_authorize(state: &AppState, params: &Params) -> Result<Authorize, AuthorizeError> {
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
                crate::validate::truncate(client_key)
            ),
        )
    })?;
    let redirect_uri = params.get("redirect_uri").unwrap_or_default();
    if !app.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        return Err(AuthorizeError::Page(
            ErrorCode::InvalidRequest,
            format!(
                "redirect_uri {:?} is not registered for this app.",
                crate::validate::truncate(redirect_uri)
            ),
        ));
    }
    let response_type = params.get("response_type").unwrap_or_default();
    if response_type != "code" {
        return Err(AuthorizeError::Redirect(
            ErrorCode::UnsupportedResponseType,
            format!(
                "response_type must be code, found {:?}.",
                crate::validate::truncate(response_type)
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
                crate::validate::truncate(method)
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
}

/// Issues a code and redirects with `code`, `scopes` and `state`.
fn approve(state: &AppState, request: &Authorize, open_id: &str, granted: Vec<Scope>) -> Response {
    let suffix: u16 = rand::rng().random_range(1000..10000);
    // Real codes carry characters such as `*` and `!`, so clients must URL-decode them.
    let code = format!("{}*0!{suffix}", random_token("").trim_start_matches('.'));
    let settings = state.oauth().settings();
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

/// The user's decision: approve with some scopes as some creator, or cancel.
fn decide(state: &AppState, request: &Authorize, params: &Params, approved: bool) -> Response {
    let redirect_state = request.state.as_deref();
    if !approved {
        return redirect_error(
            &request.redirect_uri,
            redirect_state,
            ErrorCode::AccessDenied,
            "The user denied the authorization request.",
        );
    }
    let open_id = match params.get("open_id").filter(|open_id| !open_id.is_empty()) {
        Some(open_id) => open_id.to_owned(),
        None => state.default_open_id().unwrap_or_default(),
    };
    if state.store().creator(&open_id).is_none() {
        return error_page(
            ErrorCode::InvalidRequest,
            &format!(
                "open_id {:?} is not a creator of the mock.",
                crate::validate::truncate(&open_id)
            ),
        );
    }
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
    approve(state, request, &open_id, granted)
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
    let default_open_id = params
        .get("open_id")
        .map(str::to_owned)
        .or_else(|| state.default_open_id())
        .unwrap_or_default();
    let creators = state
        .store()
        .creators()
        .into_iter()
        .map(|creator| CreatorRow {
            selected: creator.open_id == default_open_id,
            display_name: creator.display_name,
            open_id: creator.open_id,
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
    decide(&state, &request, &params, approved)
}

// ---------------------------------------------------------------------------------------
// Control routes.

/// `POST /_mock/oauth/settings`: a preset and/or single figures.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    /// `current` or `previous`: every figure at once.
    lifetimes: Option<String>,
    access_token_ttl_seconds: Option<i64>,
    refresh_token_ttl_seconds: Option<i64>,
    rotation: Option<Rotation>,
    code_ttl_seconds: Option<i64>,
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::InvalidParams(format!("The request body is invalid: {error}")))
}

async fn read_settings(State(state): State<AppState>) -> Response {
    Json(state.oauth().settings()).into_response()
}

async fn write_settings(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: SettingsRequest = parse_json(&body)?;
    let mut settings = match request.lifetimes.as_deref() {
        None => state.oauth().settings(),
        Some("current") => OAuthSettings::current(),
        Some("previous") => OAuthSettings::previous(),
        Some(other) => {
            return Err(ApiError::InvalidParams(format!(
                "lifetimes: expected current or previous, found {:?}",
                crate::validate::truncate(other)
            )));
        }
    };
    for (name, value, target) in [
        (
            "access_token_ttl_seconds",
            request.access_token_ttl_seconds,
            &mut settings.access_token_ttl_seconds,
        ),
        (
            "refresh_token_ttl_seconds",
            request.refresh_token_ttl_seconds,
            &mut settings.refresh_token_ttl_seconds,
        ),
        (
            "code_ttl_seconds",
            request.code_ttl_seconds,
            &mut settings.code_ttl_seconds,
        ),
    ] {
        if let Some(value) = value {
            if !(0..=100 * 365 * 86_400).contains(&value) {
                return Err(ApiError::InvalidParams(format!(
                    "{name}: must be 0..3153600000 seconds"
                )));
            }
            *target = value;
        }
    }
    if let Some(rotation) = request.rotation {
        settings.rotation = rotation;
    }
    state.oauth().set_settings(settings);
    Ok(Json(settings).into_response())
}

/// `POST /_mock/oauth/codes`: an authorization code without the consent page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    client_key: Option<String>,
    open_id: Option<String>,
    scopes: Option<crate::state::ScopeList>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    state: Option<String>,
}

async fn mint_code(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: CodeRequest = parse_json(&body)?;
    let app = match &request.client_key {
        Some(client_key) => state.store().app(client_key),
        None => state.store().apps().into_iter().next(),
    }
    .ok_or_else(|| ApiError::InvalidParams("client_key: no such app".to_owned()))?;
    let redirect_uri = request
        .redirect_uri
        .clone()
        .or_else(|| app.redirect_uris.first().cloned())
        .unwrap_or_default();
    let scope = match &request.scopes {
        Some(crate::state::ScopeList::List(names)) => names.join(SCOPE_SEPARATOR),
        Some(crate::state::ScopeList::Joined(text)) => text.clone(),
        None => join_scopes(&user_scopes()),
    };
    let mut pairs = vec![
        ("client_key".to_owned(), app.client_key.clone()),
        ("redirect_uri".to_owned(), redirect_uri),
        ("response_type".to_owned(), "code".to_owned()),
        ("scope".to_owned(), scope),
    ];
    for (name, value) in [
        ("code_challenge", &request.code_challenge),
        ("open_id", &request.open_id),
        ("state", &request.state),
    ] {
        if let Some(value) = value {
            pairs.push((name.to_owned(), value.clone()));
        }
    }
    let params = Params(pairs);
    let authorize = check_authorize(&state, &params).map_err(|error| match error {
        AuthorizeError::Page(_, message) | AuthorizeError::Redirect(_, message) => {
            ApiError::InvalidParams(message)
        }
    })?;
    let response = decide(&state, &authorize, &params, true);
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let query = location
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or("");
    let answer: std::collections::BTreeMap<String, String> =
        serde_urlencoded::from_str(query).unwrap_or_default();
    if let Some(error) = answer.get("error_description") {
        return Err(ApiError::InvalidParams(error.clone()));
    }
    Ok(Json(json!({
        "code": answer.get("code"),
        "scopes": answer.get("scopes"),
        "state": answer.get("state"),
        "redirect": location,
    }))
    .into_response())
}

/// The consent page and the OAuth control routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(AUTHORIZE_PATH, get(authorize_page).post(authorize_submit))
        .route(
            "/_mock/oauth/settings",
            get(read_settings).post(write_settings),
        )
        .route("/_mock/oauth/codes", post(mint_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_the_spec_constants() {
        assert_eq!(OAuthSettings::default().access_token_ttl_seconds, 7200);
        assert_eq!(OAuthSettings::default().rotation, Rotation::Always);
        assert_eq!(OAuthSettings::previous().access_token_ttl_seconds, 86_400);
        assert_eq!(OAuthSettings::previous().rotation, Rotation::May);
    }

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
