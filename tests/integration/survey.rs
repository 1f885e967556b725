//! Return-visit survey calls: requested through the HTTP API (and `hotline survey call`), placed
//! through the trunk's outbound address to a SIPp UAS on 127.0.0.1 that answers and presses
//! keys, or refuses; the store holds every attempt and every answer.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, SystemTime};

use hotline::api::{SurveyRequestBody, SurveyState};
use hotline::calendar::to_local;
use hotline::cli_client::{self, ClientError};
use hotline::ratings::{Rating, RatingKind, RatingOutcome};
use hotline::store::{AttemptOutcome, SurveyState as Stored};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{free_udp_port, Sipp, SippProcess};

const TOKEN: &str = "survey-test-token-0123456789";
const DO_NOT_CALL: &str = "13900000000";
/// The shipped default, which the clock is advanced by.
const RETRY_INTERVAL: Duration = Duration::from_secs(600);

/// A daemon whose survey calls go to 127.0.0.1:`trunk_port`.
async fn daemon(trunk_port: u16) -> TestDaemon {
    daemon_with(trunk_port, "trunk = \"citizens-out\"", "", "").await
}

/// `survey_lines` are added to `[survey]`, `tables` at the end of the config, `routes` to the
/// dialplan.
async fn daemon_with(
    trunk_port: u16,
    survey_lines: &str,
    tables: &str,
    routes: &str,
) -> TestDaemon {
    let extra_config = format!(
        r#"
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"

[survey]
caller_id = "12345"
retries = 2
retry_interval_secs = {interval}
ring_timeout_secs = 20
answer_timeout_secs = 5
do_not_call = ["+86 139-0000-0000"]
{survey_lines}

[[trunks]]
name = "citizens-out"
sources = ["127.0.0.2/32"]
outbound = "127.0.0.1:{trunk_port}"

{tables}
"#,
        interval = RETRY_INTERVAL.as_secs(),
    );
    common::start(Options {
        extra_config,
        extra_routes: routes.to_string(),
        ..Options::default()
    })
    .await
}

fn api(t: &TestDaemon) -> SocketAddr {
    t.daemon.api.expect("the API listens")
}

/// The citizen's phone on the trunk port.
fn citizen(port: u16, mode: &str) -> Sipp {
    Sipp::new("survey_uas.xml")
        .port(port)
        .set("mode", mode)
        .timeout(Duration::from_secs(60))
}

async fn request(t: &TestDaemon, number: &str, ticket: &str) -> Result<String, ClientError> {
    let body = SurveyRequestBody {
        number: number.into(),
        ticket: ticket.into(),
        unit: "water-bureau".into(),
    };
    cli_client::request_survey(api(t), TOKEN, &body)
        .await
        .map(|created| created.id)
}

async fn attempts(t: &TestDaemon, id: &str) -> Vec<AttemptOutcome> {
    t.daemon.flush_records().await.expect("flush");
    t.daemon
        .store()
        .survey_attempts(id)
        .await
        .expect("attempts")
        .into_iter()
        .map(|a| a.outcome)
        .collect()
}

async fn wait_for_attempts(t: &TestDaemon, id: &str, n: usize) -> bool {
    eventually(Duration::from_secs(30), || async {
        attempts(t, id).await.len() >= n
    })
    .await
}

async fn finished(uas: SippProcess) -> crate::peers::SippRun {
    let run = uas.wait().await.expect("sipp ran");
    assert!(run.success(), "{run}");
    run
}

/// Requests a survey whose first call gets 480; returns its id once the attempt is kept.
async fn first_attempt_unanswered(t: &TestDaemon, port: u16, number: &str, ticket: &str) -> String {
    let first = citizen(port, "reject")
        .set("status", "480")
        .spawn()
        .expect("sipp");
    let id = request(t, number, ticket).await.expect("requested");
    finished(first).await;
    assert!(wait_for_attempts(t, &id, 1).await, "first attempt kept");
    id
}

