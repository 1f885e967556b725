//! `hotline report ratings`: the monthly satisfaction figures (满意度, 400 of 1000 points) from
//! the stored ratings: result satisfaction (300) from keypad ratings and the survey's result
//! answers, attitude satisfaction (100) from keypad ratings and the survey's attitude answers. `ratings_report` and `Report::render` are pure; `run_report` opens the
//! database read-only and joins them up for the command line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::calendar::{to_local, Date};
use crate::ratings::{Rating, RatingKind, RatingOutcome};
use crate::store::{RatingRecord, SqliteStore, StoreError};
pub use table::{aligned, csv_field};

/// Offsets east of UTC that a local month may be counted in, as `time.utc_offset_hours`.
pub const UTC_OFFSET_RANGE: std::ops::RangeInclusive<i32> = -12..=14;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0:?} is not a month in the form YYYY-MM")]
    BadMonth(String),
    #[error("{0:?} is not a grouping: all, seat or unit")]
    BadGroupBy(String),
    #[error("{0:?} is not a format: table, csv or json")]
    BadFormat(String),
    #[error("UTC offset {0} h is outside -12..=14")]
    BadUtcOffset(i32),
    #[error("cannot read the ratings")]
    Store(#[from] StoreError),
}

/// A calendar month, `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

impl YearMonth {
    /// `None` unless `month` is 1-12 and the year has four digits.
    pub fn new(year: i32, month: u8) -> Option<YearMonth> {
        ((1..=12).contains(&month) && (1000..=9999).contains(&year))
            .then_some(YearMonth { year, month })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    fn first_day(self) -> Date {
        Date::new(self.year, self.month, 1).expect("the first of a valid month exists")
    }

    fn next(self) -> YearMonth {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                month: self.month + 1,
                ..self
            }
        }
    }

    /// Whether `t` falls in this month, local time at `utc_offset_hours` east of UTC.
    pub fn contains(self, t: SystemTime, utc_offset_hours: i32) -> bool {
        let date = to_local(t, utc_offset_hours * 3600).date;
        (date.year(), date.month()) == (self.year, self.month)
    }

    /// The instants `[from, to)` that are this month in local time, for querying the store.
    pub fn utc_window(self, utc_offset_hours: i32) -> (SystemTime, SystemTime) {
        let start = |m: YearMonth| {
            let secs =
                m.first_day().days_since_epoch() * 86_400 - i64::from(utc_offset_hours) * 3600;
            let magnitude = Duration::from_secs(secs.unsigned_abs());
            if secs >= 0 {
                UNIX_EPOCH + magnitude
            } else {
                UNIX_EPOCH - magnitude
            }
        };
        (start(self), start(self.next()))
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ReportError::BadMonth(s.to_owned());
        let (year, month) = s.split_once('-').ok_or_else(bad)?;
        let digits =
            |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(bad());
        }
        let year = year.parse().map_err(|_| bad())?;
        let month = month.parse().map_err(|_| bad())?;
        YearMonth::new(year, month).ok_or_else(bad)
    }
}

/// What the report puts on each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One row: the whole hotline.
    All,
    /// A row per seat that served the caller.
    Seat,
    /// A row per unit the matter was handed to.
    Unit,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::All => "all",
            GroupBy::Seat => "seat",
            GroupBy::Unit => "unit",
        }
    }

    fn key(self, rating: &RatingRecord) -> Option<String> {
        match self {
            GroupBy::All => None,
            GroupBy::Seat => rating.seat.clone(),
            GroupBy::Unit => rating.unit.clone(),
        }
    }
}

impl FromStr for GroupBy {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(GroupBy::All),
            "seat" => Ok(GroupBy::Seat),
            "unit" => Ok(GroupBy::Unit),
            _ => Err(ReportError::BadGroupBy(s.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// RFC 4180, one header line; a missing figure is an empty field.
    Csv,
    /// One object; a missing figure is `null`.
    Json,
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(ReportError::BadFormat(s.to_owned())),
        }
    }
}

/// A figure to one decimal place, kept as an integer count of tenths so that rounding is
/// exact and the same in every format: half a tenth rounds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tenths(pub u64);

impl Tenths {
    /// `numerator / denominator` to the nearest tenth; `None` when the denominator is 0.
    fn ratio(numerator: u64, denominator: u64) -> Option<Tenths> {
        (denominator > 0).then(|| Tenths((20 * numerator + denominator) / (2 * denominator)))
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 10.0
    }
}

