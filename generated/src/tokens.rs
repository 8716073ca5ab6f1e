//! Where a user's tokens live between calls: the async [`TokenStore`] trait, an in-memory
//! store and a file store (one JSON file, written atomically with mode 0600), and the
//! helpers every file holding secrets is written with ([`write_private`], [`create_private`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::Token;

mod cache;

/// A user's tokens as a store keeps them: absolute expiry times, so a token read back
/// tomorrow knows it has expired.
#[derive(Clone)]
pub struct StoredToken {
    /// The user.
    pub open_id: String,
    /// The access token.
    pub access_token: SecretString,
    /// When the access token expires, Unix seconds.
    pub access_expires_at: i64,
    /// The refresh token (rotated by every refresh).
    pub refresh_token: Option<SecretString>,
    /// When the refresh token expires, Unix seconds.
    pub refresh_expires_at: Option<i64>,
    /// The scopes the user granted, comma-separated as TikTok sends them.
    pub scope: String,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("open_id", &self.open_id)
            .field("access_token", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// How long before expiry a token is renewed: a user handle refreshes its access token,
/// a client mints a new client token.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// Seconds since the Unix epoch on this machine's clock.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

impl StoredToken {
    /// The token an OAuth call answered with, received at `now` (Unix seconds). Without an
    /// `open_id` in the answer, `open_id` is used. A refresh that returns no refresh token
    /// keeps `previous`'s.
    pub fn from_token(
        token: &Token,
        open_id: &str,
        now: i64,
        previous: Option<&StoredToken>,
    ) -> Self {
        let refresh_token = token
            .refresh_token
            .clone()
            .map(SecretString::from)
            .or_else(|| previous.and_then(|previous| previous.refresh_token.clone()));
        let refresh_expires_at = match token.refresh_expires_in {
            Some(seconds) => Some(now.saturating_add(seconds)),
            None => previous.and_then(|previous| previous.refresh_expires_at),
        };
        StoredToken {
            open_id: token.open_id.clone().unwrap_or_else(|| open_id.to_string()),
            access_token: SecretString::from(token.access_token.clone()),
            access_expires_at: now.saturating_add(token.expires_in),
            refresh_token,
            refresh_expires_at,
            scope: token.scope.clone().unwrap_or_default(),
        }
    }

    /// Whether the access token expires within `ahead` of `now` (Unix seconds).
    pub fn expires_within(&self, now: i64, ahead: Duration) -> bool {
        self.access_expires_at <= now.saturating_add(ahead.as_secs() as i64)
    }

    /// The access token in clear, for one request.
    pub(crate) fn access(&self) -> &str {
        self.access_token.expose_secret()
    }
}

/// Why a token store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenStoreError {
    /// The store's file could not be read or written.
    #[error("token store {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The store's file is not a token store; it is left untouched.
    #[error("{path} is not a token store file ({message}); it was left untouched")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A store of the app's own failed.
    #[error("{0}")]
    Other(String),
}

/// Where a [`UserClient`](crate::UserClient) keeps a user's tokens between calls.
///
/// Implementations must make `save` durable before returning: the handle saves a rotated
/// refresh token before it uses the new access token, because the old refresh token
/// stops working at once.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The user's tokens, if any.
    async fn load(&self, open_id: &str) -> Result<Option<StoredToken>, TokenStoreError>;
    /// Stores the user's tokens, replacing what was there.
    async fn save(&self, token: &StoredToken) -> Result<(), TokenStoreError>;
    /// Forgets the user's tokens (after a revoke).
    async fn remove(&self, open_id: &str) -> Result<(), TokenStoreError>;

    /// Keeps other processes sharing the store from refreshing or revoking the user's
    /// tokens until the returned guard is dropped: a refresh holds it from reading the
    /// stored tokens to saving the new ones, so a refresh token is sent once, whichever
    /// process refreshes. The default holds nothing (a store one process uses is guarded
    /// by the client's own lock).
    async fn lock_refresh(&self, open_id: &str) -> Result<Option<RefreshGuard>, TokenStoreError> {
        let _ = open_id;
        Ok(None)
    }
}

