//! The media anchor between a call's two legs: whatever RTP arrives on one leg's port leaves
//! through the other leg's port. A two-leg bridge on the media hub, kept as its own type for
//! calls that never play anything.

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use tokio::sync::mpsc;

use super::hub::{Hub, HubEvent, HubHandle, HubLeg, Play};
pub use super::stats::{LegStats, RelayStats};
use super::{PtMap, RtpSocket};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    A,
    B,
}

impl Leg {
    pub fn index(self) -> usize {
        match self {
            Leg::A => 0,
            Leg::B => 1,
        }
    }
}

pub struct Relay;

impl Relay {
    /// Starts relaying in a task on the current runtime. `a_remote`/`b_remote` are the SDP
    /// addresses, `None` until known; `pt_map` pairs are `(pt on A, pt on B)`.
    pub fn start(
        a: RtpSocket,
        a_remote: Option<SocketAddr>,
        b: RtpSocket,
        b_remote: Option<SocketAddr>,
        pt_map: PtMap,
    ) -> RelayHandle {
        let leg = |socket, remote| HubLeg {
            socket,
            remote,
            telephone_event: None,
        };
        let hub = Hub::start(vec![leg(a, a_remote), leg(b, b_remote)], None);
        hub.bridge(0, 1, pt_map);
        RelayHandle { hub }
    }

    /// As `start`, and leg A's key presses (payload type `a_telephone_event`) and ends of
    /// playbacks go to `events`: a call that may ask its caller something at the end.
    pub fn start_watched(
        a: RtpSocket,
        a_remote: Option<SocketAddr>,
        a_telephone_event: Option<u8>,
        b: RtpSocket,
        b_remote: Option<SocketAddr>,
        pt_map: PtMap,
        events: mpsc::UnboundedSender<HubEvent>,
    ) -> RelayHandle {
        let legs = vec![
            HubLeg {
                socket: a,
                remote: a_remote,
                telephone_event: a_telephone_event,
            },
            HubLeg {
                socket: b,
                remote: b_remote,
                telephone_event: None,
            },
        ];
        let hub = Hub::start(legs, Some(events));
        hub.bridge(0, 1, pt_map);
        RelayHandle { hub }
    }
}

/// Controls a running relay. Dropping it also ends the relay, but only [`RelayHandle::stop`]
/// waits until the ports are back in the pool.
pub struct RelayHandle {
    hub: HubHandle,
}

impl RelayHandle {
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            a: self.hub.stats(0),
            b: self.hub.stats(1),
        }
    }

    /// New SDP address for `leg` (answer, re-INVITE): used at once and latching starts over.
    pub fn set_remote(&self, leg: Leg, addr: SocketAddr) {
        self.hub.set_remote(leg.index(), addr);
    }

    /// Plays into `leg` instead of relaying to it.
    pub fn play(&self, leg: Leg, play: Play) {
        self.hub.play(leg.index(), play);
    }

    /// The hub underneath, for a call that adds a leg to its relay (a splice with another call).
    pub fn hub(&self) -> &HubHandle {
        &self.hub
    }

    /// Ends the relay and returns once its sockets are closed.
    pub async fn stop(self) {
        self.hub.stop().await;
    }
}