impl fmt::Display for Tenths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// Weight of result satisfaction in the monthly assessment, of 1000 points.
pub const RESULT_WEIGHT: u64 = 300;
/// Weight of attitude satisfaction in the monthly assessment, of 1000 points.
pub const ATTITUDE_WEIGHT: u64 = 100;

/// The ratings of one group in one month, for one assessed item (result or attitude).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// a
    pub satisfied: u64,
    /// b
    pub basically_satisfied: u64,
    /// c
    pub dissatisfied: u64,
    /// Calls offered for rating that ended without one.
    pub not_rated: u64,
}

impl Counts {
    fn add(&mut self, outcome: RatingOutcome) {
        match outcome {
            RatingOutcome::Rated(Rating::Satisfied) => self.satisfied += 1,
            RatingOutcome::Rated(Rating::BasicallySatisfied) => self.basically_satisfied += 1,
            RatingOutcome::Rated(Rating::Dissatisfied) => self.dissatisfied += 1,
            RatingOutcome::NotRated(_) => self.not_rated += 1,
        }
    }

    /// N = a + b + c.
    pub fn rated(&self) -> u64 {
        self.satisfied + self.basically_satisfied + self.dissatisfied
    }

    /// Calls offered for rating: rated or not.
    pub fn offered(&self) -> u64 {
        self.rated() + self.not_rated
    }

    /// 5a + 3b + c.
    pub fn points(&self) -> u64 {
        Rating::ALL
            .into_iter()
            .zip([self.satisfied, self.basically_satisfied, self.dissatisfied])
            .map(|(r, n)| u64::from(r.points()) * n)
            .sum()
    }

    /// N / offered, in percent.
    pub fn response_rate(&self) -> Option<Tenths> {
        Tenths::ratio(100 * self.rated(), self.offered())
    }

    /// (a + b) / N, in percent. Basically satisfied counts as satisfied here: the "satisfaction
    /// ≥ 90%" bar that units are held to is, in the hotline rules, the share of rated calls
    /// that were satisfied or basically satisfied (满意率 = (满意 + 基本满意) / 评价总数). The
    /// weighted view, where basically satisfied is worth less, is what the scores below give.
    /// Unrated calls are left out, as the rules leave them out of the scores.
    pub fn satisfaction_rate(&self) -> Option<Tenths> {
        Tenths::ratio(
            100 * (self.satisfied + self.basically_satisfied),
            self.rated(),
        )
    }

    /// (5a + 3b + c) / (5N) × weight. `None` when nothing was rated.
    pub fn score(&self, weight: u64) -> Option<Tenths> {
        let best = u64::from(Rating::Satisfied.points()) * self.rated();
        Tenths::ratio(self.points() * weight, best)
    }
}

/// An assessed item of satisfaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// 办理结果满意度, 300 points.
    Result,
    /// 服务态度满意度, 100 points.
    Attitude,
}

impl Item {
    pub const ALL: [Item; 2] = [Item::Result, Item::Attitude];

    pub fn as_str(self) -> &'static str {
        match self {
            Item::Result => "result",
            Item::Attitude => "attitude",
        }
    }

    pub fn weight(self) -> u64 {
        match self {
            Item::Result => RESULT_WEIGHT,
            Item::Attitude => ATTITUDE_WEIGHT,
        }
    }

    /// Which items a rating of `kind` counts for. A keypad rating is about the service as a
    /// whole, so it counts for both; a survey answer only for the question it answers.
    pub fn of(kind: RatingKind) -> &'static [Item] {
        // Exhaustive on purpose: a new kind must be placed here before it compiles.
        match kind {
            RatingKind::Keypad => &Item::ALL,
            RatingKind::SurveyResult => &[Item::Result],
            RatingKind::SurveyAttitude => &[Item::Attitude],
        }
    }
}

/// The counts of both items for one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub result: Counts,
    pub attitude: Counts,
}

impl ItemCounts {
    fn add(&mut self, kind: RatingKind, outcome: RatingOutcome) {
        for &item in Item::of(kind) {
            self.get_mut(item).add(outcome);
        }
    }

