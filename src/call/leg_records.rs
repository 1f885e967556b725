//! The leg records of a call: the caller's leg and the seat's, with their times and how each
//! ended, built from the call's own record. Consulted units add their own legs as they end.

use crate::store::{CallRecord, Disposition, LegRecord, LegRole};

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
    LegRecord {
        id: format!("{}-caller", call.id),
        call_id: call.id.clone(),
        role: LegRole::Caller,
        party: call.caller.clone(),
        started_at: call.offered_at,
        answered_at: call.answered_at,
        ended_at: call.ended_at,
        ended_how: how,
    }
}

/// The leg of the seat that answered `call`, if one did.
pub fn seat(call: &CallRecord) -> Option<LegRecord> {
    let (seat, answered) = (call.seat.as_ref()?, call.answered_at?);
    Some(LegRecord {
        id: format!("{}-seat", call.id),
        call_id: call.id.clone(),
        role: LegRole::Seat,
        party: seat.clone(),
        started_at: answered,
        answered_at: Some(answered),
        ended_at: call.ended_at,
        ended_how: ended_how(call.ended_by.as_deref() == Some("seat")).to_string(),
    })
}
