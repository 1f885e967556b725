//! The queued call on virtual time: offers, overflow, consultation, rating.

use super::*;
use crate::call::consult::{ConsultEvent, Media};
use crate::ratings::{NotRatedReason, RatingMap, RatingOutcome};

fn drain(call: &mut QueuedCall) -> Vec<Action> {
    std::iter::from_fn(|| call.poll_action()).collect()
}

fn waiting(now: Instant) -> QueuedCall {
    waiting_with(now, None)
}

fn waiting_with(now: Instant, rating: Option<RatingRules>) -> QueuedCall {
    let mut call = QueuedCall::new(rating);
    assert_eq!(
        drain(&mut call),
        vec![Action::AnswerCaller, Action::Play(Sound::Welcome)]
    );
    call.handle(now, Input::PlaybackDone);
    assert_eq!(
        drain(&mut call),
        vec![Action::Acd(AcdNote::Enqueue), Action::Play(Sound::Hold)]
    );
    call
}

fn outcome(actions: &[Action]) -> Outcome {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Finished(o) => Some(o.clone()),
            _ => None,
        })
        .expect("finished")
}

#[test]
fn offered_seat_answers_and_the_seat_hangs_up() {
    let t0 = Instant::now();
    let mut call = waiting(t0);
    call.handle(t0, Input::Position(3));
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::Position(3))]);
    call.handle(t0, Input::PlaybackDone);
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::Hold)]);
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0, 1],
        },
    );
    assert_eq!(drain(&mut call), vec![Action::Ring(0), Action::Ring(1)]);
    call.handle(t0, Input::SeatAnswered { leg: 1 });
    assert_eq!(
        drain(&mut call),
        vec![
            Action::Cancel(0),
            Action::Connect(1),
            Action::Acd(AcdNote::Answered {
                seat: "1001".into()
            })
        ]
    );
    call.handle(t0, Input::SeatBye { leg: 1 });
    let actions = drain(&mut call);
    assert_eq!(actions[0], Action::ByeCaller);
    assert_eq!(
        actions[1],
        Action::Acd(AcdNote::Ended {
            seat: "1001".into()
        })
    );
    let o = outcome(&actions);
    assert_eq!(o.disposition, Disposition::Answered);
    assert_eq!(o.seat.as_deref(), Some("1001"));
    assert_eq!(o.ended_by, Some(EndedBy::Seat));
}

#[test]
fn a_seat_fails_only_when_all_its_phones_fail() {
    let t0 = Instant::now();
    let mut call = waiting(t0);
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0, 1],
        },
    );
    drain(&mut call);
    call.handle(
        t0,
        Input::SeatFailed {
            leg: 0,
            status: 486,
        },
    );
    assert!(drain(&mut call).is_empty());
    call.handle(
        t0,
        Input::SeatFailed {
            leg: 1,
            status: 480,
        },
    );
    assert_eq!(
        drain(&mut call),
        vec![Action::Acd(AcdNote::Failed {
            seat: "1001".into(),
            status: 480
        })]
    );
    // The ACD's ring timeout takes an offer back: its legs are cancelled.
    call.handle(
        t0,
        Input::Offer {
            seat: "1002".into(),
            legs: vec![2],
        },
    );
    drain(&mut call);
    call.handle(
        t0,
        Input::CancelOffer {
            seat: "1002".into(),
        },
    );
    assert_eq!(drain(&mut call), vec![Action::Cancel(2)]);
}

#[test]
fn caller_hanging_up_in_the_queue_is_abandoned() {
    let t0 = Instant::now();
    let mut call = waiting(t0);
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0],
        },
    );
    drain(&mut call);
    call.handle(t0, Input::CallerBye);
    let actions = drain(&mut call);
    assert_eq!(
        actions[..2],
        [Action::Cancel(0), Action::Acd(AcdNote::Abandoned)]
    );
    let o = outcome(&actions);
    assert_eq!(o.disposition, Disposition::Abandoned);
    assert_eq!(o.ended_by, Some(EndedBy::Caller));
}