/// The survey is `queued` with one attempt, not being dialled, and its ticket is taken: a
/// second request for it is refused.
async fn waits_for_its_retry(t: &TestDaemon, id: &str, ticket: &str) {
    let status = cli_client::fetch_survey(api(t), TOKEN, id)
        .await
        .expect("status");
    assert_eq!((status.status, status.attempts), (SurveyState::Queued, 1));
    match request(t, &status.number, ticket).await {
        Err(ClientError::Refused { status: 409, .. }) => {}
        other => panic!("a second survey for the ticket was not refused: {other:?}"),
    }
}

/// The retry falls due when the scheduler's clock has moved on by the interval: `uas` gets it.
async fn retry_dials(t: &TestDaemon, uas: Sipp, number: &str) {
    let uas = uas.spawn().expect("sipp");
    t.daemon.advance_survey_clock(RETRY_INTERVAL).await;
    let run = finished(uas).await;
    assert!(
        run.messages
            .contains(&format!("INVITE sip:{number}@127.0.0.1:")),
        "{run}"
    );
}

#[tokio::test]
async fn answered_survey_keeps_consent_and_both_answers() {
    let port = free_udp_port().expect("port");
    let t = daemon(port).await;
    let uas = citizen(port, "answer")
        .set("keys", "121")
        .spawn()
        .expect("sipp");

    // Through the command-line client, as an operator would.
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let mut cli = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cli.args(["survey", "call", "--number", "13800138001"])
        .args(["--ticket", "T-2026-0001", "--unit", "water-bureau"])
        .args(["--api", &api(&t).to_string(), "--token-file"])
        .arg(&token_file);
    // On a thread of its own: the daemon answering it runs on this test's runtime.
    let out = tokio::task::spawn_blocking(move || cli.output())
        .await
        .expect("join")
        .expect("run hotline survey call");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "survey <id> calling"
    let id = stdout
        .split_whitespace()
        .nth(1)
        .expect("the survey's id")
        .to_string();

    let run = finished(uas).await;
    assert!(
        run.messages.contains("INVITE sip:13800138001@127.0.0.1:"),
        "{run}"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            t.daemon.flush_records().await.is_ok()
                && t.daemon
                    .store()
                    .survey(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.status == Stored::Completed)
        })
        .await,
        "survey {id} never recorded as completed"
    );
    let survey = t.daemon.store().survey(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            survey.number.as_str(),
            survey.ticket.as_str(),
            survey.attempts
        ),
        ("13800138001", "T-2026-0001", 1)
    );
    assert_eq!(survey.unit.as_deref(), Some("water-bureau"));
    assert_eq!(attempts(&t, &id).await, [AttemptOutcome::Answered]);

    let ratings = t.daemon.store().ratings().await.expect("ratings");
    let answer = |kind| {
        ratings
            .iter()
            .find(|r| r.call_id == id && r.kind == kind)
            .map(|r| (r.outcome, r.unit.clone()))
    };
    let unit = Some("water-bureau".to_string());
    assert_eq!(
        answer(RatingKind::SurveyResult),
        Some((
            RatingOutcome::Rated(Rating::BasicallySatisfied),
            unit.clone()
        ))
    );
    assert_eq!(
        answer(RatingKind::SurveyAttitude),
        Some((RatingOutcome::Rated(Rating::Satisfied), unit))
    );

    let status = cli_client::fetch_survey(api(&t), TOKEN, &id)
        .await
        .expect("status");
    assert_eq!(status.status, SurveyState::Completed);
    assert_eq!(
        (status.result, status.attitude),
        (Some(Rating::BasicallySatisfied), Some(Rating::Satisfied))
    );

    let mut cli = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cli.args(["survey", "status", &id])
        .args(["--api", &api(&t).to_string(), "--token-file"])
        .arg(&token_file);
    let out = tokio::task::spawn_blocking(move || cli.output())
        .await
        .expect("join")
        .expect("run hotline survey status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("completed (1 attempt)")
            && stdout.contains("result basically_satisfied, attitude satisfied"),
        "{stdout}"
    );
    t.daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn unanswered_call_is_tried_again_after_the_retry_interval() {
    let port = free_udp_port().expect("port");
    let t = daemon(port).await;
    let id = first_attempt_unanswered(&t, port, "13800138002", "T-2026-0002").await;
    assert_eq!(attempts(&t, &id).await, [AttemptOutcome::NoAnswer]);
    waits_for_its_retry(&t, &id, "T-2026-0002").await;

    let second = citizen(port, "reject").set("status", "486");
    retry_dials(&t, second, "13800138002").await;
    assert!(wait_for_attempts(&t, &id, 2).await, "second attempt kept");
    assert_eq!(
        attempts(&t, &id).await,
        [AttemptOutcome::NoAnswer, AttemptOutcome::Busy]
    );
    let survey = t.daemon.store().survey(&id).await.unwrap().unwrap();
    assert_eq!((survey.status, survey.attempts), (Stored::Queued, 2));
    t.daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_survey_waiting_for_its_retry_is_taken_back_after_a_restart() {
    let port = free_udp_port().expect("port");
    let t = daemon(port).await;
    let id = first_attempt_unanswered(&t, port, "13800138005", "T-2026-0005").await;

    let t = t.restart().await;
    // Taken back with its attempt, and waiting for its retry rather than dialled at once.
    waits_for_its_retry(&t, &id, "T-2026-0005").await;

    let second = citizen(port, "answer").set("keys", "121");
    retry_dials(&t, second, "13800138005").await;
    assert!(wait_for_attempts(&t, &id, 2).await, "second attempt kept");
    assert_eq!(
        attempts(&t, &id).await,
        [AttemptOutcome::NoAnswer, AttemptOutcome::Answered]
    );
    let finished_survey = eventually(Duration::from_secs(10), || async {
        t.daemon.flush_records().await.expect("flush");
        let survey = t.daemon.store().survey(&id).await.unwrap().unwrap();
        (survey.status, survey.attempts) == (Stored::Completed, 2)
    })
    .await;
    assert!(finished_survey, "the resumed survey never completed");
    t.daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn outside_calling_hours_a_survey_waits_until_they_open() {
    // Today and tomorrow (local time, as the daemon reckons it) are holidays, so the calling
    // hours open at midnight of a working day, days from now.
    let today = to_local(SystemTime::now(), 8 * 3600).date;
    let tables = format!(
        "[[calendars]]\nname = \"survey-hours\"\nholidays = [\"{today}\", \"{}\"]\n",
        today.succ()
    );
    let port = free_udp_port().expect("port");
    let survey_lines = "trunk = \"citizens-out\"\ncalendar = \"survey-hours\"";
    let t = daemon_with(port, survey_lines, &tables, "").await;
    let id = request(&t, "13800138006", "T-2026-0006")
        .await
        .expect("requested");
    let status = cli_client::fetch_survey(api(&t), TOKEN, &id)
        .await
        .expect("status");
    assert_eq!((status.status, status.attempts), (SurveyState::Queued, 0));

    let uas = citizen(port, "answer")
        .set("keys", "121")
        .spawn()
        .expect("sipp");
    // Half a day at a time, so the clock stops inside the first opening whatever the weekday.
    for _ in 0..16 {
        t.daemon
            .advance_survey_clock(Duration::from_secs(12 * 3600))
            .await;
        let status = cli_client::fetch_survey(api(&t), TOKEN, &id)
            .await
            .expect("status");
        if status.attempts > 0 {
            break;
        }
    }
    let run = finished(uas).await;
    assert!(run.messages.contains("INVITE sip:13800138006@"), "{run}");
    assert!(wait_for_attempts(&t, &id, 1).await, "the attempt kept");
    assert_eq!(attempts(&t, &id).await, [AttemptOutcome::Answered]);
    t.daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn without_a_survey_trunk_the_outbound_routes_choose_and_rewrite_the_number() {
    let port = free_udp_port().expect("port");
    let routes = r#"
[[outbound]]
prefix = "138"
trunk = "citizens-out"
caller_id = "055112345"
prepend = "0"
"#;
    let t = daemon_with(port, "", "", routes).await;
    let uas = citizen(port, "answer")
        .set("keys", "121")
        .spawn()
        .expect("sipp");

    match request(&t, "15900000000", "T-2026-0007").await {
        Err(ClientError::Refused { status, message }) => {
            assert_eq!(status, 422);
            assert!(message.contains("no outbound route"), "{message}");
        }
        other => panic!("a number no route allows was not refused: {other:?}"),
    }
    let id = request(&t, "13800138008", "T-2026-0008")
        .await
        .expect("requested");
    let run = finished(uas).await;
    // Rewritten by the route; presenting the survey's number, not the route's.
    assert!(
        run.messages.contains("INVITE sip:013800138008@127.0.0.1:"),
        "{run}"
    );
    assert!(
        run.messages.contains("From: \"12345\" <sip:12345@"),
        "{run}"
    );
    assert!(!run.messages.contains("055112345"), "{run}");
    assert!(!run.messages.contains("15900000000"), "{run}");
    assert!(wait_for_attempts(&t, &id, 1).await, "the attempt kept");
    assert_eq!(attempts(&t, &id).await, [AttemptOutcome::Answered]);
    t.daemon.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn do_not_call_number_is_refused_and_never_dialled() {
    let port = free_udp_port().expect("port");
    let t = daemon(port).await;
    let uas = citizen(port, "reject").spawn().expect("sipp");

    match request(&t, DO_NOT_CALL, "T-2026-0003").await {
        Err(ClientError::Refused { status, message }) => {
            assert_eq!(status, 422);
            assert!(message.contains("do-not-call"), "{message}");
        }
        other => panic!("a do-not-call number was not refused: {other:?}"),
    }
    // The next request is dialled: the UAS's only INVITE is for it.
    let id = request(&t, "13800138003", "T-2026-0004")
        .await
        .expect("requested");
    let run = finished(uas).await;
    assert!(run.messages.contains("INVITE sip:13800138003@"), "{run}");
    assert!(!run.messages.contains(DO_NOT_CALL), "{run}");
    assert!(wait_for_attempts(&t, &id, 1).await);

    let surveys = t.daemon.store().surveys().await.expect("surveys");
    let refused = surveys
        .iter()
        .find(|s| s.number == DO_NOT_CALL)
        .expect("the refused request is recorded");
    assert_eq!((refused.status, refused.attempts), (Stored::RefusedDnc, 0));
    assert_eq!(attempts(&t, &refused.id).await, []);
    t.daemon.shutdown().await.expect("clean shutdown");
}

/// One raw HTTP/1.1 request; the status code of the answer.
async fn raw_status(api: SocketAddr, request: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(api).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read answer");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {answer:?}"))
}

#[tokio::test]
async fn api_refuses_a_missing_or_wrong_token() {
    let port = free_udp_port().expect("port");
    let t = daemon(port).await;
    let body = r#"{"number":"13800138004","ticket":"T-5","unit":"u"}"#;
    let no_token = format!(
        "POST /api/v1/surveys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(raw_status(api(&t), &no_token).await, 401);

    let wrong = SurveyRequestBody {
        number: "13800138004".into(),
        ticket: "T-5".into(),
        unit: "u".into(),
    };
    let refused = cli_client::request_survey(api(&t), "not-the-token-0123456789", &wrong).await;
    assert!(
        matches!(refused, Err(ClientError::Unauthorized { .. })),
        "{refused:?}"
    );
    t.daemon.flush_records().await.expect("flush");
    assert!(t
        .daemon
        .store()
        .surveys()
        .await
        .expect("surveys")
        .is_empty());
    t.daemon.shutdown().await.expect("clean shutdown");
}
