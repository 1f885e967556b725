//! One attempt to call a return-visit survey's number, as a call logic: the citizen's leg rings
//! (`call::ringing`: answer, refusal, ring timeout, a 2xx that crossed the CANCEL), and once
//! answered the survey's conversation (`survey::SurveyCall`: consent, then two questions) runs
//! with the citizen's keys. The driver carries out each commit before the next action, so the
//! next prompt plays only once the answer is kept. The
//! citizen's leg is the call's only leg; the driver treats it as the caller's once answered.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use super::{Action, Input, LegId, Outcome};
use crate::call::ringing::{RingAction, RingEnd, RingInput, Ringing};
use crate::call::sound::Sound;
use crate::store::Disposition;
use crate::survey::{CallAction, CallInput, CallOutcome, CallRules, SurveyCall};

/// The citizen's leg, the one leg the call places.
pub const CITIZEN: LegId = 0;

/// How a final non-2xx status counts for retries.
pub fn unanswered(status: u16) -> CallOutcome {
    match status {
        408 | 480 | 487 => CallOutcome::NoAnswer,
        486 | 600 | 603 => CallOutcome::Busy,
        _ => CallOutcome::Failed,
    }
}

enum Phase {
    Ringing {
        ringing: Ringing,
        /// The 2xx came with media the call cannot use.
        unusable: bool,
    },
    Talking(SurveyCall),
    Over,
}

pub struct SurveyAttempt {
    phase: Phase,
    rules: CallRules,
    /// The unit that handled the matter, kept with each answer.
    unit: Option<String>,
    actions: VecDeque<Action>,
}

