//! One test battery for every backend. A backend's test module implements `Backend` and
//! invokes `store_battery!(ItsBackend)`; each function here becomes one test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    AttemptOutcome, CallRecord, CallbackRequest, Disposition, NotRatedReason, Offer, OfferOutcome,
    OpenCall, QueueOutcome, Rating, RatingKind, RatingOutcome, RatingRecord, Record, RecordingGap,
    RecordingRecord, SeatEvent, Store, StoreError, StoreWriter, SurveyAttempt, SurveyRecord,
    SurveyState,
};

/// A database under test.
pub(crate) trait Backend: Sized {
    type S: Store;

    /// A fresh, empty database.
    async fn create() -> Self;

    /// A new store on that database, as a restarted daemon would open it.
    async fn open(&self) -> Self::S;
}

macro_rules! store_battery {
    ($backend:ty) => {
        $crate::store::battery::store_battery!(@tests $backend;
            call_round_trips_with_every_field_set,
            call_round_trips_with_optional_fields_empty,
            calls_are_ordered_by_offer_time_then_id,
            lookup_by_sip_call_id_prefers_the_latest_offer,
            a_batch_is_all_or_nothing,
            a_time_before_the_epoch_is_refused,
            reopening_keeps_the_records,
            writer_group_commits,
            writer_commits_everything_when_every_handle_is_dropped,
            queued_call_round_trips_with_every_field_set,
            queued_call_round_trips_with_optional_fields_empty,
            each_call_reads_back_its_own_queue_part,
            seat_events_round_trip_in_time_order_then_write_order,
            callbacks_round_trip_ordered_by_request_time_then_id,
            a_mixed_batch_is_kept_whole,
            a_mixed_batch_is_all_or_nothing,
            times_before_the_epoch_are_refused_in_every_record,
            writer_commits_a_mixed_batch_in_one_transaction,
            ratings_round_trip_with_every_outcome,
            ratings_are_ordered_by_time_then_id,
            ratings_in_reads_a_half_open_window,
            calls_and_callbacks_in_read_a_half_open_window,
            a_second_rating_for_a_call_is_refused,
            a_second_rating_in_the_same_batch_is_refused,
            a_duplicate_rating_id_is_not_mistaken_for_a_second_rating,
            writer_keeps_the_rest_of_a_batch_around_a_refused_rating,
            surveys_round_trip_ordered_by_request_time_then_id,
            a_later_survey_record_replaces_the_row,
            surveys_are_read_by_state,
            survey_attempts_round_trip_in_attempt_order,
            a_survey_attempt_needs_its_survey_and_a_new_number,
            survey_times_before_the_epoch_are_refused,
            a_survey_holds_one_answer_per_question,
            unknown_surveys_read_as_nothing,
            an_open_call_is_kept_until_its_call_record,
            calls_left_open_are_closed_as_interrupted_at_the_last_sign_of_life,
            recording_values_out_of_range_are_refused,
        );
        $crate::store::battery::recordings_battery!($backend);
    };
    (@tests $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::store::battery::$name::<$backend>().await;
            }
        )*
    };
}
pub(crate) use store_battery;

/// The recordings' cases, which the fake passes too; `store_battery!` runs them.
macro_rules! recordings_battery {
    ($backend:ty) => {
        $crate::store::battery::store_battery!(@tests $backend;
            an_open_recording_is_replaced_by_its_closed_record,
            recordings_of_a_call_are_ordered_by_start_then_id,
            open_recordings_are_those_not_yet_ended,
            recordings_ended_before_skip_open_deleted_and_later_ones,
            a_deleted_recording_keeps_its_row_marked_once,
        );
    };
}
pub(crate) use recordings_battery;

pub(crate) fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A call with every optional field set; `n` varies ids and times.
pub(crate) fn call(n: u64) -> CallRecord {
    let offered = 1_718_000_000_000 + n * 1_000;
    CallRecord {
        id: format!("call-{n:06}"),
        sip_call_id: format!("{n}-a84b4c76e66710@trunk.example"),
        trunk: "telecom".into(),
        caller: "13800138000".into(),
        called: "12345".into(),
        seat: Some("1001".into()),
        offered_at: at(offered),
        answered_at: Some(at(offered + 7_250)),
        ended_at: at(offered + 187_003),
        disposition: Disposition::Answered,
        sip_cause: Some(487),
        ended_by: Some("caller".into()),
        queue: None,
    }
}

/// `call(n)` after a queue: offered to three seats (busy, no answer, answered).
pub(crate) fn queued_call(n: u64) -> CallRecord {
    let call = call(n);
    let offered = 1_718_000_000_000 + n * 1_000;
    CallRecord {
        queue: Some(QueueOutcome {
            queue: "general".into(),
            entered_at: at(offered + 150),
            wait: Duration::from_millis(7_100),
            offers: vec![
                Offer {
                    seat: "1003".into(),
                    at: at(offered + 200),
                    outcome: OfferOutcome::Busy,
                },
                Offer {
                    seat: "1002".into(),
                    at: at(offered + 250),
                    outcome: OfferOutcome::NoAnswer,
                },
                Offer {
                    seat: "1001".into(),
                    at: at(offered + 5_000),
                    outcome: OfferOutcome::Answered,
                },
            ],
            abandoned: false,
            overflow: Some("queue:overflow".into()),
        }),
        ..call
    }
}

pub(crate) fn seat_event(seat: &str, ms: u64, from: &str, to: &str) -> SeatEvent {
    SeatEvent {
        seat: seat.into(),
        at: at(ms),
        from: from.into(),
        to: to.into(),
        reason: None,
    }
}

pub(crate) fn callback(n: u64) -> CallbackRequest {
    CallbackRequest {
        id: format!("cb-{n:06}"),
        call_id: format!("call-{n:06}"),
        number: "13800138000".into(),
        queue: "general".into(),
        requested_at: at(1_718_000_000_000 + n * 1_000 + 30_000),
    }
}

/// A keypad rating of call `n` with seat and unit set, given as the call ends.
pub(crate) fn rating(n: u64, outcome: RatingOutcome) -> RatingRecord {
    RatingRecord {
        id: format!("rating-{n:06}"),
        call_id: format!("call-{n:06}"),
        kind: RatingKind::Keypad,
        at: at(1_718_000_000_000 + n * 1_000 + 186_000),
        seat: Some("1001".into()),
        unit: Some("water-company".into()),
        outcome,
    }
}

pub(crate) fn satisfied(n: u64) -> RatingRecord {
    rating(n, RatingOutcome::Rated(Rating::Satisfied))
}

