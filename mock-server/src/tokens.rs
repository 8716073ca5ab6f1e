//! Tokens as functions of the store and the clock: minting (`POST /_mock/tokens`, the
//! demo tokens, the token endpoint's grants), refresh-token records, revocation of a whole
//! authorization, client authentication, and the scope sets read from the endpoint table.

use serde::Serialize;
use serde_json::Value;
use tiktok_api::Scope;
use tiktok_api::meta::{Access, Auth, EndpointMeta};
use tiktok_api::spec_constants::{
    ACCESS_TOKEN_TTL_SECONDS, CLIENT_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS, SCOPE_SEPARATOR,
};

use crate::error::ApiError;
use crate::open_ids::OpenIds;
use crate::random::random_token;
use crate::settings::OAuthSettings;
use crate::store::{App, RefreshRecord, Store, TokenKind, TokenRecord};

/// Lifetime of the demo tokens printed at start: a year, so the printed curl line keeps working.
pub const DEMO_TOKEN_TTL_SECONDS: i64 = 365 * 24 * 3600;

/// The ready tokens minted at start (and again after a reset). `Debug` shows neither.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoTokens {
    /// Every user scope, for the creator with the most videos.
    pub full: String,
    /// The read scopes only (user.info.*, video.list), same creator.
    pub read_only: String,
}

impl std::fmt::Debug for DemoTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoTokens { full: \"act.…\", read_only: \"act.…\" }")
    }
}

/// What `POST /_mock/tokens` asks for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The creator, by their open_id in the app (another app's open_id names no one); the
    /// creator with the most videos when absent.
    pub open_id: Option<String>,
    /// The scopes; every user scope when absent (`research.data.basic` for client tokens).
    pub scopes: Option<ScopeList>,
    /// Seconds to expiry; zero or negative mints an already expired token.
    pub expires_in: Option<i64>,
    /// The app; the first app when absent.
    pub client_key: Option<String>,
    /// `user` (default) or `client`.
    pub kind: Option<TokenKind>,
}

/// Scopes as a list or a comma-separated string.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum ScopeList {
    /// `["user.info.basic", "video.list"]`.
    List(Vec<String>),
    /// `"user.info.basic,video.list"`.
    Joined(String),
}

impl ScopeList {
    fn names(&self) -> Vec<String> {
        match self {
            ScopeList::List(names) => names.clone(),
            ScopeList::Joined(text) => text
                .split(SCOPE_SEPARATOR)
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect(),
        }
    }
}

/// A token as the token endpoint answers it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds to expiry (negative for a token minted expired).
    pub expires_in: i64,
    /// The creator (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    /// The refresh token (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds to the refresh token's expiry (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<i64>,
    /// Granted scopes, comma-separated (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Always `Bearer`.
    pub token_type: String,
}

/// The scopes as the token endpoint lists them: comma-separated.
pub fn join_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(SCOPE_SEPARATOR)
}

/// The creator with the most videos (the default `open_id` of minted tokens).
pub fn default_open_id(store: &dyn Store) -> Option<String> {
    store
        .creators()
        .into_iter()
        .max_by_key(|creator| store.video_count(&creator.open_id))
        .map(|creator| creator.open_id)
}

/// The app whose `client_key` and `client_secret` the body carries (the OAuth endpoints'
/// client authentication), if they match.
pub fn authenticate_client(store: &dyn Store, body: &Value) -> Option<App> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    store
        .app(field("client_key"))
        .filter(|app| crate::random::secrets_equal(&app.client_secret, field("client_secret")))
}

