//! Lines (线路): the channels a carrier sells on each trunk. The core counts the calls in
//! progress per trunk and per called number, refuses a new call past a trunk's `lines`, and
//! shows both counts as gauges, so that ops can tell the carrier how many lines the hotline uses.
//! For each trunk it keeps the day's peak (and when) and its busy hour (the local hour in which
//! the most calls started); the wall time comes in with each call.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use crate::calendar::Date;
use crate::call_id::CallId;
use crate::config::settings::TrunkSettings;
use crate::metrics::{labels, names};
use crate::report::lines::LinesDay;

#[derive(Debug, Default)]
pub struct Lines {
    /// Configured lines per trunk; a trunk not here is unlimited.
    limits: HashMap<String, u32>,
    in_use: HashMap<String, usize>,
    by_number: HashMap<String, usize>,
    calls: HashMap<CallId, (String, String)>,
    /// Each trunk's day so far.
    days: HashMap<String, Day>,
    /// Trunks in configuration order, for views.
    trunks: Vec<String>,
}

/// When a call took a line: the local date and hour, and the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub date: Date,
    pub hour: u8,
    pub at: SystemTime,
}

/// A trunk's day: its peak of lines in use, and the calls that started in each local hour.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Day {
    date: Date,
    lines: LinesDay,
}

/// A trunk's lines as they are, with its day so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkLines {
    pub trunk: String,
    /// None: unlimited.
    pub lines: Option<u32>,
    pub in_use: usize,
    pub date: Option<Date>,
    pub peak: usize,
    pub peak_at: Option<SystemTime>,
    /// The local hour with the most calls started today, and how many; the earliest on a tie.
    pub busy_hour: Option<(u8, u32)>,
}

impl Lines {
    pub fn new(trunks: &[TrunkSettings]) -> Lines {
        let mut lines = Lines {
            trunks: trunks.iter().map(|t| t.name.clone()).collect(),
            ..Lines::default()
        };
        for t in trunks {
            if let Some(n) = t.lines {
                lines.limits.insert(t.name.clone(), n);
                metrics::gauge!(names::TRUNK_LINES, labels::TRUNK => t.name.clone())
                    .set(f64::from(n));
            }
            lines.show_trunk(&t.name);
        }
        lines
    }

    /// Whether `trunk` has a line free for one more call.
    pub fn free(&self, trunk: &str) -> bool {
        self.limits
            .get(trunk)
            .is_none_or(|&limit| self.in_use.get(trunk).copied().unwrap_or(0) < limit as usize)
    }

    /// `call`, from `trunk` to `number`, takes a line until [`Lines::release`], at `now`.
    pub fn take(&mut self, call: CallId, trunk: &str, number: &str, now: Moment) {
        *self.in_use.entry(trunk.to_string()).or_default() += 1;
        let in_use = self.in_use(trunk);
        let day = self.days.entry(trunk.to_string()).or_insert(Day {
            date: now.date,
            lines: LinesDay::default(),
        });
        if day.date != now.date {
            *day = Day {
                date: now.date,
                lines: LinesDay::default(),
            };
        }
        let day = &mut day.lines;
        day.calls += 1;
        let in_use = u32::try_from(in_use).unwrap_or(u32::MAX);
        if in_use > day.peak {
            day.peak = in_use;
            day.peak_at = Some(now.at);
        }
        if let Some(n) = day.started.get_mut(usize::from(now.hour)) {
            *n += 1;
        }
        *self.by_number.entry(number.to_string()).or_default() += 1;
        self.calls
            .insert(call, (trunk.to_string(), number.to_string()));
        self.show_trunk(trunk);
        self.show_number(number);
    }

    /// Takes up `trunk`'s day `date` as the store had it (the daemon started again that day).
    pub fn resume(&mut self, trunk: &str, date: Date, lines: LinesDay) {
        self.days.insert(trunk.to_string(), Day { date, lines });
    }

