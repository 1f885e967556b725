//! The RTP load generator: every stream of every call from one socket per side, paced by one
//! timer loop on one thread, and one receiving thread per side that tells the streams apart by
//! SSRC and measures them.
//!
//! A stream sends a 172-byte PCMU packet (12-byte header, 160 bytes of payload) every 20 ms;
//! the streams are spread over the 20 ms so the load is even, as with independent phones. The
//! SSRC says the direction, the round and the stream's index; the first 8 payload bytes carry
//! the send time, so the receiver knows each packet's delay through the relay.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

pub const PACKET: usize = 172;
const PERIOD_MS: u64 = 20;
/// A packet delayed more than this (sent to received) counts as late: a phone's jitter buffer
/// of 40–60 ms would have played out its slot already.
pub const LATE_MS: u64 = 50;
const SOCKET_BUFFER: usize = 4 << 20;

/// A UDP socket on `addr` with 4 MiB send and receive buffers (the kernel caps them at
/// net.core.rmem_max / wmem_max).
pub fn bind_udp(addr: &str) -> UdpSocket {
    let addr: SocketAddr = addr.parse().expect("socket address");
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
    socket
        .set_recv_buffer_size(SOCKET_BUFFER)
        .expect("SO_RCVBUF");
    socket
        .set_send_buffer_size(SOCKET_BUFFER)
        .expect("SO_SNDBUF");
    socket
        .bind(&addr.into())
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    socket.into()
}

/// Direction 0 is caller to seat, 1 seat to caller.
fn ssrc(direction: usize, round: u32, stream: usize) -> u32 {
    ((direction as u32 + 1) << 28) | ((round & 0xff) << 20) | stream as u32
}

/// What one receiver saw of one direction.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub received: u64,
    pub out_of_order: u64,
    pub late: u64,
    /// Packets of no stream of this round (a stray, the far end's own RTP).
    pub foreign: u64,
    /// RFC 3550 interarrival jitter of each stream at the end, in ms.
    pub jitter_ms: Vec<f64>,
    pub max_delay_us: u64,
}

#[derive(Clone, Copy, Default)]
struct StreamState {
    received: u64,
    highest: Option<u16>,
    /// Last transit time (arrival minus RTP timestamp), in 8 kHz units.
    transit: Option<f64>,
    jitter: f64,
}

/// Receives direction `direction` of round `round` on `socket` until `stop`.
pub fn receive(
    socket: Arc<UdpSocket>,
    direction: usize,
    round: u32,
    streams: usize,
    epoch: Instant,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Seen> {
    std::thread::spawn(move || {
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let mut state = vec![StreamState::default(); streams];
        let mut seen = Seen::default();
        let mut buf = [0u8; 2048];
        let base = ssrc(direction, round, 0);
        while !stop.load(Ordering::Relaxed) {
            let Ok((len, _)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let now_ns = epoch.elapsed().as_nanos() as u64;
            if len != PACKET || buf[0] >> 6 != 2 {
                seen.foreign += 1;
                continue;
            }
            let id = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
            let index = id.wrapping_sub(base) as usize;
            if index >= streams {
                seen.foreign += 1;
                continue;
            }
            let seq = u16::from_be_bytes([buf[2], buf[3]]);
            let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
            let mut sent = [0u8; 8];
            sent.copy_from_slice(&buf[12..20]);
            let delay_ns = now_ns.saturating_sub(u64::from_be_bytes(sent));
            let s = &mut state[index];
            s.received += 1;
            match s.highest {
                Some(h) if seq <= h => seen.out_of_order += 1,
                _ => s.highest = Some(seq),
            }
            if delay_ns > LATE_MS * 1_000_000 {
                seen.late += 1;
            }
            seen.max_delay_us = seen.max_delay_us.max(delay_ns / 1000);
            // RFC 3550 §6.4.1 and A.8: J += (|D| - J) / 16, in timestamp units.
            let transit = now_ns as f64 * 8000.0 / 1e9 - f64::from(ts);
            if let Some(last) = s.transit {
                s.jitter += ((transit - last).abs() - s.jitter) / 16.0;
            }
            s.transit = Some(transit);
        }
        seen.received = state.iter().map(|s| s.received).sum();
        seen.jitter_ms = state
            .iter()
            .filter(|s| s.received > 1)
            .map(|s| s.jitter / 8.0)
            .collect();
        seen
    })
}

/// What the sender did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Packets sent each way.
    pub packets: [u64; 2],
    pub errors: u64,
    /// The latest the loop ran behind its schedule.
    pub max_lag_us: u64,
}

/// Sends every stream of both directions for `duration`: direction `d` from `sockets[d]` to
/// each of `targets[d]`. One thread, one 1 ms tick; the streams whose phase falls on a tick
/// send on it. A late tick sends what fell due (a burst), with the timestamps of its schedule.
pub fn send(
    sockets: [Arc<UdpSocket>; 2],
    targets: [Vec<SocketAddr>; 2],
    round: u32,
    duration: Duration,
    epoch: Instant,
) -> JoinHandle<Sent> {
    std::thread::spawn(move || {
        let mut sent = Sent::default();
        let mut packet = [0u8; PACKET];
        packet[0] = 0x80; // version 2, no padding, extension or CSRC
        packet[1] = 0; // PCMU, no marker
        packet[20..].fill(0xff); // μ-law silence
        let start = Instant::now() + Duration::from_millis(5);
        let ticks = duration.as_millis() as u64;
        for k in 0..ticks {
            let due = start + Duration::from_millis(k);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            } else {
                sent.max_lag_us = sent.max_lag_us.max((now - due).as_micros() as u64);
            }
            // Stream i sends on the ticks k with k ≡ i (mod 20): its (k / 20)th packet.
            let phase = (k % PERIOD_MS) as usize;
            let seq = k / PERIOD_MS;
            packet[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
            packet[4..8].copy_from_slice(&((seq * 160) as u32).to_be_bytes());
            for direction in 0..2 {
                for (i, to) in targets[direction]
                    .iter()
                    .enumerate()
                    .skip(phase)
                    .step_by(PERIOD_MS as usize)
                {
                    packet[8..12].copy_from_slice(&ssrc(direction, round, i).to_be_bytes());
                    let now_ns = epoch.elapsed().as_nanos() as u64;
                    packet[12..20].copy_from_slice(&now_ns.to_be_bytes());
                    match sockets[direction].send_to(&packet, to) {
                        Ok(_) => sent.packets[direction] += 1,
                        Err(_) => sent.errors += 1,
                    }
                }
            }
        }
        sent
    })
}
