//! Checking `[[units]]` entries: ids, levels, contacts and schedules one unit at a time, then the
//! parent links across all units of all files.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Compiler, FileCx};
use crate::dialplan::contact::Contact;
use crate::dialplan::outbound::Outbound;
use crate::dialplan::units::{Contacts, Level, Role, Schedule, Unit};
use crate::dialplan::{DialplanProblem, HuntOverrides};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUnit {
    id: String,
    name: String,
    level: i64,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    contacts: RawContacts,
    #[serde(default)]
    calendar: Option<String>,
    #[serde(default)]
    working: Option<String>,
    #[serde(default)]
    off_hours: Option<String>,
    /// How the unit's contacts are hunted; the defaults when absent.
    #[serde(default)]
    hunt: Option<RawHunt>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHunt {
    #[serde(default)]
    ring_timeout_secs: Option<u32>,
    #[serde(default)]
    attempts: Option<u32>,
    #[serde(default)]
    pause_secs: Option<u32>,
    /// Role names in turn: "handler", "head", "duty".
    #[serde(default)]
    order: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContacts {
    #[serde(default)]
    handlers: Vec<String>,
    #[serde(default)]
    head: Option<String>,
    #[serde(default)]
    duty: Option<String>,
}

/// A unit's place in the hierarchy, kept even when the rest of it is broken, so that parent
/// links are checked for every unit.
#[derive(Debug)]
struct Link {
    id: String,
    level: Option<Level>,
    parent: Option<String>,
    file: PathBuf,
    /// Line and key path of `parent`, where its problems point.
    line: Option<usize>,
    key: String,
}

#[derive(Debug, Default)]
pub(super) struct UnitState {
    /// Where each id was first defined, to point a duplicate at its original.
    defined: HashMap<String, (PathBuf, usize)>,
    links: Vec<Link>,
    pub units: Vec<Unit>,
}

impl FileCx<'_, '_> {
    /// Needs every outbound route of every file, in `allowed`, to check number contacts.
    pub(super) fn unit(&mut self, i: usize, raw: RawUnit, allowed: &Outbound) {
        let at = |field: &str| format!("units[{i}].{field}");
        let line = self.map.line_of(&format!("units[{i}]")).unwrap_or(0);
        let mut ok = self.unit_id(&raw.id, at("id"), line);
        if raw.name.trim().is_empty() {
            self.problem(at("name"), "must not be empty");
            ok = false;
        }
        let level = Level::from_number(raw.level);
        if level.is_none() {
            self.problem(
                at("level"),
                format!("{} is not a unit level; write 2, 3 or 4", raw.level),
            );
        }
        if ok {
            self.compiler.units.links.push(Link {
                id: raw.id.clone(),
                level,
                parent: raw.parent.clone(),
                file: self.file.to_path_buf(),
                line: self.map.line_of(&at("parent")),
                key: at("parent"),
            });
        }
        let (contacts, contacts_ok, broken) =
            self.contacts(&raw.contacts, &at("contacts"), allowed);
        let schedule = self.schedule(&raw, &at);
        let schedule_ok = schedule.is_some();
        let schedule = schedule.unwrap_or_default();
        // A broken schedule or contact is reported already; a missing one only for the roles
        // a working schedule can name.
        let needed = if schedule_ok {
            schedule.roles()
        } else {
            Vec::new()
        };
        for role in needed {
            if contacts.first(role).is_none() && !broken.contains(&role) {
                let when = match &schedule {
                    Schedule::Always(_) => "at all times".to_string(),
                    Schedule::ByCalendar { working, .. } if *working == role => {
                        "in working hours".to_string()
                    }
                    Schedule::ByCalendar { .. } => "off hours and on holidays".to_string(),
                };
                self.problem(
                    at(role_key(role)),
                    format!("the unit's schedule calls the {role} {when}, but it has none"),
                );
                ok = false;
            }
        }
        let hunting = self.hunting(raw.hunt.as_ref(), &at);
        if ok && contacts_ok && schedule_ok {
            if let (Some(level), Some(hunting)) = (level, hunting) {
                self.compiler.units.units.push(Unit {
                    id: raw.id,
                    name: raw.name,
                    level,
                    parent: raw.parent,
                    contacts,
                    schedule,
                    hunting,
                    file: self.file.to_path_buf(),
                    line,
                });
            }
        }
    }

    /// The unit's hunt, each value checked against its range; None after a problem.
    fn hunting(
        &mut self,
        raw: Option<&RawHunt>,
        at: &dyn Fn(&str) -> String,
    ) -> Option<HuntOverrides> {
        use crate::dialplan::hunt::{HUNT_ATTEMPTS, HUNT_PAUSE_SECS, HUNT_RING_SECS};
        let mut hunting = HuntOverrides::default();
        let Some(raw) = raw else {
            return Some(hunting);
        };
        let mut ok = true;
        let mut check = |value: Option<u32>,
                         range: std::ops::RangeInclusive<u32>,
                         key: &str,
                         cx: &mut Self|
         -> Option<u32> {
            let v = value?;
            if range.contains(&v) {
                Some(v)
            } else {
                cx.problem(
                    at(&format!("hunt.{key}")),
                    format!("{v} is outside {}..={}", range.start(), range.end()),
                );
                ok = false;
                None
            }
        };
        if let Some(v) = check(
            raw.ring_timeout_secs,
            HUNT_RING_SECS,
            "ring_timeout_secs",
            self,
        ) {
            hunting.ring_timeout = Some(std::time::Duration::from_secs(v.into()));
        }
        if let Some(v) = check(raw.attempts, HUNT_ATTEMPTS, "attempts", self) {
            hunting.attempts = Some(v);
        }
        if let Some(v) = check(raw.pause_secs, HUNT_PAUSE_SECS, "pause_secs", self) {
            hunting.pause = Some(std::time::Duration::from_secs(v.into()));
        }
        if let Some(names) = &raw.order {
            let mut roles = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match Role::from_name(name) {
                    Some(role) if !roles.contains(&role) => roles.push(role),
                    Some(_) => {
                        self.problem(
                            at(&format!("hunt.order[{i}]")),
                            format!("{name:?} is listed twice"),
                        );
                        ok = false;
                    }
                    None => {
                        self.problem(
                            at(&format!("hunt.order[{i}]")),
                            format!(
                                "{name:?} is not a role; write \"handler\", \"head\" or \"duty\""
                            ),
                        );
                        ok = false;
                    }
                }
            }
            if names.is_empty() {
                self.problem(at("hunt.order"), "must name at least one role");
                ok = false;
            }
            hunting.order = Some(roles);
        }
        ok.then_some(hunting)
    }

    fn unit_id(&mut self, id: &str, key: String, line: usize) -> bool {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            self.problem(
                key,
                format!(
                    "{id:?} is not a unit id; a unit id is digits, typed after the consult code"
                ),
            );
            return false;
        }
        if let Some((file, first)) = self.compiler.units.defined.get(id) {
            let reason = format!("unit {id} is already defined at {}:{first}", file.display());
            self.problem(key, reason);
            return false;
        }
        self.compiler
            .units
            .defined
            .insert(id.to_string(), (self.file.to_path_buf(), line));
        true
    }

    /// The contacts that parsed, whether all did, and the roles whose contact is broken (already
    /// reported, so not reported again as missing).
    fn contacts(
        &mut self,
        raw: &RawContacts,
        key: &str,
        allowed: &Outbound,
    ) -> (Contacts, bool, Vec<Role>) {
        let mut contacts = Contacts::default();
        let mut broken = Vec::new();
        for (j, text) in raw.handlers.iter().enumerate() {
            match self.contact(text, format!("{key}.handlers[{j}]"), allowed) {
                Some(c) => contacts.handlers.push(c),
                None => broken.push(Role::Handler),
            }
        }
        if let Some(text) = &raw.head {
            match self.contact(text, format!("{key}.head"), allowed) {
                Some(c) => contacts.head = Some(c),
                None => broken.push(Role::Head),
            }
        }
        if let Some(text) = &raw.duty {
            match self.contact(text, format!("{key}.duty"), allowed) {
                Some(c) => contacts.duty = Some(c),
                None => broken.push(Role::Duty),
            }
        }
        let ok = broken.is_empty();
        (contacts, ok, broken)
    }

    fn contact(&mut self, text: &str, key: String, allowed: &Outbound) -> Option<Contact> {
        let contact = match Contact::parse(text) {
            Ok(contact) => contact,
            Err(e) => {
                self.problem(key, e.to_string());
                return None;
            }
        };
        match &contact {
            Contact::Seat(user) if !self.compiler.seats.contains(user.as_str()) => {
                self.problem(key, format!("no seat {user:?} in the settings' [[seats]]"));
                None
            }
            Contact::Number(number) if allowed.route_for(number).is_none() => {
                let hint = if self.compiler.seats.contains(number.as_str()) {
                    format!(" (to call seat {number}, write \"seat:{number}\")")
                } else {
                    String::new()
                };
                self.problem(
                    key,
                    format!("no [[outbound]] route allows number {number}{hint}"),
                );
                None
            }
            _ => Some(contact),
        }
    }

    /// `None` when the schedule is broken (already reported).
    fn schedule(&mut self, raw: &RawUnit, at: &dyn Fn(&str) -> String) -> Option<Schedule> {
        let mut ok = true;
        let mut role = |cx: &mut Self, field: &str, name: &Option<String>| match name {
            None => Some(Role::Duty),
            Some(name) => Role::from_name(name).or_else(|| {
                cx.problem(
                    at(field),
                    format!("{name:?} is not a role; write handler, head or duty"),
                );
                ok = false;
                None
            }),
        };
        let working = role(self, "working", &raw.working);
        let off_hours = role(self, "off_hours", &raw.off_hours);
        let Some(calendar) = &raw.calendar else {
            for (field, value) in [("working", &raw.working), ("off_hours", &raw.off_hours)] {
                if value.is_some() {
                    self.problem(
                        at(field),
                        format!("`{field}` needs the `calendar` that says when"),
                    );
                    ok = false;
                }
            }
            return ok.then_some(Schedule::Always(Role::Duty));
        };
        if !self.compiler.calendars.contains(calendar.as_str()) {
            self.problem(
                at("calendar"),
                format!("no calendar named {calendar:?} in [[calendars]]"),
            );
            ok = false;
        }
        if raw.working.is_none() && raw.off_hours.is_none() {
            self.problem(
                at("calendar"),
                "a `calendar` without `working` or `off_hours` changes nothing; name the roles",
            );
            ok = false;
        }
        match (ok, working, off_hours) {
            (true, Some(working), Some(off_hours)) => Some(Schedule::ByCalendar {
                calendar: calendar.clone(),
                working,
                off_hours,
            }),
            _ => None,
        }
    }
}

