//! The hotline as it is now, over the API: live calls, seats, queues and open hand-offs, the
//! changes an operator may make (a seat's state, a call's hand-off), and the stream of what
//! changes. The daemon implements [`Live`]; this module is only the wire.
//!
//! Times are RFC 3339 in UTC (`2026-12-04T06:30:00Z`); durations are whole seconds.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::BoxFuture;

/// Longest pause reason and hand-off reason, in characters.
pub const MAX_REASON_CHARS: usize = 32;

/// A call in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallView {
    /// The call's id, as in its record (`call-17`).
    pub id: String,
    pub trunk: String,
    pub caller: String,
    pub called: String,
    /// `ringing`, `connected`, `consulting`, `three_way`, `with_unit`, `rating`, `ending`.
    pub state: String,
    pub queue: Option<String>,
    pub seat: Option<String>,
    /// Units (or numbers) on the line with the call now.
    pub units: Vec<String>,
    pub answered_at: Option<String>,
    /// The call's open hand-off, if it has one.
    pub handoff: Option<CallHandoff>,
}

/// The hand-off of a call, in short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallHandoff {
    pub category: String,
    /// Negative once breached.
    pub seconds_left: i64,
}

/// A seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatView {
    pub seat: String,
    /// `logged_out`, `available`, `ringing`, `on_call`, `wrap_up`, `paused`.
    pub state: String,
    /// Why a paused seat is paused.
    pub reason: Option<String>,
    /// When it took this state.
    pub since: String,
    pub seconds_in_state: u64,
    /// The call it rings for or is on.
    pub call: Option<String>,
}

/// A queue and the callers waiting in it, in the order they will be served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueView {
    pub queue: String,
    pub waiting: Vec<WaitingCaller>,
    /// The longest wait of those waiting, 0 when nobody waits.
    pub longest_wait_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingCaller {
    /// 1 is next.
    pub position: usize,
    pub call: String,
    pub caller: Option<String>,
    pub waited_secs: u64,
}

/// An open hand-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffView {
    pub id: String,
    pub call: String,
    pub seat: String,
    pub unit: Option<String>,
    /// `major` or `general` (or another configured category).
    pub category: String,
    /// The category's label for people (`重大应急`).
    pub category_label: String,
    /// The clock counts from the seat's answer.
    pub started_at: String,
    /// The limit now, extension included.
    pub limit_secs: u64,
    pub extended: bool,
    /// Negative once breached.
    pub seconds_left: i64,
    /// How long before the limit the warning window opens.
    pub warning_secs: u64,
    /// `running`, `warning` (in the warning window), `breached`, or `closed` (on the event
    /// stream, once it is).
    pub state: String,
}

/// The day so far (local time), for the wallboard: queued calls, service level, abandoned
/// calls, contact failures and keypad ratings. Percentages to one decimal, null before there is
/// anything to count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TodayView {
    /// The local date, `2026-12-04`.
    pub date: String,
    /// Calls that entered a queue.
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub answered_within_15s: u64,
    pub answered_within_20s: u64,
    /// Answered within 15 s of entering the queue, of every call that entered, in percent.
    pub service_level_15s: Option<f64>,
    pub service_level_20s: Option<f64>,
    /// Newest first.
    pub abandoned_calls: Vec<AbandonedView>,
    /// Units with contact failures today, most first.
    pub contact_failures: Vec<UnitFailures>,
    pub ratings: RatingsToday,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbandonedView {
    pub call: String,
    pub caller: String,
    pub queue: String,
    /// When the caller hung up.
    pub at: String,
    pub waited_secs: u64,
    /// The caller asked to be called back.
    pub callback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFailures {
    pub unit: String,
    pub failures: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingsToday {
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub dissatisfied: u64,
    pub not_rated: u64,
    /// (satisfied + basically satisfied) / rated, in percent.
    pub satisfaction_rate: Option<f64>,
    /// Rated / asked, in percent.
    pub response_rate: Option<f64>,
}

/// Lines (线路): each trunk's lines in use and free, its peak today (and when) and its busy
/// hour, and the lines in use per called number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinesView {
    pub trunks: Vec<TrunkLinesView>,
    pub numbers: Vec<NumberLines>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkLinesView {
    pub trunk: String,
    /// The lines the carrier sells; null for unlimited.
    pub lines: Option<u32>,
    pub in_use: u64,
    /// Null for unlimited.
    pub free: Option<u64>,
    /// The most lines in use at once today, and when that was first reached.
    pub peak_today: u64,
    pub peak_at: Option<String>,
    /// The local hour (0 to 23) in which the most calls started today, and how many did.
    pub busy_hour: Option<u8>,
    pub busy_hour_calls: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberLines {
    pub number: String,
    pub in_use: u64,
}

/// A page of a list: `items` from `offset`, at most `limit` of them, out of `total`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

impl<T> Page<T> {
    /// The page of `all` that `paging` asks for.
    pub fn of(all: Vec<T>, paging: Paging) -> Page<T> {
        let total = all.len();
        let items = all
            .into_iter()
            .skip(paging.offset)
            .take(paging.limit)
            .collect();
        Page {
            items,
            total,
            offset: paging.offset,
            limit: paging.limit,
        }
    }
}

/// Which part of a list to answer with: `?offset=0&limit=100` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub offset: usize,
    pub limit: usize,
}

/// The most items one page holds.
pub const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

impl Paging {
    /// From the query string's `offset` and `limit`; the error names the field.
    pub fn parse(offset: Option<&str>, limit: Option<&str>) -> Result<Paging, FieldError> {
        let number = |field: &'static str, value: Option<&str>, default: usize| match value {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| FieldError {
                field,
                message: format!("{field} must be a whole number, not {v:?}"),
            }),
        };
        let offset = number("offset", offset, 0)?;
        let limit = number("limit", limit, DEFAULT_PAGE)?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(FieldError {
                field: "limit",
                message: format!("limit must be 1..={MAX_PAGE}"),
            });
        }
        Ok(Paging { offset, limit })
    }
}

