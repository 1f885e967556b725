//! Short calls the daemon answers itself, plays to, and hangs up: a seat dialling a feature code
//! (or the access number, then typing the code as keys), and a caller reaching a route outside
//! its calendar's hours.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, Instrument};

use super::caller_leg::CallerLeg;
use super::facts::{refuse_early, CallFacts, Ending};
use super::in_dialog::{self, InDialog};
use super::io::CallIo;
use super::machine::EndedBy;
use super::{CallContext, CallEvent, CallSetup};
use crate::features::{CodeCollector, Collected, Feature, FeatureCodes};
use crate::media::dtmf::parse_info;
use crate::media::hub::{HubEvent, HubHandle};
use crate::media::sdp::{self, Direction, LocalMedia, Negotiated};
use crate::queue::{AcdInput, SeatCommand, SeatId};
use crate::sip::build;
use crate::sip::ids;
use crate::store::Disposition;
use crate::timer::far_future;

pub enum Purpose {
    /// A seat dialled a complete feature code.
    Code { seat: String, feature: Feature },
    /// A seat dialled the access number: ask for the code, take it as keys.
    Access {
        seat: String,
        codes: FeatureCodes,
        inter_digit: Duration,
    },
    /// A caller outside opening hours: play this prompt and hang up (a call record is kept).
    Announce { prompt: String },
}

enum Step {
    /// Waiting for keys (after "enter code").
    Collecting,
    /// The last prompt plays; then goodbye.
    Closing,
}

struct Driver {
    io: CallIo,
    facts: CallFacts,
    caller: CallerLeg,
    negotiated: Negotiated,
    local: LocalMedia,
    hub: HubHandle,
    purpose: Purpose,
    collector: Option<CodeCollector>,
    step: Step,
}

pub async fn run(
    setup: CallSetup,
    purpose: Purpose,
    ctx: Arc<CallContext>,
    events: mpsc::UnboundedReceiver<CallEvent>,
) {
    let (facts, io, span) = CallFacts::start(&setup, ctx);
    async move {
        let (hub_tx, hub_rx) = mpsc::unbounded_channel();
        let refuse = |status: u16| build::response(&setup.invite, status, Some(&ids::tag()));
        let media = match super::answered_media::answer(&io, &setup.invite, hub_tx).await {
            Ok(media) => media,
            Err(status) => {
                let response = refuse(status);
                return refuse_early(io, facts, setup.key, response).await;
            }
        };
        let super::answered_media::AnsweredMedia {
            offer,
            negotiated,
            local,
            hub,
        } = media;
        let caller = CallerLeg::new(
            setup.invite,
            setup.key,
            setup.flow,
            offer,
            facts.called.clone(),
        );
        let driver = Driver {
            io,
            facts,
            caller,
            negotiated,
            local,
            hub,
            purpose,
            collector: None,
            step: Step::Closing,
        };
        driver.drive(events, hub_rx).await;
    }
    .instrument(span)
    .await
}

