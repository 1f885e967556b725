//! The ACD's one timer table: every deadline it owns, keyed by what it is for.
//!
//! The driver arms a single `sleep_until(poll_timeout())`; the table hands back expired timers in
//! deadline order so that catching up after a late wake-up replays them as they should have run.

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

/// The ACD's timers; the table is the crate's one implementation.
pub(crate) type TimerTable = crate::timer::TimerTable<Timer>;
