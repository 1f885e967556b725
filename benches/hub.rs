//! The media hub (`media::hub`) with plain UDP "phones" on 127.0.0.1, at real-time pace.
//!
//! `cargo bench --bench hub`
//!
//! `CALLS` hubs of two legs each, both phones sending a 172-byte PCMU packet every 20 ms,
//! in two cases:
//!
//! 1. bridge: the legs hear each other, relayed packet for packet (the cheap path);
//! 2. overlay: the same, and leg B also hears a looping tone on top of leg A, so B's audio is
//!    decoded, mixed with the tone and encoded again at every 20 ms tick;
//! 3. recorded: the bridge, with leg A recorded (`media::recorder`: each packet A sends and
//!    is sent queued to the writer thread, which writes a stereo WAV file per call into a
//!    temporary directory).
//!
//! The writer's own CPU (thread `recorder`) is printed per recorded call for case 3.
//!
//! For each: packets/s the hubs send to the phones, CPU time per packet of the hub runtime's
//! threads (`/proc/self/task/*/schedstat`), and allocations per packet on those threads and
//! in the whole process (a counting `#[global_allocator]`; expected 0 on the hub). The hubs
//! run on a multi-thread runtime of their own (threads named `hub-rt`), the phones on a
//! current-thread runtime on the main thread. `HOTLINE_BENCH_TRACE_ALLOCS=1` prints
//! backtraces of the first allocations on the hub's threads inside the window.

mod common;
#[path = "common/counting.rs"]
mod counting;
#[path = "common/phones.rs"]
mod phones;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cores, print_context};
use counting::{threads_cpu_ns, ALLOCS, ON_COUNTED_RT, RT_ALLOCS, TRACE_BUDGET};
use hotline::media::g711;
use hotline::media::hub::{Audio, Gain, Hub, HubHandle, HubLeg, Play};
use hotline::media::recorder::{Opening, Recorder};
use hotline::media::sdp::Codec;
use hotline::media::{PtMap, RtpPortPool};
use phones::{bind_pairs, pace, LOCALHOST, PKT_LEN};
use tokio::net::UdpSocket;
use tokio::runtime::{Builder, Runtime};

const HUB_THREAD: &str = "hub-rt";
const CALLS: usize = 50;
const PACKETS_PER_SECOND: u64 = 50;
const WARMUP: Duration = Duration::from_millis(700);
const WINDOW: Duration = Duration::from_secs(3);

struct Call {
    hub: HubHandle,
    phone_a: Arc<UdpSocket>,
    phone_b: Arc<UdpSocket>,
    hub_a: SocketAddr,
    hub_b: SocketAddr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Bridge,
    Overlay,
    Recorded,
}

/// Where case 3 records, and how.
struct Recording {
    recorder: Recorder,
    dir: std::path::PathBuf,
}