#[test]
fn overflow_to_a_prompt_plays_it_then_hangs_up() {
    let t0 = Instant::now();
    let mut call = waiting(t0);
    call.handle(t0, Input::Overflow(Overflow::Prompt("all_busy".into())));
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::AllBusy)]);
    call.handle(t0, Input::PlaybackDone);
    let actions = drain(&mut call);
    assert_eq!(actions[0], Action::ByeCaller);
    assert_eq!(outcome(&actions).overflow, Some("prompt"));
}

#[test]
fn callback_offer_takes_1_and_times_out_otherwise() {
    let t0 = Instant::now();
    let mut call = waiting(t0);
    call.handle(t0, Input::Overflow(Overflow::Callback(true)));
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::CallbackOffer)]);
    call.handle(t0, Input::PlaybackDone);
    assert_eq!(call.poll_timeout(), Some(t0 + CALLBACK_DIGIT_WAIT));
    call.handle(t0, Input::Digit('1'));
    assert_eq!(
        drain(&mut call),
        vec![
            Action::Acd(AcdNote::CallbackRequested),
            Action::Play(Sound::CallbackRecorded)
        ]
    );
    call.handle(t0, Input::PlaybackDone);
    let o = outcome(&drain(&mut call));
    assert!(o.callback_requested);
    assert_eq!(o.overflow, Some("callback"));

    let mut call = waiting(t0);
    call.handle(t0, Input::Overflow(Overflow::Callback(true)));
    call.handle(t0, Input::PlaybackDone);
    drain(&mut call);
    call.handle_timeout(t0 + CALLBACK_DIGIT_WAIT);
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::AllBusy)]);
}

fn rules() -> RatingRules {
    RatingRules {
        map: RatingMap::default(),
        timeout: Duration::from_secs(8),
    }
}

fn connected_then_seat_hangs_up(t0: Instant) -> QueuedCall {
    let mut call = waiting_with(t0, Some(rules()));
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0],
        },
    );
    call.handle(t0, Input::SeatAnswered { leg: 0 });
    drain(&mut call);
    call.handle(t0, Input::SeatBye { leg: 0 });
    assert_eq!(
        drain(&mut call),
        vec![
            Action::Acd(AcdNote::Ended {
                seat: "1001".into()
            }),
            Action::Play(Sound::RatingQuestion)
        ]
    );
    call
}

#[test]
fn the_rating_is_committed_before_thank_you() {
    use crate::ratings::Rating;
    let t0 = Instant::now();
    let mut call = connected_then_seat_hangs_up(t0);
    call.handle(t0, Input::PlaybackDone);
    call.handle(t0, Input::Digit('2'));
    assert_eq!(
        drain(&mut call),
        vec![Action::CommitRating(RatingOutcome::Rated(
            Rating::BasicallySatisfied
        ))]
    );
    // Nothing more until the store says it is kept.
    call.handle(t0, Input::PlaybackDone);
    assert!(drain(&mut call).is_empty());
    call.handle(t0, Input::RatingCommitted);
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::ThankYou)]);
    call.handle(t0, Input::PlaybackDone);
    let actions = drain(&mut call);
    assert_eq!(actions[0], Action::ByeCaller);
    assert_eq!(outcome(&actions).seat.as_deref(), Some("1001"));
}

#[test]
fn a_wrong_key_and_silence_repeat_the_question_once() {
    let t0 = Instant::now();
    let mut call = connected_then_seat_hangs_up(t0);
    call.handle(t0, Input::Digit('9'));
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::RatingQuestion)]);
    call.handle(t0, Input::PlaybackDone);
    assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(8)));
    call.handle_timeout(t0 + Duration::from_secs(8));
    assert_eq!(
        drain(&mut call),
        vec![Action::CommitRating(RatingOutcome::NotRated(
            NotRatedReason::NoDigit
        ))]
    );
    call.handle(t0, Input::RatingCommitted);
    assert_eq!(drain(&mut call)[0], Action::ByeCaller);
}

