//! For the crate's tests: [`Backend`], the shared state of one test on SQLite or on a
//! throwaway Postgres cluster (skipped, saying why, where Postgres is not installed), and
//! `on_both_backends!`, which runs a test on each.

use tiktok_agent::testing::Postgres;

use crate::config::Location;
use crate::state::SharedState;

/// Where one test's state lives.
pub(crate) enum Backend {
    /// A SQLite state file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A migrated Postgres database.
    Postgres(Postgres),
}

impl Backend {
    /// A state file in a new temporary directory.
    pub(crate) fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A migrated cluster, or `None` where Postgres is not installed.
    pub(crate) async fn postgres() -> Option<Backend> {
        let postgres = Postgres::start()?;
        let database = tiktok_agent::PgDatabase::connect(&postgres.url()).unwrap();
        database.migrate().await.unwrap();
        Some(Backend::Postgres(postgres))
    }

    /// The location of the state, as `state:` would give it.
    pub(crate) fn location(&self) -> Location {
        match self {
            Backend::Sqlite(dir) => Location::File(dir.path().join("state.sqlite")),
            Backend::Postgres(postgres) => Location::Postgres(postgres.url()),
        }
    }

    /// A new handle on the state, as another process would open it.
    pub(crate) fn open(&self) -> SharedState {
        SharedState::open(&self.location()).unwrap()
    }
}

/// Runs each named test (an `async fn(Backend)` in scope) on both backends.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$test($crate::test_backends::Backend::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(backend) = $crate::test_backends::Backend::postgres().await {
                    super::$test(backend).await;
                }
            }
        }
    )*};
}

pub(crate) use on_both_backends;
