//! Where the authorization server keeps what it issued: [`OAuthStore`], registered clients,
//! authorization codes and tokens, each code and token known only by its SHA-256; and
//! [`SqliteOAuthStore`], its tables in the gateway's state file. A code is used once; a
//! refresh token is used once (its successor replaces it), and a second use of either
//! revokes every token of its grant (its family).

use async_trait::async_trait;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};
use tiktok_agent::{StateError, StateFile, StoreError};

/// A client registered through Dynamic Client Registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    /// Its id (random, issued at registration).
    pub client_id: String,
    /// The name it gave, shown on the consent page.
    pub client_name: String,
    /// Where authorization responses may be sent.
    pub redirect_uris: Vec<String>,
}

/// What an authorization code or a token was issued for: one client, acting as one agent,
/// at one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The grant's id, shared by every code and token issued from it.
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The agent the operator chose: the token acts as it.
    pub agent: String,
    /// The resource (RFC 8707) it is for: this server's `/mcp` URL.
    pub resource: String,
    /// Its scope.
    pub scope: String,
}

/// An authorization code's grant and what its exchange must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The grant.
    pub grant: Grant,
    /// The redirect URI the authorization request named, or empty if it named none.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
}

/// What presenting a single-use secret (a code, a refresh token) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Used<T> {
    /// Its first use, still within its lifetime.
    Fresh(T),
    /// Used before, or revoked: its family has now been revoked.
    Reused,
    /// Unknown or expired.
    Unknown,
}

/// The two kinds of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Sent to `/mcp`.
    Access,
    /// Exchanged at the token endpoint for a new pair.
    Refresh,
}

impl TokenKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// The authorization server's records, behind a trait so that another database can hold
/// them. Secrets are passed in clear and kept only as their SHA-256.
#[async_trait]
pub trait OAuthStore: Send + Sync + std::fmt::Debug {
    /// Registers `client`; false when `max_clients` are registered already.
    async fn register(
        &self,
        client: RegisteredClient,
        max_clients: u64,
    ) -> Result<bool, StoreError>;
    /// The registered client `client_id`, if any.
    async fn client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StoreError>;
    /// Keeps `code` for `code_record` until `expires_ms`.
    async fn insert_code(
        &self,
        code: &str,
        record: Code,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// Uses `code` at `now_ms`.
    async fn use_code(&self, code: &str, now_ms: i64) -> Result<Used<Code>, StoreError>;
    /// Keeps `token` of `kind` for `grant` until `expires_ms`.
    async fn insert_token(
        &self,
        token: &str,
        kind: TokenKind,
        grant: &Grant,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// The grant of live access token `token` at `now_ms`, if it is one.
    async fn access(&self, token: &str, now_ms: i64) -> Result<Option<Grant>, StoreError>;
    /// Uses refresh token `token` at `now_ms`.
    async fn use_refresh(&self, token: &str, now_ms: i64) -> Result<Used<Grant>, StoreError>;
    /// Revokes every token of the grant `token` (either kind) belongs to, if it is known
    /// and was issued to `client_id`; whether it was.
    async fn revoke(&self, token: &str, client_id: &str) -> Result<bool, StoreError>;
    /// Deletes the codes and tokens that expired more than [`KEPT_AFTER_EXPIRY_MS`] before
    /// `now_ms`; how many. Run by the gateway's periodic task, never on a request's way.
    async fn sweep(&self, now_ms: i64) -> Result<u64, StoreError>;
}

/// A secret's SHA-256, hex: what is stored instead of it.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY,
    client_name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code_sha256 TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    client_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_tokens (
    token_sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family TEXT NOT NULL,
    client_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oauth_tokens_family ON oauth_tokens (family);
";

/// How long a used or expired code or token is kept after its expiry, so that a late
/// second use is still recognised as one (and its family revoked).
pub const KEPT_AFTER_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

/// The OAuth tables in the gateway's state file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteOAuthStore {
    state: StateFile,
}

impl SqliteOAuthStore {
    /// The tables in `state`, created if missing.
    pub fn new(state: StateFile) -> Result<SqliteOAuthStore, StateError> {
        state.with(|connection| connection.execute_batch(TABLES))?;
        Ok(SqliteOAuthStore { state })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        Ok(self.state.run(work).await?)
    }
}

fn grant_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        family: row.get("family")?,
        client_id: row.get("client_id")?,
        agent: row.get("agent")?,
        resource: row.get("resource")?,
        scope: row.get("scope")?,
    })
}

