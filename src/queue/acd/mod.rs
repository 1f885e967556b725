//! The automatic call distributor: one state machine for every queue and seat.
//!
//! Decisions the rules leave open, made here:
//! - Order of service is priority class first (0 highest), then entry time, then arrival order.
//!   A caller who overflows into another queue keeps its first entry time, so it is not put
//!   behind callers who rang later; `max_wait` in the new queue counts from its arrival there.
//! - Several callers of one queue can ring seats at once (one seat each; ring_all: every free
//!   seat), so a seat that does not answer never holds up free seats for the callers behind.
//! - A caller is not offered again to a seat that failed it until every free seat of its queue
//!   has been tried; then it waits [`RETRY_DELAY`] before the next round.
//! - A queue overflows at once, at entry and whenever it happens later, when no member seat is
//!   logged in with a registered phone (paused seats count as present: they come back).
//! - At `max_wait` a caller whose offer is ringing lets it ring out; it overflows if that fails.
//! - Missed offers are no-answer, busy and unreachable alike: each is a seat not taking calls.
//! - Position announcements start at entry (when the caller is not offered at once) and repeat
//!   every interval, skipped while the caller's offer rings.

mod dispatch;
mod messages;
#[cfg(test)]
mod tests;

pub use messages::{
    AcdAction, AcdError, AcdInput, OfferFailure, OfferOutcome, OverflowCause, QueueEvent,
    QueueEventKind, SeatCommand,
};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::config::{self, QueueSettings};
use super::seats::{PauseReason, SeatId, SeatIx, SeatState, SeatTable};
use super::timer::{Timer, TimerTable};
use super::CallId;

/// Pause between rounds of offers once every free seat missed a caller, so a phone that
/// rejects at once is not rung in a tight loop.
pub const RETRY_DELAY: Duration = Duration::from_secs(5);

type QueueIx = usize;

/// Sorts callers in order of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct WaitKey {
    priority: u8,
    entered: Instant,
    seq: u64,
    call: CallId,
}

struct Queue {
    settings: QueueSettings,
    /// In configured order, which round-robin follows.
    members: Vec<SeatIx>,
    /// Index into `members` of the seat offered last, for round-robin.
    last_offered: Option<usize>,
    waiting: BTreeSet<WaitKey>,
}

struct Caller {
    key: WaitKey,
    queue: QueueIx,
    entered_queue: Instant,
    /// Seats ringing for this caller now.
    offers: Vec<SeatIx>,
    /// Seats that failed this caller in the current round.
    tried: Vec<SeatIx>,
    /// Reached `max_wait` while ringing a seat: overflow if that offer fails.
    overdue: bool,
    /// Overflows so far; bounds a chain of queues at runtime whatever the configuration says.
    hops: usize,
}

/// A caller who overflowed to the callback offer and may still press 1.
struct Parked {
    queue: QueueIx,
    entered: Instant,
}

pub struct Acd {
    queues: Vec<Queue>,
    seats: SeatTable,
    callers: HashMap<CallId, Caller>,
    parked: HashMap<CallId, Parked>,
    timers: TimerTable,
    actions: VecDeque<AcdAction>,
    next_seq: u64,
}

impl Acd {
    /// `seats` are all configured seat users in configured order (what `seats = "all"` means).
    pub fn new(queues: &[QueueSettings], seats: &[SeatId], now: Instant) -> Result<Self, AcdError> {
        let names: Vec<String> = seats.iter().map(|s| s.as_str().to_string()).collect();
        let issues = config::validate(queues, &names);
        if !issues.is_empty() {
            return Err(AcdError::Config(issues));
        }
        let table = SeatTable::new(seats, now);
        let queues = queues
            .iter()
            .map(|settings| {
                let members = match &settings.seats {
                    config::Members::All => (0..table.len()).collect(),
                    config::Members::List(list) => list
                        .iter()
                        .filter_map(|user| table.lookup(&user.as_str().into()).ok())
                        .collect(),
                };
                Queue {
                    settings: settings.clone(),
                    members,
                    last_offered: None,
                    waiting: BTreeSet::new(),
                }
            })
            .collect();
        Ok(Self {
            queues,
            seats: table,
            callers: HashMap::new(),
            parked: HashMap::new(),
            timers: TimerTable::default(),
            actions: VecDeque::new(),
            next_seq: 0,
        })
    }

