//! The durable [`Store`](crate::store::Store) behind `--state FILE`: one SQLite file (WAL, `synchronous=FULL`).
//!
//! Each record is a JSON column beside the columns its queries need, indexed: a page of a
//! creator's videos reads the index `(open_id, public, create_time_ms)`, so it costs
//! O(log n + page) however many videos there are. Every write is one transaction committed
//! (and, with `synchronous=FULL`, synced) before the call returns, so whatever a request
//! changed is on disk before its answer is sent; a process killed at any point leaves the
//! file as of its last committed write.
//!
//! Writes go through one connection behind a mutex (SQLite has one writer at a time
//! anyway); reads go through a small pool of their own connections, which WAL lets run
//! beside the writer. Rate-limit windows, faults and the call log are not kept in the file:
//! they live in a [`MemoryStore`] inside this one and start empty after a restart.
//!
//! A storage failure on a call (disk full, the file removed) is not something a caller can
//! act on: the call panics with the file named, so no answer claims a write that did not
//! happen; the router turns the panic into TikTok's 500 `internal_error` (logged with the
//! file's problem) and goes on.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Mutex, ReentrantMutex};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod cache;
mod queries;

use crate::store::PostRecord;
use crate::store::call_ring::CallRing;
use crate::store::memory::MemoryStore;

/// `PRAGMA application_id` of a mock state file ("TKMK").
const APPLICATION_ID: i32 = 0x544B_4D4B;
/// `PRAGMA user_version` of the schema below. A file of another version is refused.
pub const SCHEMA_VERSION: i32 = 1;
/// Read connections beside the writer.
const READERS: usize = 4;

const SCHEMA: &str = "
CREATE TABLE apps (client_key TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE creators (open_id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE videos (
    id TEXT PRIMARY KEY,
    open_id TEXT NOT NULL,
    public INTEGER NOT NULL,
    create_time_ms INTEGER NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (open_id, create_time_ms)
);
CREATE INDEX videos_page ON videos (open_id, public, create_time_ms);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX comments_of_video ON comments (video_id, create_time, id);
CREATE TABLE tokens (
    access_token TEXT PRIMARY KEY,
    client_key TEXT NOT NULL,
    open_id TEXT,
    json TEXT NOT NULL
);
CREATE INDEX tokens_of_user ON tokens (client_key, open_id);
CREATE TABLE auth_codes (code TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE refresh_tokens (refresh_token TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE posts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    publish_id TEXT NOT NULL UNIQUE,
    upload_id TEXT UNIQUE,
    open_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    open INTEGER NOT NULL,
    access_token TEXT NOT NULL,
    upload_token TEXT,
    json TEXT NOT NULL
);
CREATE INDEX posts_of_creator ON posts (open_id, seq);
CREATE INDEX posts_open ON posts (open_id, publish_id) WHERE open = 1;
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, json TEXT NOT NULL);
";

/// Why a state file can't be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite could not open or read it.
    #[error("{path}: cannot open the state file: {source}")]
    Sqlite {
        /// The file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// It is a SQLite database, but not one this mock wrote.
    #[error(
        "{path}: not a tiktok-mock state file (a SQLite database with other contents); give a new file name or remove it"
    )]
    Foreign {
        /// The file.
        path: String,
    },
    /// Another running mock holds the file.
    #[error(
        "{path}: in use by another tiktok-mock ({holder}; its lock is {lock}); stop it, or give another --state file"
    )]
    Locked {
        /// The file.
        path: String,
        /// The lock file.
        lock: String,
        /// Who holds it: `pid N`, as the holder wrote it.
        holder: String,
    },
    /// The lock file can't be created or locked.
    #[error("{lock}: cannot lock the state file {path}: {source}")]
    Lock {
        /// The file.
        path: String,
        /// The lock file.
        lock: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// SQLite's integrity check found damage.
    #[error(
        "{path}: the state file is damaged ({problem}); restore it from a copy, or give a new file name"
    )]
    Damaged {
        /// The file.
        path: String,
        /// SQLite's first finding.
        problem: String,
    },
    /// A state file of another schema version.
    #[error(
        "{path}: a tiktok-mock state file of schema version {found}, this mock reads version {SCHEMA_VERSION}; give a new file name or remove it"
    )]
    Version {
        /// The file.
        path: String,
        /// The version found.
        found: i32,
    },
}

