//! The durable [`Store`] behind `--state FILE`: one SQLite file (WAL, `synchronous=FULL`).
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
//! happen; the server drops that one connection and goes on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::store::memory::MemoryStore;
use crate::store::{
    App, AuthCode, CallEntry, CallRecord, Comment, Creator, Fault, PendingFault, PostRecord,
    RateDecision, RefreshRecord, Store, StoreError, TokenRecord, Video, VideoPage,
};
use crate::webhook_queue::Delivery;

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
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Rate-limit windows, faults and the call log: not kept in the file.
    ephemeral: MemoryStore,
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
        let sqlite = |source| OpenError::Sqlite {
            path: shown.clone(),
            source,
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
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            ephemeral: MemoryStore::new(),
            fresh,
            remove_on_drop,
        })
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
        if let Err(error) = writer.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!(path = %self.path.display(), %error, "state file: checkpoint failed");
        }
    }

    fn fail(&self, what: &str, error: impl std::fmt::Display) -> ! {
        tracing::error!(path = %self.path.display(), %error, "state file: {what} failed");
        panic!("state file {}: {what} failed: {error}", self.path.display());
    }

    /// Runs `read` on a read connection (a free one if any).
    fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> T {
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

    /// Runs `write` in one transaction on the writer, committed before it returns.
    fn write<T>(&self, write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> T {
        let mut writer = self.writer.lock();
        let result = writer.transaction().and_then(|transaction| {
            let value = write(&transaction)?;
            transaction.commit()?;
            Ok(value)
        });
        result.unwrap_or_else(|error| self.fail("a write", error))
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
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| panic!("a record serializes: {error}"))
}

const POST_COLUMNS: &str = "json, access_token, upload_token";

impl Store for SqliteStore {
    fn clear(&self) {
        self.write(|tx| {
            tx.execute_batch(
                "DELETE FROM apps; DELETE FROM creators; DELETE FROM videos;
                 DELETE FROM comments; DELETE FROM tokens; DELETE FROM auth_codes;
                 DELETE FROM refresh_tokens; DELETE FROM posts; DELETE FROM deliveries;",
            )
        });
        self.ephemeral.clear();
    }

    fn put_app(&self, app: App) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO apps (client_key, json) VALUES (?1, ?2)")?
                .execute(params![app.client_key, json(&app)])
        });
    }

    fn apps(&self) -> Vec<App> {
        self.all("SELECT json FROM apps ORDER BY client_key", &[])
    }

    fn app(&self, client_key: &str) -> Option<App> {
        self.one("SELECT json FROM apps WHERE client_key = ?1", &client_key)
    }

    fn put_creator(&self, creator: Creator) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO creators (open_id, json) VALUES (?1, ?2)")?
                .execute(params![creator.open_id, json(&creator)])
        });
    }

    fn creator(&self, open_id: &str) -> Option<Creator> {
        self.one("SELECT json FROM creators WHERE open_id = ?1", &open_id)
    }

    fn creators(&self) -> Vec<Creator> {
        self.all("SELECT json FROM creators ORDER BY open_id", &[])
    }

    fn insert_video(&self, mut video: Video) -> Result<Video, StoreError> {
        self.write(|tx| {
            let creator_known = tx
                .prepare_cached("SELECT 1 FROM creators WHERE open_id = ?1")?
                .exists([&video.open_id])?;
            if !creator_known {
                return Ok(Err(StoreError::UnknownCreator(video.open_id.clone())));
            }
            {
                let mut taken = tx.prepare_cached(
                    "SELECT 1 FROM videos WHERE open_id = ?1 AND create_time_ms = ?2",
                )?;
                while taken.exists(params![video.open_id, video.create_time_ms])? {
                    match video.create_time_ms.checked_add(1) {
                        Some(next) => video.create_time_ms = next,
                        None => return Ok(Err(StoreError::TimeOutOfRange)),
                    }
                }
            }
            let duplicate = tx
                .prepare_cached("SELECT 1 FROM videos WHERE id = ?1")?
                .exists([&video.id])?;
            if duplicate {
                return Ok(Err(StoreError::DuplicateId(video.id.clone())));
            }
            tx.prepare_cached(
                "INSERT INTO videos (id, open_id, public, create_time_ms, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                video.id,
                video.open_id,
                video.is_public(),
                video.create_time_ms,
                json(&video)
            ])?;
            Ok(Ok(video.clone()))
        })
    }

    fn video(&self, id: &str) -> Option<Video> {
        self.one("SELECT json FROM videos WHERE id = ?1", &id)
    }

    fn video_page(&self, open_id: &str, before_ms: Option<i64>, max_count: usize) -> VideoPage {
        let limit = i64::try_from(max_count).unwrap_or(i64::MAX - 1) + 1;
        let before = before_ms.unwrap_or(i64::MAX);
        // `create_time_ms < i64::MAX` would leave out a video at i64::MAX: no bound then.
        let mut videos: Vec<Video> = if before_ms.is_some() {
            self.all(
                "SELECT json FROM videos WHERE open_id = ?1 AND public = 1 AND create_time_ms < ?2
                 ORDER BY create_time_ms DESC LIMIT ?3",
                &[&open_id, &before, &limit],
            )
        } else {
            self.all(
                "SELECT json FROM videos WHERE open_id = ?1 AND public = 1
                 ORDER BY create_time_ms DESC LIMIT ?2",
                &[&open_id, &limit],
            )
        };
        let has_more = videos.len() > max_count;
        videos.truncate(max_count);
        VideoPage { videos, has_more }
    }

    fn videos_by_ids(&self, open_id: &str, ids: &[String]) -> Vec<Video> {
        let mut seen = std::collections::HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| self.video(id))
            .filter(|video| video.open_id == open_id && video.is_public())
            .collect()
    }

    fn video_count(&self, open_id: &str) -> u64 {
        let count: i64 = self.read(|connection| {
            connection
                .prepare_cached("SELECT count(*) FROM videos WHERE open_id = ?1 AND public = 1")?
                .query_row([open_id], |row| row.get(0))
        });
        u64::try_from(count).unwrap_or(0)
    }

    fn hidden_videos(&self, open_id: &str) -> Vec<Video> {
        self.all(
            "SELECT json FROM videos WHERE open_id = ?1 AND public = 0 ORDER BY create_time_ms DESC",
            &[&open_id],
        )
    }

    fn insert_comment(&self, comment: Comment) -> Result<Comment, StoreError> {
        let inserted = self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO comments (id, video_id, create_time, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                comment.id,
                comment.video_id,
                comment.create_time,
                json(&comment)
            ])
        });
        if inserted == 0 {
            return Err(StoreError::DuplicateId(comment.id.to_string()));
        }
        Ok(comment)
    }

    fn comments(&self, video_id: i64) -> Vec<Comment> {
        self.all(
            "SELECT json FROM comments WHERE video_id = ?1 ORDER BY create_time, id",
            &[&video_id],
        )
    }

    fn comment(&self, id: i64) -> Option<Comment> {
        self.one("SELECT json FROM comments WHERE id = ?1", &id)
    }

    fn put_token(&self, token: TokenRecord) {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tokens (access_token, client_key, open_id, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                token.access_token,
                token.client_key,
                token.open_id,
                json(&token)
            ])
        });
    }

    fn token(&self, access_token: &str) -> Option<TokenRecord> {
        self.one(
            "SELECT json FROM tokens WHERE access_token = ?1",
            &access_token,
        )
    }

    fn revoke_token(&self, access_token: &str) -> bool {
        self.write(|tx| {
            let text: Option<String> = tx
                .prepare_cached("SELECT json FROM tokens WHERE access_token = ?1")?
                .query_row([access_token], |row| row.get(0))
                .optional()?;
            let Some(text) = text else {
                return Ok(false);
            };
            let mut token: TokenRecord = self.decode(&text);
            token.revoked = true;
            tx.prepare_cached("UPDATE tokens SET json = ?2 WHERE access_token = ?1")?
                .execute(params![access_token, json(&token)])?;
            Ok(true)
        })
    }

    fn put_auth_code(&self, code: AuthCode) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO auth_codes (code, json) VALUES (?1, ?2)")?
                .execute(params![code.code, json(&code)])
        });
    }

    fn redeem_auth_code(&self, code: &str) -> Option<AuthCode> {
        self.write(|tx| {
            let text: Option<String> = tx
                .prepare_cached("SELECT json FROM auth_codes WHERE code = ?1")?
                .query_row([code], |row| row.get(0))
                .optional()?;
            let Some(text) = text else {
                return Ok(None);
            };
            let before: AuthCode = self.decode(&text);
            let mut after = before.clone();
            after.used = true;
            tx.prepare_cached("UPDATE auth_codes SET json = ?2 WHERE code = ?1")?
                .execute(params![code, json(&after)])?;
            Ok(Some(before))
        })
    }

    fn put_refresh_token(&self, record: RefreshRecord) {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO refresh_tokens (refresh_token, json) VALUES (?1, ?2)",
            )?
            .execute(params![record.refresh_token, json(&record)])
        });
    }

    fn refresh_token(&self, refresh_token: &str) -> Option<RefreshRecord> {
        self.one(
            "SELECT json FROM refresh_tokens WHERE refresh_token = ?1",
            &refresh_token,
        )
    }

    fn update_refresh_token(
        &self,
        refresh_token: &str,
        change: &mut dyn FnMut(&mut RefreshRecord),
    ) -> Option<RefreshRecord> {
        self.write(|tx| {
            let text: Option<String> = tx
                .prepare_cached("SELECT json FROM refresh_tokens WHERE refresh_token = ?1")?
                .query_row([refresh_token], |row| row.get(0))
                .optional()?;
            let Some(text) = text else {
                return Ok(None);
            };
            let before: RefreshRecord = self.decode(&text);
            let mut after = before.clone();
            change(&mut after);
            tx.prepare_cached("UPDATE refresh_tokens SET json = ?2 WHERE refresh_token = ?1")?
                .execute(params![refresh_token, json(&after)])?;
            Ok(Some(before))
        })
    }

    fn tokens_of(&self, client_key: &str, open_id: &str) -> Vec<TokenRecord> {
        self.all(
            "SELECT json FROM tokens WHERE client_key = ?1 AND open_id = ?2 ORDER BY access_token",
            &[&client_key, &open_id],
        )
    }

    fn try_acquire(&self, key: &str, now_ms: i64, limit: u32, window_ms: i64) -> RateDecision {
        self.ephemeral.try_acquire(key, now_ms, limit, window_ms)
    }

    fn push_fault(&self, fault: PendingFault) {
        self.ephemeral.push_fault(fault);
    }

    fn take_fault(&self, endpoint: &str) -> Option<Fault> {
        self.ephemeral.take_fault(endpoint)
    }

    fn faults(&self) -> Vec<PendingFault> {
        self.ephemeral.faults()
    }

    fn record_call(&self, call: CallEntry) {
        self.ephemeral.record_call(call);
    }

    fn calls(&self) -> Vec<CallRecord> {
        self.ephemeral.calls()
    }

    fn insert_post(&self, post: PostRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            let publish_taken = tx
                .prepare_cached("SELECT 1 FROM posts WHERE publish_id = ?1")?
                .exists([&post.publish_id])?;
            if publish_taken {
                return Ok(Err(StoreError::DuplicateId(post.publish_id.clone())));
            }
            if let Some(upload_id) = &post.upload_id {
                let upload_taken = tx
                    .prepare_cached("SELECT 1 FROM posts WHERE upload_id = ?1")?
                    .exists([upload_id])?;
                if upload_taken {
                    return Ok(Err(StoreError::DuplicateId(upload_id.clone())));
                }
            }
            tx.prepare_cached(
                "INSERT INTO posts (publish_id, upload_id, open_id, created_ms, open, access_token, upload_token, json)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
            )?
            .execute(params![
                post.publish_id,
                post.upload_id,
                post.open_id,
                post.created_ms,
                post.access_token,
                post.upload_token,
                json(&post)
            ])?;
            Ok(Ok(()))
        })
    }

    fn post(&self, publish_id: &str) -> Option<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts WHERE publish_id = ?1"),
            &[&publish_id],
        )
        .pop()
    }

    fn post_by_upload_id(&self, upload_id: &str) -> Option<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts WHERE upload_id = ?1"),
            &[&upload_id],
        )
        .pop()
    }

    fn update_post(&self, publish_id: &str, change: &mut dyn FnMut(&mut PostRecord)) -> bool {
        self.write(|tx| {
            let row: Option<(String, String, Option<String>)> = tx
                .prepare_cached(&format!(
                    "SELECT {POST_COLUMNS} FROM posts WHERE publish_id = ?1"
                ))?
                .query_row([publish_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some(row) = row else {
                return Ok(false);
            };
            let mut post = self.post_from(row);
            change(&mut post);
            tx.prepare_cached(
                "UPDATE posts SET json = ?2, access_token = ?3, upload_token = ?4, created_ms = ?5
                 WHERE publish_id = ?1",
            )?
            .execute(params![
                publish_id,
                json(&post),
                post.access_token,
                post.upload_token,
                post.created_ms
            ])?;
            Ok(true)
        })
    }

    fn creator_posts(&self, open_id: &str) -> Vec<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts WHERE open_id = ?1 ORDER BY seq"),
            &[&open_id],
        )
    }

    fn posts(&self) -> Vec<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts ORDER BY created_ms, publish_id"),
            &[],
        )
    }

    fn set_post_open(&self, open_id: &str, publish_id: &str, open: bool) {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE posts SET open = ?3 WHERE publish_id = ?1 AND open_id = ?2 AND open != ?3",
            )?
            .execute(params![publish_id, open_id, open])
        });
    }

    fn open_posts(&self, open_id: Option<&str>) -> Vec<String> {
        self.read(|connection| match open_id {
            Some(open_id) => {
                let mut statement = connection.prepare_cached(
                    "SELECT publish_id FROM posts WHERE open = 1 AND open_id = ?1 ORDER BY publish_id",
                )?;
                let rows = statement.query_map([open_id], |row| row.get(0))?;
                rows.collect()
            }
            None => {
                let mut statement = connection.prepare_cached(
                    "SELECT publish_id FROM posts WHERE open = 1 ORDER BY open_id, publish_id",
                )?;
                let rows = statement.query_map([], |row| row.get(0))?;
                rows.collect()
            }
        })
    }

    fn durable(&self) -> bool {
        true
    }

    fn put_delivery(&self, delivery: &Delivery) {
        let id = i64::try_from(delivery.id).unwrap_or(i64::MAX);
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO deliveries (id, json) VALUES (?1, ?2)")?
                .execute(params![id, json(delivery)])
        });
    }

    fn saved_deliveries(&self) -> Vec<Delivery> {
        self.all("SELECT json FROM deliveries ORDER BY id", &[])
    }

    fn put_meta(&self, key: &str, value: &Value) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, json) VALUES (?1, ?2)")?
                .execute(params![key, json(value)])
        });
    }

    fn meta(&self, key: &str) -> Option<Value> {
        self.one("SELECT json FROM meta WHERE key = ?1", &key)
    }
}
