//! The `calls` table: one row per `CallRecord`.

use std::time::SystemTime;

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use crate::store::millis::{from_millis, to_millis};
use crate::store::{CallRecord, Disposition, StoreError};

const COLUMNS: &str = "id, sip_call_id, trunk, caller, called, seat, offered_at, answered_at, \
                       ended_at, disposition, sip_cause, ended_by";

pub(super) async fn insert(
    conn: &mut SqliteConnection,
    call: &CallRecord,
) -> Result<(), StoreError> {
    let time = |field: &'static str, t: SystemTime| {
        to_millis(t).ok_or_else(|| StoreError::TimeOutOfRange {
            kind: "call",
            id: call.id.clone(),
            field,
        })
    };
    let offered_at = time("offered_at", call.offered_at)?;
    let answered_at = call
        .answered_at
        .map(|t| time("answered_at", t))
        .transpose()?;
    let ended_at = time("ended_at", call.ended_at)?;

    sqlx::query(&format!(
        "INSERT INTO calls ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&call.id)
    .bind(&call.sip_call_id)
    .bind(&call.trunk)
    .bind(&call.caller)
    .bind(&call.called)
    .bind(&call.seat)
    .bind(offered_at)
    .bind(answered_at)
    .bind(ended_at)
    .bind(call.disposition.as_str())
    .bind(call.sip_cause.map(i64::from))
    .bind(&call.ended_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<CallRecord>, StoreError> {
    let rows: Vec<CallRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM calls ORDER BY offered_at, id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(CallRow::into_record).collect()
}

pub(super) async fn by_sip_call_id(
    pool: &SqlitePool,
    sip_call_id: &str,
) -> Result<Option<CallRecord>, StoreError> {
    let row: Option<CallRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM calls WHERE sip_call_id = ? \
         ORDER BY offered_at DESC, id DESC LIMIT 1"
    ))
    .bind(sip_call_id)
    .fetch_optional(pool)
    .await?;
    row.map(CallRow::into_record).transpose()
}

/// A row as SQLite hands it back, before its values are checked.
#[derive(FromRow)]
struct CallRow {
    id: String,
    sip_call_id: String,
    trunk: String,
    caller: String,
    called: String,
    seat: Option<String>,
    offered_at: i64,
    answered_at: Option<i64>,
    ended_at: i64,
    disposition: String,
    sip_cause: Option<i64>,
    ended_by: Option<String>,
}

impl CallRow {
    fn into_record(self) -> Result<CallRecord, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "calls",
            id: self.id.clone(),
            column,
            value,
        };
        let time = |column: &'static str, ms: i64| {
            from_millis(ms).ok_or_else(|| bad(column, ms.to_string()))
        };
        let offered_at = time("offered_at", self.offered_at)?;
        let answered_at = self
            .answered_at
            .map(|ms| time("answered_at", ms))
            .transpose()?;
        let ended_at = time("ended_at", self.ended_at)?;
        let disposition: Disposition = self
            .disposition
            .parse()
            .map_err(|_| bad("disposition", self.disposition.clone()))?;
        let sip_cause = self
            .sip_cause
            .map(|c| u16::try_from(c).map_err(|_| bad("sip_cause", c.to_string())))
            .transpose()?;
        Ok(CallRecord {
            id: self.id,
            sip_call_id: self.sip_call_id,
            trunk: self.trunk,
            caller: self.caller,
            called: self.called,
            seat: self.seat,
            offered_at,
            answered_at,
            ended_at,
            disposition,
            sip_cause,
            ended_by: self.ended_by,
        })
    }
}