#[test]
fn a_caller_who_hangs_up_during_the_question_is_not_rated() {
    let t0 = Instant::now();
    let mut call = connected_then_seat_hangs_up(t0);
    call.handle(t0, Input::CallerBye);
    let actions = drain(&mut call);
    assert_eq!(
        actions[0],
        Action::CommitRating(RatingOutcome::NotRated(NotRatedReason::CallerHungUp))
    );
    assert!(matches!(actions[1], Action::Finished(_)));
}

#[test]
fn the_seat_can_send_the_caller_to_rating() {
    let t0 = Instant::now();
    let mut call = waiting_with(t0, Some(rules()));
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0],
        },
    );
    call.handle(t0, Input::SeatAnswered { leg: 0 });
    drain(&mut call);
    call.handle(t0, Input::SeatAsksRating);
    assert_eq!(
        drain(&mut call),
        vec![
            Action::ByeSeat(0),
            Action::Acd(AcdNote::Ended {
                seat: "1001".into()
            }),
            Action::Play(Sound::RatingQuestion)
        ]
    );
}

#[test]
fn a_late_answer_after_connecting_is_hung_up() {
    let t0 = Instant::now();
    let mut call = waiting(t0);
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0],
        },
    );
    call.handle(t0, Input::SeatAnswered { leg: 0 });
    drain(&mut call);
    call.handle(t0, Input::SeatAnswered { leg: 5 });
    assert_eq!(drain(&mut call), vec![Action::AckAndHangUp(5)]);
}

/// Caller and seat 1001 connected (leg 0); the seat then reaches for unit 201, which rings.
fn dialling_a_unit(t0: Instant, unit_ring: Duration) -> QueuedCall {
    use crate::features::in_call::InCallFeature;
    let mut call = QueuedCall::new(Some(rules())).with_unit_ring_timeout(unit_ring);
    call.handle(t0, Input::PlaybackDone);
    call.handle(
        t0,
        Input::Offer {
            seat: "1001".into(),
            legs: vec![0],
        },
    );
    call.handle(t0, Input::SeatAnswered { leg: 0 });
    drain(&mut call);
    call.handle(
        t0,
        Input::Consult(ConsultInput::Feature(InCallFeature::Consult("201".into()))),
    );
    drain(&mut call);
    call
}

#[test]
fn a_unit_that_never_answers_is_given_up_at_its_ring_timeout() {
    let t0 = Instant::now();
    let ring = Duration::from_secs(30);
    let mut call = dialling_a_unit(t0, ring);
    assert_eq!(call.poll_timeout(), Some(t0 + ring));
    // Early wake-ups change nothing.
    call.handle_timeout(t0 + ring - Duration::from_millis(1));
    assert_eq!(drain(&mut call), vec![]);
    call.handle_timeout(t0 + ring);
    assert_eq!(
        drain(&mut call),
        vec![
            Action::Consult(ConsultAction::CancelUnit),
            Action::Consult(ConsultAction::Media(Media::CallerWithSeat)),
            Action::Consult(ConsultAction::Event(ConsultEvent::UnitFailed {
                status: 408
            })),
            Action::Consult(ConsultAction::SeatTone),
        ]
    );
    assert_eq!(call.poll_timeout(), None);
    // Caller and seat talk on; the seat hanging up now asks the caller for a rating.
    call.handle(t0 + ring, Input::SeatBye { leg: 0 });
    assert!(drain(&mut call).contains(&Action::Play(Sound::RatingQuestion)));
}

#[test]
fn a_unit_that_answers_or_is_cancelled_in_time_stops_its_ring_deadline() {
    use crate::features::in_call::InCallFeature;
    let t0 = Instant::now();
    let ring = Duration::from_secs(20);
    let mut call = dialling_a_unit(t0, ring);
    call.handle(t0 + ring / 2, Input::Consult(ConsultInput::UnitAnswered));
    assert_eq!(call.poll_timeout(), None);
    drain(&mut call);

    let mut call = dialling_a_unit(t0, ring);
    call.handle(
        t0 + ring / 2,
        Input::Consult(ConsultInput::Feature(InCallFeature::Cancel)),
    );
    assert_eq!(call.poll_timeout(), None);
    // A second consultation rings for a whole ring timeout of its own.
    let t1 = t0 + ring;
    call.handle(
        t1,
        Input::Consult(ConsultInput::Feature(InCallFeature::Consult("202".into()))),
    );
    assert_eq!(call.poll_timeout(), Some(t1 + ring));
}

