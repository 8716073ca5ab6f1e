//! [`Sharded`]: a string-keyed map split into shards, each behind its own mutex, hashed
//! once per lookup with FxHash (`rustc-hash`), a fast non-cryptographic hash (the keys are tokens and ids of a
//! test double, not input an attacker picks to collide).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use rustc_hash::FxBuildHasher;

/// Shards of each map.
pub const SHARDS: usize = 32;

/// A map from a key to `V`, as each shard holds it.
pub type Shard<V> = HashMap<Box<str>, V, FxBuildHasher>;

/// A string-keyed map split into shards, each behind its own mutex.
#[derive(Debug)]
pub struct Sharded<V> {
    shards: Vec<Mutex<Shard<V>>>,
}

impl<V> Default for Sharded<V> {
    fn default() -> Self {
        Sharded {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(FxBuildHasher)))
                .collect(),
        }
    }
}

/// The shard of `key`: from bits 40 to 44 of its hash, which hashbrown uses for neither
/// a bucket (the low bits) nor its control byte (the top 7), so keys spread within a shard.
fn shard_of(key: &str) -> usize {
    (FxBuildHasher.hash_one(key) >> 40) as usize % SHARDS
}

impl<V> Sharded<V> {
    /// The shard of `key`, locked.
    pub fn shard(&self, key: &str) -> MutexGuard<'_, Shard<V>> {
        self.shards[shard_of(key)].lock()
    }

    /// Runs `read` on the value of `key`, under its shard's lock.
    pub fn with<R>(&self, key: &str, read: impl FnOnce(Option<&V>) -> R) -> R {
        read(self.shard(key).get(key))
    }

    /// Adds or replaces a value.
    pub fn insert(&self, key: &str, value: V) {
        self.shard(key).insert(key.into(), value);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().clear();
        }
    }

    /// Every shard, locked in turn.
    pub fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard<V>>> {
        self.shards.iter().map(|shard| shard.lock())
    }
}

impl<V: Clone> Sharded<V> {
    /// A copy of the value of `key`.
    pub fn get(&self, key: &str) -> Option<V> {
        self.shard(key).get(key).cloned()
    }

    /// A copy of every value.
    pub fn values(&self) -> Vec<V> {
        self.shards()
            .flat_map(|shard| shard.values().cloned().collect::<Vec<_>>())
            .collect()
    }
}

impl<V> Sharded<Arc<Mutex<V>>> {
    /// The per-key cell, created with `make` if missing. The shard lock is held only for the lookup.
    pub fn cell(&self, key: &str, make: impl FnOnce() -> V) -> Arc<Mutex<V>> {
        let mut shard = self.shard(key);
        if let Some(cell) = shard.get(key) {
            return Arc::clone(cell);
        }
        let cell = Arc::new(Mutex::new(make()));
        shard.insert(key.into(), Arc::clone(&cell));
        cell
    }

    /// The per-key cell, if there is one.
    pub fn existing_cell(&self, key: &str) -> Option<Arc<Mutex<V>>> {
        self.shard(key).get(key).map(Arc::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_the_shards() {
        let mut used = [false; SHARDS];
        for n in 0..1000 {
            let key = format!("act.{n:040}");
            used[shard_of(&key)] = true;
        }
        assert!(used.iter().filter(|used| **used).count() > SHARDS / 2);
    }
}
