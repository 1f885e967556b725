//! The consultation machine: every code in every state, blind and attended transfers, hold,
//! conferences and ring-outs.

use super::*;
use ConsultAction as A;
use InCallFeature as F;

fn consulting() -> Consult {
    let mut c = Consult::default();
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    c.handle(ConsultInput::UnitAnswered);
    assert_eq!(c.state(), ConsultState::Consulting);
    c
}

#[test]
fn consult_holds_the_caller_and_dials() {
    let mut c = Consult::default();
    let actions = c.handle(ConsultInput::Feature(F::Consult("201".into())));
    assert_eq!(
        actions,
        vec![
            A::Media(Media::CallerHolds),
            A::Event(ConsultEvent::Consult {
                target: "201".into()
            }),
            A::Dial("201".into()),
        ]
    );
    let actions = c.handle(ConsultInput::UnitAnswered);
    assert_eq!(
        actions,
        vec![
            A::ConnectUnit,
            A::Media(Media::SeatWithUnit),
            A::Event(ConsultEvent::UnitAnswered)
        ]
    );
}

#[test]
fn a_unit_ringing_out_is_cancelled_and_the_caller_returns_to_the_seat() {
    let mut c = Consult::default();
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    assert!(c.is_ringing());
    assert_eq!(
        c.handle(ConsultInput::RingTimeout),
        vec![
            A::CancelUnit,
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::UnitFailed { status: 408 }),
            A::SeatTone
        ]
    );
    assert_eq!(c.state(), ConsultState::Idle);
    assert!(!c.is_ringing());
    // Late: nothing rings any more.
    assert_eq!(c.handle(ConsultInput::RingTimeout), vec![]);
}

#[test]
fn a_refer_target_ringing_out_is_reported_to_the_seat_or_leaves_the_caller_alone() {
    let mut c = Consult::default();
    c.handle(ConsultInput::Refer("201".into()));
    assert_eq!(
        c.handle(ConsultInput::RingTimeout),
        vec![
            A::CancelUnit,
            A::NotifyRefer(408),
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::UnitFailed { status: 408 }),
            A::SeatTone
        ]
    );
    let mut c = Consult::default();
    c.handle(ConsultInput::Refer("201".into()));
    c.handle(ConsultInput::SeatLeft);
    assert_eq!(
        c.handle(ConsultInput::RingTimeout),
        vec![
            A::CancelUnit,
            A::Event(ConsultEvent::UnitFailed { status: 408 }),
            A::CallerAlone
        ]
    );
    assert!(!c.is_ringing());
}

#[test]
fn a_unit_ringing_out_while_added_to_a_conference_leaves_the_conference_as_it_was() {
    let mut c = Consult::with_max_parties(4);
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    c.handle(ConsultInput::UnitAnswered);
    c.handle(ConsultInput::Feature(F::Conference));
    c.handle(ConsultInput::Feature(F::Consult("202".into())));
    assert_eq!(c.state(), ConsultState::Adding);
    assert!(c.is_ringing());
    assert_eq!(
        c.handle(ConsultInput::RingTimeout),
        vec![
            A::CancelUnit,
            A::Event(ConsultEvent::UnitFailed { status: 408 }),
            A::SeatTone
        ]
    );
    assert_eq!(c.state(), ConsultState::ThreeWay);
}

#[test]
fn three_way_then_transfer_leaves_caller_with_unit() {
    let mut c = consulting();
    assert_eq!(
        c.handle(ConsultInput::Feature(F::Conference)),
        vec![
            A::Media(Media::AllThree),
            A::Event(ConsultEvent::Conference)
        ]
    );
    assert_eq!(
        c.handle(ConsultInput::Feature(F::Transfer)),
        vec![
            A::ByeSeat,
            A::Media(Media::CallerWithUnit),
            A::Event(ConsultEvent::Transfer),
            A::Transferred
        ]
    );
    assert_eq!(c.state(), ConsultState::Transferred);
    assert_eq!(c.hang_up(), vec![A::ByeUnits]);
}

