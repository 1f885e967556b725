//! A call that rings its legs and answers the caller when one answers (a ring route, a seat's
//! own call, the target of a splice), as a state machine on virtual time: the caller's leg,
//! the legs it rings, and how it ends. No I/O: the driver feeds it inputs and carries out its
//! actions, in the words of `call::logic`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::rating::{rating_actions, rating_input};
use super::{Action, EndedBy, Input, LegId, Outcome};
use crate::call::hunt::{Hunt, HuntInput};
use crate::ratings::dialog::{RatingDialog, RatingRules, RatingStep};
use crate::store::Disposition;
use crate::timer::TimerTable;

mod hunting;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    Calling,
    Ringing,
    Answered,
    Cancelled,
    Failed(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Connected(LegId),
    /// The seat of this leg hung up first; the caller is asked to rate the service.
    Rating(LegId),
    /// The caller has left; this leg talks to the party of another call.
    Spliced(LegId),
    Done,
}

pub struct Timeouts {
    /// How long seats ring before the caller is told no one answered.
    pub ring: Duration,
    /// How long a seat may stay silent (not even 100 Trying) before it counts as unreachable.
    pub no_response: Duration,
}

/// The ringing call's deadlines; the rating dialog keeps its own while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    /// The route's ring timeout: nobody answered.
    Ring,
    /// This leg has sent nothing at all (not even 100 Trying) for `no_response`.
    Silent(LegId),
}

pub struct CallMachine {
    phase: Phase,
    legs: Vec<LegState>,
    timers: TimerTable<Timer>,
    no_response: Duration,
    told_ringing: bool,
    rating: Option<RatingRules>,
    rating_dialog: Option<RatingDialog>,
    actions: VecDeque<Action>,
    /// A seat's own call to a unit: its contacts are rung one after another, leg `i` for
    /// attempt `i`, each on the hunt's timers instead of the route's ring timeout.
    hunt: Option<Hunt>,
}

impl CallMachine {
    /// Starts ringing `legs` seat legs at once (ring-all, or the one seat a route names).
    pub fn new(now: Instant, legs: usize, timeouts: Timeouts) -> Self {
        let mut machine = Self {
            phase: Phase::Ringing,
            legs: vec![LegState::Calling; legs],
            timers: TimerTable::default(),
            no_response: timeouts.no_response,
            told_ringing: false,
            rating: None,
            rating_dialog: None,
            actions: VecDeque::new(),
            hunt: None,
        };
        if legs == 0 {
            // Nobody to ring: the seats are unreachable, not busy and not unanswering.
            machine.reject(480, Disposition::Unreachable);
        } else {
            machine.actions.extend((0..legs).map(Action::Ring));
            machine.timers.set(Timer::Ring, now + timeouts.ring);
            for leg in 0..legs {
                machine
                    .timers
                    .set(Timer::Silent(leg), now + timeouts.no_response);
            }
        }
        machine
    }

