//! What a call answered late has of its own: a ring route, or a call a seat's phone placed
//! (to a seat, a unit's contacts, a number). Its legs ring from one RTP port, offering every
//! codec the caller offered; the caller is answered when a leg answers, in the codec that leg
//! chose. A seat's own call to a unit hunts the unit's contacts and reports each attempt to the
//! hand-off service; the answered party of such a call can be spliced into another call (an
//! attended transfer).

use std::time::SystemTime;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{refusal, CallerMedia, Driver, Refused, CALLER};
use crate::call::facts::CallFacts;
use crate::call::io::CallIo;
use crate::call::logic::HuntAttempt;
use crate::call::outbound_leg::OutboundLeg;
use crate::call::{CallEvent, CallSetup, CoreCommand, SpliceAnswer, SpliceOffer};
use crate::call_id::CallId;
use crate::dialplan::{DialTarget, HuntPlan};
use crate::handoff::By;
use crate::media::hub::{Hub, HubEvent, HubLeg, MixParty};
use crate::media::sdp::{self, LocalMedia, Negotiated};
use crate::media::PtMap;

/// A call a seat's phone placed itself.
pub(super) struct Placed {
    /// The seat that placed it: its hand-off cues come to this call.
    pub seat: String,
    /// The unit it dialled, if it dialled one.
    pub unit: Option<String>,
    /// To a unit: the hunt's plan, attempt `i` on leg `i`.
    pub plan: Option<HuntPlan>,
    /// When each leg started ringing, for the attempts' records.
    attempt_started: Vec<Option<SystemTime>>,
}

