//! The app's client access token (`clt.…`), for the endpoints called with one (the
//! Research API): minted with the app's credentials (`client_credentials`), kept until
//! shortly before it expires, minted again when TikTok calls it invalid; one mint at a time
//! for any number of concurrent callers of one [`Client`].

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::Answer;
use crate::meta::EndpointMeta;
use crate::tokens::{DEFAULT_REFRESH_AHEAD, unix_now};
use crate::{Client, Error, ErrorCode};

/// The cached client token of one [`Client`] and its expiry (Unix seconds).
#[derive(Debug, Default)]
pub(crate) struct AppTokenSlot {
    token: tokio::sync::Mutex<Option<(SecretString, i64)>>,
}

impl Client {
    /// The app's client access token: the cached one while it has more than five minutes
    /// left, else a new one minted with the app's credentials (which the builder must have).
    pub async fn app_access_token(&self) -> Result<SecretString, Error> {
        self.app_token_unless(None).await
    }

    /// The cached token unless it is `stale` (or expiring), else a freshly minted one.
    async fn app_token_unless(&self, stale: Option<&SecretString>) -> Result<SecretString, Error> {
        let mut slot = self.users.app.token.lock().await;
        if let Some((token, expires_at)) = slot.as_ref() {
            let fresh = *expires_at - DEFAULT_REFRESH_AHEAD.as_secs() as i64 > unix_now();
            let is_stale =
                stale.is_some_and(|stale| stale.expose_secret() == token.expose_secret());
            if fresh && !is_stale {
                return Ok(token.clone());
            }
        }
        let minted = self.client_credentials_token().await?;
        let token = SecretString::from(minted.access_token);
        *slot = Some((token.clone(), unix_now() + minted.expires_in));
        Ok(token)
    }

    /// Sends a call with the app's client token; a 401 `access_token_invalid` mints a new
    /// one (once) and sends the call again. For the endpoints called with the app's
    /// client token (`meta.auth` is `ClientToken`: the Research API).
    pub async fn execute_with_app_token<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<Answer<R>, Error> {
        let token = self.app_access_token().await?;
        match self
            .execute_answer(meta, Some(token.expose_secret()), fields.clone(), body)
            .await
        {
            Err(error) if error.code() == Some(&ErrorCode::AccessTokenInvalid) => {
                let fresh = self.app_token_unless(Some(&token)).await?;
                self.execute_answer(meta, Some(fresh.expose_secret()), fields, body)
                    .await
            }
            other => other,
        }
    }
}
