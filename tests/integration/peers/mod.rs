//! Real SIP peers for the integration tests: SIPp scenarios (tests/sipp) and
//! a baresip seat (tests/baresip), all on 127.0.0.1.
//!
//! Processes are run with `std::process` (the crate's tokio has no "process"
//! feature); waiting is async and polls `try_wait`, always under a deadline,
//! and every child is killed when its handle is dropped.

// The API is wider than what the self-tests use: the daemon's tests use the rest.
#![allow(dead_code)]

mod baresip;
mod chromium;
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
pub use chromium::Browser;
// Some of these are only for the daemon's queue tests.
#[allow(unused_imports)]
pub use probe::{alaw_to_linear, ulaw_to_linear, ProbeStats, RtpProbe, SentStats};
#[allow(unused_imports)]
pub use queue::{
    caller_hangs_up_then, caller_queue, caller_queue_probe, feature_call, feature_keys, poke,
    poke_hangup, seat_1001, seat_agent, seat_agent_probe, spawn_registered, supervisor_call,
    AnswerMode, Hangup, KeyPress, LogEvent,
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
use std::sync::atomic::{AtomicU32, Ordering};

/// The only address any peer uses.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// `tests/sipp` in this crate.
pub fn sipp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

/// `tests/baresip` in this crate.
pub fn baresip_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/baresip")
}

/// Peers' own ports come from this range: below the kernel's ephemeral range
/// (32768-60999 by default), so no socket bound to port 0 anywhere on the
/// machine can take one between our pick and the peer's bind, and below the
/// daemon's RTP range in these tests (30000-39999, see `common.rs`).
const PEER_PORTS: std::ops::Range<u16> = 10_000..30_000;

/// Ports are handed out in blocks of this size, each starting at an even port
/// P: P is the peer's port and, for media, P + 2 is SIPp's video echo port.
const BLOCK: u16 = 4;

/// The next block to try; one counter for the whole test binary, so two tests
/// running at once never pick the same block.
static NEXT_BLOCK: AtomicU32 = AtomicU32::new(0);

/// A UDP port on 127.0.0.1 that is free now and that no other test of this
/// binary will pick: only for a peer's own port when the peer cannot bind 0
/// itself (SIPp's `-p 0` means its default 5060).
pub fn free_udp_port() -> io::Result<u16> {
    pick(|port| UdpSocket::bind(SocketAddr::from((LOOPBACK, port))).is_ok())
}

/// An even UDP port P on 127.0.0.1 with P and P+2 free: SIPp binds its media
/// port and media port + 2 (the video echo port), even without -rtp_echo.
pub fn free_media_port() -> io::Result<u16> {
    pick(|port| {
        // Hold both sockets at once so the check is about the same moment.
        let pair = (
            UdpSocket::bind(SocketAddr::from((LOOPBACK, port))),
            UdpSocket::bind(SocketAddr::from((LOOPBACK, port + 2))),
        );
        matches!(pair, (Ok(_), Ok(_)))
    })
}

/// The first port of the next block that `free` accepts. The counter starts at
/// a place given by the process id, so a test binary run twice in a row does
/// not walk the same ports as a peer still exiting from the last run.
fn pick(free: impl Fn(u16) -> bool) -> io::Result<u16> {
    let blocks = u32::from((PEER_PORTS.end - PEER_PORTS.start) / BLOCK);
    let offset = std::process::id() % blocks;
    for _ in 0..blocks {
        let block = (NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) + offset) % blocks;
        // block < blocks, so the port stays inside PEER_PORTS.
        let port = PEER_PORTS.start + u16::try_from(block).unwrap_or(0) * BLOCK;
        if free(port) {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free UDP port left in {PEER_PORTS:?} on 127.0.0.1"),
    ))
}
