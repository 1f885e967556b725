//! Hunting through a unit's contacts: the order in which the daemon rings them when a seat
//! reaches for the unit, and how long each attempt rings. The order starts with the role the
//! unit's schedule names for now, then alternates between the duty line and the handler or
//! head, so that the contact-failure rule's three and three are reached as early as they can be.

use std::time::Duration;

use super::contact::Contact;
use super::dial::DialError;
use super::units::{Contacts, Role};
use super::{DialTarget, Dialplan};
use crate::calendar::CivilDateTime;

/// A unit's hunt: `[[units]] hunt = { ... }` of the dialplan, or the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hunting {
    /// How long one attempt rings before the next contact.
    pub ring_timeout: Duration,
    /// Attempts per role (handler, head, duty).
    pub attempts: u32,
    /// Between two attempts.
    pub pause: Duration,
}

impl Default for Hunting {
    fn default() -> Self {
        Hunting {
            ring_timeout: Duration::from_secs(30),
            attempts: 3,
            pause: Duration::from_secs(5),
        }
    }
}

/// What a unit's `hunt = { ... }` sets; the rest comes from the daemon's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HuntOverrides {
    pub ring_timeout: Option<Duration>,
    pub attempts: Option<u32>,
    pub pause: Option<Duration>,
    /// The roles in turn, each up to `attempts` times, instead of the schedule's role first
    /// and then duty and handler-or-head alternating.
    pub order: Option<Vec<Role>>,
}

impl HuntOverrides {
    /// `defaults` with this unit's own values in place.
    pub fn over(&self, defaults: Hunting) -> Hunting {
        Hunting {
            ring_timeout: self.ring_timeout.unwrap_or(defaults.ring_timeout),
            attempts: self.attempts.unwrap_or(defaults.attempts),
            pause: self.pause.unwrap_or(defaults.pause),
        }
    }
}

/// The bounds a unit's `hunt` values are checked against.
pub const HUNT_RING_SECS: std::ops::RangeInclusive<u32> = 1..=300;
pub const HUNT_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=10;
pub const HUNT_PAUSE_SECS: std::ops::RangeInclusive<u32> = 0..=60;

/// One attempt of a hunt: whom, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAttempt {
    pub role: Role,
    /// The contact as the dialplan writes it, for the record.
    pub dialled: String,
    pub target: DialTarget,
}

/// A unit's hunt as planned now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuntPlan {
    pub unit: String,
    pub attempts: Vec<PlannedAttempt>,
    pub hunting: Hunting,
}

/// The duty line on one side, the handler and the head on the other.
fn is_duty(role: Role) -> bool {
    role == Role::Duty
}

/// The roles in the order they are rung, each up to `attempts` times: `first`, then alternating
/// between the duty side and the handler-or-head side; within that side, handler and head take
/// turns, starting with `first` when it is one of them. Roles without a contact are left out.
pub fn order(first: Role, contacts: &Contacts, attempts: u32) -> Vec<(Role, &Contact)> {
    let has = |role: Role| contacts.first(role).is_some();
    let lead = if is_duty(first) { Role::Handler } else { first };
    let other = if lead == Role::Handler {
        Role::Head
    } else {
        Role::Handler
    };
    let hoh: Vec<Role> = [lead, other].into_iter().filter(|r| has(*r)).collect();
    let duty: Vec<Role> = [Role::Duty].into_iter().filter(|r| has(*r)).collect();
    let mut left: Vec<(Role, u32)> = [Role::Handler, Role::Head, Role::Duty]
        .into_iter()
        .filter(|r| has(*r))
        .map(|r| (r, attempts))
        .collect();
    let turns_used = |role: Role, left: &mut Vec<(Role, u32)>| -> bool {
        match left.iter_mut().find(|(r, n)| *r == role && *n > 0) {
            Some((_, n)) => {
                *n -= 1;
                true
            }
            None => false,
        }
    };
    let mut sequence = Vec::new();
    let mut duty_side = is_duty(first) && has(Role::Duty);
    let mut hoh_turn = 0usize;
    let mut handler_turn = 0usize;
    loop {
        let mut picked = None;
        for _ in 0..2 {
            if duty_side {
                if let Some(&role) = duty.first() {
                    if turns_used(role, &mut left) {
                        picked = Some(role);
                    }
                }
            } else {
                for k in 0..hoh.len() {
                    let role = hoh[(hoh_turn + k) % hoh.len()];
                    if turns_used(role, &mut left) {
                        hoh_turn = hoh_turn + k + 1;
                        picked = Some(role);
                        break;
                    }
                }
            }
            duty_side = !duty_side;
            if picked.is_some() {
                break;
            }
        }
        let Some(role) = picked else {
            break;
        };
        let contact = match role {
            Role::Handler => {
                let n = contacts.handlers.len().max(1);
                handler_turn += 1;
                contacts.handlers.get((handler_turn - 1) % n)
            }
            other => contacts.first(other),
        };
        // Every role picked has a contact (`has`), so this never skips.
        let Some(contact) = contact else {
            continue;
        };
        sequence.push((role, contact));
    }
    sequence
}

