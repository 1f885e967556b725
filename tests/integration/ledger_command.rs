//! `hotline report contacts`, `hotline report handoffs` and `hotline ledger void` as an operator
//! runs them, over records the store really holds.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hotline::dialplan::Role;
use hotline::store::{
    ContactAttempt, ContactFailure, ContactOutcome, Evidence, FailureKind, Record, SqliteStore,
};

/// 2026-11-10T02:00:00Z, ten in the morning in Beijing.
const NOV_10: u64 = 1_794_276_000;
/// 2026-11-30T16:00:00Z, midnight between 30 November and 1 December in Beijing.
const DEC_1_LOCAL: u64 = 1_796_054_400;

fn secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn attempt(call: &str, k: u64, role: Role, outcome: ContactOutcome) -> ContactAttempt {
    ContactAttempt {
        handoff_id: Some(format!("ho-{call}")),
        call_id: call.into(),
        unit: "2001".into(),
        role,
        dialled: if role == Role::Duty {
            "0551-6234 5678".into()
        } else {
            "sip:8101@192.0.2.15:5060".into()
        },
        started_at: secs(NOV_10 + 40 * k),
        rung: Duration::from_secs(30),
        outcome,
        sip_status: Some(487),
    }
}

fn failure(id: &str, unit: &str, at: SystemTime) -> ContactFailure {
    let a = attempt("call-1", 1, Role::Duty, ContactOutcome::NoAnswer);
    ContactFailure {
        id: id.into(),
        unit: unit.into(),
        kind: FailureKind::Unanswered,
        at,
        handoff_id: Some("ho-call-1".into()),
        call_id: "call-1".into(),
        seat: Some("1001".into()),
        evidence: vec![Evidence::from(&a)],
        points: 10,
    }
}

struct Ledger {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Ledger {
    /// A database with `records`, and the shipped config pointing at it.
    async fn with(records: &[Record]) -> Ledger {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("hotline.db");
        let store = SqliteStore::open(&db).await.expect("store");
        store.write_batch(records).await.expect("write");
        store.close().await;
        let config_path = crate::common::shipped_config_with_db(dir.path(), &db);
        Ledger {
            dir,
            config: config_path,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("run hotline")
    }

    /// Stdout of a run that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Stderr of a run that must fail with exit code 1.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn contacts_json(&self, month: &str) -> serde_json::Value {
        let text = self.ok(&["report", "contacts", "--month", month, "--format", "json"]);
        serde_json::from_str(&text).expect("JSON")
    }
}

fn november_records() -> Vec<Record> {
    use ContactOutcome::{Answered, Busy, NoAnswer};
    let mut records: Vec<Record> = [
        (Role::Handler, NoAnswer),
        (Role::Duty, NoAnswer),
        (Role::Head, Busy),
        (Role::Duty, Answered),
    ]
    .into_iter()
    .zip(1..)
    .map(|((role, outcome), k)| Record::from(attempt("call-1", k, role, outcome)))
    .collect();
    records.push(Record::from(ContactAttempt {
        handoff_id: None,
        ..attempt("call-2", 9, Role::Duty, NoAnswer)
    }));
    // One second before and one after midnight local time on 30 November.
    records.push(Record::from(failure(
        "cf-call-1-1",
        "2001",
        secs(DEC_1_LOCAL - 1),
    )));
    records.push(Record::from(failure(
        "cf-call-3-1",
        "2001",
        secs(DEC_1_LOCAL + 1),
    )));
    records
}

#[tokio::test]
async fn the_contact_ledger_lists_every_unit_in_each_format() {
    let ledger = Ledger::with(&november_records()).await;

    let json = ledger.contacts_json("2026-11");
    assert_eq!(json["month"], "2026-11");
    assert_eq!(json["utc_offset_hours"], 8);
    let units = json["units"].as_array().expect("units");
    let ids: Vec<&str> = units.iter().filter_map(|u| u["unit"].as_str()).collect();
    assert!(ids.starts_with(&["2001", "3001"]), "{json}");
    assert_eq!(units[0]["name"], "区住房和城乡建设局");
    assert_eq!(
        (
            &units[0]["level"],
            &units[0]["failures"],
            &units[0]["voided"],
            &units[0]["score"]
        ),
        (&2.into(), &1.into(), &0.into(), &30.into())
    );
    assert_eq!(units[1]["score"], 40);
    assert_eq!(
        units[0]["handoffs"]["major"],
        serde_json::json!({"in_time": 0, "late": 0})
    );
    let december = ledger.contacts_json("2026-12");
    assert_eq!(december["units"][0]["failures"], 1);

    let csv = ledger.ok(&[
        "report", "contacts", "--month", "2026-11", "--format", "csv",
    ]);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(lines[0].starts_with("month,unit,name,level,failures,voided,score,major_in_time"));
    assert!(
        lines[1].starts_with("2026-11,2001,区住房和城乡建设局,2,1,0,30,"),
        "{csv}"
    );

    let table = ledger.ok(&["report", "contacts", "--month", "2026-11"]);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("2001") || l.starts_with("3001"))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    // Both names are CJK: the score column starts at the same byte where the names' character
    // counts match, and at the same terminal column always; the rows end together.
    let width = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii() { 1 } else { 2 })
            .sum::<usize>()
    };
    assert_eq!(width(rows[0]), width(rows[1]), "{table}");

    let bad = ledger.fails(&["report", "contacts", "--month", "2026-13"]);
    assert!(bad.contains("2026-13"), "{bad}");
}

