//! The write queue: records go in from call tasks without waiting on the disk, and one
//! task commits whatever has piled up in a single transaction (group commit).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Record, Store, StoreError};

/// Attempts per batch before its records are given up. With the backoff below this rides
/// out about a second of trouble on top of the backend's own busy timeout.
const RETRY_ATTEMPTS: u32 = 5;
const RETRY_BACKOFF_FIRST: Duration = Duration::from_millis(50);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(500);

// Records are nearly every message, so boxing them would only add an allocation each.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Record(Record),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// Counters for the metrics layer. Monotonic, so they map onto `_total` counters.
#[derive(Debug, Default)]
pub struct WriterStats {
    commits: AtomicU64,
    records: AtomicU64,
    records_lost: AtomicU64,
    write_errors: AtomicU64,
}

impl WriterStats {
    /// Transactions committed.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Records committed.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Records given up after every retry failed.
    pub fn records_lost(&self) -> u64 {
        self.records_lost.load(Ordering::Relaxed)
    }

    /// Failed write attempts, retried or not.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// Records submitted and not yet committed or given up.
    queued: AtomicUsize,
    stats: WriterStats,
}

pub struct StoreWriter;

impl StoreWriter {
    /// Starts the writer task. `queue_capacity` bounds the records (and flush requests)
    /// waiting; `batch_max` bounds the records in one transaction. Both are at least 1.
    pub fn spawn<S: Store>(
        store: S,
        queue_capacity: usize,
        batch_max: usize,
    ) -> (WriterHandle, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(run(store, rx, batch_max.max(1), Arc::clone(&shared)));
        (WriterHandle { tx, shared }, task)
    }
}

/// Where call tasks hand their records. The writer task ends, after committing everything
/// still queued, once every handle is dropped.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Queues a record, waiting while the queue is full. Fails only if the writer task is gone.
    pub async fn submit(&self, record: Record) -> Result<(), StoreError> {
        // Counted before sending so the writer's decrement can never run first.
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Msg::Record(record)).await.is_err() {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::WriterClosed);
        }
        Ok(())
    }

    /// Resolves once every record submitted before it has been committed. Fails with
    /// `RecordsLost` if records were given up since the previous flush was answered.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (done_tx, done_rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done_tx))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        done_rx.await.map_err(|_| StoreError::WriterClosed)?
    }

    /// Records submitted and not yet committed (or given up).
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> &WriterStats {
        &self.shared.stats
    }
}

/// Records given up since the last flush was answered.
struct Lost {
    count: u64,
    last_error: Arc<StoreError>,
}

async fn run<S: Store>(
    store: S,
    mut rx: mpsc::Receiver<Msg>,
    batch_max: usize,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(batch_max);
    let mut flushes = Vec::new();
    let mut lost: Option<Lost> = None;

    // Ends when every handle is dropped and the queue is empty.
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Record(record) => batch.push(record),
                Msg::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < batch_max {
                rx.try_recv().ok()
            } else {
                None
            };
        }

        if !batch.is_empty() {
            if let Some(new) = commit(&store, &batch, &shared.stats).await {
                lost = Some(match lost {
                    Some(old) => Lost {
                        count: old.count + new.count,
                        last_error: new.last_error,
                    },
                    None => new,
                });
            }
            shared.queued.fetch_sub(batch.len(), Ordering::Relaxed);
            batch.clear();
        }

        if !flushes.is_empty() {
            let report = lost.take();
            for done in flushes.drain(..) {
                let reply = match &report {
                    None => Ok(()),
                    Some(l) => Err(StoreError::RecordsLost {
                        count: l.count,
                        source: Arc::clone(&l.last_error),
                    }),
                };
                // A flusher that stopped waiting does not need the answer.
                let _ = done.send(reply);
            }
        }
    }
    tracing::debug!("store writer: every handle dropped, queue drained");
}

/// Commits the batch, or as much of it as can be kept; returns what was given up.
async fn commit<S: Store>(store: &S, batch: &[Record], stats: &WriterStats) -> Option<Lost> {
    let err = match write_with_retry(store, batch, stats).await {
        Ok(()) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats
                .records
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            return None;
        }
        Err(err) => err,
    };
    if err.is_transient() || batch.len() == 1 {
        return Some(give_up(batch, err, stats));
    }

    // A record the store refuses must not take the calls batched with it down too:
    // write them one by one so only the bad one is lost.
    let mut lost: Option<Lost> = None;
    for record in batch {
        let one = std::slice::from_ref(record);
        match write_with_retry(store, one, stats).await {
            Ok(()) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats.records.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                let new = give_up(one, err, stats);
                lost = Some(Lost {
                    count: lost.map_or(0, |l| l.count) + new.count,
                    last_error: new.last_error,
                });
            }
        }
    }
    lost
}

