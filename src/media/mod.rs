//! Media plane: SDP offer/answer, the RTP port pool and the RTP relay that
//! anchors a call's two legs through the daemon's own ports.

mod error;
mod ptmap;
pub mod sdp;

pub use error::MediaError;
pub use ptmap::PtMap;
pub use sdp::SdpError;
