//! The call driver on a paused clock with fake legs (see `harness`): offers, a ring route
//! that rings out, a consulted seat that never answers, shutdown, a rating, and a survey's
//! call to a citizen.

mod harness;

use std::time::Duration;

use tokio::time::Instant;

use harness::Harness;

use crate::call::{CallEvent, CoreCommand};
use crate::sip::message::Method;
use crate::store::{Disposition, RatingOutcome, Record};

/// A queued call for 12345 answered by seat 1001: the caller's 200, then the seat's INVITE
/// answered and ACKed.
async fn queued_call_with_seat(h: &mut Harness) -> (harness::Call, harness::PlacedLeg) {
    h.seat_logs_in("1001").await;
    let mut call = h.call("12345", Some("citizens"), &[]);
    let answer = h.caller_hears(&mut call).await;
    assert_eq!(
        answer.status, 200,
        "the daemon answers a queued caller itself"
    );
    let seat = h.rings().await;
    assert!(seat.invite.uri.contains("1001"), "{}", seat.invite.uri);
    h.phone_answers(&call, &seat, 180);
    h.phone_answers(&call, &seat, 200);
    h.until(|c| matches!(c, CoreCommand::Ack { .. })).await;
    (call, seat)
}

#[tokio::test(start_paused = true)]
async fn a_queued_call_is_offered_to_the_logged_in_seat_and_recorded_when_the_caller_leaves() {
    let mut h = Harness::new().await;
    let (call, _seat) = queued_call_with_seat(&mut h).await;
    h.caller_sends(&call, "BYE", None);
    h.until_sent(Method::Bye).await;
    let record = h.record(call).await;
    assert_eq!(record.disposition, Disposition::Answered);
    assert_eq!(record.seat.as_deref(), Some("1001"));
    assert_eq!(record.ended_by.as_deref(), Some("caller"));
    let queue = record
        .queue
        .expect("a queued call's record has its queue part");
    assert_eq!(queue.queue, "citizens");
    assert_eq!(queue.offers.len(), 1);
    assert!(
        h.seen.iter().position(|s| s == "200 BYE") < h.seen.iter().position(|s| s == "BYE"),
        "the caller's BYE is answered, then the seat is hung up: {:?}",
        h.seen
    );
}

#[tokio::test(start_paused = true)]
async fn a_ring_route_nobody_answers_is_cancelled_at_its_ring_timeout() {
    let mut h = Harness::new().await;
    h.seat_registers("1001").await;
    let mut call = h.call("12346", None, &["1001"]);
    let seat = h.rings().await;
    let rung = Instant::now();
    h.phone_answers(&call, &seat, 180);
    assert_eq!(h.caller_hears(&mut call).await.status, 180);
    h.until(|c| matches!(c, CoreCommand::Cancel { .. })).await;
    let waited = rung.elapsed();
    assert!(
        waited >= Duration::from_secs(20) && waited < Duration::from_secs(21),
        "cancelled after {waited:?}, the route rings 20 s"
    );
    assert_eq!(h.caller_hears(&mut call).await.status, 480);
    let record = h.record(call).await;
    assert_eq!(record.disposition, Disposition::NoAnswer);
    assert_eq!(record.answered_at, None);
}

