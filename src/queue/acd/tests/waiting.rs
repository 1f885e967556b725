//! Callers while they wait: positions, abandoning, overflow, callbacks, errors.

use std::time::Duration;

use super::*;

#[test]
fn an_abandoning_caller_leaves_and_the_others_move_up() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001"]);
    line.ready("1001").pause("1001");
    line.enqueue(1, "q").enqueue(2, "q").enqueue(3, "q");
    line.at(secs(10))
        .input(AcdInput::Abandon { call: CallId(2) });
    assert!(line.take().iter().any(|(_, a)| *a
        == AcdAction::QueueEvent(QueueEvent {
            call: CallId(2),
            queue: "q".into(),
            at: line.t0 + secs(10),
            kind: QueueEventKind::Abandoned {
                waited: secs(10),
                position: 2
            },
        })));
    assert_eq!(line.acd.position(CallId(2)), None);
    line.at(secs(30));
    let positions: Vec<(u64, usize)> = line
        .take()
        .into_iter()
        .filter_map(|(_, a)| match a {
            AcdAction::AnnouncePosition { call, position } => Some((call.0, position)),
            _ => None,
        })
        .collect();
    assert_eq!(positions, [(1, 1), (3, 2)]);
    assert_eq!(
        line.try_input(AcdInput::Abandon { call: CallId(2) }),
        Err(AcdError::UnknownCall(CallId(2)))
    );
}

#[test]
fn position_is_announced_every_30_s_through_a_10_minute_wait() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001"]);
    line.ready("1001").pause("1001").enqueue(1, "q");
    line.at(secs(599));
    let announced: Vec<(Duration, usize)> = line
        .take()
        .into_iter()
        .filter_map(|(at, a)| match a {
            AcdAction::AnnouncePosition { position, .. } => Some((at, position)),
            _ => None,
        })
        .collect();
    let expected: Vec<(Duration, usize)> = (0..20).map(|n| (secs(30 * n), 1)).collect();
    assert_eq!(announced, expected);
    // Not while the caller hears a seat ringing.
    line.resume("1001");
    line.at(secs(605));
    assert!(!line
        .take()
        .iter()
        .any(|(_, a)| matches!(a, AcdAction::AnnouncePosition { .. })));
    line.answer(1, "1001");
    assert_eq!(
        line.acd.poll_timeout(),
        None,
        "no timers left for a connected caller"
    );
}

#[test]
fn overflow_at_max_wait() {
    let q = queue("q", "seats = \"all\"\nmax_wait_secs = 60");
    let mut line = Line::new(&[q], &["1001"]);
    line.ready("1001").pause("1001").enqueue(1, "q");
    line.at(secs(60));
    let log = line.take();
    assert!(log.contains(&(
        secs(60),
        AcdAction::Overflow {
            call: CallId(1),
            to: Overflow::Prompt("all_busy".into())
        }
    )));
    assert!(log
        .iter()
        .any(|(_, a)| matches!(a, AcdAction::QueueEvent(QueueEvent {
        kind: QueueEventKind::Overflowed { cause: OverflowCause::MaxWait, waited, .. }, ..
    }) if *waited == secs(60))));
    assert_eq!(line.acd.waiting("q"), Some(0));
}

#[test]
fn a_ringing_offer_at_max_wait_rings_out_first() {
    let q = queue("q", "seats = \"all\"\nmax_wait_secs = 60");
    let mut line = Line::new(&[q], &["1001"]);
    line.ready("1001").pause("1001").enqueue(1, "q");
    line.at(secs(50)).resume("1001");
    line.at(secs(64));
    assert!(!line
        .take()
        .iter()
        .any(|(_, a)| matches!(a, AcdAction::Overflow { .. })));
    line.at(secs(65));
    assert!(line
        .take()
        .iter()
        .any(|(t, a)| *t == secs(65) && matches!(a, AcdAction::Overflow { .. })));
}

#[test]
fn overflow_to_another_queue_keeps_the_first_entry_time() {
    let main = queue(
        "main",
        "seats = [\"1001\"]\nmax_wait_secs = 60\noverflow = { queue = \"backup\" }",
    );
    let backup = queue("backup", "seats = [\"1002\"]");
    let mut line = Line::new(&[main, backup], &["1001", "1002"]);
    line.ready("1001").pause("1001").ready("1002").pause("1002");
    line.enqueue(1, "main");
    line.at(secs(30)).enqueue(2, "backup");
    line.at(secs(60));
    assert_eq!(line.acd.waiting("main"), Some(0));
    assert_eq!(
        line.acd.position(CallId(1)),
        Some(1),
        "ahead of the caller who rang at 30 s"
    );
    assert_eq!(line.acd.position(CallId(2)), Some(2));
    line.take();
    line.resume("1002");
    assert_eq!(offered(&line.offers()), [(1, "1002")]);
}

