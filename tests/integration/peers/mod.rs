//! Real SIP peers for the integration tests: SIPp scenarios (tests/sipp) and
//! a baresip seat (tests/baresip), all on 127.0.0.1.
//!
//! Processes are run with `std::process` (the crate's tokio has no "process"
//! feature); waiting is async and polls `try_wait`, always under a deadline,
//! and every child is killed when its handle is dropped.

// The API is wider than what the self-tests use: the daemon's tests use the rest.
#![allow(dead_code)]

mod baresip;
mod probe;
mod queue;
mod rate;
mod sipp;
mod tone;
mod unit;

// SIPp against SIPp (and baresip): checks the peers themselves, no daemon.
mod selftest;
mod selftest_consult;
mod selftest_probe;
mod selftest_queue;
mod selftest_rate;

pub use baresip::{Baresip, BaresipOptions};
// Some of these are only for the daemon's queue tests.
#[allow(unused_imports)]
pub use probe::{alaw_to_linear, ulaw_to_linear, ProbeStats, RtpProbe, SentStats};
#[allow(unused_imports)]
pub use queue::{
    caller_hangs_up_then, caller_queue, caller_queue_probe, feature_call, feature_keys,
    poke_hangup, seat_agent, seat_agent_probe, spawn_registered, AnswerMode, Hangup, KeyPress,
    LogEvent,
};
#[allow(unused_imports)]
pub use rate::{caller_rate, caller_rate_probe, CallerKey, RATE_TAIL};
#[allow(unused_imports)]
pub use sipp::Check;
pub use sipp::{Sipp, SippProcess, SippRun};
#[allow(unused_imports)]
pub use tone::{goertzel_level, linear_to_ulaw, Audio, ToneLevel};
#[allow(unused_imports)]
pub use unit::{unit_answer, UnitAnswer};

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;

/// The only address any peer uses.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// How many times port picking may retry before giving up.
const PORT_TRIES: usize = 64;

/// `tests/sipp` in this crate.
pub fn sipp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

/// `tests/baresip` in this crate.
pub fn baresip_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/baresip")
}

/// A UDP port on 127.0.0.1 that was free a moment ago: bind port 0, read the
/// port back, release it. Only for a peer's own port when the peer cannot bind
/// 0 itself (SIPp's `-p 0` means its default 5060); the peer may lose a race
/// for it to another process, which then shows as SIPp's exit code 254 (-2).
pub fn free_udp_port() -> io::Result<u16> {
    let socket = UdpSocket::bind(SocketAddr::from((LOOPBACK, 0)))?;
    Ok(socket.local_addr()?.port())
}

/// An even UDP port P on 127.0.0.1 with P and P+2 free: SIPp binds its media
/// port and media port + 2 (the video echo port), even without -rtp_echo.
pub fn free_media_port() -> io::Result<u16> {
    for _ in 0..PORT_TRIES {
        let port = free_udp_port()? & !1;
        if !(1024..=u16::MAX - 3).contains(&port) {
            continue;
        }
        // Hold both sockets at once so the check is about the same moment.
        let pair = (
            UdpSocket::bind(SocketAddr::from((LOOPBACK, port))),
            UdpSocket::bind(SocketAddr::from((LOOPBACK, port + 2))),
        );
        if let (Ok(_), Ok(_)) = pair {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free even UDP port pair (P, P+2) on 127.0.0.1",
    ))
}
