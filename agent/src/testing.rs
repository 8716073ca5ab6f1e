//! What tests of the shared state share (feature `testing`): [`Postgres`], a throwaway
//! cluster of Debian's `postgresql` in a temporary directory, reached over a unix socket in
//! that directory, run as an unprivileged user when the tests run as root, and stopped and
//! removed on drop; [`Backend`], one test's state on SQLite or on such a cluster; and
//! [`on_both_backends!`](crate::on_both_backends), which runs a test on each.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::postgres::{PgDatabase, Schema};

/// The environment variable that, set to `required`, makes [`Postgres::start`] fail instead
/// of skipping when the server's binaries are missing (CI sets it after installing them).
pub const REQUIRED_VAR: &str = "TIKTOK_TEST_POSTGRES";

/// Where Debian installs each major version's server binaries (`VERSION/bin/initdb`).
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The unprivileged user the server runs as when the tests run as root (Postgres refuses
/// to run as root).
const UNPRIVILEGED_USER: &str = "nobody";

/// A running throwaway cluster; its database `postgres` belongs to the superuser `postgres`,
/// trusted over the socket. Stopped and its directory removed on drop.
#[derive(Debug)]
pub struct Postgres {
    directory: TempDir,
    bin: PathBuf,
    run_as: Option<&'static str>,
}

impl Postgres {
    /// Starts a cluster, or prints why not and returns `None` when the server's binaries are
    /// missing, unless [`REQUIRED_VAR`] is `required`: then it panics. Panics when the
    /// binaries are there and the cluster does not start (with the server's log).
    pub fn start() -> Option<Postgres> {
        Postgres::start_with(false)
    }

    /// [`Postgres::start`] with every commit synced to disk, as a server runs (the tests'
    /// clusters skip the syncs): for benchmarks of what is durable.
    pub fn start_synced() -> Option<Postgres> {
        Postgres::start_with(true)
    }

    fn start_with(synced: bool) -> Option<Postgres> {
        let Some(bin) = server_binaries() else {
            let reason = format!("no {DEBIAN_ROOT}/*/bin/initdb (Debian's `postgresql`)");
            if std::env::var(REQUIRED_VAR).as_deref() == Ok("required") {
                panic!("{REQUIRED_VAR}=required, but {reason}");
            }
            eprintln!("skipped: {reason}; install `postgresql` to run the Postgres tests");
            return None;
        };
        let as_root = Path::new("/proc/self")
            .metadata()
            .expect("this process's owner")
            .uid()
            == 0;
        // As root, in `/tmp`: the unprivileged user must reach the directory, and root's
        // own temporary directory may be closed to others.
        let parent = if as_root {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let directory = tempfile::Builder::new()
            .prefix("pg")
            .tempdir_in(parent)
            .expect("a temporary directory");
        let run_as = as_root.then_some(UNPRIVILEGED_USER);
        if let Some(user) = run_as {
            run(Command::new("chown")
                .arg(format!("{user}:"))
                .arg(directory.path()));
        }
        let postgres = Postgres {
            directory,
            bin,
            run_as,
        };
        let data = postgres.data();
        run(postgres
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync"])
            .args(["--encoding=UTF8", "--locale=C", "-D"])
            .arg(&data));
        let options = format!(
            "-c listen_addresses='' -k {}{} -c max_connections=200",
            postgres.socket_directory().display(),
            if synced { "" } else { " -F" }
        );
        let log = postgres.directory.path().join("log");
        let started = postgres
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &options])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        if !started.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("pg_ctl start failed ({started}); the server's log:\n{log}");
        }
        Some(postgres)
    }

    /// A `postgres://` URL of the database `postgres` as the superuser, over the socket.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// A `postgres://` URL of the database `name` (see [`Postgres::create_database`]).
    pub fn url_of(&self, name: &str) -> String {
        let socket = self.socket_directory().display().to_string();
        format!("postgres://postgres@{}/{name}", socket.replace('/', "%2F"))
    }

    /// Creates an empty database `name` and returns its URL: for tests that need two
    /// databases on one cluster.
    pub fn create_database(&self, name: &str) -> String {
        run(self
            .command("createdb")
            .args(["-h"])
            .arg(self.socket_directory())
            .args(["-U", "postgres", name]));
        self.url_of(name)
    }

    fn data(&self) -> PathBuf {
        self.directory.path().join("data")
    }

    fn socket_directory(&self) -> &Path {
        self.directory.path()
    }

    /// The server binary `name`, as the unprivileged user when the tests run as root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Where one test's shared state lives.
#[derive(Debug)]
pub enum Backend {
    /// A temporary directory for the test's SQLite files.
    Sqlite(TempDir),
    /// A throwaway cluster, its database `postgres` migrated.
    Postgres(Postgres),
}

impl Backend {
    /// A new temporary directory for SQLite files.
    pub fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    /// A cluster migrated to `schema`, or `None` where Postgres is not installed (see
    /// [`Postgres::start`]).
    pub async fn postgres(schema: Schema) -> Option<Backend> {
        let postgres = Postgres::start()?;
        PgDatabase::connect(&postgres.url())
            .expect("the cluster's URL")
            .migrate(schema)
            .await
            .expect("the database migrates");
        Some(Backend::Postgres(postgres))
    }

    /// The path of the SQLite file `name`. Panics on Postgres.
    pub fn sqlite_path(&self, name: &str) -> PathBuf {
        match self {
            Backend::Sqlite(directory) => directory.path().join(name),
            Backend::Postgres(_) => panic!("a Postgres backend has no file"),
        }
    }

    /// A new handle on the Postgres database, as another process would open it. Panics on
    /// SQLite.
    pub fn database(&self) -> PgDatabase {
        match self {
            Backend::Postgres(postgres) => {
                PgDatabase::connect(&postgres.url()).expect("the cluster's URL")
            }
            Backend::Sqlite(_) => panic!("a SQLite backend has no Postgres database"),
        }
    }
}

/// Runs each named test, an `async fn(Backend)` in scope, on both backends: a module per
/// test with a `sqlite` and a `postgres` test (the latter returns early, having said why,
/// where Postgres is not installed). The database has the agent's schema, or the one named
/// first (`schema = crate::SCHEMA;`, a path from the crate's root).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $crate::on_both_backends!(schema = $crate::Schema::AGENT; $($test),*);
    };
    (schema = $schema:expr; $($test:ident),* $(,)?) => {$(
        mod $test {
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$test($crate::testing::Backend::sqlite()).await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(backend) = $crate::testing::Backend::postgres($schema).await {
                    super::$test(backend).await;
                }
            }
        }
    )*};
}

/// The newest installed major version's server binaries.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Runs `command`, panicking with its output when it fails.
fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}
