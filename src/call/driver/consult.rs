//! The queued call's driver, its consultation half: ringing the unit a seat asked for, putting
//! it in the media hub, switching who hears whom, and recording the unit's leg and the events.

use std::time::SystemTime;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Driver;
use crate::call::consult::{ConsultAction, ConsultEvent, ConsultInput};
use crate::call::hunt::HuntInput;
use crate::call::logic::{Input, Logic};
use crate::call::outbound_leg::OutboundLeg;
use crate::call::CoreCommand;
use crate::dialplan::DialTarget;
use crate::media::hub::{HubLeg, LegIndex};
use crate::media::sdp::{self, Negotiated};
use crate::media::tones;
use crate::media::RtpSocket;
use crate::sip::build;
use crate::sip::message::{Request, Response};
use crate::sip::refer::{parse_refer_to, target_number, ReferTo, Replaces};
use crate::sip::transaction::ServerKey;
use crate::store::{CallEventRecord, LegRecord, LegRole, OpenLeg, Record};

/// How long the other call of an attended transfer may take to answer the splice.
const SPLICE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The unit contact a seat consults: its SIP leg and, once answered, its place in the hub.
pub(super) struct UnitLeg {
    /// The leg's id in the records, given when it starts.
    id: String,
    /// The SIP leg the daemon placed to the unit; None when the unit is another call's party
    /// (an attended transfer spliced that call with this one).
    pub leg: Option<OutboundLeg>,
    /// That other call, told when this one lets the unit go.
    pub peer: Option<crate::call_id::CallId>,
    socket: Option<RtpSocket>,
    pub hub_leg: Option<LegIndex>,
    /// Its audio and telephone-event payload types, from its answer.
    pub media: Option<(u8, Option<u8>)>,
    party: String,
    /// The unit id, when a unit (not a seat or a bare number) was consulted.
    unit: Option<String>,
    started_at: SystemTime,
    pub answered_at: Option<SystemTime>,
    /// False once cancelled: a 2xx that still comes is ACKed and hung up.
    pub wanted: bool,
    /// One attempt of a hunt through the unit's contacts: its end goes to the hunt.
    pub hunted: bool,
}

impl UnitLeg {
    /// Whom the leg reaches: the unit's id, or the seat or number dialled.
    pub(super) fn name(&self) -> &str {
        self.unit.as_deref().unwrap_or(&self.party)
    }
}

impl Driver {
    pub(super) async fn consult_action(&mut self, action: ConsultAction, logic: &mut Logic) {
        match action {
            ConsultAction::Dial(target) => {
                if let Err(status) = self.dial_unit(&target).await {
                    info!(%target, status, "unit not dialled");
                    logic.handle(
                        Instant::now(),
                        Input::Consult(ConsultInput::UnitFailed(status)),
                    );
                }
            }
            ConsultAction::CancelUnit => {
                // The seat stopped the hunt (or the unit's ring deadline passed).
                self.hunt_input(HuntInput::Stop);
                let Some(i) = self.units.iter().rposition(|u| u.answered_at.is_none()) else {
                    return;
                };
                self.units[i].wanted = false;
                if let Some(leg) = self.units[i].leg.as_ref() {
                    leg.cancel(&self.io).await;
                }
                self.end_unit(i, "cancelled");
            }
            ConsultAction::ConnectUnit => self.connect_unit().await,
            ConsultAction::ByeUnit => {
                if let Some(i) = self.units.iter().rposition(|u| u.answered_at.is_some()) {
                    self.hang_up_unit(i).await;
                }
            }
            ConsultAction::ByeUnits => {
                while let Some(i) = self.units.iter().rposition(|u| u.answered_at.is_some()) {
                    self.hang_up_unit(i).await;
                }
            }
            ConsultAction::ByeSeat => {
                if let Some(leg) = self.seat_sip_leg {
                    self.bye_seat(leg).await;
                }
            }
            ConsultAction::Media(media) => self.hear(media, logic),
            ConsultAction::Event(event) => self.consult_event(event).await,
            ConsultAction::NotifyRefer(status) => {
                if let Some(leg) = self.seat_sip_leg {
                    let reason = crate::sip::message::reason_phrase(status);
                    self.legs[leg].notify_refer(&self.io, status, reason).await;
                }
            }
            ConsultAction::CallerAlone => {}
            ConsultAction::SeatTone => self.seat_tone(tones::UNIT_GIVEN_UP),
            ConsultAction::Transferred => {
                // A rating after the transfer rates the first unit brought in.
                self.transferred_to = self
                    .units
                    .first()
                    .map(|u| u.unit.clone().unwrap_or_else(|| u.party.clone()));
                if self.seat_ended.is_none() {
                    self.seat_ended = Some(("bye_by_them", self.io.ctx.clock.now()));
                    self.seat_off();
                }
                info!(unit = ?self.transferred_to, "caller transferred to the unit");
            }
        }
    }