    /// Applies one input; on error nothing changed.
    pub fn handle(&mut self, now: Instant, input: AcdInput) -> Result<(), AcdError> {
        match input {
            AcdInput::Enqueue {
                call,
                queue,
                priority,
            } => self.enqueue(now, call, &queue, priority)?,
            AcdInput::Abandon { call } => self.abandon(now, call)?,
            AcdInput::OfferAnswered { call, seat } => self.offer_answered(now, call, &seat)?,
            AcdInput::OfferFailed { call, seat, reason } => {
                let ix = self.offered_seat(call, &seat)?;
                self.end_offer(now, call, ix, reason.into());
                self.overflow_if_overdue(now, call);
            }
            AcdInput::CallEnded { seat } => {
                let ix = self.seats.lookup(&seat)?;
                let change = self.seats.call_ended(ix, now)?;
                if let SeatState::WrapUp { until } = change.to {
                    self.timers.set(Timer::WrapUp { seat: ix }, until);
                }
                self.actions.push_back(AcdAction::SeatChanged(change));
            }
            AcdInput::Seat(command) => self.seat_command(now, command)?,
            AcdInput::CallbackRequested { call } => self.callback_requested(now, call)?,
        }
        self.dispatch(now);
        Ok(())
    }

    pub fn poll_action(&mut self) -> Option<AcdAction> {
        self.actions.pop_front()
    }

