//! Keypad ratings at the end of a queued call: the seat hangs up, the caller stays, hears the
//! question and rates by key; the store holds exactly what each caller did.

use std::time::Duration;

use hotline::call::board::LineState;
use hotline::ratings::{NotRatedReason, Rating, RatingOutcome};
use hotline::store::RatingRecord;

use crate::common::{self, eventually, Options, TestDaemon};
use crate::peers::{
    caller_rate, seat_agent, spawn_registered, AnswerMode, Hangup, KeyPress, RtpProbe, SippProcess,
};
use crate::raw_caller::RawCaller;

enum Plan {
    Keys(&'static str),
    Nothing,
    HangUp,
}

async fn in_rating(t: &TestDaemon, caller: &str) -> bool {
    eventually(Duration::from_secs(60), || async {
        t.daemon
            .board()
            .snapshot()
            .iter()
            .any(|l| l.caller == caller && l.state == LineState::Rating)
    })
    .await
}

/// One caller through the queue to a seat, then rating as `plan` says.
async fn caller(t: &TestDaemon, number: &str, plan: Plan) {
    let probe = RtpProbe::start().expect("probe");
    let mut call = RawCaller::call(t.daemon.sip_udp, "12350", number, probe.port()).await;
    assert!(
        in_rating(t, number).await,
        "{number} never reached the rating question"
    );
    match plan {
        Plan::Keys(keys) => {
            for key in keys.chars() {
                tokio::time::sleep(Duration::from_millis(400)).await;
                call.key(key).await;
            }
        }
        Plan::Nothing => {}
        Plan::HangUp => {
            call.hang_up().await;
            return;
        }
    }
    assert!(
        call.wait_bye(Duration::from_secs(60)).await,
        "{number}: no BYE after rating"
    );
}

/// Seat `user`, logged in and registered, answering up to `calls` calls after 200 ms and
/// hanging up each after 1 s, so that its callers are asked to rate; it waits for calls for
/// `wait`.
async fn seat_hanging_up_first(
    t: &TestDaemon,
    user: &str,
    calls: u32,
    wait: Duration,
) -> SippProcess {
    let password = format!("seat{user}-secret");
    let agent = seat_agent(
        t.daemon.sip_udp,
        user,
        &password,
        calls,
        AnswerMode::Answer,
        Hangup::OwnSide,
    )
    .set("talk_ms", "1000")
    .set("ring_ms", "200")
    .set("wait_ms", &wait.as_millis().to_string())
    .timeout(wait + Duration::from_secs(10));
    spawn_registered(
        agent,
        t.daemon.sip_udp,
        user,
        &password,
        Duration::from_secs(20),
    )
    .await
    .expect("seat")
}

async fn rating_of(t: &TestDaemon, number: &str) -> Option<RatingRecord> {
    t.daemon.flush_records().await.expect("flush");
    let calls = t.daemon.store().calls().await.expect("calls");
    let id = calls.iter().find(|c| c.caller == number)?.id.clone();
    let ratings = t.daemon.store().ratings().await.expect("ratings");
    let mine: Vec<RatingRecord> = ratings.into_iter().filter(|r| r.call_id == id).collect();
    assert!(mine.len() <= 1, "one rating per call: {mine:?}");
    mine.into_iter().next()
}

#[tokio::test]
async fn every_way_a_caller_can_answer_the_rating_question_is_recorded() {
    let t = common::start(Options {
        extra_config: "[ratings]\nprompt_timeout_secs = 1\n".to_string(),
        ..Options::default()
    })
    .await;
    let mut seats = Vec::new();
    for user in ["1001", "1002"] {
        seats.push(seat_hanging_up_first(&t, user, 6, Duration::from_secs(110)).await);
    }
    let plans = [
        ("13900000001", Plan::Keys("1")),
        ("13900000002", Plan::Keys("2")),
        ("13900000003", Plan::Keys("3")),
        ("13900000004", Plan::Keys("92")),
        ("13900000005", Plan::Nothing),
        ("13900000006", Plan::HangUp),
    ];
    let runs = plans.into_iter().map(|(number, plan)| {
        let t = &t;
        async move { caller(t, number, plan).await }
    });
    futures_join_all(runs).await;
    drop(seats);

    let expect = [
        ("13900000001", RatingOutcome::Rated(Rating::Satisfied)),
        (
            "13900000002",
            RatingOutcome::Rated(Rating::BasicallySatisfied),
        ),
        ("13900000003", RatingOutcome::Rated(Rating::Dissatisfied)),
        (
            "13900000004",
            RatingOutcome::Rated(Rating::BasicallySatisfied),
        ),
        (
            "13900000005",
            RatingOutcome::NotRated(NotRatedReason::NoDigit),
        ),
        (
            "13900000006",
            RatingOutcome::NotRated(NotRatedReason::CallerHungUp),
        ),
    ];
    for (number, outcome) in expect {
        let kept = eventually(Duration::from_secs(5), || async {
            rating_of(&t, number).await.is_some()
        })
        .await;
        assert!(kept, "{number}: no rating record");
        let record = rating_of(&t, number).await.expect("rating");
        assert_eq!(record.outcome, outcome, "{number}");
        assert!(
            record.seat.is_some(),
            "the rating names the seat that served: {record:?}"
        );
    }
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_rating_is_in_the_store_before_thank_you_starts() {
    let t = common::start(Options::default()).await;
    let _seat = seat_hanging_up_first(&t, "1001", 1, Duration::from_secs(50)).await;
    let probe = RtpProbe::start().expect("probe");
    let number = "13900000011";
    let mut call = RawCaller::call(t.daemon.sip_udp, "12350", number, probe.port()).await;
    assert!(in_rating(&t, number).await);
    // Let the question (9.8 s, about 490 packets) play out: then the daemon's audio stops
    // while it waits for a key.
    let at_question = probe.stats().await.packets;
    let played = probe
        .wait_for(at_question + 480, Duration::from_secs(20))
        .await;
    assert!(played.packets >= at_question + 480, "{played:?}");
    let mut last = probe.stats().await.packets;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = probe.stats().await.packets;
        if now == last {
            break;
        }
        last = now;
    }
    // The call's record is written when it ends; while it is up, the board has its id.
    let id = t
        .daemon
        .board()
        .snapshot()
        .into_iter()
        .find(|l| l.caller == number)
        .map(|l| l.id)
        .expect("line on the board");
    call.key('1').await;
    // The next audio is "thank you": once its first packet has arrived, the rating is kept.
    // (Audio first, then the store: the other order races a commit made between the two looks.)
    let mut kept_before_audio = None;
    for _ in 0..500 {
        if probe.stats().await.packets > last {
            let kept = t
                .daemon
                .store()
                .ratings()
                .await
                .expect("ratings")
                .iter()
                .any(|r| r.call_id == id);
            kept_before_audio = Some(kept);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        kept_before_audio,
        Some(true),
        "thank you played before the rating was committed"
    );
    assert!(call.wait_bye(Duration::from_secs(20)).await);
    t.daemon.shutdown().await.expect("shutdown");
}

/// Runs the futures concurrently on this task and waits for all of them.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[tokio::test]
async fn with_no_seat_logged_in_the_caller_can_ask_for_a_callback() {
    let t = common::start(Options {
        queue_extra: "overflow = { callback = true }".to_string(),
        ..Options::default()
    })
    .await;
    let probe = RtpProbe::start().expect("probe");
    let number = "13900000021";
    let mut call = RawCaller::call(t.daemon.sip_udp, "12350", number, probe.port()).await;
    // Welcome (about 6 s), then at once the overflow: nobody is logged in. The offer plays;
    // pressing 1 during it or after it asks for the callback.
    let offered = eventually(Duration::from_secs(20), || async {
        t.daemon.flush_records().await.is_ok() && probe.stats().await.packets > 350
    })
    .await;
    assert!(offered, "no audio from the daemon");
    tokio::time::sleep(Duration::from_secs(1)).await;
    call.key('1').await;
    assert!(
        call.wait_bye(Duration::from_secs(20)).await,
        "no goodbye after the callback request"
    );
    t.daemon.flush_records().await.expect("flush");
    let callbacks = t.daemon.store().callbacks().await.expect("callbacks");
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0].number, number);
    assert_eq!(callbacks[0].queue, "q");
    let calls = t.daemon.store().calls().await.expect("calls");
    let queue = calls[0].queue.as_ref().expect("queued");
    assert_eq!(queue.overflow.as_deref(), Some("callback"), "{queue:?}");
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn sipp_callers_rate_by_rfc4733_and_info_keys() {
    let t = common::start(Options {
        extra_config: "[ratings]\nprompt_timeout_secs = 2\n".to_string(),
        ..Options::default()
    })
    .await;
    let mut seats = Vec::new();
    for user in ["1001", "1002", "1003", "1004"] {
        seats.push(seat_hanging_up_first(&t, user, 3, Duration::from_secs(80)).await);
    }
    // Answered at once, greeted for about 6 s, then a seat talks for 1 s and hangs up: the
    // question plays from about 7 s (a little later for a caller who waited for a seat) to
    // 17 s. Keys typed at 12 s fall inside it.
    let at = Duration::from_secs(12);
    let plans: [(&str, &str, KeyPress); 6] = [
        ("13900000031", "1", KeyPress::Rfc4733),
        ("13900000032", "2", KeyPress::Info),
        ("13900000033", "3", KeyPress::Rfc4733),
        ("13900000034", "92", KeyPress::Info),
        ("13900000035", "", KeyPress::Info),
        ("13900000036", "", KeyPress::Info),
    ];
    let mut callers = Vec::new();
    for (number, keys, via) in plans {
        let mut sipp = caller_rate(t.daemon.sip_udp, "12350", keys, via, at).set("caller", number);
        if number.ends_with('6') {
            sipp = sipp.set("hangup_ms", "12000");
        }
        callers.push((number, sipp.spawn().expect("caller")));
    }
    for (number, caller) in callers {
        let run = caller.wait().await.expect("caller ends");
        assert!(run.success(), "{number}: {run}");
    }
    drop(seats);
    let expect = [
        ("13900000031", RatingOutcome::Rated(Rating::Satisfied)),
        (
            "13900000032",
            RatingOutcome::Rated(Rating::BasicallySatisfied),
        ),
        ("13900000033", RatingOutcome::Rated(Rating::Dissatisfied)),
        (
            "13900000034",
            RatingOutcome::Rated(Rating::BasicallySatisfied),
        ),
        (
            "13900000035",
            RatingOutcome::NotRated(NotRatedReason::NoDigit),
        ),
        (
            "13900000036",
            RatingOutcome::NotRated(NotRatedReason::CallerHungUp),
        ),
    ];
    for (number, outcome) in expect {
        let record = rating_of(&t, number)
            .await
            .unwrap_or_else(|| panic!("{number}: no rating"));
        assert_eq!(record.outcome, outcome, "{number}");
    }
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_call_that_rang_a_seat_directly_is_rated_too() {
    let t = common::start(Options::default()).await;
    let _seat = seat_hanging_up_first(&t, "1001", 1, Duration::from_secs(50)).await;
    let probe = RtpProbe::start().expect("probe");
    let number = "13900000031";
    // 12346 rings seat 1001 without a queue; the seat hangs up first.
    let mut call = RawCaller::call(t.daemon.sip_udp, "12346", number, probe.port()).await;
    assert!(in_rating(&t, number).await, "no rating question");
    call.key('3').await;
    assert!(
        call.wait_bye(Duration::from_secs(30)).await,
        "no BYE after the rating"
    );
    let kept = eventually(Duration::from_secs(5), || async {
        rating_of(&t, number).await.is_some()
    })
    .await;
    assert!(kept, "no rating record");
    let record = rating_of(&t, number).await.expect("rating");
    assert_eq!(record.outcome, RatingOutcome::Rated(Rating::Dissatisfied));
    assert_eq!(record.seat.as_deref(), Some("1001"));
    t.daemon.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_seat_sends_the_caller_to_rating_with_its_code_typed_as_sip_info() {
    let t = common::start(Options::default()).await;
    let agent = seat_agent(
        t.daemon.sip_udp,
        "1001",
        "seat1001-secret",
        1,
        AnswerMode::Answer,
        Hangup::OwnSide,
    )
    .out_of_call("seat_info_incoming.xml")
    .set("wait_ms", "40000")
    .timeout(Duration::from_secs(50));
    let mut seat = spawn_registered(
        agent,
        t.daemon.sip_udp,
        "1001",
        "seat1001-secret",
        Duration::from_secs(20),
    )
    .await
    .expect("seat");
    let probe = RtpProbe::start().expect("probe");
    let number = "13900000091";
    let mut call = RawCaller::call(t.daemon.sip_udp, "12350", number, probe.port()).await;
    assert!(
        seat.wait_log("keys sent", Duration::from_secs(30)).await,
        "{}",
        seat.log_so_far()
    );
    // *8 by INFO: the daemon hangs up the seat and asks the caller.
    assert!(
        seat.wait_log("agent ended", Duration::from_secs(10)).await,
        "the seat was not released:\n{}",
        seat.log_so_far()
    );
    assert!(in_rating(&t, number).await, "no rating question");
    call.key('2').await;
    assert!(call.wait_bye(Duration::from_secs(30)).await);
    let kept = eventually(Duration::from_secs(5), || async {
        rating_of(&t, number).await.is_some()
    })
    .await;
    assert!(kept, "no rating record");
    let record = rating_of(&t, number).await.expect("rating");
    assert_eq!(
        record.outcome,
        RatingOutcome::Rated(Rating::BasicallySatisfied)
    );
    t.daemon.shutdown().await.expect("shutdown");
}
