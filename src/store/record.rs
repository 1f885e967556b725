use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use super::contacts::{ContactAttempt, ContactFailure, FailureVoid};
use crate::ratings::{RatingKind, RatingOutcome};

/// Anything the daemon keeps. One writer serves every variant, so a batch may mix them.
// Call records are most of what is written; boxing them would add an allocation per call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A call the daemon has taken, as far as it is known: kept until its `Call` record.
    OpenCall(OpenCall),
    /// The daemon's last sign of life.
    Alive(SystemTime),
    /// An ended call; it replaces the call's `OpenCall`.
    Call(CallRecord),
    SeatEvent(SeatEvent),
    Callback(CallbackRequest),
    Rating(RatingRecord),
    /// Upserted: a later record for the same survey id replaces the row.
    Survey(SurveyRecord),
    SurveyAttempt(SurveyAttempt),
    /// A leg in progress, as far as it is known: kept until its `Leg` record.
    OpenLeg(OpenLeg),
    /// An ended leg; it replaces the leg's `OpenLeg`.
    Leg(LegRecord),
    CallEvent(CallEventRecord),
    /// Upserted: a hand-off as it stands now replaces its earlier row.
    Handoff(super::HandoffRecord),
    /// One call to a unit's contact on a seat's behalf.
    ContactAttempt(ContactAttempt),
    /// A contact failure charged to a unit; never rewritten.
    ContactFailure(ContactFailure),
    /// A contact failure voided on appeal; refused for an unknown or already voided failure.
    FailureVoid(FailureVoid),
    /// Upserted: a recording as it stands now replaces its earlier row, gaps and all.
    Recording(super::RecordingRecord),
    /// Retention deleted a recording's file at `at`; the row stays, marked. The first deletion
    /// stands; nothing is written for an unknown recording.
    RecordingDeleted {
        id: String,
        at: SystemTime,
    },
}

impl Record {
    /// Short name of the record type, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::OpenCall(_) => "open_call",
            Record::Alive(_) => "alive",
            Record::Call(_) => "call",
            Record::SeatEvent(_) => "seat_event",
            Record::Callback(_) => "callback",
            Record::Rating(_) => "rating",
            Record::Survey(_) => "survey",
            Record::SurveyAttempt(_) => "survey_attempt",
            Record::OpenLeg(_) => "open_leg",
            Record::Leg(_) => "leg",
            Record::CallEvent(_) => "call_event",
            Record::Handoff(_) => "handoff",
            Record::ContactAttempt(_) => "contact_attempt",
            Record::ContactFailure(_) => "contact_failure",
            Record::FailureVoid(_) => "failure_void",
            Record::Recording(_) => "recording",
            Record::RecordingDeleted { .. } => "recording_deleted",
        }
    }

    /// The record's own id, so a failure can be traced to the call it belongs to.
    /// A seat event has no id of its own; its seat is what names it.
    pub fn id(&self) -> &str {
        match self {
            Record::OpenCall(call) => &call.id,
            Record::Alive(_) => "daemon",
            Record::Call(call) => &call.id,
            Record::SeatEvent(event) => &event.seat,
            Record::Callback(callback) => &callback.id,
            Record::Rating(rating) => &rating.id,
            Record::Survey(survey) => &survey.id,
            Record::SurveyAttempt(attempt) => &attempt.survey_id,
            Record::OpenLeg(leg) => &leg.id,
            Record::Leg(leg) => &leg.id,
            Record::CallEvent(event) => &event.call_id,
            Record::Handoff(handoff) => &handoff.id,
            Record::ContactAttempt(attempt) => &attempt.call_id,
            Record::ContactFailure(failure) => &failure.id,
            Record::FailureVoid(void) => &void.failure_id,
            Record::Recording(recording) => &recording.id,
            Record::RecordingDeleted { id, .. } => id,
        }
    }
}

impl From<CallRecord> for Record {
    fn from(call: CallRecord) -> Self {
        Record::Call(call)
    }
}

impl From<ContactAttempt> for Record {
    fn from(attempt: ContactAttempt) -> Self {
        Record::ContactAttempt(attempt)
    }
}

impl From<ContactFailure> for Record {
    fn from(failure: ContactFailure) -> Self {
        Record::ContactFailure(failure)
    }
}

