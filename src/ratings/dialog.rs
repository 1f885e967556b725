//! Asking a caller for a rating at the end of a call, as a state machine without I/O. Any call
//! whose seat (or unit) hangs up first runs one: queued calls and calls that rang a seat alike.
//! The question plays; a wrong key or silence asks once more; a valid key is committed to the
//! store before "thank you" plays; the daemon then hangs up.

use std::time::Duration;

use tokio::time::Instant;

use super::{NotRatedReason, RatingMap, RatingOutcome};

/// How callers rate a call.
#[derive(Debug, Clone)]
pub struct RatingRules {
    pub map: RatingMap,
    /// How long after the question a key is waited for.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingSound {
    Question,
    ThankYou,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingInput {
    PlaybackDone,
    Digit(char),
    /// The rating record is committed.
    Committed,
    /// The store could not keep it: no "thank you" for what was not kept.
    Lost,
    CallerBye,
    /// The call must end now (shutdown, our 200 never ACKed).
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatingStep {
    Play(RatingSound),
    /// Write the outcome durably, then report `Committed` or `Lost`.
    Commit(RatingOutcome),
    /// Hang up on the caller; the call is over.
    HangUp,
    /// The caller already left; the call is over.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The question plays (deadline None) or waits for a key.
    Asking {
        attempt: u8,
        deadline: Option<Instant>,
    },
    /// The outcome is being committed; `thank` says whether "thank you" follows.
    Committing {
        thank: bool,
    },
    Thanking,
    Done,
}

#[derive(Debug, Clone)]
pub struct RatingDialog {
    rules: RatingRules,
    state: State,
}

impl RatingDialog {
    /// Starts asking: the first step is the question.
    pub fn start(rules: RatingRules) -> (RatingDialog, RatingStep) {
        let dialog = RatingDialog {
            rules,
            state: State::Asking {
                attempt: 1,
                deadline: None,
            },
        };
        (dialog, RatingStep::Play(RatingSound::Question))
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Asking { deadline, .. } => deadline,
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Vec<RatingStep> {
        match self.state {
            State::Asking {
                attempt,
                deadline: Some(at),
            } if now >= at => self.miss(attempt, NotRatedReason::NoDigit),
            _ => vec![],
        }
    }

    pub fn handle(&mut self, now: Instant, input: RatingInput) -> Vec<RatingStep> {
        use RatingInput as I;
        match (self.state, input) {
            (
                State::Asking {
                    attempt,
                    deadline: None,
                },
                I::PlaybackDone,
            ) => {
                self.state = State::Asking {
                    attempt,
                    deadline: Some(now + self.rules.timeout),
                };
                vec![]
            }
            (State::Asking { attempt, .. }, I::Digit(key)) => match self.rules.map.rating(key) {
                Some(rating) => {
                    self.state = State::Committing { thank: true };
                    vec![RatingStep::Commit(RatingOutcome::Rated(rating))]
                }
                None => self.miss(attempt, NotRatedReason::InvalidDigits),
            },
            (State::Committing { thank: true }, I::Committed) => {
                self.state = State::Thanking;
                vec![RatingStep::Play(RatingSound::ThankYou)]
            }
            (State::Committing { .. }, I::Committed | I::Lost)
            | (State::Thanking, I::PlaybackDone) => {
                self.state = State::Done;
                vec![RatingStep::HangUp]
            }
            (State::Asking { .. }, I::CallerBye) => {
                self.state = State::Done;
                vec![
                    RatingStep::Commit(RatingOutcome::NotRated(NotRatedReason::CallerHungUp)),
                    RatingStep::End,
                ]
            }
            (State::Committing { .. } | State::Thanking, I::CallerBye) => {
                self.state = State::Done;
                vec![RatingStep::End]
            }
            (State::Done, _) => vec![],
            (_, I::Abort) => {
                self.state = State::Done;
                vec![RatingStep::HangUp]
            }
            _ => vec![],
        }
    }

    /// A wrong key or no key: the question once more, then the call ends unrated.
    fn miss(&mut self, attempt: u8, reason: NotRatedReason) -> Vec<RatingStep> {
        if attempt < 2 {
            self.state = State::Asking {
                attempt: attempt + 1,
                deadline: None,
            };
            vec![RatingStep::Play(RatingSound::Question)]
        } else {
            self.state = State::Committing { thank: false };
            vec![RatingStep::Commit(RatingOutcome::NotRated(reason))]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::Rating;

    fn rules() -> RatingRules {
        RatingRules {
            map: RatingMap::default(),
            timeout: Duration::from_secs(8),
        }
    }

    #[test]
    fn a_valid_key_is_committed_then_thanked_then_hung_up() {
        let t0 = Instant::now();
        let (mut d, first) = RatingDialog::start(rules());
        assert_eq!(first, RatingStep::Play(RatingSound::Question));
        assert!(d.handle(t0, RatingInput::PlaybackDone).is_empty());
        assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(8)));
        assert_eq!(
            d.handle(t0, RatingInput::Digit('2')),
            vec![RatingStep::Commit(RatingOutcome::Rated(
                Rating::BasicallySatisfied
            ))]
        );
        assert_eq!(
            d.handle(t0, RatingInput::Committed),
            vec![RatingStep::Play(RatingSound::ThankYou)]
        );
        assert_eq!(
            d.handle(t0, RatingInput::PlaybackDone),
            vec![RatingStep::HangUp]
        );
        assert!(d.is_done());
    }

    #[test]
    fn a_wrong_key_then_silence_ends_unrated() {
        let t0 = Instant::now();
        let (mut d, _) = RatingDialog::start(rules());
        assert_eq!(
            d.handle(t0, RatingInput::Digit('9')),
            vec![RatingStep::Play(RatingSound::Question)]
        );
        d.handle(t0, RatingInput::PlaybackDone);
        let late = t0 + Duration::from_secs(9);
        assert_eq!(
            d.handle_timeout(late),
            vec![RatingStep::Commit(RatingOutcome::NotRated(
                NotRatedReason::NoDigit
            ))]
        );
        assert_eq!(
            d.handle(late, RatingInput::Committed),
            vec![RatingStep::HangUp]
        );
    }

    #[test]
    fn a_caller_who_hangs_up_is_recorded_not_rated() {
        let (mut d, _) = RatingDialog::start(rules());
        assert_eq!(
            d.handle(Instant::now(), RatingInput::CallerBye),
            vec![
                RatingStep::Commit(RatingOutcome::NotRated(NotRatedReason::CallerHungUp)),
                RatingStep::End
            ]
        );
    }

    #[test]
    fn a_lost_rating_gets_no_thanks() {
        let t0 = Instant::now();
        let (mut d, _) = RatingDialog::start(rules());
        d.handle(t0, RatingInput::Digit('1'));
        assert_eq!(d.handle(t0, RatingInput::Lost), vec![RatingStep::HangUp]);
    }
}
