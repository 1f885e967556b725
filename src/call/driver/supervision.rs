//! The driver, supervision (班长) on both sides. A supervisor's own call joins the seat's call
//! through a pair of the daemon's RTP ports (as an attended transfer joins two calls): a link
//! leg in each hub. In the seat's call the link hears caller, seat and units; in whisper the
//! seat also hears the link, in barge everyone does; in take-over the seat is released to
//! wrap-up and the link takes its place, so the call's record, rating and hand-off follow the
//! supervisor. Every session is written as call events of the seat's call: who, which seat,
//! each mode with its time, and its end.

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::info;

use super::{Driver, SeatAudio, CALLER};
use crate::call::logic::{AcdNote, Input, Logic};
use crate::call::{CallEvent, CoreCommand, SpliceAnswer, SpliceOffer};
use crate::call_id::CallId;
use crate::media::hub::{Audio, Gain, HubLeg, LegIndex};
use crate::media::PtMap;
use crate::supervision::Mode;

/// How long a supervisor's call waits for the seat's call to answer its link.
const LINK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A supervisor on this call (the seat's side).
#[derive(Debug)]
pub(super) struct Supervisor {
    /// The supervisor's own call.
    call: CallId,
    name: String,
    /// The link leg in this call's hub.
    link: LegIndex,
    mode: Mode,
    /// The seat released by a take-over: the ACD was told its call ended.
    released: Option<String>,
}

impl Driver {
    /// The supervisor's side: join the seat's call in `mode`, or switch to it.
    pub(super) async fn supervise(&mut self, mode: Mode, logic: &mut Logic) {
        if let Some(target) = self.supervising {
            self.tell(
                target,
                CallEvent::SupervisionMode {
                    from: self.call,
                    mode,
                },
            )
            .await;
            logic.handle(Instant::now(), Input::Supervising(Ok(())));
            return;
        }
        let linked = self.link_to_seat(mode).await;
        logic.handle(Instant::now(), Input::Supervising(linked.map(|_| ())));
    }

    async fn link_to_seat(&mut self, mode: Mode) -> Result<(), u16> {
        let Some(session) = self.session.clone() else {
            return Err(500);
        };
        let (socket, offer) = self.link_port().await.ok_or(503u16)?;
        let (reply, answer) = oneshot::channel();
        let _ = self
            .io
            .ctx
            .core
            .send(CoreCommand::Supervise {
                from: self.call,
                seat: session.seat.clone(),
                supervisor: session.supervisor.clone(),
                mode,
                offer,
                reply,
            })
            .await;
        let answer = match tokio::time::timeout(LINK_WAIT, answer).await {
            Ok(Ok(answer)) => answer?,
            _ => return Err(480),
        };
        let Some(hub) = &self.hub else {
            return Err(500);
        };
        let link = hub.add_leg(HubLeg {
            socket,
            remote: Some(answer.addr),
            telephone_event: None,
        });
        // Both ends of the link speak the supervisor's codec; the supervisor's keys are ours.
        hub.keep_keys(CALLER);
        hub.bridge(CALLER, link, PtMap::identity());
        self.supervising = Some(answer.owner);
        info!(seat = %session.seat, call = %answer.owner, mode = mode.as_str(), "supervising");
        Ok(())
    }

    /// The seat's side: a supervisor asks to join. Refused with 480 when no seat is on the
    /// call, 486 while another session is on.
    pub(super) async fn on_supervise(
        &mut self,
        from: CallId,
        name: String,
        mode: Mode,
        offer: SpliceOffer,
        reply: oneshot::Sender<Result<SpliceAnswer, u16>>,
    ) {
        let answer = self.join_supervisor(from, name, mode, offer).await;
        let joined = answer.is_ok();
        let _ = reply.send(answer);
        if joined {
            self.apply_supervision().await;
        }
    }

    async fn join_supervisor(
        &mut self,
        from: CallId,
        name: String,
        mode: Mode,
        offer: SpliceOffer,
    ) -> Result<SpliceAnswer, u16> {
        if self.supervisor.is_some() {
            return Err(486);
        }
        let (Some(hub), Some(_), Some(seat), None) =
            (&self.hub, self.seat_leg, self.seat.clone(), self.seat_ended)
        else {
            return Err(480);
        };
        let socket = self.io.ctx.rtp.allocate().await.map_err(|_| 503u16)?;
        let port = socket.local_addr().port();
        let link = hub.add_leg(HubLeg {
            socket,
            remote: Some(offer.addr),
            telephone_event: None,
        });
        hub.set_audio(
            link,
            Audio {
                codec: offer.codec,
                pt: offer.pt,
            },
        );
        self.supervisor = Some(Supervisor {
            call: from,
            name: name.clone(),
            link,
            mode,
            released: None,
        });
        self.session_event(
            "supervision_started",
            format!("{name} {seat} {}", mode.as_str()),
        )
        .await;
        info!(supervisor = %name, %seat, mode = mode.as_str(), "supervisor joined");
        Ok(SpliceAnswer {
            owner: self.call,
            addr: std::net::SocketAddr::new(self.io.ctx.media_addr, port),
            party: seat,
            unit: None,
        })
    }

    /// The supervisor switched modes.
    pub(super) async fn on_supervision_mode(&mut self, from: CallId, mode: Mode) {
        let Some(supervisor) = self.supervisor.as_mut().filter(|s| s.call == from) else {
            return;
        };
        if supervisor.mode == mode || supervisor.mode == Mode::TakeOver {
            return;
        }
        supervisor.mode = mode;
        self.session_event("supervision_mode", mode.as_str().to_string())
            .await;
        self.apply_supervision().await;
    }

    /// The supervisor's call ended: nobody hears the link any more. After a take-over the
    /// supervisor was the seat: the call goes on as when a seat hangs up (to the rating).
    pub(super) async fn on_supervisor_gone(&mut self, from: CallId, logic: &mut Logic) {
        let Some(supervisor) = self.supervisor.take_if(|s| s.call == from) else {
            return;
        };
        self.session_event("supervision_ended", supervisor.name.clone())
            .await;
        if let Some(hub) = &self.hub {
            hub.hear(supervisor.link, Vec::new());
            for leg in self.supervised_legs(supervisor.link) {
                hub.also_hear(leg, Vec::new());
            }
        }
        if supervisor.mode == Mode::TakeOver {
            if let Some(leg) = self.seat_sip_leg {
                self.seat_ended = Some(("bye_by_them", self.io.ctx.clock.now()));
                logic.handle(Instant::now(), Input::SeatBye { leg });
            }
        }
    }

    /// The call has ended (or its seat left without a take-over): the supervisor's call is
    /// told, and hangs up.
    pub(super) async fn release_supervisor(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            self.session_event("supervision_ended", supervisor.name.clone())
                .await;
            self.tell(supervisor.call, CallEvent::PeerGone).await;
        }
    }

    /// The session's mode takes effect: a take-over, or who hears the link.
    async fn apply_supervision(&mut self) {
        if self.supervisor.as_ref().map(|s| s.mode) == Some(Mode::TakeOver) {
            self.take_over().await;
        } else {
            self.supervision_hearing();
        }
    }

    /// After any change of who hears whom: the link hears every party, and in whisper the
    /// seat, in barge everyone, also hears the link.
    pub(super) fn supervision_hearing(&self) {
        let Some(supervisor) = &self.supervisor else {
            return;
        };
        let (link, mode) = (supervisor.link, supervisor.mode);
        if mode == Mode::TakeOver {
            return;
        }
        let Some(hub) = &self.hub else {
            return;
        };
        // Every leg the link hears must have its audio known to be mixed.
        let codec = self.negotiated.audio.codec;
        hub.set_audio(
            CALLER,
            Audio {
                codec,
                pt: self.negotiated.audio.pt,
            },
        );
        if let (Some(leg), Some(audio)) = (self.seat_leg, self.seat_audio) {
            hub.set_audio(
                leg,
                Audio {
                    codec: audio.codec,
                    pt: audio.pt,
                },
            );
        }
        for unit in &self.units {
            if let (Some(leg), Some((pt, _))) = (unit.hub_leg, unit.media) {
                hub.set_audio(leg, Audio { codec, pt });
            }
        }
        let parties = self.supervised_legs(link);
        hub.hear(link, parties.iter().map(|&l| (l, Gain::UNITY)).collect());
        for &leg in &parties {
            let hears_link = match mode {
                Mode::Barge => true,
                Mode::Whisper => Some(leg) == self.seat_leg,
                Mode::Listen | Mode::TakeOver => false,
            };
            let extra = if hears_link {
                vec![(link, Gain::UNITY)]
            } else {
                Vec::new()
            };
            hub.also_hear(leg, extra);
        }
    }

    /// The legs of the call a supervisor hears: caller, seat and units (not the link).
    fn supervised_legs(&self, link: LegIndex) -> Vec<LegIndex> {
        std::iter::once(CALLER)
            .chain(self.seat_leg)
            .chain(self.units.iter().filter_map(|u| u.hub_leg))
            .filter(|&leg| leg != link)
            .collect()
    }

    /// Take-over: the seat is hung up and goes to wrap-up; the link is the seat from now on,
    /// bridged with the caller, and the call's seat is the supervisor.
    async fn take_over(&mut self) {
        let Some(supervisor) = self.supervisor.as_mut() else {
            return;
        };
        if supervisor.released.is_some() {
            return;
        }
        let (link, name) = (supervisor.link, supervisor.name.clone());
        let released = self.seat.clone();
        supervisor.released = released.clone();
        if let Some(hub) = &self.hub {
            for leg in self.supervised_legs(link) {
                hub.also_hear(leg, Vec::new());
            }
        }
        // The seat's phone is hung up; its leg ends, the ACD moves it to wrap-up.
        if let Some(leg) = self.seat_sip_leg {
            if self.seat_ended.is_none() {
                self.seat_ended = Some(("bye_by_us", self.io.ctx.clock.now()));
                self.seat_off();
            }
            self.legs[leg].bye(&self.io).await;
        }
        if let Some(seat) = released.clone() {
            if self.queue.is_some() {
                self.tell_acd(AcdNote::Ended { seat: seat.clone() }).await;
            }
            self.seat_released = Some(seat);
        }
        let pt = self.negotiated.audio.pt;
        self.seat_leg = Some(link);
        self.seat_audio = Some(SeatAudio {
            codec: self.negotiated.audio.codec,
            pt,
            telephone_event: None,
        });
        self.seat = Some(name.clone());
        // The seat's leg is over; what follows is the supervisor's, with the call's record.
        self.seat_ended = None;
        if let Some(hub) = &self.hub {
            hub.hear(link, Vec::new());
            hub.bridge(CALLER, link, PtMap::identity());
        }
        self.io
            .ctx
            .handoffs
            .seat_on(&name, self.call, self.cues.clone());
        self.session_event("supervision_take_over", name.clone())
            .await;
        info!(supervisor = %name, seat = ?released, "take-over: the supervisor has the caller");
    }

    /// The supervisor's side: the session is over; the seat's call is told.
    pub(super) async fn stop_supervising(&mut self) {
        if let Some(target) = self.supervising.take() {
            let from = self.call;
            self.tell(target, CallEvent::SupervisorGone { from }).await;
        }
    }

    async fn tell(&self, owner: CallId, event: CallEvent) {
        let _ = self
            .io
            .ctx
            .core
            .send(CoreCommand::Tell { owner, event })
            .await;
    }

    /// A supervision event of this call, in its records.
    async fn session_event(&self, kind: &str, detail: String) {
        self.call_event(kind, Some(detail)).await;
    }
}
