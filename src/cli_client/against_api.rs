//! The API's HTTP layer over real TCP on 127.0.0.1, driven by this client, with an in-memory
//! [`Surveys`]: the client's tests, and the API's as its client sees it.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::*;
use crate::cli_client::{self, ClientError};
use crate::ratings::Rating;

pub(super) const TOKEN: &str = "test-token-0123456789";
const DO_NOT_CALL: &str = "13900000000";

/// Surveys kept in a map; one number is on the do-not-call list.
#[derive(Default)]
struct InMemory {
    surveys: Mutex<HashMap<String, SurveyStatusBody>>,
}

impl Surveys for InMemory {
    fn request(
        &self,
        request: SurveyRequestBody,
    ) -> BoxFuture<'_, Result<SurveyCreated, SurveyApiError>> {
        Box::pin(async move {
            if request.number == DO_NOT_CALL {
                return Err(SurveyApiError::DoNotCall {
                    number: request.number,
                });
            }
            let mut surveys = self.surveys.lock().unwrap();
            let id = format!("s-{}", surveys.len() + 1);
            surveys.insert(
                id.clone(),
                SurveyStatusBody {
                    id: id.clone(),
                    number: request.number,
                    ticket: request.ticket,
                    unit: request.unit,
                    status: SurveyState::Queued,
                    attempts: 0,
                    result: None,
                    attitude: None,
                },
            );
            Ok(SurveyCreated {
                id,
                status: SurveyState::Queued,
            })
        })
    }

    fn status<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<SurveyStatusBody>> {
        Box::pin(async move { self.surveys.lock().unwrap().get(id).cloned() })
    }
}

pub(super) struct Running {
    pub(super) addr: SocketAddr,
    surveys: Arc<InMemory>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ApiError>>,
}

async fn start() -> Running {
    start_with(Arc::new(super::against_live::Lines::default())).await
}

/// The API on 127.0.0.1 with in-memory surveys and `live`.
pub(super) async fn start_with(live: Arc<dyn Live>) -> Running {
    let surveys = Arc::new(InMemory::default());
    let state = ApiState::new(
        TOKEN,
        surveys.clone(),
        live,
        Arc::new(super::against_live::Kept),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve(listener, router(state), shutdown));
    Running {
        addr,
        surveys,
        stop,
        task,
    }
}

impl Running {
    pub(super) async fn stop(self) {
        self.stop
            .send(())
            .expect("server still listening for shutdown");
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server ends after shutdown")
            .expect("server task did not panic");
        assert!(result.is_ok(), "{result:?}");
    }
}

/// A raw HTTP/1.1 exchange; returns the status line, the lower-cased headers and the body.
pub(super) async fn raw(addr: SocketAddr, request: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8(raw).expect("UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        body.to_owned(),
    )
}

fn post(addr: SocketAddr, auth: Option<&str>, body: &str) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST /api/v1/surveys HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn request_and_status_round_trip_through_the_client() {
    let running = start().await;
    let api = running.addr;

    let said = cli_client::survey_call(api, TOKEN, "13800000000", "T-2026-1101", "water-company")
        .await
        .expect("survey call");
    assert_eq!(said, "survey s-1 queued");

    let status = cli_client::fetch_survey(api, TOKEN, "s-1")
        .await
        .expect("status");
    assert_eq!(status.number, "13800000000");
    assert_eq!(status.ticket, "T-2026-1101");
    assert_eq!(status.unit, "water-company");
    assert_eq!(status.status, SurveyState::Queued);
    assert_eq!(status.attempts, 0);

    // The daemon's side moves on; the client shows the answers.
    {
        let mut surveys = running.surveys.surveys.lock().unwrap();
        let s = surveys.get_mut("s-1").unwrap();
        s.status = SurveyState::Completed;
        s.attempts = 2;
        s.result = Some(Rating::Satisfied);
        s.attitude = Some(Rating::BasicallySatisfied);
    }
    let shown = cli_client::survey_status(api, TOKEN, "s-1")
        .await
        .expect("status");
    assert_eq!(
        shown,
        "survey s-1: completed (2 attempts)\n  number 13800000000, ticket T-2026-1101, unit water-company\n  result satisfied, attitude basically_satisfied"
    );

    running.stop().await;
}

#[tokio::test]
async fn accepted_answers_with_json_and_a_location() {
    let running = start().await;
    let body = r#"{"number":"+8613800000000","ticket":"T-1","unit":"u"}"#;
    let (status, headers, body) = raw(
        running.addr,
        &post(running.addr, Some(&format!("Bearer {TOKEN}")), body),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 202 Accepted");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    assert!(
        headers.contains("location: /api/v1/surveys/s-1"),
        "{headers}"
    );
    let created: SurveyCreated = serde_json::from_str(&body).expect("JSON");
    assert_eq!(created.status, SurveyState::Queued);
    running.stop().await;
}

