//! The phone's own transfer button: a REFER from the seat's phone in a queued call. A target
//! the dialplan does not allow gets 403 and a security event, and the call goes on.

use std::time::Duration;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{caller_queue, seat_agent, spawn_registered, AnswerMode, Hangup, SippProcess};

const LOGIN: Duration = Duration::from_secs(20);

fn no_ratings() -> Options {
    Options {
        extra_config: "[ratings]\nenabled = false\n".to_string(),
        ..Options::default()
    }
}

/// Seat 1001 logged in, answering with seat_refer_incoming.xml: REFER to `refer_to`.
async fn referring_seat(t: &TestDaemon, refer_to: &str, expect: &str) -> SippProcess {
    let sipp = seat_agent(
        t.daemon.sip_udp,
        "1001",
        "seat1001-secret",
        1,
        AnswerMode::Answer,
        Hangup::OwnSide,
    )
    .out_of_call("seat_refer_incoming.xml")
    .set("refer_to", refer_to)
    .set("refer_expect", expect)
    .set("refer_ms", "1000")
    .set("wait_ms", "40000")
    .timeout(Duration::from_secs(50));
    spawn_registered(sipp, t.daemon.sip_udp, "1001", "seat1001-secret", LOGIN)
        .await
        .expect("seat logs in")
}

async fn call_events(t: &TestDaemon, caller: &str) -> Vec<(String, Option<String>)> {
    t.daemon.flush_records().await.expect("flush");
    let id = t
        .daemon
        .board()
        .snapshot()
        .into_iter()
        .find(|l| l.caller == caller)
        .map(|l| l.id);
    let id = match id {
        Some(id) => id,
        None => match t
            .daemon
            .store()
            .calls()
            .await
            .expect("calls")
            .into_iter()
            .find(|c| c.caller == caller)
        {
            Some(call) => call.id,
            None => return Vec::new(),
        },
    };
    t.daemon
        .store()
        .call_events(&id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.kind, e.detail))
        .collect()
}

#[tokio::test]
async fn a_refer_to_a_number_the_dialplan_does_not_allow_is_refused() {
    let t = common::start(no_ratings()).await;
    let mut seat = referring_seat(&t, "0085299998888", "refused").await;
    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("caller", "13900000041")
        .set("hangup", "daemon")
        .timeout(Duration::from_secs(40))
        .spawn()
        .expect("caller");
    assert!(
        seat.wait_log("refer refused", Duration::from_secs(30))
            .await,
        "the seat's REFER was not refused:\n{}",
        seat.log_so_far()
    );
    let logged = eventually(Duration::from_secs(10), || async {
        call_events(&t, "13900000041")
            .await
            .iter()
            .any(|(kind, _)| kind == "refer_refused")
    })
    .await;
    assert!(
        logged,
        "no refer_refused event: {:?}",
        call_events(&t, "13900000041").await
    );
    // The seat hangs up after the 403; the caller gets the daemon's BYE, nothing was dialled.
    let run = caller.wait().await.expect("caller ends");
    assert!(run.success(), "{run}");
    let events = call_events(&t, "13900000041").await;
    assert!(
        !events.iter().any(|(kind, _)| kind == "blind_transfer"),
        "{events:?}"
    );
    let metrics = crate::metrics_scrape::scrape(t.daemon.metrics).await;
    assert!(
        metrics.contains("hotline_security_events_total{kind=\"refer_refused\"}"),
        "no security event in the metrics"
    );
    t.daemon.shutdown().await.expect("shutdown");
}
