//! The bindings themselves: per seat, most recently refreshed first.
//!
//! Each user with bindings has a number and one timer in a [`TimerTable`], armed at its earliest
//! binding expiry, so finding the next expiry and purging cost O(log n) per expired user rather
//! than a walk over every binding.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::contacts::Change;
use super::error::RegisterError;
use super::Binding;
use crate::sip::flow::Flow;
use crate::timer::TimerTable;

/// Bounds memory per seat; a desk phone plus a softphone or two is the real-world need.
pub const MAX_CONTACTS_PER_SEAT: usize = 10;

/// Identifies the REGISTER that makes a change, for the ordering check.
pub(super) struct Origin<'a> {
    pub flow: Flow,
    pub call_id: &'a str,
    pub cseq: u32,
}

impl Origin<'_> {
    /// RFC 3261 §10.3 step 7: same Call-ID and a CSeq not above the stored one means this
    /// request was overtaken by a later one from the same phone.
    fn is_older_than(&self, binding: &Binding) -> bool {
        binding.call_id == self.call_id && self.cseq <= binding.cseq
    }
}

/// A user's number in the expiry timers, given out when its first binding is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct UserNo(u64);

#[derive(Debug)]
struct UserBindings {
    no: UserNo,
    bindings: Vec<Binding>,
}

#[derive(Debug, Default)]
pub(super) struct Table {
    by_user: HashMap<String, UserBindings>,
    /// Each user's earliest binding expiry.
    expiries: TimerTable<UserNo>,
    users: HashMap<UserNo, String>,
    last_no: u64,
}