    pub fn get(&self, item: Item) -> &Counts {
        match item {
            Item::Result => &self.result,
            Item::Attitude => &self.attitude,
        }
    }

    fn get_mut(&mut self, item: Item) -> &mut Counts {
        match item {
            Item::Result => &mut self.result,
            Item::Attitude => &mut self.attitude,
        }
    }

    /// Result satisfaction: (5a + 3b + c) / (5N) × 300 over result ratings.
    pub fn result_score(&self) -> Option<Tenths> {
        self.result.score(RESULT_WEIGHT)
    }

    /// Attitude satisfaction: (5a + 3b + c) / (5N) × 100 over attitude ratings.
    pub fn attitude_score(&self) -> Option<Tenths> {
        self.attitude.score(ATTITUDE_WEIGHT)
    }
}

/// One group: a seat, a unit, or `None` for ratings that have no seat (or unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: Option<String>,
    pub counts: ItemCounts,
}

/// The satisfaction figures of one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub month: YearMonth,
    pub utc_offset_hours: i32,
    pub by: GroupBy,
    /// One per seat or unit, by name, the group without one last; empty for `GroupBy::All`.
    pub groups: Vec<Group>,
    /// Every rating of the month.
    pub total: ItemCounts,
}

/// The month's figures from `ratings`, which may hold any months: a rating belongs to the
/// month in which it was given, local time at `utc_offset_hours` east of UTC.
///
/// Keypad ratings count for both result and attitude satisfaction (the keypad asks about the
/// service as a whole); the return-visit survey's answers count only for the question they
/// answer (`Item::of`). Survey answers have no seat, so by seat they fall in the `None` group.
pub fn ratings_report(
    ratings: &[RatingRecord],
    month: YearMonth,
    utc_offset_hours: i32,
    by: GroupBy,
) -> Report {
    let mut total = ItemCounts::default();
    let mut groups: BTreeMap<Option<String>, ItemCounts> = BTreeMap::new();
    for rating in ratings {
        if !month.contains(rating.at, utc_offset_hours) {
            continue;
        }
        total.add(rating.kind, rating.outcome);
        if by != GroupBy::All {
            groups
                .entry(by.key(rating))
                .or_default()
                .add(rating.kind, rating.outcome);
        }
    }
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|(key, counts)| Group { key, counts })
        .collect();
    // `None` sorts first in a BTreeMap; the group without a seat reads better last.
    groups.sort_by(|x, y| (x.key.is_none(), &x.key).cmp(&(y.key.is_none(), &y.key)));
    Report {
        month,
        utc_offset_hours,
        by,
        groups,
        total,
    }
}

/// Label of the row of ratings with no seat (or unit), in the table and CSV.
const NO_GROUP: &str = "(none)";
/// Label of the total row, in the table and CSV.
const TOTAL: &str = "total";
/// A missing figure in the table: nothing was rated (or offered).
const NO_FIGURE: &str = "-";

const HEADERS: [&str; 11] = [
    "item",
    "satisfied",
    "basic",
    "dissatisfied",
    "not rated",
    "rated",
    "offered",
    "response %",
    "satisfaction %",
    "score",
    "of",
];

const CSV_HEADERS: [&str; 11] = [
    "item",
    "satisfied",
    "basically_satisfied",
    "dissatisfied",
    "not_rated",
    "rated",
    "offered",
    "response_rate_pct",
    "satisfaction_rate_pct",
    "score",
    "weight",
];