    /// The next deadline; the driver sleeps until it and calls [`Acd::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Runs every timer due at `now`, each at its own deadline, in order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, timer)) = self.timers.pop_expired(now) {
            self.on_timer(at, timer);
            self.dispatch(at);
        }
    }

    pub fn seat_state(&self, seat: &SeatId) -> Option<&SeatState> {
        self.seats.lookup(seat).ok().map(|ix| self.seats.state(ix))
    }

    /// 1 for the next caller to be served in its queue.
    pub fn position(&self, call: CallId) -> Option<usize> {
        let caller = self.callers.get(&call)?;
        Some(
            self.queues[caller.queue]
                .waiting
                .range(..caller.key)
                .count()
                + 1,
        )
    }

    /// How soon an answer counts towards `queue`'s service level.
    pub fn service_level(&self, queue: &str) -> Option<Duration> {
        let ix = self.queue_ix(queue)?;
        Some(self.queues[ix].settings.service_level())
    }

    /// Callers waiting in `queue`.
    pub fn waiting(&self, queue: &str) -> Option<usize> {
        let ix = self.queue_ix(queue)?;
        Some(self.queues[ix].waiting.len())
    }

    /// The callers waiting in `queue`, in the order they are served, with when each entered.
    pub fn waiting_calls(&self, queue: &str) -> Option<Vec<(CallId, Instant)>> {
        let ix = self.queue_ix(queue)?;
        Some(
            self.queues[ix]
                .waiting
                .iter()
                .map(|key| (key.call, key.entered))
                .collect(),
        )
    }

    fn queue_ix(&self, name: &str) -> Option<QueueIx> {
        self.queues.iter().position(|q| q.settings.name == name)
    }

    fn enqueue(
        &mut self,
        now: Instant,
        call: CallId,
        queue: &str,
        priority: u8,
    ) -> Result<(), AcdError> {
        let q = self
            .queue_ix(queue)
            .ok_or_else(|| AcdError::UnknownQueue(queue.to_string()))?;
        if self.callers.contains_key(&call) || self.parked.contains_key(&call) {
            return Err(AcdError::DuplicateCall(call));
        }
        let key = WaitKey {
            priority,
            entered: now,
            seq: self.next_seq,
            call,
        };
        self.next_seq += 1;
        self.callers.insert(
            call,
            Caller {
                key,
                queue: q,
                entered_queue: now,
                offers: Vec::new(),
                tried: Vec::new(),
                overdue: false,
                hops: 0,
            },
        );
        self.join_queue(now, call, q);
        tracing::debug!(call_id = %call, queue, priority, "caller queued");
        // Offer at once if a seat is free, so that nobody is told "you are number 1" first.
        self.dispatch(now);
        if let Some(caller) = self.callers.get(&call) {
            if caller.offers.is_empty()
                && self.queues[caller.queue]
                    .settings
                    .position_interval()
                    .is_some()
            {
                let position = self.position(call).unwrap_or(1);
                self.actions
                    .push_back(AcdAction::AnnouncePosition { call, position });
            }
        }
        Ok(())
    }

    /// Puts a caller into queue `q` (first entry or overflow) and arms that queue's timers.
    fn join_queue(&mut self, now: Instant, call: CallId, q: QueueIx) {
        let caller = self.callers.get_mut(&call).expect("caller exists");
        caller.queue = q;
        caller.entered_queue = now;
        let (key, priority) = (caller.key, caller.key.priority);
        self.queues[q].waiting.insert(key);
        let settings = &self.queues[q].settings;
        match settings.max_wait() {
            Some(limit) => self.timers.set(Timer::MaxWait { call }, now + limit),
            None => self.timers.stop(&Timer::MaxWait { call }),
        }
        match settings.position_interval() {
            Some(every) if !self.timers.is_set(&Timer::Announce { call }) => {
                self.timers.set(Timer::Announce { call }, now + every)
            }
            Some(_) => {}
            None => self.timers.stop(&Timer::Announce { call }),
        }
        self.record(call, q, now, QueueEventKind::Entered { priority });
    }

    fn abandon(&mut self, now: Instant, call: CallId) -> Result<(), AcdError> {
        if self.parked.remove(&call).is_some() {
            // Hung up on the callback offer: the overflow is already on record.
            return Ok(());
        }
        let position = self.position(call).ok_or(AcdError::UnknownCall(call))?;
        self.cancel_offers(now, call);
        let caller = self.remove_caller(call);
        let waited = now - caller.key.entered;
        tracing::debug!(call_id = %call, ?waited, position, "caller abandoned");
        self.record(
            call,
            caller.queue,
            now,
            QueueEventKind::Abandoned { waited, position },
        );
        Ok(())
    }

    fn callback_requested(&mut self, now: Instant, call: CallId) -> Result<(), AcdError> {
        let (queue, entered) = if let Some(parked) = self.parked.remove(&call) {
            (parked.queue, parked.entered)
        } else if self.callers.contains_key(&call) {
            self.cancel_offers(now, call);
            let caller = self.remove_caller(call);
            (caller.queue, caller.key.entered)
        } else {
            return Err(AcdError::UnknownCall(call));
        };
        let waited = now - entered;
        self.record(
            call,
            queue,
            now,
            QueueEventKind::CallbackRequested { waited },
        );
        Ok(())
    }

    fn offer_answered(
        &mut self,
        now: Instant,
        call: CallId,
        seat: &SeatId,
    ) -> Result<(), AcdError> {
        let ix = self.offered_seat(call, seat)?;
        self.timers.stop(&Timer::Ring { call, seat: ix });
        let caller = self.callers.get_mut(&call).expect("offered caller exists");
        caller.offers.retain(|&s| s != ix);
        let q = caller.queue;
        let wrap_up = self.queues[q].settings.wrap_up();
        let change = self.seats.answered(ix, call, wrap_up, now);
        self.actions.push_back(AcdAction::SeatChanged(change));
        self.record(
            call,
            q,
            now,
            QueueEventKind::Offered {
                seat: seat.clone(),
                outcome: OfferOutcome::Answered,
            },
        );
        // Ring-all: the first answer wins, the other phones stop ringing.
        self.cancel_offers(now, call);
        let caller = self.remove_caller(call);
        let waited = now - caller.key.entered;
        tracing::debug!(call_id = %call, seat = %seat, ?waited, "caller connected");
        self.actions.push_back(AcdAction::Connected {
            call,
            seat: seat.clone(),
            waited,
        });
        self.record(
            call,
            q,
            now,
            QueueEventKind::Answered {
                seat: seat.clone(),
                waited,
            },
        );
        Ok(())
    }

    fn seat_command(&mut self, now: Instant, command: SeatCommand) -> Result<(), AcdError> {
        let change = match command {
            SeatCommand::Login { seat } => {
                let ix = self.seats.lookup(&seat)?;
                let change = self.seats.login(ix, now)?;
                self.forget_misses(ix);
                change
            }
            SeatCommand::Logout { seat } => {
                let ix = self.seats.lookup(&seat)?;
                self.withdraw_seat(now, ix);
                self.seats.logout(ix, now)?
            }
            SeatCommand::Pause { seat, reason } => {
                let ix = self.seats.lookup(&seat)?;
                self.withdraw_seat(now, ix);
                self.seats.pause(ix, PauseReason::Code(reason), now)?
            }
            SeatCommand::Resume { seat } => {
                let ix = self.seats.lookup(&seat)?;
                let change = self.seats.resume(ix, now)?;
                self.forget_misses(ix);
                change
            }
            SeatCommand::Registered { seat } => {
                let ix = self.seats.lookup(&seat)?;
                self.seats.set_registered(ix, true);
                None
            }
            SeatCommand::Unregistered { seat } => {
                let ix = self.seats.lookup(&seat)?;
                self.seats.set_registered(ix, false);
                None
            }
        };
        if let Some(change) = change {
            self.actions.push_back(AcdAction::SeatChanged(change));
        }
        Ok(())
    }

    /// A seat that comes back from a pause or logout is worth trying again at once, even by
    /// callers it failed before.
    fn forget_misses(&mut self, ix: SeatIx) {
        for caller in self.callers.values_mut() {
            caller.tried.retain(|&s| s != ix);
        }
    }

    /// Before a logout or pause: stop the seat ringing and end its wrap-up. A logged-out seat
    /// has neither, so the command's own error still comes with nothing changed.
    fn withdraw_seat(&mut self, now: Instant, ix: SeatIx) {
        if let SeatState::Ringing { call } = *self.seats.state(ix) {
            self.cancel_offer(now, call, ix);
        }
        self.timers.stop(&Timer::WrapUp { seat: ix });
    }

    fn on_timer(&mut self, at: Instant, timer: Timer) {
        match timer {
            Timer::Ring { call, seat } => {
                let id = self.seats.id(seat).clone();
                self.actions
                    .push_back(AcdAction::CancelOffer { call, seat: id });
                self.end_offer(at, call, seat, OfferOutcome::NoAnswer);
                self.overflow_if_overdue(at, call);
            }
            Timer::WrapUp { seat } => {
                if let Some(change) = self.seats.wrap_up_done(seat, at) {
                    self.actions.push_back(AcdAction::SeatChanged(change));
                }
            }
            Timer::Announce { call } => {
                let Some(caller) = self.callers.get(&call) else {
                    return;
                };
                let ringing = !caller.offers.is_empty();
                if let Some(every) = self.queues[caller.queue].settings.position_interval() {
                    self.timers.set(Timer::Announce { call }, at + every);
                }
                if !ringing {
                    let position = self.position(call).expect("caller is waiting");
                    self.actions
                        .push_back(AcdAction::AnnouncePosition { call, position });
                }
            }
            Timer::MaxWait { call } => {
                let Some(caller) = self.callers.get_mut(&call) else {
                    return;
                };
                if caller.offers.is_empty() {
                    self.overflow(at, call, OverflowCause::MaxWait);
                } else {
                    caller.overdue = true;
                }
            }
            Timer::Retry { call } => {
                if let Some(caller) = self.callers.get_mut(&call) {
                    caller.tried.clear();
                }
            }
        }
    }

    fn record(&mut self, call: CallId, q: QueueIx, at: Instant, kind: QueueEventKind) {
        self.actions.push_back(AcdAction::QueueEvent(QueueEvent {
            call,
            queue: self.queues[q].settings.name.clone(),
            at,
            kind,
        }));
    }

    /// The seat's index if `call` is ringing it now.
    fn offered_seat(&self, call: CallId, seat: &SeatId) -> Result<SeatIx, AcdError> {
        let ix = self.seats.lookup(seat)?;
        match self.callers.get(&call) {
            Some(caller) if caller.offers.contains(&ix) => Ok(ix),
            _ => Err(AcdError::NoSuchOffer {
                call,
                seat: seat.clone(),
            }),
        }
    }
}
