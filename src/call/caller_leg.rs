//! The trunk caller's side of a call: its INVITE transaction, the tag we answer with, and the
//! dialog once answered.

use bytes::Bytes;

use super::dialog::Dialog;
use super::io::{CallIo, ALLOW};
use crate::media::sdp::SessionDescription;
use crate::sip::build;
use crate::sip::flow::Flow;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::ServerKey;

pub struct CallerLeg {
    pub invite: Request,
    pub key: ServerKey,
    pub tag: String,
    pub dialog: Dialog,
    pub offer: SessionDescription,
    /// The number called, which names us in our Contact.
    pub called: String,
    /// What we last answered, for re-INVITEs.
    pub answer_sdp: Option<String>,
}

impl CallerLeg {
    pub fn new(
        invite: Request,
        key: ServerKey,
        flow: Flow,
        offer: SessionDescription,
        called: String,
    ) -> CallerLeg {
        let tag = ids::tag();
        let dialog = Dialog::uas(&invite, &tag, flow);
        CallerLeg {
            invite,
            key,
            tag,
            dialog,
            offer,
            called,
            answer_sdp: None,
        }
    }

    pub fn call_id(&self) -> &str {
        &self.dialog.call_id
    }

    pub async fn bind(&self, io: &CallIo) {
        io.bind(self.dialog.call_id.clone(), self.tag.clone()).await;
    }

    /// A response to the caller's INVITE; 180 and 200 carry our Contact, a 200 our SDP.
    pub async fn respond(&mut self, io: &CallIo, status: u16, sdp: Option<String>) {
        let mut response = build::response(&self.invite, status, Some(&self.tag));
        if status < 300 {
            self.decorate(io, &mut response);
        } else {
            response.headers.push("Server", io.ctx.user_agent.as_str());
        }
        if let Some(sdp) = sdp {
            self.answer_sdp = Some(sdp.clone());
            with_sdp(&mut response, sdp);
        }
        io.respond(self.key.clone(), response).await;
    }

    /// Contact and Server headers of our responses to the caller.
    pub fn decorate(&self, io: &CallIo, response: &mut Response) {
        let transport = self.dialog.flow.transport;
        let local = io.ctx.local.for_transport(transport);
        response.headers.push(
            "Contact",
            format!(
                "<sip:{}@{local};transport={}>",
                self.called,
                transport.as_str().to_ascii_lowercase()
            ),
        );
        response.headers.push("Server", io.ctx.user_agent.as_str());
    }

    pub async fn bye(&mut self, io: &CallIo) {
        let request = self.dialog.request(Method::Bye);
        io.send(self.dialog.flow, request, ids::branch()).await;
    }
}

/// Puts an SDP body (with Allow and Content-Type) on a response.
pub fn with_sdp(response: &mut Response, sdp: String) {
    response.headers.push("Allow", ALLOW);
    response.headers.push("Content-Type", "application/sdp");
    response.body = Bytes::from(sdp);
}
