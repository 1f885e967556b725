//! The hand-off clock on passed-in time: a five-minute limit is tested in microseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::*;
use crate::dialplan::Role;
use crate::store::{ContactAttempt, ContactOutcome};

const SEAT: &str = "1001";

struct Clock {
    base: Instant,
    wall: SystemTime,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            base: Instant::now(),
            wall: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        }
    }

    /// Monotonic and wall time `secs` after the seat answered.
    fn at(&self, secs: u64) -> (Instant, SystemTime) {
        let d = Duration::from_secs(secs);
        (self.base + d, self.wall + d)
    }
}

fn machine() -> Handoffs {
    Handoffs::new(
        HandoffSettings::default(),
        crate::ledger::FailureRule::default(),
    )
}

fn mark(h: &mut Handoffs, clock: &Clock, secs: u64, call: u64, category: &str) {
    let (now, at) = clock.at(secs);
    h.handle(
        now,
        at,
        Input::Mark {
            call: CallId(call),
            seat: SEAT.into(),
            category: category.into(),
            answered: clock.base,
            answered_at: clock.wall,
        },
    );
}

/// Hands `input` to the machine `secs` after the seat answered.
fn send(h: &mut Handoffs, clock: &Clock, secs: u64, input: Input) {
    let (now, at) = clock.at(secs);
    h.handle(now, at, input);
}

fn by_call(call: u64) -> By {
    By::Call {
        call: CallId(call),
        seat: SEAT.into(),
    }
}

fn drain(h: &mut Handoffs) -> Vec<Action> {
    std::iter::from_fn(|| h.poll_action()).collect()
}

fn changes(actions: &[Action]) -> Vec<(Change, Option<HandoffOutcome>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Changed { change, record } => Some((*change, record.outcome)),
            _ => None,
        })
        .collect()
}

fn cues(actions: &[Action]) -> Vec<Cue> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Cue { cue, .. } => Some(*cue),
            _ => None,
        })
        .collect()
}

/// Runs every timer up to `secs` after the answer.
fn run_to(h: &mut Handoffs, clock: &Clock, secs: u64) -> Vec<Action> {
    let (now, _) = clock.at(secs);
    h.handle_timeout(now);
    drain(h)
}

#[test]
fn each_category_warns_a_minute_before_its_limit_and_breaches_at_it() {
    for (category, limit) in [("major", 300), ("general", 600), ("complex", 900)] {
        let clock = Clock::new();
        let mut h = machine();
        mark(&mut h, &clock, 20, 7, category);
        assert_eq!(changes(&drain(&mut h)), [(Change::Opened, None)]);
        assert_eq!(h.poll_timeout(), Some(clock.at(limit - 60).0), "{category}");
        assert!(run_to(&mut h, &clock, limit - 61).is_empty());
        assert_eq!(cues(&run_to(&mut h, &clock, limit - 60)), [Cue::Warning]);
        assert!(run_to(&mut h, &clock, limit - 1).is_empty());
        let breach = run_to(&mut h, &clock, limit);
        assert_eq!(cues(&breach), [Cue::Breach], "{category}");
        let Some(Action::Changed { change, record }) = breach.first() else {
            panic!("breach is recorded before the tone: {breach:?}");
        };
        assert_eq!(*change, Change::Breached);
        assert_eq!(record.breached_at, Some(clock.at(limit).1));
        assert!(record.is_open(), "a breached hand-off stays open");
        assert_eq!(h.poll_timeout(), None);
    }
}

#[test]
fn the_clock_counts_from_the_seat_answer_not_the_mark() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 250, 7, "major");
    let opened = drain(&mut h);
    let Some(Action::Changed { record, .. }) = opened.first() else {
        panic!("{opened:?}");
    };
    assert_eq!(record.started_at, clock.wall);
    assert_eq!(record.opened_at, clock.at(250).1);
    // The warning moment (240 s) has passed: no late warning, the breach stays at 300 s.
    assert_eq!(h.poll_timeout(), Some(clock.at(300).0));
}

