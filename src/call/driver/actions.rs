//! The driver carries out its logic's actions: SIP to the caller and the legs, prompts, notes
//! to the ACD, the rating's commit, and connecting the leg that answered.

use tokio::time::Instant;
use tracing::{info, warn};

use super::{Driver, CALLER};
use crate::call::board::LineState;
use crate::call::consult::{ConsultAction, Media};
use crate::call::logic::AcdNote;
use crate::call::logic::{Action, Input, Logic};
use crate::call::sound::{survey_prompt, Sound};
use crate::media::hub::HubLeg;
use crate::media::prompts::position_announcement;
use crate::media::sdp::{self, Direction};
use crate::media::PtMap;
use crate::metrics::names;
use crate::queue::{AcdInput, OfferFailure};
use crate::sip::ids;
use crate::store::{CallbackRequest, Record};

impl Driver {
    pub(super) async fn act(&mut self, action: Action, logic: &mut Logic) {
        match action {
            Action::AnswerCaller => {
                let sdp = sdp::build_answer(self.local, &self.negotiated, Direction::SendRecv);
                self.respond_caller(200, Some(sdp)).await;
            }
            Action::CallerRinging => self.respond_caller(180, None).await,
            Action::RejectCaller(status) => self.respond_caller(status, None).await,
            Action::Play(sound) => {
                if sound == Sound::RatingQuestion {
                    self.publish(LineState::Rating);
                }
                self.play(sound, logic)
            }
            Action::Acd(note) => self.tell_acd(note).await,
            Action::Ring(leg) => {
                let l = &self.legs[leg];
                info!(seat = %l.seat, flow = %l.flow, "ringing");
                l.ring(&self.io).await;
                self.attempt_rings(leg);
            }
            Action::Cancel(leg) => self.legs[leg].cancel(&self.io).await,
            Action::Connect(leg) => self.connect(leg, logic).await,
            Action::AckAndHangUp(leg) => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.ack(&self.io).await;
                    l.bye(&self.io).await;
                }
            }
            Action::ByeCaller => match (&mut self.caller, self.legs.first_mut()) {
                (Some(caller), _) => caller.bye(&self.io).await,
                (None, Some(citizen)) => citizen.bye(&self.io).await,
                (None, None) => {}
            },
            Action::ByeSeat(leg) => self.bye_seat(leg).await,
            Action::CommitRating(outcome) => {
                let kept = crate::call::rating_commit::commit(
                    &self.io,
                    &self.facts.id,
                    self.seat.clone(),
                    self.transferred_to.clone(),
                    outcome,
                )
                .await;
                logic.handle(Instant::now(), committed(kept));
            }
            Action::CommitAnswer { answer, unit } => {
                // A survey is answered on at most one call: its id stands for the call.
                let kept = crate::call::rating_commit::commit_kind(
                    &self.io,
                    &self.facts.id,
                    answer.question.kind(),
                    None,
                    unit,
                    answer.outcome,
                )
                .await;
                logic.handle(Instant::now(), committed(kept));
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
                self.consult_action(action, logic).await;
                if let Some(state) = state {
                    self.publish(state);
                }
            }
            Action::Seat(command) => {
                info!(?command, "feature code");
                self.io.ctx.acd.input(AcdInput::Seat(command)).await;
            }
            Action::TellPeerGone => self.tell_peer_gone().await,
            Action::Supervise(mode) => self.supervise(mode, logic).await,
            Action::Attempted(attempt) => self.attempted(attempt),
            Action::Finished(_) => {}
        }
    }

    /// A response to the caller's INVITE (there is none to answer in a call the daemon
    /// placed).
    async fn respond_caller(&mut self, status: u16, sdp: Option<String>) {
        if let Some(caller) = &mut self.caller {
            caller.respond(&self.io, status, sdp).await;
        }
    }

    pub(super) fn play(&mut self, sound: Sound, logic: &mut Logic) {
        let names: Vec<&str> = match &sound {
            Sound::Welcome => vec!["welcome"],
            Sound::Hold => vec!["hold_music"],
            Sound::Position(n) => match position_announcement(*n as u32) {
                Some(names) => names,
                None => {
                    // Nothing to say for this position: straight back to the music.
                    logic.handle(Instant::now(), Input::PlaybackDone);
                    return;
                }
            },
            Sound::AllBusy => vec!["all_busy"],
            Sound::CallbackOffer => vec!["callback_offer"],
            Sound::CallbackRecorded => vec!["callback_recorded"],
            Sound::RatingQuestion => vec!["rating_question"],
            Sound::ThankYou => vec!["thank_you"],
            Sound::Named(names) => names.iter().map(String::as_str).collect(),
            Sound::Survey(step) => vec![survey_prompt(*step)],
        };
        let Some(hub) = &self.hub else {
            return;
        };
        let looping = sound == Sound::Hold;
        let audio = self.negotiated.audio;
        let play = self
            .io
            .ctx
            .prompts
            .play(&names, audio.codec, audio.pt, looping);
        hub.play(CALLER, play);
    }

    pub(super) async fn tell_acd(&mut self, note: AcdNote) {
        let call = self.call;
        let (queue, priority) = self.queue.clone().unwrap_or_default();
        let input = match note {
            AcdNote::Enqueue => AcdInput::Enqueue {
                call,
                queue,
                priority,
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
            // A seat a supervisor's take-over released has ended its call already.
            AcdNote::Ended { seat } if self.seat_released.as_ref() == Some(&seat) => return,
            AcdNote::Ended { seat } => AcdInput::CallEnded { seat: seat.into() },
            AcdNote::CallbackRequested => {
                let request = CallbackRequest {
                    id: format!("cb-{}", ids::tag()),
                    call_id: self.facts.id.clone(),
                    number: self.facts.caller.clone(),
                    queue,
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

    /// Hangs up seat leg `leg`; for the seat that served, the time its leg ended is kept.
    pub(super) async fn bye_seat(&mut self, leg: usize) {
        if Some(leg) == self.seat_sip_leg && self.seat_ended.is_none() {
            self.seat_ended = Some(("bye_by_us", self.io.ctx.clock.now()));
            self.seat_off();
        }
        self.legs[leg].bye(&self.io).await
    }

    /// ACKs the leg that answered and bridges it with the caller; a caller not yet answered
    /// is answered now, in the codec the leg chose.
    async fn connect(&mut self, leg: usize, logic: &mut Logic) {
        self.legs[leg].ack(&self.io).await;
        let seat = self.legs[leg].seat.clone();
        let answer = self.legs[leg]
            .answer_sdp
            .as_ref()
            .and_then(|a| sdp::negotiate(a).ok());
        if self.caller.is_none() {
            // A call the daemon placed: the leg that answered is the citizen, the hub's first.
            self.talk(answer);
            return;
        }
        let late = !self.caller_answered();
        let map = if late {
            let map = match &answer {
                Some(leg_answer) => self.answer_late(leg_answer).await,
                None => None,
            };
            let Some(map) = map else {
                logic.handle(Instant::now(), Input::SeatAnswerUnusable { leg });
                return;
            };
            map
        } else {
            let mut map = PtMap::identity();
            if let Some(a) = &answer {
                map = map.with(self.negotiated.audio.pt, a.audio.pt);
                if let (Some(ours), Some(theirs)) =
                    (self.negotiated.telephone_event, a.telephone_event)
                {
                    map = map.with(ours, theirs);
                }
            }
            map
        };
        let socket = self
            .offer_sockets
            .remove(&seat)
            .or_else(|| self.ring_socket.take());
        let (Some(socket), Some(hub)) = (socket, &self.hub) else {
            return;
        };
        // A call answered by the daemon takes the seat's keys as its in-call codes; a call
        // answered with the leg relays them end to end.
        let telephone_event = answer.as_ref().and_then(|a| a.telephone_event);
        let hub_leg = hub.add_leg(HubLeg {
            socket,
            remote: answer.as_ref().and_then(|a| a.remote),
            telephone_event: telephone_event.filter(|_| !late),
        });
        hub.bridge(CALLER, hub_leg, map);
        if !late {
            hub.keep_keys(hub_leg);
        }
        self.seat_leg = Some(hub_leg);
        self.seat_sip_leg = Some(leg);
        self.seat_audio = answer.as_ref().map(|a| super::SeatAudio {
            codec: a.audio.codec,
            pt: a.audio.pt,
            telephone_event: a.telephone_event,
        });
        self.seat = Some(seat.clone());
        self.answered_at = Some(self.io.ctx.clock.now());
        self.connected_at = Some(Instant::now());
        if late {
            metrics::histogram!(names::CALL_RING_SECONDS)
                .record(self.started.elapsed().as_secs_f64());
        }
        info!(%seat, "call connected");
        self.seat_serves(&seat);
        self.publish(LineState::Connected);
        let open = self.facts.open_call(self.seat.clone(), self.answered_at);
        self.io.open(open).await;
    }
}

/// What the logic hears of a commit.
fn committed(kept: bool) -> Input {
    if kept {
        Input::RatingCommitted
    } else {
        Input::RatingLost
    }
}
