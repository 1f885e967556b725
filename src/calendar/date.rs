//! Civil (proleptic Gregorian) dates and times of day, without a date library.
//!
//! Everything counts in days from 1970-01-01. China keeps one offset all year (UTC+8, no DST),
//! so local time is UTC shifted by a configured number of seconds.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::CalendarError;

const SECS_PER_DAY: i64 = 86_400;
/// Days in a 400-year cycle of the Gregorian calendar (it repeats exactly after that).
const DAYS_PER_ERA: i64 = 146_097;
/// Days from 0000-03-01 to 1970-01-01: our eras start in March so that the leap day is last.
const EPOCH_SHIFT: i64 = 719_468;

/// A calendar day, written `2026-10-01` in configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    // Field order gives the derived `Ord` its meaning: year, then month, then day.
    year: i32,
    month: u8,
    day: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, CalendarError> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(CalendarError::InvalidDate { year, month, day });
        }
        Ok(Self { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(self) -> i64 {
        // Count from March so February's variable length falls at the end of a "year".
        let march_year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = march_year.div_euclid(400);
        let year_of_era = march_year - era * 400;
        let month_from_march = (i64::from(self.month) + 9) % 12;
        // Month lengths from March run 31,30,31,30,31,31,30,31,30,31,31,(28|29): this linear
        // formula lands exactly on each month's first day.
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT
    }

    /// The inverse of [`Date::days_since_epoch`].
    pub fn from_days_since_epoch(days: i64) -> Self {
        let shifted = days + EPOCH_SHIFT;
        let era = shifted.div_euclid(DAYS_PER_ERA);
        let day_of_era = shifted - era * DAYS_PER_ERA;
        // Remove the leap days of the era so far (one per 4 years, none per 100, one per 400;
        // the era's last day is the 400-year leap day) to find the year within the era.
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
            - day_of_era / (DAYS_PER_ERA - 1))
            / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Self {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        }
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        const FROM_MONDAY: [Weekday; 7] = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ];
        FROM_MONDAY[(self.days_since_epoch() + 3).rem_euclid(7) as usize]
    }

    pub fn add_days(self, days: i64) -> Self {
        Self::from_days_since_epoch(self.days_since_epoch() + days)
    }

    pub fn succ(self) -> Self {
        self.add_days(1)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = CalendarError;

    /// Only the ISO form `YYYY-MM-DD`, so that `10/01/2026` is not read two ways.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::BadDate(s.to_string());
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y) && digits(m) && digits(d)) {
            return Err(bad());
        }
        let (y, m, d) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        Date::new(y, m, d)
    }
}

impl TryFrom<String> for Date {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.to_string()
    }
}

/// Seconds after local midnight; `24:00` is allowed so that a day can close at its very end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(SECS_PER_DAY as u32);

    pub fn new(hour: u8, minute: u8, second: u8) -> Result<Self, CalendarError> {
        let secs = u32::from(hour) * 3600 + u32::from(minute) * 60 + u32::from(second);
        if minute > 59 || second > 59 || secs > SECS_PER_DAY as u32 {
            return Err(CalendarError::BadTime(format!(
                "{hour:02}:{minute:02}:{second:02}"
            )));
        }
        Ok(Self(secs))
    }

    pub fn seconds_since_midnight(self) -> u32 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

impl FromStr for TimeOfDay {
    type Err = CalendarError;

    /// `HH:MM` or `HH:MM:SS`, 24-hour clock.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::BadTime(s.to_string());
        let fields: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&fields.len())
            || fields
                .iter()
                .any(|f| f.len() != 2 || !f.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let num = |i: usize| fields.get(i).map_or(Ok(0), |f| f.parse::<u8>());
        let (h, m, sec) = (
            num(0).map_err(|_| bad())?,
            num(1).map_err(|_| bad())?,
            num(2).map_err(|_| bad())?,
        );
        TimeOfDay::new(h, m, sec).map_err(|_| bad())
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        t.to_string()
    }
}

/// A local date and wall-clock time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDateTime {
    pub date: Date,
    /// Always before [`TimeOfDay::END_OF_DAY`].
    pub time: TimeOfDay,
}

impl fmt::Display for CivilDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time.0;
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date,
            t / 3600,
            t / 60 % 60,
            t % 60
        )
    }
}

