//! The API's live routes over real TCP on 127.0.0.1 with an in-memory [`Live`]: every route
//! behind the token, each kind of bad input refused with the field it names, the OpenAPI
//! document and the router holding the same routes, and the event stream's first event.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::against_api::{raw, start_with, TOKEN};
use crate::api::live::{
    CallView, HandoffChange, Page, QueueView, SeatChange, SeatView, WaitingCaller,
};
use crate::api::*;

/// One queue with one caller waiting, two seats, and the changes asked for.
#[derive(Default)]
pub(super) struct Lines {
    seats: Mutex<HashMap<String, SeatView>>,
    handoffs: Mutex<Vec<(String, HandoffChange)>>,
}

fn seat(name: &str, state: &str) -> SeatView {
    SeatView {
        seat: name.into(),
        state: state.into(),
        reason: None,
        since: "2026-12-04T06:00:00Z".into(),
        seconds_in_state: 60,
        call: None,
    }
}

impl Lines {
    fn seats(&self) -> Vec<SeatView> {
        let mut seats: Vec<SeatView> = self.seats.lock().unwrap().values().cloned().collect();
        for name in ["1001", "1002"] {
            if !seats.iter().any(|s| s.seat == name) {
                seats.push(seat(name, "logged_out"));
            }
        }
        seats.sort_by(|a, b| a.seat.cmp(&b.seat));
        seats
    }
}

