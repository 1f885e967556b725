//! The hand-off service's handle: what calls tell it, and how a seat's call hears its cues.
//! Every request is a control message: the queue is unbounded (bounded by the seats' keys and
//! the units they dial), so none is ever dropped.

use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::machine::{By, Change, Cue, Input};
use crate::bus::{Bus, Subscription};
use crate::call_id::CallId;
use crate::store::HandoffRecord;

/// What the service publishes: each change with the hand-off as it stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffUpdate {
    pub change: Change,
    pub record: HandoffRecord,
}

/// An open hand-off and the seconds left to its limit (negative once breached).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenHandoff {
    pub record: HandoffRecord,
    pub seconds_left: f64,
}

pub(super) enum Request {
    Input(Input),
    /// `seat` is on `call` now: its cues go to `cues` until `SeatOff` for that call.
    SeatOn {
        seat: String,
        call: CallId,
        cues: mpsc::UnboundedSender<Cue>,
    },
    SeatOff {
        seat: String,
        call: CallId,
    },
    Open(oneshot::Sender<Vec<OpenHandoff>>),
}

#[derive(Debug, Clone)]
pub struct HandoffHandle {
    requests: mpsc::UnboundedSender<Request>,
    updates: Bus<HandoffUpdate>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Input(input) => write!(f, "Input({input:?})"),
            Request::SeatOn { seat, call, .. } => write!(f, "SeatOn({seat}, {call})"),
            Request::SeatOff { seat, call } => write!(f, "SeatOff({seat}, {call})"),
            Request::Open(_) => f.write_str("Open"),
        }
    }
}

impl HandoffHandle {
    pub(super) fn new(
        requests: mpsc::UnboundedSender<Request>,
        updates: Bus<HandoffUpdate>,
    ) -> Self {
        HandoffHandle { requests, updates }
    }

    /// A handle whose service is not running: every input is ignored. For parts of the daemon
    /// started without hand-offs (tests of other layers).
    pub fn detached() -> HandoffHandle {
        let (requests, _) = mpsc::unbounded_channel();
        HandoffHandle {
            requests,
            updates: Bus::new("handoffs", 1),
        }
    }

    fn send(&self, request: Request) {
        // Fails only when the service has stopped (the daemon is stopping); an open hand-off
        // is then closed as interrupted at the next start.
        if self.requests.send(request).is_err() {
            tracing::debug!("hand-off service gone; input ignored");
        }
    }

    /// The seat serving `call` marks it with `category`; the clock counts from `answered`.
    pub fn mark(
        &self,
        call: CallId,
        seat: &str,
        category: &str,
        answered: Instant,
        answered_at: SystemTime,
    ) {
        self.send(Request::Input(Input::Mark {
            call,
            seat: seat.to_string(),
            category: category.to_string(),
            answered,
            answered_at,
        }));
    }

    pub fn extend(&self, call: CallId, seat: &str, reason: &str) {
        self.send(Request::Input(Input::Extend {
            call,
            seat: seat.to_string(),
            reason: reason.to_string(),
        }));
    }

    pub fn close(&self, call: CallId, seat: &str, reason: &str) {
        self.send(Request::Input(Input::Close {
            call,
            seat: seat.to_string(),
            reason: reason.to_string(),
        }));
    }

    pub fn dialled(&self, by: By, unit: &str) {
        self.send(Request::Input(Input::Dialled {
            by,
            unit: unit.to_string(),
        }));
    }

    pub fn unit_answered(&self, by: By, unit: &str) {
        self.send(Request::Input(Input::UnitAnswered {
            by,
            unit: unit.to_string(),
        }));
    }

    /// One attempt to reach a unit's contact is over; it is filed under the hand-off `by`
    /// serves (if any), written, and counted for the contact-failure rule.
    pub fn attempt(&self, by: By, attempt: crate::store::ContactAttempt) {
        self.send(Request::Input(Input::Attempt { by, attempt }));
    }

    /// The seat says `unit` refused the matter without a good reason (`*96`).
    pub fn refused(&self, by: By, unit: &str) {
        self.send(Request::Input(Input::Refused {
            by,
            unit: unit.to_string(),
        }));
    }

    /// The hunt for `unit` tried every contact without an answer.
    pub fn hunt_exhausted(&self, by: By, unit: &str) {
        self.send(Request::Input(Input::HuntExhausted {
            by,
            unit: unit.to_string(),
        }));
    }

    /// `seat` is on `call` now: cues for the seat go to `cues` until
    /// [`HandoffHandle::seat_off`] for that call, or until another call takes the seat.
    pub fn seat_on(&self, seat: &str, call: CallId, cues: mpsc::UnboundedSender<Cue>) {
        self.send(Request::SeatOn {
            seat: seat.to_string(),
            call,
            cues,
        });
    }

    pub fn seat_off(&self, seat: &str, call: CallId) {
        self.send(Request::SeatOff {
            seat: seat.to_string(),
            call,
        });
    }

    /// Every open hand-off, oldest first; empty when the service is gone.
    pub async fn open(&self) -> Vec<OpenHandoff> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Open(tx));
        rx.await.unwrap_or_default()
    }

    pub fn subscribe(&self) -> Subscription<HandoffUpdate> {
        self.updates.subscribe()
    }
}
