//! The queue part of a queued call's record, without I/O: built from the ACD's events as they
//! come, and completed with how the call ended (a caller who left before the ACD could say so
//! waited until the end).

use std::time::{Duration, SystemTime};

use super::logic::EndedBy;
use super::logic::Outcome;
use crate::queue::{Overflow, QueueEventKind};
use crate::store::{Disposition, Offer, QueueOutcome};

#[derive(Debug, Default)]
pub struct QueueRecord {
    entered_at: Option<SystemTime>,
    wait: Duration,
    offers: Vec<Offer>,
    abandoned: bool,
    overflow: Option<String>,
}

impl QueueRecord {
    /// An event of the ACD about this call, at wall time `at`.
    pub fn on_event(&mut self, at: SystemTime, kind: QueueEventKind) {
        match kind {
            QueueEventKind::Entered { .. } => self.entered_at = Some(at),
            QueueEventKind::Offered { seat, outcome } => self.offers.push(Offer {
                seat: seat.to_string(),
                at,
                outcome,
            }),
            QueueEventKind::Answered { waited, .. }
            | QueueEventKind::CallbackRequested { waited } => self.wait = waited,
            QueueEventKind::Abandoned { waited, .. } => {
                self.wait = waited;
                self.abandoned = true;
            }
            QueueEventKind::Overflowed { to, waited, .. } => {
                self.wait = waited;
                self.overflow = Some(match to {
                    Overflow::Queue(q) => format!("queue:{q}"),
                    Overflow::Prompt(_) => "prompt".to_string(),
                    Overflow::Callback(_) => "callback".to_string(),
                });
            }
        }
    }

    /// The queue part of a call to `queue`, offered at `offered_at`, that ended at `ended_at` as
    /// `outcome` says. What the ACD did not report is taken from how the call ended: the entry
    /// time is the offer, a caller who left unserved waited until the end and abandoned the
    /// queue, and an overflow the call itself played is the call's.
    pub fn finish(
        self,
        queue: &str,
        offered_at: SystemTime,
        ended_at: SystemTime,
        outcome: &Outcome,
    ) -> QueueOutcome {
        let entered_at = self.entered_at.unwrap_or(offered_at);
        let unserved = outcome.seat.is_none();
        let wait = if self.wait.is_zero() && unserved {
            ended_at.duration_since(entered_at).unwrap_or_default()
        } else {
            self.wait
        };
        QueueOutcome {
            queue: queue.to_string(),
            entered_at,
            wait,
            offers: self.offers,
            abandoned: self.abandoned
                || outcome.disposition == Disposition::Abandoned
                    && outcome.ended_by == Some(EndedBy::Caller)
                    && unserved,
            overflow: self.overflow.or(outcome.overflow.map(str::to_string)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::queue::SeatId;
    use crate::store::OfferOutcome;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_000_000 + secs)
    }

    fn outcome(disposition: Disposition, seat: Option<&str>) -> Outcome {
        Outcome {
            disposition,
            sip_cause: None,
            ended_by: Some(EndedBy::Caller),
            answered_leg: None,
            seat: seat.map(str::to_string),
            overflow: None,
            callback_requested: false,
            survey: None,
        }
    }

    #[test]
    fn a_served_call_keeps_what_the_acd_reported() {
        let mut r = QueueRecord::default();
        r.on_event(at(6), QueueEventKind::Entered { priority: 1 });
        r.on_event(
            at(7),
            QueueEventKind::Offered {
                seat: SeatId::from("1001"),
                outcome: OfferOutcome::NoAnswer,
            },
        );
        r.on_event(
            at(22),
            QueueEventKind::Offered {
                seat: SeatId::from("1002"),
                outcome: OfferOutcome::Answered,
            },
        );
        r.on_event(
            at(24),
            QueueEventKind::Answered {
                seat: SeatId::from("1002"),
                waited: Duration::from_secs(18),
            },
        );
        let q = r.finish(
            "citizens",
            at(0),
            at(200),
            &outcome(Disposition::Answered, Some("1002")),
        );
        assert_eq!(q.entered_at, at(6));
        assert_eq!(q.wait, Duration::from_secs(18));
        assert_eq!(q.offers.len(), 2);
        assert_eq!(q.offers[1].outcome, OfferOutcome::Answered);
        assert!(!q.abandoned);
        assert_eq!(q.overflow, None);
    }

    #[test]
    fn a_caller_who_left_before_the_acd_said_so_waited_until_the_end_and_abandoned() {
        let mut r = QueueRecord::default();
        r.on_event(at(6), QueueEventKind::Entered { priority: 1 });
        let q = r.finish(
            "citizens",
            at(0),
            at(50),
            &outcome(Disposition::Abandoned, None),
        );
        assert_eq!(q.wait, Duration::from_secs(44));
        assert!(q.abandoned);
    }

    #[test]
    fn an_overflow_is_named_by_the_acd_or_by_the_call() {
        let mut r = QueueRecord::default();
        r.on_event(
            at(30),
            QueueEventKind::Overflowed {
                to: Overflow::Queue("backup".into()),
                cause: crate::queue::OverflowCause::MaxWait,
                waited: Duration::from_secs(24),
            },
        );
        let q = r.finish(
            "citizens",
            at(0),
            at(60),
            &outcome(Disposition::Answered, Some("1001")),
        );
        assert_eq!(q.overflow.as_deref(), Some("queue:backup"));
        // Never entered (no seat logged in): the entry is the offer, the prompt the call's own.
        let never = QueueRecord::default().finish(
            "citizens",
            at(0),
            at(9),
            &Outcome {
                overflow: Some("prompt"),
                ..outcome(Disposition::Rejected, None)
            },
        );
        assert_eq!(never.entered_at, at(0));
        assert_eq!(never.overflow.as_deref(), Some("prompt"));
        assert_eq!(never.wait, Duration::from_secs(9));
        assert!(!never.abandoned);
    }
}