/// Local civil time of `t` at a fixed offset east of UTC (`28_800` for China).
pub fn to_local(t: SystemTime, utc_offset_secs: i32) -> CivilDateTime {
    let since_epoch = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        // Before 1970: floor, so that 1969-12-31 23:59:59.5 stays in 23:59:59.
        Err(e) => {
            let d = e.duration();
            -(d.as_secs() as i64) - i64::from(d.subsec_nanos() > 0)
        }
    };
    let local = since_epoch + i64::from(utc_offset_secs);
    CivilDateTime {
        date: Date::from_days_since_epoch(local.div_euclid(SECS_PER_DAY)),
        time: TimeOfDay(local.rem_euclid(SECS_PER_DAY) as u32),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn epoch_and_known_weekdays() {
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("1970-01-01").weekday(), Weekday::Thursday);
        assert_eq!(d("2000-01-01").weekday(), Weekday::Saturday);
        assert_eq!(d("1949-10-01").weekday(), Weekday::Saturday);
        assert_eq!(d("2024-02-29").weekday(), Weekday::Thursday);
        assert_eq!(d("2026-10-01").weekday(), Weekday::Thursday);
        assert_eq!(d("2026-10-10").weekday(), Weekday::Saturday);
        assert_eq!(d("2026-09-20").weekday(), Weekday::Sunday);
        assert_eq!(d("1969-12-31").days_since_epoch(), -1);
        assert_eq!(d("1969-12-31").weekday(), Weekday::Wednesday);
    }

    #[test]
    fn round_trips_every_day_across_four_centuries() {
        // 1600-03-01 .. 2400-03-01 covers both kinds of century year and two 400-year leap days.
        let start = d("1600-03-01").days_since_epoch();
        let mut expected = d("1600-03-01");
        for days in start..start + 2 * DAYS_PER_ERA {
            let date = Date::from_days_since_epoch(days);
            assert_eq!(date, expected, "day {days}");
            assert_eq!(date.days_since_epoch(), days);
            expected = next_by_hand(expected);
        }
    }

    /// The naive successor, to check the arithmetic against.
    fn next_by_hand(date: Date) -> Date {
        if date.day < days_in_month(date.year, date.month) {
            Date {
                day: date.day + 1,
                ..date
            }
        } else if date.month < 12 {
            Date {
                month: date.month + 1,
                day: 1,
                ..date
            }
        } else {
            Date {
                year: date.year + 1,
                month: 1,
                day: 1,
            }
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2024));
        assert!(is_leap_year(2000));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(2026));
        assert!(Date::new(2028, 2, 29).is_ok());
        assert!(Date::new(2026, 2, 29).is_err());
        assert!(Date::new(2100, 2, 29).is_err());
        assert_eq!(d("2024-02-28").succ(), d("2024-02-29"));
        assert_eq!(d("2026-02-28").succ(), d("2026-03-01"));
        assert_eq!(d("2026-12-31").succ(), d("2027-01-01"));
        assert_eq!(d("2027-01-01").add_days(-1), d("2026-12-31"));
    }

    #[test]
    fn parsing_is_strict() {
        assert_eq!(d("2026-10-01").to_string(), "2026-10-01");
        for bad in [
            "2026-10-1",
            "2026/10/01",
            "2026-13-01",
            "2026-04-31",
            "+026-10-01",
            "2026-10-01x",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert_eq!(
            "08:30"
                .parse::<TimeOfDay>()
                .unwrap()
                .seconds_since_midnight(),
            30_600
        );
        assert_eq!("24:00".parse::<TimeOfDay>().unwrap(), TimeOfDay::END_OF_DAY);
        assert_eq!(
            "17:30:15".parse::<TimeOfDay>().unwrap().to_string(),
            "17:30:15"
        );
        for bad in ["8:30", "24:01", "12:60", "12", "12:00:00:00", "ab:cd"] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
    }

    #[test]
    fn local_time_at_utc_plus_8() {
        // 2026-09-30T16:30:00Z is 00:30 on National Day in Beijing.
        let utc = d("2026-09-30").days_since_epoch() * SECS_PER_DAY + 16 * 3600 + 30 * 60;
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(utc as u64);
        let local = to_local(t, 8 * 3600);
        assert_eq!(local.to_string(), "2026-10-01 00:30:00");
        assert_eq!(to_local(t, 0).to_string(), "2026-09-30 16:30:00");
        let before = SystemTime::UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(to_local(before, 0).to_string(), "1969-12-31 23:59:59");
    }
}
