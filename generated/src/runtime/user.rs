//! A handle for one user: calls take no token; the handle loads it from a [`TokenStore`],
//! refreshes it ahead of expiry and when TikTok calls it invalid (once for any number of
//! concurrent callers), saves the rotated refresh token before using the new access token,
//! and clears the store on revoke.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::Answer;
use crate::meta::EndpointMeta;
use crate::tokens::{StoredToken, TokenStore, unix_now};
use crate::{Client, Error, ErrorCode, Revoked};

pub use crate::tokens::DEFAULT_REFRESH_AHEAD;

/// Per-user state shared by every handle of one [`Client`]: the lock that makes a refresh
/// single-flight, and a refreshed token the store could not save yet (so it is not lost).
#[derive(Debug, Default)]
pub(crate) struct UserSlots {
    slots: parking_lot::Mutex<HashMap<String, Arc<UserSlot>>>,
    /// The app's client token, shared the same way.
    pub(crate) app: crate::runtime::app_token::AppTokenSlot,
}

#[derive(Debug, Default)]
struct UserSlot {
    /// Held while refreshing; holds a token whose save failed, to be saved on next use.
    refresh: tokio::sync::Mutex<Option<Unsaved>>,
}

/// A refreshed token the store could not save, and the refresh token its refresh used up
/// (the one the store still holds): it is saved later only over that one, so a login made
/// since (a newer token) is kept.
#[derive(Debug, Clone)]
struct Unsaved {
    token: StoredToken,
    replaced: Option<String>,
}

impl Unsaved {
    /// Whether `stored` is still what this token's refresh replaced.
    fn replaces(&self, stored: Option<&StoredToken>) -> bool {
        let refresh = |token: &StoredToken| {
            token
                .refresh_token
                .as_ref()
                .map(|secret| secret.expose_secret().to_owned())
        };
        stored.is_some_and(|stored| refresh(stored) == self.replaced)
    }
}

impl UserSlots {
    fn slot(&self, open_id: &str) -> Arc<UserSlot> {
        self.slots
            .lock()
            .entry(open_id.to_string())
            .or_default()
            .clone()
    }
}

/// A user's handle: every user-token endpoint as a method without a token argument.
/// Cheap to clone. Made by [`Client::user`] (tokens in a [`TokenStore`], refreshed ahead of
/// expiry and on a 401, once however many calls wait), [`Client::connect_user`] (from the
/// OAuth callback) or [`Client::user_with_access_token`].
///
/// ```no_run
/// # async fn example() -> Result<(), tiktok_api::Error> {
/// use std::sync::Arc;
///
/// use tiktok_api::{Client, MemoryTokenStore, UserField};
///
/// let client = Client::builder().credentials("client_key", "client_secret").build()?;
/// let user = client.user(Arc::new(MemoryTokenStore::new()), "open-id");
/// let me = user.user_info(&[UserField::OpenId, UserField::DisplayName]).await?;
/// println!("{:?}", me.user.display_name);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UserClient {
    client: Client,
    store: Arc<dyn TokenStore>,
    open_id: String,
    /// Made from a bare access token: no user's open_id to name, nothing to refresh with.
    bare: bool,
    refresh_ahead: Duration,
}

impl Client {
    /// A handle for the user `open_id` whose tokens are in `store`.
    pub fn user(&self, store: Arc<dyn TokenStore>, open_id: impl Into<String>) -> UserClient {
        UserClient {
            client: self.clone(),
            store,
            open_id: open_id.into(),
            bare: false,
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
        }
    }

    /// A handle for a bare access token (e.g. from `TIKTOK_ACCESS_TOKEN`), kept in memory:
    /// no refresh token, so a rejected token ends in [`Error::ReauthorizationRequired`].
    pub fn user_with_access_token(&self, access_token: impl Into<String>) -> UserClient {
        // The key the token is kept under in its own memory store: what `open_id()` answers
        // for such a handle; errors name no user for it.
        let open_id = "access-token";
        let store = crate::MemoryTokenStore::with_token(StoredToken {
            open_id: open_id.to_string(),
            access_token: secrecy::SecretString::from(access_token.into()),
            access_expires_at: i64::MAX,
            refresh_token: None,
            refresh_expires_at: None,
            scope: String::new(),
        });
        UserClient {
            bare: true,
            ..self.user(Arc::new(store), open_id)
        }
    }

