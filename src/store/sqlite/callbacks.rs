//! The `callbacks` table: one row per `CallbackRequest`.

use std::time::SystemTime;

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{bound, from_millis, Owner};
use crate::store::{CallbackRequest, StoreError};

pub(super) fn insert(conn: &Connection, callback: &CallbackRequest) -> Result<(), StoreError> {
    let requested_at =
        Owner::new("callback", &callback.id).time("requested_at", callback.requested_at)?;
    execute(
        conn,
        "INSERT INTO callbacks (id, call_id, number, queue, requested_at) VALUES (?, ?, ?, ?, ?)",
        params![
            callback.id,
            callback.call_id,
            callback.number,
            callback.queue,
            requested_at
        ],
    )?;
    Ok(())
}

/// Every callback request, oldest first, ties by id.
pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<CallbackRequest>, StoreError> {
    let rows: Vec<CallbackRow> = sqlx::query_as(
        "SELECT id, call_id, number, queue, requested_at FROM callbacks \
         ORDER BY requested_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(CallbackRow::into_request).collect()
}

/// Callback requests with `from <= requested_at < to`, oldest first, ties by id.
pub(super) async fn between(
    pool: &SqlitePool,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<CallbackRequest>, StoreError> {
    let rows: Vec<CallbackRow> = sqlx::query_as(
        "SELECT id, call_id, number, queue, requested_at FROM callbacks \
         WHERE requested_at >= ? AND requested_at < ? ORDER BY requested_at, id",
    )
    .bind(bound(from))
    .bind(bound(to))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(CallbackRow::into_request).collect()
}

#[derive(FromRow)]
struct CallbackRow {
    id: String,
    call_id: String,
    number: String,
    queue: String,
    requested_at: i64,
}

impl CallbackRow {
    fn into_request(self) -> Result<CallbackRequest, StoreError> {
        let requested_at = from_millis(self.requested_at).ok_or_else(|| StoreError::BadRow {
            table: "callbacks",
            id: self.id.clone(),
            column: "requested_at",
            value: self.requested_at.to_string(),
        })?;
        Ok(CallbackRequest {
            id: self.id,
            call_id: self.call_id,
            number: self.number,
            queue: self.queue,
            requested_at,
        })
    }
}
