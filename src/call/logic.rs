//! The one interface between the call driver and whatever logic runs a call, sans-IO in the
//! manner of quinn-proto's connection: the driver hands in what happened ([`Logic::handle`],
//! [`Logic::handle_timeout`]), takes out what to do ([`Logic::poll_action`]) and sleeps until
//! [`Logic::poll_timeout`]. The driver speaks one vocabulary ([`Input`], [`Action`],
//! [`Outcome`]) whichever logic runs: a ring route (or a seat's own call, or the target of a
//! splice) with [`CallMachine`], a queued call with [`QueuedCall`], a call the daemon answers
//! itself (a feature code, a closed route) with [`FeatureCall`], a survey's call to a citizen
//! with [`SurveyAttempt`]. Each logic speaks these words itself and passes over the inputs
//! that are not for it, so the driver never asks which logic it runs except through
//! [`Logic::consults`], [`Logic::splices`] and [`Logic::records`].

use std::collections::VecDeque;

use tokio::time::Instant;

pub mod feature;
pub mod queued;
pub mod rating;
pub mod ring;
pub mod supervise;
pub mod supervise_dial;
pub mod survey;

use std::time::Duration;

use self::feature::FeatureCall;
use self::queued::QueuedCall;
use self::ring::CallMachine;
use self::supervise::SupervisorCall;
use self::supervise_dial::SupervisorDial;
use self::survey::SurveyAttempt;
use super::consult::{ConsultAction, ConsultInput};
use super::sound::Sound;
use crate::queue::{Overflow, SeatCommand};
use crate::ratings::RatingOutcome;
use crate::store::{ContactOutcome, Disposition};
use crate::survey::{Answer, CallOutcome};

/// Index of a leg in the order the call placed them (`Ring`).
pub type LegId = usize;

/// Who ended a call, for its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Caller,
    Seat,
    /// The unit a call was transferred to.
    Unit,
    Daemon,
}

impl EndedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Caller => "caller",
            EndedBy::Seat => "seat",
            EndedBy::Unit => "unit",
            EndedBy::Daemon => "daemon",
        }
    }
}

/// How one attempt of a hunt ended: leg `leg` rang attempt `leg` of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HuntAttempt {
    pub leg: LegId,
    pub outcome: ContactOutcome,
    pub status: Option<u16>,
    pub rung: Duration,
}

/// What a queued call tells the ACD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdNote {
    Enqueue,
    Answered {
        seat: String,
    },
    /// Every phone of the offered seat failed; the status says how.
    Failed {
        seat: String,
        status: u16,
    },
    Abandoned,
    Ended {
        seat: String,
    },
    CallbackRequested,
}

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
    /// The call this one is spliced to has ended (or, for a supervisor, let it go).
    PeerGone,
    /// A supervisor's call joined the seat's call (or switched its mode), or could not: the
    /// status says why (480: the seat is not in a call).
    Supervising(Result<(), u16>),
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
    /// A supervisor's call: join the seat's call in this mode, or switch to it; report
    /// `Supervising`.
    Supervise(crate::supervision::Mode),
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
    /// A call that ended so, with nothing else to say (no seat, no overflow, no callback).
    pub fn ended(
        disposition: Disposition,
        sip_cause: Option<u16>,
        ended_by: Option<EndedBy>,
    ) -> Outcome {
        Outcome {
            disposition,
            sip_cause,
            ended_by,
            answered_leg: None,
            seat: None,
            overflow: None,
            callback_requested: false,
            survey: None,
        }
    }
}

enum Kind {
    Ring(CallMachine),
    Queued(QueuedCall),
    Feature(FeatureCall),
    Survey(SurveyAttempt),
    Supervise(SupervisorCall),
    SupervisorDial(SupervisorDial),
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

    /// A supervisor's call to listen to, whisper to, barge into or take over a seat's call.
    pub fn supervise(call: SupervisorCall) -> Logic {
        Logic {
            kind: Kind::Supervise(call),
            extra: VecDeque::new(),
        }
    }

    /// A supervision session the API started: the supervisor's phone rings first.
    pub fn supervisor_dial(dial: SupervisorDial) -> Logic {
        Logic {
            kind: Kind::SupervisorDial(dial),
            extra: VecDeque::new(),
        }
    }

    /// Whether the call has a record and a line on the board: not a seat's feature call, not
    /// a survey's call (its answers are its record), not a supervisor's (its session is on
    /// the seat's call).
    pub fn records(&self) -> bool {
        match &self.kind {
            Kind::Feature(call) => call.records(),
            Kind::Survey(_) | Kind::Supervise(_) | Kind::SupervisorDial(_) => false,
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
                    m.handle(now, Input::SeatAnswered { leg });
                }
                m.handle(now, input);
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
                q.handle(now, input);
            }
            Kind::Feature(f) => f.handle(now, input),
            Kind::Survey(s) => s.handle(now, input),
            Kind::Supervise(v) => v.handle(now, input),
            Kind::SupervisorDial(d) => d.handle(now, input),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.kind {
            Kind::Ring(m) => m.handle_timeout(now),
            Kind::Queued(q) => q.handle_timeout(now),
            Kind::Feature(f) => f.handle_timeout(now),
            Kind::Survey(s) => s.handle_timeout(now),
            Kind::Supervise(v) => v.handle_timeout(now),
            Kind::SupervisorDial(d) => d.handle_timeout(now),
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.kind {
            Kind::Ring(m) => m.poll_timeout(),
            Kind::Queued(q) => q.poll_timeout(),
            Kind::Feature(f) => f.poll_timeout(),
            Kind::Survey(s) => s.poll_timeout(),
            Kind::Supervise(v) => v.poll_timeout(),
            Kind::SupervisorDial(d) => d.poll_timeout(),
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(action) = self.extra.pop_front() {
            return Some(action);
        }
        match &mut self.kind {
            Kind::Ring(m) => m.poll_action(),
            Kind::Queued(q) => q.poll_action(),
            Kind::Feature(f) => f.poll_action(),
            Kind::Survey(s) => s.poll_action(),
            Kind::Supervise(v) => v.poll_action(),
            Kind::SupervisorDial(d) => d.poll_action(),
        }
    }
}

#[cfg(test)]
mod tests;
