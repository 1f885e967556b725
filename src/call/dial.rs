//! The one place a call turns what a seat typed (a unit id, a seat, a number) into where the
//! daemon dials. Consultations and REFERs use it now; hunting a unit's contacts with retries
//! will too.

use std::sync::Arc;
use std::time::SystemTime;

use crate::calendar::to_local;
use crate::config::settings::Settings;
use crate::dialplan::{DialError, DialTarget, Dialled, Dialplan};

/// Why a target cannot be dialled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialRefusal {
    /// Neither a unit, a seat nor a number any outbound route allows.
    #[error("{0:?} is not a unit, a seat or an allowed number")]
    Unknown(String),
    /// A unit with nobody to call at this time.
    #[error("{0}")]
    Unreachable(DialError),
}

impl DialRefusal {
    /// The SIP status a consultation or REFER fails with.
    pub fn status(&self) -> u16 {
        match self {
            // Refused, not "not found": the daemon is never a path to a number it does not allow.
            DialRefusal::Unknown(_) => 403,
            DialRefusal::Unreachable(_) => 480,
        }
    }
}

/// Where to dial, and the unit it belongs to (for records and ratings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub target: DialTarget,
    pub unit: Option<String>,
}

pub struct Dialer {
    dialplan: Arc<Dialplan>,
    seats: Vec<String>,
    utc_offset_secs: i32,
    /// How a unit's contacts are hunted unless its `hunt` says otherwise.
    hunting: crate::dialplan::Hunting,
}

impl Dialer {
    pub fn new(dialplan: Arc<Dialplan>, settings: &Settings) -> Dialer {
        Dialer {
            dialplan,
            seats: settings.seats.iter().map(|s| s.user.clone()).collect(),
            utc_offset_secs: settings.time.utc_offset_hours * 3600,
            hunting: settings.features.hunting(),
        }
    }

    /// A phone number through the outbound routes alone: for calls to citizens, which must
    /// never land on a seat or a unit.
    pub fn number(&self, number: &str) -> Result<DialTarget, DialRefusal> {
        self.dialplan
            .dial_number(number)
            .map_err(|_| DialRefusal::Unknown(number.to_string()))
    }

    /// The hunt through `unit`'s contacts at `now`, as its schedule and `hunt` settings say.
    pub fn hunt_plan(
        &self,
        unit: &str,
        now: SystemTime,
    ) -> Result<crate::dialplan::HuntPlan, DialRefusal> {
        let at = to_local(now, self.utc_offset_secs);
        self.dialplan
            .hunt_plan(unit, at, self.hunting)
            .map_err(DialRefusal::Unreachable)
    }

    /// Where `typed` is dialled at `now`: a unit's contact for this time, then a seat, then
    /// a number an outbound route allows. Anything else is refused.
    pub fn resolve(&self, typed: &str, now: SystemTime) -> Result<Resolved, DialRefusal> {
        if let Ok(Dialled::Unit(unit)) = self.dialplan.dialled(typed) {
            let at = to_local(now, self.utc_offset_secs);
            let target = self
                .dialplan
                .dial_unit(&unit.id, at)
                .map_err(DialRefusal::Unreachable)?;
            return Ok(Resolved {
                target,
                unit: Some(unit.id.clone()),
            });
        }
        if self.seats.iter().any(|s| s == typed) {
            return Ok(Resolved {
                target: DialTarget::Seat(typed.to_string()),
                unit: None,
            });
        }
        match self.dialplan.dial_number(typed) {
            Ok(target) => Ok(Resolved { target, unit: None }),
            Err(_) => Err(DialRefusal::Unknown(typed.to_string())),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::Dialer;
    use crate::config::settings::Settings;
    use crate::dialplan::Dialplan;

    /// Seats 1001 and 1002; a trunk "carrier" that places calls and one "inbound" that does not;
    /// the "office" calendar with the 2026 National Day holidays and make-up days.
    fn settings() -> Settings {
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

    /// A dialer over the dialplan test settings (trunk "carrier" at 192.0.2.1:5060) with
    /// `routes` as its only dialplan file.
    pub fn dialer_with_routes(routes: &str) -> Dialer {
        let settings = settings();
        let dialplan = Dialplan::compile(
            &[(PathBuf::from("routes.toml"), routes.to_string())],
            &settings.dialplan_known(),
        )
        .expect("test routes compile");
        Dialer::new(Arc::new(dialplan), &settings)
    }
}
