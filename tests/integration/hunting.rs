//! Hunting a unit's contacts against real peers: a SIPp caller queued to a SIPp seat, and a
//! unit whose handler (a SIPp that rings until CANCEL) and duty line (a SIPp that answers 486)
//! each take up to three calls. The seat marks the call major and reaches for the unit; the
//! daemon rings duty, handler, duty, handler, duty, handler, and the store's attempts, the
//! contact failure and the hand-off match what each SIPp saw on the wire.

use std::time::{Duration, UNIX_EPOCH};

use hotline::store::{ContactOutcome, HandoffOutcome, HandoffRecord, Store};

use crate::common::{self, eventually, Options, TestDaemon};
use crate::consult::{seat_answers_a_caller, LIMIT, SEAT_HZ};
use crate::peers::{
    free_udp_port, poke_hangup, unit_answer, Audio, RtpProbe, SippProcess, UnitAnswer,
};

const PEER_TIMEOUT: Duration = Duration::from_secs(90);
/// `media::tones::RINGBACK`.
const RINGBACK_HZ: f64 = 450.0;

/// A unit contact that takes `calls` calls, handling each as `mode` says.
fn contact(mode: UnitAnswer, calls: u32) -> (SippProcess, RtpProbe, u16) {
    let port = free_udp_port().expect("a port for the contact");
    let probe = RtpProbe::sending(Audio::Silence).expect("contact probe");
    let process = unit_answer(mode, &probe, PEER_TIMEOUT)
        .port(port)
        .arg("-m")
        .arg(calls.to_string())
        .spawn()
        .expect("start the contact");
    (process, probe, port)
}

/// A daemon whose unit 2002 has `contacts` (a TOML inline table's insides) and `hunt`, and a
/// caller the seat answered; the seat marks the call with `mark` and reaches for the unit.
async fn reach_unit(contacts: &str, hunt: &str, mark: &str) -> Reached {
    let t = common::start(Options {
        extra_routes: format!(
            "[[units]]\nid = \"2002\"\nname = \"市供水公司\"\nlevel = 2\n\
             contacts = {{ {contacts} }}\nhunt = {{ {hunt} }}\n"
        ),
        ..Options::default()
    })
    .await;
    let (seat, seat_probe, caller, caller_probe) =
        seat_answers_a_caller(&t, Audio::tone(SEAT_HZ), &[("hangup", "poke")]).await;
    seat_probe.send_keys(mark, LIMIT).await.expect("mark");
    seat_probe
        .send_keys("*12002#", LIMIT)
        .await
        .expect("reach the unit");
    Reached {
        t,
        seat,
        seat_probe,
        caller,
        caller_probe,
    }
}

struct Reached {
    t: TestDaemon,
    seat: SippProcess,
    seat_probe: RtpProbe,
    caller: SippProcess,
    caller_probe: RtpProbe,
}

impl Reached {
    async fn closed_handoff(&self, limit: Duration) -> HandoffRecord {
        closed_handoff(&self.t, limit).await
    }

    /// The caller hangs up; caller and seat end well.
    async fn end(mut self) -> TestDaemon {
        self.caller_probe.set_audio(None);
        self.seat_probe.set_audio(None);
        poke_hangup(&mut self.caller, LIMIT)
            .await
            .expect("caller hangs up");
        for (who, process) in [("caller", self.caller), ("seat", self.seat)] {
            let run = process.wait().await.expect("peer ends");
            assert!(run.success(), "{who}: {run}");
        }
        self.t
    }
}

/// The daemon's only hand-off once it is closed (made or not), within `limit`.
async fn closed_handoff(t: &TestDaemon, limit: Duration) -> HandoffRecord {
    let store = t.daemon.store();
    let closed = eventually(limit, || async {
        t.daemon.flush_records().await.is_ok()
            && store
                .handoffs_opened_in(UNIX_EPOCH, far())
                .await
                .is_ok_and(|h| h.first().is_some_and(|h| !h.is_open()))
    })
    .await;
    let handoffs = store
        .handoffs_opened_in(UNIX_EPOCH, far())
        .await
        .expect("hand-offs");
    assert!(closed, "the hand-off never closed: {handoffs:?}");
    handoffs[0].clone()
}

fn far() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(100 * 365 * 86_400)
}

