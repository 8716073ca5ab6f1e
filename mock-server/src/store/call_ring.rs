//! [`CallRing`]: the call log's bounded memory. The newest calls, by arrival; the oldest
//! dropped first once it is full. Sharded by sequence number (a lock per shard) so that
//! concurrent calls do not queue on one lock; each shard keeps the newest of its share, so
//! together they keep exactly the newest [`CallRing::capacity`] calls.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::store::sharded::SHARDS;
use crate::store::{CallEntry, CallRecord};

/// How many calls the log keeps unless told otherwise.
pub const DEFAULT_CALL_LOG_SIZE: usize = 32 * 1024;

/// The newest calls, up to a capacity (a multiple of the shard count; 0 keeps none).
#[derive(Debug)]
pub struct CallRing {
    shards: Vec<Mutex<VecDeque<(u64, CallEntry)>>>,
    per_shard: usize,
    seq: AtomicU64,
}

impl Default for CallRing {
    fn default() -> Self {
        CallRing::new(DEFAULT_CALL_LOG_SIZE)
    }
}

impl CallRing {
    /// A ring keeping the newest `size` calls, rounded up to a multiple of the shard count.
    pub fn new(size: usize) -> Self {
        CallRing {
            shards: (0..SHARDS).map(|_| Mutex::new(VecDeque::new())).collect(),
            per_shard: size.div_ceil(SHARDS),
            seq: AtomicU64::new(0),
        }
    }

    /// How many calls it keeps at most.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// Adds a call, dropping the oldest of its shard when full.
    pub fn push(&self, call: CallEntry) {
        if self.per_shard == 0 {
            return;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shards[(seq as usize) % SHARDS].lock();
        if shard.len() == self.per_shard {
            shard.pop_front();
        }
        shard.push_back((seq, call));
    }

    /// The calls kept, oldest first, secrets masked.
    pub fn records(&self) -> Vec<CallRecord> {
        let mut calls: Vec<CallRecord> = self
            .shards
            .iter()
            .flat_map(|shard| {
                shard
                    .lock()
                    .iter()
                    .map(|(seq, call)| call.to_record(*seq))
                    .collect::<Vec<_>>()
            })
            .collect();
        calls.sort_by_key(|call| call.seq);
        calls
    }

    /// Forgets every call (numbering goes on).
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn call(at_ms: i64) -> CallEntry {
        CallEntry {
            at_ms,
            method: Cow::Borrowed("GET"),
            path: Cow::Borrowed("/v2/user/info/"),
            query: None,
            body: None,
            endpoint: None,
            open_id: None,
            decision: Cow::Borrowed("ok"),
            message: None,
            status: 200,
            latency_us: 1,
            log_id: None,
        }
    }

    #[test]
    fn keeps_exactly_the_newest_calls_in_order() {
        let ring = CallRing::new(SHARDS * 2);
        for at_ms in 0..1000 {
            ring.push(call(at_ms));
        }
        let kept: Vec<i64> = ring.records().iter().map(|record| record.at_ms).collect();
        let newest: Vec<i64> = (1000 - (SHARDS as i64) * 2..1000).collect();
        assert_eq!(kept, newest);
        assert_eq!(ring.capacity(), SHARDS * 2);
    }

    #[test]
    fn a_size_is_rounded_up_and_zero_keeps_nothing() {
        assert_eq!(CallRing::new(1).capacity(), SHARDS);
        let off = CallRing::new(0);
        off.push(call(1));
        assert!(off.records().is_empty());
    }
}