impl Report {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Csv => self.csv(),
            Format::Json => self.json(),
        }
    }

    /// Rows as (label, item, counts): each group's result then attitude, the total last.
    fn rows(&self) -> impl Iterator<Item = (&str, Item, &Counts)> {
        self.groups
            .iter()
            .map(|g| (g.key.as_deref().unwrap_or(NO_GROUP), &g.counts))
            .chain([(TOTAL, &self.total)])
            .flat_map(|(label, counts)| Item::ALL.map(|item| (label, item, counts.get(item))))
    }

    fn offset(&self) -> String {
        format!("UTC{:+}", self.utc_offset_hours)
    }

    fn table(&self) -> String {
        let figure = |t: Option<Tenths>| t.map_or(NO_FIGURE.to_owned(), |t| t.to_string());
        let first = match self.by {
            GroupBy::All => "",
            GroupBy::Seat => "seat",
            GroupBy::Unit => "unit",
        };
        let mut lines: Vec<Vec<String>> = vec![std::iter::once(first)
            .chain(HEADERS)
            .map(str::to_owned)
            .collect()];
        for (label, item, c) in self.rows() {
            lines.push(vec![
                label.to_owned(),
                item.as_str().to_owned(),
                c.satisfied.to_string(),
                c.basically_satisfied.to_string(),
                c.dissatisfied.to_string(),
                c.not_rated.to_string(),
                c.rated().to_string(),
                c.offered().to_string(),
                figure(c.response_rate()),
                figure(c.satisfaction_rate()),
                figure(c.score(item.weight())),
                item.weight().to_string(),
            ]);
        }
        let mut out = format!(
            "Caller ratings {} (local time, {}), by {}\n\
             Result counts keypad ratings and survey result answers; attitude counts keypad \
             ratings and survey attitude answers.\n\n",
            self.month,
            self.offset(),
            self.by.as_str()
        );
        out.push_str(&aligned(&lines, 2));
        out
    }

    fn csv(&self) -> String {
        let figure = |t: Option<Tenths>| t.map_or(String::new(), |t| t.to_string());
        let mut out = String::from("month,group_by,group");
        for h in CSV_HEADERS {
            out.push(',');
            out.push_str(h);
        }
        out.push_str("\r\n");
        for (label, item, c) in self.rows() {
            let fields = [
                self.month.to_string(),
                self.by.as_str().to_owned(),
                csv_field(label),
                item.as_str().to_owned(),
                c.satisfied.to_string(),
                c.basically_satisfied.to_string(),
                c.dissatisfied.to_string(),
                c.not_rated.to_string(),
                c.rated().to_string(),
                c.offered().to_string(),
                figure(c.response_rate()),
                figure(c.satisfaction_rate()),
                figure(c.score(item.weight())),
                item.weight().to_string(),
            ];
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }

    fn json(&self) -> String {
        let item = |c: &Counts, item: Item| {
            let figure = |t: Option<Tenths>| t.map(Tenths::as_f64);
            serde_json::json!({
                "satisfied": c.satisfied,
                "basically_satisfied": c.basically_satisfied,
                "dissatisfied": c.dissatisfied,
                "not_rated": c.not_rated,
                "rated": c.rated(),
                "offered": c.offered(),
                "response_rate_pct": figure(c.response_rate()),
                "satisfaction_rate_pct": figure(c.satisfaction_rate()),
                "score": figure(c.score(item.weight())),
            })
        };
        let counts = |c: &ItemCounts| {
            serde_json::json!({
                "result": item(&c.result, Item::Result),
                "attitude": item(&c.attitude, Item::Attitude),
            })
        };
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|g| {
                let mut row = counts(&g.counts);
                row["group"] = serde_json::json!(g.key);
                row
            })
            .collect();
        let report = serde_json::json!({
            "month": self.month.to_string(),
            "utc_offset_hours": self.utc_offset_hours,
            "group_by": self.by.as_str(),
            "result_weight": RESULT_WEIGHT,
            "attitude_weight": ATTITUDE_WEIGHT,
            "groups": groups,
            "total": counts(&self.total),
        });
        let mut out = serde_json::to_string_pretty(&report).expect("a JSON value serializes");
        out.push('\n');
        out
    }
}

/// `hotline report ratings`: reads the month's ratings from the database at `store_path`
/// (read-only; a running daemon may keep writing) and renders the report. Arguments are
/// checked before the database is touched.
pub async fn run_report(
    store_path: &Path,
    month: &str,
    by: &str,
    format: &str,
    utc_offset_hours: i32,
) -> Result<String, ReportError> {
    let month: YearMonth = month.parse()?;
    let by: GroupBy = by.parse()?;
    let format: Format = format.parse()?;
    if !UTC_OFFSET_RANGE.contains(&utc_offset_hours) {
        return Err(ReportError::BadUtcOffset(utc_offset_hours));
    }
    let store = SqliteStore::open_read_only(store_path).await?;
    let (from, to) = month.utc_window(utc_offset_hours);
    let ratings = store.ratings_in(from, to).await;
    store.close().await;
    let report = ratings_report(&ratings?, month, utc_offset_hours, by);
    Ok(report.render(format))
}

pub mod lines;
mod table;
pub mod today;

#[cfg(test)]
mod tests;