#[tokio::test]
async fn a_unit_that_never_answers_is_hunted_three_and_three_and_charged_a_failure() {
    let (handler, _handler_probe, handler_port) = contact(UnitAnswer::NoAnswer, 3);
    let (duty, _duty_probe, duty_port) = contact(UnitAnswer::Busy, 3);
    let r = reach_unit(
        &format!(
            "handlers = [\"sip:handler@127.0.0.1:{handler_port}\"], \
             duty = \"sip:duty@127.0.0.1:{duty_port}\""
        ),
        "ring_timeout_secs = 2, attempts = 3, pause_secs = 1",
        "*91",
    )
    .await;
    // While the contacts ring, the seat hears ringback (450 Hz, 1 s of every 5).
    let ringback = eventually(LIMIT, || async {
        r.seat_probe.tone(RINGBACK_HZ).await.heard()
    })
    .await;
    assert!(ringback, "the seat never heard ringback");
    // Busy at once, a 1 s pause, 2 s of ringing, a pause...: about 12 s for all six.
    let handoff = &r.closed_handoff(Duration::from_secs(40)).await;
    let store = r.t.daemon.store();
    let far = far();
    assert_eq!(
        handoff.outcome,
        Some(HandoffOutcome::UnitUnreachable),
        "{handoff:?}"
    );
    assert_eq!(handoff.unit.as_deref(), Some("2002"));
    assert!(handoff.first_dial_at.is_some());

    let attempts = store
        .contact_attempts_of(&handoff.id)
        .await
        .expect("attempts");
    let seen: Vec<(&str, ContactOutcome, Option<u16>)> = attempts
        .iter()
        .map(|a| (a.role.as_str(), a.outcome, a.sip_status))
        .collect();
    use ContactOutcome::{Busy, NoAnswer};
    assert_eq!(
        seen,
        [
            ("duty", Busy, Some(486)),
            ("handler", NoAnswer, None),
            ("duty", Busy, Some(486)),
            ("handler", NoAnswer, None),
            ("duty", Busy, Some(486)),
            ("handler", NoAnswer, None),
        ],
        "{attempts:?}"
    );
    for a in attempts.iter().filter(|a| a.outcome == NoAnswer) {
        assert!(
            a.rung >= Duration::from_millis(1900) && a.rung < Duration::from_secs(4),
            "rang to the unit's 2 s ring timeout: {a:?}"
        );
        assert_eq!(a.dialled, format!("sip:handler@127.0.0.1:{handler_port}"));
    }
    let failures = store
        .contact_failures_in(UNIX_EPOCH, far)
        .await
        .expect("failures");
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = &failures[0];
    assert_eq!(failure.unit, "2002");
    assert_eq!(failure.handoff_id.as_deref(), Some(handoff.id.as_str()));
    assert_eq!(failure.evidence.len(), 6, "{failure:?}");
    assert_eq!(failure.points, 10);
    assert_eq!(failure.seat.as_deref(), Some("1001"));

    // Back to caller and seat; everyone ends well, and each contact saw three calls.
    let t = r.end().await;
    let handler = handler.wait().await.expect("handler ends");
    assert_eq!(
        handler.unit_events(),
        [
            "offered",
            "cancelled",
            "offered",
            "cancelled",
            "offered",
            "cancelled"
        ],
        "{handler}"
    );
    let duty = duty.wait().await.expect("duty ends");
    assert_eq!(
        duty.unit_events(),
        ["offered", "busy", "offered", "busy", "offered", "busy"],
        "{duty}"
    );
    t.daemon.shutdown().await.expect("shutdown");
}

/// One attempt per role: the duty line is busy, the handler rings out, the head answers on the
/// third attempt. The hand-off is made in time by the head's answer, with no contact failure,
/// and seat and head talk while the caller holds.
#[tokio::test]
async fn the_third_contact_answers_and_makes_the_handoff_without_a_failure() {
    let (duty, _duty_probe, duty_port) = contact(UnitAnswer::Busy, 1);
    let (handler, _handler_probe, handler_port) = contact(UnitAnswer::NoAnswer, 1);
    let (head, _head_probe, head_port) = contact(UnitAnswer::Answer, 1);
    let r = reach_unit(
        &format!(
            "handlers = [\"sip:handler@127.0.0.1:{handler_port}\"], \
             head = \"sip:head@127.0.0.1:{head_port}\", \
             duty = \"sip:duty@127.0.0.1:{duty_port}\""
        ),
        "ring_timeout_secs = 2, attempts = 1, pause_secs = 1",
        "*92",
    )
    .await;
    let handoff = &r.closed_handoff(Duration::from_secs(30)).await;
    let store = r.t.daemon.store();
    let far = far();
    assert_eq!(handoff.outcome, Some(HandoffOutcome::InTime), "{handoff:?}");
    assert_eq!(handoff.unit.as_deref(), Some("2002"));

    // The head's answer is written when the attempt ends, just after the hand-off is made.
    let three = eventually(LIMIT, || async {
        r.t.daemon.flush_records().await.is_ok()
            && store
                .contact_attempts_of(&handoff.id)
                .await
                .is_ok_and(|a| a.len() == 3)
    })
    .await;
    let attempts = store
        .contact_attempts_of(&handoff.id)
        .await
        .expect("attempts");
    assert!(three, "{attempts:?}");
    let seen: Vec<(&str, ContactOutcome)> = attempts
        .iter()
        .map(|a| (a.role.as_str(), a.outcome))
        .collect();
    assert_eq!(
        seen,
        [
            ("duty", ContactOutcome::Busy),
            ("handler", ContactOutcome::NoAnswer),
            ("head", ContactOutcome::Answered),
        ]
    );
    assert_eq!(attempts[2].sip_status, Some(200));
    let failures = store
        .contact_failures_in(UNIX_EPOCH, far)
        .await
        .expect("failures");
    assert!(failures.is_empty(), "{failures:?}");

    let t = r.end().await;
    let runs = [
        ("duty", duty, vec!["offered", "busy"]),
        ("handler", handler, vec!["offered", "cancelled"]),
        ("head", head, vec!["offered", "answered", "bye_from_daemon"]),
    ];
    for (who, process, expected) in runs {
        let run = process.wait().await.expect("contact ends");
        assert_eq!(run.unit_events(), expected, "{who}: {run}");
    }
    t.daemon.shutdown().await.expect("shutdown");
}

