//! The survey conversation once the citizen has answered, as a state machine without I/O:
//! consent first ("press 1 to take part"), then the result question, then the attitude
//! question, each answered 1/2/3 through a `RatingMap`. Each answer is committed to the store
//! as it is given; "thank you" plays only once every answer is committed.
//!
//! Keys pressed while a prompt plays are taken at once (barge-in). `Play` replaces whatever is
//! playing, and `PlaybackDone` reports only a prompt that played to its end.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::ratings::{NotRatedReason, RatingMap, RatingOutcome};

/// The key that gives consent.
pub const CONSENT_DIGIT: char = '1';

/// How answers are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRules {
    pub map: RatingMap,
    /// How long a key is waited for after the consent prompt and after each question.
    pub answer_timeout: Duration,
}

/// What the driver plays; it maps each to a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SurveySound {
    /// "This is the 12345 hotline calling back about your matter; press 1 to take part."
    Consent,
    /// "Are you satisfied with the result? 1 satisfied, 2 basically satisfied, 3 dissatisfied."
    ResultQuestion,
    /// "Are you satisfied with the attitude of the staff? 1, 2, 3 as before."
    AttitudeQuestion,
    ThankYou,
    /// Played when the citizen declines.
    Goodbye,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Question {
    /// Is the matter's result satisfactory (办理结果)? Stored as `RatingKind::SurveyResult`.
    Result,
    /// Was the staff's attitude satisfactory (服务态度)? Stored as `RatingKind::SurveyAttitude`.
    Attitude,
}

impl Question {
    pub fn kind(self) -> crate::ratings::RatingKind {
        match self {
            Question::Result => crate::ratings::RatingKind::SurveyResult,
            Question::Attitude => crate::ratings::RatingKind::SurveyAttitude,
        }
    }

    fn sound(self) -> SurveySound {
        match self {
            Question::Result => SurveySound::ResultQuestion,
            Question::Attitude => SurveySound::AttitudeQuestion,
        }
    }
}

/// One question's answer, to be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub question: Question,
    pub outcome: RatingOutcome,
}

