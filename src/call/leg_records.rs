//! The leg records of a call: the caller's leg and the seat's, with their times and how each
//! ended, built from the call's own record (and while the call is up, from what is known of it).
//! Consulted units add their own legs as they start and end.

use std::time::SystemTime;

use crate::store::{CallRecord, Disposition, LegRecord, LegRole, OpenCall, OpenLeg};

/// What a call's record and its open row both tell of its caller's and seat's legs.
struct Known<'a> {
    id: &'a str,
    caller: &'a str,
    seat: Option<&'a String>,
    offered_at: SystemTime,
    answered_at: Option<SystemTime>,
}

impl Known<'_> {
    fn caller(&self) -> OpenLeg {
        OpenLeg {
            id: format!("{}-caller", self.id),
            call_id: self.id.to_string(),
            role: LegRole::Caller,
            party: self.caller.to_string(),
            started_at: self.offered_at,
            answered_at: self.answered_at,
        }
    }

    /// The answering seat's leg: from its answer on.
    fn seat(&self) -> Option<OpenLeg> {
        let (seat, answered) = (self.seat?, self.answered_at?);
        Some(OpenLeg {
            id: format!("{}-seat", self.id),
            call_id: self.id.to_string(),
            role: LegRole::Seat,
            party: seat.clone(),
            started_at: answered,
            answered_at: Some(answered),
        })
    }
}

/// The caller's leg and the answering seat's, as far as `call` in progress tells: written with
/// the open call, so that a crash leaves them in the records. Their ids are those of `caller`
/// and `seat`, which replace them when the call ends.
pub fn open(call: &OpenCall) -> Vec<OpenLeg> {
    let known = Known {
        id: &call.id,
        caller: &call.caller,
        seat: call.seat.as_ref(),
        offered_at: call.offered_at,
        answered_at: call.answered_at,
    };
    std::iter::once(known.caller())
        .chain(known.seat())
        .collect()
}

fn known(call: &CallRecord) -> Known<'_> {
    Known {
        id: &call.id,
        caller: &call.caller,
        seat: call.seat.as_ref(),
        offered_at: call.offered_at,
        answered_at: call.answered_at,
    }
}

/// How a leg ended, seen from the daemon: the far end hung up, or we did.
fn ended_how(ended_by_them: bool) -> &'static str {
    if ended_by_them {
        "bye_by_them"
    } else {
        "bye_by_us"
    }
}

/// The caller's leg of `call`.
pub fn caller(call: &CallRecord) -> LegRecord {
    let how = match (call.answered_at, call.disposition) {
        (Some(_), _) => ended_how(call.ended_by.as_deref() == Some("caller")).to_string(),
        (None, Disposition::Abandoned) => "cancelled".to_string(),
        (None, _) => format!("rejected:{}", call.sip_cause.unwrap_or(0)),
    };
    known(call).caller().ended(call.ended_at, how)
}

/// The leg of the seat that answered `call`, if one did.
pub fn seat(call: &CallRecord) -> Option<LegRecord> {
    let how = ended_how(call.ended_by.as_deref() == Some("seat")).to_string();
    Some(known(call).seat()?.ended(call.ended_at, how))
}
