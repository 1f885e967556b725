//! From dialplan TOML text to routes, outbound routes and units: parse, check every rule, collect
//! every problem.

mod outbound;
mod units;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::outbound::Outbound;
use super::{
    Closed, Dialplan, DialplanError, DialplanProblem, RingTarget, Route, WhenClosed,
    DEFAULT_PRIORITY,
};
use crate::calendar::Calendar;
use crate::checks::RING_TIMEOUT_RANGE;
use crate::toml_spans::TomlMap;
use outbound::{OutboundState, RawOutbound};
use units::{RawUnit, UnitState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    outbound: Vec<RawOutbound>,
    #[serde(default)]
    units: Vec<RawUnit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    number: String,
    #[serde(default)]
    description: Option<String>,
    /// Kept as a raw value so that a wrong shape gets a message about seats, not about serde.
    #[serde(default)]
    ring: Option<toml::Value>,
    #[serde(default)]
    ring_timeout_secs: Option<u32>,
    /// A queue instead of `ring`: callers are answered, greeted and queued.
    #[serde(default)]
    queue: Option<String>,
    /// Priority class in the queue; 0 is served first (an emergency line).
    #[serde(default)]
    priority: Option<u8>,
    /// Route by time: outside this calendar's working time, `closed` applies.
    #[serde(default)]
    calendar: Option<String>,
    #[serde(default)]
    closed: Option<RawClosed>,
    /// A `[handoffs]` category every call of this queue route has from the seat's answer.
    #[serde(default)]
    handoff: Option<String>,
    /// Whether the route's calls are recorded (`[recording]`); unset: as its queue says.
    #[serde(default)]
    record: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawClosed {
    Queue(String),
    Prompt(String),
}

/// What the rest of the settings define that a dialplan may name: seats, queues, calendars and
/// trunks (with their outbound address, None for inbound only), and the default ring timeout.
#[derive(Debug, Clone, Default)]
pub struct Known<'a> {
    pub seats: Vec<&'a str>,
    pub queues: Vec<&'a str>,
    pub calendars: &'a [Calendar],
    pub trunks: Vec<(&'a str, Option<SocketAddr>)>,
    pub default_ring_timeout: u32,
    /// The `[handoffs]` category names a route may give its calls.
    pub handoff_categories: Vec<&'a str>,
}

impl Dialplan {
    /// Reads `files` (paths as the process should open them) and compiles them together.
    pub fn load(files: &[PathBuf], known: &Known<'_>) -> Result<Dialplan, DialplanError> {
        compile_all(
            files
                .iter()
                .map(|file| (file.clone(), std::fs::read_to_string(file))),
            known,
        )
    }

    /// Compiles dialplan texts already in memory, in order; `(file, text)` names each for problems.
    pub fn compile(
        sources: &[(PathBuf, String)],
        known: &Known<'_>,
    ) -> Result<Dialplan, DialplanError> {
        compile_all(
            sources
                .iter()
                .map(|(file, text)| (file.clone(), Ok(text.clone()))),
            known,
        )
    }
}

/// Problems come out in file order, an unreadable file's among the others.
fn compile_all<'a>(
    sources: impl Iterator<Item = (PathBuf, std::io::Result<String>)>,
    known: &Known<'a>,
) -> Result<Dialplan, DialplanError> {
    let mut compiler = Compiler {
        seats: known.seats.iter().copied().collect(),
        queues: known.queues.iter().copied().collect(),
        handoff_categories: known.handoff_categories.iter().copied().collect(),
        calendars: known.calendars.iter().map(|c| c.name.as_str()).collect(),
        default_ring_timeout: known.default_ring_timeout,
        defined: HashMap::new(),
        routes: Vec::new(),
        outbound: OutboundState {
            trunks: known.trunks.iter().copied().collect(),
            ..OutboundState::default()
        },
        units: UnitState::default(),
        pending: Vec::new(),
        files: Vec::new(),
        problems: Vec::new(),
    };
    for (file, text) in sources {
        compiler.files.push(file.clone());
        match text {
            Ok(text) => compiler.file(&file, &text),
            Err(e) => compiler.problems.push(DialplanProblem {
                file,
                line: None,
                column: None,
                key: String::new(),
                reason: format!("cannot read: {e}"),
            }),
        }
    }
    compiler.units_pass();
    compiler.check_parents();
    if compiler.problems.is_empty() {
        // Only the calendars units name, so a unit's schedule can always find its own.
        let calendars = known
            .calendars
            .iter()
            .filter(|c| {
                compiler
                    .units
                    .units
                    .iter()
                    .any(|u| u.schedule.calendar() == Some(c.name.as_str()))
            })
            .map(|c| (c.name.clone(), c.clone()))
            .collect();
        Ok(Dialplan::new(
            compiler.routes,
            compiler.units.units,
            compiler.outbound.routes,
            calendars,
        ))
    } else {
        let mut problems = compiler.problems;
        // The unit pass runs after every file is read (a number contact may use an outbound
        // route of a later file); sorting puts each problem back with its file and line.
        let order = |file: &PathBuf| compiler.files.iter().position(|f| f == file);
        problems.sort_by_key(|p| (order(&p.file), p.line));
        Err(DialplanError { problems })
    }
}