fn revoke_family(connection: &rusqlite::Connection, family: &str) -> rusqlite::Result<()> {
    connection.execute(
        "UPDATE oauth_tokens SET revoked = 1 WHERE family = ?1",
        [family],
    )?;
    connection.execute(
        "UPDATE oauth_codes SET revoked = 1 WHERE family = ?1",
        [family],
    )?;
    Ok(())
}

/// The single-use secrets.
#[derive(Clone, Copy)]
enum SingleUse {
    Code,
    Refresh,
}

impl SingleUse {
    fn select(self) -> &'static str {
        match self {
            SingleUse::Code => "SELECT * FROM oauth_codes WHERE code_sha256 = ?1",
            SingleUse::Refresh => {
                "SELECT * FROM oauth_tokens WHERE token_sha256 = ?1 AND kind = 'refresh'"
            }
        }
    }

    fn spend(self) -> &'static str {
        match self {
            SingleUse::Code => "UPDATE oauth_codes SET used = 1 WHERE code_sha256 = ?1",
            SingleUse::Refresh => "UPDATE oauth_tokens SET used = 1 WHERE token_sha256 = ?1",
        }
    }
}

/// Uses the secret of `kind` whose hash is `hash`, read by `read`, at `now_ms`: its first
/// use within its lifetime is [`Used::Fresh`]; a second use, or a use after revocation,
/// revokes its whole family.
fn use_once<T>(
    connection: &mut rusqlite::Connection,
    kind: SingleUse,
    hash: &str,
    now_ms: i64,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    family: impl Fn(&T) -> String,
) -> rusqlite::Result<Used<T>> {
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found = transaction
        .query_row(kind.select(), [hash], |row| {
            let spent = row.get::<_, bool>("used")? || row.get("revoked")?;
            Ok((read(row)?, spent, row.get::<_, i64>("expires_ms")?))
        })
        .optional()?;
    let used = match found {
        None => Used::Unknown,
        Some((record, true, _)) => {
            revoke_family(&transaction, &family(&record))?;
            Used::Reused
        }
        Some((_, false, expires_ms)) if expires_ms <= now_ms => Used::Unknown,
        Some((record, false, _)) => {
            transaction.execute(kind.spend(), [hash])?;
            Used::Fresh(record)
        }
    };
    transaction.commit()?;
    Ok(used)
}

