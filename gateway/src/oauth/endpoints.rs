//! The authorization server's endpoints and the protected resource's metadata: every
//! refusal the RFC's error JSON (`error`, `error_description`), audited through the
//! failure log, nothing cached. A bad `client_id` or `redirect_uri` at `/oauth/authorize`
//! is answered there, never redirected (RFC 6749 §4.1.2.1).

use std::net::IpAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::client::{check_metadata, redirect_registered};
use super::store::{Grant, RegisteredClient, TokenKind, Used};
use super::{ACCESS_TTL, AuthRequest, CONSENT_PATH, OAuth, REFRESH_TTL, REQUEST_TTL, SCOPE};

/// The largest request body of a registration, token or revocation request.
pub const MAX_BODY: usize = 16 * 1024;

/// The most clients registered through RFC 7591.
pub const MAX_CLIENTS: u64 = 10_000;

/// An OAuth error answer: its status, RFC error code and description.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn bad(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, error, description)
    }

    /// The store failed: the detail (a database's message may name hosts, users or
    /// files) goes to the gateway's log, not to the client.
    fn store(error: &tiktok_agent::StoreError) -> OAuthError {
        tracing::error!(problem = %tiktok_agent::error_chain(error), "the OAuth store failed");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the authorization server's store failed; see the gateway's log",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response()
    }
}

/// The routes: metadata under `/.well-known/`, the endpoints under `/oauth/`.
pub fn router(oauth: OAuth) -> Router {
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(server_metadata),
        )
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/register", post(register))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(oauth)
}

/// The request's origin, or 403 for a host this server does not answer to.
fn origin(oauth: &OAuth, headers: &HeaderMap) -> Result<String, OAuthError> {
    oauth.origin(headers).ok_or_else(|| {
        OAuthError::new(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "this host name is not one the gateway answers to (loopback, or http.allowed_hosts)",
        )
    })
}

fn json_answer(value: Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(value)).into_response()
}

/// Audits `error` at `endpoint` from `source` and returns it.
async fn refused(
    oauth: &OAuth,
    source: Option<IpAddr>,
    endpoint: &str,
    error: OAuthError,
) -> Response {
    let why = format!("{endpoint}: {}: {}", error.error, error.description);
    oauth.refused(source, &why).await;
    error.into_response()
}

async fn resource_metadata(State(oauth): State<OAuth>, headers: HeaderMap) -> Response {
    match origin(&oauth, &headers) {
        Ok(origin) => json_answer(json!({
            "resource": format!("{origin}/mcp"),
            "authorization_servers": [origin],
            "scopes_supported": [SCOPE],
            "bearer_methods_supported": ["header"],
            "resource_name": "tiktok-gateway",
        })),
        Err(error) => error.into_response(),
    }
}

async fn server_metadata(State(oauth): State<OAuth>, headers: HeaderMap) -> Response {
    match origin(&oauth, &headers) {
        Ok(origin) => json_answer(json!({
            "issuer": origin,
            "authorization_endpoint": format!("{origin}/oauth/authorize"),
            "token_endpoint": format!("{origin}/oauth/token"),
            "registration_endpoint": format!("{origin}/oauth/register"),
            "revocation_endpoint": format!("{origin}/oauth/revoke"),
            "scopes_supported": [SCOPE],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
        })),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize, Default)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
}

/// Whether `scope` (space-separated) asks for nothing but [`SCOPE`] (and `offline_access`,
/// which every grant has).
fn scope_ok(scope: Option<&str>) -> bool {
    scope.is_none_or(|scope| {
        scope
            .split(' ')
            .filter(|scope| !scope.is_empty())
            .all(|scope| scope == SCOPE || scope == "offline_access")
    })
}

