//! A call the daemon places to a citizen: one attempt of a return-visit survey. It has no
//! caller's INVITE to answer; its one leg (leg 0) is the citizen's, rung through the trunk, and
//! once answered the citizen is the hub's first leg, hearing the survey's prompts and pressing
//! its keys as a caller does. What came of the attempt goes back to whoever started it (the
//! survey service), which decides on retries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, Instrument};

use super::placed::PlacedMedia;
use super::{Driver, Start};
use crate::call::facts::CallFacts;
use crate::call::io::CallIo;
use crate::call::logic::survey::SurveyAttempt;
use crate::call::logic::Logic;
use crate::call::outbound_leg::OutboundLeg;
use crate::call::{CallContext, CoreCommand};
use crate::media::hub::{Hub, HubLeg};
use crate::media::sdp::Negotiated;
use crate::sip::flow::{Flow, Transport};
use crate::survey::{CallOutcome, CallRules};

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

/// Places the call, runs the conversation if it is answered, and returns how it ended.
pub async fn dial_survey(dial: SurveyDial, ctx: Arc<CallContext>) -> CallOutcome {
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
        let Some((driver, hub_rx)) = Driver::prepare_survey(&dial, io).await else {
            return CallOutcome::Failed;
        };
        let outcome = driver.drive(events, hub_rx).await;
        let outcome = outcome.survey.unwrap_or(CallOutcome::Failed);
        info!(?outcome, "survey call attempt ended");
        outcome
    }
    .instrument(span)
    .await
}

impl Driver {
    /// One RTP port and the INVITE to the citizen, which the logic rings at once.
    async fn prepare_survey(
        dial: &SurveyDial,
        io: CallIo,
    ) -> Option<(Driver, mpsc::UnboundedReceiver<crate::media::hub::HubEvent>)> {
        let placed = PlacedMedia::new(&io).await?;
        let leg = OutboundLeg::to_uri(
            &io.ctx,
            dial.number.clone(),
            dial.request_uri.clone(),
            Flow {
                transport: Transport::Udp,
                remote: dial.trunk_addr,
            },
            &dial.caller_id,
            None,
            &placed.offer,
        );
        info!(uri = %dial.request_uri, "dialling the citizen");
        // A survey is answered on at most one call: its id stands for the call.
        let facts = CallFacts {
            id: dial.survey_id.clone(),
            sip_call_id: leg.call_id().to_string(),
            trunk: "survey".to_string(),
            caller: dial.caller_id.clone(),
            called: dial.number.clone(),
            offered_at: io.ctx.clock.now(),
        };
        let attempt = SurveyAttempt::new(
            Instant::now(),
            dial.ring_timeout,
            dial.rules.clone(),
            dial.unit.clone(),
        );
        let start = Start {
            call: io.owner,
            queue: None,
            ring: dial.ring_timeout,
            handoff: None,
            logic: Some(Logic::survey(attempt)),
            caller: None,
            session: None,
        };
        Some(placed.driver(start, io, facts, leg))
    }

    /// The citizen answered (and has had our ACK): the hub starts with the citizen as its
    /// first leg, in the codec the citizen chose.
    pub(super) fn talk(&mut self, answer: Option<Negotiated>) {
        let (Some(negotiated), Some(socket)) = (answer, self.ring_socket.take()) else {
            return;
        };
        self.hub = Some(Hub::start(
            vec![HubLeg {
                socket,
                remote: negotiated.remote,
                telephone_event: negotiated.telephone_event,
            }],
            Some(self.hub_events.clone()),
        ));
        self.negotiated = negotiated;
        self.answered_at = Some(self.io.ctx.clock.now());
        self.connected_at = Some(Instant::now());
    }
}
