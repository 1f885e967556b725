//! Matching waiting callers with free seats, ending offers, and overflow.

use tokio::time::Instant;

use super::messages::is_miss;
use super::{
    Acd, AcdAction, Caller, OfferOutcome, OverflowCause, Parked, QueueEventKind, QueueIx, WaitKey,
};
use crate::queue::config::{Overflow, Strategy};
use crate::queue::seats::SeatIx;
use crate::queue::timer::Timer;
use crate::queue::CallId;

impl Acd {
    /// Runs after every input and timer: overflows unstaffed queues, then offers free seats to
    /// callers in order of service across all queues, so a seat in several queues goes to
    /// whoever has the best claim (priority, then longest wait).
    pub(super) fn dispatch(&mut self, now: Instant) {
        while let Some(call) = self.first_unstaffed_caller() {
            self.overflow(now, call, OverflowCause::NoSeats);
        }
        let mut order: Vec<WaitKey> = self
            .queues
            .iter()
            .flat_map(|q| q.waiting.iter().copied())
            .collect();
        order.sort_unstable();
        for key in order {
            self.offer_seats_to(now, key.call);
        }
    }

    /// A caller not ringing any seat whose queue has nobody logged in with a registered phone.
    fn first_unstaffed_caller(&self) -> Option<CallId> {
        self.queues
            .iter()
            .filter(|q| !q.members.iter().any(|&s| self.seats.is_staffed(s)))
            .flat_map(|q| q.waiting.iter())
            .map(|key| key.call)
            .find(|call| self.callers[call].offers.is_empty())
    }

    fn offer_seats_to(&mut self, now: Instant, call: CallId) {
        let caller = &self.callers[&call];
        let queue = &self.queues[caller.queue];
        let strategy = queue.settings.strategy;
        if caller.overdue || (!caller.offers.is_empty() && strategy != Strategy::RingAll) {
            return;
        }
        let fresh: Vec<SeatIx> = queue
            .members
            .iter()
            .copied()
            .filter(|&s| self.seats.can_take_offer(s) && !caller.tried.contains(&s))
            .collect();
        if fresh.is_empty() {
            let free_but_tried = queue.members.iter().any(|&s| self.seats.can_take_offer(s));
            if free_but_tried
                && caller.offers.is_empty()
                && !self.timers.is_set(&Timer::Retry { call })
            {
                self.timers
                    .set(Timer::Retry { call }, now + super::RETRY_DELAY);
            }
            return;
        }
        self.timers.stop(&Timer::Retry { call });
        let chosen: Vec<SeatIx> = match strategy {
            // `min_by_key` keeps the first of equals: ties go to the seat listed first.
            Strategy::LongestIdle => fresh
                .iter()
                .copied()
                .min_by_key(|&s| self.seats.idle_since(s))
                .into_iter()
                .collect(),
            Strategy::RoundRobin => {
                let members = &queue.members;
                let start = queue.last_offered.map_or(0, |i| i + 1);
                (0..members.len())
                    .map(|k| members[(start + k) % members.len()])
                    .find(|s| fresh.contains(s))
                    .into_iter()
                    .collect()
            }
            Strategy::RingAll => fresh,
        };
        for seat in chosen {
            self.offer(now, call, seat);
        }
    }

    fn offer(&mut self, now: Instant, call: CallId, seat: SeatIx) {
        let caller = self.callers.get_mut(&call).expect("caller exists");
        caller.offers.push(seat);
        let queue = &mut self.queues[caller.queue];
        queue.last_offered = queue.members.iter().position(|&s| s == seat);
        let ring_timeout = queue.settings.ring_timeout();
        self.timers
            .set(Timer::Ring { call, seat }, now + ring_timeout);
        let change = self.seats.offer(seat, call, now);
        tracing::debug!(call_id = %call, seat = %change.seat, "offer");
        self.actions.push_back(AcdAction::Offer {
            call,
            seat: change.seat.clone(),
            ring_timeout,
        });
        self.actions.push_back(AcdAction::SeatChanged(change));
    }