/// A hand-off outlives the citizen's call and is made by the seat's own call to the unit: the
/// seat marks the call, the caller hangs up, and the seat dials the unit id from its phone. The
/// daemon hunts the unit's contacts for that call too (the duty line is busy, the handler
/// answers), and the handler's answer makes the hand-off, in time, by the seat's own call.
#[tokio::test]
async fn the_seats_own_call_after_the_citizen_hung_up_hunts_and_makes_the_handoff() {
    use crate::peers::feature_call;
    let (duty, _duty_probe, duty_port) = contact(UnitAnswer::Busy, 1);
    let handler_port = free_udp_port().expect("a port for the handler");
    let handler_probe = RtpProbe::sending(Audio::Silence).expect("handler probe");
    let handler = unit_answer(UnitAnswer::Answer, &handler_probe, PEER_TIMEOUT)
        .port(handler_port)
        .set("hangup_ms", "1000")
        .spawn()
        .expect("start the handler");
    let t = common::start(Options {
        extra_routes: format!(
            "[[units]]\nid = \"2002\"\nname = \"市供水公司\"\nlevel = 2\n\
             contacts = {{ handlers = [\"sip:handler@127.0.0.1:{handler_port}\"], \
             duty = \"sip:duty@127.0.0.1:{duty_port}\" }}\n\
             hunt = {{ ring_timeout_secs = 5, attempts = 1, pause_secs = 1 }}\n"
        ),
        ..Options::default()
    })
    .await;
    let (seat, seat_probe, mut caller, caller_probe) =
        seat_answers_a_caller(&t, Audio::tone(SEAT_HZ), &[("hangup", "poke")]).await;
    let citizen_call = t.daemon.board().snapshot()[0].id.clone();
    seat_probe.send_keys("*91", LIMIT).await.expect("mark");
    let open = eventually(LIMIT, || async {
        !t.daemon.handoffs().open().await.is_empty()
    })
    .await;
    assert!(open, "the hand-off never opened");
    caller_probe.set_audio(None);
    seat_probe.set_audio(None);
    poke_hangup(&mut caller, LIMIT)
        .await
        .expect("caller hangs up");
    for (who, process) in [("caller", caller), ("seat", seat)] {
        let run = process.wait().await.expect("peer ends");
        assert!(run.success(), "{who}: {run}");
    }
    assert_eq!(
        t.daemon.handoffs().open().await.len(),
        1,
        "open after the call"
    );

    let own = feature_call(t.daemon.sip_udp, "1001", "seat1001-secret", "2002")
        .timeout(Duration::from_secs(30))
        .run()
        .await
        .expect("the seat's own call");
    assert!(own.success(), "{own}");
    let events: Vec<String> = own.events("feature").into_iter().map(|e| e.what).collect();
    assert_eq!(events, ["answered", "bye_from_daemon"], "{own}");

    let handoff = &closed_handoff(&t, LIMIT).await;
    let store = t.daemon.store();
    assert_eq!(handoff.outcome, Some(HandoffOutcome::InTime), "{handoff:?}");
    assert_eq!(handoff.call_id, citizen_call);
    let by = handoff.made_by_call.clone().expect("made by a call");
    assert_ne!(by, citizen_call, "made by the seat's own call");
    let two = eventually(LIMIT, || async {
        t.daemon.flush_records().await.is_ok()
            && store
                .contact_attempts_of(&handoff.id)
                .await
                .is_ok_and(|a| a.len() == 2)
    })
    .await;
    let attempts = store
        .contact_attempts_of(&handoff.id)
        .await
        .expect("attempts");
    assert!(two, "{attempts:?}");
    let seen: Vec<(&str, ContactOutcome, &str)> = attempts
        .iter()
        .map(|a| (a.role.as_str(), a.outcome, a.call_id.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("duty", ContactOutcome::Busy, by.as_str()),
            ("handler", ContactOutcome::Answered, by.as_str()),
        ]
    );
    let duty = duty.wait().await.expect("duty ends");
    assert_eq!(duty.unit_events(), ["offered", "busy"], "{duty}");
    let handler = handler.wait().await.expect("handler ends");
    assert!(handler.success(), "{handler}");
    t.daemon.shutdown().await.expect("shutdown");
}
