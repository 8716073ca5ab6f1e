//! [`Sharded`]: a string-keyed map split into shards, each behind its own mutex, hashed
//! once per lookup with a fast non-cryptographic hash (the keys are tokens and ids of a
//! test double, not input an attacker picks to collide).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

/// Shards of each map.
pub const SHARDS: usize = 32;

/// An FxHash-style hasher: a multiply and a rotate per 8 bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        // Mix the high bits down: hashbrown takes its control bits from the top.
        self.0 ^ (self.0 >> 29)
    }
}

/// Builds [`FastHasher`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastState;

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher::default()
    }
}

/// A map from a key to `V`, as each shard holds it.
pub type Shard<V> = HashMap<Box<str>, V, FastState>;

/// A string-keyed map split into shards, each behind its own mutex.
#[derive(Debug)]
pub struct Sharded<V> {
    shards: Vec<Mutex<Shard<V>>>,
}

impl<V> Default for Sharded<V> {
    fn default() -> Self {
        Sharded {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(FastState)))
                .collect(),
        }
    }
}

impl<V> Sharded<V> {
    /// The shard of `key`, locked.
    pub fn shard(&self, key: &str) -> MutexGuard<'_, Shard<V>> {
        // The shard comes from the hash's top bits; hashbrown uses the low ones within it.
        let index = (FastState.hash_one(key) >> 58) as usize % SHARDS;
        self.shards[index].lock()
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
            used[(FastState.hash_one(key.as_str()) >> 58) as usize % SHARDS] = true;
        }
        assert!(used.iter().filter(|used| **used).count() > SHARDS / 2);
    }
}