impl Driver {
    /// A ring route or a seat's own call: two RTP ports (the caller's, and one for every leg
    /// rung) and an INVITE per leg, made now and sent as the logic says.
    pub(super) async fn prepare_ring(
        setup: CallSetup,
        io: CallIo,
        facts: CallFacts,
        hub_events: mpsc::UnboundedSender<HubEvent>,
    ) -> Result<Driver, Refused> {
        let ctx = io.ctx.clone();
        // The daemon answers offers; an INVITE without one (RFC 3264 delayed offer) is refused.
        let caller_offer = match sdp::parse(&setup.invite.body) {
            Ok(offer) => offer,
            Err(error) => {
                debug!(%error, "caller offer unusable");
                return Err(refusal(&setup, io, facts, 488));
            }
        };
        // The caller's own choice until a leg answers; nothing uses it before then.
        let Ok(negotiated) = sdp::negotiate(&caller_offer) else {
            debug!("no codec in common with the caller");
            return Err(refusal(&setup, io, facts, 488));
        };
        let (caller_socket, ring_socket) =
            match (ctx.rtp.allocate().await, ctx.rtp.allocate().await) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    warn!("no RTP ports left");
                    return Err(refusal(&setup, io, facts, 503));
                }
            };
        let local = LocalMedia {
            addr: ctx.media_addr,
            rtp_port: caller_socket.local_addr().port(),
            session_id: u64::from(rand::random::<u32>()),
            session_version: 1,
        };
        let ring_local = LocalMedia {
            rtp_port: ring_socket.local_addr().port(),
            ..local
        };
        let offer = match sdp::offer_for_seat(&caller_offer, ring_local) {
            Ok(params) => sdp::build_offer(&params),
            Err(error) => {
                debug!(%error, "no codec we can relay");
                return Err(refusal(&setup, io, facts, 488));
            }
        };
        let display = setup.ess.from.display.clone();
        let mut legs: Vec<OutboundLeg> = setup
            .targets
            .iter()
            .map(|binding| {
                OutboundLeg::to_seat(&ctx, binding, &facts.caller, display.as_deref(), &offer)
            })
            .collect();
        let unit = setup.dial.as_ref().and_then(|d| d.unit.clone());
        let mut plan = None;
        match (&setup.dial, &unit) {
            // To a unit: its contacts are hunted, one leg per attempt, made now, rung in turn.
            (Some(_), Some(unit)) if setup.placed_by.is_some() => {
                match ctx.dialer.hunt_plan(unit, ctx.clock.now()) {
                    Ok(mut p) => {
                        let mut kept = Vec::new();
                        for attempt in std::mem::take(&mut p.attempts) {
                            let leg = match &attempt.target {
                                DialTarget::Seat(user) => {
                                    let bindings = io.bindings(user).await;
                                    bindings.first().map(|b| {
                                        OutboundLeg::to_seat(&ctx, b, &facts.caller, None, &offer)
                                    })
                                }
                                other => OutboundLeg::to_target(&ctx, other, &facts.caller, &offer),
                            };
                            if let Some(leg) = leg {
                                legs.push(leg);
                                kept.push(attempt);
                            }
                        }
                        p.attempts = kept;
                        plan = Some(p);
                    }
                    Err(refusal) => info!(%refusal, "unit not hunted"),
                }
            }
            (Some(dialled), _) => {
                legs.extend(OutboundLeg::to_target(
                    &ctx,
                    &dialled.target,
                    &facts.caller,
                    &offer,
                ));
            }
            _ => {}
        }
        let placed = setup.placed_by.clone().map(|seat| Placed {
            seat,
            unit,
            plan,
            attempt_started: Vec::new(),
        });
        let media = CallerMedia {
            negotiated,
            local,
            hub: None,
        };
        let record = setup.record;
        let start = super::Start::inbound(setup, caller_offer, facts.called.clone());
        let mut driver = Driver::new(start, io, facts, media, hub_events);
        driver.recording.wanted = record;
        driver.legs = legs;
        driver.caller_socket = Some(caller_socket);
        driver.ring_socket = Some(ring_socket);
        driver.placed = placed;
        Ok(driver)
    }

    /// A seat's own call starts: the hand-off clock's cues for that seat come here, and a unit
    /// it dials is noted.
    pub(super) fn placed_call_starts(&self) {
        let Some(placed) = &self.placed else {
            return;
        };
        self.io
            .ctx
            .handoffs
            .seat_on(&placed.seat, self.call, self.cues.clone());
        if let Some((by, unit)) = self.own_call_to_unit() {
            self.io.ctx.handoffs.dialled(by, &unit);
        }
    }

    /// Answers the caller with leg `leg`'s media: the codec the leg chose of those the caller
    /// offered. Starts the hub with the caller; returns how payload types map from the
    /// caller to the leg, or None when the leg's answer has nothing the caller offered.
    pub(super) async fn answer_late(&mut self, leg_answer: &Negotiated) -> Option<PtMap> {
        let caller = self.caller.as_mut()?;
        let (negotiated, map) = match sdp::answer_for_caller(&caller.offer, leg_answer) {
            Ok(pair) => pair,
            Err(error) => {
                debug!(%error, "answer has no codec the caller offered");
                return None;
            }
        };
        let answer = sdp::build_answer(self.local, &negotiated, leg_answer.direction);
        caller.respond(&self.io, 200, Some(answer)).await;
        let remote = caller.offer.audio_rtp_addr();
        let socket = self.caller_socket.take()?;
        self.hub = Some(Hub::start(
            vec![HubLeg {
                socket,
                remote,
                telephone_event: negotiated.telephone_event,
            }],
            Some(self.hub_events.clone()),
        ));
        self.negotiated = negotiated;
        self.start_recording();
        Some(map)
    }

    /// Leg `leg` starts ringing: for a hunt, the start of its attempt.
    pub(super) fn attempt_rings(&mut self, leg: usize) {
        let now = self.io.ctx.clock.now();
        let Some(placed) = self.placed.as_mut().filter(|p| p.plan.is_some()) else {
            return;
        };
        if placed.attempt_started.len() <= leg {
            placed.attempt_started.resize(leg + 1, None);
        }
        placed.attempt_started[leg] = Some(now);
    }

    /// An attempt of the hunt is over: the hand-off service files and counts it.
    pub(super) fn attempted(&mut self, a: HuntAttempt) {
        let Some((by, unit)) = self.own_call_to_unit() else {
            return;
        };
        let Some(placed) = &self.placed else {
            return;
        };
        let Some(planned) = placed.plan.as_ref().and_then(|p| p.attempts.get(a.leg)) else {
            return;
        };
        let started_at = placed
            .attempt_started
            .get(a.leg)
            .copied()
            .flatten()
            .unwrap_or_else(|| self.io.ctx.clock.now());
        let end = crate::call::hunt::AttemptEnd {
            outcome: a.outcome,
            status: a.status,
            rung: a.rung,
        };
        let attempt =
            crate::call::hunt::contact_attempt(&self.facts.id, &unit, planned, started_at, end);
        self.io.ctx.handoffs.attempt(by, attempt);
    }

    /// A seat's own call ends: its cues stop, and a hunt nobody answered leaves its hand-off
    /// unreachable (when it cost the unit a contact failure).
    pub(super) fn placed_call_ends(&self) {
        let Some(placed) = &self.placed else {
            return;
        };
        self.io.ctx.handoffs.seat_off(&placed.seat, self.call);
        if let (Some(_), None, Some((by, unit))) =
            (&placed.plan, self.answered_at, self.own_call_to_unit())
        {
            self.io.ctx.handoffs.hunt_exhausted(by, &unit);
        }
    }

    /// For a seat's own call to a unit: the hand-off it serves and the unit.
    pub(super) fn own_call_to_unit(&self) -> Option<(By, String)> {
        let placed = self.placed.as_ref()?;
        let unit = placed.unit.clone()?;
        let by = By::OwnCall {
            call: self.call,
            seat: placed.seat.clone(),
        };
        Some((by, unit))
    }

    /// Hands the answered party to call `peer` (an attended transfer): a new RTP port of ours
    /// exchanges its audio with the peer's port, in the peer's codec (mixed when the codecs
    /// differ, so the hub transcodes); the caller (the seat that made this call) is let go.
    pub(super) async fn splice(
        &mut self,
        peer: CallId,
        offer: SpliceOffer,
    ) -> Result<SpliceAnswer, u16> {
        let (Some(hub), Some(audio), Some(far), None) =
            (&self.hub, self.seat_audio, self.seat_leg, self.peer)
        else {
            return Err(481);
        };
        let (codec, pt) = (audio.codec, audio.pt);
        let Some(seat) = self.seat.clone() else {
            return Err(481);
        };
        let socket = self.io.ctx.rtp.allocate().await.map_err(|_| 503u16)?;
        let addr = socket.local_addr();
        let link = hub.add_leg(HubLeg {
            socket,
            remote: Some(offer.addr),
            telephone_event: None,
        });
        if codec == offer.codec {
            hub.bridge(far, link, PtMap::identity().with(pt, offer.pt));
        } else {
            hub.mix(vec![
                MixParty {
                    leg: far,
                    codec,
                    pt,
                },
                MixParty {
                    leg: link,
                    codec: offer.codec,
                    pt: offer.pt,
                },
            ]);
        }
        self.peer = Some(peer);
        info!(%seat, %peer, "spliced with another call");
        Ok(SpliceAnswer {
            owner: self.call,
            addr: std::net::SocketAddr::new(self.io.ctx.media_addr, addr.port()),
            party: seat,
            unit: self.placed.as_ref().and_then(|p| p.unit.clone()),
        })
    }

    /// Tells the call this one is spliced to that it has ended.
    /// A port of ours for a link with another call (an attended transfer's, a supervisor's),
    /// and what we offer on it: our caller's codec. None when no port is free.
    pub(super) async fn link_port(&self) -> Option<(crate::media::RtpSocket, SpliceOffer)> {
        let socket = self.io.ctx.rtp.allocate().await.ok()?;
        let offer = SpliceOffer {
            addr: std::net::SocketAddr::new(self.io.ctx.media_addr, socket.local_addr().port()),
            codec: self.negotiated.audio.codec,
            pt: self.negotiated.audio.pt,
        };
        Some((socket, offer))
    }

    pub(super) async fn tell_peer_gone(&mut self) {
        if let Some(peer) = self.peer.take() {
            self.tell_gone(peer).await;
        }
        self.stop_supervising().await;
    }

    /// Tells call `peer`, spliced with this one, that this side is gone.
    pub(super) async fn tell_gone(&self, peer: CallId) {
        let _ = self
            .io
            .ctx
            .core
            .send(CoreCommand::Tell {
                owner: peer,
                event: CallEvent::PeerGone,
            })
            .await;
    }

    /// The leg whose ear hand-off cues go to: the caller's for a seat's own call (the seat is
    /// the caller), else the seat's, while it is on the call.
    pub(super) fn cue_leg(&self) -> Option<(usize, u8)> {
        if self.placed.is_some() {
            return self
                .caller_answered()
                .then_some((CALLER, self.negotiated.audio.pt));
        }
        if self.seat_ended.is_some() {
            return None;
        }
        self.seat_leg.zip(self.seat_audio.map(|a| a.pt))
    }
}
