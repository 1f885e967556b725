//! One id per call, the same in the logs, the records, the metrics, the board and the API, and
//! the owner of the call's SIP transactions. (The SIP Call-ID of each leg is the peer's and is
//! kept beside it in the records.)

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A call's id; shown as `call-` and the number in hex. `CallId::CORE` owns what the SIP core
/// answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

impl CallId {
    pub const CORE: CallId = CallId(0);
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{:x}", self.0)
    }
}

impl std::str::FromStr for CallId {
    type Err = std::num::ParseIntError;

    /// `call-` and the number in hex, as [`CallId`] shows itself.
    fn from_str(s: &str) -> Result<CallId, Self::Err> {
        let hex = s.strip_prefix("call-").unwrap_or("");
        u64::from_str_radix(hex, 16).map(CallId)
    }
}

/// Bits of an id below the start-up time: calls one start-up may number before its ids could
/// meet those of a start-up one millisecond later.
const SEQUENCE_BITS: u32 = 15;
/// The top byte is left for a node number, for several daemons sharing one store.
const NODE_SHIFT: u32 = 56;

/// Hands out call ids. They count up from the wall-clock time of start-up, so a restarted daemon
/// never gives a call the id of one already in the store.
#[derive(Debug)]
pub struct CallIds {
    next: u64,
}

impl CallIds {
    pub fn starting_at(wall: SystemTime) -> Self {
        let ms = wall
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let first = (ms << SEQUENCE_BITS) & ((1 << NODE_SHIFT) - 1);
        Self { next: first.max(1) }
    }

    pub fn next_id(&mut self) -> CallId {
        let id = CallId(self.next);
        self.next += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_count_up_and_a_later_start_begins_above_an_earlier_one() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let mut first = CallIds::starting_at(t0);
        let a = first.next_id();
        let b = first.next_id();
        assert_eq!(b.0, a.0 + 1);
        let mut restarted = CallIds::starting_at(t0 + Duration::from_secs(1));
        assert!(restarted.next_id().0 > a.0 + 30_000);
        assert!(a.0 >> NODE_SHIFT == 0, "the node byte stays free");
        assert_ne!(a, CallId::CORE);
    }

    #[test]
    fn an_id_shows_as_call_and_hex() {
        assert_eq!(CallId(0x2a).to_string(), "call-2a");
    }
}
