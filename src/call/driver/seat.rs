//! The driver, its seat's side: the in-call keys the seat types, the hand-off of the call it
//! serves, and the hand-off clock's tones in its ear.

use tokio::time::Instant;

use super::Driver;
use crate::call::consult::ConsultInput;
use crate::call::hunt::HuntInput;
use crate::call::logic::{Input, Logic};
use crate::features::in_call::InCallFeature;
use crate::handoff::{By, Cue};
use crate::media::hub::{Audio, Gain};
use crate::media::tones;

impl Driver {
    /// A key the seat typed during the call: the in-call codes consult a unit, join, transfer,
    /// or send the caller to rating.
    pub(super) fn seat_key(&mut self, digit: char, logic: &mut Logic) {
        if !logic.consults() {
            return;
        }
        let now = Instant::now();
        match self.keys.push(now, digit) {
            Some(InCallFeature::ToRating) => logic.handle(now, Input::SeatAsksRating),
            Some(InCallFeature::SkipContact) => self.hunt_input(HuntInput::Skip),
            Some(InCallFeature::PauseRecording) => self.toggle_recording(),
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
            Some(feature) => logic.handle(now, Input::Consult(ConsultInput::Feature(feature))),
            None => {}
        }
    }

    /// The party on leg `seat` answered: a seat answering a caller serves the call (its
    /// hand-off cues come here, the route's hand-off category marks the call); a unit
    /// answering a seat's own call makes that call's hand-off.
    pub(super) fn seat_serves(&self, seat: &str) {
        if let Some((by, unit)) = self.own_call_to_unit() {
            self.io.ctx.handoffs.unit_answered(by, &unit);
        }
        if self.placed.is_some() {
            return;
        }
        self.io
            .ctx
            .handoffs
            .seat_on(seat, self.call, self.cues.clone());
        if let Some(category) = self.handoff.clone() {
            self.mark_handoff(&category);
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
        let Some((leg, pt)) = self.cue_leg() else {
            return;
        };
        let tone = match cue {
            Cue::Warning => tones::HANDOFF_WARNING,
            Cue::Breach => tones::HANDOFF_BREACH,
        };
        self.tone(leg, pt, tone);
    }

    /// Plays `tone` in the seat's ear on top of what it hears; nobody else hears it.
    pub(super) fn seat_tone(&mut self, tone: &str) {
        if let Some((leg, audio)) = self.seat_leg.zip(self.seat_audio) {
            self.tone(leg, audio.pt, tone);
        }
    }

    /// Plays `tone` in hub leg `leg`'s ear (payload type `pt`) on top of what it hears.
    fn tone(&mut self, leg: usize, pt: u8, tone: &str) {
        let Some(hub) = &self.hub else {
            return;
        };
        let caller = self.negotiated.audio;
        // The seat's leg speaks the codec it answered with (the caller's, for a queued call).
        let codec = match (leg, self.seat_audio) {
            (super::CALLER, _) | (_, None) => caller.codec,
            (_, Some(seat)) => seat.codec,
        };
        hub.set_audio(
            super::CALLER,
            Audio {
                codec: caller.codec,
                pt: caller.pt,
            },
        );
        hub.set_audio(leg, Audio { codec, pt });
        let play = self.io.ctx.prompts.play(&[tone], codec, pt, false);
        hub.overlay(leg, play, Gain::UNITY);
    }

    /// The seat that served has left this call: its cues go elsewhere.
    pub(super) fn seat_off(&self) {
        if let (None, Some(seat)) = (&self.placed, &self.seat) {
            self.io.ctx.handoffs.seat_off(seat, self.call);
        }
    }

    /// The hand-off this call serves, for a unit it dials or that answers: a seat's own
    /// call's, or the call of the seat on it.
    pub(super) fn handoff_by(&self) -> Option<By> {
        if let Some(placed) = &self.placed {
            return Some(By::OwnCall {
                call: self.call,
                seat: placed.seat.clone(),
            });
        }
        self.seat.clone().map(|seat| By::Call {
            call: self.call,
            seat,
        })
    }
}
