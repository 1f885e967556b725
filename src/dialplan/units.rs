//! The directory of units (承办单位): who they are, where they sit in the hierarchy, how each of
//! their contacts is reached, and which contact is called at what time.

use std::fmt;
use std::path::PathBuf;

use super::contact::Contact;
use crate::calendar::{Calendar, CivilDateTime};

/// One `[[units]]` entry, checked at load time: its parent exists, the contacts its schedule
/// can name are present, and every contact is dialable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Digits; what a seat types after the consult code.
    pub id: String,
    pub name: String,
    pub level: Level,
    /// The id of the unit above it, whose level is lower.
    pub parent: Option<String>,
    pub contacts: Contacts,
    pub schedule: Schedule,
    /// How its contacts are hunted, where it differs from the daemon's defaults.
    pub hunting: super::HuntOverrides,
    pub file: PathBuf,
    pub line: usize,
}

/// 2: district governments, city departments, utilities; 3 and 4: streets, townships and
/// sub-units under them. Level 1 is the hotline centre itself, never a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Two = 2,
    Three = 3,
    Four = 4,
}

impl Level {
    pub fn from_number(n: i64) -> Option<Level> {
        match n {
            2 => Some(Level::Two),
            3 => Some(Level::Three),
            4 => Some(Level::Four),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// The contact roles the assessment rules name (联络畅通): a call to the handler or the head
/// and a call to the duty line are counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 热线承办人员
    Handler,
    /// 热线负责人
    Head,
    /// 值班电话
    Duty,
}

impl Role {
    /// As written in `working` and `off_hours`.
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "handler" => Some(Role::Handler),
            "head" => Some(Role::Head),
            "duty" => Some(Role::Duty),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Handler => "handler",
            Role::Head => "head",
            Role::Duty => "duty",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    /// In the order written; the first is the one called today.
    pub handlers: Vec<Contact>,
    pub head: Option<Contact>,
    pub duty: Option<Contact>,
}

impl Contacts {
    /// The contact called for `role`: the first handler, the head or the duty line.
    pub fn first(&self, role: Role) -> Option<&Contact> {
        match role {
            Role::Handler => self.handlers.first(),
            Role::Head => self.head.as_ref(),
            Role::Duty => self.duty.as_ref(),
        }
    }
}

/// Whom to call when. The rules want units reachable 7x24 with someone named on duty on
/// holidays and outside working hours, so the default is the duty line at all times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Always(Role),
    /// `working` while the calendar is open (a working day, inside its hours), else `off_hours`.
    ByCalendar {
        calendar: String,
        working: Role,
        off_hours: Role,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Always(Role::Duty)
    }
}

impl Schedule {
    /// Every role the schedule can pick, so the loader can insist each has a contact.
    pub fn roles(&self) -> Vec<Role> {
        match self {
            Schedule::Always(role) => vec![*role],
            Schedule::ByCalendar {
                working, off_hours, ..
            } if working == off_hours => vec![*working],
            Schedule::ByCalendar {
                working, off_hours, ..
            } => vec![*working, *off_hours],
        }
    }

    /// The role for local time `at`; `calendar` is the one this schedule names (checked at load).
    pub fn role_at(&self, at: CivilDateTime, calendar: Option<&Calendar>) -> Role {
        match (self, calendar) {
            (Schedule::Always(role), _) => *role,
            (
                Schedule::ByCalendar {
                    working, off_hours, ..
                },
                Some(calendar),
            ) => {
                if calendar.is_open(at) {
                    *working
                } else {
                    *off_hours
                }
            }
            // Cannot happen after load; the off-hours role is the one meant for "nobody knows".
            (Schedule::ByCalendar { off_hours, .. }, None) => *off_hours,
        }
    }

    pub fn calendar(&self) -> Option<&str> {
        match self {
            Schedule::Always(_) => None,
            Schedule::ByCalendar { calendar, .. } => Some(calendar),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_a_schedule_can_name() {
        assert_eq!(Schedule::default().roles(), [Role::Duty]);
        let s = Schedule::ByCalendar {
            calendar: "office".into(),
            working: Role::Handler,
            off_hours: Role::Duty,
        };
        assert_eq!(s.roles(), [Role::Handler, Role::Duty]);
        let s = Schedule::ByCalendar {
            calendar: "office".into(),
            working: Role::Head,
            off_hours: Role::Head,
        };
        assert_eq!(s.roles(), [Role::Head]);
    }

    #[test]
    fn levels_and_roles_by_name() {
        assert_eq!(Level::from_number(3), Some(Level::Three));
        assert_eq!(Level::from_number(1), None);
        assert_eq!(Level::from_number(5), None);
        assert!(Level::Two < Level::Four);
        assert_eq!(Role::from_name("head"), Some(Role::Head));
        assert_eq!(Role::from_name("Head"), None);
        assert_eq!(Role::Duty.to_string(), "duty");
    }
}