    /// `call` has ended; nothing happens for a call that held no line.
    pub fn release(&mut self, call: CallId) {
        let Some((trunk, number)) = self.calls.remove(&call) else {
            return;
        };
        for (map, key) in [(&mut self.in_use, &trunk), (&mut self.by_number, &number)] {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
            }
        }
        self.show_trunk(&trunk);
        self.show_number(&number);
    }

    pub fn in_use(&self, trunk: &str) -> usize {
        self.in_use.get(trunk).copied().unwrap_or(0)
    }

    /// Every trunk (configured ones in order, then any other that took a line) with its day.
    pub fn trunks(&self) -> Vec<TrunkLines> {
        let mut names = self.trunks.clone();
        let mut others: Vec<&String> = self
            .in_use
            .keys()
            .filter(|t| !self.trunks.contains(t))
            .collect();
        others.sort();
        names.extend(others.into_iter().cloned());
        names
            .into_iter()
            .map(|trunk| {
                let day = self.days.get(&trunk);
                TrunkLines {
                    lines: self.limits.get(&trunk).copied(),
                    in_use: self.in_use(&trunk),
                    date: day.map(|d| d.date),
                    peak: day.map_or(0, |d| d.lines.peak as usize),
                    peak_at: day.and_then(|d| d.lines.peak_at),
                    busy_hour: day.and_then(|d| d.lines.busy_hour()),
                    trunk,
                }
            })
            .collect()
    }

    /// Lines in use per called number, by number.
    pub fn numbers(&self) -> Vec<(String, usize)> {
        let sorted: BTreeMap<&String, &usize> = self.by_number.iter().collect();
        sorted.into_iter().map(|(n, c)| (n.clone(), *c)).collect()
    }

    fn show_trunk(&self, trunk: &str) {
        metrics::gauge!(names::TRUNK_LINES_IN_USE, labels::TRUNK => trunk.to_string())
            .set(self.in_use(trunk) as f64);
    }

    fn show_number(&self, number: &str) {
        let n = self.by_number.get(number).copied().unwrap_or(0);
        metrics::gauge!(names::NUMBER_LINES_IN_USE, labels::NUMBER => number.to_string())
            .set(n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(name: &str, lines: Option<u32>) -> TrunkSettings {
        TrunkSettings {
            name: name.into(),
            sources: Vec::new(),
            auth: None,
            outbound: None,
            lines,
        }
    }

    fn moment(day: u8, hour: u8, secs: u64) -> Moment {
        Moment {
            date: Date::new(2026, 12, day).expect("a date"),
            hour,
            at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_trunk_keeps_its_days_peak_and_busy_hour() {
        let mut lines = Lines::new(&[trunk("carrier", Some(30))]);
        lines.take(CallId(1), "carrier", "12345", moment(4, 9, 100));
        lines.take(CallId(2), "carrier", "12345", moment(4, 10, 200));
        lines.take(CallId(3), "carrier", "12349", moment(4, 10, 300));
        lines.release(CallId(1));
        lines.release(CallId(2));
        lines.take(CallId(4), "carrier", "12345", moment(4, 11, 400));
        let day = &lines.trunks()[0];
        assert_eq!((day.in_use, day.peak), (2, 3));
        assert_eq!(day.peak_at, Some(moment(4, 10, 300).at));
        assert_eq!(day.busy_hour, Some((10, 2)));
        assert_eq!(day.lines, Some(30));
        assert_eq!(
            lines.numbers(),
            [("12345".to_string(), 1), ("12349".to_string(), 1)]
        );
        // A new day starts from the lines in use then.
        lines.take(CallId(5), "carrier", "12345", moment(5, 0, 90_000));
        let day = &lines.trunks()[0];
        assert_eq!((day.peak, day.busy_hour), (3, Some((0, 1))));
        assert_eq!(day.date, Date::new(2026, 12, 5).ok());
    }

    #[test]
    fn a_day_taken_up_again_after_a_restart_keeps_its_peak() {
        let mut lines = Lines::new(&[trunk("carrier", Some(30))]);
        let mut earlier = LinesDay {
            calls: 7,
            peak: 5,
            peak_at: Some(moment(4, 9, 100).at),
            ..LinesDay::default()
        };
        earlier.started[9] = 7;
        lines.resume("carrier", Date::new(2026, 12, 4).expect("a date"), earlier);
        lines.take(CallId(1), "carrier", "12345", moment(4, 10, 200));
        let day = &lines.trunks()[0];
        assert_eq!((day.in_use, day.peak, day.busy_hour), (1, 5, Some((9, 7))));
        assert_eq!(day.peak_at, Some(moment(4, 9, 100).at));
        // A day of the store that is not today is not today's.
        lines.resume(
            "carrier",
            Date::new(2026, 12, 3).expect("a date"),
            LinesDay::default(),
        );
        lines.take(CallId(2), "carrier", "12345", moment(4, 11, 300));
        assert_eq!(lines.trunks()[0].peak, 2);
    }

    #[test]
    fn a_trunk_refuses_past_its_lines_and_frees_one_when_a_call_ends() {
        let mut lines = Lines::new(&[trunk("carrier", Some(2)), trunk("other", None)]);
        assert!(lines.free("carrier"));
        lines.take(CallId(1), "carrier", "12345", moment(4, 9, 0));
        lines.take(CallId(2), "carrier", "12349", moment(4, 9, 1));
        assert!(!lines.free("carrier"));
        assert!(lines.free("other"), "no lines set: unlimited");
        lines.release(CallId(1));
        assert!(lines.free("carrier"));
        assert_eq!(lines.in_use("carrier"), 1);
        lines.release(CallId(1));
        assert_eq!(
            lines.in_use("carrier"),
            1,
            "a second release changes nothing"
        );
    }
}
