//! Which survey to call, when, and how many at once, as a state machine without I/O. A request
//! is dialled as soon as a line is free (`max_concurrent`); an unanswered call (no answer,
//! busy, failed) is tried again after `retry_interval`, at most `retries` more times, then
//! given up. Requests wait in the order they became ready to dial.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::ivr::SurveyOutcome;
use super::settings::{dial_key, SurveySettings};

/// How the scheduler works, from `[survey]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerRules {
    pub retries: u32,
    pub retry_interval: Duration,
    pub max_concurrent: usize,
    /// Numbers never called, in any form `dial_key` reads.
    pub do_not_call: Vec<String>,
}

impl From<&SurveySettings> for SchedulerRules {
    fn from(s: &SurveySettings) -> Self {
        SchedulerRules {
            retries: s.retries,
            retry_interval: s.retry_interval(),
            max_concurrent: s.max_concurrent as usize,
            do_not_call: s.do_not_call.clone(),
        }
    }
}

/// A closed matter whose citizen is to be called back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRequest {
    /// The survey's own id (unique).
    pub id: String,
    pub number: String,
    /// The matter (工单) the survey is about.
    pub ticket: String,
    /// The unit that handled the matter.
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveyRefusal {
    /// The number is on the do-not-call list; the request is kept as refused.
    #[error("{number} is on the do-not-call list")]
    DoNotCall { number: String },
    /// A request with this id was already submitted; the first one stands.
    #[error("survey {id} was already submitted")]
    Duplicate { id: String },
}

/// How one call attempt ended, as the driver saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The citizen answered; the conversation came to this.
    Answered(SurveyOutcome),
    /// Rang out (`ring_timeout`), or 408/480.
    NoAnswer,
    /// 486/600/603.
    Busy,
    /// Any other failure: the trunk refused, no route, a network error.
    Failed,
}

impl CallOutcome {
    pub fn attempt_outcome(&self) -> crate::store::AttemptOutcome {
        use crate::store::AttemptOutcome;
        match self {
            CallOutcome::Answered(_) => AttemptOutcome::Answered,
            CallOutcome::NoAnswer => AttemptOutcome::NoAnswer,
            CallOutcome::Busy => AttemptOutcome::Busy,
            CallOutcome::Failed => AttemptOutcome::Failed,
        }
    }
}

/// How an answered survey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyResult {
    /// The citizen consented (whether or not every question got a valid key).
    Completed,
    /// The citizen declined, or hung up before consenting.
    Declined,
}

