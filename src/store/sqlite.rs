//! The SQLite backend: one database file, WAL, every commit durable on return.

mod calls;

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{CallRecord, Record, Store, StoreError};

/// Long enough to ride out a checkpoint or a report query holding the write lock,
/// short enough that a wedged database surfaces as an error the writer can retry.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer holds one connection; the rest serve reports and the API, which WAL lets
/// read while the writer writes.
const MAX_CONNECTIONS: u32 = 4;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL, not WAL's usual NORMAL: a record counts as kept only once it survives
            // a power cut, since contact failures and ratings are evidence.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Writes all records in one transaction: either all are kept or none.
    pub async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for record in records {
            match record {
                Record::Call(call) => calls::insert(&mut tx, call).await?,
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every call, oldest offer first.
    pub async fn calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        calls::all(&self.pool).await
    }

    /// The call whose trunk leg had this Call-ID. Call-IDs come from the trunk and are not
    /// guaranteed unique, so if several match, the latest offered wins.
    pub async fn call_by_sip_call_id(
        &self,
        sip_call_id: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        calls::by_sip_call_id(&self.pool, sip_call_id).await
    }

    /// Closes every connection, which checkpoints the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Store for SqliteStore {
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        SqliteStore::write_batch(self, records).await
    }

    async fn calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        SqliteStore::calls(self).await
    }

    async fn call_by_sip_call_id(
        &self,
        sip_call_id: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        SqliteStore::call_by_sip_call_id(self, sip_call_id).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::store::battery::{call, store_battery, Backend};

    struct SqliteBackend {
        dir: tempfile::TempDir,
    }

    impl SqliteBackend {
        fn path(&self) -> PathBuf {
            self.dir.path().join("hotline.db")
        }
    }

    impl Backend for SqliteBackend {
        type S = SqliteStore;

        async fn create() -> Self {
            SqliteBackend {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        async fn open(&self) -> SqliteStore {
            SqliteStore::open(&self.path()).await.unwrap()
        }
    }

    store_battery!(SqliteBackend);

    #[tokio::test]
    async fn an_unknown_disposition_is_a_typed_error() {
        let backend = SqliteBackend::create().await;
        let store = backend.open().await;
        let call = call(1);
        store
            .write_batch(&[Record::Call(call.clone())])
            .await
            .unwrap();
        sqlx::query("UPDATE calls SET disposition = 'transferred'")
            .execute(&store.pool)
            .await
            .unwrap();

        let is_bad_disposition = |err: &StoreError| {
            matches!(err, StoreError::BadRow { table: "calls", id, column: "disposition", value }
                if id == "call-000001" && value == "transferred")
        };
        let err = store.calls().await.unwrap_err();
        assert!(is_bad_disposition(&err), "{err:?}");
        let err = store
            .call_by_sip_call_id(&call.sip_call_id)
            .await
            .unwrap_err();
        assert!(is_bad_disposition(&err), "{err:?}");
    }

    #[tokio::test]
    async fn migrations_apply_once_however_often_the_file_is_opened() {
        let backend = SqliteBackend::create().await;
        for _ in 0..3 {
            backend.open().await.close().await;
        }
        let store = backend.open().await;

        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let expected = sqlx::migrate!("./migrations").iter().count();
        assert_eq!(applied, i64::try_from(expected).unwrap());
    }

    #[tokio::test]
    async fn open_uses_wal_and_full_sync() {
        let backend = SqliteBackend::create().await;
        let store = backend.open().await;
        let mut conn = store.pool.acquire().await.unwrap();

        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "FULL");
    }

    #[tokio::test]
    async fn open_names_the_path_it_could_not_open() {
        let backend = SqliteBackend::create().await;
        let path = backend.dir.path().join("missing-dir").join("hotline.db");

        let err = SqliteStore::open(&path).await.unwrap_err();

        assert!(
            matches!(&err, StoreError::Open { path: p, .. } if *p == path),
            "{err:?}"
        );
    }
}
