//! The RTP load generator: every stream of every call from one socket per side, paced by one
//! timer loop on one thread, and one receiving thread per side that tells the streams apart by
//! SSRC and measures them.
//!
//! A stream sends a 172-byte PCMU packet (12-byte header, 160 bytes of payload) every 20 ms;
//! the streams are spread over the 20 ms so the load is even, as with independent phones. The
//! SSRC says the direction, the round and the stream's index; the first 8 payload bytes carry
//! the send time, so the receiver knows each packet's delay through the relay.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
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

/// Packets read with one recvmmsg(2) at the most.
const RECV_BATCH: usize = 64;

/// Reads up to [`RECV_BATCH`] datagrams into `bufs` (waiting for the first one at most the
/// socket's read timeout); their lengths in `lens`, and how many.
fn recv_batch(socket: &UdpSocket, bufs: &mut [[u8; 256]], lens: &mut [usize]) -> usize {
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    // SAFETY: every header points into `iov` and `bufs`, which outlive the call.
    let n = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as u32,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    let n = usize::try_from(n).unwrap_or(0);
    for (len, m) in lens.iter_mut().zip(&msgs[..n]) {
        *len = m.msg_len as usize;
    }
    n
}

struct Receiver {
    state: Vec<StreamState>,
    seen: Seen,
    base: u32,
}

impl Receiver {
    fn on_packet(&mut self, buf: &[u8], now_ns: u64) {
        let seen = &mut self.seen;
        if buf.len() != PACKET || buf[0] >> 6 != 2 {
            seen.foreign += 1;
            return;
        }
        let id = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let Some(s) = self.state.get_mut(id.wrapping_sub(self.base) as usize) else {
            seen.foreign += 1;
            return;
        };
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let mut sent = [0u8; 8];
        sent.copy_from_slice(&buf[12..20]);
        let delay_ns = now_ns.saturating_sub(u64::from_be_bytes(sent));
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
}

/// Receives direction `direction` of round `round` on `socket` until `stop`. The packets of
/// one read share its arrival time.
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
        let mut receiver = Receiver {
            state: vec![StreamState::default(); streams],
            seen: Seen::default(),
            base: ssrc(direction, round, 0),
        };
        let mut bufs = vec![[0u8; 256]; RECV_BATCH];
        let mut lens = [0usize; RECV_BATCH];
        while !stop.load(Ordering::Relaxed) {
            let n = recv_batch(&socket, &mut bufs, &mut lens);
            let now_ns = epoch.elapsed().as_nanos() as u64;
            for (buf, &len) in bufs.iter().zip(&lens).take(n) {
                receiver.on_packet(&buf[..len.min(buf.len())], now_ns);
            }
        }
        let Receiver {
            state, mut seen, ..
        } = receiver;
        seen.received = state.iter().map(|s| s.received).sum();
        seen.jitter_ms = state
            .iter()
            .filter(|s| s.received > 1)
            .map(|s| s.jitter / 8.0)
            .collect();
        seen
    })
}

/// The packets of one direction due on one tick, sent with sendmmsg(2): one system call for
/// up to a tick's worth of packets instead of one each.
struct Batch {
    packets: Vec<[u8; PACKET]>,
    to: Vec<libc::sockaddr_in>,
}

fn sockaddr(addr: &SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(v4) = addr else {
        panic!("RTP to {addr}: IPv4 only");
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

impl Batch {
    /// Sends the batch from `socket`; the packets sent. Empties it.
    fn flush(&mut self, socket: &UdpSocket) -> usize {
        let mut iov: Vec<libc::iovec> = self
            .packets
            .iter_mut()
            .map(|p| libc::iovec {
                iov_base: p.as_mut_ptr().cast(),
                iov_len: PACKET,
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .zip(self.to.iter_mut())
            .map(|(iov, to)| {
                // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_name = (to as *mut libc::sockaddr_in).cast();
                m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let mut sent = 0;
        while sent < msgs.len() {
            // SAFETY: every header points into `iov`, `self.to` and `self.packets`, which
            // outlive the call and are not moved during it.
            let n = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    msgs[sent..].as_mut_ptr(),
                    (msgs.len() - sent) as u32,
                    0,
                )
            };
            if n <= 0 {
                break;
            }
            sent += n as usize;
        }
        self.packets.clear();
        self.to.clear();
        sent
    }
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
        let to: [Vec<libc::sockaddr_in>; 2] = [
            targets[0].iter().map(sockaddr).collect(),
            targets[1].iter().map(sockaddr).collect(),
        ];
        let mut batch = Batch {
            packets: Vec::with_capacity(targets[0].len().max(targets[1].len())),
            to: Vec::with_capacity(targets[0].len().max(targets[1].len())),
        };
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
                for (i, to) in to[direction]
                    .iter()
                    .enumerate()
                    .skip(phase)
                    .step_by(PERIOD_MS as usize)
                {
                    packet[8..12].copy_from_slice(&ssrc(direction, round, i).to_be_bytes());
                    let now_ns = epoch.elapsed().as_nanos() as u64;
                    packet[12..20].copy_from_slice(&now_ns.to_be_bytes());
                    batch.packets.push(packet);
                    batch.to.push(*to);
                }
                let due = batch.packets.len();
                let done = batch.flush(&sockets[direction]);
                sent.packets[direction] += done as u64;
                sent.errors += (due - done) as u64;
            }
        }
        sent
    })
}
