//! The media anchor between a call's two legs: whatever RTP arrives on one
//! leg's port leaves through the other leg's port. One task per relay, with
//! one fixed receive buffer per direction, so the packet path never allocates.

mod latch;
mod rtp;
mod stats;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use self::latch::{Latch, Verdict};
use self::stats::{bump, LegCounters};
pub use self::stats::{LegStats, RelayStats, RTP_PACKETS_RELAYED_TOTAL};
use super::{PtMap, RtpSocket};

/// Large enough for any RTP audio packet; a datagram that fills the buffer
/// completely may have been truncated and is dropped.
const BUF_LEN: usize = 2048;
/// Relayed packets are added to the global metric this many at a time, so the
/// metrics registry is not touched per packet.
const METRIC_BATCH: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    A,
    B,
}

/// A remote address as signalled, with a generation so the task can tell a
/// repeated `set_remote` of the same address (which must re-arm latching)
/// from no change at all.
#[derive(Debug, Clone, Copy, Default)]
struct Signalled {
    addr: Option<SocketAddr>,
    generation: u64,
}

#[derive(Debug, Default)]
struct Counters {
    a: LegCounters,
    b: LegCounters,
}

pub struct Relay;

impl Relay {
    /// Starts relaying in a task on the current runtime, inside the caller's
    /// tracing span. `a_remote`/`b_remote` are the SDP addresses, `None` until
    /// known; `pt_map` pairs are `(pt on A, pt on B)`.
    pub fn start(
        a: RtpSocket,
        a_remote: Option<SocketAddr>,
        b: RtpSocket,
        b_remote: Option<SocketAddr>,
        pt_map: PtMap,
    ) -> RelayHandle {
        let (control, control_rx) = watch::channel([
            Signalled {
                addr: a_remote,
                generation: 0,
            },
            Signalled {
                addr: b_remote,
                generation: 0,
            },
        ]);
        let counters = Arc::new(Counters::default());
        let task = RelayTask {
            a: Side::new(a, a_remote),
            b: Side::new(b, b_remote),
            control: control_rx,
            seen: [0, 0],
            pt_map,
            counters: Arc::clone(&counters),
            unflushed: 0,
        };
        let join = tokio::spawn(task.run().instrument(tracing::Span::current()));
        RelayHandle {
            control,
            counters,
            join,
        }
    }
}

/// Controls a running relay. Dropping it also ends the relay, but only
/// [`RelayHandle::stop`] waits until the ports are back in the pool.
pub struct RelayHandle {
    control: watch::Sender<[Signalled; 2]>,
    counters: Arc<Counters>,
    join: JoinHandle<()>,
}

impl RelayHandle {
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            a: self.counters.a.snapshot(),
            b: self.counters.b.snapshot(),
        }
    }

    /// New SDP address for `leg` (answer, re-INVITE): used at once and
    /// latching starts over.
    pub fn set_remote(&self, leg: Leg, addr: SocketAddr) {
        self.control.send_modify(|legs| {
            let signalled = &mut legs[leg as usize];
            signalled.addr = Some(addr);
            signalled.generation += 1;
        });
    }

    /// Ends the relay and returns once its sockets are closed.
    pub async fn stop(self) {
        // Closing the channel is the stop signal.
        drop(self.control);
        if let Err(e) = self.join.await {
            tracing::warn!(error = %e, "RTP relay task failed");
        }
    }
}

struct Side {
    socket: RtpSocket,
    latch: Latch,
    buf: Box<[u8; BUF_LEN]>,
}

impl Side {
    fn new(socket: RtpSocket, remote: Option<SocketAddr>) -> Self {
        Self {
            socket,
            latch: Latch::new(remote),
            buf: Box::new([0; BUF_LEN]),
        }
    }
}

struct RelayTask {
    a: Side,
    b: Side,
    control: watch::Receiver<[Signalled; 2]>,
    /// Last generation applied per leg.
    seen: [u64; 2],
    pt_map: PtMap,
    counters: Arc<Counters>,
    unflushed: u64,
}

impl RelayTask {
    async fn run(mut self) {
        loop {
            tokio::select! {
                received = self.a.socket.socket().recv_from(&mut self.a.buf[..]) => {
                    if let Ok((len, source)) = received {
                        self.forward(Leg::A, len, source).await;
                    }
                }
                received = self.b.socket.socket().recv_from(&mut self.b.buf[..]) => {
                    if let Ok((len, source)) = received {
                        self.forward(Leg::B, len, source).await;
                    }
                }
                changed = self.control.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    self.apply_control();
                }
            }
        }
        self.flush_metric();
    }

    fn apply_control(&mut self) {
        let legs = *self.control.borrow_and_update();
        for (leg, side) in [(Leg::A, &mut self.a), (Leg::B, &mut self.b)] {
            let signalled = legs[leg as usize];
            if signalled.generation == self.seen[leg as usize] {
                continue;
            }
            self.seen[leg as usize] = signalled.generation;
            if let Some(addr) = signalled.addr {
                side.latch.rearm(addr);
                tracing::debug!(?leg, remote = %addr, "RTP remote signalled");
            }
        }
    }

    /// Sends the packet just received on `from` out of the other leg.
    async fn forward(&mut self, from: Leg, len: usize, source: SocketAddr) {
        // A set_remote issued before this packet arrived must apply to it,
        // even if select! picked the socket before the control branch.
        if self.control.has_changed().unwrap_or(false) {
            self.apply_control();
        }
        let (in_side, out_side, in_stats, out_stats) = match from {
            Leg::A => (&mut self.a, &self.b, &self.counters.a, &self.counters.b),
            Leg::B => (&mut self.b, &self.a, &self.counters.b, &self.counters.a),
        };
        let packet = &mut in_side.buf[..len];
        if len == BUF_LEN || !rtp::looks_like_rtp(packet) {
            bump(&in_stats.dropped_invalid, 1);
            return;
        }
        let was_latched = in_side.latch.latched().is_some();
        if in_side.latch.on_packet(source) == Verdict::Foreign {
            bump(&in_stats.dropped_foreign, 1);
            return;
        }
        if !was_latched {
            tracing::debug!(leg = ?from, remote = %source, "RTP source latched");
        }
        bump(&in_stats.rx_packets, 1);
        bump(&in_stats.rx_bytes, len as u64);

        let Some(destination) = out_side.latch.remote() else {
            bump(&in_stats.dropped_no_remote, 1);
            return;
        };
        if !self.pt_map.is_identity() {
            let map = self.pt_map;
            match from {
                Leg::A => rtp::rewrite_pt(packet, |pt| map.a_to_b(pt)),
                Leg::B => rtp::rewrite_pt(packet, |pt| map.b_to_a(pt)),
            }
        }
        match out_side.socket.socket().send_to(packet, destination).await {
            Ok(_) => {
                bump(&out_stats.tx_packets, 1);
                bump(&out_stats.tx_bytes, len as u64);
                self.unflushed += 1;
                if self.unflushed >= METRIC_BATCH {
                    self.flush_metric();
                }
            }
            Err(e) => {
                bump(&out_stats.send_errors, 1);
                tracing::trace!(error = %e, remote = %destination, "RTP send failed");
            }
        }
    }

    fn flush_metric(&mut self) {
        if self.unflushed > 0 {
            metrics::counter!(RTP_PACKETS_RELAYED_TOTAL).increment(self.unflushed);
            self.unflushed = 0;
        }
    }
}
