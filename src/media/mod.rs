//! Media plane: SDP offer/answer, the RTP port pool and the RTP relay that
//! anchors a call's two legs through the daemon's own ports.

mod error;
pub mod g711;
pub mod ports;
pub mod prompts;
mod ptmap;
pub mod relay;
pub mod sdp;
pub mod wav;

pub use error::MediaError;
pub use ports::{RtpPortPool, RtpSocket};
pub use ptmap::PtMap;
pub use relay::{Leg, LegStats, Relay, RelayHandle, RelayStats};
pub use sdp::SdpError;