/// What came of the conversation. A question is `None` when it was never asked, and
/// `Some(NotRated(..))` when it was asked and got no valid key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SurveyOutcome {
    pub consented: bool,
    pub result: Option<RatingOutcome>,
    pub attitude: Option<RatingOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallInput {
    PlaybackDone,
    Digit(char),
    /// An answer from `Commit` is durably kept (in the order the commits were asked for).
    Committed,
    /// An answer could not be kept: no "thank you" for what was not kept.
    CommitFailed,
    CalleeHungUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAction {
    Play(SurveySound),
    /// Write the answer durably, then report `Committed` (or `CommitFailed`). Also issued after
    /// the citizen hung up, for the question they left unanswered: write it all the same.
    Commit(Answer),
    HangUp,
    /// The last action. The call is over (hung up by us, or by the citizen).
    Finished(SurveyOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The consent prompt plays (deadline None) or waits for a key.
    Consent {
        deadline: Option<Instant>,
    },
    /// A question plays (deadline None) or waits for a key; `attempt` is 1 or 2.
    Asking {
        question: Question,
        attempt: u8,
        deadline: Option<Instant>,
    },
    /// Both questions are done; commits are still outstanding.
    AwaitingCommits,
    Thanking,
    /// Declined: goodbye plays, then hang up.
    Goodbye,
    Done,
}

/// One survey conversation.
pub struct SurveyCall {
    rules: CallRules,
    phase: Phase,
    outcome: SurveyOutcome,
    /// Commits asked for and not yet answered.
    pending: u32,
    /// A commit failed: the call ends without "thank you".
    lost: bool,
    actions: VecDeque<CallAction>,
}

impl SurveyCall {
    /// The citizen has answered: the consent prompt plays at once.
    pub fn new(rules: CallRules) -> SurveyCall {
        let mut call = SurveyCall {
            rules,
            phase: Phase::Consent { deadline: None },
            outcome: SurveyOutcome::default(),
            pending: 0,
            lost: false,
            actions: VecDeque::new(),
        };
        call.actions
            .push_back(CallAction::Play(SurveySound::Consent));
        call
    }

    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    /// The one timer: the key wait after a prompt.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Consent { deadline } | Phase::Asking { deadline, .. } => deadline,
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Consent { deadline: Some(at) } if now >= at => self.decline(),
            Phase::Asking {
                question,
                attempt,
                deadline: Some(at),
            } if now >= at => self.miss(question, attempt, NotRatedReason::NoDigit),
            _ => {}
        }
    }

    pub fn handle(&mut self, now: Instant, input: CallInput) {
        match (self.phase, input) {
            (Phase::Done, _) => {}
            (_, CallInput::CalleeHungUp) => {
                if let Phase::Asking { question, .. } = self.phase {
                    self.answer(
                        question,
                        RatingOutcome::NotRated(NotRatedReason::CallerHungUp),
                    );
                }
                self.finish(false);
            }
            (_, CallInput::Committed | CallInput::CommitFailed) => {
                self.pending = self.pending.saturating_sub(1);
                self.lost |= input == CallInput::CommitFailed;
                if self.phase == Phase::AwaitingCommits && self.pending == 0 {
                    self.thank();
                }
            }
            (Phase::Consent { deadline: None }, CallInput::PlaybackDone) => {
                self.phase = Phase::Consent {
                    deadline: Some(now + self.rules.answer_timeout),
                };
            }
            (Phase::Consent { .. }, CallInput::Digit(CONSENT_DIGIT)) => {
                self.outcome.consented = true;
                self.ask(Question::Result, 1);
            }
            (Phase::Consent { .. }, CallInput::Digit(_)) => self.decline(),
            (
                Phase::Asking {
                    question,
                    attempt,
                    deadline: None,
                },
                CallInput::PlaybackDone,
            ) => {
                self.phase = Phase::Asking {
                    question,
                    attempt,
                    deadline: Some(now + self.rules.answer_timeout),
                };
            }
            (
                Phase::Asking {
                    question, attempt, ..
                },
                CallInput::Digit(key),
            ) => match self.rules.map.rating(key) {
                Some(rating) => {
                    self.answer(question, RatingOutcome::Rated(rating));
                    self.next(question);
                }
                None => self.miss(question, attempt, NotRatedReason::InvalidDigits),
            },
            (Phase::Thanking | Phase::Goodbye, CallInput::PlaybackDone) => self.finish(true),
            _ => {}
        }
    }

    fn ask(&mut self, question: Question, attempt: u8) {
        self.phase = Phase::Asking {
            question,
            attempt,
            deadline: None,
        };
        self.actions.push_back(CallAction::Play(question.sound()));
    }

    /// A wrong key or no key: the question is asked once more, then left unanswered. One
    /// repeat per question, whichever the cause, as with the keypad rating.
    fn miss(&mut self, question: Question, attempt: u8, reason: NotRatedReason) {
        if attempt < 2 {
            self.ask(question, attempt + 1);
        } else {
            self.answer(question, RatingOutcome::NotRated(reason));
            self.next(question);
        }
    }

    fn answer(&mut self, question: Question, outcome: RatingOutcome) {
        match question {
            Question::Result => self.outcome.result = Some(outcome),
            Question::Attitude => self.outcome.attitude = Some(outcome),
        }
        self.pending += 1;
        self.actions
            .push_back(CallAction::Commit(Answer { question, outcome }));
    }

    fn next(&mut self, done: Question) {
        match done {
            Question::Result => self.ask(Question::Attitude, 1),
            Question::Attitude if self.pending == 0 => self.thank(),
            Question::Attitude => self.phase = Phase::AwaitingCommits,
        }
    }

    fn thank(&mut self) {
        if self.lost {
            self.finish(true);
        } else {
            self.phase = Phase::Thanking;
            self.actions
                .push_back(CallAction::Play(SurveySound::ThankYou));
        }
    }

    fn decline(&mut self) {
        self.phase = Phase::Goodbye;
        self.actions
            .push_back(CallAction::Play(SurveySound::Goodbye));
    }

    fn finish(&mut self, hang_up: bool) {
        if hang_up {
            self.actions.push_back(CallAction::HangUp);
        }
        self.phase = Phase::Done;
        self.actions.push_back(CallAction::Finished(self.outcome));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::Rating;

    const WAIT: Duration = Duration::from_secs(8);

    fn rules() -> CallRules {
        CallRules {
            map: RatingMap::default(),
            answer_timeout: WAIT,
        }
    }

    fn drain(call: &mut SurveyCall) -> Vec<CallAction> {
        std::iter::from_fn(|| call.poll_action()).collect()
    }

    fn commit(question: Question, outcome: RatingOutcome) -> CallAction {
        CallAction::Commit(Answer { question, outcome })
    }

    fn rated(r: Rating) -> RatingOutcome {
        RatingOutcome::Rated(r)
    }

    fn not_rated(why: NotRatedReason) -> RatingOutcome {
        RatingOutcome::NotRated(why)
    }

    /// Consent prompt played to its end, then 1.
    fn consented(t0: Instant) -> SurveyCall {
        let mut call = SurveyCall::new(rules());
        assert_eq!(drain(&mut call), [CallAction::Play(SurveySound::Consent)]);
        call.handle(t0, CallInput::PlaybackDone);
        assert_eq!(call.poll_timeout(), Some(t0 + WAIT));
        call.handle(t0 + Duration::from_secs(2), CallInput::Digit('1'));
        assert_eq!(
            drain(&mut call),
            [CallAction::Play(SurveySound::ResultQuestion)]
        );
        assert_eq!(
            call.poll_timeout(),
            None,
            "no wait while the question plays"
        );
        call
    }

    #[test]
    fn both_questions_answered_then_thank_you_after_the_commits() {
        let t0 = Instant::now();
        let mut call = consented(t0);
        call.handle(t0, CallInput::PlaybackDone);
        call.handle(t0, CallInput::Digit('1'));
        // The next question does not wait on the store.
        assert_eq!(
            drain(&mut call),
            [
                commit(Question::Result, rated(Rating::Satisfied)),
                CallAction::Play(SurveySound::AttitudeQuestion)
            ]
        );
        // Barge-in: a key while the question plays counts.
        call.handle(t0, CallInput::Digit('3'));
        assert_eq!(
            drain(&mut call),
            [commit(Question::Attitude, rated(Rating::Dissatisfied))]
        );
        assert_eq!(call.poll_timeout(), None);
        call.handle(t0, CallInput::Committed);
        assert_eq!(drain(&mut call), [], "thank you waits for both commits");
        call.handle(t0, CallInput::Committed);
        assert_eq!(drain(&mut call), [CallAction::Play(SurveySound::ThankYou)]);
        call.handle(t0, CallInput::PlaybackDone);
        assert_eq!(
            drain(&mut call),
            [
                CallAction::HangUp,
                CallAction::Finished(SurveyOutcome {
                    consented: true,
                    result: Some(rated(Rating::Satisfied)),
                    attitude: Some(rated(Rating::Dissatisfied)),
                })
            ]
        );
        // Nothing after the end.
        call.handle(t0, CallInput::CalleeHungUp);
        assert_eq!(drain(&mut call), []);
    }

    #[test]
    fn commits_acknowledged_early_let_thank_you_follow_at_once() {
        let t0 = Instant::now();
        let mut call = consented(t0);
        call.handle(t0, CallInput::Digit('2'));
        call.handle(t0, CallInput::Committed);
        call.handle(t0, CallInput::Digit('2'));
        assert_eq!(
            drain(&mut call)[2..],
            [commit(
                Question::Attitude,
                rated(Rating::BasicallySatisfied)
            )]
        );
        call.handle(t0, CallInput::Committed);
        assert_eq!(drain(&mut call), [CallAction::Play(SurveySound::ThankYou)]);
    }

    #[test]
    fn consent_declined_by_another_key_or_by_silence() {
        let t0 = Instant::now();
        let declined = SurveyOutcome {
            consented: false,
            result: None,
            attitude: None,
        };

        let mut call = SurveyCall::new(rules());
        drain(&mut call);
        call.handle(t0, CallInput::Digit('2'));
        assert_eq!(drain(&mut call), [CallAction::Play(SurveySound::Goodbye)]);
        call.handle(t0, CallInput::PlaybackDone);
        assert_eq!(
            drain(&mut call),
            [CallAction::HangUp, CallAction::Finished(declined)]
        );

        let mut call = SurveyCall::new(rules());
        drain(&mut call);
        call.handle(t0, CallInput::PlaybackDone);
        call.handle_timeout(t0 + WAIT - Duration::from_millis(1));
        assert_eq!(drain(&mut call), []);
        call.handle_timeout(t0 + WAIT);
        assert_eq!(drain(&mut call), [CallAction::Play(SurveySound::Goodbye)]);
        assert_eq!(call.poll_timeout(), None);
        call.handle(t0, CallInput::PlaybackDone);
        assert_eq!(
            drain(&mut call),
            [CallAction::HangUp, CallAction::Finished(declined)]
        );
    }

    #[test]
    fn a_wrong_key_repeats_the_question_then_a_valid_key_counts() {
        let t0 = Instant::now();
        let mut call = consented(t0);
        call.handle(t0, CallInput::PlaybackDone);
        call.handle(t0, CallInput::Digit('9'));
        assert_eq!(
            drain(&mut call),
            [CallAction::Play(SurveySound::ResultQuestion)]
        );
        call.handle(t0, CallInput::PlaybackDone);
        call.handle(t0, CallInput::Digit('2'));
        assert_eq!(
            drain(&mut call),
            [
                commit(Question::Result, rated(Rating::BasicallySatisfied)),
                CallAction::Play(SurveySound::AttitudeQuestion)
            ]
        );
        // A second wrong key on one question leaves it unanswered.
        call.handle(t0, CallInput::Digit('*'));
        call.handle(t0, CallInput::Digit('#'));
        assert_eq!(
            drain(&mut call),
            [
                CallAction::Play(SurveySound::AttitudeQuestion),
                commit(Question::Attitude, not_rated(NotRatedReason::InvalidDigits))
            ]
        );
    }

    #[test]
    fn silence_twice_leaves_a_question_unanswered_and_moves_on() {
        let t0 = Instant::now();
        let mut call = consented(t0);
        let t1 = t0 + Duration::from_secs(5);
        call.handle(t1, CallInput::PlaybackDone);
        assert_eq!(call.poll_timeout(), Some(t1 + WAIT));
        call.handle_timeout(t1 + WAIT);
        assert_eq!(
            drain(&mut call),
            [CallAction::Play(SurveySound::ResultQuestion)]
        );
        let t2 = t1 + WAIT + Duration::from_secs(5);
        call.handle(t2, CallInput::PlaybackDone);
        call.handle_timeout(t2 + WAIT);
        assert_eq!(
            drain(&mut call),
            [
                commit(Question::Result, not_rated(NotRatedReason::NoDigit)),
                CallAction::Play(SurveySound::AttitudeQuestion)
            ]
        );
        let t3 = t2 + WAIT + Duration::from_secs(5);
        call.handle(t3, CallInput::PlaybackDone);
        call.handle_timeout(t3 + WAIT);
        call.handle(t3, CallInput::PlaybackDone);
        call.handle_timeout(t3 + WAIT + WAIT);
        assert_eq!(
            drain(&mut call),
            [
                CallAction::Play(SurveySound::AttitudeQuestion),
                commit(Question::Attitude, not_rated(NotRatedReason::NoDigit))
            ]
        );
        call.handle(t3, CallInput::Committed);
        call.handle(t3, CallInput::Committed);
        assert_eq!(drain(&mut call), [CallAction::Play(SurveySound::ThankYou)]);
    }

    #[test]
    fn hanging_up_mid_survey_keeps_what_was_answered() {
        let t0 = Instant::now();
        let mut call = consented(t0);
        call.handle(t0, CallInput::Digit('1'));
        drain(&mut call);
        call.handle(t0, CallInput::CalleeHungUp);
        let outcome = SurveyOutcome {
            consented: true,
            result: Some(rated(Rating::Satisfied)),
            attitude: Some(not_rated(NotRatedReason::CallerHungUp)),
        };
        // No hang-up of our own; the unanswered question is still committed.
        assert_eq!(
            drain(&mut call),
            [
                commit(Question::Attitude, not_rated(NotRatedReason::CallerHungUp)),
                CallAction::Finished(outcome)
            ]
        );
        assert_eq!(call.poll_timeout(), None);
        // Late acknowledgements change nothing.
        call.handle(t0, CallInput::Committed);
        assert_eq!(drain(&mut call), []);

        // Hanging up during the consent prompt: nothing asked, nothing committed.
        let mut call = SurveyCall::new(rules());
        drain(&mut call);
        call.handle(t0, CallInput::CalleeHungUp);
        assert_eq!(
            drain(&mut call),
            [CallAction::Finished(SurveyOutcome::default())]
        );
    }

    #[test]
    fn a_lost_answer_ends_the_call_without_thank_you() {
        let t0 = Instant::now();
        let mut call = consented(t0);
        call.handle(t0, CallInput::Digit('1'));
        call.handle(t0, CallInput::CommitFailed);
        call.handle(t0, CallInput::Digit('1'));
        drain(&mut call);
        call.handle(t0, CallInput::Committed);
        let actions = drain(&mut call);
        assert_eq!(actions[0], CallAction::HangUp);
        assert!(matches!(actions[1], CallAction::Finished(o) if o.consented));
    }
}
