//! A Postgres database that gateway processes on several machines share: [`PgDatabase`], a
//! small pool of connections to it, and its schema, versioned in `schema_version`: a
//! [`Schema`] is the agent's [`Migration`]s and those of the crate built on it, one
//! sequence of versions; [`PgDatabase::migrate`] creates or upgrades it, and
//! [`PgDatabase::check_schema`] refuses to work on an older or a newer one. Connections are
//! made without TLS: reach the database over a unix socket or a private network.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

/// One step of a schema: the version it brings a database to, what it creates, and its
/// statements. Each crate keeps the steps of its own tables; [`Schema`] puts them in one
/// sequence of versions, recorded in `schema_version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the database has once this step is applied: the steps of every crate
    /// count 1, 2, … in one sequence.
    pub version: i32,
    /// What the step creates, in a few words.
    pub name: &'static str,
    /// The statements, run in the migration's transaction.
    pub statements: &'static str,
}

/// The agent's steps: version 1, the audit log, budget uses and TikTok tokens.
const AGENT_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "the audit log, budget uses and TikTok tokens",
    statements: "
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    agent TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    decision TEXT NOT NULL,
    entry TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_agent_time ON audit (agent, time_ms);
CREATE INDEX audit_time ON audit (time_ms);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TABLE budget_use (
    agent TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    write BOOLEAN NOT NULL,
    time_ms BIGINT NOT NULL,
    hold TEXT
);
CREATE INDEX budget_use_agent_time ON budget_use (agent, time_ms);
CREATE TABLE tokens (
    open_id TEXT PRIMARY KEY,
    access_token TEXT NOT NULL,
    access_expires_at BIGINT NOT NULL,
    refresh_token TEXT,
    refresh_expires_at BIGINT,
    scope TEXT NOT NULL
);
",
}];

/// The schema a build writes and needs: the agent's steps, then those of the crate built on
/// it (the gateway's approvals and OAuth records), whose versions continue the agent's.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    more: &'static [Migration],
}

impl Schema {
    /// The agent's tables alone.
    pub const AGENT: Schema = Schema { more: &[] };

    /// The agent's steps followed by `more`.
    pub const fn with(more: &'static [Migration]) -> Schema {
        Schema { more }
    }

    /// Every step in version order. Panics unless the versions are 1, 2, … with no gap and
    /// no repeat: a mistake of the build, not of the database.
    pub fn steps(&self) -> Vec<&'static Migration> {
        let mut steps: Vec<&'static Migration> = AGENT_MIGRATIONS.iter().chain(self.more).collect();
        steps.sort_by_key(|step| step.version);
        for (expected, step) in (1..).zip(&steps) {
            assert_eq!(
                step.version, expected,
                "migration {:?} has version {}, expected {expected}",
                step.name, step.version
            );
        }
        steps
    }

    /// The version a database of this schema has once migrated.
    pub fn version(&self) -> i32 {
        self.steps().last().map_or(0, |step| step.version)
    }
}

/// The advisory lock key that serializes migrations (`tiktok-gateway migrate` run twice at
/// once applies each version once).
const MIGRATE_LOCK: i64 = 0x7469_6b74_6f6b_0001;

/// Why a Postgres database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The URL is not a Postgres connection string.
    #[error("not a Postgres URL")]
    Url(#[source] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("cannot connect to the Postgres database")]
    Connect(#[source] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("Postgres")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database's schema is newer than this build knows.
    #[error(
        "the Postgres database's schema is version {found}, newer than version {known} that this \
         build of tiktok-gateway knows: run a newer tiktok-gateway"
    )]
    NewerSchema {
        /// The database's version.
        found: i32,
        /// This build's.
        known: i32,
    },
    /// The database's schema is missing or older than this build needs.
    #[error(
        "the Postgres database's schema is version {found}, this build needs version {known}: \
         run `tiktok-gateway migrate --config FILE` first"
    )]
    OlderSchema {
        /// The database's version (0: no schema).
        found: i32,
        /// This build's.
        known: i32,
    },
}

/// A pool of up to `POOL_SIZE` connections to one Postgres database. Cheap to clone.
#[derive(Clone)]
pub struct PgDatabase {
    pool: Pool,
}

impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never shown.
        f.debug_struct("PgDatabase").finish_non_exhaustive()
    }
}

/// Connections each process keeps at most.
const POOL_SIZE: usize = 8;

/// How long a database that does not answer is waited for, so a call fails (and says so)
/// rather than hanging: connecting, waiting for a free connection of the pool, a lock
/// held by another process (an advisory lock of the audit log, a budget, a refresh; a
/// row), and one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeouts {
    /// Connecting, and a free connection of the pool.
    pub connect: Duration,
    /// A lock another process holds (`lock_timeout`).
    pub lock: Duration,
    /// One statement (`statement_timeout`).
    pub statement: Duration,
}

impl Default for PgTimeouts {
    fn default() -> PgTimeouts {
        PgTimeouts {
            connect: Duration::from_secs(10),
            lock: Duration::from_secs(10),
            statement: Duration::from_secs(30),
        }
    }
}

impl PgDatabase {
    /// A pool for `url` (`postgres://user:password@host:port/database`, or a unix socket's
    /// directory percent-encoded as the host); connects when first used.
    pub fn connect(url: &str) -> Result<PgDatabase, PgError> {
        PgDatabase::connect_with(url, PgTimeouts::default())
    }

