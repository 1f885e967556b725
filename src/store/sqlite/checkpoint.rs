//! Checkpoints of the write-ahead log, off the writer's path. SQLite's automatic checkpoint runs
//! inside the commit that fills the log past 1,000 pages, so at a high call rate one group commit
//! in every second or two also copied the log into the database and synced it, and the calls
//! waiting on the store queue waited with it (INVITE→200 p99 of 17 to 117 ms at 1,000 calls/s).
//! The store turns that off (`wal_autocheckpoint = 0`) and this task checkpoints from its own
//! connection every second instead, in PASSIVE mode: it copies what no reader still needs and
//! never waits for the writer, nor the writer for it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::SqliteStore;
use crate::store::StoreError;

/// How often the log is copied into the database.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

impl SqliteStore {
    /// Copies what it can of the write-ahead log into the database without waiting for readers
    /// or the writer; returns the log's frames and how many of them are now in the database.
    pub async fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        let (_busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await?;
        Ok((log, done))
    }
}

/// Checkpoints every `CHECKPOINT_EVERY` until `stop`.
pub async fn run(store: SqliteStore, stop: CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = store.checkpoint().await {
            tracing::warn!(%error, "checkpoint of the store's log failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::battery::call;
    use crate::store::Record;

    /// With the automatic checkpoint off, what is committed stays in the log until a
    /// checkpoint copies it; then every frame of the log is in the database.
    #[tokio::test]
    async fn a_checkpoint_copies_the_whole_log_when_nobody_reads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("hotline.db"))
            .await
            .expect("open");
        let auto: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.pool)
            .await
            .expect("pragma");
        assert_eq!(auto, 0, "the writer never checkpoints itself");
        let calls: Vec<Record> = (1..=50).map(|n| Record::Call(call(n))).collect();
        store.write_batch(&calls).await.expect("write");
        let (log, done) = store.checkpoint().await.expect("checkpoint");
        assert!(log > 0, "the commit went to the log");
        assert_eq!(done, log, "all of it copied");
        assert_eq!(store.calls().await.expect("read").len(), 50);
    }
}
