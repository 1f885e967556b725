//! One call the daemon places for a call: a seat phone rung for a caller, a unit's contact
//! consulted, a citizen called back. Its INVITE, its answer and, once answered, its dialog. Each
//! leg is a call of its own (own Call-ID and tags), so the far end never sees the trunk's
//! identifiers.

use bytes::Bytes;

use super::dialog::Dialog;
use super::io::{CallIo, ALLOW};
use super::CallContext;
use crate::dialplan::DialTarget;
use crate::media::sdp::{self, SessionDescription};
use crate::registrar::Binding;
use crate::sip::build;
use crate::sip::flow::{Flow, Transport};
use crate::sip::headers::NameAddr;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::ClientKey;

pub struct OutboundLeg {
    /// Whom the leg calls: a seat's user, or a dial target as logs show it.
    pub seat: String,
    pub flow: Flow,
    invite: Request,
    pub local_tag: String,
    pub key: ClientKey,
    answer: Option<Response>,
    pub answer_sdp: Option<SessionDescription>,
    dialog: Option<Dialog>,
}

impl OutboundLeg {
    /// The INVITE for a seat's phone `binding`, presenting the caller's number and name,
    /// offering `sdp`.
    pub fn to_seat(
        ctx: &CallContext,
        binding: &Binding,
        caller: &str,
        display: Option<&str>,
        sdp: &str,
    ) -> OutboundLeg {
        let to = format!("<sip:{}@{}>", binding.user, ctx.realm);
        let target = Target {
            label: binding.user.clone(),
            request_uri: binding.contact.clone(),
            to,
            flow: binding.flow,
        };
        OutboundLeg::new(ctx, target, caller, display, sdp)
    }

    /// The INVITE for `request_uri` (a unit's SIP contact, a number through a trunk), sent to
    /// `flow`.
    pub fn to_uri(
        ctx: &CallContext,
        label: String,
        request_uri: String,
        flow: Flow,
        caller: &str,
        display: Option<&str>,
        sdp: &str,
    ) -> OutboundLeg {
        let to = format!("<{request_uri}>");
        let target = Target {
            label,
            request_uri,
            to,
            flow,
        };
        OutboundLeg::new(ctx, target, caller, display, sdp)
    }

    /// The INVITE for a dial target that is not a seat (a unit's SIP contact, a number through
    /// a trunk), sent over UDP to its address and presenting `caller` (or, through a trunk, the
    /// route's caller ID). None for a seat, whose phones are rung through their bindings.
    pub fn to_target(
        ctx: &CallContext,
        target: &DialTarget,
        caller: &str,
        sdp: &str,
    ) -> Option<OutboundLeg> {
        let (addr, from) = match target {
            DialTarget::Seat(_) => return None,
            DialTarget::Sip { addr, .. } => (*addr, caller),
            DialTarget::Trunk {
                addr, caller_id, ..
            } => (*addr, caller_id.as_str()),
        };
        let flow = Flow {
            transport: Transport::Udp,
            remote: addr,
        };
        let uri = target.request_uri()?;
        Some(OutboundLeg::to_uri(
            ctx,
            target.describe(),
            uri,
            flow,
            from,
            None,
            sdp,
        ))
    }

    fn new(
        ctx: &CallContext,
        target: Target,
        caller: &str,
        display: Option<&str>,
        sdp: &str,
    ) -> OutboundLeg {
        let local_tag = ids::tag();
        let local = ctx.local.for_transport(target.flow.transport);
        let transport = target.flow.transport.as_str().to_ascii_lowercase();
        let mut invite = Request::new(Method::Invite, target.request_uri);
        invite.headers.push("Max-Forwards", "70");
        let from = NameAddr {
            display: Some(display.unwrap_or(caller).to_string()),
            uri: format!("sip:{}@{}", caller, ctx.realm),
            params: vec![("tag".to_string(), Some(local_tag.clone()))],
        };
        invite.headers.push("From", from.to_header());
        invite.headers.push("To", target.to);
        invite.headers.push("Call-ID", ids::call_id(&ctx.realm));
        invite.headers.push("CSeq", "1 INVITE");
        invite.headers.push(
            "Contact",
            format!("<sip:hotline@{local};transport={transport}>"),
        );
        invite.headers.push("Allow", ALLOW);
        invite.headers.push("User-Agent", ctx.user_agent.as_str());
        invite.headers.push("Content-Type", "application/sdp");
        invite.body = Bytes::from(sdp.to_string());
        OutboundLeg {
            seat: target.label,
            flow: target.flow,
            invite,
            local_tag,
            key: ClientKey {
                branch: ids::branch(),
                method: Method::Invite,
            },
            answer: None,
            answer_sdp: None,
            dialog: None,
        }
    }

