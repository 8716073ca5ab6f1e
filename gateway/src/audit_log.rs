//! The gateway's audit log where `audit:` puts it: a SQLite file or a Postgres database
//! shared by gateway processes on several machines (one hash chain either way). What
//! `serve`, the approvals and `audit tail | query | verify` write and read.

use anyhow::Context;
use tiktok_agent::{
    AuditError, AuditQuery, AuditRecord, AuditSink, ChainError, PgAuditLog, PgDatabase,
    SqliteAuditLog, StoredRecord,
};

use crate::config::Location;

/// The audit log, in SQLite or Postgres. Cheap to clone.
#[derive(Debug, Clone)]
pub enum AuditLog {
    /// A SQLite file.
    Sqlite(SqliteAuditLog),
    /// A Postgres database migrated by `tiktok-gateway migrate`.
    Postgres(PgAuditLog),
}

impl AuditLog {
    /// Opens (or creates) the log at `location`; a Postgres database is connected to when
    /// first used (see [`AuditLog::check`]).
    pub fn open(location: &Location) -> Result<AuditLog, AuditError> {
        Ok(match location {
            Location::File(path) => AuditLog::Sqlite(SqliteAuditLog::open(path)?),
            Location::Postgres(url) => {
                AuditLog::Postgres(PgAuditLog::new(PgDatabase::connect(url)?))
            }
        })
    }

    /// Opens the log at `location` for reading: a missing file is an error, not created.
    pub fn existing(location: &Location) -> anyhow::Result<AuditLog> {
        if let Location::File(path) = location
            && !path.exists()
        {
            anyhow::bail!("no audit log at {} yet", path.display());
        }
        AuditLog::open(location).with_context(|| format!("cannot open the audit log {location}"))
    }

    /// Every record, oldest first, as stored (not verified).
    pub async fn records(&self) -> Result<Vec<StoredRecord>, AuditError> {
        self.query(&AuditQuery::default()).await
    }

    /// The records `query` selects, oldest first, as stored (not verified).
    pub async fn query(&self, query: &AuditQuery) -> Result<Vec<StoredRecord>, AuditError> {
        match self {
            AuditLog::Sqlite(log) => log.query(query),
            AuditLog::Postgres(log) => log.query(query).await,
        }
    }

    /// Hands each record `query` selects to `each`, oldest first, as stored (not
    /// verified); from SQLite as they are read.
    pub async fn for_each<E: From<AuditError>>(
        &self,
        query: &AuditQuery,
        each: impl FnMut(StoredRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            AuditLog::Sqlite(log) => log.for_each(query, each),
            AuditLog::Postgres(log) => log.query(query).await?.into_iter().try_for_each(each),
        }
    }

    /// Whether the log can be written by this build: a Postgres database's schema must be
    /// exactly this build's (`tiktok-gateway migrate` creates or upgrades it).
    pub async fn check(&self) -> Result<(), AuditError> {
        match self {
            AuditLog::Sqlite(_) => Ok(()),
            AuditLog::Postgres(log) => {
                Ok(log.database().check_schema(crate::schema::SCHEMA).await?)
            }
        }
    }

    /// Walks the chain from the first record: how many there are, or the first bad one.
    pub async fn verify(&self) -> Result<u64, ChainError> {
        match self {
            AuditLog::Sqlite(log) => log.verify(),
            AuditLog::Postgres(log) => log.verify().await,
        }
    }
}

#[async_trait::async_trait]
impl AuditSink for AuditLog {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        match self {
            AuditLog::Sqlite(log) => log.record(record).await,
            AuditLog::Postgres(log) => log.record(record).await,
        }
    }
}
