//! The daemon's side of the API's history routes ([`History`]): the ledger and the ratings
//! report as `hotline report` makes them (in JSON), and the day's call records with their legs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::history::{
    GapView, LegView, LinesDayView, NumberDayView, RecordView, RecordingView, TrunkDayView,
};
use crate::api::live::{FieldError, Page, Paging};
use crate::api::{BoxFuture, History, HistoryError};
use crate::calendar::Date;
use crate::ledger::commands::{contacts_report, LedgerError};
use crate::ledger::{FailureRule, LedgerUnit};
use crate::report::lines::{self, Held, LinesDay};
use crate::report::{run_report, ReportError};
use crate::server::live::rfc3339;
use crate::store::{CallRecord, SqliteStore, Store, StoreError};

pub struct HistoryState {
    pub store_path: PathBuf,
    pub store: SqliteStore,
    pub units: Vec<LedgerUnit>,
    pub categories: Vec<String>,
    pub rule: FailureRule,
    pub utc_offset_hours: i32,
    /// The configured trunks and their lines (None: unlimited), in order.
    pub trunks: Vec<(String, Option<u32>)>,
}

/// The lines of local day `day`, by trunk and by called number, from the store's records
/// (and the calls still in progress).
pub async fn lines_of_day(
    store: &SqliteStore,
    day: Date,
    utc_offset_hours: i32,
) -> Result<(BTreeMap<String, LinesDay>, BTreeMap<String, LinesDay>), StoreError> {
    let (from, to) = local_day(day, utc_offset_hours);
    // A call offered the evening before may still have held its line at midnight.
    let before = from
        .checked_sub(Duration::from_secs(86_400))
        .unwrap_or(from);
    let ended = store.calls_in(before, to).await?;
    let open = store.open_calls().await?;
    let held: Vec<Held> = ended
        .iter()
        .map(Held::from)
        .chain(open.iter().map(Held::from))
        .collect();
    Ok(lines::day(&held, from, to, utc_offset_hours * 3600))
}

fn day_date(date: &str) -> Result<Date, HistoryError> {
    date.parse().map_err(|_| {
        HistoryError::Field(FieldError {
            field: "date",
            message: format!("date must be YYYY-MM-DD, not {date:?}"),
        })
    })
}

/// A report's refusal as the API words it, naming the query field.
fn report_error(e: ReportError) -> HistoryError {
    let field = match e {
        ReportError::BadMonth(_) => "month",
        ReportError::BadGroupBy(_) => "by",
        ReportError::BadFormat(_) | ReportError::BadUtcOffset(_) | ReportError::Store(_) => {
            tracing::warn!(error = %e, "a report for the API failed");
            return HistoryError::Store;
        }
    };
    HistoryError::Field(FieldError {
        field,
        message: e.to_string(),
    })
}

fn parsed(text: &str) -> Result<serde_json::Value, HistoryError> {
    serde_json::from_str(text).map_err(|error| {
        tracing::warn!(%error, "a report's JSON did not parse");
        HistoryError::Store
    })
}

impl History for HistoryState {
    fn ledger<'a>(
        &'a self,
        unit: &'a str,
        month: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, HistoryError>> {
        Box::pin(async move {
            let categories: Vec<&str> = self.categories.iter().map(String::as_str).collect();
            let text = contacts_report(
                &self.store_path,
                &self.units,
                &categories,
                &self.rule,
                month,
                "json",
                self.utc_offset_hours,
            )
            .await
            .map_err(|e| match e {
                LedgerError::Report(e) => report_error(e),
                other => {
                    tracing::warn!(error = %other, "the ledger for the API failed");
                    HistoryError::Store
                }
            })?;
            let ledger = parsed(&text)?;
            let line = ledger["units"]
                .as_array()
                .and_then(|units| units.iter().find(|u| u["unit"] == unit))
                .cloned()
                .ok_or_else(|| HistoryError::NoUnit(unit.to_string()))?;
            Ok(serde_json::json!({
                "month": ledger["month"],
                "utc_offset_hours": ledger["utc_offset_hours"],
                "unit": line,
            }))
        })
    }

    fn ratings<'a>(
        &'a self,
        month: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, HistoryError>> {
        Box::pin(async move {
            let text = run_report(&self.store_path, month, by, "json", self.utc_offset_hours)
                .await
                .map_err(report_error)?;
            parsed(&text)
        })
    }