impl Table {
    pub(super) fn live<'a>(
        &'a self,
        now: Instant,
        user: &str,
    ) -> impl Iterator<Item = &'a Binding> + 'a {
        self.by_user
            .get(user)
            .into_iter()
            .flat_map(|u| &u.bindings)
            .filter(move |b| b.expires_at > now)
    }

    pub(super) fn users(&self, now: Instant) -> impl Iterator<Item = &str> + '_ {
        self.by_user
            .iter()
            .filter(move |(_, u)| u.bindings.iter().any(|b| b.expires_at > now))
            .map(|(u, _)| u.as_str())
    }

    pub(super) fn live_count(&self, now: Instant) -> usize {
        self.every_live(now).count()
    }

    /// Every unexpired binding of every user.
    pub(super) fn every_live(&self, now: Instant) -> impl Iterator<Item = &Binding> + '_ {
        self.by_user
            .values()
            .flat_map(|u| &u.bindings)
            .filter(move |b| b.expires_at > now)
    }

    /// Applies every change or none: the request is checked whole before the table moves.
    pub(super) fn apply(
        &mut self,
        now: Instant,
        user: &str,
        origin: &Origin<'_>,
        changes: &[Change],
    ) -> Result<(), RegisterError> {
        self.purge_user(now, user);
        let current = self.current(user);
        let touched = |b: &Binding| changes.iter().any(|c| c.uri == b.contact);
        if current
            .iter()
            .any(|b| touched(b) && origin.is_older_than(b))
        {
            return Err(RegisterError::OutOfOrder);
        }
        let kept = current.iter().filter(|b| !touched(b)).count();
        let added = changes.iter().filter(|c| c.expires_secs > 0).count();
        if kept + added > MAX_CONTACTS_PER_SEAT {
            return Err(RegisterError::TooManyContacts);
        }
        let mut next: Vec<Binding> = changes
            .iter()
            .filter(|c| c.expires_secs > 0)
            .map(|c| Binding {
                user: user.to_string(),
                contact: c.uri.clone(),
                flow: origin.flow,
                expires_at: now + Duration::from_secs(u64::from(c.expires_secs)),
                call_id: origin.call_id.to_string(),
                cseq: origin.cseq,
            })
            .collect();
        next.extend(current.iter().filter(|b| !touched(b)).cloned());
        self.store(user, next);
        Ok(())
    }

    /// `Contact: *`: every binding of the seat goes, unless one of them came from a later
    /// REGISTER of the same phone, in which case nothing goes (RFC 3261 §10.3 step 6).
    pub(super) fn remove_all(
        &mut self,
        now: Instant,
        user: &str,
        origin: &Origin<'_>,
    ) -> Result<(), RegisterError> {
        self.purge_user(now, user);
        if self.current(user).iter().any(|b| origin.is_older_than(b)) {
            return Err(RegisterError::OutOfOrder);
        }
        self.store(user, Vec::new());
        Ok(())
    }

    /// Drops every binding expired at `now`; returns how many. Only users with one are touched.
    pub(super) fn purge(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        while let Some((_, no)) = self.expiries.pop_expired(now) {
            if let Some(user) = self.users.get(&no).cloned() {
                dropped += self.purge_user(now, &user);
            }
        }
        dropped
    }

    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.expiries.next()
    }

    fn current(&self, user: &str) -> &[Binding] {
        self.by_user
            .get(user)
            .map(|u| u.bindings.as_slice())
            .unwrap_or(&[])
    }

    /// Drops the user's expired bindings and re-arms its timer; returns how many went.
    fn purge_user(&mut self, now: Instant, user: &str) -> usize {
        let Some(entry) = self.by_user.get_mut(user) else {
            return 0;
        };
        let mut bindings = std::mem::take(&mut entry.bindings);
        let before = bindings.len();
        bindings.retain(|b| b.expires_at > now);
        let dropped = before - bindings.len();
        self.store(user, bindings);
        dropped
    }

    /// Replaces the user's bindings, and keeps its timer at the earliest expiry among them.
    fn store(&mut self, user: &str, bindings: Vec<Binding>) {
        let Some(first) = bindings.iter().map(|b| b.expires_at).min() else {
            if let Some(gone) = self.by_user.remove(user) {
                self.expiries.stop(&gone.no);
                self.users.remove(&gone.no);
            }
            return;
        };
        let no = match self.by_user.get_mut(user) {
            Some(entry) => {
                entry.bindings = bindings;
                entry.no
            }
            None => {
                self.last_no += 1;
                let no = UserNo(self.last_no);
                self.users.insert(no, user.to_string());
                self.by_user
                    .insert(user.to_string(), UserBindings { no, bindings });
                no
            }
        };
        self.expiries.set(no, first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::flow::Transport;

    fn register(table: &mut Table, now: Instant, user: &str, cseq: u32, contacts: &[(&str, u32)]) {
        let origin = Origin {
            flow: Flow {
                transport: Transport::Udp,
                remote: "192.0.2.10:5060".parse().unwrap(),
            },
            call_id: user,
            cseq,
        };
        let changes: Vec<Change> = contacts
            .iter()
            .map(|(uri, expires_secs)| Change {
                uri: uri.to_string(),
                expires_secs: *expires_secs,
            })
            .collect();
        table.apply(now, user, &origin, &changes).unwrap();
    }

    #[test]
    fn purge_touches_the_expired_and_leaves_no_timer_behind() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut table = Table::default();
        register(
            &mut table,
            t0,
            "101",
            1,
            &[("sip:a@x", 60), ("sip:b@x", 30)],
        );
        register(&mut table, t0, "102", 1, &[("sip:c@x", 90)]);
        register(&mut table, t0, "103", 1, &[("sip:d@x", 20)]);
        assert_eq!(table.next_expiry(), Some(t0 + s(20)));
        // 103 refreshes: its timer moves, 101's 30 s binding is next.
        register(&mut table, t0 + s(10), "103", 2, &[("sip:d@x", 120)]);
        assert_eq!(table.next_expiry(), Some(t0 + s(30)));

        assert_eq!(table.purge(t0 + s(29)), 0);
        assert_eq!(table.purge(t0 + s(30)), 1);
        assert_eq!(table.live_count(t0 + s(30)), 3);
        assert_eq!(table.next_expiry(), Some(t0 + s(60)));
        // 102 removes its binding by hand: no timer stays for it.
        register(&mut table, t0 + s(40), "102", 2, &[("sip:c@x", 0)]);
        assert_eq!(table.purge(t0 + s(100)), 1);
        assert_eq!(table.next_expiry(), Some(t0 + s(130)));
        assert_eq!(table.purge(t0 + s(130)), 1);
        assert_eq!(table.next_expiry(), None);
        assert!(table.by_user.is_empty() && table.users.is_empty());
        assert!(table.expiries.is_empty());
    }
}
