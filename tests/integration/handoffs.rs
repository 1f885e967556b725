//! Hand-offs against real peers (the consultation scene: a SIPp caller queued to a SIPp seat,
//! a SIPp unit on the unit's duty contact, each behind an RTP probe): the seat marks the call
//! by keypad, hears the warning and the breach in its ear alone, and a unit answering makes
//! the hand-off; a hand-off open when the daemon stops is closed as interrupted at the start.

use std::time::{Duration, UNIX_EPOCH};

use hotline::call::board::LineState;
use hotline::store::{HandoffOutcome, HandoffRecord};

use crate::common::Options;
use crate::common::{eventually, TestDaemon};
use crate::consult::{scene_with, seat_answers_a_caller_to, Scene, LIMIT, SEAT_HZ};
use crate::peers::{Audio, RtpProbe, UnitAnswer};

/// `media::tones::HANDOFF_WARNING` and `HANDOFF_BREACH`.
const WARNING_HZ: f64 = 1800.0;
const BREACH_HZ: f64 = 600.0;

/// A drill: major hand-offs due 10 s after the seat's answer, warned 4 s before.
const DRILL: &str = "[handoffs]\nwarning_secs = 4\n\n[[handoffs.categories]]\n\
    name = \"major\"\nlabel = \"重大应急\"\ncode = \"*91\"\nlimit_secs = 10\n\
    extended_limit_secs = 20\n";

async fn handoffs(t: &TestDaemon) -> Vec<HandoffRecord> {
    t.daemon.flush_records().await.expect("flush");
    let far = UNIX_EPOCH + Duration::from_secs(100 * 365 * 86_400);
    t.daemon
        .store()
        .handoffs_opened_in(UNIX_EPOCH, far)
        .await
        .expect("hand-offs")
}