struct Compiler<'a> {
    queues: HashSet<&'a str>,
    handoff_categories: HashSet<&'a str>,
    calendars: HashSet<&'a str>,
    seats: HashSet<&'a str>,
    default_ring_timeout: u32,
    /// Where each number was first defined, to point a duplicate at its original.
    defined: HashMap<String, (PathBuf, usize)>,
    routes: Vec<Route>,
    outbound: OutboundState<'a>,
    units: UnitState,
    /// Units are checked once every file's outbound routes are known.
    pending: Vec<PendingUnits>,
    /// In the order given, to sort problems by.
    files: Vec<PathBuf>,
    problems: Vec<DialplanProblem>,
}

/// A file's `[[units]]`, waiting for the unit pass with the file's line map.
struct PendingUnits {
    file: PathBuf,
    map: TomlMap,
    units: Vec<RawUnit>,
}

/// One file being compiled: its line map and the problems it adds.
struct FileCx<'c, 'a> {
    compiler: &'c mut Compiler<'a>,
    file: &'c Path,
    map: TomlMap,
}

impl FileCx<'_, '_> {
    fn problem(&mut self, key: String, reason: impl Into<String>) {
        let line = self.map.line_of(&key);
        self.compiler.problems.push(DialplanProblem {
            file: self.file.to_path_buf(),
            line,
            column: None,
            key,
            reason: reason.into(),
        });
    }
}

impl<'a> Compiler<'a> {
    fn file(&mut self, file: &Path, text: &str) {
        let map = TomlMap::new(text);
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let site = map.site(e.span());
                self.problems.push(DialplanProblem {
                    file: file.to_path_buf(),
                    line: site.line,
                    column: site.column,
                    key: site.key,
                    reason: e.message().trim().to_string(),
                });
                return;
            }
        };
        let mut cx = FileCx {
            compiler: self,
            file,
            map,
        };
        for (i, route) in raw.routes.into_iter().enumerate() {
            if let Some(route) = cx.route(i, route) {
                cx.compiler.routes.push(route);
            }
        }
        for (i, route) in raw.outbound.into_iter().enumerate() {
            if let Some(route) = cx.outbound(i, route) {
                cx.compiler.outbound.routes.push(route);
            }
        }
        let FileCx { map, .. } = cx;
        self.pending.push(PendingUnits {
            file: file.to_path_buf(),
            map,
            units: raw.units,
        });
    }

    fn units_pass(&mut self) {
        let allowed = Outbound::new(self.outbound.routes.clone());
        for pending in std::mem::take(&mut self.pending) {
            let mut cx = FileCx {
                compiler: self,
                file: &pending.file,
                map: pending.map,
            };
            for (i, unit) in pending.units.into_iter().enumerate() {
                cx.unit(i, unit, &allowed);
            }
        }
    }
}

