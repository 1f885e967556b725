//! What a call the daemon places itself (a survey's to a citizen, a supervision session's to
//! the supervisor's phone) starts with: one RTP port and our SDP offer on it, and our own first
//! choice of codec until the callee answers (nothing uses it before then).

use tokio::sync::mpsc;
use tracing::warn;

use super::{CallerMedia, Driver, Start};
use crate::call::facts::CallFacts;
use crate::call::io::CallIo;
use crate::call::outbound_leg::OutboundLeg;
use crate::media::hub::HubEvent;
use crate::media::sdp::{self, build_offer, LocalMedia, Negotiated, SdpParams};
use crate::media::RtpSocket;

pub(super) struct PlacedMedia {
    pub socket: RtpSocket,
    pub local: LocalMedia,
    pub offer: String,
    pub negotiated: Negotiated,
}

impl PlacedMedia {
    /// None when there is no RTP port (or our own offer does not parse): the call is then
    /// over before it began, and the core is told.
    pub async fn new(io: &CallIo) -> Option<PlacedMedia> {
        let socket = match io.ctx.rtp.allocate().await {
            Ok(socket) => socket,
            Err(error) => {
                warn!(%error, "no RTP port for a call the daemon places");
                io.finished().await;
                return None;
            }
        };
        let local = LocalMedia {
            addr: io.ctx.media_addr,
            rtp_port: socket.local_addr().port(),
            session_id: u64::from(rand::random::<u32>()),
            session_version: 1,
        };
        let offer = build_offer(&SdpParams::default_offer(local));
        let Some(negotiated) = sdp::parse(offer.as_bytes())
            .ok()
            .and_then(|o| sdp::negotiate(&o).ok())
        else {
            warn!("our own offer does not parse");
            io.finished().await;
            return None;
        };
        Some(PlacedMedia {
            socket,
            local,
            offer,
            negotiated,
        })
    }

    /// The placed call's driver: its one outbound leg, `leg` (which carries `offer`), rings
    /// with this port ready for the callee's answer.
    pub fn driver(
        self,
        start: Start,
        io: CallIo,
        facts: CallFacts,
        leg: OutboundLeg,
    ) -> (Driver, mpsc::UnboundedReceiver<HubEvent>) {
        let media = CallerMedia {
            negotiated: self.negotiated,
            local: self.local,
            hub: None,
        };
        let (hub_tx, hub_rx) = mpsc::unbounded_channel();
        let mut driver = Driver::new(start, io, facts, media, hub_tx);
        driver.legs.push(leg);
        driver.ring_socket = Some(self.socket);
        (driver, hub_rx)
    }
}
