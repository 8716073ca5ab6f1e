//! The gateway's errors, one typed variant or sub-error per kind of failure, in one leaf
//! module every other module may name: [`GatewayError`] and the failures of accounts
//! ([`AccountError`]), login ([`LoginError`]), import ([`ImportError`]) and HTTP keys
//! and operator keys ([`KeyError`]).

use std::path::PathBuf;

use tiktok_agent::{AuditError, Error};

use crate::approvals::ApprovalError;
use crate::config::ConfigError;
use crate::secret::SecretError;
use crate::tools::ManifestError;

/// The variable `accounts import` reads the access token from.
pub const ACCESS_TOKEN_ENV: &str = "TIKTOK_ACCESS_TOKEN";
/// The variable `accounts import` reads the refresh token from.
pub const REFRESH_TOKEN_ENV: &str = "TIKTOK_REFRESH_TOKEN";

/// Why the gateway cannot start or act.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The app's client secret could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The built-in tool manifest does not parse.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The audit log could not be opened.
    #[error("cannot open the audit log {location}")]
    AuditLog {
        /// The audit log's file or database.
        location: crate::config::Location,
        /// Why.
        #[source]
        source: AuditError,
    },
    /// An account's tokens are missing, ambiguous or someone else's.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A login could not be finished.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Tokens could not be imported.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The agents' HTTP keys are missing or unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The approvals in the state file failed.
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// A call failed.
    #[error(transparent)]
    Agent(#[from] Error),
    /// The gateway itself refused a call its grant allows (an init asking for TikTok's
    /// upload URL); audited, nothing sent.
    #[error("{reason}")]
    Refused {
        /// The tool.
        tool: String,
        /// Why, for the agent.
        reason: String,
    },
    /// The client holds no app credentials (a gateway always gives it some).
    #[error("the app's credentials are missing")]
    NoCredentials,
    /// The client failed outside a call (building it, reading a token store).
    #[error(transparent)]
    Client(#[from] tiktok_api::Error),
    /// The state file failed.
    #[error(transparent)]
    State(#[from] tiktok_agent::StateError),
    /// A Postgres database of the config could not be used.
    #[error(transparent)]
    Postgres(#[from] tiktok_agent::PgError),
}

impl From<tiktok_agent::StoreError> for GatewayError {
    fn from(error: tiktok_agent::StoreError) -> GatewayError {
        match error {
            tiktok_agent::StoreError::Sqlite(error) => GatewayError::State(error),
            tiktok_agent::StoreError::Postgres(error) => GatewayError::Postgres(error),
        }
    }
}

/// An account's tokens cannot serve it.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The account's token store holds no user yet.
    #[error(
        "account {account} has no tokens in {store}: run `tiktok-gateway login --config {} --account {account}` or `accounts import`",
        config.display()
    )]
    NoTokens {
        /// The account.
        account: String,
        /// Its token store.
        store: crate::config::Location,
        /// The config file (for the command to run).
        config: PathBuf,
    },
    /// The account's token store holds several users and the config names none.
    #[error(
        "account {account}: {store} holds {} users; set accounts.{account}.open_id to one of {}",
        open_ids.len(),
        open_ids.join(", ")
    )]
    ManyUsers {
        /// The account.
        account: String,
        /// Its token store.
        store: crate::config::Location,
        /// The users it holds.
        open_ids: Vec<String>,
    },
    /// A token to be stored is another user's than the one the config names.
    #[error("the token is for {found}, but accounts.{account}.open_id is {expected}")]
    WrongUser {
        /// The account.
        account: String,
        /// The `open_id` the config names.
        expected: String,
        /// The token's `open_id`.
        found: String,
    },
}

/// Why `accounts import` stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A token's environment variable is not set (or blank).
    #[error("the environment variable {name} is not set")]
    EnvMissing {
        /// The variable.
        name: &'static str,
    },
    /// TikTok's answer to the refresh named no user.
    #[error("TikTok's answer to the refresh named no open_id")]
    NoOpenId,
    /// The access token and the refresh token belong to different users.
    #[error("{ACCESS_TOKEN_ENV} is {access_owner}'s but {REFRESH_TOKEN_ENV} is {refresh_owner}'s")]
    TwoUsers {
        /// The access token's user.
        access_owner: String,
        /// The refresh token's user.
        refresh_owner: String,
    },
}

/// Why a login stopped before the tokens were stored.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// `login --code` with no login started for the account.
    #[error(
        "no login in progress for account {account} (run `tiktok-gateway login` without --code first)"
    )]
    NoLoginInProgress {
        /// The account.
        account: String,
    },
    /// The login in progress could not be read.
    #[error("cannot read the login in progress {}", path.display())]
    PendingUnreadable {
        /// The file kept beside the token store.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file of the login in progress holds something else.
    #[error("{} does not hold a login in progress", path.display())]
    PendingCorrupt {
        /// The file kept beside the token store.
        path: PathBuf,
        /// What the JSON parser says.
        #[source]
        source: serde_json::Error,
    },
    /// The login in progress could not be kept for `--code`.
    #[error("cannot write {}", path.display())]
    PendingUnwritable {
        /// The file beside the token store.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--code` starts like a URL but does not parse as one.
    #[error("--code is not a URL")]
    NotAUrl(#[source] url::ParseError),
    /// TikTok's redirect says the user or TikTok refused.
    #[error("TikTok refused the login: {error} {description}")]
    Refused {
        /// TikTok's error code.
        error: String,
        /// TikTok's description (empty when it gave none).
        description: String,
    },
    /// The redirect's `state` is not this login's.
    #[error("the redirect's state does not match this login's (a stale or forged redirect)")]
    StateMismatch,
    /// The redirect carries no code.
    #[error("the redirect URL has no code")]
    NoCode,
    /// `tiktok.redirect_uri` does not parse.
    #[error("tiktok.redirect_uri {uri:?} is not a URL")]
    BadRedirectUri {
        /// The configured URI.
        uri: String,
        /// What the URL parser says.
        #[source]
        source: url::ParseError,
    },
    /// `tiktok.redirect_uri` points at another machine, where this one cannot listen.
    #[error("tiktok.redirect_uri {uri} is not on this machine: log in with --code instead")]
    NotLocal {
        /// The configured URI.
        uri: String,
    },
    /// The redirect's local port could not be listened on.
    #[error("cannot listen on port {port}")]
    Listen {
        /// The port of `tiktok.redirect_uri`.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The local redirect receiver stopped before a redirect came.
    #[error("the redirect receiver stopped")]
    ReceiverStopped,
}

/// Why no agent can connect over HTTP, or no operator sign in to the approval page.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An agent's `key_sha256` is not a SHA-256 in hex.
    #[error("agent {agent}: key_sha256 is not a SHA-256 in hex")]
    BadHash {
        /// The agent.
        agent: String,
        /// What the hex decoder says.
        #[source]
        source: hex::FromHexError,
    },
    /// No agent to serve has a key.
    #[error(
        "no agent{} in {} has a key_sha256: make one with `tiktok-gateway keys new`",
        only.as_ref().map(|only| format!(" {only}")).unwrap_or_default(),
        config.display()
    )]
    NoKeys {
        /// The one agent asked for, if only one.
        only: Option<String>,
        /// The config file.
        config: PathBuf,
    },
    /// The approval page is to be served, and no operator can sign in to it.
    #[error(
        "no operators in {}: make an operator key with `tiktok-gateway keys new --operator NAME` and put the lines it prints in the config",
        config.display()
    )]
    NoOperators {
        /// The config file.
        config: PathBuf,
    },
}
