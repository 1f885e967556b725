//! The ledger's tables: `contact_attempts` (one row per attempt, in write order),
//! `contact_failures` (one row per failure, its evidence as a JSON array) and `failure_voids`
//! (at most one per failure). Rows are only ever inserted.

use std::time::SystemTime;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, SqlitePool};

use super::writes::{execute, violated, Constraint};

use crate::dialplan::Role;
use crate::store::millis::{
    bound, duration_from_millis, duration_to_millis, from_millis, to_millis, Owner,
};
use crate::store::{
    ContactAttempt, ContactFailure, Evidence, FailureVoid, StoreError, UnknownContactOutcome,
    UnknownFailureKind,
};

const SELECT_ATTEMPTS: &str = "SELECT seq, handoff_id, call_id, unit, role, dialled, started_at, \
                               rung_ms, outcome, sip_status FROM contact_attempts";
const SELECT_FAILURES: &str = "SELECT id, unit, kind, at, handoff_id, call_id, seat, evidence, \
                               points FROM contact_failures";
const SELECT_VOIDS: &str = "SELECT failure_id, at, by_name, reason, late FROM failure_voids";

pub(super) fn insert_attempt(
    conn: &Connection,
    attempt: &ContactAttempt,
) -> Result<(), StoreError> {
    let owner = Owner::new("contact_attempt", &attempt.call_id);
    let started_at = owner.time("started_at", attempt.started_at)?;
    let rung_ms = duration_to_millis(attempt.rung).ok_or_else(|| owner.out_of_range("rung"))?;
    execute(
        conn,
        "INSERT INTO contact_attempts (handoff_id, call_id, unit, role, dialled, started_at, \
         rung_ms, outcome, sip_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            attempt.handoff_id,
            attempt.call_id,
            attempt.unit,
            attempt.role.as_str(),
            attempt.dialled,
            started_at,
            rung_ms,
            attempt.outcome.as_str(),
            attempt.sip_status.map(i64::from)
        ],
    )?;
    Ok(())
}