impl Live for Lines {
    fn snapshot(&self) -> BoxFuture<'_, LiveSnapshot> {
        Box::pin(async move {
            LiveSnapshot {
                calls: vec![CallView {
                    id: "call-1".into(),
                    trunk: "carrier".into(),
                    caller: "13800000000".into(),
                    called: "12345".into(),
                    state: "ringing".into(),
                    queue: Some("citizens".into()),
                    seat: None,
                    units: Vec::new(),
                    answered_at: None,
                    handoff: None,
                }],
                seats: self.seats(),
                queues: vec![QueueView {
                    queue: "citizens".into(),
                    waiting: vec![WaitingCaller {
                        position: 1,
                        call: "call-1".into(),
                        caller: Some("13800000000".into()),
                        waited_secs: 12,
                    }],
                    longest_wait_secs: 12,
                }],
                handoffs: Vec::new(),
                today: None,
                lines: None,
            }
        })
    }

    fn today(&self) -> BoxFuture<'_, Option<crate::api::live::TodayView>> {
        Box::pin(async { None })
    }

    fn lines(&self) -> BoxFuture<'_, Option<crate::api::live::LinesView>> {
        Box::pin(async { None })
    }

    fn change_seat<'a>(
        &'a self,
        name: &'a str,
        change: SeatChange,
    ) -> BoxFuture<'a, Result<SeatView, LiveError>> {
        Box::pin(async move {
            if !["1001", "1002"].contains(&name) {
                return Err(LiveError::NotFound {
                    what: "seat",
                    id: name.into(),
                });
            }
            let mut view = seat(name, "available");
            if let SeatChange::Pause { reason } = change {
                view.state = "paused".into();
                view.reason = Some(reason);
            } else if change == SeatChange::Logout {
                view.state = "logged_out".into();
            }
            self.seats.lock().unwrap().insert(name.into(), view.clone());
            Ok(view)
        })
    }

    fn change_handoff<'a>(
        &'a self,
        call: &'a str,
        change: HandoffChange,
    ) -> BoxFuture<'a, Result<(), LiveError>> {
        Box::pin(async move {
            if call != "call-1" {
                return Err(LiveError::NotFound {
                    what: "call",
                    id: call.into(),
                });
            }
            self.handoffs.lock().unwrap().push((call.into(), change));
            Ok(())
        })
    }

    fn supervise<'a>(
        &'a self,
        seat: &'a str,
        supervisor: String,
        mode: crate::supervision::Mode,
    ) -> BoxFuture<'a, Result<crate::api::live::SuperviseStarted, LiveError>> {
        Box::pin(async move {
            if seat != "1001" {
                return Err(LiveError::NotFound {
                    what: "seat",
                    id: seat.into(),
                });
            }
            if supervisor != "1004" {
                return Err(LiveError::Forbidden(format!(
                    "{supervisor} is not a supervisor"
                )));
            }
            Ok(crate::api::live::SuperviseStarted {
                seat: seat.into(),
                supervisor,
                mode: mode.as_str().into(),
                call: "call-1".into(),
            })
        })
    }

    fn events(&self) -> mpsc::Receiver<LiveEvent> {
        let (tx, rx) = mpsc::channel(4);
        let snapshot = LiveSnapshot {
            calls: Vec::new(),
            seats: self.seats(),
            queues: Vec::new(),
            handoffs: Vec::new(),
            today: None,
            lines: None,
        };
        // The stream stays open as long as the sender lives: keep it a while.
        tokio::spawn(async move {
            let events = [
                LiveEvent::Snapshot(Box::new(snapshot)),
                LiveEvent::CallEnded {
                    id: "call-1".into(),
                },
            ];
            for event in events {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        rx
    }
}

/// Records of one day, one unit's ledger and a ratings report, whatever the month.
pub(super) struct Kept;

impl History for Kept {
    fn ledger<'a>(
        &'a self,
        unit: &'a str,
        month: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, HistoryError>> {
        Box::pin(async move {
            if month.len() != 7 {
                return Err(HistoryError::Field(crate::api::live::FieldError {
                    field: "month",
                    message: "month must be YYYY-MM".into(),
                }));
            }
            if unit != "water" {
                return Err(HistoryError::NoUnit(unit.into()));
            }
            Ok(serde_json::json!({ "month": month, "unit": { "unit": "water", "score": 30 } }))
        })
    }

    fn ratings<'a>(
        &'a self,
        month: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, HistoryError>> {
        Box::pin(async move {
            if by != "all" && by != "seat" {
                return Err(HistoryError::Field(crate::api::live::FieldError {
                    field: "by",
                    message: "by must be all, seat or unit".into(),
                }));
            }
            Ok(serde_json::json!({ "month": month, "groups": [] }))
        })
    }

    fn records<'a>(
        &'a self,
        date: &'a str,
        paging: crate::api::live::Paging,
    ) -> BoxFuture<'a, Result<Page<crate::api::history::RecordView>, HistoryError>> {
        Box::pin(async move {
            if date.len() != 10 {
                return Err(HistoryError::Field(crate::api::live::FieldError {
                    field: "date",
                    message: "date must be YYYY-MM-DD".into(),
                }));
            }
            Ok(Page::of(Vec::new(), paging))
        })
    }

    fn lines<'a>(
        &'a self,
        date: &'a str,
    ) -> BoxFuture<'a, Result<crate::api::history::LinesDayView, HistoryError>> {
        Box::pin(async move {
            if date.len() != 10 {
                return Err(HistoryError::Field(crate::api::live::FieldError {
                    field: "date",
                    message: "date must be YYYY-MM-DD".into(),
                }));
            }
            Ok(crate::api::history::LinesDayView {
                date: date.into(),
                utc_offset_hours: 8,
                trunks: Vec::new(),
                numbers: Vec::new(),
            })
        })
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, token: bool, body: Option<&str>) -> String {
    let auth = if token {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let body = body.unwrap_or("");
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A route's path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "call-1")
        .replace("{seat}", "1001")
        .replace("{unit}", "water")
        .replace("{date}", "2026-12-04")
}

/// The status code and the JSON body of one exchange.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, _, body) = raw(addr, &request(addr, method, path, true, body)).await;
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    (code, json)
}

/// The field a 400 names.
async fn refused_field(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let (status, json) = call(addr, method, path, Some(body)).await;
    assert_eq!(status, 400, "{method} {path} {body}: {json}");
    json["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no field named for {body}: {json}"))
        .to_string()
}

#[tokio::test]
async fn every_protected_route_is_refused_without_the_token() {
    let running = start_with(Arc::new(Lines::default())).await;
    let addr = running.addr;
    let mut protected = 0;
    for &(method, path, auth) in ROUTES {
        let body = (method == "POST").then_some("{}");
        let (status, headers, _) =
            raw(addr, &request(addr, method, &concrete(path), false, body)).await;
        if auth {
            protected += 1;
            assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{method} {path}");
            assert!(headers.contains("www-authenticate: bearer"), "{headers}");
        } else {
            assert_eq!(status, "HTTP/1.1 200 OK", "{method} {path}");
        }
    }
    assert!(protected >= 9, "{protected}");
    running.stop().await;
}