/// The SQLite store: a state file that survives restarts.
pub struct SqliteStore {
    path: PathBuf,
    /// The one writing connection; reentrant so the writes of an
    /// [`atomically`](crate::store::Store::atomically) step join its transaction.
    writer: ReentrantMutex<RefCell<Connection>>,
    /// A step of [`atomically`](crate::store::Store::atomically) is under way (on the
    /// thread holding the writer): its own reads go through the writer, which sees it.
    batching: AtomicBool,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Rate-limit windows, faults and the call log: not kept in the file.
    ephemeral: MemoryStore,
    /// Tokens and creators as read, emptied by every write.
    cache: cache::ReadCache,
    /// The lock on `FILE.lock`, held while the store lives (the system drops it when the
    /// process ends, however it ends).
    _lock: Option<std::fs::File>,
    /// The last storage failure of a call, for health.
    failure: Mutex<Option<String>>,
    fresh: bool,
    remove_on_drop: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("fresh", &self.fresh)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the state file at `path`, creating it when missing (or empty). Every write is
    /// synced before it returns (`synchronous=FULL`).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, OpenError> {
        SqliteStore::open_with(path.as_ref(), "FULL", false)
    }

    /// A store on a new file in the system's temporary directory, removed when the store
    /// is dropped (tests: the conformance suite on SQLite). Writes are committed to the
    /// file but not synced (`synchronous=NORMAL`: they survive the process, not the
    /// machine), which is all a test needs.
    pub fn temporary() -> Result<SqliteStore, OpenError> {
        let name = format!(
            "tiktok-mock-{}-{}.sqlite",
            std::process::id(),
            crate::random::random_token("")
        );
        SqliteStore::open_with(&std::env::temp_dir().join(name), "NORMAL", true)
    }

    fn open_with(
        path: &Path,
        synchronous: &str,
        remove_on_drop: bool,
    ) -> Result<SqliteStore, OpenError> {
        let shown = path.display().to_string();
        let lock = lock_file(path)?;
        let sqlite = |source: rusqlite::Error| {
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) {
                OpenError::Damaged {
                    path: shown.clone(),
                    problem: source.to_string(),
                }
            } else {
                OpenError::Sqlite {
                    path: shown.clone(),
                    source,
                }
            }
        };
        let connect = |flags: OpenFlags| -> Result<Connection, OpenError> {
            let connection = Connection::open_with_flags(path, flags).map_err(sqlite)?;
            connection
                .busy_timeout(std::time::Duration::from_secs(30))
                .map_err(sqlite)?;
            Ok(connection)
        };
        let writer = connect(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The first read of the header: fails with "file is not a database" for other files.
        let application_id: i32 = writer
            .query_row("PRAGMA application_id", [], |row| row.get(0))
            .map_err(sqlite)?;
        let tables: i64 = writer
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(sqlite)?;
        let fresh = tables == 0 && application_id == 0;
        if fresh {
            writer
                .execute_batch(&format!(
                    "PRAGMA journal_mode = WAL;
                     BEGIN;
                     {SCHEMA}
                     PRAGMA application_id = {APPLICATION_ID};
                     PRAGMA user_version = {SCHEMA_VERSION};
                     COMMIT;"
                ))
                .map_err(sqlite)?;
        } else {
            if application_id != APPLICATION_ID {
                return Err(OpenError::Foreign { path: shown });
            }
            let version: i32 = writer
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(sqlite)?;
            if version != SCHEMA_VERSION {
                return Err(OpenError::Version {
                    path: shown,
                    found: version,
                });
            }
            writer
                .execute_batch("PRAGMA journal_mode = WAL;")
                .map_err(sqlite)?;
            // Damage is found now, by name, rather than as a 500 on some later call.
            let findings: Vec<String> = writer
                .prepare("PRAGMA quick_check(3)")
                .and_then(|mut statement| {
                    statement
                        .query_map([], |row| row.get::<_, String>(0))?
                        .collect()
                })
                .map_err(sqlite)?;
            if findings != ["ok"] {
                return Err(OpenError::Damaged {
                    path: shown,
                    problem: findings.join("; "),
                });
            }
        }
        writer
            .execute_batch(&format!("PRAGMA synchronous = {synchronous};"))
            .map_err(sqlite)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader =
                connect(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            readers.push(Mutex::new(reader));
        }
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: ReentrantMutex::new(RefCell::new(writer)),
            batching: AtomicBool::new(false),
            readers,
            next_reader: AtomicUsize::new(0),
            ephemeral: MemoryStore::new(),
            cache: cache::ReadCache::default(),
            _lock: lock,
            failure: Mutex::new(None),
            fresh,
            remove_on_drop,
        })
    }

    /// Keeps the newest `size` calls in the call log (which stays in memory).
    pub fn with_call_log_size(mut self, size: usize) -> Self {
        self.ephemeral = MemoryStore::with_call_log(CallRing::new(size));
        self
    }

    /// Keeps the newest `size` calls in the call log (which stays in memory), within about
    /// `bytes` ([`CallRing::with_byte_budget`]).
    pub fn with_call_log_limits(mut self, size: usize, bytes: usize) -> Self {
        self.ephemeral = MemoryStore::with_call_log(CallRing::with_byte_budget(size, bytes));
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file was new (or empty) when opened: the mock loads fixtures only then.
    pub fn was_fresh(&self) -> bool {
        self.fresh
    }

    /// Copies every committed write into the database file and empties the WAL (at a
    /// graceful shutdown; the file is consistent without it).
    pub fn checkpoint(&self) {
        let writer = self.writer.lock();
        if let Err(error) = writer
            .borrow()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        {
            tracing::warn!(path = %self.path.display(), %error, "state file: checkpoint failed");
        }
    }

    /// The store's state for health: the file, and the last storage failure if any.
    pub fn health(&self) -> serde_json::Value {
        let failure = self.failure.lock().clone();
        serde_json::json!({
            "kind": "sqlite",
            "file": self.path.display().to_string(),
            "status": if failure.is_some() { "failing" } else { "ok" },
            "error": failure,
        })
    }

    fn fail(&self, what: &str, error: impl std::fmt::Display) -> ! {
        *self.failure.lock() = Some(format!("{what} failed: {error}"));
        tracing::error!(path = %self.path.display(), %error, "state file: {what} failed");
        panic!("state file {}: {what} failed: {error}", self.path.display());
    }

    /// Runs `read` on a read connection (a free one if any), or on the writer within a
    /// step of `atomically` on this thread (whose writes only the writer sees yet).
    fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> T {
        if self.in_step() {
            let writer = self.writer.lock();
            let connection = writer.borrow();
            return read(&connection).unwrap_or_else(|error| self.fail("a read", error));
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let mut guard = None;
        for offset in 0..self.readers.len() {
            if let Some(found) = self.readers[(start + offset) % self.readers.len()].try_lock() {
                guard = Some(found);
                break;
            }
        }
        let connection = guard.unwrap_or_else(|| self.readers[start % self.readers.len()].lock());
        read(&connection).unwrap_or_else(|error| self.fail("a read", error))
    }

    /// Runs `write` in one transaction on the writer, committed before it returns (within
    /// a step of `atomically`, a savepoint of its transaction).
    fn write<T>(&self, write: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> T {
        let writer = self.writer.lock();
        let mut connection = writer.borrow_mut();
        let result = if connection.is_autocommit() {
            connection.transaction().and_then(|transaction| {
                let value = write(&transaction)?;
                transaction.commit()?;
                Ok(value)
            })
        } else {
            connection.savepoint().and_then(|savepoint| {
                let value = write(&savepoint)?;
                savepoint.commit()?;
                Ok(value)
            })
        };
        drop(connection);
        drop(writer);
        self.cache.invalidate();
        result.unwrap_or_else(|error| self.fail("a write", error))
    }

    /// Whether this thread is in a step of `atomically`, whose writes only the writer sees
    /// yet: its reads go past the cache.
    fn in_step(&self) -> bool {
        self.batching.load(Ordering::Acquire) && self.writer.is_owned_by_current_thread()
    }

    /// [`Store::atomically`](crate::store::Store::atomically): one `IMMEDIATE` transaction
    /// around `change`.
    fn atomic_step(&self, change: &mut dyn FnMut() -> bool) {
        let writer = self.writer.lock();
        if let Err(error) = writer.borrow().execute_batch("BEGIN IMMEDIATE") {
            self.fail("a transaction", error);
        }
        self.batching.store(true, Ordering::Release);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut *change));
        self.batching.store(false, Ordering::Release);
        let end = if matches!(outcome, Ok(true)) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        let ended = writer.borrow().execute_batch(end);
        self.cache.invalidate();
        if let Err(error) = ended {
            self.fail("a transaction", error);
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    fn one<T: DeserializeOwned>(&self, sql: &str, key: &dyn rusqlite::ToSql) -> Option<T> {
        let text: Option<String> = self.read(|connection| {
            connection
                .prepare_cached(sql)?
                .query_row([key], |row| row.get(0))
                .optional()
        });
        text.map(|text| self.decode(&text))
    }

    fn all<T: DeserializeOwned>(&self, sql: &str, keys: &[&dyn rusqlite::ToSql]) -> Vec<T> {
        let texts: Vec<String> = self.read(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement.query_map(keys, |row| row.get(0))?;
            rows.collect()
        });
        texts.iter().map(|text| self.decode(text)).collect()
    }

    fn decode<T: DeserializeOwned>(&self, text: &str) -> T {
        serde_json::from_str(text).unwrap_or_else(|error| self.fail("decoding a record", error))
    }

    fn post_from(
        &self,
        (json, access_token, upload_token): (String, String, Option<String>),
    ) -> PostRecord {
        let mut post: PostRecord = self.decode(&json);
        post.access_token = access_token;
        post.upload_token = upload_token;
        post
    }

    fn posts_where(&self, sql: &str, keys: &[&dyn rusqlite::ToSql]) -> Vec<PostRecord> {
        let rows: Vec<(String, String, Option<String>)> = self.read(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let rows =
                statement.query_map(keys, |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            rows.collect()
        });
        rows.into_iter().map(|row| self.post_from(row)).collect()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.remove_on_drop {
            self.readers.clear();
            let path = self.path.display().to_string();
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| panic!("a record serializes: {error}"))
}

/// Takes the lock of the state file at `path`: an exclusive `flock` on `FILE.lock`, which
/// holds the pid of its holder. The system releases it when the process ends, even by
/// SIGKILL, so a stale lock file never blocks a start. (Not on non-Unix systems.)
#[cfg(unix)]
fn lock_file(path: &Path) -> Result<Option<std::fs::File>, OpenError> {
    use std::io::{Read, Seek, Write};
    let lock = format!("{}.lock", path.display());
    let failed = |source| OpenError::Lock {
        path: path.display().to_string(),
        lock: lock.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(failed)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(error) if error == rustix::io::Errno::WOULDBLOCK => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(OpenError::Locked {
                path: path.display().to_string(),
                lock,
                holder: if holder.is_empty() {
                    "pid unknown".to_owned()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(error) => return Err(failed(error.into())),
    }
    file.set_len(0).map_err(failed)?;
    file.rewind().map_err(failed)?;
    write!(file, "pid {}", std::process::id()).map_err(failed)?;
    file.flush().map_err(failed)?;
    Ok(Some(file))
}

#[cfg(not(unix))]
fn lock_file(_path: &Path) -> Result<Option<std::fs::File>, OpenError> {
    Ok(None)
}
