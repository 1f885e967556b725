//! `hotline report ratings` as an operator runs it, over ratings the store really holds.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hotline::ratings::{NotRatedReason, Rating, RatingKind, RatingOutcome};
use hotline::store::{RatingRecord, Record, SqliteStore};

#[tokio::test]
async fn the_monthly_report_gives_the_assessment_scores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hotline.db");
    let store = SqliteStore::open(&db).await.expect("store");
    // 2026-11-10T04:00:00Z, noon in Beijing; one more rating on 2026-11-30T16:30Z, which is
    // already December in local time and must not count.
    let nov = UNIX_EPOCH + Duration::from_secs(1_794_283_200);
    let dec = UNIX_EPOCH + Duration::from_secs(1_796_056_200);
    let outcomes = [
        vec![RatingOutcome::Rated(Rating::Satisfied); 7],
        vec![RatingOutcome::Rated(Rating::BasicallySatisfied); 2],
        vec![RatingOutcome::Rated(Rating::Dissatisfied)],
        vec![RatingOutcome::NotRated(NotRatedReason::NoDigit); 2],
    ]
    .concat();
    let mut records: Vec<Record> = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| rating(i, nov, outcome))
        .collect();
    records.push(rating(99, dec, RatingOutcome::Rated(Rating::Dissatisfied)));
    store.write_batch(&records).await.expect("write");
    store.close().await;

    let config_path = crate::common::shipped_config_with_db(dir.path(), &db);
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "report", "ratings", "--month", "2026-11", "--format", "table", "--config",
        ])
        .arg(&config_path)
        .output()
        .expect("run hotline");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // By hand: a=7, b=2, c=1, N=10, offered 12: (35+6+1)/50 = 0.84 → result 252.0 of 300,
    // attitude 84.0 of 100; response 10/12 = 83.3%, satisfaction (7+2)/10 = 90.0%.
    for figure in ["252.0", "84.0", "83.3", "90.0"] {
        assert!(table.contains(figure), "{figure} missing from:\n{table}");
    }
}

fn rating(i: usize, at: SystemTime, outcome: RatingOutcome) -> Record {
    Record::Rating(RatingRecord {
        id: format!("rating-{i}"),
        call_id: format!("call-{i}"),
        kind: RatingKind::Keypad,
        at,
        seat: Some("1001".to_string()),
        unit: None,
        outcome,
    })
}
