//! Trunk calls through the daemon to SIPp seats: every way a call can end, checked at the
//! peers and in the daemon's own counts and records.

use std::time::Duration;

use hotline::store::Disposition;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{RtpProbe, Sipp, SippProcess, SippRun};
use crate::raw_caller::RawCaller;

const LIMIT: Duration = Duration::from_secs(40);

/// A SIPp seat phone that registers with digest auth and then handles one call as `mode` says.
async fn seat(t: &TestDaemon, user: &str, password: &str, mode: &str) -> SippProcess {
    let seat = Sipp::new("seat_answer.xml")
        .out_of_call("seat_incoming.xml")
        .remote(t.daemon.sip_udp)
        .service(user)
        .password(password)
        .set("seat_mode", mode)
        .set("ring_ms", "300")
        .set("talk_ms", "3000")
        .set("wait_ms", "30000")
        .timeout(LIMIT)
        .spawn()
        .expect("start the seat");
    let registered = eventually(Duration::from_secs(10), || async {
        t.daemon
            .snapshot()
            .await
            .registrations
            .iter()
            .any(|(u, _)| u == user)
    })
    .await;
    assert!(registered, "seat {user} never registered");
    seat
}

fn trunk(t: &TestDaemon, scenario: &str, number: &str) -> Sipp {
    Sipp::new(scenario)
        .remote(t.daemon.sip_udp)
        .service(number)
        .timeout(LIMIT)
}

/// Nothing of the call is left: no call task, dialog, RTP port or line.
async fn assert_clean(t: &TestDaemon) {
    let clean = eventually(Duration::from_secs(10), || async {
        let s = t.daemon.snapshot().await;
        s.calls == 0
            && s.dialogs == 0
            && t.daemon.rtp_ports_in_use() == 0
            && t.daemon.board().is_empty()
    })
    .await;
    let s = t.daemon.snapshot().await;
    assert!(
        clean,
        "left behind: {s:?}, rtp ports {}, lines {:?}",
        t.daemon.rtp_ports_in_use(),
        t.daemon.board().snapshot()
    );
}

async fn only_record(t: &TestDaemon) -> hotline::store::CallRecord {
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("read calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls.into_iter().next().expect("one call")
}

fn ok(run: &SippRun) {
    assert!(run.success(), "{run}");
}

#[tokio::test]
async fn answered_call_relays_rtp_both_ways_and_is_recorded() {
    let t = common::start(Options::default()).await;
    let seat = seat(&t, "1001", "seat1001-secret", "answer").await;
    let caller = trunk(&t, "trunk_call.xml", "12345")
        .set("hold_ms", "4000")
        .spawn()
        .expect("trunk");

    // While the call is up, the daemon's own view shows RTP in both directions on both legs.
    let flowing = eventually(Duration::from_secs(15), || async {
        t.daemon.board().snapshot().iter().any(|line| {
            let m = line.media;
            line.seat.as_deref() == Some("1001")
                && m.a.rx_packets > 10
                && m.a.tx_packets > 10
                && m.b.rx_packets > 10
                && m.b.tx_packets > 10
        })
    })
    .await;
    assert!(
        flowing,
        "RTP not relayed both ways: {:?}",
        t.daemon.board().snapshot()
    );

    let caller = caller.wait().await.expect("trunk ends");
    let seat = seat.wait().await.expect("seat ends");
    ok(&caller);
    ok(&seat);
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::Answered);
    assert_eq!(record.seat.as_deref(), Some("1001"));
    assert_eq!(record.ended_by.as_deref(), Some("caller"));
    assert_eq!(record.caller, "13800000000");
    assert_eq!(record.called, "12345");
    assert_eq!(record.trunk, "carrier");
    assert!(record.answered_at.is_some());
    t.daemon.shutdown().await.expect("shutdown");
}

