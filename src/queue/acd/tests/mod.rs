//! The ACD on virtual time: minutes of queueing run in milliseconds.

mod serving;
mod waiting;

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::queue::config::{Overflow, QueueSettings};
use crate::queue::seats::SeatError;

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn queue(name: &str, extra: &str) -> QueueSettings {
    toml::from_str(&format!("name = {name:?}\n{extra}")).unwrap()
}

pub(super) fn seat(id: &str) -> SeatId {
    id.into()
}

/// Drives an [`Acd`] the way the lead's task will: inputs at "now", timers in deadline order,
/// and every action logged with the test time it came out at.
pub(super) struct Line {
    pub(super) acd: Acd,
    pub(super) t0: Instant,
    now: Instant,
    log: Vec<(Duration, AcdAction)>,
}

impl Line {
    pub(super) fn new(queues: &[QueueSettings], seats: &[&str]) -> Self {
        let t0 = Instant::now();
        let ids: Vec<SeatId> = seats.iter().map(|s| seat(s)).collect();
        Self {
            acd: Acd::new(queues, &ids, t0).unwrap(),
            t0,
            now: t0,
            log: Vec::new(),
        }
    }

    /// Runs the timers up to `t0 + at` one deadline at a time, then sets the clock there.
    pub(super) fn at(&mut self, at: Duration) -> &mut Self {
        let end = self.t0 + at;
        assert!(end >= self.now, "time runs forward");
        while let Some(deadline) = self.acd.poll_timeout().filter(|d| *d <= end) {
            self.acd.handle_timeout(deadline);
            self.collect(deadline);
        }
        self.now = end;
        self
    }

    pub(super) fn try_input(&mut self, input: AcdInput) -> Result<(), AcdError> {
        let result = self.acd.handle(self.now, input);
        self.collect(self.now);
        result
    }

    pub(super) fn input(&mut self, input: AcdInput) -> &mut Self {
        self.try_input(input).unwrap();
        self
    }

    pub(super) fn collect(&mut self, at: Instant) {
        while let Some(action) = self.acd.poll_action() {
            self.log.push((at - self.t0, action));
        }
    }

    /// Registered phone, logged in.
    pub(super) fn ready(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::Seat(SeatCommand::Registered { seat: seat(id) }))
            .input(AcdInput::Seat(SeatCommand::Login { seat: seat(id) }))
    }

    pub(super) fn pause(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::Seat(SeatCommand::Pause {
            seat: seat(id),
            reason: "break".into(),
        }))
    }

    pub(super) fn resume(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::Seat(SeatCommand::Resume { seat: seat(id) }))
    }

    pub(super) fn enqueue(&mut self, call: u64, queue: &str) -> &mut Self {
        self.enqueue_with(call, queue, 5)
    }

    pub(super) fn enqueue_with(&mut self, call: u64, queue: &str, priority: u8) -> &mut Self {
        self.input(AcdInput::Enqueue {
            call: CallId(call),
            queue: queue.into(),
            priority,
        })
    }

    pub(super) fn answer(&mut self, call: u64, id: &str) -> &mut Self {
        self.input(AcdInput::OfferAnswered {
            call: CallId(call),
            seat: seat(id),
        })
    }

    pub(super) fn hang_up(&mut self, id: &str) -> &mut Self {
        self.input(AcdInput::CallEnded { seat: seat(id) })
    }

    /// Every action so far, and the log cleared.
    pub(super) fn take(&mut self) -> Vec<(Duration, AcdAction)> {
        std::mem::take(&mut self.log)
    }

    /// (when, call, seat) of every offer so far, and the log cleared.
    pub(super) fn offers(&mut self) -> Vec<(Duration, u64, String)> {
        self.take()
            .into_iter()
            .filter_map(|(at, a)| match a {
                AcdAction::Offer { call, seat, .. } => Some((at, call.0, seat.to_string())),
                _ => None,
            })
            .collect()
    }

    pub(super) fn state(&self, id: &str) -> SeatState {
        self.acd.seat_state(&seat(id)).unwrap().clone()
    }
}

pub(super) fn offered(offers: &[(Duration, u64, String)]) -> Vec<(u64, &str)> {
    offers.iter().map(|(_, c, s)| (*c, s.as_str())).collect()
}
