//! One return-visit survey call attempt: the daemon calls the citizen through the trunk, and
//! once answered runs the [`SurveyCall`] conversation (consent, then two questions) with the
//! citizen's keys (RFC 4733 or SIP INFO). Each answer is committed to the store before the
//! next prompt plays. What came of the attempt goes back to whoever started it (the survey
//! service), which decides on retries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn, Instrument};

use super::in_dialog::{self, InDialog};
use super::io::CallIo;
use super::outbound_leg::OutboundLeg;
use super::ringing::{RingAction, RingEnd, RingInput, Ringing};
use super::{CallContext, CallEvent, CoreCommand};
use crate::media::dtmf::parse_info;
use crate::media::hub::{Hub, HubEvent, HubHandle, HubLeg, LegIndex};
use crate::media::sdp::{self, build_offer, LocalMedia, Negotiated, SdpParams};
use crate::media::RtpSocket;
use crate::sip::build;
use crate::sip::flow::{Flow, Transport};
use crate::sip::message::Response;
use crate::survey::{
    Answer, CallAction, CallInput, CallOutcome, CallRules, SurveyCall, SurveySound,
};
use crate::timer::far_future;

/// The citizen's leg is the hub's only leg.
const CITIZEN: LegIndex = 0;

/// One attempt to call a survey's number.
#[derive(Debug, Clone)]
pub struct SurveyDial {
    pub survey_id: String,
    /// 1 for the first attempt, 2 for the first retry…
    pub attempt: u32,
    pub number: String,
    /// The unit that handled the matter, kept with each answer.
    pub unit: Option<String>,
    /// The INVITE's Request-URI, e.g. `sip:13800138000@192.0.2.1:5060`.
    pub request_uri: String,
    /// The trunk's outbound address; the INVITE goes there over UDP.
    pub trunk_addr: SocketAddr,
    /// The number presented to the citizen.
    pub caller_id: String,
    pub ring_timeout: Duration,
    pub rules: CallRules,
}

/// How a final non-2xx status counts for retries.
pub fn unanswered(status: u16) -> CallOutcome {
    match status {
        408 | 480 | 487 => CallOutcome::NoAnswer,
        486 | 600 | 603 => CallOutcome::Busy,
        _ => CallOutcome::Failed,
    }
}

/// Places the call, runs the conversation if it is answered, and returns how it ended.
pub async fn run(dial: SurveyDial, ctx: Arc<CallContext>) -> CallOutcome {
    let span = tracing::info_span!("survey_call", survey = %dial.survey_id, attempt = dial.attempt);
    async move {
        let (reply, owner) = oneshot::channel();
        if ctx.core.send(CoreCommand::NewCall { reply }).await.is_err() {
            return CallOutcome::Failed;
        }
        // The core is gone only when the daemon stops.
        let Ok((owner, events)) = owner.await else {
            return CallOutcome::Failed;
        };
        let io = CallIo { ctx, owner };
        let outcome = Attempt {
            io: &io,
            dial: &dial,
        }
        .run(events)
        .await;
        io.finished().await;
        info!(?outcome, "survey call attempt ended");
        outcome
    }
    .instrument(span)
    .await
}

struct Attempt<'a> {
    io: &'a CallIo,
    dial: &'a SurveyDial,
}

/// How the ringing phase ended.
enum Rang {
    Answered(Box<(OutboundLeg, Negotiated)>),
    Over(CallOutcome),
}

