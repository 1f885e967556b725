//! The daemon's HTTP API: `/api/v1/...` on loopback by default, behind a bearer token.
//!
//! This module is only the HTTP layer. What a request does is behind traits the daemon
//! implements ([`Surveys`] for return-visit survey calls), so the layer looks down at nothing
//! and is tested with an in-memory implementation.
//!
//! | Method and path              | Auth | Answers                                           |
//! |------------------------------|------|---------------------------------------------------|
//! | `GET /api/v1/health`         | no   | 200 `{"status":"ok"}`                             |
//! | `POST /api/v1/surveys`       | yes  | 202 [`SurveyCreated`], 400, 409, 422, 503         |
//! | `GET /api/v1/surveys/{id}`   | yes  | 200 [`SurveyStatusBody`], 404                     |
//!
//! Errors are `{"error": "..."}`; a missing or wrong token is 401 with `WWW-Authenticate: Bearer`.

mod auth;
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
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use settings::ApiSettings;
pub use types::{
    ErrorBody, InvalidRequest, SurveyCreated, SurveyRequestBody, SurveyState, SurveyStatusBody,
};

use auth::{ExpectedToken, Refusal};

/// Paths, shared with the command-line client.
pub const HEALTH_PATH: &str = "/api/v1/health";
pub const SURVEYS_PATH: &str = "/api/v1/surveys";

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
}

impl ApiState {
    /// `token` is what [`ApiSettings::token`] returned; only its digest is kept.
    pub fn new(token: &str, surveys: Arc<dyn Surveys>) -> Self {
        Self {
            token: ExpectedToken::new(token),
            surveys,
        }
    }
}

/// Every route of the API.
pub fn router(state: ApiState) -> Router {
    let protected = Router::new()
        .route(SURVEYS_PATH, post(create_survey))
        .route(&format!("{SURVEYS_PATH}/{{id}}"), get(survey_status))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .merge(protected)
        .route(HEALTH_PATH, get(health))
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
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match auth::check(&state.token, header) {
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
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let request: SurveyRequestBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed body: {e}")),
    };
    if let Err(e) = request.validate() {
        return error(StatusCode::BAD_REQUEST, e.to_string());
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
    json(status, &ErrorBody { error: message })
}
