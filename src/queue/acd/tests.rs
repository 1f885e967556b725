//! The ACD on virtual time: minutes of queueing run in milliseconds.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::queue::config::QueueSettings;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn queue(name: &str, extra: &str) -> QueueSettings {
    toml::from_str(&format!("name = {name:?}\n{extra}")).unwrap()
}

fn seat(id: &str) -> SeatId {
    id.into()
}

/// Drives an [`Acd`] the way the lead's task will: inputs at "now", timers in deadline order,
/// and every action logged with the test time it came out at.
struct Line {
    acd: Acd,
    t0: Instant,
    now: Instant,
    log: Vec<(Duration, AcdAction)>,
}

impl Line {
    fn new(queues: &[QueueSettings], seats: &[&str]) -> Self {
        let t0 = Instant::now();
        let ids: Vec<SeatId> = seats.iter().map(|s| seat(s)).collect();
        Self {
            acd: Acd::new(queues, &ids, t0).unwrap(),
            t0,
            now: t0,
            log: Vec::new(),
        }
    }

    /// Runs the timers up to `t0 + at` one deadline at a time, then sets the clock there.
    fn at(&mut self, at: Duration) -> &mut Self {
        let end = self.t0 + at;
        assert!(end >= self.now, "time runs forward");
        while let Some(deadline) = self.acd.poll_timeout().filter(|d| *d <= end) {
            self.acd.handle_timeout(deadline);
            self.collect(deadline);
        }
        self.now = end;
        self
    }

    fn try_input(&mut self, input: AcdInput) -> Result<(), AcdError> {
        let result = self.acd.handle(self.now, input);
        self.collect(self.now);
        result
    }

    fn input(&mut self, input: AcdInput) -> &mut Self {
        self.try_input(input).unwrap();
        self
    }

    fn collect(&mut self, at: Instant) {
        while let Some(action) = self.acd.poll_action() {
            self.log.push((at - self.t0, action));
        }
    }

    /// Registered phone, logged in.
    fn ready(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::Seat(SeatCommand::Registered { seat: seat(id) }))
            .input(AcdInput::Seat(SeatCommand::Login { seat: seat(id) }))
    }

    fn pause(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::Seat(SeatCommand::Pause {
            seat: seat(id),
            reason: "break".into(),
        }))
    }

    fn resume(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::Seat(SeatCommand::Resume { seat: seat(id) }))
    }

    fn enqueue(&mut self, call: u64, queue: &str) -> &mut Self {
        self.enqueue_with(call, queue, 5)
    }

    fn enqueue_with(&mut self, call: u64, queue: &str, priority: u8) -> &mut Self {
        self.input(AcdInput::Enqueue {
            call: CallId(call),
            queue: queue.into(),
            priority,
        })
    }

    fn answer(&mut self, call: u64, id: &str) -> &mut Self {
        self.input(AcdInput::OfferAnswered {
            call: CallId(call),
            seat: seat(id),
        })
    }

    fn hang_up(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::CallEnded { seat: seat(id) })
    }

    /// Every action so far, and the log cleared.
    fn take(&mut self) -> Vec<(Duration, AcdAction)> {
        std::mem::take(&mut self.log)
    }

    /// (when, call, seat) of every offer so far, and the log cleared.
    fn offers(&mut self) -> Vec<(Duration, u64, String)> {
        self.take()
            .into_iter()
            .filter_map(|(at, a)| match a {
                AcdAction::Offer { call, seat, .. } => Some((at, call.0, seat.to_string())),
                _ => None,
            })
            .collect()
    }

    fn state(&self, id: &str) -> SeatState {
        self.acd.seat_state(&seat(id)).unwrap().clone()
    }
}

fn offered(offers: &[(Duration, u64, String)]) -> Vec<(u64, &str)> {
    offers.iter().map(|(_, c, s)| (*c, s.as_str())).collect()
}

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