/// Survey `n`, just requested, for the matter of call `n`.
pub(crate) fn survey(n: u64) -> SurveyRecord {
    let requested = 1_718_100_000_000 + n * 1_000;
    SurveyRecord {
        id: format!("survey-{n:06}"),
        number: "13800138000".into(),
        ticket: format!("T2024-{n:06}"),
        unit: Some("water-company".into()),
        requested_at: at(requested),
        status: SurveyState::Queued,
        attempts: 0,
        updated_at: at(requested),
    }
}

/// Attempt `k` of survey `n`, ten minutes after the one before.
pub(crate) fn attempt(n: u64, k: u32, outcome: AttemptOutcome) -> SurveyAttempt {
    SurveyAttempt {
        survey_id: format!("survey-{n:06}"),
        n: k,
        at: at(1_718_100_000_000 + n * 1_000 + u64::from(k) * 600_000),
        outcome,
    }
}

fn sparse_call(n: u64) -> CallRecord {
    CallRecord {
        seat: None,
        answered_at: None,
        sip_cause: None,
        ended_by: None,
        disposition: Disposition::Abandoned,
        ..call(n)
    }
}

fn records(calls: impl IntoIterator<Item = CallRecord>) -> Vec<Record> {
    calls.into_iter().map(Record::Call).collect()
}

/// `call(n)` as it is known while it is up.
fn open_call(n: u64) -> OpenCall {
    let c = call(n);
    OpenCall {
        id: c.id,
        sip_call_id: c.sip_call_id,
        trunk: c.trunk,
        caller: c.caller,
        called: c.called,
        seat: None,
        offered_at: c.offered_at,
        answered_at: None,
    }
}

pub(crate) async fn an_open_call_is_kept_until_its_call_record<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let taken = open_call(1);
    store
        .write_batch(&[Record::OpenCall(taken.clone())])
        .await
        .unwrap();
    assert_eq!(
        store.open_calls().await.unwrap(),
        std::slice::from_ref(&taken)
    );
    assert_eq!(store.calls().await.unwrap(), []);

    // Answered: the row is brought up to date, not doubled.
    let ended = call(1);
    let answered = OpenCall {
        seat: ended.seat.clone(),
        answered_at: ended.answered_at,
        ..taken
    };
    store
        .write_batch(&[Record::OpenCall(answered.clone())])
        .await
        .unwrap();
    assert_eq!(store.open_calls().await.unwrap(), [answered]);

    store.write_batch(&records([ended.clone()])).await.unwrap();
    assert_eq!(store.open_calls().await.unwrap(), []);
    assert_eq!(store.calls().await.unwrap(), [ended]);
    assert_eq!(store.close_interrupted().await.unwrap(), 0);
}

pub(crate) async fn calls_left_open_are_closed_as_interrupted_at_the_last_sign_of_life<
    B: Backend,
>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let ringing = open_call(1);
    let answered = OpenCall {
        seat: Some("1002".into()),
        answered_at: Some(at(1_718_000_009_000)),
        ..open_call(2)
    };
    let alive = at(1_718_000_060_000);
    let late = OpenCall {
        offered_at: at(1_718_000_090_000),
        ..open_call(3)
    };
    store
        .write_batch(&[
            Record::Alive(at(1_718_000_030_000)),
            Record::OpenCall(ringing.clone()),
            Record::OpenCall(answered.clone()),
            Record::Alive(alive),
            Record::OpenCall(late.clone()),
        ])
        .await
        .unwrap();

    // The next start, on the same database.
    let restarted = backend.open().await;
    assert_eq!(restarted.close_interrupted().await.unwrap(), 3);
    assert_eq!(restarted.open_calls().await.unwrap(), []);
    let closed = restarted.calls().await.unwrap();
    let expect = |open: &OpenCall, ended_at| CallRecord {
        id: open.id.clone(),
        sip_call_id: open.sip_call_id.clone(),
        trunk: open.trunk.clone(),
        caller: open.caller.clone(),
        called: open.called.clone(),
        seat: open.seat.clone(),
        offered_at: open.offered_at,
        answered_at: open.answered_at,
        ended_at,
        disposition: Disposition::Interrupted,
        sip_cause: None,
        ended_by: Some("daemon".into()),
        queue: None,
    };
    assert_eq!(
        closed,
        [
            expect(&ringing, alive),
            expect(&answered, alive),
            // Taken after the last sign of life: it ends where it began.
            expect(&late, late.offered_at),
        ]
    );
    assert_eq!(restarted.close_interrupted().await.unwrap(), 0);
}

pub(crate) async fn call_round_trips_with_every_field_set<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let call = call(1);
    store.write_batch(&records([call.clone()])).await.unwrap();

    assert_eq!(store.calls().await.unwrap(), vec![call.clone()]);
    assert_eq!(
        store.call_by_sip_call_id(&call.sip_call_id).await.unwrap(),
        Some(call)
    );
}

pub(crate) async fn call_round_trips_with_optional_fields_empty<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    // Every disposition, so each stored string is read back.
    let calls: Vec<CallRecord> = Disposition::ALL
        .into_iter()
        .zip(1..)
        .map(|(disposition, n)| CallRecord {
            disposition,
            ..sparse_call(n)
        })
        .collect();
    store.write_batch(&records(calls.clone())).await.unwrap();

    assert_eq!(store.calls().await.unwrap(), calls);
}

pub(crate) async fn calls_are_ordered_by_offer_time_then_id<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let late = call(9);
    let early_b = CallRecord {
        id: "b".into(),
        ..call(1)
    };
    let early_a = CallRecord {
        id: "a".into(),
        ..call(1)
    };
    store
        .write_batch(&records([late.clone(), early_b.clone(), early_a.clone()]))
        .await
        .unwrap();

    assert_eq!(store.calls().await.unwrap(), vec![early_a, early_b, late]);
}

pub(crate) async fn lookup_by_sip_call_id_prefers_the_latest_offer<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let first = call(1);
    let again = CallRecord {
        sip_call_id: first.sip_call_id.clone(),
        ..call(2)
    };
    store
        .write_batch(&records([again.clone(), first.clone()]))
        .await
        .unwrap();

    assert_eq!(
        store.call_by_sip_call_id(&first.sip_call_id).await.unwrap(),
        Some(again)
    );
    assert_eq!(store.call_by_sip_call_id("nobody").await.unwrap(), None);
}

pub(crate) async fn a_batch_is_all_or_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let duplicate = CallRecord {
        sip_call_id: "other".into(),
        ..call(1)
    };

    let err = store
        .write_batch(&records([call(1), call(2), duplicate]))
        .await
        .unwrap_err();

    assert!(
        !err.is_transient(),
        "a duplicate id is not worth retrying: {err:?}"
    );
    assert_eq!(store.calls().await.unwrap(), vec![]);
}

