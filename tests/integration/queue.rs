//! The 7x24 queue against real peers: SIPp seat agents that log in with *71 and SIPp callers
//! that are answered, greeted and queued. Everything is checked in the daemon's own records.

use std::time::{Duration, SystemTime};

use hotline::bus::{Subscription, Update};
use hotline::queue::{AcdUpdate, SeatId, SeatState};
use hotline::store::{CallRecord, Disposition, OfferOutcome, SeatEvent};

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{
    caller_queue, caller_queue_probe, seat_agent, spawn_registered, AnswerMode, Hangup, RtpProbe,
    Sipp, SippProcess,
};

const LOGIN: Duration = Duration::from_secs(20);

/// Callers here wait for the daemon's BYE when the seat hangs up, so no rating is asked.
fn no_ratings() -> Options {
    Options {
        extra_config: "[ratings]\nenabled = false\n".to_string(),
        ..Options::default()
    }
}

fn password(user: &str) -> String {
    format!("seat{user}-secret")
}

async fn agent(t: &TestDaemon, user: &str, calls: u32, mode: AnswerMode) -> SippProcess {
    let sipp = seat_agent(
        t.daemon.sip_udp,
        user,
        &password(user),
        calls,
        mode,
        Hangup::OwnSide,
    )
    .set("talk_ms", "1000")
    .set("ring_ms", "200")
    .set("wait_ms", "60000")
    .timeout(Duration::from_secs(70));
    spawn_registered(sipp, t.daemon.sip_udp, user, &password(user), LOGIN)
        .await
        .expect("agent logs in")
}

async fn records(t: &TestDaemon) -> (Vec<CallRecord>, Vec<SeatEvent>) {
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let events = t.daemon.store().seat_events().await.expect("seat events");
    (calls, events)
}