/// Whether `value` is a PKCE verifier or S256 challenge: 43 to 128 unreserved characters.
fn pkce_shaped(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

async fn authorize(
    State(oauth): State<OAuth>,
    headers: HeaderMap,
    extensions: http::Extensions,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let from = crate::request::source(&extensions);
    let Query(query) = query.unwrap_or_default();
    let issuer = match origin(&oauth, &headers) {
        Ok(origin) => origin,
        Err(error) => return error.into_response(),
    };
    // First who the client is and where the answer may go: until both are known, a
    // refusal is answered here, never sent to an unchecked redirect URI.
    let Some(client_id) = query.client_id.clone() else {
        let error = OAuthError::bad("invalid_request", "client_id is required");
        return refused(&oauth, from, "authorize", error).await;
    };
    let client = match oauth.inner.fetcher.resolve(oauth.store(), &client_id).await {
        Ok(client) => client,
        Err(why) => {
            let error = OAuthError::bad("invalid_client", why);
            return refused(&oauth, from, "authorize", error).await;
        }
    };
    let redirect_uri_given = query.redirect_uri.is_some();
    let redirect_uri = match query.redirect_uri.clone() {
        Some(uri) if redirect_registered(&client.redirect_uris, &uri) => uri,
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        _ => {
            let error = OAuthError::bad(
                "invalid_request",
                "redirect_uri is not one the client registered",
            );
            return refused(&oauth, from, "authorize", error).await;
        }
    };
    let resource = format!("{issuer}/mcp");
    let problem = if query.response_type.as_deref() != Some("code") {
        Some((
            "unsupported_response_type",
            "response_type must be code".to_string(),
        ))
    } else if query.code_challenge_method.as_deref() != Some("S256")
        || !query.code_challenge.as_deref().is_some_and(pkce_shaped)
    {
        Some((
            "invalid_request",
            "PKCE is required: a code_challenge with code_challenge_method S256".to_string(),
        ))
    } else if query.resource.as_deref() != Some(resource.as_str()) {
        Some((
            "invalid_target",
            format!("resource is required and must be {resource}"),
        ))
    } else if !scope_ok(query.scope.as_deref()) {
        Some(("invalid_scope", format!("the only scope is {SCOPE}")))
    } else {
        None
    };
    if let Some((error, description)) = problem {
        oauth
            .refused(from, &format!("authorize: {error}: {description}"))
            .await;
        let mut answer = vec![
            ("error", error.to_string()),
            ("error_description", description),
        ];
        if let Some(state) = &query.state {
            answer.push(("state", state.clone()));
        }
        answer.push(("iss", issuer));
        let location = super::client::with_query(&redirect_uri, &answer);
        return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    }
    let request = AuthRequest {
        client_id: client.client_id,
        client_name: client.client_name,
        redirect_uri,
        redirect_uri_given,
        state: query.state,
        code_challenge: query.code_challenge.unwrap_or_default(),
        resource,
        issuer,
        expires: Instant::now() + REQUEST_TTL,
    };
    let id = oauth.hold(request);
    let location = format!("{CONSENT_PATH}?request={id}");
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

#[derive(Deserialize, Default)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    resource: Option<String>,
    token: Option<String>,
}

/// The client id of a request: the form's, or the user of HTTP Basic authentication.
fn client_id_of(headers: &HeaderMap, form: &TokenForm) -> Option<String> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| pair.split_once(':').map(|(user, _)| user.to_string()))
        .map(|user| {
            url::form_urlencoded::parse(format!("u={user}").as_bytes())
                .next()
                .map(|(_, user)| user.into_owned())
                .unwrap_or(user)
        });
    form.client_id.clone().or(basic)
}

async fn token(
    State(oauth): State<OAuth>,
    headers: HeaderMap,
    extensions: http::Extensions,
    form: Result<axum::extract::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let from = crate::request::source(&extensions);
    let form = form.map(|form| form.0).unwrap_or_default();
    match exchange(&oauth, &headers, form).await {
        Ok(answer) => json_answer(answer),
        Err(error) => refused(&oauth, from, "token", error).await,
    }
}

async fn exchange(
    oauth: &OAuth,
    headers: &HeaderMap,
    form: TokenForm,
) -> Result<Value, OAuthError> {
    let resource = format!("{}/mcp", origin(oauth, headers)?);
    let Some(client_id) = client_id_of(headers, &form) else {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required",
        ));
    };
    if form
        .resource
        .as_ref()
        .is_some_and(|asked| *asked != resource)
    {
        return Err(OAuthError::bad(
            "invalid_target",
            format!("resource must be {resource}"),
        ));
    }
    let now = crate::now_ms();
    let failed = |error: tiktok_agent::StoreError| OAuthError::store(&error);
    let grant = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = form.code.as_deref().unwrap_or_default();
            let used = oauth.store().use_code(code, now).await.map_err(failed)?;
            let record = fresh(used, "code")?;
            if record.grant.client_id != client_id {
                return Err(another_client("code"));
            }
            // Named in the authorization request: the same here (RFC 6749, 4.1.3); left out
            // there (the client's one registered URI was used): not asked for.
            if !record.redirect_uri.is_empty()
                && form.redirect_uri.as_deref() != Some(record.redirect_uri.as_str())
            {
                return Err(OAuthError::bad(
                    "invalid_grant",
                    "redirect_uri is not the authorization request's",
                ));
            }
            let verifier = form.code_verifier.as_deref().unwrap_or_default();
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !pkce_shaped(verifier)
                || !bool::from(computed.as_bytes().ct_eq(record.code_challenge.as_bytes()))
            {
                return Err(OAuthError::bad(
                    "invalid_grant",
                    "the code_verifier does not match",
                ));
            }
            record.grant
        }
        Some("refresh_token") => {
            let presented = form.refresh_token.as_deref().unwrap_or_default();
            let used = oauth
                .store()
                .use_refresh(presented, now)
                .await
                .map_err(failed)?;
            let grant = fresh(used, "refresh token")?;
            if grant.client_id != client_id {
                return Err(another_client("refresh token"));
            }
            grant
        }
        _ => {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ));
        }
    };
    if grant.resource != resource {
        return Err(OAuthError::bad(
            "invalid_target",
            "the grant is for another resource",
        ));
    }
    issue(oauth, &grant, now).await.map_err(failed)
}