/// A request refused for one of its fields (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// `POST /api/v1/seats/{seat}/state`: what to do with the seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatChangeBody {
    /// `login`, `pause`, `resume` or `logout`.
    pub action: String,
    /// Why the seat pauses (with `pause` only): letters, digits, `_` and `-`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A seat change the API accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatChange {
    Login,
    Pause { reason: String },
    Resume,
    Logout,
}

impl SeatChangeBody {
    pub fn validate(self) -> Result<SeatChange, FieldError> {
        let change = match self.action.as_str() {
            "login" => SeatChange::Login,
            "resume" => SeatChange::Resume,
            "logout" => SeatChange::Logout,
            "pause" => SeatChange::Pause {
                reason: check_reason(self.reason.as_deref().unwrap_or(""))?,
            },
            other => {
                return Err(FieldError {
                    field: "action",
                    message: format!(
                        "action must be login, pause, resume or logout, not {other:?}"
                    ),
                })
            }
        };
        if self.reason.is_some() && !matches!(change, SeatChange::Pause { .. }) {
            return Err(FieldError {
                field: "reason",
                message: "reason goes with pause only".into(),
            });
        }
        Ok(change)
    }
}

/// `POST /api/v1/seats/{seat}/supervise`: ring supervisor `supervisor`'s phone and, once
/// answered, join the seat's call in `mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperviseBody {
    pub supervisor: String,
    /// `listen`, `whisper`, `barge` or `take_over`.
    pub mode: String,
}

impl SuperviseBody {
    pub fn validate(self) -> Result<(String, crate::supervision::Mode), FieldError> {
        let mode = crate::supervision::Mode::from_name(&self.mode).ok_or_else(|| FieldError {
            field: "mode",
            message: format!(
                "mode must be listen, whisper, barge or take_over, not {:?}",
                self.mode
            ),
        })?;
        let supervisor = check_word("supervisor", &self.supervisor)?;
        Ok((supervisor, mode))
    }
}

/// A supervision session the daemon started: it rings the supervisor's phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuperviseStarted {
    pub seat: String,
    pub supervisor: String,
    pub mode: String,
    /// The call the session joins (the seat's call now).
    pub call: String,
}

/// `POST /api/v1/calls/{id}/handoff`: set, extend or close the call's hand-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffActionBody {
    /// `set`, `extend` or `close`.
    pub action: String,
    /// With `set`: the category (`major`, `general`, …).
    #[serde(default)]
    pub category: Option<String>,
    /// With `extend` and `close`: why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A hand-off change the API accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffChange {
    Set { category: String },
    Extend { reason: String },
    Close { reason: String },
}