#[test]
fn a_unit_answering_in_time_makes_the_handoff() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    drain(&mut h);
    send(
        &mut h,
        &clock,
        100,
        Input::Dialled {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    send(
        &mut h,
        &clock,
        130,
        Input::UnitAnswered {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    let actions = drain(&mut h);
    assert_eq!(
        changes(&actions),
        [
            (Change::Dialled, None),
            (Change::Made, Some(HandoffOutcome::InTime))
        ]
    );
    let Some(Action::Changed { record, .. }) = actions.last() else {
        panic!("{actions:?}");
    };
    assert_eq!(record.first_dial_at, Some(clock.at(100).1));
    assert_eq!(record.made_at, Some(clock.at(130).1));
    assert_eq!(record.made_by_call.as_deref(), Some("call-7"));
    assert_eq!(record.unit.as_deref(), Some("2001"));
    assert_eq!(took(record), Some(Duration::from_secs(130)));
    assert_eq!(h.poll_timeout(), None, "made: no more timers");
    assert_eq!(h.open().count(), 0);
}

#[test]
fn a_unit_answering_after_the_limit_is_late() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    run_to(&mut h, &clock, 300);
    send(
        &mut h,
        &clock,
        320,
        Input::UnitAnswered {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    assert_eq!(
        changes(&drain(&mut h)),
        [(Change::Made, Some(HandoffOutcome::Late))]
    );
}

#[test]
fn an_answer_due_after_the_limit_but_read_before_the_timer_is_late_with_its_breach() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    drain(&mut h);
    send(
        &mut h,
        &clock,
        301,
        Input::UnitAnswered {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    let actions = drain(&mut h);
    let Some(Action::Changed { record, .. }) = actions.first() else {
        panic!("{actions:?}");
    };
    assert_eq!(record.outcome, Some(HandoffOutcome::Late));
    assert_eq!(record.breached_at, Some(clock.at(300).1));
}

#[test]
fn an_extension_moves_the_warning_and_the_limit_once() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    assert_eq!(cues(&run_to(&mut h, &clock, 240)), [Cue::Warning]);
    let extend = |h: &mut Handoffs, secs| {
        let (now, at) = clock.at(secs);
        h.handle(
            now,
            at,
            Input::Extend {
                call: CallId(7),
                seat: SEAT.into(),
                reason: "12".into(),
            },
        );
        drain(h)
    };
    let extended = extend(&mut h, 250);
    let Some(Action::Changed { change, record }) = extended.first() else {
        panic!("{extended:?}");
    };
    assert_eq!(*change, Change::Extended);
    let ext = record.extension.as_ref().expect("extension");
    assert_eq!(
        (ext.at, ext.limit, ext.reason.as_str()),
        (clock.at(250).1, Duration::from_secs(900), "12")
    );
    assert_eq!(
        record.limit,
        Duration::from_secs(300),
        "the first limit is kept"
    );
    assert!(matches!(
        extend(&mut h, 260).as_slice(),
        [Action::Refused {
            why: Refusal::AlreadyExtended,
            ..
        }]
    ));
    assert!(run_to(&mut h, &clock, 839).is_empty(), "no breach at 300 s");
    assert_eq!(cues(&run_to(&mut h, &clock, 840)), [Cue::Warning]);
    assert_eq!(cues(&run_to(&mut h, &clock, 900)), [Cue::Breach]);
}

#[test]
fn a_breached_handoff_cannot_be_extended() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "general");
    run_to(&mut h, &clock, 600);
    send(
        &mut h,
        &clock,
        610,
        Input::Extend {
            call: CallId(7),
            seat: SEAT.into(),
            reason: "1".into(),
        },
    );
    assert!(matches!(
        drain(&mut h).as_slice(),
        [Action::Refused {
            why: Refusal::Breached,
            ..
        }]
    ));
}

#[test]
fn closing_as_not_needed_stops_the_clock() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "complex");
    drain(&mut h);
    send(
        &mut h,
        &clock,
        30,
        Input::Close {
            call: CallId(7),
            seat: SEAT.into(),
            reason: "3".into(),
        },
    );
    let actions = drain(&mut h);
    assert_eq!(
        changes(&actions),
        [(Change::Closed, Some(HandoffOutcome::ClosedNotNeeded))]
    );
    assert_eq!(h.poll_timeout(), None);
    assert!(run_to(&mut h, &clock, 10_000).is_empty());
}

#[test]
fn marking_again_changes_the_category_and_its_limit() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "general");
    mark(&mut h, &clock, 20, 7, "major");
    assert_eq!(
        changes(&drain(&mut h)),
        [(Change::Opened, None), (Change::Recategorised, None)]
    );
    assert_eq!(h.open().count(), 1);
    assert_eq!(
        cues(&run_to(&mut h, &clock, 300)),
        [Cue::Warning, Cue::Breach]
    );
}

