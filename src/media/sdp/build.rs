//! Rendering our own descriptions. Output is deterministic (no clock, no
//! randomness): session id and version come from the caller so a re-INVITE
//! can bump the version as RFC 3264 §8 requires.

use std::fmt::Write;
use std::net::IpAddr;

use super::{
    Codec, Direction, Negotiated, PayloadFormat, DEFAULT_TELEPHONE_EVENT_PT, TELEPHONE_EVENTS,
};

/// Where we receive RTP for one leg and the o= identity of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    pub addr: IpAddr,
    pub rtp_port: u16,
    pub session_id: u64,
    pub session_version: u64,
}

/// Everything an offer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpParams {
    pub local: LocalMedia,
    /// Listed in this order, which is our preference.
    pub codecs: Vec<PayloadFormat>,
    pub telephone_event: Option<u8>,
    pub direction: Direction,
    pub ptime: Option<u32>,
}

impl SdpParams {
    /// Our own offer when nobody's codecs constrain us (calls we originate).
    pub fn default_offer(local: LocalMedia) -> Self {
        Self {
            local,
            codecs: [Codec::Pcmu, Codec::Pcma]
                .into_iter()
                .map(|codec| PayloadFormat {
                    pt: codec.static_pt(),
                    codec,
                })
                .collect(),
            telephone_event: Some(DEFAULT_TELEPHONE_EVENT_PT),
            direction: Direction::SendRecv,
            ptime: Some(20),
        }
    }
}

pub fn build_offer(params: &SdpParams) -> String {
    render(params)
}

/// Answers an offer we negotiated: only the chosen codec (and
/// telephone-event if offered), under the offerer's PTs, with `wanted`
/// narrowed to what the offer's direction allows.
pub fn build_answer(local: LocalMedia, negotiated: &Negotiated, wanted: Direction) -> String {
    render(&SdpParams {
        local,
        codecs: vec![negotiated.audio],
        telephone_event: negotiated.telephone_event,
        direction: negotiated.direction.answer(wanted),
        ptime: negotiated.ptime,
    })
}

/// `sdp` (one we rendered) with its direction attribute changed to `direction`: the answer to
/// a re-INVITE that puts us on hold (sendonly → recvonly, inactive → inactive).
pub fn with_direction(sdp: &str, direction: Direction) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let attribute = line.trim_end().strip_prefix("a=");
        if attribute.is_some_and(|a| Direction::from_attribute(a).is_some()) {
            let _ = write!(out, "a={}\r\n", direction.as_attribute());
        } else {
            out.push_str(line);
        }
    }
    out
}

fn render(p: &SdpParams) -> String {
    let addrtype = match p.local.addr {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    let addr = p.local.addr;
    let mut s = String::with_capacity(256);
    // Writing to a String cannot fail, so the fmt::Results are discarded.
    let _ = write!(
        s,
        "v=0\r\no=hotline {} {} IN {addrtype} {addr}\r\ns=hotline\r\nc=IN {addrtype} {addr}\r\nt=0 0\r\n",
        p.local.session_id, p.local.session_version
    );
    let _ = write!(s, "m=audio {} RTP/AVP", p.local.rtp_port);
    for pt in p.codecs.iter().map(|c| c.pt).chain(p.telephone_event) {
        let _ = write!(s, " {pt}");
    }
    s.push_str("\r\n");
    for c in &p.codecs {
        let _ = write!(s, "a=rtpmap:{} {}/8000\r\n", c.pt, c.codec.encoding_name());
    }
    if let Some(pt) = p.telephone_event {
        let _ = write!(
            s,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} {TELEPHONE_EVENTS}\r\n"
        );
    }
    if let Some(ptime) = p.ptime {
        let _ = write!(s, "a=ptime:{ptime}\r\n");
    }
    let _ = write!(s, "a={}\r\n", p.direction.as_attribute());
    s
}
