//! Putting an account's tokens into its store: `login` (OAuth with PKCE: the authorize URL
//! printed, TikTok's redirect received on the local port of `tiktok.redirect_uri`, or the
//! code given with `--code` for machines without a browser) and `accounts import` (a token
//! pair from the environment); `accounts list`, what each store holds.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Deserialize;
use tiktok_api::oauth::Pkce;
use tiktok_api::{Error, Scope, StoredToken};

use crate::error::{AccountError, GatewayError, ImportError, LoginError};
use crate::gateway::Gateway;

pub use crate::error::{ACCESS_TOKEN_ENV, REFRESH_TOKEN_ENV};

fn unix_now() -> i64 {
    crate::now_ms() / 1000
}

/// Saves `token` as account `account`'s, after checking it is the configured user.
async fn save(gateway: &Gateway, account: &str, token: &StoredToken) -> Result<(), GatewayError> {
    if let Some(expected) = &gateway.config().account(account)?.open_id
        && *expected != token.open_id
    {
        return Err(AccountError::WrongUser {
            account: account.to_string(),
            expected: expected.clone(),
            found: token.open_id.clone(),
        }
        .into());
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
    let read = |name: &'static str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .ok_or(ImportError::EnvMissing { name })
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
    client.credentials().ok_or(GatewayError::NoCredentials)?;
    let token = client.refresh_access_token(refresh.trim()).await?;
    let stored = StoredToken::from_token(&token, "", unix_now(), None);
    if stored.open_id.is_empty() {
        return Err(ImportError::NoOpenId.into());
    }
    if let Some(owner) = owner
        && owner != stored.open_id
    {
        return Err(ImportError::TwoUsers {
            access_owner: owner,
            refresh_owner: stored.open_id,
        }
        .into());
    }
    save(gateway, account, &stored).await?;
    Ok(stored)
}

/// A login in progress: what `login --code` needs from the `login` that printed the URL.
#[derive(Deserialize)]
struct Pending {
    verifier: String,
    state: String,
    redirect_uri: String,
}

fn pending_path(gateway: &Gateway, account: &str) -> Result<PathBuf, GatewayError> {
    Ok(match &gateway.config().account(account)?.token_store {
        crate::config::Location::File(store) => store.with_extension("login.json"),
        // A login in progress belongs to this machine: beside the config.
        crate::config::Location::Postgres(_) => gateway
            .config()
            .file
            .with_file_name(format!("{account}.login.json")),
    })
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
    // The fields of `Pending`, as JSON text (a `Value` prints without failing).
    let pending = serde_json::json!({
        "verifier": pkce.verifier(),
        "state": state,
        "redirect_uri": redirect_uri,
    });
    let path = pending_path(gateway, account)?;
    tiktok_api::tokens::write_private(&path, pending.to_string().as_bytes()).map_err(|source| {
        LoginError::PendingUnwritable {
            path: path.clone(),
            source,
        }
    })?;
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
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            LoginError::NoLoginInProgress {
                account: account.to_string(),
            }
        } else {
            LoginError::PendingUnreadable {
                path: path.clone(),
                source,
            }
        }
    })?;
    let pending: Pending =
        serde_json::from_str(&text).map_err(|source| LoginError::PendingCorrupt {
            path: path.clone(),
            source,
        })?;
    let code = match code.trim() {
        redirect if redirect.starts_with("http://") || redirect.starts_with("https://") => {
            let url = url::Url::parse(redirect).map_err(LoginError::NotAUrl)?;
            let query = |name: &str| {
                url.query_pairs()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned())
            };
            if let Some(error) = query("error") {
                return Err(LoginError::Refused {
                    error,
                    description: query("error_description").unwrap_or_default(),
                }
                .into());
            }
            if query("state").as_deref() != Some(pending.state.as_str()) {
                return Err(LoginError::StateMismatch.into());
            }
            query("code").ok_or(LoginError::NoCode)?
        }
        code => code.to_string(),
    };
    let client = gateway.client();
    client.credentials().ok_or(GatewayError::NoCredentials)?;
    let token = client
        .exchange_code(&code, &pending.redirect_uri, Some(&pending.verifier))
        .await?;
    let stored = StoredToken::from_token(&token, "", unix_now(), None);
    save(gateway, account, &stored).await?;
    let _ = std::fs::remove_file(&path);
    Ok(stored)
}

/// Waits for TikTok's redirect on the local port of `tiktok.redirect_uri` and returns the
/// redirect URL it received (answering the browser with a short page).
pub async fn receive_redirect(gateway: &Gateway) -> Result<String, GatewayError> {
    let uri = &gateway.config().tiktok.redirect_uri;
    let redirect = url::Url::parse(uri).map_err(|source| LoginError::BadRedirectUri {
        uri: uri.clone(),
        source,
    })?;
    let host = redirect.host_str().unwrap_or("localhost");
    if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return Err(LoginError::NotLocal {
            uri: redirect.to_string(),
        }
        .into());
    }
    let port = redirect.port_or_known_default().unwrap_or(80);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| LoginError::Listen { port, source })?;
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
        .ok_or_else(|| LoginError::ReceiverStopped.into());
    // Let the browser have its page, then stop listening.
    let _ = stop.send(());
    let _ = server.await;
    url
}

