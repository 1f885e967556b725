//! The `recordings` table (one row per recording, replaced whole on each change and marked when
//! retention deletes its file) and `recording_gaps` (its pauses, replaced with it).

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{params, Connection};
use sqlx::query::QueryAs;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{bound, from_millis, Owner};
use crate::store::{RecordingGap, RecordingRecord, StoreError};

const COLUMNS: &str = "r.id, r.call_id, r.path, r.started_at, r.ended_at, r.duration_ms, \
                       r.size_bytes, r.sha256, r.complete, r.reason, r.deleted_at";

/// Inserts the recording, or replaces every column of the row with its id, and replaces its
/// gaps. `ON CONFLICT DO UPDATE`, not `INSERT OR REPLACE`: the row's gaps reference it.
pub(super) fn upsert(conn: &Connection, r: &RecordingRecord) -> Result<(), StoreError> {
    let owner = Owner::new("recording", &r.id);
    let time = |field: &'static str, t: SystemTime| owner.time(field, t);
    let maybe = |field: &'static str, t: Option<SystemTime>| owner.maybe_time(field, t);
    let duration_ms =
        i64::try_from(r.duration_ms).map_err(|_| owner.out_of_range("duration_ms"))?;
    let size_bytes = i64::try_from(r.size_bytes).map_err(|_| StoreError::ValueOutOfRange {
        kind: "recording",
        id: r.id.clone(),
        field: "size_bytes",
    })?;
    let gaps = r
        .gaps
        .iter()
        .map(|g| Ok((time("gaps.from", g.from)?, time("gaps.to", g.to)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    execute(
        conn,
        "INSERT INTO recordings (id, call_id, path, started_at, ended_at, duration_ms, \
         size_bytes, sha256, complete, reason, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET call_id = excluded.call_id, path = excluded.path, \
         started_at = excluded.started_at, ended_at = excluded.ended_at, \
         duration_ms = excluded.duration_ms, size_bytes = excluded.size_bytes, \
         sha256 = excluded.sha256, complete = excluded.complete, reason = excluded.reason, \
         deleted_at = excluded.deleted_at",
        params![
            r.id,
            r.call_id,
            r.path,
            time("started_at", r.started_at)?,
            maybe("ended_at", r.ended_at)?,
            duration_ms,
            size_bytes,
            r.sha256,
            i64::from(r.complete),
            r.reason,
            maybe("deleted_at", r.deleted_at)?
        ],
    )?;
    execute(
        conn,
        "DELETE FROM recording_gaps WHERE recording_id = ?",
        [&r.id],
    )?;
    for (from_at, to_at) in gaps {
        execute(
            conn,
            "INSERT INTO recording_gaps (recording_id, from_at, to_at) VALUES (?, ?, ?)",
            params![r.id, from_at, to_at],
        )?;
    }
    Ok(())
}

/// Marks the recording's file deleted at `at`. The first deletion stands; an unknown id
/// changes nothing.
pub(super) fn mark_deleted(conn: &Connection, id: &str, at: SystemTime) -> Result<(), StoreError> {
    let at = Owner::new("recording_deleted", id).time("at", at)?;
    execute(
        conn,
        "UPDATE recordings SET deleted_at = COALESCE(deleted_at, ?) WHERE id = ?",
        params![at, id],
    )?;
    Ok(())
}

/// A call's recordings, by start time, then id.
pub(super) async fn of_call(
    pool: &SqlitePool,
    call_id: &str,
) -> Result<Vec<RecordingRecord>, StoreError> {
    read(pool, Which::OfCall(call_id)).await
}

/// The recordings not yet ended, by start time, then id.
pub(super) async fn open(pool: &SqlitePool) -> Result<Vec<RecordingRecord>, StoreError> {
    read(pool, Which::Open).await
}

/// The recordings ended before `t` and not deleted, by end time, then id.
pub(super) async fn ended_before(
    pool: &SqlitePool,
    t: SystemTime,
) -> Result<Vec<RecordingRecord>, StoreError> {
    read(pool, Which::EndedBefore(bound(t))).await
}

/// Which recordings a read picks.
#[derive(Clone, Copy)]
enum Which<'a> {
    OfCall(&'a str),
    Open,
    /// Stored milliseconds.
    EndedBefore(i64),
}

impl<'a> Which<'a> {
    /// The condition on `recordings r` that picks them, and their order.
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Which::OfCall(_) => ("r.call_id = ?", "r.started_at, r.id"),
            Which::Open => ("r.ended_at IS NULL", "r.started_at, r.id"),
            Which::EndedBefore(_) => (
                "r.ended_at < ? AND r.deleted_at IS NULL",
                "r.ended_at, r.id",
            ),
        }
    }

    fn bind<'q, O>(
        self,
        query: QueryAs<'q, Sqlite, O, SqliteArguments<'q>>,
    ) -> QueryAs<'q, Sqlite, O, SqliteArguments<'q>>
    where
        'a: 'q,
    {
        match self {
            Which::OfCall(call_id) => query.bind(call_id),
            Which::Open => query,
            Which::EndedBefore(ms) => query.bind(ms),
        }
    }
}

