//! Per-relay counters. Updated with relaxed atomics from the relay task and
//! read as a snapshot; no ordering between counters is promised.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one leg, all about traffic on that leg's socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Valid RTP accepted from the leg's peer.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Packets sent to the leg's peer (coming from the other leg).
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Received datagrams that were not RTP.
    pub dropped_invalid: u64,
    /// Received RTP from a source other than the latched one.
    pub dropped_foreign: u64,
    /// Received RTP that could not be forwarded: the other leg's remote is unknown.
    pub dropped_no_remote: u64,
    /// Sends to the leg's peer that failed.
    pub send_errors: u64,
    /// Packets of the leg's stream that never came (RFC 3550 A.1).
    pub lost: u64,
    /// Interarrival jitter of the leg's stream (RFC 3550 A.8), in microseconds.
    pub jitter_us: u64,
}

/// The media of a two-party line: leg A is the caller, leg B the party it talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    pub a: LegStats,
    pub b: LegStats,
}

#[derive(Debug, Default)]
pub(super) struct LegCounters {
    pub(super) rx_packets: AtomicU64,
    pub(super) rx_bytes: AtomicU64,
    pub(super) tx_packets: AtomicU64,
    pub(super) tx_bytes: AtomicU64,
    pub(super) dropped_invalid: AtomicU64,
    pub(super) dropped_foreign: AtomicU64,
    pub(super) dropped_no_remote: AtomicU64,
    pub(super) send_errors: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) jitter_us: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

pub(super) fn set(counter: &AtomicU64, to: u64) {
    counter.store(to, Ordering::Relaxed);
}

impl LegCounters {
    pub(super) fn snapshot(&self) -> LegStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LegStats {
            rx_packets: get(&self.rx_packets),
            rx_bytes: get(&self.rx_bytes),
            tx_packets: get(&self.tx_packets),
            tx_bytes: get(&self.tx_bytes),
            dropped_invalid: get(&self.dropped_invalid),
            dropped_foreign: get(&self.dropped_foreign),
            dropped_no_remote: get(&self.dropped_no_remote),
            send_errors: get(&self.send_errors),
            lost: get(&self.lost),
            jitter_us: get(&self.jitter_us),
        }
    }
}
