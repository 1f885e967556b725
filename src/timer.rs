//! A table of deadlines keyed by what each one is for.
//!
//! A state machine arms its timers here and its driver sleeps until [`TimerTable::next`]; the
//! table hands back expired timers in deadline order, ties broken on the key, so that catching up
//! after a late wake-up replays them as they should have run. Every operation is O(log n): an
//! ordered map finds a key's deadline and an ordered set keeps `(deadline, key)` pairs.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;

/// A moment no deadline reaches: what a driver sleeps until when it has no timer armed (its
/// `select!` branch is disabled then, but needs a value).
pub fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(86_400)
}

#[derive(Debug)]
pub struct TimerTable<K> {
    deadlines: BTreeMap<K, Instant>,
    /// The same timers ordered by deadline; ties break on the key so replay is deterministic.
    order: BTreeSet<(Instant, K)>,
}

impl<K> Default for TimerTable<K> {
    fn default() -> Self {
        Self {
            deadlines: BTreeMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<K: Copy + Ord> TimerTable<K> {
    /// Arms `key`, replacing its previous deadline.
    pub fn set(&mut self, key: K, at: Instant) {
        if let Some(old) = self.deadlines.insert(key, at) {
            self.order.remove(&(old, key));
        }
        self.order.insert((at, key));
    }

    /// Disarms `key`; nothing happens if it was not armed.
    pub fn stop(&mut self, key: &K) {
        if let Some(old) = self.deadlines.remove(key) {
            self.order.remove(&(old, *key));
        }
    }

    pub fn is_set(&self, key: &K) -> bool {
        self.deadlines.contains_key(key)
    }

    pub fn deadline(&self, key: &K) -> Option<Instant> {
        self.deadlines.get(key).copied()
    }

    /// The earliest deadline, for the driver's sleep.
    pub fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    /// The earliest timer due at `now`, disarmed, with its deadline.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Instant, K)> {
        let &(at, key) = self.order.first().filter(|(at, _)| *at <= now)?;
        self.stop(&key);
        Some((at, key))
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.deadlines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deadlines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    enum Key {
        WrapUp(u32),
        Announce(u64),
        MaxWait(u64),
    }

    #[test]
    fn expired_timers_come_back_in_deadline_order() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = TimerTable::default();
        timers.set(Key::WrapUp(0), t0 + s(10));
        timers.set(Key::Announce(1), t0 + s(30));
        timers.set(Key::MaxWait(1), t0 + s(5));
        timers.set(Key::WrapUp(0), t0 + s(20));
        assert_eq!(timers.next(), Some(t0 + s(5)));
        assert_eq!(timers.len(), 3);
        timers.stop(&Key::MaxWait(1));
        assert_eq!(timers.pop_expired(t0 + s(15)), None);
        assert_eq!(
            timers.pop_expired(t0 + s(40)),
            Some((t0 + s(20), Key::WrapUp(0)))
        );
        assert_eq!(
            timers.pop_expired(t0 + s(40)),
            Some((t0 + s(30), Key::Announce(1)))
        );
        assert_eq!(timers.next(), None);
        assert!(timers.is_empty());
    }

    #[test]
    fn equal_deadlines_break_ties_on_the_key() {
        let t0 = Instant::now();
        let mut timers = TimerTable::default();
        timers.set(Key::MaxWait(2), t0);
        timers.set(Key::WrapUp(9), t0);
        timers.set(Key::Announce(1), t0);
        let popped: Vec<Key> = std::iter::from_fn(|| timers.pop_expired(t0))
            .map(|(_, k)| k)
            .collect();
        assert_eq!(popped, [Key::WrapUp(9), Key::Announce(1), Key::MaxWait(2)]);
    }

    #[test]
    fn stop_and_deadline_follow_the_latest_set() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut timers = TimerTable::default();
        assert_eq!(timers.deadline(&Key::Announce(3)), None);
        timers.set(Key::Announce(3), t0 + s(1));
        timers.set(Key::Announce(3), t0 + s(7));
        assert!(timers.is_set(&Key::Announce(3)));
        assert_eq!(timers.deadline(&Key::Announce(3)), Some(t0 + s(7)));
        assert_eq!(timers.pop_expired(t0 + s(1)), None);
        timers.stop(&Key::Announce(3));
        timers.stop(&Key::Announce(3));
        assert!(!timers.is_set(&Key::Announce(3)));
        assert_eq!((timers.len(), timers.next()), (0, None));
    }
}
