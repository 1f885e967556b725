//! Wall-clock times as stored: integer milliseconds since the Unix epoch; durations as
//! integer milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::StoreError;

/// `None` if the time is before the epoch or beyond what an i64 holds; callers turn that
/// into an error naming the record, because a clamped time would be false evidence.
pub fn to_millis(t: SystemTime) -> Option<i64> {
    let since = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

pub fn from_millis(ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(ms).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// A duration as stored: whole milliseconds, `None` beyond what an i64 holds.
pub fn duration_to_millis(d: Duration) -> Option<i64> {
    i64::try_from(d.as_millis()).ok()
}

pub fn duration_from_millis(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// The record a stored time belongs to, so that a time out of range is refused with an error
/// naming the record and the field.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    kind: &'static str,
    id: &'a str,
}

impl<'a> Owner<'a> {
    pub fn new(kind: &'static str, id: &'a str) -> Owner<'a> {
        Owner { kind, id }
    }

    pub fn out_of_range(&self, field: &'static str) -> StoreError {
        StoreError::TimeOutOfRange {
            kind: self.kind,
            id: self.id.to_owned(),
            field,
        }
    }

    /// `t` as stored, or the error naming this record's `field`.
    pub fn time(&self, field: &'static str, t: SystemTime) -> Result<i64, StoreError> {
        to_millis(t).ok_or_else(|| self.out_of_range(field))
    }

    pub fn maybe_time(
        &self,
        field: &'static str,
        t: Option<SystemTime>,
    ) -> Result<Option<i64>, StoreError> {
        t.map(|t| self.time(field, t)).transpose()
    }
}

/// A query bound in stored milliseconds. Unlike a record's time, a bound may be clamped:
/// nothing stored lies before the epoch or beyond i64 milliseconds.
pub fn bound(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(_) => to_millis(t).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_millisecond_precision() {
        let t = UNIX_EPOCH + Duration::from_millis(1_718_000_000_123);
        assert_eq!(to_millis(t), Some(1_718_000_000_123));
        assert_eq!(from_millis(1_718_000_000_123), Some(t));
    }

    #[test]
    fn refuses_times_before_the_epoch() {
        assert_eq!(to_millis(UNIX_EPOCH - Duration::from_secs(1)), None);
        assert_eq!(from_millis(-1), None);
    }

    #[test]
    fn durations_round_trip_at_millisecond_precision() {
        let d = Duration::from_millis(187_003);
        assert_eq!(duration_to_millis(d), Some(187_003));
        assert_eq!(duration_from_millis(187_003), Some(d));
        assert_eq!(duration_to_millis(Duration::MAX), None);
        assert_eq!(duration_from_millis(-1), None);
    }
}