fn ms(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[tokio::test]
async fn callers_are_served_in_order_by_the_longest_idle_seat_after_wrap_up() {
    let t = common::start(no_ratings()).await;
    // 1004's phone is registered but the seat never logs in: it must never be offered a call.
    let registered_only = Sipp::new("seat_register.xml")
        .remote(t.daemon.sip_udp)
        .service("1004")
        .password(&password("1004"))
        .run()
        .await
        .expect("register 1004");
    assert!(registered_only.success(), "{registered_only}");
    // 1002 logs in first, so it has been idle longest. Each agent could take every call: how
    // they share them is the daemon's choice, and they are stopped when the callers are done.
    let seat_1002 = agent(&t, "1002", 6, AnswerMode::Answer).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seat_1001 = agent(&t, "1001", 6, AnswerMode::Answer).await;

    let mut callers = Vec::new();
    for i in 0..6 {
        let caller = caller_queue(t.daemon.sip_udp, "12350")
            .set("caller", &format!("1380000000{i}"))
            .set("hangup", "daemon")
            .timeout(Duration::from_secs(60))
            .spawn()
            .expect("caller");
        callers.push(caller);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    for caller in callers {
        let run = caller.wait().await.expect("caller ends");
        assert!(run.success(), "{run}");
    }
    drop((seat_1002, seat_1001));

    let (calls, events) = records(&t).await;
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert!(
        calls.iter().all(|c| c.disposition == Disposition::Answered),
        "{calls:?}"
    );
    // First come, first served: by entry into the queue, the first offers come in the same order.
    let mut by_entry: Vec<&CallRecord> = calls.iter().collect();
    by_entry.sort_by_key(|c| c.queue.as_ref().map(|q| ms(q.entered_at)));
    let first_offers: Vec<u128> = by_entry
        .iter()
        .map(|c| {
            c.queue
                .as_ref()
                .and_then(|q| q.offers.first())
                .map(|o| ms(o.at))
                .unwrap_or(0)
        })
        .collect();
    let mut sorted = first_offers.clone();
    sorted.sort();
    assert_eq!(
        first_offers, sorted,
        "offers not in order of entry: {by_entry:?}"
    );
    // The seat idle longest took the first caller.
    assert_eq!(by_entry[0].seat.as_deref(), Some("1002"), "{by_entry:?}");
    // A logged-out seat is never offered a call.
    let offered: Vec<&str> = calls
        .iter()
        .flat_map(|c| {
            c.queue
                .iter()
                .flat_map(|q| q.offers.iter().map(|o| o.seat.as_str()))
        })
        .collect();
    assert!(!offered.contains(&"1004"), "{offered:?}");
    assert!(calls.iter().all(|c| c
        .queue
        .as_ref()
        .is_some_and(|q| q.offers.iter().all(|o| o.outcome == OfferOutcome::Answered))));
    // Wrap-up: after a call a seat rings again no sooner than its 2 s of after-call work.
    for seat in ["1001", "1002"] {
        let mine: Vec<&SeatEvent> = events.iter().filter(|e| e.seat == seat).collect();
        for pair in mine.windows(2) {
            if pair[0].to == "wrap_up" {
                let gap = ms(pair[1].at).saturating_sub(ms(pair[0].at));
                assert!(gap >= 1900, "{seat} left wrap-up after {gap} ms: {mine:?}");
            }
        }
    }
    let taken = events.iter().filter(|e| e.to == "on_call").count();
    assert_eq!(taken, 6, "{events:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_unanswered_offer_moves_on_and_the_waiting_caller_hears_sound() {
    let t = common::start(no_ratings()).await;
    let silent = agent(&t, "1001", 5, AnswerMode::NoAnswer).await;
    let probe = RtpProbe::start().expect("probe");
    let caller = caller_queue_probe(t.daemon.sip_udp, "12350", &probe)
        .set("hangup", "daemon")
        .timeout(Duration::from_secs(60))
        .spawn()
        .expect("caller");
    // While it waits the caller hears the welcome and then the music: sound, not silence.
    let heard = probe.wait_for(150, Duration::from_secs(15)).await;
    assert!(heard.audio_packets >= 150, "{heard:?}");
    assert!(
        heard.rms > 300.0,
        "the waiting caller hears silence: {heard:?}"
    );
    assert_eq!(heard.seq_gaps, 0, "{heard:?}");
    // The silent seat's offer times out (3 s); a seat that logs in now takes the call.
    let offered_silent = eventually(Duration::from_secs(15), || async {
        let (calls, events) = records(&t).await;
        let _ = calls;
        events.iter().any(|e| e.seat == "1001" && e.to == "ringing")
    })
    .await;
    assert!(offered_silent);
    let answering = agent(&t, "1002", 1, AnswerMode::Answer).await;
    let run = caller.wait().await.expect("caller ends");
    assert!(run.success(), "{run}");
    assert!(answering.wait().await.expect("seat ends").success());
    drop(silent);
    let (calls, _) = records(&t).await;
    assert_eq!(calls.len(), 1);
    let queue = calls[0].queue.as_ref().expect("queued");
    assert_eq!(calls[0].seat.as_deref(), Some("1002"));
    assert!(
        queue
            .offers
            .iter()
            .any(|o| o.seat == "1001" && o.outcome == OfferOutcome::NoAnswer),
        "{queue:?}"
    );
    assert_eq!(
        queue.offers.last().map(|o| (o.seat.as_str(), o.outcome)),
        Some(("1002", OfferOutcome::Answered))
    );
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn three_missed_offers_pause_the_seat_and_the_caller_who_gives_up_is_abandoned() {
    let t = common::start(Options::default()).await;
    let silent = agent(&t, "1001", 5, AnswerMode::NoAnswer).await;
    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("abandon_ms", "25000")
        .timeout(Duration::from_secs(40))
        .spawn()
        .expect("caller");
    let paused = eventually(Duration::from_secs(35), || async {
        let (_, events) = records(&t).await;
        events.iter().any(|e| {
            e.seat == "1001" && e.to == "paused" && e.reason.as_deref() == Some("no_answer")
        })
    })
    .await;
    let (_, events) = records(&t).await;
    assert!(paused, "not paused after missed offers: {events:?}");
    let run = caller.wait().await.expect("caller ends");
    assert!(run.success(), "{run}");
    drop(silent);
    let (calls, _) = records(&t).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.disposition, Disposition::Abandoned);
    let queue = call.queue.as_ref().expect("queued");
    assert!(queue.abandoned, "{queue:?}");
    // Entered after the ~6 s welcome, gave up 25 s after the answer: well over 10 s of waiting.
    assert!(queue.wait >= Duration::from_secs(10), "{queue:?}");
    let missed = queue
        .offers
        .iter()
        .filter(|o| o.outcome == OfferOutcome::NoAnswer)
        .count();
    assert_eq!(missed, 3, "{queue:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

/// The next ACD update that `wanted` accepts, within `limit`.
async fn next_update(
    updates: &mut Subscription<AcdUpdate>,
    limit: Duration,
    wanted: impl Fn(&AcdUpdate) -> bool,
) -> Option<AcdUpdate> {
    tokio::time::timeout(limit, async {
        while let Some(update) = updates.recv().await {
            if let Update::Event(event) = update {
                if wanted(&event) {
                    return Some(event);
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// The ACD's live state as events: a subscriber sees seat 1001 log in, a caller start to wait
/// and the seat's phone ring; a snapshot taken then agrees; the caller giving up empties the
/// queue.
/// Each queue of a snapshot with how many callers wait in it.
fn waiting_in(snapshot: &hotline::queue::AcdSnapshot) -> Vec<(String, usize)> {
    snapshot
        .queues
        .iter()
        .map(|q| (q.queue.clone(), q.callers.len()))
        .collect()
}

#[tokio::test]
async fn a_subscriber_follows_seats_and_waiting_callers_live() {
    let t = common::start(no_ratings()).await;
    let acd = t.daemon.acd().clone();
    let mut updates = acd.subscribe();
    let before = acd.snapshot().await.expect("snapshot");
    assert!(
        before.seats.iter().all(|n| n.state == SeatState::LoggedOut),
        "{before:?}"
    );
    assert_eq!(waiting_in(&before), [("q".to_string(), 0)], "{before:?}");

    let seat = SeatId::from("1001");
    let _agent = agent(&t, "1001", 1, AnswerMode::NoAnswer).await;
    let available = next_update(&mut updates, LOGIN, |u| {
        matches!(u, AcdUpdate::Seat { seat: s, state: SeatState::Available { .. }, .. } if *s == seat)
    })
    .await;
    assert!(available.is_some(), "no update for the seat's login");

    let caller = caller_queue(t.daemon.sip_udp, "12350")
        .set("abandon_ms", "9000")
        .timeout(Duration::from_secs(30))
        .spawn()
        .expect("caller");
    // The caller's wait and the offer to the seat, in whichever order the ACD publishes them.
    let (mut waiting, mut ringing) = (false, false);
    while !(waiting && ringing) {
        let update = next_update(&mut updates, LOGIN, |u| match u {
            AcdUpdate::Waiting { queue, callers } => queue == "q" && *callers == 1,
            AcdUpdate::Seat { seat: s, state, .. } => {
                *s == seat && matches!(state, SeatState::Ringing { .. })
            }
        })
        .await;
        match update {
            Some(AcdUpdate::Waiting { .. }) => waiting = true,
            Some(AcdUpdate::Seat { .. }) => ringing = true,
            None => panic!("no update (waiting: {waiting}, ringing: {ringing})"),
        }
    }
    let now = acd.snapshot().await.expect("snapshot");
    assert_eq!(waiting_in(&now), [("q".to_string(), 1)], "{now:?}");
    assert!(
        now.seats
            .iter()
            .any(|n| n.seat == seat && n.state != SeatState::LoggedOut),
        "{now:?}"
    );

    let gone = next_update(
        &mut updates,
        LOGIN,
        |u| matches!(u, AcdUpdate::Waiting { queue, callers: 0 } if queue == "q"),
    )
    .await;
    assert!(gone.is_some(), "no update for the caller giving up");
    let run = caller.wait().await.expect("caller ends");
    assert!(run.success(), "{run}");
    t.daemon.shutdown().await.expect("shutdown");
}
