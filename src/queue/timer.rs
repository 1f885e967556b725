//! The ACD's one timer table: every deadline it owns, keyed by what it is for.
//!
//! The driver arms a single `sleep_until(poll_timeout())`; the table hands back expired timers in
//! deadline order so that catching up after a late wake-up replays them as they should have run.

use std::collections::{BTreeSet, HashMap};

use tokio::time::Instant;

use super::seats::SeatIx;
use super::CallId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    /// An offer rang `ring_timeout` without an answer.
    Ring {
        call: CallId,
        seat: SeatIx,
    },
    WrapUp {
        seat: SeatIx,
    },
    /// Time to tell a waiting caller their position.
    Announce {
        call: CallId,
    },
    /// The caller waited `max_wait` in its current queue.
    MaxWait {
        call: CallId,
    },
    /// Every available seat missed this caller; start a new round of offers.
    Retry {
        call: CallId,
    },
}

#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    deadlines: HashMap<Timer, Instant>,
    /// The same timers ordered by deadline; ties break on the timer so replay is deterministic.
    order: BTreeSet<(Instant, Timer)>,
}

impl TimerTable {
    /// Arms `timer`, replacing its previous deadline.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.deadlines.insert(timer, at) {
            self.order.remove(&(old, timer));
        }
        self.order.insert((at, timer));
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        if let Some(old) = self.deadlines.remove(&timer) {
            self.order.remove(&(old, timer));
        }
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.deadlines.contains_key(&timer)
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// The earliest timer due at `now`, disarmed, with its deadline.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(Instant, Timer)> {
        let &(at, timer) = self.order.first().filter(|(at, _)| *at <= now)?;
        self.stop(timer);
        Some((at, timer))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expired_timers_come_back_in_deadline_order() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = TimerTable::default();
        timers.set(Timer::WrapUp { seat: 0 }, t0 + s(10));
        timers.set(Timer::Announce { call: CallId(1) }, t0 + s(30));
        timers.set(Timer::MaxWait { call: CallId(1) }, t0 + s(5));
        timers.set(Timer::WrapUp { seat: 0 }, t0 + s(20));
        assert_eq!(timers.next(), Some(t0 + s(5)));
        timers.stop(Timer::MaxWait { call: CallId(1) });
        assert_eq!(timers.pop_expired(t0 + s(15)), None);
        assert_eq!(
            timers.pop_expired(t0 + s(40)),
            Some((t0 + s(20), Timer::WrapUp { seat: 0 }))
        );
        assert_eq!(
            timers.pop_expired(t0 + s(40)),
            Some((t0 + s(30), Timer::Announce { call: CallId(1) }))
        );
        assert_eq!(timers.next(), None);
    }
}