impl SurveyResult {
    pub fn of(outcome: &SurveyOutcome) -> SurveyResult {
        if outcome.consented {
            SurveyResult::Completed
        } else {
            SurveyResult::Declined
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyStatus {
    /// Ready to dial, waiting for a free line.
    Queued,
    /// Attempt `attempt` (1, 2, …) is under way.
    Dialling {
        attempt: u32,
    },
    /// An attempt went unanswered; the next is due then.
    Waiting {
        next_attempt_at: Instant,
    },
    Done(SurveyResult),
    /// Every attempt went unanswered.
    GaveUp,
    /// On the do-not-call list: never dialled.
    Refused,
}

impl SurveyStatus {
    fn finished(self) -> bool {
        matches!(
            self,
            SurveyStatus::Done(_) | SurveyStatus::GaveUp | SurveyStatus::Refused
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyEventKind {
    /// Attempt `n` is dialled.
    Attempt {
        n: u32,
    },
    Answered {
        n: u32,
        dialled_at: Instant,
    },
    Unanswered {
        n: u32,
        dialled_at: Instant,
        outcome: crate::store::AttemptOutcome,
    },
    /// Follows `Answered`.
    Completed(SurveyResult),
    /// Follows the last `Unanswered`.
    GaveUp {
        attempts: u32,
    },
}

/// Something to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyEvent {
    pub id: String,
    pub at: Instant,
    pub kind: SurveyEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerAction {
    /// Call `number` for survey `id`, then report `CallEnded`. Preceded by its `Attempt` event.
    Dial {
        id: String,
        number: String,
    },
    Record(SurveyEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerInput {
    CallEnded { id: String, outcome: CallOutcome },
}

struct Entry {
    number: String,
    status: SurveyStatus,
    /// Attempts dialled so far.
    attempts: u32,
    dialled_at: Option<Instant>,
}

pub struct Scheduler {
    rules: SchedulerRules,
    do_not_call: Vec<String>,
    entries: HashMap<String, Entry>,
    /// Ready to dial, in the order they became ready.
    ready: VecDeque<String>,
    /// The timer table: retries by due time (the id breaks ties).
    retries: BTreeSet<(Instant, String)>,
    dialling: usize,
    /// Outside calling hours, or the daemon is stopping: what waits stays queued.
    dialling_stopped: bool,
    actions: VecDeque<SchedulerAction>,
}

impl Scheduler {
    pub fn new(rules: SchedulerRules) -> Scheduler {
        let do_not_call = rules.do_not_call.iter().map(|n| dial_key(n)).collect();
        Scheduler {
            rules,
            do_not_call,
            entries: HashMap::new(),
            ready: VecDeque::new(),
            retries: BTreeSet::new(),
            dialling: 0,
            dialling_stopped: false,
            actions: VecDeque::new(),
        }
    }

    /// Takes a request; it is dialled at once if a line is free.
    pub fn submit(&mut self, now: Instant, request: SurveyRequest) -> Result<(), SurveyRefusal> {
        if self.entries.contains_key(&request.id) {
            return Err(SurveyRefusal::Duplicate { id: request.id });
        }
        let refused = self.refuses(&request.number);
        let status = if refused {
            SurveyStatus::Refused
        } else {
            SurveyStatus::Queued
        };
        self.entries.insert(
            request.id.clone(),
            Entry {
                number: request.number.clone(),
                status,
                attempts: 0,
                dialled_at: None,
            },
        );
        if refused {
            return Err(SurveyRefusal::DoNotCall {
                number: request.number,
            });
        }
        self.ready.push_back(request.id);
        self.pump(now);
        Ok(())
    }

    /// Takes back a survey an earlier run of the daemon left queued, with the `attempts` it
    /// made; the next is dialled once `due` has come. A survey whose attempts are all used
    /// (the earlier run stopped before recording that) is given up here.
    pub fn resume(
        &mut self,
        now: Instant,
        request: SurveyRequest,
        attempts: u32,
        due: Instant,
    ) -> Result<(), SurveyRefusal> {
        if self.entries.contains_key(&request.id) {
            return Err(SurveyRefusal::Duplicate { id: request.id });
        }
        // The list may have grown since the survey was taken.
        let refused = self.refuses(&request.number);
        let exhausted = !refused && attempts > self.rules.retries;
        let status = if refused {
            SurveyStatus::Refused
        } else if exhausted {
            SurveyStatus::GaveUp
        } else if due > now {
            self.retries.insert((due, request.id.clone()));
            SurveyStatus::Waiting {
                next_attempt_at: due,
            }
        } else {
            self.ready.push_back(request.id.clone());
            SurveyStatus::Queued
        };
        self.entries.insert(
            request.id.clone(),
            Entry {
                number: request.number.clone(),
                status,
                attempts,
                dialled_at: None,
            },
        );
        if refused {
            return Err(SurveyRefusal::DoNotCall {
                number: request.number,
            });
        }
        if exhausted {
            self.record(now, &request.id, SurveyEventKind::GaveUp { attempts });
        }
        self.pump(now);
        Ok(())
    }

    /// Whether `number` is on the do-not-call list, in any form `dial_key` reads.
    pub fn refuses(&self, number: &str) -> bool {
        self.do_not_call.contains(&dial_key(number))
    }

    /// Whether new attempts may start (calling hours, a stopping daemon). The ones under way
    /// still report; when dialling is allowed again, what waits is dialled at once.
    pub fn set_dialling(&mut self, now: Instant, allowed: bool) {
        let was_stopped = self.dialling_stopped;
        self.dialling_stopped = !allowed;
        if allowed && was_stopped {
            self.pump(now);
        }
    }

    pub fn handle(&mut self, now: Instant, input: SchedulerInput) {
        let SchedulerInput::CallEnded { id, outcome } = input;
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let SurveyStatus::Dialling { attempt: n } = entry.status else {
            // Not dialling: a stale or repeated report.
            return;
        };
        self.dialling -= 1;
        let dialled_at = entry.dialled_at.unwrap_or(now);
        let mut events = Vec::new();
        match outcome {
            CallOutcome::Answered(survey) => {
                let result = SurveyResult::of(&survey);
                entry.status = SurveyStatus::Done(result);
                events.push(SurveyEventKind::Answered { n, dialled_at });
                events.push(SurveyEventKind::Completed(result));
            }
            unanswered => {
                events.push(SurveyEventKind::Unanswered {
                    n,
                    dialled_at,
                    outcome: unanswered.attempt_outcome(),
                });
                if n > self.rules.retries {
                    entry.status = SurveyStatus::GaveUp;
                    events.push(SurveyEventKind::GaveUp { attempts: n });
                } else {
                    let next_attempt_at = now + self.rules.retry_interval;
                    entry.status = SurveyStatus::Waiting { next_attempt_at };
                    self.retries.insert((next_attempt_at, id.clone()));
                }
            }
        }
        for kind in events {
            self.record(now, &id, kind);
        }
        self.pump(now);
    }

    pub fn poll_action(&mut self) -> Option<SchedulerAction> {
        self.actions.pop_front()
    }

    /// The earliest retry due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retries.first().map(|(at, _)| *at)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, id)) = self.retries.first().cloned() {
            if at > now {
                break;
            }
            self.retries.pop_first();
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.status = SurveyStatus::Queued;
                self.ready.push_back(id);
            }
        }
        self.pump(now);
    }

    /// `None` for an id never submitted (or forgotten).
    pub fn status(&self, id: &str) -> Option<SurveyStatus> {
        self.entries.get(id).map(|e| e.status)
    }

    /// Surveys being dialled now.
    pub fn dialling(&self) -> usize {
        self.dialling
    }

    /// Drops finished surveys (done, given up, refused), whose records hold what became of
    /// them, so a long-running daemon does not keep them all. Their ids can then be
    /// submitted again.
    pub fn forget_finished(&mut self) {
        self.entries.retain(|_, e| !e.status.finished());
    }

    /// Dials ready surveys while lines are free.
    fn pump(&mut self, now: Instant) {
        while !self.dialling_stopped && self.dialling < self.rules.max_concurrent {
            let Some(id) = self.ready.pop_front() else {
                break;
            };
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            entry.attempts += 1;
            let n = entry.attempts;
            entry.status = SurveyStatus::Dialling { attempt: n };
            entry.dialled_at = Some(now);
            let number = entry.number.clone();
            self.dialling += 1;
            self.record(now, &id, SurveyEventKind::Attempt { n });
            self.actions.push_back(SchedulerAction::Dial { id, number });
        }
    }

    fn record(&mut self, at: Instant, id: &str, kind: SurveyEventKind) {
        self.actions.push_back(SchedulerAction::Record(SurveyEvent {
            id: id.to_owned(),
            at,
            kind,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AttemptOutcome;

    const INTERVAL: Duration = Duration::from_secs(600);

    fn rules() -> SchedulerRules {
        SchedulerRules {
            retries: 2,
            retry_interval: INTERVAL,
            max_concurrent: 2,
            do_not_call: vec!["+86 139-0000-0000".into()],
        }
    }

    fn request(n: u32) -> SurveyRequest {
        SurveyRequest {
            id: format!("survey-{n}"),
            number: format!("1380013800{n}"),
            ticket: format!("T-{n}"),
            unit: Some("water".into()),
        }
    }

    fn drain(s: &mut Scheduler) -> Vec<SchedulerAction> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn dials(actions: &[SchedulerAction]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                SchedulerAction::Dial { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect()
    }

    fn events(actions: &[SchedulerAction]) -> Vec<SurveyEventKind> {
        actions
            .iter()
            .filter_map(|a| match a {
                SchedulerAction::Record(e) => Some(e.kind),
                _ => None,
            })
            .collect()
    }

    fn ended(id: &str, outcome: CallOutcome) -> SchedulerInput {
        SchedulerInput::CallEnded {
            id: id.into(),
            outcome,
        }
    }

    fn answered(consented: bool) -> CallOutcome {
        CallOutcome::Answered(SurveyOutcome {
            consented,
            ..SurveyOutcome::default()
        })
    }

    #[test]
    fn no_answer_is_retried_twice_ten_minutes_apart_then_given_up() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        s.submit(t0, request(1)).unwrap();
        assert_eq!(
            drain(&mut s),
            [
                SchedulerAction::Record(SurveyEvent {
                    id: "survey-1".into(),
                    at: t0,
                    kind: SurveyEventKind::Attempt { n: 1 }
                }),
                SchedulerAction::Dial {
                    id: "survey-1".into(),
                    number: "13800138001".into()
                }
            ]
        );
        assert_eq!(
            s.status("survey-1"),
            Some(SurveyStatus::Dialling { attempt: 1 })
        );

        // Rang out after 40 s.
        let t1 = t0 + Duration::from_secs(40);
        s.handle(t1, ended("survey-1", CallOutcome::NoAnswer));
        assert_eq!(
            events(&drain(&mut s)),
            [SurveyEventKind::Unanswered {
                n: 1,
                dialled_at: t0,
                outcome: AttemptOutcome::NoAnswer
            }]
        );
        let second = t1 + INTERVAL;
        assert_eq!(
            s.status("survey-1"),
            Some(SurveyStatus::Waiting {
                next_attempt_at: second
            })
        );
        assert_eq!(s.poll_timeout(), Some(second));
        s.handle_timeout(second - Duration::from_millis(1));
        assert_eq!(drain(&mut s), []);

        s.handle_timeout(second);
        let actions = drain(&mut s);
        assert_eq!(events(&actions), [SurveyEventKind::Attempt { n: 2 }]);
        assert_eq!(dials(&actions), ["survey-1"]);
        assert_eq!(s.poll_timeout(), None);
        s.handle(second, ended("survey-1", CallOutcome::Busy));
        drain(&mut s);

        // The driver's timer fires a little late: still dialled, once.
        let third = second + INTERVAL;
        assert_eq!(s.poll_timeout(), Some(third));
        s.handle_timeout(third + Duration::from_millis(3));
        assert_eq!(dials(&drain(&mut s)), ["survey-1"]);
        let end = third + Duration::from_secs(1);
        s.handle(end, ended("survey-1", CallOutcome::Failed));
        assert_eq!(
            events(&drain(&mut s)),
            [
                SurveyEventKind::Unanswered {
                    n: 3,
                    dialled_at: third + Duration::from_millis(3),
                    outcome: AttemptOutcome::Failed
                },
                SurveyEventKind::GaveUp { attempts: 3 }
            ]
        );
        assert_eq!(s.status("survey-1"), Some(SurveyStatus::GaveUp));
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.dialling(), 0);
    }

    #[test]
    fn max_concurrent_is_respected() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        for n in 1..=4 {
            s.submit(t0, request(n)).unwrap();
        }
        assert_eq!(dials(&drain(&mut s)), ["survey-1", "survey-2"]);
        assert_eq!(s.dialling(), 2);
        assert_eq!(s.status("survey-3"), Some(SurveyStatus::Queued));

        // One line frees up: the next in line goes, not more.
        let t1 = t0 + Duration::from_secs(90);
        s.handle(t1, ended("survey-1", answered(true)));
        let actions = drain(&mut s);
        assert_eq!(
            events(&actions),
            [
                SurveyEventKind::Answered {
                    n: 1,
                    dialled_at: t0
                },
                SurveyEventKind::Completed(SurveyResult::Completed),
                SurveyEventKind::Attempt { n: 1 },
            ]
        );
        assert_eq!(dials(&actions), ["survey-3"]);
        assert_eq!(
            s.status("survey-1"),
            Some(SurveyStatus::Done(SurveyResult::Completed))
        );

        // A retry that falls due while both lines are busy waits its turn behind survey-4.
        s.handle(t1, ended("survey-2", CallOutcome::NoAnswer));
        assert_eq!(dials(&drain(&mut s)), ["survey-4"]);
        s.handle_timeout(t1 + INTERVAL);
        assert_eq!(drain(&mut s), []);
        assert_eq!(s.status("survey-2"), Some(SurveyStatus::Queued));
        s.handle(t1 + INTERVAL, ended("survey-3", answered(false)));
        assert_eq!(dials(&drain(&mut s)), ["survey-2"]);
        assert_eq!(
            s.status("survey-3"),
            Some(SurveyStatus::Done(SurveyResult::Declined))
        );
        assert_eq!(s.dialling(), 2);
    }

    #[test]
    fn do_not_call_is_refused_and_never_dialled() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        let listed = SurveyRequest {
            number: "13900000000".into(),
            ..request(1)
        };
        assert_eq!(
            s.submit(t0, listed),
            Err(SurveyRefusal::DoNotCall {
                number: "13900000000".into()
            })
        );
        assert_eq!(drain(&mut s), []);
        assert_eq!(s.status("survey-1"), Some(SurveyStatus::Refused));
        assert_eq!(s.poll_timeout(), None);
        s.handle_timeout(t0 + INTERVAL * 10);
        assert_eq!(drain(&mut s), []);
        // Its id stays taken.
        assert_eq!(
            s.submit(t0, request(1)),
            Err(SurveyRefusal::Duplicate {
                id: "survey-1".into()
            })
        );
    }

    #[test]
    fn a_duplicate_id_is_refused_and_stale_reports_are_ignored() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        s.submit(t0, request(1)).unwrap();
        drain(&mut s);
        let again = SurveyRequest {
            number: "13700000000".into(),
            ..request(1)
        };
        assert!(matches!(
            s.submit(t0, again),
            Err(SurveyRefusal::Duplicate { .. })
        ));
        assert_eq!(drain(&mut s), []);

        s.handle(t0, ended("survey-1", answered(true)));
        drain(&mut s);
        s.handle(t0, ended("survey-1", CallOutcome::NoAnswer));
        s.handle(t0, ended("nobody", CallOutcome::NoAnswer));
        assert_eq!(drain(&mut s), []);
        assert_eq!(s.dialling(), 0);
        assert_eq!(
            s.status("survey-1"),
            Some(SurveyStatus::Done(SurveyResult::Completed))
        );

        s.forget_finished();
        assert_eq!(s.status("survey-1"), None);
    }

    #[test]
    fn no_retries_gives_up_after_the_first_attempt() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(SchedulerRules {
            retries: 0,
            ..rules()
        });
        s.submit(t0, request(1)).unwrap();
        drain(&mut s);
        s.handle(t0, ended("survey-1", CallOutcome::Busy));
        assert_eq!(
            events(&drain(&mut s))[1..],
            [SurveyEventKind::GaveUp { attempts: 1 }]
        );
    }

    #[test]
    fn a_resumed_survey_waits_for_its_retry_then_counts_on_from_its_attempts() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        s.resume(t0, request(1), 1, t0 + INTERVAL).unwrap();
        assert_eq!(drain(&mut s), []);
        assert_eq!(
            s.status("survey-1"),
            Some(SurveyStatus::Waiting {
                next_attempt_at: t0 + INTERVAL
            })
        );
        assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL));

        s.handle_timeout(t0 + INTERVAL);
        let actions = drain(&mut s);
        assert_eq!(dials(&actions), ["survey-1"]);
        assert_eq!(events(&actions), [SurveyEventKind::Attempt { n: 2 }]);
    }

    #[test]
    fn a_resumed_survey_already_due_is_dialled_at_once_within_the_line_limit() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        for n in 1..=3 {
            s.resume(t0, request(n), 0, t0).unwrap();
        }
        let actions = drain(&mut s);
        assert_eq!(dials(&actions), ["survey-1", "survey-2"]);
        assert_eq!(s.status("survey-3"), Some(SurveyStatus::Queued));
    }

