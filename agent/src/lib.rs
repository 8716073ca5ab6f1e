//! Agents on the TikTok v2 API: each agent gets exactly the access it needs, scope by scope,
//! and every call is checked and logged. Built on `tiktok-api`'s client and its generated
//! tables; knows nothing of MCP (`tiktok-gateway` serves this to agents over MCP).
//!
//! Where each thing lives:
//! - a grant's rules: [`Grant`] (scopes, access, allow-list, budget sizes), checked against
//!   the endpoint and schema tables when built and on every call; [`DenyReason`] says why a
//!   call is refused;
//! - a budget's count: a [`BudgetLedger`], in memory ([`MemoryLedger`]) or in a state file
//!   shared by processes ([`SqliteLedger`] on a [`StateFile`]), or in a Postgres database
//!   shared by processes on several machines ([`PgLedger`] on a [`PgDatabase`]);
//! - a tool call's arguments: [`tools`], checked against the same tables `tools.json` is
//!   generated from;
//! - an audit record: [`AuditRecord`], written to every [`AuditSink`] before the call's
//!   answer returns ([`TracingAuditSink`], the hash-chained [`SqliteAuditLog`] with
//!   [`SqliteAuditLog::verify`], and [`PgAuditLog`], the same chain in Postgres);
//! - a TikTok user's tokens, shared by processes on several machines: [`PgTokenStore`]
//!   (a refresh runs once for all of them);
//! - the call itself: [`GrantedClient`], a `tiktok_api::UserClient` narrowed by a grant.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use tiktok_agent::{Grant, GrantedClient, SqliteAuditLog};
//! use tiktok_api::{Client, FileTokenStore, Scope};
//!
//! let client = Client::builder().credentials("client_key", "client_secret").build()?;
//! let user = client.user(Arc::new(FileTokenStore::new("tokens.json")), "open-id");
//! let grant = Grant::builder()
//!     .scopes([Scope::UserInfoBasic, Scope::VideoList])
//!     .read()
//!     .calls_per_minute(20)
//!     .build()?;
//! let agent = GrantedClient::new(user, grant, "reader")
//!     .audit_to(Arc::new(SqliteAuditLog::open("audit.sqlite")?));
//! let videos = agent
//!     .call_tool("video_list", serde_json::json!({"fields": ["id", "title"], "max_count": 5}))
//!     .await?;
//! println!("{videos}");
//! # Ok(())
//! # }
//! ```

mod audit;
mod audit_chain;
mod audit_pg;
mod audit_sqlite;
#[cfg(test)]
mod backend_tests;
mod budget;
mod error;
mod escape;
mod grant;
mod granted;
mod group_commit;
pub mod jobs;
mod pg_ledger;
mod pg_tokens;
mod postgres;
mod sqlite_ledger;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tools;

pub use audit::{
    AuditError, AuditRecord, AuditSink, Decision, TracingAuditSink, canonical_json,
    redact_arguments,
};
pub use audit_chain::ChainError;
pub use audit_pg::PgAuditLog;
pub use audit_sqlite::{AuditQuery, GENESIS_HASH, SqliteAuditLog, StoredRecord};
pub use budget::{Budget, BudgetError, BudgetLedger, BudgetLimit, Exhausted, MemoryLedger};
pub use error::{Error, error_chain};
pub use escape::{escape_controls, escape_json, is_unsafe_char};
pub use grant::{DenyReason, Grant, GrantBuilder, GrantError};
pub use granted::GrantedClient;
pub use pg_ledger::PgLedger;
pub use pg_tokens::PgTokenStore;
pub use postgres::{Migration, PgDatabase, PgError, PgTimeouts, Schema};
pub use sqlite_ledger::SqliteLedger;
pub use state::{StateError, StateFile, StoreError};