/// Log lines written while a guard is held; the tests run on one thread, so the server's
/// tasks log here too.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn missing_or_wrong_token_is_401_and_no_token_is_logged() {
    // tracing caches each callsite's interest process-wide, and while a single dispatcher is
    // registered a sibling test thread (which has none) registers callsites as "never". A
    // second, silent dispatcher makes every registration ask all live dispatchers, and the
    // rebuild repairs callsites registered before this test began.
    let _anchor = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::TRACE)
            .finish(),
    );
    let logs = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let running = start().await;
    let api = running.addr;
    let body = r#"{"number":"13800000000","ticket":"T-1","unit":"u"}"#;

    let (status, headers, body_text) = raw(api, &post(api, None, body)).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert!(headers.contains("www-authenticate: bearer"), "{headers}");
    let error: ErrorBody = serde_json::from_str(&body_text).expect("JSON error");
    assert!(!error.error.is_empty());

    let (status, headers, _) = raw(api, &post(api, Some(&format!("Basic {TOKEN}")), body)).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert!(headers.contains("www-authenticate: bearer"), "{headers}");

    let wrong = "wrong-token-9876543210";
    let (status, headers, _) = raw(api, &post(api, Some(&format!("Bearer {wrong}")), body)).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert!(headers.contains("www-authenticate: bearer"), "{headers}");

    let err = cli_client::survey_call(api, wrong, "13800000000", "T-1", "u")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("wrong token"), "{err}");
    let err = cli_client::survey_status(api, wrong, "s-1")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");

    // Nothing was queued by the refused requests; the right token still works.
    assert_eq!(
        cli_client::survey_call(api, TOKEN, "13800000000", "T-1", "u")
            .await
            .unwrap(),
        "survey s-1 queued"
    );
    running.stop().await;

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("api request"), "{logs}");
    assert!(logs.contains("status=401"), "{logs}");
    assert!(logs.contains("wrong_token"), "{logs}");
    assert!(logs.contains("status=202"), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
    assert!(!logs.contains(wrong), "{logs}");
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let running = start().await;
    let api = running.addr;

    let err = cli_client::survey_call(api, TOKEN, "138-0000-0000", "T-1", "u")
        .await
        .unwrap_err();
    match &err {
        ClientError::Refused {
            status: 400,
            message,
        } => {
            assert!(message.contains("number"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let err = cli_client::survey_call(api, TOKEN, "13800000000", "", "u")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { status: 400, message } if message.contains("ticket")),
        "{err:?}"
    );
    let err = cli_client::survey_call(api, TOKEN, "13800000000", "T-1", &"u".repeat(65))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { status: 400, message } if message.contains("unit")),
        "{err:?}"
    );

    let auth = format!("Bearer {TOKEN}");
    for body in [
        "not json",
        r#"{"number":"13800000000","ticket":"T-1"}"#,
        r#"{"number":"13800000000","ticket":"T-1","unit":"u","priority":1}"#,
        r#"{"number":13800000000,"ticket":"T-1","unit":"u"}"#,
    ] {
        let (status, _, text) = raw(api, &post(api, Some(&auth), body)).await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{body}");
        let error: ErrorBody = serde_json::from_str(&text).expect("JSON error");
        assert!(error.error.starts_with("malformed body"), "{error:?}");
    }
    let huge = format!(
        r#"{{"number":"13800000000","ticket":"T-1","unit":"u","pad":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let (status, _, text) = raw(api, &post(api, Some(&auth), &huge)).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    serde_json::from_str::<ErrorBody>(&text).expect("JSON error");

    assert!(running.surveys.surveys.lock().unwrap().is_empty());
    running.stop().await;
}

#[tokio::test]
async fn do_not_call_is_422_with_the_message() {
    let running = start().await;
    let err = cli_client::survey_call(running.addr, TOKEN, DO_NOT_CALL, "T-1", "u")
        .await
        .unwrap_err();
    match &err {
        ClientError::Refused {
            status: 422,
            message,
        } => {
            assert_eq!(
                message,
                &format!("{DO_NOT_CALL} is on the do-not-call list")
            )
        }
        other => panic!("{other:?}"),
    }
    running.stop().await;
}

#[tokio::test]
async fn unknown_survey_is_404() {
    let running = start().await;
    let err = cli_client::survey_status(running.addr, TOKEN, "s-404")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::NoSuchSurvey { id } if id == "s-404"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no survey s-404");
    let err = cli_client::survey_status(running.addr, TOKEN, "../health")
        .await
        .unwrap_err();
    assert!(matches!(&err, ClientError::NoSuchSurvey { .. }), "{err:?}");
    running.stop().await;
}

#[tokio::test]
async fn health_needs_no_token_and_unknown_paths_are_404() {
    let running = start().await;
    let addr = running.addr;
    let (status, headers, body) = raw(
        addr,
        &format!("GET /api/v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    assert_eq!(body, r#"{"status":"ok"}"#);

    let (status, _, body) = raw(
        addr,
        &format!("GET /api/v2/nothing HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("error"), "{body}");
    running.stop().await;
}

#[tokio::test]
async fn shutdown_ends_the_server() {
    let running = start().await;
    let addr = running.addr;
    running.stop().await;
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    let err = cli_client::survey_status(addr, TOKEN, "s-1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is the daemon running?"), "{err}");
}
