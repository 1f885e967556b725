//! A past day's lines (线路) from its call records: for each trunk, the most lines in use at
//! once and when, the calls that took a line in each local hour (and so the busy hour), and the
//! calls refused at the door. Pure: the records go in, the figures come out.
//!
//! Every call the daemon took holds a line from its offer to its end, and every call has a
//! record (written when it is taken, completed when it ends), so the records are the day's
//! lines; nothing else needs keeping. A call refused at the door never held one.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::calendar::to_local;
use crate::store::{CallRecord, OpenCall};

/// A call as the lines see it: the line it held, from when until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held<'a> {
    pub trunk: &'a str,
    pub number: &'a str,
    pub from: SystemTime,
    /// None: the call is still in progress.
    pub until: Option<SystemTime>,
    /// Refused at the door: it held no line.
    pub refused: bool,
}

impl<'a> From<&'a CallRecord> for Held<'a> {
    fn from(call: &'a CallRecord) -> Held<'a> {
        Held {
            trunk: &call.trunk,
            number: &call.called,
            from: call.offered_at,
            until: Some(call.ended_at),
            refused: call.refused_at_the_door(),
        }
    }
}

impl<'a> From<&'a OpenCall> for Held<'a> {
    fn from(call: &'a OpenCall) -> Held<'a> {
        Held {
            trunk: &call.trunk,
            number: &call.called,
            from: call.offered_at,
            until: None,
            refused: false,
        }
    }
}

/// One trunk's (or one called number's) day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinesDay {
    /// Calls that took a line this day.
    pub calls: u32,
    /// Calls refused at the door this day (every line busy, overload, no route).
    pub refused: u32,
    /// The most lines in use at once this day, and when that was first reached.
    pub peak: u32,
    pub peak_at: Option<SystemTime>,
    /// Calls that took a line in each local hour.
    pub started: [u32; 24],
}

impl LinesDay {
    /// The local hour with the most calls started, and how many; the earliest on a tie; None
    /// on a day without calls.
    pub fn busy_hour(&self) -> Option<(u8, u32)> {
        busy_hour(&self.started)
    }
}

/// The hour of `started` with the most calls, the earliest on a tie; None when all are 0.
pub fn busy_hour(started: &[u32; 24]) -> Option<(u8, u32)> {
    let most = *started.iter().max()?;
    let hour = started.iter().position(|&n| n == most)?;
    (most > 0).then_some((hour as u8, most))
}

