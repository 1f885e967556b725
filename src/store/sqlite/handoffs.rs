//! The `handoffs` table: one row per hand-off, replaced whole on each change.

use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{from_millis, to_millis, Owner};
use crate::store::{Extension, HandoffOutcome, HandoffRecord, StoreError};

const COLUMNS: &str = "id, call_id, seat, unit, category, opened_at, started_at, first_dial_at, \
     made_at, limit_secs, extended_at, extended_limit_secs, extension_reason, breached_at, \
     outcome, closed_at, closed_reason, made_by_call";

pub(super) fn upsert(conn: &Connection, h: &HandoffRecord) -> Result<(), StoreError> {
    let owner = Owner::new("handoff", &h.id);
    let time = |field: &'static str, t: SystemTime| owner.time(field, t);
    let maybe = |field: &'static str, t: Option<SystemTime>| owner.maybe_time(field, t);
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    execute(
        conn,
        &format!(
            "INSERT OR REPLACE INTO handoffs ({COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        params![
            h.id,
            h.call_id,
            h.seat,
            h.unit,
            h.category,
            time("opened_at", h.opened_at)?,
            time("started_at", h.started_at)?,
            maybe("first_dial_at", h.first_dial_at)?,
            maybe("made_at", h.made_at)?,
            secs(h.limit),
            maybe("extended_at", h.extension.as_ref().map(|e| e.at))?,
            h.extension.as_ref().map(|e| secs(e.limit)),
            h.extension.as_ref().map(|e| e.reason.as_str()),
            maybe("breached_at", h.breached_at)?,
            h.outcome.map(HandoffOutcome::as_str),
            maybe("closed_at", h.closed_at)?,
            h.closed_reason,
            h.made_by_call
        ],
    )?;
    Ok(())
}

/// Hand-offs opened in `from <= opened_at < to`, oldest first.
pub(super) async fn opened_in(
    pool: &SqlitePool,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<HandoffRecord>, StoreError> {
    let window = |t| to_millis(t).unwrap_or(i64::MAX);
    let rows: Vec<HandoffRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM handoffs WHERE opened_at >= ? AND opened_at < ? \
         ORDER BY opened_at, id"
    ))
    .bind(window(from))
    .bind(window(to))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(HandoffRow::into_record).collect()
}

