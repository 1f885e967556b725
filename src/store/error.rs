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
            StoreError::Database(_) | StoreError::Open { .. } | StoreError::WriterClosed => true,
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
