//! The live API against a real daemon and real peers: a SIPp caller waiting in the queue is in
//! `/api/v1/queues` and `/api/v1/calls` and on the event stream, and its end too; a seat paused
//! and resumed through the API is so in the ACD and in the seat events; a hand-off set,
//! extended and closed through the API on a call a SIPp seat answered; the day's lines read
//! back from the records, and taken up again by a daemon started again that day.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use hotline::cli_client;
use hotline::queue::{PauseReason, SeatId, SeatState};

use crate::common::{self, eventually, TestDaemon};
use crate::peers::{caller_queue, seat_1001, AnswerMode, Hangup};

const TOKEN: &str = "live-api-test-token-0123456789";

async fn daemon() -> TestDaemon {
    common::start_with_api(TOKEN, ("major", "重大应急"), 300, 60).await
}

fn api(t: &TestDaemon) -> SocketAddr {
    t.daemon.api.expect("the API listens")
}

async fn get(t: &TestDaemon, path: &str) -> Value {
    let (status, body) = cli_client::request(api(t), TOKEN, "GET", path, None)
        .await
        .expect("the API answers");
    assert_eq!(
        status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("JSON")
}

async fn post(t: &TestDaemon, path: &str, body: &str) -> (u16, Value) {
    let (status, body) = cli_client::request(api(t), TOKEN, "POST", path, Some(body.as_bytes()))
        .await
        .expect("the API answers");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// `/api/v1/events` read as it comes.
struct Events {
    stream: TcpStream,
    seen: String,
}

impl Events {
    async fn open(t: &TestDaemon) -> Events {
        let api = api(t);
        let mut stream = TcpStream::connect(api).await.expect("connect");
        let request = format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Accept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        Events {
            stream,
            seen: String::new(),
        }
    }

    /// Reads until an event named `name` whose data holds `needle` has come; returns its data.
    async fn until(&mut self, name: &str, needle: &str) -> String {
        let mut buf = [0u8; 8192];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.seen.split("\n\n").find_map(|event| {
                let is = event.lines().any(|l| l == format!("event: {name}"));
                let data = event.lines().find_map(|l| l.strip_prefix("data: "))?;
                (is && data.contains(needle)).then(|| data.to_string())
            });
            if let Some(data) = found {
                // What was read up to this event is done with.
                if let Some(at) = self.seen.find(&data) {
                    self.seen.drain(..at + data.len());
                }
                return data;
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no {name} event with {needle:?}; saw:\n{}", self.seen))
                .expect("read");
            assert!(n > 0, "the stream closed; saw:\n{}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

#[tokio::test]
async fn a_waiting_caller_is_in_the_lists_and_on_the_event_stream() {
    let t = daemon().await;
    // A seat whose phone rings and is never picked up: the caller waits.
    let _seat = seat_1001(t.daemon.sip_udp, AnswerMode::NoAnswer, Hangup::OwnSide, 200).await;
    let mut events = Events::open(&t).await;
    let snapshot = events.until("snapshot", "seats").await;
    let snapshot: Value = serde_json::from_str(&snapshot).expect("JSON");
    assert_eq!(snapshot["calls"], Value::Array(Vec::new()), "{snapshot}");

    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("abandon_ms", "6000")
        .timeout(Duration::from_secs(30))
        .spawn()
        .expect("caller");
    let queue = events.until("queue", r#""position":1"#).await;
    let queue: Value = serde_json::from_str(&queue).expect("JSON");
    assert_eq!(queue["queue"], "q");
    assert_eq!(queue["waiting"][0]["caller"], "13800000000", "{queue}");
    let call = queue["waiting"][0]["call"]
        .as_str()
        .expect("a call id")
        .to_string();

    let queues = get(&t, "/api/v1/queues").await;
    assert_eq!(
        queues["items"][0]["waiting"][0]["call"],
        call.as_str(),
        "{queues}"
    );
    let lines = get(&t, "/api/v1/lines").await;
    let carrier = &lines["trunks"][0];
    assert_eq!(carrier["trunk"], "carrier", "{lines}");
    assert_eq!(
        (carrier["in_use"].as_u64(), carrier["peak_today"].as_u64()),
        (Some(1), Some(1)),
        "{lines}"
    );
    assert_eq!(carrier["busy_hour_calls"], 1, "{lines}");
    assert_eq!(lines["numbers"][0]["number"], "12350", "{lines}");
    let calls = get(&t, "/api/v1/calls").await;
    assert_eq!(calls["total"], 1, "{calls}");
    assert_eq!(calls["items"][0]["id"], call.as_str());
    assert_eq!(calls["items"][0]["queue"], "q");
    assert_eq!(calls["items"][0]["trunk"], "carrier");

    // The caller gives up: its line ends on the stream and the queue empties; the day lists
    // it among the abandoned calls (on the stream within its 10 s, and in /api/v1/today).
    events.until("call_ended", &call).await;
    let today = events.until("today", &call).await;
    let today: Value = serde_json::from_str(&today).expect("JSON");
    assert_eq!(
        (today["offered"].as_u64(), today["abandoned"].as_u64()),
        (Some(1), Some(1)),
        "{today}"
    );
    assert_eq!(
        today["abandoned_calls"][0]["caller"], "13800000000",
        "{today}"
    );
    assert_eq!(
        get(&t, "/api/v1/today").await["abandoned_calls"][0]["call"],
        call.as_str()
    );
    // The day's records have the call with its legs; the month's reports read the same store.
    let date = today["date"].as_str().expect("the local date").to_string();
    let records = get(&t, &format!("/api/v1/records?date={date}")).await;
    let record = &records["items"][0];
    assert_eq!(record["id"], call.as_str(), "{records}");
    assert_eq!(record["disposition"], "abandoned");
    assert_eq!(record["queue"], "q");
    assert_eq!(record["legs"][0]["role"], "caller", "{record}");
    let month = &date[..7];
    let ratings = get(&t, &format!("/api/v1/ratings?month={month}")).await;
    assert!(ratings.is_object(), "{ratings}");
    let (status, _) = cli_client::request(
        api(&t),
        TOKEN,
        "GET",
        &format!("/api/v1/ledger/no-such-unit?month={month}"),
        None,
    )
    .await
    .expect("the API answers");
    assert_eq!(status, 404, "a unit the ledger does not have");
    caller.wait().await.expect("the caller ran");
    assert!(
        eventually(Duration::from_secs(5), || async {
            get(&t, "/api/v1/queues").await["items"][0]["waiting"] == Value::Array(Vec::new())
        })
        .await
    );
    // The day's lines are kept: read back from the records, and taken up again by a daemon
    // started again that day.
    let day = get(&t, &format!("/api/v1/lines/{date}")).await;
    let carrier = &day["trunks"][0];
    assert_eq!(carrier["trunk"], "carrier", "{day}");
    assert_eq!(
        (carrier["calls"].as_u64(), carrier["peak"].as_u64()),
        (Some(1), Some(1)),
        "{day}"
    );
    assert_eq!(carrier["busy_hour_calls"], 1, "{day}");
    assert_eq!(day["numbers"][0]["number"], "12350", "{day}");
    let t = t.restart().await;
    let lines = get(&t, "/api/v1/lines").await;
    let carrier = &lines["trunks"][0];
    assert_eq!(
        (carrier["in_use"].as_u64(), carrier["peak_today"].as_u64()),
        (Some(0), Some(1)),
        "{lines}"
    );
    assert_eq!(carrier["busy_hour_calls"], 1, "{lines}");
    assert_eq!(carrier["peak_at"], day["trunks"][0]["peak_at"], "{lines}");
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_seat_paused_and_resumed_through_the_api() {
    let t = daemon().await;
    let _seat = seat_1001(t.daemon.sip_udp, AnswerMode::Answer, Hangup::OwnSide, 200).await;
    let (status, seat) = post(
        &t,
        "/api/v1/seats/1001/state",
        r#"{"action":"pause","reason":"lunch"}"#,
    )
    .await;
    assert_eq!(status, 200, "{seat}");
    assert_eq!(
        (seat["state"].as_str(), seat["reason"].as_str()),
        (Some("paused"), Some("lunch"))
    );
    let acd = t.daemon.acd().snapshot().await.expect("snapshot");
    let now = acd
        .seats
        .iter()
        .find(|s| s.seat == SeatId::from("1001"))
        .expect("1001");
    assert_eq!(
        now.state,
        SeatState::Paused {
            reason: PauseReason::Code("lunch".into())
        }
    );

    let seats = get(&t, "/api/v1/seats").await;
    let listed = seats["items"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["seat"] == "1001"))
        .cloned()
        .expect("1001 listed");
    assert_eq!(listed["state"], "paused", "{seats}");

    let (status, seat) = post(&t, "/api/v1/seats/1001/state", r#"{"action":"resume"}"#).await;
    assert_eq!(
        (status, seat["state"].as_str()),
        (200, Some("available")),
        "{seat}"
    );
    let (status, refused) = post(&t, "/api/v1/seats/9999/state", r#"{"action":"login"}"#).await;
    assert_eq!(status, 404, "{refused}");

    t.daemon.flush_records().await.expect("flush");
    let events = t.daemon.store().seat_events().await.expect("seat events");
    assert!(
        events
            .iter()
            .any(|e| e.seat == "1001" && e.to == "paused" && e.reason.as_deref() == Some("lunch")),
        "{events:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_handoff_set_extended_and_closed_through_the_api() {
    let t = daemon().await;
    let _seat = seat_1001(t.daemon.sip_udp, AnswerMode::Answer, Hangup::OtherSide, 200).await;
    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("hold_ms", "8000")
        .timeout(Duration::from_secs(30))
        .spawn()
        .expect("caller");
    let connected = || async {
        let calls = get(&t, "/api/v1/calls").await;
        let item = &calls["items"][0];
        (item["seat"] == "1001" && item["state"] == "connected")
            .then(|| item["id"].as_str().map(str::to_string))
            .flatten()
    };
    assert!(
        eventually(Duration::from_secs(10), || async {
            connected().await.is_some()
        })
        .await,
        "the seat never answered"
    );
    let call = connected().await.expect("a call id");
    let path = format!("/api/v1/calls/{call}/handoff");
    let (status, refused) = post(&t, &path, r#"{"action":"set","category":"minor"}"#).await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (400, Some("category")),
        "{refused}"
    );
    let (status, _) = post(&t, &path, r#"{"action":"set","category":"major"}"#).await;
    assert_eq!(status, 204);
    let handoffs = async || get(&t, "/api/v1/handoffs").await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            handoffs().await["total"] == 1
        })
        .await
    );
    let open = handoffs().await;
    let open = &open["items"][0];
    assert_eq!(open["call"], call.as_str());
    assert_eq!(open["category"], "major");
    let left = open["seconds_left"].as_i64().expect("seconds left");
    assert!((280..=300).contains(&left), "{open}");
    assert_eq!(
        get(&t, "/api/v1/calls").await["items"][0]["handoff"]["category"],
        "major"
    );
    let (status, _) = post(&t, &path, r#"{"action":"set","category":"major"}"#).await;
    assert_eq!(status, 409, "a second set is a conflict");

    let (status, _) = post(&t, &path, r#"{"action":"extend","reason":"unit-asked"}"#).await;
    assert_eq!(status, 204);
    assert!(
        eventually(Duration::from_secs(5), || async {
            handoffs().await["items"][0]["limit_secs"] == 600
        })
        .await
    );
    let (status, _) = post(&t, &path, r#"{"action":"close","reason":"not-needed"}"#).await;
    assert_eq!(status, 204);
    assert!(
        eventually(Duration::from_secs(5), || async {
            handoffs().await["total"] == 0
        })
        .await
    );
    caller.wait().await.expect("the caller ran");
    t.daemon.shutdown().await.expect("shutdown");
}
