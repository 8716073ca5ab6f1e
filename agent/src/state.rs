//! SQLite files of an agent deployment: one way to open them (owner-only, WAL, full sync,
//! waiting for other processes' short transactions), [`StateFile`], the one connection
//! a gateway's approvals and budget counts share, and [`StoreError`], the failure of a
//! store shared by processes, on SQLite or on Postgres.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::Connection;

/// Why a SQLite file of the agent layer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file could not be created owner-only.
    #[error("cannot create {}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused to open or use the file.
    #[error("SQLite file {}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The blocking task that ran the statement stopped.
    #[error("the state file's worker stopped")]
    Worker(#[source] tokio::task::JoinError),
}

/// Why a store shared by a gateway's processes failed: its SQLite state file, or its
/// Postgres database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite state file failed.
    #[error(transparent)]
    Sqlite(#[from] StateError),
    /// The Postgres database failed.
    #[error(transparent)]
    Postgres(#[from] crate::postgres::PgError),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres(error.into())
    }
}

/// Opens (or creates, owner-only: these files hold agents' arguments) a SQLite file in WAL
/// mode with full sync, waiting up to 5 s for other processes' short transactions.
pub fn open_sqlite(path: &Path) -> Result<Connection, StateError> {
    tiktok_api::tokens::create_private(path).map_err(|source| StateError::Create {
        path: path.to_owned(),
        source,
    })?;
    let sqlite = |source| StateError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let connection = Connection::open(path).map_err(sqlite)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite)?;
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite)?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(sqlite)?;
    Ok(connection)
}

/// A gateway's state file: what several processes acting for the same agents share
/// (approvals, budget counts), behind one connection per process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: Arc<Path>,
    connection: Arc<Mutex<Connection>>,
}

impl StateFile {
    /// Opens (or creates, owner-only) the state file at `path`.
    pub fn open(path: &Path) -> Result<StateFile, StateError> {
        Ok(StateFile {
            path: Arc::from(path),
            connection: Arc::new(Mutex::new(open_sqlite(path)?)),
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection, here and now (it blocks on SQLite).
    pub fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        work(&mut self.connection.lock()).map_err(|source| StateError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        })
    }

    /// Runs `work` on the connection on a blocking thread, for async callers.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StateError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.with(work))
            .await
            .map_err(StateError::Worker)?
    }
}