pub(super) fn insert_failure(
    conn: &Connection,
    failure: &ContactFailure,
) -> Result<(), StoreError> {
    let owner = Owner::new("contact_failure", &failure.id);
    let at = owner.time("at", failure.at)?;
    let evidence = failure
        .evidence
        .iter()
        .map(|e| {
            Ok(EvidenceJson {
                role: e.role.as_str().to_owned(),
                dialled: e.dialled.clone(),
                started_at: to_millis(e.started_at)
                    .ok_or_else(|| owner.out_of_range("evidence.started_at"))?,
                rung_ms: duration_to_millis(e.rung)
                    .ok_or_else(|| owner.out_of_range("evidence.rung"))?,
                outcome: e.outcome.as_str().to_owned(),
                sip_status: e.sip_status,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let evidence = serde_json::to_string(&evidence).map_err(|_| owner.out_of_range("evidence"))?;
    execute(
        conn,
        "INSERT INTO contact_failures (id, unit, kind, at, handoff_id, call_id, seat, evidence, \
         points) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            failure.id,
            failure.unit,
            failure.kind.as_str(),
            at,
            failure.handoff_id,
            failure.call_id,
            failure.seat,
            evidence,
            i64::from(failure.points)
        ],
    )?;
    Ok(())
}

/// A void needs its failure (`UnknownFailure`) and is refused for a failure already voided
/// (`AlreadyVoided`).
pub(super) fn insert_void(conn: &Connection, void: &FailureVoid) -> Result<(), StoreError> {
    let at = Owner::new("failure_void", &void.failure_id).time("at", void.at)?;
    let inserted = execute(
        conn,
        "INSERT INTO failure_voids (failure_id, at, by_name, reason, late) VALUES (?, ?, ?, ?, ?)",
        params![
            void.failure_id,
            at,
            void.by,
            void.reason,
            i64::from(void.late)
        ],
    );
    let Err(err) = inserted else {
        return Ok(());
    };
    let failure_id = void.failure_id.clone();
    Err(match violated(&err) {
        Some(Constraint::Unique) => StoreError::AlreadyVoided { failure_id },
        Some(Constraint::ForeignKey) => StoreError::UnknownFailure { failure_id },
        _ => err,
    })
}

/// A hand-off's attempts, in write order.
pub(super) async fn attempts_of(
    pool: &SqlitePool,
    handoff_id: &str,
) -> Result<Vec<ContactAttempt>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(&format!(
        "{SELECT_ATTEMPTS} WHERE handoff_id = ? ORDER BY seq"
    ))
    .bind(handoff_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(AttemptRow::into_record).collect()
}

/// Attempts started at or after `from` and before `to`, by start time, then write order.
pub(super) async fn attempts_between(
    pool: &SqlitePool,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<ContactAttempt>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(&format!(
        "{SELECT_ATTEMPTS} WHERE started_at >= ? AND started_at < ? ORDER BY started_at, seq"
    ))
    .bind(bound(from))
    .bind(bound(to))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(AttemptRow::into_record).collect()
}

/// Failures with `from <= at < to`, by time, then id.
pub(super) async fn failures_between(
    pool: &SqlitePool,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<ContactFailure>, StoreError> {
    let rows: Vec<FailureRow> = sqlx::query_as(&format!(
        "{SELECT_FAILURES} WHERE at >= ? AND at < ? ORDER BY at, id"
    ))
    .bind(bound(from))
    .bind(bound(to))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(FailureRow::into_record).collect()
}

pub(super) async fn failure(
    pool: &SqlitePool,
    id: &str,
) -> Result<Option<ContactFailure>, StoreError> {
    let row: Option<FailureRow> = sqlx::query_as(&format!("{SELECT_FAILURES} WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(FailureRow::into_record).transpose()
}

/// Every void, by time, then failure id.
pub(super) async fn voids(pool: &SqlitePool) -> Result<Vec<FailureVoid>, StoreError> {
    let rows: Vec<VoidRow> = sqlx::query_as(&format!("{SELECT_VOIDS} ORDER BY at, failure_id"))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(VoidRow::into_record).collect()
}

pub(super) async fn void_of(
    pool: &SqlitePool,
    failure_id: &str,
) -> Result<Option<FailureVoid>, StoreError> {
    let row: Option<VoidRow> = sqlx::query_as(&format!("{SELECT_VOIDS} WHERE failure_id = ?"))
        .bind(failure_id)
        .fetch_optional(pool)
        .await?;
    row.map(VoidRow::into_record).transpose()
}

/// One attempt of a failure's evidence, as the JSON array in `contact_failures.evidence` holds it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceJson {
    role: String,
    dialled: String,
    /// Milliseconds since the Unix epoch.
    started_at: i64,
    rung_ms: i64,
    outcome: String,
    sip_status: Option<u16>,
}

#[derive(FromRow)]
struct AttemptRow {
    seq: i64,
    handoff_id: Option<String>,
    call_id: String,
    unit: String,
    role: String,
    dialled: String,
    started_at: i64,
    rung_ms: i64,
    outcome: String,
    sip_status: Option<i64>,
}

impl AttemptRow {
    fn into_record(self) -> Result<ContactAttempt, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "contact_attempts",
            id: self.seq.to_string(),
            column,
            value,
        };
        let role = Role::from_name(&self.role).ok_or_else(|| bad("role", self.role.clone()))?;
        let started_at = from_millis(self.started_at)
            .ok_or_else(|| bad("started_at", self.started_at.to_string()))?;
        let rung = duration_from_millis(self.rung_ms)
            .ok_or_else(|| bad("rung_ms", self.rung_ms.to_string()))?;
        let outcome = self
            .outcome
            .parse()
            .map_err(|UnknownContactOutcome(v)| bad("outcome", v))?;
        let sip_status = self
            .sip_status
            .map(|s| u16::try_from(s).map_err(|_| bad("sip_status", s.to_string())))
            .transpose()?;
        Ok(ContactAttempt {
            handoff_id: self.handoff_id,
            call_id: self.call_id,
            unit: self.unit,
            role,
            dialled: self.dialled,
            started_at,
            rung,
            outcome,
            sip_status,
        })
    }
}

#[derive(FromRow)]
struct FailureRow {
    id: String,
    unit: String,
    kind: String,
    at: i64,
    handoff_id: Option<String>,
    call_id: String,
    seat: Option<String>,
    evidence: String,
    points: i64,
}

impl FailureRow {
    fn into_record(self) -> Result<ContactFailure, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "contact_failures",
            id: self.id.clone(),
            column,
            value,
        };
        let kind = self
            .kind
            .parse()
            .map_err(|UnknownFailureKind(v)| bad("kind", v))?;
        let at = from_millis(self.at).ok_or_else(|| bad("at", self.at.to_string()))?;
        let points =
            u32::try_from(self.points).map_err(|_| bad("points", self.points.to_string()))?;
        let bad_evidence = || bad("evidence", self.evidence.clone());
        let json: Vec<EvidenceJson> =
            serde_json::from_str(&self.evidence).map_err(|_| bad_evidence())?;
        let evidence = json
            .into_iter()
            .map(|e| {
                Some(Evidence {
                    role: Role::from_name(&e.role)?,
                    dialled: e.dialled,
                    started_at: from_millis(e.started_at)?,
                    rung: duration_from_millis(e.rung_ms)?,
                    outcome: e.outcome.parse().ok()?,
                    sip_status: e.sip_status,
                })
            })
            .collect::<Option<Vec<Evidence>>>()
            .ok_or_else(bad_evidence)?;
        Ok(ContactFailure {
            id: self.id,
            unit: self.unit,
            kind,
            at,
            handoff_id: self.handoff_id,
            call_id: self.call_id,
            seat: self.seat,
            evidence,
            points,
        })
    }
}

#[derive(FromRow)]
struct VoidRow {
    failure_id: String,
    at: i64,
    by_name: String,
    reason: String,
    late: i64,
}

impl VoidRow {
    fn into_record(self) -> Result<FailureVoid, StoreError> {
        let at = from_millis(self.at).ok_or_else(|| StoreError::BadRow {
            table: "failure_voids",
            id: self.failure_id.clone(),
            column: "at",
            value: self.at.to_string(),
        })?;
        Ok(FailureVoid {
            failure_id: self.failure_id,
            at,
            by: self.by_name,
            reason: self.reason,
            late: self.late != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::dialplan::Role;
    use crate::store::battery_contacts::{contact_attempt, contact_failure};
    use crate::store::{ContactOutcome, Record, SqliteStore, Store, StoreError};

    async fn store_with_a_failure() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hotline.db"))
            .await
            .unwrap();
        store
            .write_batch(&[
                Record::from(contact_attempt(1, 1, Role::Duty, ContactOutcome::Busy)),
                Record::from(contact_failure(1)),
            ])
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn the_database_refuses_to_rewrite_the_ledger() {
        let (_dir, store) = store_with_a_failure().await;
        for sql in [
            "UPDATE contact_attempts SET outcome = 'answered'",
            "DELETE FROM contact_attempts",
            "UPDATE contact_failures SET points = 0",
            "DELETE FROM contact_failures",
        ] {
            let err = sqlx::query(sql).execute(&store.pool).await.unwrap_err();
            assert!(err.to_string().contains("never"), "{sql}: {err}");
        }
        assert_eq!(
            store.contact_failure("cf-call-000001-1").await.unwrap(),
            Some(contact_failure(1))
        );
    }

    #[tokio::test]
    async fn unknown_ledger_strings_are_typed_errors() {
        let (_dir, store) = store_with_a_failure().await;
        // Past the triggers, as a damaged or foreign file could hold them.
        sqlx::query("DROP TRIGGER contact_attempts_no_update")
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("DROP TRIGGER contact_failures_no_update")
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE contact_attempts SET outcome = 'voicemail'")
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE contact_failures SET evidence = '[{\"role\": \"boss\"}]'")
            .execute(&store.pool)
            .await
            .unwrap();
        let err = store.contact_attempts_of("ho-000001").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::BadRow { table: "contact_attempts", column: "outcome", value, .. }
                if value == "voicemail"),
            "{err:?}"
        );
        let err = store.contact_failure("cf-call-000001-1").await.unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::BadRow {
                    table: "contact_failures",
                    column: "evidence",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
