//! The one call driver: a task per call that owns the caller's leg, the legs the call places,
//! its media hub, its records and its line on the board, and runs the call's [`Logic`] (a ring
//! route, a seat's own call, a queued call) through one sans-IO interface. It turns SIP events,
//! the hub's events, the ACD's notices and time into the logic's inputs, and the logic's
//! actions into SIP messages, media and records.
//!
//! A queued call is answered by the daemon at once and offered to the seats the ACD chooses,
//! one RTP port per offered seat, in the caller's codec. A ring route (and a seat's own call)
//! rings its legs from one RTP port and answers the caller only when a leg answers, in the
//! codec that leg chose. Either way the caller is leg 0 of the hub and the answering leg is
//! bridged with it; consultations, transfers and hunts add legs to the same hub.
//!
//! Its parts: `actions` carries out the logic's actions, `consult` and `hunting` the seat's
//! reach for a unit, `seat` the seat's keys and hand-off, `ring` what a call answered late
//! (a ring route, a seat's own call) has of its own, `survey` a call the daemon places to a
//! citizen (a return-visit survey's), `finish` the record and the board.

mod actions;
mod consult;
mod finish;
mod hearing;
mod hunting;
mod placed;
mod recording;
mod ring;
mod seat;
mod supervision;
mod supervisor_dial;
mod survey;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, Instrument};

pub use finish::{report_relayed, MEDIA_REPORT};
pub use supervisor_dial::dial_supervisor;
pub use survey::{dial_survey, SurveyDial};

use super::answered_media::AnsweredMedia;
use super::board::LineState;
use super::caller_leg::CallerLeg;
use super::facts::{refuse_early, CallFacts};
use super::in_dialog::{self, InDialog};
use super::io::CallIo;
use super::logic::feature::FeatureCall;
use super::logic::queued::QueuedCall;
use super::logic::ring::{CallMachine, Timeouts};
use super::logic::supervise::SupervisorCall;
use super::logic::{Input, Logic, Outcome};
use super::outbound_leg::OutboundLeg;
use super::queue_record::QueueRecord;
use super::{CallContext, CallEvent, CallSetup};
use crate::call::consult::ConsultInput;
use crate::call::hunt::HuntInput;
use crate::call_id::CallId;
use crate::clock::wall_time;
use crate::features::in_call::InCallKeys;
use crate::handoff::Cue;
use crate::media::dtmf::parse_info;
use crate::media::hub::{HubEvent, HubHandle};
use crate::media::sdp::{
    self, build_offer, Direction, LocalMedia, Negotiated, SdpParams, SessionDescription,
};
use crate::media::{LineStats, RtpSocket};
use crate::queue::{AcdInput, Notice, OfferFailure, QueueEvent, SeatId};
use crate::sip::build;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{ClientKey, ServerKey};
use crate::store::LegRecord;
use crate::timer::far_future;

/// The caller's leg in the call's hub.
const CALLER: usize = 0;

