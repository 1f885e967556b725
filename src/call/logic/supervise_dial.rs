//! A supervision session started from the API: the daemon rings the supervisor's phone
//! (`call::ringing`: answer, refusal, ring timeout, a 2xx that crossed the CANCEL) and, once
//! answered, the session runs as if the supervisor had dialled it (`supervise`). The
//! supervisor's leg is the call's only leg; the driver treats it as the caller's once answered.

use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use super::supervise::{Session, SupervisorCall};
use super::{Action, EndedBy, Input, LegId, Outcome};
use crate::call::ringing::{RingAction, RingEnd, RingInput, Ringing};
use crate::store::Disposition;

/// The supervisor's leg, the one leg the call places.
pub const PHONE: LegId = 0;

enum Phase {
    Ringing(Ringing, Session),
    Supervising(SupervisorCall),
    Over,
}

pub struct SupervisorDial {
    phase: Phase,
    actions: std::collections::VecDeque<Action>,
}

impl SupervisorDial {
    /// The supervisor's phone rings now, for at most `ring_timeout`.
    pub fn new(now: Instant, ring_timeout: Duration, session: Session) -> SupervisorDial {
        SupervisorDial {
            phase: Phase::Ringing(Ringing::new(now, ring_timeout), session),
            actions: [Action::Ring(PHONE)].into(),
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        match &mut self.phase {
            Phase::Ringing(ringing, _) => {
                let input = match input {
                    Input::SeatProvisional { leg: PHONE, .. } => RingInput::Provisional,
                    Input::SeatAnswered { leg: PHONE } => RingInput::Answered,
                    // Its codec is its own: the link speaks whatever the phone chose.
                    Input::SeatAnswerUnusable { leg: PHONE } => RingInput::Answered,
                    Input::SeatFailed { leg: PHONE, status } => RingInput::Failed(status),
                    Input::Shutdown => RingInput::Shutdown,
                    _ => return,
                };
                ringing.handle(now, input);
                self.after_ringing();
            }
            Phase::Supervising(call) => {
                call.handle(now, input);
                self.after_supervising();
            }
            Phase::Over => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Ringing(ringing, _) => {
                ringing.handle_timeout(now);
                self.after_ringing();
            }
            Phase::Supervising(call) => {
                call.handle_timeout(now);
                self.after_supervising();
            }
            Phase::Over => {}
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Ringing(ringing, _) => ringing.poll_timeout(),
            Phase::Supervising(call) => call.poll_timeout(),
            Phase::Over => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn after_ringing(&mut self) {
        let Phase::Ringing(ringing, session) = &mut self.phase else {
            return;
        };
        while let Some(action) = ringing.poll_action() {
            self.actions.push_back(match action {
                RingAction::Cancel => Action::Cancel(PHONE),
                RingAction::HangUpLate => Action::AckAndHangUp(PHONE),
            });
        }
        let (disposition, status) = match ringing.outcome() {
            None => return,
            Some(RingEnd::Answered) => {
                info!("the supervisor answered");
                self.actions.push_back(Action::Connect(PHONE));
                let call = SupervisorCall::answered(session.clone());
                self.phase = Phase::Supervising(call);
                self.after_supervising();
                return;
            }
            Some(RingEnd::Refused(status)) => (Disposition::NoAnswer, Some(status)),
            Some(RingEnd::RangOut) => (Disposition::NoAnswer, Some(408)),
            Some(RingEnd::Stopped) => (Disposition::Failed, None),
        };
        info!(?status, "the supervisor's phone was not answered");
        self.phase = Phase::Over;
        self.actions.push_back(Action::Finished(Outcome::ended(
            disposition,
            status,
            Some(EndedBy::Daemon),
        )));
    }

    fn after_supervising(&mut self) {
        let Phase::Supervising(call) = &mut self.phase else {
            return;
        };
        while let Some(action) = call.poll_action() {
            let finished = matches!(action, Action::Finished(_));
            self.actions.push_back(action);
            if finished {
                self.phase = Phase::Over;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervision::Mode;

    fn session() -> Session {
        Session {
            supervisor: "1004".into(),
            seat: "1001".into(),
            mode: Mode::Whisper,
            wait: Duration::ZERO,
        }
    }

    fn drain(dial: &mut SupervisorDial) -> Vec<Action> {
        std::iter::from_fn(|| dial.poll_action()).collect()
    }

    #[test]
    fn the_phone_rings_and_once_answered_the_session_joins_the_seat() {
        let now = Instant::now();
        let mut dial = SupervisorDial::new(now, Duration::from_secs(30), session());
        assert_eq!(drain(&mut dial), [Action::Ring(PHONE)]);
        dial.handle(now, Input::SeatAnswered { leg: PHONE });
        assert_eq!(
            drain(&mut dial),
            [Action::Connect(PHONE), Action::Supervise(Mode::Whisper)]
        );
        dial.handle(now, Input::Supervising(Ok(())));
        dial.handle(now, Input::Digit('6'));
        assert_eq!(drain(&mut dial), [Action::Supervise(Mode::Barge)]);
        dial.handle(now, Input::PeerGone);
        let actions = drain(&mut dial);
        assert_eq!(actions[0], Action::ByeCaller);
        assert!(matches!(actions[1], Action::Finished(_)), "{actions:?}");
    }

    #[test]
    fn a_phone_that_rings_out_is_cancelled_and_nothing_joins() {
        let now = Instant::now();
        let mut dial = SupervisorDial::new(now, Duration::from_secs(30), session());
        drain(&mut dial);
        let at = dial.poll_timeout().expect("a ring timeout");
        assert_eq!(at, now + Duration::from_secs(30));
        dial.handle_timeout(at);
        let actions = drain(&mut dial);
        assert_eq!(actions[0], Action::Cancel(PHONE));
        assert!(
            !actions.iter().any(|a| matches!(a, Action::Supervise(_))),
            "{actions:?}"
        );
    }
}
