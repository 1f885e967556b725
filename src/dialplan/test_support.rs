//! Settings and compiling helpers shared by the dialplan tests.

use std::path::PathBuf;

use super::{Dialplan, DialplanError, Known};
use crate::calendar::Calendar;

/// Seats 1001 and 1002; a trunk "carrier" that places calls and one "inbound" that does not;
/// the "office" calendar with the 2026 National Day holidays and make-up days.
pub(crate) fn known(calendars: &[Calendar]) -> Known<'_> {
    let carrier = "192.0.2.1:5060".parse().ok();
    Known {
        seats: vec!["1001", "1002"],
        queues: Vec::new(),
        calendars,
        trunks: vec![("carrier", carrier), ("inbound", None)],
        default_ring_timeout: 30,
        handoff_categories: vec!["major", "general"],
    }
}

pub(crate) fn calendars() -> Vec<Calendar> {
    let office: Calendar = toml::from_str(
        r#"
name = "office"
holidays = ["2026-10-01", "2026-10-02", "2026-10-05"]
workdays = ["2026-10-10"]
hours = [{ open = "08:30", close = "12:00" }, { open = "13:30", close = "17:30" }]
"#,
    )
    .expect("test calendar");
    vec![office]
}

pub(crate) fn compile(files: &[(&str, &str)]) -> Result<Dialplan, DialplanError> {
    let sources: Vec<_> = files
        .iter()
        .map(|(name, text)| (PathBuf::from(name), text.to_string()))
        .collect();
    Dialplan::compile(&sources, &known(&calendars()))
}

pub(super) fn problems(files: &[(&str, &str)]) -> Vec<String> {
    match compile(files) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

/// A housing bureau (level 2) on the duty line, by calendar, and a street office under it.
pub(super) const UNITS: &str = r#"
[[outbound]]
prefix = "0551"
trunk = "carrier"
caller_id = "055112345"
strip = 4

[[outbound]]
prefix = "0"
trunk = "carrier"
caller_id = "055112345"

[[outbound]]
prefix = "1"
trunk = "carrier"
caller_id = "055112345"
prepend = "0"

[[units]]
id = "2001"
name = "区住建局"
level = 2
contacts = { handlers = ["sip:handler@192.0.2.20:5060", "seat:1002"], head = "13800000001", duty = "0551-6234 5678" }
calendar = "office"
working = "handler"
off_hours = "duty"

[[units]]
id = "3001"
name = "和平街道办事处"
level = 3
parent = "2001"
contacts = { duty = "seat:1001" }
"#;
