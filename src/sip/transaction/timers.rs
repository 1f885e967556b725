//! The transaction layer's deadlines, all in one [`TimerTable`], and what happens when each
//! one comes due.
//!
//! Transaction keys hold Strings, so every record that has timers (a server or client
//! transaction, a 2xx waiting for its ACK, an ACK we sent) gets a copyable [`TxId`] when it is
//! stored, and the table is keyed by that number and the kind of [`Timer`]. Whoever removes a
//! record calls [`Timers::forget`], so the table never outlives what it times: the core loop's
//! `poll_timeout` is the table's earliest deadline and `handle_timeout` touches only what is due.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{CallSeq, ClientKey, Output, ServerKey, Transactions, T2};
use crate::sip::message::Method;
use crate::timer::TimerTable;

/// A stored record's number in the timer table, given out in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct TxId(u64);

/// What a deadline is for (RFC 3261 §17 and §13.3.1.4). At equal deadlines a record's timers
/// fire in this order: a 2xx's wait ends before it is resent, and a retransmission goes out
/// before its transaction times out or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Timer {
    /// Our 2xx has waited 64·T1 for its ACK: the owner hears of it, held BYEs may go.
    GiveUp,
    /// Timers A and E (our request), G (our final to an INVITE) and the 2xx resent until its
    /// ACK arrives.
    Retransmit,
    /// Timers B and F: no final response came, so the owner gets a 408.
    Timeout,
    /// Timers D, H, I, J and K, and the end of the wait for a retransmitted 2xx to our ACK:
    /// the record is dropped.
    Expiry,
}

impl Timer {
    const ALL: [Timer; 4] = [
        Timer::GiveUp,
        Timer::Retransmit,
        Timer::Timeout,
        Timer::Expiry,
    ];
}

/// Which stored record a [`TxId`] stands for.
#[derive(Debug, Clone)]
pub(super) enum Record {
    Server(ServerKey),
    Client(ClientKey),
    /// A 2xx of ours in `Transactions::unacked`.
    Unacked(CallSeq),
    /// An ACK of ours in `Transactions::sent_acks`.
    SentAck(CallSeq),
}

#[derive(Debug, Default)]
pub(super) struct Timers {
    table: TimerTable<(TxId, Timer)>,
    records: BTreeMap<TxId, Record>,
    last_id: u64,
}

impl Timers {
    /// A number for a record about to be stored.
    pub(super) fn register(&mut self, record: Record) -> TxId {
        self.last_id += 1;
        let id = TxId(self.last_id);
        self.records.insert(id, record);
        id
    }

    /// Stops every timer of a record that was removed, and forgets its number.
    pub(super) fn forget(&mut self, id: TxId) {
        for timer in Timer::ALL {
            self.table.stop(&(id, timer));
        }
        self.records.remove(&id);
    }

    pub(super) fn set(&mut self, id: TxId, timer: Timer, at: Instant) {
        self.table.set((id, timer), at);
    }

    pub(super) fn stop(&mut self, id: TxId, timer: Timer) {
        self.table.stop(&(id, timer));
    }

    pub(super) fn is_set(&self, id: TxId, timer: Timer) -> bool {
        self.table.is_set(&(id, timer))
    }

    /// Armed timers and known records, for the tests that check nothing is left behind.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.table.len(), self.records.len())
    }

    /// The earliest timer due at `now`, disarmed, with the record it belongs to.
    fn pop_expired(&mut self, now: Instant) -> Option<(Timer, Record)> {
        loop {
            let (_, (id, timer)) = self.table.pop_expired(now)?;
            // Every record's timers are stopped when it is forgotten, so this always finds one.
            if let Some(record) = self.records.get(&id) {
                return Some((timer, record.clone()));
            }
        }
    }
}

/// The interval after `interval`: doubled, and capped at T2 where RFC 3261 caps it.
fn doubled(interval: Duration, capped: bool) -> Duration {
    if capped {
        (interval * 2).min(T2)
    } else {
        interval * 2
    }
}

impl Transactions {
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.table.next()
    }

    /// Fires every timer due at `now`, earliest first, so a late wake-up replays them in the
    /// order they should have run. A retransmission re-arms from `now`: a late driver sends
    /// one copy, not a burst.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((timer, record)) = self.timers.pop_expired(now) {
            match record {
                Record::Server(key) => self.server_timer(now, timer, &key),
                Record::Client(key) => self.client_timer(now, timer, key),
                Record::Unacked(dialog) => self.unacked_timer(now, timer, dialog),
                Record::SentAck(dialog) => {
                    if let Some(ack) = self.sent_acks.remove(&dialog) {
                        self.timers.forget(ack.id);
                    }
                }
            }
        }
    }

    fn server_timer(&mut self, now: Instant, timer: Timer, key: &ServerKey) {
        if timer == Timer::Expiry {
            if let Some(tx) = self.server.remove(key) {
                self.timers.forget(tx.id);
            }
            return;
        }
        let Some(tx) = self.server.get_mut(key) else {
            return;
        };
        // Timer G: resend the final until the ACK, every interval doubled up to T2.
        if let Some((_, bytes)) = &tx.last {
            self.out.push(Output::Transmit {
                flow: tx.flow,
                bytes: bytes.clone(),
            });
        }
        tx.interval = doubled(tx.interval, true);
        self.timers.set(tx.id, Timer::Retransmit, now + tx.interval);
    }

    fn client_timer(&mut self, now: Instant, timer: Timer, key: ClientKey) {
        let Some(tx) = self.client.get_mut(&key) else {
            return;
        };
        if timer == Timer::Retransmit {
            self.out.push(Output::Transmit {
                flow: tx.flow,
                bytes: tx.bytes.clone(),
            });
            // Timer A doubles without bound; Timer E is capped at T2.
            tx.interval = doubled(tx.interval, key.method != Method::Invite);
            self.timers.set(tx.id, Timer::Retransmit, now + tx.interval);
            return;
        }
        let Some(tx) = self.client.remove(&key) else {
            return;
        };
        self.timers.forget(tx.id);
        if timer == Timer::Timeout && !tx.abandoned {
            self.out.push(Output::Response {
                owner: tx.owner,
                key,
                response: crate::sip::build::timeout_response(&tx.request),
            });
        }
    }

    fn unacked_timer(&mut self, now: Instant, timer: Timer, dialog: CallSeq) {
        if timer == Timer::GiveUp {
            if let Some(u) = self.unacked.remove(&dialog) {
                self.timers.forget(u.id);
                let call_id = dialog.0;
                self.out.push(Output::AckTimeout {
                    owner: u.owner,
                    call_id: call_id.clone(),
                });
                // RFC 3261 §15: with the 2xx's wait over, the held BYE may go.
                self.release_byes(now, &call_id);
            }
            return;
        }
        let Some(u) = self.unacked.get_mut(&dialog) else {
            return;
        };
        self.out.push(Output::Transmit {
            flow: u.flow,
            bytes: u.bytes.clone(),
        });
        u.interval = doubled(u.interval, true);
        self.timers.set(u.id, Timer::Retransmit, now + u.interval);
    }
}
