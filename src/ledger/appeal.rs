//! Appeals, pure: a unit may appeal a contact failure within 5 working days of it, counted on
//! the unit's calendar (Monday to Friday when it has none). An operator voids an upheld
//! failure; past the window only on purpose (`late`). A void is a record of its own.

use std::time::SystemTime;

use crate::calendar::{to_local, Calendar, Date};
use crate::store::{ContactFailure, FailureVoid};

/// Working days after the day of the failure on which it may still be voided.
pub const APPEAL_WORKING_DAYS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoidError {
    #[error("no contact failure {0:?}")]
    UnknownFailure(String),
    #[error("contact failure {id} was already voided by {by} ({reason})")]
    AlreadyVoided {
        id: String,
        by: String,
        reason: String,
    },
    #[error(
        "the appeal window of contact failure {id} closed at the end of {deadline} \
         ({APPEAL_WORKING_DAYS} working days after {day}); void it anyway with --late"
    )]
    PastWindow {
        id: String,
        day: Date,
        deadline: Date,
    },
    #[error("a void needs a reason")]
    NoReason,
    #[error("a void needs the name of who voids it")]
    NoName,
}

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidRequest {
    pub failure_id: String,
    pub by: String,
    pub reason: String,
    /// Void even past the appeal window.
    pub late: bool,
    pub now: SystemTime,
}

/// The last local day on which a failure at `at` may be voided without `late`: the day
/// `APPEAL_WORKING_DAYS` working days after the failure's own day, on `calendar`.
pub fn appeal_deadline(at: SystemTime, calendar: &Calendar, utc_offset_hours: i32) -> Date {
    let day = to_local(at, utc_offset_hours * 3600).date;
    calendar.add_working_days(day, APPEAL_WORKING_DAYS)
}

/// The calendar of a unit without one: Monday to Friday, no holidays.
pub fn weekdays() -> Calendar {
    Calendar {
        name: "monday-to-friday".into(),
        holidays: Vec::new(),
        workdays: Vec::new(),
        hours: Vec::new(),
    }
}

