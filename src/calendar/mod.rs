//! Working-day calendars: public holidays and make-up working days (调休) by date list, opening
//! hours, and deadlines counted in working days.
//!
//! China moves working days around every year by decree, so no weekday rule can say whether a
//! Saturday is worked: the calendar is the weekday default (Monday to Friday) corrected by lists.

pub mod date;
mod workdays;

pub use date::{days_in_month, is_leap_year, to_local, CivilDateTime, Date, TimeOfDay, Weekday};
pub use workdays::{Calendar, OpeningHours};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{0:?} is not a date in the form YYYY-MM-DD")]
    BadDate(String),
    #[error("{year:04}-{month:02}-{day:02} does not exist")]
    InvalidDate { year: i32, month: u8, day: u8 },
    #[error("{0:?} is not a time of day in the form HH:MM or HH:MM:SS")]
    BadTime(String),
}