    /// Ends one offer of `call` to `seat`; the seat is free again or, after too many misses,
    /// paused. A missed seat is not offered this caller again in the same round.
    pub(super) fn end_offer(
        &mut self,
        now: Instant,
        call: CallId,
        seat: SeatIx,
        outcome: OfferOutcome,
    ) {
        self.timers.stop(&Timer::Ring { call, seat });
        let caller = self.callers.get_mut(&call).expect("offered caller exists");
        caller.offers.retain(|&s| s != seat);
        if is_miss(outcome) {
            caller.tried.push(seat);
        }
        let q = caller.queue;
        let max_missed = self.queues[q].settings.max_missed_offers;
        let change = self
            .seats
            .offer_ended(seat, is_miss(outcome), max_missed, now);
        let id = change.seat.clone();
        self.actions.push_back(AcdAction::SeatChanged(change));
        self.record(call, q, now, QueueEventKind::Offered { seat: id, outcome });
    }

    pub(super) fn cancel_offer(&mut self, now: Instant, call: CallId, seat: SeatIx) {
        let id = self.seats.id(seat).clone();
        self.actions
            .push_back(AcdAction::CancelOffer { call, seat: id });
        self.end_offer(now, call, seat, OfferOutcome::Cancelled);
    }

    pub(super) fn cancel_offers(&mut self, now: Instant, call: CallId) {
        for seat in self.callers[&call].offers.clone() {
            self.cancel_offer(now, call, seat);
        }
    }

    /// Takes a caller with no offers out of its queue and its timers.
    pub(super) fn remove_caller(&mut self, call: CallId) -> Caller {
        let caller = self.callers.remove(&call).expect("caller exists");
        debug_assert!(caller.offers.is_empty());
        self.queues[caller.queue].waiting.remove(&caller.key);
        for timer in [
            Timer::Announce { call },
            Timer::MaxWait { call },
            Timer::Retry { call },
        ] {
            self.timers.stop(&timer);
        }
        caller
    }

    /// The last offer of a caller past `max_wait` failed: now it overflows.
    pub(super) fn overflow_if_overdue(&mut self, now: Instant, call: CallId) {
        if self
            .callers
            .get(&call)
            .is_some_and(|c| c.overdue && c.offers.is_empty())
        {
            self.overflow(now, call, OverflowCause::MaxWait);
        }
    }

    pub(super) fn overflow(&mut self, now: Instant, call: CallId, cause: OverflowCause) {
        let caller = &self.callers[&call];
        let from = caller.queue;
        let waited = now - caller.key.entered;
        let mut to = self.queues[from].settings.overflow.clone();
        let mut next: Option<QueueIx> = None;
        if let Overflow::Queue(name) = &to {
            next = self.queue_ix(name);
            // Validation refuses loops; should one slip through, the caller still gets out.
            if next.is_none() || caller.hops >= self.queues.len() {
                to = Overflow::default();
                next = None;
            }
        }
        tracing::debug!(call_id = %call, ?to, ?cause, ?waited, "caller overflows");
        self.record(
            call,
            from,
            now,
            QueueEventKind::Overflowed {
                to: to.clone(),
                cause,
                waited,
            },
        );
        self.actions.push_back(AcdAction::Overflow {
            call,
            to: to.clone(),
        });
        match next {
            Some(q) => {
                let caller = self.callers.get_mut(&call).expect("caller exists");
                caller.hops += 1;
                caller.overdue = false;
                caller.tried.clear();
                let key = caller.key;
                self.queues[from].waiting.remove(&key);
                self.timers.stop(&Timer::Retry { call });
                self.join_queue(now, call, q);
            }
            None => {
                let caller = self.remove_caller(call);
                if to == Overflow::Callback(true) {
                    self.parked.insert(
                        call,
                        Parked {
                            queue: from,
                            entered: caller.key.entered,
                        },
                    );
                }
            }
        }
    }
}