/// A flood of SIP for as long as a call is up (OPTIONS from one socket in bursts of 2,000 every
/// 20 ms, at most 300,000): the call in progress loses nothing. The seat answers, RTP flows, the
/// caller's BYE ends it, both peers end well, the record is whole, and the daemon answers again
/// once the flood is over. (What the daemon sheds is counted in
/// hotline_sip_overload_dropped_total.)
#[tokio::test]
async fn a_sip_flood_loses_no_call_in_progress() {
    const BURST: u32 = 2_000;
    const FLOOD: u32 = 300_000;
    let t = common::start(Options::default()).await;
    let seat = seat(&t, "1001", "seat1001-secret", "answer").await;
    let caller = trunk(&t, "trunk_call.xml", "12345")
        .set("hold_ms", "4000")
        .spawn()
        .expect("trunk");
    let connected = eventually(Duration::from_secs(15), || async {
        t.daemon
            .board()
            .snapshot()
            .iter()
            .any(|line| line.seat.as_deref() == Some("1001") && line.media.b.rx_packets > 10)
    })
    .await;
    assert!(connected, "{:?}", t.daemon.board().snapshot());

    let flood = crate::raw::RawUdp::new(t.daemon.sip_udp).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let flooding = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut n = 0;
            while n < FLOOD && !stop.is_cancelled() {
                for _ in 0..BURST {
                    let _ = flood
                        .socket
                        .send_to(
                            crate::raw::options(flood.port(), n).as_bytes(),
                            flood.target,
                        )
                        .await;
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            n
        }
    });

    let caller = caller.wait().await.expect("trunk ends");
    stop.cancel();
    let sent = flooding.await.expect("flood ends");
    assert!(sent >= BURST, "flooded with {sent}");
    let seat = seat.wait().await.expect("seat ends");
    ok(&caller);
    ok(&seat);
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::Answered, "{record:?}");
    assert_eq!(record.ended_by.as_deref(), Some("caller"), "{record:?}");
    assert_eq!(record.seat.as_deref(), Some("1001"), "{record:?}");

    let after = crate::raw::RawUdp::new(t.daemon.sip_udp).await;
    let answer = after
        .request(crate::raw::options(after.port(), FLOOD).as_bytes())
        .await
        .expect("an answer after the flood");
    assert_eq!(crate::raw::status_of(&answer), 200, "{answer}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// With `sip.max_calls` calls up, a new call gets 503 with Retry-After at once, is recorded as
/// rejected with its cause, and is counted by reason; once a call ends, a new one is taken.
#[tokio::test]
async fn a_call_beyond_max_calls_gets_503_with_retry_after_and_the_next_one_is_taken() {
    let t = common::start(Options {
        sip_extra: "max_calls = 1\n".to_string(),
        ..Options::default()
    })
    .await;
    let probe = RtpProbe::start().expect("probe");
    // The queue answers at once: this call holds the one place.
    let mut first = RawCaller::call(t.daemon.sip_udp, "12350", "13800000001", probe.port()).await;

    let extra = crate::raw::RawUdp::new(t.daemon.sip_udp).await;
    let refused = extra
        .request(invite(&extra, "12350", "13800000002").as_bytes())
        .await
        .expect("an answer to the second call");
    assert_eq!(crate::raw::status_of(&refused), 503, "{refused}");
    assert!(
        refused
            .lines()
            .any(|l| l.eq_ignore_ascii_case("Retry-After: 5")),
        "{refused}"
    );

    first.hang_up().await;
    assert_clean(&t).await;
    let next = RawCaller::call(t.daemon.sip_udp, "12350", "13800000003", probe.port()).await;
    drop(next);

    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let rejected: Vec<_> = calls.iter().filter(|c| c.caller == "13800000002").collect();
    assert_eq!(rejected.len(), 1, "{calls:?}");
    assert_eq!(rejected[0].disposition, Disposition::Rejected, "{calls:?}");
    assert_eq!(rejected[0].sip_cause, Some(503), "{calls:?}");
    // The day's lines tell it from the calls that held a line.
    assert!(rejected[0].refused_at_the_door(), "{calls:?}");
    let held: Vec<_> = calls.iter().filter(|c| c.caller == "13800000001").collect();
    assert!(
        held.len() == 1 && !held[0].refused_at_the_door(),
        "{calls:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}

/// A trunk with `lines = 1`: while one call holds the line, the next gets 503 with Retry-After
/// and is recorded as rejected; the gauges show the line in use per trunk and per number; once
/// the call ends, the line is free again.
#[tokio::test]
async fn a_call_past_the_trunks_lines_gets_503_and_the_line_frees_when_a_call_ends() {
    // A trunk and a number of this test's own: the metrics recorder is the test process's, and
    // other tests' daemons set the gauges of "carrier" and 12350 while this one runs.
    let t = common::start(Options {
        trunk_name: "carrier-lines".to_string(),
        trunk_sources: "[\"127.0.0.1/32\"]\nlines = 1".to_string(),
        extra_routes: "[[routes]]\nnumber = \"12359\"\nqueue = \"q\"".to_string(),
        ..Options::default()
    })
    .await;
    let probe = RtpProbe::start().expect("probe");
    let mut first = RawCaller::call(t.daemon.sip_udp, "12359", "13800000011", probe.port()).await;
    let metrics = crate::metrics_scrape::scrape(t.daemon.metrics).await;
    for line in [
        "hotline_trunk_lines{trunk=\"carrier-lines\"} 1",
        "hotline_trunk_lines_in_use{trunk=\"carrier-lines\"} 1",
        "hotline_number_lines_in_use{number=\"12359\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    let extra = crate::raw::RawUdp::new(t.daemon.sip_udp).await;
    let refused = extra
        .request(invite(&extra, "12359", "13800000012").as_bytes())
        .await
        .expect("an answer to the second call");
    assert_eq!(crate::raw::status_of(&refused), 503, "{refused}");
    assert!(
        refused
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("retry-after:")),
        "{refused}"
    );
    let metrics = crate::metrics_scrape::scrape(t.daemon.metrics).await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "hotline_calls_rejected_total{reason=\"trunk_lines\"} 1"),
        "{metrics}"
    );

    first.hang_up().await;
    assert_clean(&t).await;
    let next = RawCaller::call(t.daemon.sip_udp, "12359", "13800000013", probe.port()).await;
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let rejected: Vec<_> = calls.iter().filter(|c| c.caller == "13800000012").collect();
    assert_eq!(rejected.len(), 1, "{calls:?}");
    assert_eq!(rejected[0].sip_cause, Some(503), "{calls:?}");
    assert!(rejected[0].refused_at_the_door(), "{calls:?}");
    let held: Vec<_> = calls.iter().filter(|c| c.caller == "13800000011").collect();
    assert!(
        held.len() == 1 && !held[0].refused_at_the_door(),
        "{calls:?}"
    );
    let open = t.daemon.store().open_calls().await.expect("open calls");
    assert!(
        open.iter().any(|c| c.caller == "13800000013"),
        "the line was free again, and the third call is up: {open:?} {calls:?}"
    );
    drop(next);
    t.daemon.shutdown().await.expect("shutdown");
}

/// An INVITE with an SDP offer from `from`'s socket to `number`, as a trunk sends it.
fn invite(from: &crate::raw::RawUdp, number: &str, caller: &str) -> String {
    let port = from.port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{number}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKx{port};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{caller}@127.0.0.1>;tag=x{port}\r\nTo: <sip:{number}@127.0.0.1>\r\nCall-ID: x-{port}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:{caller}@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Runs a trunk scenario against the daemon while `seat` (if any) handles its side.
async fn call(
    t: &TestDaemon,
    seat: Option<SippProcess>,
    trunk_scenario: &str,
    number: &str,
    sets: &[(&str, &str)],
) -> (SippRun, Option<SippRun>) {
    let mut caller = trunk(t, trunk_scenario, number);
    for (name, value) in sets {
        caller = caller.set(name, value);
    }
    let caller = caller.run().await.expect("trunk runs");
    let seat = match seat {
        Some(seat) => Some(seat.wait().await.expect("seat ends")),
        None => None,
    };
    (caller, seat)
}

#[tokio::test]
async fn seat_hangs_up_and_the_caller_gets_bye() {
    let t = common::start(Options::default()).await;
    let seat = seat(&t, "1001", "seat1001-secret", "hangup").await;
    let (caller, seat) = call(&t, Some(seat), "trunk_wait_bye.xml", "12345", &[]).await;
    ok(&caller);
    ok(&seat.expect("seat run"));
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::Answered);
    assert_eq!(record.ended_by.as_deref(), Some("seat"));
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn caller_cancels_while_the_seat_rings() {
    let t = common::start(Options::default()).await;
    let seat = seat(&t, "1001", "seat1001-secret", "noanswer").await;
    let (caller, seat) = call(
        &t,
        Some(seat),
        "trunk_cancel.xml",
        "12345",
        &[("cancel_ms", "1500")],
    )
    .await;
    ok(&caller);
    // The seat saw the CANCEL and answered it 200 and the INVITE 487.
    ok(&seat.expect("seat run"));
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::Abandoned);
    assert_eq!(record.sip_cause, Some(487));
    assert_eq!(record.ended_by.as_deref(), Some("caller"));
    assert!(record.answered_at.is_none());
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn busy_seat_gives_the_caller_486() {
    let t = common::start(Options::default()).await;
    let seat = seat(&t, "1001", "seat1001-secret", "busy").await;
    let (caller, seat) = call(&t, Some(seat), "trunk_fail.xml", "12345", &[]).await;
    ok(&caller);
    ok(&seat.expect("seat run"));
    assert_eq!(caller.final_response(), Some(486), "{caller}");
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::Busy);
    assert_eq!(record.sip_cause, Some(486));
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unanswered_seat_is_cancelled_at_the_ring_timeout() {
    let t = common::start(Options {
        ring_timeout_secs: 2,
        ..Options::default()
    })
    .await;
    let seat = seat(&t, "1001", "seat1001-secret", "noanswer").await;
    let (caller, seat) = call(&t, Some(seat), "trunk_fail.xml", "12345", &[]).await;
    ok(&caller);
    // The seat's scenario only succeeds if the daemon CANCELled its INVITE.
    ok(&seat.expect("seat run"));
    assert_eq!(caller.final_response(), Some(480), "{caller}");
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::NoAnswer);
    assert_eq!(record.sip_cause, Some(480));
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unreachable_seat_ends_the_call_with_480() {
    let t = common::start(Options::default()).await;
    // The phone registers and then goes away: nobody answers at its address any more.
    let register = Sipp::new("seat_register.xml")
        .remote(t.daemon.sip_udp)
        .service("1001")
        .password("seat1001-secret")
        .timeout(LIMIT)
        .run()
        .await
        .expect("register");
    ok(&register);
    let (caller, _) = call(&t, None, "trunk_fail.xml", "12345", &[]).await;
    ok(&caller);
    assert_eq!(caller.final_response(), Some(480), "{caller}");
    assert_clean(&t).await;
    let record = only_record(&t).await;
    assert_eq!(record.disposition, Disposition::Unreachable);
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn no_registered_seat_and_unknown_number_are_refused_and_recorded() {
    let t = common::start(Options::default()).await;
    let (caller, _) = call(&t, None, "trunk_fail.xml", "12345", &[]).await;
    ok(&caller);
    assert_eq!(caller.final_response(), Some(480), "{caller}");
    let (caller, _) = call(&t, None, "trunk_fail.xml", "99999", &[]).await;
    ok(&caller);
    assert_eq!(caller.final_response(), Some(404), "{caller}");
    assert_clean(&t).await;
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let dispositions: Vec<_> = calls
        .iter()
        .map(|c| (c.called.as_str(), c.disposition, c.sip_cause))
        .collect();
    assert!(
        dispositions.contains(&("12345", Disposition::Unreachable, Some(480))),
        "{dispositions:?}"
    );
    assert!(
        dispositions.contains(&("99999", Disposition::Rejected, Some(404))),
        "{dispositions:?}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}