/// The key a missing contact of `role` would be written at.
fn role_key(role: Role) -> &'static str {
    match role {
        Role::Handler => "contacts.handlers",
        Role::Head => "contacts.head",
        Role::Duty => "contacts.duty",
    }
}

impl Compiler<'_> {
    /// Parent links across every unit of every file: the parent exists, is not the unit itself
    /// or a descendant, and sits at a lower level.
    pub(super) fn check_parents(&mut self) {
        let links = &self.units.links;
        let index: HashMap<&str, usize> = links
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.as_str(), i))
            .collect();
        let mut problems = Vec::new();
        for (i, link) in links.iter().enumerate() {
            let Some(parent) = &link.parent else { continue };
            let problem = |reason: String| DialplanProblem {
                file: link.file.clone(),
                line: link.line,
                column: None,
                key: link.key.clone(),
                reason,
            };
            let Some(&p) = index.get(parent.as_str()) else {
                problems.push(problem(format!("no unit {parent:?} in the dialplan")));
                continue;
            };
            if let Some(cycle) = cycle_from(links, &index, i) {
                // Reported once, at the cycle's first unit in file order.
                if cycle.iter().all(|&j| j >= i) {
                    let ids: Vec<&str> = cycle.iter().map(|&j| links[j].id.as_str()).collect();
                    problems.push(problem(format!(
                        "parent cycle: {} -> {}",
                        ids.join(" -> "),
                        link.id
                    )));
                }
                continue;
            }
            if let (Some(level), Some(parent_level)) = (link.level, links[p].level) {
                if parent_level >= level {
                    problems.push(problem(format!(
                        "parent {parent} is level {}, not above this unit's level {}",
                        parent_level.number(),
                        level.number()
                    )));
                }
            }
        }
        self.problems.extend(problems);
    }
}

