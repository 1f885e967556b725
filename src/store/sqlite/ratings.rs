//! The `ratings` table: one row per `RatingRecord`, at most one per call and kind.

use std::time::SystemTime;

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::{execute, violated, Constraint};

use crate::ratings::{RatingOutcome, UnknownNotRatedReason, UnknownRating, UnknownRatingKind};
use crate::store::millis::{bound, from_millis, Owner};
use crate::store::{RatingRecord, StoreError};

const SELECT: &str = "SELECT id, call_id, kind, at, seat, unit, rating, not_rated FROM ratings";

pub(super) fn insert(conn: &Connection, rating: &RatingRecord) -> Result<(), StoreError> {
    let at = Owner::new("rating", &rating.id).time("at", rating.at)?;
    let (rated, not_rated) = match rating.outcome {
        RatingOutcome::Rated(r) => (Some(r.as_str()), None),
        RatingOutcome::NotRated(why) => (None, Some(why.as_str())),
    };
    let inserted = execute(
        conn,
        "INSERT INTO ratings (id, call_id, kind, at, seat, unit, rating, not_rated) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            rating.id,
            rating.call_id,
            rating.kind.as_str(),
            at,
            rating.seat,
            rating.unit,
            rated,
            not_rated
        ],
    );
    let Err(err) = inserted else {
        return Ok(());
    };
    if violated(&err) != Some(Constraint::Unique) {
        return Err(err);
    }
    // Both the id and (call_id, kind) are unique, and SQLite names the violated one only in
    // its message text: ask the table instead. A failed statement leaves the transaction
    // open, so the question sees this batch's earlier rows too.
    let taken = conn
        .prepare_cached("SELECT 1 FROM ratings WHERE call_id = ? AND kind = ?")?
        .exists(params![rating.call_id, rating.kind.as_str()])?;
    if taken {
        Err(StoreError::AlreadyRated {
            call_id: rating.call_id.clone(),
            kind: rating.kind,
        })
    } else {
        Err(err)
    }
}

/// Every rating, oldest first, ties by id.
pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<RatingRecord>, StoreError> {
    let rows: Vec<RatingRow> = sqlx::query_as(&format!("{SELECT} ORDER BY at, id"))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(RatingRow::into_record).collect()
}

/// Ratings with `from <= at < to`, oldest first, ties by id.
pub(super) async fn between(
    pool: &SqlitePool,
    from: SystemTime,
    to: SystemTime,
) -> Result<Vec<RatingRecord>, StoreError> {
    let rows: Vec<RatingRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE at >= ? AND at < ? ORDER BY at, id"
    ))
    .bind(bound(from))
    .bind(bound(to))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(RatingRow::into_record).collect()
}

#[derive(FromRow)]
struct RatingRow {
    id: String,
    call_id: String,
    kind: String,
    at: i64,
    seat: Option<String>,
    unit: Option<String>,
    rating: Option<String>,
    not_rated: Option<String>,
}

impl RatingRow {
    fn into_record(self) -> Result<RatingRecord, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "ratings",
            id: self.id.clone(),
            column,
            value,
        };
        let at = from_millis(self.at).ok_or_else(|| bad("at", self.at.to_string()))?;
        let kind = self
            .kind
            .parse()
            .map_err(|UnknownRatingKind(v)| bad("kind", v))?;
        let outcome = match (&self.rating, &self.not_rated) {
            (Some(r), _) => {
                RatingOutcome::Rated(r.parse().map_err(|UnknownRating(v)| bad("rating", v))?)
            }
            (None, Some(why)) => RatingOutcome::NotRated(
                why.parse()
                    .map_err(|UnknownNotRatedReason(v)| bad("not_rated", v))?,
            ),
            // The table's CHECK rules this out; say so rather than panic if it was bypassed.
            (None, None) => return Err(bad("rating", "NULL".into())),
        };
        Ok(RatingRecord {
            id: self.id,
            call_id: self.call_id,
            kind,
            at,
            seat: self.seat,
            unit: self.unit,
            outcome,
        })
    }
}
