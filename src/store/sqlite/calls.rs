//! The `calls` table: one row per `CallRecord`; its queue part, if any, in `call_queue`
//! (one row) and `call_offers` (one row per offer, `seq` keeping their order).

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{bound, duration_from_millis, duration_to_millis, from_millis, Owner};
use crate::store::{CallRecord, Disposition, Offer, OfferOutcome, QueueOutcome, StoreError};

const COLUMNS: &str = "id, sip_call_id, trunk, caller, called, seat, offered_at, answered_at, \
                       ended_at, disposition, sip_cause, ended_by";

/// A call with its queue part (NULLs when it has none).
const SELECT: &str = "SELECT c.id, c.sip_call_id, c.trunk, c.caller, c.called, c.seat, \
                      c.offered_at, c.answered_at, c.ended_at, c.disposition, c.sip_cause, \
                      c.ended_by, q.queue, q.entered_at AS queue_entered_at, \
                      q.wait_ms AS queue_wait_ms, q.abandoned AS queue_abandoned, \
                      q.overflow AS queue_overflow \
                      FROM calls c LEFT JOIN call_queue q ON q.call_id = c.id";

const OFFER_COLUMNS: &str = "call_id, seq, seat, at, outcome";

pub(super) fn insert(conn: &Connection, call: &CallRecord) -> Result<(), StoreError> {
    let owner = Owner::new("call", &call.id);
    let offered_at = owner.time("offered_at", call.offered_at)?;
    let answered_at = owner.maybe_time("answered_at", call.answered_at)?;
    let ended_at = owner.time("ended_at", call.ended_at)?;

    execute(
        conn,
        &format!("INSERT INTO calls ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![
            call.id,
            call.sip_call_id,
            call.trunk,
            call.caller,
            call.called,
            call.seat,
            offered_at,
            answered_at,
            ended_at,
            call.disposition.as_str(),
            call.sip_cause.map(i64::from),
            call.ended_by
        ],
    )?;

    if let Some(queue) = &call.queue {
        insert_queue(conn, call, queue)?;
    }
    Ok(())
}

fn insert_queue(
    conn: &Connection,
    call: &CallRecord,
    queue: &QueueOutcome,
) -> Result<(), StoreError> {
    let owner = Owner::new("call", &call.id);
    let entered_at = owner.time("queue.entered_at", queue.entered_at)?;
    let wait_ms = duration_to_millis(queue.wait).ok_or_else(|| owner.out_of_range("queue.wait"))?;
    execute(
        conn,
        "INSERT INTO call_queue (call_id, queue, entered_at, wait_ms, abandoned, overflow) \
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            call.id,
            queue.queue,
            entered_at,
            wait_ms,
            i64::from(queue.abandoned),
            queue.overflow
        ],
    )?;

    let sql = format!("INSERT INTO call_offers ({OFFER_COLUMNS}) VALUES (?, ?, ?, ?, ?)");
    for (seq, offer) in queue.offers.iter().enumerate() {
        let at = owner.time("queue.offers.at", offer.at)?;
        // An index into a Vec always fits.
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        execute(
            conn,
            &sql,
            params![call.id, seq, offer.seat, at, offer.outcome.as_str()],
        )?;
    }
    Ok(())
}

