//! The command line's side of the ledger: `hotline report contacts`, `hotline report handoffs`
//! and `hotline ledger void`. Arguments are checked before the database is touched; reports
//! open it read-only beside a running daemon.

use std::path::Path;

use crate::calendar::Calendar;
use crate::report::{Format, ReportError, YearMonth, UTC_OFFSET_RANGE};
use crate::store::{
    ContactAttempt, ContactFailure, FailureVoid, Record, SqliteStore, Store, StoreError,
};

use super::appeal::{void_failure, VoidError, VoidRequest};
use super::month::{month_ledger, HandoffCount, LedgerInput, LedgerUnit};
use super::render::{group_attempts, HandoffListing};
use super::rule::FailureRule;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("cannot read or write the ledger")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Void(#[from] VoidError),
}

/// Month, format and offset as the command line gives them, checked.
fn checked(
    month: &str,
    format: &str,
    utc_offset_hours: i32,
) -> Result<(YearMonth, Format), ReportError> {
    let month: YearMonth = month.parse()?;
    let format: Format = format.parse()?;
    if !UTC_OFFSET_RANGE.contains(&utc_offset_hours) {
        return Err(ReportError::BadUtcOffset(utc_offset_hours));
    }
    Ok((month, format))
}

/// The ledger's records of a month, local time.
struct MonthRecords {
    attempts: Vec<ContactAttempt>,
    failures: Vec<ContactFailure>,
    /// Every void, of any month.
    voids: Vec<FailureVoid>,
    /// Hand-offs opened in the month.
    handoffs: Vec<crate::store::HandoffRecord>,
}

impl MonthRecords {
    /// Checks the command line's month, format and offset, then reads the month's records
    /// from the database at `store_path`, opened read-only.
    async fn read(
        store_path: &Path,
        month: &str,
        format: &str,
        utc_offset_hours: i32,
    ) -> Result<(YearMonth, Format, MonthRecords), LedgerError> {
        let (month, format) = checked(month, format, utc_offset_hours)?;
        let store = SqliteStore::open_read_only(store_path).await?;
        let (from, to) = month.utc_window(utc_offset_hours);
        let read = async {
            Ok::<_, StoreError>(MonthRecords {
                attempts: store.contact_attempts_in(from, to).await?,
                failures: store.contact_failures_in(from, to).await?,
                voids: store.failure_voids().await?,
                handoffs: store.handoffs_opened_in(from, to).await?,
            })
        }
        .await;
        store.close().await;
        Ok((month, format, read?))
    }
}

/// `hotline report contacts`: the month's ledger for every unit in `units`, with the
/// hand-offs of each of `categories` (the configured ones, in order).
pub async fn contacts_report(
    store_path: &Path,
    units: &[LedgerUnit],
    categories: &[&str],
    rule: &FailureRule,
    month: &str,
    format: &str,
    utc_offset_hours: i32,
) -> Result<String, LedgerError> {
    let (month, format, records) =
        MonthRecords::read(store_path, month, format, utc_offset_hours).await?;
    let handoffs = made_counts(&records.handoffs);
    let input = LedgerInput {
        units,
        failures: &records.failures,
        voids: &records.voids,
        handoffs: &handoffs,
        categories,
    };
    let ledger = month_ledger(input, rule, month, utc_offset_hours);
    Ok(ledger.render(format))
}

/// The hand-offs made in time and late, per unit and category (a hand-off counts in the month
/// it opened).
fn made_counts(handoffs: &[crate::store::HandoffRecord]) -> Vec<HandoffCount> {
    use crate::store::HandoffOutcome;
    let mut counts: std::collections::BTreeMap<(&str, &str), HandoffCount> = Default::default();
    for h in handoffs {
        let (Some(unit), Some(outcome)) = (h.unit.as_deref(), h.outcome) else {
            continue;
        };
        let count = counts
            .entry((unit, h.category.as_str()))
            .or_insert_with(|| HandoffCount {
                unit: unit.to_string(),
                category: h.category.clone(),
                in_time: 0,
                late: 0,
            });
        match outcome {
            HandoffOutcome::InTime => count.in_time += 1,
            HandoffOutcome::Late => count.late += 1,
            _ => {}
        }
    }
    counts.into_values().collect()
}

