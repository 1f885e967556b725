//! The task that drives one call: it feeds the state machine with SIP events and time, and
//! turns its actions into SIP messages, media and the call record.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn, Instrument};

use super::board::{LineState, LineView};
use super::dialog::Dialog;
use super::machine::{Action, CallMachine, Input, LegId, Outcome, Timeouts};
use super::{CallContext, CallEvent, CallSetup, CoreCommand};
use crate::media::sdp::{self, LocalMedia, SessionDescription};
use crate::media::{Leg, PtMap, Relay, RelayHandle, RelayStats, RtpSocket};
use crate::metrics::names;
use crate::registrar::Binding;
use crate::sip::build;
use crate::sip::headers::NameAddr;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{ClientKey, Owner, ServerKey};
use crate::sip::uri::SipUri;
use crate::store::{CallRecord, Disposition, Record};

/// How often a connected call publishes its media counters to the board and metrics.
const MEDIA_REPORT: Duration = Duration::from_secs(1);

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO";

struct SeatLeg {
    seat: String,
    binding: Binding,
    invite: Request,
    local_tag: String,
    key: ClientKey,
    answer: Option<Response>,
    answer_sdp: Option<SessionDescription>,
    dialog: Option<Dialog>,
}

struct Media {
    caller_socket: Option<RtpSocket>,
    seat_socket: Option<RtpSocket>,
    caller_local: LocalMedia,
    relay: Option<RelayHandle>,
    /// What we last answered the caller and offered the seat, for re-INVITEs.
    caller_sdp: Option<String>,
    seat_sdp: String,
    reported: RelayStats,
}

struct CallDriver {
    ctx: Arc<CallContext>,
    owner: Owner,
    id: String,
    trunk: String,
    caller: String,
    called: String,
    invite: Request,
    invite_key: ServerKey,
    caller_tag: String,
    caller_dialog: Dialog,
    caller_offer: SessionDescription,
    legs: Vec<SeatLeg>,
    media: Media,
    offered_at: SystemTime,
    answered_at: Option<SystemTime>,
    answered_instant: Option<Instant>,
    started: Instant,
    seat: Option<String>,
    ring: Duration,
}

/// Runs a call from its INVITE to its record.
pub async fn run(setup: CallSetup, ctx: Arc<CallContext>, events: mpsc::Receiver<CallEvent>) {
    let id = format!("call-{}", ids::tag());
    let span = tracing::info_span!("call", call_id = %id, sip_call_id = %setup.ess.call_id);
    async move {
        let offered_at = ctx.clock.now();
        match CallDriver::prepare(setup, &ctx, id.clone(), offered_at).await {
            Ok(driver) => driver.drive(events).await,
            Err(early) => early.finish(&ctx).await,
        }
    }
    .instrument(span)
    .await
}

/// A call refused before any seat rang (bad SDP, no RTP ports).
struct EarlyEnd {
    owner: Owner,
    record: CallRecord,
    key: ServerKey,
    response: Response,
}

impl EarlyEnd {
    async fn finish(self, ctx: &CallContext) {
        info!(status = self.response.status, "call refused before ringing");
        let _ = ctx
            .core
            .send(CoreCommand::Respond {
                owner: self.owner,
                key: self.key,
                response: self.response,
            })
            .await;
        let _ = ctx
            .core
            .send(CoreCommand::Finished { owner: self.owner })
            .await;
        count_finished(&self.record);
        if let Err(error) = ctx.writer.submit(Record::Call(self.record)).await {
            warn!(%error, "call record not queued");
        }
    }
}

fn count_finished(record: &CallRecord) {
    metrics::counter!(names::CALLS_TOTAL, "trunk" => record.trunk.clone(), "disposition" => record.disposition.as_str())
        .increment(1);
}

