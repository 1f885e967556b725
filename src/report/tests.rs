//! The ratings report: months, grouping, scores and every output format.

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