/// `hotline report handoffs`: the month's attempts to reach units, grouped by hand-off (by
/// call without one), with the failures recorded for each.
pub async fn handoffs_report(
    store_path: &Path,
    month: &str,
    format: &str,
    utc_offset_hours: i32,
) -> Result<String, LedgerError> {
    let (month, format, records) =
        MonthRecords::read(store_path, month, format, utc_offset_hours).await?;
    let mut groups = group_attempts(&records.attempts, &records.failures);
    // Hand-offs with no attempt (closed as not needed, made by a unit's own call back...)
    // are listed too.
    for h in &records.handoffs {
        if !groups.iter().any(|g| g.handoff_id() == Some(h.id.as_str())) {
            groups.push(crate::ledger::AttemptGroup {
                group: crate::ledger::Group::Handoff(h.id.clone()),
                attempts: Vec::new(),
                failures: Vec::new(),
            });
        }
    }
    let listing = HandoffListing {
        month,
        utc_offset_hours,
        groups: &groups,
        records: &records.handoffs,
    };
    Ok(listing.render(format))
}

/// `hotline ledger void`: checks the request against the stored failure and its unit's
/// calendar (`calendar_of(unit id)`), then writes the void.
pub async fn void(
    store_path: &Path,
    request: VoidRequest,
    calendar_of: impl Fn(&str) -> Calendar,
    utc_offset_hours: i32,
) -> Result<FailureVoid, LedgerError> {
    if !UTC_OFFSET_RANGE.contains(&utc_offset_hours) {
        return Err(ReportError::BadUtcOffset(utc_offset_hours).into());
    }
    let store = SqliteStore::open(store_path).await?;
    let result = async {
        let failure = store.contact_failure(&request.failure_id).await?;
        let existing = store.failure_void(&request.failure_id).await?;
        let calendar = failure
            .as_ref()
            .map_or_else(super::appeal::weekdays, |f| calendar_of(&f.unit));
        let void = void_failure(
            request,
            failure.as_ref(),
            existing.as_ref(),
            &calendar,
            utc_offset_hours,
        )?;
        store.write_batch(&[Record::from(void.clone())]).await?;
        Ok(void)
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::store::{HandoffOutcome, HandoffRecord};

    fn handoff(
        unit: Option<&str>,
        category: &str,
        outcome: Option<HandoffOutcome>,
    ) -> HandoffRecord {
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        HandoffRecord {
            id: "h".into(),
            call_id: "call-1".into(),
            seat: "1001".into(),
            unit: unit.map(Into::into),
            category: category.into(),
            opened_at: at,
            started_at: at,
            first_dial_at: None,
            made_at: None,
            limit: Duration::from_secs(300),
            extension: None,
            breached_at: None,
            outcome,
            closed_at: None,
            closed_reason: None,
            made_by_call: None,
        }
    }

    #[test]
    fn only_made_handoffs_count_per_unit_and_category() {
        let records = [
            handoff(Some("2001"), "major", Some(HandoffOutcome::InTime)),
            handoff(Some("2001"), "major", Some(HandoffOutcome::Late)),
            handoff(Some("2001"), "major", Some(HandoffOutcome::InTime)),
            handoff(
                Some("2001"),
                "general",
                Some(HandoffOutcome::UnitUnreachable),
            ),
            handoff(Some("3001"), "general", None),
            handoff(None, "major", Some(HandoffOutcome::ClosedNotNeeded)),
        ];
        let counts = made_counts(&records);
        let major = HandoffCount {
            unit: "2001".into(),
            category: "major".into(),
            in_time: 2,
            late: 1,
        };
        let general = HandoffCount {
            unit: "2001".into(),
            category: "general".into(),
            in_time: 0,
            late: 0,
        };
        assert_eq!(counts, [general, major]);
    }
}
