//! The `call_legs` and `call_events` tables: every leg of a call with its role, and what
//! happened between the legs (consultations, conferences, transfers).

use std::time::SystemTime;

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::writes::execute;

use crate::store::millis::{from_millis, Owner};
use crate::store::{
    CallEventRecord, CallRecord, LegRecord, LegRole, OpenLeg, StoreError, UnknownLegRole,
};

/// A leg's start and answer as stored (milliseconds since the epoch).
fn times(
    kind: &'static str,
    id: &str,
    started_at: SystemTime,
    answered_at: Option<SystemTime>,
) -> Result<(i64, Option<i64>), StoreError> {
    let owner = Owner::new(kind, id);
    let started = owner.time("started_at", started_at)?;
    let answered = owner.maybe_time("answered_at", answered_at)?;
    Ok((started, answered))
}

pub(super) fn insert_leg(conn: &Connection, leg: &LegRecord) -> Result<(), StoreError> {
    let (started_at, answered_at) = times("leg", &leg.id, leg.started_at, leg.answered_at)?;
    let ended_at = Owner::new("leg", &leg.id).time("ended_at", leg.ended_at)?;
    execute(
        conn,
        "INSERT INTO call_legs (id, call_id, role, party, started_at, answered_at, ended_at, \
         ended_how) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            leg.id,
            leg.call_id,
            leg.role.as_str(),
            leg.party,
            started_at,
            answered_at,
            ended_at,
            leg.ended_how
        ],
    )?;
    // A unit's leg has ended: it is no longer in progress. (The caller's and the seat's are
    // told by the open call, never written as open legs.)
    if leg.role == LegRole::Unit {
        execute(conn, "DELETE FROM call_legs_open WHERE id = ?", [&leg.id])?;
    }
    Ok(())
}

/// Writes a leg in progress as it is known now, replacing what was known before.
pub(super) fn upsert_open(conn: &Connection, leg: &OpenLeg) -> Result<(), StoreError> {
    let (started_at, answered_at) = times("open_leg", &leg.id, leg.started_at, leg.answered_at)?;
    execute(
        conn,
        "INSERT INTO call_legs_open (id, call_id, role, party, started_at, answered_at) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET answered_at = excluded.answered_at",
        params![
            leg.id,
            leg.call_id,
            leg.role.as_str(),
            leg.party,
            started_at,
            answered_at
        ],
    )?;
    Ok(())
}

/// `call` has ended: a leg of it still written as in progress (its driver wrote no end for it)
/// ends with it, `ended_with_call`, so that only calls in progress have open legs. Only queued
/// calls consult units, so only their records look.
pub(super) fn end_with_call(conn: &Connection, call: &CallRecord) -> Result<(), StoreError> {
    if call.queue.is_none() {
        return Ok(());
    }
    let ended_at = Owner::new("call", &call.id).time("ended_at", call.ended_at)?;
    execute(
        conn,
        "INSERT OR IGNORE INTO call_legs (id, call_id, role, party, started_at, answered_at, \
         ended_at, ended_how) \
         SELECT id, call_id, role, party, started_at, answered_at, \
         MAX(started_at, COALESCE(answered_at, started_at), ?), 'ended_with_call' \
         FROM call_legs_open WHERE call_id = ?",
        params![ended_at, call.id],
    )?;
    execute(
        conn,
        "DELETE FROM call_legs_open WHERE call_id = ?",
        [&call.id],
    )?;
    Ok(())
}