/// Mints a token as `POST /_mock/tokens` does, at `now_ms`; its `open_id` is the app's.
pub fn mint_token(
    open_ids: OpenIds<'_>,
    now_ms: i64,
    request: &MintRequest,
) -> Result<TokenResponse, ApiError> {
    let store = open_ids.store;
    let kind = request.kind.unwrap_or(TokenKind::User);
    let app = match &request.client_key {
        Some(client_key) => store
            .app(client_key)
            .ok_or_else(|| ApiError::InvalidParams(format!("client_key: no app {client_key:?}")))?,
        None => store
            .apps()
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::InvalidParams("no app is registered".to_owned()))?,
    };
    let scopes = match &request.scopes {
        Some(list) => {
            let mut scopes = Vec::new();
            for name in list.names() {
                let scope = Scope::parse(&name).ok_or_else(|| {
                    ApiError::InvalidParams(format!("scopes: unknown scope {name:?}"))
                })?;
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
            scopes
        }
        None => match kind {
            TokenKind::User => user_scopes(),
            TokenKind::Client => client_scopes(),
        },
    };
    match kind {
        TokenKind::User => {
            let user_id = match &request.open_id {
                Some(open_id) => open_ids.user(&app.client_key, open_id).ok_or_else(|| {
                    ApiError::InvalidParams(format!(
                        "open_id: no creator {open_id:?} in the app {:?}",
                        app.client_key
                    ))
                })?,
                None => default_open_id(store).ok_or_else(|| {
                    ApiError::InvalidParams("no creator is registered".to_owned())
                })?,
            };
            let expires_in = request
                .expires_in
                .unwrap_or(ACCESS_TOKEN_TTL_SECONDS as i64);
            let refresh_expires_in = REFRESH_TOKEN_TTL_SECONDS as i64;
            let record = TokenRecord {
                access_token: random_token("act."),
                kind,
                open_id: Some(user_id.clone()),
                client_key: app.client_key.clone(),
                scopes: scopes.clone(),
                expires_at_ms: now_ms.saturating_add(expires_in.saturating_mul(1000)),
                refresh_token: Some(random_token("rft.")),
                refresh_expires_at_ms: Some(now_ms + refresh_expires_in * 1000),
                revoked: false,
            };
            store.put_token(record.clone());
            register_refresh(store, &record);
            Ok(TokenResponse {
                access_token: record.access_token,
                expires_in,
                open_id: Some(open_ids.of(&app.client_key, &user_id).into_owned()),
                refresh_token: record.refresh_token,
                refresh_expires_in: Some(refresh_expires_in),
                scope: Some(join_scopes(&scopes)),
                token_type: "Bearer".to_owned(),
            })
        }
        TokenKind::Client => {
            let expires_in = request
                .expires_in
                .unwrap_or(CLIENT_TOKEN_TTL_SECONDS as i64);
            let record = TokenRecord {
                access_token: random_token("clt."),
                kind,
                open_id: None,
                client_key: app.client_key,
                scopes,
                expires_at_ms: now_ms.saturating_add(expires_in.saturating_mul(1000)),
                refresh_token: None,
                refresh_expires_at_ms: None,
                revoked: false,
            };
            store.put_token(record.clone());
            Ok(TokenResponse {
                access_token: record.access_token,
                expires_in,
                open_id: None,
                refresh_token: None,
                refresh_expires_in: None,
                scope: None,
                token_type: "Bearer".to_owned(),
            })
        }
    }
}

/// Mints a user access token under an authorization (a refresh token and its expiry),
/// with the access-token lifetime of `settings`.
pub fn issue_user_token(
    store: &dyn Store,
    now_ms: i64,
    settings: &OAuthSettings,
    authorization: &RefreshRecord,
) -> TokenRecord {
    let record = TokenRecord {
        access_token: random_token("act."),
        kind: TokenKind::User,
        open_id: Some(authorization.open_id.clone()),
        client_key: authorization.client_key.clone(),
        scopes: authorization.scopes.clone(),
        expires_at_ms: now_ms
            .saturating_add(settings.access_token_ttl_seconds.saturating_mul(1000)),
        refresh_token: Some(authorization.refresh_token.clone()),
        refresh_expires_at_ms: Some(authorization.expires_at_ms),
        revoked: false,
    };
    store.put_token(record.clone());
    record
}