impl FileCx<'_, '_> {
    fn route(&mut self, i: usize, raw: RawRoute) -> Option<Route> {
        let at = |field: &str| format!("routes[{i}].{field}");
        let line = self.map.line_of(&format!("routes[{i}]")).unwrap_or(0);
        let number_ok = self.check_number(&raw.number, at("number"), line);
        let target = match (&raw.ring, &raw.queue) {
            (Some(ring), None) => self.target(ring, &at("ring")),
            (None, Some(queue)) => self.queue_target(
                queue,
                raw.priority.unwrap_or(DEFAULT_PRIORITY),
                &at("queue"),
            ),
            (Some(_), Some(_)) => {
                self.problem(
                    format!("routes[{i}]"),
                    "route has both `ring` and `queue`; keep one",
                );
                None
            }
            (None, None) => {
                self.problem(format!("routes[{i}]"), "route needs `ring` or `queue`");
                None
            }
        };
        if raw.priority.is_some() && raw.queue.is_none() {
            self.problem(at("priority"), "only a `queue` route has a priority");
        }
        let when_closed = self.when_closed(&raw, &at);
        let handoff_ok = match &raw.handoff {
            Some(_) if raw.queue.is_none() => {
                self.problem(
                    at("handoff"),
                    "only a `queue` route marks its calls with a hand-off category",
                );
                false
            }
            Some(name) if !self.compiler.handoff_categories.contains(name.as_str()) => {
                self.problem(
                    at("handoff"),
                    format!("no hand-off category named {name:?} in [handoffs]"),
                );
                false
            }
            _ => true,
        };
        let secs = raw
            .ring_timeout_secs
            .unwrap_or(self.compiler.default_ring_timeout);
        let timeout_ok = RING_TIMEOUT_RANGE.contains(&secs);
        if !timeout_ok {
            // A bad sip.ring_timeout_secs is reported by the settings check, not once per route.
            if raw.ring_timeout_secs.is_some() {
                self.problem(
                    at("ring_timeout_secs"),
                    format!(
                        "{secs} is outside {}..={}",
                        RING_TIMEOUT_RANGE.start(),
                        RING_TIMEOUT_RANGE.end()
                    ),
                );
            }
        }
        let target = target?;
        let when_closed = when_closed?;
        (number_ok && timeout_ok && handoff_ok).then(|| Route {
            number: raw.number,
            handoff: raw.handoff,
            record: raw.record,
            description: raw.description,
            target,
            ring_timeout: Duration::from_secs(u64::from(secs)),
            when_closed,
            file: self.file.to_path_buf(),
            line,
        })
    }

    fn queue_target(&mut self, queue: &str, priority: u8, key: &str) -> Option<RingTarget> {
        if !self.compiler.queues.contains(queue) {
            self.problem(
                key.to_string(),
                format!("no queue named {queue:?} in [[queues]]"),
            );
            return None;
        }
        Some(RingTarget::Queue {
            name: queue.to_string(),
            priority,
        })
    }

    /// `Some(None)` for a route open all the time, `None` when the calendar part is broken.
    fn when_closed(
        &mut self,
        raw: &RawRoute,
        at: &dyn Fn(&str) -> String,
    ) -> Option<Option<WhenClosed>> {
        match (&raw.calendar, &raw.closed) {
            (None, None) => Some(None),
            (Some(_), None) => {
                self.problem(
                    at("closed"),
                    "a route with a `calendar` needs `closed` (a queue or a prompt)",
                );
                None
            }
            (None, Some(_)) => {
                self.problem(
                    at("calendar"),
                    "`closed` needs the `calendar` that says when",
                );
                None
            }
            (Some(calendar), Some(closed)) => {
                let mut ok = true;
                if !self.compiler.calendars.contains(calendar.as_str()) {
                    self.problem(
                        at("calendar"),
                        format!("no calendar named {calendar:?} in [[calendars]]"),
                    );
                    ok = false;
                }
                let closed = match closed {
                    RawClosed::Queue(q) => {
                        match self.queue_target(q, DEFAULT_PRIORITY, &at("closed.queue")) {
                            Some(RingTarget::Queue { name, priority }) => {
                                Closed::Queue { name, priority }
                            }
                            _ => return None,
                        }
                    }
                    RawClosed::Prompt(p)
                        if crate::media::prompts::REQUIRED.contains(&p.as_str()) =>
                    {
                        Closed::Prompt(p.clone())
                    }
                    RawClosed::Prompt(p) => {
                        self.problem(
                            at("closed.prompt"),
                            format!("{p:?} is not one of the daemon's prompts"),
                        );
                        return None;
                    }
                };
                ok.then_some(Some(WhenClosed {
                    calendar: calendar.clone(),
                    closed,
                }))
            }
        }
    }

