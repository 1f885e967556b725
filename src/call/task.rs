//! The task that drives a call that rings seats directly: it feeds the state machine with SIP
//! events and time, and turns its actions into SIP messages, media and the call record.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn, Instrument};

use super::board::{LineState, LineView};
use super::caller_leg::CallerLeg;
use super::facts::{refuse_early, CallFacts, Ending};
use super::in_dialog::{self, InDialog};
use super::io::CallIo;
use super::machine::{Action, CallMachine, Input, LegId, Outcome, Timeouts};
use super::outbound_leg::OutboundLeg;
use super::{CallContext, CallEvent, CallSetup};
use crate::handoff::{By, Cue};
use crate::media::hub::{Audio, Gain, Hub, HubEvent, HubHandle, HubLeg, LegIndex, MixParty};
use crate::media::sdp::Negotiated;
use crate::media::sdp::{self, LocalMedia};
use crate::media::{LineStats, PtMap, RtpSocket};
use crate::metrics::names;
use crate::ratings::dialog::RatingSound;
use crate::sip::build;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{ClientKey, ServerKey};
use crate::timer::far_future;

/// The caller's leg and the seat's in the call's hub.
const CALLER: LegIndex = 0;
const SEAT: LegIndex = 1;

/// How often a connected call publishes its media counters to the board and metrics.
pub const MEDIA_REPORT: Duration = Duration::from_secs(1);

struct Media {
    caller_socket: Option<RtpSocket>,
    seat_socket: Option<RtpSocket>,
    caller_local: LocalMedia,
    /// The caller's and the seat's legs, bridged once the seat answers.
    hub: Option<HubHandle>,
    /// The caller's codec and payload types once connected, for prompts and its key presses.
    caller_audio: Option<Negotiated>,
    /// Where the hub reports the caller's keys and ends of prompts.
    hub_events: mpsc::UnboundedSender<HubEvent>,
    /// What we offered the seats, for their re-INVITEs.
    seat_sdp: String,
    reported: LineStats,
}

struct CallDriver {
    io: CallIo,
    facts: CallFacts,
    caller: CallerLeg,
    legs: Vec<OutboundLeg>,
    media: Media,
    answered_at: Option<SystemTime>,
    answered_instant: Option<Instant>,
    started: Instant,
    seat: Option<String>,
    ring: Duration,
    /// Whether the caller rates the call when the far end hangs up first (not for a call a
    /// seat placed itself).
    asks_rating: bool,
    /// The unit this call dialled, if it dialled one (a seat's own call).
    unit: Option<String>,
    /// The seat whose phone placed this call, for its own call's hand-off and cues.
    placed_by: Option<String>,
    /// A seat's own call to a unit: the hunt's plan, attempt `i` on leg `i`.
    hunt: Option<crate::dialplan::HuntPlan>,
    /// When each leg started ringing, for the attempts' records.
    attempt_started: Vec<Option<SystemTime>>,
    /// The answered party's codec and payload type, for a splice.
    far_audio: Option<(crate::media::sdp::Codec, u8)>,
    /// The call this one is spliced to (an attended transfer took our caller's place).
    peer: Option<super::CallId>,
}

/// Runs a call from its INVITE to its record.
pub async fn run(
    setup: CallSetup,
    ctx: Arc<CallContext>,
    events: mpsc::UnboundedReceiver<CallEvent>,
) {
    let facts = CallFacts::new(&setup, &ctx);
    let span = tracing::info_span!("call", call_id = %facts.id, sip_call_id = %facts.sip_call_id);
    let io = CallIo {
        ctx,
        owner: setup.owner,
    };
    async move {
        let (hub_tx, hub_rx) = mpsc::unbounded_channel();
        match CallDriver::prepare(setup, io, facts, hub_tx).await {
            Ok(driver) => driver.drive(events, hub_rx).await,
            Err(refused) => {
                let (io, facts, key, response) = *refused;
                refuse_early(io, facts, key, response).await
            }
        }
    }
    .instrument(span)
    .await
}