#[test]
fn overflow_when_nobody_is_logged_in() {
    let main = queue(
        "main",
        "seats = [\"1001\"]\noverflow = { queue = \"backup\" }",
    );
    let backup = queue(
        "backup",
        "seats = [\"1002\"]\noverflow = { prompt = \"closed\" }",
    );
    let mut line = Line::new(&[main, backup], &["1001", "1002"]);
    line.enqueue(1, "main");
    let overflows: Vec<Overflow> = line
        .take()
        .into_iter()
        .filter_map(|(_, a)| match a {
            AcdAction::Overflow { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(
        overflows,
        [
            Overflow::Queue("backup".into()),
            Overflow::Prompt("closed".into())
        ]
    );
    assert_eq!(line.acd.position(CallId(1)), None);

    // The last seat leaving empties its queue too.
    line.ready("1002").pause("1002").enqueue(2, "backup");
    line.take();
    line.at(secs(5))
        .input(AcdInput::Seat(SeatCommand::Logout { seat: seat("1002") }));
    assert!(line.take().contains(&(
        secs(5),
        AcdAction::Overflow {
            call: CallId(2),
            to: Overflow::Prompt("closed".into())
        }
    )));
}

#[test]
fn callback_requests_while_waiting_and_after_overflow() {
    let q = queue("q", "seats = \"all\"\noverflow = { callback = true }");
    let mut line = Line::new(&[q], &["1001"]);
    line.enqueue(1, "q");
    assert!(line.take().iter().any(|(_, a)| *a
        == AcdAction::Overflow {
            call: CallId(1),
            to: Overflow::Callback(true)
        }));
    line.at(secs(8))
        .input(AcdInput::CallbackRequested { call: CallId(1) });
    assert!(line
        .take()
        .iter()
        .any(|(_, a)| matches!(a, AcdAction::QueueEvent(QueueEvent {
        call: CallId(1),
        kind: QueueEventKind::CallbackRequested { waited }, ..
    }) if *waited == secs(8))));

    line.ready("1001").pause("1001").enqueue(2, "q");
    line.at(secs(40))
        .input(AcdInput::CallbackRequested { call: CallId(2) });
    assert_eq!(line.acd.waiting("q"), Some(0));
    assert_eq!(
        line.try_input(AcdInput::CallbackRequested { call: CallId(2) }),
        Err(AcdError::UnknownCall(CallId(2)))
    );
}

#[test]
fn an_unregistered_seat_is_not_offered() {
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001", "1002"]);
    line.ready("1001").ready("1002");
    line.input(AcdInput::Seat(SeatCommand::Unregistered {
        seat: seat("1002"),
    }));
    line.enqueue(1, "q").answer(1, "1001").take();
    line.enqueue(2, "q");
    assert_eq!(line.offers(), [], "1001 is on a call, 1002's phone is gone");
    line.at(secs(40))
        .input(AcdInput::Seat(SeatCommand::Registered {
            seat: seat("1002"),
        }));
    assert_eq!(offered(&line.offers()), [(2, "1002")]);
}

#[test]
fn bad_settings_and_bad_inputs_are_typed_errors() {
    let bad = queue("q", "seats = [\"9999\"]");
    assert!(matches!(
        Acd::new(&[bad], &[seat("1001")], Instant::now()),
        Err(AcdError::Config(issues)) if issues[0].key == "queues[0].seats[0]"
    ));
    let mut line = Line::new(&[queue("q", "seats = \"all\"")], &["1001"]);
    assert_eq!(
        line.try_input(AcdInput::Enqueue {
            call: CallId(1),
            queue: "nope".into(),
            priority: 0
        }),
        Err(AcdError::UnknownQueue("nope".into()))
    );
    assert_eq!(
        line.try_input(AcdInput::Seat(SeatCommand::Resume { seat: seat("1001") })),
        Err(AcdError::Seat(SeatError::NotPaused(seat("1001"))))
    );
    assert_eq!(
        line.try_input(AcdInput::CallEnded { seat: seat("1002") }),
        Err(AcdError::Seat(SeatError::UnknownSeat(seat("1002"))))
    );
    line.ready("1001").pause("1001").enqueue(1, "q");
    assert_eq!(
        line.try_input(AcdInput::Enqueue {
            call: CallId(1),
            queue: "q".into(),
            priority: 0
        }),
        Err(AcdError::DuplicateCall(CallId(1)))
    );
}