/// Moves every leg left in progress to `call_legs`, ended at the last sign of life (or its own
/// answer or start when later), `interrupted`; returns how many. Part of the caller's
/// transaction.
pub(super) async fn close_interrupted(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    let moved = sqlx::query(
        "INSERT OR IGNORE INTO call_legs (id, call_id, role, party, started_at, answered_at, \
         ended_at, ended_how) \
         SELECT id, call_id, role, party, started_at, answered_at, \
         MAX(started_at, COALESCE(answered_at, started_at), \
             COALESCE((SELECT at FROM daemon_alive WHERE id = 1), started_at)), \
         'interrupted' FROM call_legs_open",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM call_legs_open")
        .execute(&mut *conn)
        .await?;
    Ok(moved)
}

/// The legs of one call still in progress, in the order they started.
pub(super) async fn open_legs_of(
    pool: &SqlitePool,
    call_id: &str,
) -> Result<Vec<OpenLeg>, StoreError> {
    let rows: Vec<OpenLegRow> = sqlx::query_as(
        "SELECT id, call_id, role, party, started_at, answered_at \
         FROM call_legs_open WHERE call_id = ? ORDER BY started_at, id",
    )
    .bind(call_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| row.into_leg("call_legs_open"))
        .collect()
}

pub(super) fn insert_event(conn: &Connection, event: &CallEventRecord) -> Result<(), StoreError> {
    let at = Owner::new("call_event", &event.call_id).time("at", event.at)?;
    execute(
        conn,
        "INSERT INTO call_events (call_id, at, kind, detail) VALUES (?, ?, ?, ?)",
        params![event.call_id, at, event.kind, event.detail],
    )?;
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
    #[sqlx(flatten)]
    open: OpenLegRow,
    ended_at: i64,
    ended_how: String,
}

impl LegRow {
    fn into_record(self) -> Result<LegRecord, StoreError> {
        let id = self.open.id.clone();
        let leg = self.open.into_leg("call_legs")?;
        let ended_at = from_millis(self.ended_at).ok_or_else(|| StoreError::BadRow {
            table: "call_legs",
            id,
            column: "ended_at",
            value: self.ended_at.to_string(),
        })?;
        Ok(leg.ended(ended_at, self.ended_how))
    }
}

#[derive(FromRow)]
struct EventRow {
    call_id: String,
    at: i64,
    kind: String,
    detail: Option<String>,
}

#[derive(FromRow)]
struct OpenLegRow {
    id: String,
    call_id: String,
    role: String,
    party: String,
    started_at: i64,
    answered_at: Option<i64>,
}

impl OpenLegRow {
    /// The leg as a row of `table` holds it, up to its end.
    fn into_leg(self, table: &'static str) -> Result<OpenLeg, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table,
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
        Ok(OpenLeg {
            started_at: time("started_at", self.started_at)?,
            answered_at: self
                .answered_at
                .map(|v| time("answered_at", v))
                .transpose()?,
            role,
            id: self.id.clone(),
            call_id: self.call_id,
            party: self.party,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::store::{Record, SqliteStore};

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn open(id: &str, role: LegRole, started: u64, answered: Option<u64>) -> OpenLeg {
        OpenLeg {
            id: id.to_string(),
            call_id: "call-1".to_string(),
            role,
            party: "1001".to_string(),
            started_at: at(started),
            answered_at: answered.map(at),
        }
    }

    /// A leg is in progress from its `OpenLeg` (rewritten when answered) until its `Leg`
    /// replaces it; what a crash leaves open the next start ends at the last sign of life.
    #[tokio::test]
    async fn open_legs_are_replaced_when_they_end_and_closed_as_interrupted_after_a_crash() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hotline.db");
        let store = SqliteStore::open(&path).await.expect("open");
        // Three units rung in turn: the first answers, the second is still ringing, the
        // third has given up.
        let first = open("call-1-unit-0", LegRole::Unit, 1_000, None);
        let ringing = open("call-1-unit-1", LegRole::Unit, 5_000, None);
        let unit = open("call-1-unit-2", LegRole::Unit, 9_000, None);
        let answered = OpenLeg {
            answered_at: Some(at(5_000)),
            ..first.clone()
        };
        let unit_ended = unit.clone().ended(at(12_000), "failed:486".to_string());
        store
            .write_batch(&[
                Record::OpenLeg(first),
                Record::OpenLeg(ringing.clone()),
                Record::OpenLeg(unit),
                Record::OpenLeg(answered.clone()),
                Record::Leg(unit_ended.clone()),
                Record::Alive(at(30_000)),
            ])
            .await
            .expect("write");
        assert_eq!(
            store.open_legs("call-1").await.expect("open legs"),
            [answered.clone(), ringing.clone()]
        );
        assert_eq!(
            store.legs("call-1").await.expect("legs"),
            std::slice::from_ref(&unit_ended)
        );
        store.close().await;

        // The next start, on the same database.
        let restarted = SqliteStore::open(&path).await.expect("reopen");
        restarted.close_interrupted().await.expect("close");
        assert_eq!(restarted.open_legs("call-1").await.expect("open legs"), []);
        let interrupted = |leg: &OpenLeg| leg.clone().ended(at(30_000), "interrupted".to_string());
        assert_eq!(
            restarted.legs("call-1").await.expect("legs"),
            [interrupted(&answered), interrupted(&ringing), unit_ended]
        );
    }

    /// A leg its driver never ended ends with its call, so no call that ended has open legs.
    #[tokio::test]
    async fn a_leg_left_open_ends_with_its_call() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("hotline.db"))
            .await
            .expect("open");
        let call = crate::store::battery::queued_call(1);
        let leg = OpenLeg {
            call_id: call.id.clone(),
            ..open("call-000001-unit-0", LegRole::Unit, 1_718_000_010_000, None)
        };
        store
            .write_batch(&[Record::OpenLeg(leg.clone()), Record::Call(call.clone())])
            .await
            .expect("write");
        assert_eq!(store.open_legs(&call.id).await.expect("open legs"), []);
        let ended = store.legs(&call.id).await.expect("legs");
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert_eq!(ended[0].id, leg.id);
        assert_eq!(ended[0].ended_at, call.ended_at);
        assert_eq!(ended[0].ended_how, "ended_with_call");
    }

    /// A call a crash left open leaves its caller's leg and its seat's, told by the open
    /// call, interrupted where the call was.
    #[tokio::test]
    async fn an_open_call_leaves_its_caller_and_seat_legs_interrupted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hotline.db");
        let store = SqliteStore::open(&path).await.expect("open");
        let call = crate::store::OpenCall {
            id: "call-7".to_string(),
            sip_call_id: "a@b".to_string(),
            trunk: "carrier".to_string(),
            caller: "13800000000".to_string(),
            called: "12345".to_string(),
            seat: Some("1001".to_string()),
            offered_at: at(1_000),
            answered_at: Some(at(4_000)),
        };
        let ringing = crate::store::OpenCall {
            id: "call-8".to_string(),
            seat: None,
            answered_at: None,
            ..call.clone()
        };
        store
            .write_batch(&[
                Record::OpenCall(call),
                Record::OpenCall(ringing),
                Record::Alive(at(9_000)),
            ])
            .await
            .expect("write");
        store.close().await;

        let restarted = SqliteStore::open(&path).await.expect("reopen");
        assert_eq!(restarted.close_interrupted().await.expect("close"), 2);
        let leg = |id: &str, role, party: &str, started, answered: Option<u64>| {
            OpenLeg {
                id: id.to_string(),
                call_id: id.rsplit_once('-').map_or(id, |(c, _)| c).to_string(),
                role,
                party: party.to_string(),
                started_at: at(started),
                answered_at: answered.map(at),
            }
            .ended(at(9_000), "interrupted".to_string())
        };
        assert_eq!(
            restarted.legs("call-7").await.expect("legs"),
            [
                leg(
                    "call-7-caller",
                    LegRole::Caller,
                    "13800000000",
                    1_000,
                    Some(4_000)
                ),
                leg("call-7-seat", LegRole::Seat, "1001", 4_000, Some(4_000)),
            ]
        );
        assert_eq!(
            restarted.legs("call-8").await.expect("legs"),
            [leg(
                "call-8-caller",
                LegRole::Caller,
                "13800000000",
                1_000,
                None
            )]
        );
    }
}
