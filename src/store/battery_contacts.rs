//! The shared battery's cases for the contact-failure ledger: attempts, failures and voids. A
//! backend's test module invokes `contacts_battery!(ItsBackend)` beside `store_battery!`.

use std::time::{Duration, SystemTime};

use super::battery::{at, Backend};
use super::{
    ContactAttempt, ContactFailure, ContactOutcome, Evidence, FailureKind, FailureVoid, Record,
    Store, StoreError,
};
use crate::dialplan::Role;

macro_rules! contacts_battery {
    ($backend:ty) => {
        $crate::store::battery_contacts::contacts_battery!(@tests $backend;
            contact_attempts_round_trip_in_write_order,
            contact_attempts_in_reads_a_half_open_window,
            contact_failures_round_trip_with_their_evidence,
            a_failure_id_is_taken_once,
            voids_round_trip_and_leave_the_failure_as_it_was,
            a_void_needs_its_failure,
            a_failure_is_voided_once,
            ledger_times_before_the_epoch_are_refused,
        );
    };
    (@tests $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::store::battery_contacts::$name::<$backend>().await;
            }
        )*
    };
}
pub(crate) use contacts_battery;

/// Base of the ledger's times: 2026-11-10T02:00:00Z, ten in the morning in Beijing.
const BASE_MS: u64 = 1_794_276_000_000;

/// Attempt `k` (1, 2, …) of hand-off `h`, 35 s after the one before, every field set.
pub(crate) fn contact_attempt(
    h: u64,
    k: u64,
    role: Role,
    outcome: ContactOutcome,
) -> ContactAttempt {
    ContactAttempt {
        handoff_id: Some(format!("ho-{h:06}")),
        call_id: format!("call-{h:06}"),
        unit: "2001".into(),
        role,
        dialled: format!("0551-6234 56{k:02}"),
        started_at: at(BASE_MS + h * 3_600_000 + k * 35_000),
        rung: Duration::from_millis(30_000 - k),
        outcome,
        sip_status: Some(487),
    }
}

/// Failure `n` of hand-off `n`, with attempts of every role and unanswered outcome as evidence.
pub(crate) fn contact_failure(n: u64) -> ContactFailure {
    let evidence = [
        (Role::Handler, ContactOutcome::NoAnswer),
        (Role::Duty, ContactOutcome::Busy),
        (Role::Head, ContactOutcome::Rejected),
        (Role::Duty, ContactOutcome::Unreachable),
    ]
    .into_iter()
    .zip(1..)
    .map(|((role, outcome), k)| {
        let mut evidence = Evidence::from(&contact_attempt(n, k, role, outcome));
        evidence.sip_status = (outcome != ContactOutcome::Unreachable).then_some(480 + k as u16);
        evidence
    })
    .collect();
    ContactFailure {
        id: format!("cf-call-{n:06}-1"),
        unit: "2001".into(),
        kind: FailureKind::Unanswered,
        at: at(BASE_MS + n * 3_600_000 + 200_000),
        handoff_id: Some(format!("ho-{n:06}")),
        call_id: format!("call-{n:06}"),
        seat: Some("1001".into()),
        evidence,
        points: 10,
    }
}

fn void(n: u64) -> FailureVoid {
    FailureVoid {
        failure_id: format!("cf-call-{n:06}-1"),
        at: at(BASE_MS + n * 3_600_000 + 86_400_000),
        by: "王主任".into(),
        reason: "duty line out of order, reported by the carrier".into(),
        late: false,
    }
}

pub(crate) async fn contact_attempts_round_trip_in_write_order<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let mut attempts: Vec<ContactAttempt> = ContactOutcome::ALL
        .into_iter()
        .zip(1..)
        .map(|(outcome, k)| contact_attempt(1, k, Role::Duty, outcome))
        .collect();
    // Written out of time order: write order is what a hand-off's attempts come back in.
    attempts.swap(0, 1);
    attempts[2].sip_status = None;
    attempts[3].role = Role::Handler;
    attempts[4].role = Role::Head;
    let other = ContactAttempt {
        handoff_id: None,
        ..contact_attempt(2, 1, Role::Duty, ContactOutcome::Answered)
    };
    let mut written: Vec<Record> = attempts.iter().cloned().map(Record::from).collect();
    written.insert(3, Record::from(other.clone()));
    store.write_batch(&written).await.unwrap();
    drop(store);

    let store = backend.open().await;
    assert_eq!(
        store.contact_attempts_of("ho-000001").await.unwrap(),
        attempts
    );
    assert_eq!(store.contact_attempts_of("ho-000002").await.unwrap(), []);
    let window = store
        .contact_attempts_in(
            other.started_at,
            other.started_at + Duration::from_millis(1),
        )
        .await
        .unwrap();
    assert_eq!(window, [other]);
}

pub(crate) async fn contact_attempts_in_reads_a_half_open_window<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let a = |k| contact_attempt(1, k, Role::Handler, ContactOutcome::NoAnswer);
    let same_start = ContactAttempt {
        started_at: a(2).started_at,
        dialled: "sip:8101@192.0.2.15:5060".into(),
        ..a(9)
    };
    let written = [a(3), a(2), same_start.clone(), a(1)];
    store
        .write_batch(&written.clone().map(Record::from))
        .await
        .unwrap();
    let got = store
        .contact_attempts_in(a(2).started_at, a(3).started_at)
        .await
        .unwrap();
    // By start time, ties in the order written; `to` itself is outside.
    assert_eq!(got, [a(2), same_start]);
}

