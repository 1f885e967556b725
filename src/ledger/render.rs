//! The ledger and the month's hand-offs as text: an aligned table, CSV (RFC 4180) and JSON.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::calendar::to_local;
use crate::report::{aligned, csv_field, Format};
use crate::store::{ContactAttempt, ContactFailure};

use super::month::{MadeCounts, MonthLedger, UnitLedger};
use super::rule::Group;

impl MonthLedger {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Csv => self.csv(),
            Format::Json => json_text(&LedgerJson::from(self)),
        }
    }

    fn categories(&self) -> Vec<&str> {
        self.units.first().map_or_else(Vec::new, |u| {
            u.handoffs.iter().map(|(c, _)| c.as_str()).collect()
        })
    }

    fn table(&self) -> String {
        let mut rows = vec![["unit", "name", "level", "failures", "voided", "score"]
            .into_iter()
            .chain(self.categories())
            .map(str::to_owned)
            .collect::<Vec<String>>()];
        for u in &self.units {
            let mut row = vec![
                u.unit.id.clone(),
                u.unit.name.clone(),
                level(u),
                u.failures.to_string(),
                u.voided.to_string(),
                u.score.to_string(),
            ];
            row.extend(
                u.handoffs
                    .iter()
                    .map(|(_, m)| format!("{}/{}", m.in_time, m.late)),
            );
            rows.push(row);
        }
        let mut out = format!(
            "Contact failures {} (local time, UTC{:+}): score = max(0, {} - points of the \
             failures not voided)\nHand-offs by category: made in time/late.\n\n",
            self.month, self.utc_offset_hours, self.max_points
        );
        out.push_str(&aligned(&rows, 2));
        out
    }

    fn csv(&self) -> String {
        let mut header = vec![
            "month", "unit", "name", "level", "failures", "voided", "score",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<String>>();
        for category in self.categories() {
            header.push(csv_field(&format!("{category}_in_time")));
            header.push(csv_field(&format!("{category}_late")));
        }
        let mut out = header.join(",");
        out.push_str("\r\n");
        for u in &self.units {
            let mut fields = vec![
                self.month.to_string(),
                csv_field(&u.unit.id),
                csv_field(&u.unit.name),
                u.unit.level.map_or_else(String::new, |l| l.to_string()),
                u.failures.to_string(),
                u.voided.to_string(),
                u.score.to_string(),
            ];
            for (_, m) in &u.handoffs {
                fields.push(m.in_time.to_string());
                fields.push(m.late.to_string());
            }
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

fn level(u: &UnitLedger) -> String {
    u.unit
        .level
        .map_or_else(|| "-".to_owned(), |l| l.to_string())
}

fn json_text(value: &impl Serialize) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    out.push('\n');
    out
}

/// `{"month":"2026-11","utc_offset_hours":8,"units":[…]}`, fields in this order.
#[derive(Serialize)]
struct LedgerJson<'a> {
    month: String,
    utc_offset_hours: i32,
    units: Vec<UnitJson<'a>>,
}

#[derive(Serialize)]
struct UnitJson<'a> {
    unit: &'a str,
    name: &'a str,
    level: Option<u8>,
    failures: u32,
    voided: u32,
    score: u32,
    handoffs: Categories<'a>,
}

/// The categories as one object, in the ledger's order.
struct Categories<'a>(&'a [(String, MadeCounts)]);

impl Serialize for Categories<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Made {
            in_time: u64,
            late: u64,
        }
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (category, m) in self.0 {
            let made = Made {
                in_time: m.in_time,
                late: m.late,
            };
            map.serialize_entry(category, &made)?;
        }
        map.end()
    }
}

