//! One day of the hotline at a glance, for the wallboard: the queued calls offered, answered
//! and abandoned, the service level, the abandoned calls, contact failures by unit, and the
//! keypad ratings. Pure: the records of the day go in, the figures come out.
//!
//! The service level within `n` seconds is the share of the calls that entered a queue that
//! were answered within `n` seconds of entering it, over every call that entered (answered,
//! abandoned or overflowed), as Asterisk's `servicelevel` counts it with abandoned calls in.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::{Counts, Tenths};
use crate::ratings::RatingKind;
use crate::store::{CallRecord, CallbackRequest, ContactFailure, Disposition, RatingRecord};

/// The thresholds of the service level, in seconds.
pub const SERVICE_LEVELS: [u64; 2] = [15, 20];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Today {
    /// Calls that entered a queue.
    pub offered: u64,
    /// Of those, answered by a seat.
    pub answered: u64,
    /// Of those, the caller hung up while waiting.
    pub abandoned: u64,
    /// For each of [`SERVICE_LEVELS`]: answered within that many seconds of entering.
    pub answered_within: [u64; 2],
    /// Newest first.
    pub abandoned_calls: Vec<Abandoned>,
    /// Units with contact failures today, most first (then by name).
    pub failures: Vec<(String, u64)>,
    /// Keypad ratings of the day's calls.
    pub ratings: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    pub call: String,
    pub caller: String,
    pub queue: String,
    /// When the caller hung up.
    pub at: SystemTime,
    pub waited: Duration,
    /// Whether the caller asked to be called back (pressed 1 at the callback offer).
    pub callback: bool,
}

impl Today {
    /// The service level within `SERVICE_LEVELS[i]` seconds, in percent.
    pub fn service_level(&self, i: usize) -> Option<Tenths> {
        Tenths::ratio(100 * self.answered_within[i], self.offered)
    }
}

