//! The media of a call the daemon answers itself (queued calls, feature codes, announcements):
//! the caller's offer negotiated, one RTP port, and a hub with the caller as its first leg.

use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::io::CallIo;
use crate::media::hub::{Hub, HubEvent, HubHandle, HubLeg};
use crate::media::sdp::{self, LocalMedia, Negotiated, SessionDescription};
use crate::sip::message::Request;

pub struct AnsweredMedia {
    pub offer: SessionDescription,
    /// The caller's codec; whatever else the call connects uses the same, so nothing is
    /// transcoded.
    pub negotiated: Negotiated,
    pub local: LocalMedia,
    pub hub: HubHandle,
}

/// Sets up the caller's media, or says which status to refuse the INVITE with: 488 for an offer
/// we cannot use, 503 when no RTP port is free.
pub async fn answer(
    io: &CallIo,
    invite: &Request,
    events: mpsc::UnboundedSender<HubEvent>,
) -> Result<AnsweredMedia, u16> {
    let offer = sdp::parse(&invite.body).map_err(|error| {
        debug!(%error, "caller offer unusable");
        488u16
    })?;
    let negotiated = sdp::negotiate(&offer).map_err(|error| {
        debug!(%error, "no codec in common with the caller");
        488u16
    })?;
    let socket = io.ctx.rtp.allocate().await.map_err(|error| {
        warn!(%error, "no RTP port for the call");
        503u16
    })?;
    let local = LocalMedia {
        addr: io.ctx.media_addr,
        rtp_port: socket.local_addr().port(),
        session_id: u64::from(rand::random::<u32>()),
        session_version: 1,
    };
    let hub = Hub::start(
        vec![HubLeg {
            socket,
            remote: negotiated.remote,
            telephone_event: negotiated.telephone_event,
        }],
        Some(events),
    );
    Ok(AnsweredMedia {
        offer,
        negotiated,
        local,
        hub,
    })
}