#[tokio::test]
async fn the_hand_off_listing_shows_each_attempt_by_hand_off() {
    let ledger = Ledger::with(&november_records()).await;
    let csv = ledger.ok(&[
        "report", "handoffs", "--month", "2026-11", "--format", "csv",
    ]);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 6, "{csv}");
    assert_eq!(
        lines[1],
        "2026-11,ho-call-1,call-1,2001,handler,sip:8101@192.0.2.15:5060,2026-11-10 10:00:40,\
         30000,no_answer,487,cf-call-1-1"
    );
    assert!(lines[4].contains(",duty,0551-6234 5678,") && lines[4].contains("answered"));
    assert!(lines[5].starts_with("2026-11,,call-2,2001,duty,"), "{csv}");

    let json: serde_json::Value = serde_json::from_str(&ledger.ok(&[
        "report", "handoffs", "--month", "2026-11", "--format", "json",
    ]))
    .expect("JSON");
    assert_eq!(
        json["handoffs"][0]["attempts"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(json["handoffs"][1]["handoff"], serde_json::Value::Null);
    let table = ledger.ok(&["report", "handoffs", "--month", "2026-11"]);
    assert!(
        table.contains("ho-call-1") && table.contains("no_answer"),
        "{table}"
    );
}

#[tokio::test]
async fn a_failure_is_voided_once_within_its_appeal_window() {
    let now = SystemTime::now();
    let recent = failure("cf-recent", "3001", now - Duration::from_secs(3600));
    // Sixty days back is past five working days on any calendar the shipped config has.
    let old = failure("cf-old", "2001", now - Duration::from_secs(60 * 86_400));
    let ledger = Ledger::with(&[Record::from(recent), Record::from(old)]).await;

    let said = ledger.ok(&[
        "ledger",
        "void",
        "cf-recent",
        "--reason",
        "the line was cut",
        "--by",
        "王主任",
    ]);
    assert!(said.contains("cf-recent voided by 王主任"), "{said}");
    let again = ledger.fails(&[
        "ledger",
        "void",
        "cf-recent",
        "--reason",
        "again",
        "--by",
        "李",
    ]);
    assert!(again.contains("already voided by 王主任"), "{again}");
    let unknown = ledger.fails(&["ledger", "void", "cf-none", "--reason", "r", "--by", "李"]);
    assert!(
        unknown.contains("no contact failure \"cf-none\""),
        "{unknown}"
    );

    let past = ledger.fails(&["ledger", "void", "cf-old", "--reason", "r", "--by", "李"]);
    assert!(
        past.contains("appeal window") && past.contains("--late"),
        "{past}"
    );
    let late = ledger.ok(&[
        "ledger",
        "void",
        "cf-old",
        "--reason",
        "carrier fault",
        "--by",
        "李",
        "--late",
    ]);
    assert!(late.contains("late"), "{late}");

    // The store keeps both failures and both voids.
    let store = SqliteStore::open_read_only(&ledger.dir.path().join("hotline.db"))
        .await
        .expect("store");
    use hotline::store::Store;
    let voids = store.failure_voids().await.expect("voids");
    let marks: Vec<(&str, bool)> = voids
        .iter()
        .map(|v| (v.failure_id.as_str(), v.late))
        .collect();
    assert_eq!(marks, [("cf-recent", false), ("cf-old", true)]);
    assert!(store
        .contact_failure("cf-old")
        .await
        .expect("read")
        .is_some());
    store.close().await;
}

#[tokio::test]
async fn a_voided_failure_no_longer_costs_points() {
    let ledger = Ledger::with(&november_records()).await;
    // Voided long after the window, on purpose.
    ledger.ok(&[
        "ledger",
        "void",
        "cf-call-1-1",
        "--reason",
        "upheld",
        "--by",
        "ops",
        "--late",
    ]);
    let json = ledger.contacts_json("2026-11");
    let unit = &json["units"][0];
    assert_eq!(
        (&unit["failures"], &unit["voided"], &unit["score"]),
        (&1.into(), &1.into(), &40.into())
    );
}