impl CallDriver {
    async fn prepare(
        setup: CallSetup,
        ctx: &Arc<CallContext>,
        id: String,
        offered_at: SystemTime,
    ) -> Result<CallDriver, EarlyEnd> {
        let caller_tag = ids::tag();
        let caller = SipUri::parse(&setup.ess.from.uri)
            .ok()
            .and_then(|u| u.user_decoded())
            .unwrap_or_else(|| "anonymous".to_string());
        let early = |status: u16, disposition: Disposition| EarlyEnd {
            owner: setup.owner,
            record: CallRecord {
                id: id.clone(),
                sip_call_id: setup.ess.call_id.clone(),
                trunk: setup.trunk.clone(),
                caller: caller.clone(),
                called: setup.route_number.clone(),
                seat: None,
                offered_at,
                answered_at: None,
                ended_at: ctx.clock.now(),
                disposition,
                sip_cause: Some(status),
                ended_by: Some("daemon".to_string()),
            },
            key: setup.key.clone(),
            response: build::response(&setup.invite, status, Some(&caller_tag)),
        };
        // The daemon answers offers; an INVITE without one (RFC 3264 delayed offer) is refused.
        let caller_offer = match sdp::parse(&setup.invite.body) {
            Ok(offer) => offer,
            Err(error) => {
                debug!(%error, "caller offer unusable");
                return Err(early(488, Disposition::Failed));
            }
        };
        let (caller_socket, seat_socket) =
            match (ctx.rtp.allocate().await, ctx.rtp.allocate().await) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    warn!("no RTP ports left");
                    return Err(early(503, Disposition::Failed));
                }
            };
        let session_id = u64::from(rand::random::<u32>());
        let caller_local = LocalMedia {
            addr: ctx.media_addr,
            rtp_port: caller_socket.local_addr().port(),
            session_id,
            session_version: 1,
        };
        let seat_local = LocalMedia {
            rtp_port: seat_socket.local_addr().port(),
            ..caller_local
        };
        let seat_offer = match sdp::offer_for_seat(&caller_offer, seat_local) {
            Ok(params) => sdp::build_offer(&params),
            Err(error) => {
                debug!(%error, "no codec we can relay");
                return Err(early(488, Disposition::Failed));
            }
        };
        let display = setup.ess.from.display.clone();
        let legs = setup
            .targets
            .iter()
            .map(|binding| seat_leg(ctx, binding, &caller, display.as_deref(), &seat_offer))
            .collect();
        let caller_dialog = Dialog::uas(&setup.invite, &caller_tag, setup.flow);
        Ok(CallDriver {
            ctx: ctx.clone(),
            owner: setup.owner,
            id,
            trunk: setup.trunk,
            caller,
            called: setup.route_number,
            invite: setup.invite,
            invite_key: setup.key,
            caller_tag,
            caller_dialog,
            caller_offer,
            legs,
            media: Media {
                caller_socket: Some(caller_socket),
                seat_socket: Some(seat_socket),
                caller_local,
                relay: None,
                caller_sdp: None,
                seat_sdp: seat_offer,
                reported: RelayStats::default(),
            },
            offered_at,
            answered_at: None,
            answered_instant: None,
            started: Instant::now(),
            seat: None,
            ring: setup.ring_timeout,
        })
    }

    async fn drive(mut self, mut events: mpsc::Receiver<CallEvent>) {
        let ring = self.ring;
        let mut machine = CallMachine::new(
            Instant::now(),
            self.legs.len(),
            Timeouts {
                ring,
                no_response: self.ctx.no_response,
            },
        );
        self.bind(self.caller_dialog.call_id.clone(), self.caller_tag.clone())
            .await;
        self.publish(LineState::Ringing);
        let mut report = tokio::time::interval(MEDIA_REPORT);
        loop {
            while let Some(action) = machine.poll_action() {
                if let Action::Finished(outcome) = action {
                    self.finish(outcome).await;
                    return;
                }
                self.act(action, &mut machine).await;
            }
            let deadline = machine.poll_timeout();
            tokio::select! {
                event = events.recv() => {
                    let now = Instant::now();
                    match event {
                        Some(event) => self.on_event(now, event, &mut machine).await,
                        None => machine.handle(now, Input::Shutdown),
                    }
                }
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    machine.handle_timeout(Instant::now());
                }
                _ = report.tick() => self.report_media(),
            }
        }
    }

    async fn on_event(&mut self, now: Instant, event: CallEvent, machine: &mut CallMachine) {
        match event {
            CallEvent::Cancelled => machine.handle(now, Input::CallerCancelled),
            CallEvent::AckTimeout => machine.handle(now, Input::CallerAckTimeout),
            CallEvent::Shutdown => machine.handle(now, Input::Shutdown),
            CallEvent::Ack { .. } => {}
            CallEvent::Response { key, response } => self.on_response(now, key, response, machine),
            CallEvent::Request { key, request, ess } => {
                let leg =
                    if ess.call_id == self.caller_dialog.call_id {
                        None
                    } else {
                        match self.legs.iter().position(|l| {
                            l.dialog.as_ref().is_some_and(|d| d.call_id == ess.call_id)
                        }) {
                            Some(i) => Some(i),
                            None => {
                                self.respond(key, build::response(&request, 481, None))
                                    .await;
                                return;
                            }
                        }
                    };
                self.on_request(now, key, request, leg, machine).await;
            }
        }
    }

    fn on_response(
        &mut self,
        now: Instant,
        key: ClientKey,
        response: Response,
        machine: &mut CallMachine,
    ) {
        if key.method != Method::Invite {
            return;
        }
        let Some(leg) = self.legs.iter().position(|l| l.key == key) else {
            return;
        };
        let status = response.status;
        if response.is_provisional() {
            machine.handle(now, Input::SeatProvisional { leg, status });
        } else if response.is_success() {
            if self.legs[leg].answer.is_some() {
                return;
            }
            let answer = sdp::parse(&response.body);
            let seat_leg = &mut self.legs[leg];
            seat_leg.dialog = Some(Dialog::uac(
                &seat_leg.invite,
                &response,
                &seat_leg.local_tag,
                seat_leg.binding.flow,
            ));
            seat_leg.answer = Some(response);
            machine.handle(now, Input::SeatAnswered { leg });
            match answer {
                Ok(sd) => self.legs[leg].answer_sdp = Some(sd),
                Err(error) => {
                    debug!(%error, leg, "seat answer unusable");
                    machine.handle(now, Input::SeatAnswerUnusable { leg });
                }
            }
        } else {
            machine.handle(now, Input::SeatFailed { leg, status });
        }
    }

    async fn on_request(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        leg: Option<LegId>,
        machine: &mut CallMachine,
    ) {
        match request.method {
            Method::Bye => {
                self.respond(key, build::response(&request, 200, None))
                    .await;
                match leg {
                    None => machine.handle(now, Input::CallerBye),
                    Some(leg) => machine.handle(now, Input::SeatBye { leg }),
                }
            }
            Method::Invite => {
                // A re-INVITE (session refresh, new address): take the new address, answer
                // with the description we already gave that side.
                let ours = match leg {
                    None => self.media.caller_sdp.clone(),
                    Some(_) => Some(self.media.seat_sdp.clone()),
                };
                let Some(ours) = ours else {
                    self.respond(key, build::response(&request, 491, None))
                        .await;
                    return;
                };
                if let Ok(offer) = sdp::parse(&request.body) {
                    if let (Some(relay), Some(addr)) = (&self.media.relay, offer.audio_rtp_addr()) {
                        relay.set_remote(if leg.is_none() { Leg::A } else { Leg::B }, addr);
                    }
                }
                let mut response = build::response(&request, 200, None);
                self.decorate(&mut response, Some(ours));
                self.respond(key, response).await;
            }
            Method::Info | Method::Options | Method::Update => {
                self.respond(key, build::response(&request, 200, None))
                    .await;
            }
            Method::Other(_) => {
                self.respond(key, build::response(&request, 501, None))
                    .await
            }
            _ => {
                let mut response = build::response(&request, 405, None);
                response.headers.push("Allow", ALLOW);
                self.respond(key, response).await;
            }
        }
    }

    async fn act(&mut self, action: Action, machine: &mut CallMachine) {
        match action {
            Action::RingSeat(leg) => {
                let l = &self.legs[leg];
                let call_id = l
                    .invite
                    .headers
                    .get("Call-ID")
                    .unwrap_or_default()
                    .to_string();
                self.bind(call_id, l.local_tag.clone()).await;
                let l = &self.legs[leg];
                info!(seat = %l.seat, flow = %l.binding.flow, "ringing seat");
                self.send(l.binding.flow, l.invite.clone(), l.key.branch.clone())
                    .await;
            }
            Action::CancelSeat(leg) => {
                let key = self.legs[leg].key.clone();
                let _ = self.ctx.core.send(CoreCommand::Cancel { key }).await;
            }
            Action::CallerRinging => {
                let mut response = build::response(&self.invite, 180, Some(&self.caller_tag));
                self.decorate(&mut response, None);
                self.respond(self.invite_key.clone(), response).await;
            }
            Action::Connect(leg) => self.connect(leg, machine).await,
            Action::AckAndHangUpSeat(leg) => {
                self.ack_seat(leg).await;
                self.bye_seat(leg).await;
            }
            Action::RejectCaller(status) => {
                let mut response = build::response(&self.invite, status, Some(&self.caller_tag));
                response
                    .headers
                    .push("Server", self.ctx.user_agent.as_str());
                self.respond(self.invite_key.clone(), response).await;
            }
            Action::CallerTerminated => {
                let response = build::response(&self.invite, 487, Some(&self.caller_tag));
                self.respond(self.invite_key.clone(), response).await;
            }
            Action::ByeCaller => {
                let request = self.caller_dialog.request(Method::Bye);
                let flow = self.caller_dialog.flow;
                self.send(flow, request, ids::branch()).await;
            }
            Action::ByeSeat(leg) => self.bye_seat(leg).await,
            Action::Finished(_) => {}
        }
    }

    async fn connect(&mut self, leg: LegId, machine: &mut CallMachine) {
        self.ack_seat(leg).await;
        let Some(seat_answer) = self.legs[leg].answer_sdp.clone() else {
            return;
        };
        let (negotiated, pt_map) = match sdp::answer_for_caller(&self.caller_offer, &seat_answer) {
            Ok(pair) => pair,
            Err(error) => {
                debug!(%error, "seat answer has no codec the caller offered");
                machine.handle(Instant::now(), Input::SeatAnswerUnusable { leg });
                return;
            }
        };
        let caller_sdp = sdp::build_answer(
            self.media.caller_local,
            &negotiated,
            seat_answer.audio_direction(),
        );
        self.media.caller_sdp = Some(caller_sdp.clone());
        let mut response = build::response(&self.invite, 200, Some(&self.caller_tag));
        self.decorate(&mut response, Some(caller_sdp));
        self.respond(self.invite_key.clone(), response).await;
        self.start_relay(
            self.caller_offer.audio_rtp_addr(),
            seat_answer.audio_rtp_addr(),
            pt_map,
        );
        self.answered_at = Some(self.ctx.clock.now());
        self.answered_instant = Some(Instant::now());
        self.seat = Some(self.legs[leg].seat.clone());
        metrics::histogram!(names::CALL_RING_SECONDS).record(self.started.elapsed().as_secs_f64());
        info!(seat = %self.legs[leg].seat, "call connected");
        self.publish(LineState::Connected);
    }

    fn start_relay(
        &mut self,
        caller: Option<std::net::SocketAddr>,
        seat: Option<std::net::SocketAddr>,
        pt_map: PtMap,
    ) {
        if let (Some(a), Some(b)) = (
            self.media.caller_socket.take(),
            self.media.seat_socket.take(),
        ) {
            self.media.relay = Some(Relay::start(a, caller, b, seat, pt_map));
        }
    }

    async fn ack_seat(&mut self, leg: LegId) {
        let l = &self.legs[leg];
        let Some(response) = &l.answer else {
            return;
        };
        let ack = build::ack_for_success(&l.invite, response);
        let call_id = l
            .invite
            .headers
            .get("Call-ID")
            .unwrap_or_default()
            .to_string();
        let command = CoreCommand::Ack {
            flow: l.binding.flow,
            ack,
            call_id,
            seq: 1,
        };
        let _ = self.ctx.core.send(command).await;
    }

    async fn bye_seat(&mut self, leg: LegId) {
        let Some(dialog) = self.legs[leg].dialog.as_mut() else {
            return;
        };
        let request = dialog.request(Method::Bye);
        let flow = dialog.flow;
        self.send(flow, request, ids::branch()).await;
    }

    /// Contact, Server and, when given, the SDP body of a response to the caller.
    fn decorate(&self, response: &mut Response, sdp: Option<String>) {
        let local = self
            .ctx
            .local
            .for_transport(self.caller_dialog.flow.transport);
        response.headers.push(
            "Contact",
            format!(
                "<sip:{}@{};transport={}>",
                self.called,
                local,
                self.caller_dialog
                    .flow
                    .transport
                    .as_str()
                    .to_ascii_lowercase()
            ),
        );
        response
            .headers
            .push("Server", self.ctx.user_agent.as_str());
        if let Some(sdp) = sdp {
            response.headers.push("Allow", ALLOW);
            response.headers.push("Content-Type", "application/sdp");
            response.body = Bytes::from(sdp);
        }
    }

    async fn respond(&self, key: ServerKey, response: Response) {
        let _ = self
            .ctx
            .core
            .send(CoreCommand::Respond {
                owner: self.owner,
                key,
                response,
            })
            .await;
    }

    async fn send(&self, flow: crate::sip::flow::Flow, request: Request, branch: String) {
        let _ = self
            .ctx
            .core
            .send(CoreCommand::Send {
                owner: self.owner,
                flow,
                request,
                branch,
            })
            .await;
    }

    async fn bind(&self, call_id: String, local_tag: String) {
        let _ = self
            .ctx
            .core
            .send(CoreCommand::BindDialog {
                owner: self.owner,
                call_id,
                local_tag,
            })
            .await;
    }

    fn publish(&self, state: LineState) {
        self.ctx.board.update(
            self.owner,
            LineView {
                id: self.id.clone(),
                trunk: self.trunk.clone(),
                caller: self.caller.clone(),
                called: self.called.clone(),
                seat: self.seat.clone(),
                state,
                media: self.media.reported,
            },
        );
    }

    /// Publishes media counters and adds what moved since the last report to the metrics.
    fn report_media(&mut self) {
        let Some(relay) = &self.media.relay else {
            return;
        };
        let now = relay.stats();
        let before = self.media.reported;
        let to_seat = now.b.tx_packets - before.b.tx_packets;
        let to_caller = now.a.tx_packets - before.a.tx_packets;
        metrics::counter!(names::RTP_PACKETS_RELAYED_TOTAL, "direction" => "caller_to_seat")
            .increment(to_seat);
        metrics::counter!(names::RTP_PACKETS_RELAYED_TOTAL, "direction" => "seat_to_caller")
            .increment(to_caller);
        metrics::counter!(names::RTP_BYTES_RELAYED_TOTAL, "direction" => "caller_to_seat")
            .increment(now.b.tx_bytes - before.b.tx_bytes);
        metrics::counter!(names::RTP_BYTES_RELAYED_TOTAL, "direction" => "seat_to_caller")
            .increment(now.a.tx_bytes - before.a.tx_bytes);
        self.media.reported = now;
        self.publish(if self.answered_at.is_some() {
            LineState::Connected
        } else {
            LineState::Ringing
        });
    }

    async fn finish(mut self, outcome: Outcome) {
        self.report_media();
        if let Some(relay) = self.media.relay.take() {
            relay.stop().await;
        }
        self.media.caller_socket = None;
        self.media.seat_socket = None;
        self.ctx.board.remove(self.owner);
        let _ = self
            .ctx
            .core
            .send(CoreCommand::Finished { owner: self.owner })
            .await;
        if let Some(at) = self.answered_instant {
            metrics::histogram!(names::CALL_DURATION_SECONDS).record(at.elapsed().as_secs_f64());
        }
        let record = CallRecord {
            id: self.id.clone(),
            sip_call_id: self.caller_dialog.call_id.clone(),
            trunk: self.trunk.clone(),
            caller: self.caller.clone(),
            called: self.called.clone(),
            seat: outcome
                .answered_leg
                .and_then(|leg| self.legs.get(leg))
                .map(|l| l.seat.clone()),
            offered_at: self.offered_at,
            answered_at: self.answered_at,
            ended_at: self.ctx.clock.now(),
            disposition: outcome.disposition,
            sip_cause: outcome.sip_cause,
            ended_by: outcome.ended_by.map(|e| e.as_str().to_string()),
        };
        info!(disposition = record.disposition.as_str(), cause = ?record.sip_cause, ended_by = ?record.ended_by, "call finished");
        count_finished(&record);
        if let Err(error) = self.ctx.writer.submit(Record::Call(record)).await {
            warn!(%error, "call record not queued");
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// The INVITE for one seat phone, with its own Call-ID and tag: each seat leg is a call of its
/// own, so a seat never sees the trunk's identifiers.
fn seat_leg(
    ctx: &CallContext,
    binding: &Binding,
    caller: &str,
    display: Option<&str>,
    sdp: &str,
) -> SeatLeg {
    let local_tag = ids::tag();
    let call_id = ids::call_id(&ctx.realm);
    let local = ctx.local.for_transport(binding.flow.transport);
    let mut invite = Request::new(Method::Invite, binding.contact.clone());
    invite.headers.push("Max-Forwards", "70");
    let from = NameAddr {
        display: Some(display.unwrap_or(caller).to_string()),
        uri: format!("sip:{}@{}", caller, ctx.realm),
        params: vec![("tag".to_string(), Some(local_tag.clone()))],
    };
    invite.headers.push("From", from.to_header());
    invite
        .headers
        .push("To", format!("<sip:{}@{}>", binding.user, ctx.realm));
    invite.headers.push("Call-ID", call_id);
    invite.headers.push("CSeq", "1 INVITE");
    invite.headers.push(
        "Contact",
        format!(
            "<sip:hotline@{};transport={}>",
            local,
            binding.flow.transport.as_str().to_ascii_lowercase()
        ),
    );
    invite.headers.push("Allow", ALLOW);
    invite.headers.push("User-Agent", ctx.user_agent.as_str());
    invite.headers.push("Content-Type", "application/sdp");
    invite.body = Bytes::from(sdp.to_string());
    let branch = ids::branch();
    SeatLeg {
        seat: binding.user.clone(),
        binding: binding.clone(),
        invite,
        local_tag,
        key: ClientKey {
            branch,
            method: Method::Invite,
        },
        answer: None,
        answer_sdp: None,
        dialog: None,
    }
}