#[async_trait]
impl OAuthStore for SqliteOAuthStore {
    async fn register(
        &self,
        client: RegisteredClient,
        max_clients: u64,
    ) -> Result<bool, StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris).unwrap_or_default();
        self.run(move |connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let count: u64 =
                transaction
                    .query_row("SELECT COUNT(*) FROM oauth_clients", [], |row| row.get(0))?;
            if count >= max_clients {
                return Ok(false);
            }
            transaction.execute(
                "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![client.client_id, client.client_name, uris, crate::now_ms()],
            )?;
            transaction.commit()?;
            Ok(true)
        })
        .await
    }

    async fn client(&self, client_id: &str) -> Result<Option<RegisteredClient>, StoreError> {
        let client_id = client_id.to_string();
        self.run(move |connection| {
            connection
                .query_row(
                    "SELECT client_name, redirect_uris FROM oauth_clients WHERE client_id = ?1",
                    [&client_id],
                    |row| {
                        let uris: String = row.get(1)?;
                        Ok(RegisteredClient {
                            client_id: client_id.clone(),
                            client_name: row.get(0)?,
                            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
                        })
                    },
                )
                .optional()
        })
        .await
    }

    async fn insert_code(
        &self,
        code: &str,
        record: Code,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let code = hash(code);
        self.run(move |connection| {
            let grant = &record.grant;
            connection.execute(
                "INSERT INTO oauth_codes (code_sha256, family, client_id, agent, resource, scope,
                         redirect_uri, code_challenge, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    code,
                    grant.family,
                    grant.client_id,
                    grant.agent,
                    grant.resource,
                    grant.scope,
                    record.redirect_uri,
                    record.code_challenge,
                    expires_ms
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn use_code(&self, code: &str, now_ms: i64) -> Result<Used<Code>, StoreError> {
        let code = hash(code);
        self.run(move |connection| {
            let read = |row: &rusqlite::Row<'_>| {
                Ok(Code {
                    grant: grant_from(row)?,
                    redirect_uri: row.get("redirect_uri")?,
                    code_challenge: row.get("code_challenge")?,
                })
            };
            let family = |code: &Code| code.grant.family.clone();
            use_once(connection, SingleUse::Code, &code, now_ms, read, family)
        })
        .await
    }

    async fn insert_token(
        &self,
        token: &str,
        kind: TokenKind,
        grant: &Grant,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let token = hash(token);
        let grant = grant.clone();
        self.run(move |connection| {
            // Born revoked if its family was revoked while it was being issued (a reused
            // code or refresh token, a revocation): statements on the state file run one
            // at a time, so this and a revocation cannot interleave.
            connection.execute(
                "INSERT INTO oauth_tokens (token_sha256, kind, family, client_id, agent,
                         resource, scope, expires_ms, revoked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                         EXISTS (SELECT 1 FROM oauth_tokens WHERE family = ?3 AND revoked)
                         OR EXISTS (SELECT 1 FROM oauth_codes WHERE family = ?3 AND revoked))",
                rusqlite::params![
                    token,
                    kind.as_str(),
                    grant.family,
                    grant.client_id,
                    grant.agent,
                    grant.resource,
                    grant.scope,
                    expires_ms
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn access(&self, token: &str, now_ms: i64) -> Result<Option<Grant>, StoreError> {
        let token = hash(token);
        self.run(move |connection| {
            connection
                .query_row(
                    "SELECT * FROM oauth_tokens WHERE token_sha256 = ?1 AND kind = 'access'
                           AND revoked = 0 AND expires_ms > ?2",
                    rusqlite::params![token, now_ms],
                    grant_from,
                )
                .optional()
        })
        .await
    }

    async fn use_refresh(&self, token: &str, now_ms: i64) -> Result<Used<Grant>, StoreError> {
        let token = hash(token);
        self.run(move |connection| {
            let family = |grant: &Grant| grant.family.clone();
            use_once(
                connection,
                SingleUse::Refresh,
                &token,
                now_ms,
                grant_from,
                family,
            )
        })
        .await
    }

    async fn revoke(&self, token: &str, client_id: &str) -> Result<bool, StoreError> {
        let token = hash(token);
        let client_id = client_id.to_string();
        self.run(move |connection| {
            let family: Option<String> = connection
                .query_row(
                    "SELECT family FROM oauth_tokens WHERE token_sha256 = ?1 AND client_id = ?2",
                    [&token, &client_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(family) = &family {
                revoke_family(connection, family)?;
            }
            Ok(family.is_some())
        })
        .await
    }

    async fn sweep(&self, now_ms: i64) -> Result<u64, StoreError> {
        let before = now_ms - KEPT_AFTER_EXPIRY_MS;
        self.run(move |connection| {
            let codes =
                connection.execute("DELETE FROM oauth_codes WHERE expires_ms < ?1", [before])?;
            let tokens =
                connection.execute("DELETE FROM oauth_tokens WHERE expires_ms < ?1", [before])?;
            Ok((codes + tokens) as u64)
        })
        .await
    }
}
