//! Group commit for the audit logs: the records that concurrent calls hand to a log while
//! a commit is under way are appended together in the next transaction, so one sync makes
//! a whole batch durable. Each call still waits for its own record to be committed before
//! it goes on; none is kept in memory only. [`Batch`] is what both logs do with a batch's
//! outcome; [`GroupCommit`] is the SQLite log's writer (the Postgres log commits from a
//! task of its own, `PgAuditLog::append`).
//!
//! One writer thread per SQLite log, started by the first record and ended when the last handle
//! of the log is dropped, takes the records in their order of arrival. A batch refused
//! because of one of its records (one that cannot be serialized) is tried again one record
//! at a time, so each call gets its own record's outcome; a batch that fails as a whole (a
//! full disk, another process holding the file too long) fails each of its calls at once,
//! rather than keeping every later call waiting through a retry per record. A writer that
//! stopped (a panic, a thread that could not start) is started again by the next record.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::audit::{AuditError, AuditRecord};

/// A log that appends records in order, many to a transaction.
pub(crate) trait AppendAll: Send + Sync + 'static {
    /// Appends `records` in one transaction; returns the last one's sequence number.
    fn append_all(&self, records: &[AuditRecord]) -> Result<u64, AuditError>;
}

/// The most records one transaction takes.
pub(crate) const MAX_BATCH: usize = 1024;

/// Where a record's sequence number, or why it was not committed, goes.
type Done = oneshot::Sender<Result<u64, AuditError>>;

/// A record waiting to be committed, and where its sequence number goes.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) record: AuditRecord,
    pub(crate) done: Done,
}

/// Records taken together into one transaction, in order, and where each one's outcome
/// goes.
pub(crate) struct Batch {
    pub(crate) records: Vec<AuditRecord>,
    pub(crate) done: Vec<Done>,
}

impl Batch {
    pub(crate) fn new(waiting: Vec<Waiting>) -> Batch {
        let (records, done) = waiting.into_iter().map(|w| (w.record, w.done)).unzip();
        Batch { records, done }
    }

    /// Answers each call from `appended`, the outcome of appending the batch in one
    /// transaction (the last record's sequence number). After a failure caused by one
    /// record the batch comes back: each record is then to be appended on its own, so each
    /// call gets its own record's outcome. After any other failure each call gets the
    /// batch's error at once, rather than every later call waiting through a retry per
    /// record.
    pub(crate) fn settle(self, appended: Result<u64, AuditError>) -> Option<Batch> {
        match appended {
            Ok(last) => {
                let first = last + 1 - self.records.len() as u64;
                for (seq, done) in (first..).zip(self.done) {
                    // The caller may have gone (its call was cancelled): its record stays.
                    let _ = done.send(Ok(seq));
                }
                None
            }
            Err(AuditError::Corrupt { .. }) => Some(self),
            Err(error) => {
                let problem = crate::error_chain(&error);
                tracing::warn!(%problem, records = self.records.len(), "an audit batch could not be committed");
                for done in self.done {
                    let _ = done.send(Err(AuditError::Unavailable(problem.clone())));
                }
                None
            }
        }
    }
}

/// The writer of one log: started on first use.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Option<mpsc::Sender<Waiting>>>,
    /// Transactions committed by the writer so far.
    batches: Arc<AtomicU64>,
}

impl GroupCommit {
    /// Commits `record` to `log` with whatever else is waiting; returns its sequence
    /// number once it is durable. `log` must be the same on every call.
    pub(crate) async fn append<L: AppendAll>(
        &self,
        log: &Arc<L>,
        record: AuditRecord,
    ) -> Result<u64, AuditError> {
        let (done, committed) = oneshot::channel();
        let mut waiting = Waiting { record, done };
        let mut sent = false;
        // Twice at most: a writer found stopped is started again once.
        for _ in 0..2 {
            let mut queue = self.queue.lock();
            let sender =
                queue.get_or_insert_with(|| start(Arc::downgrade(log), self.batches.clone()));
            match sender.send(waiting) {
                Ok(()) => {
                    sent = true;
                    break;
                }
                Err(mpsc::SendError(back)) => {
                    *queue = None;
                    waiting = back;
                }
            }
        }
        if !sent {
            return Err(AuditError::WriterStopped);
        }
        committed.await.map_err(|_| AuditError::WriterStopped)?
    }

    /// Transactions its writer has committed so far.
    #[cfg(test)]
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
}

/// Starts the writer thread of `log`. It holds the log only weakly between batches: when
/// every handle of the log is gone, so is the queue's sender, and the thread ends.
fn start<L: AppendAll>(log: std::sync::Weak<L>, batches: Arc<AtomicU64>) -> mpsc::Sender<Waiting> {
    let (queue, waiting) = mpsc::channel::<Waiting>();
    let spawned = std::thread::Builder::new()
        .name("audit-commit".into())
        .spawn(move || {
            while let Ok(first) = waiting.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let Some(log) = log.upgrade() else {
                    return;
                };
                // A panic fails this batch's calls (their answers are dropped), not the
                // writer: the next batch is written as usual.
                let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    commit(&*log, batch);
                }));
                if committed.is_err() {
                    tracing::error!("the audit log's writer panicked on a batch");
                }
                batches.fetch_add(1, Ordering::Relaxed);
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the audit log's writer thread");
    }
    queue
}

/// Appends `batch` in one transaction, or record by record when [`Batch::settle`] says so.
fn commit(log: &impl AppendAll, batch: Vec<Waiting>) {
    let batch = Batch::new(batch);
    let appended = log.append_all(&batch.records);
    if let Some(batch) = batch.settle(appended) {
        for (record, done) in batch.records.iter().zip(batch.done) {
            let _ = done.send(log.append_all(std::slice::from_ref(record)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::audit::Decision;

    /// A log that fails every batch as a whole, or panics on its first, counting calls.
    #[derive(Default)]
    struct Failing {
        calls: AtomicUsize,
        panic_first: bool,
    }

    impl AppendAll for Failing {
        fn append_all(&self, records: &[AuditRecord]) -> Result<u64, AuditError> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.panic_first && call == 0 {
                panic!("a bug in the log");
            }
            if self.panic_first {
                return Ok(records.len() as u64);
            }
            Err(AuditError::Unavailable("disk full".into()))
        }
    }

    fn record() -> AuditRecord {
        AuditRecord::event(
            "agent",
            "open",
            "user_info",
            &serde_json::json!({}),
            Decision::Allowed,
            None,
            None,
        )
    }

    #[tokio::test]
    async fn a_batch_failing_as_a_whole_fails_each_call_once_without_a_retry_per_record() {
        let log = Arc::new(Failing::default());
        let group = GroupCommit::default();
        let records: Vec<AuditRecord> = (0..20).map(|_| record()).collect();
        let results =
            futures::future::join_all(records.iter().map(|r| group.append(&log, r.clone()))).await;
        for result in results {
            assert!(
                matches!(result, Err(AuditError::Unavailable(_))),
                "{result:?}"
            );
        }
        // One call per batch, never one per record: at most 20 batches, and a retry per
        // record would have made it 40 or more.
        assert!(log.calls.load(Ordering::SeqCst) <= 20);
    }

    #[tokio::test]
    async fn a_writer_that_panicked_on_a_batch_goes_on_with_the_next() {
        let log = Arc::new(Failing {
            panic_first: true,
            ..Failing::default()
        });
        let group = GroupCommit::default();
        let first = group.append(&log, record()).await;
        assert!(matches!(first, Err(AuditError::WriterStopped)), "{first:?}");
        assert_eq!(group.append(&log, record()).await.unwrap(), 1);
    }
}