/// What `refuse_early` needs, boxed: it is only built on the rare refusal path.
type Refused = Box<(CallIo, CallFacts, ServerKey, Response)>;

impl CallDriver {
    async fn prepare(
        setup: CallSetup,
        io: CallIo,
        facts: CallFacts,
        hub_events: mpsc::UnboundedSender<HubEvent>,
    ) -> Result<CallDriver, Refused> {
        let ctx = io.ctx.clone();
        let refuse = |io: CallIo, facts: CallFacts, status: u16| {
            let response = build::response(&setup.invite, status, Some(&ids::tag()));
            Err(Box::new((io, facts, setup.key.clone(), response)))
        };
        // The daemon answers offers; an INVITE without one (RFC 3264 delayed offer) is refused.
        let caller_offer = match sdp::parse(&setup.invite.body) {
            Ok(offer) => offer,
            Err(error) => {
                debug!(%error, "caller offer unusable");
                return refuse(io, facts, 488);
            }
        };
        let (caller_socket, seat_socket) =
            match (ctx.rtp.allocate().await, ctx.rtp.allocate().await) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    warn!("no RTP ports left");
                    return refuse(io, facts, 503);
                }
            };
        let caller_local = LocalMedia {
            addr: ctx.media_addr,
            rtp_port: caller_socket.local_addr().port(),
            session_id: u64::from(rand::random::<u32>()),
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
                return refuse(io, facts, 488);
            }
        };
        let display = setup.ess.from.display.clone();
        let mut legs: Vec<OutboundLeg> = setup
            .targets
            .iter()
            .map(|binding| {
                OutboundLeg::to_seat(
                    &ctx,
                    binding,
                    &facts.caller,
                    display.as_deref(),
                    &seat_offer,
                )
            })
            .collect();
        // A seat's own call: it asks for no rating, and may go beyond the seats.
        let asks_rating = setup.placed_by.is_none();
        let unit = setup.dial.as_ref().and_then(|d| d.unit.clone());
        let mut hunt = None;
        match (&setup.dial, &unit, &setup.placed_by) {
            // To a unit: its contacts are hunted, one leg per attempt, made now, rung in turn.
            (Some(_), Some(unit), Some(_)) => match ctx.dialer.hunt_plan(unit, ctx.clock.now()) {
                Ok(mut plan) => {
                    let mut kept = Vec::new();
                    for attempt in std::mem::take(&mut plan.attempts) {
                        let leg = match &attempt.target {
                            crate::dialplan::DialTarget::Seat(user) => {
                                let bindings = io.bindings(user).await;
                                bindings.first().map(|b| {
                                    OutboundLeg::to_seat(&ctx, b, &facts.caller, None, &seat_offer)
                                })
                            }
                            other => {
                                OutboundLeg::to_target(&ctx, other, &facts.caller, &seat_offer)
                            }
                        };
                        if let Some(leg) = leg {
                            legs.push(leg);
                            kept.push(attempt);
                        }
                    }
                    plan.attempts = kept;
                    hunt = Some(plan);
                }
                Err(refusal) => info!(%refusal, "unit not hunted"),
            },
            (Some(dialled), _, _) => {
                legs.extend(OutboundLeg::to_target(
                    &ctx,
                    &dialled.target,
                    &facts.caller,
                    &seat_offer,
                ));
            }
            _ => {}
        }
        let caller = CallerLeg::new(
            setup.invite,
            setup.key,
            setup.flow,
            caller_offer,
            facts.called.clone(),
        );
        Ok(CallDriver {
            io,
            facts,
            caller,
            legs,
            media: Media {
                caller_socket: Some(caller_socket),
                seat_socket: Some(seat_socket),
                caller_local,
                hub: None,
                caller_audio: None,
                hub_events,
                seat_sdp: seat_offer,
                reported: LineStats::default(),
            },
            answered_at: None,
            answered_instant: None,
            started: Instant::now(),
            seat: None,
            ring: setup.ring_timeout,
            asks_rating,
            unit,
            placed_by: setup.placed_by.clone(),
            hunt,
            attempt_started: Vec::new(),
            far_audio: None,
            peer: None,
        })
    }

    async fn drive(
        mut self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut hub_events: mpsc::UnboundedReceiver<HubEvent>,
    ) {
        let timeouts = Timeouts {
            ring: self.ring,
            no_response: self.io.ctx.no_response,
        };
        let mut machine = match &self.hunt {
            Some(plan) => {
                info!(unit = %plan.unit, attempts = plan.attempts.len(), "hunting the unit's contacts");
                CallMachine::hunting(Instant::now(), plan.attempts.len(), plan.hunting, timeouts)
            }
            None => CallMachine::new(Instant::now(), self.legs.len(), timeouts),
        }
        .with_rating(self.io.ctx.ratings.clone().filter(|_| self.asks_rating));
        self.caller.bind(&self.io).await;
        self.io.open(self.facts.open_call(None, None)).await;
        self.publish(LineState::Ringing);
        let mut report = tokio::time::interval(MEDIA_REPORT);
        let (cue_tx, mut cues) = mpsc::unbounded_channel();
        if let Some(seat) = &self.placed_by {
            self.io.ctx.handoffs.seat_on(seat, self.io.owner, cue_tx);
        }
        if let Some((by, unit)) = self.own_call_to_unit() {
            self.io.ctx.handoffs.dialled(by, &unit);
        }
        loop {
            while let Some(action) = machine.poll_action() {
                if let Action::Finished(outcome) = action {
                    self.finish(outcome).await;
                    return;
                }
                self.act(action, &mut machine).await;
            }
            let deadline = machine.poll_timeout();
            // Biased, events first: an answer already queued is taken before a deadline that
            // fell due while the daemon was busy (a seat that answered is never "unreachable"
            // because the daemon was slow to read it).
            tokio::select! {
                biased;
                event = events.recv() => {
                    let now = Instant::now();
                    match event {
                        Some(event) => self.on_event(now, event, &mut machine).await,
                        None => machine.handle(now, Input::Shutdown),
                    }
                }
                Some(event) = hub_events.recv() => match event {
                    HubEvent::PlaybackDone { leg: CALLER } => machine.handle(Instant::now(), Input::PlaybackDone),
                    HubEvent::Digit { leg: CALLER, digit } => machine.handle(Instant::now(), Input::Digit(digit)),
                    _ => {}
                },
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    machine.handle_timeout(Instant::now());
                }
                Some(cue) = cues.recv() => self.on_cue(cue),
                _ = report.tick() => self.report_media(),
            }
        }
    }

    /// An attempt of the hunt is over: the hand-off service files and counts it.
    fn attempted(&mut self, a: crate::call::machine::HuntAttempt) {
        let (Some(plan), Some((by, unit))) = (&self.hunt, self.own_call_to_unit()) else {
            return;
        };
        let Some(planned) = plan.attempts.get(a.leg) else {
            return;
        };
        let started_at = self
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

    /// For a seat's own call to a unit: the hand-off it serves and the unit.
    fn own_call_to_unit(&self) -> Option<(By, String)> {
        let seat = self.placed_by.clone()?;
        let unit = self.unit.clone()?;
        let by = By::OwnCall {
            call: self.io.owner,
            seat,
        };
        Some((by, unit))
    }

    /// A hand-off cue for the seat that placed this call: a tone in its ear (the caller leg),
    /// over what it hears.
    fn on_cue(&mut self, cue: Cue) {
        let (Some(hub), Some(audio)) = (&self.media.hub, &self.media.caller_audio) else {
            return;
        };
        let tone = match cue {
            Cue::Warning => crate::media::tones::HANDOFF_WARNING,
            Cue::Breach => crate::media::tones::HANDOFF_BREACH,
        };
        let (codec, pt) = (audio.audio.codec, audio.audio.pt);
        hub.set_audio(CALLER, Audio { codec, pt });
        let play = self.io.ctx.prompts.play(&[tone], codec, pt, false);
        hub.overlay(CALLER, play, Gain::UNITY);
    }

    async fn on_event(&mut self, now: Instant, event: CallEvent, machine: &mut CallMachine) {
        match event {
            CallEvent::Cancelled => machine.handle(now, Input::CallerCancelled),
            CallEvent::AckTimeout => machine.handle(now, Input::CallerAckTimeout),
            CallEvent::Shutdown => machine.handle(now, Input::Shutdown),
            CallEvent::Ack { .. } => {}
            CallEvent::Splice { peer, offer, reply } => {
                let answer = self.splice(peer, offer).await;
                let spliced = answer.is_ok();
                let _ = reply.send(answer);
                if spliced {
                    machine.handle(now, Input::Spliced);
                }
            }
            CallEvent::PeerGone => machine.handle(now, Input::PeerGone),
            CallEvent::Response { key, response } => self.on_response(now, key, response, machine),
            CallEvent::Request { key, request, ess } => {
                let leg = if ess.call_id == self.caller.call_id() {
                    None
                } else if let Some(i) = self.legs.iter().position(|l| l.owns(&ess.call_id)) {
                    Some(i)
                } else {
                    self.io
                        .respond(key, build::response(&request, 481, None))
                        .await;
                    return;
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
            if self.legs[leg].is_answered() {
                return;
            }
            let usable = self.legs[leg].on_answer(response);
            machine.handle(now, Input::SeatAnswered { leg });
            if let Err(error) = usable {
                debug!(%error, leg, "seat answer unusable");
                machine.handle(now, Input::SeatAnswerUnusable { leg });
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
        let ours = match leg {
            None => self.caller.answer_sdp.clone(),
            Some(_) => Some(self.media.seat_sdp.clone()),
        };
        let caller = &self.caller;
        let io = &self.io;
        let decorate = |r: &mut Response| caller.decorate(io, r);
        match in_dialog::answer(io, key, request, ours.as_deref(), decorate).await {
            InDialog::Bye => match leg {
                None => machine.handle(now, Input::CallerBye),
                Some(leg) => machine.handle(now, Input::SeatBye { leg }),
            },
            InDialog::Refer(key, request) => in_dialog::refuse_refer(io, key, &request).await,
            InDialog::Refresh(Some(addr), _) => {
                if let Some(hub) = &self.media.hub {
                    hub.set_remote(if leg.is_none() { CALLER } else { SEAT }, addr);
                }
            }
            InDialog::Info(info) if leg.is_none() => {
                let ctype = info.headers.get("Content-Type").unwrap_or("");
                if let Ok(digit) = crate::media::dtmf::parse_info(ctype, &info.body) {
                    machine.handle(now, Input::Digit(digit));
                }
            }
            InDialog::Refresh(None, _) | InDialog::Info(_) | InDialog::Handled => {}
        }
    }

    async fn act(&mut self, action: Action, machine: &mut CallMachine) {
        match action {
            Action::RingSeat(leg) => {
                let l = &self.legs[leg];
                info!(seat = %l.seat, flow = %l.flow, "ringing seat");
                l.ring(&self.io).await;
                if self.attempt_started.len() <= leg {
                    self.attempt_started.resize(leg + 1, None);
                }
                self.attempt_started[leg] = Some(self.io.ctx.clock.now());
            }
            Action::Attempted(attempt) => self.attempted(attempt),
            Action::CancelSeat(leg) => self.legs[leg].cancel(&self.io).await,
            Action::CallerRinging => self.caller.respond(&self.io, 180, None).await,
            Action::Connect(leg) => self.connect(leg, machine).await,
            Action::AckAndHangUpSeat(leg) => {
                self.legs[leg].ack(&self.io).await;
                self.legs[leg].bye(&self.io).await;
            }
            Action::RejectCaller(status) => self.caller.respond(&self.io, status, None).await,
            Action::CallerTerminated => self.caller.respond(&self.io, 487, None).await,
            Action::ByeCaller => self.caller.bye(&self.io).await,
            Action::ByeSeat(leg) => self.legs[leg].bye(&self.io).await,
            Action::PlayRating(sound) => self.play_rating(sound),
            Action::TellPeerGone => {
                if let Some(peer) = self.peer.take() {
                    let _ = self
                        .io
                        .ctx
                        .core
                        .send(super::CoreCommand::Tell {
                            owner: peer,
                            event: CallEvent::PeerGone,
                        })
                        .await;
                }
            }
            Action::CommitRating(outcome) => {
                let kept = super::rating_commit::commit(
                    &self.io,
                    &self.facts.id,
                    self.seat.clone(),
                    None,
                    outcome,
                )
                .await;
                let input = if kept {
                    Input::RatingCommitted
                } else {
                    Input::RatingLost
                };
                machine.handle(Instant::now(), input);
            }
            Action::Finished(_) => {}
        }
    }

    async fn connect(&mut self, leg: LegId, machine: &mut CallMachine) {
        self.legs[leg].ack(&self.io).await;
        let Some(seat_answer) = self.legs[leg].answer_sdp.clone() else {
            return;
        };
        let (negotiated, pt_map) = match sdp::answer_for_caller(&self.caller.offer, &seat_answer) {
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
        self.caller.respond(&self.io, 200, Some(caller_sdp)).await;
        self.media.caller_audio = Some(negotiated);
        self.far_audio = sdp::negotiate(&seat_answer)
            .ok()
            .map(|n| (n.audio.codec, n.audio.pt));
        self.start_media(
            self.caller.offer.audio_rtp_addr(),
            seat_answer.audio_rtp_addr(),
            pt_map,
        );
        self.answered_at = Some(self.io.ctx.clock.now());
        self.answered_instant = Some(Instant::now());
        self.seat = Some(self.legs[leg].seat.clone());
        metrics::histogram!(names::CALL_RING_SECONDS).record(self.started.elapsed().as_secs_f64());
        info!(seat = %self.legs[leg].seat, "call connected");
        if let Some((by, unit)) = self.own_call_to_unit() {
            self.io.ctx.handoffs.unit_answered(by, &unit);
        }
        self.publish(LineState::Connected);
        let open = self.facts.open_call(self.seat.clone(), self.answered_at);
        self.io.open(open).await;
    }

    fn start_media(&mut self, caller: Option<SocketAddr>, seat: Option<SocketAddr>, pt_map: PtMap) {
        if let (Some(a), Some(b)) = (
            self.media.caller_socket.take(),
            self.media.seat_socket.take(),
        ) {
            let caller_keys = self
                .media
                .caller_audio
                .as_ref()
                .and_then(|n| n.telephone_event);
            self.media.hub = Some(Hub::bridged(
                HubLeg {
                    socket: a,
                    remote: caller,
                    telephone_event: caller_keys,
                },
                HubLeg {
                    socket: b,
                    remote: seat,
                    telephone_event: None,
                },
                pt_map,
                Some(self.media.hub_events.clone()),
            ));
        }
    }

    /// Hands the answered party to call `peer` (an attended transfer): a new RTP port of ours
    /// exchanges its audio with the peer's port, in the peer's codec (mixed when the codecs
    /// differ, so the hub transcodes); the caller (the seat that made this call) is let go.
    async fn splice(
        &mut self,
        peer: super::CallId,
        offer: super::SpliceOffer,
    ) -> Result<super::SpliceAnswer, u16> {
        let (Some(hub), Some((codec, pt)), None) = (&self.media.hub, self.far_audio, self.peer)
        else {
            return Err(481);
        };
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
        let far = SEAT;
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
        Ok(super::SpliceAnswer {
            owner: self.io.owner,
            addr: std::net::SocketAddr::new(self.io.ctx.media_addr, addr.port()),
            party: seat,
            unit: self.unit.clone(),
        })
    }

    /// The rating question or "thank you", in the caller's codec, instead of the seat.
    fn play_rating(&mut self, sound: RatingSound) {
        let (Some(hub), Some(audio)) = (&self.media.hub, &self.media.caller_audio) else {
            return;
        };
        let name = match sound {
            RatingSound::Question => "rating_question",
            RatingSound::ThankYou => "thank_you",
        };
        let play = self
            .io
            .ctx
            .prompts
            .play(&[name], audio.audio.codec, audio.audio.pt, false);
        hub.play(CALLER, play);
        if sound == RatingSound::Question {
            self.publish(LineState::Rating);
        }
    }

    fn publish(&self, state: LineState) {
        self.io.ctx.board.update(
            self.io.owner,
            LineView {
                id: self.facts.id.clone(),
                trunk: self.facts.trunk.clone(),
                caller: self.facts.caller.clone(),
                called: self.facts.called.clone(),
                seat: self.seat.clone(),
                state,
                media: self.media.reported,
            },
        );
    }

    /// Publishes media counters and adds what moved since the last report to the metrics.
    fn report_media(&mut self) {
        let Some(hub) = &self.media.hub else {
            return;
        };
        let now = hub.line_stats(CALLER, SEAT);
        report_relayed(&self.media.reported, &now);
        self.media.reported = now;
        self.publish(if self.answered_at.is_some() {
            LineState::Connected
        } else {
            LineState::Ringing
        });
    }

    async fn finish(mut self, outcome: Outcome) {
        self.report_media();
        if let Some(seat) = &self.placed_by {
            self.io.ctx.handoffs.seat_off(seat, self.io.owner);
        }
        // A hunt that ended unanswered: with a contact failure, its hand-off is unreachable.
        if let (Some(_), None, Some((by, unit))) =
            (&self.hunt, self.answered_at, self.own_call_to_unit())
        {
            self.io.ctx.handoffs.hunt_exhausted(by, &unit);
        }
        if let Some(hub) = self.media.hub.take() {
            hub.stop().await;
        }
        self.media.caller_socket = None;
        self.media.seat_socket = None;
        self.io.ctx.board.remove(self.io.owner);
        self.io.finished().await;
        if let Some(at) = self.answered_instant {
            metrics::histogram!(names::CALL_DURATION_SECONDS).record(at.elapsed().as_secs_f64());
        }
        let seat = outcome
            .answered_leg
            .and_then(|leg| self.legs.get(leg))
            .map(|l| l.seat.clone());
        let record =
            self.facts
                .record(&self.io.ctx, Ending::from(&outcome), seat, self.answered_at);
        info!(disposition = record.disposition.as_str(), cause = ?record.sip_cause, ended_by = ?record.ended_by, "call finished");
        let legs = [
            Some(super::leg_records::caller(&record)),
            super::leg_records::seat(&record),
        ];
        for leg in legs.into_iter().flatten() {
            self.io.leg(leg).await;
        }
        self.io.record(record).await;
    }
}

/// Adds the packets and bytes relayed between two snapshots (leg A = caller, B = seat).
pub fn report_relayed(before: &LineStats, now: &LineStats) {
    let to_seat = now.b.tx_packets.saturating_sub(before.b.tx_packets);
    let to_caller = now.a.tx_packets.saturating_sub(before.a.tx_packets);
    metrics::counter!(names::RTP_PACKETS_RELAYED_TOTAL, "direction" => "caller_to_seat")
        .increment(to_seat);
    metrics::counter!(names::RTP_PACKETS_RELAYED_TOTAL, "direction" => "seat_to_caller")
        .increment(to_caller);
    metrics::counter!(names::RTP_BYTES_RELAYED_TOTAL, "direction" => "caller_to_seat")
        .increment(now.b.tx_bytes.saturating_sub(before.b.tx_bytes));
    metrics::counter!(names::RTP_BYTES_RELAYED_TOTAL, "direction" => "seat_to_caller")
        .increment(now.a.tx_bytes.saturating_sub(before.a.tx_bytes));
    // Loss and jitter of what each side sends, as the daemon receives it.
    for (direction, before, now) in [
        ("caller_to_seat", &before.a, &now.a),
        ("seat_to_caller", &before.b, &now.b),
    ] {
        metrics::counter!(names::RTP_PACKETS_LOST_TOTAL, "direction" => direction)
            .increment(now.lost.saturating_sub(before.lost));
        if now.rx_packets > before.rx_packets {
            metrics::histogram!(names::RTP_JITTER_SECONDS, "direction" => direction)
                .record(now.jitter_us as f64 / 1e6);
        }
    }
}
