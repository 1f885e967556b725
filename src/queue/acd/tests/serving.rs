//! Who gets which call: order of service, strategies, seat states.

use std::time::Duration;

use super::*;

#[test]
fn callers_are_served_first_come_first_served() {
    let mut line = Line::new(
        &[queue("q", "seats = \"all\"\nwrap_up_secs = 0")],
        &["1001"],
    );
    line.ready("1001").pause("1001");
    for call in [1, 2, 3] {
        line.at(secs(call)).enqueue(call, "q");
    }
    assert_eq!(line.acd.position(CallId(3)), Some(3));
    line.take();
    line.at(secs(10)).resume("1001");
    for call in [1, 2, 3] {
        assert_eq!(offered(&line.offers()), [(call, "1001")]);
        line.answer(call, "1001").hang_up("1001");
    }
    assert_eq!(line.acd.waiting("q"), Some(0));
}

#[test]
fn a_higher_priority_jumps_the_queue() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001"]);
    line.ready("1001").pause("1001");
    line.enqueue_with(1, "q", 5).enqueue_with(2, "q", 5);
    line.at(secs(20)).enqueue_with(3, "q", 0);
    assert_eq!(line.acd.position(CallId(3)), Some(1));
    assert_eq!(line.acd.position(CallId(1)), Some(2));
    line.take();
    line.resume("1001");
    assert_eq!(offered(&line.offers()), [(3, "1001")]);
}

#[test]
fn longest_idle_seat_gets_the_call_and_wrap_up_is_not_idle() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001", "1002"]);
    line.ready("1001");
    line.at(secs(1)).ready("1002");
    line.at(secs(2)).enqueue(1, "q");
    assert_eq!(
        offered(&line.offers()),
        [(1, "1001")],
        "idle since 0 beats since 1"
    );
    line.answer(1, "1001");
    line.at(secs(60)).hang_up("1001");
    assert_eq!(
        line.state("1001"),
        SeatState::WrapUp {
            until: line.t0 + secs(70)
        }
    );
    line.at(secs(65)).enqueue(2, "q");
    assert_eq!(
        offered(&line.offers()),
        [(2, "1002")],
        "1001 is wrapping up"
    );
    line.answer(2, "1002");
    line.at(secs(66)).hang_up("1002");
    // 1001 idle since the end of its wrap-up (70), 1002 since the end of its own (76).
    line.at(secs(80)).enqueue(3, "q");
    assert_eq!(offered(&line.offers()), [(3, "1001")]);
    assert_eq!(
        line.state("1002"),
        SeatState::Available {
            since: line.t0 + secs(76)
        }
    );
}

#[test]
fn round_robin_goes_on_from_the_last_seat_offered() {
    let q = queue(
        "q",
        "seats = [\"a\", \"b\", \"c\"]\nstrategy = \"round_robin\"\nwrap_up_secs = 0",
    );
    let mut line = Line::new(&[q], &["a", "b", "c"]);
    // Logged in in reverse so that longest-idle would start with c.
    line.ready("c").ready("b").ready("a");
    let mut order = Vec::new();
    for call in 1..=4 {
        line.at(secs(call * 10)).enqueue(call, "q");
        let offers = line.offers();
        let (_, _, who) = &offers[0];
        order.push(who.clone());
        line.answer(call, who).hang_up(who);
    }
    assert_eq!(order, ["a", "b", "c", "a"]);
}

#[test]
fn ring_all_first_answer_wins_and_the_others_are_cancelled() {
    let q = queue("q", "seats = \"all\"\nstrategy = \"ring_all\"");
    let mut line = Line::new(&[q], &["a", "b", "c"]);
    line.ready("a").ready("b").ready("c").enqueue(1, "q");
    assert_eq!(offered(&line.offers()), [(1, "a"), (1, "b"), (1, "c")]);
    line.at(secs(3)).answer(1, "b");
    let actions: Vec<AcdAction> = line.take().into_iter().map(|(_, a)| a).collect();
    assert!(actions.contains(&AcdAction::Connected {
        call: CallId(1),
        seat: seat("b"),
        waited: secs(3),
    }));
    for other in ["a", "c"] {
        assert!(actions.contains(&AcdAction::CancelOffer {
            call: CallId(1),
            seat: seat(other)
        }));
        assert!(matches!(line.state(other), SeatState::Available { .. }));
    }
    assert_eq!(line.state("b"), SeatState::OnCall { call: CallId(1) });
    // The loser's 200 crossed our CANCEL: the lead is told to hang that leg up.
    assert_eq!(
        line.try_input(AcdInput::OfferAnswered {
            call: CallId(1),
            seat: seat("a")
        }),
        Err(AcdError::NoSuchOffer {
            call: CallId(1),
            seat: seat("a")
        })
    );
}

