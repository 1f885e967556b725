//! A supervision session the API starts: the daemon rings the supervisor's phone (its first
//! registered binding) and, once answered, the supervisor's leg is the hub's first leg and
//! joins the seat's call as if the supervisor had dialled the code (`driver::supervision`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, Instrument};

use super::placed::PlacedMedia;
use super::{Driver, Start};
use crate::call::facts::CallFacts;
use crate::call::io::CallIo;
use crate::call::logic::supervise::Session;
use crate::call::logic::supervise_dial::SupervisorDial;
use crate::call::logic::Logic;
use crate::call::outbound_leg::OutboundLeg;
use crate::call::{CallContext, CoreCommand};
use crate::registrar::Binding;

/// What the supervisor's phone shows as the caller.
const SHOWN_AS: &str = "supervision";

/// Rings `phone` (the supervisor's) for at most `ring_timeout`, then runs `session`.
pub async fn dial_supervisor(
    session: Session,
    phone: Binding,
    ring_timeout: Duration,
    ctx: Arc<CallContext>,
) {
    let span =
        tracing::info_span!("supervision", supervisor = %session.supervisor, seat = %session.seat);
    async move {
        let (reply, owner) = oneshot::channel();
        if ctx.core.send(CoreCommand::NewCall { reply }).await.is_err() {
            return;
        }
        let Ok((owner, events)) = owner.await else {
            return;
        };
        let io = CallIo { ctx, owner };
        let Some((driver, hub_rx)) =
            Driver::prepare_supervisor_dial(session, &phone, ring_timeout, io).await
        else {
            return;
        };
        let outcome = driver.drive(events, hub_rx).await;
        info!(
            disposition = outcome.disposition.as_str(),
            "supervision call ended"
        );
    }
    .instrument(span)
    .await
}

impl Driver {
    async fn prepare_supervisor_dial(
        session: Session,
        phone: &Binding,
        ring_timeout: Duration,
        io: CallIo,
    ) -> Option<(Driver, mpsc::UnboundedReceiver<crate::media::hub::HubEvent>)> {
        let placed = PlacedMedia::new(&io).await?;
        let leg = OutboundLeg::to_seat(&io.ctx, phone, SHOWN_AS, None, &placed.offer);
        info!(phone = %phone.contact, "ringing the supervisor's phone");
        let facts = CallFacts {
            id: format!("supervision-{}", io.owner),
            sip_call_id: leg.call_id().to_string(),
            trunk: "seat".to_string(),
            caller: SHOWN_AS.to_string(),
            called: session.supervisor.clone(),
            offered_at: io.ctx.clock.now(),
        };
        let dial = SupervisorDial::new(Instant::now(), ring_timeout, session.clone());
        let start = Start {
            call: io.owner,
            queue: None,
            ring: ring_timeout,
            handoff: None,
            logic: Some(Logic::supervisor_dial(dial)),
            caller: None,
            session: Some(session),
        };
        Some(placed.driver(start, io, facts, leg))
    }
}
