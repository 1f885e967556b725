use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::dialplan::Role;
use crate::ledger::{month_ledger, FailureRule, HandoffCount, LedgerInput, LedgerUnit};
use crate::store::{ContactOutcome, FailureKind};

fn ledger() -> MonthLedger {
    let units = [
        LedgerUnit {
            id: "2001".into(),
            name: "区住房和城乡建设局".into(),
            level: Some(2),
        },
        LedgerUnit {
            id: "3001".into(),
            name: "和平街道办事处".into(),
            level: Some(3),
        },
    ];
    let failure = ContactFailure {
        id: "cf-call-1-1".into(),
        unit: "2001".into(),
        kind: FailureKind::Unanswered,
        // 2026-11-10T02:00:00Z
        at: UNIX_EPOCH + Duration::from_secs(1_794_276_000),
        handoff_id: None,
        call_id: "call-1".into(),
        seat: None,
        evidence: vec![],
        points: 10,
    };
    let handoffs = [HandoffCount {
        unit: "2001".into(),
        category: "major".into(),
        in_time: 2,
        late: 0,
    }];
    let input = LedgerInput {
        units: &units,
        failures: &[failure],
        voids: &[],
        handoffs: &handoffs,
        categories: &["major", "general", "complex"],
    };
    month_ledger(
        input,
        &FailureRule::default(),
        "2026-11".parse().unwrap(),
        8,
    )
}

#[test]
fn json_has_the_documented_shape_in_order() {
    let text = ledger().render(Format::Json);
    let compact: String =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
    let start = r#"{"month":"2026-11","utc_offset_hours":8,"units":[{"unit":"2001","name":"区住房和城乡建设局","level":2,"failures":1,"voided":0,"score":30,"handoffs":{"#;
    // serde_json's own map sorts keys, so check the order on the text as rendered.
    let flat: String = text.split_whitespace().collect();
    assert!(flat.starts_with(start), "{flat}");
    assert!(
        flat.contains(r#""handoffs":{"major":{"in_time":2,"late":0},"general":{"in_time":0,"late":0},"complex":{"in_time":0,"late":0}}"#),
        "{flat}"
    );
    let value: serde_json::Value = serde_json::from_str(&compact).unwrap();
    assert_eq!(value["units"][1]["score"], 40);
    assert_eq!(value["units"][1]["level"], 3);
}

#[test]
fn csv_has_a_column_pair_per_category() {
    let text = ledger().render(Format::Csv);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "month,unit,name,level,failures,voided,score,major_in_time,major_late,general_in_time,\
         general_late,complex_in_time,complex_late"
    );
    assert_eq!(
        lines[1],
        "2026-11,2001,区住房和城乡建设局,2,1,0,30,2,0,0,0,0,0"
    );
    assert_eq!(lines[2], "2026-11,3001,和平街道办事处,3,0,0,40,0,0,0,0,0,0");
}

