//! A call the daemon answers itself, plays to and hangs up: a seat dialling a feature code (or
//! the access number, then typing the code as keys), and a caller reaching a route outside its
//! calendar's hours. Sans-IO: keys, the end of a prompt and time come in, actions go out.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use super::{Action, EndedBy, Input, Outcome};
use crate::call::sound::Sound;
use crate::features::{CodeCollector, Collected, Feature, FeatureCodes};
use crate::queue::{SeatCommand, SeatId};
use crate::store::Disposition;

/// Why the daemon answers the call itself.
#[derive(Debug, Clone)]
pub enum Purpose {
    /// A seat dialled a complete feature code.
    Code { seat: String, feature: Feature },
    /// A seat dialled the access number: ask for the code, take it as keys.
    Access {
        seat: String,
        codes: FeatureCodes,
        inter_digit: Duration,
    },
    /// A caller outside opening hours: play this prompt and hang up (a call record is kept).
    Announce { prompt: String },
}

pub struct FeatureCall {
    purpose: Purpose,
    /// Collecting keys into a code (after "enter code").
    collector: Option<CodeCollector>,
    /// The last prompt plays; when it ends the daemon hangs up.
    closing: bool,
    ended: bool,
    actions: VecDeque<Action>,
}

impl FeatureCall {
    /// Answers at once and plays the first prompt; a complete code is applied now.
    pub fn new(purpose: Purpose) -> FeatureCall {
        let mut call = FeatureCall {
            purpose: purpose.clone(),
            collector: None,
            closing: true,
            ended: false,
            actions: VecDeque::from([Action::AnswerCaller]),
        };
        match purpose {
            Purpose::Code { seat, feature } => call.apply(&seat, feature),
            Purpose::Access {
                codes, inter_digit, ..
            } => {
                call.collector = Some(CodeCollector::new(&codes, inter_digit));
                call.closing = false;
                call.say(&["enter_code"]);
            }
            Purpose::Announce { prompt } => call.say(&[&prompt, "goodbye"]),
        }
        call
    }

