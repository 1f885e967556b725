//! The SQLite store against the store battery, and what only SQLite can get wrong (rows it
//! refuses, databases from before a migration).

use std::path::PathBuf;

use super::*;
use crate::store::battery::{
    call, callback, queued_call, rating, satisfied, seat_event, store_battery, Backend,
};
use crate::store::{NotRatedReason, RatingOutcome};

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
crate::store::battery_contacts::contacts_battery!(SqliteBackend);

/// The schema version this build migrates to.
fn latest_migration() -> i64 {
    sqlx::migrate!("./migrations")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

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
async fn an_unknown_offer_outcome_is_a_typed_error() {
    let backend = SqliteBackend::create().await;
    let store = backend.open().await;
    let call = queued_call(1);
    store
        .write_batch(&[Record::Call(call.clone())])
        .await
        .unwrap();
    sqlx::query("UPDATE call_offers SET outcome = 'declined' WHERE seq = 1")
        .execute(&store.pool)
        .await
        .unwrap();

    let is_bad_outcome = |err: &StoreError| {
        matches!(err, StoreError::BadRow { table: "call_offers", id, column: "outcome", value }
            if id == "call-000001#1" && value == "declined")
    };
    let err = store.calls().await.unwrap_err();
    assert!(is_bad_outcome(&err), "{err:?}");
    let err = store
        .call_by_sip_call_id(&call.sip_call_id)
        .await
        .unwrap_err();
    assert!(is_bad_outcome(&err), "{err:?}");
}

/// A database as the first release left it: only migration 0001, one call written.
async fn create_before_the_queue(path: &Path) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    let mut first_release = sqlx::migrate!("./migrations");
    first_release.migrations = first_release.migrations[..1].to_vec().into();
    assert_eq!(first_release.migrations[0].version, 1);
    first_release.run(&pool).await.unwrap();
    // Raw SQL, as that release wrote it: `call(1)` has no queue part.
    sqlx::query(
        "INSERT INTO calls (id, sip_call_id, trunk, caller, called, seat, offered_at, \
         answered_at, ended_at, disposition, sip_cause, ended_by) VALUES ('call-000001', \
         '1-a84b4c76e66710@trunk.example', 'telecom', '13800138000', '12345', '1001', \
         1718000001000, 1718000008250, 1718000188003, 'answered', 487, 'caller')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(tables, ["_sqlx_migrations", "calls"]);
    pool.close().await;
}

#[tokio::test]
async fn a_database_from_before_the_queue_is_upgraded_on_open() {
    let backend = SqliteBackend::create().await;
    create_before_the_queue(&backend.path()).await;

    let store = backend.open().await;
    assert_eq!(store.calls().await.unwrap(), vec![call(1)]);
    assert_eq!(
        store
            .call_by_sip_call_id(&call(1).sip_call_id)
            .await
            .unwrap(),
        Some(call(1))
    );
    assert_eq!(store.seat_events().await.unwrap(), vec![]);
    assert_eq!(store.callbacks().await.unwrap(), vec![]);

    let event = seat_event("1001", 1_000, "available", "paused");
    store
        .write_batch(&[
            Record::Call(queued_call(2)),
            Record::SeatEvent(event.clone()),
            Record::Callback(callback(2)),
        ])
        .await
        .unwrap();
    drop(store);
    let store = backend.open().await;
    assert_eq!(store.calls().await.unwrap(), vec![call(1), queued_call(2)]);
    assert_eq!(store.seat_events().await.unwrap(), vec![event]);
    assert_eq!(store.callbacks().await.unwrap(), vec![callback(2)]);
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    let every: Vec<i64> = (1..=latest_migration()).collect();
    assert_eq!(applied, every);
}

#[tokio::test]
async fn unknown_rating_strings_are_typed_errors() {
    let backend = SqliteBackend::create().await;
    let store = backend.open().await;
    let not_rated = rating(2, RatingOutcome::NotRated(NotRatedReason::NoDigit));
    store
        .write_batch(&[Record::Rating(satisfied(1)), Record::Rating(not_rated)])
        .await
        .unwrap();

    let cases = [
        (
            "UPDATE ratings SET rating = 'very_satisfied' WHERE id = 'rating-000001'",
            "rating",
            "very_satisfied",
        ),
        (
            "UPDATE ratings SET not_rated = 'busy' WHERE id = 'rating-000002'",
            "not_rated",
            "busy",
        ),
        (
            "UPDATE ratings SET kind = 'survey' WHERE id = 'rating-000002'",
            "kind",
            "survey",
        ),
    ];
    for (edit, want_column, want_value) in cases {
        sqlx::query(edit).execute(&store.pool).await.unwrap();
        let err = store.ratings().await.unwrap_err();
        assert!(
            matches!(&err, StoreError::BadRow { table: "ratings", column, value, .. }
                if *column == want_column && value == want_value),
            "{err:?}"
        );
        // Undo, so the next case is the only fault.
        sqlx::query("DELETE FROM ratings")
            .execute(&store.pool)
            .await
            .unwrap();
        store
            .write_batch(&[
                Record::Rating(satisfied(1)),
                Record::Rating(rating(2, RatingOutcome::NotRated(NotRatedReason::NoDigit))),
            ])
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_row_with_both_or_neither_outcome_is_refused_by_the_table() {
    let backend = SqliteBackend::create().await;
    let store = backend.open().await;
    for (rating, not_rated) in [(Some("satisfied"), Some("no_digit")), (None, None)] {
        let err = sqlx::query(
            "INSERT INTO ratings (id, call_id, kind, at, rating, not_rated) \
             VALUES ('r', 'c', 'keypad', 0, ?, ?)",
        )
        .bind(rating)
        .bind(not_rated)
        .execute(&store.pool)
        .await
        .unwrap_err();
        let kind = err.as_database_error().map(|e| e.kind());
        assert_eq!(
            kind,
            Some(sqlx::error::ErrorKind::CheckViolation),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn unknown_survey_strings_are_typed_errors() {
    use crate::store::battery::{attempt, survey};
    use crate::store::AttemptOutcome;
    let backend = SqliteBackend::create().await;
    let store = backend.open().await;
    store
        .write_batch(&[
            Record::Survey(survey(1)),
            Record::SurveyAttempt(attempt(1, 1, AttemptOutcome::Busy)),
        ])
        .await
        .unwrap();
    sqlx::query("UPDATE surveys SET status = 'dialling'")
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE survey_attempts SET outcome = 'voicemail'")
        .execute(&store.pool)
        .await
        .unwrap();

    let err = store.surveys().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::BadRow { table: "surveys", id, column: "status", value }
            if id == "survey-000001" && value == "dialling"),
        "{err:?}"
    );
    let err = store.survey("survey-000001").await.unwrap_err();
    assert!(matches!(&err, StoreError::BadRow { .. }), "{err:?}");
    let err = store.survey_attempts("survey-000001").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::BadRow { table: "survey_attempts", id, column: "outcome", value }
            if id == "survey-000001#1" && value == "voicemail"),
        "{err:?}"
    );
}

/// A database as the queue release left it: migrations 0001 and 0002, one call written.
async fn create_before_ratings(path: &Path) {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    let mut queue_release = sqlx::migrate!("./migrations");
    queue_release.migrations = queue_release.migrations[..2].to_vec().into();
    queue_release.run(&pool).await.unwrap();
    pool.close().await;
    // The call row as that release wrote it (today's write also clears `calls_open`,
    // which that release did not have).
    let conn = rusqlite::Connection::open(path).unwrap();
    calls::insert(&conn, &queued_call(1)).unwrap();
}

#[tokio::test]
async fn a_database_from_before_ratings_is_upgraded_on_open() {
    let backend = SqliteBackend::create().await;
    create_before_ratings(&backend.path()).await;

    // A report does not upgrade it, and says why it cannot read it.
    let err = SqliteStore::open_read_only(&backend.path())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::SchemaBehind {
                found: 2,
                expected,
                ..
            } if *expected == latest_migration()
        ),
        "{err:?}"
    );

    let store = backend.open().await;
    assert_eq!(store.calls().await.unwrap(), vec![queued_call(1)]);
    assert_eq!(store.ratings().await.unwrap(), vec![]);
    store
        .write_batch(&[Record::Rating(satisfied(1))])
        .await
        .unwrap();
    store.close().await;

    let report = SqliteStore::open_read_only(&backend.path()).await.unwrap();
    assert_eq!(report.ratings().await.unwrap(), vec![satisfied(1)]);
}

