//! The `surveys` table (one row per survey, upserted by id) and `survey_attempts` (one row per
//! call attempt).

use rusqlite::{params, Connection};
use sqlx::{FromRow, SqlitePool};

use super::writes::execute;

use crate::store::millis::{from_millis, Owner};
use crate::store::{
    StoreError, SurveyAttempt, SurveyRecord, SurveyState, UnknownAttemptOutcome, UnknownSurveyState,
};

const SELECT: &str = "SELECT id, number, ticket, unit, requested_at, status, attempts, \
                      updated_at FROM surveys";

/// Inserts the survey, or replaces every column of the row with its id. `ON CONFLICT DO
/// UPDATE` updates the row in place, so its attempts (which reference it) stay.
pub(super) fn upsert(conn: &Connection, survey: &SurveyRecord) -> Result<(), StoreError> {
    let owner = Owner::new("survey", &survey.id);
    let requested_at = owner.time("requested_at", survey.requested_at)?;
    let updated_at = owner.time("updated_at", survey.updated_at)?;
    execute(
        conn,
        "INSERT INTO surveys (id, number, ticket, unit, requested_at, status, attempts, \
         updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET number = excluded.number, ticket = excluded.ticket, \
         unit = excluded.unit, requested_at = excluded.requested_at, status = excluded.status, \
         attempts = excluded.attempts, updated_at = excluded.updated_at",
        params![
            survey.id,
            survey.number,
            survey.ticket,
            survey.unit,
            requested_at,
            survey.status.as_str(),
            i64::from(survey.attempts),
            updated_at
        ],
    )?;
    Ok(())
}

pub(super) fn insert_attempt(conn: &Connection, attempt: &SurveyAttempt) -> Result<(), StoreError> {
    let at = Owner::new("survey_attempt", &attempt.survey_id).time("at", attempt.at)?;
    execute(
        conn,
        "INSERT INTO survey_attempts (survey_id, n, at, outcome) VALUES (?, ?, ?, ?)",
        params![
            attempt.survey_id,
            i64::from(attempt.n),
            at,
            attempt.outcome.as_str()
        ],
    )?;
    Ok(())
}

/// Every survey, oldest request first, ties by id.
pub(super) async fn all(pool: &SqlitePool) -> Result<Vec<SurveyRecord>, StoreError> {
    let rows: Vec<SurveyRow> = sqlx::query_as(&format!("{SELECT} ORDER BY requested_at, id"))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(SurveyRow::into_record).collect()
}

/// The surveys in `status`, oldest request first, ties by id.
pub(super) async fn in_state(
    pool: &SqlitePool,
    status: SurveyState,
) -> Result<Vec<SurveyRecord>, StoreError> {
    let rows: Vec<SurveyRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE status = ? ORDER BY requested_at, id"
    ))
    .bind(status.as_str())
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(SurveyRow::into_record).collect()
}

pub(super) async fn by_id(pool: &SqlitePool, id: &str) -> Result<Option<SurveyRecord>, StoreError> {
    let row: Option<SurveyRow> = sqlx::query_as(&format!("{SELECT} WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(SurveyRow::into_record).transpose()
}

/// A survey's attempts, first attempt first.
pub(super) async fn attempts(
    pool: &SqlitePool,
    survey_id: &str,
) -> Result<Vec<SurveyAttempt>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT survey_id, n, at, outcome FROM survey_attempts WHERE survey_id = ? ORDER BY n",
    )
    .bind(survey_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(AttemptRow::into_attempt).collect()
}

#[derive(FromRow)]
struct SurveyRow {
    id: String,
    number: String,
    ticket: String,
    unit: Option<String>,
    requested_at: i64,
    status: String,
    attempts: i64,
    updated_at: i64,
}

impl SurveyRow {
    fn into_record(self) -> Result<SurveyRecord, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "surveys",
            id: self.id.clone(),
            column,
            value,
        };
        let time = |column: &'static str, ms: i64| {
            from_millis(ms).ok_or_else(|| bad(column, ms.to_string()))
        };
        let requested_at = time("requested_at", self.requested_at)?;
        let updated_at = time("updated_at", self.updated_at)?;
        let status = self
            .status
            .parse()
            .map_err(|UnknownSurveyState(v)| bad("status", v))?;
        let attempts =
            u32::try_from(self.attempts).map_err(|_| bad("attempts", self.attempts.to_string()))?;
        Ok(SurveyRecord {
            id: self.id,
            number: self.number,
            ticket: self.ticket,
            unit: self.unit,
            requested_at,
            status,
            attempts,
            updated_at,
        })
    }
}

#[derive(FromRow)]
struct AttemptRow {
    survey_id: String,
    n: i64,
    at: i64,
    outcome: String,
}

impl AttemptRow {
    fn into_attempt(self) -> Result<SurveyAttempt, StoreError> {
        let bad = |column: &'static str, value: String| StoreError::BadRow {
            table: "survey_attempts",
            id: format!("{}#{}", self.survey_id, self.n),
            column,
            value,
        };
        let at = from_millis(self.at).ok_or_else(|| bad("at", self.at.to_string()))?;
        let n = u32::try_from(self.n).map_err(|_| bad("n", self.n.to_string()))?;
        let outcome = self
            .outcome
            .parse()
            .map_err(|UnknownAttemptOutcome(v)| bad("outcome", v))?;
        Ok(SurveyAttempt {
            survey_id: self.survey_id,
            n,
            at,
            outcome,
        })
    }
}
