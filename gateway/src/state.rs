//! The state every process of a gateway shares, where `state:` puts it: [`SharedState`],
//! the SQLite state file or a Postgres database (migrated by `tiktok-gateway migrate`).
//! Each of its stores (approvals, budget counts, the OAuth server's records) is opened
//! here, behind its trait, so that nothing else asks which backend it is.

use std::sync::Arc;

use tiktok_agent::{
    BudgetLedger, BudgetLimit, PgDatabase, PgLedger, SqliteLedger, StateFile, StoreError,
};

use crate::approvals::{ApprovalStore, PgApprovals, SqliteApprovals};
use crate::config::Location;
use crate::oauth::store::{OAuthStore, SqliteOAuthStore};
use crate::oauth::store_pg::PgOAuthStore;

/// The shared state's backend. Cheap to clone.
#[derive(Debug, Clone)]
pub enum SharedState {
    /// A SQLite file every process on this machine opens, and the budget counts in it.
    Sqlite(StateFile, SqliteLedger),
    /// A Postgres database gateways on several machines share.
    Postgres(PgDatabase),
}

impl SharedState {
    /// Opens (or creates) the state at `location`; a Postgres database is connected to when
    /// first used.
    pub fn open(location: &Location) -> Result<SharedState, StoreError> {
        Ok(match location {
            Location::File(path) => {
                let state = StateFile::open(path)?;
                let ledger = SqliteLedger::new(state.clone())?;
                SharedState::Sqlite(state, ledger)
            }
            Location::Postgres(url) => SharedState::Postgres(PgDatabase::connect(url)?),
        })
    }

    /// The Postgres database, if the state is in one.
    pub fn database(&self) -> Option<&PgDatabase> {
        match self {
            SharedState::Sqlite(..) => None,
            SharedState::Postgres(database) => Some(database),
        }
    }

    /// The approvals (in a state file, their table created or brought up to date).
    pub fn approvals(&self) -> Result<Arc<dyn ApprovalStore>, StoreError> {
        Ok(match self {
            SharedState::Sqlite(state, _) => Arc::new(SqliteApprovals::new(state.clone())?),
            SharedState::Postgres(database) => Arc::new(PgApprovals::new(database.clone())),
        })
    }

    /// The agents' budget counts.
    pub fn ledger(&self) -> Arc<dyn BudgetLedger> {
        match self {
            SharedState::Sqlite(_, ledger) => Arc::new(ledger.clone()),
            SharedState::Postgres(database) => Arc::new(PgLedger::new(database.clone())),
        }
    }

    /// The OAuth authorization server's clients, codes and tokens.
    pub fn oauth(&self) -> Result<Arc<dyn OAuthStore>, StoreError> {
        Ok(match self {
            SharedState::Sqlite(state, _) => Arc::new(SqliteOAuthStore::new(state.clone())?),
            SharedState::Postgres(database) => Arc::new(PgOAuthStore::new(database.clone())),
        })
    }

    /// How many of `agent`'s calls count against `limit` at `now_ms`, read without
    /// counting anything: what an operator is shown of a budget.
    pub async fn used(
        &self,
        agent: &str,
        limit: &BudgetLimit,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        Ok(match self {
            SharedState::Sqlite(_, ledger) => ledger.used(agent, limit, now_ms).await?,
            SharedState::Postgres(database) => {
                PgLedger::new(database.clone())
                    .used(agent, limit, now_ms)
                    .await?
            }
        })
    }

    /// Whether the state answers and, in Postgres, has this build's schema.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            SharedState::Sqlite(state, _) => Ok(state
                .run(|connection| {
                    connection.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                })
                .await?),
            SharedState::Postgres(database) => {
                Ok(database.check_schema(crate::schema::SCHEMA).await?)
            }
        }
    }
}

/// A new handle on a test's state, as another process would open it.
#[cfg(test)]
pub(crate) fn open_backend(backend: &tiktok_agent::testing::Backend) -> SharedState {
    use tiktok_agent::testing::Backend;
    let location = match backend {
        Backend::Sqlite(_) => Location::File(backend.sqlite_path("state.sqlite")),
        Backend::Postgres(postgres) => Location::Postgres(postgres.url()),
    };
    SharedState::open(&location).unwrap()
}
