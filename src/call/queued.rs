//! A call that waits in a queue, as a state machine without I/O. The daemon answers the caller
//! at once, greets it, hands it to the ACD, plays hold music and positions while it waits, rings
//! the seat the ACD offers (every phone of that seat, one leg each) and connects the first leg
//! that answers. The ACD owns ring timeouts and the order of service; this machine only follows.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::consult::{Consult, ConsultAction, ConsultInput};
use super::machine::{EndedBy, LegId};
use crate::ratings::dialog::{RatingDialog, RatingInput, RatingSound, RatingStep};
use crate::ratings::RatingOutcome;
use crate::store::Disposition;

pub use crate::ratings::dialog::RatingRules;

/// How long the caller has to press 1 after the callback offer.
pub const CALLBACK_DIGIT_WAIT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sound {
    Welcome,
    Hold,
    Position(usize),
    AllBusy,
    CallbackOffer,
    CallbackRecorded,
    RatingQuestion,
    ThankYou,
}

/// What the ACD does with a caller it cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overflow {
    /// Play this refusal and hang up.
    Prompt,
    /// Offer a callback: pressing 1 records one.
    Callback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    PlaybackDone,
    /// The ACD offers `seat`; the driver has made `legs` for its phones.
    Offer {
        seat: String,
        legs: Vec<LegId>,
    },
    /// The ACD takes an offer back (its ring timeout, or another seat answered first).
    CancelOffer {
        seat: String,
    },
    Position(usize),
    Overflow(Overflow),
    SeatAnswered {
        leg: LegId,
    },
    SeatFailed {
        leg: LegId,
        status: u16,
    },
    Digit(char),
    CallerBye,
    SeatBye {
        leg: LegId,
    },
    CallerAckTimeout,
    Shutdown,
    /// The seat sent its "to rating" code (`*8`): it leaves, the caller rates.
    SeatAsksRating,
    /// About the consultation of a unit (seat keys, the unit's leg).
    Consult(ConsultInput),
    /// The unit's leg hung up (during a consultation, or after the transfer).
    UnitBye,
    /// The rating record is committed to the store.
    RatingCommitted,
    /// The store could not keep the rating: no "thank you" for what was not kept.
    RatingLost,
}