impl From<FailureVoid> for Record {
    fn from(void: FailureVoid) -> Self {
        Record::FailureVoid(void)
    }
}

impl From<super::RecordingRecord> for Record {
    fn from(recording: super::RecordingRecord) -> Self {
        Record::Recording(recording)
    }
}

impl From<SeatEvent> for Record {
    fn from(event: SeatEvent) -> Self {
        Record::SeatEvent(event)
    }
}

impl From<CallbackRequest> for Record {
    fn from(callback: CallbackRequest) -> Self {
        Record::Callback(callback)
    }
}

impl From<RatingRecord> for Record {
    fn from(rating: RatingRecord) -> Self {
        Record::Rating(rating)
    }
}

impl From<SurveyRecord> for Record {
    fn from(survey: SurveyRecord) -> Self {
        Record::Survey(survey)
    }
}

impl From<SurveyAttempt> for Record {
    fn from(attempt: SurveyAttempt) -> Self {
        Record::SurveyAttempt(attempt)
    }
}

/// A return-visit survey as it stands. Written when the survey is requested and again whenever
/// it moves on; the store keeps the latest record per id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRecord {
    /// The survey request's id (unique).
    pub id: String,
    /// The number called.
    pub number: String,
    /// The matter (工单) the survey is about.
    pub ticket: String,
    /// The unit that handled the matter.
    pub unit: Option<String>,
    pub requested_at: SystemTime,
    pub status: SurveyState,
    /// Attempts dialled so far.
    pub attempts: u32,
    /// When this record was made.
    pub updated_at: SystemTime,
}

/// Where a survey stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SurveyState {
    /// Waiting to be dialled, being dialled, or waiting for its next attempt.
    Queued,
    /// Answered, and the citizen consented.
    Completed,
    /// Answered, and the citizen declined (or hung up before consenting).
    Declined,
    /// Every attempt went unanswered.
    GaveUp,
    /// The number is on the do-not-call list; never dialled.
    RefusedDnc,
}

/// One attempt to call a survey's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyAttempt {
    pub survey_id: String,
    /// 1 for the first attempt, then 2, 3…; one record per attempt.
    pub n: u32,
    /// When the attempt was dialled.
    pub at: SystemTime,
    pub outcome: AttemptOutcome,
}

/// How a survey call attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    Answered,
    NoAnswer,
    Busy,
    Failed,
}

impl SurveyState {
    pub const ALL: [SurveyState; 5] = [
        SurveyState::Queued,
        SurveyState::Completed,
        SurveyState::Declined,
        SurveyState::GaveUp,
        SurveyState::RefusedDnc,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyState::Queued => "queued",
            SurveyState::Completed => "completed",
            SurveyState::Declined => "declined",
            SurveyState::GaveUp => "gave_up",
            SurveyState::RefusedDnc => "refused_dnc",
        }
    }
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 4] = [
        AttemptOutcome::Answered,
        AttemptOutcome::NoAnswer,
        AttemptOutcome::Busy,
        AttemptOutcome::Failed,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Answered => "answered",
            AttemptOutcome::NoAnswer => "no_answer",
            AttemptOutcome::Busy => "busy",
            AttemptOutcome::Failed => "failed",
        }
    }
}

use crate::stored_names::stored_names;

stored_names! {
    SurveyState => UnknownSurveyState, "survey state";
    AttemptOutcome => UnknownAttemptOutcome, "attempt outcome";
    LegRole => UnknownLegRole, "leg role";
}

/// A call offered for rating, and what came of it. The store keeps one per call and kind
/// and refuses a second with `StoreError::AlreadyRated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRecord {
    /// The rating's own id (unique).
    pub id: String,
    /// The daemon's call id; its call record may be written later.
    pub call_id: String,
    pub kind: RatingKind,
    /// When the rating was given, or given up on. Reports put it in the month of this time,
    /// local time.
    pub at: SystemTime,
    /// The seat that served the caller.
    pub seat: Option<String>,
    /// The unit the matter was handed to, if any.
    pub unit: Option<String>,
    pub outcome: RatingOutcome,
}

