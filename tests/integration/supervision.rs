//! Supervision against real peers: the consultation scene (a SIPp caller whose probe sends
//! 440 Hz, seat 1001 a SIPp agent at 700 Hz) and supervisor 1004 on a SIPp phone of its own
//! whose probe sends 1.6 kHz. In listen the supervisor hears caller and seat and nobody hears
//! it; the keys 5, 6 and 4 switch to whisper (only the seat hears it), barge (all hear all)
//! and back; in take-over the seat gets BYE and caller and supervisor talk, and the call's
//! record names the supervisor. A seat that is no supervisor gets 403 and a security event;
//! a seat not in a call gets the prompt. Every session is in the call's events. A take-over
//! works alike on a call that rang the seat from its route, with no queue.

use std::time::Duration;

use hotline::call::board::LineState;
use hotline::queue::SeatState;
use hotline::store::CallEventRecord;

use crate::common::{eventually, TestDaemon, SUPERVISOR};
use crate::consult::{hears, listen, scene_with, CALLER_HZ, LIMIT, SEAT_HZ};
use crate::peers::{
    poke, seat_agent_probe, spawn_registered, supervisor_call, Audio, RtpProbe, SippProcess,
    UnitAnswer,
};
use crate::raw_caller::RawCaller;

const SUPERVISOR_HZ: f64 = 1600.0;
const PEER_TIMEOUT: Duration = Duration::from_secs(90);

/// Supervisor 1004 dials `code` with a probe sending 1.6 kHz; returns once answered.
async fn supervisor(t: &TestDaemon, code: &str) -> (SippProcess, RtpProbe) {
    let probe = RtpProbe::sending(Audio::tone(SUPERVISOR_HZ)).expect("supervisor probe");
    let mut phone = supervisor_call(
        t.daemon.sip_udp,
        SUPERVISOR,
        &format!("seat{SUPERVISOR}-secret"),
        code,
        &probe,
    )
    .timeout(PEER_TIMEOUT)
    .spawn()
    .expect("start the supervisor");
    assert!(
        phone.wait_log("supervisor answered", LIMIT).await,
        "{}",
        phone.log_so_far()
    );
    (phone, probe)
}

/// After a take-over: the seat got BYE; caller and supervisor hear each other, and nobody
/// hears the seat.
async fn taken_over(seat: &mut SippProcess, caller: &RtpProbe, supervisor: &RtpProbe) {
    assert!(
        seat.wait_log("agent ended", LIMIT).await,
        "the seat got no BYE: {}",
        seat.log_so_far()
    );
    listen(&[("caller", caller), ("supervisor", supervisor)]).await;
    hears("caller", caller, &[SUPERVISOR_HZ], &[SEAT_HZ]).await;
    hears(
        "supervisor",
        supervisor,
        &[CALLER_HZ],
        &[SEAT_HZ, SUPERVISOR_HZ],
    )
    .await;
}

async fn events(t: &TestDaemon, call: &str) -> Vec<CallEventRecord> {
    t.daemon.flush_records().await.expect("flush");
    t.daemon.store().call_events(call).await.expect("events")
}