/// What [`TokenStore::lock_refresh`] returns: the lock is held until it is dropped.
pub type RefreshGuard = Box<dyn std::any::Any + Send + Sync>;

/// Tokens in memory, lost with the process: for tests and short-lived tools.
///
/// ```
/// # async fn example() -> Result<(), tiktok_api::TokenStoreError> {
/// use tiktok_api::{MemoryTokenStore, TokenStore};
///
/// let store = MemoryTokenStore::new();
/// assert!(store.load("open-id").await?.is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: parking_lot::Mutex<BTreeMap<String, StoredToken>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `token`.
    pub fn with_token(token: StoredToken) -> Self {
        let store = Self::default();
        store.tokens.lock().insert(token.open_id.clone(), token);
        store
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, open_id: &str) -> Result<Option<StoredToken>, TokenStoreError> {
        Ok(self.tokens.lock().get(open_id).cloned())
    }

    async fn save(&self, token: &StoredToken) -> Result<(), TokenStoreError> {
        self.tokens
            .lock()
            .insert(token.open_id.clone(), token.clone());
        Ok(())
    }

    async fn remove(&self, open_id: &str) -> Result<(), TokenStoreError> {
        self.tokens.lock().remove(open_id);
        Ok(())
    }
}

/// Tokens in one JSON file, keyed by `open_id`. Every write goes to a temporary file in
/// the same directory (mode 0600 on Unix), is flushed to disk, and renamed over the old
/// file, so a crash leaves the old file or the new one, never half of one. A file that is
/// not a token store is never overwritten.
///
/// Every store of one process on the same path shares one lock, so their read-modify-write
/// cycles never lose each other's tokens. The file is for one process: two processes
/// writing it at once can lose a token (use a store of your own, e.g. a database, there).
///
/// A load costs one `stat` of the file while it is unchanged: the store keeps what it last
/// read with the file's identity, size and change times, and reads the file again whenever
/// these differ, so a token another process saved is seen on the next load.
///
/// ```no_run
/// # async fn example() -> Result<(), tiktok_api::Error> {
/// use std::sync::Arc;
///
/// use tiktok_api::secrecy::ExposeSecret;
/// use tiktok_api::{Client, FileTokenStore, TokenStore, UserField};
///
/// let store = Arc::new(FileTokenStore::new("tokens.json"));
/// let client = Client::builder().credentials("client_key", "client_secret").build()?;
/// let user = client.user(store.clone(), "open-id");
/// user.user_info(&[UserField::DisplayName]).await?; // refreshes and saves as needed
/// if let Some(token) = store.load("open-id").await? {
///     println!("{} bytes of access token", token.access_token.expose_secret().len());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: Arc<PathBuf>,
    /// Serialises this process's read-modify-write cycles.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// What the file held when last read, while it stays the same.
    cache: Arc<cache::Cache>,
}

/// The file's format.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u32,
    tokens: BTreeMap<String, FileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    access_token: String,
    access_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires_at: Option<i64>,
    #[serde(default)]
    scope: String,
}

const FILE_VERSION: u32 = 1;

