//! One test battery for every backend. A backend's test module implements `Backend` and
//! invokes `store_battery!(ItsBackend)`; each function here becomes one test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{CallRecord, Disposition, Record, Store, StoreError, StoreWriter};

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
        );
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
