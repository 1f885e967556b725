//! The `call_legs` and `call_events` tables: every leg of a call with its role, and what
//! happened between the legs (consultations, conferences, transfers).

use std::time::SystemTime;

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use crate::store::millis::{from_millis, to_millis};
use crate::store::{CallEventRecord, LegRecord, LegRole, StoreError, UnknownLegRole};

pub(super) async fn insert_leg(
    conn: &mut SqliteConnection,
    leg: &LegRecord,
) -> Result<(), StoreError> {
    let time = |field: &'static str, t: SystemTime| {
        to_millis(t).ok_or_else(|| StoreError::TimeOutOfRange {
            kind: "leg",
            id: leg.id.clone(),
            field,
        })
    };
    let started_at = time("started_at", leg.started_at)?;
    let answered_at = leg
        .answered_at
        .map(|t| time("answered_at", t))
        .transpose()?;
    let ended_at = time("ended_at", leg.ended_at)?;
    sqlx::query(
        "INSERT INTO call_legs (id, call_id, role, party, started_at, answered_at, ended_at, \
         ended_how) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&leg.id)
    .bind(&leg.call_id)
    .bind(leg.role.as_str())
    .bind(&leg.party)
    .bind(started_at)
    .bind(answered_at)
    .bind(ended_at)
    .bind(&leg.ended_how)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_event(
    conn: &mut SqliteConnection,
    event: &CallEventRecord,
) -> Result<(), StoreError> {
    let at = to_millis(event.at).ok_or_else(|| StoreError::TimeOutOfRange {
        kind: "call_event",
        id: event.call_id.clone(),
        field: "at",
    })?;
    sqlx::query("INSERT INTO call_events (call_id, at, kind, detail) VALUES (?, ?, ?, ?)")
        .bind(&event.call_id)
        .bind(at)
        .bind(&event.kind)
        .bind(&event.detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// The legs of one call, in the order they started.
pub(super) async fn legs_of(
    pool: &SqlitePool,
    call_id: &str,
) -> Result<Vec<LegRecord>, StoreError> {
    let rows: Vec<LegRow> = sqlx::query_as(
        "SELECT id, call_id, role, party, started_at, answered_at, ended_at, ended_how \
         FROM call_legs WHERE call_id = ? ORDER BY started_at, id",
    )
    .bind(call_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(LegRow::into_record).collect()
}

/// The events of one call, in the order they were written.
pub(super) async fn events_of(
    pool: &SqlitePool,
    call_id: &str,
) -> Result<Vec<CallEventRecord>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT call_id, at, kind, detail FROM call_events WHERE call_id = ? ORDER BY seq",
    )
    .bind(call_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let at = from_millis(row.at).ok_or_else(|| StoreError::BadRow {
                table: "call_events",
                id: row.call_id.clone(),
                column: "at",
                value: row.at.to_string(),
            })?;
            Ok(CallEventRecord {
                call_id: row.call_id,
                at,
                kind: row.kind,
                detail: row.detail,
            })
        })
        .collect()
}

#[derive(FromRow)]
struct LegRow {
    id: String,
    call_id: String,
    role: String,
    party: String,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: i64,
    ended_how: String,
}

impl LegRow {
    fn into_record(self) -> Result<LegRecord, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "call_legs",
            id: self.id.clone(),
            column,
            value,
        };
        let time =
            |column: &'static str, v: i64| from_millis(v).ok_or_else(|| bad(column, v.to_string()));
        let role: LegRole = self
            .role
            .parse()
            .map_err(|UnknownLegRole(v)| bad("role", v))?;
        Ok(LegRecord {
            started_at: time("started_at", self.started_at)?,
            answered_at: self
                .answered_at
                .map(|v| time("answered_at", v))
                .transpose()?,
            ended_at: time("ended_at", self.ended_at)?,
            role,
            id: self.id.clone(),
            call_id: self.call_id,
            party: self.party,
            ended_how: self.ended_how,
        })
    }
}

#[derive(FromRow)]
struct EventRow {
    call_id: String,
    at: i64,
    kind: String,
    detail: Option<String>,
}
