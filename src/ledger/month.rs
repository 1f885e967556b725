//! The monthly ledger, pure: per unit of the dialplan, its contact failures, those voided, the
//! contact score, and its hand-offs made in time and late by category.

use std::collections::{BTreeMap, HashSet};

use crate::dialplan::Unit;
use crate::report::YearMonth;
use crate::store::{ContactFailure, FailureVoid};

use super::rule::FailureRule;

/// The default `[handoffs]` categories, for the ledger's tests; the report shows the
/// configured ones.
pub const DEFAULT_CATEGORIES: [&str; 3] = ["major", "general", "complex"];

/// A unit as the ledger names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerUnit {
    pub id: String,
    pub name: String,
    /// `None` for a unit that has failures on record but is no longer in the dialplan.
    pub level: Option<u8>,
}

impl From<&Unit> for LedgerUnit {
    fn from(unit: &Unit) -> Self {
        LedgerUnit {
            id: unit.id.clone(),
            name: unit.name.clone(),
            level: Some(unit.level.number()),
        }
    }
}

/// The month's hand-offs of one unit and category, as the hand-off store counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffCount {
    pub unit: String,
    pub category: String,
    pub in_time: u64,
    pub late: u64,
}

/// Hand-offs of one category, made in time and late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MadeCounts {
    pub in_time: u64,
    pub late: u64,
}

/// One unit's line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitLedger {
    pub unit: LedgerUnit,
    /// Every failure of the month, voided or not.
    pub failures: u32,
    pub voided: u32,
    /// max(0, max_points − the points of the failures not voided).
    pub score: u32,
    /// Every category shown, in order, with this unit's counts (zero when none).
    pub handoffs: Vec<(String, MadeCounts)>,
}

/// The ledger of one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthLedger {
    pub month: YearMonth,
    pub utc_offset_hours: i32,
    pub max_points: u32,
    /// The dialplan's units in its order, then units with failures that it no longer has.
    pub units: Vec<UnitLedger>,
}

/// What the ledger is computed from. `failures` and `voids` may hold any months: a failure
/// counts in the month of its `at`, local time, and a void counts with its failure, whenever it
/// was made. `handoffs` are the month's counts already.
#[derive(Debug, Clone, Copy)]
pub struct LedgerInput<'a> {
    pub units: &'a [LedgerUnit],
    pub failures: &'a [ContactFailure],
    pub voids: &'a [FailureVoid],
    pub handoffs: &'a [HandoffCount],
    /// The categories every unit shows, in order; others found in `handoffs` follow.
    pub categories: &'a [&'a str],
}

