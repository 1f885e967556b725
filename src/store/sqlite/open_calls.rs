//! The `calls_open` table (calls in progress) and `daemon_alive` (the last sign of life): a call
//! has a row from the moment the daemon takes it, and a crash leaves it to be closed as
//! `interrupted` at the next start.

use std::time::SystemTime;

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{from_millis, Owner};
use crate::store::{OpenCall, StoreError};

/// Writes `call` as it is known now, replacing what was known before.
pub(super) fn upsert(conn: &Connection, call: &OpenCall) -> Result<(), StoreError> {
    let owner = Owner::new("open_call", &call.id);
    let offered_at = owner.time("offered_at", call.offered_at)?;
    let answered_at = owner.maybe_time("answered_at", call.answered_at)?;
    execute(
        conn,
        "INSERT INTO calls_open (id, sip_call_id, trunk, caller, called, seat, offered_at, \
         answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET seat = excluded.seat, answered_at = excluded.answered_at",
        params![
            call.id,
            call.sip_call_id,
            call.trunk,
            call.caller,
            call.called,
            call.seat,
            offered_at,
            answered_at
        ],
    )?;
    Ok(())
}

/// The call has ended (its `calls` row is written in the same transaction).
pub(super) fn remove(conn: &Connection, id: &str) -> Result<(), StoreError> {
    execute(conn, "DELETE FROM calls_open WHERE id = ?", [id])?;
    Ok(())
}

pub(super) fn alive(conn: &Connection, at: SystemTime) -> Result<(), StoreError> {
    let at = Owner::new("alive", "daemon").time("at", at)?;
    execute(
        conn,
        "INSERT INTO daemon_alive (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        [at],
    )?;
    Ok(())
}

/// Every call in progress, oldest offer first.
pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<OpenCall>, StoreError> {
    let rows: Vec<OpenCallRow> = sqlx::query_as(
        "SELECT id, sip_call_id, trunk, caller, called, seat, offered_at, answered_at \
         FROM calls_open ORDER BY offered_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(OpenCallRow::into_call).collect()
}

/// Moves every call left open to `calls` as interrupted by the daemon, ended at the last sign
/// of life (the daemon's, or the call's own answer or offer when that is later), with its
/// caller's and seat's legs, and every unit leg left open the same way; returns how many calls. One transaction: a crash
/// half-way leaves them all open, to be closed next time.
pub(super) async fn close_interrupted(pool: &SqlitePool) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "INSERT OR IGNORE INTO calls (id, sip_call_id, trunk, caller, called, seat, offered_at, \
         answered_at, ended_at, disposition, sip_cause, ended_by) \
         SELECT id, sip_call_id, trunk, caller, called, seat, offered_at, answered_at, \
         MAX(offered_at, COALESCE(answered_at, offered_at), \
             COALESCE((SELECT at FROM daemon_alive WHERE id = 1), offered_at)), \
         'interrupted', NULL, 'daemon' FROM calls_open",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // The caller's leg and the answering seat's, as the open call tells them (ids as
    // `call::leg_records` gives them when a call ends).
    sqlx::query(
        "INSERT OR IGNORE INTO call_legs (id, call_id, role, party, started_at, answered_at, \
         ended_at, ended_how) \
         SELECT id || '-caller', id, 'caller', caller, offered_at, answered_at, \
         MAX(offered_at, COALESCE(answered_at, offered_at), \
             COALESCE((SELECT at FROM daemon_alive WHERE id = 1), offered_at)), \
         'interrupted' FROM calls_open \
         UNION ALL \
         SELECT id || '-seat', id, 'seat', seat, answered_at, answered_at, \
         MAX(answered_at, COALESCE((SELECT at FROM daemon_alive WHERE id = 1), answered_at)), \
         'interrupted' FROM calls_open WHERE seat IS NOT NULL AND answered_at IS NOT NULL",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM calls_open")
        .execute(&mut *tx)
        .await?;
    // Unit contacts' legs, written as they started.
    super::legs::close_interrupted(&mut tx).await?;
    tx.commit().await?;
    Ok(moved)
}

#[derive(FromRow)]
struct OpenCallRow {
    id: String,
    sip_call_id: String,
    trunk: String,
    caller: String,
    called: String,
    seat: Option<String>,
    offered_at: i64,
    answered_at: Option<i64>,
}

impl OpenCallRow {
    fn into_call(self) -> Result<OpenCall, StoreError> {
        let time = |column: &'static str, ms: i64| {
            from_millis(ms).ok_or_else(|| StoreError::BadRow {
                table: "calls_open",
                id: self.id.clone(),
                column,
                value: ms.to_string(),
            })
        };
        let offered_at = time("offered_at", self.offered_at)?;
        let answered_at = self
            .answered_at
            .map(|ms| time("answered_at", ms))
            .transpose()?;
        Ok(OpenCall {
            id: self.id,
            sip_call_id: self.sip_call_id,
            trunk: self.trunk,
            caller: self.caller,
            called: self.called,
            seat: self.seat,
            offered_at,
            answered_at,
        })
    }
}
