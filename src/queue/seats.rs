//! Seats and their states: each transition is checked here and yields a [`SeatChange`] for the
//! record. Offers, timers and queues are the ACD's business; this table only knows one seat at
//! a time.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::CallId;

/// A seat, named by the SIP user its phone registers with ("1001").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeatId(String);

impl SeatId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SeatId {
    fn from(s: &str) -> Self {
        SeatId(s.to_string())
    }
}

impl From<String> for SeatId {
    fn from(s: String) -> Self {
        SeatId(s)
    }
}

impl fmt::Display for SeatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatState {
    LoggedOut,
    /// Ready for an offer; `since` orders seats for longest-idle (the end of the last wrap-up).
    Available {
        since: Instant,
    },
    Ringing {
        call: CallId,
    },
    OnCall {
        call: CallId,
    },
    WrapUp {
        until: Instant,
    },
    Paused {
        reason: PauseReason,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseReason {
    /// Chosen by the seat with a feature code (break, training, meeting...).
    Code(String),
    /// Paused by the ACD after too many offers in a row went unanswered.
    NoAnswer,
}

/// One transition, for the record and the wallboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatChange {
    pub seat: SeatId,
    pub from: SeatState,
    pub to: SeatState,
    pub at: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    #[error("no seat {0}")]
    UnknownSeat(SeatId),
    #[error("seat {0} is already logged in")]
    AlreadyLoggedIn(SeatId),
    #[error("seat {0} is not logged in")]
    NotLoggedIn(SeatId),
    #[error("seat {0} is not paused")]
    NotPaused(SeatId),
    #[error("seat {0} is not on a call")]
    NotOnCall(SeatId),
}

/// What a seat asked for while on a call, applied when the call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AfterCall {
    Logout,
    Pause(PauseReason),
}

#[derive(Debug)]
struct Seat {
    id: SeatId,
    state: SeatState,
    registered: bool,
    /// Kept across offers so that a missed offer does not reset the seat's place in
    /// longest-idle order: it has still not taken a call.
    idle_since: Instant,
    missed_in_row: u32,
    after_call: Option<AfterCall>,
    /// The wrap-up of the queue whose call the seat is on.
    wrap_up: Duration,
}

/// Index of a seat in configured order; stable for the table's life.
pub(crate) type SeatIx = usize;

#[derive(Debug)]
pub(crate) struct SeatTable {
    seats: Vec<Seat>,
    by_id: HashMap<SeatId, SeatIx>,
}