/// The month's ledger. Each failure costs the points it was recorded with (the rule's points
/// when it was met), so a change of the rule does not rewrite past months; the score starts
/// from the rule's `max_points`.
pub fn month_ledger(
    input: LedgerInput<'_>,
    rule: &FailureRule,
    month: YearMonth,
    utc_offset_hours: i32,
) -> MonthLedger {
    let voided: HashSet<&str> = input.voids.iter().map(|v| v.failure_id.as_str()).collect();
    let mut units: Vec<LedgerUnit> = input.units.to_vec();
    let mut tallies: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    for failure in input
        .failures
        .iter()
        .filter(|f| month.contains(f.at, utc_offset_hours))
    {
        let (count, voids, lost) = tallies.entry(failure.unit.as_str()).or_default();
        *count += 1;
        if voided.contains(failure.id.as_str()) {
            *voids += 1;
        } else {
            *lost = lost.saturating_add(failure.points);
        }
    }
    for id in tallies.keys() {
        if !units.iter().any(|u| u.id == *id) {
            units.push(LedgerUnit {
                id: (*id).to_owned(),
                name: String::new(),
                level: None,
            });
        }
    }
    let mut categories: Vec<&str> = input.categories.to_vec();
    for count in input.handoffs {
        if !categories.contains(&count.category.as_str()) {
            categories.push(&count.category);
        }
    }
    let units = units
        .into_iter()
        .map(|unit| {
            let (failures, voided, lost) =
                tallies.get(unit.id.as_str()).copied().unwrap_or_default();
            let handoffs = categories
                .iter()
                .map(|&category| {
                    let mut made = MadeCounts::default();
                    for c in input
                        .handoffs
                        .iter()
                        .filter(|c| c.unit == unit.id && c.category == category)
                    {
                        made.in_time += c.in_time;
                        made.late += c.late;
                    }
                    (category.to_owned(), made)
                })
                .collect();
            UnitLedger {
                failures,
                voided,
                score: rule.max_points.saturating_sub(lost),
                handoffs,
                unit,
            }
        })
        .collect();
    MonthLedger {
        month,
        utc_offset_hours,
        max_points: rule.max_points,
        units,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::store::FailureKind;

    fn unit(id: &str, name: &str, level: u8) -> LedgerUnit {
        LedgerUnit {
            id: id.into(),
            name: name.into(),
            level: Some(level),
        }
    }

    fn units() -> Vec<LedgerUnit> {
        vec![
            unit("2001", "区住房和城乡建设局", 2),
            unit("3001", "和平街道办事处", 3),
        ]
    }

    /// Seconds since the epoch of a UTC date and time.
    fn utc(y: i32, mo: u8, d: u8, h: u64, mi: u64, s: u64) -> SystemTime {
        let days = crate::calendar::Date::new(y, mo, d)
            .unwrap()
            .days_since_epoch();
        UNIX_EPOCH + Duration::from_secs(days as u64 * 86_400 + h * 3600 + mi * 60 + s)
    }

    fn failure(n: u32, unit: &str, at: SystemTime) -> ContactFailure {
        ContactFailure {
            id: format!("cf-{n}"),
            unit: unit.into(),
            kind: FailureKind::Unanswered,
            at,
            handoff_id: Some(format!("ho-{n}")),
            call_id: format!("call-{n}"),
            seat: Some("1001".into()),
            evidence: vec![],
            points: 10,
        }
    }

    fn void(id: &str) -> FailureVoid {
        FailureVoid {
            failure_id: id.into(),
            at: utc(2026, 12, 3, 2, 0, 0),
            by: "ops".into(),
            reason: "upheld".into(),
            late: false,
        }
    }

    fn november() -> YearMonth {
        "2026-11".parse().unwrap()
    }

    fn ledger(
        failures: &[ContactFailure],
        voids: &[FailureVoid],
        handoffs: &[HandoffCount],
        month: YearMonth,
    ) -> MonthLedger {
        let units = units();
        let input = LedgerInput {
            units: &units,
            failures,
            voids,
            handoffs,
            categories: &DEFAULT_CATEGORIES,
        };
        month_ledger(input, &FailureRule::default(), month, 8)
    }

    fn scores(ledger: &MonthLedger) -> Vec<(&str, u32, u32, u32)> {
        ledger
            .units
            .iter()
            .map(|u| (u.unit.id.as_str(), u.failures, u.voided, u.score))
            .collect()
    }

    #[test]
    fn every_unit_appears_and_those_without_failures_keep_forty() {
        let l = ledger(&[], &[], &[], november());
        assert_eq!(scores(&l), [("2001", 0, 0, 40), ("3001", 0, 0, 40)]);
        let categories: Vec<&str> = l.units[0]
            .handoffs
            .iter()
            .map(|(c, _)| c.as_str())
            .collect();
        assert_eq!(categories, DEFAULT_CATEGORIES);
        assert_eq!(l.max_points, 40);
    }

    #[test]
    fn each_failure_costs_ten_down_to_zero_and_a_void_gives_them_back() {
        let nov = utc(2026, 11, 10, 2, 0, 0);
        let mut failures: Vec<ContactFailure> = (1..=5).map(|n| failure(n, "2001", nov)).collect();
        failures.push(failure(6, "3001", nov));
        failures.push(failure(7, "3001", nov));
        let l = ledger(&failures, &[void("cf-6")], &[], november());
        assert_eq!(scores(&l), [("2001", 5, 0, 0), ("3001", 2, 1, 30)]);
    }

    #[test]
    fn a_failure_counts_in_its_local_month() {
        // 23:59:59 on 30 November in Beijing is 15:59:59 UTC; 00:00:01 on 1 December is
        // 16:00:01 UTC on 30 November.
        let last_second = failure(1, "2001", utc(2026, 11, 30, 15, 59, 59));
        let first_second = failure(2, "2001", utc(2026, 11, 30, 16, 0, 1));
        let both = [last_second, first_second];
        let nov = ledger(&both, &[], &[], november());
        assert_eq!(scores(&nov)[0], ("2001", 1, 0, 30));
        let dec = ledger(&both, &[], &[], "2026-12".parse().unwrap());
        assert_eq!(scores(&dec)[0], ("2001", 1, 0, 30));
        let oct = ledger(&both, &[], &[], "2026-10".parse().unwrap());
        assert_eq!(scores(&oct)[0], ("2001", 0, 0, 40));
    }

    #[test]
    fn a_failure_keeps_the_points_it_was_recorded_with() {
        let mut f = failure(1, "2001", utc(2026, 11, 10, 2, 0, 0));
        f.points = 25;
        let rule = FailureRule {
            max_points: 60,
            ..FailureRule::default()
        };
        let units = units();
        let input = LedgerInput {
            units: &units,
            failures: &[f],
            voids: &[],
            handoffs: &[],
            categories: &[],
        };
        let l = month_ledger(input, &rule, november(), 8);
        assert_eq!(scores(&l), [("2001", 1, 0, 35), ("3001", 0, 0, 60)]);
    }

    #[test]
    fn a_unit_gone_from_the_dialplan_keeps_its_failures_in_the_ledger() {
        let f = failure(1, "4001", utc(2026, 11, 10, 2, 0, 0));
        let l = ledger(&[f], &[], &[], november());
        let last = l.units.last().unwrap();
        assert_eq!(
            (last.unit.id.as_str(), last.unit.level, last.score),
            ("4001", None, 30)
        );
    }

    #[test]
    fn hand_offs_are_counted_by_unit_and_category() {
        let count = |unit: &str, category: &str, in_time, late| HandoffCount {
            unit: unit.into(),
            category: category.into(),
            in_time,
            late,
        };
        let counts = [
            count("2001", "major", 2, 0),
            count("2001", "general", 3, 1),
            count("3001", "drill", 1, 1),
        ];
        let l = ledger(&[], &[], &counts, november());
        let of = |i: usize| -> Vec<(String, u64, u64)> {
            l.units[i]
                .handoffs
                .iter()
                .map(|(c, m)| (c.clone(), m.in_time, m.late))
                .collect()
        };
        let s = |c: &str, i, l| (c.to_owned(), i, l);
        assert_eq!(
            of(0),
            [
                s("major", 2, 0),
                s("general", 3, 1),
                s("complex", 0, 0),
                s("drill", 0, 0)
            ]
        );
        assert_eq!(of(1)[3], s("drill", 1, 1));
    }
}
