//! How often the log speaks of one source: the first security event of a kind from a source is
//! logged at once, the repeats within the interval only counted, and at the end of the interval
//! one line sums them up. Sources beyond the table's capacity share one entry per kind, so a
//! flood from many addresses cannot make the log (or this table) grow without bound.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::timer::TimerTable;

/// Sources tracked at once per daemon; beyond this, events share an entry per kind.
pub const MAX_ENTRIES: usize = 10_000;

/// A kind of event and its source; `None` stands for every source beyond the capacity.
pub type Key = (&'static str, Option<IpAddr>);

/// Repeats of one key that were counted but not logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub kind: &'static str,
    pub source: Option<IpAddr>,
    pub repeats: u64,
    /// How long ago the logged event was, when the summary is made.
    pub over: Duration,
}

#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    capacity: usize,
    /// Since when each key is quiet, and how many events it kept quiet.
    entries: BTreeMap<Key, (Instant, u64)>,
    ends: TimerTable<Key>,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> LogThrottle {
        LogThrottle::with_capacity(interval, MAX_ENTRIES)
    }

    pub fn with_capacity(interval: Duration, capacity: usize) -> LogThrottle {
        LogThrottle {
            interval,
            capacity,
            entries: BTreeMap::new(),
            ends: TimerTable::default(),
        }
    }

    /// One event: true when it is to be logged now, false when it is counted for the summary.
    pub fn event(&mut self, now: Instant, kind: &'static str, source: IpAddr) -> bool {
        let mut key = (kind, Some(source));
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            key = (kind, None);
        }
        if let Some((_, repeats)) = self.entries.get_mut(&key) {
            *repeats += 1;
            return false;
        }
        self.entries.insert(key, (now, 0));
        self.ends.set(key, now + self.interval);
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ends.next()
    }

    /// Ends every interval that is over; the summaries of those that kept events quiet.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Summary> {
        let mut summaries = Vec::new();
        while let Some((_, key)) = self.ends.pop_expired(now) {
            let Some((since, repeats)) = self.entries.remove(&key) else {
                continue;
            };
            if repeats > 0 {
                summaries.push(Summary {
                    kind: key.0,
                    source: key.1,
                    repeats,
                    over: now.saturating_duration_since(since),
                });
            }
        }
        summaries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn one_line_a_source_and_kind_per_interval_then_a_count() {
        let t0 = Instant::now();
        let mut log = LogThrottle::new(MINUTE);
        assert!(log.event(t0, "acl_denied", ip(1)));
        assert!(log.event(t0, "auth_failed", ip(1)));
        assert!(log.event(t0, "acl_denied", ip(2)));
        let logged = (1..20_000u64)
            .filter(|i| log.event(t0 + Duration::from_millis(i / 1000), "acl_denied", ip(1)))
            .count();
        assert_eq!(logged, 0);
        assert_eq!(log.poll_timeout(), Some(t0 + MINUTE));
        assert_eq!(
            log.handle_timeout(t0 + MINUTE - Duration::from_millis(1)),
            []
        );
        assert_eq!(
            log.handle_timeout(t0 + MINUTE),
            [Summary {
                kind: "acl_denied",
                source: Some(ip(1)),
                repeats: 19_999,
                over: MINUTE
            }]
        );
        assert!(log.is_empty());
        // The next interval starts with a logged line again.
        assert!(log.event(t0 + MINUTE, "acl_denied", ip(1)));
    }

    #[test]
    fn sources_beyond_the_capacity_share_a_line_per_kind() {
        let t0 = Instant::now();
        let mut log = LogThrottle::with_capacity(MINUTE, 3);
        let logged = (0..=255u8)
            .filter(|i| log.event(t0, "acl_denied", ip(*i)))
            .count();
        assert_eq!(logged, 4, "three sources, then one line for the rest");
        assert_eq!(log.len(), 4);
        assert!(log.event(t0, "scanner", ip(200)));
        let summaries = log.handle_timeout(t0 + MINUTE);
        assert_eq!(summaries.len(), 1);
        assert_eq!((summaries[0].source, summaries[0].repeats), (None, 252));
    }
}