async fn write_with_retry<S: Store>(
    store: &S,
    batch: &[Record],
    stats: &WriterStats,
) -> Result<(), StoreError> {
    let mut backoff = RETRY_BACKOFF_FIRST;
    let mut attempt = 1;
    loop {
        let err = match store.write_batch(batch).await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        stats.write_errors.fetch_add(1, Ordering::Relaxed);
        let transient = err.is_transient();
        tracing::error!(
            attempt,
            max_attempts = RETRY_ATTEMPTS,
            records = batch.len(),
            transient,
            error = &err as &dyn std::error::Error,
            "store write failed"
        );
        if !transient || attempt >= RETRY_ATTEMPTS {
            return Err(err);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
        attempt += 1;
    }
}

/// Logs every record given up by kind and id, so the loss can be traced and replayed by hand.
fn give_up(batch: &[Record], err: StoreError, stats: &WriterStats) -> Lost {
    for record in batch {
        tracing::error!(
            kind = record.kind(),
            id = record.id(),
            error = &err as &dyn std::error::Error,
            "store record given up"
        );
    }
    let count = batch.len() as u64;
    stats.records_lost.fetch_add(count, Ordering::Relaxed);
    Lost {
        count,
        last_error: Arc::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::battery::call;
    use crate::store::fake::FakeStore;
    use crate::store::CallRecord;

    fn named(id: &str) -> Record {
        Record::Call(CallRecord {
            id: id.into(),
            ..call(1)
        })
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_the_write_succeeds() {
        let store = FakeStore::failing(RETRY_ATTEMPTS - 1);
        let (writer, _task) = StoreWriter::spawn(store.clone(), 8, 8);

        writer.submit(named("a")).await.unwrap();
        writer.flush().await.unwrap();

        assert_eq!(store.kept_ids(), ["a"]);
        let stats = writer.stats();
        assert_eq!(stats.write_errors(), u64::from(RETRY_ATTEMPTS - 1));
        assert_eq!(
            (stats.commits(), stats.records(), stats.records_lost()),
            (1, 1, 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_stays_broken_reports_the_loss_to_flush_once() {
        let store = FakeStore::failing(u32::MAX);
        let (writer, task) = StoreWriter::spawn(store.clone(), 8, 8);

        writer.submit(named("a")).await.unwrap();
        writer.submit(named("b")).await.unwrap();
        let err = writer.flush().await.unwrap_err();

        assert!(
            matches!(err, StoreError::RecordsLost { count: 2, .. }),
            "{err:?}"
        );
        assert_eq!(writer.stats().records_lost(), 2);
        assert_eq!(writer.stats().write_errors(), u64::from(RETRY_ATTEMPTS));
        assert_eq!(writer.queued(), 0);
        // The loss was reported; a later flush with nothing lost since succeeds.
        writer.flush().await.unwrap();
        // Giving up is bounded, so shutdown is too.
        drop(writer);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_record_does_not_take_its_batch_down() {
        let store = FakeStore::refusing("bad");
        let (writer, _task) = StoreWriter::spawn(store.clone(), 8, 8);

        // The writer task has not run yet, so all three land in one batch.
        for id in ["a", "bad", "c"] {
            writer.submit(named(id)).await.unwrap();
        }
        let err = writer.flush().await.unwrap_err();

        assert!(
            matches!(err, StoreError::RecordsLost { count: 1, .. }),
            "{err:?}"
        );
        assert_eq!(store.kept_ids(), ["a", "c"]);
        // A refused record is not retried: one batch attempt, one attempt for it alone.
        assert_eq!(writer.stats().write_errors(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn queued_counts_records_until_they_are_committed() {
        let store = FakeStore::default();
        let (writer, _task) = StoreWriter::spawn(store, 8, 2);

        for id in ["a", "b", "c"] {
            writer.submit(named(id)).await.unwrap();
        }
        assert_eq!(writer.queued(), 3);
        writer.flush().await.unwrap();

        assert_eq!(writer.queued(), 0);
        assert_eq!(
            writer.stats().commits(),
            2,
            "batch_max bounds each transaction"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_makes_submit_wait_rather_than_drop() {
        let store = FakeStore::default();
        let (writer, _task) = StoreWriter::spawn(store.clone(), 1, 1);

        let ids: Vec<String> = (0..20).map(|n| format!("r{n:02}")).collect();
        for id in &ids {
            writer.submit(named(id)).await.unwrap();
        }
        writer.flush().await.unwrap();

        assert_eq!(store.kept_ids(), ids);
    }

    #[tokio::test(start_paused = true)]
    async fn submit_and_flush_fail_once_the_writer_task_is_gone() {
        let (writer, task) = StoreWriter::spawn(FakeStore::default(), 8, 8);
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());

        let err = writer.submit(named("a")).await.unwrap_err();
        assert!(matches!(err, StoreError::WriterClosed), "{err:?}");
        assert_eq!(writer.queued(), 0);
        let err = writer.flush().await.unwrap_err();
        assert!(matches!(err, StoreError::WriterClosed), "{err:?}");
    }
}