impl Driver {
    async fn drive(
        mut self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut hub_events: mpsc::UnboundedReceiver<HubEvent>,
    ) {
        self.caller.bind(&self.io).await;
        // A trunk call to an announcement has a call record; a seat's feature call has none.
        if let Purpose::Announce { .. } = self.purpose {
            self.io.open(self.facts.open_call(None, None)).await;
        }
        let sdp = sdp::build_answer(self.local, &self.negotiated, Direction::SendRecv);
        self.caller.respond(&self.io, 200, Some(sdp)).await;
        let first = match &self.purpose {
            Purpose::Code { seat, feature } => {
                let (seat, feature) = (seat.clone(), feature.clone());
                self.apply(&seat, feature).await
            }
            Purpose::Access {
                codes, inter_digit, ..
            } => {
                self.collector = Some(CodeCollector::new(codes, *inter_digit));
                self.step = Step::Collecting;
                "enter_code".to_string()
            }
            Purpose::Announce { prompt } => prompt.clone(),
        };
        self.play(&first);
        let ended_by = loop {
            let deadline = self.collector.as_ref().and_then(|c| c.poll_timeout());
            tokio::select! {
                event = events.recv() => match event {
                    None | Some(CallEvent::Shutdown) | Some(CallEvent::AckTimeout) => break EndedBy::Daemon,
                    Some(CallEvent::Request { key, request, ess }) if ess.call_id == self.caller.call_id() => {
                        let caller = &self.caller;
                        let io = &self.io;
                        let ours = caller.answer_sdp.clone();
                        match in_dialog::answer(io, key, request, ours.as_deref(), |r| caller.decorate(io, r)).await {
                            InDialog::Bye => break EndedBy::Caller,
                            InDialog::Refresh(Some(addr), _) => self.hub.set_remote(0, addr),
                            InDialog::Refer(key, request) => in_dialog::refuse_refer(io, key, &request).await,
                            InDialog::Info(info) => {
                                let ctype = info.headers.get("Content-Type").unwrap_or("").to_string();
                                if let Ok(digit) = parse_info(&ctype, &info.body) {
                                    self.on_digit(digit).await;
                                }
                            }
                            _ => {}
                        }
                    }
                    Some(_) => {}
                },
                Some(event) = hub_events.recv() => match event {
                    HubEvent::Digit { digit, .. } => self.on_digit(digit).await,
                    HubEvent::PlaybackDone { .. } => {
                        if matches!(self.step, Step::Closing) {
                            self.caller.bye(&self.io).await;
                            break EndedBy::Daemon;
                        }
                    }
                    HubEvent::OverlayDone { .. } => {}
                },
                _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    let result = self.collector.as_mut().map(|c| c.handle_timeout(Instant::now()));
                    if let Some(result) = result {
                        self.on_collected(result).await;
                    }
                }
            }
        };
        self.hub.stop().await;
        self.io.finished().await;
        if let Purpose::Announce { .. } = self.purpose {
            let ending = Ending {
                disposition: Disposition::Rejected,
                sip_cause: None,
                ended_by: Some(ended_by),
            };
            let record = self.facts.record(&self.io.ctx, ending, None, None);
            self.io.leg(super::leg_records::caller(&record)).await;
            self.io.record(record).await;
        }
    }

    async fn on_digit(&mut self, digit: char) {
        if !matches!(self.step, Step::Collecting) {
            return;
        }
        let result = match self.collector.as_mut() {
            Some(collector) => collector.push(Instant::now(), digit),
            None => return,
        };
        self.on_collected(result).await;
    }

    async fn on_collected(&mut self, result: Collected) {
        let seat = match &self.purpose {
            Purpose::Access { seat, .. } => seat.clone(),
            _ => return,
        };
        match result {
            Collected::Pending | Collected::Idle => {}
            Collected::Matched(feature) => {
                self.step = Step::Closing;
                let prompt = self.apply(&seat, feature).await;
                self.play(&prompt);
            }
            Collected::Invalid(typed) => {
                debug!(typed, "invalid feature code");
                self.step = Step::Closing;
                self.play("invalid_key");
            }
        }
    }

    /// Tells the ACD and returns the confirmation prompt.
    async fn apply(&self, seat: &str, feature: Feature) -> String {
        let id = SeatId::from(seat);
        let (command, prompt) = match feature {
            Feature::Login => (SeatCommand::Login { seat: id }, "logged_in"),
            Feature::Logout => (SeatCommand::Logout { seat: id }, "logged_out"),
            Feature::Pause { reason } => (
                SeatCommand::Pause {
                    seat: id,
                    reason: reason.unwrap_or_default(),
                },
                "paused",
            ),
            Feature::Resume => (SeatCommand::Resume { seat: id }, "resumed"),
        };
        info!(seat, ?command, "feature code");
        self.io.ctx.acd.input(AcdInput::Seat(command)).await;
        prompt.to_string()
    }

    fn play(&self, prompt: &str) {
        let audio = self.negotiated.audio;
        self.hub.play(
            0,
            self.io.ctx.prompts.play(
                &[prompt, "goodbye"][..if prompt == "enter_code" { 1 } else { 2 }],
                audio.codec,
                audio.pt,
                false,
            ),
        );
    }
}