/// `accounts list`: prints a line for each account of `gateway`'s config, its user, scopes
/// and token lifetimes, or why it has none.
pub async fn list(gateway: &Gateway) -> anyhow::Result<()> {
    for name in gateway.config().accounts.keys() {
        let line = match gateway.open_id(name).await {
            Ok(open_id) => {
                let token = gateway
                    .token_store(name)?
                    .load(&open_id)
                    .await
                    .map_err(Error::from)?;
                match token {
                    Some(token) => format!(
                        "{name} {open_id} scopes={} access_expires={} refresh_expires={}",
                        token.scope,
                        expiry(Some(token.access_expires_at)),
                        expiry(token.refresh_expires_at)
                    ),
                    None => format!("{name} {open_id} no tokens"),
                }
            }
            Err(error) => format!(
                "{name} not logged in: {}",
                tiktok_agent::error_chain(&error)
            ),
        };
        crate::terminal::print(&line)?;
    }
    Ok(())
}

/// A token's expiry (Unix seconds) as a UTC date, `expired` when it has passed.
pub fn expiry(at: Option<i64>) -> String {
    let Some(at) = at else {
        return "none".into();
    };
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64);
    let date = humantime::format_rfc3339_seconds(time).to_string();
    if time < std::time::SystemTime::now() {
        format!("{date}(expired)")
    } else {
        date
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{test_gateway, test_token};

    /// `finish_login`'s error for `code`, as a login error.
    async fn login_error(gateway: &Gateway, code: &str) -> LoginError {
        match finish_login(gateway, "demo", code).await {
            Err(GatewayError::Login(error)) => error,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_redirect_is_checked_before_any_code_is_exchanged() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", "");
        let error = login_error(&gateway, "a-code").await;
        assert!(
            matches!(&error, LoginError::NoLoginInProgress { account } if account == "demo"),
            "{error:?}"
        );

        let url = start_login(&gateway, "demo").unwrap();
        assert!(url.contains("code_challenge="), "{url}");
        let pending = std::fs::read_to_string(dir.path().join("tokens.login.json")).unwrap();
        let pending: Pending = serde_json::from_str(&pending).unwrap();
        let redirect = &pending.redirect_uri;
        let state = &pending.state;

        let error = login_error(&gateway, &format!("{redirect}?code=c&state=forged")).await;
        assert!(matches!(error, LoginError::StateMismatch), "{error:?}");
        let refused = format!("{redirect}?error=access_denied&error_description=no&state={state}");
        let error = login_error(&gateway, &refused).await;
        assert!(
            matches!(&error, LoginError::Refused { error, description } if error == "access_denied" && description == "no"),
            "{error:?}"
        );
        let error = login_error(&gateway, &format!("{redirect}?state={state}")).await;
        assert!(matches!(error, LoginError::NoCode), "{error:?}");
        let error = login_error(&gateway, "http://[::1").await;
        assert!(matches!(error, LoginError::NotAUrl(_)), "{error:?}");
        assert_eq!(error.to_string(), "--code is not a URL");

        std::fs::write(dir.path().join("tokens.login.json"), "not json").unwrap();
        let error = login_error(&gateway, "a-code").await;
        assert!(
            matches!(&error, LoginError::PendingCorrupt { path, .. } if path.ends_with("tokens.login.json")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn the_redirect_is_received_only_on_this_machine_on_a_free_port() {
        let dir = tempfile::tempdir().unwrap();
        let remote = test_gateway(
            dir.path(),
            ", redirect_uri: \"https://example.com/callback\"",
            "",
        );
        let error = receive_redirect(&remote).await.unwrap_err();
        assert!(
            matches!(&error, GatewayError::Login(LoginError::NotLocal { uri }) if uri == "https://example.com/callback"),
            "{error:?}"
        );
        // A port this test holds cannot be listened on.
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let local = test_gateway(
            dir.path(),
            &format!(", redirect_uri: \"http://127.0.0.1:{port}/callback\""),
            "",
        );
        let error = receive_redirect(&local).await.unwrap_err();
        let GatewayError::Login(LoginError::Listen { port: refused, .. }) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(*refused, port);
        assert!(std::error::Error::source(&error).is_some(), "{error:?}");
    }

    #[tokio::test]
    async fn a_token_of_another_user_than_the_configured_one_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let gateway = test_gateway(dir.path(), "", ", open_id: \"-000a\"");
        let error = save(&gateway, "demo", &test_token("-000b"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                GatewayError::Account(AccountError::WrongUser { expected, found, .. })
                    if expected == "-000a" && found == "-000b"
            ),
            "{error:?}"
        );
        let store = gateway.token_store("demo").unwrap();
        assert!(store.load("-000b").await.unwrap().is_none());
    }
}
