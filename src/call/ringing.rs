//! Ringing one outbound leg, as a machine without I/O: the leg rings until the far end
//! answers, refuses, or its ring timeout passes; a leg that rang out is cancelled, and a 2xx
//! that crossed the CANCEL is taken and hung up within a grace period. The driver feeds it the
//! leg's responses and time, and carries out its actions.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::timer::TimerTable;

/// How long a cancelled leg may take to end (its 487, or a 2xx that crossed the CANCEL).
pub const CANCEL_GRACE: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingInput {
    /// 1xx.
    Provisional,
    /// 2xx.
    Answered,
    /// A final failure (3xx to 6xx), or the 408 of a transaction that timed out.
    Failed(u16),
    /// The daemon is stopping.
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingAction {
    /// CANCEL the INVITE.
    Cancel,
    /// ACK the 2xx that came after the CANCEL, and hang it up.
    HangUpLate,
}

/// How the ringing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingEnd {
    Answered,
    Refused(u16),
    RangOut,
    /// Cancelled because the daemon is stopping.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    RingOut,
    CancelGrace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ringing,
    /// Cancelled; `why` is how the ringing ends once the leg has.
    Cancelling {
        why: RingEnd,
    },
    Done(RingEnd),
}

#[derive(Debug)]
pub struct Ringing {
    state: State,
    timers: TimerTable<Timer>,
    actions: VecDeque<RingAction>,
}

impl Ringing {
    /// The leg's INVITE has just gone out; it may ring `ring_timeout`.
    pub fn new(now: Instant, ring_timeout: Duration) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::RingOut, now + ring_timeout);
        Self {
            state: State::Ringing,
            timers,
            actions: VecDeque::new(),
        }
    }

    pub fn poll_action(&mut self) -> Option<RingAction> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// How the ringing ended, once it has.
    pub fn outcome(&self) -> Option<RingEnd> {
        match self.state {
            State::Done(end) => Some(end),
            _ => None,
        }
    }

    pub fn handle(&mut self, now: Instant, input: RingInput) {
        match (self.state, input) {
            (_, RingInput::Provisional) | (State::Done(_), _) => {}
            (State::Ringing, RingInput::Answered) => self.end(RingEnd::Answered),
            (State::Ringing, RingInput::Failed(status)) => self.end(RingEnd::Refused(status)),
            (State::Ringing, RingInput::Shutdown) => self.cancel(now, RingEnd::Stopped),
            (State::Cancelling { why }, RingInput::Answered) => {
                self.actions.push_back(RingAction::HangUpLate);
                self.end(why);
            }
            (State::Cancelling { why }, RingInput::Failed(_) | RingInput::Shutdown) => {
                self.end(why)
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((_, timer)) = self.timers.pop_expired(now) {
            match (self.state, timer) {
                (State::Ringing, Timer::RingOut) => self.cancel(now, RingEnd::RangOut),
                (State::Cancelling { why }, Timer::CancelGrace) => self.end(why),
                _ => {}
            }
        }
    }

    fn cancel(&mut self, now: Instant, why: RingEnd) {
        self.actions.push_back(RingAction::Cancel);
        self.timers.stop(&Timer::RingOut);
        self.timers.set(Timer::CancelGrace, now + CANCEL_GRACE);
        self.state = State::Cancelling { why };
    }

    fn end(&mut self, end: RingEnd) {
        self.timers = TimerTable::default();
        self.state = State::Done(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: Duration = Duration::from_secs(30);

    fn drain(r: &mut Ringing) -> Vec<RingAction> {
        std::iter::from_fn(|| r.poll_action()).collect()
    }

    #[test]
    fn an_answer_in_time_ends_the_ringing() {
        let t0 = Instant::now();
        let mut r = Ringing::new(t0, RING);
        r.handle(t0 + Duration::from_secs(1), RingInput::Provisional);
        assert_eq!(r.outcome(), None);
        r.handle(t0 + Duration::from_secs(9), RingInput::Answered);
        assert_eq!(r.outcome(), Some(RingEnd::Answered));
        assert_eq!(drain(&mut r), []);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_refusal_ends_it_with_its_status() {
        let t0 = Instant::now();
        let mut r = Ringing::new(t0, RING);
        r.handle(t0, RingInput::Failed(486));
        assert_eq!(r.outcome(), Some(RingEnd::Refused(486)));
        assert_eq!(drain(&mut r), []);
    }

    #[test]
    fn a_leg_that_rings_out_is_cancelled_and_ends_with_its_487() {
        let t0 = Instant::now();
        let mut r = Ringing::new(t0, RING);
        assert_eq!(r.poll_timeout(), Some(t0 + RING));
        r.handle_timeout(t0 + RING - Duration::from_millis(1));
        assert_eq!(drain(&mut r), []);
        r.handle_timeout(t0 + RING);
        assert_eq!(drain(&mut r), [RingAction::Cancel]);
        assert_eq!(r.outcome(), None, "not over until the leg is");
        assert_eq!(r.poll_timeout(), Some(t0 + RING + CANCEL_GRACE));
        r.handle(t0 + RING, RingInput::Failed(487));
        assert_eq!(r.outcome(), Some(RingEnd::RangOut));
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn an_answer_that_crossed_the_cancel_is_hung_up() {
        let t0 = Instant::now();
        let mut r = Ringing::new(t0, RING);
        r.handle_timeout(t0 + RING);
        drain(&mut r);
        r.handle(t0 + RING, RingInput::Answered);
        assert_eq!(drain(&mut r), [RingAction::HangUpLate]);
        assert_eq!(r.outcome(), Some(RingEnd::RangOut));
    }

    #[test]
    fn a_cancelled_leg_that_never_ends_is_given_up_after_the_grace() {
        let t0 = Instant::now();
        let mut r = Ringing::new(t0, RING);
        r.handle(t0, RingInput::Shutdown);
        assert_eq!(drain(&mut r), [RingAction::Cancel]);
        r.handle_timeout(t0 + CANCEL_GRACE);
        assert_eq!(r.outcome(), Some(RingEnd::Stopped));
        // Nothing moves a finished ringing.
        r.handle(t0 + CANCEL_GRACE, RingInput::Answered);
        assert_eq!(drain(&mut r), []);
        assert_eq!(r.outcome(), Some(RingEnd::Stopped));
    }
}