impl<'a> From<&'a MonthLedger> for LedgerJson<'a> {
    fn from(ledger: &'a MonthLedger) -> Self {
        LedgerJson {
            month: ledger.month.to_string(),
            utc_offset_hours: ledger.utc_offset_hours,
            units: ledger
                .units
                .iter()
                .map(|u| UnitJson {
                    unit: &u.unit.id,
                    name: &u.unit.name,
                    level: u.unit.level,
                    failures: u.failures,
                    voided: u.voided,
                    score: u.score,
                    handoffs: Categories(&u.handoffs),
                })
                .collect(),
        }
    }
}

/// The attempts of one hand-off (or of one call, for attempts without a hand-off) and the
/// failures recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptGroup {
    pub group: Group,
    /// In the order given (by start time).
    pub attempts: Vec<ContactAttempt>,
    pub failures: Vec<String>,
}

impl AttemptGroup {
    /// The hand-off's id, or `None` when the group is a call without one.
    pub fn handoff_id(&self) -> Option<&str> {
        match &self.group {
            Group::Handoff(id) => Some(id),
            Group::Call(_) => None,
        }
    }

    pub fn call_id(&self) -> &str {
        self.attempts.first().map_or("", |a| a.call_id.as_str())
    }
}

/// Attempts grouped by hand-off (by call when they have none), groups in the order of their
/// first attempt; each with the ids of the failures recorded for the same hand-off (or call).
pub fn group_attempts(
    attempts: &[ContactAttempt],
    failures: &[ContactFailure],
) -> Vec<AttemptGroup> {
    let mut groups: Vec<AttemptGroup> = Vec::new();
    for attempt in attempts {
        let group = Group::of(attempt);
        match groups.iter_mut().find(|g| g.group == group) {
            Some(g) => g.attempts.push(attempt.clone()),
            None => groups.push(AttemptGroup {
                group,
                attempts: vec![attempt.clone()],
                failures: Vec::new(),
            }),
        }
    }
    for failure in failures {
        let group = match &failure.handoff_id {
            Some(id) => Group::Handoff(id.clone()),
            None => Group::Call(failure.call_id.clone()),
        };
        if let Some(g) = groups.iter_mut().find(|g| g.group == group) {
            g.failures.push(failure.id.clone());
        }
    }
    groups
}

/// The month's hand-offs, as far as the contact attempts tell them.
pub struct HandoffListing<'a> {
    pub month: crate::report::YearMonth,
    pub utc_offset_hours: i32,
    pub groups: &'a [AttemptGroup],
    /// The month's hand-offs as recorded (a group's hand-off is found here by id).
    pub records: &'a [crate::store::HandoffRecord],
}

