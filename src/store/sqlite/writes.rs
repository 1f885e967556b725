//! The write connection: one rusqlite connection on a thread of its own, which takes a batch
//! whole, writes it in one transaction and answers once.
//!
//! sqlx's SQLite driver also runs a connection on a thread, but crosses to it and back for
//! every statement (and for BEGIN, COMMIT and the pool's ping). A call's three commits made
//! about fifteen such round trips, each waking a parked thread twice: at low call rates that
//! was most of the daemon's CPU per call. Here a batch is one crossing in and one out. Reads,
//! migrations, reports and checkpoints stay on sqlx's pool.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use super::{
    callbacks, calls, contacts, handoffs, legs, open_calls, ratings, recordings, seat_events,
    surveys,
};
use crate::store::{Record, StoreError};

/// More than the distinct statements the writer runs, so none is prepared twice.
const STATEMENT_CACHE: usize = 64;

enum Job {
    Batch {
        records: Vec<Record>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// The handle on the write connection's thread. The thread ends on `close`, or once every
/// handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writes {
    jobs: mpsc::Sender<Job>,
}

impl Writes {
    /// Opens the write connection on an existing, migrated database (WAL is already its
    /// journal mode) and starts its thread.
    pub(super) async fn open(path: &Path, busy_timeout: Duration) -> Result<Writes, StoreError> {
        let (jobs, queue) = mpsc::channel();
        let (opened, answer) = oneshot::channel();
        let path = path.to_owned();
        std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || match connect(&path, busy_timeout) {
                Ok(conn) => {
                    let _ = opened.send(Ok(()));
                    serve(conn, queue);
                }
                Err(source) => {
                    let _ = opened.send(Err(StoreError::OpenWriter { path, source }));
                }
            })
            .map_err(StoreError::WriterThread)?;
        answer.await.map_err(|_| StoreError::WriterClosed)??;
        Ok(Writes { jobs })
    }

    /// Writes all records in one transaction: either all are kept or none.
    pub(super) async fn write(&self, records: &[Record]) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Batch {
            records: records.to_vec(),
            done,
        };
        self.jobs.send(job).map_err(|_| StoreError::WriterClosed)?;
        answer.await.map_err(|_| StoreError::WriterClosed)?
    }

    /// Closes the connection once the batches before this are written; later writes fail
    /// with `WriterClosed`.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, rusqlite::Error> {
    // Never creates the file: `SqliteStore::open` has created and migrated it.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    // FULL, not WAL's usual NORMAL: a record counts as kept only once it survives a power
    // cut, since contact failures and ratings are evidence.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Checkpoints run from `checkpoint::run`, never inside the writer's commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn serve(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        match job {
            Job::Batch { records, done } => {
                // A writer that stopped waiting does not need the answer.
                let _ = done.send(write_batch(&mut conn, &records));
            }
            Job::Close { done } => {
                if let Err((_, err)) = conn.close() {
                    tracing::warn!(
                        error = &err as &dyn std::error::Error,
                        "store: closing the write connection failed"
                    );
                }
                let _ = done.send(());
                return;
            }
        }
    }
}

fn write_batch(conn: &mut Connection, records: &[Record]) -> Result<(), StoreError> {
    // IMMEDIATE: the write lock is taken at BEGIN, so a batch never fails half-way because a
    // checkpoint or another writer got it first.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for record in records {
        match record {
            Record::OpenCall(call) => open_calls::upsert(&tx, call)?,
            Record::Alive(at) => open_calls::alive(&tx, *at)?,
            Record::Call(call) => {
                calls::insert(&tx, call)?;
                open_calls::remove(&tx, &call.id)?;
                legs::end_with_call(&tx, call)?;
            }
            Record::SeatEvent(event) => seat_events::insert(&tx, event)?,
            Record::Callback(callback) => callbacks::insert(&tx, callback)?,
            Record::Rating(rating) => ratings::insert(&tx, rating)?,
            Record::Survey(survey) => surveys::upsert(&tx, survey)?,
            Record::SurveyAttempt(attempt) => surveys::insert_attempt(&tx, attempt)?,
            Record::OpenLeg(leg) => legs::upsert_open(&tx, leg)?,
            Record::Leg(leg) => legs::insert_leg(&tx, leg)?,
            Record::CallEvent(event) => legs::insert_event(&tx, event)?,
            Record::Handoff(handoff) => handoffs::upsert(&tx, handoff)?,
            Record::ContactAttempt(a) => contacts::insert_attempt(&tx, a)?,
            Record::ContactFailure(f) => contacts::insert_failure(&tx, f)?,
            Record::FailureVoid(void) => contacts::insert_void(&tx, void)?,
            Record::Recording(recording) => recordings::upsert(&tx, recording)?,
            Record::RecordingDeleted { id, at } => recordings::mark_deleted(&tx, id, *at)?,
        }
    }
    tx.commit()?;
    Ok(())
}

/// Runs one cached statement.
pub(super) fn execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// The constraint a failed write violated, if that is why it failed.
pub(super) fn violated(err: &StoreError) -> Option<Constraint> {
    let StoreError::Write(rusqlite::Error::SqliteFailure(failure, _)) = err else {
        return None;
    };
    if failure.code != ErrorCode::ConstraintViolation {
        return None;
    }
    Some(match failure.extended_code {
        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            Constraint::Unique
        }
        rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Constraint::ForeignKey,
        _ => Constraint::Other,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Constraint {
    Unique,
    ForeignKey,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn the_write_connection_is_durable_checks_foreign_keys_and_never_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.db");
        let store = SqliteStore::open(&path).await.unwrap();

        let conn = connect(&path, Duration::from_secs(5)).unwrap();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("wal_autocheckpoint"), "0");
        assert_eq!(pragma("busy_timeout"), "5000");
        store.close().await;
    }

    #[tokio::test]
    async fn a_write_after_close_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let at = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        store.write_batch(&[Record::Alive(at)]).await.unwrap();
        store.close().await;

        let err = store.write_batch(&[Record::Alive(at)]).await.unwrap_err();

        assert!(matches!(err, StoreError::WriterClosed), "{err:?}");
        assert!(err.is_transient());
    }
}
