//! Overload that sheds and recovers: past its capacity the daemon refuses new calls at once
//! with 503 and Retry-After, and once the load falls back it takes every call again.
//!
//! The capacity is made exact so the test does not depend on the machine: `max_calls = 10`
//! with calls held 1 s is 10 calls a second. Raw callers on 127.0.0.1 offer twice that for
//! 10 s, then half of it for 10 s (the run: 2x capacity, then half capacity, < 0.1 %
//! failed after the first 5 s). What the daemon does under real CPU overload (its loop's lag
//! and its queues) is measured by `scripts/bench_overload.sh`, not asserted here.

use std::time::Duration;

use hotline::store::Disposition;

use crate::common::{self, Options};
use crate::peers::RtpProbe;
use crate::raw_caller::RawCaller;

/// How one call went: answered, refused with a status, or not answered at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Went {
    Answered,
    Refused(u16),
    NoAnswer,
}

/// One caller of the run: starts `at` after the run's start, holds an answered call `HOLD`.
struct Call {
    at: Duration,
    caller: String,
}

const HOLD: Duration = Duration::from_secs(1);

/// `rate` calls a second for `secs` seconds, from `start` on.
fn phase(start: Duration, rate: u32, secs: u32, first: u32) -> Vec<Call> {
    (0..rate * secs)
        .map(|i| Call {
            at: start + Duration::from_secs(1) * i / rate,
            caller: format!("1370000{:04}", first + i),
        })
        .collect()
}

#[tokio::test]
async fn past_capacity_calls_get_503_at_once_and_after_the_load_falls_every_call_is_taken() {
    let t = common::start(Options {
        sip_extra: "max_calls = 10\n".to_string(),
        ..Options::default()
    })
    .await;
    let probe = RtpProbe::start().expect("probe");
    let overload = phase(Duration::ZERO, 20, 10, 0);
    let after = phase(Duration::from_secs(10), 5, 10, 1_000);
    let offered = overload.len() + after.len();

    let start = tokio::time::Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for call in overload.into_iter().chain(after) {
        let (daemon, port) = (t.daemon.sip_udp, probe.port());
        callers.spawn(async move {
            tokio::time::sleep_until(start + call.at).await;
            let went = match RawCaller::attempt(daemon, "12350", &call.caller, port).await {
                Ok(mut leg) => {
                    tokio::time::sleep(HOLD).await;
                    leg.hang_up().await;
                    Went::Answered
                }
                Err(Some(status)) => Went::Refused(status),
                Err(None) => Went::NoAnswer,
            };
            (call.at, went)
        });
    }
    let mut results = Vec::new();
    while let Some(result) = callers.join_next().await {
        results.push(result.expect("caller task"));
    }
    results.sort_by_key(|(at, _)| *at);

    // Twice the capacity: about half refused, each with 503 at once, none left unanswered.
    let in_overload = |at: &Duration| *at < Duration::from_secs(10);
    let refused = results
        .iter()
        .filter(|(at, went)| in_overload(at) && matches!(went, Went::Refused(_)))
        .count();
    assert!(
        refused >= 50,
        "{refused} refused of 200 offered at twice the capacity"
    );
    let odd: Vec<_> = results
        .iter()
        .filter(|(_, went)| !matches!(went, Went::Answered | Went::Refused(503)))
        .collect();
    assert_eq!(
        odd,
        Vec::<&(Duration, Went)>::new(),
        "only answers and 503s"
    );
    // Half the capacity: after its first 5 s every call is taken (0 of 25 failed).
    let failed_after: Vec<_> = results
        .iter()
        .filter(|(at, went)| *at >= Duration::from_secs(15) && *went != Went::Answered)
        .collect();
    assert_eq!(failed_after, Vec::<&(Duration, Went)>::new(), "recovered");

    // Every call offered has its row; the refused ones as rejected with 503.
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("read calls");
    assert_eq!(calls.len(), offered, "a row for every call");
    let rejected = calls
        .iter()
        .filter(|c| c.disposition == Disposition::Rejected && c.sip_cause == Some(503))
        .count();
    let refused_all = results
        .iter()
        .filter(|(_, went)| *went == Went::Refused(503))
        .count();
    assert_eq!(rejected, refused_all, "each refusal recorded");
    assert!(
        calls
            .iter()
            .all(|c| c.disposition != Disposition::Unreachable),
        "nobody recorded unreachable"
    );
    t.daemon.shutdown().await.expect("shutdown");
}