/// The void to write for `request`, given the failure the store holds under its id and any void
/// already written for it. A void past the window is marked `late`.
pub fn void_failure(
    request: VoidRequest,
    failure: Option<&ContactFailure>,
    existing: Option<&FailureVoid>,
    calendar: &Calendar,
    utc_offset_hours: i32,
) -> Result<FailureVoid, VoidError> {
    let by = request.by.trim();
    let reason = request.reason.trim();
    if by.is_empty() {
        return Err(VoidError::NoName);
    }
    if reason.is_empty() {
        return Err(VoidError::NoReason);
    }
    let Some(failure) = failure else {
        return Err(VoidError::UnknownFailure(request.failure_id));
    };
    if let Some(void) = existing {
        return Err(VoidError::AlreadyVoided {
            id: failure.id.clone(),
            by: void.by.clone(),
            reason: void.reason.clone(),
        });
    }
    let deadline = appeal_deadline(failure.at, calendar, utc_offset_hours);
    let today = to_local(request.now, utc_offset_hours * 3600).date;
    let past = today > deadline;
    if past && !request.late {
        return Err(VoidError::PastWindow {
            id: failure.id.clone(),
            day: to_local(failure.at, utc_offset_hours * 3600).date,
            deadline,
        });
    }
    Ok(FailureVoid {
        failure_id: failure.id.clone(),
        at: request.now,
        by: by.to_owned(),
        reason: reason.to_owned(),
        late: past,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::store::FailureKind;

    /// Noon, Beijing time, on a local date.
    fn noon(date: &str) -> SystemTime {
        let days = date.parse::<Date>().unwrap().days_since_epoch();
        UNIX_EPOCH + Duration::from_secs(days as u64 * 86_400 + 4 * 3600)
    }

    fn failure_on(date: &str) -> ContactFailure {
        ContactFailure {
            id: "cf-call-1-1".into(),
            unit: "2001".into(),
            kind: FailureKind::Unanswered,
            at: noon(date),
            handoff_id: None,
            call_id: "call-1".into(),
            seat: None,
            evidence: vec![],
            points: 10,
        }
    }

    fn request(now: &str, late: bool) -> VoidRequest {
        VoidRequest {
            failure_id: "cf-call-1-1".into(),
            by: " 王主任 ".into(),
            reason: "the duty line was cut by roadworks".into(),
            late,
            now: noon(now),
        }
    }

    /// The shipped calendar's National Day week: 1, 2, 5, 6, 7 October off, 10 October worked.
    fn office() -> Calendar {
        Calendar {
            name: "office".into(),
            holidays: [
                "2026-10-01",
                "2026-10-02",
                "2026-10-05",
                "2026-10-06",
                "2026-10-07",
            ]
            .map(|d| d.parse().unwrap())
            .to_vec(),
            workdays: vec!["2026-10-10".parse().unwrap()],
            hours: vec![],
        }
    }

    fn void(
        now: &str,
        late: bool,
        calendar: &Calendar,
        on: &str,
    ) -> Result<FailureVoid, VoidError> {
        let failure = failure_on(on);
        void_failure(request(now, late), Some(&failure), None, calendar, 8)
    }

    #[test]
    fn five_working_days_on_weekdays_when_the_unit_has_no_calendar() {
        // Friday 6 November 2026: the fifth working day after is Friday the 13th.
        let cal = weekdays();
        assert_eq!(
            appeal_deadline(noon("2026-11-06"), &cal, 8),
            "2026-11-13".parse::<Date>().unwrap()
        );
        let ok = void("2026-11-13", false, &cal, "2026-11-06").unwrap();
        assert_eq!(
            (ok.by.as_str(), ok.late, ok.at),
            ("王主任", false, noon("2026-11-13"))
        );
        let err = void("2026-11-14", false, &cal, "2026-11-06").unwrap_err();
        assert!(matches!(err, VoidError::PastWindow { .. }), "{err:?}");
        assert!(err.to_string().contains("2026-11-13"), "{err}");
    }

    #[test]
    fn the_units_calendar_skips_holidays_and_counts_make_up_days() {
        // Wednesday 30 September: 8, 9, 10 (Saturday, worked), 12, 13 October.
        let deadline = appeal_deadline(noon("2026-09-30"), &office(), 8);
        assert_eq!(deadline, "2026-10-13".parse::<Date>().unwrap());
        assert!(void("2026-10-13", false, &office(), "2026-09-30").is_ok());
        assert!(void("2026-10-14", false, &office(), "2026-09-30").is_err());
    }

    #[test]
    fn the_failures_day_is_its_local_day() {
        // 20:00 UTC on Friday 6 November is 04:00 on Saturday the 7th in Beijing: either way
        // the five working days are 9 to 13 November.
        let at = noon("2026-11-06") + Duration::from_secs(16 * 3600);
        assert_eq!(
            appeal_deadline(at, &weekdays(), 8),
            "2026-11-13".parse::<Date>().unwrap()
        );
        assert_eq!(
            appeal_deadline(at, &weekdays(), 0),
            "2026-11-13".parse::<Date>().unwrap()
        );
        let thursday = noon("2026-11-05") + Duration::from_secs(16 * 3600);
        assert_eq!(
            appeal_deadline(thursday, &weekdays(), 8),
            "2026-11-13".parse::<Date>().unwrap(),
            "Friday 04:00 local"
        );
        assert_eq!(
            appeal_deadline(thursday, &weekdays(), 0),
            "2026-11-12".parse::<Date>().unwrap(),
            "Thursday 20:00 at UTC"
        );
    }

    #[test]
    fn late_voids_past_the_window_and_says_so() {
        let v = void("2026-12-01", true, &weekdays(), "2026-11-06").unwrap();
        assert!(v.late);
        // Within the window --late changes nothing.
        let v = void("2026-11-09", true, &weekdays(), "2026-11-06").unwrap();
        assert!(!v.late);
    }

    #[test]
    fn an_unknown_or_voided_failure_and_an_empty_reason_are_refused() {
        let cal = weekdays();
        let err = void_failure(request("2026-11-09", false), None, None, &cal, 8).unwrap_err();
        assert_eq!(err, VoidError::UnknownFailure("cf-call-1-1".into()));
        let failure = failure_on("2026-11-06");
        let first =
            void_failure(request("2026-11-09", false), Some(&failure), None, &cal, 8).unwrap();
        let err = void_failure(
            request("2026-11-10", true),
            Some(&failure),
            Some(&first),
            &cal,
            8,
        )
        .unwrap_err();
        assert!(matches!(err, VoidError::AlreadyVoided { .. }), "{err:?}");
        let mut blank = request("2026-11-09", false);
        blank.reason = "  ".into();
        let err = void_failure(blank, Some(&failure), None, &cal, 8).unwrap_err();
        assert_eq!(err, VoidError::NoReason);
    }
}
