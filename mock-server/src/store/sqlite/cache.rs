//! What every API call reads, kept in memory so that reads on a state file never touch
//! SQLite once warm: [`ReadCache`], tokens by access token, creators and their open posts
//! by `open_id`, as the file has them. The store is the file's only writer (it holds the file's lock), and
//! every write empties the cache once it has committed; a generation number keeps a read
//! that raced a write from putting back what the write replaced.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::store::{Creator, TokenRecord};

/// Entries kept per kind before the cache starts again empty (a bound on memory, far above
/// what tests and benchmarks use).
const MAX_ENTRIES: usize = 65_536;

/// Tokens and creators read from the state file.
#[derive(Default)]
pub(super) struct ReadCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every write: a read begun before it does not fill the cache.
    generation: u64,
    tokens: HashMap<String, Arc<TokenRecord>>,
    creators: HashMap<String, Arc<Creator>>,
    /// The open posts of a creator (what each read of its data settles first).
    open_posts: HashMap<String, Arc<Vec<String>>>,
}

impl ReadCache {
    /// The token `access_token`, from memory or, the first time, from `load`.
    pub(super) fn token(
        &self,
        access_token: &str,
        load: impl FnOnce() -> Option<TokenRecord>,
    ) -> Option<Arc<TokenRecord>> {
        self.get_or_load(|inner| &mut inner.tokens, access_token, load)
    }

    /// The creator `open_id`, from memory or, the first time, from `load`.
    pub(super) fn creator(
        &self,
        open_id: &str,
        load: impl FnOnce() -> Option<Creator>,
    ) -> Option<Arc<Creator>> {
        self.get_or_load(|inner| &mut inner.creators, open_id, load)
    }

    /// The publish ids of `open_id`'s open posts, from memory or, the first time, from
    /// `load`.
    pub(super) fn open_posts(
        &self,
        open_id: &str,
        load: impl FnOnce() -> Vec<String>,
    ) -> Arc<Vec<String>> {
        self.get_or_load(|inner| &mut inner.open_posts, open_id, || Some(load()))
            .unwrap_or_default()
    }

    /// Forgets everything: called after every write has committed (or rolled back).
    pub(super) fn invalidate(&self) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.tokens.clear();
        inner.creators.clear();
        inner.open_posts.clear();
    }

    fn get_or_load<T>(
        &self,
        map: impl Fn(&mut Inner) -> &mut HashMap<String, Arc<T>>,
        key: &str,
        load: impl FnOnce() -> Option<T>,
    ) -> Option<Arc<T>> {
        let generation = {
            let mut inner = self.inner.lock();
            if let Some(found) = map(&mut inner).get(key) {
                return Some(found.clone());
            }
            inner.generation
        };
        // Read without the lock: SQLite's reads run side by side.
        let loaded = Arc::new(load()?);
        let mut inner = self.inner.lock();
        if inner.generation == generation {
            let entries = map(&mut inner);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key.to_owned(), loaded.clone());
        }
        Some(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creator(name: &str) -> Creator {
        serde_json::from_value(serde_json::json!({"open_id": "-000a", "display_name": name}))
            .expect("creator")
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_put_back_what_the_write_replaced() {
        let cache = ReadCache::default();
        // The write lands (and empties the cache) while the read is loading the old record.
        let raced = cache.creator("-000a", || {
            cache.invalidate();
            Some(creator("old"))
        });
        assert_eq!(raced.unwrap().display_name, "old");
        let next = cache.creator("-000a", || Some(creator("new")));
        assert_eq!(next.unwrap().display_name, "new");
        // Now cached: not loaded again.
        let cached = cache.creator("-000a", || panic!("loaded twice"));
        assert_eq!(cached.unwrap().display_name, "new");
        cache.invalidate();
        let after_write = cache.creator("-000a", || Some(creator("newer")));
        assert_eq!(after_write.unwrap().display_name, "newer");
        // What is not there is not remembered as missing.
        assert!(cache.token("act.none", || None).is_none());
    }
}
