//! Hunting a unit's contacts against real peers: a SIPp caller queued to a SIPp seat, and a
//! unit whose handler (a SIPp that rings until CANCEL) and duty line (a SIPp that answers 486)
//! each take up to three calls. The seat marks the call major and reaches for the unit; the
//! daemon rings duty, handler, duty, handler, duty, handler, and the store's attempts, the
//! contact failure and the hand-off match what each SIPp saw on the wire.

use std::time::{Duration, UNIX_EPOCH};

use hotline::store::{ContactOutcome, HandoffOutcome, Store};

use crate::common::{self, eventually, Options};
use crate::consult::{seat_answers_a_caller, LIMIT, SEAT_HZ};
use crate::peers::{
    free_udp_port, poke_hangup, unit_answer, Audio, RtpProbe, SippProcess, UnitAnswer,
};

const PEER_TIMEOUT: Duration = Duration::from_secs(90);

/// A unit contact that takes three calls, handling each as `mode` says.
fn contact(mode: UnitAnswer) -> (SippProcess, RtpProbe, u16) {
    let port = free_udp_port().expect("a port for the contact");
    let probe = RtpProbe::sending(Audio::Silence).expect("contact probe");
    let process = unit_answer(mode, &probe, PEER_TIMEOUT)
        .port(port)
        .arg("-m")
        .arg("3")
        .spawn()
        .expect("start the contact");
    (process, probe, port)
}

#[tokio::test]
async fn a_unit_that_never_answers_is_hunted_three_and_three_and_charged_a_failure() {
    let (handler, _handler_probe, handler_port) = contact(UnitAnswer::NoAnswer);
    let (duty, _duty_probe, duty_port) = contact(UnitAnswer::Busy);
    let t = common::start(Options {
        extra_routes: format!(
            "[[units]]\nid = \"2002\"\nname = \"市供水公司\"\nlevel = 2\n\
             contacts = {{ handlers = [\"sip:handler@127.0.0.1:{handler_port}\"], \
             duty = \"sip:duty@127.0.0.1:{duty_port}\" }}\n\
             hunt = {{ ring_timeout_secs = 2, attempts = 3, pause_secs = 1 }}\n"
        ),
        ..Options::default()
    })
    .await;
    let (seat, seat_probe, mut caller, caller_probe) =
        seat_answers_a_caller(&t, Audio::tone(SEAT_HZ), &[("hangup", "poke")]).await;
    seat_probe.send_keys("*91", LIMIT).await.expect("mark");
    seat_probe
        .send_keys("*12002#", LIMIT)
        .await
        .expect("reach the unit");

    // Busy at once, a 1 s pause, 2 s of ringing, a pause...: about 12 s for all six.
    let store = t.daemon.store();
    let far = UNIX_EPOCH + Duration::from_secs(100 * 365 * 86_400);
    let failed = eventually(Duration::from_secs(40), || async {
        t.daemon.flush_records().await.is_ok()
            && store
                .handoffs_opened_in(UNIX_EPOCH, far)
                .await
                .is_ok_and(|h| h.first().is_some_and(|h| !h.is_open()))
    })
    .await;
    let handoffs = store
        .handoffs_opened_in(UNIX_EPOCH, far)
        .await
        .expect("hand-offs");
    assert!(failed, "the hand-off never closed: {handoffs:?}");
    let handoff = &handoffs[0];
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
    caller_probe.set_audio(None);
    seat_probe.set_audio(None);
    poke_hangup(&mut caller, LIMIT)
        .await
        .expect("caller hangs up");
    for (who, process) in [("caller", caller), ("seat", seat)] {
        let run = process.wait().await.expect("peer ends");
        assert!(run.success(), "{who}: {run}");
    }
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
