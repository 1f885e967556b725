//! The queued call's driver, its seat's side: the in-call keys the seat types, the hand-off of
//! the call it serves, and the hand-off clock's tones in its ear.

use tokio::time::Instant;

use super::Driver;
use crate::call::consult::ConsultInput;
use crate::call::hunt::HuntInput;
use crate::call::queued::{Input, QueuedCall};
use crate::features::in_call::InCallFeature;
use crate::handoff::{By, Cue};
use crate::media::tones;

impl Driver {
    /// A key the seat typed during the call: the in-call codes consult a unit, join, transfer,
    /// or send the caller to rating.
    pub(super) fn seat_key(&mut self, digit: char, machine: &mut QueuedCall) {
        let now = Instant::now();
        match self.keys.push(now, digit) {
            Some(InCallFeature::ToRating) => machine.handle(now, Input::SeatAsksRating),
            Some(InCallFeature::SkipContact) => self.hunt_input(HuntInput::Skip),
            Some(InCallFeature::UnitRefused) => self.unit_refused(),
            Some(InCallFeature::MarkHandoff(category)) => self.mark_handoff(&category),
            Some(InCallFeature::ExtendHandoff(reason)) => {
                if let Some(seat) = &self.seat {
                    self.io.ctx.handoffs.extend(self.call, seat, &reason);
                }
            }
            Some(InCallFeature::CloseHandoff(reason)) => {
                if let Some(seat) = &self.seat {
                    self.io.ctx.handoffs.close(self.call, seat, &reason);
                }
            }
            Some(feature) => machine.handle(now, Input::Consult(ConsultInput::Feature(feature))),
            None => {}
        }
    }

    /// Marks the call the seat serves with a hand-off category; its clock counts from the
    /// seat's answer.
    pub(super) fn mark_handoff(&self, category: &str) {
        if let (Some(seat), Some(answered), Some(answered_at)) =
            (&self.seat, self.connected_at, self.answered_at)
        {
            self.io
                .ctx
                .handoffs
                .mark(self.call, seat, category, answered, answered_at);
        }
    }

    /// A tone the hand-off clock wants in the seat's ear (only while the seat is on the call).
    pub(super) fn on_cue(&mut self, cue: Cue) {
        if self.seat_ended.is_some() {
            return;
        }
        self.seat_tone(match cue {
            Cue::Warning => tones::HANDOFF_WARNING,
            Cue::Breach => tones::HANDOFF_BREACH,
        });
    }

    /// The seat that served has left this call: its cues go elsewhere.
    pub(super) fn seat_off(&self) {
        if let Some(seat) = &self.seat {
            self.io.ctx.handoffs.seat_off(seat, self.call);
        }
    }

    /// The hand-off this call's seat serves, for a unit it dials or that answers.
    pub(super) fn handoff_by(&self) -> Option<By> {
        self.seat.clone().map(|seat| By::Call {
            call: self.call,
            seat,
        })
    }
}
