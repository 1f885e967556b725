//! Settings and compiling helpers shared by the dialplan tests.

use std::path::PathBuf;

use super::{Dialplan, DialplanError};
use crate::config::settings::Settings;

/// Seats 1001 and 1002; a trunk "carrier" that places calls and one "inbound" that does not;
/// the "office" calendar with the 2026 National Day holidays and make-up days.
pub(crate) fn settings() -> Settings {
    toml::from_str(
        r#"
[sip]
udp = "127.0.0.1:5060"
tcp = "127.0.0.1:5060"
realm = "hotline.local"
[rtp]
bind = "127.0.0.1"
port_min = 20000
port_max = 20999
[store]
path = "x.db"
[metrics]
listen = "127.0.0.1:9060"
[dialplan]
files = ["a.toml"]
[[seats]]
user = "1001"
password = "p"
[[seats]]
user = "1002"
password = "p"
[[trunks]]
name = "carrier"
sources = ["192.0.2.1/32"]
outbound = "192.0.2.1:5060"
[[trunks]]
name = "inbound"
sources = ["192.0.2.2/32"]
[[calendars]]
name = "office"
holidays = ["2026-10-01", "2026-10-02", "2026-10-05"]
workdays = ["2026-10-10"]
hours = [{ open = "08:30", close = "12:00" }, { open = "13:30", close = "17:30" }]
"#,
    )
    .expect("test settings")
}

pub(crate) fn compile(files: &[(&str, &str)]) -> Result<Dialplan, DialplanError> {
    let sources: Vec<_> = files
        .iter()
        .map(|(name, text)| (PathBuf::from(name), text.to_string()))
        .collect();
    Dialplan::compile(&sources, &settings())
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