    /// Contact and Server headers of our responses in the leg's dialog.
    pub fn decorate(&self, io: &CallIo, response: &mut Response) {
        let local = io.ctx.local.for_transport(self.flow.transport);
        let transport = self.flow.transport.as_str().to_ascii_lowercase();
        response.headers.push(
            "Contact",
            format!("<sip:hotline@{local};transport={transport}>"),
        );
        response.headers.push("Server", io.ctx.user_agent.as_str());
    }

    pub fn call_id(&self) -> &str {
        self.invite.headers.get("Call-ID").unwrap_or_default()
    }

    pub fn is_answered(&self) -> bool {
        self.answer.is_some()
    }

    /// Whether a request with this Call-ID belongs to this leg's dialog.
    pub fn owns(&self, call_id: &str) -> bool {
        self.dialog.as_ref().is_some_and(|d| d.call_id == call_id)
    }

    /// Binds the dialog to the call and sends the INVITE.
    pub async fn ring(&self, io: &CallIo) {
        io.bind(self.call_id().to_string(), self.local_tag.clone())
            .await;
        io.send(self.flow, self.invite.clone(), self.key.branch.clone())
            .await;
    }

    pub async fn cancel(&self, io: &CallIo) {
        io.cancel(self.key.clone()).await;
    }

    /// Takes the seat's 2xx: the dialog starts, and its SDP answer is kept when it parses.
    pub fn on_answer(&mut self, response: Response) -> Result<(), crate::media::SdpError> {
        self.dialog = Some(Dialog::uac(
            &self.invite,
            &response,
            &self.local_tag,
            self.flow,
        ));
        let parsed = sdp::parse(&response.body);
        self.answer = Some(response);
        self.answer_sdp = Some(parsed?);
        Ok(())
    }

    pub async fn ack(&self, io: &CallIo) {
        let Some(response) = &self.answer else {
            return;
        };
        let ack = build::ack_for_success(&self.invite, response);
        io.ack(self.flow, ack, self.call_id().to_string(), 1).await;
    }

    /// The SDP we offered this leg: what a re-INVITE from it is answered with.
    pub fn our_sdp(&self) -> &str {
        std::str::from_utf8(&self.invite.body).unwrap_or_default()
    }

    /// Reports a REFER's progress to this leg's phone (RFC 3515 §2.4.5): a NOTIFY whose body is
    /// the status line of the transfer's call. A final status ends the implicit subscription.
    pub async fn notify_refer(&mut self, io: &CallIo, status: u16, reason: &str) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let mut request = dialog.request(Method::Notify);
        request.headers.push("Event", "refer");
        let state = if status >= 200 {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        request.headers.push("Subscription-State", state);
        request
            .headers
            .push("User-Agent", io.ctx.user_agent.as_str());
        request
            .headers
            .push("Content-Type", crate::sip::refer::SIPFRAG_CONTENT_TYPE);
        request.body = Bytes::from(crate::sip::refer::sipfrag(status, reason));
        io.send(dialog.flow, request, ids::branch()).await;
    }

    pub async fn bye(&mut self, io: &CallIo) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        let request = dialog.request(Method::Bye);
        io.send(dialog.flow, request, ids::branch()).await;
    }
}

/// Where a leg's INVITE goes and how it names the callee.
struct Target {
    label: String,
    request_uri: String,
    to: String,
    flow: Flow,
}