pub(crate) async fn a_time_before_the_epoch_is_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let bad = CallRecord {
        ended_at: UNIX_EPOCH - Duration::from_secs(1),
        ..call(1)
    };

    let err = store.write_batch(&records([bad])).await.unwrap_err();

    assert!(
        matches!(&err, StoreError::TimeOutOfRange { id, field: "ended_at", .. } if id == "call-000001"),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

pub(crate) async fn reopening_keeps_the_records<B: Backend>() {
    let backend = B::create().await;
    let first = backend.open().await;
    first.write_batch(&records([call(1)])).await.unwrap();
    drop(first);

    let reopened = backend.open().await;
    assert_eq!(reopened.calls().await.unwrap(), vec![call(1)]);
    reopened.write_batch(&records([call(2)])).await.unwrap();
    drop(reopened);

    assert_eq!(
        backend.open().await.calls().await.unwrap(),
        vec![call(1), call(2)]
    );
}

pub(crate) async fn writer_group_commits<B: Backend>() {
    let backend = B::create().await;
    // Submitting faster than the disk commits is the point: while one transaction commits,
    // the queue refills, and the next transaction takes it all.
    let (writer, task) = StoreWriter::spawn(backend.open().await, 100, 100);
    for n in 0..1000 {
        writer.submit(Record::Call(call(n))).await.unwrap();
    }
    writer.flush().await.unwrap();

    let stats = writer.stats();
    assert_eq!(stats.records(), 1000);
    assert_eq!(writer.queued(), 0);
    assert!(
        stats.commits() <= 100,
        "{} commits for 1000 records",
        stats.commits()
    );
    let stored = backend.open().await.calls().await.unwrap();
    assert_eq!(stored, (0..1000).map(call).collect::<Vec<_>>());

    drop(writer);
    task.await.unwrap();
}

pub(crate) async fn writer_commits_everything_when_every_handle_is_dropped<B: Backend>() {
    let backend = B::create().await;
    let (writer, task) = StoreWriter::spawn(backend.open().await, 1000, 16);
    let other = writer.clone();
    for n in 0..200 {
        let handle = if n % 2 == 0 { &writer } else { &other };
        handle.submit(Record::Call(call(n))).await.unwrap();
    }
    drop(writer);
    drop(other);
    task.await.unwrap();

    assert_eq!(backend.open().await.calls().await.unwrap().len(), 200);
}

pub(crate) async fn queued_call_round_trips_with_every_field_set<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let call = queued_call(1);
    store.write_batch(&records([call.clone()])).await.unwrap();

    assert_eq!(store.calls().await.unwrap(), vec![call.clone()]);
    assert_eq!(
        store.call_by_sip_call_id(&call.sip_call_id).await.unwrap(),
        Some(call)
    );
}

pub(crate) async fn queued_call_round_trips_with_optional_fields_empty<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    // Abandoned before any offer, and abandoned after every kind of offer.
    let unoffered = CallRecord {
        queue: Some(QueueOutcome {
            offers: vec![],
            abandoned: true,
            overflow: None,
            wait: Duration::ZERO,
            ..queued_call(1).queue.unwrap()
        }),
        ..sparse_call(1)
    };
    let every_outcome = CallRecord {
        queue: Some(QueueOutcome {
            offers: OfferOutcome::ALL
                .into_iter()
                .zip(0..)
                .map(|(outcome, n)| Offer {
                    seat: "1001".into(),
                    at: at(1_718_000_002_000 + n),
                    outcome,
                })
                .collect(),
            abandoned: true,
            overflow: None,
            ..queued_call(2).queue.unwrap()
        }),
        ..sparse_call(2)
    };
    store
        .write_batch(&records([unoffered.clone(), every_outcome.clone()]))
        .await
        .unwrap();

    assert_eq!(
        store.calls().await.unwrap(),
        vec![unoffered.clone(), every_outcome.clone()]
    );
    assert_eq!(
        store
            .call_by_sip_call_id(&unoffered.sip_call_id)
            .await
            .unwrap(),
        Some(unoffered)
    );
    assert_eq!(
        store
            .call_by_sip_call_id(&every_outcome.sip_call_id)
            .await
            .unwrap(),
        Some(every_outcome)
    );
}

pub(crate) async fn each_call_reads_back_its_own_queue_part<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let mut other = queued_call(3);
    let queue = other.queue.as_mut().unwrap();
    queue.queue = "elderly".into();
    queue.offers.truncate(1);
    // Queued and unqueued calls interleaved, written out of order.
    let calls = vec![call(1), queued_call(2), other, call(4), queued_call(5)];
    let mut shuffled = calls.clone();
    shuffled.reverse();
    store.write_batch(&records(shuffled)).await.unwrap();

    assert_eq!(store.calls().await.unwrap(), calls);
    for call in &calls {
        assert_eq!(
            store.call_by_sip_call_id(&call.sip_call_id).await.unwrap(),
            Some(call.clone())
        );
    }
}

pub(crate) async fn seat_events_round_trip_in_time_order_then_write_order<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let login = SeatEvent {
        reason: Some("shift start".into()),
        ..seat_event("1001", 1_000, "logged_out", "available")
    };
    // Ringing and answered in the same millisecond: write order decides.
    let ringing = seat_event("1001", 2_000, "available", "ringing");
    let on_call = seat_event("1001", 2_000, "ringing", "on_call");
    let other = SeatEvent {
        reason: Some("lunch".into()),
        ..seat_event("1002", 1_500, "available", "paused")
    };
    let wrap_up = seat_event("1001", 3_000, "on_call", "wrap_up");
    store
        .write_batch(&[
            Record::SeatEvent(wrap_up.clone()),
            Record::SeatEvent(ringing.clone()),
            Record::SeatEvent(on_call.clone()),
        ])
        .await
        .unwrap();
    store
        .write_batch(&[
            Record::SeatEvent(other.clone()),
            Record::SeatEvent(login.clone()),
        ])
        .await
        .unwrap();

    assert_eq!(
        store.seat_events().await.unwrap(),
        vec![login, other, ringing, on_call, wrap_up]
    );
}

/// A day's calls (by offer time, each with its queue part and offers) and callback requests.
pub(crate) async fn calls_and_callbacks_in_read_a_half_open_window<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let calls = vec![queued_call(1), queued_call(2), call(3), queued_call(4)];
    let mut batch = records(calls.clone());
    batch.extend((1..=4).map(|n| Record::Callback(callback(n))));
    store.write_batch(&batch).await.unwrap();
    let (from, to) = (calls[1].offered_at, calls[3].offered_at);
    assert_eq!(
        store.calls_in(from, to).await.unwrap(),
        vec![calls[1].clone(), calls[2].clone()]
    );
    let (from, to) = (callback(2).requested_at, callback(4).requested_at);
    assert_eq!(
        store.callbacks_in(from, to).await.unwrap(),
        vec![callback(2), callback(3)]
    );
}

