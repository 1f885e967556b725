//! A named working-day calendar as it appears in configuration, and the questions asked of it.

use std::time::Duration;

use serde::Deserialize;

use super::date::{CivilDateTime, Date, TimeOfDay};
use crate::checks::Issue;

const SECS_PER_DAY: u64 = 86_400;

/// ```toml
/// [[calendars]]
/// name = "cn"
/// holidays = ["2026-10-01", "2026-10-02"]   # days off, whatever their weekday
/// workdays = ["2026-09-20", "2026-10-10"]   # make-up working days on weekends
/// hours = [{ open = "08:30", close = "12:00" }, { open = "13:30", close = "17:30" }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub name: String,
    #[serde(default)]
    pub holidays: Vec<Date>,
    #[serde(default)]
    pub workdays: Vec<Date>,
    /// Opening hours of every working day, make-up days included. Empty means open all day.
    #[serde(default)]
    pub hours: Vec<OpeningHours>,
}

/// `[open, close)` in local time on one day; spans across midnight are two spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    pub open: TimeOfDay,
    pub close: TimeOfDay,
}

impl Calendar {
    /// Monday to Friday unless listed as a holiday; Saturday and Sunday only if listed as a
    /// make-up working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        if date.weekday().is_weekend() {
            self.workdays.contains(&date)
        } else {
            !self.holidays.contains(&date)
        }
    }

    pub fn is_open(&self, at: CivilDateTime) -> bool {
        self.is_working_day(at.date)
            && (self.hours.is_empty()
                || self
                    .hours
                    .iter()
                    .any(|h| h.open <= at.time && at.time < h.close))
    }

    /// How long from `at` until the calendar is open: zero while it is open.
    pub fn wait_until_open(&self, at: CivilDateTime) -> Duration {
        if self.is_open(at) {
            return Duration::ZERO;
        }
        let now = u64::from(at.time.seconds_since_midnight());
        let opens: Vec<u64> = if self.hours.is_empty() {
            vec![0]
        } else {
            self.hours
                .iter()
                .map(|h| u64::from(h.open.seconds_since_midnight()))
                .collect()
        };
        let mut day = at.date;
        // Holidays are a finite list, so a working day comes within their number plus a week.
        for ahead in 0..=(self.holidays.len() as u64 + 8) {
            if self.is_working_day(day) {
                let first = opens
                    .iter()
                    .copied()
                    .filter(|&open| ahead > 0 || open > now)
                    .min();
                if let Some(open) = first {
                    return Duration::from_secs(ahead * SECS_PER_DAY + open - now);
                }
            }
            day = day.succ();
        }
        Duration::from_secs((self.holidays.len() as u64 + 8) * SECS_PER_DAY)
    }

    /// The first working day after `date` (never `date` itself).
    pub fn next_working_day(&self, date: Date) -> Date {
        let mut day = date.succ();
        // Terminates: holidays are a finite list, so some later weekday is always worked.
        while !self.is_working_day(day) {
            day = day.succ();
        }
        day
    }

    /// The day `n` working days after `date`, counting from the day after, the way ticket
    /// deadlines run: a ticket signed in on Friday with 1 working day is due the next working
    /// day. `n = 0` is `date` itself.
    pub fn add_working_days(&self, date: Date, n: u32) -> Date {
        (0..n).fold(date, |day, _| self.next_working_day(day))
    }

    /// Every problem, with key paths under `key` (such as `calendars[0]`).
    pub fn validate(&self, key: &str) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut issue = |path: String, reason: String| issues.push(Issue { key: path, reason });
        if self.name.trim().is_empty() {
            issue(format!("{key}.name"), "must not be empty".into());
        }
        for (i, day) in self.holidays.iter().enumerate() {
            if self.holidays[..i].contains(day) {
                issue(
                    format!("{key}.holidays[{i}]"),
                    format!("{day} is listed twice"),
                );
            }
        }
        for (i, day) in self.workdays.iter().enumerate() {
            let at = format!("{key}.workdays[{i}]");
            if self.workdays[..i].contains(day) {
                issue(at, format!("{day} is listed twice"));
            } else if self.holidays.contains(day) {
                issue(at, format!("{day} is also listed as a holiday"));
            } else if !day.weekday().is_weekend() {
                // Most likely a typo for the neighbouring weekend day: say so rather than ignore.
                issue(
                    at,
                    format!("{day} is a {:?}, already a working day", day.weekday()),
                );
            }
        }
        for (i, span) in self.hours.iter().enumerate() {
            let at = format!("{key}.hours[{i}]");
            if span.open >= span.close {
                issue(
                    at,
                    format!("opens at {} but closes at {}", span.open, span.close),
                );
            } else if let Some(j) = self.hours[..i]
                .iter()
                .position(|o| o.open < span.close && span.open < o.close)
            {
                issue(at, format!("overlaps {key}.hours[{j}]"));
            }
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Weekday;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// The State Council's 2026 arrangement (国办发明电, 2025-11-04) from Mid-Autumn to
    /// National Day: 9-25 off (a Friday), 10-01..10-07 off, 9-20 (Sun) and 10-10 (Sat) worked.
    fn cn_2026() -> Calendar {
        toml::from_str(
            r#"
            name = "cn"
            holidays = ["2026-09-25", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04",
                        "2026-10-05", "2026-10-06", "2026-10-07"]
            workdays = ["2026-09-20", "2026-10-10"]
            hours = [{ open = "08:30", close = "12:00" }, { open = "13:30", close = "17:30" }]
            "#,
        )
        .unwrap()
    }

    fn at(date: &str, time: &str) -> CivilDateTime {
        CivilDateTime {
            date: d(date),
            time: time.parse().unwrap(),
        }
    }

    fn hm(hours: u64, minutes: u64) -> Duration {
        Duration::from_secs(hours * 3600 + minutes * 60)
    }

    #[test]
    fn the_wait_until_open_is_zero_while_open_and_runs_to_the_next_span_or_working_day() {
        let cal = cn_2026();
        assert_eq!(
            cal.wait_until_open(at("2026-09-30", "09:00")),
            Duration::ZERO
        );
        // Before the morning span, at lunch, after hours.
        assert_eq!(cal.wait_until_open(at("2026-09-30", "07:00")), hm(1, 30));
        assert_eq!(cal.wait_until_open(at("2026-09-30", "12:00")), hm(1, 30));
        // 2026-09-30 is a Wednesday; 10-01..10-07 are off, 10-08 (Thursday) is worked.
        assert_eq!(
            cal.wait_until_open(at("2026-09-30", "17:30")),
            hm(7 * 24 + 15, 0)
        );
        // Saturday 10-10 is a make-up working day; Sunday 10-11 is not.
        assert_eq!(cal.wait_until_open(at("2026-10-09", "20:00")), hm(12, 30));
        assert_eq!(
            cal.wait_until_open(at("2026-10-10", "18:00")),
            hm(24 + 14, 30)
        );
    }

    #[test]
    fn a_calendar_without_hours_opens_at_midnight_of_its_next_working_day() {
        let cal = Calendar {
            hours: Vec::new(),
            ..cn_2026()
        };
        assert_eq!(
            cal.wait_until_open(at("2026-10-08", "03:00")),
            Duration::ZERO
        );
        assert_eq!(cal.wait_until_open(at("2026-10-07", "23:00")), hm(1, 0));
    }

    #[test]
    fn national_day_2026() {
        let cal = cn_2026();
        assert!(cal.validate("calendars[0]").is_empty());
        for off in [
            "2026-10-01",
            "2026-10-05",
            "2026-10-07",
            "2026-09-25",
            "2026-10-11",
        ] {
            assert!(!cal.is_working_day(d(off)), "{off}");
        }
        for on in [
            "2026-09-20",
            "2026-09-30",
            "2026-10-08",
            "2026-10-09",
            "2026-10-10",
        ] {
            assert!(cal.is_working_day(d(on)), "{on}");
        }
        assert_eq!(d("2026-10-10").weekday(), Weekday::Saturday);
        assert!(
            !cal.is_working_day(d("2026-10-03")),
            "a Saturday inside the holiday"
        );
    }

    #[test]
    fn working_days_skip_the_golden_week() {
        let cal = cn_2026();
        // Signed in on 30 September: 1 working day is 8 October; 5 is 13 October, because the
        // make-up Saturday (10-10) counts and Sunday 10-11 does not.
        assert_eq!(cal.add_working_days(d("2026-09-30"), 1), d("2026-10-08"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 3), d("2026-10-10"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 5), d("2026-10-13"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 0), d("2026-09-30"));
        // From a holiday the count starts at the next working day.
        assert_eq!(cal.add_working_days(d("2026-10-03"), 1), d("2026-10-08"));
        // 9-18 (Fri) + 2: Sat 19 off, Sun 20 make-up, Mon 21.
        assert_eq!(cal.add_working_days(d("2026-09-18"), 2), d("2026-09-21"));
    }

    #[test]
    fn opening_hours_on_working_days_only() {
        let cal = cn_2026();
        let at = |date: &str, time: &str| CivilDateTime {
            date: d(date),
            time: time.parse().unwrap(),
        };
        assert!(cal.is_open(at("2026-10-10", "09:00")));
        assert!(cal.is_open(at("2026-10-09", "08:30")));
        assert!(!cal.is_open(at("2026-10-09", "08:29:59")));
        assert!(
            !cal.is_open(at("2026-10-09", "12:00")),
            "close is exclusive"
        );
        assert!(!cal.is_open(at("2026-10-09", "12:30")));
        assert!(cal.is_open(at("2026-10-09", "17:29")));
        assert!(!cal.is_open(at("2026-10-02", "09:00")));
        let all_day = Calendar {
            hours: vec![],
            ..cal
        };
        assert!(all_day.is_open(at("2026-10-09", "23:59:59")));
    }

    #[test]
    fn validation_names_every_problem() {
        let cal: Calendar = toml::from_str(
            r#"
            name = " "
            holidays = ["2026-10-01", "2026-10-01"]
            workdays = ["2026-10-01", "2026-10-09", "2026-10-10", "2026-10-10"]
            hours = [{ open = "13:00", close = "12:00" }, { open = "08:00", close = "12:00" },
                     { open = "11:00", close = "14:00" }]
            "#,
        )
        .unwrap();
        let keys: Vec<String> = cal
            .validate("calendars[2]")
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(
            keys,
            [
                "calendars[2].name",
                "calendars[2].holidays[1]",
                "calendars[2].workdays[0]",
                "calendars[2].workdays[1]",
                "calendars[2].workdays[3]",
                "calendars[2].hours[0]",
                "calendars[2].hours[2]",
            ]
        );
    }

    #[test]
    fn unknown_keys_and_bad_dates_are_refused() {
        assert!(toml::from_str::<Calendar>("name = \"x\"\nholiday = []").is_err());
        assert!(toml::from_str::<Calendar>("name = \"x\"\nholidays = [\"2026-02-30\"]").is_err());
        assert!(toml::from_str::<Calendar>(
            "name = \"x\"\nhours = [{ open = \"08:00\", close = \"12:00\", days = 5 }]"
        )
        .is_err());
    }
}
