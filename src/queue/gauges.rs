//! The ACD's gauges (`hotline_seats{state}`, `hotline_seats_paused{reason}`,
//! `hotline_queue_seats_logged_in{queue}`, `hotline_queue_callers_waiting{queue}`), kept by a
//! subscriber of its updates: it starts from a snapshot, follows the updates, and takes a new
//! snapshot whenever it fell behind.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::handle::{AcdHandle, AcdSnapshot, AcdUpdate};
use super::service::SEAT_STATE_NAMES;
use super::{state_name, SeatId, SeatState};
use crate::bus::Update;
use crate::metrics::{labels, names};

/// Seats counted by state, as the gauges show them.
#[derive(Debug, Default)]
pub struct SeatCounts {
    /// Each seat's state, and its pause reason when paused.
    seats: HashMap<SeatId, (&'static str, Option<String>)>,
    /// Every pause reason seen, so a reason nobody is paused for any more shows 0.
    reasons: Vec<String>,
}

impl SeatCounts {
    pub fn set(&mut self, seat: SeatId, state: &SeatState) {
        let (name, reason) = state_name(state);
        if let Some(reason) = &reason {
            if !self.reasons.contains(reason) {
                self.reasons.push(reason.clone());
            }
        }
        self.seats.insert(seat, (name, reason));
    }

    /// Every state (each gets a gauge, zero or not) with its number of seats.
    pub fn counts(&self) -> [(&'static str, usize); 6] {
        SEAT_STATE_NAMES.map(|state| (state, self.seats.values().filter(|s| s.0 == state).count()))
    }

    /// How many of `members` (None: every seat) are logged in, in any state but logged out.
    pub fn logged_in(&self, members: Option<&[String]>) -> usize {
        self.seats
            .iter()
            .filter(|(seat, s)| {
                s.0 != "logged_out" && members.is_none_or(|m| m.iter().any(|u| u == seat.as_str()))
            })
            .count()
    }

    /// Every pause reason seen with its number of seats paused for it now.
    pub fn paused(&self) -> impl Iterator<Item = (&str, usize)> {
        self.reasons.iter().map(|reason| {
            let n = self
                .seats
                .values()
                .filter(|s| s.1.as_ref() == Some(reason))
                .count();
            (reason.as_str(), n)
        })
    }
}

/// Each queue's name and its seats (None: every seat), for the logged-in gauge.
pub type Membership = Vec<(String, Option<Vec<String>>)>;

/// Runs until `stop` or until the ACD is gone.
pub async fn run(acd: AcdHandle, queues: Membership, stop: CancellationToken) {
    let mut updates = acd.subscribe();
    let mut seats = SeatCounts::default();
    if let Some(snapshot) = acd.snapshot().await {
        apply(&mut seats, &queues, snapshot);
    }
    loop {
        let update = tokio::select! {
            _ = stop.cancelled() => return,
            update = updates.recv() => update,
        };
        match update {
            Some(Update::Event(AcdUpdate::Seat { seat, state, .. })) => {
                seats.set(seat, &state);
                show_seats(&seats, &queues);
            }
            Some(Update::Event(AcdUpdate::Waiting { queue, callers })) => {
                show_waiting(queue, callers)
            }
            Some(Update::Lagged(_)) => match acd.snapshot().await {
                Some(snapshot) => apply(&mut seats, &queues, snapshot),
                None => return,
            },
            None => return,
        }
    }
}

fn apply(seats: &mut SeatCounts, queues: &Membership, snapshot: AcdSnapshot) {
    for now in snapshot.seats {
        seats.set(now.seat, &now.state);
    }
    show_seats(seats, queues);
    for now in snapshot.queues {
        show_waiting(now.queue, now.callers.len());
    }
}

fn show_seats(seats: &SeatCounts, queues: &Membership) {
    for (state, n) in seats.counts() {
        metrics::gauge!(names::SEATS, labels::STATE => state).set(n as f64);
    }
    for (queue, members) in queues {
        let n = seats.logged_in(members.as_deref());
        metrics::gauge!(names::QUEUE_SEATS_LOGGED_IN, labels::QUEUE => queue.clone()).set(n as f64);
    }
    for (reason, n) in seats.paused() {
        metrics::gauge!(names::SEATS_PAUSED, labels::REASON => reason.to_string()).set(n as f64);
    }
}

fn show_waiting(queue: String, callers: usize) {
    metrics::gauge!(names::QUEUE_CALLERS_WAITING, labels::QUEUE => queue).set(callers as f64);
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    #[test]
    fn every_seat_state_has_a_gauge() {
        use crate::queue::{CallId, PauseReason};
        let now = Instant::now();
        let states = [
            SeatState::LoggedOut,
            SeatState::Available { since: now },
            SeatState::Ringing { call: CallId(1) },
            SeatState::OnCall { call: CallId(1) },
            SeatState::WrapUp { until: now },
            SeatState::Paused {
                reason: PauseReason::NoAnswer,
            },
        ];
        let names: Vec<&str> = states.iter().map(|s| state_name(s).0).collect();
        assert_eq!(names, SEAT_STATE_NAMES);
    }

    #[test]
    fn seats_are_counted_by_their_latest_state() {
        let mut seats = SeatCounts::default();
        seats.set(SeatId::from("1001"), &SeatState::LoggedOut);
        seats.set(SeatId::from("1002"), &SeatState::LoggedOut);
        seats.set(
            SeatId::from("1001"),
            &SeatState::Available {
                since: Instant::now(),
            },
        );
        let counts = seats.counts();
        assert_eq!(counts[0], ("logged_out", 1));
        assert_eq!(counts[1], ("available", 1));
        assert!(counts[2..].iter().all(|(_, n)| *n == 0), "{counts:?}");
    }

    #[test]
    fn paused_seats_are_counted_by_reason_and_a_reason_left_shows_zero() {
        use crate::queue::PauseReason;
        let mut seats = SeatCounts::default();
        let paused = |reason| SeatState::Paused { reason };
        seats.set(SeatId::from("1001"), &paused(PauseReason::NoAnswer));
        seats.set(
            SeatId::from("1002"),
            &paused(PauseReason::Code("break".into())),
        );
        seats.set(
            SeatId::from("1003"),
            &paused(PauseReason::Code("break".into())),
        );
        let now: Vec<_> = seats.paused().map(|(r, n)| (r.to_string(), n)).collect();
        assert_eq!(
            now,
            [("no_answer".to_string(), 1), ("break".to_string(), 2)]
        );
        seats.set(SeatId::from("1001"), &SeatState::LoggedOut);
        let now: Vec<_> = seats.paused().map(|(r, n)| (r.to_string(), n)).collect();
        assert_eq!(
            now,
            [("no_answer".to_string(), 0), ("break".to_string(), 2)]
        );
    }
}