impl HandoffListing<'_> {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Csv => self.csv(),
            Format::Json => json_text(&self.json()),
        }
    }

    /// Each attempt's fields as text: started (local), rung in seconds, SIP status or "".
    fn cells(&self, a: &ContactAttempt) -> [String; 7] {
        let started = to_local(a.started_at, self.utc_offset_hours * 3600);
        [
            a.unit.clone(),
            a.role.as_str().to_owned(),
            a.dialled.clone(),
            started.to_string(),
            format!("{:.1}", a.rung.as_secs_f64()),
            a.outcome.as_str().to_owned(),
            a.sip_status.map_or_else(String::new, |s| s.to_string()),
        ]
    }

    fn table(&self) -> String {
        let mut rows = vec![[
            "hand-off", "call", "unit", "role", "dialled", "started", "rung s", "outcome", "sip",
            "failure",
        ]
        .map(str::to_owned)
        .to_vec()];
        for g in self.groups {
            for (i, a) in g.attempts.iter().enumerate() {
                let first = i == 0;
                let mut row = vec![
                    if first {
                        g.handoff_id().unwrap_or("-")
                    } else {
                        ""
                    }
                    .to_owned(),
                    if first { g.call_id() } else { "" }.to_owned(),
                ];
                row.extend(self.cells(a));
                row.push(if first {
                    g.failures.join(" ")
                } else {
                    String::new()
                });
                rows.push(row);
            }
        }
        let mut out = format!(
            "Hand-offs {} (local time, UTC{:+})\n\n",
            self.month, self.utc_offset_hours
        );
        if !self.records.is_empty() {
            out.push_str(&aligned(&self.record_rows(), 0));
            out.push('\n');
        }
        out.push_str("Every attempt to reach a unit, by hand-off (by call without one)\n\n");
        out.push_str(&aligned(&rows, 6));
        out
    }

    /// One row per hand-off: who, what, when, and how it ended.
    fn record_rows(&self) -> Vec<Vec<String>> {
        let local =
            |t: std::time::SystemTime| to_local(t, self.utc_offset_hours * 3600).to_string();
        let mut rows = vec![[
            "hand-off", "call", "seat", "category", "unit", "opened", "limit s", "breached",
            "made", "outcome",
        ]
        .map(str::to_owned)
        .to_vec()];
        for h in self.records {
            rows.push(vec![
                h.id.clone(),
                h.call_id.clone(),
                h.seat.clone(),
                h.category.clone(),
                h.unit.clone().unwrap_or_else(|| "-".into()),
                local(h.opened_at),
                h.limit_now().as_secs().to_string(),
                h.breached_at.map_or_else(|| "-".into(), local),
                h.made_at.map_or_else(|| "-".into(), local),
                h.outcome.map_or("open", |o| o.as_str()).to_owned(),
            ]);
        }
        rows
    }

    fn csv(&self) -> String {
        let mut out = String::from(
            "month,handoff,call,unit,role,dialled,started,rung_ms,outcome,sip_status,failures\r\n",
        );
        for g in self.groups {
            for a in &g.attempts {
                let [unit, role, dialled, started, _, outcome, sip] = self.cells(a);
                let fields = [
                    self.month.to_string(),
                    csv_field(g.handoff_id().unwrap_or("")),
                    csv_field(&a.call_id),
                    csv_field(&unit),
                    role,
                    csv_field(&dialled),
                    started,
                    a.rung.as_millis().to_string(),
                    outcome,
                    sip,
                    csv_field(&g.failures.join(" ")),
                ];
                out.push_str(&fields.join(","));
                out.push_str("\r\n");
            }
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|g| {
                let attempts: Vec<serde_json::Value> = g
                    .attempts
                    .iter()
                    .map(|a| {
                        let [unit, role, dialled, started, _, outcome, _] = self.cells(a);
                        serde_json::json!({
                            "unit": unit,
                            "role": role,
                            "dialled": dialled,
                            "started": started,
                            "rung_ms": a.rung.as_millis() as u64,
                            "outcome": outcome,
                            "sip_status": a.sip_status,
                        })
                    })
                    .collect();
                let record = g
                    .handoff_id()
                    .and_then(|id| self.records.iter().find(|h| h.id == id));
                let local = |t: std::time::SystemTime| {
                    to_local(t, self.utc_offset_hours * 3600).to_string()
                };
                serde_json::json!({
                    "handoff": g.handoff_id(),
                    "call": match (g.call_id(), record) {
                        ("", Some(h)) => h.call_id.as_str(),
                        (call, _) => call,
                    },
                    "category": record.map(|h| h.category.clone()),
                    "seat": record.map(|h| h.seat.clone()),
                    "opened": record.map(|h| local(h.opened_at)),
                    "limit_secs": record.map(|h| h.limit_now().as_secs()),
                    "breached": record.and_then(|h| h.breached_at).map(local),
                    "made": record.and_then(|h| h.made_at).map(local),
                    "outcome": record.map(|h| h.outcome.map_or("open", |o| o.as_str())),
                    "failures": g.failures,
                    "attempts": attempts,
                })
            })
            .collect();
        serde_json::json!({
            "month": self.month.to_string(),
            "utc_offset_hours": self.utc_offset_hours,
            "handoffs": groups,
        })
    }
}

#[cfg(test)]
mod tests;
