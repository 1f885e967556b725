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

use super::handle::{
    AcdHandle, AcdSnapshot, AcdUpdate, Notice, QueueNow, Request, SeatNow, REQUEST_QUEUE,
};
use super::{
    Acd, AcdAction, AcdInput, CallId, PauseReason, QueueEvent, QueueEventKind, SeatChange, SeatId,
    SeatState,
};
use crate::bus::Bus;
use crate::clock::{wall_time, Clock};
use crate::metrics::{labels, names};
use crate::store::{Record, SeatEvent, WriterHandle};

pub struct AcdService {
    acd: Acd,
    calls: HashMap<CallId, mpsc::UnboundedSender<Notice>>,
    writer: WriterHandle,
    clock: Arc<dyn Clock>,
    /// The seats and queues in configuration order, for snapshots.
    seats: Vec<SeatId>,
    queues: Vec<String>,
    updates: Bus<AcdUpdate>,
    /// The waiting callers last published, by queue.
    waiting: HashMap<String, usize>,
    /// When each seat took its present state.
    since: HashMap<SeatId, Instant>,
}

/// Updates a subscriber may fall behind by before it must take a snapshot.
const UPDATES_KEPT: usize = 1024;

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
        let updates = Bus::new("acd", UPDATES_KEPT);
        let started = Instant::now();
        let since = seats.iter().map(|s| (s.clone(), started)).collect();
        let service = AcdService {
            acd,
            calls: HashMap::new(),
            writer,
            clock,
            seats,
            queues,
            updates: updates.clone(),
            waiting: HashMap::new(),
            since,
        };
        let task = tokio::spawn(service.run(rx, stop));
        (AcdHandle::new(requests, updates), task)
    }

    async fn run(mut self, mut requests: mpsc::Receiver<Request>, stop: CancellationToken) {
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
            Request::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
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
                    observe(&event, self.acd.service_level(&event.queue));
                    let call = event.call;
                    self.notify(call, Notice::Event(event));
                }
                AcdAction::SeatChanged(change) => {
                    self.since.insert(change.seat.clone(), change.at);
                    self.updates.publish(AcdUpdate::Seat {
                        seat: change.seat.clone(),
                        state: change.to.clone(),
                        since: change.at,
                    });
                    self.record(change).await;
                }
            }
        }
        for queue in &self.queues {
            let Some(callers) = self.acd.waiting(queue) else {
                continue;
            };
            if self.waiting.insert(queue.clone(), callers) != Some(callers) {
                self.updates.publish(AcdUpdate::Waiting {
                    queue: queue.clone(),
                    callers,
                });
            }
        }
    }

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

    fn snapshot(&self) -> AcdSnapshot {
        AcdSnapshot {
            seats: self
                .seats
                .iter()
                .filter_map(|seat| {
                    Some(SeatNow {
                        seat: seat.clone(),
                        state: self.acd.seat_state(seat)?.clone(),
                        since: self.since.get(seat).copied()?,
                    })
                })
                .collect(),
            queues: self
                .queues
                .iter()
                .filter_map(|queue| {
                    Some(QueueNow {
                        queue: queue.clone(),
                        callers: self.acd.waiting_calls(queue)?,
                    })
                })
                .collect(),
        }
    }
}

/// The queue's counters and how long callers waited, by how their wait ended.
fn observe(event: &QueueEvent, service_level: Option<Duration>) {
    let queue = event.queue.clone();
    let (outcome, waited) = match &event.kind {
        QueueEventKind::Entered { .. } => {
            metrics::counter!(names::QUEUE_CALLS_OFFERED_TOTAL, labels::QUEUE => queue)
                .increment(1);
            return;
        }
        QueueEventKind::Offered { outcome, .. } => {
            metrics::counter!(names::QUEUE_OFFERS_TOTAL, labels::QUEUE => queue, labels::OUTCOME => outcome.as_str())
                .increment(1);
            return;
        }
        QueueEventKind::Answered { waited, .. } => {
            if service_level.is_some_and(|level| *waited <= level) {
                metrics::counter!(names::QUEUE_ANSWERED_IN_SERVICE_LEVEL_TOTAL, labels::QUEUE => queue.clone())
                    .increment(1);
            }
            ("answered", *waited)
        }
        QueueEventKind::Abandoned { waited, .. } => ("abandoned", *waited),
        QueueEventKind::Overflowed { waited, .. } => ("overflowed", *waited),
        QueueEventKind::CallbackRequested { waited } => ("callback", *waited),
    };
    metrics::counter!(names::QUEUE_CALLS_ENDED_TOTAL, labels::QUEUE => queue.clone(), labels::OUTCOME => outcome)
        .increment(1);
    if outcome != "callback" {
        metrics::histogram!(names::QUEUE_WAIT_SECONDS, labels::QUEUE => queue)
            .record(waited.as_secs_f64());
    }
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

/// Every name `state_name` gives, in the order the seat states are listed.
pub const SEAT_STATE_NAMES: [&str; 6] = [
    "logged_out",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
];

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
