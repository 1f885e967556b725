//! The task that drives a queued call: the daemon answers the caller, greets it and queues it
//! with the ACD; hold music and positions play while it waits; the seats the ACD offers are
//! rung, and the first phone to answer is bridged to the caller in the media hub.

mod consult;
mod hunting;
mod seat;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn, Instrument};

use super::answered_media::AnsweredMedia;
use super::board::{LineState, LineView};
use super::caller_leg::CallerLeg;
use super::facts::{refuse_early, CallFacts, Ending};
use super::in_dialog::{self, InDialog};
use super::io::CallIo;
use super::outbound_leg::OutboundLeg;
use super::queue_record::QueueRecord;
use super::queued::{AcdNote, Action, Input, QueuedCall, Sound};
use super::task::{report_relayed, MEDIA_REPORT};
use super::{CallContext, CallEvent, CallSetup};
use crate::call::consult::{ConsultAction, ConsultInput, Media};
use crate::call::hunt::HuntInput;
use crate::clock::wall_time;
use crate::features::in_call::InCallKeys;
use crate::handoff::Cue;
use crate::media::dtmf::parse_info;
use crate::media::hub::{HubEvent, HubHandle, HubLeg};
use crate::media::prompts::position_announcement;
use crate::media::sdp::{self, build_offer, Direction, LocalMedia, Negotiated, SdpParams};
use crate::media::{LineStats, PtMap, RtpSocket};
use crate::queue::Notice;
use crate::queue::{AcdInput, CallId, OfferFailure, QueueEvent, SeatId};
use crate::ratings::RatingOutcome;
use crate::sip::build;
use crate::sip::ids;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{ClientKey, ServerKey};
use crate::store::{CallRecord, CallbackRequest, LegRecord, Record};
use crate::timer::far_future;

const CALLER: usize = 0;

struct Driver {
    io: CallIo,
    facts: CallFacts,
    call: CallId,
    queue: String,
    priority: u8,
    caller: CallerLeg,
    /// The caller's codec; seats are offered only this, so nothing is transcoded.
    negotiated: Negotiated,
    local: LocalMedia,
    hub: HubHandle,
    legs: Vec<OutboundLeg>,
    /// The RTP socket waiting for each offered seat, until it answers or the offer ends.
    offer_sockets: HashMap<String, RtpSocket>,
    /// The hub leg of the seat that answered.
    seat_leg: Option<usize>,
    record: QueueRecord,
    reported: LineStats,
    answered_at: Option<SystemTime>,
    connected_at: Option<Instant>,
    seat: Option<String>,
    /// The seat's keys in the call, collected into its in-call codes.
    keys: InCallKeys,
    /// The SIP leg (index into `legs`) of the seat that answered, and its payload types.
    seat_sip_leg: Option<usize>,
    seat_media: Option<(u8, Option<u8>)>,
    /// Whether the caller's or the seat's phone holds the call (its last re-INVITE).
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
    /// The hunt through a unit's contacts under way.
    hunt: Option<hunting::UnitHunt>,
    /// A hunt started (true) or ended: the machine is told on the next turn.
    hunting_changed: Option<bool>,
}

