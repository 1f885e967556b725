//! The daemon's HTTP API: `/api/v1/...` on loopback by default, behind a bearer token.
//!
//! This module is only the HTTP layer. What a request does is behind traits the daemon
//! implements ([`Surveys`] for return-visit survey calls, [`Live`] for the hotline as it is
//! now), so the layer looks down at nothing and is tested with an in-memory implementation.
//! Every route is in [`ROUTES`]; `openapi.json` (served at `/api/v1/openapi.json`) describes
//! them, and a test holds the two together.
//!
//! Errors are `{"error": "...", "field": "..."}` (`field` when one part of the request was
//! refused); a missing or wrong token is 401 with `WWW-Authenticate: Bearer`.

mod auth;
pub mod history;
mod history_routes;
pub mod live;
mod live_routes;
pub mod settings;
pub mod types;

use std::future::{pending, Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use history::{History, HistoryError};
pub use live::{Live, LiveError, LiveEvent, LiveSnapshot};
pub use settings::ApiSettings;
pub use types::{
    ErrorBody, InvalidRequest, SurveyCreated, SurveyRequestBody, SurveyState, SurveyStatusBody,
};

use auth::{ExpectedToken, Refusal};

/// Paths, shared with the command-line client.
pub const HEALTH_PATH: &str = "/api/v1/health";
pub const SURVEYS_PATH: &str = "/api/v1/surveys";
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
pub const WALL_PATH: &str = "/wall";

/// The wallboard: one page with its style and script, in the binary, so it works with no
/// internet.
const WALL: &str = include_str!("wall.html");

/// The cookie the wallboard keeps the token in, for its event stream.
const TOKEN_COOKIE: &str = "hotline_token";

/// The OpenAPI 3.1 document of every route.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route: method, path (in OpenAPI's template syntax) and whether it needs the token.
pub const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", HEALTH_PATH, false),
    ("GET", OPENAPI_PATH, false),
    ("GET", WALL_PATH, false),
    ("POST", SURVEYS_PATH, true),
    ("GET", "/api/v1/surveys/{id}", true),
    ("GET", "/api/v1/calls", true),
    ("POST", "/api/v1/calls/{id}/handoff", true),
    ("GET", "/api/v1/seats", true),
    ("POST", "/api/v1/seats/{seat}/state", true),
    ("POST", "/api/v1/seats/{seat}/supervise", true),
    ("GET", "/api/v1/queues", true),
    ("GET", "/api/v1/handoffs", true),
    ("GET", "/api/v1/today", true),
    ("GET", "/api/v1/lines", true),
    ("GET", "/api/v1/lines/{date}", true),
    ("GET", "/api/v1/ledger/{unit}", true),
    ("GET", "/api/v1/ratings", true),
    ("GET", "/api/v1/records", true),
    ("GET", "/api/v1/events", true),
];

/// Request bodies are a few short fields; anything bigger is refused (413).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// How long open requests may finish after shutdown.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// A boxed future, so that [`Surveys`] stays object-safe without the async-trait crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Return-visit survey calls, as the daemon offers them to the API.
pub trait Surveys: Send + Sync + 'static {
    /// Queues a survey call. The request has passed [`SurveyRequestBody::validate`].
    fn request(
        &self,
        request: SurveyRequestBody,
    ) -> BoxFuture<'_, Result<SurveyCreated, SurveyApiError>>;

    /// Where survey `id` stands; `None` when there is no such survey.
    fn status<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<SurveyStatusBody>>;
}

/// Why [`Surveys::request`] refused a survey; each maps to one HTTP status and its message is
/// what the caller of the API sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveyApiError {
    /// 422.
    #[error("{number} is on the do-not-call list")]
    DoNotCall { number: String },
    /// 422: no outbound route allows the number; it is never dialled.
    #[error("no outbound route allows {number}")]
    NoRoute { number: String },
    /// 409: the ticket already has a survey that is not finished.
    #[error("ticket {ticket} already has survey {id}")]
    AlreadyRequested { ticket: String, id: String },
    /// 503.
    #[error("the survey queue is full; try again later")]
    QueueFull,
    /// 503.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// 503: the daemon has no `[survey]` table, or it is disabled.
    #[error("survey calls are not enabled on this daemon")]
    Disabled,
    /// 503: the request could not be committed to the store, so it was not taken.
    #[error("the request could not be recorded; it was not taken, try again later")]
    NotKept,
}

