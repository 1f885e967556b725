//! Where the daemon places a call it makes itself: a unit's contact during a consultation, a
//! number a seat dials, a return-visit call. Resolved from the dialplan (units, outbound routes)
//! before any SIP is sent, so a call leg only ever sees one of these.

use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A seat (extension) of `[[seats]]`: every phone registered for it rings.
    Seat(String),
    /// A SIP URI whose host is an IP address, sent over UDP to `addr`.
    Sip { uri: String, addr: SocketAddr },
    /// A number through a trunk: `sip:<number>@<addr>` sent over UDP to the trunk's outbound
    /// address, presenting `caller_id` in From.
    Trunk {
        trunk: String,
        number: String,
        addr: SocketAddr,
        caller_id: String,
    },
}

impl DialTarget {
    /// The Request-URI of the INVITE for the SIP and trunk targets (a seat's comes from its
    /// registration).
    pub fn request_uri(&self) -> Option<String> {
        match self {
            DialTarget::Seat(_) => None,
            DialTarget::Sip { uri, .. } => Some(uri.clone()),
            DialTarget::Trunk { number, addr, .. } => Some(format!("sip:{number}@{addr}")),
        }
    }

    /// How the target shows in logs and records.
    pub fn describe(&self) -> String {
        match self {
            DialTarget::Seat(seat) => format!("seat {seat}"),
            DialTarget::Sip { uri, .. } => uri.clone(),
            DialTarget::Trunk { trunk, number, .. } => format!("{number} via {trunk}"),
        }
    }
}