    fn records<'a>(
        &'a self,
        date: &'a str,
        paging: Paging,
    ) -> BoxFuture<'a, Result<Page<RecordView>, HistoryError>> {
        Box::pin(async move {
            let day = day_date(date)?;
            let (from, to) = local_day(day, self.utc_offset_hours);
            let calls = self.store.calls_in(from, to).await.map_err(|error| {
                tracing::warn!(%error, "the day's calls could not be read");
                HistoryError::Store
            })?;
            // The page first: the legs are read for its calls only.
            let calls = Page::of(calls, paging);
            let mut records = Vec::with_capacity(calls.items.len());
            for call in calls.items {
                let legs = self.store.legs(&call.id).await.map_err(|error| {
                    tracing::warn!(%error, "a call's legs could not be read");
                    HistoryError::Store
                })?;
                let legs = legs
                    .into_iter()
                    .map(|l| LegView {
                        id: l.id,
                        role: l.role.as_str().to_string(),
                        party: l.party,
                        started_at: rfc3339(l.started_at),
                        answered_at: l.answered_at.map(rfc3339),
                        ended_at: rfc3339(l.ended_at),
                        ended_how: l.ended_how,
                    })
                    .collect();
                let recordings = self.store.recordings_of(&call.id).await.map_err(|error| {
                    tracing::warn!(%error, "a call's recordings could not be read");
                    HistoryError::Store
                })?;
                let mut view = record_view(call, legs);
                view.recordings = recordings.into_iter().map(recording_view).collect();
                records.push(view);
            }
            Ok(Page {
                items: records,
                total: calls.total,
                offset: calls.offset,
                limit: calls.limit,
            })
        })
    }

    fn lines<'a>(&'a self, date: &'a str) -> BoxFuture<'a, Result<LinesDayView, HistoryError>> {
        Box::pin(self.lines_view(date))
    }
}

impl HistoryState {
    async fn lines_view(&self, date: &str) -> Result<LinesDayView, HistoryError> {
        let day = day_date(date)?;
        let (mut trunks, numbers) = lines_of_day(&self.store, day, self.utc_offset_hours)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "the day's lines could not be read");
                HistoryError::Store
            })?;
        let mut views: Vec<TrunkDayView> = Vec::new();
        for (trunk, limit) in &self.trunks {
            let day = trunks.remove(trunk).unwrap_or_default();
            views.push(trunk_day(trunk.clone(), *limit, day));
        }
        // Trunks no longer configured, by name.
        views.extend(
            trunks
                .into_iter()
                .map(|(trunk, day)| trunk_day(trunk, None, day)),
        );
        Ok(LinesDayView {
            date: day.to_string(),
            utc_offset_hours: self.utc_offset_hours,
            trunks: views,
            numbers: numbers
                .into_iter()
                .map(|(number, day)| NumberDayView {
                    number,
                    calls: day.calls,
                    refused: day.refused,
                    peak: day.peak,
                    peak_at: day.peak_at.map(rfc3339),
                })
                .collect(),
        })
    }
}

fn trunk_day(trunk: String, lines: Option<u32>, day: LinesDay) -> TrunkDayView {
    let busy = day.busy_hour();
    TrunkDayView {
        trunk,
        lines,
        calls: day.calls,
        refused: day.refused,
        peak: day.peak,
        peak_at: day.peak_at.map(rfc3339),
        busy_hour: busy.map(|(hour, _)| hour),
        busy_hour_calls: busy.map_or(0, |(_, n)| n),
        hours: day.started.to_vec(),
    }
}

fn recording_view(r: crate::store::RecordingRecord) -> RecordingView {
    RecordingView {
        started_at: rfc3339(r.started_at),
        ended_at: r.ended_at.map(rfc3339),
        gaps: r
            .gaps
            .iter()
            .map(|g| GapView {
                from: rfc3339(g.from),
                to: rfc3339(g.to),
            })
            .collect(),
        deleted_at: r.deleted_at.map(rfc3339),
        id: r.id,
        path: r.path,
        duration_ms: r.duration_ms,
        size_bytes: r.size_bytes,
        sha256: r.sha256,
        complete: r.complete,
        reason: r.reason,
    }
}

/// The UTC window of local day `day`.
fn local_day(day: Date, utc_offset_hours: i32) -> (SystemTime, SystemTime) {
    let start = day.days_since_epoch() * 86_400 - i64::from(utc_offset_hours) * 3_600;
    let from = if start >= 0 {
        UNIX_EPOCH + Duration::from_secs(start as u64)
    } else {
        UNIX_EPOCH
    };
    (from, from + Duration::from_secs(86_400))
}

fn record_view(call: CallRecord, legs: Vec<LegView>) -> RecordView {
    RecordView {
        disposition: call.disposition.as_str().to_string(),
        offered_at: rfc3339(call.offered_at),
        answered_at: call.answered_at.map(rfc3339),
        ended_at: rfc3339(call.ended_at),
        queue: call.queue.as_ref().map(|q| q.queue.clone()),
        queue_wait_secs: call.queue.as_ref().map(|q| q.wait.as_secs()),
        id: call.id,
        trunk: call.trunk,
        caller: call.caller,
        called: call.called,
        seat: call.seat,
        sip_cause: call.sip_cause,
        ended_by: call.ended_by,
        legs,
        recordings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_day_is_its_utc_window() {
        let day: Date = "2026-12-04".parse().expect("a date");
        let (from, to) = local_day(day, 8);
        // Midnight in Beijing is 16:00 UTC the day before.
        assert_eq!(rfc3339(from), "2026-12-03T16:00:00Z");
        assert_eq!(rfc3339(to), "2026-12-04T16:00:00Z");
    }
}
