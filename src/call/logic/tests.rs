use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::call::logic::ring::Timeouts;
use crate::ratings::dialog::RatingRules;

fn ring(legs: usize) -> (Logic, Instant) {
    let now = Instant::now();
    let timeouts = Timeouts {
        ring: Duration::from_secs(20),
        no_response: Duration::from_secs(5),
    };
    (Logic::ring(CallMachine::new(now, legs, timeouts)), now)
}

fn drain(logic: &mut Logic) -> Vec<Action> {
    std::iter::from_fn(|| logic.poll_action()).collect()
}

#[test]
fn a_ring_route_rings_its_legs_and_answers_the_caller_through_the_leg_that_answers() {
    let (mut logic, now) = ring(2);
    assert_eq!(drain(&mut logic), vec![Action::Ring(0), Action::Ring(1)]);
    logic.handle(
        now,
        Input::SeatProvisional {
            leg: 1,
            status: 180,
        },
    );
    assert_eq!(drain(&mut logic), vec![Action::CallerRinging]);
    logic.handle(now, Input::SeatAnswered { leg: 1 });
    assert_eq!(
        drain(&mut logic),
        vec![Action::Connect(1), Action::Cancel(0)]
    );
    assert!(!logic.consults());
    assert!(logic.splices());
}

#[test]
fn a_cancelled_ring_route_answers_487_and_ends_abandoned() {
    let (mut logic, now) = ring(1);
    drain(&mut logic);
    logic.handle(now, Input::CallerCancelled);
    let actions = drain(&mut logic);
    assert_eq!(actions[0], Action::Cancel(0));
    assert_eq!(actions[1], Action::RejectCaller(487));
    let Action::Finished(outcome) = &actions[2] else {
        panic!("not finished: {actions:?}");
    };
    assert_eq!(outcome.disposition, Disposition::Abandoned);
    assert_eq!(outcome.ended_by, Some(EndedBy::Caller));
    assert_eq!(outcome.seat, None);
}

#[test]
fn an_unusable_answer_on_a_ring_route_is_taken_then_refused_488() {
    let (mut logic, now) = ring(1);
    drain(&mut logic);
    logic.handle(now, Input::SeatAnswerUnusable { leg: 0 });
    let actions = drain(&mut logic);
    assert_eq!(
        &actions[..3],
        &[
            Action::Connect(0),
            Action::ByeSeat(0),
            Action::RejectCaller(488)
        ]
    );
    assert!(matches!(
        &actions[3],
        Action::Finished(Outcome {
            sip_cause: Some(488),
            ..
        })
    ));
}

#[test]
fn a_ring_route_rates_in_the_queued_calls_words_and_times_out_on_virtual_time() {
    let (mut logic, now) = ring(1);
    let rules = RatingRules {
        map: crate::ratings::RatingMap::default(),
        timeout: Duration::from_secs(10),
    };
    logic = match logic.kind {
        Kind::Ring(m) => Logic::ring(m.with_rating(Some(rules))),
        Kind::Queued(_)
        | Kind::Feature(_)
        | Kind::Survey(_)
        | Kind::Supervise(_)
        | Kind::SupervisorDial(_) => {
            unreachable!()
        }
    };
    drain(&mut logic);
    logic.handle(now, Input::SeatAnswered { leg: 0 });
    drain(&mut logic);
    logic.handle(now, Input::SeatBye { leg: 0 });
    assert_eq!(drain(&mut logic), vec![Action::Play(Sound::RatingQuestion)]);
    // Nobody presses a key: the question is asked again, then the call ends unrated.
    let mut now = now;
    let mut seen = Vec::new();
    for _ in 0..10 {
        logic.handle(now, Input::PlaybackDone);
        now = logic.poll_timeout().expect("the rating waits for a key");
        logic.handle_timeout(now);
        let actions = drain(&mut logic);
        seen.extend(actions.clone());
        if actions.iter().any(|a| matches!(a, Action::CommitRating(_))) {
            logic.handle(now, Input::RatingCommitted);
            seen.extend(drain(&mut logic));
            break;
        }
    }
    assert!(
        seen.contains(&Action::Play(Sound::RatingQuestion)),
        "{seen:?}"
    );
    assert!(
        matches!(seen.last(), Some(Action::Finished(o)) if o.answered_leg == Some(0)),
        "{seen:?}"
    );
}

#[test]
fn a_queued_call_is_answered_at_once_and_consults() {
    let mut logic = Logic::queued(QueuedCall::new(None));
    assert_eq!(
        drain(&mut logic),
        vec![Action::AnswerCaller, Action::Play(Sound::Welcome)]
    );
    assert!(logic.consults());
    assert!(!logic.splices());
}

#[test]
fn a_queued_seat_answering_in_another_codec_is_hung_up_and_fails_its_offer() {
    let now = Instant::now();
    let mut logic = Logic::queued(QueuedCall::new(None));
    drain(&mut logic);
    logic.handle(now, Input::PlaybackDone);
    drain(&mut logic);
    logic.handle(
        now,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0],
        },
    );
    assert_eq!(drain(&mut logic), vec![Action::Ring(0)]);
    logic.handle(now, Input::SeatAnswerUnusable { leg: 0 });
    assert_eq!(
        drain(&mut logic),
        vec![
            Action::AckAndHangUp(0),
            Action::Acd(AcdNote::Failed {
                seat: "1001".into(),
                status: 488
            })
        ]
    );
}

#[test]
fn inputs_a_logic_does_not_take_change_nothing() {
    let (mut logic, now) = ring(1);
    drain(&mut logic);
    for input in [
        Input::Position(3),
        Input::SeatAsksRating,
        Input::UnitBye,
        Input::Hunting(true),
    ] {
        logic.handle(now, input);
    }
    assert_eq!(drain(&mut logic), vec![]);
    let mut queued = Logic::queued(QueuedCall::new(None));
    drain(&mut queued);
    queued.handle(now, Input::CallerCancelled);
    queued.handle(now, Input::Spliced);
    queued.handle(
        now,
        Input::SeatProvisional {
            leg: 0,
            status: 180,
        },
    );
    assert_eq!(drain(&mut queued), vec![]);
}
