//! Group commit for the SQLite audit log: the records that concurrent calls hand to
//! [`SqliteAuditLog`]'s [`AuditSink`](crate::AuditSink) while a commit is under way are
//! appended together in the next transaction, so one sync makes a whole batch durable.
//! Each call still waits for its own record to be committed before it goes on; none is
//! kept in memory only.
//!
//! One writer thread per log, started by the first record and ended when the last handle
//! of the log is dropped, takes the records in their order of arrival. A batch that fails
//! as a whole (a full disk, another process holding the file too long) is tried again one
//! record at a time, so each call gets its own record's outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use tokio::sync::oneshot;

use crate::audit::{AuditError, AuditRecord};

/// A log that appends records in order, many to a transaction.
pub(crate) trait AppendAll: Send + Sync + 'static {
    /// Appends `records` in one transaction; returns the last one's sequence number.
    fn append_all(&self, records: &[AuditRecord]) -> Result<u64, AuditError>;
}

/// The most records one transaction takes.
const MAX_BATCH: usize = 1024;

/// A record waiting to be committed, and where its sequence number goes.
struct Waiting {
    record: AuditRecord,
    done: oneshot::Sender<Result<u64, AuditError>>,
}

/// The writer of one log: started on first use.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queue: OnceLock<mpsc::Sender<Waiting>>,
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
        let sent = self
            .queue
            .get_or_init(|| start(Arc::downgrade(log), self.batches.clone()))
            .send(Waiting { record, done });
        if sent.is_err() {
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
                commit(&*log, batch);
                batches.fetch_add(1, Ordering::Relaxed);
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the audit log's writer thread");
    }
    queue
}

/// Appends `batch` in one transaction; after a failure, each record on its own.
fn commit(log: &impl AppendAll, batch: Vec<Waiting>) {
    let records: Vec<AuditRecord> = batch.iter().map(|w| w.record.clone()).collect();
    match log.append_all(&records) {
        Ok(last) => {
            let first = last + 1 - batch.len() as u64;
            for (seq, waiting) in (first..).zip(batch) {
                // The caller may have gone (its call was cancelled): its record stays.
                let _ = waiting.done.send(Ok(seq));
            }
        }
        Err(error) => {
            tracing::warn!(%error, records = batch.len(), "audit batch failed; writing its records one by one");
            for waiting in batch {
                let _ = waiting
                    .done
                    .send(log.append_all(std::slice::from_ref(&waiting.record)));
            }
        }
    }
}
