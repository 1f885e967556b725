//! The SQLite backend: one database file, WAL, every commit durable on return. Writes go
//! through one connection on a thread of its own (`writes`), reads through sqlx's pool.

mod callbacks;
mod calls;
pub mod checkpoint;
mod contacts;
mod handoffs;
mod legs;
mod open_calls;
mod ratings;
mod recordings;
mod seat_events;
mod surveys;
mod writes;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{
    CallEventRecord, CallRecord, CallbackRequest, ContactAttempt, ContactFailure, FailureVoid,
    HandoffRecord, LegRecord, OpenCall, OpenLeg, RatingRecord, Record, RecordingRecord, SeatEvent,
    Store, StoreError, SurveyAttempt, SurveyRecord, SurveyState,
};

/// Long enough to ride out a checkpoint or a report query holding the write lock,
/// short enough that a wedged database surfaces as an error the writer can retry.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads (reports, the API, start-up), migrations and checkpoints; WAL lets them read while
/// the write connection (`writes`) writes.
const MAX_CONNECTIONS: u32 = 4;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads, migrations, checkpoints.
    pool: SqlitePool,
    /// Writes; `None` when opened read-only.
    writes: Option<writes::Writes>,
    path: PathBuf,
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
            .foreign_keys(true)
            // Checkpoints run from `checkpoint::run`, never inside the writer's commits.
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writes = writes::Writes::open(path, BUSY_TIMEOUT).await?;
        Ok(SqliteStore {
            pool,
            writes: Some(writes),
            path: path.to_owned(),
        })
    }

    /// Opens an existing database for reading, as reports do beside a running daemon: never
    /// creates the file, never migrates it (a report run by a newer build must not upgrade
    /// a database the running daemon is older than), and refuses a schema older than this
    /// build reads. Writing through it fails.
    pub async fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let expected = sqlx::migrate!("./migrations")
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        // A file that is not a hotline database has no migration table at all.
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await
                .unwrap_or(None);
        let found = found.unwrap_or(0);
        if found < expected {
            pool.close().await;
            return Err(StoreError::SchemaBehind {
                path: path.to_owned(),
                found,
                expected,
            });
        }
        Ok(SqliteStore {
            pool,
            writes: None,
            path: path.to_owned(),
        })
    }

    /// Writes all records in one transaction: either all are kept or none.
    pub async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        match &self.writes {
            Some(writes) => writes.write(records).await,
            None => Err(StoreError::ReadOnly {
                path: self.path.clone(),
            }),
        }
    }

    /// Hand-offs opened in `from <= opened_at < to`, oldest first, as last written.
    pub async fn handoffs_opened_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<HandoffRecord>, StoreError> {
        handoffs::opened_in(&self.pool, from, to).await
    }

    /// Closes every hand-off left open (the daemon stopped with it open) as interrupted, at
    /// the daemon's last sign of life; returns how many.
    pub async fn close_interrupted_handoffs(&self) -> Result<u64, StoreError> {
        handoffs::close_interrupted(&self.pool).await
    }

    /// The legs of a call (caller, seats, unit contacts), in the order they started.
    pub async fn legs(&self, call_id: &str) -> Result<Vec<LegRecord>, StoreError> {
        legs::legs_of(&self.pool, call_id).await
    }

    /// The legs of a call still in progress (or left open by a daemon that stopped without
    /// ending them), in the order they started.
    pub async fn open_legs(&self, call_id: &str) -> Result<Vec<OpenLeg>, StoreError> {
        legs::open_legs_of(&self.pool, call_id).await
    }

    /// What happened between a call's legs, in order.
    pub async fn call_events(&self, call_id: &str) -> Result<Vec<CallEventRecord>, StoreError> {
        legs::events_of(&self.pool, call_id).await
    }

    /// Every call, oldest offer first.
    pub async fn calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        calls::all(&self.pool).await
    }

    pub async fn calls_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<CallRecord>, StoreError> {
        calls::between(&self.pool, from, to).await
    }

    pub async fn callbacks_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        callbacks::between(&self.pool, from, to).await
    }

    /// Every call in progress (or left open by a daemon that stopped without ending it).
    pub async fn open_calls(&self) -> Result<Vec<OpenCall>, StoreError> {
        open_calls::all(&self.pool).await
    }

    /// Closes every call left open as interrupted; returns how many. For start-up, before the
    /// daemon takes calls.
    pub async fn close_interrupted(&self) -> Result<u64, StoreError> {
        open_calls::close_interrupted(&self.pool).await
    }

    /// The call whose trunk leg had this Call-ID. Call-IDs come from the trunk and are not
    /// guaranteed unique, so if several match, the latest offered wins.
    pub async fn call_by_sip_call_id(
        &self,
        sip_call_id: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        calls::by_sip_call_id(&self.pool, sip_call_id).await
    }

    /// Every seat state change, in time order, then write order.
    pub async fn seat_events(&self) -> Result<Vec<SeatEvent>, StoreError> {
        seat_events::all(&self.pool).await
    }

    /// Every callback request, ordered by request time, then id.
    pub async fn callbacks(&self) -> Result<Vec<CallbackRequest>, StoreError> {
        callbacks::all(&self.pool).await
    }

    /// Every rating, ordered by time, then id.
    pub async fn ratings(&self) -> Result<Vec<RatingRecord>, StoreError> {
        ratings::all(&self.pool).await
    }

    /// Ratings given at or after `from` and before `to`, ordered by time, then id.
    pub async fn ratings_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<RatingRecord>, StoreError> {
        ratings::between(&self.pool, from, to).await
    }

    /// Every survey as last recorded, ordered by request time, then id.
    pub async fn surveys(&self) -> Result<Vec<SurveyRecord>, StoreError> {
        surveys::all(&self.pool).await
    }

    /// The surveys whose last record is in `status`, ordered by request time, then id.
    pub async fn surveys_in_state(
        &self,
        status: SurveyState,
    ) -> Result<Vec<SurveyRecord>, StoreError> {
        surveys::in_state(&self.pool, status).await
    }

    /// The survey as last recorded.
    pub async fn survey(&self, id: &str) -> Result<Option<SurveyRecord>, StoreError> {
        surveys::by_id(&self.pool, id).await
    }

    /// A survey's call attempts, first attempt first.
    pub async fn survey_attempts(&self, survey_id: &str) -> Result<Vec<SurveyAttempt>, StoreError> {
        surveys::attempts(&self.pool, survey_id).await
    }

    /// Closes every connection, which checkpoints the WAL into the main file.
    pub async fn close(&self) {
        if let Some(writes) = &self.writes {
            writes.close().await;
        }
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

    async fn open_calls(&self) -> Result<Vec<OpenCall>, StoreError> {
        SqliteStore::open_calls(self).await
    }

    async fn close_interrupted(&self) -> Result<u64, StoreError> {
        SqliteStore::close_interrupted(self).await
    }

    async fn call_by_sip_call_id(
        &self,
        sip_call_id: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        SqliteStore::call_by_sip_call_id(self, sip_call_id).await
    }

    async fn seat_events(&self) -> Result<Vec<SeatEvent>, StoreError> {
        SqliteStore::seat_events(self).await
    }

    async fn callbacks(&self) -> Result<Vec<CallbackRequest>, StoreError> {
        SqliteStore::callbacks(self).await
    }

    async fn ratings(&self) -> Result<Vec<RatingRecord>, StoreError> {
        SqliteStore::ratings(self).await
    }

    async fn ratings_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<RatingRecord>, StoreError> {
        SqliteStore::ratings_in(self, from, to).await
    }

    async fn calls_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<CallRecord>, StoreError> {
        SqliteStore::calls_in(self, from, to).await
    }

    async fn callbacks_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        SqliteStore::callbacks_in(self, from, to).await
    }

    async fn surveys(&self) -> Result<Vec<SurveyRecord>, StoreError> {
        SqliteStore::surveys(self).await
    }

    async fn surveys_in_state(&self, status: SurveyState) -> Result<Vec<SurveyRecord>, StoreError> {
        SqliteStore::surveys_in_state(self, status).await
    }

    async fn survey(&self, id: &str) -> Result<Option<SurveyRecord>, StoreError> {
        SqliteStore::survey(self, id).await
    }

    async fn survey_attempts(&self, survey_id: &str) -> Result<Vec<SurveyAttempt>, StoreError> {
        SqliteStore::survey_attempts(self, survey_id).await
    }

    async fn contact_attempts_of(
        &self,
        handoff_id: &str,
    ) -> Result<Vec<ContactAttempt>, StoreError> {
        contacts::attempts_of(&self.pool, handoff_id).await
    }

    async fn contact_attempts_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<ContactAttempt>, StoreError> {
        contacts::attempts_between(&self.pool, from, to).await
    }

    async fn contact_failures_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<ContactFailure>, StoreError> {
        contacts::failures_between(&self.pool, from, to).await
    }

    async fn contact_failure(&self, id: &str) -> Result<Option<ContactFailure>, StoreError> {
        contacts::failure(&self.pool, id).await
    }

    async fn failure_voids(&self) -> Result<Vec<FailureVoid>, StoreError> {
        contacts::voids(&self.pool).await
    }

    async fn failure_void(&self, failure_id: &str) -> Result<Option<FailureVoid>, StoreError> {
        contacts::void_of(&self.pool, failure_id).await
    }

    async fn recordings_of(&self, call_id: &str) -> Result<Vec<RecordingRecord>, StoreError> {
        recordings::of_call(&self.pool, call_id).await
    }

    async fn open_recordings(&self) -> Result<Vec<RecordingRecord>, StoreError> {
        recordings::open(&self.pool).await
    }

    async fn recordings_ended_before(
        &self,
        t: SystemTime,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        recordings::ended_before(&self.pool, t).await
    }
}

#[cfg(test)]
mod tests;