impl FileTokenStore {
    /// A store in the file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let lock = path_lock(&path);
        FileTokenStore {
            path: Arc::new(path),
            lock,
            cache: Arc::default(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The users (`open_id`s) with tokens in the file, sorted; none if it does not exist yet.
    pub async fn open_ids(&self) -> Result<Vec<String>, TokenStoreError> {
        Ok(self.read().await?.tokens.keys().cloned().collect())
    }

    /// The file's content: what was last read while the file's stamp is the same (one
    /// `stat`, on the caller's thread: the file's metadata, no read of its content), else
    /// read again.
    async fn read(&self) -> Result<Arc<StoreFile>, TokenStoreError> {
        let stamp = match std::fs::metadata(&*self.path) {
            Ok(metadata) => Some(cache::Stamp::of(&metadata)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TokenStoreError::Io {
                    path: self.path.to_path_buf(),
                    source,
                });
            }
        };
        if let Some(file) = stamp.and_then(|stamp| self.cache.get(&stamp)) {
            return Ok(file);
        }
        let path = self.path.clone();
        let (file, stamp, read_at) = blocking(move || read_file_stamped(&path)).await?;
        let file = Arc::new(file);
        self.cache.put(stamp, read_at, &file);
        Ok(file)
    }

    async fn update(
        &self,
        change: impl FnOnce(&mut StoreFile) + Send + 'static,
    ) -> Result<(), TokenStoreError> {
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        let written = blocking(move || {
            let mut file = read_file(&path)?;
            change(&mut file);
            write_file(&path, &file)
        })
        .await;
        // The file has another stamp now; what was kept would not be used again anyway.
        self.cache.clear();
        written
    }
}

/// The one lock of this process for the file at `path`.
fn path_lock(path: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<
        parking_lot::Mutex<std::collections::HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::OnceLock::new();
    // The same file under two spellings: compare the absolute path of its directory.
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let key = parent
        .canonicalize()
        .ok()
        .and_then(|parent| path.file_name().map(|name| parent.join(name)))
        .unwrap_or_else(|| path.to_owned());
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .entry(key)
        .or_default()
        .clone()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TokenStoreError> + Send + 'static,
) -> Result<T, TokenStoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| TokenStoreError::Other(format!("token store task failed: {error}")))?
}

fn read_file(path: &Path) -> Result<StoreFile, TokenStoreError> {
    read_file_stamped(path).map(|(file, _, _)| file)
}

/// The file, the stamp of the open file it was read from (none if it does not exist), and
/// when the read began.
fn read_file_stamped(
    path: &Path,
) -> Result<(StoreFile, Option<cache::Stamp>, SystemTime), TokenStoreError> {
    use std::io::Read;
    let read_at = SystemTime::now();
    let io = |source| TokenStoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut opened = match std::fs::File::open(path) {
        Ok(opened) => opened,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let empty = StoreFile {
                version: FILE_VERSION,
                tokens: BTreeMap::new(),
            };
            return Ok((empty, None, read_at));
        }
        Err(source) => return Err(io(source)),
    };
    let metadata = opened.metadata().map_err(io)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    opened.read_to_end(&mut bytes).map_err(io)?;
    let stamp = cache::Stamp::of(&metadata);
    let file: StoreFile =
        serde_json::from_slice(&bytes).map_err(|error| TokenStoreError::Corrupt {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
    if file.version != FILE_VERSION {
        return Err(TokenStoreError::Corrupt {
            path: path.to_owned(),
            message: format!("version {} (expected {FILE_VERSION})", file.version),
        });
    }
    Ok((file, Some(stamp), read_at))
}

fn write_file(path: &Path, file: &StoreFile) -> Result<(), TokenStoreError> {
    let bytes = serde_json::to_vec_pretty(file)
        .map_err(|error| TokenStoreError::Other(error.to_string()))?;
    write_private(path, &bytes).map_err(|source| TokenStoreError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to `path` as a file only its owner may read or write (mode 0600 on Unix),
/// atomically and durably: a temporary file beside it, synced, renamed over it, and the
/// directory synced. An existing file is replaced, so it ends owner-only too. The token
/// store's file, and any other file holding secrets (the gateway's pending logins), are
/// written this way.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".private-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder.tempfile_in(&directory)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    // Make the rename itself durable.
    #[cfg(unix)]
    std::fs::File::open(&directory)?.sync_all()?;
    Ok(())
}

/// Makes sure `path` exists as a file only its owner may read or write (mode 0600 on Unix):
/// creates it empty if missing, and takes group and other permissions off an existing one,
/// as [`write_private`] leaves every file. For files others open after (SQLite databases):
/// an existing file is changed by its path, never opened here, since closing any
/// descriptor of a database file drops every POSIX lock this process holds on it.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
                }
            }
            Ok(())
        }
        Err(error) => Err(error),
    }
}

