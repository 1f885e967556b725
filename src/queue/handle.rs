//! The ACD service's handle: what calls and the core send it, and the notices it sends a call.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::debug;

use super::{AcdInput, CallId, Overflow, QueueEvent, SeatId, SeatState};
use crate::bus::{Bus, Subscription};

/// What the ACD publishes as it changes: every seat state change, and the callers waiting in
/// a queue whenever that number changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdUpdate {
    Seat {
        seat: SeatId,
        state: SeatState,
        /// When the seat took this state.
        since: Instant,
    },
    Waiting {
        queue: String,
        callers: usize,
    },
}

/// The ACD's live state at one moment: every configured seat with its state, and every queue
/// with its waiting callers, in configuration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcdSnapshot {
    pub seats: Vec<SeatNow>,
    pub queues: Vec<QueueNow>,
}

/// A seat as the ACD has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatNow {
    pub seat: SeatId,
    pub state: SeatState,
    /// When it took this state (the daemon's start for a seat that has not changed since).
    pub since: Instant,
}

/// A queue's waiting callers, in the order the ACD serves them, each with when it entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNow {
    pub queue: String,
    pub callers: Vec<(CallId, Instant)>,
}

pub(super) const REQUEST_QUEUE: usize = 1024;

/// What the ACD tells one call.
#[derive(Debug)]
pub enum Notice {
    Offer {
        seat: SeatId,
        ring_timeout: Duration,
    },
    CancelOffer {
        seat: SeatId,
    },
    Position(usize),
    Overflow(Overflow),
    Connected {
        seat: SeatId,
        waited: Duration,
    },
    /// For the call's record.
    Event(QueueEvent),
    /// The ACD refused an input about this call (unknown queue, a withdrawn offer).
    Refused(String),
}

pub(super) enum Request {
    Input(AcdInput),
    /// A call joins: its notices go to `notices` until it leaves.
    Join {
        call: CallId,
        notices: mpsc::UnboundedSender<Notice>,
    },
    Leave {
        call: CallId,
    },
    Snapshot(oneshot::Sender<AcdSnapshot>),
}

#[derive(Clone)]
pub struct AcdHandle {
    requests: mpsc::Sender<Request>,
    updates: Bus<AcdUpdate>,
}

impl AcdHandle {
    pub(super) fn new(requests: mpsc::Sender<Request>, updates: Bus<AcdUpdate>) -> Self {
        Self { requests, updates }
    }

    /// The ACD's updates from now on; take a `snapshot` after subscribing to start from.
    pub fn subscribe(&self) -> Subscription<AcdUpdate> {
        self.updates.subscribe()
    }

    /// The ACD's state now; None once it has stopped.
    pub async fn snapshot(&self) -> Option<AcdSnapshot> {
        let (reply, rx) = oneshot::channel();
        self.requests.send(Request::Snapshot(reply)).await.ok()?;
        rx.await.ok()
    }

    pub async fn input(&self, input: AcdInput) {
        if self.requests.send(Request::Input(input)).await.is_err() {
            debug!("ACD gone (shutting down)");
        }
    }

    /// Subscribes `call` to its notices; call before it enqueues.
    pub async fn join(&self, call: CallId) -> mpsc::UnboundedReceiver<Notice> {
        let (notices, rx) = mpsc::unbounded_channel();
        let _ = self.requests.send(Request::Join { call, notices }).await;
        rx
    }

    pub async fn leave(&self, call: CallId) {
        let _ = self.requests.send(Request::Leave { call }).await;
    }
}