pub(crate) async fn callbacks_round_trip_ordered_by_request_time_then_id<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let late = callback(9);
    let early_b = CallbackRequest {
        id: "b".into(),
        ..callback(1)
    };
    let early_a = CallbackRequest {
        id: "a".into(),
        // A call with no call record (yet) may still ask for a callback.
        call_id: "not-written-yet".into(),
        ..callback(1)
    };
    store
        .write_batch(&[
            Record::Callback(late.clone()),
            Record::Callback(early_b.clone()),
            Record::Callback(early_a.clone()),
        ])
        .await
        .unwrap();

    assert_eq!(
        store.callbacks().await.unwrap(),
        vec![early_a, early_b, late]
    );
}

fn mixed_batch() -> Vec<Record> {
    vec![
        Record::SeatEvent(seat_event("1001", 1_000, "available", "ringing")),
        Record::Callback(callback(2)),
        Record::Call(queued_call(1)),
        Record::SeatEvent(seat_event("1001", 1_001, "ringing", "on_call")),
        Record::Call(call(2)),
        Record::Rating(satisfied(1)),
        Record::Survey(survey(1)),
        Record::SurveyAttempt(attempt(1, 1, AttemptOutcome::NoAnswer)),
    ]
}

pub(crate) async fn a_mixed_batch_is_kept_whole<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store.write_batch(&mixed_batch()).await.unwrap();
    drop(store);

    let store = backend.open().await;
    assert_eq!(store.calls().await.unwrap(), vec![queued_call(1), call(2)]);
    assert_eq!(
        store.seat_events().await.unwrap(),
        vec![
            seat_event("1001", 1_000, "available", "ringing"),
            seat_event("1001", 1_001, "ringing", "on_call"),
        ]
    );
    assert_eq!(store.callbacks().await.unwrap(), vec![callback(2)]);
    assert_eq!(store.ratings().await.unwrap(), vec![satisfied(1)]);
    assert_eq!(store.surveys().await.unwrap(), vec![survey(1)]);
    assert_eq!(
        store.survey_attempts("survey-000001").await.unwrap(),
        vec![attempt(1, 1, AttemptOutcome::NoAnswer)]
    );
}

pub(crate) async fn a_mixed_batch_is_all_or_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    // A duplicate of each kind that has an id, placed after every other kind was written.
    let duplicate_callback = Record::Callback(CallbackRequest {
        call_id: "other".into(),
        ..callback(2)
    });
    let duplicate_call = Record::Call(CallRecord {
        sip_call_id: "other".into(),
        ..queued_call(1)
    });

    let second_rating = Record::Rating(RatingRecord {
        id: "rating-again".into(),
        ..rating(1, RatingOutcome::Rated(Rating::Dissatisfied))
    });

    let second_attempt_1 = Record::SurveyAttempt(attempt(1, 1, AttemptOutcome::Busy));

    for duplicate in [
        duplicate_callback,
        duplicate_call,
        second_rating,
        second_attempt_1,
    ] {
        let mut batch = mixed_batch();
        batch.push(duplicate);
        let err = store.write_batch(&batch).await.unwrap_err();

        assert!(
            !err.is_transient(),
            "a duplicate id is not worth retrying: {err:?}"
        );
        assert_eq!(store.calls().await.unwrap(), vec![]);
        assert_eq!(store.seat_events().await.unwrap(), vec![]);
        assert_eq!(store.callbacks().await.unwrap(), vec![]);
        assert_eq!(store.ratings().await.unwrap(), vec![]);
        assert_eq!(store.surveys().await.unwrap(), vec![]);
        assert_eq!(
            store.survey_attempts("survey-000001").await.unwrap(),
            vec![]
        );
    }
}

pub(crate) async fn times_before_the_epoch_are_refused_in_every_record<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let before = UNIX_EPOCH - Duration::from_secs(1);
    let queued = |edit: fn(&mut QueueOutcome)| {
        let mut call = queued_call(1);
        edit(call.queue.as_mut().unwrap());
        Record::Call(call)
    };
    let cases = [
        (
            queued(|q| q.entered_at = UNIX_EPOCH - Duration::from_secs(1)),
            "call",
            "call-000001",
            "queue.entered_at",
        ),
        (
            queued(|q| q.offers[2].at = UNIX_EPOCH - Duration::from_secs(1)),
            "call",
            "call-000001",
            "queue.offers.at",
        ),
        (
            queued(|q| q.wait = Duration::MAX),
            "call",
            "call-000001",
            "queue.wait",
        ),
        (
            Record::SeatEvent(SeatEvent {
                at: before,
                ..seat_event("1001", 0, "available", "paused")
            }),
            "seat_event",
            "1001",
            "at",
        ),
        (
            Record::Callback(CallbackRequest {
                requested_at: before,
                ..callback(1)
            }),
            "callback",
            "cb-000001",
            "requested_at",
        ),
        (
            Record::Rating(RatingRecord {
                at: before,
                ..satisfied(1)
            }),
            "rating",
            "rating-000001",
            "at",
        ),
    ];

    for (record, want_kind, want_id, want_field) in cases {
        let err = store.write_batch(&[record]).await.unwrap_err();

        assert!(
            matches!(&err, StoreError::TimeOutOfRange { kind, id, field }
                if *kind == want_kind && id == want_id && *field == want_field),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }
    assert_eq!(store.calls().await.unwrap(), vec![]);
    assert_eq!(store.seat_events().await.unwrap(), vec![]);
    assert_eq!(store.callbacks().await.unwrap(), vec![]);
    assert_eq!(store.ratings().await.unwrap(), vec![]);
}

pub(crate) async fn writer_commits_a_mixed_batch_in_one_transaction<B: Backend>() {
    let backend = B::create().await;
    let (writer, task) = StoreWriter::spawn(backend.open().await, 100, 100);
    // The writer task has not run yet, so every record lands in one batch.
    let batch = mixed_batch();
    for record in batch.clone() {
        writer.submit(record).await.unwrap();
    }
    writer.flush().await.unwrap();

    let stats = writer.stats();
    assert_eq!((stats.commits(), stats.records()), (1, batch.len() as u64));
    let store = backend.open().await;
    assert_eq!(store.calls().await.unwrap(), vec![queued_call(1), call(2)]);
    assert_eq!(store.seat_events().await.unwrap().len(), 2);
    assert_eq!(store.callbacks().await.unwrap(), vec![callback(2)]);
    assert_eq!(store.ratings().await.unwrap(), vec![satisfied(1)]);
    assert_eq!(store.surveys().await.unwrap(), vec![survey(1)]);

    drop(writer);
    task.await.unwrap();
}