#[test]
fn ring_timeout_moves_the_caller_to_the_next_seat() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001", "1002"]);
    line.ready("1001").ready("1002").enqueue(1, "q");
    assert_eq!(offered(&line.offers()), [(1, "1001")]);
    line.at(secs(20));
    let log = line.take();
    let at_15: Vec<&AcdAction> = log
        .iter()
        .filter(|(t, _)| *t == secs(15))
        .map(|(_, a)| a)
        .collect();
    assert!(at_15.contains(&&AcdAction::CancelOffer {
        call: CallId(1),
        seat: seat("1001")
    }));
    assert!(at_15.contains(&&AcdAction::Offer {
        call: CallId(1),
        seat: seat("1002"),
        ring_timeout: secs(15),
    }));
    assert!(log.iter().any(|(_, a)| matches!(
        a,
        AcdAction::QueueEvent(QueueEvent {
            kind: QueueEventKind::Offered {
                outcome: OfferOutcome::NoAnswer,
                ..
            },
            ..
        })
    )));
    // A busy seat is a miss too, reported by the lead: the caller goes back to 1001.
    line.input(AcdInput::OfferFailed {
        call: CallId(1),
        seat: seat("1002"),
        reason: OfferFailure::Busy,
    });
    assert_eq!(
        line.offers(),
        [],
        "both seats tried: wait for the next round"
    );
    line.at(secs(20) + RETRY_DELAY);
    assert_eq!(offered(&line.offers()), [(1, "1001")]);
}

#[test]
fn three_missed_offers_in_a_row_pause_the_seat() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001", "1002"]);
    line.ready("1001").ready("1002");
    // 1002 is busy on another caller, so 1001 gets every offer.
    line.enqueue(1, "q").answer(1, "1001");
    line.hang_up("1001").at(secs(10));
    line.enqueue(2, "q").answer(2, "1002");
    line.take();
    line.enqueue(3, "q");
    // Offers at 10, 30 (after the 5 s retry), 50; each rings 15 s.
    line.at(secs(100));
    let log = line.take();
    let offer_times: Vec<Duration> = log
        .iter()
        .filter(|(_, a)| matches!(a, AcdAction::Offer { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(offer_times, [secs(10), secs(30), secs(50)]);
    let paused: Vec<&(Duration, AcdAction)> = log
        .iter()
        .filter(|(_, a)| matches!(a, AcdAction::SeatChanged(c) if matches!(c.to, SeatState::Paused { .. })))
        .collect();
    assert_eq!(paused.len(), 1);
    let (when, AcdAction::SeatChanged(change)) = paused[0] else {
        unreachable!()
    };
    assert_eq!(*when, secs(65));
    assert_eq!(change.seat, seat("1001"));
    assert_eq!(
        change.to,
        SeatState::Paused {
            reason: PauseReason::NoAnswer
        }
    );
    // Resume clears the count; caller 3 is offered again at once.
    line.resume("1001");
    assert_eq!(offered(&line.offers()), [(3, "1001")]);
}

#[test]
fn no_offer_during_wrap_up_and_one_right_after() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001"]);
    line.ready("1001").enqueue(1, "q").answer(1, "1001");
    line.at(secs(100)).hang_up("1001").take();
    line.at(secs(101)).enqueue(2, "q");
    assert_eq!(line.offers(), []);
    line.at(secs(109) + Duration::from_millis(999));
    assert_eq!(line.offers(), []);
    line.at(secs(110));
    assert_eq!(line.offers(), [(secs(110), 2, "1001".to_string())]);
}

#[test]
fn a_logged_out_seat_is_never_offered() {
    let q = queue("q", "seats = [\"1001\", \"1002\"]\nstrategy = \"ring_all\"");
    let mut line = Line::new(&[q], &["1001", "1002"]);
    line.ready("1001")
        .input(AcdInput::Seat(SeatCommand::Registered {
            seat: seat("1002"),
        }));
    line.enqueue(1, "q");
    assert_eq!(offered(&line.offers()), [(1, "1001")]);
    line.at(secs(200));
    assert!(line.offers().iter().all(|(_, _, s)| s == "1001"));
    assert_eq!(line.state("1002"), SeatState::LoggedOut);
}

#[test]
fn logout_during_a_call_waits_for_the_call_to_end() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001", "1002"]);
    line.ready("1001")
        .ready("1002")
        .enqueue(1, "q")
        .answer(1, "1001");
    line.input(AcdInput::Seat(SeatCommand::Logout { seat: seat("1001") }));
    assert_eq!(line.state("1001"), SeatState::OnCall { call: CallId(1) });
    line.at(secs(30)).hang_up("1001").take();
    assert_eq!(line.state("1001"), SeatState::LoggedOut);
    line.at(secs(60)).enqueue(2, "q");
    assert_eq!(offered(&line.offers()), [(2, "1002")]);
}

#[test]
fn a_paused_seat_is_not_offered_until_it_resumes() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001"]);
    line.ready("1001").pause("1001").enqueue(1, "q");
    line.at(secs(60));
    assert_eq!(line.offers(), []);
    line.resume("1001");
    assert_eq!(line.offers(), [(secs(60), 1, "1001".to_string())]);
    assert_eq!(line.state("1001"), SeatState::Ringing { call: CallId(1) });
}

#[test]
fn a_failed_offer_is_busy_rang_out_or_unreachable_by_the_phones_status() {
    for (status, failure) in [
        (486, OfferFailure::Busy),
        (600, OfferFailure::Busy),
        (603, OfferFailure::Busy),
        (408, OfferFailure::NoAnswer),
        (480, OfferFailure::NoAnswer),
        (487, OfferFailure::NoAnswer),
        (404, OfferFailure::Unreachable),
        (500, OfferFailure::Unreachable),
        (503, OfferFailure::Unreachable),
    ] {
        assert_eq!(OfferFailure::from_status(status), failure, "{status}");
    }
}
