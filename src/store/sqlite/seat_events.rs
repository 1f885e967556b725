//! The `seat_events` table: one row per `SeatEvent`; `seq` (the rowid) is write order.

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{from_millis, Owner};
use crate::store::{SeatEvent, StoreError};

pub(super) fn insert(conn: &Connection, event: &SeatEvent) -> Result<(), StoreError> {
    let at = Owner::new("seat_event", &event.seat).time("at", event.at)?;
    execute(
        conn,
        "INSERT INTO seat_events (seat, at, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)",
        params![event.seat, at, event.from, event.to, event.reason],
    )?;
    Ok(())
}

/// Every seat event in time order, ties in write order.
pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<SeatEvent>, StoreError> {
    let rows: Vec<SeatEventRow> = sqlx::query_as(
        "SELECT seq, seat, at, from_state, to_state, reason FROM seat_events ORDER BY at, seq",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(SeatEventRow::into_event).collect()
}

#[derive(FromRow)]
struct SeatEventRow {
    seq: i64,
    seat: String,
    at: i64,
    from_state: String,
    to_state: String,
    reason: Option<String>,
}

impl SeatEventRow {
    fn into_event(self) -> Result<SeatEvent, StoreError> {
        let at = from_millis(self.at).ok_or_else(|| StoreError::BadRow {
            table: "seat_events",
            id: self.seq.to_string(),
            column: "at",
            value: self.at.to_string(),
        })?;
        Ok(SeatEvent {
            seat: self.seat,
            at,
            from: self.from_state,
            to: self.to_state,
            reason: self.reason,
        })
    }
}
