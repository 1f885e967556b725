//! Hunting one unit's contacts, as a state machine without I/O: it rings the planned attempts
//! one after another, each up to the unit's ring timeout, with a pause between them, until a
//! contact answers, the seat stops it, or the plan runs out. Every attempt ends in exactly one
//! `HuntAction::Attempted`, for the contact-failure record.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::dialplan::Hunting;
use crate::store::ContactOutcome;
use crate::timer::TimerTable;

/// The status a hunt ends with when its last contact rang out (as a transaction timing out).
pub const RANG_OUT: u16 = 408;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuntInput {
    /// The attempt ringing now got a final response other than 2xx.
    Failed(u16),
    /// The attempt ringing now answered.
    Answered,
    /// The seat skips to the next contact (`*5`).
    Skip,
    /// The seat stops the hunt (`*0`), or the call ends.
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HuntAction {
    /// Ring attempt `index` of the plan.
    Ring(usize),
    /// Cancel the attempt ringing now.
    Cancel,
    /// The daemon moves on to the next contact: a short tone for the seat.
    MovedOn,
    /// Attempt `index` is over.
    Attempted {
        index: usize,
        outcome: ContactOutcome,
        status: Option<u16>,
        rung: Duration,
    },
    /// Every attempt failed; the status of the last one (408 when it rang out).
    Exhausted { status: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    Ring,
    Pause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ringing { index: usize, since: Instant },
    Pausing { next: usize },
    Done,
}

#[derive(Debug)]
pub struct Hunt {
    attempts: usize,
    hunting: Hunting,
    state: State,
    timers: TimerTable<Timer>,
    actions: VecDeque<HuntAction>,
}

/// How one attempt ended, as the hunt reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptEnd {
    pub outcome: ContactOutcome,
    pub status: Option<u16>,
    pub rung: Duration,
}

/// The record of `planned`, rung from `started_at` for call `call_id`, ended as `end`; the
/// hand-off service files it under its hand-off.
pub fn contact_attempt(
    call_id: &str,
    unit: &str,
    planned: &crate::dialplan::PlannedAttempt,
    started_at: std::time::SystemTime,
    end: AttemptEnd,
) -> crate::store::ContactAttempt {
    crate::store::ContactAttempt {
        handoff_id: None,
        call_id: call_id.to_string(),
        unit: unit.to_string(),
        role: planned.role,
        dialled: planned.dialled.clone(),
        started_at,
        rung: end.rung,
        outcome: end.outcome,
        sip_status: end.status,
    }
}

/// How a final status counts for the contact-failure rule.
pub fn outcome_of(status: u16) -> ContactOutcome {
    match status {
        486 | 600 => ContactOutcome::Busy,
        403 | 603 => ContactOutcome::Rejected,
        408 | 480 | 487 => ContactOutcome::NoAnswer,
        _ => ContactOutcome::Unreachable,
    }
}

impl Hunt {
    /// Starts ringing the first of `attempts` planned attempts (at least one).
    pub fn start(now: Instant, attempts: usize, hunting: Hunting) -> Hunt {
        let mut hunt = Hunt {
            attempts,
            hunting,
            state: State::Done,
            timers: TimerTable::default(),
            actions: VecDeque::new(),
        };
        if attempts == 0 {
            hunt.actions
                .push_back(HuntAction::Exhausted { status: 404 });
        } else {
            hunt.ring(now, 0);
        }
        hunt
    }

    pub fn handle(&mut self, now: Instant, input: HuntInput) {
        match (self.state, input) {
            (State::Ringing { index, since }, HuntInput::Failed(status)) => {
                self.attempted(now, index, since, outcome_of(status), Some(status));
                self.next(now, index + 1, status, true);
            }
            (State::Ringing { index, since }, HuntInput::Answered) => {
                self.attempted(now, index, since, ContactOutcome::Answered, Some(200));
                self.state = State::Done;
            }
            (State::Ringing { index, since }, HuntInput::Skip) => {
                self.actions.push_back(HuntAction::Cancel);
                self.attempted(now, index, since, ContactOutcome::StoppedBySeat, None);
                self.next(now, index + 1, 487, false);
            }
            (State::Ringing { index, since }, HuntInput::Stop) => {
                self.attempted(now, index, since, ContactOutcome::StoppedBySeat, None);
                self.state = State::Done;
            }
            (State::Pausing { next }, HuntInput::Skip) => {
                self.timers.stop(&Timer::Pause);
                self.ring(now, next);
            }
            (State::Pausing { .. }, HuntInput::Stop) => {
                self.timers.stop(&Timer::Pause);
                self.state = State::Done;
            }
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((_, timer)) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::Ring, State::Ringing { index, since }) => {
                    self.actions.push_back(HuntAction::Cancel);
                    self.attempted(now, index, since, ContactOutcome::NoAnswer, None);
                    self.next(now, index + 1, RANG_OUT, true);
                }
                (Timer::Pause, State::Pausing { next }) => self.ring(now, next),
                _ => {}
            }
        }
    }

    pub fn poll_action(&mut self) -> Option<HuntAction> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The attempt ringing now.
    pub fn ringing(&self) -> Option<usize> {
        match self.state {
            State::Ringing { index, .. } => Some(index),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn ring(&mut self, now: Instant, index: usize) {
        self.state = State::Ringing { index, since: now };
        self.timers
            .set(Timer::Ring, now + self.hunting.ring_timeout);
        self.actions.push_back(HuntAction::Ring(index));
    }

    /// After an attempt that did not answer: pause before `next`, or give up.
    fn next(&mut self, now: Instant, next: usize, status: u16, pause: bool) {
        self.timers.stop(&Timer::Ring);
        if next >= self.attempts {
            self.state = State::Done;
            self.actions.push_back(HuntAction::Exhausted { status });
            return;
        }
        self.actions.push_back(HuntAction::MovedOn);
        if pause && !self.hunting.pause.is_zero() {
            self.state = State::Pausing { next };
            self.timers.set(Timer::Pause, now + self.hunting.pause);
        } else {
            self.ring(now, next);
        }
    }

    fn attempted(
        &mut self,
        now: Instant,
        index: usize,
        since: Instant,
        outcome: ContactOutcome,
        status: Option<u16>,
    ) {
        self.timers.stop(&Timer::Ring);
        self.actions.push_back(HuntAction::Attempted {
            index,
            outcome,
            status,
            rung: now.saturating_duration_since(since),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunting() -> Hunting {
        Hunting {
            ring_timeout: Duration::from_secs(30),
            attempts: 3,
            pause: Duration::from_secs(5),
        }
    }

    fn drain(h: &mut Hunt) -> Vec<HuntAction> {
        std::iter::from_fn(|| h.poll_action()).collect()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn each_attempt_rings_to_its_timeout_then_pauses_then_the_next_rings() {
        let t0 = Instant::now();
        let mut h = Hunt::start(t0, 2, hunting());
        assert_eq!(drain(&mut h), [HuntAction::Ring(0)]);
        assert_eq!(h.poll_timeout(), Some(t0 + secs(30)));
        h.handle_timeout(t0 + secs(30));
        assert_eq!(
            drain(&mut h),
            [
                HuntAction::Cancel,
                HuntAction::Attempted {
                    index: 0,
                    outcome: ContactOutcome::NoAnswer,
                    status: None,
                    rung: secs(30)
                },
                HuntAction::MovedOn,
            ]
        );
        assert_eq!(h.poll_timeout(), Some(t0 + secs(35)));
        h.handle_timeout(t0 + secs(35));
        assert_eq!(drain(&mut h), [HuntAction::Ring(1)]);
        h.handle_timeout(t0 + secs(65));
        let last = drain(&mut h);
        assert_eq!(last.last(), Some(&HuntAction::Exhausted { status: 408 }));
        assert!(h.is_done());
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn busy_moves_on_at_once_and_an_answer_ends_the_hunt() {
        let t0 = Instant::now();
        let mut h = Hunt::start(t0, 3, hunting());
        drain(&mut h);
        h.handle(t0 + secs(2), HuntInput::Failed(486));
        assert_eq!(
            drain(&mut h),
            [
                HuntAction::Attempted {
                    index: 0,
                    outcome: ContactOutcome::Busy,
                    status: Some(486),
                    rung: secs(2)
                },
                HuntAction::MovedOn,
            ]
        );
        h.handle_timeout(t0 + secs(7));
        assert_eq!(drain(&mut h), [HuntAction::Ring(1)]);
        h.handle(t0 + secs(10), HuntInput::Answered);
        assert_eq!(
            drain(&mut h),
            [HuntAction::Attempted {
                index: 1,
                outcome: ContactOutcome::Answered,
                status: Some(200),
                rung: secs(3)
            }]
        );
        assert!(h.is_done());
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn the_seat_skips_to_the_next_contact_without_a_pause() {
        let t0 = Instant::now();
        let mut h = Hunt::start(t0, 2, hunting());
        drain(&mut h);
        h.handle(t0 + secs(4), HuntInput::Skip);
        assert_eq!(
            drain(&mut h),
            [
                HuntAction::Cancel,
                HuntAction::Attempted {
                    index: 0,
                    outcome: ContactOutcome::StoppedBySeat,
                    status: None,
                    rung: secs(4)
                },
                HuntAction::MovedOn,
                HuntAction::Ring(1),
            ]
        );
    }

    #[test]
    fn stopping_ends_the_hunt_with_the_attempt_stopped_by_the_seat() {
        let t0 = Instant::now();
        let mut h = Hunt::start(t0, 3, hunting());
        drain(&mut h);
        h.handle(t0 + secs(1), HuntInput::Stop);
        assert!(matches!(
            drain(&mut h).as_slice(),
            [HuntAction::Attempted {
                outcome: ContactOutcome::StoppedBySeat,
                ..
            }]
        ));
        assert!(h.is_done());
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn statuses_count_as_the_rule_wants() {
        assert_eq!(outcome_of(486), ContactOutcome::Busy);
        assert_eq!(outcome_of(603), ContactOutcome::Rejected);
        assert_eq!(outcome_of(480), ContactOutcome::NoAnswer);
        assert_eq!(outcome_of(503), ContactOutcome::Unreachable);
        assert_eq!(outcome_of(404), ContactOutcome::Unreachable);
    }
}