/// One leg of a call: the caller's, a seat phone's, a unit contact's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRecord {
    pub id: String,
    /// The daemon's call id.
    pub call_id: String,
    pub role: LegRole,
    /// The caller's number, the seat's user, or the unit contact as dialled.
    pub party: String,
    pub started_at: SystemTime,
    pub answered_at: Option<SystemTime>,
    pub ended_at: SystemTime,
    /// "bye_by_them", "bye_by_us", "cancelled", "failed:486"...
    pub ended_how: String,
}

/// A leg in progress: who, since when, and whether it was answered. Its `LegRecord` has the
/// same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLeg {
    pub id: String,
    /// The daemon's call id.
    pub call_id: String,
    pub role: LegRole,
    pub party: String,
    pub started_at: SystemTime,
    pub answered_at: Option<SystemTime>,
}

impl OpenLeg {
    /// The leg's record: as it stood, ended at `ended_at` the way `how` says.
    pub fn ended(self, ended_at: SystemTime, how: String) -> LegRecord {
        LegRecord {
            id: self.id,
            call_id: self.call_id,
            role: self.role,
            party: self.party,
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at,
            ended_how: how,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegRole {
    Caller,
    Seat,
    Unit,
}

impl LegRole {
    pub const ALL: [LegRole; 3] = [LegRole::Caller, LegRole::Seat, LegRole::Unit];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            LegRole::Caller => "caller",
            LegRole::Seat => "seat",
            LegRole::Unit => "unit",
        }
    }
}

/// Something that happened in a call between its legs: a consultation, a conference, a
/// transfer, a refused REFER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEventRecord {
    pub call_id: String,
    pub at: SystemTime,
    pub kind: String,
    pub detail: Option<String>,
}

/// A call in progress: what is known of it before it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCall {
    pub id: String,
    pub sip_call_id: String,
    pub trunk: String,
    pub caller: String,
    pub called: String,
    pub seat: Option<String>,
    pub offered_at: SystemTime,
    pub answered_at: Option<SystemTime>,
}

impl OpenCall {
    /// The call's record: what was known of it, ended at `ended_at` as the rest says.
    pub fn ended(
        self,
        ended_at: SystemTime,
        disposition: Disposition,
        sip_cause: Option<u16>,
        ended_by: Option<String>,
    ) -> CallRecord {
        CallRecord {
            id: self.id,
            sip_call_id: self.sip_call_id,
            trunk: self.trunk,
            caller: self.caller,
            called: self.called,
            seat: self.seat,
            offered_at: self.offered_at,
            answered_at: self.answered_at,
            ended_at,
            disposition,
            sip_cause,
            ended_by,
            queue: None,
        }
    }
}

/// One inbound call, from offer to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The daemon's call id (unique).
    pub id: String,
    /// Call-ID of the inbound (trunk) leg.
    pub sip_call_id: String,
    pub trunk: String,
    /// Caller number (From user).
    pub caller: String,
    /// Called number (Request-URI user).
    pub called: String,
    /// The seat that answered.
    pub seat: Option<String>,
    pub offered_at: SystemTime,
    pub answered_at: Option<SystemTime>,
    pub ended_at: SystemTime,
    pub disposition: Disposition,
    /// The SIP status that ended the call (486, 487, 408, 480…); `None` for a normal BYE.
    pub sip_cause: Option<u16>,
    /// "caller", "seat" or "daemon".
    pub ended_by: Option<String>,
    /// What happened in the queue; `None` for a call that never entered one.
    pub queue: Option<QueueOutcome>,
}

impl CallRecord {
    /// Whether the daemon refused the call at the door (every line busy, overload, no route):
    /// such a call is rejected by the daemon in the instant it arrived, and never held a line.
    pub fn refused_at_the_door(&self) -> bool {
        self.disposition == Disposition::Rejected
            && self.answered_at.is_none()
            && self.offered_at == self.ended_at
            && self.ended_by.as_deref() == Some("daemon")
    }
}

/// A call's time in a queue. Times and `wait` are kept to the millisecond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOutcome {
    /// The queue the call entered (the first one, if it overflowed to another).
    pub queue: String,
    pub entered_at: SystemTime,
    /// From entering the queue until it was answered, abandoned or overflowed.
    pub wait: Duration,
    /// Every seat the call was offered to, in the order offered.
    pub offers: Vec<Offer>,
    /// The caller hung up while queued.
    pub abandoned: bool,
    /// Where the call went when the queue gave up on it: "queue:x", "prompt", "callback".
    pub overflow: Option<String>,
}

