//! The RTP relay (a bridged two-leg `media::hub`, the media of every two-party call) between
//! two plain UDP "phones" on 127.0.0.1.
//!
//! `cargo bench --bench rtp_relay`
//!
//! 1. Throughput: one call, both directions, 172-byte packets (12-byte RTP
//!    header + 20 ms of G.711), at most `WINDOW` packets in flight per
//!    direction; packets/s relayed and per-packet latency (phone to phone,
//!    from a timestamp carried in the payload).
//! 2. Allocations: a counting `#[global_allocator]` over a window of 10,000
//!    relayed packets after warm-up; allocations on the relay runtime's
//!    threads are counted apart from the rest of the process (the phones).
//!    Set `HOTLINE_BENCH_TRACE_ALLOCS=1` to print a backtrace of the first
//!    few allocations inside the window.
//! 3. Concurrent calls: `CALLS` relays with real-time-paced traffic (50
//!    packets/s per direction); CPU time per relayed packet, from
//!    /proc/self/stat (whole process, phones included) and from the relay
//!    runtime's threads alone (/proc/self/task/*/schedstat).
//!
//! The relay runs on a multi-thread runtime of its own (threads named
//! `relay-rt`); the phones run on a current-thread runtime on the main
//! thread, so the relay's own cost can be told apart from the phones'.

mod common;
#[path = "common/counting.rs"]
mod counting;
#[path = "common/phones.rs"]
mod phones;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cores, percentile_sorted, print_context, Summary};
use counting::{
    process_cpu_ns, threads_cpu_ns, ALLOCS, ON_COUNTED_RT, RT_ALLOCS as RELAY_ALLOCS, TRACE_BUDGET,
};
use hotline::media::hub::{Hub, HubHandle, HubLeg};
use hotline::media::{PtMap, RtpPortPool};
use phones::{bind_pairs, pace, LOCALHOST, PKT_LEN};
use tokio::net::UdpSocket;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;
use tokio::time::timeout;

// ---------------------------------------------------------------------------
// Phones and packets.

const RELAY_THREAD: &str = "relay-rt";
const WINDOW: u64 = 64;
/// No progress for this long means packets were lost: the window is reopened.
const STALL: Duration = Duration::from_millis(100);

/// One call: two phones and the relay between them.
struct Call {
    handle: HubHandle,
    phone_a: Arc<UdpSocket>,
    phone_b: Arc<UdpSocket>,
    /// The relay's ports the phones send to.
    relay_a: SocketAddr,
    relay_b: SocketAddr,
}

fn setup_calls(relay_rt: &Runtime, phones_rt: &Runtime, pool: &RtpPortPool, n: usize) -> Vec<Call> {
    let phones = bind_pairs(phones_rt, n);
    relay_rt.block_on(async {
        let mut calls = Vec::with_capacity(n);
        for (phone_a, phone_b) in phones {
            let a = pool.allocate().await.expect("RTP port");
            let b = pool.allocate().await.expect("RTP port");
            let (relay_a, relay_b) = (a.local_addr(), b.local_addr());
            // The caller's address is known from the offer; the seat's comes
            // with the answer, as in a real call.
            let leg = |socket, remote| HubLeg {
                socket,
                remote,
                telephone_event: None,
            };
            let handle = Hub::bridged(
                leg(a, Some(phone_a.local_addr().unwrap())),
                leg(b, None),
                PtMap::identity(),
                None,
            );
            handle.set_remote(1, phone_b.local_addr().unwrap());
            calls.push(Call {
                handle,
                phone_a: Arc::new(phone_a),
                phone_b: Arc::new(phone_b),
                relay_a,
                relay_b,
            });
        }
        calls
    })
}

fn teardown(relay_rt: &Runtime, calls: Vec<Call>) {
    relay_rt.block_on(async {
        for call in calls {
            call.handle.stop().await;
        }
    });
}

