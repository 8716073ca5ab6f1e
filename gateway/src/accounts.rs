//! Putting an account's tokens into its store: `login` (OAuth with PKCE: the authorize URL
//! printed, TikTok's redirect received on the local port of `tiktok.redirect_uri`, or the
//! code given with `--code` for machines without a browser) and `accounts import` (a token
//! pair from the environment).

use std::collections::BTreeSet;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tiktok_api::oauth::Pkce;
use tiktok_api::{Error, Scope, StoredToken, TokenStore};

use crate::gateway::{Gateway, GatewayError};

/// The variable `accounts import` reads the access token from.
pub const ACCESS_TOKEN_ENV: &str = "TIKTOK_ACCESS_TOKEN";
/// The variable `accounts import` reads the refresh token from.
pub const REFRESH_TOKEN_ENV: &str = "TIKTOK_REFRESH_TOKEN";

fn unix_now() -> i64 {
    crate::now_ms() / 1000
}

fn setup(message: String) -> GatewayError {
    GatewayError::Setup(message)
}

/// Saves `token` as account `account`'s, after checking it is the configured user.
async fn save(gateway: &Gateway, account: &str, token: &StoredToken) -> Result<(), GatewayError> {
    if let Some(expected) = &gateway.config().account(account)?.open_id
        && *expected != token.open_id
    {
        return Err(setup(format!(
            "the token is for {}, but accounts.{account}.open_id is {expected}",
            token.open_id
        )));
    }
    gateway
        .token_store(account)?
        .save(token)
        .await
        .map_err(Error::from)?;
    Ok(())
}

/// `accounts import`: reads the token pair from the environment and stores it. The refresh
/// token is used at once, because only a refresh tells the user, the scopes and the
/// lifetimes; the access token given, if still valid, must belong to the same user.
pub async fn import(gateway: &Gateway, account: &str) -> Result<StoredToken, GatewayError> {
    let read = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| setup(format!("the environment variable {name} is not set")))
    };
    let access = read(ACCESS_TOKEN_ENV)?;
    let refresh = read(REFRESH_TOKEN_ENV)?;
    gateway.config().account(account)?;
    let client = gateway.client();
    let owner = client
        .user_with_access_token(access.trim())
        .user_info(&[tiktok_api::UserField::OpenId])
        .await
        .ok()
        .and_then(|info| info.user.open_id);
    let credentials = client
        .credentials()
        .ok_or_else(|| setup("the app's credentials are missing".into()))?;
    let token = client
        .refresh_access_token(
            &credentials.client_key,
            credentials.client_secret.expose_secret(),
            refresh.trim(),
        )
        .await?;
    let stored = StoredToken::from_token(&token, "", unix_now(), None);
    if stored.open_id.is_empty() {
        return Err(setup(
            "TikTok's answer to the refresh named no open_id".into(),
        ));
    }
    if let Some(owner) = owner
        && owner != stored.open_id
    {
        return Err(setup(format!(
            "{ACCESS_TOKEN_ENV} is {owner}'s but {REFRESH_TOKEN_ENV} is {}'s",
            stored.open_id
        )));
    }
    save(gateway, account, &stored).await?;
    Ok(stored)
}

/// A login in progress: what `login --code` needs from the `login` that printed the URL.
#[derive(Serialize, Deserialize)]
struct Pending {
    verifier: String,
    state: String,
    redirect_uri: String,
}

fn pending_path(gateway: &Gateway, account: &str) -> Result<PathBuf, GatewayError> {
    let store = &gateway.config().account(account)?.token_store;
    Ok(store.with_extension("login.json"))
}

/// The scopes to ask for: every scope granted to an agent on this account.
fn wanted_scopes(gateway: &Gateway, account: &str) -> Vec<Scope> {
    let scopes: BTreeSet<Scope> = gateway
        .config()
        .agents
        .values()
        .filter(|agent| agent.account == account)
        .flat_map(|agent| agent.scopes.iter().copied())
        // The app's own scopes (research) are not the user's to grant.
        .filter(|scope| !crate::gateway::is_app_scope(*scope))
        .chain([Scope::UserInfoBasic])
        .collect();
    scopes.into_iter().collect()
}

