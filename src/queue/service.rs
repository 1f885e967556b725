//! The ACD service: one task that owns the automatic call distributor ([`Acd`]), takes
//! inputs from calls and from the core (feature codes, registrations) through its
//! [`AcdHandle`], hands each call the notices that concern it, and records every seat state
//! change.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::handle::{AcdHandle, Notice, Request, REQUEST_QUEUE};
use super::{
    Acd, AcdAction, AcdInput, CallId, PauseReason, QueueEvent, QueueEventKind, SeatChange, SeatId,
    SeatState,
};
use crate::clock::{wall_time, Clock};
use crate::metrics::names;
use crate::store::{Record, SeatEvent, WriterHandle};

pub struct AcdService {
    acd: Acd,
    calls: HashMap<CallId, mpsc::UnboundedSender<Notice>>,
    writer: WriterHandle,
    clock: Arc<dyn Clock>,
    /// The seats in configuration order, for the seat-state gauge.
    seats: Vec<SeatId>,
    queues: Vec<String>,
}

impl AcdService {
    pub fn start(
        acd: Acd,
        seats: Vec<SeatId>,
        queues: Vec<String>,
        writer: WriterHandle,
        clock: Arc<dyn Clock>,
        stop: CancellationToken,
    ) -> (AcdHandle, tokio::task::JoinHandle<()>) {
        let (requests, rx) = mpsc::channel(REQUEST_QUEUE);
        let service = AcdService {
            acd,
            calls: HashMap::new(),
            writer,
            clock,
            seats,
            queues,
        };
        let task = tokio::spawn(service.run(rx, stop));
        (AcdHandle::new(requests), task)
    }

    async fn run(mut self, mut requests: mpsc::Receiver<Request>, stop: CancellationToken) {
        self.publish_seats();
        loop {
            let deadline = self.acd.poll_timeout();
            tokio::select! {
                _ = stop.cancelled() => return,
                request = requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return,
                },
                _ = sleep_until(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if deadline.is_some() => {
                    self.acd.handle_timeout(Instant::now());
                }
            }
            self.drain().await;
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Join { call, notices } => {
                self.calls.insert(call, notices);
            }
            Request::Leave { call } => {
                self.calls.remove(&call);
            }
            Request::Input(input) => {
                let call = input_call(&input);
                if let Err(error) = self.acd.handle(Instant::now(), input) {
                    debug!(%error, "ACD refused an input");
                    if let Some(call) = call {
                        self.notify(call, Notice::Refused(error.to_string()));
                    }
                }
            }
        }
    }

    async fn drain(&mut self) {
        let mut seats_changed = false;
        while let Some(action) = self.acd.poll_action() {
            match action {
                AcdAction::Offer {
                    call,
                    seat,
                    ring_timeout,
                } => self.notify(call, Notice::Offer { seat, ring_timeout }),
                AcdAction::CancelOffer { call, seat } => {
                    self.notify(call, Notice::CancelOffer { seat })
                }
                AcdAction::AnnouncePosition { call, position } => {
                    self.notify(call, Notice::Position(position))
                }
                AcdAction::Overflow { call, to } => self.notify(call, Notice::Overflow(to)),
                AcdAction::Connected { call, seat, waited } => {
                    self.notify(call, Notice::Connected { seat, waited })
                }
                AcdAction::QueueEvent(event) => {
                    observe(&event);
                    let call = event.call;
                    self.notify(call, Notice::Event(event));
                }
                AcdAction::SeatChanged(change) => {
                    seats_changed = true;
                    self.record(change).await;
                }
            }
        }
        if seats_changed {
            self.publish_seats();
        }
        for queue in &self.queues {
            if let Some(n) = self.acd.waiting(queue) {
                metrics::gauge!(names::QUEUE_CALLERS_WAITING, "queue" => queue.clone())
                    .set(n as f64);
            }
        }
    }

    /// The ACD never waits for one call and never drops a notice: a call's notice queue is
    /// unbounded, and bounded in practice by the ACD itself (one offer at a time, a position
    /// every announce interval). A send fails only when the call has gone.
    fn notify(&self, call: CallId, notice: Notice) {
        if let Some(notices) = self.calls.get(&call) {
            let _ = notices.send(notice);
        }
    }

    async fn record(&self, change: SeatChange) {
        let (from, _) = state_name(&change.from);
        let (to, reason) = state_name(&change.to);
        info!(seat = %change.seat, from, to, reason = ?reason, "seat state");
        let at = wall_time(self.clock.as_ref(), change.at);
        let event = SeatEvent {
            seat: change.seat.to_string(),
            at,
            from: from.to_string(),
            to: to.to_string(),
            reason,
        };
        if let Err(error) = self.writer.submit(Record::SeatEvent(event)).await {
            warn!(%error, "seat event not queued");
        }
    }

    fn publish_seats(&self) {
        let mut counts: HashMap<&'static str, usize> = [
            "logged_out",
            "available",
            "ringing",
            "on_call",
            "wrap_up",
            "paused",
        ]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
        for seat in &self.seats {
            if let Some(state) = self.acd.seat_state(seat) {
                *counts.entry(state_name(state).0).or_default() += 1;
            }
        }
        for (state, n) in counts {
            metrics::gauge!(names::SEATS, "state" => state).set(n as f64);
        }
    }
}

/// How long callers waited, by how their wait ended.
fn observe(event: &QueueEvent) {
    let waited = match &event.kind {
        QueueEventKind::Answered { waited, .. }
        | QueueEventKind::Abandoned { waited, .. }
        | QueueEventKind::Overflowed { waited, .. } => *waited,
        _ => return,
    };
    metrics::histogram!(names::QUEUE_WAIT_SECONDS, "queue" => event.queue.clone())
        .record(waited.as_secs_f64());
}

fn input_call(input: &AcdInput) -> Option<CallId> {
    match input {
        AcdInput::Enqueue { call, .. }
        | AcdInput::Abandon { call }
        | AcdInput::OfferAnswered { call, .. }
        | AcdInput::OfferFailed { call, .. }
        | AcdInput::CallbackRequested { call } => Some(*call),
        _ => None,
    }
}

/// The stored name of a seat state, and a pause's reason.
pub fn state_name(state: &SeatState) -> (&'static str, Option<String>) {
    match state {
        SeatState::LoggedOut => ("logged_out", None),
        SeatState::Available { .. } => ("available", None),
        SeatState::Ringing { .. } => ("ringing", None),
        SeatState::OnCall { .. } => ("on_call", None),
        SeatState::WrapUp { .. } => ("wrap_up", None),
        SeatState::Paused { reason } => (
            "paused",
            Some(match reason {
                PauseReason::Code(code) => code.clone(),
                PauseReason::NoAnswer => "no_answer".to_string(),
            }),
        ),
    }
}