impl HandoffActionBody {
    pub fn validate(self) -> Result<HandoffChange, FieldError> {
        let needs = |field: &'static str, value: Option<String>| {
            value.filter(|v| !v.is_empty()).ok_or(FieldError {
                field,
                message: format!("{field} is required with action {:?}", self.action),
            })
        };
        let refuses = |field: &'static str, value: &Option<String>| match value {
            Some(_) => Err(FieldError {
                field,
                message: format!("{field} does not go with action {:?}", self.action),
            }),
            None => Ok(()),
        };
        match self.action.as_str() {
            "set" => {
                refuses("reason", &self.reason)?;
                let category = needs("category", self.category.clone())?;
                Ok(HandoffChange::Set {
                    category: check_word("category", &category)?,
                })
            }
            "extend" | "close" => {
                refuses("category", &self.category)?;
                let reason = check_reason(&needs("reason", self.reason.clone())?)?;
                Ok(if self.action == "extend" {
                    HandoffChange::Extend { reason }
                } else {
                    HandoffChange::Close { reason }
                })
            }
            other => Err(FieldError {
                field: "action",
                message: format!("action must be set, extend or close, not {other:?}"),
            }),
        }
    }
}

fn check_reason(reason: &str) -> Result<String, FieldError> {
    check_word("reason", reason)
}

/// A short word: 1 to [`MAX_REASON_CHARS`] letters, digits, `_` and `-`.
fn check_word(field: &'static str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.chars().count() <= MAX_REASON_CHARS
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldError {
            field,
            message: format!(
                "{field} must be 1..={MAX_REASON_CHARS} letters, digits, _ or -, not {value:?}"
            ),
        })
    }
}

/// Why the daemon refused a change the API passed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// 404: no seat, call or hand-off by that name.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// 409: the change does not fit the state of things (no seat on the call, a hand-off
    /// already set, none to extend).
    #[error("{0}")]
    Conflict(String),
    /// 400 for a field the daemon knows is wrong (a category it does not have).
    #[error("{0}")]
    Field(FieldError),
    /// 503: the service behind it is gone (the daemon is stopping).
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// 403: the seat named as supervisor is none.
    #[error("{0}")]
    Forbidden(String),
}

/// Everything at once: what a subscriber to the event stream starts from (and starts again
/// from, when it fell behind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub calls: Vec<CallView>,
    pub seats: Vec<SeatView>,
    pub queues: Vec<QueueView>,
    pub handoffs: Vec<HandoffView>,
    /// The day so far; null when the store could not be read.
    pub today: Option<TodayView>,
    /// Null when the SIP core did not answer (the daemon is stopping).
    pub lines: Option<LinesView>,
}

/// One change, as `/api/v1/events` sends it: the SSE event name is the variant's, its data
/// the JSON of what it holds.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// Sent first, and again whenever the stream fell behind and lost changes.
    Snapshot(Box<LiveSnapshot>),
    /// A call appeared or changed.
    Call(Box<CallView>),
    /// A call ended.
    CallEnded {
        id: String,
    },
    Seat(SeatView),
    Queue(QueueView),
    /// A hand-off opened or changed; a closed one comes with `state` `closed`.
    Handoff(HandoffView),
    /// The day so far, every few seconds.
    Today(Box<TodayView>),
    /// The lines, every few seconds.
    Lines(LinesView),
}

impl LiveEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Snapshot(_) => "snapshot",
            LiveEvent::Call(_) => "call",
            LiveEvent::CallEnded { .. } => "call_ended",
            LiveEvent::Seat(_) => "seat",
            LiveEvent::Queue(_) => "queue",
            LiveEvent::Handoff(_) => "handoff",
            LiveEvent::Today(_) => "today",
            LiveEvent::Lines(_) => "lines",
        }
    }

    /// The SSE event's data.
    pub fn data(&self) -> Result<String, serde_json::Error> {
        match self {
            LiveEvent::Snapshot(s) => serde_json::to_string(s),
            LiveEvent::Call(c) => serde_json::to_string(c),
            LiveEvent::CallEnded { id } => serde_json::to_string(&serde_json::json!({ "id": id })),
            LiveEvent::Seat(s) => serde_json::to_string(s),
            LiveEvent::Queue(q) => serde_json::to_string(q),
            LiveEvent::Handoff(h) => serde_json::to_string(h),
            LiveEvent::Today(t) => serde_json::to_string(t),
            LiveEvent::Lines(l) => serde_json::to_string(l),
        }
    }
}

