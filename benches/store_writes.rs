//! What the store's writes of one call cost (issue 12: CPU per call at low and high rates).
//!
//! `cargo bench --bench store_writes`
//!
//! A `SqliteStore` on a file in a temp directory, opened as the daemon opens it (WAL,
//! `synchronous = FULL`). A ring route's call writes what the daemon writes for it: the open
//! call at the offer, again at the answer, and at the end the call with its caller's and
//! seat's legs. Two ways, 1,000 calls each, three rounds (a fresh database each):
//! 1. **alone**: each of a call's three batches committed on its own, one after the other, as
//!    at 50 calls/s where nothing else is queued;
//! 2. **grouped**: 50 calls' batches in one commit each, as the writer groups them at a high
//!    call rate.
//!
//! Printed per way: per call, the wall time, the CPU of the whole process (the runtime and the
//! store's write thread; schedstat, ns-precise) and the context switches of all its threads
//! (voluntary and not, `/proc/self/task/*/status`). The figures include each commit's `fsync`.

mod common;
#[path = "common/counting.rs"]
mod counting;

use std::time::{Duration, Instant, SystemTime};

use common::{print_context, Summary};
use counting::threads_cpu_ns;
use hotline::store::{CallRecord, Disposition, LegRecord, LegRole, OpenCall, Record, SqliteStore};

const CALLS: u64 = 1_000;
const ROUNDS: usize = 3;
const GROUP: u64 = 50;

fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
}

/// The three batches the daemon writes for call `n`: offered, answered, ended.
fn call_batches(n: u64) -> [Vec<Record>; 3] {
    let id = format!("call-bench-{n}");
    let offered = OpenCall {
        id: id.clone(),
        sip_call_id: format!("{n}@trunk"),
        trunk: "carrier".to_owned(),
        caller: "13800000000".to_owned(),
        called: "12345".to_owned(),
        seat: None,
        offered_at: at(n * 20),
        answered_at: None,
    };
    let answered = OpenCall {
        seat: Some("1001".to_owned()),
        answered_at: Some(at(n * 20 + 2)),
        ..offered.clone()
    };
    let ended: CallRecord =
        answered
            .clone()
            .ended(at(n * 20 + 8), Disposition::Answered, None, None);
    let leg = |role: LegRole, party: &str| LegRecord {
        id: format!("{id}-{}", role.as_str()),
        call_id: id.clone(),
        role,
        party: party.to_owned(),
        started_at: at(n * 20),
        answered_at: Some(at(n * 20 + 2)),
        ended_at: at(n * 20 + 8),
        ended_how: "bye_by_them".to_owned(),
    };
    [
        vec![Record::OpenCall(offered)],
        vec![Record::OpenCall(answered)],
        vec![
            Record::Leg(leg(LegRole::Caller, "13800000000")),
            Record::Leg(leg(LegRole::Seat, "1001")),
            Record::Call(ended),
        ],
    ]
}

/// Context switches of every thread of the process so far.
fn context_switches() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
    {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        total += status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}

struct Round {
    wall_ms: f64,
    cpu_ms: f64,
    switches: f64,
}

/// Writes `CALLS` calls into a fresh database, `group` calls' batches per commit (1: each
/// batch alone); returns the figures per call.
async fn round(group: u64) -> Round {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("hotline.db"))
        .await
        .expect("open the store");
    let calls: Vec<[Vec<Record>; 3]> = (0..CALLS).map(call_batches).collect();

    // Every thread: the name prefix "" matches them all.
    let (cpu0, sw0, t0) = (threads_cpu_ns(""), context_switches(), Instant::now());
    if group == 1 {
        for batches in &calls {
            for batch in batches {
                store.write_batch(batch).await.expect("write");
            }
        }
    } else {
        for chunk in calls.chunks(usize::try_from(group).expect("a small group")) {
            // The writer takes what is queued: at a high rate, every stage of many calls.
            let batch: Vec<Record> = chunk.iter().flatten().flatten().cloned().collect();
            store.write_batch(&batch).await.expect("write");
        }
    }
    let (cpu1, sw1, wall) = (threads_cpu_ns(""), context_switches(), t0.elapsed());
    store.close().await;

    let per_call = |v: f64| v / CALLS as f64;
    Round {
        wall_ms: per_call(wall.as_secs_f64() * 1e3),
        cpu_ms: per_call((cpu1 - cpu0) as f64 / 1e6),
        switches: per_call((sw1 - sw0) as f64),
    }
}

fn main() {
    print_context("store_writes");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{CALLS} calls per round, {ROUNDS} rounds; per call: 3 batches (offer, answer, end: \
         2 legs and the call)"
    );
    println!(
        "{:<34} {:>22} {:>22} {:>22}",
        "way", "wall ms/call", "CPU ms/call", "ctx switches/call"
    );
    for (name, group) in [
        ("alone (each batch its own commit)", 1),
        ("grouped (50 calls per commit)", GROUP),
    ] {
        let rounds: Vec<Round> = (0..ROUNDS)
            .map(|_| runtime.block_on(round(group)))
            .collect();
        let show = |f: fn(&Round) -> f64| {
            let s = Summary::of(&rounds.iter().map(f).collect::<Vec<_>>());
            format!("{:.3} ({:.0} % spread)", s.median, s.spread_pct())
        };
        println!(
            "{:<34} {:>22} {:>22} {:>22}",
            name,
            show(|r| r.wall_ms),
            show(|r| r.cpu_ms),
            show(|r| r.switches)
        );
    }
}