#[tokio::test]
async fn read_only_open_reads_beside_a_writer_and_writes_nothing() {
    let backend = SqliteBackend::create().await;
    let daemon = backend.open().await;
    daemon
        .write_batch(&[Record::Rating(satisfied(1))])
        .await
        .unwrap();

    let report = SqliteStore::open_read_only(&backend.path()).await.unwrap();
    assert_eq!(report.ratings().await.unwrap(), vec![satisfied(1)]);
    // The daemon keeps writing while the report holds the file open.
    daemon
        .write_batch(&[Record::Rating(satisfied(2))])
        .await
        .unwrap();
    assert_eq!(
        report.ratings().await.unwrap(),
        vec![satisfied(1), satisfied(2)]
    );
    let err = report
        .write_batch(&[Record::Rating(satisfied(3))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert_eq!(daemon.ratings().await.unwrap().len(), 2);
}

#[tokio::test]
async fn read_only_open_neither_creates_a_file_nor_reads_a_stranger() {
    let backend = SqliteBackend::create().await;
    let missing = backend.path();
    let err = SqliteStore::open_read_only(&missing).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Open { path, .. } if *path == missing),
        "{err:?}"
    );
    assert!(!missing.exists());

    // An SQLite file that is not a hotline database.
    let stranger = backend.dir.path().join("other.db");
    let options = SqliteConnectOptions::new()
        .filename(&stranger)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE t (x)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = SqliteStore::open_read_only(&stranger).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::SchemaBehind { found: 0, .. }),
        "{err:?}"
    );
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
