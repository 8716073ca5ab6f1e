//! The authorization server's records in a Postgres database shared by gateways on several
//! machines: [`PgOAuthStore`], the same tables and rules as
//! [`SqliteOAuthStore`](super::store::SqliteOAuthStore). A code or refresh token is used
//! under its row's lock (`SELECT … FOR UPDATE`), so two gateways presented the same one at
//! once see one first use and one reuse.

use async_trait::async_trait;
use tiktok_agent::{PgDatabase, StoreError};
use tokio_postgres::Row;

use super::store::{
    Code, Grant, KEPT_AFTER_EXPIRY_MS, OAuthStore, RegisteredClient, TokenKind, Used, hash,
};

/// The OAuth tables of a Postgres database migrated by `tiktok-gateway migrate`. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct PgOAuthStore {
    database: PgDatabase,
}

impl PgOAuthStore {
    /// The tables in `database`.
    pub fn new(database: PgDatabase) -> PgOAuthStore {
        PgOAuthStore { database }
    }

    /// Uses the secret whose hash is `hash` in `table` (its key column `key`, only rows
    /// matching `only`) at `now_ms`, read by `read`: as the SQLite store's `use_once`.
    async fn use_once<T>(
        &self,
        table: &str,
        key: &str,
        only: &str,
        hash: &str,
        now_ms: i64,
        read: impl Fn(&Row) -> Result<T, tokio_postgres::Error>,
    ) -> Result<Used<T>, StoreError> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        let found = transaction
            .query_opt(
                &format!("SELECT * FROM {table} WHERE {key} = $1 {only} FOR UPDATE"),
                &[&hash],
            )
            .await?;
        let used = match found {
            None => Used::Unknown,
            Some(row) => {
                let spent = row.try_get::<_, bool>("used")? || row.try_get("revoked")?;
                let family: String = row.try_get("family")?;
                let expires_ms: i64 = row.try_get("expires_ms")?;
                if spent {
                    revoke_family(&transaction, &family).await?;
                    Used::Reused
                } else if expires_ms <= now_ms {
                    Used::Unknown
                } else {
                    transaction
                        .execute(
                            &format!("UPDATE {table} SET used = true WHERE {key} = $1"),
                            &[&hash],
                        )
                        .await?;
                    Used::Fresh(read(&row)?)
                }
            }
        };
        transaction.commit().await?;
        Ok(used)
    }
}

fn grant_from(row: &Row) -> Result<Grant, tokio_postgres::Error> {
    Ok(Grant {
        family: row.try_get("family")?,
        client_id: row.try_get("client_id")?,
        agent: row.try_get("agent")?,
        resource: row.try_get("resource")?,
        scope: row.try_get("scope")?,
    })
}

async fn revoke_family(
    transaction: &tokio_postgres::Transaction<'_>,
    family: &str,
) -> Result<(), tokio_postgres::Error> {
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&FAMILY_LOCK, &family],
        )
        .await?;
    for table in ["oauth_tokens", "oauth_codes"] {
        transaction
            .execute(
                &format!("UPDATE {table} SET revoked = true WHERE family = $1"),
                &[&family],
            )
            .await?;
    }
    Ok(())
}

/// The key of the advisory lock registration holds, so the count of clients and the insert
/// are one step across processes (`…_0001` is the migrations', `…_0002` the audit log's).
const REGISTER_LOCK: i64 = 0x7469_6b74_6f6b_0003;

/// The first key of the advisory lock a grant's family takes (the second is a hash of the
/// family) while it is revoked or a token is added to it, so no token is added to a family
/// as it is being revoked and outlives it.
const FAMILY_LOCK: i32 = 0x6661_6d6c;

