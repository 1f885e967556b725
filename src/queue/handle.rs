//! The ACD service's handle: what calls and the core send it, and the notices it sends a call.

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::debug;

use super::{AcdInput, CallId, Overflow, QueueEvent, SeatId};

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
}

#[derive(Clone)]
pub struct AcdHandle {
    requests: mpsc::Sender<Request>,
}

impl AcdHandle {
    pub(super) fn new(requests: mpsc::Sender<Request>) -> Self {
        Self { requests }
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
