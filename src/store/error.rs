use std::path::PathBuf;
use std::sync::Arc;

use crate::ratings::RatingKind;

/// Everything that can go wrong between the daemon and its records.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// From the write connection (`sqlite::writes`).
    #[error("database write failed")]
    Write(#[from] rusqlite::Error),
    #[error("cannot open database {path} for writing")]
    OpenWriter {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot start the store's write thread")]
    WriterThread(#[source] std::io::Error),
    /// A database opened read-only (for reports) takes no writes.
    #[error("database {path} is open read-only")]
    ReadOnly { path: PathBuf },
    #[error("{kind} record {id}: {field} is out of the storable time range")]
    TimeOutOfRange {
        kind: &'static str,
        id: String,
        field: &'static str,
    },
    /// A count too large for the database's integers.
    #[error("{kind} record {id}: {field} is too large to store")]
    ValueOutOfRange {
        kind: &'static str,
        id: String,
        field: &'static str,
    },
    #[error("{table} row {id}: column {column} holds an invalid value {value:?}")]
    BadRow {
        table: &'static str,
        id: String,
        column: &'static str,
        value: String,
    },
    /// A second rating of the same kind for a call: the first one stands.
    #[error("call {call_id} already has a {kind} rating")]
    AlreadyRated { call_id: String, kind: RatingKind },
    /// A second void of the same contact failure: the first one stands.
    #[error("contact failure {failure_id} is already voided")]
    AlreadyVoided { failure_id: String },
    /// A void of a contact failure the store does not hold.
    #[error("no contact failure {failure_id}")]
    UnknownFailure { failure_id: String },
    /// A database opened read-only whose schema is older than this build reads.
    #[error(
        "database {path} is at schema version {found}, this build reads version {expected}: \
         start the daemon on it once to upgrade it"
    )]
    SchemaBehind {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error("the store writer task has stopped")]
    WriterClosed,
    #[error("{count} record(s) could not be written and were given up")]
    RecordsLost {
        count: u64,
        #[source]
        source: Arc<StoreError>,
    },
}

impl StoreError {
    /// Whether writing the same records again may succeed. Constraint violations and
    /// unrepresentable values are faults of the record itself, so retrying is pointless;
    /// a busy, full or vanished database may recover.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => !matches!(
                db.kind(),
                sqlx::error::ErrorKind::UniqueViolation
                    | sqlx::error::ErrorKind::ForeignKeyViolation
                    | sqlx::error::ErrorKind::NotNullViolation
                    | sqlx::error::ErrorKind::CheckViolation
            ),
            // Busy, locked, full, I/O: the database may recover. A record's own fault (a
            // violated constraint, a value rusqlite cannot bind) will fail again.
            StoreError::Write(rusqlite::Error::SqliteFailure(failure, _)) => {
                failure.code != rusqlite::ErrorCode::ConstraintViolation
            }
            StoreError::Database(_)
            | StoreError::Open { .. }
            | StoreError::OpenWriter { .. }
            | StoreError::WriterThread(_)
            | StoreError::WriterClosed => true,
            StoreError::Write(_) | StoreError::ReadOnly { .. } => false,
            StoreError::Migrate(_)
            | StoreError::TimeOutOfRange { .. }
            | StoreError::ValueOutOfRange { .. }
            | StoreError::AlreadyRated { .. }
            | StoreError::AlreadyVoided { .. }
            | StoreError::UnknownFailure { .. }
            | StoreError::SchemaBehind { .. }
            | StoreError::BadRow { .. }
            | StoreError::RecordsLost { .. } => false,
        }
    }
}
