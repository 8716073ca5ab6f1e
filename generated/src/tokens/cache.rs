//! What a [`FileTokenStore`](super::FileTokenStore) last read from its file, kept while the
//! file stays the same: a call then costs one `stat` of the file rather than opening,
//! reading and parsing it. Other processes share the file, so nothing here trusts this
//! process's own writes: the file's [`Stamp`] (device, inode, size, modification and
//! change times) is compared on every load, and a file changed by anyone, in any way
//! (every save replaces it by a rename: a new inode), is read again.

use std::fs::Metadata;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::StoreFile;

/// How long after its last change a file's stamp is trusted to name its content. A write
/// within the same tick of the file system's clock as the read could leave the file with
/// the same stamp and other content (the same size, a reused inode number); a write later
/// than this after the read gets a later change time. Coarse clocks (a jiffy on Linux, a
/// second or two on some network and FAT file systems) are well within it.
pub(super) const SETTLED: Duration = Duration::from_secs(3);

/// What `stat` tells of the file: equal stamps, the same file with the same content (once
/// [`Stamp::settled_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode and change time (seconds, nanoseconds): a change time cannot be set
    /// back by hand as a modification time can (`touch -d`, `cp -p`).
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Stamp {
    pub(super) fn of(metadata: &Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            unix: (
                metadata.dev(),
                metadata.ino(),
                metadata.ctime(),
                metadata.ctime_nsec(),
            ),
        }
    }

    /// When the file last changed, as far as its stamp tells.
    fn changed(&self) -> Option<SystemTime> {
        #[cfg(unix)]
        {
            let (_, _, seconds, nanos) = self.unix;
            let seconds = u64::try_from(seconds).ok()?;
            let nanos = u32::try_from(nanos).ok()?;
            let changed = SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos);
            Some(
                self.modified
                    .map_or(changed, |modified| modified.max(changed)),
            )
        }
        #[cfg(not(unix))]
        self.modified
    }

    /// Whether the file, read at `read_at`, had last changed at least [`SETTLED`] before:
    /// then any later write gives it another stamp, and the stamp names what was read.
    pub(super) fn settled_at(&self, read_at: SystemTime) -> bool {
        self.changed()
            .and_then(|changed| changed.checked_add(SETTLED))
            .is_some_and(|settled| settled <= read_at)
    }
}

/// The file as last read, under the stamp it had then; only a settled stamp is kept.
#[derive(Default)]
pub(super) struct Cache {
    last: parking_lot::Mutex<Option<(Stamp, Arc<StoreFile>)>>,
}

impl std::fmt::Debug for Cache {
    // Never the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("stamp", &self.last.lock().as_ref().map(|(stamp, _)| *stamp))
            .finish()
    }
}

impl Cache {
    /// The file read under `stamp`, if that is what the cache holds.
    pub(super) fn get(&self, stamp: &Stamp) -> Option<Arc<StoreFile>> {
        match &*self.last.lock() {
            Some((kept, file)) if kept == stamp => Some(file.clone()),
            _ => None,
        }
    }

    /// Keeps `file`, read at `read_at` from the file stamped `stamp` (the stamp of the open
    /// file it was read from), if that stamp is settled; forgets what was kept otherwise.
    pub(super) fn put(&self, stamp: Option<Stamp>, read_at: SystemTime, file: &Arc<StoreFile>) {
        *self.last.lock() = stamp
            .filter(|stamp| stamp.settled_at(read_at))
            .map(|stamp| (stamp, file.clone()));
    }

    /// Forgets what was kept (after this process wrote the file).
    pub(super) fn clear(&self) {
        *self.last.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileTokenStore, StoredToken, TokenStore};

    fn stored(access: &str) -> StoredToken {
        StoredToken {
            open_id: "a".into(),
            access_token: access.to_string().into(),
            access_expires_at: 100,
            refresh_token: None,
            refresh_expires_at: None,
            scope: "user.info.basic".into(),
        }
    }

    #[tokio::test]
    async fn a_kept_file_gives_way_to_any_change_behind_the_stores_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let store = FileTokenStore::new(&path);
        store.save(&stored("act.1")).await.unwrap();
        // Kept once the file has settled: then a load is a `stat` and no read.
        tokio::time::sleep(SETTLED + Duration::from_millis(100)).await;
        assert_eq!(store.load("a").await.unwrap().unwrap().access(), "act.1");
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        assert!(store.cache.get(&stamp).is_some());
        // Another process rewrites the file in place: same inode, same size.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("act.1", "act.2")).unwrap();
        assert_eq!(store.load("a").await.unwrap().unwrap().access(), "act.2");
        // Another process saves (a new file renamed over the old one), as a refresh does.
        let other = FileTokenStore::new(&path);
        other.save(&stored("act.3")).await.unwrap();
        assert_eq!(store.load("a").await.unwrap().unwrap().access(), "act.3");
        // And removes the file.
        std::fs::remove_file(&path).unwrap();
        assert!(store.load("a").await.unwrap().is_none());
    }

    #[test]
    fn a_stamp_is_settled_only_well_after_its_last_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, b"x").unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        let now = SystemTime::now();
        assert!(!stamp.settled_at(now));
        assert!(stamp.settled_at(now + SETTLED + Duration::from_millis(50)));
        // Rewritten in place with the same size: another stamp.
        std::fs::write(&path, b"y").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH).unwrap();
        let again = Stamp::of(&std::fs::metadata(&path).unwrap());
        assert_ne!(stamp, again);
        // A modification time set back by hand does not make it look settled.
        assert!(!again.settled_at(now));
    }
}
