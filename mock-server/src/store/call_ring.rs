//! [`CallRing`]: the call log's bounded memory. The newest calls, by arrival; the oldest
//! dropped first once it is full. Sharded by sequence number (a lock per shard) so that
//! concurrent calls do not queue on one lock; each shard keeps the newest of its share, so
//! together they keep exactly the newest [`CallRing::capacity`] calls. A byte budget
//! ([`CallRing::with_byte_budget`], an equal share per shard) bounds the memory beside the
//! count: a shard over its share drops its oldest calls first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::store::sharded::SHARDS;
use crate::store::{CallEntry, CallRecord};

/// How many calls the log keeps unless told otherwise.
pub const DEFAULT_CALL_LOG_SIZE: usize = 32 * 1024;

/// How many bytes the log's calls may take unless told otherwise: 64 MiB.
pub const DEFAULT_CALL_LOG_BYTES: usize = 64 * 1024 * 1024;

/// One shard: its calls, oldest first, and the bytes they take.
#[derive(Debug, Default)]
struct Shard {
    calls: VecDeque<(u64, CallEntry)>,
    bytes: usize,
}

/// The newest calls, up to a capacity (a multiple of the shard count; 0 keeps none) and a
/// byte budget.
#[derive(Debug)]
pub struct CallRing {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    bytes_per_shard: usize,
    seq: AtomicU64,
}

/// About how many bytes a call takes in the log: the record and what it owns.
pub fn entry_bytes(call: &CallEntry) -> usize {
    std::mem::size_of::<(u64, CallEntry)>()
        + call.query.as_deref().map_or(0, str::len)
        + call.body.as_deref().map_or(0, <[u8]>::len)
        + call.open_id.as_deref().map_or(0, str::len)
        + call.message.as_deref().map_or(0, str::len)
        + match &call.path {
            std::borrow::Cow::Owned(path) => path.len(),
            std::borrow::Cow::Borrowed(_) => 0,
        }
}

impl Default for CallRing {
    fn default() -> Self {
        CallRing::new(DEFAULT_CALL_LOG_SIZE)
    }
}

impl CallRing {
    /// A ring keeping the newest `size` calls, rounded up to a multiple of the shard count,
    /// within [`DEFAULT_CALL_LOG_BYTES`].
    pub fn new(size: usize) -> Self {
        CallRing::with_byte_budget(size, DEFAULT_CALL_LOG_BYTES)
    }

    /// A ring keeping the newest `size` calls (rounded up to a multiple of the shard count)
    /// that together take at most about `bytes` ([`entry_bytes`]; 0 keeps none).
    pub fn with_byte_budget(size: usize, bytes: usize) -> Self {
        CallRing {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: size.div_ceil(SHARDS),
            bytes_per_shard: bytes / SHARDS,
            seq: AtomicU64::new(0),
        }
    }

    /// How many calls it keeps at most.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// How many bytes its calls take at most.
    pub fn byte_budget(&self) -> usize {
        self.bytes_per_shard * SHARDS
    }

    /// How many bytes its calls take now.
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().bytes).sum()
    }

    /// Adds a call, dropping the oldest of its shard while it is over the count or the
    /// bytes (a call larger than a shard's share of the bytes is not kept).
    pub fn push(&self, call: CallEntry) {
        if self.per_shard == 0 {
            return;
        }
        let size = entry_bytes(&call);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shards[(seq as usize) % SHARDS].lock();
        if size > self.bytes_per_shard {
            return;
        }
        while shard.calls.len() >= self.per_shard || shard.bytes + size > self.bytes_per_shard {
            match shard.calls.pop_front() {
                Some((_, old)) => shard.bytes -= entry_bytes(&old),
                None => break,
            }
        }
        shard.bytes += size;
        shard.calls.push_back((seq, call));
    }

    /// The calls kept, oldest first, secrets masked.
    pub fn records(&self) -> Vec<CallRecord> {
        self.newest(None, |_| true)
    }

    /// The newest `limit` calls `wanted` keeps (all for `None`), oldest first, secrets
    /// masked; only those are copied.
    pub fn newest(
        &self,
        limit: Option<usize>,
        wanted: impl Fn(&CallEntry) -> bool,
    ) -> Vec<CallRecord> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut calls: Vec<CallRecord> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock();
            calls.extend(
                shard
                    .calls
                    .iter()
                    .rev()
                    .filter(|(_, call)| wanted(call))
                    .take(limit)
                    .map(|(seq, call)| call.to_record(*seq)),
            );
        }
        calls.sort_by_key(|call| call.seq);
        let skip = calls.len().saturating_sub(limit);
        calls.drain(..skip);
        calls
    }

    /// Forgets every call (numbering goes on).
    pub fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.lock();
            shard.calls.clear();
            shard.bytes = 0;
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

    #[test]
    fn the_byte_budget_keeps_the_newest_calls_within_it() {
        let mut big = call(0);
        big.body = Some(vec![b'x'; 1000].into_boxed_slice());
        let size = entry_bytes(&big);
        // Room for 3 such calls per shard, whatever the count allows.
        let ring = CallRing::with_byte_budget(100_000, size * 3 * SHARDS);
        for at_ms in 0..1000 {
            let mut entry = big.clone();
            entry.at_ms = at_ms;
            ring.push(entry);
        }
        assert!(ring.bytes() <= ring.byte_budget());
        let kept: Vec<i64> = ring.records().iter().map(|record| record.at_ms).collect();
        let newest: Vec<i64> = (1000 - (SHARDS as i64) * 3..1000).collect();
        assert_eq!(kept, newest);
        let last = ring.newest(Some(1), |_| true);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].at_ms, 999);
    }
}