impl Attempt<'_> {
    async fn run(self, mut events: mpsc::UnboundedReceiver<CallEvent>) -> CallOutcome {
        let socket = match self.io.ctx.rtp.allocate().await {
            Ok(socket) => socket,
            Err(error) => {
                warn!(%error, "no RTP port for the survey call");
                return CallOutcome::Failed;
            }
        };
        let local = LocalMedia {
            addr: self.io.ctx.media_addr,
            rtp_port: socket.local_addr().port(),
            session_id: u64::from(rand::random::<u32>()),
            session_version: 1,
        };
        let offer = build_offer(&SdpParams::default_offer(local));
        let leg = OutboundLeg::to_uri(
            &self.io.ctx,
            self.dial.number.clone(),
            self.dial.request_uri.clone(),
            Flow {
                transport: Transport::Udp,
                remote: self.dial.trunk_addr,
            },
            &self.dial.caller_id,
            None,
            &offer,
        );
        info!(uri = %self.dial.request_uri, "dialling the citizen");
        leg.ring(self.io).await;
        match self.ring(leg, &mut events).await {
            Rang::Over(outcome) => outcome,
            Rang::Answered(answered) => {
                let (leg, negotiated) = *answered;
                self.talk(leg, negotiated, socket, &mut events).await
            }
        }
    }

    /// Waits for the citizen to answer, refuse, or let it ring out (`call::ringing` decides).
    async fn ring(
        &self,
        mut leg: OutboundLeg,
        events: &mut mpsc::UnboundedReceiver<CallEvent>,
    ) -> Rang {
        let mut ringing = Ringing::new(Instant::now(), self.dial.ring_timeout);
        let mut answer = None;
        loop {
            while let Some(action) = ringing.poll_action() {
                match action {
                    RingAction::Cancel => leg.cancel(self.io).await,
                    RingAction::HangUpLate => {
                        if let Some(response) = answer.take() {
                            if leg.on_answer(response).is_ok() {
                                leg.ack(self.io).await;
                                leg.bye(self.io).await;
                            }
                        }
                    }
                }
            }
            match ringing.outcome() {
                Some(RingEnd::Answered) => match answer.take() {
                    Some(response) => return self.answered(leg, response).await,
                    None => return Rang::Over(CallOutcome::Failed),
                },
                Some(RingEnd::Refused(status)) => {
                    info!(status, "survey call not answered");
                    return Rang::Over(unanswered(status));
                }
                Some(RingEnd::RangOut) => {
                    info!("survey call rang out");
                    return Rang::Over(CallOutcome::NoAnswer);
                }
                Some(RingEnd::Stopped) => return Rang::Over(CallOutcome::Failed),
                None => {}
            }
            let deadline = ringing.poll_timeout();
            tokio::select! {
                event = events.recv() => {
                    let now = Instant::now();
                    match event {
                        None | Some(CallEvent::Shutdown) => ringing.handle(now, RingInput::Shutdown),
                        Some(CallEvent::Response { key, response }) if key == leg.key => {
                            let input = if response.is_provisional() {
                                RingInput::Provisional
                            } else if response.is_success() {
                                answer = Some(response);
                                RingInput::Answered
                            } else {
                                RingInput::Failed(response.status)
                            };
                            ringing.handle(now, input);
                        }
                        Some(CallEvent::Request { key, request, .. }) => {
                            // Nothing is in a dialog before the answer.
                            self.io.respond(key, build::response(&request, 481, None)).await;
                        }
                        Some(_) => {}
                    }
                }
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    ringing.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// The 2xx: ACKed at once; a description we cannot use ends the call.
    async fn answered(&self, mut leg: OutboundLeg, response: Response) -> Rang {
        let parsed = leg.on_answer(response).is_ok();
        leg.ack(self.io).await;
        let negotiated = leg
            .answer_sdp
            .as_ref()
            .filter(|_| parsed)
            .and_then(|a| sdp::negotiate(a).ok());
        match negotiated {
            Some(n) => Rang::Answered(Box::new((leg, n))),
            None => {
                warn!("survey call answered with media we cannot use");
                leg.bye(self.io).await;
                Rang::Over(CallOutcome::Failed)
            }
        }
    }

    /// The conversation, until the survey machine says it is over.
    async fn talk(
        &self,
        mut leg: OutboundLeg,
        negotiated: Negotiated,
        socket: RtpSocket,
        events: &mut mpsc::UnboundedReceiver<CallEvent>,
    ) -> CallOutcome {
        info!("survey call answered");
        let (hub_tx, mut hub_rx) = mpsc::unbounded_channel();
        let hub = Hub::start(
            vec![HubLeg {
                socket,
                remote: negotiated.remote,
                telephone_event: negotiated.telephone_event,
            }],
            Some(hub_tx),
        );
        let mut call = SurveyCall::new(self.dial.rules.clone());
        let outcome = 'talk: loop {
            while let Some(action) = call.poll_action() {
                match action {
                    CallAction::Play(sound) => self.play(&hub, &negotiated, sound),
                    CallAction::Commit(answer) => {
                        // Awaited here, so the next question plays only once this answer is kept.
                        let input = if self.commit(answer).await {
                            CallInput::Committed
                        } else {
                            CallInput::CommitFailed
                        };
                        call.handle(Instant::now(), input);
                    }
                    CallAction::HangUp => leg.bye(self.io).await,
                    CallAction::Finished(outcome) => break 'talk CallOutcome::Answered(outcome),
                }
            }
            let deadline = call.poll_timeout();
            tokio::select! {
                event = events.recv() => {
                    if let Some(input) = self.on_event(event, &mut leg, &hub).await {
                        call.handle(Instant::now(), input);
                    }
                }
                Some(event) = hub_rx.recv() => match event {
                    HubEvent::Digit { leg: CITIZEN, digit } => {
                        debug!(%digit, "survey key");
                        call.handle(Instant::now(), CallInput::Digit(digit));
                    }
                    HubEvent::PlaybackDone { leg: CITIZEN } => {
                        call.handle(Instant::now(), CallInput::PlaybackDone);
                    }
                    _ => {}
                },
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    call.handle_timeout(Instant::now());
                }
            }
        };
        hub.stop().await;
        outcome
    }

    /// A SIP event during the conversation, as the survey machine's input (if any).
    async fn on_event(
        &self,
        event: Option<CallEvent>,
        leg: &mut OutboundLeg,
        hub: &HubHandle,
    ) -> Option<CallInput> {
        match event {
            None | Some(CallEvent::Shutdown) => {
                // The daemon is stopping: hang up; the machine ends the call as if the citizen
                // had (what was answered is kept).
                leg.bye(self.io).await;
                Some(CallInput::CalleeHungUp)
            }
            Some(CallEvent::Request { key, request, ess }) => {
                if !leg.owns(&ess.call_id) {
                    self.io
                        .respond(key, build::response(&request, 481, None))
                        .await;
                    return None;
                }
                let local = self.io.ctx.local.for_transport(Transport::Udp);
                let user_agent = self.io.ctx.user_agent.clone();
                let decorate = |r: &mut Response| {
                    r.headers
                        .push("Contact", format!("<sip:hotline@{local};transport=udp>"));
                    r.headers.push("Server", user_agent.as_str());
                };
                let ours = leg.our_sdp().to_string();
                match in_dialog::answer(self.io, key, request, Some(&ours), decorate).await {
                    InDialog::Bye => Some(CallInput::CalleeHungUp),
                    InDialog::Refresh(addr, _) => {
                        if let Some(addr) = addr {
                            hub.set_remote(CITIZEN, addr);
                        }
                        None
                    }
                    InDialog::Info(info) => {
                        let ctype = info.headers.get("Content-Type").unwrap_or("");
                        parse_info(ctype, &info.body).ok().map(CallInput::Digit)
                    }
                    InDialog::Refer(key, request) => {
                        in_dialog::refuse_refer(self.io, key, &request).await;
                        None
                    }
                    InDialog::Handled => None,
                }
            }
            Some(CallEvent::Response { key, response }) => {
                // A retransmitted 2xx: our ACK was lost.
                if key == leg.key && response.is_success() {
                    leg.ack(self.io).await;
                }
                None
            }
            Some(_) => None,
        }
    }

    fn play(&self, hub: &HubHandle, negotiated: &Negotiated, sound: SurveySound) {
        let audio = negotiated.audio;
        let play = self.io.ctx.prompts.play(
            &[super::sound::survey_prompt(sound)],
            audio.codec,
            audio.pt,
            false,
        );
        hub.play(CITIZEN, play);
    }

    /// Writes one answer and waits until the store has committed it. A survey is answered on
    /// at most one call: its id stands for the call.
    async fn commit(&self, answer: Answer) -> bool {
        super::rating_commit::commit_kind(
            self.io,
            &self.dial.survey_id,
            answer.question.kind(),
            None,
            self.dial.unit.clone(),
            answer.outcome,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retry_outcomes() {
        for s in [408, 480, 487] {
            assert_eq!(unanswered(s), CallOutcome::NoAnswer, "{s}");
        }
        for s in [486, 600, 603] {
            assert_eq!(unanswered(s), CallOutcome::Busy, "{s}");
        }
        for s in [403, 404, 488, 500, 503] {
            assert_eq!(unanswered(s), CallOutcome::Failed, "{s}");
        }
    }
}
