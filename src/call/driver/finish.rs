//! The driver, the call's line on the board and its end: media counters as they move, then
//! the record of the call and of its legs.

use std::time::{Duration, SystemTime};

use tracing::info;

use super::{Driver, CALLER};
use crate::call::board::{LineState, LineView};
use crate::call::io::CallIo;
use crate::call::logic::Outcome;
use crate::media::LineStats;
use crate::metrics::names;
use crate::store::{CallRecord, LegRecord};

/// How often a connected call publishes its media counters to the board and metrics.
pub const MEDIA_REPORT: Duration = Duration::from_secs(1);

impl Driver {
    pub(super) fn publish(&mut self, state: LineState) {
        self.state = state.clone();
        if !self.records {
            return;
        }
        self.io.ctx.board.update(
            self.call,
            LineView {
                id: self.facts.id.clone(),
                trunk: self.facts.trunk.clone(),
                caller: self.facts.caller.clone(),
                called: self.facts.called.clone(),
                seat: self.seat.clone(),
                queue: self.queue.as_ref().map(|(queue, _)| queue.clone()),
                units: self
                    .units
                    .iter()
                    .filter(|u| u.answered_at.is_some())
                    .map(|u| u.name().to_string())
                    .collect(),
                answered_at: self.answered_at,
                state,
                media: self.reported,
            },
        );
    }

    /// Publishes media counters and adds what moved since the last report to the metrics.
    pub(super) fn report_media(&mut self) {
        let Some(hub) = &self.hub else {
            return;
        };
        let now = LineStats {
            a: hub.stats(CALLER),
            b: self.seat_leg.map(|l| hub.stats(l)).unwrap_or_default(),
        };
        report_relayed(&self.reported, &now);
        self.reported = now;
        self.publish(self.state.clone());
    }

    pub(super) async fn finish(mut self, outcome: Outcome) {
        self.release_supervisor().await;
        self.stop_supervising().await;
        self.report_media();
        self.seat_off();
        self.placed_call_ends();
        self.release_unit(&outcome);
        if self.queue.is_some() {
            self.io.ctx.acd.leave(self.call).await;
        }
        if let Some(hub) = self.hub.take() {
            hub.stop().await;
        }
        self.offer_sockets.clear();
        self.caller_socket = None;
        self.ring_socket = None;
        self.io.ctx.board.remove(self.call);
        self.io.finished().await;
        if let Some(at) = self.connected_at {
            metrics::histogram!(names::CALL_DURATION_SECONDS).record(at.elapsed().as_secs_f64());
        }
        if !self.records {
            return;
        }
        // After a take-over the call is the supervisor's.
        let taken_over = self.seat_released.is_some().then(|| self.seat.clone());
        let seat = taken_over
            .flatten()
            .or_else(|| outcome.seat.clone())
            .or_else(|| {
                outcome
                    .answered_leg
                    .and_then(|leg| self.legs.get(leg))
                    .map(|l| l.seat.clone())
            });
        let mut record = self
            .facts
            .record(&self.io.ctx, &outcome, seat, self.answered_at);
        if let Some((queue, _)) = &self.queue {
            let part = std::mem::take(&mut self.record);
            record.queue =
                Some(part.finish(queue, self.facts.offered_at, record.ended_at, &outcome));
        }
        info!(disposition = record.disposition.as_str(), seat = ?record.seat, cause = ?record.sip_cause, ended_by = ?record.ended_by, "call finished");
        record_legs(&self.io, &record, self.seat_ended, self.finished_legs).await;
        self.io.record(record).await;
    }
}

/// Every leg of the call with its role, times and end: the caller, the seat that answered
/// (which may have left early, in a transfer), and each unit contact consulted.
async fn record_legs(
    io: &CallIo,
    call: &CallRecord,
    seat_ended: Option<(&'static str, SystemTime)>,
    units: Vec<LegRecord>,
) {
    let mut legs = vec![crate::call::leg_records::caller(call)];
    if let Some(mut seat) = crate::call::leg_records::seat(call) {
        if let Some((how, at)) = seat_ended {
            seat.ended_how = how.to_string();
            seat.ended_at = at;
        }
        legs.push(seat);
    }
    legs.extend(units);
    for leg in legs {
        io.leg(leg).await;
    }
}

/// Adds the packets and bytes relayed between two snapshots (leg A = caller, B = seat).
pub fn report_relayed(before: &LineStats, now: &LineStats) {
    let to_seat = now.b.tx_packets.saturating_sub(before.b.tx_packets);
    let to_caller = now.a.tx_packets.saturating_sub(before.a.tx_packets);
    metrics::counter!(names::RTP_PACKETS_RELAYED_TOTAL, "direction" => "caller_to_seat")
        .increment(to_seat);
    metrics::counter!(names::RTP_PACKETS_RELAYED_TOTAL, "direction" => "seat_to_caller")
        .increment(to_caller);
    metrics::counter!(names::RTP_BYTES_RELAYED_TOTAL, "direction" => "caller_to_seat")
        .increment(now.b.tx_bytes.saturating_sub(before.b.tx_bytes));
    metrics::counter!(names::RTP_BYTES_RELAYED_TOTAL, "direction" => "seat_to_caller")
        .increment(now.a.tx_bytes.saturating_sub(before.a.tx_bytes));
    // Loss and jitter of what each side sends, as the daemon receives it.
    for (direction, before, now) in [
        ("caller_to_seat", &before.a, &now.a),
        ("seat_to_caller", &before.b, &now.b),
    ] {
        metrics::counter!(names::RTP_PACKETS_LOST_TOTAL, "direction" => direction)
            .increment(now.lost.saturating_sub(before.lost));
        if now.rx_packets > before.rx_packets {
            metrics::histogram!(names::RTP_JITTER_SECONDS, "direction" => direction)
                .record(now.jitter_us as f64 / 1e6);
        }
    }
}