/// Which leg a request came in on.
#[derive(Debug, Clone, Copy)]
enum Party {
    Caller,
    Seat(usize),
    Unit(usize),
}

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
        match Driver::prepare(setup, io, facts, hub_tx).await {
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

type Refused = Box<(CallIo, CallFacts, ServerKey, Response)>;

impl Driver {
    async fn prepare(
        setup: CallSetup,
        io: CallIo,
        facts: CallFacts,
        hub_events: mpsc::UnboundedSender<HubEvent>,
    ) -> Result<Driver, Refused> {
        let refuse = |io: CallIo, facts: CallFacts, status: u16| {
            let response = build::response(&setup.invite, status, Some(&ids::tag()));
            Err(Box::new((io, facts, setup.key.clone(), response)))
        };
        let (queue, priority) = setup.queue.clone().unwrap_or_default();
        let media = match super::answered_media::answer(&io, &setup.invite, hub_events).await {
            Ok(media) => media,
            Err(status) => return refuse(io, facts, status),
        };
        let AnsweredMedia {
            offer,
            negotiated,
            local,
            hub,
        } = media;
        let call = setup.owner;
        let caller = CallerLeg::new(
            setup.invite,
            setup.key,
            setup.flow,
            offer,
            facts.called.clone(),
        );
        let keys = InCallKeys::new(io.ctx.in_call.clone());
        let (cues, cue_rx) = mpsc::unbounded_channel();
        Ok(Driver {
            io,
            facts,
            call,
            queue,
            priority,
            caller,
            negotiated,
            local,
            hub,
            legs: Vec::new(),
            offer_sockets: HashMap::new(),
            seat_leg: None,
            record: QueueRecord::default(),
            reported: LineStats::default(),
            answered_at: None,
            connected_at: None,
            seat: None,
            keys,
            seat_sip_leg: None,
            seat_media: None,
            seat_ended: None,
            units: Vec::new(),
            transferred_to: None,
            finished_legs: Vec::new(),
            units_started: 0,
            state: LineState::Ringing,
            handoff: setup.handoff.clone(),
            cues,
            cue_rx: Some(cue_rx),
            last_unit: None,
            hunt: None,
            hunting_changed: None,
        })
    }

    async fn drive(
        mut self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut hub_events: mpsc::UnboundedReceiver<HubEvent>,
    ) {
        let mut notices = self.io.ctx.acd.join(self.call).await;
        let mut machine = QueuedCall::new(self.io.ctx.ratings.clone())
            .with_max_parties(self.io.ctx.in_call.max_parties)
            .with_unit_ring_timeout(self.io.ctx.in_call.unit_ring_timeout);
        self.caller.bind(&self.io).await;
        self.io.open(self.facts.open_call(None, None)).await;
        // Offered to a queue: the call has its row before the daemon answers it.
        self.io.committed().await;
        self.publish(LineState::Ringing);
        let mut report = tokio::time::interval(MEDIA_REPORT);
        let (_, idle) = mpsc::unbounded_channel();
        let mut cues = self.cue_rx.take().unwrap_or(idle);
        loop {
            // The call's machine and the hunt feed each other: run both until neither has more.
            loop {
                let mut progressed = false;
                while let Some(action) = machine.poll_action() {
                    if let Action::Finished(outcome) = action {
                        self.hunt_input(HuntInput::Stop);
                        self.run_hunt(&mut machine).await;
                        self.finish(outcome).await;
                        return;
                    }
                    progressed = true;
                    self.act(action, &mut machine).await;
                }
                progressed |= self.run_hunt(&mut machine).await;
                if !progressed {
                    break;
                }
            }
            let deadline = machine.poll_timeout();
            let hunt_deadline = self.hunt_timeout();
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
                    HubEvent::Digit { leg, digit } if Some(leg) == self.seat_leg => self.seat_key(digit, &mut machine),
                    _ => {}
                },
                Some(notice) = notices.recv() => self.on_notice(notice, &mut machine).await,
                Some(cue) = cues.recv() => self.on_cue(cue),
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    machine.handle_timeout(Instant::now());
                }
                _ = sleep_until(hunt_deadline.unwrap_or_else(far_future)), if hunt_deadline.is_some() => {
                    self.hunt_due();
                }
                _ = report.tick() => self.report_media(),
            }
        }
    }

    async fn on_notice(&mut self, notice: Notice, machine: &mut QueuedCall) {
        let now = Instant::now();
        match notice {
            Notice::Offer { seat, .. } => self.offer(seat, machine).await,
            Notice::CancelOffer { seat } => {
                machine.handle(
                    now,
                    Input::CancelOffer {
                        seat: seat.to_string(),
                    },
                );
                self.offer_sockets.remove(seat.as_str());
            }
            Notice::Position(n) => machine.handle(now, Input::Position(n)),
            Notice::Overflow(to) => machine.handle(now, Input::Overflow(to)),
            Notice::Connected { .. } => {}
            Notice::Event(event) => self.on_queue_event(event),
            Notice::Refused(reason) => debug!(reason, "ACD refused an input about this call"),
        }
    }

    /// Rings every phone of the offered seat, from one RTP port reserved for that seat.
    async fn offer(&mut self, seat: SeatId, machine: &mut QueuedCall) {
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
        let display = self
            .caller
            .invite
            .headers
            .get("From")
            .and_then(|f| crate::sip::headers::NameAddr::parse(f).ok())
            .and_then(|a| a.display);
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
        machine.handle(
            Instant::now(),
            Input::Offer {
                seat: seat.to_string(),
                legs: ids,
            },
        );
    }

    fn on_queue_event(&mut self, event: QueueEvent) {
        let at = wall_time(self.io.ctx.clock.as_ref(), event.at);
        self.record.on_event(at, event.kind);
    }

    async fn on_event(&mut self, now: Instant, event: CallEvent, machine: &mut QueuedCall) {
        match event {
            // Answered at once, a CANCEL can only race our 200; the BYE that follows ends it.
            CallEvent::Cancelled | CallEvent::Ack { .. } => {}
            CallEvent::AckTimeout => machine.handle(now, Input::CallerAckTimeout),
            CallEvent::Shutdown => machine.handle(now, Input::Shutdown),
            // A queued call is never the one whose party is taken over.
            CallEvent::Splice { reply, .. } => {
                let _ = reply.send(Err(481));
            }
            CallEvent::PeerGone => {
                if let Some(i) = self.units.iter().position(|u| u.peer.is_some()) {
                    // It is gone: nobody to tell.
                    self.units[i].peer = None;
                    self.end_unit(i, "bye_by_them");
                    machine.handle(now, Input::UnitBye);
                }
            }
            CallEvent::Response { key, response } => {
                self.on_response(now, key, response, machine).await
            }
            CallEvent::Request { key, request, ess } => {
                let leg = if ess.call_id == self.caller.call_id() {
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
                self.on_request(now, key, request, leg, machine).await;
            }
        }
    }

    async fn on_response(
        &mut self,
        now: Instant,
        key: ClientKey,
        response: Response,
        machine: &mut QueuedCall,
    ) {
        if key.method != Method::Invite {
            return;
        }
        if let Some(i) = self
            .units
            .iter()
            .position(|u| u.leg.as_ref().is_some_and(|l| l.key == key))
        {
            self.on_unit_response(i, response, machine).await;
            return;
        }
        let Some(leg) = self.legs.iter().position(|l| l.key == key) else {
            return;
        };
        if response.is_provisional() {
            return;
        }
        if response.is_success() {
            if self.legs[leg].is_answered() {
                return;
            }
            let usable = self.legs[leg].on_answer(response).is_ok()
                && self.legs[leg]
                    .answer_sdp
                    .as_ref()
                    .and_then(|a| sdp::negotiate(a).ok())
                    .is_some_and(|n| n.audio.codec == self.negotiated.audio.codec);
            if usable {
                machine.handle(now, Input::SeatAnswered { leg });
            } else {
                // Answered with something we cannot bridge: ACK it, hang it up, the ACD tries on.
                self.legs[leg].ack(&self.io).await;
                self.legs[leg].bye(&self.io).await;
                machine.handle(now, Input::SeatFailed { leg, status: 488 });
            }
        } else {
            machine.handle(
                now,
                Input::SeatFailed {
                    leg,
                    status: response.status,
                },
            );
        }
    }

    async fn on_request(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        leg: Party,
        machine: &mut QueuedCall,
    ) {
        let ours = match leg {
            Party::Caller => self.caller.answer_sdp.clone(),
            Party::Seat(i) => Some(self.legs[i].our_sdp().to_string()),
            Party::Unit(i) => self.units[i].leg.as_ref().map(|l| l.our_sdp().to_string()),
        };
        let caller = &self.caller;
        let io = &self.io;
        let decorate = |r: &mut Response| caller.decorate(io, r);
        match in_dialog::answer(io, key, request, ours.as_deref(), decorate).await {
            InDialog::Bye => match leg {
                Party::Caller => machine.handle(now, Input::CallerBye),
                Party::Seat(leg) => {
                    if Some(leg) == self.seat_sip_leg && self.seat_ended.is_none() {
                        self.seat_ended = Some(("bye_by_them", self.io.ctx.clock.now()));
                        self.seat_off();
                    }
                    machine.handle(now, Input::SeatBye { leg })
                }
                Party::Unit(i) => {
                    self.end_unit(i, "bye_by_them");
                    machine.handle(now, Input::UnitBye)
                }
            },
            InDialog::Refresh(addr, direction) => {
                let hub_leg = match leg {
                    Party::Caller => Some(CALLER),
                    Party::Seat(_) => self.seat_leg,
                    Party::Unit(i) => self.units[i].hub_leg,
                };
                if let (Some(hub_leg), Some(addr)) = (hub_leg, addr) {
                    self.hub.set_remote(hub_leg, addr);
                }
                self.on_hold(leg, !direction.receives(), machine);
            }
            InDialog::Refer(key, request) => match leg {
                Party::Seat(i) if Some(i) == self.seat_sip_leg => {
                    self.on_refer(key, request, machine).await
                }
                _ => in_dialog::refuse_refer(&self.io, key, &request).await,
            },
            InDialog::Info(info) => {
                let ctype = info.headers.get("Content-Type").unwrap_or("");
                if let Ok(digit) = parse_info(ctype, &info.body) {
                    match leg {
                        Party::Caller => machine.handle(now, Input::Digit(digit)),
                        Party::Seat(_) => self.seat_key(digit, machine),
                        Party::Unit(_) => {}
                    }
                }
            }
            _ => {}
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

    /// Hangs up seat leg `leg`; for the seat that served, the time its leg ended is kept.
    async fn bye_seat(&mut self, leg: usize) {
        if Some(leg) == self.seat_sip_leg && self.seat_ended.is_none() {
            self.seat_ended = Some(("bye_by_us", self.io.ctx.clock.now()));
            self.seat_off();
        }
        self.legs[leg].bye(&self.io).await
    }

    /// A re-INVITE that holds (the peer will not receive: sendonly, inactive) or resumes.
    fn on_hold(&mut self, leg: Party, held: bool, machine: &mut QueuedCall) {
        let input = match leg {
            Party::Caller => ConsultInput::CallerHold(held),
            Party::Seat(i) if Some(i) == self.seat_sip_leg => ConsultInput::SeatHold(held),
            _ => return,
        };
        info!(?leg, held, "hold");
        machine.handle(Instant::now(), Input::Consult(input));
    }

    async fn act(&mut self, action: Action, machine: &mut QueuedCall) {
        match action {
            Action::Answer => {
                let sdp = sdp::build_answer(self.local, &self.negotiated, Direction::SendRecv);
                self.caller.respond(&self.io, 200, Some(sdp)).await;
            }
            Action::Play(sound) => {
                if sound == Sound::RatingQuestion {
                    self.publish(LineState::Rating);
                }
                self.play(sound, machine)
            }
            Action::Acd(note) => self.tell_acd(note).await,
            Action::Ring(leg) => self.legs[leg].ring(&self.io).await,
            Action::Cancel(leg) => self.legs[leg].cancel(&self.io).await,
            Action::Connect(leg) => self.connect(leg).await,
            Action::AckAndHangUp(leg) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.ack(&self.io).await;
                    l.bye(&self.io).await;
                }
            }
            Action::ByeCaller => self.caller.bye(&self.io).await,
            Action::ByeSeat(leg) => self.bye_seat(leg).await,
            Action::CommitRating(outcome) => {
                let kept = self.commit_rating(outcome).await;
                machine.handle(
                    Instant::now(),
                    if kept {
                        Input::RatingCommitted
                    } else {
                        Input::RatingLost
                    },
                );
            }
            Action::Consult(action) => {
                let state = match &action {
                    ConsultAction::Media(Media::CallerHolds | Media::SeatWithUnit) => {
                        Some(LineState::Consulting)
                    }
                    ConsultAction::Media(Media::AllThree) => Some(LineState::ThreeWay),
                    ConsultAction::Media(Media::CallerWithUnit) => Some(LineState::WithUnit),
                    _ => None,
                };
                self.consult_action(action, machine).await;
                if let Some(state) = state {
                    self.publish(state);
                }
            }
            Action::Finished(_) => {}
        }
    }

    fn play(&mut self, sound: Sound, machine: &mut QueuedCall) {
        let names: Vec<&'static str> = match sound {
            Sound::Welcome => vec!["welcome"],
            Sound::Hold => vec!["hold_music"],
            Sound::Position(n) => match position_announcement(n as u32) {
                Some(names) => names,
                None => {
                    // Nothing to say for this position: straight back to the music.
                    machine.handle(Instant::now(), Input::PlaybackDone);
                    return;
                }
            },
            Sound::AllBusy => vec!["all_busy"],
            Sound::CallbackOffer => vec!["callback_offer"],
            Sound::CallbackRecorded => vec!["callback_recorded"],
            Sound::RatingQuestion => vec!["rating_question"],
            Sound::ThankYou => vec!["thank_you"],
        };
        let looping = sound == Sound::Hold;
        let audio = self.negotiated.audio;
        self.hub.play(
            CALLER,
            self.io
                .ctx
                .prompts
                .play(&names, audio.codec, audio.pt, looping),
        );
    }

    async fn tell_acd(&mut self, note: AcdNote) {
        let call = self.call;
        let input = match note {
            AcdNote::Enqueue => AcdInput::Enqueue {
                call,
                queue: self.queue.clone(),
                priority: self.priority,
            },
            AcdNote::Answered { seat } => AcdInput::OfferAnswered {
                call,
                seat: seat.into(),
            },
            AcdNote::Failed { seat, status } => {
                self.offer_sockets.remove(&seat);
                AcdInput::OfferFailed {
                    call,
                    seat: seat.into(),
                    reason: OfferFailure::from_status(status),
                }
            }
            AcdNote::Abandoned => AcdInput::Abandon { call },
            AcdNote::Ended { seat } => AcdInput::CallEnded { seat: seat.into() },
            AcdNote::CallbackRequested => {
                let request = CallbackRequest {
                    id: format!("cb-{}", ids::tag()),
                    call_id: self.facts.id.clone(),
                    number: self.facts.caller.clone(),
                    queue: self.queue.clone(),
                    requested_at: self.io.ctx.clock.now(),
                };
                info!(number = %request.number, "callback requested");
                if let Err(error) = self.io.ctx.writer.submit(Record::Callback(request)).await {
                    warn!(%error, "callback request not queued");
                }
                AcdInput::CallbackRequested { call }
            }
        };
        self.io.ctx.acd.input(input).await;
    }

    /// Writes the caller's rating and waits until the store has committed it: only then may the
    /// caller hear "thank you".
    async fn commit_rating(&self, outcome: RatingOutcome) -> bool {
        super::rating_commit::commit(
            &self.io,
            &self.facts.id,
            self.seat.clone(),
            self.transferred_to.clone(),
            outcome,
        )
        .await
    }

    async fn connect(&mut self, leg: usize) {
        self.legs[leg].ack(&self.io).await;
        let seat = self.legs[leg].seat.clone();
        let Some(socket) = self.offer_sockets.remove(&seat) else {
            return;
        };
        let answer = self.legs[leg]
            .answer_sdp
            .as_ref()
            .and_then(|a| sdp::negotiate(a).ok());
        let remote = answer.as_ref().and_then(|a| a.remote);
        let mut map = PtMap::identity();
        if let Some(a) = &answer {
            map = map.with(self.negotiated.audio.pt, a.audio.pt);
            if let (Some(ours), Some(theirs)) = (self.negotiated.telephone_event, a.telephone_event)
            {
                map = map.with(ours, theirs);
            }
        }
        let hub_leg = self.hub.add_leg(HubLeg {
            socket,
            remote,
            telephone_event: answer.as_ref().and_then(|a| a.telephone_event),
        });
        self.hub.bridge(CALLER, hub_leg, map);
        // The seat's keys are its in-call codes, not for the caller's ears.
        self.hub.keep_keys(hub_leg);
        self.seat_leg = Some(hub_leg);
        self.seat_sip_leg = Some(leg);
        self.seat_media = answer.as_ref().map(|a| (a.audio.pt, a.telephone_event));
        self.seat = Some(seat.clone());
        self.answered_at = Some(self.io.ctx.clock.now());
        self.connected_at = Some(Instant::now());
        info!(%seat, "queued call connected");
        self.io
            .ctx
            .handoffs
            .seat_on(&seat, self.call, self.cues.clone());
        if let Some(category) = self.handoff.clone() {
            self.mark_handoff(&category);
        }
        self.publish(LineState::Connected);
        let open = self.facts.open_call(self.seat.clone(), self.answered_at);
        self.io.open(open).await;
    }

    /// Every leg of the call with its role, times and end: the caller, the seat that served
    /// (which may have left early, in a transfer), and each unit contact consulted.
    async fn record_legs(
        io: &CallIo,
        call: &CallRecord,
        seat_ended: Option<(&'static str, SystemTime)>,
        units: Vec<LegRecord>,
    ) {
        let mut legs = vec![super::leg_records::caller(call)];
        if let Some(mut seat) = super::leg_records::seat(call) {
            if let Some((how, at)) = seat_ended {
                seat.ended_how = how.to_string();
                seat.ended_at = at;
            }
            legs.push(seat);
        }
        legs.extend(units);
        for leg in legs {
            io.leg(leg).await;
        }
    }

    fn publish(&mut self, state: LineState) {
        self.state = state.clone();
        self.io.ctx.board.update(
            self.io.owner,
            LineView {
                id: self.facts.id.clone(),
                trunk: self.facts.trunk.clone(),
                caller: self.facts.caller.clone(),
                called: self.facts.called.clone(),
                seat: self.seat.clone(),
                state,
                media: self.reported,
            },
        );
    }

    fn report_media(&mut self) {
        let now = LineStats {
            a: self.hub.stats(CALLER),
            b: self.seat_leg.map(|l| self.hub.stats(l)).unwrap_or_default(),
        };
        report_relayed(&self.reported, &now);
        self.reported = now;
        self.publish(self.state.clone());
    }

    async fn finish(mut self, outcome: super::queued::Outcome) {
        self.report_media();
        self.seat_off();
        self.release_unit(&outcome);
        self.io.ctx.acd.leave(self.call).await;
        self.hub.stop().await;
        self.offer_sockets.clear();
        self.io.ctx.board.remove(self.io.owner);
        self.io.finished().await;
        if let Some(at) = self.connected_at {
            metrics::histogram!(crate::metrics::names::CALL_DURATION_SECONDS)
                .record(at.elapsed().as_secs_f64());
        }
        let mut record = self.facts.record(
            &self.io.ctx,
            Ending::from(&outcome),
            outcome.seat.clone(),
            self.answered_at,
        );
        let queue = std::mem::take(&mut self.record);
        record.queue = Some(queue.finish(
            &self.queue,
            self.facts.offered_at,
            record.ended_at,
            &outcome,
        ));
        info!(disposition = record.disposition.as_str(), seat = ?record.seat, "queued call finished");
        Self::record_legs(&self.io, &record, self.seat_ended, self.finished_legs).await;
        self.io.record(record).await;
    }
}