/// One second of a 1 kHz tone in μ-law.
fn tone() -> Play {
    let samples: Vec<u8> = (0..8000)
        .map(|n| {
            let t = f64::from(n) / 8000.0;
            g711::ulaw_encode((4000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16)
        })
        .collect();
    Play {
        items: vec![Arc::from(samples)],
        looping: true,
        pt: 0,
        silence: g711::ULAW_SILENCE,
    }
}

fn setup(
    hub_rt: &Runtime,
    phones_rt: &Runtime,
    pool: &RtpPortPool,
    case: Case,
    recording: &Recording,
) -> Vec<Call> {
    let phones = bind_pairs(phones_rt, CALLS);
    hub_rt.block_on(async {
        let mut calls = Vec::with_capacity(CALLS);
        for (phone_a, phone_b) in phones {
            let a = pool.allocate().await.expect("RTP port");
            let b = pool.allocate().await.expect("RTP port");
            let (hub_a, hub_b) = (a.local_addr(), b.local_addr());
            let leg = |socket, phone: &UdpSocket| HubLeg {
                socket,
                remote: Some(phone.local_addr().unwrap()),
                telephone_event: None,
            };
            let hub = Hub::start(vec![leg(a, &phone_a), leg(b, &phone_b)], None);
            let pcmu = Audio {
                codec: Codec::Pcmu,
                pt: 0,
            };
            hub.set_audio(0, pcmu);
            hub.set_audio(1, pcmu);
            hub.bridge(0, 1, PtMap::identity());
            if case == Case::Overlay {
                hub.overlay(1, tone(), Gain::new(0.5));
            }
            if case == Case::Recorded {
                let id = format!("call-{}", calls.len());
                let path = recording.dir.join(format!("{id}.wav"));
                hub.record(0, recording.recorder.open(Opening { id, path }));
            }
            calls.push(Call {
                hub,
                phone_a: Arc::new(phone_a),
                phone_b: Arc::new(phone_b),
                hub_a,
                hub_b,
            });
        }
        calls
    })
}

fn sent_total(calls: &[Call]) -> u64 {
    calls
        .iter()
        .map(|c| c.hub.stats(0).tx_packets + c.hub.stats(1).tx_packets)
        .sum()
}

struct Figures {
    sent: u64,
    window: Duration,
    hub_cpu_ns: u64,
    hub_allocs: u64,
    allocs: u64,
}

/// Real-time traffic on every call; the figures of the window after the warm-up.
async fn paced(calls: &[Call]) -> Figures {
    let mut receivers = Vec::new();
    for call in calls {
        for sock in [&call.phone_a, &call.phone_b] {
            let sock = Arc::clone(sock);
            receivers.push(tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                loop {
                    let _ = sock.recv_from(&mut buf).await;
                }
            }));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let targets = calls
        .iter()
        .map(|c| (c.phone_a.clone(), c.hub_a, c.phone_b.clone(), c.hub_b))
        .collect();
    let sender = pace(
        targets,
        1000 / PACKETS_PER_SECOND,
        Arc::clone(&stop),
        |p, _, _, seq| {
            // PCMU silence: mixing costs the same whatever the samples.
            *p = [0xff; PKT_LEN];
            p[0] = 0x80;
            p[1] = 0;
            p[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
            p[4..8].copy_from_slice(&((seq as u32).wrapping_mul(160)).to_be_bytes());
        },
    );
    tokio::time::sleep(WARMUP).await;
    let tracing = std::env::var_os("HOTLINE_BENCH_TRACE_ALLOCS").is_some();
    let (sent0, cpu0, hub0, all0, t0) = (
        sent_total(calls),
        threads_cpu_ns(HUB_THREAD),
        RT_ALLOCS.load(Ordering::SeqCst),
        ALLOCS.load(Ordering::SeqCst),
        Instant::now(),
    );
    if tracing {
        TRACE_BUDGET.store(8, Ordering::SeqCst);
    }
    tokio::time::sleep(WINDOW).await;
    TRACE_BUDGET.store(0, Ordering::SeqCst);
    let figures = Figures {
        sent: sent_total(calls) - sent0,
        window: t0.elapsed(),
        hub_cpu_ns: threads_cpu_ns(HUB_THREAD) - cpu0,
        hub_allocs: RT_ALLOCS.load(Ordering::SeqCst) - hub0,
        allocs: ALLOCS.load(Ordering::SeqCst) - all0,
    };
    stop.store(true, Ordering::Relaxed);
    sender.await.expect("sender");
    for r in receivers {
        r.abort();
    }
    figures
}

fn main() {
    print_context("hub");
    let workers = cores();
    let hub_rt = Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(HUB_THREAD)
        .on_thread_start(|| ON_COUNTED_RT.with(|c| c.set(true)))
        .enable_all()
        .build()
        .expect("hub runtime");
    let phones_rt = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("phones runtime");
    println!(
        "hubs: multi-thread runtime, {workers} workers ({HUB_THREAD}); phones: current-thread runtime on the main thread"
    );
    println!(
        "{CALLS} calls of two legs, {PACKETS_PER_SECOND} packets/s per direction, measured over {} after {} warm-up\n",
        common::fmt_duration(WINDOW),
        common::fmt_duration(WARMUP)
    );
    let pool = RtpPortPool::new(LOCALHOST, 43_000, 43_998).expect("port pool");
    let dir = std::env::temp_dir().join(format!("hotline-bench-hub-{}", std::process::id()));
    let (recorder, _finished) = Recorder::spawn(500).expect("recording writer");
    let recording = Recording {
        recorder,
        dir: dir.clone(),
    };
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>10} {:>12} {:>12}",
        "case", "packets/s", "expected", "CPU us/pkt", "calls/core", "hub allocs", "process/pkt"
    );
    for (case, name) in [
        (Case::Bridge, "bridge (relayed)"),
        (Case::Overlay, "bridge + overlay on B (B mixed)"),
        (Case::Recorded, "bridge + A recorded"),
    ] {
        let calls = setup(&hub_rt, &phones_rt, &pool, case, &recording);
        let writer0 = threads_cpu_ns("recorder");
        let f = phones_rt.block_on(paced(&calls));
        let writer_ns = threads_cpu_ns("recorder") - writer0;
        hub_rt.block_on(async {
            for call in calls {
                call.hub.stop().await;
            }
        });
        let per_pkt = f.hub_cpu_ns as f64 / f.sent.max(1) as f64;
        println!(
            "{:<34} {:>10.0} {:>10} {:>12.2} {:>10.0} {:>5} ({:.4}) {:>12.4}",
            name,
            f.sent as f64 / f.window.as_secs_f64(),
            CALLS as u64 * 2 * PACKETS_PER_SECOND,
            per_pkt / 1000.0,
            1e9 / (per_pkt * (2 * PACKETS_PER_SECOND) as f64),
            f.hub_allocs,
            f.hub_allocs as f64 / f.sent.max(1) as f64,
            f.allocs as f64 / f.sent.max(1) as f64,
        );
        if case == Case::Recorded {
            println!(
                "{:<34} writer thread: {:.1} us CPU per recorded call-second ({:.2} % of a core for {CALLS} calls)",
                "",
                writer_ns as f64 / 1000.0 / (CALLS as f64 * f.window.as_secs_f64()),
                writer_ns as f64 / 1e7 / f.window.as_secs_f64(),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("\nhub allocs: allocations on the hub runtime's threads in the window (per packet in brackets)");
}
