//! The contact-failure rule (联络畅通), pure: attempts go in, in the order they ended; out comes
//! the evidence, once, at the attempt that meets the rule.
//!
//! Within one group (a hand-off, or a call when the seat reached for a unit without one) and one
//! unit: `handler_or_head` or more unanswered attempts to the handler or the head (added up
//! together) **and** `duty` or more unanswered attempts to the duty line make one failure. Busy,
//! rejected, unreachable and unanswered attempts count; an attempt the seat stopped does not (it
//! is not the unit's fault). An answered attempt before the rule is met means no failure for
//! that group, ever; once the rule is met, a later answer changes nothing.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::Deserialize;

use crate::checks::Issue;
use crate::dialplan::Role;
use crate::store::{ContactAttempt, ContactFailure, ContactOutcome, Evidence, FailureKind};

/// The thresholds and the points, as `[contact_failures]` of the settings gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRule {
    /// Unanswered attempts to the handler or the head, added up.
    #[serde(default = "default_threshold")]
    pub handler_or_head: u32,
    /// Unanswered attempts to the duty line.
    #[serde(default = "default_threshold")]
    pub duty: u32,
    /// What one failure costs the unit.
    #[serde(default = "default_points")]
    pub points: u32,
    /// The unit's monthly contact points before failures (40 of 1000).
    #[serde(default = "default_max_points")]
    pub max_points: u32,
}

fn default_threshold() -> u32 {
    3
}

fn default_points() -> u32 {
    10
}

fn default_max_points() -> u32 {
    40
}

impl Default for FailureRule {
    fn default() -> Self {
        FailureRule {
            handler_or_head: default_threshold(),
            duty: default_threshold(),
            points: default_points(),
            max_points: default_max_points(),
        }
    }
}

impl FailureRule {
    /// Every problem, with key paths under `key` (such as `contact_failures`).
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        for (name, value) in [
            ("handler_or_head", self.handler_or_head),
            ("duty", self.duty),
        ] {
            if value == 0 {
                issues.push(Issue {
                    key: format!("{key}.{name}"),
                    reason: "must be at least 1: a failure needs unanswered attempts".into(),
                });
            }
        }
        if self.points > self.max_points {
            issues.push(Issue {
                key: format!("{key}.points"),
                reason: format!(
                    "{} is more than max_points ({})",
                    self.points, self.max_points
                ),
            });
        }
        issues
    }

    /// The failure that `evidence` (from a tally) proves, charged to the unit of `last`, the
    /// attempt that met the rule, at `at` (when its outcome was known).
    pub fn unanswered_failure(
        &self,
        id: String,
        last: &ContactAttempt,
        seat: Option<String>,
        evidence: Vec<Evidence>,
        at: SystemTime,
    ) -> ContactFailure {
        ContactFailure {
            id,
            unit: last.unit.clone(),
            kind: FailureKind::Unanswered,
            at,
            handoff_id: last.handoff_id.clone(),
            call_id: last.call_id.clone(),
            seat,
            evidence,
            points: self.points,
        }
    }

    /// The failure a seat records (`*96`) when `answered`'s contact refused the matter without
    /// a good reason.
    pub fn refused_failure(
        &self,
        id: String,
        answered: &ContactAttempt,
        seat: Option<String>,
        at: SystemTime,
    ) -> ContactFailure {
        ContactFailure {
            kind: FailureKind::Refused,
            ..self.unanswered_failure(id, answered, seat, vec![Evidence::from(answered)], at)
        }
    }
}

/// One group's attempts to one unit, as far as the rule is concerned.
#[derive(Debug, Clone)]
pub struct AttemptTally {
    rule: FailureRule,
    /// The unanswered attempts counted so far, in order.
    counted: Vec<Evidence>,
    handler_or_head: u32,
    duty: u32,
    state: TallyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TallyState {
    Counting,
    /// Answered before the rule was met: no failure, ever.
    Answered,
    /// The rule was met; the evidence has been handed out.
    Met,
}

impl AttemptTally {
    pub fn new(rule: FailureRule) -> Self {
        AttemptTally {
            rule,
            counted: Vec::new(),
            handler_or_head: 0,
            duty: 0,
            state: TallyState::Counting,
        }
    }

    /// Takes the next attempt (in the order they ended). `Some(evidence)` exactly once: at the
    /// attempt that meets the rule, with every unanswered attempt counted up to it.
    pub fn record(&mut self, attempt: &ContactAttempt) -> Option<Vec<Evidence>> {
        if self.state != TallyState::Counting {
            return None;
        }
        match attempt.outcome {
            ContactOutcome::Answered => {
                self.state = TallyState::Answered;
                return None;
            }
            outcome if !outcome.is_unanswered() => return None,
            _ => {}
        }
        match attempt.role {
            Role::Handler | Role::Head => self.handler_or_head += 1,
            Role::Duty => self.duty += 1,
        }
        self.counted.push(Evidence::from(attempt));
        if self.handler_or_head >= self.rule.handler_or_head && self.duty >= self.rule.duty {
            self.state = TallyState::Met;
            return Some(self.counted.clone());
        }
        None
    }