/// Closes every hand-off still open as interrupted, at the daemon's last sign of life (or the
/// hand-off's own latest time when that is later); returns how many.
pub(super) async fn close_interrupted(pool: &SqlitePool) -> Result<u64, StoreError> {
    let closed = sqlx::query(
        "UPDATE handoffs SET outcome = 'interrupted', closed_at = \
         MAX(opened_at, started_at, COALESCE(first_dial_at, opened_at), \
             COALESCE(breached_at, opened_at), COALESCE(extended_at, opened_at), \
             COALESCE((SELECT at FROM daemon_alive WHERE id = 1), opened_at)) \
         WHERE outcome IS NULL",
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(closed)
}

#[derive(FromRow)]
struct HandoffRow {
    id: String,
    call_id: String,
    seat: String,
    unit: Option<String>,
    category: String,
    opened_at: i64,
    started_at: i64,
    first_dial_at: Option<i64>,
    made_at: Option<i64>,
    limit_secs: i64,
    extended_at: Option<i64>,
    extended_limit_secs: Option<i64>,
    extension_reason: Option<String>,
    breached_at: Option<i64>,
    outcome: Option<String>,
    closed_at: Option<i64>,
    closed_reason: Option<String>,
    made_by_call: Option<String>,
}

impl HandoffRow {
    fn into_record(self) -> Result<HandoffRecord, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "handoffs",
            id: self.id.clone(),
            column,
            value,
        };
        let time = |column: &'static str, ms: i64| {
            from_millis(ms).ok_or_else(|| bad(column, ms.to_string()))
        };
        let maybe =
            |column: &'static str, ms: Option<i64>| ms.map(|ms| time(column, ms)).transpose();
        let secs = |column: &'static str, s: i64| {
            u64::try_from(s)
                .map(Duration::from_secs)
                .map_err(|_| bad(column, s.to_string()))
        };
        let outcome = self
            .outcome
            .as_deref()
            .map(|o| HandoffOutcome::parse(o).ok_or_else(|| bad("outcome", o.to_string())))
            .transpose()?;
        let extension = match (self.extended_at, self.extended_limit_secs) {
            (Some(at), Some(limit)) => Some(Extension {
                at: time("extended_at", at)?,
                limit: secs("extended_limit_secs", limit)?,
                reason: self.extension_reason.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(HandoffRecord {
            opened_at: time("opened_at", self.opened_at)?,
            started_at: time("started_at", self.started_at)?,
            first_dial_at: maybe("first_dial_at", self.first_dial_at)?,
            made_at: maybe("made_at", self.made_at)?,
            limit: secs("limit_secs", self.limit_secs)?,
            extension,
            breached_at: maybe("breached_at", self.breached_at)?,
            outcome,
            closed_at: maybe("closed_at", self.closed_at)?,
            id: self.id,
            call_id: self.call_id,
            seat: self.seat,
            unit: self.unit,
            category: self.category,
            closed_reason: self.closed_reason,
            made_by_call: self.made_by_call,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::store::{Extension, HandoffOutcome, HandoffRecord, Record, SqliteStore};

    fn at(secs: u64) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn open(id: &str, opened: u64) -> HandoffRecord {
        HandoffRecord {
            id: id.into(),
            call_id: "call-7".into(),
            seat: "1001".into(),
            unit: None,
            category: "major".into(),
            opened_at: at(opened),
            started_at: at(0),
            first_dial_at: None,
            made_at: None,
            limit: Duration::from_secs(300),
            extension: None,
            breached_at: None,
            outcome: None,
            closed_at: None,
            closed_reason: None,
            made_by_call: None,
        }
    }

    #[tokio::test]
    async fn a_handoff_is_rewritten_whole_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("h.db"))
            .await
            .expect("open");
        let first = open("call-7-h1", 10);
        store
            .write_batch(&[Record::Handoff(first.clone())])
            .await
            .expect("write");
        let mut made = first.clone();
        made.unit = Some("2001".into());
        made.first_dial_at = Some(at(20));
        made.extension = Some(Extension {
            at: at(30),
            limit: Duration::from_secs(900),
            reason: "12".into(),
        });
        made.breached_at = Some(at(300));
        made.made_at = Some(at(320));
        made.closed_at = Some(at(320));
        made.outcome = Some(HandoffOutcome::Late);
        made.made_by_call = Some("call-9".into());
        store
            .write_batch(&[Record::Handoff(made.clone())])
            .await
            .expect("rewrite");
        let read = store
            .handoffs_opened_in(at(0), at(1000))
            .await
            .expect("read");
        assert_eq!(read, [made]);
        assert!(store
            .handoffs_opened_in(at(11), at(1000))
            .await
            .expect("read")
            .is_empty());
    }

    #[tokio::test]
    async fn handoffs_left_open_are_closed_as_interrupted_at_the_last_sign_of_life() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("h.db"))
            .await
            .expect("open");
        let mut closed = open("call-7-h1", 10);
        closed.outcome = Some(HandoffOutcome::ClosedNotNeeded);
        closed.closed_at = Some(at(15));
        store
            .write_batch(&[
                Record::Handoff(closed.clone()),
                Record::Handoff(open("call-8-h2", 20)),
                Record::Alive(at(100)),
            ])
            .await
            .expect("write");
        assert_eq!(store.close_interrupted_handoffs().await.expect("close"), 1);
        let read = store
            .handoffs_opened_in(at(0), at(1000))
            .await
            .expect("read");
        assert_eq!(read[0], closed, "a closed hand-off is untouched");
        assert_eq!(read[1].outcome, Some(HandoffOutcome::Interrupted));
        assert_eq!(read[1].closed_at, Some(at(100)));
        assert_eq!(store.close_interrupted_handoffs().await.expect("again"), 0);
    }
}