pub(crate) async fn ratings_round_trip_with_every_outcome<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let rated = Rating::ALL.map(RatingOutcome::Rated);
    let not_rated = NotRatedReason::ALL.map(RatingOutcome::NotRated);
    let ratings: Vec<RatingRecord> = rated
        .into_iter()
        .chain(not_rated)
        .zip(1..)
        .map(|(outcome, n)| rating(n, outcome))
        .collect();
    // A rating with neither seat nor unit: a caller who hung up before reaching a seat.
    let sparse = RatingRecord {
        seat: None,
        unit: None,
        ..rating(9, RatingOutcome::NotRated(NotRatedReason::CallerHungUp))
    };
    let mut written: Vec<Record> = ratings.iter().cloned().map(Record::Rating).collect();
    written.push(Record::Rating(sparse.clone()));
    store.write_batch(&written).await.unwrap();
    drop(store);

    let mut want = ratings;
    want.push(sparse);
    assert_eq!(backend.open().await.ratings().await.unwrap(), want);
}

pub(crate) async fn ratings_are_ordered_by_time_then_id<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let late = satisfied(9);
    let early_b = RatingRecord {
        id: "b".into(),
        ..satisfied(1)
    };
    let early_a = RatingRecord {
        id: "a".into(),
        call_id: "other-call".into(),
        ..satisfied(1)
    };
    store
        .write_batch(&[
            Record::Rating(late.clone()),
            Record::Rating(early_b.clone()),
        ])
        .await
        .unwrap();
    store
        .write_batch(&[Record::Rating(early_a.clone())])
        .await
        .unwrap();

    assert_eq!(store.ratings().await.unwrap(), vec![early_a, early_b, late]);
}

pub(crate) async fn ratings_in_reads_a_half_open_window<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let ratings: Vec<RatingRecord> = (1..=5).map(satisfied).collect();
    store
        .write_batch(
            &ratings
                .iter()
                .rev()
                .cloned()
                .map(Record::Rating)
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();

    // From the second rating's instant up to, not including, the fourth's.
    let window = store
        .ratings_in(ratings[1].at, ratings[3].at)
        .await
        .unwrap();
    assert_eq!(window, ratings[1..3]);
    // Bounds beyond what is storable are clamped, not refused.
    let everything = store
        .ratings_in(UNIX_EPOCH - Duration::from_secs(1), at(u64::MAX / 2))
        .await
        .unwrap();
    assert_eq!(everything, ratings);
    let empty = store
        .ratings_in(ratings[3].at, ratings[1].at)
        .await
        .unwrap();
    assert_eq!(empty, vec![]);
}

fn is_already_rated(err: &StoreError, call: &str) -> bool {
    matches!(err, StoreError::AlreadyRated { call_id, kind: RatingKind::Keypad } if call_id == call)
}

pub(crate) async fn a_second_rating_for_a_call_is_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let first = satisfied(1);
    store
        .write_batch(&[Record::Rating(first.clone())])
        .await
        .unwrap();
    // The caller pressed again; the call task (wrongly) writes a second rating.
    let second = RatingRecord {
        id: "rating-second".into(),
        at: at(1_718_000_999_000),
        ..rating(1, RatingOutcome::Rated(Rating::Dissatisfied))
    };
    // Even a second "not rated" is a second rating.
    let not_rated = RatingRecord {
        id: "rating-third".into(),
        ..rating(1, RatingOutcome::NotRated(NotRatedReason::CallerHungUp))
    };

    for again in [second, not_rated] {
        let err = store
            .write_batch(&[Record::Rating(again)])
            .await
            .unwrap_err();
        assert!(is_already_rated(&err, "call-000001"), "{err:?}");
        assert!(!err.is_transient());
    }
    drop(store);
    assert_eq!(backend.open().await.ratings().await.unwrap(), vec![first]);
}

pub(crate) async fn a_second_rating_in_the_same_batch_is_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let second = RatingRecord {
        id: "rating-second".into(),
        ..satisfied(1)
    };

    let err = store
        .write_batch(&[
            Record::Rating(satisfied(1)),
            Record::Call(call(1)),
            Record::Rating(second),
        ])
        .await
        .unwrap_err();

    assert!(is_already_rated(&err, "call-000001"), "{err:?}");
    assert_eq!(store.ratings().await.unwrap(), vec![]);
    assert_eq!(store.calls().await.unwrap(), vec![]);
}

pub(crate) async fn a_duplicate_rating_id_is_not_mistaken_for_a_second_rating<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .write_batch(&[Record::Rating(satisfied(1))])
        .await
        .unwrap();
    // Same id, another call: a fault in whoever makes ids, not the caller rating twice.
    let same_id = RatingRecord {
        call_id: "call-000002".into(),
        ..satisfied(1)
    };

    let err = store
        .write_batch(&[Record::Rating(same_id)])
        .await
        .unwrap_err();

    assert!(!matches!(err, StoreError::AlreadyRated { .. }), "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(store.ratings().await.unwrap(), vec![satisfied(1)]);
}

pub(crate) async fn writer_keeps_the_rest_of_a_batch_around_a_refused_rating<B: Backend>() {
    let backend = B::create().await;
    let (writer, task) = StoreWriter::spawn(backend.open().await, 100, 100);
    writer.submit(Record::Rating(satisfied(1))).await.unwrap();
    writer.flush().await.unwrap();

    // The writer task has not run since, so all four land in one batch.
    let second = RatingRecord {
        id: "rating-second".into(),
        ..rating(1, RatingOutcome::Rated(Rating::Dissatisfied))
    };
    let batch = [
        Record::Call(call(1)),
        Record::Rating(second),
        Record::Callback(callback(2)),
        Record::Rating(satisfied(2)),
    ];
    for record in batch {
        writer.submit(record).await.unwrap();
    }
    let err = writer.flush().await.unwrap_err();

    // Whoever flushes learns that one record was refused, and why.
    match &err {
        StoreError::RecordsLost { count: 1, source } => {
            assert!(is_already_rated(source, "call-000001"), "{source:?}")
        }
        other => panic!("{other:?}"),
    }
    // Refused, not retried: one attempt as a batch, one alone.
    let stats = writer.stats();
    assert_eq!(stats.write_errors(), 2);
    assert_eq!((stats.records(), stats.records_lost()), (4, 1));
    assert_eq!(writer.queued(), 0);
    // The refusal is reported once.
    writer.flush().await.unwrap();

    let store = backend.open().await;
    assert_eq!(store.calls().await.unwrap(), vec![call(1)]);
    assert_eq!(store.callbacks().await.unwrap(), vec![callback(2)]);
    assert_eq!(
        store.ratings().await.unwrap(),
        vec![satisfied(1), satisfied(2)],
        "the first rating stands"
    );

    drop(writer);
    task.await.unwrap();
}