    /// Exchanges an authorization code (with its PKCE verifier, if the authorize URL had a
    /// challenge), saves the tokens in `store` and returns the user's handle.
    pub async fn connect_user(
        &self,
        store: Arc<dyn TokenStore>,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<UserClient, Error> {
        let token = self
            .exchange_code(code, redirect_uri, code_verifier)
            .await?;
        let open_id = token.open_id.clone().ok_or_else(|| Error::Decode {
            status: 200,
            message: "the token answer has no open_id".into(),
            body: String::new(),
            attempts: crate::Attempts::ONE,
        })?;
        let stored = StoredToken::from_token(&token, &open_id, unix_now(), None);
        store.save(&stored).await?;
        Ok(self.user(store, open_id))
    }
}

impl UserClient {
    /// Refreshes this long before the access token expires (default 5 minutes).
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// [`Error::ReauthorizationRequired`] for this user, because of `reason`, shown by
    /// TikTok's answer `rejected` if there was one.
    fn reauthorize(&self, reason: impl Into<String>, rejected: Option<Error>) -> Error {
        Error::ReauthorizationRequired {
            open_id: (!self.bare).then(|| self.open_id.clone()),
            reason: reason.into(),
            rejected: rejected.map(Box::new),
        }
    }

    /// The user.
    pub fn open_id(&self) -> &str {
        &self.open_id
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The user's current tokens, refreshed first if they expire soon.
    pub async fn token(&self) -> Result<StoredToken, Error> {
        let token = self.load().await?;
        if token.expires_within(unix_now(), self.refresh_ahead) {
            return self.refresh(&token, None).await;
        }
        Ok(token)
    }

    /// Refreshes the access token now, whatever its expiry.
    pub async fn refresh_now(&self) -> Result<StoredToken, Error> {
        let token = self.load().await?;
        self.refresh(&token, None).await
    }

    /// Revokes the user's access token at TikTok (refreshing it first if it has expired)
    /// and forgets the tokens in the store. No refresh can run meanwhile, so the tokens do
    /// not come back.
    pub async fn revoke(&self) -> Result<Revoked, Error> {
        self.client.require_credentials("revoking a token")?;
        let token = self.token().await?;
        let slot = self.client.users.slot(&self.open_id);
        let mut unsaved = slot.refresh.lock().await;
        let _shared = self.store.lock_refresh(&self.open_id).await?;
        let current = match unsaved.clone() {
            Some(pending) => pending.token,
            None => self.store.load(&self.open_id).await?.unwrap_or(token),
        };
        let revoked = self.client.revoke_token(current.access()).await?;
        self.store.remove(&self.open_id).await?;
        *unsaved = None;
        Ok(revoked)
    }

    /// Sends a call with the user's token; a 401 `access_token_invalid` refreshes the token
    /// (once, whoever else is refreshing) and sends the call again.
    pub(crate) async fn execute<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<R, Error> {
        self.execute_answer(meta, fields, body)
            .await
            .map(|answer| answer.value)
    }

    /// Calls `meta` with this user's token (refreshed once on a 401 `access_token_invalid`)
    /// and returns the decoded answer with its HTTP status and `log_id`: the one path every
    /// method of the handle takes, for callers that pick the endpoint at run time.
    pub async fn execute_answer<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<Answer<R>, Error> {
        let token = self.token().await?;
        match self
            .client
            .execute_answer(meta, Some(token.access()), fields.clone(), body)
            .await
        {
            Err(error) if error.code() == Some(&ErrorCode::AccessTokenInvalid) => {
                let fresh = self.refresh(&token, Some(error)).await?;
                self.client
                    .execute_answer(meta, Some(fresh.access()), fields, body)
                    .await
            }
            other => other,
        }
    }

    /// The stored tokens (or one refreshed but not yet saved).
    async fn load(&self) -> Result<StoredToken, Error> {
        let slot = self.client.users.slot(&self.open_id);
        {
            let mut unsaved = slot.refresh.lock().await;
            if let Some(pending) = unsaved.clone() {
                // A refresh whose save failed: saved now, under the lock other processes
                // refresh under, if the store still holds what it replaced; a token saved
                // since (a new login) is newer and wins.
                let Ok(_shared) = self.store.lock_refresh(&self.open_id).await else {
                    return Ok(pending.token);
                };
                match self.store.load(&self.open_id).await {
                    Ok(stored) if pending.replaces(stored.as_ref()) => {
                        if self.store.save(&pending.token).await.is_ok() {
                            *unsaved = None;
                        }
                        return Ok(pending.token);
                    }
                    Ok(_) => *unsaved = None,
                    Err(_) => return Ok(pending.token),
                }
            }
        }
        self.store
            .load(&self.open_id)
            .await?
            .ok_or_else(|| self.reauthorize("no tokens stored for this user", None))
    }

    /// Refreshes `stale` unless another caller already did: the first caller takes the
    /// slot's lock and refreshes; the others wait for it and find a newer token.
    /// `rejected` is TikTok's answer that showed the token stale (a 401), if one did.
    async fn refresh(
        &self,
        stale: &StoredToken,
        rejected: Option<Error>,
    ) -> Result<StoredToken, Error> {
        let slot = self.client.users.slot(&self.open_id);
        let mut unsaved = slot.refresh.lock().await;
        // Other processes sharing the store wait too; what they saved is read after it.
        let _shared = self.store.lock_refresh(&self.open_id).await?;
        let stored = self.store.load(&self.open_id).await?;
        if unsaved
            .as_ref()
            .is_some_and(|pending| !pending.replaces(stored.as_ref()))
        {
            // Saved since (a new login): newer than the refresh that could not be saved.
            *unsaved = None;
        }
        let replaced = unsaved.as_ref().map(|pending| pending.replaced.clone());
        let current = match (unsaved.clone(), stored) {
            (Some(pending), _) => pending.token,
            (None, Some(token)) => token,
            (None, None) => {
                return Err(self.reauthorize("no tokens stored for this user", rejected));
            }
        };
        if current.access() != stale.access() && !current.expires_within(unix_now(), Duration::ZERO)
        {
            return Ok(current);
        }
        let Some(refresh_token) = current.refresh_token.as_ref() else {
            let reason = if rejected.is_some() {
                "TikTok refused the access token, and there is no refresh token"
            } else {
                "the access token expires and there is no refresh token"
            };
            return Err(self.reauthorize(reason, rejected));
        };
        let answer = self
            .client
            .refresh_access_token(refresh_token.expose_secret())
            .await;
        let token = match answer {
            Ok(token) => token,
            Err(error) if error.code() == Some(&ErrorCode::InvalidGrant) => {
                // Another client or process sharing the store may have rotated it.
                if let Some(stored) = self.store.load(&self.open_id).await?
                    && stored
                        .refresh_token
                        .as_ref()
                        .map(ExposeSecret::expose_secret)
                        != Some(refresh_token.expose_secret())
                    && !stored.expires_within(unix_now(), Duration::ZERO)
                {
                    return Ok(stored);
                }
                return Err(self.reauthorize("TikTok refused the refresh token", Some(error)));
            }
            Err(error @ Error::Decode { .. }) => {
                // TikTok answered and has rotated the refresh token, but the answer could
                // not be read: the new tokens are lost.
                return Err(self.reauthorize("the refresh answer could not be read", Some(error)));
            }
            Err(error) => return Err(error),
        };
        let fresh = StoredToken::from_token(&token, &self.open_id, unix_now(), Some(&current));
        // The old refresh token is dead now: keep the new one before anything else.
        if let Err(error) = self.store.save(&fresh).await {
            // What the store holds: the token this refresh used, or, if that one was
            // unsaved too, what its own refresh replaced.
            let replaced = replaced.unwrap_or_else(|| {
                current
                    .refresh_token
                    .as_ref()
                    .map(|secret| secret.expose_secret().to_owned())
            });
            *unsaved = Some(Unsaved {
                token: fresh,
                replaced,
            });
            return Err(error.into());
        }
        *unsaved = None;
        Ok(fresh)
    }
}