#[test]
fn a_refer_dials_and_hands_over_on_answer() {
    let mut c = Consult::default();
    let actions = c.handle(ConsultInput::Refer("201".into()));
    assert_eq!(actions[0], A::Media(Media::CallerHolds));
    assert_eq!(actions[2], A::Dial("201".into()));
    assert_eq!(
        c.handle(ConsultInput::UnitAnswered),
        vec![
            A::ConnectUnit,
            A::Media(Media::CallerWithUnit),
            A::Event(ConsultEvent::Transfer),
            A::NotifyRefer(200),
            A::ByeSeat,
            A::Transferred
        ]
    );
}

#[test]
fn a_refer_whose_target_fails_returns_to_the_seat_or_leaves_the_caller_alone() {
    let mut c = Consult::default();
    c.handle(ConsultInput::Refer("201".into()));
    assert_eq!(
        c.handle(ConsultInput::UnitFailed(486)),
        vec![
            A::NotifyRefer(486),
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::UnitFailed { status: 486 })
        ]
    );
    let mut c = Consult::default();
    c.handle(ConsultInput::Refer("201".into()));
    assert_eq!(c.handle(ConsultInput::SeatLeft), vec![A::Transferred]);
    assert_eq!(
        c.handle(ConsultInput::UnitFailed(480)),
        vec![
            A::Event(ConsultEvent::UnitFailed { status: 480 }),
            A::CallerAlone
        ]
    );
}

#[test]
fn an_attended_transfer_hands_over_at_once() {
    let mut c = Consult::default();
    let actions = c.handle(ConsultInput::AttendedTransfer);
    assert_eq!(actions.last(), Some(&A::Transferred));
    assert!(actions.contains(&A::NotifyRefer(200)));
    assert!(actions.contains(&A::ByeSeat));
    assert_eq!(c.state(), ConsultState::Transferred);
    assert_eq!(c.hang_up(), vec![A::ByeUnits]);
}

#[test]
fn hold_and_resume_switch_the_music() {
    let mut c = Consult::default();
    assert_eq!(
        c.handle(ConsultInput::SeatHold(true)),
        vec![A::Media(Media::CallerHolds)]
    );
    assert_eq!(
        c.handle(ConsultInput::SeatHold(false)),
        vec![A::Media(Media::CallerWithSeat)]
    );
    assert_eq!(
        c.handle(ConsultInput::CallerHold(true)),
        vec![A::Media(Media::SeatHolds)]
    );
}

#[test]
fn a_repeated_hold_or_resume_changes_nothing() {
    let mut c = Consult::default();
    c.handle(ConsultInput::SeatHold(true));
    // A session refresh that still holds: the music plays on, not started again.
    assert_eq!(c.handle(ConsultInput::SeatHold(true)), vec![]);
    c.handle(ConsultInput::SeatHold(false));
    assert_eq!(c.handle(ConsultInput::SeatHold(false)), vec![]);
    // The caller's hold is its own.
    assert_eq!(
        c.handle(ConsultInput::CallerHold(true)),
        vec![A::Media(Media::SeatHolds)]
    );
    assert_eq!(c.handle(ConsultInput::CallerHold(true)), vec![]);
}

#[test]
fn drop_and_cancel_return_to_the_caller() {
    let mut c = consulting();
    c.handle(ConsultInput::Feature(F::Conference));
    assert_eq!(
        c.handle(ConsultInput::Feature(F::DropUnit)),
        vec![
            A::ByeUnit,
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::UnitDropped)
        ]
    );
    let mut c = Consult::default();
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    assert_eq!(
        c.handle(ConsultInput::Feature(F::Cancel)),
        vec![
            A::CancelUnit,
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::Cancelled)
        ]
    );
}

#[test]
fn a_unit_that_fails_or_leaves_returns_to_the_caller() {
    let mut c = Consult::default();
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    assert_eq!(
        c.handle(ConsultInput::UnitFailed(486)),
        vec![
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::UnitFailed { status: 486 })
        ]
    );
    let mut c = consulting();
    assert_eq!(
        c.handle(ConsultInput::UnitBye),
        vec![
            A::Media(Media::CallerWithSeat),
            A::Event(ConsultEvent::UnitLeft)
        ]
    );
}

