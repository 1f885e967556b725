//! Which seats ring for which called number, the directory of units, and the outbound routes
//! that say which outside numbers may be dialled.
//!
//! Dialplan files are compiled once at load time into a [`Dialplan`]; lookups at call time are a
//! map access and cannot fail for reasons a file could have caught.

mod compile;
mod contact;
mod dial;
mod error;
pub mod hunt;
mod outbound;
mod target;
#[cfg(test)]
pub(crate) mod test_support;
mod units;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub use compile::Known;
pub use contact::{Contact, ContactError};
pub use dial::{DialError, Dialled};
pub use error::{DialplanError, DialplanProblem};
pub use hunt::{unit_order as hunt_order, HuntOverrides, HuntPlan, Hunting, PlannedAttempt};
pub use outbound::OutboundRoute;
pub use target::DialTarget;
pub use units::{Contacts, Level, Role, Schedule, Unit};

use crate::calendar::Calendar;
use outbound::Outbound;

/// All routes from all dialplan files, each number defined once; all units, each id defined
/// once; and the outbound routes.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    routes: Vec<Route>,
    by_number: HashMap<String, usize>,
    units: Vec<Unit>,
    unit_by_id: HashMap<String, usize>,
    outbound: Outbound,
    /// The calendars units' schedules name, copied from the settings they were checked against.
    calendars: HashMap<String, Calendar>,
}

/// What happens when `number` is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The user part of the Request-URI this route answers.
    pub number: String,
    pub description: Option<String>,
    pub target: RingTarget,
    /// The route's own timeout, or `sip.ring_timeout_secs` when it has none.
    pub ring_timeout: Duration,
    /// Outside this calendar's working time the call goes elsewhere; None = open 7x24.
    pub when_closed: Option<WhenClosed>,
    /// The hand-off category its calls have from the seat's answer (a queue route).
    pub handoff: Option<String>,
    /// Whether its calls are recorded; None: as `[recording]` and the queue say.
    pub record: Option<bool>,
    /// Where the route was written, for logs and `hotline check`.
    pub file: PathBuf,
    pub line: usize,
}

/// Who a route's call goes to. An enum so that queues and IVR menus can join as variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingTarget {
    /// Every seat registered at the moment the call arrives.
    AllSeats,
    /// These seat users, in the order written; each exists in `settings.seats`.
    Seats(Vec<String>),
    /// A queue of `[[queues]]`: the caller is answered, greeted and queued.
    Queue { name: String, priority: u8 },
}

/// Priority of a queue route that names none; 0 is served first.
pub const DEFAULT_PRIORITY: u8 = 5;

/// Time routing: when `calendar` says closed, `closed` applies instead of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenClosed {
    pub calendar: String,
    pub closed: Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    Queue {
        name: String,
        priority: u8,
    },
    /// Play this prompt and hang up.
    Prompt(String),
}

impl Dialplan {
    pub fn route(&self, called: &str) -> Option<&Route> {
        self.by_number.get(called).and_then(|&i| self.routes.get(i))
    }

    /// In file order, files in the order `dialplan.files` lists them.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    fn new(
        routes: Vec<Route>,
        units: Vec<Unit>,
        outbound: Vec<OutboundRoute>,
        calendars: HashMap<String, Calendar>,
    ) -> Self {
        let by_number = routes
            .iter()
            .enumerate()
            .map(|(i, route)| (route.number.clone(), i))
            .collect();
        let unit_by_id = units
            .iter()
            .enumerate()
            .map(|(i, unit)| (unit.id.clone(), i))
            .collect();
        Self {
            routes,
            by_number,
            units,
            unit_by_id,
            outbound: Outbound::new(outbound),
            calendars,
        }
    }
}