    fn check_number(&mut self, number: &str, key: String, line: usize) -> bool {
        if number.is_empty() {
            self.problem(key, "must not be empty");
            return false;
        }
        if let Some(bad) = number
            .chars()
            .find(|c| !(c.is_ascii_digit() || "+*#".contains(*c)))
        {
            self.problem(
                key,
                format!("{bad:?} is not allowed; a number is digits, `+`, `*` and `#`"),
            );
            return false;
        }
        if let Some((file, first)) = self.compiler.defined.get(number) {
            let reason = format!(
                "number {number} is already routed at {}:{first}",
                file.display()
            );
            self.problem(key, reason);
            return false;
        }
        self.compiler
            .defined
            .insert(number.to_string(), (self.file.to_path_buf(), line));
        true
    }

    fn target(&mut self, ring: &toml::Value, key: &str) -> Option<RingTarget> {
        match ring {
            toml::Value::String(word) if word == "all" => Some(RingTarget::AllSeats),
            toml::Value::String(word) => {
                self.problem(
                    key.to_string(),
                    format!("{word:?} is not \"all\"; to ring one seat write [{word:?}]"),
                );
                None
            }
            toml::Value::Array(users) if users.is_empty() => {
                self.problem(
                    key.to_string(),
                    "empty list rings nobody; list seat users or write \"all\"",
                );
                None
            }
            toml::Value::Array(users) => self.seats(users, key),
            other => {
                self.problem(
                    key.to_string(),
                    format!(
                        "must be \"all\" or a list of seat users, not a {}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    fn seats(&mut self, users: &[toml::Value], key: &str) -> Option<RingTarget> {
        let mut seats = Vec::with_capacity(users.len());
        let mut ok = true;
        for (j, user) in users.iter().enumerate() {
            let key = format!("{key}[{j}]");
            match user.as_str() {
                Some(user) if seats.iter().any(|s| s == user) => {
                    self.problem(key, format!("seat {user:?} is listed twice"));
                    ok = false;
                }
                Some(user) if self.compiler.seats.contains(user) => seats.push(user.to_string()),
                Some(user) => {
                    self.problem(key, format!("no seat {user:?} in the settings' [[seats]]"));
                    ok = false;
                }
                None => {
                    self.problem(
                        key,
                        format!("a seat user is a string, not a {}", user.type_str()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(RingTarget::Seats(seats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seats 1001 and 1002, no queue, calendar or trunk; routes ring 25 s by default.
    fn known() -> Known<'static> {
        Known {
            seats: vec!["1001", "1002"],
            default_ring_timeout: 25,
            ..Known::default()
        }
    }

    fn compile(files: &[(&str, &str)]) -> Result<Dialplan, DialplanError> {
        let sources: Vec<_> = files
            .iter()
            .map(|(name, text)| (PathBuf::from(name), text.to_string()))
            .collect();
        Dialplan::compile(&sources, &known())
    }

    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        compile(files)
            .unwrap_err()
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn routes_compile_with_defaults() {
        let plan = compile(&[(
            "a.toml",
            r#"
[[routes]]
number = "12345"
description = "hotline"
ring = "all"

[[routes]]
number = "*12#"
ring = ["1002", "1001"]
ring_timeout_secs = 10
"#,
        )])
        .unwrap();
        let route = plan.route("12345").unwrap();
        assert_eq!(route.target, RingTarget::AllSeats);
        assert_eq!(route.ring_timeout, Duration::from_secs(25));
        assert_eq!(route.description.as_deref(), Some("hotline"));
        assert_eq!((route.file.to_str(), route.line), (Some("a.toml"), 2));
        let route = plan.route("*12#").unwrap();
        assert_eq!(
            route.target,
            RingTarget::Seats(vec!["1002".into(), "1001".into()])
        );
        assert_eq!(route.ring_timeout, Duration::from_secs(10));
        assert_eq!(route.line, 7);
        assert!(plan.route("999").is_none());
        assert_eq!(plan.routes().len(), 2);
    }

    #[test]
    fn a_queue_route_may_mark_its_calls_with_a_known_handoff_category() {
        let known = Known {
            seats: vec!["1001"],
            queues: vec!["q"],
            default_ring_timeout: 25,
            handoff_categories: vec!["major"],
            ..Known::default()
        };
        let text = r#"
[[routes]]
number = "12349"
queue = "q"
handoff = "major"

[[routes]]
number = "12348"
queue = "q"
handoff = "minor"

[[routes]]
number = "12346"
ring = ["1001"]
handoff = "major"
"#;
        let sources = [(PathBuf::from("a.toml"), text.to_string())];
        let problems: Vec<String> = Dialplan::compile(&sources, &known)
            .unwrap_err()
            .problems
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("routes[1].handoff")
                && problems[0].contains("no hand-off category named \"minor\""),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("routes[2].handoff") && problems[1].contains("only a `queue`"),
            "{problems:?}"
        );
        let good = [(
            PathBuf::from("a.toml"),
            text[..text.find("[[routes]]\nnumber = \"12348\"").unwrap_or(0)].to_string(),
        )];
        let plan = Dialplan::compile(&good, &known).expect("compiles");
        assert_eq!(
            plan.route("12349").and_then(|r| r.handoff.as_deref()),
            Some("major")
        );
    }

    #[test]
    fn every_problem_across_files_is_reported() {
        let a = r#"
[[routes]]
number = "12345"
ring = "all"

[[routes]]
number = "12 34"
ring = "1001"
"#;
        let b = r#"
[[routes]]
number = "12345"
ring = ["1001", "1009", "1001"]

[[routes]]
number = "777"
ring = []
ring_timeout_secs = 0

[[routes]]
number = "778"
"#;
        assert_eq!(
            problems(&[("a.toml", a), ("b.toml", b)]),
            [
                "a.toml:7: routes[1].number: ' ' is not allowed; a number is digits, `+`, `*` and `#`",
                "a.toml:8: routes[1].ring: \"1001\" is not \"all\"; to ring one seat write [\"1001\"]",
                "b.toml:3: routes[0].number: number 12345 is already routed at a.toml:2",
                "b.toml:4: routes[0].ring[1]: no seat \"1009\" in the settings' [[seats]]",
                "b.toml:4: routes[0].ring[2]: seat \"1001\" is listed twice",
                "b.toml:8: routes[1].ring: empty list rings nobody; list seat users or write \"all\"",
                "b.toml:9: routes[1].ring_timeout_secs: 0 is outside 1..=300",
                "b.toml:11: routes[2]: route needs `ring` or `queue`",
            ]
        );
    }

    #[test]
    fn unknown_key_and_wrong_type_name_line_and_path() {
        let a = "[[routes]]\nnumber = \"1\"\nring = \"all\"\nqueu = \"main\"\n";
        let b = "[[routes]]\nnumber = 12345\nring = \"all\"\n";
        let c = "[[routes]\n";
        let got = problems(&[("a.toml", a), ("b.toml", b), ("c.toml", c)]);
        assert!(
            got[0].starts_with("a.toml:4:1: routes[0].queu: unknown field `queu`"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("b.toml:2:10: routes[0].number: invalid type: integer"),
            "{got:?}"
        );
        assert!(got[2].starts_with("c.toml:1:"), "{got:?}");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn unreadable_file_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let err = Dialplan::load(std::slice::from_ref(&missing), &known()).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].file, missing);
        assert!(err.problems[0].reason.starts_with("cannot read"));
    }
}
