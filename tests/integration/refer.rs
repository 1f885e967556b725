//! The phone's own transfer button: a REFER from the seat's phone in a queued call. A target
//! the dialplan does not allow gets 403 and a security event, and the call goes on.

use std::time::Duration;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{
    caller_hangs_up_then, caller_queue, caller_queue_probe, free_udp_port, seat_agent,
    spawn_registered, unit_answer, AnswerMode, Audio, Hangup, RtpProbe, SippProcess, UnitAnswer,
};

const LOGIN: Duration = Duration::from_secs(20);

fn no_ratings() -> Options {
    Options {
        extra_config: "[ratings]\nenabled = false\n".to_string(),
        ..Options::default()
    }
}

/// No ratings, and unit 2001 whose duty line is `sip:duty@127.0.0.1:<unit_port>`.
fn with_unit(unit_port: u16) -> Options {
    Options {
        extra_routes: format!(
            "[[units]]\nid = \"2001\"\nname = \"区住房和城乡建设局\"\nlevel = 2\n\
             contacts = {{ duty = \"sip:duty@127.0.0.1:{unit_port}\" }}\nhunt = {{ attempts = 1 }}\n"
        ),
        ..no_ratings()
    }
}

/// Seat 1001 logged in, answering with seat_refer_incoming.xml: REFER to `refer_to`.
async fn referring_seat(t: &TestDaemon, refer_to: &str, expect: &str) -> SippProcess {
    let sipp = seat_agent(
        t.daemon.sip_udp,
        "1001",
        "seat1001-secret",
        1,
        AnswerMode::Answer,
        Hangup::OwnSide,
    )
    .out_of_call("seat_refer_incoming.xml")
    .set("refer_to", refer_to)
    .set("refer_expect", expect)
    .set("refer_ms", "1000")
    .set("wait_ms", "40000")
    .timeout(Duration::from_secs(50));
    spawn_registered(sipp, t.daemon.sip_udp, "1001", "seat1001-secret", LOGIN)
        .await
        .expect("seat logs in")
}

