//! What a call task says to the SIP core and the store, in one place for every kind of call.

use std::sync::Arc;

use tracing::warn;

use super::{CallContext, CoreCommand};
use crate::call_id::CallId;
use crate::metrics::names;
use crate::sip::flow::Flow;
use crate::sip::message::{Request, Response};
use crate::sip::transaction::{ClientKey, ServerKey};
use crate::store::{CallRecord, LegRecord, OpenCall, Record};

pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER";

pub struct CallIo {
    pub ctx: Arc<CallContext>,
    pub owner: CallId,
}

impl CallIo {
    async fn core(&self, command: CoreCommand) {
        // The core only goes away at shutdown, when there is nobody left to tell.
        let _ = self.ctx.core.send(command).await;
    }

    pub async fn respond(&self, key: ServerKey, response: Response) {
        self.core(CoreCommand::Respond {
            owner: self.owner,
            key,
            response,
        })
        .await;
    }

    pub async fn send(&self, flow: Flow, request: Request, branch: String) {
        self.core(CoreCommand::Send {
            owner: self.owner,
            flow,
            request,
            branch,
        })
        .await;
    }

    pub async fn ack(&self, flow: Flow, ack: Request, call_id: String, seq: u32) {
        self.core(CoreCommand::Ack {
            flow,
            ack,
            call_id,
            seq,
        })
        .await;
    }

    pub async fn cancel(&self, key: ClientKey) {
        self.core(CoreCommand::Cancel { key }).await;
    }

    pub async fn bind(&self, call_id: String, local_tag: String) {
        self.core(CoreCommand::BindDialog {
            owner: self.owner,
            call_id,
            local_tag,
        })
        .await;
    }

    /// The call is over for the core: its dialogs and channel are forgotten.
    /// The live bindings (phones) of `seat`, from the registrar.
    pub async fn bindings(&self, seat: &str) -> Vec<crate::registrar::Binding> {
        let (reply, bindings) = tokio::sync::oneshot::channel();
        let _ = self
            .ctx
            .core
            .send(CoreCommand::Bindings {
                seat: seat.to_string(),
                reply,
            })
            .await;
        bindings.await.unwrap_or_default()
    }

    pub async fn finished(&self) {
        self.core(CoreCommand::Finished { owner: self.owner }).await;
    }

    /// Queues what is known of the call in progress for the store (replacing what was). It
    /// stands for the caller's and the seat's legs too until they end.
    pub async fn open(&self, call: OpenCall) {
        if let Err(error) = self.ctx.writer.submit(Record::OpenCall(call)).await {
            warn!(%error, "open call not queued");
        }
    }

    /// Waits until every record queued so far (this call's included) is committed: a call the
    /// daemon answers itself is in the store before the caller hears the answer.
    pub async fn committed(&self) {
        if let Err(error) = self.ctx.writer.flush().await {
            warn!(%error, "records not committed");
        }
    }

    /// Queues an ended leg's record for the store (it replaces the leg's open row).
    pub async fn leg(&self, leg: LegRecord) {
        if let Err(error) = self.ctx.writer.submit(Record::Leg(leg)).await {
            warn!(%error, "leg record not queued");
        }
    }

    /// Counts the finished call and queues its record for the store.
    pub async fn record(&self, record: CallRecord) {
        metrics::counter!(names::CALLS_TOTAL, "trunk" => record.trunk.clone(), "disposition" => record.disposition.as_str())
            .increment(1);
        if let Err(error) = self.ctx.writer.submit(Record::Call(record)).await {
            warn!(%error, "call record not queued");
        }
    }
}