    #[test]
    fn a_resumed_survey_with_every_attempt_used_is_given_up() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        s.resume(t0, request(1), 3, t0).unwrap();
        let actions = drain(&mut s);
        assert_eq!(dials(&actions), Vec::<&str>::new());
        assert_eq!(events(&actions), [SurveyEventKind::GaveUp { attempts: 3 }]);
        assert_eq!(s.status("survey-1"), Some(SurveyStatus::GaveUp));
    }

    #[test]
    fn a_resumed_survey_whose_number_is_now_on_the_do_not_call_list_is_refused() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(rules());
        let request = SurveyRequest {
            number: "13900000000".into(),
            ..request(1)
        };
        assert!(matches!(
            s.resume(t0, request, 1, t0),
            Err(SurveyRefusal::DoNotCall { .. })
        ));
        assert_eq!(drain(&mut s), []);
        assert_eq!(s.status("survey-1"), Some(SurveyStatus::Refused));
    }

    #[test]
    fn once_dialling_stops_nothing_new_is_dialled_and_ends_are_still_recorded() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(SchedulerRules {
            max_concurrent: 1,
            ..rules()
        });
        s.submit(t0, request(1)).unwrap();
        s.submit(t0, request(2)).unwrap();
        drain(&mut s);
        s.set_dialling(t0, false);
        s.handle(t0, ended("survey-1", CallOutcome::NoAnswer));
        let actions = drain(&mut s);
        assert_eq!(dials(&actions), Vec::<&str>::new());
        assert!(matches!(
            events(&actions)[..],
            [SurveyEventKind::Unanswered { n: 1, .. }]
        ));
        assert_eq!(s.status("survey-2"), Some(SurveyStatus::Queued));
        s.handle_timeout(t0 + INTERVAL);
        assert_eq!(dials(&drain(&mut s)), Vec::<&str>::new());

        // Calling hours open again: the waiting survey goes first, then the retry.
        s.set_dialling(t0 + INTERVAL, true);
        assert_eq!(dials(&drain(&mut s)), ["survey-2"]);
    }

    #[test]
    fn rules_come_from_the_settings() {
        let settings = SurveySettings::default();
        let r = SchedulerRules::from(&settings);
        assert_eq!(
            (r.retries, r.retry_interval, r.max_concurrent),
            (2, INTERVAL, 2)
        );
    }
}
