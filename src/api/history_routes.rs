//! The handlers of the history routes: the ledger, the ratings report, the day's records.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::history::HistoryError;
use super::live::{FieldError, Paging};
use super::{error, field_error, json, ApiState};

type Params = Query<HashMap<String, String>>;

/// A query parameter that must be there; the error names it.
fn required<'a>(
    params: &'a Params,
    field: &'static str,
    form: &str,
) -> Result<&'a str, FieldError> {
    params
        .get(field)
        .map(String::as_str)
        .ok_or_else(|| FieldError {
            field,
            message: format!("{field} is required ({form})"),
        })
}

fn history_error(e: &HistoryError) -> Response {
    match e {
        HistoryError::Field(field) => field_error(field),
        HistoryError::NoUnit(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        HistoryError::Store => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `GET /api/v1/ledger/{unit}?month=2026-12`.
pub(super) async fn ledger(
    State(state): State<ApiState>,
    Path(unit): Path<String>,
    params: Params,
) -> Response {
    let month = match required(&params, "month", "YYYY-MM") {
        Ok(month) => month,
        Err(e) => return field_error(&e),
    };
    match state.history.ledger(&unit, month).await {
        Ok(line) => json(StatusCode::OK, &line),
        Err(e) => history_error(&e),
    }
}

/// `GET /api/v1/ratings?month=2026-12&by=seat`.
pub(super) async fn ratings(State(state): State<ApiState>, params: Params) -> Response {
    let month = match required(&params, "month", "YYYY-MM") {
        Ok(month) => month,
        Err(e) => return field_error(&e),
    };
    let by = params.get("by").map_or("all", String::as_str);
    match state.history.ratings(month, by).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => history_error(&e),
    }
}

/// `GET /api/v1/records?date=2026-12-04`, paged.
pub(super) async fn records(State(state): State<ApiState>, params: Params) -> Response {
    let date = match required(&params, "date", "YYYY-MM-DD") {
        Ok(date) => date,
        Err(e) => return field_error(&e),
    };
    let paging = match Paging::parse(
        params.get("offset").map(String::as_str),
        params.get("limit").map(String::as_str),
    ) {
        Ok(paging) => paging,
        Err(e) => return field_error(&e),
    };
    match state.history.records(date, paging).await {
        Ok(page) => json(StatusCode::OK, &page),
        Err(e) => history_error(&e),
    }
}

/// `GET /api/v1/lines/{date}`: that day's lines, from its records.
pub(super) async fn lines(State(state): State<ApiState>, Path(date): Path<String>) -> Response {
    match state.history.lines(&date).await {
        Ok(day) => json(StatusCode::OK, &day),
        Err(e) => history_error(&e),
    }
}