    /// A REFER from the served seat's phone: a blind transfer to a unit, a seat or a number the
    /// dialplan allows. Anything else gets 403 and a security event; the daemon is never a path
    /// to a number it does not route. A REFER with Replaces is an attended transfer.
    pub(super) async fn on_refer(&mut self, key: ServerKey, request: Request, logic: &mut Logic) {
        let refer_to = request
            .headers
            .get("Refer-To")
            .ok_or(400u16)
            .and_then(|v| parse_refer_to(v).map_err(|_| 400u16));
        if let Ok(ReferTo {
            replaces: Some(replaces),
            ..
        }) = &refer_to
        {
            let replaces = replaces.clone();
            self.attended_transfer(key, request, replaces, logic).await;
            return;
        }
        let decision = match &refer_to {
            Err(status) => Err(*status),
            Ok(r) => match target_number(r) {
                Some(number) if self.units.is_empty() => {
                    match self.io.ctx.dialer.resolve(&number, self.io.ctx.clock.now()) {
                        Ok(_) => Ok(number),
                        Err(refusal) => {
                            self.refer_refused(&number, &refusal.to_string()).await;
                            Err(403)
                        }
                    }
                }
                // A unit is already on the line or ringing: one transfer at a time.
                Some(_) => Err(491),
                None => {
                    self.refer_refused(request.headers.get("Refer-To").unwrap_or(""), "no number")
                        .await;
                    Err(403)
                }
            },
        };
        match decision {
            Ok(number) => {
                self.io
                    .respond(key, build::response(&request, 202, None))
                    .await;
                if let Some(leg) = self.seat_sip_leg {
                    self.legs[leg].notify_refer(&self.io, 100, "Trying").await;
                }
                info!(%number, "REFER accepted");
                logic.handle(Instant::now(), Input::Consult(ConsultInput::Refer(number)));
            }
            Err(status) => {
                self.io
                    .respond(key, build::response(&request, status, None))
                    .await;
            }
        }
    }

    /// A REFER with Replaces (RFC 3891, RFC 5589): the seat's phone holds this caller, called
    /// the unit itself through the daemon, and now asks us to put the caller in that call's
    /// place. The other call gives up its seat and exchanges the unit's audio with ours over
    /// a pair of the daemon's RTP ports; each call tells the other when it ends.
    async fn attended_transfer(
        &mut self,
        key: ServerKey,
        request: Request,
        replaces: Replaces,
        logic: &mut Logic,
    ) {
        if !self.units.is_empty() {
            self.io
                .respond(key, build::response(&request, 491, None))
                .await;
            return;
        }
        let Some((socket, offer)) = self.link_port().await else {
            self.io
                .respond(key, build::response(&request, 503, None))
                .await;
            return;
        };
        let (reply, answer) = oneshot::channel();
        let _ = self
            .io
            .ctx
            .core
            .send(CoreCommand::Splice {
                from: self.io.owner,
                call_id: replaces.call_id.clone(),
                tags: [replaces.to_tag.clone(), replaces.from_tag.clone()],
                offer,
                reply,
            })
            .await;
        let answer = match tokio::time::timeout(SPLICE_WAIT, answer).await {
            Ok(Ok(Ok(answer))) => answer,
            Ok(Ok(Err(status))) => {
                info!(status, call_id = %replaces.call_id, "REFER with Replaces: no such call");
                self.io
                    .respond(key, build::response(&request, status, None))
                    .await;
                return;
            }
            _ => {
                self.io
                    .respond(key, build::response(&request, 481, None))
                    .await;
                return;
            }
        };
        self.io
            .respond(key, build::response(&request, 202, None))
            .await;
        let Some(hub) = &self.hub else {
            return;
        };
        let hub_leg = hub.add_leg(HubLeg {
            socket,
            remote: Some(answer.addr),
            telephone_event: None,
        });
        let now = self.io.ctx.clock.now();
        info!(party = %answer.party, peer = %answer.owner, "attended transfer");
        let id = self.new_unit_leg_id();
        self.units.push(UnitLeg {
            id,
            leg: None,
            peer: Some(answer.owner),
            socket: None,
            hub_leg: Some(hub_leg),
            // The other call speaks our caller's codec on this port.
            media: Some((offer.pt, None)),
            unit: answer.unit,
            party: answer.party,
            started_at: now,
            answered_at: Some(now),
            wanted: true,
            hunted: false,
        });
        self.open_unit_leg(self.units.len() - 1).await;
        logic.handle(
            Instant::now(),
            Input::Consult(ConsultInput::AttendedTransfer),
        );
    }