/// What the call tells the ACD.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// 200 with our SDP to the caller.
    Answer,
    Play(Sound),
    Acd(AcdNote),
    Ring(LegId),
    Cancel(LegId),
    /// ACK the leg's 2xx and bridge it with the caller.
    Connect(LegId),
    /// ACK a 2xx that lost the race, then hang it up.
    AckAndHangUp(LegId),
    ByeCaller,
    ByeSeat(LegId),
    /// Write the rating durably, then report `RatingCommitted` (or finish, when the caller left).
    CommitRating(RatingOutcome),
    Consult(ConsultAction),
    Finished(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub disposition: Disposition,
    pub sip_cause: Option<u16>,
    pub ended_by: Option<EndedBy>,
    /// The seat that took the call.
    pub seat: Option<String>,
    /// Where an overflow sent the caller ("prompt", "callback").
    pub overflow: Option<&'static str>,
    pub callback_requested: bool,
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
    /// The callback offer plays or waits for a key.
    OfferingCallback {
        deadline: Option<Instant>,
    },
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
        };
        call.actions.push_back(Action::Answer);
        call.actions.push_back(Action::Play(Sound::Welcome));
        call
    }

    /// Conferences of up to `max_parties` (caller, seat and units; three by default).
    pub fn with_max_parties(mut self, max_parties: u8) -> Self {
        self.consult = Consult::with_max_parties(max_parties);
        self
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::OfferingCallback { deadline } => deadline,
            Phase::Rating { .. } => self.rating_dialog.as_ref().and_then(|d| d.poll_timeout()),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Rating { seat } = self.phase.clone() {
            let steps = self
                .rating_dialog
                .as_mut()
                .map(|d| d.handle_timeout(now))
                .unwrap_or_default();
            self.rating_steps(seat, steps);
            return;
        }
        if let Phase::OfferingCallback { deadline: Some(at) } = self.phase {
            if now >= at {
                // No key: the offer is declined; the caller hears goodbye as a refusal.
                self.phase = Phase::Refusing;
                self.actions.push_back(Action::Play(Sound::AllBusy));
            }
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
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
            (Phase::Waiting, Input::Overflow(Overflow::Prompt)) => {
                self.cancel_all();
                self.phase = Phase::Refusing;
                self.actions.push_back(Action::Play(Sound::AllBusy));
            }
            (Phase::Waiting, Input::Overflow(Overflow::Callback)) => {
                self.cancel_all();
                self.phase = Phase::OfferingCallback { deadline: None };
                self.actions.push_back(Action::Play(Sound::CallbackOffer));
            }
            (Phase::OfferingCallback { deadline: None }, Input::PlaybackDone) => {
                self.phase = Phase::OfferingCallback {
                    deadline: Some(now + CALLBACK_DIGIT_WAIT),
                };
            }
            (Phase::OfferingCallback { .. }, Input::Digit('1')) => {
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
                let input = match input {
                    Input::PlaybackDone => RatingInput::PlaybackDone,
                    Input::Digit(key) => RatingInput::Digit(key),
                    Input::RatingCommitted => RatingInput::Committed,
                    Input::RatingLost => RatingInput::Lost,
                    Input::CallerBye => RatingInput::CallerBye,
                    Input::CallerAckTimeout | Input::Shutdown => RatingInput::Abort,
                    _ => return,
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
                    Phase::OfferingCallback { .. } | Phase::ConfirmingCallback => Some("callback"),
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
        for step in steps {
            match step {
                RatingStep::Play(RatingSound::Question) => {
                    self.actions.push_back(Action::Play(Sound::RatingQuestion))
                }
                RatingStep::Play(RatingSound::ThankYou) => {
                    self.actions.push_back(Action::Play(Sound::ThankYou))
                }
                RatingStep::Commit(outcome) => {
                    self.actions.push_back(Action::CommitRating(outcome))
                }
                RatingStep::HangUp | RatingStep::End => {
                    if step == RatingStep::HangUp {
                        self.actions.push_back(Action::ByeCaller);
                    }
                    self.finish(
                        Disposition::Answered,
                        Some(self.left_first),
                        Some(seat.clone()),
                        None,
                        false,
                    );
                }
            }
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
        self.actions.push_back(Action::Finished(Outcome {
            disposition,
            sip_cause: None,
            ended_by,
            seat,
            overflow,
            callback_requested,
        }));
    }
}

impl Default for QueuedCall {
    fn default() -> Self {
        Self::new(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::{NotRatedReason, RatingMap};

    fn drain(call: &mut QueuedCall) -> Vec<Action> {
        std::iter::from_fn(|| call.poll_action()).collect()
    }

    fn waiting(now: Instant) -> QueuedCall {
        waiting_with(now, None)
    }

    fn waiting_with(now: Instant, rating: Option<RatingRules>) -> QueuedCall {
        let mut call = QueuedCall::new(rating);
        assert_eq!(
            drain(&mut call),
            vec![Action::Answer, Action::Play(Sound::Welcome)]
        );
        call.handle(now, Input::PlaybackDone);
        assert_eq!(
            drain(&mut call),
            vec![Action::Acd(AcdNote::Enqueue), Action::Play(Sound::Hold)]
        );
        call
    }

    fn outcome(actions: &[Action]) -> Outcome {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Finished(o) => Some(o.clone()),
                _ => None,
            })
            .expect("finished")
    }

    #[test]
    fn offered_seat_answers_and_the_seat_hangs_up() {
        let t0 = Instant::now();
        let mut call = waiting(t0);
        call.handle(t0, Input::Position(3));
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::Position(3))]);
        call.handle(t0, Input::PlaybackDone);
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::Hold)]);
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0, 1],
            },
        );
        assert_eq!(drain(&mut call), vec![Action::Ring(0), Action::Ring(1)]);
        call.handle(t0, Input::SeatAnswered { leg: 1 });
        assert_eq!(
            drain(&mut call),
            vec![
                Action::Cancel(0),
                Action::Connect(1),
                Action::Acd(AcdNote::Answered {
                    seat: "1001".into()
                })
            ]
        );
        call.handle(t0, Input::SeatBye { leg: 1 });
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::ByeCaller);
        assert_eq!(
            actions[1],
            Action::Acd(AcdNote::Ended {
                seat: "1001".into()
            })
        );
        let o = outcome(&actions);
        assert_eq!(o.disposition, Disposition::Answered);
        assert_eq!(o.seat.as_deref(), Some("1001"));
        assert_eq!(o.ended_by, Some(EndedBy::Seat));
    }

    #[test]
    fn a_seat_fails_only_when_all_its_phones_fail() {
        let t0 = Instant::now();
        let mut call = waiting(t0);
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0, 1],
            },
        );
        drain(&mut call);
        call.handle(
            t0,
            Input::SeatFailed {
                leg: 0,
                status: 486,
            },
        );
        assert!(drain(&mut call).is_empty());
        call.handle(
            t0,
            Input::SeatFailed {
                leg: 1,
                status: 480,
            },
        );
        assert_eq!(
            drain(&mut call),
            vec![Action::Acd(AcdNote::Failed {
                seat: "1001".into(),
                status: 480
            })]
        );
        // The ACD's ring timeout takes an offer back: its legs are cancelled.
        call.handle(
            t0,
            Input::Offer {
                seat: "1002".into(),
                legs: vec![2],
            },
        );
        drain(&mut call);
        call.handle(
            t0,
            Input::CancelOffer {
                seat: "1002".into(),
            },
        );
        assert_eq!(drain(&mut call), vec![Action::Cancel(2)]);
    }

    #[test]
    fn caller_hanging_up_in_the_queue_is_abandoned() {
        let t0 = Instant::now();
        let mut call = waiting(t0);
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0],
            },
        );
        drain(&mut call);
        call.handle(t0, Input::CallerBye);
        let actions = drain(&mut call);
        assert_eq!(
            actions[..2],
            [Action::Cancel(0), Action::Acd(AcdNote::Abandoned)]
        );
        let o = outcome(&actions);
        assert_eq!(o.disposition, Disposition::Abandoned);
        assert_eq!(o.ended_by, Some(EndedBy::Caller));
    }

    #[test]
    fn overflow_to_a_prompt_plays_it_then_hangs_up() {
        let t0 = Instant::now();
        let mut call = waiting(t0);
        call.handle(t0, Input::Overflow(Overflow::Prompt));
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::AllBusy)]);
        call.handle(t0, Input::PlaybackDone);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::ByeCaller);
        assert_eq!(outcome(&actions).overflow, Some("prompt"));
    }

    #[test]
    fn callback_offer_takes_1_and_times_out_otherwise() {
        let t0 = Instant::now();
        let mut call = waiting(t0);
        call.handle(t0, Input::Overflow(Overflow::Callback));
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::CallbackOffer)]);
        call.handle(t0, Input::PlaybackDone);
        assert_eq!(call.poll_timeout(), Some(t0 + CALLBACK_DIGIT_WAIT));
        call.handle(t0, Input::Digit('1'));
        assert_eq!(
            drain(&mut call),
            vec![
                Action::Acd(AcdNote::CallbackRequested),
                Action::Play(Sound::CallbackRecorded)
            ]
        );
        call.handle(t0, Input::PlaybackDone);
        let o = outcome(&drain(&mut call));
        assert!(o.callback_requested);
        assert_eq!(o.overflow, Some("callback"));

        let mut call = waiting(t0);
        call.handle(t0, Input::Overflow(Overflow::Callback));
        call.handle(t0, Input::PlaybackDone);
        drain(&mut call);
        call.handle_timeout(t0 + CALLBACK_DIGIT_WAIT);
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::AllBusy)]);
    }

    fn rules() -> RatingRules {
        RatingRules {
            map: RatingMap::default(),
            timeout: Duration::from_secs(8),
        }
    }

    fn connected_then_seat_hangs_up(t0: Instant) -> QueuedCall {
        let mut call = waiting_with(t0, Some(rules()));
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0],
            },
        );
        call.handle(t0, Input::SeatAnswered { leg: 0 });
        drain(&mut call);
        call.handle(t0, Input::SeatBye { leg: 0 });
        assert_eq!(
            drain(&mut call),
            vec![
                Action::Acd(AcdNote::Ended {
                    seat: "1001".into()
                }),
                Action::Play(Sound::RatingQuestion)
            ]
        );
        call
    }

    #[test]
    fn the_rating_is_committed_before_thank_you() {
        use crate::ratings::Rating;
        let t0 = Instant::now();
        let mut call = connected_then_seat_hangs_up(t0);
        call.handle(t0, Input::PlaybackDone);
        call.handle(t0, Input::Digit('2'));
        assert_eq!(
            drain(&mut call),
            vec![Action::CommitRating(RatingOutcome::Rated(
                Rating::BasicallySatisfied
            ))]
        );
        // Nothing more until the store says it is kept.
        call.handle(t0, Input::PlaybackDone);
        assert!(drain(&mut call).is_empty());
        call.handle(t0, Input::RatingCommitted);
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::ThankYou)]);
        call.handle(t0, Input::PlaybackDone);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::ByeCaller);
        assert_eq!(outcome(&actions).seat.as_deref(), Some("1001"));
    }

    #[test]
    fn a_wrong_key_and_silence_repeat_the_question_once() {
        let t0 = Instant::now();
        let mut call = connected_then_seat_hangs_up(t0);
        call.handle(t0, Input::Digit('9'));
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::RatingQuestion)]);
        call.handle(t0, Input::PlaybackDone);
        assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(8)));
        call.handle_timeout(t0 + Duration::from_secs(8));
        assert_eq!(
            drain(&mut call),
            vec![Action::CommitRating(RatingOutcome::NotRated(
                NotRatedReason::NoDigit
            ))]
        );
        call.handle(t0, Input::RatingCommitted);
        assert_eq!(drain(&mut call)[0], Action::ByeCaller);
    }

    #[test]
    fn a_caller_who_hangs_up_during_the_question_is_not_rated() {
        let t0 = Instant::now();
        let mut call = connected_then_seat_hangs_up(t0);
        call.handle(t0, Input::CallerBye);
        let actions = drain(&mut call);
        assert_eq!(
            actions[0],
            Action::CommitRating(RatingOutcome::NotRated(NotRatedReason::CallerHungUp))
        );
        assert!(matches!(actions[1], Action::Finished(_)));
    }

    #[test]
    fn the_seat_can_send_the_caller_to_rating() {
        let t0 = Instant::now();
        let mut call = waiting_with(t0, Some(rules()));
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0],
            },
        );
        call.handle(t0, Input::SeatAnswered { leg: 0 });
        drain(&mut call);
        call.handle(t0, Input::SeatAsksRating);
        assert_eq!(
            drain(&mut call),
            vec![
                Action::ByeSeat(0),
                Action::Acd(AcdNote::Ended {
                    seat: "1001".into()
                }),
                Action::Play(Sound::RatingQuestion)
            ]
        );
    }

    #[test]
    fn a_late_answer_after_connecting_is_hung_up() {
        let t0 = Instant::now();
        let mut call = waiting(t0);
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0],
            },
        );
        call.handle(t0, Input::SeatAnswered { leg: 0 });
        drain(&mut call);
        call.handle(t0, Input::SeatAnswered { leg: 5 });
        assert_eq!(drain(&mut call), vec![Action::AckAndHangUp(5)]);
    }

    fn consulting(t0: Instant) -> QueuedCall {
        use crate::features::in_call::InCallFeature;
        let mut call = waiting_with(t0, Some(rules()));
        call.handle(
            t0,
            Input::Offer {
                seat: "1001".into(),
                legs: vec![0],
            },
        );
        call.handle(t0, Input::SeatAnswered { leg: 0 });
        drain(&mut call);
        call.handle(
            t0,
            Input::Consult(ConsultInput::Feature(InCallFeature::Consult("201".into()))),
        );
        call.handle(t0, Input::Consult(ConsultInput::UnitAnswered));
        drain(&mut call);
        call
    }

    #[test]
    fn after_a_transfer_the_unit_hanging_up_asks_for_the_rating() {
        use crate::features::in_call::InCallFeature;
        let t0 = Instant::now();
        let mut call = consulting(t0);
        call.handle(
            t0,
            Input::Consult(ConsultInput::Feature(InCallFeature::Transfer)),
        );
        let actions = drain(&mut call);
        assert!(actions.contains(&Action::Acd(AcdNote::Ended {
            seat: "1001".into()
        })));
        assert!(actions.contains(&Action::Consult(ConsultAction::Transferred)));
        // The seat's BYE answered, nothing more for the seat; the unit hangs up.
        call.handle(t0, Input::UnitBye);
        assert_eq!(drain(&mut call), vec![Action::Play(Sound::RatingQuestion)]);
        call.handle(t0, Input::PlaybackDone);
        call.handle(t0, Input::Digit('1'));
        drain(&mut call);
        call.handle(t0, Input::RatingCommitted);
        call.handle(t0, Input::PlaybackDone);
        let o = outcome(&drain(&mut call));
        assert_eq!(o.ended_by, Some(EndedBy::Unit));
        assert_eq!(o.seat.as_deref(), Some("1001"));
    }

    #[test]
    fn the_caller_hanging_up_during_a_consultation_lets_everyone_go() {
        let t0 = Instant::now();
        let mut call = consulting(t0);
        call.handle(t0, Input::CallerBye);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::Consult(ConsultAction::ByeUnits));
        assert!(actions.contains(&Action::ByeSeat(0)));
        assert_eq!(outcome(&actions).ended_by, Some(EndedBy::Caller));
    }

    #[test]
    fn the_seat_hanging_up_on_a_consultation_leaves_the_caller_with_the_unit() {
        let t0 = Instant::now();
        let mut call = consulting(t0);
        call.handle(t0, Input::SeatBye { leg: 0 });
        let actions = drain(&mut call);
        assert!(actions.contains(&Action::Consult(ConsultAction::Transferred)));
        assert!(!actions.iter().any(|a| matches!(a, Action::Play(_))));
        call.handle(t0, Input::CallerBye);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::Consult(ConsultAction::ByeUnits));
        assert_eq!(outcome(&actions).ended_by, Some(EndedBy::Caller));
    }
}