pub(crate) async fn surveys_round_trip_ordered_by_request_time_then_id<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    // Every state, and one survey with no unit.
    let mut surveys: Vec<SurveyRecord> = SurveyState::ALL
        .into_iter()
        .zip(1..)
        .map(|(status, n)| SurveyRecord {
            status,
            attempts: 3,
            updated_at: at(1_718_200_000_000 + n),
            ..survey(n)
        })
        .collect();
    surveys.push(SurveyRecord {
        unit: None,
        ..survey(9)
    });
    let early_b = SurveyRecord {
        id: "b".into(),
        ..survey(0)
    };
    let early_a = SurveyRecord {
        id: "a".into(),
        ..survey(0)
    };
    let mut written: Vec<Record> = surveys.iter().rev().cloned().map(Record::Survey).collect();
    written.push(Record::Survey(early_b.clone()));
    written.push(Record::Survey(early_a.clone()));
    store.write_batch(&written).await.unwrap();
    drop(store);

    let store = backend.open().await;
    let mut want = vec![early_a, early_b];
    want.extend(surveys.iter().cloned());
    assert_eq!(store.surveys().await.unwrap(), want);
    for s in &surveys {
        assert_eq!(store.survey(&s.id).await.unwrap(), Some(s.clone()));
    }
}

pub(crate) async fn surveys_are_read_by_state<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let queued_late = SurveyRecord {
        requested_at: at(1_718_100_500_000),
        ..survey(1)
    };
    let queued_early = survey(2);
    let completed = SurveyRecord {
        status: SurveyState::Completed,
        ..survey(3)
    };
    // Queued once, then moved on: read in its latest state only.
    let moved_on = SurveyRecord {
        status: SurveyState::GaveUp,
        attempts: 3,
        ..survey(4)
    };
    let written: Vec<Record> = [
        queued_late.clone(),
        queued_early.clone(),
        completed.clone(),
        survey(4),
        moved_on.clone(),
    ]
    .into_iter()
    .map(Record::Survey)
    .collect();
    store.write_batch(&written).await.unwrap();

    assert_eq!(
        store.surveys_in_state(SurveyState::Queued).await.unwrap(),
        vec![queued_early, queued_late]
    );
    assert_eq!(
        store.surveys_in_state(SurveyState::GaveUp).await.unwrap(),
        vec![moved_on]
    );
    assert_eq!(
        store.surveys_in_state(SurveyState::Declined).await.unwrap(),
        vec![]
    );
}

pub(crate) async fn a_later_survey_record_replaces_the_row<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let queued = survey(1);
    let dialled = SurveyRecord {
        attempts: 1,
        updated_at: at(1_718_100_601_000),
        ..survey(1)
    };
    store
        .write_batch(&[
            Record::Survey(queued.clone()),
            Record::Survey(survey(2)),
            Record::SurveyAttempt(attempt(1, 1, AttemptOutcome::NoAnswer)),
        ])
        .await
        .unwrap();
    store
        .write_batch(&[Record::Survey(dialled.clone())])
        .await
        .unwrap();
    assert_eq!(store.survey("survey-000001").await.unwrap(), Some(dialled));

    // Twice in one batch: the later one stands. Every column is replaced.
    let completed = SurveyRecord {
        status: SurveyState::Completed,
        attempts: 2,
        unit: None,
        number: "+8613800138000".into(),
        updated_at: at(1_718_101_300_000),
        ..survey(1)
    };
    let gave_up = SurveyRecord {
        status: SurveyState::GaveUp,
        attempts: 3,
        ..completed.clone()
    };
    store
        .write_batch(&[
            Record::Survey(completed.clone()),
            Record::Survey(gave_up.clone()),
        ])
        .await
        .unwrap();
    drop(store);

    let store = backend.open().await;
    assert_eq!(store.surveys().await.unwrap(), vec![gave_up, survey(2)]);
    // Replacing the row kept the attempts that reference it.
    assert_eq!(
        store.survey_attempts("survey-000001").await.unwrap(),
        vec![attempt(1, 1, AttemptOutcome::NoAnswer)]
    );
}

pub(crate) async fn survey_attempts_round_trip_in_attempt_order<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let attempts: Vec<SurveyAttempt> = AttemptOutcome::ALL
        .into_iter()
        .zip(1..)
        .map(|(outcome, k)| attempt(1, k, outcome))
        .collect();
    let mut written = vec![Record::Survey(survey(1)), Record::Survey(survey(2))];
    written.extend(attempts.iter().rev().cloned().map(Record::SurveyAttempt));
    written.push(Record::SurveyAttempt(attempt(2, 1, AttemptOutcome::Busy)));
    store.write_batch(&written).await.unwrap();
    drop(store);

    let store = backend.open().await;
    assert_eq!(
        store.survey_attempts("survey-000001").await.unwrap(),
        attempts
    );
    assert_eq!(
        store.survey_attempts("survey-000002").await.unwrap(),
        vec![attempt(2, 1, AttemptOutcome::Busy)]
    );
}

pub(crate) async fn a_survey_attempt_needs_its_survey_and_a_new_number<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let orphan = attempt(7, 1, AttemptOutcome::NoAnswer);
    let err = store
        .write_batch(&[Record::SurveyAttempt(orphan)])
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");

    store
        .write_batch(&[
            Record::Survey(survey(1)),
            Record::SurveyAttempt(attempt(1, 1, AttemptOutcome::NoAnswer)),
        ])
        .await
        .unwrap();
    let again = attempt(1, 1, AttemptOutcome::Answered);
    let err = store
        .write_batch(&[Record::SurveyAttempt(again)])
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(
        store.survey_attempts("survey-000001").await.unwrap(),
        vec![attempt(1, 1, AttemptOutcome::NoAnswer)]
    );
}

pub(crate) async fn survey_times_before_the_epoch_are_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let before = UNIX_EPOCH - Duration::from_secs(1);
    let cases = [
        (
            Record::Survey(SurveyRecord {
                requested_at: before,
                ..survey(1)
            }),
            "survey",
            "requested_at",
        ),
        (
            Record::Survey(SurveyRecord {
                updated_at: before,
                ..survey(1)
            }),
            "survey",
            "updated_at",
        ),
        (
            Record::SurveyAttempt(SurveyAttempt {
                at: before,
                ..attempt(1, 1, AttemptOutcome::Busy)
            }),
            "survey_attempt",
            "at",
        ),
    ];
    for (record, want_kind, want_field) in cases {
        let batch = [Record::Survey(survey(1)), record];
        let err = store.write_batch(&batch).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::TimeOutOfRange { kind, id, field }
                if *kind == want_kind && id == "survey-000001" && *field == want_field),
            "{err:?}"
        );
    }
    assert_eq!(store.surveys().await.unwrap(), vec![]);
}

