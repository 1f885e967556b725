//! Media plane: SDP offer/answer, the RTP port pool, the media hub that anchors, plays into
//! and listens to a call's legs through the daemon's own ports, G.711 and prompts.

pub mod dtmf;
pub mod encoded;
mod error;
pub mod g711;
pub mod hub;
mod latch;
pub mod mixer;
pub mod ports;
pub mod prompts;
mod ptmap;
pub mod reception;
pub mod recorder;
pub(crate) mod rtp;
pub mod sdp;
mod stats;
pub mod tones;
pub mod wav;

pub use error::MediaError;
pub use ports::{RtpPortPool, RtpSocket};
pub use ptmap::PtMap;
pub use sdp::SdpError;
pub use stats::{LegStats, LineStats};
