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