fn supervision(events: &[CallEventRecord]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.kind.starts_with("supervision"))
        .map(|e| (e.kind.clone(), e.detail.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn listen_whisper_barge_switch_by_key_and_each_hears_whom_the_mode_says() {
    let s = scene_with(UnitAnswer::Answer, Audio::tone(SEAT_HZ), "").await;
    let call = s.call_id();
    let (mut phone, probe) = supervisor(&s.t, "*511001").await;
    let all = [
        ("caller", &s.caller_probe),
        ("seat", &s.seat_probe),
        ("supervisor", &probe),
    ];

    // Listen: the supervisor hears both, nobody hears the supervisor.
    listen(&all).await;
    hears(
        "supervisor",
        &probe,
        &[CALLER_HZ, SEAT_HZ],
        &[SUPERVISOR_HZ],
    )
    .await;
    hears("caller", &s.caller_probe, &[SEAT_HZ], &[SUPERVISOR_HZ]).await;
    hears("seat", &s.seat_probe, &[CALLER_HZ], &[SUPERVISOR_HZ]).await;

    // Whisper: the seat hears the supervisor, the caller does not.
    probe.send_keys("5", LIMIT).await.expect("key 5");
    listen(&all).await;
    hears("seat", &s.seat_probe, &[CALLER_HZ, SUPERVISOR_HZ], &[]).await;
    hears("caller", &s.caller_probe, &[SEAT_HZ], &[SUPERVISOR_HZ]).await;
    hears(
        "supervisor",
        &probe,
        &[CALLER_HZ, SEAT_HZ],
        &[SUPERVISOR_HZ],
    )
    .await;

    // Barge: all hear all.
    probe.send_keys("6", LIMIT).await.expect("key 6");
    listen(&all).await;
    hears(
        "caller",
        &s.caller_probe,
        &[SEAT_HZ, SUPERVISOR_HZ],
        &[CALLER_HZ],
    )
    .await;
    hears(
        "seat",
        &s.seat_probe,
        &[CALLER_HZ, SUPERVISOR_HZ],
        &[SEAT_HZ],
    )
    .await;
    hears(
        "supervisor",
        &probe,
        &[CALLER_HZ, SEAT_HZ],
        &[SUPERVISOR_HZ],
    )
    .await;

    // Back to listen.
    probe.send_keys("4", LIMIT).await.expect("key 4");
    listen(&all).await;
    hears("caller", &s.caller_probe, &[SEAT_HZ], &[SUPERVISOR_HZ]).await;
    hears("seat", &s.seat_probe, &[CALLER_HZ], &[SUPERVISOR_HZ]).await;
    // Nobody got the supervisor's keys.
    for (who, p) in [("caller", &s.caller_probe), ("seat", &s.seat_probe)] {
        assert_eq!(
            p.stats().await.keys(),
            "",
            "the {who} got the supervisor's keys"
        );
    }

    // The supervisor hangs up; caller and seat talk on.
    poke(&mut phone, "supervisor", LIMIT)
        .await
        .expect("the supervisor hangs up");
    let run = phone.wait().await.expect("the supervisor ends");
    assert!(run.success(), "{run}");
    s.line(LineState::Connected).await;
    let t = s.end_without_unit().await;
    let kinds = supervision(&events(&t, &call).await);
    let expected: Vec<(String, String)> = [
        ("supervision_started", "1004 1001 listen"),
        ("supervision_mode", "whisper"),
        ("supervision_mode", "barge"),
        ("supervision_mode", "listen"),
        ("supervision_ended", "1004"),
    ]
    .iter()
    .map(|(k, d)| (k.to_string(), d.to_string()))
    .collect();
    assert_eq!(kinds, expected);
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn take_over_releases_the_seat_and_the_call_follows_the_supervisor() {
    let mut s = scene_with(UnitAnswer::Answer, Audio::tone(SEAT_HZ), "").await;
    let call = s.call_id();
    let (mut phone, probe) = supervisor(&s.t, "*541001").await;
    taken_over(&mut s.seat, &s.caller_probe, &probe).await;
    // The seat is free of the call: wrap-up, then available again.
    let acd = s.t.daemon.acd().clone();
    let freed = eventually(LIMIT, || async {
        acd.snapshot().await.is_some_and(|snapshot| {
            snapshot.seats.iter().any(|seat| {
                seat.seat.as_str() == "1001" && !matches!(seat.state, SeatState::OnCall { .. })
            })
        })
    })
    .await;
    assert!(
        freed,
        "seat 1001 still on the call: {:?}",
        acd.snapshot().await
    );

    // The caller hangs up: the supervisor gets BYE; the record is the supervisor's.
    let t = s.end_without_unit().await;
    assert!(
        phone.wait_log("supervisor bye_from_daemon", LIMIT).await,
        "{}",
        phone.log_so_far()
    );
    let kinds: Vec<String> = supervision(&events(&t, &call).await)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        kinds,
        [
            "supervision_started",
            "supervision_take_over",
            "supervision_ended"
        ]
    );
    let calls = t.daemon.store().calls().await.expect("calls");
    let record = calls
        .iter()
        .find(|c| c.id == call)
        .expect("the call's record");
    assert_eq!(record.seat.as_deref(), Some(SUPERVISOR), "{record:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// A take-over of a call that rang the seat straight from its route (12346 rings 1001; no
/// queue): the seat gets BYE, caller and supervisor hear each other, and the record of the
/// call, which the ring route keeps, names the supervisor.
#[tokio::test]
async fn take_over_of_a_ring_routes_call_names_the_supervisor_in_its_record() {
    let t = crate::common::start(crate::common::Options::default()).await;
    let password = "seat1001-secret";
    let seat_probe = RtpProbe::sending(Audio::tone(SEAT_HZ)).expect("seat probe");
    let agent = seat_agent_probe(t.daemon.sip_udp, "1001", password, &seat_probe)
        .set("ring_ms", "200")
        .set("wait_ms", "80000")
        .timeout(PEER_TIMEOUT);
    let mut seat = spawn_registered(agent, t.daemon.sip_udp, "1001", password, LIMIT)
        .await
        .expect("the seat logs in");
    // Nothing plays to a caller whose call rings a seat: its probe sends first, to the
    // daemon's port in the answer, and the seat's probe answers where the audio comes from.
    let caller_probe = RtpProbe::sending(Audio::tone(CALLER_HZ)).expect("caller probe");
    let mut caller = RawCaller::call(
        t.daemon.sip_udp,
        "12346",
        "13800000041",
        caller_probe.port(),
    )
    .await;
    caller_probe.aim(caller.daemon_media());
    listen(&[("caller", &caller_probe), ("seat", &seat_probe)]).await;
    hears("caller", &caller_probe, &[SEAT_HZ], &[]).await;
    let lines = t.daemon.board().snapshot();
    assert!(
        lines.len() == 1 && lines[0].queue.is_none(),
        "one call, not queued: {lines:?}"
    );
    let call = lines[0].id.clone();

    let (mut phone, probe) = supervisor(&t, "*541001").await;
    taken_over(&mut seat, &caller_probe, &probe).await;

    // The caller hangs up: the supervisor gets BYE, and the record is the supervisor's.
    for probe in [&caller_probe, &seat_probe, &probe] {
        probe.set_audio(None);
    }
    caller.hang_up().await;
    assert!(
        phone.wait_log("supervisor bye_from_daemon", LIMIT).await,
        "{}",
        phone.log_so_far()
    );
    let seat = seat.wait().await.expect("the seat ends");
    assert!(seat.success(), "{seat}");
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let record = calls
        .iter()
        .find(|c| c.id == call)
        .unwrap_or_else(|| panic!("no record of {call}: {calls:?}"));
    assert_eq!(record.seat.as_deref(), Some(SUPERVISOR), "{record:?}");
    assert!(record.queue.is_none(), "not a queued call: {record:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_seat_that_is_no_supervisor_gets_403_and_a_seat_not_in_a_call_a_prompt() {
    let t = crate::common::start(crate::common::Options::default()).await;
    let probe = RtpProbe::sending(Audio::tone(SUPERVISOR_HZ)).expect("probe");
    let refused = supervisor_call(
        t.daemon.sip_udp,
        "1002",
        "seat1002-secret",
        "*511001",
        &probe,
    )
    .timeout(LIMIT)
    .run()
    .await
    .expect("run the phone");
    assert!(
        refused.log.contains("supervisor refused status=403"),
        "{refused}"
    );
    let metrics = crate::metrics_scrape::scrape(t.daemon.metrics).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hotline_security_events_total{kind=\"supervision_refused\"}")),
        "{metrics}"
    );

    // Seat 1003 is in no call: the supervisor hears why, then the daemon hangs up.
    let listened = RtpProbe::start().expect("probe");
    let run = supervisor_call(
        t.daemon.sip_udp,
        SUPERVISOR,
        &format!("seat{SUPERVISOR}-secret"),
        "*511003",
        &listened,
    )
    .timeout(LIMIT)
    .run()
    .await
    .expect("run the phone");
    assert!(run.log.contains("supervisor bye_from_daemon"), "{run}");
    let heard = listened.stats().await;
    assert!(
        heard.audio_packets > 100 && heard.rms > 300.0,
        "the prompt (3 s) was heard: {heard:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}

/// After a take-over the supervisor hanging up first is the seat hanging up first: the caller
/// is asked for a rating, and the rating (here given up: the caller hangs up) names the
/// supervisor.
#[tokio::test]
async fn after_a_take_over_the_supervisor_hanging_up_sends_the_caller_to_rating() {
    let mut s = scene_with(UnitAnswer::Answer, Audio::tone(SEAT_HZ), "").await;
    let call = s.call_id();
    let (mut phone, _probe) = supervisor(&s.t, "*541001").await;
    assert!(
        s.seat.wait_log("agent ended", LIMIT).await,
        "{}",
        s.seat.log_so_far()
    );
    poke(&mut phone, "supervisor", LIMIT)
        .await
        .expect("the supervisor hangs up");
    s.line(LineState::Rating).await;
    // The caller hangs up during the question.
    let t = s.end_without_unit().await;
    t.daemon.flush_records().await.expect("flush");
    let ratings = t.daemon.store().ratings().await.expect("ratings");
    let rating = ratings
        .iter()
        .find(|r| r.call_id == call)
        .unwrap_or_else(|| panic!("no rating of {call}: {ratings:?}"));
    assert_eq!(rating.seat.as_deref(), Some(SUPERVISOR), "{rating:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// With `wait_secs`, a session on a seat in no call waits for the seat's next call and joins
/// it: the supervisor, answered at once, hears nothing, then the caller and the seat.
#[tokio::test]
async fn a_session_waits_for_the_seats_next_call_and_joins_it() {
    let t = crate::common::start(crate::common::Options {
        extra_config: "[supervision]\nwait_secs = 60\n".into(),
        ..crate::common::Options::default()
    })
    .await;
    let (mut phone, probe) = supervisor(&t, "*511001").await;
    let (seat, seat_probe, mut caller, caller_probe) =
        crate::consult::seat_answers_a_caller(&t, Audio::tone(SEAT_HZ), &[("hangup", "poke")])
            .await;
    listen(&[("supervisor", &probe)]).await;
    hears(
        "supervisor",
        &probe,
        &[CALLER_HZ, SEAT_HZ],
        &[SUPERVISOR_HZ],
    )
    .await;
    hears("caller", &caller_probe, &[SEAT_HZ], &[SUPERVISOR_HZ]).await;
    for p in [&caller_probe, &seat_probe, &probe] {
        p.set_audio(None);
    }
    crate::peers::poke_hangup(&mut caller, LIMIT)
        .await
        .expect("the caller hangs up");
    assert!(
        phone.wait_log("supervisor bye_from_daemon", LIMIT).await,
        "{}",
        phone.log_so_far()
    );
    for (who, process) in [("caller", caller), ("seat", seat), ("supervisor", phone)] {
        let run = process.wait().await.expect("peer ends");
        assert!(run.success(), "{who}: {run}");
    }
    t.daemon.shutdown().await.expect("shutdown");
}

/// `POST /api/v1/seats/{seat}/supervise`: the daemon rings the supervisor's registered phone
/// (a SIPp phone that answers) and, once answered, joins the seat's call; the session is in
/// the call's events. A seat in no call is 409, a supervisor that is none 403.
#[tokio::test]
async fn the_api_rings_the_supervisors_phone_and_joins_the_seats_call() {
    const TOKEN: &str = "supervision-test-token-0123456789";
    let api = format!("[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n");
    let s = scene_with(UnitAnswer::Answer, Audio::tone(SEAT_HZ), &api).await;
    let call = s.call_id();
    let addr = s.t.daemon.api.expect("the API listens");
    let post = |path: String, body: &'static str| async move {
        let (status, body) =
            hotline::cli_client::request(addr, TOKEN, "POST", &path, Some(body.as_bytes()))
                .await
                .expect("the API answers");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        (status, json)
    };
    let listen_body = r#"{"supervisor":"1004","mode":"listen"}"#;
    // Not registered yet: 409.
    let (status, json) = post("/api/v1/seats/1001/supervise".into(), listen_body).await;
    assert_eq!(status, 409, "{json}");

    let phone = crate::peers::Sipp::new("seat_answer.xml")
        .out_of_call("seat_incoming.xml")
        .remote(s.t.daemon.sip_udp)
        .service(SUPERVISOR)
        .password(&format!("seat{SUPERVISOR}-secret"))
        .set("seat_mode", "answer")
        .set("ring_ms", "200")
        .set("audio", "none")
        .set("wait_ms", "60000")
        .timeout(PEER_TIMEOUT)
        .spawn()
        .expect("start the supervisor's phone");
    // Until the phone has registered, 409.
    let deadline = tokio::time::Instant::now() + LIMIT;
    let started = loop {
        let (status, json) = post("/api/v1/seats/1001/supervise".into(), listen_body).await;
        if status == 202 {
            break json;
        }
        assert!(
            status == 409 && tokio::time::Instant::now() < deadline,
            "{status} {json}\n{}",
            phone.log_so_far()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    assert_eq!(started["call"], call.as_str(), "{started}");
    let joined = eventually(LIMIT, || async {
        supervision(&events(&s.t, &call).await)
            .iter()
            .any(|(kind, detail)| kind == "supervision_started" && detail == "1004 1001 listen")
    })
    .await;
    assert!(joined, "no session: {}", phone.log_so_far());

    let (status, _) = post("/api/v1/seats/1003/supervise".into(), listen_body).await;
    assert_eq!(status, 409, "seat 1003 is in no call");
    let (status, _) = post(
        "/api/v1/seats/1001/supervise".into(),
        r#"{"supervisor":"1002","mode":"barge"}"#,
    )
    .await;
    assert_eq!(status, 403, "1002 is no supervisor");

    let t = s.end_without_unit().await;
    let run = phone.wait().await.expect("the phone ends");
    assert!(run.success(), "the supervisor's phone got its BYE: {run}");
    t.daemon.shutdown().await.expect("shutdown");
}