pub(crate) async fn a_survey_holds_one_answer_per_question<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let answer = |id: &str, kind, outcome| RatingRecord {
        id: id.into(),
        call_id: "survey-000001".into(),
        kind,
        seat: None,
        ..rating(1, outcome)
    };
    let result = answer(
        "r1",
        RatingKind::SurveyResult,
        RatingOutcome::Rated(Rating::BasicallySatisfied),
    );
    let attitude = answer(
        "r2",
        RatingKind::SurveyAttitude,
        RatingOutcome::NotRated(NotRatedReason::NoDigit),
    );
    store
        .write_batch(&[
            Record::Survey(survey(1)),
            Record::Rating(result.clone()),
            Record::Rating(attitude.clone()),
        ])
        .await
        .unwrap();

    // A second answer to the result question, as if the survey had been dialled again.
    let again = answer(
        "r3",
        RatingKind::SurveyResult,
        RatingOutcome::Rated(Rating::Satisfied),
    );
    let err = store
        .write_batch(&[Record::Rating(again)])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyRated { call_id, kind: RatingKind::SurveyResult }
            if call_id == "survey-000001"),
        "{err:?}"
    );
    drop(store);
    let ratings = backend.open().await.ratings().await.unwrap();
    assert_eq!(ratings.len(), 2);
    assert!(ratings.contains(&result) && ratings.contains(&attitude));
}

pub(crate) async fn unknown_surveys_read_as_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .write_batch(&[Record::Survey(survey(1))])
        .await
        .unwrap();
    assert_eq!(store.survey("survey-000002").await.unwrap(), None);
    assert_eq!(
        store.survey_attempts("survey-000002").await.unwrap(),
        vec![]
    );
    assert_eq!(
        store.survey_attempts("survey-000001").await.unwrap(),
        vec![]
    );
}

/// Base of the recordings' times: call `n`'s file starts `n` minutes after it.
const RECORDING_MS: u64 = 1_718_200_000_000;

fn recording_start(n: u64) -> u64 {
    RECORDING_MS + n * 60_000
}

fn gap(from: u64, to: u64) -> RecordingGap {
    RecordingGap {
        from: at(from),
        to: at(to),
    }
}

/// Call `n`'s own recording while it is written: 12 s in, two pauses so far.
pub(crate) fn open_recording(n: u64) -> RecordingRecord {
    let start = recording_start(n);
    RecordingRecord {
        id: format!("call-{n:06}"),
        call_id: format!("call-{n:06}"),
        path: format!("/var/lib/hotline/recordings/2024-06-12/call-{n:06}.wav"),
        started_at: at(start),
        ended_at: None,
        duration_ms: 12_000,
        size_bytes: 384_044,
        sha256: None,
        complete: false,
        reason: None,
        gaps: vec![
            gap(start + 2_000, start + 3_500),
            gap(start + 8_000, start + 9_000),
        ],
        deleted_at: None,
    }
}

/// Call `n`'s own recording once closed, 95 s after it started: complete, its hash taken, and
/// its pauses as they finally stand (the first one longer, the second gone, a new one).
pub(crate) fn closed_recording(n: u64) -> RecordingRecord {
    let start = recording_start(n);
    RecordingRecord {
        ended_at: Some(at(start + 95_000)),
        duration_ms: 95_000,
        size_bytes: 3_040_044,
        sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        complete: true,
        gaps: vec![
            gap(start + 2_000, start + 4_000),
            gap(start + 60_000, start + 61_250),
        ],
        ..open_recording(n)
    }
}

/// Consultation `k` of call `n`, recorded from `offset` ms after the call's own recording
/// started, for 30 s, with no pause.
fn consult_recording(n: u64, k: u64, offset: u64) -> RecordingRecord {
    let start = recording_start(n) + offset;
    RecordingRecord {
        id: format!("call-{n:06}-consult-{k}"),
        path: format!("/var/lib/hotline/recordings/2024-06-12/call-{n:06}-consult-{k}.wav"),
        started_at: at(start),
        ended_at: Some(at(start + 30_000)),
        duration_ms: 30_000,
        size_bytes: 960_044,
        gaps: vec![],
        ..closed_recording(n)
    }
}

fn recordings(all: impl IntoIterator<Item = RecordingRecord>) -> Vec<Record> {
    all.into_iter().map(Record::Recording).collect()
}

pub(crate) async fn an_open_recording_is_replaced_by_its_closed_record<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let open = open_recording(1);
    store
        .write_batch(&recordings([open.clone()]))
        .await
        .unwrap();
    assert_eq!(
        store.recordings_of("call-000001").await.unwrap(),
        std::slice::from_ref(&open)
    );
    assert_eq!(store.open_recordings().await.unwrap(), [open]);

    let closed = closed_recording(1);
    store
        .write_batch(&recordings([closed.clone()]))
        .await
        .unwrap();
    drop(store);

    let store = backend.open().await;
    let read = store.recordings_of("call-000001").await.unwrap();
    assert_eq!(read, std::slice::from_ref(&closed));
    // The pauses are the closed record's, not the open one's with them added.
    let start = recording_start(1);
    assert_eq!(
        read[0].gaps,
        [
            gap(start + 2_000, start + 4_000),
            gap(start + 60_000, start + 61_250)
        ]
    );
    assert_eq!(store.open_recordings().await.unwrap(), []);

    // Opened and closed in one batch: the later record stands.
    store
        .write_batch(&recordings([open_recording(2), closed_recording(2)]))
        .await
        .unwrap();
    assert_eq!(
        store.recordings_of("call-000002").await.unwrap(),
        [closed_recording(2)]
    );
    // Every column is replaced, back to open and without pauses too.
    let reopened = RecordingRecord {
        gaps: vec![],
        path: "/mnt/spill/call-000002.wav".into(),
        reason: Some("moved".into()),
        ..open_recording(2)
    };
    store
        .write_batch(&recordings([reopened.clone()]))
        .await
        .unwrap();
    assert_eq!(
        store.recordings_of("call-000002").await.unwrap(),
        std::slice::from_ref(&reopened)
    );
    assert_eq!(store.open_recordings().await.unwrap(), [reopened]);
}