    /// With `rules`, a caller whose seat hangs up first rates the service before the call ends.
    pub fn with_rating(mut self, rules: Option<RatingRules>) -> Self {
        self.rating = rules;
        self
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Phase::Rating(_) = self.phase {
            return self.rating_dialog.as_ref().and_then(|d| d.poll_timeout());
        }
        if self.phase != Phase::Ringing {
            return None;
        }
        match (self.timers.next(), self.hunt_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Rating(leg) = self.phase {
            let steps = self
                .rating_dialog
                .as_mut()
                .map(|d| d.handle_timeout(now))
                .unwrap_or_default();
            self.rating_steps(leg, steps);
            return;
        }
        if self.phase != Phase::Ringing {
            return;
        }
        // Ringing out ends it all, whatever else fell due with it.
        if self
            .timers
            .deadline(&Timer::Ring)
            .is_some_and(|at| at <= now)
        {
            self.cancel_ringing_legs();
            self.reject(480, Disposition::NoAnswer);
            return;
        }
        let mut gave_up = false;
        while let Some((_, timer)) = self.timers.pop_expired(now) {
            if let Timer::Silent(leg) = timer {
                // Give up on it without waiting 32 s for Timer B; a late answer is hung up.
                self.set_leg(leg, LegState::Failed(408));
                self.actions.push_back(Action::Cancel(leg));
                gave_up = !self.hunt_input(now, HuntInput::Failed(408)) || gave_up;
            }
        }
        if gave_up {
            self.settle_if_all_failed();
        }
        if self.hunt_timeout().is_some_and(|at| at <= now) {
            self.hunt_due(now);
        }
    }

    /// A leg's new state; a leg that has said anything is no longer silent.
    fn set_leg(&mut self, leg: LegId, state: LegState) {
        if let Some(s) = self.legs.get_mut(leg) {
            *s = state;
            if state != LegState::Calling {
                self.timers.stop(&Timer::Silent(leg));
            }
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        if let Phase::Rating(leg) = self.phase {
            if let Input::SeatAnswered { leg } = input {
                // A forked seat answering late: ACK it and hang it up.
                self.actions.push_back(Action::AckAndHangUp(leg));
                return;
            }
            let Some(input) = rating_input(&input) else {
                return;
            };
            let steps = self
                .rating_dialog
                .as_mut()
                .map(|d| d.handle(now, input))
                .unwrap_or_default();
            self.rating_steps(leg, steps);
            return;
        }
        let input_is_shutdown = input == Input::Shutdown;
        match (self.phase, input) {
            (Phase::Ringing, Input::CallerCancelled) => {
                self.cancel_ringing_legs();
                self.hunt_input(now, HuntInput::Stop);
                self.actions.push_back(Action::RejectCaller(487));
                self.finish(
                    Disposition::Abandoned,
                    Some(487),
                    Some(EndedBy::Caller),
                    None,
                );
            }
            (Phase::Ringing, Input::SeatProvisional { leg, status }) => {
                if self.leg_is(leg, LegState::Calling) {
                    self.set_leg(leg, LegState::Ringing);
                }
                if status >= 180 && !self.told_ringing && self.leg_is(leg, LegState::Ringing) {
                    self.told_ringing = true;
                    self.actions.push_back(Action::CallerRinging);
                }
            }
            (Phase::Ringing, Input::SeatAnswered { leg }) if leg < self.legs.len() => {
                self.set_leg(leg, LegState::Answered);
                self.phase = Phase::Connected(leg);
                self.actions.push_back(Action::Connect(leg));
                for other in 0..self.legs.len() {
                    if other != leg && self.leg_pending(other) {
                        self.set_leg(other, LegState::Cancelled);
                        self.actions.push_back(Action::Cancel(other));
                    }
                }
                self.hunt_input(now, HuntInput::Answered);
            }
            (Phase::Ringing, Input::SeatFailed { leg, status }) if self.leg_pending(leg) => {
                self.set_leg(leg, LegState::Failed(status));
                if !self.hunt_input(now, HuntInput::Failed(status)) {
                    self.settle_if_all_failed();
                }
            }
            (Phase::Connected(_) | Phase::Done, Input::SeatAnswered { leg }) => {
                // Forked seats raced; the loser's 2xx must still be ACKed, then hung up.
                self.actions.push_back(Action::AckAndHangUp(leg));
            }
            (Phase::Connected(active), Input::SeatAnswerUnusable { leg }) if leg == active => {
                self.actions.push_back(Action::ByeSeat(leg));
                self.actions.push_back(Action::RejectCaller(488));
                self.finish(Disposition::Failed, Some(488), Some(EndedBy::Daemon), None);
            }
            (Phase::Connected(active), Input::Spliced) => {
                self.phase = Phase::Spliced(active);
                self.actions.push_back(Action::ByeCaller);
            }
            (Phase::Spliced(active), Input::SeatBye { leg }) if leg == active => {
                self.actions.push_back(Action::TellPeerGone);
                self.finish(
                    Disposition::Answered,
                    None,
                    Some(EndedBy::Seat),
                    Some(active),
                );
            }
            (Phase::Spliced(active), Input::PeerGone | Input::Shutdown) => {
                self.actions.push_back(Action::ByeSeat(active));
                if input_is_shutdown {
                    self.actions.push_back(Action::TellPeerGone);
                }
                self.finish(
                    Disposition::Answered,
                    None,
                    Some(EndedBy::Caller),
                    Some(active),
                );
            }
            (Phase::Connected(active), Input::CallerBye) => {
                self.actions.push_back(Action::ByeSeat(active));
                self.finish(
                    Disposition::Answered,
                    None,
                    Some(EndedBy::Caller),
                    Some(active),
                );
            }
            (Phase::Connected(active), Input::SeatBye { leg }) if leg == active => {
                if let Some(rules) = self.rating.clone() {
                    let (dialog, first) = RatingDialog::start(rules);
                    self.rating_dialog = Some(dialog);
                    self.phase = Phase::Rating(active);
                    self.rating_steps(active, vec![first]);
                    return;
                }
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Answered,
                    None,
                    Some(EndedBy::Seat),
                    Some(active),
                );
            }
            (Phase::Ringing, Input::Shutdown) => {
                self.cancel_ringing_legs();
                self.reject(503, Disposition::Failed);
            }
            (Phase::Connected(active), Input::Shutdown) => {
                self.actions.push_back(Action::ByeSeat(active));
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Answered,
                    None,
                    Some(EndedBy::Daemon),
                    Some(active),
                );
            }
            (Phase::Connected(active), Input::CallerAckTimeout) => {
                self.actions.push_back(Action::ByeSeat(active));
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Answered,
                    Some(408),
                    Some(EndedBy::Daemon),
                    Some(active),
                );
            }
            _ => {}
        }
    }

    fn rating_steps(&mut self, leg: LegId, steps: Vec<RatingStep>) {
        if rating_actions(steps, &mut self.actions) {
            self.finish(Disposition::Answered, None, Some(EndedBy::Seat), Some(leg));
        }
    }

    fn leg_is(&self, leg: LegId, state: LegState) -> bool {
        self.legs.get(leg).is_some_and(|s| *s == state)
    }

    fn leg_pending(&self, leg: LegId) -> bool {
        self.leg_is(leg, LegState::Calling) || self.leg_is(leg, LegState::Ringing)
    }

    fn cancel_ringing_legs(&mut self) {
        for leg in 0..self.legs.len() {
            if self.leg_pending(leg) {
                self.set_leg(leg, LegState::Cancelled);
                self.actions.push_back(Action::Cancel(leg));
            }
        }
    }

    fn settle_if_all_failed(&mut self) {
        if self.phase != Phase::Ringing
            || self.legs.iter().any(|s| !matches!(s, LegState::Failed(_)))
        {
            return;
        }
        let busy = self
            .legs
            .iter()
            .any(|s| matches!(s, LegState::Failed(486 | 600 | 603)));
        if busy {
            self.reject(486, Disposition::Busy);
        } else {
            self.reject(480, Disposition::Unreachable);
        }
    }

    fn reject(&mut self, status: u16, disposition: Disposition) {
        self.actions.push_back(Action::RejectCaller(status));
        self.finish(disposition, Some(status), Some(EndedBy::Daemon), None);
    }

    fn finish(
        &mut self,
        disposition: Disposition,
        sip_cause: Option<u16>,
        ended_by: Option<EndedBy>,
        answered_leg: Option<LegId>,
    ) {
        self.phase = Phase::Done;
        self.actions.push_back(Action::Finished(Outcome {
            answered_leg,
            ..Outcome::ended(disposition, sip_cause, ended_by)
        }));
    }

    /// The no-response window for tests and the driver's logs.
    pub fn no_response_timeout(&self) -> Duration {
        self.no_response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts {
            ring: Duration::from_secs(20),
            no_response: Duration::from_secs(5),
        }
    }

    fn drain(m: &mut CallMachine) -> Vec<Action> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    fn outcome(actions: &[Action]) -> Option<&Outcome> {
        actions.iter().find_map(|a| match a {
            Action::Finished(o) => Some(o),
            _ => None,
        })
    }

    #[test]
    fn answered_call_ended_by_the_caller() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 2, timeouts());
        assert_eq!(drain(&mut m), vec![Action::Ring(0), Action::Ring(1)]);
        m.handle(
            t0,
            Input::SeatProvisional {
                leg: 1,
                status: 100,
            },
        );
        m.handle(
            t0,
            Input::SeatProvisional {
                leg: 1,
                status: 180,
            },
        );
        m.handle(
            t0,
            Input::SeatProvisional {
                leg: 0,
                status: 180,
            },
        );
        assert_eq!(drain(&mut m), vec![Action::CallerRinging]);
        m.handle(t0, Input::SeatAnswered { leg: 1 });
        assert_eq!(drain(&mut m), vec![Action::Connect(1), Action::Cancel(0)]);
        assert_eq!(m.poll_timeout(), None);
        m.handle(t0, Input::CallerBye);
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::ByeSeat(1));
        let o = outcome(&actions).unwrap();
        assert_eq!(o.disposition, Disposition::Answered);
        assert_eq!(o.ended_by, Some(EndedBy::Caller));
        assert!(m.is_done());
    }

    #[test]
    fn ring_timeout_cancels_and_answers_480() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 1, timeouts());
        drain(&mut m);
        m.handle(
            t0,
            Input::SeatProvisional {
                leg: 0,
                status: 180,
            },
        );
        drain(&mut m);
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        m.handle_timeout(t0 + Duration::from_secs(19));
        assert!(drain(&mut m).is_empty());
        m.handle_timeout(t0 + Duration::from_secs(20));
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::Cancel(0));
        assert_eq!(actions[1], Action::RejectCaller(480));
        assert_eq!(
            outcome(&actions).unwrap().disposition,
            Disposition::NoAnswer
        );
    }

    #[test]
    fn a_silent_seat_is_unreachable_after_the_no_response_timeout() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 1, timeouts());
        drain(&mut m);
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        m.handle_timeout(t0 + Duration::from_secs(5));
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::Cancel(0));
        assert_eq!(actions[1], Action::RejectCaller(480));
        assert_eq!(
            outcome(&actions).unwrap().disposition,
            Disposition::Unreachable
        );
    }

    #[test]
    fn busy_wins_over_other_failures() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 2, timeouts());
        drain(&mut m);
        m.handle(
            t0,
            Input::SeatFailed {
                leg: 0,
                status: 486,
            },
        );
        assert!(drain(&mut m).is_empty());
        m.handle(
            t0,
            Input::SeatFailed {
                leg: 1,
                status: 503,
            },
        );
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::RejectCaller(486));
        assert_eq!(outcome(&actions).unwrap().disposition, Disposition::Busy);
    }

    #[test]
    fn caller_cancel_while_ringing() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 1, timeouts());
        drain(&mut m);
        m.handle(
            t0,
            Input::SeatProvisional {
                leg: 0,
                status: 180,
            },
        );
        drain(&mut m);
        m.handle(t0, Input::CallerCancelled);
        let actions = drain(&mut m);
        assert_eq!(actions[..2], [Action::Cancel(0), Action::RejectCaller(487)]);
        let o = outcome(&actions).unwrap();
        assert_eq!(o.disposition, Disposition::Abandoned);
        assert_eq!(o.sip_cause, Some(487));
    }

    #[test]
    fn no_seat_registered_is_unreachable_at_once() {
        let mut m = CallMachine::new(Instant::now(), 0, timeouts());
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::RejectCaller(480));
        assert_eq!(
            outcome(&actions).unwrap().disposition,
            Disposition::Unreachable
        );
    }

    #[test]
    fn a_late_second_answer_is_hung_up() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 2, timeouts());
        drain(&mut m);
        m.handle(t0, Input::SeatAnswered { leg: 0 });
        drain(&mut m);
        m.handle(t0, Input::SeatAnswered { leg: 1 });
        assert_eq!(drain(&mut m), vec![Action::AckAndHangUp(1)]);
        m.handle(t0, Input::SeatBye { leg: 0 });
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::ByeCaller);
        assert_eq!(outcome(&actions).unwrap().ended_by, Some(EndedBy::Seat));
    }

    #[test]
    fn a_spliced_call_lets_the_caller_go_and_ends_with_its_peer() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(t0, 1, timeouts());
        drain(&mut m);
        m.handle(t0, Input::SeatAnswered { leg: 0 });
        drain(&mut m);
        m.handle(t0, Input::Spliced);
        assert_eq!(drain(&mut m), vec![Action::ByeCaller]);
        // The far party hangs up: the peer is told.
        m.handle(t0, Input::SeatBye { leg: 0 });
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::TellPeerGone);
        assert!(outcome(&actions).is_some());

        let mut m = CallMachine::new(t0, 1, timeouts());
        m.handle(t0, Input::SeatAnswered { leg: 0 });
        m.handle(t0, Input::Spliced);
        drain(&mut m);
        // The peer ended: the far party is hung up, nobody is told back.
        m.handle(t0, Input::PeerGone);
        let actions = drain(&mut m);
        assert_eq!(actions[0], Action::ByeSeat(0));
        assert!(!actions.contains(&Action::TellPeerGone));
    }
}
