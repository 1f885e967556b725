//! What goes into the ACD, what comes out, and its errors.

use std::time::Duration;

use tokio::time::Instant;

use crate::checks::Issue;
use crate::queue::config::Overflow;
use crate::queue::seats::{SeatChange, SeatError, SeatId};
use crate::queue::CallId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdInput {
    /// A caller was greeted and waits in `queue`; priority 0 is served first.
    Enqueue {
        call: CallId,
        queue: String,
        priority: u8,
    },
    /// The caller hung up before being connected (also after an overflow to callback).
    Abandon {
        call: CallId,
    },
    OfferAnswered {
        call: CallId,
        seat: SeatId,
    },
    /// The offer ended without an answer before the ACD's ring timeout.
    OfferFailed {
        call: CallId,
        seat: SeatId,
        reason: OfferFailure,
    },
    /// The seat's call is over; the seat goes to wrap-up.
    CallEnded {
        seat: SeatId,
    },
    Seat(SeatCommand),
    /// The caller pressed 1 for a callback, while waiting or after an overflow to callback.
    CallbackRequested {
        call: CallId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferFailure {
    /// Rang out (the phone's own timer or a 408/480).
    NoAnswer,
    Busy,
    Unreachable,
}

impl OfferFailure {
    /// How an offer failed, from the final status of the seat's phone (every phone of the
    /// seat, the last to fail): busy or declined, rang out, or anything else.
    pub fn from_status(status: u16) -> OfferFailure {
        match status {
            486 | 600 | 603 => OfferFailure::Busy,
            408 | 480 | 487 => OfferFailure::NoAnswer,
            _ => OfferFailure::Unreachable,
        }
    }
}

/// Feature codes of the seats, and the registrar's view of their phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatCommand {
    Login {
        seat: SeatId,
    },
    /// While on a call, takes effect when the call ends.
    Logout {
        seat: SeatId,
    },
    /// While on a call, takes effect when the call ends.
    Pause {
        seat: SeatId,
        reason: String,
    },
    Resume {
        seat: SeatId,
    },
    Registered {
        seat: SeatId,
    },
    Unregistered {
        seat: SeatId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring the seat for the caller. The ACD owns the ring timer and sends `CancelOffer` when
    /// it expires; report an earlier failure with `OfferFailed`.
    Offer {
        call: CallId,
        seat: SeatId,
        ring_timeout: Duration,
    },
    /// Stop ringing the seat (timeout, another seat answered, the caller left).
    CancelOffer {
        call: CallId,
        seat: SeatId,
    },
    AnnouncePosition {
        call: CallId,
        position: usize,
    },
    /// The caller leaves its queue. `Queue` is for information: the ACD moved the caller. For
    /// `Prompt` play it and hang up; for `Callback` play the offer and report the digit.
    Overflow {
        call: CallId,
        to: Overflow,
    },
    /// Bridge the caller to the seat that answered; the caller is no longer the ACD's.
    Connected {
        call: CallId,
        seat: SeatId,
        waited: Duration,
    },
    SeatChanged(SeatChange),
    QueueEvent(QueueEvent),
}

/// What happened to a caller in a queue, for the record and the line metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEvent {
    pub call: CallId,
    pub queue: String,
    pub at: Instant,
    pub kind: QueueEventKind,
}

/// Waits count from the caller's first entry into any queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEventKind {
    Entered {
        priority: u8,
    },
    /// An offer ended.
    Offered {
        seat: SeatId,
        outcome: OfferOutcome,
    },
    Answered {
        seat: SeatId,
        waited: Duration,
    },
    Abandoned {
        waited: Duration,
        position: usize,
    },
    Overflowed {
        to: Overflow,
        cause: OverflowCause,
        waited: Duration,
    },
    CallbackRequested {
        waited: Duration,
    },
}

/// How an offer ended: the vocabulary of the call's record, so the ACD's events are stored as
/// they are.
pub use crate::store::OfferOutcome;

/// An offer the seat missed: it counts towards pausing the seat.
pub(super) fn is_miss(outcome: OfferOutcome) -> bool {
    matches!(
        outcome,
        OfferOutcome::NoAnswer | OfferOutcome::Busy | OfferOutcome::Unreachable
    )
}

impl From<OfferFailure> for OfferOutcome {
    fn from(f: OfferFailure) -> Self {
        match f {
            OfferFailure::NoAnswer => OfferOutcome::NoAnswer,
            OfferFailure::Busy => OfferOutcome::Busy,
            OfferFailure::Unreachable => OfferOutcome::Unreachable,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowCause {
    /// No member seat logged in with a registered phone.
    NoSeats,
    MaxWait,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("invalid queue settings: {}", describe(.0))]
    Config(Vec<Issue>),
    #[error("no queue {0:?}")]
    UnknownQueue(String),
    #[error("call {0} is already queued")]
    DuplicateCall(CallId),
    #[error("call {0} is not waiting")]
    UnknownCall(CallId),
    /// A late answer or failure of an offer the ACD already withdrew: hang that leg up.
    #[error("call {call} is not being offered to seat {seat}")]
    NoSuchOffer { call: CallId, seat: SeatId },
    #[error(transparent)]
    Seat(#[from] SeatError),
}

fn describe(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.key, i.reason))
        .collect::<Vec<_>>()
        .join("; ")
}
