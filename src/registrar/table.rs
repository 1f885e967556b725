//! The bindings themselves: per seat, most recently refreshed first.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::contacts::Change;
use super::error::RegisterError;
use super::Binding;
use crate::sip::flow::Flow;

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

#[derive(Debug, Default)]
pub(super) struct Table {
    by_user: HashMap<String, Vec<Binding>>,
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
            .flatten()
            .filter(move |b| b.expires_at > now)
    }

    pub(super) fn users(&self, now: Instant) -> impl Iterator<Item = &str> + '_ {
        self.by_user
            .iter()
            .filter(move |(_, bs)| bs.iter().any(|b| b.expires_at > now))
            .map(|(u, _)| u.as_str())
    }

    pub(super) fn live_count(&self, now: Instant) -> usize {
        self.by_user
            .values()
            .flatten()
            .filter(|b| b.expires_at > now)
            .count()
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
        let current = self.by_user.get(user).map(Vec::as_slice).unwrap_or(&[]);
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
        let current = self.by_user.get(user).map(Vec::as_slice).unwrap_or(&[]);
        if current.iter().any(|b| origin.is_older_than(b)) {
            return Err(RegisterError::OutOfOrder);
        }
        self.by_user.remove(user);
        Ok(())
    }

    pub(super) fn purge(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        self.by_user.retain(|_, bindings| {
            let before = bindings.len();
            bindings.retain(|b| b.expires_at > now);
            dropped += before - bindings.len();
            !bindings.is_empty()
        });
        dropped
    }

    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.by_user.values().flatten().map(|b| b.expires_at).min()
    }

    fn purge_user(&mut self, now: Instant, user: &str) {
        if let Some(bindings) = self.by_user.get_mut(user) {
            bindings.retain(|b| b.expires_at > now);
            if bindings.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    fn store(&mut self, user: &str, bindings: Vec<Binding>) {
        if bindings.is_empty() {
            self.by_user.remove(user);
        } else {
            self.by_user.insert(user.to_string(), bindings);
        }
    }
}