/// The record of a first use of `what` (a code, a refresh token), or `invalid_grant`.
fn fresh<T>(used: Used<T>, what: &str) -> Result<T, OAuthError> {
    match used {
        Used::Fresh(record) => Ok(record),
        Used::Reused => Err(OAuthError::bad(
            "invalid_grant",
            format!("the {what} was used before; every token of its grant is revoked"),
        )),
        Used::Unknown => Err(OAuthError::bad(
            "invalid_grant",
            format!("the {what} is unknown or expired"),
        )),
    }
}

fn another_client(what: &str) -> OAuthError {
    OAuthError::bad(
        "invalid_grant",
        format!("the {what} was issued to another client"),
    )
}

/// A new access and refresh token for `grant`, as the token endpoint answers.
async fn issue(oauth: &OAuth, grant: &Grant, now: i64) -> Result<Value, tiktok_agent::StoreError> {
    let access = format!("tgo_{}", hex::encode(rand::random::<[u8; 32]>()));
    let refresh = format!("tgr_{}", hex::encode(rand::random::<[u8; 32]>()));
    let store = oauth.store();
    let access_expiry = now + ACCESS_TTL.as_millis() as i64;
    store
        .insert_token(&access, TokenKind::Access, grant, access_expiry)
        .await?;
    let refresh_expiry = now + REFRESH_TTL.as_millis() as i64;
    store
        .insert_token(&refresh, TokenKind::Refresh, grant, refresh_expiry)
        .await?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL.as_secs(),
        "refresh_token": refresh,
        "scope": grant.scope,
    }))
}

async fn revoke(
    State(oauth): State<OAuth>,
    headers: HeaderMap,
    extensions: http::Extensions,
    form: Result<axum::extract::Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let from = crate::request::source(&extensions);
    let form = form.map(|form| form.0).unwrap_or_default();
    let Some(client_id) = client_id_of(&headers, &form) else {
        let error = OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required",
        );
        return refused(&oauth, from, "revoke", error).await;
    };
    let Some(token) = form.token else {
        let error = OAuthError::bad("invalid_request", "token is required");
        return refused(&oauth, from, "revoke", error).await;
    };
    // RFC 7009 §2.2: an unknown token is answered as a revoked one.
    match oauth.store().revoke(&token, &client_id).await {
        Ok(_) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(error) => OAuthError::store(&error).into_response(),
    }
}

#[derive(Deserialize)]
struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
}

async fn register(
    State(oauth): State<OAuth>,
    extensions: http::Extensions,
    body: Result<axum::Json<Registration>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let from = crate::request::source(&extensions);
    let registration = match body {
        Ok(axum::Json(registration)) => registration,
        Err(rejection) => {
            let error = OAuthError::bad(
                "invalid_client_metadata",
                format!(
                    "the body is not client metadata JSON of at most {MAX_BODY} bytes: {}",
                    rejection.body_text()
                ),
            );
            return refused(&oauth, from, "register", error).await;
        }
    };
    let client = RegisteredClient {
        client_id: format!("tgcl_{}", hex::encode(rand::random::<[u8; 16]>())),
        client_name: registration
            .client_name
            .unwrap_or_else(|| "unnamed client".into()),
        redirect_uris: registration.redirect_uris,
    };
    let unsupported = registration
        .grant_types
        .iter()
        .flatten()
        .any(|grant| grant != "authorization_code" && grant != "refresh_token")
        || registration
            .response_types
            .iter()
            .flatten()
            .any(|kind| kind != "code");
    let checked = if unsupported {
        Err(("invalid_client_metadata", "only the authorization_code and refresh_token grants (response type code) are supported".to_string()))
    } else {
        check_metadata(&client).map_err(|why| {
            let error = if why.starts_with("redirect") {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            (error, why)
        })
    };
    if let Err((error, why)) = checked {
        return refused(&oauth, from, "register", OAuthError::bad(error, why)).await;
    }
    match oauth.store().register(client.clone(), MAX_CLIENTS).await {
        Ok(true) => (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(json!({
                "client_id": client.client_id,
                "client_id_issued_at": crate::now_ms() / 1000,
                "client_name": client.client_name,
                "redirect_uris": client.redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })),
        )
            .into_response(),
        Ok(false) => {
            let error = OAuthError::bad(
                "invalid_client_metadata",
                "no more clients can be registered",
            );
            refused(&oauth, from, "register", error).await
        }
        Err(error) => OAuthError::store(&error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_pkce_values_are_checked() {
        assert!(scope_ok(None) && scope_ok(Some("mcp offline_access")) && scope_ok(Some("")));
        assert!(!scope_ok(Some("mcp admin")));
        assert!(pkce_shaped(&"a".repeat(43)) && !pkce_shaped(&"a".repeat(42)));
        assert!(!pkce_shaped(&format!("{}+", "a".repeat(43))));
    }
}
