//! What every call driver shares about a call: the facts known from its INVITE, how it ended,
//! and the record of a call refused before anyone rang.

use std::sync::Arc;
use std::time::SystemTime;

use tracing::info;

use super::io::CallIo;
use super::logic::{EndedBy, Outcome};
use super::{CallContext, CallSetup};
use crate::sip::message::Response;
use crate::sip::transaction::ServerKey;
use crate::sip::uri::SipUri;
use crate::store::{CallRecord, Disposition, OpenCall};

/// Who called whom, and when: the parts of the record known from the start.
pub struct CallFacts {
    pub id: String,
    pub sip_call_id: String,
    pub trunk: String,
    pub caller: String,
    pub called: String,
    pub offered_at: SystemTime,
}

impl CallFacts {
    pub fn new(setup: &CallSetup, ctx: &CallContext) -> CallFacts {
        CallFacts {
            id: setup.owner.to_string(),
            sip_call_id: setup.ess.call_id.clone(),
            trunk: setup.trunk.clone(),
            caller: SipUri::parse(&setup.ess.from.uri)
                .ok()
                .and_then(|u| u.user_decoded())
                .unwrap_or_else(|| "anonymous".to_string()),
            called: setup.route_number.clone(),
            offered_at: ctx.clock.now(),
        }
    }

    /// What a call's task starts with: its facts, its way to the core, and the span its logs
    /// carry (the call's id and the caller's SIP Call-ID).
    pub fn start(setup: &CallSetup, ctx: Arc<CallContext>) -> (CallFacts, CallIo, tracing::Span) {
        let facts = CallFacts::new(setup, &ctx);
        let span =
            tracing::info_span!("call", call_id = %facts.id, sip_call_id = %facts.sip_call_id);
        let io = CallIo {
            ctx,
            owner: setup.owner,
        };
        (facts, io, span)
    }

    /// The call as it is known while it is up: written so that no call is without a row.
    pub fn open_call(&self, seat: Option<String>, answered_at: Option<SystemTime>) -> OpenCall {
        OpenCall {
            id: self.id.clone(),
            sip_call_id: self.sip_call_id.clone(),
            trunk: self.trunk.clone(),
            caller: self.caller.clone(),
            called: self.called.clone(),
            seat,
            offered_at: self.offered_at,
            answered_at,
        }
    }

    /// The record of a call that ends as `outcome` says, now.
    pub fn record(
        &self,
        ctx: &CallContext,
        outcome: &Outcome,
        seat: Option<String>,
        answered_at: Option<SystemTime>,
    ) -> CallRecord {
        self.open_call(seat, answered_at).ended(
            ctx.clock.now(),
            outcome.disposition,
            outcome.sip_cause,
            outcome.ended_by.map(|e| e.as_str().to_string()),
        )
    }
}

/// A call refused before any seat rang (no usable offer, no RTP ports).
pub async fn refuse_early(io: CallIo, facts: CallFacts, key: ServerKey, response: Response) {
    info!(status = response.status, "call refused before ringing");
    let outcome = Outcome::ended(
        Disposition::Failed,
        Some(response.status),
        Some(EndedBy::Daemon),
    );
    io.respond(key, response).await;
    io.finished().await;
    let record = facts.record(&io.ctx, &outcome, None, None);
    io.record(record).await;
}
