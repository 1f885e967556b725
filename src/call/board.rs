//! The ops view of the lines: every call in progress with its state and media counters.
//! Call tasks write their own entry; ops (and tests) read a snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::call_id::CallId;
use crate::media::LineStats;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineState {
    Ringing,
    Connected,
    /// The caller holds while the seat talks to a unit.
    Consulting,
    /// Caller, seat and unit all on the line.
    ThreeWay,
    /// The seat has left the caller with a unit.
    WithUnit,
    /// The seat has left; the caller is asked to rate the service.
    Rating,
    Ending,
}

#[derive(Debug, Clone)]
pub struct LineView {
    pub id: String,
    pub trunk: String,
    pub caller: String,
    pub called: String,
    pub seat: Option<String>,
    pub state: LineState,
    /// Leg A is the caller, leg B the seat.
    pub media: LineStats,
}

#[derive(Clone, Default)]
pub struct Board(Arc<Mutex<HashMap<CallId, LineView>>>);

impl Board {
    pub fn update(&self, owner: CallId, view: LineView) {
        if let Ok(mut lines) = self.0.lock() {
            lines.insert(owner, view);
        }
    }

    pub fn remove(&self, owner: CallId) {
        if let Ok(mut lines) = self.0.lock() {
            lines.remove(&owner);
        }
    }

    pub fn snapshot(&self) -> Vec<LineView> {
        let mut lines: Vec<LineView> = self
            .0
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        lines.sort_by(|a, b| a.id.cmp(&b.id));
        lines
    }

    pub fn len(&self) -> usize {
        self.0.lock().map(|l| l.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