#[test]
fn a_refer_target_that_never_answers_returns_the_caller_to_the_seat() {
    let t0 = Instant::now();
    let ring = Duration::from_secs(15);
    let mut call = dialling_a_unit(t0, ring);
    call.handle(
        t0,
        Input::Consult(ConsultInput::Feature(
            crate::features::in_call::InCallFeature::Cancel,
        )),
    );
    drain(&mut call);
    call.handle(t0, Input::Consult(ConsultInput::Refer("201".into())));
    drain(&mut call);
    assert_eq!(call.poll_timeout(), Some(t0 + ring));
    call.handle_timeout(t0 + ring);
    let actions = drain(&mut call);
    assert_eq!(actions[0], Action::Consult(ConsultAction::CancelUnit));
    assert!(actions.contains(&Action::Consult(ConsultAction::NotifyRefer(408))));
    assert!(actions.contains(&Action::Consult(ConsultAction::Media(
        Media::CallerWithSeat
    ))));
}

fn consulting(t0: Instant) -> QueuedCall {
    let mut call = dialling_a_unit(t0, DEFAULT_UNIT_RING_TIMEOUT);
    call.handle(t0, Input::Consult(ConsultInput::UnitAnswered));
    drain(&mut call);
    call
}

#[test]
fn after_a_transfer_the_unit_hanging_up_asks_for_the_rating() {
    use crate::features::in_call::InCallFeature;
    let t0 = Instant::now();
    let mut call = consulting(t0);
    call.handle(
        t0,
        Input::Consult(ConsultInput::Feature(InCallFeature::Transfer)),
    );
    let actions = drain(&mut call);
    assert!(actions.contains(&Action::Acd(AcdNote::Ended {
        seat: "1001".into()
    })));
    assert!(actions.contains(&Action::Consult(ConsultAction::Transferred)));
    // The seat's BYE answered, nothing more for the seat; the unit hangs up.
    call.handle(t0, Input::UnitBye);
    assert_eq!(drain(&mut call), vec![Action::Play(Sound::RatingQuestion)]);
    call.handle(t0, Input::PlaybackDone);
    call.handle(t0, Input::Digit('1'));
    drain(&mut call);
    call.handle(t0, Input::RatingCommitted);
    call.handle(t0, Input::PlaybackDone);
    let o = outcome(&drain(&mut call));
    assert_eq!(o.ended_by, Some(EndedBy::Unit));
    assert_eq!(o.seat.as_deref(), Some("1001"));
}

#[test]
fn the_caller_hanging_up_during_a_consultation_lets_everyone_go() {
    let t0 = Instant::now();
    let mut call = consulting(t0);
    call.handle(t0, Input::CallerBye);
    let actions = drain(&mut call);
    assert_eq!(actions[0], Action::Consult(ConsultAction::ByeUnits));
    assert!(actions.contains(&Action::ByeSeat(0)));
    assert_eq!(outcome(&actions).ended_by, Some(EndedBy::Caller));
}

#[test]
fn the_seat_hanging_up_on_a_consultation_leaves_the_caller_with_the_unit() {
    let t0 = Instant::now();
    let mut call = consulting(t0);
    call.handle(t0, Input::SeatBye { leg: 0 });
    let actions = drain(&mut call);
    assert!(actions.contains(&Action::Consult(ConsultAction::Transferred)));
    assert!(!actions.iter().any(|a| matches!(a, Action::Play(_))));
    call.handle(t0, Input::CallerBye);
    let actions = drain(&mut call);
    assert_eq!(actions[0], Action::Consult(ConsultAction::ByeUnits));
    assert_eq!(outcome(&actions).ended_by, Some(EndedBy::Caller));
}