impl SurveyAttempt {
    /// The citizen's leg rings now, for at most `ring_timeout`.
    pub fn new(
        now: Instant,
        ring_timeout: Duration,
        rules: CallRules,
        unit: Option<String>,
    ) -> SurveyAttempt {
        SurveyAttempt {
            phase: Phase::Ringing {
                ringing: Ringing::new(now, ring_timeout),
                unusable: false,
            },
            rules,
            unit,
            actions: VecDeque::from([Action::Ring(CITIZEN)]),
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        match &mut self.phase {
            Phase::Ringing { ringing, unusable } => {
                let input = match input {
                    Input::SeatProvisional { leg: CITIZEN, .. } => RingInput::Provisional,
                    Input::SeatAnswered { leg: CITIZEN } => RingInput::Answered,
                    Input::SeatAnswerUnusable { leg: CITIZEN } => {
                        *unusable = true;
                        RingInput::Answered
                    }
                    Input::SeatFailed {
                        leg: CITIZEN,
                        status,
                    } => RingInput::Failed(status),
                    Input::Shutdown => RingInput::Shutdown,
                    _ => return,
                };
                ringing.handle(now, input);
                self.after_ringing();
            }
            Phase::Talking(call) => {
                let input = match input {
                    Input::Digit(digit) => CallInput::Digit(digit),
                    Input::PlaybackDone => CallInput::PlaybackDone,
                    Input::RatingCommitted => CallInput::Committed,
                    Input::RatingLost => CallInput::CommitFailed,
                    Input::CallerBye | Input::CallerAckTimeout => CallInput::CalleeHungUp,
                    Input::Shutdown => {
                        // The daemon is stopping: hang up; what was answered is kept.
                        self.actions.push_back(Action::ByeCaller);
                        CallInput::CalleeHungUp
                    }
                    _ => return,
                };
                call.handle(now, input);
                self.after_talking();
            }
            Phase::Over => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Ringing { ringing, .. } => {
                ringing.handle_timeout(now);
                self.after_ringing();
            }
            Phase::Talking(call) => {
                call.handle_timeout(now);
                self.after_talking();
            }
            Phase::Over => {}
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Ringing { ringing, .. } => ringing.poll_timeout(),
            Phase::Talking(call) => call.poll_timeout(),
            Phase::Over => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Carries out what the ringing asked for, and moves on once it has ended.
    fn after_ringing(&mut self) {
        let Phase::Ringing { ringing, unusable } = &mut self.phase else {
            return;
        };
        while let Some(action) = ringing.poll_action() {
            self.actions.push_back(match action {
                RingAction::Cancel => Action::Cancel(CITIZEN),
                RingAction::HangUpLate => Action::AckAndHangUp(CITIZEN),
            });
        }
        let outcome = match ringing.outcome() {
            None => return,
            Some(RingEnd::Answered) if *unusable => {
                info!("survey call answered with media we cannot use");
                self.actions.push_back(Action::AckAndHangUp(CITIZEN));
                CallOutcome::Failed
            }
            Some(RingEnd::Answered) => {
                info!("survey call answered");
                self.actions.push_back(Action::Connect(CITIZEN));
                self.phase = Phase::Talking(SurveyCall::new(self.rules.clone()));
                self.after_talking();
                return;
            }
            Some(RingEnd::Refused(status)) => {
                info!(status, "survey call not answered");
                unanswered(status)
            }
            Some(RingEnd::RangOut) => {
                info!("survey call rang out");
                CallOutcome::NoAnswer
            }
            Some(RingEnd::Stopped) => CallOutcome::Failed,
        };
        self.finish(outcome);
    }

    fn after_talking(&mut self) {
        let Phase::Talking(call) = &mut self.phase else {
            return;
        };
        while let Some(action) = call.poll_action() {
            match action {
                CallAction::Play(sound) => {
                    self.actions.push_back(Action::Play(Sound::Survey(sound)))
                }
                CallAction::Commit(answer) => self.actions.push_back(Action::CommitAnswer {
                    answer,
                    unit: self.unit.clone(),
                }),
                CallAction::HangUp => self.actions.push_back(Action::ByeCaller),
                CallAction::Finished(outcome) => {
                    self.finish(CallOutcome::Answered(outcome));
                    return;
                }
            }
        }
    }

    fn finish(&mut self, outcome: CallOutcome) {
        self.phase = Phase::Over;
        let disposition = match outcome {
            CallOutcome::Answered(_) => Disposition::Answered,
            CallOutcome::NoAnswer => Disposition::NoAnswer,
            CallOutcome::Busy => Disposition::Busy,
            CallOutcome::Failed => Disposition::Failed,
        };
        self.actions.push_back(Action::Finished(Outcome {
            survey: Some(outcome),
            ..Outcome::ended(disposition, None, None)
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::RatingMap;
    use crate::survey::{Question, SurveySound};

    const RING: Duration = Duration::from_secs(30);

    fn attempt(now: Instant) -> SurveyAttempt {
        let rules = CallRules {
            map: RatingMap::default(),
            answer_timeout: Duration::from_secs(8),
        };
        SurveyAttempt::new(now, RING, rules, Some("water".into()))
    }

    fn drain(logic: &mut SurveyAttempt) -> Vec<Action> {
        std::iter::from_fn(|| logic.poll_action()).collect()
    }

    fn ended(actions: &[Action]) -> Option<CallOutcome> {
        match actions.last() {
            Some(Action::Finished(outcome)) => outcome.survey,
            _ => None,
        }
    }

    #[test]
    fn statuses_map_to_retry_outcomes() {
        for s in [408, 480, 487] {
            assert_eq!(unanswered(s), CallOutcome::NoAnswer, "{s}");
        }
        for s in [486, 600, 603] {
            assert_eq!(unanswered(s), CallOutcome::Busy, "{s}");
        }
        for s in [403, 404, 488, 500, 503] {
            assert_eq!(unanswered(s), CallOutcome::Failed, "{s}");
        }
    }

    #[test]
    fn an_answered_call_asks_for_consent_and_keeps_each_answer_before_going_on() {
        let now = Instant::now();
        let mut logic = attempt(now);
        assert_eq!(drain(&mut logic), vec![Action::Ring(CITIZEN)]);
        logic.handle(
            now,
            Input::SeatProvisional {
                leg: 0,
                status: 180,
            },
        );
        assert!(drain(&mut logic).is_empty());
        logic.handle(now, Input::SeatAnswered { leg: 0 });
        assert_eq!(
            drain(&mut logic),
            vec![
                Action::Connect(CITIZEN),
                Action::Play(Sound::Survey(SurveySound::Consent))
            ]
        );
        logic.handle(now, Input::PlaybackDone);
        logic.handle(now, Input::Digit('1'));
        assert_eq!(
            drain(&mut logic),
            vec![Action::Play(Sound::Survey(SurveySound::ResultQuestion))]
        );
        logic.handle(now, Input::PlaybackDone);
        logic.handle(now, Input::Digit('1'));
        // The commit comes before the next question, which the driver plays once it is kept.
        let actions = drain(&mut logic);
        let [Action::CommitAnswer { answer, unit }, next] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(answer.question, Question::Result);
        assert_eq!(unit.as_deref(), Some("water"));
        assert_eq!(
            next,
            &Action::Play(Sound::Survey(SurveySound::AttitudeQuestion))
        );
        logic.handle(now, Input::RatingCommitted);
        assert!(drain(&mut logic).is_empty());
        // The citizen hangs up: the question left open is written all the same, then it ends.
        logic.handle(now, Input::CallerBye);
        let actions = drain(&mut logic);
        assert!(
            matches!(&actions[0], Action::CommitAnswer { answer, .. } if answer.question == Question::Attitude),
            "{actions:?}"
        );
        let Some(CallOutcome::Answered(outcome)) = ended(&actions) else {
            panic!("not answered: {actions:?}");
        };
        assert!(outcome.consented);
        assert!(outcome.result.is_some());
    }

    #[test]
    fn a_citizen_who_never_answers_is_cancelled_at_the_ring_timeout_on_virtual_time() {
        let now = Instant::now();
        let mut logic = attempt(now);
        drain(&mut logic);
        assert_eq!(logic.poll_timeout(), Some(now + RING));
        logic.handle_timeout(now + RING - Duration::from_millis(1));
        assert!(drain(&mut logic).is_empty());
        logic.handle_timeout(now + RING);
        assert_eq!(drain(&mut logic), vec![Action::Cancel(CITIZEN)]);
        // A 2xx that crossed the CANCEL is taken and hung up; the attempt rang out.
        logic.handle(now + RING, Input::SeatAnswered { leg: 0 });
        let actions = drain(&mut logic);
        assert_eq!(actions[0], Action::AckAndHangUp(CITIZEN));
        assert_eq!(ended(&actions), Some(CallOutcome::NoAnswer));
        assert_eq!(logic.poll_timeout(), None);
    }

    #[test]
    fn refusals_and_unusable_answers_end_the_attempt() {
        let now = Instant::now();
        let mut busy = attempt(now);
        drain(&mut busy);
        busy.handle(
            now,
            Input::SeatFailed {
                leg: 0,
                status: 486,
            },
        );
        assert_eq!(ended(&drain(&mut busy)), Some(CallOutcome::Busy));

        let mut unusable = attempt(now);
        drain(&mut unusable);
        unusable.handle(now, Input::SeatAnswerUnusable { leg: 0 });
        let actions = drain(&mut unusable);
        assert_eq!(actions[0], Action::AckAndHangUp(CITIZEN));
        assert_eq!(ended(&actions), Some(CallOutcome::Failed));
    }

    #[test]
    fn a_stopping_daemon_hangs_up_on_the_citizen() {
        let now = Instant::now();
        let mut logic = attempt(now);
        drain(&mut logic);
        logic.handle(now, Input::SeatAnswered { leg: 0 });
        drain(&mut logic);
        logic.handle(now, Input::Shutdown);
        let actions = drain(&mut logic);
        assert_eq!(actions[0], Action::ByeCaller);
        assert!(matches!(ended(&actions), Some(CallOutcome::Answered(_))));
    }
}
