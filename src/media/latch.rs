//! Symmetric RTP (RFC 4961 style "latching"): a phone behind NAT sends from
//! an address its SDP does not know, so we answer to wherever its RTP really
//! comes from. Latching only once per SDP stops a third party from taking
//! over the stream by sending us packets later; only the SDP's own address
//! may take it back.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Accept,
    /// From somewhere other than the latched source.
    Foreign,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Latch {
    signalled: Option<SocketAddr>,
    latched: Option<SocketAddr>,
}

impl Latch {
    pub(super) fn new(signalled: Option<SocketAddr>) -> Self {
        Self {
            signalled,
            latched: None,
        }
    }

    /// Called for every valid RTP packet received on this leg. Packets from the address the
    /// SDP names always win: a port reused by a new call may still get a stray stream from its
    /// last peer, which must not keep the new call's own peer out.
    pub(super) fn on_packet(&mut self, source: SocketAddr) -> Verdict {
        if self.signalled == Some(source) {
            self.latched = Some(source);
            return Verdict::Accept;
        }
        match self.latched {
            Some(latched) if latched == source => Verdict::Accept,
            Some(_) => Verdict::Foreign,
            None => {
                self.latched = Some(source);
                Verdict::Accept
            }
        }
    }

    /// Where packets for this leg go.
    pub(super) fn remote(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }

    /// New SDP: the peer may have moved, so latch afresh.
    pub(super) fn rearm(&mut self, signalled: SocketAddr) {
        self.signalled = Some(signalled);
        self.latched = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_signalled_address_takes_the_latch_back_from_a_stray_source() {
        let mut latch = Latch::new(Some(addr(1)));
        assert_eq!(latch.on_packet(addr(9)), Verdict::Accept);
        assert_eq!(latch.remote(), Some(addr(9)));
        assert_eq!(latch.on_packet(addr(1)), Verdict::Accept);
        assert_eq!(latch.remote(), Some(addr(1)));
        assert_eq!(latch.on_packet(addr(9)), Verdict::Foreign);
    }

    #[test]
    fn latches_first_source_then_refuses_others() {
        let mut latch = Latch::new(Some(addr(1)));
        assert_eq!(latch.remote(), Some(addr(1)));
        assert_eq!(latch.on_packet(addr(2)), Verdict::Accept);
        assert_eq!(latch.remote(), Some(addr(2)));
        assert_eq!(latch.on_packet(addr(3)), Verdict::Foreign);
        assert_eq!(latch.on_packet(addr(4)), Verdict::Foreign);
        assert_eq!(latch.remote(), Some(addr(2)));
    }

    #[test]
    fn rearm_uses_new_sdp_until_next_packet() {
        let mut latch = Latch::new(None);
        assert_eq!(latch.remote(), None);
        latch.on_packet(addr(2));
        latch.rearm(addr(4));
        assert_eq!(latch.remote(), Some(addr(4)));
        assert_eq!(latch.on_packet(addr(5)), Verdict::Accept);
        assert_eq!(latch.remote(), Some(addr(5)));
    }
}