#[tokio::test]
async fn lists_are_paged_and_changes_answer_with_what_they_did() {
    let lines = Arc::new(Lines::default());
    let running = start_with(lines.clone()).await;
    let addr = running.addr;
    let (status, page) = call(addr, "GET", "/api/v1/seats?limit=1&offset=1", None).await;
    assert_eq!(status, 200);
    let page: Page<SeatView> = serde_json::from_value(page).expect("a page of seats");
    assert_eq!((page.total, page.items.len()), (2, 1));
    assert_eq!(page.items[0].seat, "1002");

    let (status, queues) = call(addr, "GET", "/api/v1/queues", None).await;
    assert_eq!(status, 200);
    assert_eq!(queues["items"][0]["waiting"][0]["caller"], "13800000000");

    let (status, seat) = call(
        addr,
        "POST",
        "/api/v1/seats/1001/state",
        Some(r#"{"action":"pause","reason":"lunch"}"#),
    )
    .await;
    assert_eq!(status, 200, "{seat}");
    assert_eq!(
        (seat["state"].as_str(), seat["reason"].as_str()),
        (Some("paused"), Some("lunch"))
    );
    let (status, _) = call(
        addr,
        "POST",
        "/api/v1/seats/9999/state",
        Some(r#"{"action":"login"}"#),
    )
    .await;
    assert_eq!(status, 404);

    let supervise = "/api/v1/seats/1001/supervise";
    let (status, json) = call(
        addr,
        "POST",
        supervise,
        Some(r#"{"supervisor":"1004","mode":"whisper"}"#),
    )
    .await;
    assert_eq!(
        (status, json["mode"].as_str()),
        (202, Some("whisper")),
        "{json}"
    );
    let (status, _) = call(
        addr,
        "POST",
        supervise,
        Some(r#"{"supervisor":"1002","mode":"listen"}"#),
    )
    .await;
    assert_eq!(status, 403, "a seat that is no supervisor");

    let (status, _) = call(
        addr,
        "POST",
        "/api/v1/calls/call-1/handoff",
        Some(r#"{"action":"set","category":"major"}"#),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        lines.handoffs.lock().unwrap().as_slice(),
        [(
            "call-1".to_string(),
            HandoffChange::Set {
                category: "major".into()
            }
        )]
    );
    running.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_it_names() {
    let running = start_with(Arc::new(Lines::default())).await;
    let addr = running.addr;
    let seat = "/api/v1/seats/1001/state";
    let handoff = "/api/v1/calls/call-1/handoff";
    let supervise = "/api/v1/seats/1001/supervise";
    for (path, body, field) in [
        (supervise, r#"{"supervisor":"1004","mode":"spy"}"#, "mode"),
        (
            supervise,
            r#"{"supervisor":"","mode":"listen"}"#,
            "supervisor",
        ),
        (seat, r#"{"action":"sleep"}"#, "action"),
        (seat, r#"{"action":"pause"}"#, "reason"),
        (
            seat,
            r#"{"action":"pause","reason":"out to lunch"}"#,
            "reason",
        ),
        (seat, r#"{"action":"resume","reason":"x"}"#, "reason"),
        (seat, r#"{"reason":"x"}"#, "action"),
        (seat, r#"{"action":"login","mood":"good"}"#, "mood"),
        (handoff, r#"{"action":"set"}"#, "category"),
        (handoff, r#"{"action":"extend"}"#, "reason"),
        (
            handoff,
            r#"{"action":"close","category":"major","reason":"x"}"#,
            "category",
        ),
        (handoff, r#"{"action":"open"}"#, "action"),
        (
            SURVEYS_PATH,
            r#"{"number":"abc","ticket":"T","unit":"u"}"#,
            "number",
        ),
        (
            SURVEYS_PATH,
            r#"{"number":"13800000000","ticket":"","unit":"u"}"#,
            "ticket",
        ),
    ] {
        assert_eq!(
            refused_field(addr, "POST", path, body).await,
            field,
            "{body}"
        );
    }
    for query in ["limit=0", "limit=1001", "limit=ten"] {
        let (status, json) = call(addr, "GET", &format!("/api/v1/calls?{query}"), None).await;
        assert_eq!(
            (status, json["field"].as_str()),
            (400, Some("limit")),
            "{query}"
        );
    }
    let (status, json) = call(addr, "GET", "/api/v1/handoffs?offset=-1", None).await;
    assert_eq!((status, json["field"].as_str()), (400, Some("offset")));
    for (path, field) in [
        ("/api/v1/records", "date"),
        ("/api/v1/records?date=4.12.2026", "date"),
        ("/api/v1/lines/yesterday", "date"),
        ("/api/v1/ratings", "month"),
        ("/api/v1/ratings?month=2026-12&by=weekday", "by"),
        ("/api/v1/ledger/water", "month"),
        ("/api/v1/ledger/water?month=12", "month"),
    ] {
        let (status, json) = call(addr, "GET", path, None).await;
        assert_eq!(
            (status, json["field"].as_str()),
            (400, Some(field)),
            "{path}: {json}"
        );
    }
    let (status, _) = call(addr, "GET", "/api/v1/ledger/gas?month=2026-12", None).await;
    assert_eq!(status, 404, "an unknown unit");
    running.stop().await;
}

/// The document names every route of the router and no other, with the same methods, and
/// asks for the token exactly where the router does.
#[test]
fn the_openapi_document_and_the_router_agree() {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            documented.insert((method.to_ascii_uppercase(), path.clone(), secured));
            for code in operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
            {
                assert!(code.parse::<u16>().is_ok(), "{method} {path}: {code}");
            }
        }
    }
    let routed: BTreeSet<(String, String, bool)> = ROUTES
        .iter()
        .map(|&(m, p, auth)| (m.to_string(), p.to_string(), auth))
        .collect();
    assert_eq!(documented, routed);
    // Every schema the document refers to is in it.
    let text = OPENAPI.to_string();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(
            schemas.contains_key(&name),
            "{name} is referred to but not defined"
        );
    }
}

/// Every route of `ROUTES` is served by the router (not the fallback's 404).
#[tokio::test]
async fn every_listed_route_is_served() {
    let running = start_with(Arc::new(Lines::default())).await;
    let addr = running.addr;
    for &(method, path, _) in ROUTES {
        if path == "/api/v1/events" {
            continue; // a stream: read in its own test
        }
        let query = match path {
            "/api/v1/ledger/{unit}" | "/api/v1/ratings" => "?month=2026-12",
            "/api/v1/records" => "?date=2026-12-04",
            _ => "",
        };
        let body = match path {
            "/api/v1/calls/{id}/handoff" => Some(r#"{"action":"close","reason":"done"}"#),
            "/api/v1/seats/{seat}/state" => Some(r#"{"action":"login"}"#),
            "/api/v1/seats/{seat}/supervise" => Some(r#"{"supervisor":"1004","mode":"listen"}"#),
            SURVEYS_PATH => Some(r#"{"number":"13800000000","ticket":"T-9","unit":"u"}"#),
            _ => None,
        };
        // A survey's id is the in-memory one's; a call's, the one call it has.
        let path = concrete(path).replace("surveys/call-1", "surveys/s-1") + query;
        let (status, json) = call(addr, method, &path, body).await;
        assert!(
            (200..300).contains(&status) || json["error"] != "no such endpoint",
            "{method} {path}: {status} {json}"
        );
    }
    running.stop().await;
}

#[tokio::test]
async fn the_event_stream_starts_with_a_snapshot() {
    let running = start_with(Arc::new(Lines::default())).await;
    let addr = running.addr;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request(addr, "GET", "/api/v1/events", true, None).as_bytes())
        .await
        .expect("send");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: call_ended") {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("events within 10 s")
            .expect("read");
        assert!(n > 0, "stream closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let lower = seen.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/event-stream"), "{seen}");
    let snapshot = seen.find("event: snapshot").expect("a snapshot first");
    assert!(snapshot < seen.find("event: call_ended").expect("then the change"));
    assert!(seen.contains(r#"data: {"id":"call-1"}"#), "{seen}");
    drop(stream);
    running.stop().await;
}

/// The wallboard's cookie opens GET routes (its event stream) and nothing that changes a thing.
#[tokio::test]
async fn the_token_cookie_reads_but_never_writes() {
    let running = start_with(Arc::new(Lines::default())).await;
    let addr = running.addr;
    let cookie = format!("Cookie: theme=dark; hotline_token={TOKEN}\r\n");
    let with_cookie = |method: &str, path: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let (status, _, _) = raw(addr, &with_cookie("GET", "/api/v1/seats", "")).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, _, _) = raw(
        addr,
        &with_cookie("POST", "/api/v1/seats/1001/state", r#"{"action":"logout"}"#),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let wrong = with_cookie("GET", "/api/v1/seats", "").replace(TOKEN, "not-the-token-at-all");
    let (status, _, _) = raw(addr, &wrong).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    let (status, headers, body) = raw(addr, &request(addr, "GET", WALL_PATH, false, None)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/html; charset=utf-8"),
        "{headers}"
    );
    // Everything the page needs is in it: no address of any other server.
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    running.stop().await;
}
