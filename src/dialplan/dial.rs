//! Calls the daemon places itself, resolved to a [`DialTarget`]: a unit's contact for now, or a
//! number an outbound route allows. Every unit call goes through [`Dialplan::dial_unit`] so that
//! hunting through a unit's contacts (a later issue) changes one function.

use super::contact::Contact;
use super::units::{Role, Unit};
use super::{DialTarget, Dialplan, OutboundRoute};
use crate::calendar::CivilDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    #[error("no unit {0:?} in the dialplan")]
    UnknownUnit(String),
    #[error("unit {unit} has no {role} contact")]
    NoContact { unit: String, role: Role },
    /// No outbound route matches: the number is not dialled (toll-fraud guard).
    #[error("number {0:?} is not allowed: no outbound route matches it")]
    NumberNotAllowed(String),
    #[error("{0:?} is neither a unit id nor a number an outbound route allows")]
    Unknown(String),
}

/// What the digits a seat typed after the consult code name. Unit ids are looked up first, so a
/// unit id shadows the same digits as a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialled<'a> {
    /// Dial it with [`Dialplan::dial_unit`], at the time of the call.
    Unit(&'a Unit),
    /// An outside number, already resolved through its outbound route.
    Number(DialTarget),
}

impl Dialplan {
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.unit_by_id.get(id).and_then(|&i| self.units.get(i))
    }

    /// In file order, files in the order `dialplan.files` lists them.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// In file order.
    pub fn outbound_routes(&self) -> &[OutboundRoute] {
        self.outbound.routes()
    }

    /// The toll-fraud guard: the trunk target for `number`, or `None` when no outbound route
    /// allows it. Everything that dials an outside number (units, seats, REFER) asks here.
    pub fn outbound_for(&self, number: &str) -> Option<DialTarget> {
        self.outbound.route_for(number).map(|(_, target)| target)
    }

    /// A number a seat dials.
    pub fn dial_number(&self, number: &str) -> Result<DialTarget, DialError> {
        self.outbound_for(number)
            .ok_or_else(|| DialError::NumberNotAllowed(number.to_string()))
    }

    /// Which of `unit`'s roles its schedule names at local time `at`.
    pub fn scheduled_role(&self, unit: &Unit, at: CivilDateTime) -> Role {
        let calendar = unit
            .schedule
            .calendar()
            .and_then(|name| self.calendars.get(name));
        unit.schedule.role_at(at, calendar)
    }

    /// The contact to call when consulting unit `id` at local time `at`: the one its schedule
    /// names (the first handler when the role is handler).
    pub fn dial_unit(&self, id: &str, at: CivilDateTime) -> Result<DialTarget, DialError> {
        let unit = self
            .unit(id)
            .ok_or_else(|| DialError::UnknownUnit(id.to_string()))?;
        let role = self.scheduled_role(unit, at);
        let contact = unit
            .contacts
            .first(role)
            .ok_or_else(|| DialError::NoContact {
                unit: unit.id.clone(),
                role,
            })?;
        self.dial_contact(contact)
    }

    /// A contact as a target; a number contact goes through the toll-fraud guard like any other.
    pub fn dial_contact(&self, contact: &Contact) -> Result<DialTarget, DialError> {
        match contact {
            Contact::Seat(user) => Ok(DialTarget::Seat(user.clone())),
            Contact::Sip { uri, addr } => Ok(DialTarget::Sip {
                uri: uri.clone(),
                addr: *addr,
            }),
            Contact::Number(number) => self.dial_number(number),
        }
    }

    /// Digits a seat typed after the consult code: a unit id first, then an allowed number.
    pub fn dialled(&self, typed: &str) -> Result<Dialled<'_>, DialError> {
        if let Some(unit) = self.unit(typed) {
            return Ok(Dialled::Unit(unit));
        }
        self.outbound_for(typed)
            .map(Dialled::Number)
            .ok_or_else(|| DialError::Unknown(typed.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::test_support::{compile, UNITS};

    fn at(date: &str, time: &str) -> CivilDateTime {
        CivilDateTime {
            date: date.parse().unwrap(),
            time: time.parse().unwrap(),
        }
    }

    fn trunk_number(target: DialTarget) -> String {
        match target {
            DialTarget::Trunk { number, .. } => number,
            other => panic!("not a trunk target: {other:?}"),
        }
    }

    #[test]
    fn schedule_picks_the_working_role_on_a_working_day() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        let handler = DialTarget::Sip {
            uri: "sip:handler@192.0.2.20:5060".into(),
            addr: "192.0.2.20:5060".parse().unwrap(),
        };
        // Friday 9 October 2026, and the make-up working Saturday after it.
        assert_eq!(
            plan.dial_unit("2001", at("2026-10-09", "09:00")),
            Ok(handler.clone())
        );
        assert_eq!(
            plan.dial_unit("2001", at("2026-10-10", "15:00")),
            Ok(handler)
        );
        let unit = plan.unit("2001").unwrap();
        assert_eq!(
            plan.scheduled_role(unit, at("2026-10-09", "09:00")),
            Role::Handler
        );
    }

    #[test]
    fn schedule_picks_the_duty_line_off_hours_and_on_holidays() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        let unit = plan.unit("2001").unwrap();
        for (date, time) in [
            ("2026-10-01", "10:00"), // National Day, a Thursday
            ("2026-10-05", "10:00"), // Monday inside the holiday
            ("2026-10-09", "12:30"), // lunch break of a working day
            ("2026-10-09", "22:00"), // evening of a working day
            ("2026-10-11", "10:00"), // an ordinary Sunday
        ] {
            assert_eq!(
                plan.scheduled_role(unit, at(date, time)),
                Role::Duty,
                "{date} {time}"
            );
            let target = plan.dial_unit("2001", at(date, time)).unwrap();
            // The duty line 0551-6234 5678 goes out through the local route, area code cut.
            assert_eq!(
                target,
                DialTarget::Trunk {
                    trunk: "carrier".into(),
                    number: "62345678".into(),
                    addr: "192.0.2.1:5060".parse().unwrap(),
                    caller_id: "055112345".into(),
                }
            );
        }
    }

    #[test]
    fn a_unit_without_schedule_is_called_on_its_duty_line_always() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        for when in [at("2026-10-09", "09:00"), at("2026-10-01", "03:00")] {
            assert_eq!(
                plan.dial_unit("3001", when),
                Ok(DialTarget::Seat("1001".into()))
            );
        }
        let unit = plan.unit("3001").unwrap();
        assert_eq!(unit.parent.as_deref(), Some("2001"));
        assert_eq!(unit.level, crate::dialplan::Level::Three);
        assert_eq!(unit.schedule, crate::dialplan::Schedule::Always(Role::Duty));
        assert_eq!((unit.file.to_str(), unit.line), (Some("a.toml"), 28));
        assert_eq!(
            plan.dial_unit("9999", at("2026-10-09", "09:00")),
            Err(DialError::UnknownUnit("9999".into()))
        );
    }

    #[test]
    fn numbers_take_the_longest_prefix_and_are_rewritten() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        let number = |n: &str| plan.dial_number(n).map(trunk_number);
        assert_eq!(
            number("055162345678"),
            Ok("62345678".into()),
            "0551: strip 4"
        );
        assert_eq!(
            number("02112345678"),
            Ok("02112345678".into()),
            "0: as it is"
        );
        assert_eq!(
            number("13800000001"),
            Ok("013800000001".into()),
            "1: prepend 0"
        );
        assert_eq!(plan.outbound_routes().len(), 3);
    }

    #[test]
    fn a_number_without_a_route_is_refused() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        for n in ["999", "+8613800000000", "", "12a", "0551"] {
            assert_eq!(
                plan.dial_number(n),
                Err(DialError::NumberNotAllowed(n.into())),
                "{n:?}"
            );
            assert_eq!(plan.outbound_for(n), None);
        }
        let empty = compile(&[("a.toml", "")]).unwrap();
        assert!(
            empty.outbound_for("0551123").is_none(),
            "no routes, no calls"
        );
    }

    #[test]
    fn typed_digits_are_a_unit_first_then_a_number() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        match plan.dialled("2001") {
            Ok(Dialled::Unit(unit)) => assert_eq!(unit.name, "区住建局"),
            other => panic!("{other:?}"),
        }
        match plan.dialled("02112345678") {
            Ok(Dialled::Number(target)) => assert_eq!(trunk_number(target), "02112345678"),
            other => panic!("{other:?}"),
        }
        assert_eq!(plan.dialled("777"), Err(DialError::Unknown("777".into())));

        // A unit id that an outbound route would also allow: the unit wins.
        let shadowing = UNITS.replace("id = \"3001\"", "id = \"10086\"");
        let plan = compile(&[("a.toml", &shadowing)]).unwrap();
        assert!(
            plan.outbound_for("10086").is_some(),
            "also an allowed number"
        );
        assert!(matches!(plan.dialled("10086"), Ok(Dialled::Unit(u)) if u.id == "10086"));
    }
}