    /// Whether the rule has been met.
    pub fn is_met(&self) -> bool {
        self.state == TallyState::Met
    }

    /// Whether a contact answered before the rule was met.
    pub fn was_answered(&self) -> bool {
        self.state == TallyState::Answered
    }
}

/// What groups attempts for the rule: the hand-off, or the call when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Handoff(String),
    Call(String),
}

impl Group {
    pub fn of(attempt: &ContactAttempt) -> Group {
        match &attempt.handoff_id {
            Some(id) => Group::Handoff(id.clone()),
            None => Group::Call(attempt.call_id.clone()),
        }
    }
}

/// One tally per group and unit, for attempts of many groups interleaved.
#[derive(Debug, Clone)]
pub struct Tallies {
    rule: FailureRule,
    by_group: HashMap<(Group, String), AttemptTally>,
}

impl Tallies {
    pub fn new(rule: FailureRule) -> Self {
        Tallies {
            rule,
            by_group: HashMap::new(),
        }
    }

    /// As [`AttemptTally::record`] for the attempt's group and unit.
    pub fn record(&mut self, attempt: &ContactAttempt) -> Option<Vec<Evidence>> {
        self.by_group
            .entry((Group::of(attempt), attempt.unit.clone()))
            .or_insert_with(|| AttemptTally::new(self.rule))
            .record(attempt)
    }

    /// Every unit of `group` is done with (its call ended).
    pub fn forget_group(&mut self, group: &Group) {
        self.by_group.retain(|(g, _), _| g != group);
    }