/// Every call, oldest offer first. One read transaction, so the offers match the calls.
pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<CallRecord>, StoreError> {
    let mut tx = pool.begin().await?;
    let rows: Vec<CallRow> = sqlx::query_as(&format!("{SELECT} ORDER BY c.offered_at, c.id"))
        .fetch_all(&mut *tx)
        .await?;
    let offer_rows: Vec<OfferRow> = sqlx::query_as(&format!(
        "SELECT {OFFER_COLUMNS} FROM call_offers ORDER BY call_id, seq"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    with_offers(rows, offer_rows)
}

/// Calls offered with `from <= offered_at < to`, oldest first, with their offers.
pub(super) async fn between(
    pool: &SqlitePool,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<CallRecord>, StoreError> {
    let mut tx = pool.begin().await?;
    let rows: Vec<CallRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE c.offered_at >= ? AND c.offered_at < ? ORDER BY c.offered_at, c.id"
    ))
    .bind(bound(from))
    .bind(bound(to))
    .fetch_all(&mut *tx)
    .await?;
    let offer_rows: Vec<OfferRow> = sqlx::query_as(
        "SELECT o.call_id, o.seq, o.seat, o.at, o.outcome FROM call_offers o \
         JOIN calls c ON c.id = o.call_id WHERE c.offered_at >= ? AND c.offered_at < ? \
         ORDER BY o.call_id, o.seq",
    )
    .bind(bound(from))
    .bind(bound(to))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    with_offers(rows, offer_rows)
}

/// Each call with its offers, in the calls' order.
fn with_offers(
    rows: Vec<CallRow>,
    offer_rows: Vec<OfferRow>,
) -> Result<Vec<CallRecord>, StoreError> {
    let mut offers: HashMap<String, Vec<Offer>> = HashMap::new();
    for row in offer_rows {
        let call_id = row.call_id.clone();
        offers.entry(call_id).or_default().push(row.into_offer()?);
    }
    rows.into_iter()
        .map(|row| {
            let call_offers = offers.remove(&row.id).unwrap_or_default();
            row.into_record(call_offers)
        })
        .collect()
}

pub(super) async fn by_sip_call_id(
    pool: &SqlitePool,
    sip_call_id: &str,
) -> Result<Option<CallRecord>, StoreError> {
    let mut tx = pool.begin().await?;
    let row: Option<CallRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE c.sip_call_id = ? ORDER BY c.offered_at DESC, c.id DESC LIMIT 1"
    ))
    .bind(sip_call_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let offer_rows: Vec<OfferRow> = if row.queue.is_some() {
        sqlx::query_as(&format!(
            "SELECT {OFFER_COLUMNS} FROM call_offers WHERE call_id = ? ORDER BY seq"
        ))
        .bind(&row.id)
        .fetch_all(&mut *tx)
        .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;

    let offers = offer_rows
        .into_iter()
        .map(OfferRow::into_offer)
        .collect::<Result<Vec<_>, _>>()?;
    row.into_record(offers).map(Some)
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
    /// NULL when the call has no `call_queue` row; the rest are then NULL too.
    queue: Option<String>,
    queue_entered_at: Option<i64>,
    queue_wait_ms: Option<i64>,
    queue_abandoned: Option<i64>,
    queue_overflow: Option<String>,
}

impl CallRow {
    fn into_record(self, offers: Vec<Offer>) -> Result<CallRecord, StoreError> {
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
        let queue = match self.queue {
            None => None,
            Some(queue) => {
                let bad = |column: &'static str, value: Option<i64>| StoreError::BadRow {
                    table: "call_queue",
                    id: self.id.clone(),
                    column,
                    value: value.map_or_else(|| "NULL".to_owned(), |v| v.to_string()),
                };
                let entered_at = self
                    .queue_entered_at
                    .and_then(from_millis)
                    .ok_or_else(|| bad("entered_at", self.queue_entered_at))?;
                let wait = self
                    .queue_wait_ms
                    .and_then(duration_from_millis)
                    .ok_or_else(|| bad("wait_ms", self.queue_wait_ms))?;
                let abandoned = match self.queue_abandoned {
                    Some(0) => false,
                    Some(1) => true,
                    other => return Err(bad("abandoned", other)),
                };
                Some(QueueOutcome {
                    queue,
                    entered_at,
                    wait,
                    offers,
                    abandoned,
                    overflow: self.queue_overflow,
                })
            }
        };
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
            queue,
        })
    }
}

#[derive(FromRow)]
struct OfferRow {
    call_id: String,
    seq: i64,
    seat: String,
    at: i64,
    outcome: String,
}

impl OfferRow {
    fn into_offer(self) -> Result<Offer, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "call_offers",
            id: format!("{}#{}", self.call_id, self.seq),
            column,
            value,
        };
        let at = from_millis(self.at).ok_or_else(|| bad("at", self.at.to_string()))?;
        let outcome: OfferOutcome = self
            .outcome
            .parse()
            .map_err(|_| bad("outcome", self.outcome.clone()))?;
        Ok(Offer {
            seat: self.seat,
            at,
            outcome,
        })
    }
}