/// The hotline's live state, as the daemon offers it to the API.
pub trait Live: Send + Sync + 'static {
    /// Calls, seats, queues and hand-offs now (`today` and `lines` left out: they have their
    /// own calls, and the day is read from the store).
    fn snapshot(&self) -> BoxFuture<'_, LiveSnapshot>;

    /// The day so far; None when the store could not be read.
    fn today(&self) -> BoxFuture<'_, Option<TodayView>>;

    /// The lines; None when the SIP core did not answer (the daemon is stopping).
    fn lines(&self) -> BoxFuture<'_, Option<LinesView>>;

    /// Changes seat `seat`; answers with the seat as it is after the change.
    fn change_seat<'a>(
        &'a self,
        seat: &'a str,
        change: SeatChange,
    ) -> BoxFuture<'a, Result<SeatView, LiveError>>;

    /// Starts a supervision session on seat `seat`'s call: the daemon rings `supervisor`'s
    /// phone, which joins the call in `mode` once answered.
    fn supervise<'a>(
        &'a self,
        seat: &'a str,
        supervisor: String,
        mode: crate::supervision::Mode,
    ) -> BoxFuture<'a, Result<SuperviseStarted, LiveError>>;

    /// Sets, extends or closes the hand-off of call `call`.
    fn change_handoff<'a>(
        &'a self,
        call: &'a str,
        change: HandoffChange,
    ) -> BoxFuture<'a, Result<(), LiveError>>;

    /// The changes from now on, starting with a whole snapshot (the day and the lines in it);
    /// the stream ends when the receiver is dropped or the daemon stops.
    fn events(&self) -> mpsc::Receiver<LiveEvent>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(action: &str, reason: Option<&str>) -> Result<SeatChange, &'static str> {
        SeatChangeBody {
            action: action.into(),
            reason: reason.map(str::to_string),
        }
        .validate()
        .map_err(|e| e.field)
    }

    fn handoff(
        action: &str,
        category: Option<&str>,
        reason: Option<&str>,
    ) -> Result<HandoffChange, &'static str> {
        HandoffActionBody {
            action: action.into(),
            category: category.map(str::to_string),
            reason: reason.map(str::to_string),
        }
        .validate()
        .map_err(|e| e.field)
    }

    #[test]
    fn seat_changes_are_checked_field_by_field() {
        assert_eq!(seat("login", None), Ok(SeatChange::Login));
        assert_eq!(
            seat("pause", Some("lunch")),
            Ok(SeatChange::Pause {
                reason: "lunch".into()
            })
        );
        assert_eq!(seat("pause", None), Err("reason"));
        assert_eq!(seat("pause", Some("out to lunch")), Err("reason"));
        assert_eq!(seat("pause", Some(&"x".repeat(33))), Err("reason"));
        assert_eq!(seat("resume", Some("why")), Err("reason"));
        assert_eq!(seat("sleep", None), Err("action"));
    }

    #[test]
    fn handoff_changes_are_checked_field_by_field() {
        assert_eq!(
            handoff("set", Some("major"), None),
            Ok(HandoffChange::Set {
                category: "major".into()
            })
        );
        assert_eq!(handoff("set", None, None), Err("category"));
        assert_eq!(handoff("set", Some("major"), Some("x")), Err("reason"));
        assert_eq!(
            handoff("extend", None, Some("unit-asked")),
            Ok(HandoffChange::Extend {
                reason: "unit-asked".into()
            })
        );
        assert_eq!(handoff("extend", None, None), Err("reason"));
        assert_eq!(
            handoff("close", Some("major"), Some("done")),
            Err("category")
        );
        assert_eq!(handoff("open", None, None), Err("action"));
    }

    #[test]
    fn paging_names_the_field_it_refuses() {
        assert_eq!(
            Paging::parse(None, None),
            Ok(Paging {
                offset: 0,
                limit: 100
            })
        );
        assert_eq!(
            Paging::parse(Some("x"), None).map_err(|e| e.field),
            Err("offset")
        );
        assert_eq!(
            Paging::parse(None, Some("0")).map_err(|e| e.field),
            Err("limit")
        );
        assert_eq!(
            Paging::parse(None, Some("1001")).map_err(|e| e.field),
            Err("limit")
        );
        let page = Page::of(
            vec![1, 2, 3, 4, 5],
            Paging {
                offset: 1,
                limit: 2,
            },
        );
        assert_eq!((page.items, page.total), (vec![2, 3], 5));
    }
}
