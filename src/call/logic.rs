//! The one interface between the call driver and whatever logic runs a call, sans-IO in the
//! manner of quinn-proto's connection: the driver hands in what happened ([`Logic::handle`],
//! [`Logic::handle_timeout`]), takes out what to do ([`Logic::poll_action`]) and sleeps until
//! [`Logic::poll_timeout`]. The driver speaks one vocabulary ([`Input`], [`Action`],
//! [`Outcome`]) whichever logic runs: a ring route (or a seat's own call, or the target of a
//! splice) with [`CallMachine`], a queued call with [`QueuedCall`], a call the daemon answers
//! itself (a feature code, a closed route) with [`FeatureCall`], a survey's call to a citizen
//! with [`SurveyAttempt`].
//!
//! What a logic does not take is dropped here, so the driver never asks which logic it runs
//! except through [`Logic::consults`].

use std::collections::VecDeque;

use tokio::time::Instant;

pub mod feature;
pub mod survey;

use self::feature::FeatureCall;
use self::survey::SurveyAttempt;
use super::consult::{ConsultAction, ConsultInput};
use super::facts::Ending;
use super::machine::{self, CallMachine, EndedBy, HuntAttempt, LegId};
use super::queued::{self, AcdNote, QueuedCall};
use super::sound::Sound;
use crate::queue::{Overflow, SeatCommand};
use crate::ratings::dialog::RatingSound;
use crate::ratings::RatingOutcome;
use crate::store::Disposition;
use crate::survey::{Answer, CallOutcome};

/// What happened to a call, for its logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The caller's CANCEL, before the call was answered.
    CallerCancelled,
    CallerBye,
    /// Our 200 to the caller was never ACKed.
    CallerAckTimeout,
    /// The daemon is stopping.
    Shutdown,
    /// A prompt to the caller finished playing.
    PlaybackDone,
    /// A key the caller pressed.
    Digit(char),
    RatingCommitted,
    RatingLost,
    /// A provisional response on a leg the call rang.
    SeatProvisional {
        leg: LegId,
        status: u16,
    },
    SeatAnswered {
        leg: LegId,
    },
    /// The leg answered with media the call cannot use (no common codec, broken SDP).
    SeatAnswerUnusable {
        leg: LegId,
    },
    SeatFailed {
        leg: LegId,
        status: u16,
    },
    SeatBye {
        leg: LegId,
    },
    /// The ACD offers `seat`; the driver has made `legs` for its phones.
    Offer {
        seat: String,
        legs: Vec<LegId>,
    },
    CancelOffer {
        seat: String,
    },
    Position(usize),
    Overflow(Overflow),
    /// The seat typed its "to rating" code.
    SeatAsksRating,
    Consult(ConsultInput),
    /// The driver hunts the consulted unit's contacts (true) or no longer (false).
    Hunting(bool),
    UnitBye,
    /// Another call took over the answered party (an attended transfer).
    Spliced,
    /// The call this one is spliced to has ended.
    PeerGone,
}

/// What the driver does for a call's logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 200 with our own SDP to the caller, now (the daemon answers it itself).
    AnswerCaller,
    /// 180 to the caller.
    CallerRinging,
    /// A final failure to the caller's INVITE.
    RejectCaller(u16),
    Play(Sound),
    Acd(AcdNote),
    Ring(LegId),
    Cancel(LegId),
    /// ACK the leg's 2xx and connect it with the caller (answering the caller if the daemon
    /// has not yet).
    Connect(LegId),
    /// ACK a 2xx that lost the race, then hang it up.
    AckAndHangUp(LegId),
    ByeCaller,
    ByeSeat(LegId),
    /// Write the rating durably, then report `RatingCommitted` or `RatingLost`.
    CommitRating(RatingOutcome),
    Consult(ConsultAction),
    /// Tell the spliced call that this one has ended.
    TellPeerGone,
    /// Write a survey's answer durably (with the unit that handled the matter), then report
    /// `RatingCommitted` or `RatingLost`.
    CommitAnswer {
        answer: Answer,
        unit: Option<String>,
    },
    /// A seat's command to the ACD (a feature code: log in, pause…).
    Seat(SeatCommand),
    /// An attempt of the seat's own call's hunt through a unit's contacts is over.
    Attempted(HuntAttempt),
    Finished(Outcome),
}

/// How a call ended, whichever logic ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub disposition: Disposition,
    pub sip_cause: Option<u16>,
    pub ended_by: Option<EndedBy>,
    /// The leg that answered, when the logic counts legs rather than seats.
    pub answered_leg: Option<LegId>,
    /// The seat that took the call, when the logic knows it by name.
    pub seat: Option<String>,
    /// Where an overflow sent the caller ("prompt", "callback").
    pub overflow: Option<&'static str>,
    pub callback_requested: bool,
    /// What a survey's call attempt came to, for the survey's retries.
    pub survey: Option<CallOutcome>,
}