/// Starts a login: a fresh PKCE verifier and state, kept beside the token store (owner
/// only) for `--code`; returns the authorize URL.
pub fn start_login(gateway: &Gateway, account: &str) -> Result<String, GatewayError> {
    let pkce = Pkce::generate();
    let state = hex::encode(rand::random::<[u8; 16]>());
    let redirect_uri = gateway.config().tiktok.redirect_uri.clone();
    let url = gateway
        .client()
        .authorize_url(redirect_uri.clone())?
        .scopes(&wanted_scopes(gateway, account))
        .state(state.clone())
        .pkce(&pkce)
        .build();
    let pending = Pending {
        verifier: pkce.verifier().to_string(),
        state,
        redirect_uri,
    };
    let path = pending_path(gateway, account)?;
    let text = serde_json::to_string(&pending).map_err(|error| setup(error.to_string()))?;
    tiktok_api::tokens::write_private(&path, text.as_bytes())
        .map_err(|error| setup(format!("cannot write {}: {error}", path.display())))?;
    Ok(url)
}

/// Finishes a login with `code` (a code, or the whole redirect URL TikTok sent the browser
/// to, whose `state` is then checked): exchanges it with the kept verifier and stores the
/// tokens.
pub async fn finish_login(
    gateway: &Gateway,
    account: &str,
    code: &str,
) -> Result<StoredToken, GatewayError> {
    let path = pending_path(gateway, account)?;
    let text = std::fs::read_to_string(&path).map_err(|_| {
        setup(format!(
            "no login in progress for account {account} (run `tiktok-gateway login` without --code first)"
        ))
    })?;
    let pending: Pending = serde_json::from_str(&text)
        .map_err(|error| setup(format!("{}: {error}", path.display())))?;
    let code = match code.trim() {
        redirect if redirect.starts_with("http://") || redirect.starts_with("https://") => {
            let url = url::Url::parse(redirect)
                .map_err(|error| setup(format!("--code: not a URL: {error}")))?;
            let query = |name: &str| {
                url.query_pairs()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned())
            };
            if let Some(error) = query("error") {
                return Err(setup(format!(
                    "TikTok refused the login: {error} {}",
                    query("error_description").unwrap_or_default()
                )));
            }
            if query("state").as_deref() != Some(pending.state.as_str()) {
                return Err(setup(
                    "the redirect's state does not match this login's (a stale or forged redirect)"
                        .into(),
                ));
            }
            query("code").ok_or_else(|| setup("the redirect URL has no code".into()))?
        }
        code => code.to_string(),
    };
    let client = gateway.client();
    let credentials = client
        .credentials()
        .ok_or_else(|| setup("the app's credentials are missing".into()))?;
    let token = client
        .exchange_code(
            &credentials.client_key,
            credentials.client_secret.expose_secret(),
            &code,
            &pending.redirect_uri,
            Some(&pending.verifier),
        )
        .await?;
    let stored = StoredToken::from_token(&token, "", unix_now(), None);
    save(gateway, account, &stored).await?;
    let _ = std::fs::remove_file(&path);
    Ok(stored)
}

/// Waits for TikTok's redirect on the local port of `tiktok.redirect_uri` and returns the
/// redirect URL it received (answering the browser with a short page).
pub async fn receive_redirect(gateway: &Gateway) -> Result<String, GatewayError> {
    let redirect = url::Url::parse(&gateway.config().tiktok.redirect_uri)
        .map_err(|error| setup(format!("tiktok.redirect_uri: {error}")))?;
    let host = redirect.host_str().unwrap_or("localhost");
    if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return Err(setup(format!(
            "tiktok.redirect_uri {redirect} is not on this machine: log in with --code instead"
        )));
    }
    let port = redirect.port_or_known_default().unwrap_or(80);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| setup(format!("cannot listen on port {port}: {error}")))?;
    let (sender, mut received) = tokio::sync::mpsc::channel::<String>(1);
    let base = redirect.clone();
    let app = axum::Router::new().route(
        redirect.path(),
        axum::routing::get(move |uri: axum::http::Uri| {
            let sender = sender.clone();
            let mut url = base.clone();
            url.set_query(uri.query());
            async move {
                let _ = sender.send(url.to_string()).await;
                "Logged in: you can close this page and go back to the terminal."
            }
        }),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let url = received
        .recv()
        .await
        .ok_or_else(|| setup("the redirect receiver stopped".into()));
    // Let the browser have its page, then stop listening.
    let _ = stop.send(());
    let _ = server.await;
    url
}
