//! The little the relay needs to know about an RTP packet. Anything deeper
//! (header extensions, CSRC lists, padding) is the endpoints' business.

pub(super) const MIN_HEADER_LEN: usize = 12;

/// Cheap sanity check: long enough for a fixed header and version 2. This
/// filters out STUN, stray SIP and scans without parsing anything.
pub(super) fn looks_like_rtp(packet: &[u8]) -> bool {
    packet.len() >= MIN_HEADER_LEN && packet[0] >> 6 == 2
}

/// Rewrites the 7-bit payload type in place, keeping the marker bit.
pub(super) fn rewrite_pt(packet: &mut [u8], map: impl Fn(u8) -> u8) {
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