/// The recordings `which` picks, with their gaps. One read transaction, so the gaps match the
/// recordings.
async fn read(pool: &SqlitePool, which: Which<'_>) -> Result<Vec<RecordingRecord>, StoreError> {
    let (condition, order) = which.sql();
    let rows_sql = format!("SELECT {COLUMNS} FROM recordings r WHERE {condition} ORDER BY {order}");
    // CROSS JOIN keeps `recordings` the outer loop, so the gaps are looked up by the
    // recordings picked; left to itself, SQLite would scan every gap to save a sort.
    let gaps_sql = format!(
        "SELECT g.recording_id, g.from_at, g.to_at FROM recordings r \
         CROSS JOIN recording_gaps g ON g.recording_id = r.id WHERE {condition} \
         ORDER BY g.recording_id, g.from_at"
    );
    let mut tx = pool.begin().await?;
    let rows: Vec<RecordingRow> = which
        .bind(sqlx::query_as(&rows_sql))
        .fetch_all(&mut *tx)
        .await?;
    let gap_rows: Vec<GapRow> = which
        .bind(sqlx::query_as(&gaps_sql))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut gaps: HashMap<String, Vec<RecordingGap>> = HashMap::new();
    for row in gap_rows {
        let gap = row.gap()?;
        gaps.entry(row.recording_id).or_default().push(gap);
    }
    rows.into_iter()
        .map(|row| {
            let its_gaps = gaps.remove(&row.id).unwrap_or_default();
            row.into_record(its_gaps)
        })
        .collect()
}

#[derive(FromRow)]
struct RecordingRow {
    id: String,
    call_id: String,
    path: String,
    started_at: i64,
    ended_at: Option<i64>,
    duration_ms: i64,
    size_bytes: i64,
    sha256: Option<String>,
    complete: i64,
    reason: Option<String>,
    deleted_at: Option<i64>,
}

impl RecordingRow {
    fn into_record(self, gaps: Vec<RecordingGap>) -> Result<RecordingRecord, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "recordings",
            id: self.id.clone(),
            column,
            value,
        };
        let time = |column: &'static str, ms: i64| {
            from_millis(ms).ok_or_else(|| bad(column, ms.to_string()))
        };
        let maybe =
            |column: &'static str, ms: Option<i64>| ms.map(|ms| time(column, ms)).transpose();
        let count =
            |column: &'static str, n: i64| u64::try_from(n).map_err(|_| bad(column, n.to_string()));
        Ok(RecordingRecord {
            started_at: time("started_at", self.started_at)?,
            ended_at: maybe("ended_at", self.ended_at)?,
            duration_ms: count("duration_ms", self.duration_ms)?,
            size_bytes: count("size_bytes", self.size_bytes)?,
            deleted_at: maybe("deleted_at", self.deleted_at)?,
            complete: self.complete != 0,
            gaps,
            id: self.id,
            call_id: self.call_id,
            path: self.path,
            sha256: self.sha256,
            reason: self.reason,
        })
    }
}

#[derive(FromRow)]
struct GapRow {
    recording_id: String,
    from_at: i64,
    to_at: i64,
}

impl GapRow {
    fn gap(&self) -> Result<RecordingGap, StoreError> {
        let time = |column: &'static str, ms: i64| {
            from_millis(ms).ok_or_else(|| StoreError::BadRow {
                table: "recording_gaps",
                id: self.recording_id.clone(),
                column,
                value: ms.to_string(),
            })
        };
        Ok(RecordingGap {
            from: time("from_at", self.from_at)?,
            to: time("to_at", self.to_at)?,
        })
    }
}