/// One attempt to hand a queued call to a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub seat: String,
    pub at: SystemTime,
    pub outcome: OfferOutcome,
}

/// How an offer to a seat ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferOutcome {
    Answered,
    NoAnswer,
    Busy,
    Unreachable,
    /// Withdrawn by the daemon: the caller hung up, or another seat answered first.
    Cancelled,
}

impl OfferOutcome {
    pub const ALL: [OfferOutcome; 5] = [
        OfferOutcome::Answered,
        OfferOutcome::NoAnswer,
        OfferOutcome::Busy,
        OfferOutcome::Unreachable,
        OfferOutcome::Cancelled,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferOutcome::Answered => "answered",
            OfferOutcome::NoAnswer => "no_answer",
            OfferOutcome::Busy => "busy",
            OfferOutcome::Unreachable => "unreachable",
            OfferOutcome::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for OfferOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown offer outcome {0:?}")]
pub struct UnknownOfferOutcome(pub String);

impl FromStr for OfferOutcome {
    type Err = UnknownOfferOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OfferOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOfferOutcome(s.to_owned()))
    }
}

/// A seat changed state. States: "logged_out", "available", "ringing", "on_call",
/// "wrap_up", "paused".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatEvent {
    pub seat: String,
    pub at: SystemTime,
    pub from: String,
    pub to: String,
    /// Why, where it is not obvious from the states (a pause reason, "ring_timeout"…).
    pub reason: Option<String>,
}

/// A caller asked to be called back instead of waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRequest {
    /// The request's own id (unique).
    pub id: String,
    /// The call it was asked for in; its call record may be written later.
    pub call_id: String,
    /// The number to call back.
    pub number: String,
    pub queue: String,
    pub requested_at: SystemTime,
}

/// How a call ended, as counted in the line metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    Answered,
    /// The caller hung up while the call was ringing or queued.
    Abandoned,
    Busy,
    NoAnswer,
    Unreachable,
    Rejected,
    Failed,
    /// The daemon stopped without ending the call (a crash, a kill -9); closed at the next
    /// start, ended at the last sign of life.
    Interrupted,
}

impl Disposition {
    pub const ALL: [Disposition; 8] = [
        Disposition::Answered,
        Disposition::Abandoned,
        Disposition::Busy,
        Disposition::NoAnswer,
        Disposition::Unreachable,
        Disposition::Rejected,
        Disposition::Failed,
        Disposition::Interrupted,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Abandoned => "abandoned",
            Disposition::Busy => "busy",
            Disposition::NoAnswer => "no_answer",
            Disposition::Unreachable => "unreachable",
            Disposition::Rejected => "rejected",
            Disposition::Failed => "failed",
            Disposition::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown disposition {0:?}")]
pub struct UnknownDisposition(pub String);

impl FromStr for Disposition {
    type Err = UnknownDisposition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Disposition::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDisposition(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_strings_round_trip() {
        for d in Disposition::ALL {
            assert_eq!(d.as_str().parse::<Disposition>(), Ok(d));
        }
        assert_eq!(
            "NoAnswer".parse::<Disposition>(),
            Err(UnknownDisposition("NoAnswer".into()))
        );
    }

    #[test]
    fn survey_strings_round_trip() {
        for s in SurveyState::ALL {
            assert_eq!(s.as_str().parse::<SurveyState>(), Ok(s));
        }
        for o in AttemptOutcome::ALL {
            assert_eq!(o.as_str().parse::<AttemptOutcome>(), Ok(o));
        }
        assert_eq!(
            "dialling".parse::<SurveyState>(),
            Err(UnknownSurveyState("dialling".into()))
        );
        assert_eq!(SurveyState::RefusedDnc.to_string(), "refused_dnc");
    }

    #[test]
    fn offer_outcome_strings_round_trip() {
        for o in OfferOutcome::ALL {
            assert_eq!(o.as_str().parse::<OfferOutcome>(), Ok(o));
        }
        assert_eq!(
            "Busy".parse::<OfferOutcome>(),
            Err(UnknownOfferOutcome("Busy".into()))
        );
    }
}