    /// Hangs up unit `i` (its SIP leg, or the call it is the party of) and ends its leg.
    async fn hang_up_unit(&mut self, i: usize) {
        if let Some(leg) = self.units[i].leg.as_mut() {
            leg.bye(&self.io).await;
        }
        self.tell_peer(i).await;
        self.end_unit(i, "bye_by_us");
    }

    /// Tells the call unit `i` is spliced from that the unit is let go.
    async fn tell_peer(&mut self, i: usize) {
        if let Some(peer) = self.units.get_mut(i).and_then(|u| u.peer.take()) {
            self.tell_gone(peer).await;
        }
    }

    async fn refer_refused(&mut self, target: &str, why: &str) {
        warn!(target, why, "REFER refused: target not allowed");
        metrics::counter!(
            crate::metrics::names::SECURITY_EVENTS_TOTAL,
            crate::metrics::labels::KIND => "refer_refused"
        )
        .increment(1);
        self.call_event("refer_refused", Some(target.chars().take(128).collect()))
            .await;
    }

    /// Resolves `typed` and rings it; the error is the SIP status the consultation fails with.
    async fn dial_unit(&mut self, typed: &str) -> Result<(), u16> {
        let now = self.io.ctx.clock.now();
        let resolved = self.io.ctx.dialer.resolve(typed, now).map_err(|refusal| {
            info!(%refusal, "consultation refused");
            refusal.status()
        })?;
        if let Some(unit) = &resolved.unit {
            // A unit: its contacts are hunted one after another.
            return self.start_hunt(unit).await;
        }
        self.ring_unit_leg(&resolved.target, None, false).await
    }

    /// Rings `target` for the consultation: a new unit leg, the newest.
    pub(super) async fn ring_unit_leg(
        &mut self,
        target: &DialTarget,
        unit: Option<String>,
        hunted: bool,
    ) -> Result<(), u16> {
        let now = self.io.ctx.clock.now();
        let socket = self.io.ctx.rtp.allocate().await.map_err(|_| 503u16)?;
        let offer = self.offer_on(&socket);
        let ctx = &self.io.ctx;
        let caller = self.facts.caller.clone();
        let leg = match target {
            DialTarget::Seat(user) => {
                let bindings = self.io.bindings(user).await;
                let binding = bindings.first().ok_or(480u16)?;
                OutboundLeg::to_seat(ctx, binding, &caller, None, &offer)
            }
            other => OutboundLeg::to_target(ctx, other, &caller, &offer).ok_or(404u16)?,
        };
        info!(target = %target.describe(), ?unit, "consulting a unit");
        leg.ring(&self.io).await;
        if let (Some(by), Some(unit)) = (self.handoff_by(), &unit) {
            self.io.ctx.handoffs.dialled(by, unit);
        }
        let id = self.new_unit_leg_id();
        self.units.push(UnitLeg {
            id,
            leg: Some(leg),
            peer: None,
            socket: Some(socket),
            hub_leg: None,
            media: None,
            party: target.describe(),
            unit,
            started_at: now,
            answered_at: None,
            wanted: true,
            hunted,
        });
        self.open_unit_leg(self.units.len() - 1).await;
        Ok(())
    }

    /// Unit `i`'s final response to our INVITE.
    pub(super) async fn on_unit_response(
        &mut self,
        i: usize,
        response: Response,
        logic: &mut Logic,
    ) {
        if response.is_provisional() {
            return;
        }
        let Some(unit) = self.units.get_mut(i) else {
            return;
        };
        if !response.is_success() {
            let status = response.status;
            let hunted = unit.hunted && unit.wanted;
            self.end_unit_with(i, format!("failed:{status}"));
            if hunted {
                self.hunt_input(HuntInput::Failed(status));
            } else {
                logic.handle(
                    Instant::now(),
                    Input::Consult(ConsultInput::UnitFailed(status)),
                );
            }
            return;
        }
        let Some(leg) = unit.leg.as_mut() else {
            return;
        };
        if leg.is_answered() {
            return;
        }
        let parsed = leg.on_answer(response).is_ok();
        let answer: Option<Negotiated> = leg
            .answer_sdp
            .as_ref()
            .filter(|_| parsed)
            .and_then(|a| sdp::negotiate(a).ok())
            .filter(|n| n.audio.codec == self.negotiated.audio.codec);
        if !unit.wanted || answer.is_none() {
            // Cancelled too late, or answered with media we cannot bridge.
            leg.ack(&self.io).await;
            leg.bye(&self.io).await;
            if unit.wanted {
                let hunted = unit.hunted;
                self.end_unit(i, "failed:488");
                if hunted {
                    // A contact we cannot talk to: the hunt moves on.
                    self.hunt_input(HuntInput::Failed(488));
                } else {
                    logic.handle(
                        Instant::now(),
                        Input::Consult(ConsultInput::UnitFailed(488)),
                    );
                }
            }
            return;
        }
        unit.answered_at = Some(self.io.ctx.clock.now());
        unit.media = answer.as_ref().map(|a| (a.audio.pt, a.telephone_event));
        let answered_unit = unit.unit.clone();
        let hunted = unit.hunted;
        let remote = answer.as_ref().and_then(|a| a.remote);
        let telephone_event = answer.as_ref().and_then(|a| a.telephone_event);
        if let (Some(socket), Some(hub)) = (unit.socket.take(), &self.hub) {
            unit.hub_leg = Some(hub.add_leg(HubLeg {
                socket,
                remote,
                telephone_event,
            }));
        }
        self.open_unit_leg(i).await;
        if hunted {
            self.hunt_input(HuntInput::Answered);
        }
        if answered_unit.is_some() {
            self.last_unit.clone_from(&answered_unit);
        }
        if let (Some(by), Some(unit)) = (self.handoff_by(), answered_unit) {
            self.io.ctx.handoffs.unit_answered(by, &unit);
        }
        logic.handle(Instant::now(), Input::Consult(ConsultInput::UnitAnswered));
    }