pub(crate) async fn contact_failures_round_trip_with_their_evidence<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let refused = ContactFailure {
        id: "cf-call-000002-1".into(),
        kind: FailureKind::Refused,
        handoff_id: None,
        seat: None,
        evidence: vec![Evidence::from(&contact_attempt(
            2,
            1,
            Role::Handler,
            ContactOutcome::Answered,
        ))],
        points: 5,
        ..contact_failure(2)
    };
    let empty = ContactFailure {
        id: "cf-call-000003-1".into(),
        evidence: vec![],
        ..contact_failure(3)
    };
    let written = [empty.clone(), contact_failure(1), refused.clone()];
    store.write_batch(&written.map(Record::from)).await.unwrap();
    drop(store);

    let store = backend.open().await;
    let all = store
        .contact_failures_in(SystemTime::UNIX_EPOCH, at(u64::MAX / 4))
        .await
        .unwrap();
    assert_eq!(all, [contact_failure(1), refused.clone(), empty]);
    let window = store
        .contact_failures_in(refused.at, refused.at + Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(window, std::slice::from_ref(&refused));
    assert_eq!(
        store.contact_failure(&refused.id).await.unwrap(),
        Some(refused)
    );
    assert_eq!(store.contact_failure("cf-nothing").await.unwrap(), None);
}

pub(crate) async fn a_failure_id_is_taken_once<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .write_batch(&[Record::from(contact_failure(1))])
        .await
        .unwrap();
    let again = ContactFailure {
        unit: "3001".into(),
        ..contact_failure(1)
    };
    let err = store.write_batch(&[Record::from(again)]).await.unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(
        store.contact_failure("cf-call-000001-1").await.unwrap(),
        Some(contact_failure(1))
    );
}

pub(crate) async fn voids_round_trip_and_leave_the_failure_as_it_was<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let late = FailureVoid {
        late: true,
        at: void(1).at - Duration::from_secs(1),
        ..void(2)
    };
    // A failure and its void may share a batch.
    store
        .write_batch(&[
            Record::from(contact_failure(1)),
            Record::from(contact_failure(2)),
            Record::from(void(1)),
            Record::from(late.clone()),
        ])
        .await
        .unwrap();
    drop(store);

    let store = backend.open().await;
    assert_eq!(
        store.failure_voids().await.unwrap(),
        [late.clone(), void(1)]
    );
    assert_eq!(
        store.failure_void("cf-call-000002-1").await.unwrap(),
        Some(late)
    );
    assert_eq!(store.failure_void("cf-call-000003-1").await.unwrap(), None);
    assert_eq!(
        store.contact_failure("cf-call-000001-1").await.unwrap(),
        Some(contact_failure(1))
    );
}

pub(crate) async fn a_void_needs_its_failure<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let err = store
        .write_batch(&[Record::from(void(7))])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownFailure { failure_id } if failure_id == "cf-call-000007-1"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(store.failure_voids().await.unwrap(), []);
}

pub(crate) async fn a_failure_is_voided_once<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .write_batch(&[Record::from(contact_failure(1)), Record::from(void(1))])
        .await
        .unwrap();
    let second = FailureVoid {
        by: "李科长".into(),
        ..void(1)
    };
    let is_already_voided = |err: &StoreError| matches!(err, StoreError::AlreadyVoided { failure_id } if failure_id == "cf-call-000001-1");
    let err = store
        .write_batch(&[Record::from(second.clone())])
        .await
        .unwrap_err();
    assert!(is_already_voided(&err), "{err:?}");
    assert!(!err.is_transient());

    // Twice in one batch: the batch is refused whole.
    let err = store
        .write_batch(&[
            Record::from(contact_failure(2)),
            Record::from(void(2)),
            Record::from(void(2)),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyVoided { .. }), "{err:?}");
    assert_eq!(
        store.contact_failure("cf-call-000002-1").await.unwrap(),
        None
    );
    assert_eq!(store.failure_voids().await.unwrap(), [void(1)]);
}

pub(crate) async fn ledger_times_before_the_epoch_are_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
    let mut evidence_before = contact_failure(1);
    evidence_before.evidence[2].started_at = before;
    let bad = [
        Record::from(ContactAttempt {
            started_at: before,
            ..contact_attempt(1, 1, Role::Duty, ContactOutcome::Busy)
        }),
        Record::from(ContactFailure {
            at: before,
            ..contact_failure(1)
        }),
        Record::from(evidence_before),
        Record::from(FailureVoid {
            at: before,
            ..void(1)
        }),
    ];
    for record in bad {
        let mut batch = vec![Record::from(contact_failure(2))];
        if matches!(record, Record::FailureVoid(_)) {
            batch.push(Record::from(contact_failure(1)));
        }
        batch.push(record);
        let err = store.write_batch(&batch).await.unwrap_err();
        assert!(matches!(err, StoreError::TimeOutOfRange { .. }), "{err:?}");
    }
    assert_eq!(
        store.contact_failure("cf-call-000002-1").await.unwrap(),
        None
    );
}
