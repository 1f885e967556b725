//! Media plane: SDP offer/answer, the RTP port pool and the RTP relay that
//! anchors a call's two legs through the daemon's own ports.

pub mod dtmf;
mod error;
pub mod hub;
mod latch;
pub mod ports;
mod ptmap;
pub mod relay;
mod rtp;
pub mod sdp;
mod stats;

pub use error::MediaError;
pub use ports::{RtpPortPool, RtpSocket};
pub use ptmap::PtMap;
pub use relay::{Leg, LegStats, Relay, RelayHandle, RelayStats};
pub use sdp::SdpError;
