//! SDP (RFC 4566) for one audio stream, and offer/answer (RFC 3264) with the
//! codecs the daemon relays: PCMU, PCMA and telephone-event (RFC 4733).
//!
//! The daemon never transcodes, so every function here keeps the payload the
//! two legs agree on identical; only payload-type numbers may differ.

mod build;
mod negotiate;
mod parse;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};

pub use build::{build_answer, build_offer, with_direction, LocalMedia, SdpParams};
pub use negotiate::{answer_for_caller, negotiate, offer_for_seat, Negotiated};
pub use parse::parse;

/// Events we accept and advertise for telephone-event: DTMF 0-9, *, #, A-D, flash.
pub const TELEPHONE_EVENTS: &str = "0-16";
/// Payload type we use for telephone-event when we are the first offerer.
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP has no o= line")]
    MissingOrigin,
    #[error("malformed o= line")]
    InvalidOrigin,
    #[error("malformed c= line")]
    InvalidConnection,
    #[error("malformed m=audio line")]
    InvalidMedia,
    #[error("SDP offers no audio stream")]
    NoAudio,
    #[error("audio stream is rejected (port 0)")]
    AudioRejected,
    #[error("audio transport {0} is not RTP/AVP")]
    UnsupportedTransport(String),
    #[error("no common audio codec")]
    NoCommonCodec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_attribute(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    pub fn as_attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// The direction an answerer that would like `wanted` may use against an
    /// offer with `self` (RFC 3264 §6.1: we may only send what they receive).
    pub fn answer(self, wanted: Direction) -> Direction {
        Self::from_flags(
            wanted.sends() && self.receives(),
            wanted.receives() && self.sends(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn static_pt(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
        }
    }

    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }
}

/// A codec bound to the payload type one side uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadFormat {
    pub pt: u8,
    pub codec: Codec,
}

/// What a payload type in an m= line stands for, as far as we care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Audio(Codec),
    TelephoneEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub pt: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub pt: u8,
    /// Kept verbatim: only telephone-event's is ever looked at, and we answer
    /// with our own event list anyway.
    pub params: String,
}

/// The first `m=audio` section of a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioMedia {
    pub port: u16,
    pub proto: String,
    /// Payload types in the sender's order of preference.
    pub payload_types: Vec<u8>,
    pub connection: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<Fmtp>,
    /// Media-level direction attribute, if any.
    pub direction: Option<Direction>,
    pub ptime: Option<u32>,
}

impl AudioMedia {
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.pt == pt)
    }

    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|f| f.pt == pt)
            .map(|f| f.params.as_str())
    }

    /// Resolves a payload type to a format we support; an rtpmap wins over
    /// the static table so a remapped static PT is not misread.
    pub fn format(&self, pt: u8) -> Option<Format> {
        match self.rtpmap(pt) {
            Some(map) => {
                let mono = map.channels.is_none_or(|c| c == 1);
                if map.clock_rate != 8000 || !mono {
                    return None;
                }
                let name = map.encoding.as_str();
                if name.eq_ignore_ascii_case("PCMU") {
                    Some(Format::Audio(Codec::Pcmu))
                } else if name.eq_ignore_ascii_case("PCMA") {
                    Some(Format::Audio(Codec::Pcma))
                } else if name.eq_ignore_ascii_case("telephone-event") {
                    Some(Format::TelephoneEvent)
                } else {
                    None
                }
            }
            None => match pt {
                0 => Some(Format::Audio(Codec::Pcmu)),
                8 => Some(Format::Audio(Codec::Pcma)),
                _ => None,
            },
        }
    }

    /// Supported audio codecs in offer order, with the sender's PTs.
    pub fn supported_codecs(&self) -> impl Iterator<Item = PayloadFormat> + '_ {
        self.payload_types
            .iter()
            .filter_map(|&pt| match self.format(pt) {
                Some(Format::Audio(codec)) => Some(PayloadFormat { pt, codec }),
                _ => None,
            })
    }

    /// The sender's telephone-event PT at 8 kHz, if offered.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.payload_types
            .iter()
            .copied()
            .find(|&pt| self.format(pt) == Some(Format::TelephoneEvent))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    /// Session-level c= address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute, if any.
    pub direction: Option<Direction>,
    pub audio: Option<AudioMedia>,
}

impl SessionDescription {
    /// Direction of the audio stream: media level over session level, else sendrecv.
    pub fn audio_direction(&self) -> Direction {
        self.audio
            .as_ref()
            .and_then(|a| a.direction)
            .or(self.direction)
            .unwrap_or(Direction::SendRecv)
    }

    pub fn audio_connection(&self) -> Option<IpAddr> {
        self.audio
            .as_ref()
            .and_then(|a| a.connection)
            .or(self.connection)
    }

    pub fn audio_rejected(&self) -> bool {
        self.audio.as_ref().is_none_or(|a| a.port == 0)
    }

    /// Where the peer wants to receive RTP. `None` for a rejected stream or
    /// an RFC 2543-style hold (c= 0.0.0.0): there is nowhere to send.
    pub fn audio_rtp_addr(&self) -> Option<SocketAddr> {
        let audio = self.audio.as_ref().filter(|a| a.port != 0)?;
        let ip = self.audio_connection().filter(|ip| !ip.is_unspecified())?;
        Some(SocketAddr::new(ip, audio.port))
    }
}
