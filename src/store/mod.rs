//! Storage of everything the daemon keeps: call records (with their queue part), seat
//! events, callback requests, caller ratings, return-visit surveys, and the contact-failure
//! ledger (attempts to reach units, failures, voids), and call recordings; security events
//! later.
//! All writes go through one `StoreWriter` so that signalling never waits on the disk.

mod contacts;
mod error;
#[cfg(test)]
pub(crate) mod fake;
mod handoffs;
mod millis;
mod record;
mod recordings;
mod sqlite;
pub use sqlite::checkpoint;
mod writer;

#[cfg(test)]
mod battery;
#[cfg(test)]
mod battery_contacts;

use std::future::Future;
use std::time::SystemTime;

pub use crate::ratings::{NotRatedReason, Rating, RatingKind, RatingOutcome};
pub use contacts::{
    ContactAttempt, ContactFailure, ContactOutcome, Evidence, FailureKind, FailureVoid,
    UnknownContactOutcome, UnknownFailureKind,
};
pub use error::StoreError;
pub use handoffs::{Extension, HandoffOutcome, HandoffRecord};
pub use record::{
    AttemptOutcome, CallEventRecord, CallRecord, CallbackRequest, Disposition, LegRecord, LegRole,
    Offer, OfferOutcome, OpenCall, OpenLeg, QueueOutcome, RatingRecord, Record, SeatEvent,
    SurveyAttempt, SurveyRecord, SurveyState, UnknownAttemptOutcome, UnknownDisposition,
    UnknownLegRole, UnknownOfferOutcome, UnknownSurveyState,
};
pub use recordings::{RecordingGap, RecordingRecord};
pub use sqlite::SqliteStore;
pub use writer::{StoreWriter, WriterHandle, WriterStats};

/// A storage backend. Reads live here too so that reports, the API and the shared test
/// battery work against any backend.
pub trait Store: Send + Sync + 'static {
    /// Writes all records in one transaction: either all are kept, durably, or none.
    /// A rating for a call and kind that already has one (stored, or earlier in the batch)
    /// fails the batch with `StoreError::AlreadyRated`. A survey record replaces the stored
    /// one with its id (upsert); a survey attempt needs its survey stored (or earlier in the
    /// batch) and is refused if its survey and number already have one. A recording record
    /// replaces the stored one with its id, gaps and all; a recording's deletion marks it once
    /// and is a no-op for an unknown recording.
    fn write_batch(
        &self,
        records: &[Record],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every call, ordered by offer time, then id.
    fn calls(&self) -> impl Future<Output = Result<Vec<CallRecord>, StoreError>> + Send;

    /// Calls offered with `from <= offered_at < to`, ordered by offer time, then id.
    fn calls_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> impl Future<Output = Result<Vec<CallRecord>, StoreError>> + Send;

    /// Every call in progress (an `OpenCall` with no `Call` yet), ordered by offer time, then id.
    fn open_calls(&self) -> impl Future<Output = Result<Vec<OpenCall>, StoreError>> + Send;

    /// Turns every open call into a call record, interrupted, ended at the last sign of life
    /// (the latest `Alive`, or the call's own answer or offer when later); returns how many.
    fn close_interrupted(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The latest-offered call whose trunk leg had this Call-ID.
    fn call_by_sip_call_id(
        &self,
        sip_call_id: &str,
    ) -> impl Future<Output = Result<Option<CallRecord>, StoreError>> + Send;

    /// Every seat state change, in time order; changes at the same millisecond in the
    /// order they were written.
    fn seat_events(&self) -> impl Future<Output = Result<Vec<SeatEvent>, StoreError>> + Send;

    /// Every callback request, ordered by request time, then id.
    fn callbacks(&self) -> impl Future<Output = Result<Vec<CallbackRequest>, StoreError>> + Send;

    /// Callback requests with `from <= requested_at < to`, ordered by time, then id.
    fn callbacks_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> impl Future<Output = Result<Vec<CallbackRequest>, StoreError>> + Send;

    /// Every rating (of every kind, rated or not), ordered by time, then id.
    fn ratings(&self) -> impl Future<Output = Result<Vec<RatingRecord>, StoreError>> + Send;

    /// Ratings with `from <= at < to`, ordered by time, then id.
    fn ratings_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> impl Future<Output = Result<Vec<RatingRecord>, StoreError>> + Send;

    /// Every survey as last recorded, ordered by request time, then id.
    fn surveys(&self) -> impl Future<Output = Result<Vec<SurveyRecord>, StoreError>> + Send;

    /// The surveys whose last record is in `status`, ordered by request time, then id.
    fn surveys_in_state(
        &self,
        status: SurveyState,
    ) -> impl Future<Output = Result<Vec<SurveyRecord>, StoreError>> + Send;

    /// The survey as last recorded.
    fn survey(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<SurveyRecord>, StoreError>> + Send;

    /// A survey's call attempts, first attempt first.
    fn survey_attempts(
        &self,
        survey_id: &str,
    ) -> impl Future<Output = Result<Vec<SurveyAttempt>, StoreError>> + Send;

    /// A hand-off's contact attempts, in the order written.
    fn contact_attempts_of(
        &self,
        handoff_id: &str,
    ) -> impl Future<Output = Result<Vec<ContactAttempt>, StoreError>> + Send;

    /// Contact attempts started at or after `from` and before `to`, by start time, then in the
    /// order written.
    fn contact_attempts_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> impl Future<Output = Result<Vec<ContactAttempt>, StoreError>> + Send;

    /// Contact failures with `from <= at < to`, ordered by time, then id.
    fn contact_failures_in(
        &self,
        from: SystemTime,
        to: SystemTime,
    ) -> impl Future<Output = Result<Vec<ContactFailure>, StoreError>> + Send;

    /// The contact failure with this id.
    fn contact_failure(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ContactFailure>, StoreError>> + Send;

    /// Every void, ordered by time, then failure id.
    fn failure_voids(&self) -> impl Future<Output = Result<Vec<FailureVoid>, StoreError>> + Send;

    /// The void of this failure, if it was voided.
    fn failure_void(
        &self,
        failure_id: &str,
    ) -> impl Future<Output = Result<Option<FailureVoid>, StoreError>> + Send;

    /// A call's recordings (its own and its consultations'), deleted ones too, ordered by start
    /// time, then id.
    fn recordings_of(
        &self,
        call_id: &str,
    ) -> impl Future<Output = Result<Vec<RecordingRecord>, StoreError>> + Send;

    /// Every recording still being written (or left open by a daemon that stopped), ordered by
    /// start time, then id.
    fn open_recordings(
        &self,
    ) -> impl Future<Output = Result<Vec<RecordingRecord>, StoreError>> + Send;

    /// The recordings that ended before `t` and whose file is not yet deleted, for retention;
    /// ordered by end time, then id.
    fn recordings_ended_before(
        &self,
        t: SystemTime,
    ) -> impl Future<Output = Result<Vec<RecordingRecord>, StoreError>> + Send;
}