#[test]
fn the_table_lines_up_with_chinese_names() {
    use unicode_width::UnicodeWidthStr;
    let text = ledger().render(Format::Table);
    let rows: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(rows.len(), 3, "{text}");
    // The last column is flush right, so every row ends at the same terminal column.
    let widths: Vec<usize> = rows.iter().map(|r| r.width()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{text}");
    assert!(
        rows[1].starts_with("2001  区住房和城乡建设局      2"),
        "{text}"
    );
    assert!(rows[1].contains("30") && rows[2].contains("40"), "{text}");
}

fn attempt(handoff: Option<&str>, call: &str, k: u64, outcome: ContactOutcome) -> ContactAttempt {
    ContactAttempt {
        handoff_id: handoff.map(str::to_owned),
        call_id: call.into(),
        unit: "2001".into(),
        role: if k.is_multiple_of(2) {
            Role::Duty
        } else {
            Role::Handler
        },
        dialled: "0551-6234 5678".into(),
        // 2026-11-10T02:00:00Z + k × 40 s
        started_at: UNIX_EPOCH + Duration::from_secs(1_794_276_000 + 40 * k),
        rung: Duration::from_millis(30_000),
        outcome,
        sip_status: (outcome != ContactOutcome::Unreachable).then_some(487),
    }
}

#[test]
fn attempts_are_grouped_by_hand_off_or_call_with_their_failures() {
    let attempts = [
        attempt(Some("ho-1"), "call-1", 1, ContactOutcome::NoAnswer),
        attempt(None, "call-2", 2, ContactOutcome::Busy),
        attempt(Some("ho-1"), "call-1", 3, ContactOutcome::Unreachable),
        attempt(None, "call-2", 4, ContactOutcome::Answered),
    ];
    let failure = ContactFailure {
        id: "cf-call-1-1".into(),
        unit: "2001".into(),
        kind: FailureKind::Refused,
        at: UNIX_EPOCH,
        handoff_id: Some("ho-1".into()),
        call_id: "call-1".into(),
        seat: None,
        evidence: vec![],
        points: 10,
    };
    let groups = group_attempts(&attempts, &[failure]);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].handoff_id(), Some("ho-1"));
    assert_eq!(groups[0].attempts.len(), 2);
    assert_eq!(groups[0].failures, ["cf-call-1-1"]);
    assert_eq!(
        (groups[1].handoff_id(), groups[1].call_id()),
        (None, "call-2")
    );

    let listing = HandoffListing {
        month: "2026-11".parse().unwrap(),
        utc_offset_hours: 8,
        groups: &groups,
        records: &[],
    };
    let csv = listing.render(Format::Csv);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[1],
        "2026-11,ho-1,call-1,2001,handler,0551-6234 5678,2026-11-10 10:00:40,30000,no_answer,487,cf-call-1-1"
    );
    assert_eq!(
        lines[2],
        "2026-11,ho-1,call-1,2001,handler,0551-6234 5678,2026-11-10 10:02:00,30000,unreachable,,cf-call-1-1"
    );
    let json: serde_json::Value = serde_json::from_str(&listing.render(Format::Json)).unwrap();
    assert_eq!(json["handoffs"][1]["handoff"], serde_json::Value::Null);
    assert_eq!(json["handoffs"][1]["attempts"][1]["outcome"], "answered");
    let table = listing.render(Format::Table);
    assert!(
        table.contains("ho-1") && table.contains("10:02:00"),
        "{table}"
    );
}

#[test]
fn the_listing_shows_each_handoff_record_even_without_attempts() {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::ledger::{AttemptGroup, Group};
    use crate::store::{HandoffOutcome, HandoffRecord};

    // 2026-11-10 02:00:00 UTC = 10:00 at UTC+8.
    let at = UNIX_EPOCH + Duration::from_secs(1_794_276_000);
    let record = HandoffRecord {
        id: "call-9-h1".into(),
        call_id: "call-9".into(),
        seat: "1001".into(),
        unit: None,
        category: "complex".into(),
        opened_at: at,
        started_at: at,
        first_dial_at: None,
        made_at: None,
        limit: Duration::from_secs(900),
        extension: None,
        breached_at: None,
        outcome: Some(HandoffOutcome::ClosedNotNeeded),
        closed_at: Some(at),
        closed_reason: Some("3".into()),
        made_by_call: None,
    };
    let groups = [AttemptGroup {
        group: Group::Handoff("call-9-h1".into()),
        attempts: Vec::new(),
        failures: Vec::new(),
    }];
    let records = [record];
    let listing = HandoffListing {
        month: "2026-11".parse().unwrap(),
        utc_offset_hours: 8,
        groups: &groups,
        records: &records,
    };
    let table = listing.render(Format::Table);
    let row = table
        .lines()
        .find(|l| l.starts_with("call-9-h1"))
        .unwrap_or_else(|| panic!("{table}"));
    for cell in [
        "call-9",
        "1001",
        "complex",
        "900",
        "closed_not_needed",
        "2026-11-10 10:00:00",
    ] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    let json: serde_json::Value = serde_json::from_str(&listing.render(Format::Json)).unwrap();
    let h = &json["handoffs"][0];
    assert_eq!(h["call"], "call-9");
    assert_eq!(h["category"], "complex");
    assert_eq!(h["outcome"], "closed_not_needed");
    assert_eq!(h["limit_secs"], 900);
    assert_eq!(h["attempts"].as_array().map(Vec::len), Some(0));
}
