//! The driver, its recordings: the caller's leg from the moment the hub has it (the caller on
//! the left; the seat, the units and every prompt the caller heard on the right), a
//! consultation's seat leg while seat and unit talk and the caller holds (a second file, the
//! seat on the left and the unit on the right), and the seat's key that pauses them both.

use crate::call::consult::Media;
use crate::media::hub::LegIndex;

use super::{Driver, CALLER};

/// What the driver records.
#[derive(Debug, Default)]
pub(super) struct Recording {
    /// Whether the call is to be recorded at all.
    pub(super) wanted: bool,
    /// The caller's recording, once started.
    caller: Option<String>,
    /// The consultation being recorded: the seat's hub leg and the recording's id.
    consult: Option<(LegIndex, String)>,
    /// Consultations recorded so far: the next one's number.
    consults: usize,
    paused: bool,
}

impl Driver {
    /// Starts the caller's recording, if the call is recorded and the hub has the caller.
    pub(super) fn start_recording(&mut self) {
        let (Some(recordings), Some(hub)) = (&self.io.ctx.recordings, &self.hub) else {
            return;
        };
        if !self.recording.wanted || self.recording.caller.is_some() {
            return;
        }
        let id = self.call.to_string();
        let tap = recordings.open(&id, id.clone(), self.io.ctx.clock.now());
        hub.record(CALLER, tap);
        self.recording.caller = Some(id);
    }

    /// The call's media changed: a consultation is recorded while seat and unit talk alone.
    pub(super) fn recording_follows(&mut self, media: Media) {
        let (Some(recordings), Some(hub)) = (&self.io.ctx.recordings, &self.hub) else {
            return;
        };
        if self.recording.caller.is_none() || !recordings.consultations() {
            return;
        }
        let talking = media == Media::SeatWithUnit;
        match (&self.recording.consult, talking, self.seat_leg) {
            (None, true, Some(seat)) => {
                self.recording.consults += 1;
                let id = format!("{}-consult-{}", self.call, self.recording.consults);
                let now = self.io.ctx.clock.now();
                hub.record(
                    seat,
                    recordings.open(&self.call.to_string(), id.clone(), now),
                );
                if self.recording.paused {
                    hub.pause_recording(seat, true);
                    recordings.paused(&id, now);
                }
                self.recording.consult = Some((seat, id));
            }
            (Some((seat, _)), false, _) => {
                hub.stop_recording(*seat);
                self.recording.consult = None;
            }
            _ => {}
        }
    }

    /// The seat's pause key: pauses every recording of the call, or resumes them.
    pub(super) fn toggle_recording(&mut self) {
        let (Some(recordings), Some(hub)) = (&self.io.ctx.recordings, &self.hub) else {
            return;
        };
        let Some(caller) = &self.recording.caller else {
            return;
        };
        let paused = !self.recording.paused;
        self.recording.paused = paused;
        let now = self.io.ctx.clock.now();
        let consult = self.recording.consult.iter().map(|(leg, id)| (*leg, id));
        for (leg, id) in std::iter::once((CALLER, caller)).chain(consult) {
            hub.pause_recording(leg, paused);
            if paused {
                recordings.paused(id, now);
            } else {
                recordings.resumed(id, now);
            }
        }
        tracing::info!(paused, "the seat paused or resumed the call's recording");
    }
}
