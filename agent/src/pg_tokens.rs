//! TikTok users' tokens in a shared Postgres database ([`PgTokenStore`]), so that gateway
//! processes on several machines act for the same accounts: a refresh holds the user's
//! advisory lock from reading the stored tokens to saving the rotated ones, so one process
//! refreshes and the others, waiting, read what it saved; no refresh token is sent twice.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tiktok_api::tokens::RefreshGuard;
use tiktok_api::{StoredToken, TokenStore, TokenStoreError};

use crate::postgres::{PgDatabase, PgError};

/// The first key of the advisory lock a user's refresh holds (the second is a hash of the
/// user's `open_id`).
const REFRESH_LOCK: i32 = 0x746f_6b6e;

/// Tokens in a Postgres database migrated by [`PgDatabase::migrate`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PgTokenStore {
    database: PgDatabase,
}

impl PgTokenStore {
    /// The store in `database`.
    pub fn new(database: PgDatabase) -> PgTokenStore {
        PgTokenStore { database }
    }
}

fn failed(error: impl Into<PgError>) -> TokenStoreError {
    TokenStoreError::Other(crate::error_chain(&error.into()))
}

#[async_trait]
impl TokenStore for PgTokenStore {
    async fn load(&self, open_id: &str) -> Result<Option<StoredToken>, TokenStoreError> {
        let client = self.database.client().await.map_err(failed)?;
        let row = client
            .query_opt(
                "SELECT access_token, access_expires_at, refresh_token, refresh_expires_at, scope
                 FROM tokens WHERE open_id = $1",
                &[&open_id],
            )
            .await
            .map_err(failed)?;
        Ok(row.map(|row| StoredToken {
            open_id: open_id.to_owned(),
            access_token: SecretString::from(row.get::<_, String>(0)),
            access_expires_at: row.get(1),
            refresh_token: row.get::<_, Option<String>>(2).map(SecretString::from),
            refresh_expires_at: row.get(3),
            scope: row.get(4),
        }))
    }

    async fn save(&self, token: &StoredToken) -> Result<(), TokenStoreError> {
        let client = self.database.client().await.map_err(failed)?;
        let refresh_token = token
            .refresh_token
            .as_ref()
            .map(|secret| secret.expose_secret().to_owned());
        client
            .execute(
                "INSERT INTO tokens
                     (open_id, access_token, access_expires_at, refresh_token, refresh_expires_at, scope)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (open_id) DO UPDATE SET
                     access_token = excluded.access_token,
                     access_expires_at = excluded.access_expires_at,
                     refresh_token = excluded.refresh_token,
                     refresh_expires_at = excluded.refresh_expires_at,
                     scope = excluded.scope",
                &[
                    &token.open_id,
                    &token.access_token.expose_secret(),
                    &token.access_expires_at,
                    &refresh_token,
                    &token.refresh_expires_at,
                    &token.scope,
                ],
            )
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn remove(&self, open_id: &str) -> Result<(), TokenStoreError> {
        let client = self.database.client().await.map_err(failed)?;
        client
            .execute("DELETE FROM tokens WHERE open_id = $1", &[&open_id])
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Takes the user's session-level advisory lock on a connection taken out of the pool;
    /// dropping the guard closes that connection, and Postgres releases the lock with it
    /// (also when the process dies).
    async fn lock_refresh(&self, open_id: &str) -> Result<Option<RefreshGuard>, TokenStoreError> {
        let client = self.database.client().await.map_err(failed)?;
        let client = deadpool_postgres::Object::take(client);
        client
            .execute(
                "SELECT pg_advisory_lock($1, hashtext($2))",
                &[&REFRESH_LOCK, &open_id],
            )
            .await
            .map_err(failed)?;
        Ok(Some(Box::new(client)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tiktok_api::UserField;
    use tiktok_mock::testing::{Control, DEMO_OPEN_ID, client};

    use super::*;
    use crate::testing::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_processes_with_an_expired_token_refresh_it_once() {
        let Some(store) = Backend::postgres(crate::Schema::AGENT).await else {
            return;
        };
        let mock = tiktok_mock::MockServer::builder()
            .clock_kind(tiktok_mock::ClockKind::Manual)
            .start()
            .await;
        let control = Control::new(mock.uri());
        let minted = control.mint(DEMO_OPEN_ID, &["user.info.basic"]).await;
        let token: tiktok_api::Token = serde_json::from_value(minted).unwrap();
        let saved =
            StoredToken::from_token(&token, DEMO_OPEN_ID, crate::budget::now_ms() / 1000, None);
        PgTokenStore::new(store.database())
            .save(&saved)
            .await
            .unwrap();
        // The mock's clock passes the access token's lifetime; the clients do not know.
        control
            .post("/_mock/clock/advance", json!({"seconds": 7201}))
            .await;
        // Two clients, each with its own pool: two processes, each refreshing alone in
        // itself.
        let mut calls = Vec::new();
        for _ in 0..2 {
            let tokens = Arc::new(PgTokenStore::new(store.database()));
            let user = client(&control).await.user(tokens, DEMO_OPEN_ID);
            for _ in 0..10 {
                let user = user.clone();
                calls.push(tokio::spawn(async move {
                    user.user_info(&[UserField::OpenId]).await
                }));
            }
        }
        for call in calls {
            let info = call.await.unwrap().unwrap();
            assert_eq!(info.user.open_id.as_deref(), Some(DEMO_OPEN_ID));
        }
        let refreshes = control.calls_to("token").await;
        assert_eq!(refreshes.len(), 1, "{refreshes:#?}");
        let stored = PgTokenStore::new(store.database())
            .load(DEMO_OPEN_ID)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(
            stored.refresh_token.unwrap().expose_secret(),
            saved.refresh_token.unwrap().expose_secret(),
            "the rotated refresh token is stored"
        );
        // Removed, it is gone for every process.
        PgTokenStore::new(store.database())
            .remove(DEMO_OPEN_ID)
            .await
            .unwrap();
        let gone = PgTokenStore::new(store.database()).load(DEMO_OPEN_ID).await;
        assert!(gone.unwrap().is_none());
    }
}