/// A token as the token endpoint answers it, its lifetimes counted from `now_ms`, its
/// `open_id` the app's.
pub fn token_response(record: &TokenRecord, open_ids: OpenIds<'_>, now_ms: i64) -> TokenResponse {
    let seconds_left = |at_ms: i64| at_ms.saturating_sub(now_ms).div_euclid(1000);
    TokenResponse {
        access_token: record.access_token.clone(),
        expires_in: seconds_left(record.expires_at_ms),
        open_id: record
            .open_id
            .as_deref()
            .map(|user_id| open_ids.of(&record.client_key, user_id).into_owned()),
        refresh_token: record.refresh_token.clone(),
        refresh_expires_in: record.refresh_expires_at_ms.map(seconds_left),
        scope: Some(join_scopes(&record.scopes)),
        token_type: "Bearer".to_owned(),
    }
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

/// Puts the demo tokens back in the store: every user scope and the read scopes, for the
/// creator with the most videos and the first app.
pub fn put_demo_tokens(store: &dyn Store, now_ms: i64, tokens: &DemoTokens) {
    let Some(open_id) = default_open_id(store) else {
        return;
    };
    let Some(app) = store.apps().into_iter().next() else {
        return;
    };
    for (access_token, scopes) in [
        (&tokens.full, user_scopes()),
        (&tokens.read_only, read_scopes()),
    ] {
        store.put_token(TokenRecord {
            access_token: access_token.clone(),
            kind: TokenKind::User,
            open_id: Some(open_id.clone()),
            client_key: app.client_key.clone(),
            scopes,
            expires_at_ms: now_ms + DEMO_TOKEN_TTL_SECONDS * 1000,
            refresh_token: None,
            refresh_expires_at_ms: None,
            revoked: false,
        });
    }
}

/// The scopes an endpoint involves: its own, its `scope_by` ones and its fields'.
fn endpoint_scopes(endpoint: &EndpointMeta) -> impl Iterator<Item = Scope> + '_ {
    let by_field = endpoint
        .scope_by
        .iter()
        .flat_map(|scope_by| scope_by.scopes.iter().map(|(_, scope)| *scope));
    let of_fields = endpoint
        .fields
        .iter()
        .flat_map(|param| param.schema.fields.iter().filter_map(|field| field.scope));
    endpoint
        .scopes
        .iter()
        .copied()
        .chain(by_field)
        .chain(of_fields)
}

/// The scopes of `Scope::ALL` (in that order) that some endpoint matching `keep` involves.
fn scopes_where(keep: impl Fn(&EndpointMeta) -> bool) -> Vec<Scope> {
    let used: Vec<Scope> = tiktok_api::ENDPOINTS
        .iter()
        .filter(|endpoint| keep(endpoint))
        .flat_map(|endpoint| endpoint_scopes(endpoint))
        .collect();
    Scope::ALL
        .iter()
        .copied()
        .filter(|scope| used.contains(scope))
        .collect()
}

/// Every scope a user token can use: those of the user-token endpoints (from the table).
pub fn user_scopes() -> Vec<Scope> {
    scopes_where(|endpoint| endpoint.auth == Auth::UserToken)
}

/// The scopes of client tokens: those of the client-token endpoints (research.data.basic).
pub fn client_scopes() -> Vec<Scope> {
    scopes_where(|endpoint| endpoint.auth == Auth::ClientToken)
}

/// The read scopes: those of the user-token read endpoints with `fields` (user info and
/// the video list and query), i.e. user.info.basic, .profile, .stats and video.list.
pub fn read_scopes() -> Vec<Scope> {
    scopes_where(|endpoint| {
        endpoint.auth == Auth::UserToken
            && endpoint.access == Access::Read
            && endpoint.fields.is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_come_from_the_table() {
        assert!(user_scopes().contains(&Scope::VideoList));
        assert_eq!(client_scopes(), vec![Scope::ResearchDataBasic]);
        assert!(!read_scopes().contains(&Scope::VideoPublish));
    }
}