    /// ACKs the unit that just answered: the newest, as only one rings at a time.
    async fn connect_unit(&mut self) {
        if let Some(leg) = self.units.last().and_then(|u| u.leg.as_ref()) {
            leg.ack(&self.io).await;
        }
    }

    async fn consult_event(&mut self, event: ConsultEvent) {
        let detail = match &event {
            ConsultEvent::Consult { target } => Some(target.clone()),
            ConsultEvent::UnitFailed { status } => Some(status.to_string()),
            _ => self.units.last().map(|u| u.party.clone()),
        };
        info!(event = event.kind(), ?detail, "consultation");
        metrics::counter!(crate::metrics::names::CONSULT_EVENTS_TOTAL, "kind" => event.kind())
            .increment(1);
        self.call_event(event.kind(), detail).await;
    }

    /// Unit `i`'s leg is over: its record is written and its place freed.
    /// The unit still on the line (or ringing) when the call ends: its leg ends with it.
    pub(super) fn release_unit(&mut self, outcome: &crate::call::logic::Outcome) {
        while !self.units.is_empty() {
            let how = if outcome.ended_by == Some(crate::call::logic::EndedBy::Unit) {
                "bye_by_them"
            } else {
                "bye_by_us"
            };
            self.end_unit(self.units.len() - 1, how);
        }
    }

    pub(super) fn end_unit(&mut self, i: usize, how: &str) {
        self.end_unit_with(i, how.to_string());
    }

    fn end_unit_with(&mut self, i: usize, how: String) {
        if i >= self.units.len() {
            return;
        }
        let unit = self.units.remove(i);
        if let (Some(leg), Some(hub)) = (unit.hub_leg, &self.hub) {
            hub.silence(leg);
        }
        self.finished_legs.push(LegRecord {
            id: unit.id,
            call_id: self.facts.id.clone(),
            role: LegRole::Unit,
            party: unit.party,
            started_at: unit.started_at,
            answered_at: unit.answered_at,
            ended_at: self.io.ctx.clock.now(),
            ended_how: how,
        });
    }

    /// A new unit leg's id in the records: the call's id and the leg's number in the call.
    fn new_unit_leg_id(&mut self) -> String {
        self.units_started += 1;
        format!("{}-unit-{}", self.facts.id, self.units_started - 1)
    }

    /// Writes unit leg `i` as it stands, in progress: a crash leaves it in the records.
    async fn open_unit_leg(&self, i: usize) {
        let Some(unit) = self.units.get(i) else {
            return;
        };
        self.write(Record::OpenLeg(OpenLeg {
            id: unit.id.clone(),
            call_id: self.facts.id.clone(),
            role: LegRole::Unit,
            party: unit.party.clone(),
            started_at: unit.started_at,
            answered_at: unit.answered_at,
        }))
        .await;
    }

    /// An event of this call (`call_events`), at the wall time now.
    pub(super) async fn call_event(&self, kind: &str, detail: Option<String>) {
        self.write(Record::CallEvent(CallEventRecord {
            call_id: self.facts.id.clone(),
            at: self.io.ctx.clock.now(),
            kind: kind.to_string(),
            detail,
        }))
        .await;
    }

    pub(super) async fn write(&self, record: Record) {
        if let Err(error) = self.io.ctx.writer.submit(record).await {
            warn!(%error, "call record part not queued");
        }
    }
}
