//! The contact-failure ledger's records (联络畅通): every attempt to reach a unit's contact, every
//! contact failure with its evidence, and every void of a failure upheld on appeal. Nothing of
//! these is ever updated or deleted: a void is a record of its own.

use std::time::{Duration, SystemTime};

use crate::dialplan::Role;
use crate::stored_names::stored_names;

/// One call placed to a unit's contact, on the seat's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactAttempt {
    /// The hand-off the attempt belongs to; `None` when the seat reached for a unit without one.
    pub handoff_id: Option<String>,
    /// The daemon's call id of the citizen's call (or of the seat's own call to the unit).
    pub call_id: String,
    /// The unit's id.
    pub unit: String,
    pub role: Role,
    /// The number or URI dialled.
    pub dialled: String,
    pub started_at: SystemTime,
    /// How long it rang, to the millisecond.
    pub rung: Duration,
    pub outcome: ContactOutcome,
    /// The final SIP status (200, 486, 487, 408…); `None` when no response came.
    pub sip_status: Option<u16>,
}

impl ContactAttempt {
    /// When the attempt's outcome was known: its start plus the time it rang.
    pub fn ended_at(&self) -> SystemTime {
        self.started_at + self.rung
    }
}

/// How an attempt to reach a unit's contact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactOutcome {
    Answered,
    NoAnswer,
    Busy,
    Rejected,
    Unreachable,
    /// The seat stopped the hunt (`*0`) or skipped on (`*5`) while it rang: not the unit's fault.
    StoppedBySeat,
}

impl ContactOutcome {
    pub const ALL: [ContactOutcome; 6] = [
        ContactOutcome::Answered,
        ContactOutcome::NoAnswer,
        ContactOutcome::Busy,
        ContactOutcome::Rejected,
        ContactOutcome::Unreachable,
        ContactOutcome::StoppedBySeat,
    ];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactOutcome::Answered => "answered",
            ContactOutcome::NoAnswer => "no_answer",
            ContactOutcome::Busy => "busy",
            ContactOutcome::Rejected => "rejected",
            ContactOutcome::Unreachable => "unreachable",
            ContactOutcome::StoppedBySeat => "stopped_by_seat",
        }
    }

    /// Whether the attempt counts against the unit: it rang out, was busy, rejected or could
    /// not be reached. An answered attempt and one the seat stopped do not.
    pub fn is_unanswered(self) -> bool {
        !matches!(
            self,
            ContactOutcome::Answered | ContactOutcome::StoppedBySeat
        )
    }
}

/// Why a unit is charged with a contact failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The rule was met: enough unanswered attempts to the handler or head and to the duty line.
    Unanswered,
    /// A contact answered but refused the matter without a good reason (the seat's `*96`).
    Refused,
}

impl FailureKind {
    pub const ALL: [FailureKind; 2] = [FailureKind::Unanswered, FailureKind::Refused];

    /// The string stored in the database; changing one orphans existing rows.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Unanswered => "unanswered",
            FailureKind::Refused => "refused",
        }
    }
}

stored_names! {
    ContactOutcome => UnknownContactOutcome, "contact outcome";
    FailureKind => UnknownFailureKind, "failure kind";
}

/// One attempt as a failure's evidence keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub role: Role,
    pub dialled: String,
    pub started_at: SystemTime,
    pub rung: Duration,
    pub outcome: ContactOutcome,
    pub sip_status: Option<u16>,
}

impl From<&ContactAttempt> for Evidence {
    fn from(attempt: &ContactAttempt) -> Self {
        Evidence {
            role: attempt.role,
            dialled: attempt.dialled.clone(),
            started_at: attempt.started_at,
            rung: attempt.rung,
            outcome: attempt.outcome,
            sip_status: attempt.sip_status,
        }
    }
}

/// A contact failure charged to a unit (联络不畅).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFailure {
    /// Given by whoever records it, such as `cf-<call id>-<n>`; unique.
    pub id: String,
    pub unit: String,
    pub kind: FailureKind,
    /// The moment the rule was met (or the seat recorded the refusal). The failure belongs to
    /// the natural month of this moment, local time.
    pub at: SystemTime,
    pub handoff_id: Option<String>,
    pub call_id: String,
    /// The seat that reached for the unit.
    pub seat: Option<String>,
    /// The attempts counted, in the order made.
    pub evidence: Vec<Evidence>,
    /// What the failure costs the unit, of its monthly contact points.
    pub points: u32,
}

/// A failure voided on appeal. At most one per failure; the failure itself stays as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureVoid {
    pub failure_id: String,
    pub at: SystemTime,
    /// Who voided it.
    pub by: String,
    pub reason: String,
    /// Voided after the appeal window, on the operator's word (`--late`).
    pub late: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_strings_round_trip() {
        for o in ContactOutcome::ALL {
            assert_eq!(o.as_str().parse::<ContactOutcome>(), Ok(o));
        }
        for k in FailureKind::ALL {
            assert_eq!(k.as_str().parse::<FailureKind>(), Ok(k));
        }
        assert_eq!(
            "voicemail".parse::<ContactOutcome>(),
            Err(UnknownContactOutcome("voicemail".into()))
        );
        assert_eq!(FailureKind::Refused.to_string(), "refused");
    }

    #[test]
    fn only_the_units_own_silence_counts_as_unanswered() {
        let counted: Vec<ContactOutcome> = ContactOutcome::ALL
            .into_iter()
            .filter(|o| o.is_unanswered())
            .collect();
        assert_eq!(
            counted,
            [
                ContactOutcome::NoAnswer,
                ContactOutcome::Busy,
                ContactOutcome::Rejected,
                ContactOutcome::Unreachable
            ]
        );
    }
}
