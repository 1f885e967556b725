//! A call that waits in a queue, as a state machine without I/O. The daemon answers the caller
//! at once, greets it, hands it to the ACD, plays hold music and positions while it waits, rings
//! the seat the ACD offers (every phone of that seat, one leg each) and connects the first leg
//! that answers. The ACD owns ring timeouts and the order of service; this machine only follows.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::rating::{rating_actions, rating_input};
use super::{AcdNote, Action, EndedBy, Input, LegId, Outcome};
use crate::call::consult::{Consult, ConsultAction, ConsultInput};
use crate::call::sound::Sound;
use crate::queue::Overflow;
use crate::ratings::dialog::{RatingDialog, RatingStep};
use crate::store::Disposition;
use crate::timer::TimerTable;

use crate::ratings::dialog::RatingRules;

/// How long the caller has to press 1 after the callback offer.
pub const CALLBACK_DIGIT_WAIT: Duration = Duration::from_secs(8);

/// A unit's contact rings this long before it is given up, unless the call is told otherwise.
pub const DEFAULT_UNIT_RING_TIMEOUT: Duration = Duration::from_secs(30);

/// The call's own deadlines; the rating dialog keeps its own while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    /// The caller heard the callback offer and has `CALLBACK_DIGIT_WAIT` to press 1.
    CallbackKey,
    /// The unit a seat reaches for rings; at the deadline it is given up.
    UnitRing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Greeting,
    Waiting,
    Connected {
        leg: LegId,
        seat: String,
    },
    /// The seat transferred the caller to a unit and left.
    WithUnit {
        seat: String,
    },
    /// Playing a refusal, then hanging up.
    Refusing,
    /// The callback offer plays, then waits for a key (`Timer::CallbackKey`).
    OfferingCallback,
    ConfirmingCallback,
    /// The caller is asked to rate the service (`rating_dialog` runs it).
    Rating {
        seat: String,
    },
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LegState {
    Ringing,
    Failed(u16),
    Answered,
    Cancelled,
}

pub struct QueuedCall {
    phase: Phase,
    consult: Consult,
    /// Who hung up on the caller: the seat, or the unit it was transferred to.
    left_first: EndedBy,
    rating: Option<RatingRules>,
    rating_dialog: Option<RatingDialog>,
    /// Legs by id: the seat they ring and their state.
    legs: Vec<Option<(String, LegState)>>,
    actions: VecDeque<Action>,
    timers: TimerTable<Timer>,
    unit_ring_timeout: Duration,
    /// The driver hunts through the unit's contacts, each attempt on its own ring timeout:
    /// the machine's ring deadline does not run.
    hunting: bool,
}

impl QueuedCall {
    /// The caller is answered and greeted at once. With `rating`, a caller whose seat hangs up
    /// first rates the service before the call ends.
    pub fn new(rating: Option<RatingRules>) -> QueuedCall {
        let mut call = QueuedCall {
            phase: Phase::Greeting,
            consult: Consult::default(),
            left_first: EndedBy::Seat,
            rating,
            rating_dialog: None,
            legs: Vec::new(),
            actions: VecDeque::new(),
            timers: TimerTable::default(),
            unit_ring_timeout: DEFAULT_UNIT_RING_TIMEOUT,
            hunting: false,
        };
        call.actions.push_back(Action::AnswerCaller);
        call.actions.push_back(Action::Play(Sound::Welcome));
        call
    }

    /// Conferences of up to `max_parties` (caller, seat and units; three by default).
    pub fn with_max_parties(mut self, max_parties: u8) -> Self {
        self.consult = Consult::with_max_parties(max_parties);
        self
    }