/// Sets the fixed parts of an RTP packet: V=2, PT 0 (PCMU), μ-law silence.
fn packet_template(ssrc: u32) -> [u8; PKT_LEN] {
    let mut p = [0xffu8; PKT_LEN];
    p[0] = 0x80;
    p[1] = 0;
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// Per-packet fields: sequence number, RTP timestamp and, in the first
/// payload bytes, the send time in ns since `base`.
fn stamp(p: &mut [u8; PKT_LEN], seq: u64, base: Instant) {
    p[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    p[4..8].copy_from_slice(&((seq as u32).wrapping_mul(160)).to_be_bytes());
    let now = base.elapsed().as_nanos() as u64;
    p[12..20].copy_from_slice(&now.to_le_bytes());
}

fn latency_ns(p: &[u8], base: Instant) -> u64 {
    let sent = u64::from_le_bytes(p[12..20].try_into().unwrap());
    (base.elapsed().as_nanos() as u64).saturating_sub(sent)
}

/// Flow control between one direction's sender and receiver.
#[derive(Default)]
struct Flow {
    received: AtomicU64,
    progress: Notify,
    sender_done: AtomicBool,
}

async fn send_windowed(
    sock: &UdpSocket,
    to: SocketAddr,
    n: u64,
    window: u64,
    flow: &Flow,
    base: Instant,
    ssrc: u32,
) {
    let mut p = packet_template(ssrc);
    // Packets sent before this are no longer waited for (lost).
    let mut given_up = 0;
    for seq in 0..n {
        loop {
            let done = flow.received.load(Ordering::Acquire).max(given_up);
            if seq - done.min(seq) < window {
                break;
            }
            if timeout(STALL, flow.progress.notified()).await.is_err() {
                given_up = seq;
            }
        }
        stamp(&mut p, seq, base);
        sock.send_to(&p, to).await.expect("phone send");
    }
    flow.sender_done.store(true, Ordering::Release);
}

async fn recv_counting(
    sock: &UdpSocket,
    n: u64,
    flow: &Flow,
    base: Instant,
    latencies: &mut Vec<u64>,
) {
    let mut buf = [0u8; 2048];
    let mut got = 0;
    while got < n {
        match timeout(STALL, sock.recv_from(&mut buf)).await {
            Ok(Ok((len, _))) => {
                if len == PKT_LEN && latencies.len() < latencies.capacity() {
                    latencies.push(latency_ns(&buf[..len], base));
                }
                got += 1;
                flow.received.store(got, Ordering::Release);
                flow.progress.notify_one();
            }
            Ok(Err(e)) => panic!("phone recv: {e}"),
            Err(_) if flow.sender_done.load(Ordering::Acquire) => break,
            Err(_) => {}
        }
    }
}

struct Blast {
    relayed: u64,
    lost: u64,
    elapsed: Duration,
}

/// `n` packets each way, as fast as the far phone keeps up.
async fn blast(call: &Call, n: u64, window: u64, base: Instant, latencies: &mut Vec<u64>) -> Blast {
    let (ab, ba) = (Flow::default(), Flow::default());
    let mut lat_ba = Vec::with_capacity(latencies.capacity() - latencies.len());
    let start = Instant::now();
    tokio::join!(
        send_windowed(&call.phone_a, call.relay_a, n, window, &ab, base, 0xa),
        send_windowed(&call.phone_b, call.relay_b, n, window, &ba, base, 0xb),
        recv_counting(&call.phone_b, n, &ab, base, latencies),
        recv_counting(&call.phone_a, n, &ba, base, &mut lat_ba),
    );
    let elapsed = start.elapsed();
    latencies.extend_from_slice(&lat_ba);
    let relayed = ab.received.load(Ordering::Relaxed) + ba.received.load(Ordering::Relaxed);
    Blast {
        relayed,
        lost: 2 * n - relayed,
        elapsed,
    }
}

// ---------------------------------------------------------------------------
// Concurrent calls, paced.

const CALLS: usize = 50;
const PACKETS_PER_SECOND: u64 = 50;
const PACED_WARMUP: Duration = Duration::from_millis(500);
const PACED_WINDOW: Duration = Duration::from_secs(3);

struct Paced {
    relayed: u64,
    relay_cpu_ns: u64,
    process_cpu_ns: u64,
    window: Duration,
    latencies: Vec<u64>,
}

fn relayed_total(calls: &[Call]) -> u64 {
    calls
        .iter()
        .map(|c| {
            let s = c.handle.line_stats(0, 1);
            s.a.tx_packets + s.b.tx_packets
        })
        .sum()
}

async fn paced(calls: &[Call], base: Instant) -> Paced {
    // Receivers: one task per phone, latencies kept for the measured window.
    let measuring = Arc::new(AtomicBool::new(false));
    let mut receivers = Vec::new();
    for call in calls {
        for sock in [&call.phone_a, &call.phone_b] {
            let sock = Arc::clone(sock);
            let measuring = Arc::clone(&measuring);
            receivers.push(tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let mut lat = Vec::with_capacity(1024);
                loop {
                    let Ok((len, _)) = sock.recv_from(&mut buf).await else {
                        continue;
                    };
                    if len == PKT_LEN && measuring.load(Ordering::Relaxed) {
                        lat.push(latency_ns(&buf[..len], base));
                    }
                    if !measuring.load(Ordering::Relaxed) && !lat.is_empty() {
                        return lat;
                    }
                }
            }));
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let targets = calls
        .iter()
        .map(|c| (c.phone_a.clone(), c.relay_a, c.phone_b.clone(), c.relay_b))
        .collect();
    let sender = pace(
        targets,
        1000 / PACKETS_PER_SECOND,
        Arc::clone(&stop),
        move |p, call, side, seq| {
            *p = packet_template(2 * call as u32 + side as u32);
            stamp(p, seq, base);
        },
    );

    tokio::time::sleep(PACED_WARMUP).await;
    measuring.store(true, Ordering::Relaxed);
    let (relayed0, relay0, proc0, t0) = (
        relayed_total(calls),
        threads_cpu_ns(RELAY_THREAD),
        process_cpu_ns(),
        Instant::now(),
    );
    tokio::time::sleep(PACED_WINDOW).await;
    let (relayed1, relay1, proc1, window) = (
        relayed_total(calls),
        threads_cpu_ns(RELAY_THREAD),
        process_cpu_ns(),
        t0.elapsed(),
    );
    measuring.store(false, Ordering::Relaxed);
    // Let each receiver see one more packet and hand back its latencies.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    sender.await.unwrap();
    let mut latencies = Vec::new();
    for r in receivers {
        if r.is_finished() {
            latencies.extend(r.await.unwrap_or_default());
        } else {
            r.abort();
        }
    }
    Paced {
        relayed: relayed1 - relayed0,
        relay_cpu_ns: relay1 - relay0,
        process_cpu_ns: proc1 - proc0,
        window,
        latencies,
    }
}

// ---------------------------------------------------------------------------

const WARMUP_PACKETS: u64 = 5_000;
const ROUND_PACKETS: u64 = 20_000;
const ROUNDS: usize = 5;
/// Per direction, one packet in flight: latency without queueing.
const PING_PACKETS: u64 = 2_000;
const ALLOC_WINDOW: u64 = 10_000;

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn main() {
    print_context("rtp_relay");
    let workers = cores();
    let relay_rt = Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(RELAY_THREAD)
        .on_thread_start(|| ON_COUNTED_RT.with(|c| c.set(true)))
        .enable_all()
        .build()
        .expect("relay runtime");
    let phones_rt = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("phones runtime");
    println!(
        "relay: multi-thread runtime, {workers} workers ({RELAY_THREAD}); phones: current-thread runtime on the main thread"
    );
    let pool = RtpPortPool::new(LOCALHOST, 42_000, 42_998).expect("port pool");
    let base = Instant::now();

    // 1. Throughput and latency, one call.
    let calls = setup_calls(&relay_rt, &phones_rt, &pool, 1);
    let call = &calls[0];
    let mut rates = Vec::new();
    let mut medians = Vec::new();
    let mut all_lat = Vec::with_capacity(2 * ROUND_PACKETS as usize * ROUNDS);
    let mut lost = 0;
    let mut busy_cpu_ns = 0;
    let mut ping_lat = phones_rt.block_on(async {
        let mut scratch = Vec::with_capacity(2 * WARMUP_PACKETS as usize);
        blast(call, WARMUP_PACKETS, WINDOW, base, &mut scratch).await;
        let cpu0 = threads_cpu_ns(RELAY_THREAD);
        for _ in 0..ROUNDS {
            let mut lat = Vec::with_capacity(2 * ROUND_PACKETS as usize);
            let b = blast(call, ROUND_PACKETS, WINDOW, base, &mut lat).await;
            rates.push(b.relayed as f64 / b.elapsed.as_secs_f64());
            lost += b.lost;
            lat.sort_unstable();
            medians.push(us(percentile_sorted(&lat, 50.0)));
            all_lat.extend_from_slice(&lat);
        }
        busy_cpu_ns = threads_cpu_ns(RELAY_THREAD) - cpu0;
        let mut lat = Vec::with_capacity(2 * PING_PACKETS as usize);
        blast(call, PING_PACKETS, 1, base, &mut lat).await;
        lat
    });
    ping_lat.sort_unstable();
    all_lat.sort_unstable();
    let rate = Summary::of(&rates);
    let med = Summary::of(&medians);

    // 2. Allocations over a window of relayed packets, same (warm) call.
    let tracing = std::env::var_os("HOTLINE_BENCH_TRACE_ALLOCS").is_some();
    let (allocs, relay_allocs, alloc_relayed) = phones_rt.block_on(async {
        let mut scratch = Vec::with_capacity(ALLOC_WINDOW as usize);
        let before = relayed_total(&calls);
        let (a0, r0) = (
            ALLOCS.load(Ordering::SeqCst),
            RELAY_ALLOCS.load(Ordering::SeqCst),
        );
        if tracing {
            TRACE_BUDGET.store(8, Ordering::SeqCst);
        }
        blast(call, ALLOC_WINDOW / 2, WINDOW, base, &mut scratch).await;
        TRACE_BUDGET.store(0, Ordering::SeqCst);
        let (a1, r1) = (
            ALLOCS.load(Ordering::SeqCst),
            RELAY_ALLOCS.load(Ordering::SeqCst),
        );
        (a1 - a0, r1 - r0, relayed_total(&calls) - before)
    });
    teardown(&relay_rt, calls);

    // 3. Concurrent calls, real-time paced.
    let calls = setup_calls(&relay_rt, &phones_rt, &pool, CALLS);
    let p = phones_rt.block_on(paced(&calls, base));
    teardown(&relay_rt, calls);
    let mut plat = p.latencies;
    plat.sort_unstable();

    println!("\n1. Throughput, 1 call, both directions, {PKT_LEN}-byte packets, {WINDOW} in flight per direction");
    println!("   {ROUNDS} rounds x {ROUND_PACKETS} packets per direction after {WARMUP_PACKETS} warm-up; latency is phone -> relay -> phone");
    println!(
        "{:<44} {:>12} {:>12} {:>12} {:>8}",
        "figure", "median", "min", "max", "spread"
    );
    println!(
        "{:<44} {:>12.0} {:>12.0} {:>12.0} {:>7.1}%",
        "packets/s relayed (both directions)",
        rate.median,
        rate.min,
        rate.max,
        rate.spread_pct()
    );
    println!(
        "{:<44} {:>12.1} {:>12.1} {:>12.1} {:>7.1}%",
        "latency per packet, median of round (us)",
        med.median,
        med.min,
        med.max,
        med.spread_pct()
    );
    println!(
        "{:<44} {:>12.1}   (p99 {:.1} us, max {:.1} us, all rounds pooled)",
        "latency per packet, p90 (us)",
        us(percentile_sorted(&all_lat, 90.0)),
        us(percentile_sorted(&all_lat, 99.0)),
        us(*all_lat.last().unwrap_or(&0)),
    );
    println!(
        "{:<44} {:>12.1}   (p99 {:.1} us; {PING_PACKETS} per direction, 1 in flight)",
        "latency per packet, unqueued, median (us)",
        us(percentile_sorted(&ping_lat, 50.0)),
        us(percentile_sorted(&ping_lat, 99.0)),
    );
    println!(
        "{:<44} {:>12.2}   (all rounds)",
        "CPU us per relayed packet, relay threads",
        busy_cpu_ns as f64 / 1000.0 / (2 * ROUND_PACKETS * ROUNDS as u64 - lost) as f64
    );
    println!("{:<44} {:>12}", "packets lost", lost);

    println!("\n2. Allocations while relaying (counting global allocator, warm relay)");
    println!("{:<44} {:>12}", "packets relayed in window", alloc_relayed);
    println!(
        "{:<44} {:>12} {:>12.4}/packet",
        "allocations on relay runtime threads",
        relay_allocs,
        relay_allocs as f64 / alloc_relayed.max(1) as f64
    );
    println!(
        "{:<44} {:>12}   (whole run: proves the counter sees them)",
        "allocations on relay runtime threads, ever",
        RELAY_ALLOCS.load(Ordering::SeqCst)
    );
    println!(
        "{:<44} {:>12} {:>12.4}/packet",
        "allocations in whole process (with phones)",
        allocs,
        allocs as f64 / alloc_relayed.max(1) as f64
    );

    let expected = CALLS as u64 * 2 * PACKETS_PER_SECOND;
    let per_pkt_relay = p.relay_cpu_ns as f64 / p.relayed.max(1) as f64;
    let per_pkt_proc = p.process_cpu_ns as f64 / p.relayed.max(1) as f64;
    let per_call_pps = (2 * PACKETS_PER_SECOND) as f64;
    println!(
        "\n3. {CALLS} concurrent calls, {PACKETS_PER_SECOND} packets/s per direction, measured over {} after {} warm-up",
        common::fmt_duration(p.window),
        common::fmt_duration(PACED_WARMUP)
    );
    println!(
        "{:<44} {:>12.0}   (expected {expected})",
        "packets/s relayed",
        p.relayed as f64 / p.window.as_secs_f64()
    );
    println!(
        "{:<44} {:>12.2}   ({:.1} ms CPU; ~{:.0} calls per core)",
        "CPU us per relayed packet, relay threads",
        per_pkt_relay / 1000.0,
        p.relay_cpu_ns as f64 / 1e6,
        1e9 / (per_pkt_relay * per_call_pps)
    );
    println!(
        "{:<44} {:>12.2}   ({:.0} ms CPU, 10 ms ticks; ~{:.0} calls per core)",
        "CPU us per relayed packet, whole process",
        per_pkt_proc / 1000.0,
        p.process_cpu_ns as f64 / 1e6,
        1e9 / (per_pkt_proc * per_call_pps)
    );
    if !plat.is_empty() {
        println!(
            "{:<44} {:>12.1}   (p99 {:.1} us, {} packets)",
            "latency per packet, median (us)",
            us(percentile_sorted(&plat, 50.0)),
            us(percentile_sorted(&plat, 99.0)),
            plat.len()
        );
    }
}