#[test]
fn an_unknown_category_or_a_call_without_handoff_is_refused() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "nope");
    send(
        &mut h,
        &clock,
        11,
        Input::Close {
            call: CallId(7),
            seat: SEAT.into(),
            reason: "1".into(),
        },
    );
    let refusals: Vec<Refusal> = drain(&mut h)
        .into_iter()
        .filter_map(|a| match a {
            Action::Refused { why, .. } => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(refusals, [Refusal::UnknownCategory, Refusal::NoHandoff]);
}

#[test]
fn a_handoff_outlives_the_citizens_call_and_is_made_by_the_seats_own_call() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    // The citizen hangs up at 60 s; nothing tells the clock, which runs on.
    drain(&mut h);
    assert_eq!(cues(&run_to(&mut h, &clock, 240)), [Cue::Warning]);
    let own = By::OwnCall {
        call: CallId(99),
        seat: SEAT.into(),
    };
    send(
        &mut h,
        &clock,
        250,
        Input::UnitAnswered {
            by: own,
            unit: "2001".into(),
        },
    );
    let actions = drain(&mut h);
    let Some(Action::Changed { change, record }) = actions.first() else {
        panic!("{actions:?}");
    };
    assert_eq!(*change, Change::Made);
    assert_eq!(record.outcome, Some(HandoffOutcome::InTime));
    assert_eq!(record.call_id, "call-7");
    assert_eq!(record.made_by_call.as_deref(), Some("call-63"));
}

#[test]
fn the_seats_own_call_makes_the_handoff_that_dialled_that_unit() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "general");
    mark(&mut h, &clock, 20, 8, "general");
    send(
        &mut h,
        &clock,
        30,
        Input::Dialled {
            by: by_call(8),
            unit: "2002".into(),
        },
    );
    drain(&mut h);
    send(
        &mut h,
        &clock,
        40,
        Input::UnitAnswered {
            by: By::OwnCall {
                call: CallId(99),
                seat: SEAT.into(),
            },
            unit: "2002".into(),
        },
    );
    let actions = drain(&mut h);
    let Some(Action::Changed { record, .. }) = actions.first() else {
        panic!("{actions:?}");
    };
    assert_eq!(record.call_id, "call-8");
    assert_eq!(h.open().count(), 1);
}

#[test]
fn a_unit_reached_from_another_citizens_call_does_not_make_an_older_handoff() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "general");
    drain(&mut h);
    send(
        &mut h,
        &clock,
        40,
        Input::UnitAnswered {
            by: by_call(8),
            unit: "2001".into(),
        },
    );
    assert!(drain(&mut h).is_empty());
    assert_eq!(h.open().count(), 1);
}

fn attempt(role: Role, outcome: ContactOutcome, secs: u64, clock: &Clock) -> ContactAttempt {
    ContactAttempt {
        handoff_id: None,
        call_id: "call-7".into(),
        unit: "2001".into(),
        role,
        dialled: "0551-1".into(),
        started_at: clock.at(secs).1,
        rung: Duration::from_secs(2),
        outcome,
        sip_status: None,
    }
}

/// Hands the machine one attempt per role in `roles` (all `outcome`), returning the failures.
fn attempts(
    h: &mut Handoffs,
    clock: &Clock,
    roles: &[Role],
    outcome: ContactOutcome,
) -> Vec<ContactFailure> {
    for (i, role) in roles.iter().enumerate() {
        let attempt = attempt(*role, outcome, 20 + i as u64, clock);
        send(
            h,
            clock,
            20 + i as u64,
            Input::Attempt {
                by: by_call(7),
                attempt,
            },
        );
    }
    drain(h)
        .into_iter()
        .filter_map(|a| match a {
            Action::Failure(f) => Some(*f),
            _ => None,
        })
        .collect()
}

#[test]
fn attempts_are_filed_under_the_calls_handoff() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    drain(&mut h);
    send(
        &mut h,
        &clock,
        20,
        Input::Attempt {
            by: by_call(7),
            attempt: attempt(Role::Duty, ContactOutcome::Busy, 20, &clock),
        },
    );
    let filed: Vec<Option<String>> = drain(&mut h)
        .into_iter()
        .filter_map(|a| match a {
            Action::Attempt(a) => Some(a.handoff_id),
            _ => None,
        })
        .collect();
    assert_eq!(filed, [Some("call-7-h1".to_string())]);
}