    /// A unit's contact rings at most `timeout` before it is given up (408).
    pub fn with_unit_ring_timeout(mut self, timeout: Duration) -> Self {
        self.unit_ring_timeout = timeout;
        self
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let rating = match self.phase {
            Phase::Rating { .. } => self.rating_dialog.as_ref().and_then(|d| d.poll_timeout()),
            _ => None,
        };
        [self.timers.next(), rating].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Rating { seat } = self.phase.clone() {
            let steps = self
                .rating_dialog
                .as_mut()
                .map(|d| d.handle_timeout(now))
                .unwrap_or_default();
            self.rating_steps(seat, steps);
        }
        while let Some((_, timer)) = self.timers.pop_expired(now) {
            match timer {
                Timer::CallbackKey => {
                    if self.phase == Phase::OfferingCallback {
                        // No key: the offer is declined; the caller hears goodbye as a refusal.
                        self.phase = Phase::Refusing;
                        self.actions.push_back(Action::Play(Sound::AllBusy));
                    }
                }
                Timer::UnitRing => self.handle(now, Input::Consult(ConsultInput::RingTimeout)),
            }
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        self.on_input(now, input);
        self.arm_unit_ring(now);
    }

    /// The ring deadline runs while a unit's contact rings, from the moment it starts.
    fn arm_unit_ring(&mut self, now: Instant) {
        if !self.consult.is_ringing() || self.hunting {
            self.timers.stop(&Timer::UnitRing);
        } else if !self.timers.is_set(&Timer::UnitRing) {
            self.timers
                .set(Timer::UnitRing, now + self.unit_ring_timeout);
        }
    }

    fn on_input(&mut self, now: Instant, input: Input) {
        if let Input::Hunting(hunting) = input {
            self.hunting = hunting;
            return;
        }
        if let Phase::Connected { leg, seat } = self.phase.clone() {
            if self.consultation(leg, seat, &input) {
                return;
            }
        }
        match (self.phase.clone(), input) {
            (Phase::Greeting, Input::PlaybackDone) => {
                self.phase = Phase::Waiting;
                self.actions.push_back(Action::Acd(AcdNote::Enqueue));
                self.actions.push_back(Action::Play(Sound::Hold));
            }
            (Phase::Waiting, Input::PlaybackDone) => {
                // A position announcement ended: back to the music.
                self.actions.push_back(Action::Play(Sound::Hold));
            }
            (Phase::Waiting, Input::Position(n)) => {
                self.actions.push_back(Action::Play(Sound::Position(n)))
            }
            (Phase::Waiting, Input::Offer { seat, legs }) => {
                for leg in legs {
                    if self.legs.len() <= leg {
                        self.legs.resize(leg + 1, None);
                    }
                    self.legs[leg] = Some((seat.clone(), LegState::Ringing));
                    self.actions.push_back(Action::Ring(leg));
                }
            }
            (Phase::Waiting, Input::CancelOffer { seat }) => self.cancel_seat(&seat, None),
            (Phase::Waiting, Input::SeatAnswered { leg }) => {
                let Some(seat) = self.seat_of(leg) else {
                    return;
                };
                self.set(leg, LegState::Answered);
                self.cancel_seat(&seat, Some(leg));
                self.phase = Phase::Connected {
                    leg,
                    seat: seat.clone(),
                };
                self.actions.push_back(Action::Connect(leg));
                self.actions
                    .push_back(Action::Acd(AcdNote::Answered { seat }));
            }
            (
                Phase::Connected { .. } | Phase::WithUnit { .. } | Phase::Done,
                Input::SeatAnswered { leg },
            ) => {
                self.actions.push_back(Action::AckAndHangUp(leg));
            }
            (Phase::Waiting, Input::SeatFailed { leg, status }) => {
                let Some(seat) = self.seat_of(leg) else {
                    return;
                };
                if self.leg_ringing(leg) {
                    self.set(leg, LegState::Failed(status));
                    let others_ringing =
                        self.legs_of(&seat).into_iter().any(|l| self.leg_ringing(l));
                    if !others_ringing {
                        self.actions
                            .push_back(Action::Acd(AcdNote::Failed { seat, status }));
                    }
                }
            }
            (Phase::Waiting, Input::Overflow(Overflow::Prompt(_))) => {
                self.cancel_all();
                self.phase = Phase::Refusing;
                self.actions.push_back(Action::Play(Sound::AllBusy));
            }
            (Phase::Waiting, Input::Overflow(Overflow::Callback(_))) => {
                self.cancel_all();
                self.phase = Phase::OfferingCallback;
                self.actions.push_back(Action::Play(Sound::CallbackOffer));
            }
            (Phase::OfferingCallback, Input::PlaybackDone)
                if !self.timers.is_set(&Timer::CallbackKey) =>
            {
                self.timers
                    .set(Timer::CallbackKey, now + CALLBACK_DIGIT_WAIT);
            }
            (Phase::OfferingCallback, Input::Digit('1')) => {
                self.timers.stop(&Timer::CallbackKey);
                self.phase = Phase::ConfirmingCallback;
                self.actions
                    .push_back(Action::Acd(AcdNote::CallbackRequested));
                self.actions
                    .push_back(Action::Play(Sound::CallbackRecorded));
            }
            (Phase::ConfirmingCallback, Input::PlaybackDone) => {
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Rejected,
                    Some(EndedBy::Daemon),
                    None,
                    Some("callback"),
                    true,
                );
            }
            (Phase::Refusing, Input::PlaybackDone) => {
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Rejected,
                    Some(EndedBy::Daemon),
                    None,
                    Some("prompt"),
                    false,
                );
            }
            (Phase::Connected { leg, seat }, Input::CallerBye) => {
                self.actions.push_back(Action::ByeSeat(leg));
                self.actions
                    .push_back(Action::Acd(AcdNote::Ended { seat: seat.clone() }));
                self.finish(
                    Disposition::Answered,
                    Some(EndedBy::Caller),
                    Some(seat),
                    None,
                    false,
                );
            }
            (Phase::Connected { leg, seat }, Input::SeatBye { leg: from })
                if from == leg && self.rating.is_some() =>
            {
                self.actions
                    .push_back(Action::Acd(AcdNote::Ended { seat: seat.clone() }));
                self.ask_rating(seat);
            }
            (Phase::Connected { leg, seat }, Input::SeatAsksRating) if self.rating.is_some() => {
                self.actions.push_back(Action::ByeSeat(leg));
                self.actions
                    .push_back(Action::Acd(AcdNote::Ended { seat: seat.clone() }));
                self.ask_rating(seat);
            }
            (Phase::Rating { seat }, input) => {
                let Some(input) = rating_input(&input) else {
                    return;
                };
                let steps = self
                    .rating_dialog
                    .as_mut()
                    .map(|d| d.handle(now, input))
                    .unwrap_or_default();
                self.rating_steps(seat, steps);
            }
            (Phase::Connected { leg, seat }, Input::SeatBye { leg: from }) if from == leg => {
                self.actions.push_back(Action::ByeCaller);
                self.actions
                    .push_back(Action::Acd(AcdNote::Ended { seat: seat.clone() }));
                self.finish(
                    Disposition::Answered,
                    Some(self.left_first),
                    Some(seat),
                    None,
                    false,
                );
            }
            (Phase::Connected { leg, seat }, Input::CallerAckTimeout | Input::Shutdown) => {
                self.actions.push_back(Action::ByeSeat(leg));
                self.actions.push_back(Action::ByeCaller);
                self.actions
                    .push_back(Action::Acd(AcdNote::Ended { seat: seat.clone() }));
                self.finish(
                    Disposition::Answered,
                    Some(EndedBy::Daemon),
                    Some(seat),
                    None,
                    false,
                );
            }
            (Phase::WithUnit { seat }, Input::Consult(input)) => {
                let actions = self.consult.handle(input);
                let alone = actions.contains(&ConsultAction::CallerAlone);
                self.consult_actions(actions, &seat);
                if alone {
                    self.last_party_left(seat, EndedBy::Seat);
                }
            }
            (Phase::WithUnit { seat }, Input::CallerBye) => {
                for action in self.consult.hang_up() {
                    self.actions.push_back(Action::Consult(action));
                }
                self.finish(
                    Disposition::Answered,
                    Some(EndedBy::Caller),
                    Some(seat),
                    None,
                    false,
                );
            }
            (Phase::WithUnit { seat }, Input::UnitBye) => {
                // One of several units left: the caller stays with the others.
                let actions = self.consult.handle(ConsultInput::UnitBye);
                if !actions.is_empty() {
                    self.consult_actions(actions, &seat);
                    return;
                }
                self.last_party_left(seat, EndedBy::Unit);
            }
            (Phase::WithUnit { seat }, Input::CallerAckTimeout | Input::Shutdown) => {
                for action in self.consult.hang_up() {
                    self.actions.push_back(Action::Consult(action));
                }
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Answered,
                    Some(EndedBy::Daemon),
                    Some(seat),
                    None,
                    false,
                );
            }
            (Phase::Done, _) => {}
            (phase, Input::CallerBye) => {
                // The caller gave up before a seat answered.
                self.cancel_all();
                let queued = !matches!(phase, Phase::Greeting);
                if queued {
                    self.actions.push_back(Action::Acd(AcdNote::Abandoned));
                }
                let overflow = match phase {
                    Phase::Refusing => Some("prompt"),
                    Phase::OfferingCallback | Phase::ConfirmingCallback => Some("callback"),
                    _ => None,
                };
                let requested = matches!(phase, Phase::ConfirmingCallback);
                self.finish(
                    Disposition::Abandoned,
                    Some(EndedBy::Caller),
                    None,
                    overflow,
                    requested,
                );
            }
            (phase, Input::CallerAckTimeout | Input::Shutdown) => {
                self.cancel_all();
                if !matches!(phase, Phase::Greeting) {
                    self.actions.push_back(Action::Acd(AcdNote::Abandoned));
                }
                self.actions.push_back(Action::ByeCaller);
                self.finish(
                    Disposition::Failed,
                    Some(EndedBy::Daemon),
                    None,
                    None,
                    false,
                );
            }
            _ => {}
        }
    }

    /// Inputs about a unit while the caller is connected to a seat. Returns true when the input
    /// was taken here; false lets the connected call handle it (the caller or the seat hanging
    /// up, once the unit is let go).
    fn consultation(&mut self, leg: LegId, seat: String, input: &Input) -> bool {
        let actions = match input {
            Input::Consult(consult) => self.consult.handle(consult.clone()),
            Input::UnitBye => self.consult.handle(ConsultInput::UnitBye),
            Input::SeatBye { leg: from } if *from == leg && self.consult.is_active() => {
                let actions = self.consult.handle(ConsultInput::SeatLeft);
                let transferred = actions.contains(&ConsultAction::Transferred);
                self.consult_actions(actions, &seat);
                return transferred;
            }
            Input::CallerBye | Input::CallerAckTimeout | Input::Shutdown => {
                for action in self.consult.hang_up() {
                    self.actions.push_back(Action::Consult(action));
                }
                return false;
            }
            // Rating is for the caller alone with the seat.
            Input::SeatAsksRating => return self.consult.is_active(),
            _ => return false,
        };
        self.consult_actions(actions, &seat);
        true
    }

    /// `who` left and nobody but the caller is on the line: the caller rates, or the call ends.
    fn last_party_left(&mut self, seat: String, who: EndedBy) {
        self.left_first = who;
        if self.rating.is_some() {
            self.ask_rating(seat);
        } else {
            self.actions.push_back(Action::ByeCaller);
            self.finish(Disposition::Answered, Some(who), Some(seat), None, false);
        }
    }

    fn consult_actions(&mut self, actions: Vec<ConsultAction>, seat: &str) {
        for action in actions {
            if action == ConsultAction::Transferred && !matches!(self.phase, Phase::WithUnit { .. })
            {
                self.phase = Phase::WithUnit {
                    seat: seat.to_string(),
                };
                // The seat is free for the next caller as soon as it leaves.
                self.actions.push_back(Action::Acd(AcdNote::Ended {
                    seat: seat.to_string(),
                }));
            }
            self.actions.push_back(Action::Consult(action));
        }
    }

    fn ask_rating(&mut self, seat: String) {
        let Some(rules) = self.rating.clone() else {
            return;
        };
        let (dialog, first) = RatingDialog::start(rules);
        self.rating_dialog = Some(dialog);
        self.phase = Phase::Rating { seat: seat.clone() };
        self.rating_steps(seat, vec![first]);
    }

    fn rating_steps(&mut self, seat: String, steps: Vec<RatingStep>) {
        if rating_actions(steps, &mut self.actions) {
            self.finish(
                Disposition::Answered,
                Some(self.left_first),
                Some(seat),
                None,
                false,
            );
        }
    }

    fn seat_of(&self, leg: LegId) -> Option<String> {
        self.legs.get(leg)?.as_ref().map(|(s, _)| s.clone())
    }

    fn leg_ringing(&self, leg: LegId) -> bool {
        matches!(self.legs.get(leg), Some(Some((_, LegState::Ringing))))
    }

    fn legs_of(&self, seat: &str) -> Vec<LegId> {
        (0..self.legs.len())
            .filter(|l| self.legs[*l].as_ref().is_some_and(|(s, _)| s == seat))
            .collect()
    }

    fn set(&mut self, leg: LegId, state: LegState) {
        if let Some(Some((_, s))) = self.legs.get_mut(leg) {
            *s = state;
        }
    }

    /// Cancels the still-ringing legs of `seat`, except `keep`.
    fn cancel_seat(&mut self, seat: &str, keep: Option<LegId>) {
        for leg in self.legs_of(seat) {
            if Some(leg) != keep && self.leg_ringing(leg) {
                self.set(leg, LegState::Cancelled);
                self.actions.push_back(Action::Cancel(leg));
            }
        }
    }

    fn cancel_all(&mut self) {
        for leg in 0..self.legs.len() {
            if self.leg_ringing(leg) {
                self.set(leg, LegState::Cancelled);
                self.actions.push_back(Action::Cancel(leg));
            }
        }
    }

    fn finish(
        &mut self,
        disposition: Disposition,
        ended_by: Option<EndedBy>,
        seat: Option<String>,
        overflow: Option<&'static str>,
        callback_requested: bool,
    ) {
        self.phase = Phase::Done;
        self.timers = TimerTable::default();
        self.actions.push_back(Action::Finished(Outcome {
            seat,
            overflow,
            callback_requested,
            ..Outcome::ended(disposition, None, ended_by)
        }));
    }
}

impl Default for QueuedCall {
    fn default() -> Self {
        Self::new(None)
    }
}

#[cfg(test)]
mod tests;