    /// A group and unit is done with once its hand-off closes.
    pub fn forget(&mut self, group: &Group, unit: &str) {
        self.by_group.remove(&(group.clone(), unit.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use ContactOutcome::{Answered, Busy, NoAnswer, Rejected, StoppedBySeat, Unreachable};
    use Role::{Duty, Handler, Head};

    fn attempt(handoff: &str, k: u64, role: Role, outcome: ContactOutcome) -> ContactAttempt {
        ContactAttempt {
            handoff_id: Some(handoff.into()),
            call_id: format!("call-{handoff}"),
            unit: "2001".into(),
            role,
            dialled: format!("dial-{k}"),
            started_at: UNIX_EPOCH + Duration::from_secs(1_794_276_000 + 40 * k),
            rung: Duration::from_secs(30),
            outcome,
            sip_status: Some(487),
        }
    }

    /// Feeds `steps` to one tally; the 1-based positions at which it handed out evidence.
    fn met_at(steps: &[(Role, ContactOutcome)]) -> Vec<usize> {
        let mut tally = AttemptTally::new(FailureRule::default());
        steps
            .iter()
            .zip(1..)
            .filter_map(|(&(role, outcome), k)| {
                tally
                    .record(&attempt("h", k, role, outcome))
                    .map(|_| k as usize)
            })
            .collect()
    }

    #[test]
    fn two_plus_three_is_no_failure() {
        let steps = [(Handler, NoAnswer), (Duty, NoAnswer)]
            .iter()
            .chain(&[(Head, Busy), (Duty, Busy), (Duty, Unreachable)])
            .copied()
            .collect::<Vec<_>>();
        assert_eq!(met_at(&steps), Vec::<usize>::new());
    }

    #[test]
    fn three_plus_two_is_no_failure() {
        let steps = [
            (Handler, NoAnswer),
            (Duty, NoAnswer),
            (Handler, NoAnswer),
            (Duty, Rejected),
            (Head, NoAnswer),
        ];
        assert_eq!(met_at(&steps), Vec::<usize>::new());
    }

    #[test]
    fn three_plus_three_is_one_failure_at_the_sixth_with_the_six_as_evidence() {
        let steps = [
            (Duty, NoAnswer),
            (Handler, NoAnswer),
            (Duty, Busy),
            (Handler, Rejected),
            (Duty, Unreachable),
            (Handler, NoAnswer),
            (Duty, NoAnswer),
            (Handler, NoAnswer),
        ];
        assert_eq!(met_at(&steps), [6]);

        let mut tally = AttemptTally::new(FailureRule::default());
        let attempts: Vec<ContactAttempt> = steps
            .iter()
            .zip(1..)
            .map(|(&(role, outcome), k)| attempt("h", k, role, outcome))
            .collect();
        let evidence: Vec<Vec<Evidence>> =
            attempts.iter().filter_map(|a| tally.record(a)).collect();
        let expected: Vec<Evidence> = attempts[..6].iter().map(Evidence::from).collect();
        assert_eq!(evidence, [expected]);
        assert!(tally.is_met());
    }

    #[test]
    fn head_and_handler_attempts_add_up() {
        let steps = [
            (Handler, NoAnswer),
            (Head, NoAnswer),
            (Duty, NoAnswer),
            (Duty, NoAnswer),
            (Head, Busy),
            (Duty, NoAnswer),
        ];
        assert_eq!(met_at(&steps), [6]);
    }

    #[test]
    fn an_answer_before_the_sixth_means_no_failure_ever() {
        let steps = [
            (Handler, NoAnswer),
            (Duty, NoAnswer),
            (Handler, NoAnswer),
            (Duty, NoAnswer),
            (Handler, Answered),
            (Duty, NoAnswer),
            (Handler, NoAnswer),
            (Duty, NoAnswer),
        ];
        assert_eq!(met_at(&steps), Vec::<usize>::new());
    }

    #[test]
    fn an_answer_after_the_rule_is_met_changes_nothing() {
        let mut steps = vec![(Handler, NoAnswer); 3];
        steps.extend([(Duty, NoAnswer); 3]);
        steps.extend([(Duty, Answered), (Handler, NoAnswer), (Duty, NoAnswer)]);
        assert_eq!(met_at(&steps), [6]);
    }

    #[test]
    fn attempts_the_seat_stopped_do_not_count() {
        let mut steps = vec![(Handler, NoAnswer), (Handler, StoppedBySeat)];
        steps.extend([(Duty, NoAnswer), (Duty, StoppedBySeat), (Duty, NoAnswer)]);
        steps.extend([(Handler, NoAnswer), (Duty, NoAnswer)]);
        assert_eq!(met_at(&steps), Vec::<usize>::new());
        steps.push((Head, NoAnswer));
        assert_eq!(met_at(&steps), [8]);
    }

    #[test]
    fn two_hand_offs_with_three_plus_three_each_are_two_failures() {
        let mut tallies = Tallies::new(FailureRule::default());
        let mut met = Vec::new();
        // Interleaved, as two seats' hunts run side by side.
        for k in 1..=3 {
            for handoff in ["a", "b"] {
                for role in [Handler, Duty] {
                    let a = attempt(handoff, k, role, NoAnswer);
                    if tallies.record(&a).is_some() {
                        met.push((handoff, k, role));
                    }
                }
            }
        }
        assert_eq!(met, [("a", 3, Duty), ("b", 3, Duty)]);
    }

    #[test]
    fn attempts_to_two_units_in_one_hand_off_are_counted_apart() {
        let mut tallies = Tallies::new(FailureRule::default());
        let other_unit = |k, role| ContactAttempt {
            unit: "3001".into(),
            ..attempt("a", k, role, NoAnswer)
        };
        let mut met = 0;
        for k in 1..=3 {
            met += usize::from(
                tallies
                    .record(&attempt("a", k, Handler, NoAnswer))
                    .is_some(),
            );
            met += usize::from(tallies.record(&other_unit(k, Duty)).is_some());
        }
        assert_eq!(met, 0);
    }

    #[test]
    fn without_a_hand_off_the_call_is_the_group() {
        let without = |call: &str, k, role| ContactAttempt {
            handoff_id: None,
            call_id: call.into(),
            ..attempt("x", k, role, Busy)
        };
        let mut tallies = Tallies::new(FailureRule::default());
        let mut met = Vec::new();
        for k in 1..=3 {
            for call in ["c1", "c2"] {
                met.push(tallies.record(&without(call, k, Head)).is_some());
                met.push(tallies.record(&without(call, k, Duty)).is_some());
            }
        }
        assert_eq!(met.iter().filter(|m| **m).count(), 2);
        assert_eq!(Group::of(&without("c1", 1, Duty)), Group::Call("c1".into()));
    }

    #[test]
    fn thresholds_and_points_are_the_rules() {
        let rule = FailureRule {
            handler_or_head: 1,
            duty: 2,
            points: 5,
            max_points: 40,
        };
        let mut tally = AttemptTally::new(rule);
        assert!(tally.record(&attempt("h", 1, Duty, NoAnswer)).is_none());
        assert!(tally.record(&attempt("h", 2, Head, NoAnswer)).is_none());
        let last = attempt("h", 3, Duty, Busy);
        let evidence = tally.record(&last).expect("1 + 2 meets this rule");
        let failure = rule.unanswered_failure(
            "cf-1".into(),
            &last,
            Some("1001".into()),
            evidence,
            last.ended_at(),
        );
        assert_eq!(
            (failure.points, failure.evidence.len(), failure.at),
            (5, 3, last.started_at + Duration::from_secs(30))
        );
        assert_eq!(failure.kind, FailureKind::Unanswered);
        let refused = rule.refused_failure("cf-2".into(), &last, None, last.ended_at());
        assert_eq!(
            (refused.kind, refused.evidence.len()),
            (FailureKind::Refused, 1)
        );
    }

    #[test]
    fn a_rule_that_needs_no_attempts_is_refused() {
        let rule = FailureRule {
            duty: 0,
            points: 50,
            ..FailureRule::default()
        };
        let keys: Vec<String> = rule
            .validate("contact_failures")
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(keys, ["contact_failures.duty", "contact_failures.points"]);
        assert!(FailureRule::default().validate("x").is_empty());
    }
}