    /// [`PgDatabase::connect`] with `timeouts`; the URL's own `connect_timeout`, and any
    /// `lock_timeout` or `statement_timeout` its `options` set, win.
    pub fn connect_with(url: &str, timeouts: PgTimeouts) -> Result<PgDatabase, PgError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(PgError::Url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(timeouts.connect);
        }
        // Added to the URL's own `options`, each unless it sets that one itself.
        let mut options = config.get_options().unwrap_or_default().to_owned();
        for (name, value) in [
            ("lock_timeout", timeouts.lock),
            ("statement_timeout", timeouts.statement),
        ] {
            if !options.contains(name) {
                options.push_str(&format!(" -c {name}={}", value.as_millis()));
            }
        }
        config.options(options.trim_start());
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeouts.connect))
            .create_timeout(Some(timeouts.connect))
            .recycle_timeout(Some(timeouts.connect))
            .build()
            .expect("a pool with a runtime for its timeouts builds");
        Ok(PgDatabase { pool })
    }

    /// A connection from the pool.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        self.pool.get().await.map_err(PgError::Connect)
    }

    /// The database's schema version (0 when it has none).
    pub async fn schema_version(&self) -> Result<i32, PgError> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .await?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let row = client
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await?;
        Ok(row.get(0))
    }

    /// Creates `schema` or upgrades the database to its version, in one transaction: each
    /// step past the database's version, in order. Returns the versions before and after.
    /// Refuses a newer schema.
    pub async fn migrate(&self, schema: Schema) -> Result<(i32, i32), PgError> {
        let steps = schema.steps();
        let known = schema.version();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // A migration may wait for another to finish, and may take long itself.
        transaction
            .batch_execute("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0")
            .await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
            .await?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)",
            )
            .await?;
        let found: i32 = transaction
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await?
            .get(0);
        if found > known {
            return Err(PgError::NewerSchema { found, known });
        }
        for step in steps.into_iter().filter(|step| step.version > found) {
            transaction.batch_execute(step.statements).await?;
            transaction
                .execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&step.version],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok((found, known))
    }

    /// Whether the database's schema is exactly `schema`: an older one (or none) needs
    /// `migrate`, a newer one a newer build.
    pub async fn check_schema(&self, schema: Schema) -> Result<(), PgError> {
        let found = self.schema_version().await?;
        let known = schema.version();
        match found.cmp(&known) {
            std::cmp::Ordering::Equal => Ok(()),
            std::cmp::Ordering::Less => Err(PgError::OlderSchema { found, known }),
            std::cmp::Ordering::Greater => Err(PgError::NewerSchema { found, known }),
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), PgError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Postgres;

    #[tokio::test]
    async fn migrate_creates_the_schema_once_and_a_newer_one_is_refused() {
        let Some(postgres) = Postgres::start() else {
            return;
        };
        let database = PgDatabase::connect(&postgres.url()).unwrap();
        assert!(matches!(
            database.check_schema(Schema::AGENT).await,
            Err(PgError::OlderSchema { found: 0, known: 1 })
        ));
        assert_eq!(database.migrate(Schema::AGENT).await.unwrap(), (0, 1));
        assert_eq!(database.migrate(Schema::AGENT).await.unwrap(), (1, 1));
        database.check_schema(Schema::AGENT).await.unwrap();
        database.ping().await.unwrap();
        // A crate on top adds its steps after the agent's.
        let more = Schema::with(&[Migration {
            version: 2,
            name: "a table of the crate on top",
            statements: "CREATE TABLE more (id TEXT PRIMARY KEY)",
        }]);
        assert!(matches!(
            database.check_schema(more).await,
            Err(PgError::OlderSchema { found: 1, known: 2 })
        ));
        assert_eq!(database.migrate(more).await.unwrap(), (1, 2));
        assert_eq!(database.migrate(more).await.unwrap(), (2, 2));
        database.check_schema(more).await.unwrap();
        let newer = database
            .check_schema(Schema::AGENT)
            .await
            .unwrap_err()
            .to_string();
        assert!(newer.contains("version 2, newer than version 1"), "{newer}");
        let refused = database.migrate(Schema::AGENT).await.unwrap_err();
        assert!(matches!(
            refused,
            PgError::NewerSchema { found: 2, known: 1 }
        ));
    }

    #[test]
    #[should_panic(expected = "expected 2")]
    fn a_gap_in_the_versions_is_the_builds_mistake() {
        Schema::with(&[Migration {
            version: 3,
            name: "a step that skips one",
            statements: "",
        }])
        .steps();
    }

    #[tokio::test]
    async fn a_lock_held_elsewhere_fails_a_statement_after_the_lock_timeout_not_never() {
        let Some(postgres) = Postgres::start() else {
            return;
        };
        let timeouts = PgTimeouts {
            lock: Duration::from_millis(300),
            ..PgTimeouts::default()
        };
        let holder = PgDatabase::connect(&postgres.url()).unwrap();
        // The URL's own options (another setting) keep the timeouts.
        let with_options = format!("{}?options=-c%20search_path%3Dpublic", postgres.url());
        let waiter = PgDatabase::connect_with(&with_options, timeouts).unwrap();
        let mut held = holder.client().await.unwrap();
        let transaction = held.transaction().await.unwrap();
        transaction
            .execute("SELECT pg_advisory_xact_lock(42)", &[])
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let waited = waiter
            .client()
            .await
            .unwrap()
            .execute("SELECT pg_advisory_xact_lock(42)", &[])
            .await
            .unwrap_err();
        assert_eq!(
            waited.code(),
            Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE),
            "{waited}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        transaction.commit().await.unwrap();
        // Released, the same statement goes through.
        waiter
            .client()
            .await
            .unwrap()
            .execute("SELECT pg_advisory_xact_lock(42)", &[])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_database_fails_the_ping() {
        let Some(postgres) = Postgres::start() else {
            return;
        };
        let database = PgDatabase::connect(&postgres.url_of("missing")).unwrap();
        assert!(matches!(database.ping().await, Err(PgError::Connect(_))));
    }
}