impl SeatTable {
    /// All seats start logged out and unregistered; the lead reports both as they happen.
    pub(crate) fn new(ids: &[SeatId], now: Instant) -> Self {
        let seats = ids
            .iter()
            .map(|id| Seat {
                id: id.clone(),
                state: SeatState::LoggedOut,
                registered: false,
                idle_since: now,
                missed_in_row: 0,
                after_call: None,
                wrap_up: Duration::ZERO,
            })
            .collect();
        let by_id = ids
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, id)| (id, i))
            .collect();
        Self { seats, by_id }
    }

    pub(crate) fn len(&self) -> usize {
        self.seats.len()
    }

    pub(crate) fn lookup(&self, id: &SeatId) -> Result<SeatIx, SeatError> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| SeatError::UnknownSeat(id.clone()))
    }

    pub(crate) fn id(&self, ix: SeatIx) -> &SeatId {
        &self.seats[ix].id
    }

    pub(crate) fn state(&self, ix: SeatIx) -> &SeatState {
        &self.seats[ix].state
    }

    pub(crate) fn idle_since(&self, ix: SeatIx) -> Instant {
        self.seats[ix].idle_since
    }

    /// Available with a registered phone.
    pub(crate) fn can_take_offer(&self, ix: SeatIx) -> bool {
        let seat = &self.seats[ix];
        seat.registered && matches!(seat.state, SeatState::Available { .. })
    }

    /// Logged in (paused and busy count) with a registered phone: someone who will take calls.
    pub(crate) fn is_staffed(&self, ix: SeatIx) -> bool {
        let seat = &self.seats[ix];
        seat.registered && seat.state != SeatState::LoggedOut
    }

    pub(crate) fn set_registered(&mut self, ix: SeatIx, registered: bool) {
        self.seats[ix].registered = registered;
    }

    pub(crate) fn login(
        &mut self,
        ix: SeatIx,
        now: Instant,
    ) -> Result<Option<SeatChange>, SeatError> {
        let seat = &mut self.seats[ix];
        if seat.after_call == Some(AfterCall::Logout) {
            // Changed their mind before the call ended: nothing to undo but the plan.
            seat.after_call = None;
            return Ok(None);
        }
        if seat.state != SeatState::LoggedOut {
            return Err(SeatError::AlreadyLoggedIn(seat.id.clone()));
        }
        seat.missed_in_row = 0;
        seat.idle_since = now;
        Ok(Some(self.set(ix, SeatState::Available { since: now }, now)))
    }

    /// The ACD cancels a ringing offer first; a seat on a call logs out when the call ends.
    pub(crate) fn logout(
        &mut self,
        ix: SeatIx,
        now: Instant,
    ) -> Result<Option<SeatChange>, SeatError> {
        let seat = &mut self.seats[ix];
        match seat.state {
            SeatState::LoggedOut => Err(SeatError::NotLoggedIn(seat.id.clone())),
            SeatState::OnCall { .. } => {
                seat.after_call = Some(AfterCall::Logout);
                Ok(None)
            }
            _ => Ok(Some(self.set(ix, SeatState::LoggedOut, now))),
        }
    }

    pub(crate) fn pause(
        &mut self,
        ix: SeatIx,
        reason: PauseReason,
        now: Instant,
    ) -> Result<Option<SeatChange>, SeatError> {
        let seat = &mut self.seats[ix];
        match seat.state {
            SeatState::LoggedOut => Err(SeatError::NotLoggedIn(seat.id.clone())),
            SeatState::OnCall { .. } => {
                seat.after_call = Some(AfterCall::Pause(reason));
                Ok(None)
            }
            _ => Ok(Some(self.set(ix, SeatState::Paused { reason }, now))),
        }
    }

    pub(crate) fn resume(
        &mut self,
        ix: SeatIx,
        now: Instant,
    ) -> Result<Option<SeatChange>, SeatError> {
        let seat = &mut self.seats[ix];
        if matches!(seat.after_call, Some(AfterCall::Pause(_))) {
            seat.after_call = None;
            return Ok(None);
        }
        if !matches!(seat.state, SeatState::Paused { .. }) {
            return Err(SeatError::NotPaused(seat.id.clone()));
        }
        seat.missed_in_row = 0;
        seat.idle_since = now;
        Ok(Some(self.set(ix, SeatState::Available { since: now }, now)))
    }

    /// Available → Ringing; the ACD checked [`SeatTable::can_take_offer`].
    pub(crate) fn offer(&mut self, ix: SeatIx, call: CallId, now: Instant) -> SeatChange {
        debug_assert!(self.can_take_offer(ix));
        self.set(ix, SeatState::Ringing { call }, now)
    }

    /// Ringing → Available, or Paused(NoAnswer) once `missed` reaches `max_missed` in a row
    /// (0 = never). Offers cancelled by the ACD are not misses.
    pub(crate) fn offer_ended(
        &mut self,
        ix: SeatIx,
        missed: bool,
        max_missed: u32,
        now: Instant,
    ) -> SeatChange {
        let seat = &mut self.seats[ix];
        debug_assert!(matches!(seat.state, SeatState::Ringing { .. }));
        if missed {
            seat.missed_in_row += 1;
        }
        let to = if missed && max_missed > 0 && seat.missed_in_row >= max_missed {
            SeatState::Paused {
                reason: PauseReason::NoAnswer,
            }
        } else {
            SeatState::Available {
                since: seat.idle_since,
            }
        };
        self.set(ix, to, now)
    }

    /// Ringing → OnCall; `wrap_up` is the queue's, applied when the call ends.
    pub(crate) fn answered(
        &mut self,
        ix: SeatIx,
        call: CallId,
        wrap_up: Duration,
        now: Instant,
    ) -> SeatChange {
        let seat = &mut self.seats[ix];
        seat.missed_in_row = 0;
        seat.wrap_up = wrap_up;
        self.set(ix, SeatState::OnCall { call }, now)
    }

    /// OnCall → WrapUp, or straight to what the seat asked for during the call.
    pub(crate) fn call_ended(&mut self, ix: SeatIx, now: Instant) -> Result<SeatChange, SeatError> {
        let seat = &mut self.seats[ix];
        if !matches!(seat.state, SeatState::OnCall { .. }) {
            return Err(SeatError::NotOnCall(seat.id.clone()));
        }
        let to = match seat.after_call.take() {
            Some(AfterCall::Logout) => SeatState::LoggedOut,
            Some(AfterCall::Pause(reason)) => SeatState::Paused { reason },
            None if seat.wrap_up.is_zero() => {
                seat.idle_since = now;
                SeatState::Available { since: now }
            }
            None => SeatState::WrapUp {
                until: now + seat.wrap_up,
            },
        };
        Ok(self.set(ix, to, now))
    }

    /// WrapUp → Available at the end of the wrap-up; `None` if the seat left wrap-up already.
    pub(crate) fn wrap_up_done(&mut self, ix: SeatIx, at: Instant) -> Option<SeatChange> {
        let SeatState::WrapUp { until } = self.seats[ix].state else {
            return None;
        };
        self.seats[ix].idle_since = until;
        Some(self.set(ix, SeatState::Available { since: until }, at))
    }

    fn set(&mut self, ix: SeatIx, to: SeatState, at: Instant) -> SeatChange {
        let seat = &mut self.seats[ix];
        let from = std::mem::replace(&mut seat.state, to.clone());
        tracing::debug!(seat = %seat.id, ?from, ?to, "seat state");
        SeatChange {
            seat: seat.id.clone(),
            from,
            to,
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (SeatTable, Instant) {
        let t0 = Instant::now();
        let mut seats = SeatTable::new(&["1001".into(), "1002".into()], t0);
        seats.set_registered(0, true);
        (seats, t0)
    }

    #[test]
    fn feature_code_transitions_and_their_errors() {
        let (mut seats, t0) = table();
        assert_eq!(
            seats.pause(0, PauseReason::Code("break".into()), t0),
            Err(SeatError::NotLoggedIn("1001".into()))
        );
        assert_eq!(
            seats.resume(0, t0),
            Err(SeatError::NotPaused("1001".into()))
        );
        let change = seats.login(0, t0).unwrap().unwrap();
        assert_eq!(change.from, SeatState::LoggedOut);
        assert_eq!(change.to, SeatState::Available { since: t0 });
        assert!(seats.can_take_offer(0));
        assert_eq!(
            seats.login(0, t0),
            Err(SeatError::AlreadyLoggedIn("1001".into()))
        );
        seats
            .pause(0, PauseReason::Code("lunch".into()), t0)
            .unwrap();
        assert!(!seats.can_take_offer(0));
        assert!(seats.is_staffed(0), "a paused seat is still staffed");
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(
            seats.resume(0, t1).unwrap().unwrap().to,
            SeatState::Available { since: t1 }
        );
        assert_eq!(
            seats.logout(0, t1).unwrap().unwrap().to,
            SeatState::LoggedOut
        );
        assert_eq!(
            seats.logout(0, t1),
            Err(SeatError::NotLoggedIn("1001".into()))
        );
        assert!(seats.lookup(&"1003".into()).is_err());
    }

    #[test]
    fn unregistered_seat_takes_no_offer() {
        let (mut seats, t0) = table();
        seats.login(1, t0).unwrap();
        assert!(!seats.can_take_offer(1));
        assert!(!seats.is_staffed(1));
        seats.set_registered(1, true);
        assert!(seats.can_take_offer(1));
    }

    #[test]
    fn logout_and_pause_during_a_call_wait_for_its_end() {
        let (mut seats, t0) = table();
        seats.login(0, t0).unwrap();
        seats.offer(0, CallId(1), t0);
        seats.answered(0, CallId(1), Duration::from_secs(10), t0);
        assert_eq!(seats.logout(0, t0), Ok(None));
        assert_eq!(*seats.state(0), SeatState::OnCall { call: CallId(1) });
        let t1 = t0 + Duration::from_secs(90);
        assert_eq!(seats.call_ended(0, t1).unwrap().to, SeatState::LoggedOut);

        seats.login(0, t1).unwrap();
        seats.offer(0, CallId(2), t1);
        seats.answered(0, CallId(2), Duration::from_secs(10), t1);
        seats
            .pause(0, PauseReason::Code("meeting".into()), t1)
            .unwrap();
        assert_eq!(
            seats.call_ended(0, t1).unwrap().to,
            SeatState::Paused {
                reason: PauseReason::Code("meeting".into())
            }
        );
        assert_eq!(
            seats.call_ended(0, t1),
            Err(SeatError::NotOnCall("1001".into()))
        );
    }

    #[test]
    fn missed_offers_keep_idle_order_until_the_limit() {
        let (mut seats, t0) = table();
        seats.login(0, t0).unwrap();
        let t1 = t0 + Duration::from_secs(15);
        for n in 1..=3 {
            seats.offer(0, CallId(n), t1);
            let change = seats.offer_ended(0, true, 3, t1);
            if n < 3 {
                assert_eq!(change.to, SeatState::Available { since: t0 });
            } else {
                assert_eq!(
                    change.to,
                    SeatState::Paused {
                        reason: PauseReason::NoAnswer
                    }
                );
            }
        }
    }

    #[test]
    fn wrap_up_ends_in_available_since_its_end() {
        let (mut seats, t0) = table();
        seats.login(0, t0).unwrap();
        seats.offer(0, CallId(1), t0);
        seats.answered(0, CallId(1), Duration::from_secs(10), t0);
        let end = t0 + Duration::from_secs(100);
        let until = end + Duration::from_secs(10);
        assert_eq!(
            seats.call_ended(0, end).unwrap().to,
            SeatState::WrapUp { until }
        );
        assert!(!seats.can_take_offer(0));
        assert_eq!(
            seats.wrap_up_done(0, until).unwrap().to,
            SeatState::Available { since: until }
        );
        assert_eq!(seats.idle_since(0), until);
        assert_eq!(seats.wrap_up_done(0, until), None);
    }
}