/// The lines of the local day `[from, to)`, by trunk and by called number, from `calls`: every
/// call that may overlap the day, ended or in progress (a call offered the day before that
/// still held its line at midnight counts toward the peak, not toward the day's calls).
pub fn day(
    calls: &[Held<'_>],
    from: SystemTime,
    to: SystemTime,
    utc_offset_secs: i32,
) -> (BTreeMap<String, LinesDay>, BTreeMap<String, LinesDay>) {
    let mut trunks: BTreeMap<String, LinesDay> = BTreeMap::new();
    let mut numbers: BTreeMap<String, LinesDay> = BTreeMap::new();
    // (when, +1 or -1, trunk, number); ends sort before starts at the same instant.
    let mut changes: Vec<(SystemTime, i8, &str, &str)> = Vec::new();
    for call in calls {
        let offered_today = call.from >= from && call.from < to;
        if call.refused {
            if offered_today {
                for day in [
                    trunks.entry(call.trunk.to_string()).or_default(),
                    numbers.entry(call.number.to_string()).or_default(),
                ] {
                    day.refused += 1;
                }
            }
            continue;
        }
        if call.until.is_some_and(|until| until <= from) || call.from >= to {
            continue;
        }
        if offered_today {
            let hour = to_local(call.from, utc_offset_secs)
                .time
                .seconds_since_midnight()
                / 3600;
            for day in [
                trunks.entry(call.trunk.to_string()).or_default(),
                numbers.entry(call.number.to_string()).or_default(),
            ] {
                day.calls += 1;
                if let Some(n) = day.started.get_mut(hour as usize) {
                    *n += 1;
                }
            }
        }
        changes.push((call.from.max(from), 1, call.trunk, call.number));
        if let Some(until) = call.until.filter(|&until| until < to) {
            changes.push((until, -1, call.trunk, call.number));
        }
    }
    changes.sort_by_key(|&(at, step, _, _)| (at, step));
    let mut in_use: BTreeMap<(bool, &str), u32> = BTreeMap::new();
    for (at, step, trunk, number) in changes {
        for (is_trunk, key) in [(true, trunk), (false, number)] {
            let n = in_use.entry((is_trunk, key)).or_default();
            *n = if step > 0 {
                *n + 1
            } else {
                n.saturating_sub(1)
            };
            let day = if is_trunk {
                trunks.entry(key.to_string()).or_default()
            } else {
                numbers.entry(key.to_string()).or_default()
            };
            if *n > day.peak {
                day.peak = *n;
                day.peak_at = Some(at);
            }
        }
    }
    (trunks, numbers)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::Disposition;

    const DAY: u64 = 86_400;
    /// 2026-12-04 00:00 in UTC+8, as seconds since the epoch.
    const MIDNIGHT: u64 = 1_796_342_400 - 8 * 3600;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(MIDNIGHT + secs)
    }

    fn call(trunk: &str, called: &str, from: u64, to: u64) -> CallRecord {
        CallRecord {
            id: format!("{trunk}-{from}"),
            sip_call_id: format!("{from}@test"),
            trunk: trunk.into(),
            caller: "13800000000".into(),
            called: called.into(),
            seat: None,
            offered_at: at(from),
            answered_at: Some(at(from + 1)),
            ended_at: at(to),
            disposition: Disposition::Answered,
            sip_cause: None,
            ended_by: Some("caller".into()),
            queue: None,
        }
    }

    fn refused(trunk: &str, when: u64) -> CallRecord {
        CallRecord {
            answered_at: None,
            ended_at: at(when),
            disposition: Disposition::Rejected,
            sip_cause: Some(503),
            ended_by: Some("daemon".into()),
            ..call(trunk, "12345", when, when)
        }
    }

    #[test]
    fn the_peak_the_busy_hour_and_the_refused_calls_of_a_day() {
        let h = 3600;
        let calls = [
            call("carrier", "12345", 9 * h, 9 * h + 600),
            call("carrier", "12345", 10 * h, 10 * h + 300),
            call("carrier", "12349", 10 * h + 100, 10 * h + 400),
            // Ends at the instant the next starts: not two at once.
            call("carrier", "12345", 10 * h + 400, 10 * h + 500),
            call("mobile", "12345", 10 * h + 200, 10 * h + 250),
            refused("carrier", 10 * h + 150),
        ];
        let held: Vec<Held> = calls.iter().map(Held::from).collect();
        let (trunks, numbers) = day(&held, at(0), at(DAY), 8 * 3600);
        let carrier = &trunks["carrier"];
        assert_eq!((carrier.calls, carrier.refused, carrier.peak), (4, 1, 2));
        assert_eq!(carrier.peak_at, Some(at(10 * h + 100)));
        assert_eq!(carrier.busy_hour(), Some((10, 3)));
        let mobile = &trunks["mobile"];
        assert_eq!(
            (mobile.calls, mobile.peak, mobile.busy_hour()),
            (1, 1, Some((10, 1)))
        );
        // By number, across trunks: 12345 had the carrier's and the mobile's call at 10:03.
        assert_eq!(numbers["12345"].peak, 2);
        assert_eq!(numbers["12345"].peak_at, Some(at(10 * h + 200)));
        assert_eq!((numbers["12349"].calls, numbers["12349"].peak), (1, 1));
    }

    #[test]
    fn a_call_across_midnight_holds_a_line_in_both_days() {
        let late = call("carrier", "12345", DAY - 60, DAY + 60);
        let next_morning = call("carrier", "12345", DAY + 30, DAY + 90);
        let calls = [late, next_morning];
        let calls: Vec<Held> = calls.iter().map(Held::from).collect();
        let (today, _) = day(&calls, at(0), at(DAY), 8 * 3600);
        assert_eq!((today["carrier"].calls, today["carrier"].peak), (1, 1));
        assert_eq!(today["carrier"].busy_hour(), Some((23, 1)));
        let (tomorrow, _) = day(&calls, at(DAY), at(2 * DAY), 8 * 3600);
        let carrier = &tomorrow["carrier"];
        assert_eq!(
            (carrier.calls, carrier.peak),
            (1, 2),
            "the late call still held one"
        );
        assert_eq!(carrier.peak_at, Some(at(DAY + 30)));
        assert_eq!(carrier.busy_hour(), Some((0, 1)));
    }

    #[test]
    fn a_call_in_progress_holds_its_line_to_the_end_of_the_day() {
        let ended = call("carrier", "12345", 3600, 3700);
        let open = OpenCall {
            id: "open".into(),
            sip_call_id: "open@test".into(),
            trunk: "carrier".into(),
            caller: "13800000000".into(),
            called: "12345".into(),
            seat: None,
            offered_at: at(3650),
            answered_at: None,
        };
        let held = [Held::from(&ended), Held::from(&open)];
        let (trunks, _) = day(&held, at(0), at(DAY), 8 * 3600);
        assert_eq!((trunks["carrier"].calls, trunks["carrier"].peak), (2, 2));
        let (tomorrow, _) = day(&held, at(DAY), at(2 * DAY), 8 * 3600);
        assert_eq!(
            (tomorrow["carrier"].calls, tomorrow["carrier"].peak),
            (0, 1)
        );
    }

    #[test]
    fn a_day_without_calls_has_no_busy_hour() {
        let (trunks, numbers) = day(&[], at(0), at(DAY), 8 * 3600);
        assert!(trunks.is_empty() && numbers.is_empty());
        assert_eq!(busy_hour(&[0; 24]), None);
    }
}