pub(crate) async fn recordings_of_a_call_are_ordered_by_start_then_id<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let own = closed_recording(1);
    let first_consult = consult_recording(1, 1, 40_000);
    let second_consult = consult_recording(1, 2, 20_000);
    let third_consult = consult_recording(1, 3, 40_000);
    store
        .write_batch(&recordings([
            third_consult.clone(),
            closed_recording(2),
            first_consult.clone(),
            own.clone(),
            consult_recording(2, 1, 1_000),
            second_consult.clone(),
        ]))
        .await
        .unwrap();

    assert_eq!(
        store.recordings_of("call-000001").await.unwrap(),
        [own, second_consult, first_consult, third_consult]
    );
    assert_eq!(
        store.recordings_of("call-000002").await.unwrap(),
        [closed_recording(2), consult_recording(2, 1, 1_000)]
    );
    assert_eq!(store.recordings_of("call-000003").await.unwrap(), []);
}

pub(crate) async fn open_recordings_are_those_not_yet_ended<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    // Started in the same millisecond as call 2's own: after it, by id.
    let consult = RecordingRecord {
        ended_at: None,
        sha256: None,
        complete: false,
        ..consult_recording(2, 1, 0)
    };
    store
        .write_batch(&recordings([
            open_recording(3),
            consult.clone(),
            closed_recording(1),
            open_recording(2),
            consult_recording(3, 1, 5_000),
        ]))
        .await
        .unwrap();

    assert_eq!(
        store.open_recordings().await.unwrap(),
        [open_recording(2), consult, open_recording(3)]
    );
}

pub(crate) async fn recordings_ended_before_skip_open_deleted_and_later_ones<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let base = RECORDING_MS;
    // Started first, ended last.
    let long = RecordingRecord {
        ended_at: Some(at(base + 390_000)),
        duration_ms: 330_000,
        ..closed_recording(1)
    };
    let interrupted = RecordingRecord {
        ended_at: Some(at(base + 250_000)),
        duration_ms: 10_000,
        sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
        complete: false,
        reason: Some("interrupted".into()),
        gaps: vec![],
        ..open_recording(4)
    };
    // Ends in the same millisecond as `interrupted`: after it, by id.
    let consult = RecordingRecord {
        ended_at: interrupted.ended_at,
        ..consult_recording(4, 1, 5_000)
    };
    let deleted = closed_recording(2);
    let middle = closed_recording(3);
    let cut = base + 400_000;
    let at_the_cut = RecordingRecord {
        ended_at: Some(at(cut)),
        ..closed_recording(5)
    };
    store
        .write_batch(&recordings([
            middle.clone(),
            at_the_cut,
            consult.clone(),
            long.clone(),
            deleted.clone(),
            open_recording(6),
            interrupted.clone(),
        ]))
        .await
        .unwrap();
    store
        .write_batch(&[Record::RecordingDeleted {
            id: deleted.id.clone(),
            at: at(cut + 1_000),
        }])
        .await
        .unwrap();

    assert_eq!(
        store.recordings_ended_before(at(cut)).await.unwrap(),
        [
            interrupted.clone(),
            consult.clone(),
            middle.clone(),
            long.clone()
        ]
    );
    // The bound is exclusive.
    assert_eq!(
        store
            .recordings_ended_before(at(base + 250_000))
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        store
            .recordings_ended_before(at(base + 250_001))
            .await
            .unwrap(),
        [interrupted, consult]
    );
    // Deleting the rest leaves retention nothing to do.
    let ids = [
        "call-000004",
        "call-000004-consult-1",
        "call-000003",
        "call-000001",
    ];
    let deletions: Vec<Record> = ids
        .into_iter()
        .map(|id| Record::RecordingDeleted {
            id: id.into(),
            at: at(cut + 2_000),
        })
        .collect();
    store.write_batch(&deletions).await.unwrap();
    assert_eq!(store.recordings_ended_before(at(cut)).await.unwrap(), []);
    assert_eq!(
        store
            .recordings_ended_before(at(cut + 1))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        ["call-000005"]
    );
}

pub(crate) async fn a_deleted_recording_keeps_its_row_marked_once<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let first = at(RECORDING_MS + 86_400_000);
    store
        .write_batch(&[
            Record::Recording(closed_recording(1)),
            Record::RecordingDeleted {
                id: "call-000001".into(),
                at: first,
            },
        ])
        .await
        .unwrap();
    let deleted = RecordingRecord {
        deleted_at: Some(first),
        ..closed_recording(1)
    };
    assert_eq!(
        store.recordings_of("call-000001").await.unwrap(),
        std::slice::from_ref(&deleted)
    );

    // Deleted again (a retention run that did not see the first): the first time stands.
    // A deletion of a recording the store does not hold changes nothing.
    store
        .write_batch(&[
            Record::RecordingDeleted {
                id: "call-000001".into(),
                at: at(RECORDING_MS + 2 * 86_400_000),
            },
            Record::RecordingDeleted {
                id: "call-999999".into(),
                at: first,
            },
        ])
        .await
        .unwrap();
    drop(store);

    let store = backend.open().await;
    assert_eq!(store.recordings_of("call-000001").await.unwrap(), [deleted]);
    assert_eq!(store.recordings_of("call-999999").await.unwrap(), []);
    assert_eq!(store.open_recordings().await.unwrap(), []);
    assert_eq!(store.recordings_ended_before(first).await.unwrap(), []);
}

pub(crate) async fn recording_values_out_of_range_are_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let before = UNIX_EPOCH - Duration::from_secs(1);
    let edited = |edit: &dyn Fn(&mut RecordingRecord)| {
        let mut recording = closed_recording(1);
        edit(&mut recording);
        Record::Recording(recording)
    };
    let cases = [
        (
            edited(&|r| r.started_at = before),
            "recording",
            "started_at",
        ),
        (
            edited(&|r| r.ended_at = Some(before)),
            "recording",
            "ended_at",
        ),
        (
            edited(&|r| r.deleted_at = Some(before)),
            "recording",
            "deleted_at",
        ),
        (
            edited(&|r| r.gaps[1].from = before),
            "recording",
            "gaps.from",
        ),
        (edited(&|r| r.gaps[0].to = before), "recording", "gaps.to"),
        (
            edited(&|r| r.duration_ms = u64::MAX),
            "recording",
            "duration_ms",
        ),
        (
            Record::RecordingDeleted {
                id: "call-000001".into(),
                at: before,
            },
            "recording_deleted",
            "at",
        ),
    ];
    for (record, want_kind, want_field) in cases {
        let err = store.write_batch(&[record]).await.unwrap_err();

        assert!(
            matches!(&err, StoreError::TimeOutOfRange { kind, id, field }
                if *kind == want_kind && id == "call-000001" && *field == want_field),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }

    let err = store
        .write_batch(&[edited(&|r| r.size_bytes = u64::MAX)])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ValueOutOfRange { kind: "recording", id, field: "size_bytes" }
            if id == "call-000001"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(store.recordings_of("call-000001").await.unwrap(), []);
}
