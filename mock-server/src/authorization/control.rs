//! The OAuth control routes: `GET|POST /_mock/oauth/settings` (token lifetimes, rotation)
//! and `POST /_mock/oauth/codes` (an authorization code without the consent page).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tiktok_api::spec_constants::SCOPE_SEPARATOR;

use crate::authorization::consent::{
    AuthorizeError, Params, check_authorize, decide, signed_in_user,
};
use crate::error::ApiError;
use crate::extract::ControlJson;
use crate::state::AppState;
use crate::tokens::{ScopeList, join_scopes, user_scopes};

/// The OAuth control routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_mock/oauth/settings",
            get(read_settings).post(write_settings),
        )
        .route("/_mock/oauth/codes", post(mint_code))
}

async fn read_settings(State(state): State<AppState>) -> Response {
    Json(state.oauth_settings()).into_response()
}

/// `POST /_mock/oauth/settings`: a preset (`lifetimes`: `current` or `previous`) and/or
/// single settings; the others keep their values.
async fn write_settings(
    State(state): State<AppState>,
    ControlJson(changes): ControlJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    state
        .apply_settings(&json!({ "oauth": changes }))
        .map_err(ApiError::InvalidParams)?;
    Ok(Json(state.oauth_settings()).into_response())
}

/// `POST /_mock/oauth/codes`: an authorization code without the consent page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    client_key: Option<String>,
    open_id: Option<String>,
    scopes: Option<ScopeList>,
    redirect_uri: Option<String>,
    code_challenge: Option<String>,
    state: Option<String>,
}

async fn mint_code(
    State(state): State<AppState>,
    ControlJson(request): ControlJson<CodeRequest>,
) -> Result<Response, ApiError> {
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
        Some(ScopeList::List(names)) => names.join(SCOPE_SEPARATOR),
        Some(ScopeList::Joined(text)) => text.clone(),
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
    signed_in_user(&state, &authorize, &params).map_err(ApiError::InvalidParams)?;
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