struct Driver {
    io: CallIo,
    facts: CallFacts,
    call: CallId,
    /// A queued call's queue and priority class.
    queue: Option<(String, u8)>,
    /// The trunk caller's leg; none in a call the daemon placed to a citizen (a survey's),
    /// whose leg 0 is then the citizen's.
    caller: Option<CallerLeg>,
    /// The caller's codec: a queued call's from the start, a call answered late from the
    /// answering leg's choice. Units and seats a queued call offers get only this codec.
    negotiated: Negotiated,
    /// Our side of the caller's media.
    local: LocalMedia,
    /// Made when the caller is answered, with the caller as leg 0.
    hub: Option<HubHandle>,
    hub_events: mpsc::UnboundedSender<HubEvent>,
    /// The caller's RTP port until the hub takes it (a call answered late).
    caller_socket: Option<RtpSocket>,
    /// The one RTP port every leg of a ring route offers, until one answers.
    ring_socket: Option<RtpSocket>,
    /// How long a ring route's legs ring.
    ring: Duration,
    legs: Vec<OutboundLeg>,
    /// The RTP socket waiting for each offered seat, until it answers or the offer ends.
    offer_sockets: HashMap<String, RtpSocket>,
    /// The hub leg of the seat that answered.
    seat_leg: Option<usize>,
    record: QueueRecord,
    reported: LineStats,
    answered_at: Option<SystemTime>,
    connected_at: Option<Instant>,
    started: Instant,
    seat: Option<String>,
    /// The seat's keys in the call, collected into its in-call codes.
    keys: InCallKeys,
    /// The SIP leg (index into `legs`) of the seat that answered, and its media.
    seat_sip_leg: Option<usize>,
    seat_audio: Option<SeatAudio>,
    /// When the seat's leg ended before the call did (a transfer), and how.
    seat_ended: Option<(&'static str, SystemTime)>,
    /// The unit a seat is consulting, or the caller was transferred to.
    units: Vec<consult::UnitLeg>,
    transferred_to: Option<String>,
    /// Unit legs already over, to record with the call.
    finished_legs: Vec<LegRecord>,
    /// How many unit legs this call has started: the next one's number.
    units_started: usize,
    /// What the board shows for this line.
    state: LineState,
    /// The route's hand-off category: the call is marked with it when the seat answers.
    handoff: Option<String>,
    /// Where the hand-off service sends cues for the seat while it is on this call.
    cues: mpsc::UnboundedSender<Cue>,
    cue_rx: Option<mpsc::UnboundedReceiver<Cue>>,
    /// The unit whose contact answered last on this call, for `*96`.
    last_unit: Option<String>,
    /// The hunt through a unit's contacts under way (a consultation).
    hunt: Option<hunting::UnitHunt>,
    /// A hunt started (true) or ended: the logic is told on the next turn.
    hunting_changed: Option<bool>,
    /// A call a seat's phone placed itself.
    placed: Option<ring::Placed>,
    /// The call this one is spliced to (an attended transfer took our caller's place).
    peer: Option<CallId>,
    /// A logic made with the call's setup (a feature code, a closed route, a survey's call),
    /// until the call starts.
    preset: Option<Logic>,
    /// Whether the call has a record and a line on the board (a seat's feature call has not).
    records: bool,
    /// The call's recordings.
    recording: recording::Recording,
    /// A supervisor's own call: what was asked, and the seat's call once joined.
    session: Option<crate::call::logic::supervise::Session>,
    supervising: Option<CallId>,
    /// A supervisor on this call.
    supervisor: Option<supervision::Supervisor>,
    /// The seat a supervisor's take-over released (its ACD call has ended already).
    seat_released: Option<String>,
}

/// What the leg that answered speaks, from its answer.
#[derive(Debug, Clone, Copy)]
struct SeatAudio {
    codec: sdp::Codec,
    pt: u8,
    telephone_event: Option<u8>,
}

impl SeatAudio {
    /// Its audio and telephone-event payload types.
    fn pts(self) -> (u8, Option<u8>) {
        (self.pt, self.telephone_event)
    }
}

/// What a call starts with besides its media: from the INVITE that came in, or (with no
/// caller) from a survey's dial.
struct Start {
    call: CallId,
    queue: Option<(String, u8)>,
    ring: Duration,
    handoff: Option<String>,
    logic: Option<Logic>,
    caller: Option<CallerLeg>,
    session: Option<crate::call::logic::supervise::Session>,
}

impl Start {
    /// A call that came in: the caller's leg answers its INVITE.
    fn inbound(setup: CallSetup, offer: SessionDescription, called: String) -> Start {
        let caller = CallerLeg::new(setup.invite, setup.key, setup.flow, offer, called);
        Start {
            call: setup.owner,
            queue: setup.queue,
            ring: setup.ring_timeout,
            handoff: setup.handoff,
            logic: match (setup.feature, setup.supervise.clone()) {
                (Some(purpose), _) => Some(Logic::feature(FeatureCall::new(purpose))),
                (None, Some(session)) => Some(Logic::supervise(SupervisorCall::new(session))),
                (None, None) => None,
            },
            caller: Some(caller),
            session: setup.supervise,
        }
    }
}

/// The caller's side of the media as the call starts.
struct CallerMedia {
    negotiated: Negotiated,
    local: LocalMedia,
    hub: Option<HubHandle>,
}

/// Which leg a request came in on.
#[derive(Debug, Clone, Copy)]
enum Party {
    Caller,
    Seat(usize),
    Unit(usize),
}

/// Runs a call from its INVITE to its record.
pub async fn run(
    setup: CallSetup,
    ctx: Arc<CallContext>,
    events: mpsc::UnboundedReceiver<CallEvent>,
) {
    let (facts, io, span) = CallFacts::start(&setup, ctx);
    async move {
        let (hub_tx, hub_rx) = mpsc::unbounded_channel();
        let answered_now =
            setup.queue.is_some() || setup.feature.is_some() || setup.supervise.is_some();
        let prepared = if answered_now {
            Driver::prepare_answered(setup, io, facts, hub_tx).await
        } else {
            Driver::prepare_ring(setup, io, facts, hub_tx).await
        };
        match prepared {
            Ok(driver) => {
                driver.drive(events, hub_rx).await;
            }
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

fn refusal(setup: &CallSetup, io: CallIo, facts: CallFacts, status: u16) -> Refused {
    let response = build::response(&setup.invite, status, Some(&ids::tag()));
    Box::new((io, facts, setup.key.clone(), response))
}

impl Driver {
    /// The state every call starts with; `prepare_answered`, `prepare_ring` and `dial_survey`
    /// fill in the rest.
    fn new(
        start: Start,
        io: CallIo,
        facts: CallFacts,
        media: CallerMedia,
        hub_events: mpsc::UnboundedSender<HubEvent>,
    ) -> Driver {
        let keys = InCallKeys::new(io.ctx.in_call.clone());
        let (cues, cue_rx) = mpsc::unbounded_channel();
        Driver {
            io,
            facts,
            call: start.call,
            queue: start.queue,
            caller: start.caller,
            negotiated: media.negotiated,
            local: media.local,
            hub: media.hub,
            hub_events,
            caller_socket: None,
            ring_socket: None,
            ring: start.ring,
            legs: Vec::new(),
            offer_sockets: HashMap::new(),
            seat_leg: None,
            record: QueueRecord::default(),
            reported: LineStats::default(),
            answered_at: None,
            connected_at: None,
            started: Instant::now(),
            seat: None,
            keys,
            seat_sip_leg: None,
            seat_audio: None,
            seat_ended: None,
            units: Vec::new(),
            transferred_to: None,
            finished_legs: Vec::new(),
            units_started: 0,
            state: LineState::Ringing,
            handoff: start.handoff,
            cues,
            cue_rx: Some(cue_rx),
            last_unit: None,
            hunt: None,
            hunting_changed: None,
            placed: None,
            peer: None,
            preset: start.logic,
            records: true,
            recording: recording::Recording::default(),
            session: start.session,
            supervising: None,
            supervisor: None,
            seat_released: None,
        }
    }

    /// A queued call, or one the daemon answers itself: the caller's media is set up now, for
    /// the daemon answers it at once.
    async fn prepare_answered(
        setup: CallSetup,
        io: CallIo,
        facts: CallFacts,
        hub_events: mpsc::UnboundedSender<HubEvent>,
    ) -> Result<Driver, Refused> {
        let answered = super::answered_media::answer(&io, &setup.invite, hub_events.clone()).await;
        let AnsweredMedia {
            offer,
            negotiated,
            local,
            hub,
        } = match answered {
            Ok(media) => media,
            Err(status) => return Err(refusal(&setup, io, facts, status)),
        };
        let media = CallerMedia {
            negotiated,
            local,
            hub: Some(hub),
        };
        let record = setup.record;
        let start = Start::inbound(setup, offer, facts.called.clone());
        let mut driver = Driver::new(start, io, facts, media, hub_events);
        driver.recording.wanted = record;
        driver.start_recording();
        Ok(driver)
    }

    /// The call's logic, as its setup decided.
    fn logic(&mut self) -> Logic {
        if let Some(logic) = self.preset.take() {
            return logic;
        }
        let ctx = &self.io.ctx;
        if self.queue.is_some() {
            return Logic::queued(
                QueuedCall::new(ctx.ratings.clone())
                    .with_max_parties(ctx.in_call.max_parties)
                    .with_unit_ring_timeout(ctx.in_call.unit_ring_timeout),
            );
        }
        let timeouts = Timeouts {
            ring: self.ring,
            no_response: ctx.no_response,
        };
        let now = Instant::now();
        let machine = match self.placed.as_ref().and_then(|p| p.plan.as_ref()) {
            Some(plan) => {
                info!(unit = %plan.unit, attempts = plan.attempts.len(), "hunting the unit's contacts");
                CallMachine::hunting(now, plan.attempts.len(), plan.hunting, timeouts)
            }
            None => CallMachine::new(now, self.legs.len(), timeouts),
        };
        // A seat's own call asks for no rating.
        let rating = ctx.ratings.clone().filter(|_| self.placed.is_none());
        Logic::ring(machine.with_rating(rating))
    }

    /// Runs the call to its end; returns how it ended.
    async fn drive(
        mut self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut hub_events: mpsc::UnboundedReceiver<HubEvent>,
    ) -> Outcome {
        let (_idle_tx, idle) = mpsc::unbounded_channel();
        let mut notices = match self.queue {
            Some(_) => self.io.ctx.acd.join(self.call).await,
            None => idle,
        };
        let mut logic = self.logic();
        self.records = logic.records();
        if let Some(caller) = &self.caller {
            caller.bind(&self.io).await;
        }
        if self.records {
            self.io.open(self.facts.open_call(None, None)).await;
        }
        if self.queue.is_some() {
            // Offered to a queue: the call has its row before the daemon answers it.
            self.io.committed().await;
        }
        self.publish(LineState::Ringing);
        self.placed_call_starts();
        let mut report = tokio::time::interval(MEDIA_REPORT);
        let (_, idle) = mpsc::unbounded_channel();
        let mut cues = self.cue_rx.take().unwrap_or(idle);
        loop {
            // The call's logic and the hunt feed each other: run both until neither has more.
            loop {
                let mut progressed = false;
                while let Some(action) = logic.poll_action() {
                    if let super::logic::Action::Finished(outcome) = action {
                        self.hunt_input(HuntInput::Stop);
                        self.run_hunt(&mut logic).await;
                        self.finish(outcome.clone()).await;
                        return outcome;
                    }
                    progressed = true;
                    self.act(action, &mut logic).await;
                }
                progressed |= self.run_hunt(&mut logic).await;
                if !progressed {
                    break;
                }
            }
            let deadline = logic.poll_timeout();
            let hunt_deadline = self.hunt_timeout();
            // Biased, events first: an answer already queued is taken before a deadline that
            // fell due while the daemon was busy (a seat that answered is never "unreachable"
            // because the daemon was slow to read it).
            tokio::select! {
                biased;
                event = events.recv() => {
                    let now = Instant::now();
                    match event {
                        Some(event) => self.on_event(now, event, &mut logic).await,
                        None => logic.handle(now, Input::Shutdown),
                    }
                }
                Some(event) = hub_events.recv() => match event {
                    HubEvent::PlaybackDone { leg: CALLER } => logic.handle(Instant::now(), Input::PlaybackDone),
                    HubEvent::Digit { leg: CALLER, digit } => logic.handle(Instant::now(), Input::Digit(digit)),
                    HubEvent::Digit { leg, digit } if Some(leg) == self.seat_leg => self.seat_key(digit, &mut logic),
                    _ => {}
                },
                Some(notice) = notices.recv() => self.on_notice(notice, &mut logic).await,
                Some(cue) = cues.recv() => self.on_cue(cue),
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    logic.handle_timeout(Instant::now());
                }
                _ = sleep_until(hunt_deadline.unwrap_or_else(far_future)), if hunt_deadline.is_some() => {
                    self.hunt_due();
                }
                _ = report.tick() => self.report_media(),
            }
        }
    }

    async fn on_notice(&mut self, notice: Notice, logic: &mut Logic) {
        let now = Instant::now();
        match notice {
            Notice::Offer { seat, .. } => self.offer(seat, logic).await,
            Notice::CancelOffer { seat } => {
                logic.handle(
                    now,
                    Input::CancelOffer {
                        seat: seat.to_string(),
                    },
                );
                self.offer_sockets.remove(seat.as_str());
            }
            Notice::Position(n) => logic.handle(now, Input::Position(n)),
            Notice::Overflow(to) => logic.handle(now, Input::Overflow(to)),
            Notice::Connected { .. } => {}
            Notice::Event(event) => self.on_queue_event(event),
            Notice::Refused(reason) => debug!(reason, "ACD refused an input about this call"),
        }
    }

    /// Rings every phone of the offered seat, from one RTP port reserved for that seat.
    async fn offer(&mut self, seat: SeatId, logic: &mut Logic) {
        let bindings = self.io.bindings(seat.as_str()).await;
        let socket = match self.io.ctx.rtp.allocate().await {
            Ok(socket) if !bindings.is_empty() => socket,
            _ => {
                self.io
                    .ctx
                    .acd
                    .input(AcdInput::OfferFailed {
                        call: self.call,
                        seat,
                        reason: OfferFailure::Unreachable,
                    })
                    .await;
                return;
            }
        };
        let sdp = self.offer_on(&socket);
        self.offer_sockets.insert(seat.to_string(), socket);
        let display = self.caller_display();
        let mut ids = Vec::new();
        for binding in &bindings {
            ids.push(self.legs.len());
            self.legs.push(OutboundLeg::to_seat(
                &self.io.ctx,
                binding,
                &self.facts.caller,
                display.as_deref(),
                &sdp,
            ));
        }
        logic.handle(
            Instant::now(),
            Input::Offer {
                seat: seat.to_string(),
                legs: ids,
            },
        );
    }

    /// The caller's display name, shown on the phones the call rings.
    fn caller_display(&self) -> Option<String> {
        self.caller
            .as_ref()?
            .invite
            .headers
            .get("From")
            .and_then(|f| crate::sip::headers::NameAddr::parse(f).ok())
            .and_then(|a| a.display)
    }

    fn on_queue_event(&mut self, event: QueueEvent) {
        let at = wall_time(self.io.ctx.clock.as_ref(), event.at);
        self.record.on_event(at, event.kind);
    }

    async fn on_event(&mut self, now: Instant, event: CallEvent, logic: &mut Logic) {
        match event {
            CallEvent::Cancelled => logic.handle(now, Input::CallerCancelled),
            CallEvent::Ack { .. } => {}
            CallEvent::AckTimeout => logic.handle(now, Input::CallerAckTimeout),
            CallEvent::Shutdown => logic.handle(now, Input::Shutdown),
            CallEvent::Splice { peer, offer, reply } => {
                let answer = if logic.splices() {
                    self.splice(peer, offer).await
                } else {
                    Err(481)
                };
                let spliced = answer.is_ok();
                let _ = reply.send(answer);
                if spliced {
                    logic.handle(now, Input::Spliced);
                }
            }
            CallEvent::Supervise {
                from,
                supervisor,
                mode,
                offer,
                reply,
            } => {
                self.on_supervise(from, supervisor, mode, offer, reply)
                    .await
            }
            CallEvent::SupervisionMode { from, mode } => self.on_supervision_mode(from, mode).await,
            CallEvent::SupervisorGone { from } => self.on_supervisor_gone(from, logic).await,
            CallEvent::PeerGone => match self.units.iter().position(|u| u.peer.is_some()) {
                Some(i) => {
                    // The unit's call is gone: nobody to tell.
                    self.units[i].peer = None;
                    self.end_unit(i, "bye_by_them");
                    logic.handle(now, Input::UnitBye);
                }
                None => logic.handle(now, Input::PeerGone),
            },
            CallEvent::Response { key, response } => {
                self.on_response(now, key, response, logic).await
            }
            CallEvent::Request { key, request, ess } => {
                let leg = if self.callers(&ess.call_id) {
                    Party::Caller
                } else if let Some(i) = self.legs.iter().position(|l| l.owns(&ess.call_id)) {
                    Party::Seat(i)
                } else if let Some(i) = self
                    .units
                    .iter()
                    .position(|u| u.leg.as_ref().is_some_and(|l| l.owns(&ess.call_id)))
                {
                    Party::Unit(i)
                } else {
                    self.io
                        .respond(key, build::response(&request, 481, None))
                        .await;
                    return;
                };
                self.on_request(now, key, request, leg, logic).await;
            }
        }
    }

    async fn on_response(
        &mut self,
        now: Instant,
        key: ClientKey,
        response: Response,
        logic: &mut Logic,
    ) {
        if key.method != Method::Invite {
            return;
        }
        if let Some(i) = self
            .units
            .iter()
            .position(|u| u.leg.as_ref().is_some_and(|l| l.key == key))
        {
            self.on_unit_response(i, response, logic).await;
            return;
        }
        let Some(leg) = self.legs.iter().position(|l| l.key == key) else {
            return;
        };
        let status = response.status;
        if response.is_provisional() {
            logic.handle(now, Input::SeatProvisional { leg, status });
        } else if response.is_success() {
            if self.legs[leg].is_answered() {
                return;
            }
            let parsed = self.legs[leg].on_answer(response);
            if let Err(error) = &parsed {
                debug!(%error, leg, "seat answer unusable");
            }
            if parsed.is_ok() && self.answer_fits(leg) {
                logic.handle(now, Input::SeatAnswered { leg });
            } else {
                logic.handle(now, Input::SeatAnswerUnusable { leg });
            }
        } else {
            logic.handle(now, Input::SeatFailed { leg, status });
        }
    }

    /// Whether the caller has had our 200 (and with it our SDP).
    fn caller_answered(&self) -> bool {
        self.caller.as_ref().is_some_and(|c| c.answer_sdp.is_some())
    }

    /// Whether a dialog is the caller's: the trunk caller's, or in a call the daemon placed
    /// to a citizen, the citizen's leg.
    fn callers(&self, call_id: &str) -> bool {
        match &self.caller {
            Some(caller) => caller.call_id() == call_id,
            None => self.legs.first().is_some_and(|l| l.owns(call_id)),
        }
    }

    /// What we last said of our media in the caller's dialog.
    fn callers_sdp(&self) -> Option<String> {
        match &self.caller {
            Some(caller) => caller.answer_sdp.clone(),
            None => self.legs.first().map(|l| l.our_sdp().to_string()),
        }
    }

    /// Whether leg `leg`'s answer can be bridged with the caller: once the caller is
    /// answered, its codec is fixed and the answer must use it; before, the caller's answer
    /// is made from the leg's. With no caller (the citizen's leg of a survey), whether the
    /// call can speak it at all.
    fn answer_fits(&self, leg: usize) -> bool {
        let answer = || {
            self.legs[leg]
                .answer_sdp
                .as_ref()
                .and_then(|a| sdp::negotiate(a).ok())
        };
        if self.caller.is_none() {
            return answer().is_some();
        }
        !self.caller_answered()
            || answer().is_some_and(|n| n.audio.codec == self.negotiated.audio.codec)
    }

    async fn on_request(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        leg: Party,
        logic: &mut Logic,
    ) {
        let ours = match leg {
            Party::Caller => self.callers_sdp(),
            Party::Seat(i) => Some(self.legs[i].our_sdp().to_string()),
            Party::Unit(i) => self.units[i].leg.as_ref().map(|l| l.our_sdp().to_string()),
        };
        let io = &self.io;
        let decorate = |r: &mut Response| match (&self.caller, self.legs.first()) {
            (Some(caller), _) => caller.decorate(io, r),
            (None, Some(citizen)) => citizen.decorate(io, r),
            (None, None) => {}
        };
        match in_dialog::answer(io, key, request, ours.as_deref(), decorate).await {
            InDialog::Bye => match leg {
                Party::Caller => logic.handle(now, Input::CallerBye),
                Party::Seat(leg) => {
                    if Some(leg) == self.seat_sip_leg && self.seat_ended.is_none() {
                        self.seat_ended = Some(("bye_by_them", self.io.ctx.clock.now()));
                        self.seat_off();
                    }
                    logic.handle(now, Input::SeatBye { leg })
                }
                Party::Unit(i) => {
                    self.end_unit(i, "bye_by_them");
                    logic.handle(now, Input::UnitBye)
                }
            },
            InDialog::Refresh(addr, direction) => {
                let hub_leg = match leg {
                    Party::Caller => Some(CALLER),
                    Party::Seat(_) => self.seat_leg,
                    Party::Unit(i) => self.units[i].hub_leg,
                };
                if let (Some(hub), Some(hub_leg), Some(addr)) = (&self.hub, hub_leg, addr) {
                    hub.set_remote(hub_leg, addr);
                }
                self.on_hold(leg, !direction.receives(), logic);
            }
            InDialog::Refer(key, request) => match leg {
                Party::Seat(i) if Some(i) == self.seat_sip_leg && logic.consults() => {
                    self.on_refer(key, request, logic).await
                }
                _ => in_dialog::refuse_refer(&self.io, key, &request).await,
            },
            InDialog::Info(info) => {
                let ctype = info.headers.get("Content-Type").unwrap_or("");
                if let Ok(digit) = parse_info(ctype, &info.body) {
                    match leg {
                        Party::Caller => logic.handle(now, Input::Digit(digit)),
                        Party::Seat(_) => self.seat_key(digit, logic),
                        Party::Unit(_) => {}
                    }
                }
            }
            InDialog::Handled => {}
        }
    }

    /// Our offer to a leg the call places (a seat's phone, a unit), on `socket`: the caller's
    /// codec only, so nothing is transcoded.
    fn offer_on(&self, socket: &RtpSocket) -> String {
        build_offer(&SdpParams {
            local: LocalMedia {
                rtp_port: socket.local_addr().port(),
                ..self.local
            },
            codecs: vec![self.negotiated.audio],
            telephone_event: self.negotiated.telephone_event,
            direction: Direction::SendRecv,
            ptime: self.negotiated.ptime,
        })
    }

    /// A re-INVITE that holds (the peer will not receive: sendonly, inactive) or resumes.
    fn on_hold(&mut self, leg: Party, held: bool, logic: &mut Logic) {
        let input = match leg {
            Party::Caller => ConsultInput::CallerHold(held),
            Party::Seat(i) if Some(i) == self.seat_sip_leg => ConsultInput::SeatHold(held),
            _ => return,
        };
        info!(?leg, held, "hold");
        logic.handle(Instant::now(), Input::Consult(input));
    }
}
