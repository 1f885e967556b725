//! What the store keeps, over the API: a month's contact ledger (one unit's line of it), a
//! month's ratings report, and the call records of a day with their legs. The daemon implements
//! [`History`]; the reports are the same as `hotline report`'s, in their JSON form.

use serde::{Deserialize, Serialize};

use super::live::{FieldError, Page, Paging};
use super::BoxFuture;

/// One leg of a recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegView {
    pub id: String,
    /// `caller`, `seat` or `unit`.
    pub role: String,
    pub party: String,
    pub started_at: String,
    pub answered_at: Option<String>,
    pub ended_at: String,
    /// `bye_by_them`, `bye_by_us`, `cancelled`, `interrupted`…
    pub ended_how: String,
}

/// A recorded call of the day, with its legs and recordings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    pub id: String,
    pub trunk: String,
    pub caller: String,
    pub called: String,
    pub seat: Option<String>,
    pub offered_at: String,
    pub answered_at: Option<String>,
    pub ended_at: String,
    /// `answered`, `abandoned`, `busy`, `no_answer`, `unreachable`, `rejected`, `failed`,
    /// `interrupted`.
    pub disposition: String,
    pub sip_cause: Option<u16>,
    pub ended_by: Option<String>,
    pub queue: Option<String>,
    pub queue_wait_secs: Option<u64>,
    pub legs: Vec<LegView>,
    /// Recordings of the call: its own, then its consultations'.
    pub recordings: Vec<RecordingView>,
}

/// One WAV file of a recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingView {
    /// The call id, or `<call id>-consult-<n>` for a consultation.
    pub id: String,
    pub path: String,
    /// The time of the file's first sample.
    pub started_at: String,
    /// Null while the recording is being written.
    pub ended_at: Option<String>,
    pub duration_ms: u64,
    pub size_bytes: u64,
    /// SHA-256 of the whole file, lowercase hex; null while it is being written.
    pub sha256: Option<String>,
    pub complete: bool,
    /// Why it is incomplete: `writer_behind: …`, `disk: …`, `interrupted`.
    pub reason: Option<String>,
    /// Where the seat paused it: silence in the file.
    pub gaps: Vec<GapView>,
    /// When retention deleted the file.
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapView {
    pub from: String,
    pub to: String,
}

/// A past (or the present) local day's lines (线路), from its call records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinesDayView {
    pub date: String,
    pub utc_offset_hours: i32,
    /// Configured trunks in order, then any other trunk that had calls that day.
    pub trunks: Vec<TrunkDayView>,
    pub numbers: Vec<NumberDayView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrunkDayView {
    pub trunk: String,
    /// The lines the trunk has now; null for unlimited.
    pub lines: Option<u32>,
    /// Calls that took a line that day.
    pub calls: u32,
    /// Calls refused at the door that day (every line busy, overload, no route).
    pub refused: u32,
    /// The most lines in use at once, and when that was first reached.
    pub peak: u32,
    pub peak_at: Option<String>,
    /// The local hour (0 to 23) in which the most calls started, and how many did.
    pub busy_hour: Option<u8>,
    pub busy_hour_calls: u32,
    /// Calls that took a line in each local hour, 0 to 23.
    pub hours: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberDayView {
    pub number: String,
    pub calls: u32,
    pub refused: u32,
    pub peak: u32,
    pub peak_at: Option<String>,
}

/// Why a history request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// 400.
    #[error("{0}")]
    Field(FieldError),
    /// 404.
    #[error("no unit {0} in the ledger")]
    NoUnit(String),
    /// 503.
    #[error("the store could not be read")]
    Store,
}

/// The store's records, as the daemon offers them to the API.
pub trait History: Send + Sync + 'static {
    /// Unit `unit`'s line of the contact ledger of `month` (`2026-12`), as JSON.
    fn ledger<'a>(
        &'a self,
        unit: &'a str,
        month: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, HistoryError>>;

    /// The ratings report of `month`, grouped `by` `all`, `seat` or `unit`, as JSON.
    fn ratings<'a>(
        &'a self,
        month: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, HistoryError>>;

    /// The page `paging` of the calls offered on local day `date` (`2026-12-04`), oldest
    /// first; legs are read for the page's calls only.
    fn records<'a>(
        &'a self,
        date: &'a str,
        paging: Paging,
    ) -> BoxFuture<'a, Result<Page<RecordView>, HistoryError>>;

    /// The lines of local day `date` (`2026-12-04`): per trunk and per called number.
    fn lines<'a>(&'a self, date: &'a str) -> BoxFuture<'a, Result<LinesDayView, HistoryError>>;
}