#[test]
fn three_and_three_unanswered_charge_one_failure_and_the_exhausted_hunt_closes_it() {
    use Role::{Duty, Handler, Head};
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    drain(&mut h);
    let roles = [Duty, Handler, Duty, Head, Duty];
    assert!(attempts(&mut h, &clock, &roles, ContactOutcome::NoAnswer).is_empty());
    let failures = attempts(&mut h, &clock, &[Handler], ContactOutcome::NoAnswer);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].evidence.len(), 6);
    assert_eq!(failures[0].handoff_id.as_deref(), Some("call-7-h1"));
    assert_eq!(failures[0].seat.as_deref(), Some(SEAT));
    send(
        &mut h,
        &clock,
        40,
        Input::HuntExhausted {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    assert_eq!(
        changes(&drain(&mut h)),
        [(Change::Closed, Some(HandoffOutcome::UnitUnreachable))]
    );
}

#[test]
fn an_exhausted_hunt_without_a_failure_leaves_the_handoff_open() {
    use Role::{Duty, Handler};
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    drain(&mut h);
    let roles = [Duty, Handler, Duty, Handler, Duty];
    assert!(attempts(&mut h, &clock, &roles, ContactOutcome::Busy).is_empty());
    send(
        &mut h,
        &clock,
        40,
        Input::HuntExhausted {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    assert!(changes(&drain(&mut h)).is_empty());
    assert_eq!(h.open().count(), 1);
}

#[test]
fn an_answer_before_the_sixth_means_no_failure() {
    use Role::{Duty, Handler};
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    drain(&mut h);
    assert!(attempts(&mut h, &clock, &[Duty, Handler], ContactOutcome::NoAnswer).is_empty());
    assert!(attempts(&mut h, &clock, &[Duty], ContactOutcome::Answered).is_empty());
    let more = [Handler, Duty, Handler, Duty];
    assert!(attempts(&mut h, &clock, &more, ContactOutcome::NoAnswer).is_empty());
}

#[test]
fn time_left_goes_negative_once_breached() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    let left: Vec<f64> = h.time_left(clock.at(100).0).map(|(_, s)| s).collect();
    assert_eq!(left, [200.0]);
    let left: Vec<f64> = h.time_left(clock.at(310).0).map(|(_, s)| s).collect();
    assert_eq!(left, [-10.0]);
}

#[test]
fn a_unit_that_answered_and_refused_is_charged_a_refusal() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "general");
    drain(&mut h);
    let refused = |h: &mut Handoffs| {
        send(
            h,
            &clock,
            60,
            Input::Refused {
                by: by_call(7),
                unit: "2001".into(),
            },
        );
        drain(h)
    };
    assert!(matches!(
        refused(&mut h).as_slice(),
        [Action::Refused {
            why: Refusal::NoUnitAnswered,
            ..
        }]
    ));
    assert!(attempts(&mut h, &clock, &[Role::Duty], ContactOutcome::Answered).is_empty());
    let actions = refused(&mut h);
    let [Action::Failure(failure)] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(failure.kind, crate::store::FailureKind::Refused);
    assert_eq!(failure.unit, "2001");
    assert_eq!(failure.evidence.len(), 1);
    assert_eq!(failure.seat.as_deref(), Some(SEAT));
}

#[test]
fn the_answering_attempt_written_after_the_answer_is_filed_under_the_made_handoff() {
    let clock = Clock::new();
    let mut h = machine();
    mark(&mut h, &clock, 10, 7, "major");
    send(
        &mut h,
        &clock,
        30,
        Input::UnitAnswered {
            by: by_call(7),
            unit: "2001".into(),
        },
    );
    drain(&mut h);
    send(
        &mut h,
        &clock,
        30,
        Input::Attempt {
            by: by_call(7),
            attempt: attempt(Role::Duty, ContactOutcome::Answered, 28, &clock),
        },
    );
    let filed: Vec<Option<String>> = drain(&mut h)
        .into_iter()
        .filter_map(|a| match a {
            Action::Attempt(a) => Some(a.handoff_id),
            _ => None,
        })
        .collect();
    assert_eq!(filed, [Some("call-7-h1".to_string())]);
}
