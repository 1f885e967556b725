//! The little the relay needs to know about an RTP packet. Anything deeper
//! (header extensions, CSRC lists, padding) is the endpoints' business.

pub(crate) const MIN_HEADER_LEN: usize = 12;

/// Cheap sanity check: long enough for a fixed header and version 2. This
/// filters out STUN, stray SIP and scans without parsing anything.
pub(crate) fn looks_like_rtp(packet: &[u8]) -> bool {
    packet.len() >= MIN_HEADER_LEN && packet[0] >> 6 == 2
}

/// The fixed-header fields the hub reads, and where the payload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    /// After the fixed header and the CSRC list; may lie beyond the packet's end.
    pub payload_at: usize,
}

/// The fields of a packet that [`looks_like_rtp`], `None` for anything else.
pub(crate) fn fields(packet: &[u8]) -> Option<Fields> {
    if !looks_like_rtp(packet) {
        return None;
    }
    Some(Fields {
        pt: packet[1] & 0x7f,
        marker: packet[1] & 0x80 != 0,
        seq: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        payload_at: MIN_HEADER_LEN + 4 * usize::from(packet[0] & 0x0f),
    })
}

/// Rewrites the 7-bit payload type in place, keeping the marker bit.
pub(crate) fn rewrite_pt(packet: &mut [u8], map: impl Fn(u8) -> u8) {
    if let Some(byte) = packet.get_mut(1) {
        let pt = *byte & 0x7f;
        *byte = (*byte & 0x80) | (map(pt) & 0x7f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_v2_with_full_header() {
        let mut p = [0u8; 12];
        p[0] = 0x80;
        assert!(looks_like_rtp(&p));
        assert!(!looks_like_rtp(&p[..11]));
        p[0] = 0x40;
        assert!(!looks_like_rtp(&p));
        assert!(!looks_like_rtp(&[]));
    }

    #[test]
    fn rewrite_keeps_marker() {
        let mut p = [0x80, 0x80 | 101, 0, 1];
        rewrite_pt(&mut p, |pt| if pt == 101 { 96 } else { pt });
        assert_eq!(p[1], 0x80 | 96);
        let mut p = [0x80, 0];
        rewrite_pt(&mut p, |_| 0xff);
        assert_eq!(p[1], 0x7f, "a bad map cannot set the marker");
    }
}