impl SurveyApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            SurveyApiError::DoNotCall { .. } | SurveyApiError::NoRoute { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            SurveyApiError::AlreadyRequested { .. } => StatusCode::CONFLICT,
            SurveyApiError::QueueFull
            | SurveyApiError::ShuttingDown
            | SurveyApiError::Disabled
            | SurveyApiError::NotKept => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Errors of the API module: its settings and its server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("api.token: {reason}")]
    Token { reason: String },
    #[error("api.token_file {}: {source}", path.display())]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("api.token_file {}: {reason}", path.display())]
    TokenFileContents { path: PathBuf, reason: String },
    #[error("serving the API: {0}")]
    Serve(#[source] std::io::Error),
}

/// What the handlers share: the expected token and the daemon's side of each endpoint.
#[derive(Clone)]
pub struct ApiState {
    token: ExpectedToken,
    surveys: Arc<dyn Surveys>,
    live: Arc<dyn Live>,
    history: Arc<dyn History>,
}

impl ApiState {
    /// `token` is what [`ApiSettings::token`] returned; only its digest is kept.
    pub fn new(
        token: &str,
        surveys: Arc<dyn Surveys>,
        live: Arc<dyn Live>,
        history: Arc<dyn History>,
    ) -> Self {
        Self {
            token: ExpectedToken::new(token),
            surveys,
            live,
            history,
        }
    }
}

/// The handler of route `(method, path)` of [`ROUTES`].
fn handler(method: &str, path: &str) -> Option<MethodRouter<ApiState>> {
    use live_routes as l;
    Some(match (method, path) {
        ("GET", HEALTH_PATH) => get(health),
        ("GET", OPENAPI_PATH) => get(openapi),
        ("GET", WALL_PATH) => get(wall),
        ("POST", SURVEYS_PATH) => post(create_survey),
        ("GET", "/api/v1/surveys/{id}") => get(survey_status),
        ("GET", "/api/v1/calls") => get(l::calls),
        ("POST", "/api/v1/calls/{id}/handoff") => post(l::change_handoff),
        ("GET", "/api/v1/seats") => get(l::seats),
        ("POST", "/api/v1/seats/{seat}/state") => post(l::change_seat),
        ("POST", "/api/v1/seats/{seat}/supervise") => post(l::supervise),
        ("GET", "/api/v1/queues") => get(l::queues),
        ("GET", "/api/v1/handoffs") => get(l::handoffs),
        ("GET", "/api/v1/today") => get(l::today),
        ("GET", "/api/v1/lines") => get(l::lines),
        ("GET", "/api/v1/lines/{date}") => get(history_routes::lines),
        ("GET", "/api/v1/ledger/{unit}") => get(history_routes::ledger),
        ("GET", "/api/v1/ratings") => get(history_routes::ratings),
        ("GET", "/api/v1/records") => get(history_routes::records),
        ("GET", "/api/v1/events") => get(l::events),
        _ => return None,
    })
}

/// Every route of the API, as [`ROUTES`] lists them.
pub fn router(state: ApiState) -> Router {
    let mut protected = Router::new();
    let mut open = Router::new();
    for &(method, path, auth) in ROUTES {
        let Some(handler) = handler(method, path) else {
            tracing::error!(method, path, "api: a route without a handler");
            continue;
        };
        if auth {
            protected = protected.route(path, handler);
        } else {
            open = open.route(path, handler);
        }
    }
    let protected =
        protected.route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .merge(protected)
        .merge(open)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish
/// for a few seconds at most.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    serve_with_grace(listener, router, shutdown, DRAIN_GRACE).await
}