/// The units on the cycle through `start`, beginning with it, if following parents from it
/// comes back to it.
fn cycle_from(links: &[Link], index: &HashMap<&str, usize>, start: usize) -> Option<Vec<usize>> {
    let mut path = vec![start];
    let mut at = start;
    // A walk longer than the number of units has looped, through `start` or elsewhere.
    for _ in 0..links.len() {
        let next = *index.get(links[at].parent.as_deref()?)?;
        if next == start {
            return Some(path);
        }
        path.push(next);
        at = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::dialplan::test_support::{compile, problems, UNITS};
    use crate::dialplan::{Contact, Role, Schedule};

    #[test]
    fn units_compile_with_contacts_and_schedule() {
        let plan = compile(&[("a.toml", UNITS)]).unwrap();
        let unit = plan.unit("2001").unwrap();
        assert_eq!(unit.name, "区住建局");
        assert_eq!(unit.parent, None);
        assert_eq!(unit.contacts.handlers.len(), 2);
        assert_eq!(unit.contacts.handlers[1], Contact::Seat("1002".into()));
        assert_eq!(
            unit.contacts.duty,
            Some(Contact::Number("055162345678".into()))
        );
        assert_eq!(
            unit.schedule,
            Schedule::ByCalendar {
                calendar: "office".into(),
                working: Role::Handler,
                off_hours: Role::Duty,
            }
        );
        assert_eq!(plan.units().len(), 2);
    }

    #[test]
    fn a_units_hunt_is_checked_value_by_value() {
        let unit = |hunt: &str| {
            format!(
                "[[units]]\nid = \"2001\"\nname = \"x\"\nlevel = 2\n\
                 contacts = {{ duty = \"sip:d@192.0.2.9\", head = \"sip:h@192.0.2.9\" }}\n\
                 hunt = {{ {hunt} }}\n"
            )
        };
        let good = unit(
            "ring_timeout_secs = 10, attempts = 2, pause_secs = 0, order = [\"head\", \"duty\"]",
        );
        let plan = compile(&[("a.toml", good.as_str())]).unwrap();
        let hunting = &plan.unit("2001").unwrap().hunting;
        assert_eq!(hunting.attempts, Some(2));
        assert_eq!(hunting.order, Some(vec![Role::Head, Role::Duty]));
        let bad = unit("attempts = 0, order = [\"boss\", \"duty\", \"duty\"]");
        let found = problems(&[("a.toml", bad.as_str())]);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("units[0].hunt.attempts"), "{found:?}");
        assert!(
            found[1].contains("hunt.order[0]") && found[1].contains("\"boss\""),
            "{found:?}"
        );
        assert!(
            found[2].contains("hunt.order[2]") && found[2].contains("twice"),
            "{found:?}"
        );
    }

    #[test]
    fn a_number_contact_may_use_a_route_of_a_later_file() {
        let units = "[[units]]\nid = \"2001\"\nname = \"x\"\nlevel = 2\ncontacts = { duty = \"0551123\" }\n";
        let routes = "[[outbound]]\nprefix = \"0\"\ntrunk = \"carrier\"\ncaller_id = \"12345\"\n";
        assert!(compile(&[("a.toml", units), ("b.toml", routes)]).is_ok());
        assert_eq!(
            problems(&[("a.toml", units)]),
            ["a.toml:5: units[0].contacts.duty: no [[outbound]] route allows number 0551123"]
        );
    }

    #[test]
    fn every_unit_problem_is_reported_with_file_and_line() {
        let a = r#"
[[outbound]]
prefix = "0"
trunk = "carrier"
caller_id = "12345"

[[units]]
id = "2001"
name = "bureau"
level = 2
contacts = { duty = "0551123" }

[[units]]
id = "20a"
name = " "
level = 5
contacts = { duty = "seat:1009", head = "sip:head@pbx.example.org", handlers = ["1001", "tel:1"] }
"#;
        let b = r#"
[[units]]
id = "2001"
name = "again"
level = 2
contacts = { duty = "0551" }

[[units]]
id = "3001"
name = "street"
level = 3
parent = "2999"
contacts = { duty = "0551" }

[[units]]
id = "3002"
name = "cycle a"
level = 3
parent = "3003"
contacts = { duty = "0551" }

[[units]]
id = "3003"
name = "cycle b"
level = 3
parent = "3002"
contacts = { duty = "0551" }

[[units]]
id = "2002"
name = "upside down"
level = 2
parent = "3001"
calendar = "holidays"
working = "boss"
contacts = { duty = "0551" }

[[units]]
id = "2003"
name = "no handler"
level = 2
calendar = "office"
working = "handler"
contacts = { duty = "0551" }

[[units]]
id = "2004"
name = "roles without calendar"
level = 2
off_hours = "head"
contacts = { head = "0551" }

[[units]]
id = "2005"
name = "no contacts"
level = 2
"#;
        assert_eq!(
            problems(&[("a.toml", a), ("b.toml", b)]),
            [
                "a.toml:14: units[1].id: \"20a\" is not a unit id; a unit id is digits, typed after the consult code",
                "a.toml:15: units[1].name: must not be empty",
                "a.toml:16: units[1].level: 5 is not a unit level; write 2, 3 or 4",
                "a.toml:17: units[1].contacts.handlers[0]: no [[outbound]] route allows number 1001 (to call seat 1001, write \"seat:1001\")",
                "a.toml:17: units[1].contacts.handlers[1]: \"tel:1\" is neither seat:<user>, a sip: URI nor a phone number (digits, optional leading +)",
                "a.toml:17: units[1].contacts.head: host \"pbx.example.org\" is not an IP address; contacts are dialled without DNS",
                "a.toml:17: units[1].contacts.duty: no seat \"1009\" in the settings' [[seats]]",
                "b.toml:3: units[0].id: unit 2001 is already defined at a.toml:7",
                "b.toml:12: units[1].parent: no unit \"2999\" in the dialplan",
                "b.toml:19: units[2].parent: parent cycle: 3002 -> 3003 -> 3002",
                "b.toml:33: units[4].parent: parent 3001 is level 3, not above this unit's level 2",
                "b.toml:34: units[4].calendar: no calendar named \"holidays\" in [[calendars]]",
                "b.toml:35: units[4].working: \"boss\" is not a role; write handler, head or duty",
                "b.toml:44: units[5].contacts.handlers: the unit's schedule calls the handler in working hours, but it has none",
                "b.toml:50: units[6].off_hours: `off_hours` needs the `calendar` that says when",
                "b.toml:53: units[7].contacts.duty: the unit's schedule calls the duty at all times, but it has none",
            ]
        );
    }

    #[test]
    fn unknown_keys_in_units_are_refused_with_their_line() {
        let a = "[[units]]\nid = \"2001\"\nname = \"x\"\nlevel = 2\ncontacts = { duty = \"seat:1001\", dutty = \"x\" }\n";
        let got = problems(&[("a.toml", a)]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("a.toml:5:") && got[0].contains("unknown field `dutty`"),
            "{got:?}"
        );
    }
}
