//! A hand-off as stored: one row per hand-off, written whole each time it changes.

use std::fmt;
use std::time::{Duration, SystemTime};

/// How a hand-off ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoffOutcome {
    /// A unit's contact answered before the limit.
    InTime,
    /// A unit's contact answered after the limit.
    Late,
    /// The seat closed it (`*90`): no unit was needed after all.
    ClosedNotNeeded,
    /// The unit could not be reached: its contacts failed as the contact-failure rule counts.
    UnitUnreachable,
    /// The daemon stopped while it was open.
    Interrupted,
}

impl HandoffOutcome {
    pub const ALL: [HandoffOutcome; 5] = [
        HandoffOutcome::InTime,
        HandoffOutcome::Late,
        HandoffOutcome::ClosedNotNeeded,
        HandoffOutcome::UnitUnreachable,
        HandoffOutcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoffOutcome::InTime => "in_time",
            HandoffOutcome::Late => "late",
            HandoffOutcome::ClosedNotNeeded => "closed_not_needed",
            HandoffOutcome::UnitUnreachable => "unit_unreachable",
            HandoffOutcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<HandoffOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

impl fmt::Display for HandoffOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffRecord {
    pub id: String,
    pub call_id: String,
    pub seat: String,
    pub unit: Option<String>,
    pub category: String,
    pub opened_at: SystemTime,
    /// The seat's answer; the clock counts from here.
    pub started_at: SystemTime,
    pub first_dial_at: Option<SystemTime>,
    pub made_at: Option<SystemTime>,
    /// The category's limit when the hand-off opened (whole seconds).
    pub limit: Duration,
    pub extension: Option<Extension>,
    pub breached_at: Option<SystemTime>,
    /// `None` while open.
    pub outcome: Option<HandoffOutcome>,
    pub closed_at: Option<SystemTime>,
    pub closed_reason: Option<String>,
    pub made_by_call: Option<String>,
}

/// A seat's one extension of a hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub at: SystemTime,
    /// The limit from then on, counted from the seat's answer like the first.
    pub limit: Duration,
    /// The digits the seat typed.
    pub reason: String,
}

impl HandoffRecord {
    /// The limit in force: the extended one once extended.
    pub fn limit_now(&self) -> Duration {
        self.extension.as_ref().map_or(self.limit, |e| e.limit)
    }

    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }
}