#[async_trait]
impl OAuthStore for PgOAuthStore {
    async fn register(
        &self,
        client: RegisteredClient,
        max_clients: u64,
    ) -> Result<bool, StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris).unwrap_or_default();
        let mut connection = self.database.client().await?;
        let transaction = connection.transaction().await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&REGISTER_LOCK])
            .await?;
        let count: i64 = transaction
            .query_one("SELECT count(*) FROM oauth_clients", &[])
            .await?
            .get(0);
        if u64::try_from(count).unwrap_or(u64::MAX) >= max_clients {
            return Ok(false);
        }
        transaction
            .execute(
                "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, created_ms)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &client.client_id,
                    &client.client_name,
                    &uris,
                    &crate::now_ms(),
                ],
            )
            .await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StoreError> {
        let row = self
            .database
            .client()
            .await?
            .query_opt(
                "SELECT client_name, redirect_uris FROM oauth_clients WHERE client_id = $1",
                &[&client_id],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let uris: String = row.try_get(1)?;
        Ok(Some(RegisteredClient {
            client_id: client_id.to_string(),
            client_name: row.try_get(0)?,
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
        }))
    }

    async fn insert_code(
        &self,
        code: &str,
        record: Code,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let client = self.database.client().await?;
        let grant = &record.grant;
        client
            .execute(
                "INSERT INTO oauth_codes (code_sha256, family, client_id, agent, resource, scope,
                     redirect_uri, code_challenge, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &hash(code),
                    &grant.family,
                    &grant.client_id,
                    &grant.agent,
                    &grant.resource,
                    &grant.scope,
                    &record.redirect_uri,
                    &record.code_challenge,
                    &expires_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn use_code(&self, code: &str, now_ms: i64) -> Result<Used<Code>, StoreError> {
        let read = |row: &Row| {
            Ok(Code {
                grant: grant_from(row)?,
                redirect_uri: row.try_get("redirect_uri")?,
                code_challenge: row.try_get("code_challenge")?,
            })
        };
        self.use_once("oauth_codes", "code_sha256", "", &hash(code), now_ms, read)
            .await
    }

    async fn insert_token(
        &self,
        token: &str,
        kind: TokenKind,
        grant: &Grant,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.database.client().await?;
        // Under the family's lock, born revoked if the family was revoked meanwhile (a
        // reused code or refresh token, a revocation, while this one was being issued).
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&FAMILY_LOCK, &grant.family],
            )
            .await?;
        transaction
            .execute(
                "INSERT INTO oauth_tokens (token_sha256, kind, family, client_id, agent,
                     resource, scope, expires_ms, revoked)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                     EXISTS (SELECT 1 FROM oauth_tokens WHERE family = $3 AND revoked)
                     OR EXISTS (SELECT 1 FROM oauth_codes WHERE family = $3 AND revoked))",
                &[
                    &hash(token),
                    &kind.as_str(),
                    &grant.family,
                    &grant.client_id,
                    &grant.agent,
                    &grant.resource,
                    &grant.scope,
                    &expires_ms,
                ],
            )
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn access(&self, token: &str, now_ms: i64) -> Result<Option<Grant>, StoreError> {
        // Every call with an OAuth token reads this: prepared once a connection, its
        // columns named, so a later migration that adds columns leaves the cached
        // statement's result as it was (one that changes these columns' types needs the
        // gateways restarted, as any cached statement does).
        let client = self.database.client().await?;
        let access = client
            .prepare_cached(
                "SELECT family, client_id, agent, resource, scope FROM oauth_tokens
                 WHERE token_sha256 = $1 AND kind = 'access' AND NOT revoked AND expires_ms > $2",
            )
            .await?;
        let row = client.query_opt(&access, &[&hash(token), &now_ms]).await?;
        Ok(row.as_ref().map(grant_from).transpose()?)
    }

    async fn use_refresh(&self, token: &str, now_ms: i64) -> Result<Used<Grant>, StoreError> {
        let only = "AND kind = 'refresh'";
        self.use_once(
            "oauth_tokens",
            "token_sha256",
            only,
            &hash(token),
            now_ms,
            grant_from,
        )
        .await
    }

    async fn revoke(&self, token: &str, client_id: &str) -> Result<bool, StoreError> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        let family: Option<String> = transaction
            .query_opt(
                "SELECT family FROM oauth_tokens WHERE token_sha256 = $1 AND client_id = $2",
                &[&hash(token), &client_id],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        if let Some(family) = &family {
            revoke_family(&transaction, family).await?;
        }
        transaction.commit().await?;
        Ok(family.is_some())
    }

    async fn sweep(&self, now_ms: i64) -> Result<u64, StoreError> {
        let before = now_ms - KEPT_AFTER_EXPIRY_MS;
        let client = self.database.client().await?;
        let codes = client
            .execute("DELETE FROM oauth_codes WHERE expires_ms < $1", &[&before])
            .await?;
        let tokens = client
            .execute("DELETE FROM oauth_tokens WHERE expires_ms < $1", &[&before])
            .await?;
        Ok(codes + tokens)
    }
}