async fn serve_with_grace(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<(), ApiError> {
    if let Ok(addr) = listener.local_addr() {
        if !addr.ip().is_loopback() {
            tracing::warn!(listen = %addr, "api: listening beyond loopback without TLS; the bearer token crosses the network in clear text");
        }
    }
    let (fired_tx, fired_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = fired_tx.send(());
    };
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(signal)
        .into_future();
    let drain_deadline = async {
        match fired_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            // The sender is gone only once the server has stopped on its own.
            Err(_) => pending().await,
        }
    };
    tokio::select! {
        result = server => result.map_err(ApiError::Serve),
        () = drain_deadline => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "api: requests still open after shutdown grace, not waiting");
            Ok(())
        }
    }
}

/// One line per request: method, path and status; never headers, so never the token.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let auth = response.extensions().get::<Refusal>().map(|r| r.as_str());
    if path == HEALTH_PATH {
        tracing::debug!(%method, %path, status, elapsed_ms, "api request");
    } else {
        tracing::info!(%method, %path, status, elapsed_ms, auth, "api request");
    }
    response
}

async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    // A page (the wallboard) cannot put a header on its event stream; it sends the token in a
    // cookie, taken for reading only, so no other site's form can change anything with it.
    let cookie = match (bearer, request.method() == axum::http::Method::GET) {
        (None, true) => auth::cookie_token(
            headers
                .get_all(header::COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
            TOKEN_COOKIE,
        ),
        _ => None,
    };
    let checked = match cookie {
        Some(token) => auth::check_token(&state.token, &token),
        None => auth::check(&state.token, bearer),
    };
    match checked {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            let challenge = match refusal {
                Refusal::Wrong => r#"Bearer error="invalid_token""#,
                Refusal::Missing | Refusal::NotBearer => "Bearer",
            };
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required".into(),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            response.extensions_mut().insert(refusal);
            response
        }
    }
}

async fn health() -> Response {
    json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

async fn create_survey(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request: SurveyRequestBody = match parse_body(body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if let Err(e) = request.validate() {
        return error_with_field(StatusCode::BAD_REQUEST, e.to_string(), e.field().into());
    }
    match state.surveys.request(request).await {
        Ok(created) => {
            let mut response = json(StatusCode::ACCEPTED, &created);
            if let Ok(location) = HeaderValue::from_str(&format!("{SURVEYS_PATH}/{}", created.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Err(e) => error(e.status(), e.to_string()),
    }
}

async fn survey_status(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    match state.surveys.status(&id).await {
        Some(status) => json(StatusCode::OK, &status),
        None => error(StatusCode::NOT_FOUND, format!("no survey {id}")),
    }
}

/// A JSON body, or the response that refuses it (naming the field serde names: an unknown
/// one, a missing one, one of the wrong type).
fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Box<Response>> {
    let body =
        body.map_err(|rejection| Box::new(error(rejection.status(), rejection.body_text())))?;
    serde_json::from_slice(&body).map_err(|e| {
        let message = format!("malformed body: {e}");
        Box::new(match field_named(&message) {
            Some(field) => error_with_field(StatusCode::BAD_REQUEST, message, field),
            None => error(StatusCode::BAD_REQUEST, message),
        })
    })
}

/// The field in a serde message such as "unknown field `x`, expected ..." or "missing field
/// `action`".
fn field_named(message: &str) -> Option<String> {
    let rest = &message[message.find("field `")? + "field `".len()..];
    Some(rest[..rest.find('`')?].to_string())
}

async fn wall() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        WALL,
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint".into())
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            Body::from(bytes),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "api: response did not serialize");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn error(status: StatusCode, message: String) -> Response {
    json(
        status,
        &ErrorBody {
            error: message,
            field: None,
        },
    )
}

fn error_with_field(status: StatusCode, message: String, field: String) -> Response {
    json(
        status,
        &ErrorBody {
            error: message,
            field: Some(field),
        },
    )
}

/// 400 for one field of the request.
fn field_error(e: &live::FieldError) -> Response {
    error_with_field(StatusCode::BAD_REQUEST, e.message.clone(), e.field.into())
}

#[cfg(test)]
mod tests {
    use super::field_named;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            field_named("malformed body: unknown field `sate`, expected `action` or `reason`"),
            Some("sate".into())
        );
        assert_eq!(
            field_named("malformed body: missing field `action` at line 1 column 2"),
            Some("action".into())
        );
        assert_eq!(field_named("malformed body: EOF while parsing"), None);
    }
}
