//! The handlers of the live routes: lists, changes, and the event stream (server-sent events).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::live::{
    FieldError, HandoffActionBody, LiveError, LiveSnapshot, Page, Paging, SeatChangeBody,
    SuperviseBody,
};
use super::{error, field_error, json, parse_body, ApiState};
use serde::de::DeserializeOwned;

/// How often an idle event stream sends a comment, so proxies and browsers keep it open and
/// a dead daemon is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Params = Query<HashMap<String, String>>;

/// A list of the snapshot, paged.
async fn listed<T: Serialize>(
    state: &ApiState,
    params: &Params,
    pick: impl FnOnce(LiveSnapshot) -> Vec<T>,
) -> Response {
    let paging = match Paging::parse(
        params.get("offset").map(String::as_str),
        params.get("limit").map(String::as_str),
    ) {
        Ok(paging) => paging,
        Err(e) => return field_error(&e),
    };
    let snapshot = state.live.snapshot().await;
    json(StatusCode::OK, &Page::of(pick(snapshot), paging))
}

pub(super) async fn calls(State(state): State<ApiState>, params: Params) -> Response {
    listed(&state, &params, |s| s.calls).await
}

pub(super) async fn seats(State(state): State<ApiState>, params: Params) -> Response {
    listed(&state, &params, |s| s.seats).await
}

pub(super) async fn queues(State(state): State<ApiState>, params: Params) -> Response {
    listed(&state, &params, |s| s.queues).await
}

pub(super) async fn handoffs(State(state): State<ApiState>, params: Params) -> Response {
    listed(&state, &params, |s| s.handoffs).await
}

pub(super) async fn today(State(state): State<ApiState>) -> Response {
    match state.live.today().await {
        Some(today) => json(StatusCode::OK, &today),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the day's records could not be read".into(),
        ),
    }
}

pub(super) async fn lines(State(state): State<ApiState>) -> Response {
    match state.live.lines().await {
        Some(lines) => json(StatusCode::OK, &lines),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is shutting down".into(),
        ),
    }
}

pub(super) async fn change_seat(
    State(state): State<ApiState>,
    Path(seat): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let change = match accepted(raw, SeatChangeBody::validate) {
        Ok(change) => change,
        Err(response) => return *response,
    };
    match state.live.change_seat(&seat, change).await {
        Ok(view) => json(StatusCode::OK, &view),
        Err(e) => live_error(&e),
    }
}

/// `POST /api/v1/seats/{seat}/supervise`: 202 once the supervisor's phone rings.
pub(super) async fn supervise(
    State(state): State<ApiState>,
    Path(seat): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let (supervisor, mode) = match accepted(raw, SuperviseBody::validate) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    match state.live.supervise(&seat, supervisor, mode).await {
        Ok(started) => json(StatusCode::ACCEPTED, &started),
        Err(e) => live_error(&e),
    }
}

pub(super) async fn change_handoff(
    State(state): State<ApiState>,
    Path(call): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let change = match accepted(raw, HandoffActionBody::validate) {
        Ok(change) => change,
        Err(response) => return *response,
    };
    match state.live.change_handoff(&call, change).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => live_error(&e),
    }
}

/// A body that parses and passes `validate`, or the response that refuses it.
fn accepted<B: DeserializeOwned, T>(
    raw: Result<Bytes, BytesRejection>,
    validate: impl FnOnce(B) -> Result<T, FieldError>,
) -> Result<T, Box<Response>> {
    validate(parse_body(raw)?).map_err(|e| Box::new(field_error(&e)))
}

fn live_error(e: &LiveError) -> Response {
    match e {
        LiveError::NotFound { .. } => error(StatusCode::NOT_FOUND, e.to_string()),
        LiveError::Conflict(_) => error(StatusCode::CONFLICT, e.to_string()),
        LiveError::Field(field) => field_error(field),
        LiveError::ShuttingDown => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        LiveError::Forbidden(_) => error(StatusCode::FORBIDDEN, e.to_string()),
    }
}

/// `GET /api/v1/events`: a snapshot, then every change, as server-sent events.
pub(super) async fn events(State(state): State<ApiState>) -> Response {
    let receiver = state.live.events();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await?;
        let sse = match event.data() {
            Ok(data) => Event::default().event(event.name()).data(data),
            Err(e) => Event::default().comment(format!("not serialized: {e}")),
        };
        Some((Ok::<Event, Infallible>(sse), receiver))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}