/// The figures of one day from its records (calls offered that day, callback requests,
/// ratings and contact failures recorded that day).
pub fn summarize(
    calls: &[CallRecord],
    callbacks: &[CallbackRequest],
    ratings: &[RatingRecord],
    failures: &[ContactFailure],
) -> Today {
    let mut today = Today::default();
    for call in calls {
        let Some(queue) = &call.queue else {
            continue;
        };
        today.offered += 1;
        if queue.abandoned {
            today.abandoned += 1;
            today.abandoned_calls.push(Abandoned {
                call: call.id.clone(),
                caller: call.caller.clone(),
                queue: queue.queue.clone(),
                at: queue.entered_at + queue.wait,
                waited: queue.wait,
                callback: callbacks.iter().any(|c| c.call_id == call.id),
            });
        } else if call.disposition == Disposition::Answered && call.seat.is_some() {
            today.answered += 1;
            for (i, secs) in SERVICE_LEVELS.iter().enumerate() {
                if queue.wait <= Duration::from_secs(*secs) {
                    today.answered_within[i] += 1;
                }
            }
        }
    }
    today
        .abandoned_calls
        .sort_by_key(|a| std::cmp::Reverse(a.at));
    let mut by_unit: BTreeMap<&str, u64> = BTreeMap::new();
    for failure in failures {
        *by_unit.entry(failure.unit.as_str()).or_default() += 1;
    }
    today.failures = by_unit
        .into_iter()
        .map(|(u, n)| (u.to_string(), n))
        .collect();
    today
        .failures
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for rating in ratings.iter().filter(|r| r.kind == RatingKind::Keypad) {
        today.ratings.add(rating.outcome);
    }
    today
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::ratings::{NotRatedReason, Rating, RatingOutcome};
    use crate::store::{FailureKind, QueueOutcome};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_400_000 + secs)
    }

    fn queued(id: &str, wait: u64, disposition: Disposition, abandoned: bool) -> CallRecord {
        CallRecord {
            id: id.into(),
            sip_call_id: format!("{id}@trunk"),
            trunk: "carrier".into(),
            caller: format!("1380000{id}"),
            called: "12345".into(),
            seat: (disposition == Disposition::Answered).then(|| "1001".to_string()),
            offered_at: at(0),
            answered_at: None,
            ended_at: at(100),
            disposition,
            sip_cause: None,
            ended_by: Some("caller".into()),
            queue: Some(QueueOutcome {
                queue: "citizens".into(),
                entered_at: at(1),
                wait: Duration::from_secs(wait),
                offers: Vec::new(),
                abandoned,
                overflow: None,
            }),
        }
    }

    fn rating(outcome: RatingOutcome, kind: RatingKind) -> RatingRecord {
        RatingRecord {
            id: "r".into(),
            call_id: "c".into(),
            kind,
            at: at(50),
            seat: None,
            unit: None,
            outcome,
        }
    }

    #[test]
    fn a_day_counts_offers_answers_abandons_and_the_service_level() {
        let mut direct = queued("9", 0, Disposition::Answered, false);
        direct.queue = None;
        let calls = [
            queued("1", 10, Disposition::Answered, false),
            queued("2", 15, Disposition::Answered, false),
            queued("3", 18, Disposition::Answered, false),
            queued("4", 40, Disposition::Answered, false),
            queued("5", 30, Disposition::Abandoned, true),
            queued("6", 5, Disposition::Abandoned, true),
            direct,
        ];
        let callbacks = [CallbackRequest {
            id: "cb-1".into(),
            call_id: "5".into(),
            number: "13800005".into(),
            queue: "citizens".into(),
            requested_at: at(31),
        }];
        let failure = |unit: &str| ContactFailure {
            id: format!("cf-{unit}"),
            unit: unit.into(),
            kind: FailureKind::Unanswered,
            at: at(70),
            handoff_id: None,
            call_id: "1".into(),
            seat: Some("1001".into()),
            evidence: Vec::new(),
            points: 10,
        };
        let ratings = [
            rating(RatingOutcome::Rated(Rating::Satisfied), RatingKind::Keypad),
            rating(
                RatingOutcome::Rated(Rating::Dissatisfied),
                RatingKind::Keypad,
            ),
            rating(
                RatingOutcome::NotRated(NotRatedReason::NoDigit),
                RatingKind::Keypad,
            ),
            rating(
                RatingOutcome::Rated(Rating::Satisfied),
                RatingKind::SurveyResult,
            ),
        ];
        let today = summarize(
            &calls,
            &callbacks,
            &ratings,
            &[failure("water"), failure("power"), failure("water")],
        );
        assert_eq!((today.offered, today.answered, today.abandoned), (6, 4, 2));
        assert_eq!(today.answered_within, [2, 3]);
        // 2 of 6 within 15 s, 3 of 6 within 20 s.
        assert_eq!(today.service_level(0), Some(Tenths(333)));
        assert_eq!(today.service_level(1), Some(Tenths(500)));
        let abandoned: Vec<(&str, bool)> = today
            .abandoned_calls
            .iter()
            .map(|a| (a.call.as_str(), a.callback))
            .collect();
        assert_eq!(abandoned, [("5", true), ("6", false)], "newest first");
        assert_eq!(today.abandoned_calls[0].waited, Duration::from_secs(30));
        assert_eq!(
            today.failures,
            [("water".to_string(), 2), ("power".to_string(), 1)]
        );
        assert_eq!(today.ratings.rated(), 2);
        assert_eq!(today.ratings.not_rated, 1);
        assert_eq!(today.ratings.satisfaction_rate(), Some(Tenths(500)));
    }

    #[test]
    fn an_empty_day_has_no_service_level() {
        let today = summarize(&[], &[], &[], &[]);
        assert_eq!(today.service_level(0), None);
        assert_eq!(today.ratings.satisfaction_rate(), None);
    }
}
