//! The ops view of the lines: every call in progress with its state and media counters.
//! Call tasks write their own entry; ops (and tests) read a snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::bus::{Bus, Subscription};
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

impl LineState {
    /// The state's name in the API and on the wallboard.
    pub fn as_str(&self) -> &'static str {
        match self {
            LineState::Ringing => "ringing",
            LineState::Connected => "connected",
            LineState::Consulting => "consulting",
            LineState::ThreeWay => "three_way",
            LineState::WithUnit => "with_unit",
            LineState::Rating => "rating",
            LineState::Ending => "ending",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineView {
    pub id: String,
    pub trunk: String,
    pub caller: String,
    pub called: String,
    pub seat: Option<String>,
    /// The queue a queued call came through.
    pub queue: Option<String>,
    /// The units (or numbers) on the line with the call now: consulted, conferenced, or
    /// transferred to.
    pub units: Vec<String>,
    /// When a seat (or the party a ring route rang) answered.
    pub answered_at: Option<SystemTime>,
    pub state: LineState,
    /// Leg A is the caller, leg B the seat.
    pub media: LineStats,
}

/// What changed on the board: a line's new view, or its end.
#[derive(Debug, Clone)]
pub enum LineUpdate {
    Changed(Box<LineView>),
    Ended { id: String },
}

/// Updates a subscriber may fall behind by before it must take a snapshot.
const UPDATES_KEPT: usize = 4096;

/// The lines in progress, and their changes on a bus for whoever watches (the coming
/// wallboard): take `subscribe` first, then `snapshot`, and apply the updates after it.
#[derive(Clone)]
pub struct Board {
    lines: Arc<Mutex<HashMap<CallId, LineView>>>,
    updates: Bus<LineUpdate>,
}

impl Default for Board {
    fn default() -> Self {
        Self {
            lines: Arc::default(),
            updates: Bus::new("board", UPDATES_KEPT),
        }
    }
}

impl Board {
    pub fn update(&self, owner: CallId, view: LineView) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.insert(owner, view.clone());
        }
        self.updates.publish(LineUpdate::Changed(Box::new(view)));
    }

    pub fn remove(&self, owner: CallId) {
        let removed = self.lines.lock().ok().and_then(|mut l| l.remove(&owner));
        if let Some(view) = removed {
            self.updates.publish(LineUpdate::Ended { id: view.id });
        }
    }

    pub fn subscribe(&self) -> Subscription<LineUpdate> {
        self.updates.subscribe()
    }

    pub fn snapshot(&self) -> Vec<LineView> {
        let mut lines: Vec<LineView> = self
            .lines
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        lines.sort_by(|a, b| a.id.cmp(&b.id));
        lines
    }

    /// The call seat `seat` is talking on now (connected, consulting, in a three-way call):
    /// its number and its line's id. A supervisor joins this call.
    pub fn call_of_seat(&self, seat: &str) -> Option<(CallId, String)> {
        let lines = self.lines.lock().ok()?;
        lines.iter().find_map(|(owner, line)| {
            let talking = matches!(
                line.state,
                LineState::Connected | LineState::Consulting | LineState::ThreeWay
            );
            (talking && line.seat.as_deref() == Some(seat)).then(|| (*owner, line.id.clone()))
        })
    }

    pub fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Update;

    fn view(id: &str, state: LineState) -> LineView {
        LineView {
            id: id.to_string(),
            trunk: "carrier".into(),
            caller: "13800000000".into(),
            called: "12345".into(),
            seat: None,
            queue: None,
            units: Vec::new(),
            answered_at: None,
            state,
            media: LineStats::default(),
        }
    }

    #[tokio::test]
    async fn a_subscriber_sees_lines_change_and_end() {
        let board = Board::default();
        let mut updates = board.subscribe();
        board.update(CallId(7), view("call-7", LineState::Ringing));
        board.update(CallId(7), view("call-7", LineState::Connected));
        board.remove(CallId(7));
        board.remove(CallId(7));
        let mut seen = Vec::new();
        while let Ok(Some(update)) =
            tokio::time::timeout(std::time::Duration::from_millis(10), updates.recv()).await
        {
            seen.push(match update {
                Update::Event(LineUpdate::Changed(v)) => format!("{} {:?}", v.id, v.state),
                Update::Event(LineUpdate::Ended { id }) => format!("{id} ended"),
                Update::Lagged(n) => format!("lagged {n}"),
            });
        }
        assert_eq!(
            seen,
            ["call-7 Ringing", "call-7 Connected", "call-7 ended"],
            "one end for one line"
        );
        assert!(board.is_empty());
    }
}