impl Outcome {
    pub fn ending(&self) -> Ending {
        Ending {
            disposition: self.disposition,
            sip_cause: self.sip_cause,
            ended_by: self.ended_by,
        }
    }
}

enum Kind {
    Ring(CallMachine),
    Queued(QueuedCall),
    Feature(FeatureCall),
    Survey(SurveyAttempt),
}

/// A call's logic behind the one interface.
pub struct Logic {
    kind: Kind,
    /// Actions the translation itself adds, taken before the logic's own.
    extra: VecDeque<Action>,
}

impl Logic {
    pub fn ring(machine: CallMachine) -> Logic {
        Logic {
            kind: Kind::Ring(machine),
            extra: VecDeque::new(),
        }
    }

    pub fn queued(call: QueuedCall) -> Logic {
        Logic {
            kind: Kind::Queued(call),
            extra: VecDeque::new(),
        }
    }

    /// A call the daemon answers itself and plays to (a feature code, a closed route).
    pub fn feature(call: FeatureCall) -> Logic {
        Logic {
            kind: Kind::Feature(call),
            extra: VecDeque::new(),
        }
    }

    /// A return-visit survey's call to a citizen.
    pub fn survey(attempt: SurveyAttempt) -> Logic {
        Logic {
            kind: Kind::Survey(attempt),
            extra: VecDeque::new(),
        }
    }

    /// Whether the call has a record and a line on the board: not a seat's feature call, not
    /// a survey's call (its answers are its record).
    pub fn records(&self) -> bool {
        match &self.kind {
            Kind::Feature(call) => call.records(),
            Kind::Survey(_) => false,
            Kind::Ring(_) | Kind::Queued(_) => true,
        }
    }

    /// Whether the seat on this call may consult, transfer and use in-call codes.
    pub fn consults(&self) -> bool {
        matches!(self.kind, Kind::Queued(_))
    }

