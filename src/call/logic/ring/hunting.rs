//! The call machine's hunt: a seat's own call to a unit rings the unit's contacts one after
//! another (`call::hunt` decides when); each attempt is one more leg of this call, and the call
//! fails only when the hunt has run out.

use tokio::time::Instant;

use super::{CallMachine, LegState, Phase, Timeouts};
use crate::call::hunt::{Hunt, HuntAction, HuntInput};
use crate::call::logic::{Action, HuntAttempt};
use crate::dialplan::Hunting;
use crate::store::Disposition;
use crate::timer::TimerTable;

impl CallMachine {
    /// A call that hunts through `attempts` planned contacts, leg `i` ringing attempt `i`;
    /// `timeouts.no_response` still gives up on a contact that sends nothing at all.
    pub fn hunting(now: Instant, attempts: usize, hunting: Hunting, timeouts: Timeouts) -> Self {
        let mut machine = CallMachine {
            phase: Phase::Ringing,
            legs: Vec::new(),
            timers: TimerTable::default(),
            no_response: timeouts.no_response,
            told_ringing: false,
            rating: None,
            rating_dialog: None,
            actions: Default::default(),
            hunt: Some(Hunt::start(now, attempts, hunting)),
        };
        machine.run_hunt(now);
        machine
    }

    /// Passes `input` to the hunt, if this call hunts; false if it does not.
    pub(super) fn hunt_input(&mut self, now: Instant, input: HuntInput) -> bool {
        let Some(hunt) = self.hunt.as_mut() else {
            return false;
        };
        hunt.handle(now, input);
        self.run_hunt(now);
        true
    }

    pub(super) fn hunt_timeout(&self) -> Option<Instant> {
        self.hunt.as_ref().and_then(Hunt::poll_timeout)
    }

    pub(super) fn hunt_due(&mut self, now: Instant) {
        if let Some(hunt) = self.hunt.as_mut() {
            hunt.handle_timeout(now);
            self.run_hunt(now);
        }
    }

    fn run_hunt(&mut self, now: Instant) {
        while let Some(action) = self.hunt.as_mut().and_then(Hunt::poll_action) {
            match action {
                HuntAction::Ring(leg) => {
                    if self.phase != Phase::Ringing {
                        continue;
                    }
                    self.legs.resize(leg + 1, LegState::Failed(0));
                    self.legs[leg] = LegState::Calling;
                    self.actions.push_back(Action::Ring(leg));
                    self.timers
                        .set(super::Timer::Silent(leg), now + self.no_response);
                }
                HuntAction::Cancel => {
                    if let Some(leg) = (0..self.legs.len()).rev().find(|&l| self.leg_pending(l)) {
                        self.set_leg(leg, LegState::Cancelled);
                        self.actions.push_back(Action::Cancel(leg));
                    }
                }
                HuntAction::MovedOn => {}
                HuntAction::Attempted {
                    index,
                    outcome,
                    status,
                    rung,
                } => self.actions.push_back(Action::Attempted(HuntAttempt {
                    leg: index,
                    outcome,
                    status,
                    rung,
                })),
                HuntAction::Exhausted { status } => {
                    if self.phase == Phase::Ringing {
                        if matches!(status, 486 | 600 | 603) {
                            self.reject(486, Disposition::Busy);
                        } else {
                            self.reject(480, Disposition::NoAnswer);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::call::logic::Input;
    use crate::store::ContactOutcome;

    fn hunting() -> Hunting {
        Hunting {
            ring_timeout: Duration::from_secs(30),
            attempts: 1,
            pause: Duration::from_secs(5),
        }
    }

    fn timeouts() -> Timeouts {
        Timeouts {
            ring: Duration::from_secs(60),
            no_response: Duration::from_secs(5),
        }
    }

    fn drain(m: &mut CallMachine) -> Vec<Action> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    #[test]
    fn a_busy_contact_then_a_silent_one_then_an_answer() {
        let t0 = Instant::now();
        let mut m = CallMachine::hunting(t0, 3, hunting(), timeouts());
        assert_eq!(drain(&mut m), [Action::Ring(0)]);
        m.handle(
            t0,
            Input::SeatFailed {
                leg: 0,
                status: 486,
            },
        );
        let a = drain(&mut m);
        assert!(
            matches!(
                a.as_slice(),
                [Action::Attempted(HuntAttempt {
                    leg: 0,
                    outcome: ContactOutcome::Busy,
                    ..
                })]
            ),
            "{a:?}"
        );
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        m.handle_timeout(t0 + Duration::from_secs(5));
        assert_eq!(drain(&mut m), [Action::Ring(1)]);
        // Leg 1 says nothing at all for 5 s: given up, and the next contact rings after the pause.
        m.handle_timeout(t0 + Duration::from_secs(10));
        let a = drain(&mut m);
        assert!(matches!(a.first(), Some(Action::Cancel(1))), "{a:?}");
        assert!(
            a.iter()
                .any(|x| matches!(x, Action::Attempted(HuntAttempt { leg: 1, .. }))),
            "{a:?}"
        );
        m.handle_timeout(t0 + Duration::from_secs(15));
        assert_eq!(drain(&mut m), [Action::Ring(2)]);
        m.handle(
            t0 + Duration::from_secs(16),
            Input::SeatProvisional {
                leg: 2,
                status: 180,
            },
        );
        assert_eq!(drain(&mut m), [Action::CallerRinging]);
        m.handle(t0 + Duration::from_secs(17), Input::SeatAnswered { leg: 2 });
        let a = drain(&mut m);
        assert_eq!(a[0], Action::Connect(2));
        assert!(
            matches!(
                a.last(),
                Some(Action::Attempted(HuntAttempt {
                    leg: 2,
                    outcome: ContactOutcome::Answered,
                    ..
                }))
            ),
            "{a:?}"
        );
    }

    #[test]
    fn the_route_ring_timeout_does_not_cut_a_hunt_short() {
        let t0 = Instant::now();
        let mut m = CallMachine::hunting(t0, 2, hunting(), timeouts());
        drain(&mut m);
        m.handle(
            t0,
            Input::SeatProvisional {
                leg: 0,
                status: 180,
            },
        );
        drain(&mut m);
        // 30 s of ringing, a 5 s pause, 30 s more: beyond the route's 60 s.
        m.handle_timeout(t0 + Duration::from_secs(30));
        m.handle_timeout(t0 + Duration::from_secs(35));
        m.handle(
            t0 + Duration::from_secs(35),
            Input::SeatProvisional {
                leg: 1,
                status: 180,
            },
        );
        m.handle_timeout(t0 + Duration::from_secs(64));
        assert!(!m.is_done());
        m.handle_timeout(t0 + Duration::from_secs(65));
        let a = drain(&mut m);
        assert!(a.contains(&Action::RejectCaller(480)), "{a:?}");
        assert!(m.is_done());
    }

    #[test]
    fn the_seat_hanging_up_stops_the_hunt() {
        let t0 = Instant::now();
        let mut m = CallMachine::hunting(t0, 3, hunting(), timeouts());
        drain(&mut m);
        m.handle(t0 + Duration::from_secs(2), Input::CallerCancelled);
        let a = drain(&mut m);
        assert!(
            a.iter().any(|x| matches!(
                x,
                Action::Attempted(HuntAttempt {
                    outcome: ContactOutcome::StoppedBySeat,
                    ..
                })
            )),
            "{a:?}"
        );
        assert!(matches!(a.last(), Some(Action::Finished(_))), "{a:?}");
        assert_eq!(m.poll_timeout(), None);
    }
}
