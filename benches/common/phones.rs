//! UDP "phones" on 127.0.0.1 for the benches that drive real sockets (`rtp_relay`, `hub`):
//! binding pairs of them, and sending real-time paced packets. Included with `#[path]`.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// 12-byte RTP header + 160 bytes of G.711 (20 ms at 8 kHz).
pub const PKT_LEN: usize = 172;

/// `n` pairs of phones (A and B of a call), bound on `rt`.
pub fn bind_pairs(rt: &Runtime, n: usize) -> Vec<(UdpSocket, UdpSocket)> {
    rt.block_on(async {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let a = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind phone");
            let b = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind phone");
            v.push((a, b));
        }
        v
    })
}

/// One call's phones and the ports they send to.
pub type Target = (Arc<UdpSocket>, SocketAddr, Arc<UdpSocket>, SocketAddr);

/// Spawns one sender for all calls: a 1 ms tick, each call sending one packet each way every
/// `period_ms` on its own phase, so the load is spread as with independent phones, until
/// `stop`. `fill(packet, call, side, seq)` writes a packet (side 0 is A, 1 is B).
pub fn pace(
    targets: Vec<Target>,
    period_ms: u64,
    stop: Arc<AtomicBool>,
    mut fill: impl FnMut(&mut [u8; PKT_LEN], usize, usize, u64) + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut packet = [0u8; PKT_LEN];
        let mut seq = vec![0u64; targets.len()];
        let mut k: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            for (i, (a, ra, b, rb)) in targets.iter().enumerate() {
                if (i as u64) % period_ms != k % period_ms {
                    continue;
                }
                fill(&mut packet, i, 0, seq[i]);
                let _ = a.send_to(&packet, *ra).await;
                fill(&mut packet, i, 1, seq[i]);
                let _ = b.send_to(&packet, *rb).await;
                seq[i] += 1;
            }
            k += 1;
        }
    })
}