/// Waits until the store's only hand-off satisfies `check`, and returns it.
async fn stored(
    t: &TestDaemon,
    what: &str,
    check: impl Fn(&HandoffRecord) -> bool,
) -> HandoffRecord {
    let held = eventually(LIMIT, || async {
        handoffs(t).await.first().is_some_and(&check)
    })
    .await;
    let all = handoffs(t).await;
    assert!(held, "no hand-off {what}: {all:?}");
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

/// Waits until `probe` hears `hz` (the last second of what it received).
async fn hears_soon(probe: &RtpProbe, hz: f64) -> bool {
    eventually(LIMIT, || async { probe.tone(hz).await.heard() }).await
}

/// The seat marks the call major (`*91`). At 6 s the seat hears the warning over the caller,
/// and the caller does not; at 10 s the breach is on disk while the hand-off is still open, and
/// the seat hears the breach tone; then the seat consults the unit, whose answer makes the
/// hand-off, late, with the unit and the call that made it.
#[tokio::test]
async fn a_marked_call_warns_the_seat_alone_breaches_on_time_and_is_made_late() {
    let mut s = scene_with(UnitAnswer::Answer, Audio::tone(SEAT_HZ), DRILL).await;
    let call_id = s.call_id();
    s.keys("*91").await;
    let open = stored(&s.t, "opened", |h| h.is_open()).await;
    assert_eq!(
        (
            open.call_id.as_str(),
            open.seat.as_str(),
            open.category.as_str()
        ),
        (call_id.as_str(), "1001", "major")
    );
    assert_eq!(open.limit, Duration::from_secs(10));
    assert!(open.started_at <= open.opened_at, "{open:?}");

    assert!(
        hears_soon(&s.seat_probe, WARNING_HZ).await,
        "the seat never heard the warning: {:?}",
        s.seat_probe.tone(WARNING_HZ).await
    );
    let caller = s.caller_probe.tone(WARNING_HZ).await;
    assert!(!caller.heard(), "the caller hears the warning: {caller:?}");
    // Under the beeps the seat goes on hearing the caller (the mixer takes the caller's
    // packets within a few frames of the overlay's start).
    let both = eventually(LIMIT, || async {
        s.seat_probe.tone(WARNING_HZ).await.heard()
            && s.seat_probe.tone(crate::consult::CALLER_HZ).await.heard()
    })
    .await;
    assert!(both, "the seat never heard the caller under the warning");
    let warned_open = handoffs(&s.t).await;
    assert!(
        warned_open[0].breached_at.is_none(),
        "warned, not breached yet: {warned_open:?}"
    );

    let breached = stored(&s.t, "breached", |h| h.breached_at.is_some()).await;
    assert!(
        breached.is_open(),
        "a breach does not close it: {breached:?}"
    );
    let due = breached.started_at + Duration::from_secs(10);
    assert_eq!(breached.breached_at, Some(due), "breached at the limit");
    assert!(
        hears_soon(&s.seat_probe, BREACH_HZ).await,
        "the seat never heard the breach tone"
    );
    assert!(!s.caller_probe.tone(BREACH_HZ).await.heard());

    s.consult_the_unit().await;
    s.line(LineState::Consulting).await;
    let made = stored(&s.t, "made", |h| !h.is_open()).await;
    assert_eq!(made.outcome, Some(HandoffOutcome::Late), "{made:?}");
    assert_eq!(made.unit.as_deref(), Some("2001"));
    assert_eq!(made.made_by_call.as_deref(), Some(call_id.as_str()));
    assert!(made
        .first_dial_at
        .is_some_and(|d| d <= made.made_at.unwrap_or(d)));
    assert_eq!(made.breached_at, Some(due));
    let (t, _, _) = s.end().await;
    t.daemon.shutdown().await.expect("shutdown");
}

/// A hand-off outlives the citizen's call: the caller hangs up, the hand-off stays open; the
/// daemon restarts, and the new start closes it as interrupted.
#[tokio::test]
async fn a_restart_closes_an_open_handoff_as_interrupted() {
    let s: Scene = scene_with(UnitAnswer::Answer, Audio::tone(SEAT_HZ), "").await;
    s.keys("*92").await;
    let open = stored(&s.t, "opened", |h| h.is_open()).await;
    assert_eq!(open.category, "general");
    assert_eq!(open.limit, Duration::from_secs(600));
    let t = s.end_without_unit().await;
    let ended = eventually(LIMIT, || async { t.daemon.board().snapshot().is_empty() }).await;
    assert!(ended, "the call never ended");
    let still = t.daemon.handoffs().open().await;
    assert_eq!(still.len(), 1, "open after the call: {still:?}");
    assert!(still[0].seconds_left > 500.0, "{still:?}");

    let t = t.restart().await;
    let closed = stored(&t, "interrupted", |h| !h.is_open()).await;
    assert_eq!(
        closed.outcome,
        Some(HandoffOutcome::Interrupted),
        "{closed:?}"
    );
    assert!(closed.closed_at >= Some(closed.opened_at), "{closed:?}");
    assert!(t.daemon.handoffs().open().await.is_empty());
    t.daemon.shutdown().await.expect("shutdown");
}

/// A queue route with `handoff = "major"` marks every call from the seat's answer: nobody
/// types a code, and the hand-off opens with the answer's time as its start.
#[tokio::test]
async fn a_route_with_a_category_marks_its_calls_at_the_seats_answer() {
    let t = crate::common::start(Options {
        extra_routes: "[[routes]]\nnumber = \"12360\"\nqueue = \"q\"\npriority = 0\n\
                       handoff = \"major\"\n"
            .to_string(),
        ..Options::default()
    })
    .await;
    let (seat, seat_probe, mut caller, caller_probe) =
        seat_answers_a_caller_to(&t, "12360", Audio::tone(SEAT_HZ), &[("hangup", "poke")]).await;
    let open = stored(&t, "opened by the route", |h| h.is_open()).await;
    assert_eq!(open.category, "major", "{open:?}");
    assert_eq!(open.seat, "1001");
    assert_eq!(open.limit, Duration::from_secs(300));
    assert!(
        open.opened_at
            .duration_since(open.started_at)
            .unwrap_or_default()
            < Duration::from_secs(1),
        "opened at the seat's answer: {open:?}"
    );
    caller_probe.set_audio(None);
    seat_probe.set_audio(None);
    crate::peers::poke_hangup(&mut caller, LIMIT)
        .await
        .expect("caller hangs up");
    for (who, process) in [("caller", caller), ("seat", seat)] {
        let run = process.wait().await.expect("peer ends");
        assert!(run.success(), "{who}: {run}");
    }
    t.daemon.shutdown().await.expect("shutdown");
}