    /// Whether the answered party may be spliced into another call (an attended transfer
    /// naming this call's dialog with it).
    pub fn splices(&self) -> bool {
        matches!(self.kind, Kind::Ring(_))
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        match &mut self.kind {
            Kind::Ring(m) => {
                // A ring route takes the answer first and hears then that it is unusable.
                if let Input::SeatAnswerUnusable { leg } = input {
                    m.handle(now, machine::Input::SeatAnswered { leg });
                }
                if let Some(input) = ring_input(input) {
                    m.handle(now, input);
                }
            }
            Kind::Queued(q) => {
                // The caller's codec is fixed: a seat answering with another is hung up and
                // counts as a failed offer.
                let input = match input {
                    Input::SeatAnswerUnusable { leg } => {
                        self.extra.push_back(Action::AckAndHangUp(leg));
                        Input::SeatFailed { leg, status: 488 }
                    }
                    other => other,
                };
                if let Some(input) = queued_input(input) {
                    q.handle(now, input);
                }
            }
            Kind::Feature(f) => f.handle(now, input),
            Kind::Survey(s) => s.handle(now, input),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.kind {
            Kind::Ring(m) => m.handle_timeout(now),
            Kind::Queued(q) => q.handle_timeout(now),
            Kind::Feature(f) => f.handle_timeout(now),
            Kind::Survey(s) => s.handle_timeout(now),
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.kind {
            Kind::Ring(m) => m.poll_timeout(),
            Kind::Queued(q) => q.poll_timeout(),
            Kind::Feature(f) => f.poll_timeout(),
            Kind::Survey(s) => s.poll_timeout(),
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(action) = self.extra.pop_front() {
            return Some(action);
        }
        match &mut self.kind {
            Kind::Ring(m) => m.poll_action().map(from_ring),
            Kind::Queued(q) => q.poll_action().map(from_queued),
            Kind::Feature(f) => f.poll_action(),
            Kind::Survey(s) => s.poll_action(),
        }
    }
}

fn ring_input(input: Input) -> Option<machine::Input> {
    use machine::Input as M;
    Some(match input {
        Input::CallerCancelled => M::CallerCancelled,
        Input::CallerBye => M::CallerBye,
        Input::CallerAckTimeout => M::CallerAckTimeout,
        Input::Shutdown => M::Shutdown,
        Input::PlaybackDone => M::PlaybackDone,
        Input::Digit(d) => M::Digit(d),
        Input::RatingCommitted => M::RatingCommitted,
        Input::RatingLost => M::RatingLost,
        Input::SeatProvisional { leg, status } => M::SeatProvisional { leg, status },
        Input::SeatAnswered { leg } => M::SeatAnswered { leg },
        Input::SeatAnswerUnusable { leg } => M::SeatAnswerUnusable { leg },
        Input::SeatFailed { leg, status } => M::SeatFailed { leg, status },
        Input::SeatBye { leg } => M::SeatBye { leg },
        Input::Spliced => M::Spliced,
        Input::PeerGone => M::PeerGone,
        Input::Offer { .. }
        | Input::CancelOffer { .. }
        | Input::Position(_)
        | Input::Overflow(_)
        | Input::SeatAsksRating
        | Input::Consult(_)
        | Input::Hunting(_)
        | Input::UnitBye => return None,
    })
}

fn queued_input(input: Input) -> Option<queued::Input> {
    use queued::Input as Q;
    Some(match input {
        Input::CallerBye => Q::CallerBye,
        Input::CallerAckTimeout => Q::CallerAckTimeout,
        Input::Shutdown => Q::Shutdown,
        Input::PlaybackDone => Q::PlaybackDone,
        Input::Digit(d) => Q::Digit(d),
        Input::RatingCommitted => Q::RatingCommitted,
        Input::RatingLost => Q::RatingLost,
        Input::SeatAnswered { leg } => Q::SeatAnswered { leg },
        Input::SeatFailed { leg, status } => Q::SeatFailed { leg, status },
        Input::SeatBye { leg } => Q::SeatBye { leg },
        Input::Offer { seat, legs } => Q::Offer { seat, legs },
        Input::CancelOffer { seat } => Q::CancelOffer { seat },
        Input::Position(n) => Q::Position(n),
        Input::Overflow(to) => Q::Overflow(to),
        Input::SeatAsksRating => Q::SeatAsksRating,
        Input::Consult(c) => Q::Consult(c),
        Input::Hunting(h) => Q::Hunting(h),
        Input::UnitBye => Q::UnitBye,
        // Answered at once, a CANCEL can only race our 200; the BYE that follows ends it.
        Input::CallerCancelled
        | Input::SeatProvisional { .. }
        | Input::SeatAnswerUnusable { .. }
        | Input::Spliced
        | Input::PeerGone => return None,
    })
}

fn from_ring(action: machine::Action) -> Action {
    use machine::Action as M;
    match action {
        M::RingSeat(leg) => Action::Ring(leg),
        M::CancelSeat(leg) => Action::Cancel(leg),
        M::CallerRinging => Action::CallerRinging,
        M::Connect(leg) => Action::Connect(leg),
        M::AckAndHangUpSeat(leg) => Action::AckAndHangUp(leg),
        M::RejectCaller(status) => Action::RejectCaller(status),
        M::CallerTerminated => Action::RejectCaller(487),
        M::ByeCaller => Action::ByeCaller,
        M::ByeSeat(leg) => Action::ByeSeat(leg),
        M::TellPeerGone => Action::TellPeerGone,
        M::PlayRating(RatingSound::Question) => Action::Play(Sound::RatingQuestion),
        M::PlayRating(RatingSound::ThankYou) => Action::Play(Sound::ThankYou),
        M::CommitRating(outcome) => Action::CommitRating(outcome),
        M::Attempted(attempt) => Action::Attempted(attempt),
        M::Finished(o) => Action::Finished(Outcome {
            disposition: o.disposition,
            sip_cause: o.sip_cause,
            ended_by: o.ended_by,
            answered_leg: o.answered_leg,
            seat: None,
            overflow: None,
            callback_requested: false,
            survey: None,
        }),
    }
}

fn from_queued(action: queued::Action) -> Action {
    use queued::Action as Q;
    match action {
        Q::Answer => Action::AnswerCaller,
        Q::Play(sound) => Action::Play(sound),
        Q::Acd(note) => Action::Acd(note),
        Q::Ring(leg) => Action::Ring(leg),
        Q::Cancel(leg) => Action::Cancel(leg),
        Q::Connect(leg) => Action::Connect(leg),
        Q::AckAndHangUp(leg) => Action::AckAndHangUp(leg),
        Q::ByeCaller => Action::ByeCaller,
        Q::ByeSeat(leg) => Action::ByeSeat(leg),
        Q::CommitRating(outcome) => Action::CommitRating(outcome),
        Q::Consult(action) => Action::Consult(action),
        Q::Finished(o) => Action::Finished(Outcome {
            disposition: o.disposition,
            sip_cause: o.sip_cause,
            ended_by: o.ended_by,
            answered_leg: None,
            seat: o.seat,
            overflow: o.overflow,
            callback_requested: o.callback_requested,
            survey: None,
        }),
    }
}

#[cfg(test)]
mod tests;
