//! The token endpoint's three grants (`token`: authorization_code, refresh_token,
//! client_credentials) and `revoke`, as behaviours behind the generic pipeline, which has
//! already authenticated the client and validated the form.

use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, Envelope};
use tiktok_api::oauth::challenge_matches;
use tiktok_api::{AuthorizationRemoved, ErrorCode, WebhookEventKind};

use crate::error::ApiError;
use crate::random::random_token;
use crate::settings::Rotation;
use crate::state::{AppState, Call};
use crate::store::{AuthCode, RefreshRecord, TokenKind, TokenRecord};
use crate::tokens::{
    MintRequest, authenticate_client, issue_user_token, register_refresh, revoke_authorization,
    token_response,
};
use crate::validate::truncate;

/// The `reason` of `authorization.removed` when the developer revokes (the table's code 5,
/// "The developer revoked authorization").
pub const REASON_DEVELOPER_REVOKE: i32 = 5;

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
    if authenticate_client(state.store(), body).is_none() {
        return Ok(());
    }
    match body.get("grant_type") {
        Some(Value::String(grant))
            if !grant.is_empty()
                && !tiktok_api::schemas::GRANT_TYPE
                    .values
                    .contains(&grant.as_str()) =>
        {
            Err(ApiError::for_endpoint(
                endpoint,
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {:?} is not supported; use one of {}.",
                    truncate(grant),
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

fn token_json(state: &AppState, record: &TokenRecord) -> Value {
    serde_json::to_value(token_response(record, state.open_ids(), state.now_ms()))
        .unwrap_or_else(|_| json!({}))
}

/// Mints a user access token under the authorization `refresh_token` carries.
fn issue(state: &AppState, authorization: &RefreshRecord) -> TokenRecord {
    issue_user_token(
        state.store(),
        state.now_ms(),
        &state.oauth_settings(),
        authorization,
    )
}

/// `POST /v2/oauth/token/`: the authorization_code, refresh_token and client_credentials grants.
pub fn token(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let endpoint = call.endpoint;
    let body = call.body;
    let client_key = text(body, "client_key").unwrap_or_default();
    match text(body, "grant_type").unwrap_or_default() {
        "authorization_code" => exchange_code(state, endpoint, client_key, body),
        "refresh_token" => refresh(state, endpoint, client_key, body),
        "client_credentials" => client_credentials(state, endpoint, body),
        other => Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {:?} is not supported.", truncate(other)),
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
        ApiError::for_endpoint(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: code.",
        )
    })?;
    let redirect_uri = text(body, "redirect_uri").ok_or_else(|| {
        ApiError::for_endpoint(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: redirect_uri.",
        )
    })?;
    let invalid_grant =
        |message: &str| ApiError::for_endpoint(endpoint, ErrorCode::InvalidGrant, message);
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
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::InvalidRequest,
            "Redirect_uri is not matched with the uri when requesting code.",
        ));
    }
    if let Some(challenge) = &record.code_challenge {
        let verifier = text(body, "code_verifier").ok_or_else(|| {
            ApiError::for_endpoint(
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
    let settings = state.oauth_settings();
    let refresh_token = random_token("rft.");
    let refresh_expires_at_ms = state
        .now_ms()
        .saturating_add(settings.refresh_token_ttl_seconds.saturating_mul(1000));
    let token = issue(
        state,
        &RefreshRecord {
            refresh_token,
            client_key: client_key.to_owned(),
            open_id: record.open_id.clone(),
            scopes: record.scopes.clone(),
            expires_at_ms: refresh_expires_at_ms,
            revoked: false,
            rotated_to: None,
            access_tokens: Vec::new(),
        },
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
        ApiError::for_endpoint(
            endpoint,
            ErrorCode::InvalidRequest,
            "The request is missing a required parameter: refresh_token.",
        )
    })?;
    let invalid_grant =
        |message: &str| ApiError::for_endpoint(endpoint, ErrorCode::InvalidGrant, message);
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
    match state.oauth_settings().rotation {
        Rotation::Always => {
            let next = random_token("rft.");
            // The new record first: on a state file, a rotation cut short by a crash never
            // leaves the old token pointing at one that does not exist.
            state.store().put_refresh_token(RefreshRecord {
                refresh_token: next.clone(),
                revoked: false,
                rotated_to: None,
                ..record.clone()
            });
            // Rotate under the record's lock, so two refreshes with one token can't both win.
            let claimed = state
                .store()
                .update_refresh_token(presented, &mut |current| {
                    if !current.revoked && current.rotated_to.is_none() {
                        current.revoked = true;
                        current.rotated_to = Some(next.clone());
                    }
                })
                .ok_or_else(|| invalid_grant("The refresh token is invalid."))
                .and_then(|before| check(&before).map(|()| before));
            let before = match claimed {
                Ok(before) => before,
                Err(error) => {
                    // Another refresh won: the record made for this one is never handed out.
                    state
                        .store()
                        .update_refresh_token(&next, &mut |unused| unused.revoked = true);
                    return Err(error);
                }
            };
            let token = issue(
                state,
                &RefreshRecord {
                    refresh_token: next.clone(),
                    ..before
                },
            );
            state.store().update_refresh_token(&next, &mut |current| {
                current.access_tokens.push(token.access_token.clone());
            });
            Ok(token_json(state, &token))
        }
        Rotation::May => {
            let token = issue(state, &record);
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
    body: &Value,
) -> Result<Value, ApiError> {
    let app = authenticate_client(state.store(), body).ok_or_else(|| {
        ApiError::for_endpoint(endpoint, ErrorCode::InvalidClient, "Client key is invalid.")
    })?;
    if !app.research_api {
        return Err(ApiError::for_endpoint(
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

/// `POST /v2/oauth/revoke/`: the user token and its authorization stop working at once, and
/// `authorization.removed` (reason 5) is queued for the app.
pub fn revoke(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let endpoint = call.endpoint;
    let client_key = text(call.body, "client_key").unwrap_or_default();
    let presented = text(call.body, "token").ok_or_else(|| {
        ApiError::for_endpoint(
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
            ApiError::for_endpoint(
                endpoint,
                ErrorCode::InvalidGrant,
                "The token is not a user access token issued to this client.",
            )
        })?;
    if revoke_authorization(state.store(), &token) {
        state.emit_event(
            client_key,
            token.open_id.as_deref(),
            WebhookEventKind::AuthorizationRemoved,
            &AuthorizationRemoved::new(REASON_DEVELOPER_REVOKE),
        );
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_developer_revoke_reason_is_the_tables() {
        let meta = WebhookEventKind::AuthorizationRemoved
            .meta()
            .expect("in the table");
        let text = meta
            .reason_codes
            .iter()
            .find(|(code, _)| *code == i64::from(REASON_DEVELOPER_REVOKE))
            .map(|(_, text)| *text);
        assert_eq!(text, Some("The developer revoked authorization"));
    }
}
