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
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();

        let mut out = format!(
            "Caller ratings {} (local time, {}), by {}\n\
             Result counts keypad ratings and survey result answers; attitude counts keypad \
             ratings and survey attitude answers.\n\n",
            self.month,
            self.offset(),
            self.by.as_str()
        );
        for line in &lines {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, &w))| {
                    let pad = w - cell.chars().count();
                    if i <= 1 {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
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

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::NotRatedReason;

    const SATISFIED: RatingOutcome = RatingOutcome::Rated(Rating::Satisfied);
    const BASIC: RatingOutcome = RatingOutcome::Rated(Rating::BasicallySatisfied);
    const DISSATISFIED: RatingOutcome = RatingOutcome::Rated(Rating::Dissatisfied);
    const NO_DIGIT: RatingOutcome = RatingOutcome::NotRated(NotRatedReason::NoDigit);
    const HUNG_UP: RatingOutcome = RatingOutcome::NotRated(NotRatedReason::CallerHungUp);

    /// 2026-11-15T02:00:00Z, 10:00 local in UTC+8: the middle of November either way.
    const MID_NOVEMBER: u64 = 1_794_708_000;
    const CHINA: i32 = 8;

    fn at_secs(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn rating(
        n: usize,
        secs: u64,
        seat: Option<&str>,
        unit: Option<&str>,
        outcome: RatingOutcome,
    ) -> RatingRecord {
        RatingRecord {
            id: format!("rating-{n}"),
            call_id: format!("call-{n}"),
            kind: RatingKind::Keypad,
            at: at_secs(secs),
            seat: seat.map(str::to_owned),
            unit: unit.map(str::to_owned),
            outcome,
        }
    }

    fn november() -> YearMonth {
        "2026-11".parse().unwrap()
    }

    /// Seat 1001 (unit "water"): 7 satisfied, 2 basic, 1 dissatisfied, 2 not rated.
    /// Seat 1002 (unit "gas"): 3 satisfied, 1 dissatisfied.
    /// No seat, no unit: 1 caller who hung up before reaching one.
    /// All in mid-November, a minute apart, in an order that mixes the seats.
    fn fixture() -> Vec<RatingRecord> {
        let seat_1001 = [
            SATISFIED,
            SATISFIED,
            BASIC,
            SATISFIED,
            NO_DIGIT,
            SATISFIED,
            DISSATISFIED,
            SATISFIED,
            BASIC,
            HUNG_UP,
            SATISFIED,
            SATISFIED,
        ]
        .map(|o| (Some("1001"), Some("water"), o));
        let seat_1002 =
            [SATISFIED, DISSATISFIED, SATISFIED, SATISFIED].map(|o| (Some("1002"), Some("gas"), o));
        let nobody = [(None, None, HUNG_UP)];
        let mut all: Vec<_> = seat_1002.into_iter().chain(nobody).collect();
        for (i, r) in seat_1001.into_iter().enumerate() {
            all.insert((i * 2).min(all.len()), r);
        }
        all.into_iter()
            .enumerate()
            .map(|(n, (seat, unit, o))| rating(n, MID_NOVEMBER + 60 * n as u64, seat, unit, o))
            .collect()
    }

    fn counts(a: u64, b: u64, c: u64, not_rated: u64) -> Counts {
        Counts {
            satisfied: a,
            basically_satisfied: b,
            dissatisfied: c,
            not_rated,
        }
    }

    /// Keypad ratings only: the same counts for both items.
    fn both(a: u64, b: u64, c: u64, not_rated: u64) -> ItemCounts {
        ItemCounts {
            result: counts(a, b, c, not_rated),
            attitude: counts(a, b, c, not_rated),
        }
    }

    /// Response and satisfaction rates of the result item, then both scores.
    fn figures(c: &ItemCounts) -> [Option<Tenths>; 4] {
        [
            c.result.response_rate(),
            c.result.satisfaction_rate(),
            c.result_score(),
            c.attitude_score(),
        ]
    }

    fn t(tenths: u64) -> Option<Tenths> {
        Some(Tenths(tenths))
    }

    #[test]
    fn figures_match_the_hand_computed_fixture() {
        let report = ratings_report(&fixture(), november(), CHINA, GroupBy::Seat);

        let keys: Vec<Option<&str>> = report.groups.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [Some("1001"), Some("1002"), None]);

        // Seat 1001: a=7, b=2, c=1, not rated 2.
        //   N = 7+2+1 = 10, offered = 10+2 = 12
        //   response     = 10/12        = 83.33% -> 83.3
        //   satisfaction = (7+2)/10     = 90.0%
        //   points       = 5·7+3·2+1·1  = 35+6+1 = 42; best = 5·10 = 50
        //   result       = 42/50 × 300  = 252.0
        //   attitude     = 42/50 × 100  = 84.0
        let c = &report.groups[0].counts;
        assert_eq!(*c, both(7, 2, 1, 2));
        assert_eq!(
            (c.result.rated(), c.result.offered(), c.result.points()),
            (10, 12, 42)
        );
        assert_eq!(figures(c), [t(833), t(900), t(2520), t(840)]);

        // Seat 1002: a=3, b=0, c=1.
        //   N = 4, offered = 4, response 100.0, satisfaction 3/4 = 75.0
        //   points = 15+0+1 = 16; best = 20; result 16/20×300 = 240.0; attitude 80.0
        let c = &report.groups[1].counts;
        assert_eq!(*c, both(3, 0, 1, 0));
        assert_eq!(figures(c), [t(1000), t(750), t(2400), t(800)]);

        // No seat: 1 not rated. N = 0: a response rate of 0.0, no satisfaction and no scores.
        let c = &report.groups[2].counts;
        assert_eq!(*c, both(0, 0, 0, 1));
        assert_eq!(figures(c), [t(0), None, None, None]);

        // Total: a=10, b=2, c=2, not rated 3.
        //   N = 14, offered = 17
        //   response     = 14/17       = 82.35% -> 82.4
        //   satisfaction = 12/14       = 85.71% -> 85.7
        //   points       = 50+6+2 = 58; best = 70
        //   result       = 58/70 × 300 = 248.57 -> 248.6
        //   attitude     = 58/70 × 100 = 82.86  -> 82.9
        let c = &report.total;
        assert_eq!(*c, both(10, 2, 2, 3));
        assert_eq!(figures(c), [t(824), t(857), t(2486), t(829)]);
    }

    /// A keypad rating, or a survey answer (no seat), of kind `kind`.
    fn of_kind(n: usize, kind: RatingKind, unit: &str, outcome: RatingOutcome) -> RatingRecord {
        let seat = (kind == RatingKind::Keypad).then_some("1001");
        RatingRecord {
            kind,
            ..rating(n, MID_NOVEMBER + 60 * n as u64, seat, Some(unit), outcome)
        }
    }

    /// Unit "water": keypad 2 satisfied, 1 dissatisfied; survey result 1 basic,
    /// 1 dissatisfied, 1 no digit; survey attitude 3 satisfied.
    /// Unit "gas": survey result 1 satisfied; survey attitude 1 basic.
    fn mixed_fixture() -> Vec<RatingRecord> {
        use RatingKind::{Keypad, SurveyAttitude, SurveyResult};
        [
            (Keypad, "water", SATISFIED),
            (SurveyResult, "water", BASIC),
            (SurveyAttitude, "water", SATISFIED),
            (SurveyResult, "gas", SATISFIED),
            (Keypad, "water", DISSATISFIED),
            (SurveyResult, "water", DISSATISFIED),
            (SurveyAttitude, "water", SATISFIED),
            (SurveyAttitude, "gas", BASIC),
            (Keypad, "water", SATISFIED),
            (SurveyResult, "water", NO_DIGIT),
            (SurveyAttitude, "water", SATISFIED),
        ]
        .into_iter()
        .enumerate()
        .map(|(n, (kind, unit, o))| of_kind(n, kind, unit, o))
        .collect()
    }

    #[test]
    fn keypad_counts_for_both_items_and_survey_answers_for_their_own() {
        let report = ratings_report(&mixed_fixture(), november(), CHINA, GroupBy::Unit);
        let keys: Vec<Option<&str>> = report.groups.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [Some("gas"), Some("water")]);

        // Gas, result: survey 1 satisfied. a=1: points 5, best 5, result 5/5 × 300 = 300.0.
        // Gas, attitude: survey 1 basic. b=1: points 3, best 5, attitude 3/5 × 100 = 60.0.
        let gas = &report.groups[0].counts;
        assert_eq!(gas.result, counts(1, 0, 0, 0));
        assert_eq!(gas.attitude, counts(0, 1, 0, 0));
        assert_eq!(
            (gas.result_score(), gas.attitude_score()),
            (t(3000), t(600))
        );

        // Water, result: keypad a=2, c=1 + survey b=1, c=1, 1 no digit
        //   a=2, b=1, c=2, not rated 1; N = 5, offered 6
        //   response     = 5/6          = 83.33% -> 83.3
        //   satisfaction = (2+1)/5      = 60.0%
        //   points       = 10+3+2 = 15; best = 25; result = 15/25 × 300 = 180.0
        // Water, attitude: keypad a=2, c=1 + survey a=3
        //   a=5, b=0, c=1; N = 6, offered 6; response 100.0; satisfaction 5/6 = 83.3
        //   points       = 25+0+1 = 26; best = 30; attitude = 26/30 × 100 = 86.67 -> 86.7
        let water = &report.groups[1].counts;
        assert_eq!(water.result, counts(2, 1, 2, 1));
        assert_eq!(water.attitude, counts(5, 0, 1, 0));
        assert_eq!(
            [
                water.result.response_rate(),
                water.result.satisfaction_rate(),
                water.result_score()
            ],
            [t(833), t(600), t(1800)]
        );
        assert_eq!(
            [
                water.attitude.response_rate(),
                water.attitude.satisfaction_rate(),
                water.attitude_score()
            ],
            [t(1000), t(833), t(867)]
        );

        // Total, result: a=3, b=1, c=2, not rated 1; N = 6, offered 7
        //   response 6/7 = 85.71% -> 85.7; satisfaction 4/6 = 66.67% -> 66.7
        //   points = 15+3+2 = 20; best = 30; result = 20/30 × 300 = 200.0
        // Total, attitude: a=5, b=1, c=1; N = 7
        //   satisfaction 6/7 = 85.71% -> 85.7
        //   points = 25+3+1 = 29; best = 35; attitude = 29/35 × 100 = 82.86 -> 82.9
        let total = &report.total;
        assert_eq!(total.result, counts(3, 1, 2, 1));
        assert_eq!(total.attitude, counts(5, 1, 1, 0));
        assert_eq!(figures(total), [t(857), t(667), t(2000), t(829)]);
        assert_eq!(total.attitude.satisfaction_rate(), t(857));

        // By seat, the survey answers (no seat) fall in the group without one.
        let by_seat = ratings_report(&mixed_fixture(), november(), CHINA, GroupBy::Seat);
        assert_eq!(by_seat.groups[0].counts, both(2, 0, 1, 0));
        assert_eq!(by_seat.groups[1].key, None);
        assert_eq!(by_seat.groups[1].counts.result, counts(1, 1, 1, 1));
        assert_eq!(by_seat.groups[1].counts.attitude, counts(3, 1, 0, 0));
        assert_eq!(by_seat.total, report.total);
    }

    #[test]
    fn grouping_by_unit_and_all() {
        let by_unit = ratings_report(&fixture(), november(), CHINA, GroupBy::Unit);
        let rows: Vec<(Option<&str>, ItemCounts)> = by_unit
            .groups
            .iter()
            .map(|g| (g.key.as_deref(), g.counts))
            .collect();
        assert_eq!(
            rows,
            [
                (Some("gas"), both(3, 0, 1, 0)),
                (Some("water"), both(7, 2, 1, 2)),
                (None, both(0, 0, 0, 1)),
            ]
        );

        let all = ratings_report(&fixture(), november(), CHINA, GroupBy::All);
        assert_eq!(all.groups, []);
        assert_eq!(all.total, by_unit.total);
    }

    #[test]
    fn a_rating_belongs_to_its_local_month() {
        // In UTC+8 November runs from 2026-10-31T16:00Z to 2026-11-30T16:00Z.
        let boundary = [
            (1_793_462_399, SATISFIED), // 2026-10-31T15:59:59Z = Oct 31 23:59:59 local
            (1_793_462_400, BASIC),     // 2026-10-31T16:00:00Z = Nov 1 00:00:00 local
            (1_796_054_399, DISSATISFIED), // 2026-11-30T15:59:59Z = Nov 30 23:59:59 local
            (1_796_054_400, HUNG_UP),   // 2026-11-30T16:00:00Z = Dec 1 00:00:00 local
            (1_796_056_200, SATISFIED), // 2026-11-30T16:30:00Z = Dec 1 00:30:00 local
        ];
        let ratings: Vec<RatingRecord> = boundary
            .into_iter()
            .enumerate()
            .map(|(n, (secs, o))| rating(n, secs, Some("1001"), None, o))
            .collect();

        let local = ratings_report(&ratings, november(), CHINA, GroupBy::All);
        assert_eq!(local.total, both(0, 1, 1, 0));
        let december = ratings_report(&ratings, "2026-12".parse().unwrap(), CHINA, GroupBy::All);
        assert_eq!(december.total, both(1, 0, 0, 1));
        let october = ratings_report(&ratings, "2026-10".parse().unwrap(), CHINA, GroupBy::All);
        assert_eq!(october.total, both(1, 0, 0, 0));
        // The same ratings counted in UTC: the first two are October, the last three November.
        let utc = ratings_report(&ratings, november(), 0, GroupBy::All);
        assert_eq!(utc.total, both(1, 0, 1, 1));

        let (from, to) = november().utc_window(CHINA);
        assert_eq!((from, to), (at_secs(1_793_462_400), at_secs(1_796_054_400)));
        for r in &ratings {
            let inside = from <= r.at && r.at < to;
            assert_eq!(inside, november().contains(r.at, CHINA), "{:?}", r.at);
        }
        // December's window runs into the next year.
        let (_, end) = "2026-12".parse::<YearMonth>().unwrap().utc_window(CHINA);
        assert_eq!(end, at_secs(1_798_732_800)); // 2026-12-31T16:00Z = 2027-01-01 00:00 local
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(november(), YearMonth::new(2026, 11).unwrap());
        assert_eq!(november().to_string(), "2026-11");
        for bad in [
            "2026-1",
            "2026-13",
            "2026-00",
            "26-11",
            "2026/11",
            "2026-11-01",
            "",
            "+026-11",
        ] {
            assert!(
                matches!(bad.parse::<YearMonth>(), Err(ReportError::BadMonth(s)) if s == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn tenths_round_half_up() {
        assert_eq!(Tenths::ratio(200, 3), t(667)); // 66.67
        assert_eq!(Tenths::ratio(100, 16), t(63)); // 6.25
        assert_eq!(Tenths::ratio(100, 3), t(333)); // 33.33
        assert_eq!(Tenths::ratio(0, 5), t(0));
        assert_eq!(Tenths::ratio(5, 0), None);
        assert_eq!(Tenths(2486).to_string(), "248.6");
        assert_eq!(Tenths(7).to_string(), "0.7");
        assert_eq!(Tenths(829).as_f64(), 82.9);
    }

    #[test]
    fn nothing_rated_gives_no_scores() {
        let empty = ratings_report(&[], november(), CHINA, GroupBy::Seat);
        assert_eq!(empty.groups, []);
        assert_eq!(empty.total, ItemCounts::default());
        assert_eq!(figures(&empty.total), [None; 4]);

        let table = empty.render(Format::Table);
        let last: Vec<&str> = table.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(
            last,
            ["total", "attitude", "0", "0", "0", "0", "0", "0", "-", "-", "-", "100"],
            "{table}"
        );
        let csv = empty.render(Format::Csv);
        assert!(
            csv.ends_with(
                "2026-11,seat,total,result,0,0,0,0,0,0,,,,300\r\n\
                 2026-11,seat,total,attitude,0,0,0,0,0,0,,,,100\r\n"
            ),
            "{csv}"
        );
        let json: serde_json::Value = serde_json::from_str(&empty.render(Format::Json)).unwrap();
        assert_eq!(json["groups"], serde_json::json!([]));
        for item in ["result", "attitude"] {
            assert_eq!(json["total"][item]["score"], serde_json::Value::Null);
            assert_eq!(
                json["total"][item]["response_rate_pct"],
                serde_json::Value::Null
            );
        }
    }

    #[test]
    fn renders_a_table() {
        let report = ratings_report(&fixture(), november(), CHINA, GroupBy::Seat);
        let want = "\
Caller ratings 2026-11 (local time, UTC+8), by seat
Result counts keypad ratings and survey result answers; attitude counts keypad ratings and survey attitude answers.

seat    item      satisfied  basic  dissatisfied  not rated  rated  offered  response %  satisfaction %  score   of
1001    result            7      2             1          2     10       12        83.3            90.0  252.0  300
1001    attitude          7      2             1          2     10       12        83.3            90.0   84.0  100
1002    result            3      0             1          0      4        4       100.0            75.0  240.0  300
1002    attitude          3      0             1          0      4        4       100.0            75.0   80.0  100
(none)  result            0      0             0          1      0        1         0.0               -      -  300
(none)  attitude          0      0             0          1      0        1         0.0               -      -  100
total   result           10      2             2          3     14       17        82.4            85.7  248.6  300
total   attitude         10      2             2          3     14       17        82.4            85.7   82.9  100
";
        assert_eq!(report.render(Format::Table), want);
    }

    #[test]
    fn renders_csv() {
        let mut ratings = fixture();
        // A unit name that needs quoting.
        ratings[0].unit = Some("Water, \"North\"".into());
        ratings.truncate(1);
        let report = ratings_report(&ratings, november(), CHINA, GroupBy::Unit);
        let want = "month,group_by,group,item,satisfied,basically_satisfied,dissatisfied,\
                    not_rated,rated,offered,response_rate_pct,satisfaction_rate_pct,score,\
                    weight\r\n\
                    2026-11,unit,\"Water, \"\"North\"\"\",result,1,0,0,0,1,1,100.0,100.0,300.0,\
                    300\r\n\
                    2026-11,unit,\"Water, \"\"North\"\"\",attitude,1,0,0,0,1,1,100.0,100.0,\
                    100.0,100\r\n\
                    2026-11,unit,total,result,1,0,0,0,1,1,100.0,100.0,300.0,300\r\n\
                    2026-11,unit,total,attitude,1,0,0,0,1,1,100.0,100.0,100.0,100\r\n";
        assert_eq!(report.render(Format::Csv), want);

        let csv = ratings_report(&fixture(), november(), CHINA, GroupBy::Seat).render(Format::Csv);
        let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(
            lines[1..],
            [
                "2026-11,seat,1001,result,7,2,1,2,10,12,83.3,90.0,252.0,300",
                "2026-11,seat,1001,attitude,7,2,1,2,10,12,83.3,90.0,84.0,100",
                "2026-11,seat,1002,result,3,0,1,0,4,4,100.0,75.0,240.0,300",
                "2026-11,seat,1002,attitude,3,0,1,0,4,4,100.0,75.0,80.0,100",
                "2026-11,seat,(none),result,0,0,0,1,0,1,0.0,,,300",
                "2026-11,seat,(none),attitude,0,0,0,1,0,1,0.0,,,100",
                "2026-11,seat,total,result,10,2,2,3,14,17,82.4,85.7,248.6,300",
                "2026-11,seat,total,attitude,10,2,2,3,14,17,82.4,85.7,82.9,100",
            ]
        );
    }

    #[test]
    fn renders_json_that_parses() {
        let report = ratings_report(&fixture(), november(), CHINA, GroupBy::Seat);
        let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();

        assert_eq!(json["month"], "2026-11");
        assert_eq!(json["utc_offset_hours"], 8);
        assert_eq!(json["group_by"], "seat");
        assert_eq!(json["result_weight"], 300);
        assert_eq!(json["attitude_weight"], 100);
        let groups = json["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 3);
        let item = |score: f64| {
            serde_json::json!({
                "satisfied": 7,
                "basically_satisfied": 2,
                "dissatisfied": 1,
                "not_rated": 2,
                "rated": 10,
                "offered": 12,
                "response_rate_pct": 83.3,
                "satisfaction_rate_pct": 90.0,
                "score": score,
            })
        };
        assert_eq!(
            groups[0],
            serde_json::json!({
                "group": "1001",
                "result": item(252.0),
                "attitude": item(84.0),
            })
        );
        assert_eq!(groups[2]["group"], serde_json::Value::Null);
        let none = &groups[2]["result"];
        assert_eq!(none["satisfaction_rate_pct"], serde_json::Value::Null);
        assert_eq!(none["score"], serde_json::Value::Null);
        assert_eq!(json["total"]["result"]["score"], 248.6);
        assert_eq!(json["total"]["attitude"]["score"], 82.9);
        assert!(json["total"].get("group").is_none());
    }

    #[tokio::test]
    async fn run_report_reads_the_month_from_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.db");
        let daemon = SqliteStore::open(&path).await.unwrap();
        let mut ratings = fixture();
        // Outside November local time, on either side.
        ratings.push(rating(90, 1_793_462_399, Some("1001"), None, DISSATISFIED));
        ratings.push(rating(91, 1_796_056_200, Some("1001"), None, DISSATISFIED));
        let records: Vec<_> = ratings
            .into_iter()
            .map(crate::store::Record::Rating)
            .collect();
        daemon.write_batch(&records).await.unwrap();

        // The daemon keeps the database open while the report reads it.
        let out = run_report(&path, "2026-11", "seat", "csv", CHINA)
            .await
            .unwrap();
        assert_eq!(
            out,
            ratings_report(&fixture(), november(), CHINA, GroupBy::Seat).render(Format::Csv)
        );
        let json = run_report(&path, "2026-11", "all", "json", CHINA)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["total"]["result"]["offered"], 17);
        daemon.close().await;
    }

    #[tokio::test]
    async fn run_report_checks_its_arguments_before_the_database() {
        let missing = Path::new("/nonexistent/hotline.db");
        let err = |r: Result<String, ReportError>| r.unwrap_err();
        assert!(matches!(
            err(run_report(missing, "2026-13", "seat", "csv", 8).await),
            ReportError::BadMonth(m) if m == "2026-13"
        ));
        assert!(matches!(
            err(run_report(missing, "2026-11", "queue", "csv", 8).await),
            ReportError::BadGroupBy(b) if b == "queue"
        ));
        assert!(matches!(
            err(run_report(missing, "2026-11", "seat", "xlsx", 8).await),
            ReportError::BadFormat(f) if f == "xlsx"
        ));
        assert!(matches!(
            err(run_report(missing, "2026-11", "seat", "csv", 15).await),
            ReportError::BadUtcOffset(15)
        ));
        assert!(matches!(
            err(run_report(missing, "2026-11", "seat", "csv", 8).await),
            ReportError::Store(StoreError::Open { .. })
        ));
    }
}