/// The roles of `turns` in rotation, each up to `attempts` times (those without a contact left
/// out): a unit's own `order`.
pub fn in_turn<'a>(
    turns: &[Role],
    contacts: &'a Contacts,
    attempts: u32,
) -> Vec<(Role, &'a Contact)> {
    let turns: Vec<Role> = turns
        .iter()
        .copied()
        .filter(|r| contacts.first(*r).is_some())
        .collect();
    let mut sequence = Vec::new();
    let mut handler_turn = 0;
    for _ in 0..attempts {
        for &role in &turns {
            let contact = match role {
                Role::Handler => {
                    handler_turn += 1;
                    contacts
                        .handlers
                        .get((handler_turn - 1) % contacts.handlers.len().max(1))
                }
                other => contacts.first(other),
            };
            if let Some(contact) = contact {
                sequence.push((role, contact));
            }
        }
    }
    sequence
}

/// The unit's hunt order at local time `at` as `hunting` says: its own `order`, or the
/// schedule's role first and then alternating.
pub fn unit_order<'a>(
    plan: &Dialplan,
    unit: &'a super::Unit,
    at: CivilDateTime,
    attempts: u32,
) -> Vec<(Role, &'a Contact)> {
    match &unit.hunting.order {
        Some(turns) => in_turn(turns, &unit.contacts, attempts),
        None => order(plan.scheduled_role(unit, at), &unit.contacts, attempts),
    }
}

impl Dialplan {
    /// The hunt for unit `id` at local time `at`, with the unit's own `hunt` values over
    /// `defaults`: every attempt in order, each contact resolved (a contact that cannot be
    /// dialled now is left out).
    pub fn hunt_plan(
        &self,
        id: &str,
        at: CivilDateTime,
        defaults: Hunting,
    ) -> Result<HuntPlan, DialError> {
        let unit = self
            .unit(id)
            .ok_or_else(|| DialError::UnknownUnit(id.to_string()))?;
        let first = self.scheduled_role(unit, at);
        let hunting = unit.hunting.over(defaults);
        let attempts: Vec<PlannedAttempt> = unit_order(self, unit, at, hunting.attempts)
            .into_iter()
            .filter_map(|(role, contact)| {
                let target = self.dial_contact(contact).ok()?;
                Some(PlannedAttempt {
                    role,
                    dialled: contact.to_string(),
                    target,
                })
            })
            .collect();
        if attempts.is_empty() {
            return Err(DialError::NoContact {
                unit: unit.id.clone(),
                role: first,
            });
        }
        Ok(HuntPlan {
            unit: unit.id.clone(),
            attempts,
            hunting,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contacts(handler: bool, head: bool, duty: bool) -> Contacts {
        Contacts {
            handlers: if handler {
                vec![Contact::Number("1".into()), Contact::Number("2".into())]
            } else {
                Vec::new()
            },
            head: head.then(|| Contact::Number("3".into())),
            duty: duty.then(|| Contact::Number("4".into())),
        }
    }

    fn roles(first: Role, c: &Contacts, attempts: u32) -> Vec<&'static str> {
        order(first, c, attempts)
            .into_iter()
            .map(|(r, _)| r.as_str())
            .collect()
    }

    #[test]
    fn the_duty_line_first_alternates_with_handler_and_head() {
        let c = contacts(true, true, true);
        assert_eq!(
            roles(Role::Duty, &c, 3),
            ["duty", "handler", "duty", "head", "duty", "handler", "head", "handler", "head"]
        );
    }

    #[test]
    fn the_handler_first_reaches_three_and_three_at_the_sixth_attempt() {
        let c = contacts(true, true, true);
        let r = roles(Role::Handler, &c, 3);
        assert_eq!(
            r,
            ["handler", "duty", "head", "duty", "handler", "duty", "head", "handler", "head"]
        );
        let first_six = &r[..6];
        assert_eq!(first_six.iter().filter(|r| **r == "duty").count(), 3);
    }

    #[test]
    fn the_head_first_then_duty_then_handler() {
        let c = contacts(true, true, true);
        assert_eq!(&roles(Role::Head, &c, 1)[..], ["head", "duty", "handler"]);
    }

    #[test]
    fn roles_without_a_contact_are_left_out() {
        assert_eq!(
            roles(Role::Duty, &contacts(false, false, true), 3),
            ["duty", "duty", "duty"]
        );
        assert_eq!(
            roles(Role::Handler, &contacts(true, false, true), 2),
            ["handler", "duty", "handler", "duty"]
        );
    }

    #[test]
    fn a_units_own_order_rotates_through_its_roles() {
        let c = contacts(true, true, true);
        let r: Vec<&str> = in_turn(&[Role::Head, Role::Duty], &c, 3)
            .into_iter()
            .map(|(r, _)| r.as_str())
            .collect();
        assert_eq!(r, ["head", "duty", "head", "duty", "head", "duty"]);
        let c = contacts(false, false, true);
        let r: Vec<&str> = in_turn(&[Role::Head, Role::Duty], &c, 2)
            .into_iter()
            .map(|(r, _)| r.as_str())
            .collect();
        assert_eq!(r, ["duty", "duty"], "a role without a contact is left out");
    }

    #[test]
    fn handlers_take_turns() {
        let c = contacts(true, false, false);
        let dialled: Vec<String> = order(Role::Handler, &c, 3)
            .into_iter()
            .map(|(_, c)| c.to_string())
            .collect();
        assert_eq!(dialled, ["1", "2", "1"]);
    }
}