async fn call_events(t: &TestDaemon, caller: &str) -> Vec<(String, Option<String>)> {
    t.daemon.flush_records().await.expect("flush");
    let id = t
        .daemon
        .board()
        .snapshot()
        .into_iter()
        .find(|l| l.caller == caller)
        .map(|l| l.id);
    let id = match id {
        Some(id) => id,
        None => match t
            .daemon
            .store()
            .calls()
            .await
            .expect("calls")
            .into_iter()
            .find(|c| c.caller == caller)
        {
            Some(call) => call.id,
            None => return Vec::new(),
        },
    };
    t.daemon
        .store()
        .call_events(&id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .collect()
}

/// After a transfer: the caller hears the unit's 1 kHz and the unit the caller's 440 Hz.
async fn caller_and_unit_hear_each_other(caller: &RtpProbe, unit: &RtpProbe, limit: Duration) {
    for probe in [caller, unit] {
        probe.reset().await;
        probe.wait_for_audio(60, limit).await;
    }
    let heard = caller.tone(1000.0).await;
    assert!(
        heard.heard(),
        "the caller does not hear the unit: {heard:?}"
    );
    let heard = unit.tone(440.0).await;
    assert!(
        heard.heard(),
        "the unit does not hear the caller: {heard:?}"
    );
}

#[tokio::test]
async fn a_refer_to_a_number_the_dialplan_does_not_allow_is_refused() {
    let t = common::start(no_ratings()).await;
    let mut seat = referring_seat(&t, "0085299998888", "refused").await;
    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("caller", "13900000041")
        .set("hangup", "daemon")
        .timeout(Duration::from_secs(40))
        .spawn()
        .expect("caller");
    assert!(
        seat.wait_log("refer refused", Duration::from_secs(30))
            .await,
        "the seat's REFER was not refused:\n{}\n{}",
        seat.log_so_far(),
        seat.messages_so_far()
    );
    let logged = eventually(Duration::from_secs(10), || async {
        call_events(&t, "13900000041")
            .await
            .iter()
            .any(|(kind, _)| kind == "refer_refused")
    })
    .await;
    assert!(
        logged,
        "no refer_refused event: {:?}",
        call_events(&t, "13900000041").await
    );
    // The seat hangs up after the 403; the caller gets the daemon's BYE, nothing was dialled.
    let run = caller.wait().await.expect("caller ends");
    assert!(run.success(), "{run}");
    let events = call_events(&t, "13900000041").await;
    assert!(
        !events.iter().any(|(kind, _)| kind == "blind_transfer"),
        "{events:?}"
    );
    let metrics = crate::metrics_scrape::scrape(t.daemon.metrics).await;
    assert!(
        metrics.contains("hotline_security_events_total{kind=\"refer_refused\"}"),
        "no security event in the metrics"
    );
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_blind_refer_hands_the_caller_to_the_unit_and_reports_progress() {
    let limit = Duration::from_secs(20);
    let unit_port = free_udp_port().expect("a port for the unit");
    let unit_probe = RtpProbe::sending(Audio::tone(1000.0)).expect("unit probe");
    let mut unit = unit_answer(UnitAnswer::Answer, &unit_probe, Duration::from_secs(60))
        .port(unit_port)
        .spawn()
        .expect("unit");
    let t = common::start(with_unit(unit_port)).await;
    let mut seat = referring_seat(&t, "2001", "accepted").await;
    let caller_probe = RtpProbe::sending(Audio::tone(440.0)).expect("caller probe");
    let mut caller = caller_queue_probe(t.daemon.sip_udp, "12350", &caller_probe)
        .set("caller", "13900000042")
        .set("hangup", "poke")
        .timeout(Duration::from_secs(60))
        .spawn()
        .expect("caller");
    assert!(
        seat.wait_log("refer accepted", limit + limit).await,
        "no 202:\n{}",
        seat.log_so_far()
    );
    assert!(
        unit.wait_log("unit answered", limit).await,
        "the unit was not called:\n{}",
        unit.log_so_far()
    );
    // NOTIFY 100 then 200, then the daemon hangs up the seat.
    assert!(
        seat.wait_log("agent ended", limit).await,
        "the seat was not released:\n{}",
        seat.log_so_far()
    );
    let log = seat.log_so_far();
    let trying = log.find("frag=SIP/2.0 100");
    let ok = log.find("frag=SIP/2.0 200");
    assert!(
        matches!((trying, ok), (Some(a), Some(b)) if a < b),
        "NOTIFYs out of order or missing:\n{log}"
    );
    // Caller and unit hear each other.
    caller_and_unit_hear_each_other(&caller_probe, &unit_probe, limit).await;
    let events = call_events(&t, "13900000042").await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["blind_transfer", "transfer"], "{events:?}");

    caller_hangs_up_then(
        &mut caller,
        &[&caller_probe, &unit_probe],
        &mut unit,
        "unit bye_from_daemon",
        limit,
    )
    .await;
    t.daemon.shutdown().await.expect("shutdown");
}

/// Attended transfer from the phone's own buttons (RFC 5589): the seat's phone holds the
/// caller, calls the unit itself through the daemon, then REFERs the caller with Replaces
/// naming that call. The daemon splices the two calls: caller and unit talk, both of the
/// seat's calls are hung up, and when the caller hangs up the unit is hung up too.
#[tokio::test]
async fn an_attended_refer_with_replaces_joins_the_caller_to_the_unit_the_phone_called() {
    use crate::peers::{feature_call, Sipp};
    let limit = Duration::from_secs(20);
    let unit_port = free_udp_port().expect("a port for the unit");
    let unit_probe = RtpProbe::sending(Audio::tone(1000.0)).expect("unit probe");
    let mut unit = unit_answer(UnitAnswer::Answer, &unit_probe, Duration::from_secs(60))
        .port(unit_port)
        .spawn()
        .expect("unit");
    let t = common::start(with_unit(unit_port)).await;
    let daemon = t.daemon.sip_udp;
    let password = "seat1001-secret";
    let seat_port = free_udp_port().expect("a port for the seat");
    let registered = Sipp::new("seat_register.xml")
        .remote(daemon)
        .port(seat_port)
        .service("1001")
        .password(password)
        .timeout(limit)
        .run()
        .await
        .expect("register");
    assert!(registered.success(), "{registered}");
    let login = feature_call(daemon, "1001", password, "*71")
        .port(seat_port)
        .timeout(limit)
        .run()
        .await
        .expect("login");
    assert!(login.success(), "{login}");
    let mut seat = Sipp::new("seat_attended.xml")
        .remote(daemon)
        .port(seat_port)
        .service("2001")
        .set("user", "1001")
        .auth_user("1001")
        .password(password)
        .auth_uri(&format!("2001@{daemon}"))
        .out_of_call("seat_attended_incoming.xml")
        .arg("-cid_str")
        .arg("%u-%p-seat")
        .timeout(Duration::from_secs(60))
        .spawn()
        .expect("seat");
    let caller_probe = RtpProbe::sending(Audio::tone(440.0)).expect("caller probe");
    let mut caller = caller_queue_probe(daemon, "12350", &caller_probe)
        .set("caller", "13900000071")
        .set("hangup", "poke")
        .timeout(Duration::from_secs(60))
        .spawn()
        .expect("caller");
    assert!(
        seat.wait_log("seat b_up", limit + limit).await,
        "the phone's own call to the unit did not come up:\n{}\n{}",
        seat.log_so_far(),
        seat.messages_so_far()
    );
    assert!(
        seat.wait_log("refer accepted", limit).await,
        "no 202:\n{}\n{}",
        seat.log_so_far(),
        seat.messages_so_far()
    );
    for needle in ["seat b_released", "agent ended"] {
        assert!(
            seat.wait_log(needle, limit).await,
            "{needle}:\n{}",
            seat.log_so_far()
        );
    }
    assert!(
        seat.log_so_far().contains("frag=SIP/2.0 200"),
        "{}",
        seat.log_so_far()
    );
    caller_and_unit_hear_each_other(&caller_probe, &unit_probe, limit).await;
    let events = call_events(&t, "13900000071").await;
    assert!(
        events.iter().any(|(kind, _)| kind == "attended_transfer"),
        "{events:?}"
    );
    caller_hangs_up_then(
        &mut caller,
        &[&caller_probe, &unit_probe],
        &mut unit,
        "unit bye_from_daemon",
        limit,
    )
    .await;
    let run = seat.wait().await.expect("seat ends");
    assert!(run.success(), "{run}");
    t.daemon.shutdown().await.expect("shutdown");
}
