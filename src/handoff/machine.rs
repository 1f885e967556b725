//! The hand-offs open now, as a state machine without I/O: inputs from calls (a seat marks,
//! extends or closes; a unit is dialled or answers) and time go in, records to write, events
//! and tones for a seat's ear come out. Each open hand-off has two timers in one table: the
//! warning (a configured time before the limit) and the breach (the limit).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::settings::{Category, HandoffSettings};
use crate::call_id::CallId;
use crate::ledger::{FailureRule, Group, Tallies};
use crate::store::{
    ContactAttempt, ContactFailure, ContactOutcome, Extension, HandoffOutcome, HandoffRecord,
};
use crate::timer::TimerTable;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The seat serving `call` marks it with `category` (a keypad code, or the route's category
    /// at the seat's answer). The clock counts from `answered`, the seat's answer. Marking a call
    /// already marked changes its category, while the hand-off is neither extended nor breached.
    Mark {
        call: CallId,
        seat: String,
        category: String,
        answered: Instant,
        answered_at: SystemTime,
    },
    /// The seat extends the hand-off of `call` to its category's extended limit, once.
    Extend {
        call: CallId,
        seat: String,
        reason: String,
    },
    /// The seat closes the hand-off of `call`: no unit was needed.
    Close {
        call: CallId,
        seat: String,
        reason: String,
    },
    /// The seat placed a call to `unit` for a hand-off.
    Dialled { by: By, unit: String },
    /// A contact of `unit` answered a call the seat placed: the hand-off is made.
    UnitAnswered { by: By, unit: String },
    /// One attempt to reach a unit's contact is over (its `handoff_id` is filled in here).
    Attempt { by: By, attempt: ContactAttempt },
    /// The seat says `unit`, which answered it on this call, refused the matter without a good
    /// reason (`*96`): a contact failure of kind `refused`.
    Refused { by: By, unit: String },
    /// A hunt for `unit` ran out of contacts: with a contact failure recorded in it, the
    /// hand-off ends as `unit_unreachable`.
    HuntExhausted { by: By, unit: String },
}

/// Which call a unit was reached from, and so which hand-off it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    /// During the citizen's call (consultation, three-way call, transfer): that call's hand-off.
    Call { call: CallId, seat: String },
    /// The seat's own call to the unit (after the citizen hung up): the seat's open hand-off
    /// that dialled this unit before, else its oldest one not yet made.
    OwnCall { call: CallId, seat: String },
}

impl By {
    fn call(&self) -> CallId {
        match self {
            By::Call { call, .. } | By::OwnCall { call, .. } => *call,
        }
    }
}

/// What happened to a hand-off; the record that goes with it is as it stands after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened,
    Recategorised,
    Dialled,
    Extended,
    Breached,
    /// A unit's contact answered: outcome in_time or late.
    Made,
    /// Closed without being made: not needed, or the unit unreachable.
    Closed,
}