#[tokio::test(start_paused = true)]
async fn a_consulted_seat_that_never_answers_is_given_up_at_the_unit_ring_timeout() {
    let mut h = Harness::new().await;
    h.seat_registers("1002").await;
    let (call, seat) = queued_call_with_seat(&mut h).await;
    for key in "*11002#".chars() {
        h.phone_sends(&call, &seat, "INFO", Some(key));
    }
    let unit = h.rings().await;
    let rung = Instant::now();
    assert!(unit.invite.uri.contains("1002"), "{}", unit.invite.uri);
    h.phone_answers(&call, &unit, 180);
    h.until(|c| matches!(c, CoreCommand::Cancel { .. })).await;
    let waited = rung.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "given up after {waited:?}; unit_ring_timeout_secs is 30"
    );
    // The caller is back with the seat: the call goes on until the caller leaves.
    h.caller_sends(&call, "BYE", None);
    h.until_sent(Method::Bye).await;
    let id = call.id.to_string();
    let record = h.record(call).await;
    assert_eq!(record.disposition, Disposition::Answered);
    let events = h.written(|r| match r {
        Record::CallEvent(e) if e.call_id == id => Some(e.clone()),
        _ => None,
    });
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"consult"), "{kinds:?}");
    let failed = events
        .iter()
        .find(|e| e.kind == "unit_failed")
        .expect("the consultation failed");
    assert_eq!(failed.detail.as_deref(), Some("408"));
    let legs = h.written(|r| match r {
        Record::Leg(l) if l.call_id == id => Some(l.clone()),
        _ => None,
    });
    assert!(
        legs.iter()
            .any(|l| l.party.contains("1002") && l.ended_how == "cancelled"),
        "{legs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_seat_transfers_the_caller_with_its_phones_button_and_leaves_caller_and_unit_talking() {
    let mut h = Harness::new().await;
    h.seat_registers("1002").await;
    let (call, seat) = queued_call_with_seat(&mut h).await;
    h.phone_sends_with(
        &call,
        &seat,
        "REFER",
        None,
        "Refer-To: <sip:1002@127.0.0.1>\r\nReferred-By: <sip:1001@127.0.0.1>\r\n",
    );
    h.until(|c| matches!(c, CoreCommand::Respond { response, .. } if response.status == 202))
        .await;
    let unit = h.rings().await;
    assert!(unit.invite.uri.contains("1002"), "{}", unit.invite.uri);
    h.phone_answers(&call, &unit, 200);
    // The transfer is done: the seat's phone hears NOTIFY, and the daemon lets the seat go.
    let seat_call_id = seat.invite.headers.get("Call-ID").map(str::to_string);
    h.until(|c| {
        matches!(c, CoreCommand::Send { request, .. }
            if request.method == Method::Bye
                && request.headers.get("Call-ID") == seat_call_id.as_deref())
    })
    .await;
    assert!(h.seen.iter().any(|s| s == "NOTIFY"), "{:?}", h.seen);
    assert!(h.seen.iter().any(|s| s == "ACK"), "{:?}", h.seen);
    h.caller_sends(&call, "BYE", None);
    // The caller's BYE ends the unit's leg.
    let unit_call_id = unit.invite.headers.get("Call-ID").map(str::to_string);
    h.until(|c| {
        matches!(c, CoreCommand::Send { request, .. }
            if request.method == Method::Bye
                && request.headers.get("Call-ID") == unit_call_id.as_deref())
    })
    .await;
    let id = call.id.to_string();
    let record = h.record(call).await;
    assert_eq!(record.seat.as_deref(), Some("1001"));
    let events = h.written(|r| match r {
        Record::CallEvent(e) if e.call_id == id => Some(e.clone()),
        _ => None,
    });
    assert!(
        events.iter().any(|e| e.kind == "blind_transfer"),
        "{events:?}"
    );
    let legs = h.written(|r| match r {
        Record::Leg(l) if l.call_id == id => Some(l.clone()),
        _ => None,
    });
    let unit_leg = legs
        .iter()
        .find(|l| l.party.contains("1002"))
        .expect("the unit's leg");
    assert!(unit_leg.answered_at.is_some(), "{unit_leg:?}");
    let seat_leg = legs
        .iter()
        .find(|l| l.party == "1001")
        .expect("the seat's leg");
    assert_eq!(seat_leg.ended_how, "bye_by_us", "{seat_leg:?}");
    assert!(
        h.seen.iter().filter(|s| *s == "BYE").count() >= 2,
        "the seat, then the unit: {:?}",
        h.seen
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_hangs_up_seat_and_caller_and_records_the_daemon_ended_it() {
    let mut h = Harness::new().await;
    let (call, _seat) = queued_call_with_seat(&mut h).await;
    let _ = call.events.send(CallEvent::Shutdown);
    h.until_sent(Method::Bye).await;
    h.until_sent(Method::Bye).await;
    let record = h.record(call).await;
    assert_eq!(record.disposition, Disposition::Answered);
    assert_eq!(record.ended_by.as_deref(), Some("daemon"));
    assert!(h.seen.iter().any(|s| s == "finished"), "{:?}", h.seen);
}

#[tokio::test(start_paused = true)]
async fn a_caller_whose_seat_hangs_up_first_rates_the_call_by_keypad() {
    let mut h = Harness::new().await;
    h.seat_registers("1001").await;
    let mut call = h.call("12346", None, &["1001"]);
    let seat = h.rings().await;
    h.phone_answers(&call, &seat, 200);
    assert_eq!(h.caller_hears(&mut call).await.status, 200);
    h.phone_sends(&call, &seat, "BYE", None);
    h.until(|c| matches!(c, CoreCommand::Respond { response, .. } if response.status == 200))
        .await;
    h.caller_sends(&call, "INFO", Some('1'));
    // "Thank you" plays out, then the daemon hangs up.
    h.until_sent(Method::Bye).await;
    let id = call.id.to_string();
    let record = h.record(call).await;
    assert_eq!(record.ended_by.as_deref(), Some("seat"));
    let ratings = h.written(|r| match r {
        Record::Rating(r) => Some(r.clone()),
        _ => None,
    });
    let rating = ratings
        .iter()
        .find(|r| r.call_id == id)
        .expect("the rating is kept");
    assert_eq!(rating.seat.as_deref(), Some("1001"));
    assert!(
        matches!(rating.outcome, RatingOutcome::Rated(_)),
        "{:?}",
        rating.outcome
    );
}

/// A survey's call to a citizen: rung through the trunk, answered, consent and both answers
/// by SIP INFO, each answer kept under the survey's id, then thanked and hung up by the daemon.
/// A second attempt that nobody answers is cancelled at its ring timeout on virtual time.
#[tokio::test(start_paused = true)]
async fn a_survey_call_rings_the_citizen_keeps_the_answers_and_rings_out_on_virtual_time() {
    use crate::call::driver::SurveyDial;
    use crate::ratings::RatingKind;
    use crate::survey::{CallOutcome, CallRules};

    let mut h = Harness::new().await;
    let dial = SurveyDial {
        survey_id: "survey-7".into(),
        attempt: 1,
        number: "13800138000".into(),
        unit: Some("water".into()),
        request_uri: "sip:13800138000@127.0.0.1:5070".into(),
        trunk_addr: "127.0.0.1:5070".parse().expect("an address"),
        caller_id: "12345".into(),
        ring_timeout: Duration::from_secs(40),
        rules: CallRules {
            map: crate::ratings::RatingMap::default(),
            answer_timeout: Duration::from_secs(8),
        },
    };
    let call = h.survey(dial.clone()).await;
    let citizen = h.rings().await;
    assert_eq!(citizen.invite.uri, dial.request_uri);
    h.phone_answers(&call, &citizen, 180);
    h.phone_answers(&call, &citizen, 200);
    h.until(|c| matches!(c, CoreCommand::Ack { .. })).await;
    for key in ['1', '1', '2'] {
        h.phone_sends(&call, &citizen, "INFO", Some(key));
    }
    h.until_sent(Method::Bye).await;
    let outcome = call.outcome.await.expect("the attempt ended");
    let CallOutcome::Answered(answers) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(answers.consented);
    assert!(
        answers.result.is_some() && answers.attitude.is_some(),
        "{answers:?}"
    );
    let kept = h.written(|r| match r {
        Record::Rating(rating) => Some((rating.call_id.clone(), rating.kind, rating.unit.clone())),
        _ => None,
    });
    assert_eq!(
        kept,
        vec![
            (
                "survey-7".to_string(),
                RatingKind::SurveyResult,
                Some("water".to_string())
            ),
            (
                "survey-7".to_string(),
                RatingKind::SurveyAttitude,
                Some("water".to_string())
            ),
        ]
    );

    // The next attempt rings and rings: it is cancelled at 40 s, not a moment before.
    let call = h.survey(SurveyDial { attempt: 2, ..dial }).await;
    h.rings().await;
    let rung = Instant::now();
    h.until(|c| matches!(c, CoreCommand::Cancel { .. })).await;
    assert_eq!(
        rung.elapsed().as_secs(),
        40,
        "cancelled after {:?}",
        rung.elapsed()
    );
    let outcome = call.outcome.await.expect("the attempt ended");
    assert_eq!(outcome, CallOutcome::NoAnswer);
}