#[test]
fn the_seat_hanging_up_on_a_consultation_transfers() {
    let mut c = consulting();
    let actions = c.handle(ConsultInput::SeatLeft);
    assert!(actions.contains(&A::Transferred));
    assert!(!actions.contains(&A::ByeSeat), "the seat is already gone");
}

#[test]
fn codes_out_of_place_do_nothing() {
    let mut c = Consult::default();
    assert!(c.handle(ConsultInput::Feature(F::Transfer)).is_empty());
    assert!(c.handle(ConsultInput::Feature(F::Conference)).is_empty());
    assert!(c.handle(ConsultInput::UnitAnswered).is_empty());
    let mut c = consulting();
    assert!(c
        .handle(ConsultInput::Feature(F::Consult("202".into())))
        .is_empty());
    assert_eq!(c.hang_up(), vec![A::ByeUnits]);
}

#[test]
fn a_conference_takes_more_units_up_to_its_parties() {
    let mut c = Consult::with_max_parties(4);
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    c.handle(ConsultInput::UnitAnswered);
    c.handle(ConsultInput::Feature(F::Conference));
    // A second unit while the conference goes on.
    assert_eq!(
        c.handle(ConsultInput::Feature(F::Consult("301".into()))),
        vec![
            A::Event(ConsultEvent::Consult {
                target: "301".into()
            }),
            A::Dial("301".into())
        ]
    );
    assert_eq!(c.state(), ConsultState::Adding);
    let actions = c.handle(ConsultInput::UnitAnswered);
    assert!(actions.contains(&A::Media(Media::AllThree)));
    assert_eq!(c.state(), ConsultState::ThreeWay);
    // Four parties now: a third unit is refused.
    assert_eq!(
        c.handle(ConsultInput::Feature(F::Consult("401".into()))),
        vec![A::Event(ConsultEvent::ConferenceFull)]
    );
    // *4 drops the last unit and the conference goes on with the first.
    assert_eq!(
        c.handle(ConsultInput::Feature(F::DropUnit)),
        vec![
            A::ByeUnit,
            A::Media(Media::AllThree),
            A::Event(ConsultEvent::UnitDropped)
        ]
    );
    assert_eq!(c.state(), ConsultState::ThreeWay);
    // The last unit dropped: back to the caller.
    let actions = c.handle(ConsultInput::Feature(F::DropUnit));
    assert!(actions.contains(&A::Media(Media::CallerWithSeat)));
    assert_eq!(c.state(), ConsultState::Idle);
}

#[test]
fn three_parties_by_default_and_a_transfer_keeps_every_unit() {
    let mut c = Consult::default();
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    c.handle(ConsultInput::UnitAnswered);
    c.handle(ConsultInput::Feature(F::Conference));
    assert_eq!(
        c.handle(ConsultInput::Feature(F::Consult("301".into()))),
        vec![A::Event(ConsultEvent::ConferenceFull)]
    );
    let mut c = Consult::with_max_parties(5);
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    c.handle(ConsultInput::UnitAnswered);
    c.handle(ConsultInput::Feature(F::Conference));
    c.handle(ConsultInput::Feature(F::Consult("301".into())));
    c.handle(ConsultInput::UnitAnswered);
    c.handle(ConsultInput::Feature(F::Transfer));
    assert_eq!(c.state(), ConsultState::Transferred);
    // One unit leaves: the caller stays with the other.
    assert_eq!(
        c.handle(ConsultInput::UnitBye),
        vec![
            A::Media(Media::CallerWithUnit),
            A::Event(ConsultEvent::UnitLeft)
        ]
    );
    // The last one leaving is the queued call's to handle (rating).
    assert!(c.handle(ConsultInput::UnitBye).is_empty());
    let mut c = Consult::with_max_parties(4);
    c.handle(ConsultInput::Feature(F::Consult("201".into())));
    c.handle(ConsultInput::UnitAnswered);
    c.handle(ConsultInput::Feature(F::Conference));
    c.handle(ConsultInput::Feature(F::Consult("301".into())));
    assert_eq!(c.hang_up(), vec![A::CancelUnit, A::ByeUnits]);
}
