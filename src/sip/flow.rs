//! Where a message came from or goes to: a transport and a remote address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// Reliable transports need no retransmissions (RFC 3261 §17.1.1.2).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

/// Responses go back along the flow a request came in on: to its source address, as if every
/// request carried `rport` (RFC 3581). Phones behind NAT work, and the daemon never sends to an
/// address it only read from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub transport: Transport,
    pub remote: SocketAddr,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.transport.as_str().to_ascii_lowercase(),
            self.remote
        )
    }
}

/// An IPv4 peer may arrive as an IPv4-mapped IPv6 address on a dual-stack socket: the address
/// as the peer knows it, for matching against configured and remembered addresses.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The daemon's own listening addresses, for Via and Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddrs {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
}

impl LocalAddrs {
    pub fn for_transport(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::Udp => self.udp,
            Transport::Tcp => self.tcp,
        }
    }
}
