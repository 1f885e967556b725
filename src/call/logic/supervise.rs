//! A supervisor's own call (班长): answered at once, it links to the seat's call in the mode
//! the supervisor dialled; the keys 4, 5 and 6 switch between listen, whisper and barge. A
//! seat that is not in a call is tried again every second for `wait` (the supervisor hears
//! silence), then, or at once when `wait` is zero, the supervisor hears why and is hung up.
//! Sans-IO: the link's result, keys and time come in, actions go out.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Action, EndedBy, Input, Outcome};
use crate::call::sound::Sound;
use crate::store::Disposition;
use crate::supervision::Mode;

/// How often a session waiting for the seat's next call tries again.
pub const RETRY: Duration = Duration::from_secs(1);

/// The prompt a supervisor hears when the seat has no call to join.
pub const NOT_IN_CALL: &str = "seat_not_in_call";

/// What the supervisor asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub supervisor: String,
    pub seat: String,
    pub mode: Mode,
    /// How long to wait for the seat's next call; zero: not at all.
    pub wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Asking to join the seat's call (again at `retry`, until `until`).
    Linking {
        retry: Option<Instant>,
        until: Option<Instant>,
    },
    Linked,
    /// The last prompt plays; the daemon hangs up when it ends.
    Closing,
    Ended,
}

pub struct SupervisorCall {
    session: Session,
    state: State,
    actions: VecDeque<Action>,
}

impl SupervisorCall {
    /// Answers at once and asks to join the seat's call.
    pub fn new(session: Session) -> SupervisorCall {
        let mut call = SupervisorCall::answered(session);
        call.actions.push_front(Action::AnswerCaller);
        call
    }

    /// A session whose call is answered already (the daemon rang the supervisor's phone):
    /// it asks to join at once.
    pub fn answered(session: Session) -> SupervisorCall {
        let mode = session.mode;
        SupervisorCall {
            session,
            state: State::Linking {
                retry: None,
                until: None,
            },
            actions: VecDeque::from([Action::Supervise(mode)]),
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        match (input, self.state) {
            (_, State::Ended) => {}
            (Input::Supervising(Ok(())), State::Linking { .. }) => self.state = State::Linked,
            (Input::Supervising(Err(_)), State::Linking { until, .. }) => {
                let until = until.unwrap_or(now + self.session.wait);
                if now + RETRY <= until {
                    self.state = State::Linking {
                        retry: Some(now + RETRY),
                        until: Some(until),
                    };
                } else {
                    self.give_up();
                }
            }
            (Input::Digit(key), State::Linked) => {
                if let Some(mode) = Mode::from_key(key).filter(|&m| m != self.session.mode) {
                    if self.session.mode != Mode::TakeOver {
                        self.session.mode = mode;
                        self.actions.push_back(Action::Supervise(mode));
                    }
                }
            }
            (Input::PlaybackDone, State::Closing) => {
                self.actions.push_back(Action::ByeCaller);
                self.finish(EndedBy::Daemon);
            }
            // The seat's call ended, or let the supervisor go.
            (Input::PeerGone, State::Linked) => {
                self.actions.push_back(Action::ByeCaller);
                self.finish(EndedBy::Daemon);
            }
            (Input::CallerBye, state) => {
                if state == State::Linked {
                    self.actions.push_back(Action::TellPeerGone);
                }
                self.finish(EndedBy::Caller);
            }
            (Input::Shutdown | Input::CallerAckTimeout, state) => {
                if state == State::Linked {
                    self.actions.push_back(Action::TellPeerGone);
                }
                self.finish(EndedBy::Daemon);
            }
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Linking {
            retry: Some(retry),
            until,
        } = self.state
        {
            if now >= retry {
                self.state = State::Linking { retry: None, until };
                self.actions.push_back(Action::Supervise(self.session.mode));
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Linking { retry, .. } => retry,
            _ => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn give_up(&mut self) {
        self.state = State::Closing;
        self.actions
            .push_back(Action::Play(Sound::Named(vec![NOT_IN_CALL.to_string()])));
    }

    fn finish(&mut self, by: EndedBy) {
        self.state = State::Ended;
        self.actions.push_back(Action::Finished(Outcome::ended(
            Disposition::Answered,
            None,
            Some(by),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(mode: Mode, wait: u64) -> Session {
        Session {
            supervisor: "1009".into(),
            seat: "1001".into(),
            mode,
            wait: Duration::from_secs(wait),
        }
    }

    fn drain(call: &mut SupervisorCall) -> Vec<Action> {
        std::iter::from_fn(|| call.poll_action()).collect()
    }

    #[test]
    fn a_session_links_and_switches_modes_by_key() {
        let now = Instant::now();
        let mut call = SupervisorCall::new(session(Mode::Listen, 0));
        assert_eq!(
            drain(&mut call),
            [Action::AnswerCaller, Action::Supervise(Mode::Listen)]
        );
        call.handle(now, Input::Supervising(Ok(())));
        call.handle(now, Input::Digit('5'));
        call.handle(now, Input::Digit('5'));
        call.handle(now, Input::Digit('9'));
        call.handle(now, Input::Digit('6'));
        assert_eq!(
            drain(&mut call),
            [
                Action::Supervise(Mode::Whisper),
                Action::Supervise(Mode::Barge)
            ]
        );
        call.handle(now, Input::CallerBye);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::TellPeerGone);
        assert!(matches!(actions[1], Action::Finished(_)), "{actions:?}");
    }

    #[test]
    fn a_seat_not_in_a_call_gets_the_prompt_at_once_without_a_wait() {
        let now = Instant::now();
        let mut call = SupervisorCall::new(session(Mode::Barge, 0));
        drain(&mut call);
        call.handle(now, Input::Supervising(Err(480)));
        assert_eq!(
            drain(&mut call),
            [Action::Play(Sound::Named(vec![NOT_IN_CALL.into()]))]
        );
        assert_eq!(call.poll_timeout(), None);
        call.handle(now, Input::PlaybackDone);
        let actions = drain(&mut call);
        assert_eq!(actions[0], Action::ByeCaller);
    }

    #[test]
    fn a_waiting_session_tries_every_second_until_its_wait_is_over() {
        let start = Instant::now();
        let mut call = SupervisorCall::new(session(Mode::Listen, 3));
        drain(&mut call);
        call.handle(start, Input::Supervising(Err(480)));
        let mut now = start;
        let mut tries = 0;
        while let Some(at) = call.poll_timeout() {
            now = at;
            call.handle_timeout(now);
            assert_eq!(drain(&mut call), [Action::Supervise(Mode::Listen)]);
            tries += 1;
            call.handle(now, Input::Supervising(Err(480)));
        }
        assert_eq!(tries, 3, "at 1, 2 and 3 s");
        assert_eq!(now - start, Duration::from_secs(3));
        assert_eq!(
            drain(&mut call),
            [Action::Play(Sound::Named(vec![NOT_IN_CALL.into()]))]
        );
        // A try that finds the seat in a call links.
        let mut call = SupervisorCall::new(session(Mode::Listen, 3));
        drain(&mut call);
        call.handle(start, Input::Supervising(Err(480)));
        call.handle_timeout(start + RETRY);
        drain(&mut call);
        call.handle(start + RETRY, Input::Supervising(Ok(())));
        call.handle(start + RETRY, Input::PeerGone);
        assert_eq!(drain(&mut call)[0], Action::ByeCaller);
    }
}