#[async_trait::async_trait]
impl TokenStore for FileTokenStore {
    async fn load(&self, open_id: &str) -> Result<Option<StoredToken>, TokenStoreError> {
        let file = self.read().await?;
        Ok(file.tokens.get(open_id).map(|entry| StoredToken {
            open_id: open_id.to_string(),
            access_token: SecretString::from(entry.access_token.clone()),
            access_expires_at: entry.access_expires_at,
            refresh_token: entry.refresh_token.clone().map(SecretString::from),
            refresh_expires_at: entry.refresh_expires_at,
            scope: entry.scope.clone(),
        }))
    }

    async fn save(&self, token: &StoredToken) -> Result<(), TokenStoreError> {
        let open_id = token.open_id.clone();
        let entry = FileEntry {
            access_token: token.access_token.expose_secret().to_string(),
            access_expires_at: token.access_expires_at,
            refresh_token: token
                .refresh_token
                .as_ref()
                .map(|refresh| refresh.expose_secret().to_string()),
            refresh_expires_at: token.refresh_expires_at,
            scope: token.scope.clone(),
        };
        self.update(move |file| {
            file.tokens.insert(open_id, entry);
        })
        .await
    }

    async fn remove(&self, open_id: &str) -> Result<(), TokenStoreError> {
        let open_id = open_id.to_string();
        self.update(move |file| {
            file.tokens.remove(&open_id);
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(open_id: &str, access: &str) -> StoredToken {
        StoredToken {
            open_id: open_id.into(),
            access_token: SecretString::from(access.to_string()),
            access_expires_at: 100,
            refresh_token: Some(SecretString::from("rft.secret".to_string())),
            refresh_expires_at: Some(200),
            scope: "user.info.basic".into(),
        }
    }

    #[tokio::test]
    async fn file_store_round_trips_and_keeps_other_users() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(dir.path().join("tokens.json"));
        assert!(store.open_ids().await.unwrap().is_empty());
        assert!(store.load("a").await.unwrap().is_none());
        store.save(&token("a", "act.1")).await.unwrap();
        store.save(&token("b", "act.2")).await.unwrap();
        store.save(&token("a", "act.3")).await.unwrap();
        let a = store.load("a").await.unwrap().unwrap();
        assert_eq!(a.access(), "act.3");
        assert_eq!(store.open_ids().await.unwrap(), ["a", "b"]);
        assert_eq!(a.refresh_expires_at, Some(200));
        store.remove("a").await.unwrap();
        assert!(store.load("a").await.unwrap().is_none());
        assert_eq!(store.load("b").await.unwrap().unwrap().access(), "act.2");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_store_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        FileTokenStore::new(&path)
            .save(&token("a", "act.1"))
            .await
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_corrupt_file_is_a_typed_error_and_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        std::fs::write(&path, b"{not json").unwrap();
        let store = FileTokenStore::new(&path);
        assert!(matches!(
            store.load("a").await,
            Err(TokenStoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.save(&token("a", "act.1")).await,
            Err(TokenStoreError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"{not json");
    }

    #[tokio::test]
    async fn an_unwritable_place_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileTokenStore::new(dir.path().join("missing-dir").join("tokens.json"));
        let error = store.save(&token("a", "act.1")).await.unwrap_err();
        assert!(matches!(error, TokenStoreError::Io { .. }), "{error:?}");
        assert!(error.to_string().contains("missing-dir"), "{error}");
    }

    #[test]
    fn debug_never_shows_a_token() {
        let text = format!("{:?}", token("a", "act.visible"));
        assert!(
            !text.contains("act.visible") && !text.contains("rft.secret"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn two_stores_on_one_file_lose_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let spelled_otherwise = dir.path().join(".").join("tokens.json");
        let saves = (0..40).map(|index| {
            let store = FileTokenStore::new(if index % 2 == 0 {
                &path
            } else {
                &spelled_otherwise
            });
            async move { store.save(&token(&format!("user-{index}"), "act.x")).await }
        });
        for result in futures::future::join_all(saves).await {
            result.unwrap();
        }
        let file: StoreFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(file.tokens.len(), 40);
    }
}