    /// Whether the call has a record and a line on the board: a caller's does, a seat's
    /// feature call does not.
    pub fn records(&self) -> bool {
        matches!(self.purpose, Purpose::Announce { .. })
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        if self.ended {
            return;
        }
        match input {
            Input::Digit(digit) if !self.closing => {
                let result = match self.collector.as_mut() {
                    Some(collector) => collector.push(now, digit),
                    None => return,
                };
                self.collected(result);
            }
            Input::PlaybackDone if self.closing => {
                self.actions.push_back(Action::ByeCaller);
                self.finish(EndedBy::Daemon);
            }
            Input::CallerBye => self.finish(EndedBy::Caller),
            Input::Shutdown | Input::CallerAckTimeout => self.finish(EndedBy::Daemon),
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended || self.closing {
            return;
        }
        if let Some(result) = self.collector.as_mut().map(|c| c.handle_timeout(now)) {
            self.collected(result);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended || self.closing {
            return None;
        }
        self.collector.as_ref().and_then(|c| c.poll_timeout())
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn collected(&mut self, result: Collected) {
        let Purpose::Access { seat, .. } = &self.purpose else {
            return;
        };
        let seat = seat.clone();
        match result {
            Collected::Pending | Collected::Idle => {}
            Collected::Matched(feature) => {
                self.closing = true;
                self.apply(&seat, feature);
            }
            Collected::Invalid(typed) => {
                debug!(typed, "invalid feature code");
                self.closing = true;
                self.say(&["invalid_key", "goodbye"]);
            }
        }
    }

    /// Tells the ACD what the seat asked for and confirms it.
    fn apply(&mut self, seat: &str, feature: Feature) {
        let id = SeatId::from(seat);
        let (command, prompt) = match feature {
            Feature::Login => (SeatCommand::Login { seat: id }, "logged_in"),
            Feature::Logout => (SeatCommand::Logout { seat: id }, "logged_out"),
            Feature::Pause { reason } => (
                SeatCommand::Pause {
                    seat: id,
                    reason: reason.unwrap_or_default(),
                },
                "paused",
            ),
            Feature::Resume => (SeatCommand::Resume { seat: id }, "resumed"),
        };
        self.actions.push_back(Action::Seat(command));
        self.say(&[prompt, "goodbye"]);
    }

    fn say(&mut self, names: &[&str]) {
        let names = names.iter().map(|n| n.to_string()).collect();
        self.actions.push_back(Action::Play(Sound::Named(names)));
    }

    fn finish(&mut self, ended_by: EndedBy) {
        self.ended = true;
        self.actions.push_back(Action::Finished(Outcome::ended(
            Disposition::Rejected,
            None,
            Some(ended_by),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(call: &mut FeatureCall) -> Vec<Action> {
        std::iter::from_fn(|| call.poll_action()).collect()
    }

    fn named(names: &[&str]) -> Action {
        Action::Play(Sound::Named(names.iter().map(|n| n.to_string()).collect()))
    }

    fn codes() -> FeatureCodes {
        FeatureCodes::new("*21", "*22", "*23", "*24").expect("codes")
    }

    fn access() -> FeatureCall {
        FeatureCall::new(Purpose::Access {
            seat: "1001".into(),
            codes: codes(),
            inter_digit: Duration::from_secs(3),
        })
    }

    #[test]
    fn a_complete_code_is_applied_confirmed_and_hung_up() {
        let mut call = FeatureCall::new(Purpose::Code {
            seat: "1001".into(),
            feature: Feature::Login,
        });
        assert!(!call.records());
        assert_eq!(
            drain(&mut call),
            vec![
                Action::AnswerCaller,
                Action::Seat(SeatCommand::Login {
                    seat: SeatId::from("1001")
                }),
                named(&["logged_in", "goodbye"]),
            ]
        );
        call.handle(Instant::now(), Input::PlaybackDone);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::ByeCaller);
        assert!(matches!(
            &actions[1],
            Action::Finished(o) if o.ended_by == Some(EndedBy::Daemon)
        ));
    }

    #[test]
    fn keys_after_the_access_number_become_a_code() {
        let mut call = access();
        assert_eq!(
            drain(&mut call),
            vec![Action::AnswerCaller, named(&["enter_code"])]
        );
        // The prompt ending while keys are awaited does not hang up.
        let now = Instant::now();
        call.handle(now, Input::PlaybackDone);
        assert!(drain(&mut call).is_empty());
        for key in "*24".chars() {
            call.handle(now, Input::Digit(key));
        }
        assert_eq!(
            drain(&mut call),
            vec![
                Action::Seat(SeatCommand::Resume {
                    seat: SeatId::from("1001")
                }),
                named(&["resumed", "goodbye"]),
            ]
        );
        // Keys after the code changes nothing.
        call.handle(now, Input::Digit('1'));
        assert!(drain(&mut call).is_empty());
    }

    #[test]
    fn a_pause_reason_ends_at_the_inter_digit_timeout() {
        let mut call = access();
        drain(&mut call);
        let start = Instant::now();
        for key in "*2342".chars() {
            call.handle(start, Input::Digit(key));
        }
        assert!(drain(&mut call).is_empty());
        let due = call.poll_timeout().expect("inter-digit timer");
        assert_eq!(due, start + Duration::from_secs(3));
        call.handle_timeout(due - Duration::from_millis(1));
        assert!(drain(&mut call).is_empty());
        call.handle_timeout(due);
        assert_eq!(
            drain(&mut call),
            vec![
                Action::Seat(SeatCommand::Pause {
                    seat: SeatId::from("1001"),
                    reason: "42".into()
                }),
                named(&["paused", "goodbye"]),
            ]
        );
        assert_eq!(call.poll_timeout(), None);
    }

    #[test]
    fn keys_that_are_no_code_are_refused() {
        let mut call = access();
        drain(&mut call);
        call.handle(Instant::now(), Input::Digit('9'));
        assert_eq!(drain(&mut call), vec![named(&["invalid_key", "goodbye"])]);
    }

    #[test]
    fn a_closed_route_plays_its_prompt_and_is_recorded_as_rejected() {
        let mut call = FeatureCall::new(Purpose::Announce {
            prompt: "closed".into(),
        });
        assert!(call.records());
        assert_eq!(
            drain(&mut call),
            vec![Action::AnswerCaller, named(&["closed", "goodbye"])]
        );
        call.handle(Instant::now(), Input::CallerBye);
        let actions = drain(&mut call);
        let [Action::Finished(outcome)] = actions.as_slice() else {
            panic!("{actions:?}");
        };
        assert_eq!(outcome.disposition, Disposition::Rejected);
        assert_eq!(outcome.ended_by, Some(EndedBy::Caller));
        // Over is over.
        call.handle(Instant::now(), Input::PlaybackDone);
        assert!(drain(&mut call).is_empty());
    }
}