/// A tone for the seat's ear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// The limit is `warning_secs` away.
    Warning,
    /// The limit has passed.
    Breach,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `record` (it replaces the hand-off's row), then publish the change.
    Changed {
        change: Change,
        record: Box<HandoffRecord>,
    },
    /// Play `cue` in the ear of `seat`, in whatever call it is on.
    Cue { seat: String, cue: Cue },
    /// An input that changed nothing; the seat's key was not acted on.
    Refused { seat: String, why: Refusal },
    /// Write this attempt to reach a unit's contact.
    Attempt(ContactAttempt),
    /// Write this contact failure: the rule was met by the attempt just written.
    Failure(Box<ContactFailure>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no hand-off category has that name")]
    UnknownCategory,
    #[error("the call has no open hand-off")]
    NoHandoff,
    #[error("the hand-off was extended already")]
    AlreadyExtended,
    #[error("the hand-off is past its limit; it can no longer be extended or re-marked")]
    Breached,
    #[error("no unit answered on this call, so none can have refused")]
    NoUnitAnswered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    Warning,
    Breach,
}

/// One open hand-off.
#[derive(Debug)]
struct Open {
    record: HandoffRecord,
    call: CallId,
    /// The seat's answer, monotonic.
    started: Instant,
    /// Units hunted for it, and those charged a contact failure.
    tried: Vec<String>,
    failed: Vec<String>,
}

impl Open {
    fn deadline(&self) -> Instant {
        self.started + self.record.limit_now()
    }

    /// The wall time of monotonic `at`, counted from the seat's answer.
    fn wall(&self, at: Instant) -> SystemTime {
        self.record.started_at + at.saturating_duration_since(self.started)
    }
}

#[derive(Debug)]
pub struct Handoffs {
    settings: HandoffSettings,
    /// Open hand-offs by a sequence number, so iteration is oldest first.
    open: BTreeMap<u64, Open>,
    next: u64,
    timers: TimerTable<(u64, Timer)>,
    actions: VecDeque<Action>,
    rule: FailureRule,
    /// The contact-failure rule's count, per hand-off (or call) and unit.
    tallies: Tallies,
    failures: u64,
    /// The last answered attempt of each call and unit, for a refusal (`*96`).
    answered: HashMap<(String, String), ContactAttempt>,
    /// The hand-off each call made, so that the answering attempt, written as it ends, is
    /// filed under it although it is closed by then.
    made_by: HashMap<CallId, String>,
}

impl Handoffs {
    pub fn new(settings: HandoffSettings, rule: FailureRule) -> Handoffs {
        Handoffs {
            settings,
            open: BTreeMap::new(),
            next: 1,
            timers: TimerTable::default(),
            actions: VecDeque::new(),
            rule,
            tallies: Tallies::new(rule),
            failures: 0,
            answered: HashMap::new(),
            made_by: HashMap::new(),
        }
    }

    /// The call `call_id` is over: its attempts outside any hand-off are counted no more.
    pub fn forget_call(&mut self, call_id: &str) {
        self.tallies.forget_group(&Group::Call(call_id.to_string()));
        self.answered.retain(|(call, _), _| call != call_id);
        self.made_by.retain(|call, _| call.to_string() != call_id);
    }

    pub fn settings(&self) -> &HandoffSettings {
        &self.settings
    }

    /// `now` is monotonic; `at` is the same moment on the wall clock, for records.
    pub fn handle(&mut self, now: Instant, at: SystemTime, input: Input) {
        match input {
            Input::Mark {
                call,
                seat,
                category,
                answered,
                answered_at,
            } => self.mark(now, at, call, seat, &category, answered, answered_at),
            Input::Extend { call, seat, reason } => self.extend(now, at, call, seat, reason),
            Input::Close { call, seat, reason } => match self.of_call(call) {
                Some(key) => self.close(key, at, HandoffOutcome::ClosedNotNeeded, reason),
                None => self.refuse(seat, Refusal::NoHandoff),
            },
            Input::Dialled { by, unit } => {
                let Some(key) = self.for_unit(&by, &unit) else {
                    return;
                };
                if let Some(open) = self.open.get_mut(&key) {
                    if open.record.first_dial_at.is_none() {
                        open.record.first_dial_at = Some(at);
                        open.record.unit.get_or_insert(unit);
                        let record = open.record.clone();
                        self.changed(Change::Dialled, record);
                    }
                }
            }
            Input::UnitAnswered { by, unit } => {
                if let Some(key) = self.for_unit(&by, &unit) {
                    self.made(key, now, at, by.call(), unit);
                }
            }
            Input::Attempt { by, attempt } => self.attempt(at, by, attempt),
            Input::Refused { by, unit } => self.refused(at, by, unit),
            Input::HuntExhausted { by, unit } => {
                let failed = self
                    .for_unit(&by, &unit)
                    .filter(|key| self.open.get(key).is_some_and(|o| o.failed.contains(&unit)));
                if let Some(key) = failed {
                    if let Some(open) = self.open.get_mut(&key) {
                        open.record.unit = Some(unit);
                    }
                    let why = "every contact tried; contact failure".to_string();
                    self.close(key, at, HandoffOutcome::UnitUnreachable, why);
                }
            }
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Runs every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((due, (key, timer))) = self.timers.pop_expired(now) {
            let Some(open) = self.open.get_mut(&key) else {
                continue;
            };
            let seat = open.record.seat.clone();
            match timer {
                Timer::Warning => self.actions.push_back(Action::Cue {
                    seat,
                    cue: Cue::Warning,
                }),
                Timer::Breach => {
                    open.record.breached_at = Some(open.wall(due));
                    let record = open.record.clone();
                    self.changed(Change::Breached, record);
                    self.actions.push_back(Action::Cue {
                        seat,
                        cue: Cue::Breach,
                    });
                }
            }
        }
    }

    /// Every open hand-off as it stands, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &HandoffRecord> {
        self.open.values().map(|o| &o.record)
    }

    /// The open hand-offs with the time left to their limit at `now` (negative once breached),
    /// oldest first.
    pub fn time_left(&self, now: Instant) -> impl Iterator<Item = (&HandoffRecord, f64)> {
        self.open.values().map(move |o| {
            let deadline = o.deadline();
            let left = if deadline >= now {
                (deadline - now).as_secs_f64()
            } else {
                -(now - deadline).as_secs_f64()
            };
            (&o.record, left)
        })
    }

    /// Files `attempt` under its hand-off, writes it, and charges a contact failure when it
    /// meets the rule.
    fn attempt(&mut self, at: SystemTime, by: By, mut attempt: ContactAttempt) {
        let key = self.for_unit(&by, &attempt.unit);
        let seat = match &by {
            By::Call { seat, .. } | By::OwnCall { seat, .. } => seat.clone(),
        };
        if let Some(open) = key.and_then(|k| self.open.get_mut(&k)) {
            attempt.handoff_id = Some(open.record.id.clone());
            if !open.tried.contains(&attempt.unit) {
                open.tried.push(attempt.unit.clone());
            }
        } else if let Some(id) = self.made_by.get(&by.call()) {
            attempt.handoff_id = Some(id.clone());
        }
        self.actions.push_back(Action::Attempt(attempt.clone()));
        if attempt.outcome == ContactOutcome::Answered {
            let key = (attempt.call_id.clone(), attempt.unit.clone());
            self.answered.insert(key, attempt.clone());
        }
        // An attempt of a hand-off made already counts for nothing more.
        let made_already = key.is_none() && attempt.handoff_id.is_some();
        if made_already {
            return;
        }
        let Some(evidence) = self.tallies.record(&attempt) else {
            return;
        };
        self.failures += 1;
        let id = format!("cf-{}-{}", attempt.call_id, self.failures);
        let failure = self
            .rule
            .unanswered_failure(id, &attempt, Some(seat), evidence, at);
        if let Some(open) = key.and_then(|k| self.open.get_mut(&k)) {
            open.failed.push(attempt.unit.clone());
        }
        self.actions.push_back(Action::Failure(Box::new(failure)));
    }

    fn refused(&mut self, at: SystemTime, by: By, unit: String) {
        let (call, seat) = match &by {
            By::Call { call, seat } | By::OwnCall { call, seat } => {
                (call.to_string(), seat.clone())
            }
        };
        let Some(answered) = self.answered.get(&(call, unit)) else {
            return self.refuse(seat, Refusal::NoUnitAnswered);
        };
        self.failures += 1;
        let id = format!("cf-{}-{}", answered.call_id, self.failures);
        let failure = self.rule.refused_failure(id, answered, Some(seat), at);
        self.actions.push_back(Action::Failure(Box::new(failure)));
    }

    #[allow(clippy::too_many_arguments)]
    fn mark(
        &mut self,
        now: Instant,
        at: SystemTime,
        call: CallId,
        seat: String,
        category: &str,
        answered: Instant,
        answered_at: SystemTime,
    ) {
        let Some(category) = self.settings.category(category).cloned() else {
            return self.refuse(seat, Refusal::UnknownCategory);
        };
        if let Some(key) = self.of_call(call) {
            return self.recategorise(key, now, &category);
        }
        let key = self.next;
        self.next += 1;
        let record = HandoffRecord {
            id: format!("{call}-h{key}"),
            call_id: call.to_string(),
            seat,
            unit: None,
            category: category.name.clone(),
            opened_at: at,
            started_at: answered_at,
            first_dial_at: None,
            made_at: None,
            limit: category.limit(),
            extension: None,
            breached_at: None,
            outcome: None,
            closed_at: None,
            closed_reason: None,
            made_by_call: None,
        };
        self.open.insert(
            key,
            Open {
                record: record.clone(),
                call,
                started: answered,
                tried: Vec::new(),
                failed: Vec::new(),
            },
        );
        self.changed(Change::Opened, record);
        self.arm(key, now);
    }

    fn recategorise(&mut self, key: u64, now: Instant, category: &Category) {
        let Some(open) = self.open.get_mut(&key) else {
            return;
        };
        let seat = open.record.seat.clone();
        if open.record.breached_at.is_some() {
            return self.refuse(seat, Refusal::Breached);
        }
        if open.record.extension.is_some() {
            return self.refuse(seat, Refusal::AlreadyExtended);
        }
        if open.record.category == category.name {
            return;
        }
        open.record.category = category.name.clone();
        open.record.limit = category.limit();
        let record = open.record.clone();
        self.changed(Change::Recategorised, record);
        self.arm(key, now);
    }

    fn extend(&mut self, now: Instant, at: SystemTime, call: CallId, seat: String, reason: String) {
        let Some(key) = self.of_call(call) else {
            return self.refuse(seat, Refusal::NoHandoff);
        };
        let Some(open) = self.open.get_mut(&key) else {
            return;
        };
        if open.record.extension.is_some() {
            return self.refuse(seat, Refusal::AlreadyExtended);
        }
        if open.record.breached_at.is_some() || now >= open.deadline() {
            return self.refuse(seat, Refusal::Breached);
        }
        let limit = self
            .settings
            .category(&open.record.category)
            .map_or(open.record.limit, Category::extended_limit);
        open.record.extension = Some(Extension { at, limit, reason });
        let record = open.record.clone();
        self.changed(Change::Extended, record);
        self.arm(key, now);
    }

    /// Arms the warning and the breach of `key` for its limit now in force; a warning whose
    /// moment has passed is not played late.
    fn arm(&mut self, key: u64, now: Instant) {
        let Some(open) = self.open.get(&key) else {
            return;
        };
        let deadline = open.deadline();
        let warning = deadline
            .checked_sub(self.settings.warning())
            .unwrap_or(open.started);
        if warning > now {
            self.timers.set((key, Timer::Warning), warning);
        } else {
            self.timers.stop(&(key, Timer::Warning));
        }
        self.timers.set((key, Timer::Breach), deadline);
    }

    fn made(&mut self, key: u64, now: Instant, at: SystemTime, by: CallId, unit: String) {
        let Some(mut open) = self.open.remove(&key) else {
            return;
        };
        self.stop_timers(key);
        self.forget_tallies(&open);
        let late = open.record.breached_at.is_some() || now >= open.deadline();
        if late && open.record.breached_at.is_none() {
            open.record.breached_at = Some(open.wall(open.deadline()));
        }
        let record = &mut open.record;
        record.unit = Some(unit);
        record.made_at = Some(at);
        record.made_by_call = Some(by.to_string());
        self.made_by.insert(by, record.id.clone());
        record.closed_at = Some(at);
        record.outcome = Some(if late {
            HandoffOutcome::Late
        } else {
            HandoffOutcome::InTime
        });
        self.changed(Change::Made, open.record);
    }

    fn close(&mut self, key: u64, at: SystemTime, outcome: HandoffOutcome, reason: String) {
        let Some(mut open) = self.open.remove(&key) else {
            return;
        };
        self.stop_timers(key);
        self.forget_tallies(&open);
        open.record.outcome = Some(outcome);
        open.record.closed_at = Some(at);
        open.record.closed_reason = Some(reason);
        self.changed(Change::Closed, open.record);
    }

    /// The hand-off `key` is over: no more timers, and its tallies are done with.
    fn stop_timers(&mut self, key: u64) {
        self.timers.stop(&(key, Timer::Warning));
        self.timers.stop(&(key, Timer::Breach));
    }

    fn forget_tallies(&mut self, open: &Open) {
        let group = Group::Handoff(open.record.id.clone());
        for unit in &open.tried {
            self.tallies.forget(&group, unit);
        }
    }

    /// The open hand-off of the citizen's call `call`.
    fn of_call(&self, call: CallId) -> Option<u64> {
        self.open
            .iter()
            .find(|(_, o)| o.call == call)
            .map(|(key, _)| *key)
    }

    /// The open hand-off a call to `unit` serves.
    fn for_unit(&self, by: &By, unit: &str) -> Option<u64> {
        match by {
            By::Call { call, .. } => self.of_call(*call),
            By::OwnCall { seat, .. } => {
                let mine = || self.open.iter().filter(|(_, o)| o.record.seat == *seat);
                mine()
                    .find(|(_, o)| o.record.unit.as_deref() == Some(unit))
                    .or_else(|| mine().find(|(_, o)| o.record.unit.is_none()))
                    .or_else(|| mine().next())
                    .map(|(key, _)| *key)
            }
        }
    }

    fn changed(&mut self, change: Change, record: HandoffRecord) {
        self.actions.push_back(Action::Changed {
            change,
            record: Box::new(record),
        });
    }

    fn refuse(&mut self, seat: String, why: Refusal) {
        self.actions.push_back(Action::Refused { seat, why });
    }
}

/// How long a made hand-off took, from the seat's answer to the unit's answer.
pub fn took(record: &HandoffRecord) -> Option<Duration> {
    record
        .made_at
        .and_then(|made| made.duration_since(record.started_at).ok())
}

#[cfg(test)]
mod tests;
